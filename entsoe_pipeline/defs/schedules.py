"""One schedule per publication cadence: it materializes the latest partitions of its endpoints'
assets (actual data every 30 minutes, forecasts every 6 hours, margins daily). Running by default,
switchable in the UI. Partitions that a run or backfill is already working on are left alone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import dagster as dg

from entsoe_pipeline.catalog import Area, Cadence, Endpoint

from .in_flight import partitions_in_flight
from .observations import observation_key
from .partitions import end_offset, partitions_for
from .settings import Settings

CADENCE_CRON = {
    Cadence.ACTUAL: "5,35 * * * *",
    Cadence.FORECAST: "20 */6 * * *",
    Cadence.MARGIN: "40 3 * * *",
}


def latest_partition_count(endpoint: Endpoint) -> int:
    """Actual data also refreshes the previous partition: its last hour is published after midnight."""
    return end_offset(endpoint) + (1 if endpoint.cadence is Cadence.ACTUAL else 0)


def build_cadence_schedule(
    cadence: Cadence, endpoints: Sequence[Endpoint], areas: Sequence[Area], settings: Settings
) -> dg.ScheduleDefinition:
    keys = [observation_key(e, a) for e in endpoints for a in areas]

    @dg.schedule(
        name=f"refresh_{cadence.value}",
        cron_schedule=CADENCE_CRON[cadence],
        execution_timezone="UTC",
        target=dg.AssetSelection.assets(*keys),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Materializes the latest partitions of the {cadence.value} endpoints: "
        + ", ".join(e.name for e in endpoints),
        tags={"launched_by": "schedule"},
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | list[dg.RunRequest]:
        now = context.scheduled_execution_time
        # One run per (partitions definition, partition key) covering every asset that is free.
        # Assets share a run only when their partitions definitions are equal.
        batches: dict[tuple[str, int, str], list[dg.AssetKey]] = defaultdict(list)
        for endpoint in endpoints:
            partitions_def = partitions_for(endpoint, settings.history_start)
            latest = partitions_def.get_partition_keys(current_time=now)[-latest_partition_count(endpoint) :]
            for area in areas:
                key = observation_key(endpoint, area)
                busy = partitions_in_flight(context.instance, key, partitions_def, latest)
                for partition_key in latest:
                    if partition_key not in busy:
                        batches[(endpoint.granularity.value, end_offset(endpoint), partition_key)].append(key)
        if not batches:
            return dg.SkipReason("every latest partition is already being materialized")
        return [
            dg.RunRequest(
                run_key=f"{cadence.value}:{granularity}+{offset}:{partition_key}:{now:%Y%m%d%H%M}",
                asset_selection=asset_keys,
                partition_key=partition_key,
                tags={"launched_by": "schedule", "cadence": cadence.value},
            )
            for (granularity, offset, partition_key), asset_keys in sorted(batches.items())
        ]

    return _schedule


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    by_cadence: dict[Cadence, list[Endpoint]] = defaultdict(list)
    for endpoint in settings.endpoints:
        by_cadence[endpoint.cadence].append(endpoint)
    return [
        build_cadence_schedule(cadence, endpoints, settings.areas, settings)
        for cadence, endpoints in by_cadence.items()
    ]
