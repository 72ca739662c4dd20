"""The automation condition, evaluated tick by tick at controlled times."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg
from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

from entsoe_pipeline import catalog
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.partitions import partitions_for
from entsoe_pipeline_tests.dagster.conftest import add_backfill, offline_resources

SETTINGS = Settings(
    areas=(catalog.area("FR"),),
    endpoints=(catalog.endpoint("actual_load"),),
    history_start=date(2026, 10, 1),
)
KEY = dg.AssetKey(["entsoe", "actual_load", "fr"])
PARTITIONS = partitions_for(catalog.endpoint("actual_load"), SETTINGS.history_start)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def _defs() -> dg.Definitions:
    return build_defs(SETTINGS, resources=offline_resources())


def _materialized(instance: dg.DagsterInstance, partitions) -> None:
    for p in partitions:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=KEY, partition=p))


def _requested(result) -> list[str]:
    return sorted(result.get_requested_partitions(KEY))


def test_first_tick_fills_the_lookback_only_not_the_whole_history():
    instance = dg.DagsterInstance.ephemeral()
    result = dg.evaluate_automation_conditions(defs=_defs(), instance=instance, evaluation_time=_at(29, 9))
    assert _requested(result) == [f"2026-11-{d}" for d in range(23, 30)]


def test_nothing_is_requested_again_once_the_partitions_exist():
    instance = dg.DagsterInstance.ephemeral()
    defs = _defs()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=_at(29, 9))
    _materialized(instance, _requested(first))
    second = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=first.cursor, evaluation_time=_at(29, 9, 1)
    )
    assert _requested(second) == []


def test_a_new_day_is_requested_when_it_appears():
    instance = dg.DagsterInstance.ephemeral()
    defs = _defs()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=_at(28, 23, 50))
    _materialized(instance, _requested(first))
    second = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=first.cursor, evaluation_time=_at(29, 0, 1)
    )
    assert _requested(second) == ["2026-11-29"]


def test_partitions_in_a_running_backfill_are_not_requested():
    instance = dg.DagsterInstance.ephemeral()
    add_backfill(instance, KEY, PARTITIONS, "2026-11-23", "2026-11-29")
    result = dg.evaluate_automation_conditions(defs=_defs(), instance=instance, evaluation_time=_at(29, 9))
    assert _requested(result) == []


def test_stale_latest_partition_is_re_requested_on_the_rate_limiting_tick_only():
    instance = dg.DagsterInstance.ephemeral()
    defs = _defs()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=_at(29, 9))
    _materialized(instance, _requested(first))
    instance.report_runless_asset_event(
        FreshnessStateChange(
            key=KEY,
            new_state=FreshnessState.FAIL,
            previous_state=FreshnessState.PASS,
            state_change_timestamp=_at(29, 9, 2).timestamp(),
        )
    )
    before_tick = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=first.cursor, evaluation_time=_at(29, 9, 5)
    )
    assert _requested(before_tick) == []
    on_tick = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=before_tick.cursor, evaluation_time=_at(29, 9, 16)
    )
    assert _requested(on_tick) == ["2026-11-29"]
    right_after = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=on_tick.cursor, evaluation_time=_at(29, 9, 17)
    )
    assert _requested(right_after) == []


def test_a_failed_partition_is_not_hot_looped_but_retried_on_the_slow_tick(make_simulator):
    from entsoe_pipeline_tests.dagster.conftest import make_resources

    instance = dg.DagsterInstance.ephemeral()
    defs = _defs()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=_at(29, 9))
    _materialized(instance, [p for p in _requested(first) if p != "2026-11-25"])
    # A real failed run of 2026-11-25: the simulator refuses the token, a failure that is not retried.
    failing = build_defs(
        SETTINGS, resources=make_resources(make_simulator().url, "postgresql://x@127.0.0.1:9/x", token="bad")
    )
    result = dg.materialize(
        [failing.resolve_assets_def(KEY)], partition_key="2026-11-25", instance=instance, raise_on_error=False
    )
    assert not result.success

    after_failure = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=first.cursor, evaluation_time=_at(29, 9, 1)
    )
    assert _requested(after_failure) == []
    still_waiting = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=after_failure.cursor, evaluation_time=_at(29, 11, 59)
    )
    assert _requested(still_waiting) == []
    retry = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=still_waiting.cursor, evaluation_time=_at(29, 12, 1)
    )
    assert _requested(retry) == ["2026-11-25"]


def _upstream_updated(instance, partition: str, *, plausible: bool) -> None:
    """What a run of both upstream assets records: a materialization and its blocking check."""
    for upstream in (KEY, dg.AssetKey(["entsoe", "day_ahead_load_forecast", "fr"])):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=upstream, partition=partition))
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(asset_key=upstream, check_name="plausible_values", passed=plausible)
        )


def _derived_requests(plausible: bool) -> list[str]:
    settings = Settings(
        areas=(catalog.area("FR"),),
        endpoints=(catalog.endpoint("actual_load"), catalog.endpoint("day_ahead_load_forecast")),
        history_start=date(2026, 10, 1),
    )
    defs = build_defs(settings, resources=offline_resources())
    derived = dg.AssetKey(["derived", "load_forecast_error", "fr"])
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=_at(29, 9))
    assert sorted(first.get_requested_partitions(derived)) == []
    _upstream_updated(instance, "2026-11-10", plausible=plausible)
    second = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=first.cursor, evaluation_time=_at(29, 9, 1)
    )
    return sorted(second.get_requested_partitions(derived))


def test_a_derived_partition_is_recomputed_when_its_upstream_partitions_were_updated():
    assert _derived_requests(plausible=True) == ["2026-11-10"]


def test_a_derived_partition_is_not_computed_from_values_a_blocking_check_found_implausible():
    assert _derived_requests(plausible=False) == []
