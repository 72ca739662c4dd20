"""Declarative automation: what the schedules miss.

Schedules refresh the latest partitions on each endpoint's publication cadence. The condition here
covers the rest, always bounded to a recent window (a bare ``missing()`` would select every
partition since the history start) and never while a run or backfill of the partition is in flight:

* fill partitions missing within the lookback, once; a failed one only again on a slow retry tick;
* re-request the latest partition when its freshness policy fails, at most on a rate-limiting tick.

Older gaps are the gap sensor's (see gap_sensor.py).
"""

from __future__ import annotations

import dagster as dg

from entsoe_pipeline.catalog import Cadence, Endpoint
from entsoe_pipeline.settings import Settings

AC = dg.AutomationCondition

# How often to retry a failed partition, and how often a stale asset may be re-requested.
RETRY_FAILED_CRON = "0 */6 * * *"
STALE_RETRY_CRON = {
    Cadence.ACTUAL: "*/15 * * * *",
    Cadence.FORECAST: "0 * * * *",
    Cadence.MARGIN: "0 */6 * * *",
}


def _cron_tick(cron: str) -> dg.AutomationCondition:
    """A cron tick passed since the condition last requested or saw an update."""
    tick: dg.AutomationCondition = AC.cron_tick_passed(cron)
    return tick.since_last_handled()


def observation_condition(endpoint: Endpoint, settings: Settings) -> dg.AutomationCondition:
    lookback = max(settings.automation_lookback, endpoint.granularity.nominal)
    fill_gaps = (
        AC.in_latest_time_window(lookback_delta=lookback)
        & AC.missing()
        & (~AC.execution_failed() | _cron_tick(RETRY_FAILED_CRON))
    ).with_label("fill missing partitions in the lookback")
    refresh_stale = (
        AC.in_latest_time_window() & AC.freshness_failed() & _cron_tick(STALE_RETRY_CRON[endpoint.cadence])
    ).with_label("refresh the latest partition when freshness fails")
    return ((fill_gaps | refresh_stale) & ~AC.in_progress()).with_label("entsoe gap filling")


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
