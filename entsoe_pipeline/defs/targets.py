"""The observation assets as the sensors see them: endpoint, area, asset key, partitions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from entsoe_pipeline.catalog import Area, Endpoint
from entsoe_pipeline.settings import Settings

from .observations import observation_key
from .partitions import partitions_for


@dataclass(frozen=True)
class SeriesTarget:
    endpoint: Endpoint
    area: Area
    key: dg.AssetKey
    partitions_def: dg.TimeWindowPartitionsDefinition


def series_targets(settings: Settings) -> list[SeriesTarget]:
    return [
        SeriesTarget(e, a, observation_key(e, a), partitions_for(e, settings.history_start))
        for e in settings.endpoints
        for a in settings.areas
    ]


def partition_status(
    instance: dg.DagsterInstance, target: SeriesTarget, partitions: Sequence[str]
) -> Mapping[str, dg.AssetPartitionStatus | None]:
    """Dagster's own status of these partitions: MATERIALIZED, FAILED, IN_PROGRESS (a run that
    materializes it is queued or running) or None (never materialized).

    This is the launchers' one notion of "in flight" (the automation condition's run_in_progress
    reads the same status): a partition a backfill has not reached yet is not in flight, so a
    backfill over all partitions never holds today's refresh back.
    """
    if not partitions:
        return {}
    return instance.get_status_by_partition(target.key, list(partitions), target.partitions_def) or {}
