"""Cadence schedules request the latest partitions and leave partitions in flight alone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg

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
