"""Which asset partitions a run or backfill is already working on.

Schedules and the gap sensor ask this before they request anything, as the automation condition
does with ``~in_progress()``, so that no two launchers run the same partition at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus

_ACTIVE_BACKFILL = (BulkActionStatus.REQUESTED,)


def partitions_in_flight(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    partitions_def: dg.PartitionsDefinition,
    partition_keys: Sequence[str],
) -> set[str]:
    """The given partitions that an in-progress run or an active backfill targets."""
    if not partition_keys:
        return set()
    status = instance.get_status_by_partition(asset_key, list(partition_keys), partitions_def) or {}
    busy = {k for k, s in status.items() if s == dg.AssetPartitionStatus.IN_PROGRESS}
    wanted = set(partition_keys)
    for backfill in instance.get_backfills(status=BulkActionStatus.REQUESTED):
        subset = backfill.asset_backfill_data.target_subset if backfill.asset_backfill_data else None
        if subset is None or asset_key not in subset.asset_keys:
            continue
        targeted = subset.get_partitions_subset(asset_key).get_partition_keys()
        busy |= wanted.intersection(targeted)
    return busy
