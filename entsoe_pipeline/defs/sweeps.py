"""Revision sweeps: re-read what ENTSO-E may have changed since it was stored.

ENTSO-E revises values days to months after first publishing them and publishes some windows late.
The refresh schedules read only the latest partitions, and the gap sensor only partitions short of
points, so a corrected value for D-3 would never arrive. Each endpoint declares its re-reads in the
catalogue (``Endpoint.rereads``: actual data the last 7 days daily and the last 90 days weekly,
forecasts over their horizon); each becomes a schedule (``sweep_actual_daily_last90d``) that
requests one run over the partitions of that span for the endpoints' assets. A run covers its
range in API-sized requests (28 days of actual load per request), so a weekly sweep of 90 days
costs 4 requests per asset. The runs' materializations report per partition what changed
(rows_updated: revised, rows_inserted: published late, rows_superseded: re-published at another
resolution), and the run log sums it up.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import dagster as dg

from entsoe_pipeline.catalog import Area, Cadence, Endpoint, Granularity, Reread
from entsoe_pipeline.settings import Settings
from entsoe_pipeline.storage.windows import partition_windows

from .gap_sensor import BACKGROUND_PRIORITY
from .observations import observation_key
from .partitions import end_offset, partitions_for

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def sweep_keys(
    endpoints: Sequence[Endpoint],
    reread: Reread,
    partitions_def: dg.TimeWindowPartitionsDefinition,
    now: datetime,
) -> list[str]:
    """The partitions a sweep re-reads at ``now``: those overlapping the last ``reread.span`` and
    what the endpoints' horizon reaches, as far as they exist."""
    granularity = endpoints[0].granularity
    horizon = max(e.horizon for e in endpoints)
    existing = set(partitions_def.get_partition_keys(current_time=now))
    wanted = [
        start.strftime(partitions_def.fmt)
        for start, _ in partition_windows(now - reread.span, now + horizon, granularity)
    ]
    return [k for k in wanted if k in existing]


def build_sweep_schedule(
    reread: Reread, endpoints: Sequence[Endpoint], areas: Sequence[Area], settings: Settings
) -> dg.ScheduleDefinition:
    partitions_def = partitions_for(endpoints[0], settings.history_start)
    keys = [observation_key(e, a) for e in endpoints for a in areas]
    first = endpoints[0]
    name = f"sweep_{first.cadence.value}_{first.granularity.value}_last{reread.span.days}d"

    @dg.schedule(
        name=name,
        cron_schedule=reread.cron,
        execution_timezone="UTC",
        target=dg.AssetSelection.assets(*keys),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Re-reads the last {reread.span.days} days of "
        + ", ".join(e.name for e in endpoints)
        + " for revisions and late publications, in one range run",
        tags={"launched_by": "revision_sweep"},
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | dg.RunRequest:
        now = context.scheduled_execution_time
        partitions = sweep_keys(endpoints, reread, partitions_def, now)
        if not partitions:
            return dg.SkipReason("no partition of the sweep's span exists yet")
        return dg.RunRequest(
            run_key=f"{name}:{now:%Y%m%d%H%M}",
            asset_selection=keys,
            tags={
                RANGE_START: partitions[0],
                RANGE_END: partitions[-1],
                "launched_by": "revision_sweep",
                "sweep": name,
                "dagster/priority": BACKGROUND_PRIORITY,
            },
        )

    return _schedule


def build_sweep_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    """One schedule per re-read and partitions definition (a Dagster job has one), e.g.
    ``sweep_actual_daily_last90d``."""
    groups: dict[tuple[Reread, Cadence, Granularity, int], list[Endpoint]] = defaultdict(list)
    for endpoint in settings.endpoints:
        for reread in endpoint.rereads:
            key = (reread, endpoint.cadence, endpoint.granularity, end_offset(endpoint))
            groups[key].append(endpoint)
    return [
        build_sweep_schedule(reread, endpoints, settings.areas, settings)
        for (reread, *_), endpoints in groups.items()
    ]
