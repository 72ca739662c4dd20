"""The observation assets as the sensors see them: endpoint, area, asset key, partitions; and the
launchers' one rule for what is already in flight.

**In flight** is Dagster's own ``in_progress``: a run queued or running for the partition, or an
active backfill that targets it. Fills (partitions never materialized, failed ones, revision sweeps,
gaps) skip partitions in flight. The latest partitions are the exception: their refresh (the
automation's cadence refresh, the store sensor's refill of a stale series) skips only partitions a
run outside any backfill works on. A backfill submits all its runs at once, and each queued run
holds its partitions in progress until it starts, so a backfill over all partitions (the history
fill, one launched in the UI) would otherwise hold today's data back for as long as it queues; the
refresh's own tick (the cadence cron, the refill's retry interval) bounds what it asks twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

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
    materializes it is queued or running: in flight) or None (never materialized)."""
    if not partitions:
        return {}
    return instance.get_status_by_partition(target.key, list(partitions), target.partitions_def) or {}


BACKFILL_TAG = "dagster/backfill"
PARTITION_TAG = "dagster/partition"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
RUN_IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def refresh_in_flight(instance: dg.DagsterInstance, target: SeriesTarget, partitions: Sequence[str]) -> bool:
    """Whether a run outside any backfill is queued or running for one of these partitions: the
    refresh of the latest partitions waits for that alone (see the module docstring)."""
    status = partition_status(instance, target, partitions)
    busy = [k for k in partitions if status.get(k) == dg.AssetPartitionStatus.IN_PROGRESS]
    if not busy:
        return False
    windows = [target.partitions_def.time_window_for_partition_key(k) for k in busy]
    for record in instance.get_run_records(dg.RunsFilter(statuses=RUN_IN_FLIGHT)):
        run = record.dagster_run
        if BACKFILL_TAG in run.tags or (
            run.asset_selection is not None and target.key not in run.asset_selection
        ):
            continue
        span = _run_span(run, target.partitions_def)
        if span is not None and any(w.start < span[1] and span[0] < w.end for w in windows):
            return True
    return False


def _run_span(
    run: dg.DagsterRun, partitions_def: dg.TimeWindowPartitionsDefinition
) -> tuple[datetime, datetime] | None:
    """The time a run's partition or partition range covers; None if it names none Dagster's way."""
    first = run.tags.get(RANGE_START, run.tags.get(PARTITION_TAG))
    last = run.tags.get(RANGE_END, first)
    if first is None or last is None:
        return None
    try:
        return (
            partitions_def.time_window_for_partition_key(first).start,
            partitions_def.time_window_for_partition_key(last).end,
        )
    except ValueError:  # a key of another partitioning (the endpoint's granularity changed)
        return None
