"""Cadence schedules request the latest partitions and leave partitions in flight alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg2

from entsoe_pipeline import catalog
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.partitions import partitions_for
from entsoe_pipeline_tests.dagster.conftest import add_backfill, offline_resources

SETTINGS = Settings(history_start=date(2026, 10, 1))
TICK = datetime(2026, 11, 29, 9, 5, tzinfo=UTC)
DE = dg.AssetKey(["entsoe", "actual_load", "de_lu"])


def _evaluate(name: str, instance) -> list[dg.RunRequest]:
    defs = build_defs(SETTINGS, resources=offline_resources())
    schedule = defs.resolve_schedule_def(name)
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=TICK, repository_def=defs.get_repository_def()
    ) as context:
        data = schedule.evaluate_tick(context)
    return list(data.run_requests or [])


def test_actual_schedule_refreshes_today_and_yesterday_for_every_area():
    with dg.instance_for_test() as instance:
        requests = _evaluate("refresh_actual_daily", instance)
    assert sorted(r.partition_key for r in requests) == ["2026-11-28", "2026-11-29"]
    for r in requests:
        assert {k.to_user_string() for k in r.asset_selection} == {
            "entsoe/actual_load/de_lu",
            "entsoe/actual_load/fr",
            "entsoe/actual_load/nl",
        }


def test_forecast_schedules_refresh_today_and_the_published_future_per_granularity():
    with dg.instance_for_test() as instance:
        daily = _evaluate("refresh_forecast_daily", instance)
        weekly = _evaluate("refresh_forecast_weekly", instance)
        monthly = _evaluate("refresh_forecast_monthly", instance)
    assert sorted(r.partition_key for r in daily) == ["2026-11-29", "2026-11-30"]
    assert sorted(r.partition_key for r in weekly) == ["2026-11-23", "2026-11-30"]
    assert sorted(r.partition_key for r in monthly) == ["2026-11-01", "2026-12-01"]
    assert {k.path[1] for r in weekly for k in r.asset_selection} == {"week_ahead_load_forecast"}


def test_schedule_skips_a_partition_a_backfill_is_working_on():
    with dg.instance_for_test() as instance:
        _add_backfill_for_today(instance)
        requests = _evaluate("refresh_actual_daily", instance)
    today = next(r for r in requests if r.partition_key == "2026-11-29")
    assert DE not in today.asset_selection
    assert len(today.asset_selection) == 2
    yesterday = next(r for r in requests if r.partition_key == "2026-11-28")
    assert DE in yesterday.asset_selection


def _add_backfill_for_today(instance) -> None:
    partitions = partitions_for(catalog.endpoint("actual_load"), SETTINGS.history_start)
    add_backfill(instance, DE, partitions, "2026-11-29", "2026-11-29")


def test_revision_sweeps_request_one_range_run_over_their_span():
    with dg.instance_for_test() as instance:
        daily = _evaluate("sweep_actual_daily_last7d", instance)
        weekly = _evaluate("sweep_actual_daily_last90d", instance)
        yearly = _evaluate("sweep_margin_yearly_last366d", instance)
    (run,) = daily
    assert (
        run.tags["dagster/asset_partition_range_start"],
        run.tags["dagster/asset_partition_range_end"],
    ) == (
        "2026-11-22",
        "2026-11-29",
    )
    assert run.tags["launched_by"] == "revision_sweep"
    assert {k.path[1] for k in run.asset_selection} == {"actual_load"}
    # The weekly sweep would reach back 90 days; partitions exist from the history start only.
    assert weekly[0].tags["dagster/asset_partition_range_start"] == "2026-10-01"
    # Year-ahead data: last year, this year and next year as far as partitions exist.
    assert (
        yearly[0].tags["dagster/asset_partition_range_start"],
        yearly[0].tags["dagster/asset_partition_range_end"],
    ) == ("2026", "2027")


def test_a_sweep_run_rereads_its_range_and_reports_revised_rows(make_simulator, database_url):
    from entsoe_pipeline_tests.dagster.conftest import make_resources

    first = datetime(2025, 3, 12, 14, tzinfo=UTC)
    sim = make_simulator(now=first, revision_share=1.0)  # every day is revised once, D+1 .. D+30
    settings = Settings(areas=(catalog.area("FR"),), endpoints=(catalog.endpoint("actual_load"),))
    defs = build_defs(settings, resources=make_resources(sim.url, database_url))
    key = dg.AssetKey(["entsoe", "actual_load", "fr"])
    tags = {
        "dagster/asset_partition_range_start": "2025-03-01",
        "dagster/asset_partition_range_end": "2025-03-07",
    }
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([defs.resolve_assets_def(key)], instance=instance, tags=tags).success
    sim.config.now = first + timedelta(days=40)  # every revision of those days is out now
    swept = dg.materialize([defs.resolve_assets_def(key)], instance=instance, tags={**tags, "sweep": "test"})
    assert swept.success
    week = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 8, tzinfo=UTC))
    known = sim.revisions("actual_load", "FR", *week, as_of=first)
    revised = sim.revisions("actual_load", "FR", *week)
    since_first = revised[~revised["time"].isin(known["time"])]
    node = swept.all_node_events[0].node_name
    updated = {
        m.partition: m.metadata["rows_updated"].value for m in swept.asset_materializations_for_node(node)
    }
    assert updated == {f"2025-03-0{d}": int((since_first["time"].dt.day == d).sum()) for d in range(1, 8)}
    assert sum(updated.values()) > 0
    truth = sim.published("actual_load", "FR", *week)
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT time, value FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s "
            "AND time >= '2025-03-01' AND time < '2025-03-08' ORDER BY time",
            (catalog.area("FR").eic,),
        )
        stored = cur.fetchall()
        cur.execute(
            "SELECT count(*) FROM entsoe.observation_history WHERE endpoint = 'actual_load' AND area = %s "
            "AND time >= '2025-03-01' AND time < '2025-03-08' AND change = 'revised'",
            (catalog.area("FR").eic,),
        )
        (history,) = cur.fetchone()
    assert [(t, v) for t, v in stored] == [
        (t.to_pydatetime(), v) for t, v in zip(truth["time"], truth["value"], strict=True)
    ]
    assert history == len(since_first)
