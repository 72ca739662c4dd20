"""Schedules on each endpoint's publication cadence: they materialize the latest partitions of the
endpoints' assets (actual data every 30 minutes, forecasts every 6 hours, margins daily). A Dagster
job needs one partitions definition, so a cadence whose endpoints are partitioned differently gets
one schedule per granularity. Running by default, switchable in the UI. Partitions that a run or
backfill is already working on are left alone."""

from collections import defaultdict
from collections.abc import Sequence

import dagster as dg

from entsoe_pipeline.catalog import Area, Cadence, Endpoint, Granularity
from entsoe_pipeline.settings import Settings

from .in_flight import InFlight
from .observations import observation_key
from .partitions import end_offset, partitions_for

CADENCE_CRON = {
    Cadence.ACTUAL: "5,35 * * * *",
    Cadence.FORECAST: "20 */6 * * *",
    Cadence.MARGIN: "40 3 * * *",
}


def latest_partition_count(endpoint: Endpoint) -> int:
    """Actual data also refreshes the previous partition: its last hour is published after midnight."""
    return end_offset(endpoint) + (1 if endpoint.cadence is Cadence.ACTUAL else 0)


def build_refresh_schedule(
    cadence: Cadence, endpoints: Sequence[Endpoint], areas: Sequence[Area], settings: Settings
) -> dg.ScheduleDefinition:
    """A schedule for endpoints of one cadence that share a partitions definition (a Dagster job
    needs one), e.g. ``refresh_forecast_weekly``."""
    partitions_def = partitions_for(endpoints[0], settings.history_start)
    if any(partitions_for(e, settings.history_start) != partitions_def for e in endpoints):
        raise ValueError("a refresh schedule needs endpoints with one partitions definition")
    keys = [observation_key(e, a) for e in endpoints for a in areas]
    count = max(latest_partition_count(e) for e in endpoints)
    name = f"refresh_{cadence.value}_{endpoints[0].granularity.value}"

    @dg.schedule(
        name=name,
        cron_schedule=CADENCE_CRON[cadence],
        execution_timezone="UTC",
        target=dg.AssetSelection.assets(*keys),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Materializes the latest {count} partitions of " + ", ".join(e.name for e in endpoints),
        tags={"launched_by": "schedule"},
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | list[dg.RunRequest]:
        now = context.scheduled_execution_time
        latest = partitions_def.get_partition_keys(current_time=now)[-count:]
        # One run per partition key covering every asset that no run or backfill is working on.
        free: dict[str, list[dg.AssetKey]] = defaultdict(list)
        in_flight = InFlight.load(context.instance)
        for key in keys:
            busy = in_flight.busy(key, partitions_def, latest)
            for partition_key in latest:
                if partition_key not in busy:
                    free[partition_key].append(key)
        if not free:
            return dg.SkipReason("every latest partition is already being materialized")
        return [
            dg.RunRequest(
                run_key=f"{name}:{partition_key}:{now:%Y%m%d%H%M}",
                asset_selection=asset_keys,
                partition_key=partition_key,
                tags={"launched_by": "schedule", "cadence": cadence.value},
            )
            for partition_key, asset_keys in sorted(free.items())
        ]

    return _schedule


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    groups: dict[tuple[Cadence, Granularity, int], list[Endpoint]] = defaultdict(list)
    for endpoint in settings.endpoints:
        groups[(endpoint.cadence, endpoint.granularity, end_offset(endpoint))].append(endpoint)
    return [
        build_refresh_schedule(cadence, endpoints, settings.areas, settings)
        for (cadence, _, _), endpoints in groups.items()
    ]
