"""Declarative automation: the condition that decides which partitions of a series to (re)fetch.

One automation sensor evaluates it every 30 seconds. What is already in flight follows the
launchers' one rule (targets.py): fills skip partitions Dagster shows in progress, the refresh of
the latest partitions only those a run outside any backfill works on. Its branches:

* **never materialized**: every partition that was never materialized, back to the history start
  (on a new installation: the whole history, which Dagster runs as one backfill of API-sized
  runs); not while in flight, and not the partition after the current one (below);
* **failed**: a partition whose last run failed, again on a slow retry tick (every 6 hours);
* **refresh**: the latest partitions (actual data: today and yesterday; forecasts: the current and
  the published future ones) on the endpoint's publication cadence, once per cron tick; a backfill
  over them (its queued runs included) does not hold it back;
* **revision sweeps**: the partitions of each re-read span the endpoint declares (catalogue
  ``Endpoint.rereads``: actual data the last 7 days daily, 90 days weekly, a year monthly), on the
  re-read's cron, as one backfill; ENTSO-E revises values and publishes late.

A forecast's partition after the current one exists (end_offset) but is published only
``published_ahead`` before it starts (catalogue: tomorrow's day-ahead data at noon, next year's
forecast in mid-December). No branch asks for it earlier: the refresh takes it only on the cadence
ticks at which ``catalog.published_by`` holds, written as crons (``upcoming_crons``) because the
daemon evaluates only Dagster's own serializable conditions, not Python code of ours.

What the database knows and Dagster does not (a materialized partition short of points, a series
whose newest data is overdue) is the store sensor's (store_sensor.py).
"""

from __future__ import annotations

import calendar
from datetime import timedelta

import dagster as dg

from entsoe_pipeline.catalog import Cadence, Endpoint, Granularity, Reread

from .partitions import end_offset

AC = dg.AutomationCondition

RETRY_FAILED_CRON = "0 */6 * * *"
# When ENTSO-E publishes new values of an endpoint, so when the latest partitions are fetched again.
CADENCE_CRON = {
    Cadence.ACTUAL: "5,35 * * * *",
    Cadence.FORECAST: "20 */6 * * *",
    Cadence.MARGIN: "40 3 * * *",
}


def _cron_tick(cron: str) -> dg.AutomationCondition:
    """A cron tick (UTC) passed since the condition last requested or saw an update."""
    tick: dg.AutomationCondition = AC.cron_tick_passed(cron, cron_timezone="UTC")
    return tick.since_last_handled()


def latest_partition_count(endpoint: Endpoint) -> int:
    """Partitions the refresh covers: those the horizon reaches beyond today (end_offset), and for
    actual data yesterday too, whose last hour is published after midnight."""
    return end_offset(endpoint) + (1 if endpoint.cadence is Cadence.ACTUAL else 0)


def _latest(count: int, endpoint: Endpoint) -> dg.AutomationCondition:
    # in_latest_time_window(d) selects the partitions starting at most d before the latest one
    # ends; the longest partition of the granularity makes ``count`` of them whatever the month.
    return AC.in_latest_time_window(lookback_delta=count * endpoint.granularity.nominal)


def _hours(field: str) -> list[int]:
    """The hours a cron hour field selects ("3", "*/6", "0,12", "6-18/6")."""
    hours: list[int] = []
    for part in field.split(","):
        span, _, step = part.partition("/")
        first, _, last = span.partition("-")
        low, high = (0, 23) if span == "*" else (int(first), int(last or first))
        hours.extend(range(low, high + 1, int(step or 1)))
    return hours


def upcoming_crons(endpoint: Endpoint) -> tuple[str, ...]:
    """The cadence ticks (UTC crons) at which the partition after the current one can have been
    published (``catalog.published_by``): those in the last ``published_ahead`` of each partition;
    none for data published as it happens."""
    lead = endpoint.published_ahead
    if lead is None:
        return ()
    minute, hour, *days = CADENCE_CRON[endpoint.cadence].split()
    if days != ["*", "*", "*"] or lead >= endpoint.granularity.nominal:
        raise ValueError(f"{endpoint.name}: no publication crons for this cadence and lead")
    if endpoint.granularity is Granularity.DAILY:
        after = timedelta(days=1) - lead
        hours = [h for h in _hours(hour) if timedelta(hours=h, minutes=int(minute)) >= after]
        return (f"{minute} {','.join(map(str, hours))} * * *",) if hours else ()
    if lead % timedelta(days=1):
        raise ValueError(f"{endpoint.name}: a lead of whole days is expected for {endpoint.granularity}")
    if endpoint.granularity is Granularity.WEEKLY:  # weeks start on Monday (cron day 1)
        weekdays = sorted((1 - d) % 7 for d in range(1, lead.days + 1))
        return (f"{minute} {hour} * * {','.join(map(str, weekdays))}",)
    if endpoint.granularity is Granularity.YEARLY:
        return (f"{minute} {hour} {32 - lead.days}-31 12 *",)
    # Months by length. February from its common-year day to the 29th: a leap year's opens a day
    # early (a wasted request or four) rather than a common year's a day late.
    by_days: dict[tuple[int, int], list[int]] = {}
    for month in range(1, 13):
        common, leap = calendar.monthrange(2001, month)[1], calendar.monthrange(2000, month)[1]
        by_days.setdefault((common + 1 - lead.days, leap), []).append(month)
    return tuple(
        f"{minute} {hour} {first}-{last} {','.join(map(str, months))} *"
        for (first, last), months in by_days.items()
    )


def _upcoming(endpoint: Endpoint) -> dg.AutomationCondition | None:
    """The partition after the current one, for an endpoint published ahead; it must be the only
    future partition, as the crons above speak of that one."""
    if endpoint.published_ahead is None:
        return None
    if end_offset(endpoint) != 2:
        raise ValueError(f"{endpoint.name}: publication is gated for one future partition only")
    return AC.in_latest_time_window().with_label("the partition after the current one")


def _published_tick(endpoint: Endpoint) -> dg.AutomationCondition | None:
    """A tick of ``upcoming_crons`` passed."""
    ticks: list[dg.AutomationCondition] = [
        AC.cron_tick_passed(cron, cron_timezone="UTC") for cron in upcoming_crons(endpoint)
    ]
    if not ticks:
        return None
    tick = ticks[0]
    for other in ticks[1:]:
        tick = tick | other
    return tick


def _sweep(
    endpoint: Endpoint, reread: Reread, unpublished: dg.AutomationCondition | None
) -> dg.AutomationCondition:
    span = reread.span + endpoint.horizon
    condition = AC.in_latest_time_window(lookback_delta=span)
    if unpublished is not None:
        condition = condition & ~unpublished
    return (condition & _cron_tick(reread.cron) & ~AC.in_progress()).with_label(
        f"re-read the last {reread.span.days} days ({reread.name})"
    )


def observation_condition(endpoint: Endpoint) -> dg.AutomationCondition:
    upcoming = _upcoming(endpoint)
    # The next partition, once published, is the refresh's: a missing one is fetched on its tick.
    missing = AC.missing() if upcoming is None else AC.missing() & ~upcoming
    never_materialized = (missing & ~AC.execution_failed() & ~AC.in_progress()).with_label(
        "fill partitions never materialized"
    )
    failed = (AC.execution_failed() & _cron_tick(RETRY_FAILED_CRON) & ~AC.in_progress()).with_label(
        "retry failed partitions"
    )
    # A run in progress on a partition no active backfill targets is a run outside any backfill:
    # the one thing the refresh waits for (targets.py). Where a backfill also targets it, the
    # condition cannot tell the runs apart and does not wait: a duplicate request at worst.
    run_outside_backfills = (AC.run_in_progress() & ~AC.backfill_in_progress()).with_label(
        "a run outside any backfill works on it"
    )
    tick: dg.AutomationCondition = AC.cron_tick_passed(CADENCE_CRON[endpoint.cadence], cron_timezone="UTC")
    if upcoming is not None:
        tick = ~upcoming & tick
        if (published := _published_tick(endpoint)) is not None:
            tick = tick | (upcoming & published).with_label(
                "the next partition, on the cadence ticks after its publication"
            )
    refresh = (
        _latest(latest_partition_count(endpoint), endpoint)
        & tick.since_last_handled()
        & ~run_outside_backfills
    ).with_label("refresh the latest partitions on the publication cadence")
    condition = never_materialized | failed | refresh
    for reread in endpoint.rereads:
        condition = condition | _sweep(endpoint, reread, upcoming)
    return condition.with_label("entsoe series")


def derived_condition() -> dg.AutomationCondition:
    """Recompute a derived partition when any upstream partition it reads was updated, unless an
    upstream blocking check failed.

    Not bounded to a window on purpose: a backfill of history upstream should flow downstream. It
    only fires for partitions whose parents were newly updated, so it never selects all history.
    """
    return (
        AC.any_deps_updated().since_last_handled()
        & ~AC.any_deps_missing()
        & ~AC.any_deps_in_progress()
        # Implausible upstream values (a failed blocking check) are not carried into the tables.
        & AC.all_deps_blocking_checks_passed()
        & ~AC.in_progress()
    ).with_label("recompute when upstream changed")
