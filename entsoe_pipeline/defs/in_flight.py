"""Which asset partitions a run or backfill is already working on.

Schedules and the gap sensor ask this before they request anything, as the automation condition
does with ``~in_progress()``, so that no two launchers run the same partition at once. One snapshot
reads the instance once (queued and running runs, active backfills) and then answers per asset, so
a tick over hundreds of assets costs two queries, not hundreds.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

# Queued and not-yet-started runs count too: they will materialize their partitions soon.
_ACTIVE_RUNS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
_RANGE_START = "dagster/asset_partition_range_start"
_RANGE_END = "dagster/asset_partition_range_end"


@dataclass
class InFlight:
    """What active runs and backfills target: single partitions, partition ranges, subsets."""

    partitions: dict[dg.AssetKey, set[str]] = field(default_factory=lambda: defaultdict(set))
    ranges: dict[dg.AssetKey, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    backfills: list[PartitionBackfill] = field(default_factory=list)

    @classmethod
    def load(cls, instance: dg.DagsterInstance) -> "InFlight":
        snapshot = cls()
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=_ACTIVE_RUNS)):
            keys = run.asset_selection or set()
            partition = run.tags.get("dagster/partition")
            start, end = run.tags.get(_RANGE_START), run.tags.get(_RANGE_END)
            for key in keys:
                if partition:
                    snapshot.partitions[key].add(partition)
                elif start and end:
                    snapshot.ranges[key].append((start, end))
        snapshot.backfills = [
            b for b in instance.get_backfills(status=BulkActionStatus.REQUESTED) if b.asset_backfill_data
        ]
        return snapshot

    def busy(
        self, asset_key: dg.AssetKey, partitions_def: dg.PartitionsDefinition, partition_keys: Sequence[str]
    ) -> set[str]:
        """The given partitions of ``asset_key`` that an active run or backfill targets."""
        wanted = set(partition_keys)
        busy = wanted & self.partitions.get(asset_key, set())
        for start, end in self.ranges.get(asset_key, []):
            busy |= wanted.intersection(
                partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
            )
        for backfill in self.backfills:
            data = backfill.asset_backfill_data
            if data is None or asset_key not in data.target_subset.asset_keys:
                continue
            busy |= wanted.intersection(
                data.target_subset.get_partitions_subset(asset_key).get_partition_keys()
            )
        return busy
