"""A simulated month of ENTSO-E's habits, through the real assets, automation condition and store
sensor on a fixed clock advanced tick by tick; afterwards the store must equal what the simulator
has published as of the last tick, value for value, with a history row for every revision it saw
replaced.

The simulator revises a share of days 1 to 30 days after publishing them (some re-published hourly
instead of quarter-hourly), publishes some days 2 or 7 days late, and sends year-ahead Periods one
week short of their Points. Every tick evaluates the automation condition and the store sensor and
runs what they request in-process, as the daemon would (a backfill as runs of its backfill policy's
size). The month ends on a Monday morning,
right after the weekly revision sweep.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster._utils.schedules import get_latest_completed_cron_tick

from entsoe_pipeline import catalog, storage
from entsoe_pipeline.audit import compare
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.automation import CADENCE_CRON
from entsoe_pipeline.defs.freshness import stale_retry
from entsoe_pipeline.defs.gaps import FIRST_RETRY_AFTER
from entsoe_pipeline.defs.partitions import max_partitions_per_run
from entsoe_pipeline.ingest import local_calendar
from entsoe_pipeline.simulator import SimulatorConfig
from entsoe_pipeline.simulator.habits import applies, late_delays
from entsoe_pipeline.storage.windows import data_window
from entsoe_pipeline_tests.dagster.conftest import SUMMARY, make_resources
from entsoe_pipeline_tests.integration.test_storage_upsert import query

AREA = catalog.area("NL")  # quarter-hour MTU: the resolution habits apply
ACTUAL = catalog.endpoint("actual_load")
YEAR_AHEAD = catalog.endpoint("year_ahead_load_forecast")
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 2, 8, tzinfo=UTC)  # a Monday, the tick after the weekly sweep of 03:20
TICK = timedelta(hours=8)
DAEMON_INTERVAL = timedelta(seconds=30)
HABITS = {
    "revision_share": 0.3,
    "late_share": 0.15,
    "short_period_share": 1.0,
    "republish_hourly_share": 0.5,
    "seed": 5,
}


def _evaluations() -> list[datetime]:
    """When the scenario evaluates the launchers: every tick, and again 30 s later (Scenario.tick)."""
    ticks = [START + i * TICK for i in range((END - START) // TICK + 1)]
    return [at for tick in ticks for at in (tick, tick + DAEMON_INTERVAL)]


def _cron_fires(cron: str, evaluations: list[datetime]) -> Counter[date]:
    """Per day, the evaluations that see a tick of ``cron`` since the one before: a cron branch of
    the automation condition (``cron_tick_passed().since_last_handled()``) requests at most then."""
    fires: Counter[date] = Counter()
    for before, at in zip([None, *evaluations], evaluations, strict=False):
        if before is None or get_latest_completed_cron_tick(cron, at, "UTC") > before:
            fires[at.date()] += 1
    return fires


def _spaced(interval: timedelta, evaluations: list[datetime]) -> Counter[date]:
    """Per day, the evaluations at least ``interval`` after the last one counted: how often a
    launcher that waits ``interval`` between two requests for the same partitions can request."""
    fires: Counter[date] = Counter()
    last: datetime | None = None
    for at in evaluations:
        if last is None or at - last >= interval:
            fires[at.date()] += 1
            last = at
    return fires


def _late_days_awaited() -> Counter[date]:
    """Per day, the simulator's late days whose publication is still awaited (from D to D+delay,
    when what is published at local midnight is fetched)."""
    days = np.arange((START.date() - date(1970, 1, 1)).days, (END.date() - date(1970, 1, 1)).days + 1)
    habits = SimulatorConfig(**HABITS).habits()  # type: ignore[arg-type]
    awaited: Counter[date] = Counter()
    for day, delay in zip(days, late_delays(habits, ACTUAL.name, AREA, days), strict=True):
        if delay:
            for later in range(int(delay) + 1):
                awaited[date(1970, 1, 1) + timedelta(days=int(day) + later)] += 1
    return awaited


def max_runs_per_day(endpoint: catalog.Endpoint, settings: Settings) -> Counter[date]:
    """Runs per simulated day of one asset, at most, from the launchers' schedules:

    * automation: one run per tick of the refresh cron (its latest partitions are one range), and
      per tick of each revision sweep's cron, as many runs as its span needs at the backfill
      policy's size; partitions never materialized are only the new ones at the end, inside the
      refresh's range; failed partitions are retried on their cron, but no run fails here;
    * store sensor: the latest partitions again, at most once per stale-retry interval; and each
      partition short of points (the two UTC days a late local day touches, while it is awaited)
      at most once per gap-retry interval (gaps.FIRST_RETRY_AFTER, growing).
    """
    evaluations = _evaluations()
    bound = _cron_fires(CADENCE_CRON[endpoint.cadence], evaluations)
    per_run = max_partitions_per_run(endpoint)
    for reread in endpoint.rereads:
        partitions = (reread.span + endpoint.horizon) // endpoint.granularity.nominal + 2
        bound.update(
            {d: n * -(-partitions // per_run) for d, n in _cron_fires(reread.cron, evaluations).items()}
        )
    bound.update(_spaced(stale_retry(endpoint, settings), evaluations))
    if applies("late", endpoint.name):
        gap_retries = _spaced(FIRST_RETRY_AFTER, evaluations)
        bound.update({d: 2 * n * gap_retries[d] for d, n in _late_days_awaited().items()})
    return bound


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Scenario:
    """The launchers of one code location on a simulated clock, with their runs done in-process."""

    def __init__(self, defs: dg.Definitions, simulator, clock: Clock):
        self.defs = defs
        self.simulator = simulator
        self.clock = clock
        self.instance = dg.DagsterInstance.ephemeral()
        self.automation_cursor = None
        self.store_cursor: str | None = None
        self.runs: Counter[tuple[str, date]] = Counter()
        self.failed = 0
        self.launched_by: Counter[str] = Counter()
        self.confirmations = 0
        self.run_keys: set[str] = set()

    def tick(self, now: datetime) -> None:
        """Two evaluations of each launcher, as the daemon makes them 30 seconds apart: the second
        sees the first's requests as handled, so the next cron tick triggers again."""
        for at in (now, now + DAEMON_INTERVAL):
            self.clock.now = at
            self.simulator.config.now = at
            self._evaluate(at)

    def _evaluate(self, now: datetime) -> None:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.automation_cursor, evaluation_time=now
        )
        self.automation_cursor = result.cursor
        for key in self.defs.resolve_all_asset_keys():
            partitions = sorted(result.get_requested_partitions(key))
            if partitions:
                self._run_backfill(key, partitions, "automation")
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.store_cursor,
            definitions=self.defs,
            resources=self.defs.resources,
        ) as context:
            data = self.defs.resolve_sensor_def("store_sensor").evaluate_tick(context)
        self.store_cursor = data.cursor
        for event in data.asset_events:  # the companions' confirmations, as the daemon records them
            self.instance.report_runless_asset_event(event)
            self.confirmations += 1
        self._run_requests(data.run_requests or [], "store_sensor")

    def _run_requests(self, requests: list[dg.RunRequest], launcher: str) -> None:
        for request in requests:
            if request.run_key is not None:  # the daemon launches a run key once per sensor
                if request.run_key in self.run_keys:
                    continue
                self.run_keys.add(request.run_key)
            # The store sensor's requests say why: "freshness" or "gap".
            by = f"{launcher}/{request.tags['launched_by']}" if "launched_by" in request.tags else launcher
            if request.requires_backfill_daemon():
                subset = request.asset_graph_subset
                for key in subset.asset_keys:
                    partitions = sorted(subset.get_partitions_subset(key).get_partition_keys())
                    self._run_backfill(key, partitions, by)
            else:
                self._run(list(request.asset_selection or []), request.partition_key, dict(request.tags), by)

    def _run_backfill(self, key: dg.AssetKey, partitions: list[str], launcher: str) -> None:
        """Runs of the asset's backfill policy size over contiguous ranges, as the daemon makes."""
        assets_def = self.defs.resolve_assets_def(key)
        partitions_def = assets_def.partitions_def
        size = assets_def.backfill_policy.max_partitions_per_run or len(partitions)
        order = {k: i for i, k in enumerate(partitions_def.get_partition_keys(current_time=self.clock.now))}
        ranges: list[list[str]] = []
        for partition in sorted(partitions, key=order.__getitem__):
            if ranges and order[partition] == order[ranges[-1][-1]] + 1 and len(ranges[-1]) < size:
                ranges[-1].append(partition)
            else:
                ranges.append([partition])
        for keys in ranges:
            if len(keys) == 1:
                self._run([key], keys[0], {}, launcher)
            else:
                tags = {
                    "dagster/asset_partition_range_start": keys[0],
                    "dagster/asset_partition_range_end": keys[-1],
                }
                self._run([key], None, tags, launcher)

    def _run(
        self, keys: list[dg.AssetKey], partition: str | None, tags: dict[str, str], launcher: str
    ) -> None:
        result = dg.materialize(
            [self.defs.resolve_assets_def(k) for k in keys],
            instance=self.instance,
            partition_key=partition,
            tags=tags,
            raise_on_error=False,
        )
        self.failed += not result.success
        self.launched_by[launcher] += 1
        for key in keys:
            self.runs[(key.path[1], self.clock.now.date())] += 1


def _history(dsn: str) -> pd.DataFrame:
    rows = query(
        dsn,
        "SELECT time, business_type, psr_type, variant, value, coalesce(document_created, fetched_at),"
        " change FROM entsoe.observation_history WHERE endpoint = %s AND area = %s",
        (ACTUAL.name, AREA.eic),
    )
    frame = pd.DataFrame(
        rows, columns=["time", "business_type", "psr_type", "variant", "value", "vintage", "change"]
    )
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["vintage"] = pd.to_datetime(frame["vintage"], utc=True)
    return frame


def _first_vintage(dsn: str) -> pd.DataFrame:
    rows = query(
        dsn,
        "SELECT time, min(vintage) FROM ("
        " SELECT time, coalesce(document_created, fetched_at) AS vintage FROM entsoe.observations"
        " WHERE endpoint = %s AND area = %s"
        " UNION ALL SELECT time, coalesce(document_created, fetched_at) FROM entsoe.observation_history"
        " WHERE endpoint = %s AND area = %s) v GROUP BY time",
        (ACTUAL.name, AREA.eic, ACTUAL.name, AREA.eic),
    )
    frame = pd.DataFrame(rows, columns=["time", "first_vintage"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["first_vintage"] = pd.to_datetime(frame["first_vintage"], utc=True)
    return frame


@pytest.mark.scenario
def test_a_month_of_revisions_late_days_and_short_periods_ends_with_the_store_equal_to_the_platform(
    make_simulator, own_database_url, record_property
):
    clock = Clock(START)
    simulator = make_simulator(now=START, **HABITS)
    settings = Settings(
        areas=(AREA,), endpoints=(ACTUAL, YEAR_AHEAD), history_start=START.date(), clock=clock
    )
    defs = build_defs(settings, resources=make_resources(simulator.url, own_database_url))
    scenario = Scenario(defs, simulator, clock)
    now = START
    while now <= END:
        scenario.tick(now)
        now += TICK

    # 1. The store equals what the simulator has published as of the last tick.
    # What each asset's partitions hold: actual load from the start to now, the local year 2026.
    windows = {
        ACTUAL: (START, END),
        YEAR_AHEAD: data_window(START, datetime(2027, 1, 1, tzinfo=UTC), local_calendar(YEAR_AHEAD), AREA.tz),
    }
    differences = []
    for endpoint, (lo, hi) in windows.items():
        published = simulator.published(endpoint, AREA, lo, hi)  # whole documents: clip them
        published = published[(published["time"] >= lo) & (published["time"] < hi)]
        stored = storage.stored_points(own_database_url, endpoint.name, AREA.eic, lo, hi)
        summary = compare(published, stored)
        summary.insert(0, "endpoint", endpoint.name)
        differences.append(summary)
    table = pd.concat(differences, ignore_index=True)
    print("\n" + table.to_string(index=False))
    assert table["compared"].sum() > 0
    assert table[["mismatched", "missing", "stale"]].to_numpy().sum() == 0, table.to_string()

    # 2. Every revision the store had seen first is kept: the replaced value is in the history.
    revisions = simulator.revisions(ACTUAL, AREA, START, END)
    assert len(revisions) > 0
    seen = revisions.merge(_first_vintage(own_database_url), on="time", how="left")
    seen = seen[seen["first_vintage"] < seen["revised_at"]]
    history = _history(own_database_url)
    kept = seen.merge(
        history[history["change"] == "revised"], on=["time", "business_type", "psr_type", "variant"]
    )
    kept = kept[kept["first_value"] == kept["value_y"]]
    assert len(seen) > 0
    assert set(kept["time"]) == set(seen["time"])
    assert (history["change"] == "superseded").any()  # quarter hours of days re-published hourly

    # 3. Runs per asset and simulated day, reported (after the test run, also when it passes) and
    # bounded by what the launchers' schedules allow that day.
    per_day = pd.Series(scenario.runs).rename_axis(["asset", "day"]).unstack(0).fillna(0).astype(int)
    bounds = pd.DataFrame({f"{e.name} bound": max_runs_per_day(e, settings) for e in (ACTUAL, YEAR_AHEAD)})
    report = per_day.join(bounds, how="left").fillna(0).astype(int)
    record_property(
        SUMMARY,
        f"runs per asset and simulated day, and the bound the schedules allow:\n{report.to_string()}\n"
        f"runs by launcher: {dict(scenario.launched_by)}; failed: {scenario.failed};"
        f" freshness confirmations: {scenario.confirmations}",
    )
    assert scenario.failed == 0
    for endpoint in (ACTUAL, YEAR_AHEAD):
        over = report[report[endpoint.name] > report[f"{endpoint.name} bound"]]
        assert over.empty, over.to_string()
