"""Declarative automation: the condition that decides which partitions of a series to (re)fetch.

One automation sensor evaluates it every 30 seconds. What is already in flight follows the
launchers' one rule (targets.py): fills skip partitions Dagster shows in progress, the refresh of
the latest partitions only those a run outside any backfill works on. Its branches:

* **never materialized**: every partition that was never materialized, back to the history start
  (on a new installation: the whole history, which Dagster runs as one backfill of API-sized
  runs); not while in flight;
* **failed**: a partition whose last run failed, again on a slow retry tick (every 6 hours);
* **refresh**: the latest partitions (actual data: today and yesterday; forecasts: the current and
  the published future ones) on the endpoint's publication cadence, once per cron tick; a backfill
  over them (its queued runs included) does not hold it back;
* **revision sweeps**: the partitions of each re-read span the endpoint declares (catalogue
  ``Endpoint.rereads``: actual data the last 7 days daily, 90 days weekly, a year monthly), on the
  re-read's cron, as one backfill; ENTSO-E revises values and publishes late.

What the database knows and Dagster does not (a materialized partition short of points, a series
whose newest data is overdue) is the store sensor's (store_sensor.py).
"""

from __future__ import annotations

import dagster as dg

from entsoe_pipeline.catalog import Cadence, Endpoint, Reread

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


def _sweep(endpoint: Endpoint, reread: Reread) -> dg.AutomationCondition:
    span = reread.span + endpoint.horizon
    return (
        AC.in_latest_time_window(lookback_delta=span) & _cron_tick(reread.cron) & ~AC.in_progress()
    ).with_label(f"re-read the last {reread.span.days} days ({reread.name})")


def observation_condition(endpoint: Endpoint) -> dg.AutomationCondition:
    never_materialized = (AC.missing() & ~AC.execution_failed() & ~AC.in_progress()).with_label(
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
    refresh = (
        _latest(latest_partition_count(endpoint), endpoint)
        & _cron_tick(CADENCE_CRON[endpoint.cadence])
        & ~run_outside_backfills
    ).with_label("refresh the latest partitions on the publication cadence")
    condition = never_materialized | failed | refresh
    for reread in endpoint.rereads:
        condition = condition | _sweep(endpoint, reread)
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
