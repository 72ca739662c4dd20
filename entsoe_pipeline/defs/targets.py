"""The observation assets as the sensors see them: endpoint, area, asset key, partitions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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


# Dagster answers a partition-status question with several queries on new connections (dagster-
# postgres holds none open outside the webserver): 50-150 ms each on PostgreSQL. A tick asks at most
# this many; the assets beyond wait for the next tick, so a first tick over hundreds of assets stays
# within the sensor's budget instead of taking tens of seconds.
STATUS_READS_PER_TICK = 20


@dataclass
class StatusReads:
    """How many partition-status reads this tick may still make."""

    left: int = field(default_factory=lambda: STATUS_READS_PER_TICK)
    deferred: int = 0

    def take(self) -> bool:
        if self.left <= 0:
            self.deferred += 1
            return False
        self.left -= 1
        return True


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
