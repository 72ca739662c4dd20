"""UTC time partitions at each endpoint's natural granularity, and the backfill policy sized from
the API's span limit so that one backfill run fetches whole API-sized chunks."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime

import dagster as dg

from entsoe_pipeline.catalog import Endpoint, Granularity

_PARTITIONS = {
    Granularity.DAILY: lambda start, end_offset: dg.DailyPartitionsDefinition(
        start_date=start.isoformat(), timezone="UTC", end_offset=end_offset
    ),
    Granularity.WEEKLY: lambda start, end_offset: dg.WeeklyPartitionsDefinition(
        start_date=start.isoformat(), timezone="UTC", end_offset=end_offset, day_offset=1
    ),
    Granularity.MONTHLY: lambda start, end_offset: dg.MonthlyPartitionsDefinition(
        start_date=start.isoformat(), timezone="UTC", end_offset=end_offset
    ),
    Granularity.YEARLY: lambda start, end_offset: dg.TimeWindowPartitionsDefinition(
        start=datetime(start.year, 1, 1, tzinfo=UTC),
        cron_schedule="0 0 1 1 *",
        fmt="%Y",
        timezone="UTC",
        end_offset=end_offset,
    ),
}


def _aligned_start(granularity: Granularity, start: date) -> date:
    """The first partition boundary at or before ``start`` (weeks start on Monday, as ENTSO-E's)."""
    if granularity is Granularity.WEEKLY:
        return date.fromordinal(start.toordinal() - start.weekday())
    if granularity is Granularity.MONTHLY:
        return start.replace(day=1)
    if granularity is Granularity.YEARLY:
        return start.replace(month=1, day=1)
    return start


def end_offset(endpoint: Endpoint) -> int:
    """Partitions beyond the current one that exist: today's always (it fills during the day), and
    for forecasts those their horizon reaches (tomorrow's day-ahead forecast is published today)."""
    return 1 + endpoint.horizon // endpoint.granularity.nominal


@functools.cache
def partitions_for(endpoint: Endpoint, history_start: date) -> dg.TimeWindowPartitionsDefinition:
    start = _aligned_start(endpoint.granularity, history_start)
    return _PARTITIONS[endpoint.granularity](start, end_offset(endpoint))


# API requests a backfill run makes per asset. A run costs seconds of process start and code loading
# on a small machine, a request well under one: runs of one request each left the history fill
# CPU-bound (29x the API's floor). Twelve keep a run's memory where benchmarks/memory.py measured it
# (a year of 15-minute generation per type), a step retry's re-fetch small, and a failing window still
# fails alone (ingest stores each partition on its own).
REQUESTS_PER_RUN = 12


def max_partitions_per_run(endpoint: Endpoint) -> int:
    return endpoint.partitions_per_request * REQUESTS_PER_RUN


def backfill_policy_for(endpoint: Endpoint) -> dg.BackfillPolicy:
    """Runs of twelve API requests' worth of partitions per asset: a two-year backfill of actual
    load is 3 runs of 336 days, not 730 runs. Dagster puts the assets of one partitions definition
    and policy (the areas of an endpoint) into the same runs."""
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=max_partitions_per_run(endpoint))
