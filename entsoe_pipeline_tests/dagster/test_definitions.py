"""The definitions the code location exposes, built from the catalogue and settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

from entsoe_pipeline import catalog
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.partitions import partitions_for
from entsoe_pipeline_tests.dagster.conftest import offline_resources
from entsoe_pipeline_tests.fixtures.processes import user_environment

REPO = Path(__file__).resolve().parents[2]
LOAD_KEYS = {f"entsoe/{e}/{a}" for e in catalog.LOAD_ENDPOINTS for a in ("de_lu", "fr", "nl")}


def _defs(settings: Settings | None = None) -> dg.Definitions:
    return build_defs(settings or Settings(), resources=offline_resources())


def _asset_specs(defs: dg.Definitions) -> dict[str, dg.AssetSpec]:
    graph = defs.resolve_asset_graph()
    return {k.to_user_string(): graph.get(k) for k in graph.get_all_asset_keys()}


def test_default_definitions_have_one_asset_per_load_endpoint_and_area_plus_sources_and_derived():
    keys = set(_asset_specs(_defs()))
    assert keys >= LOAD_KEYS
    assert {f"entsoe_api/{e}" for e in catalog.LOAD_ENDPOINTS} <= keys
    assert {
        "derived/load_forecast_error/de_lu",
        "derived/load_forecast_error/fr",
        "derived/total_load",
    } <= keys
    assert {f"{k}_newest" for k in LOAD_KEYS} <= keys  # each series' freshness
    assert len(keys) == 18 + 18 + 6 + 3 + 1


def test_observation_assets_carry_kind_group_owner_tags_and_pool():
    graph = _defs().resolve_asset_graph()
    node = graph.get(dg.AssetKey(["entsoe", "actual_load", "de_lu"]))
    assert node.kinds == {"timescaledb"}
    assert node.group_name == "actual_load"
    assert node.owners == ["team:energy-data"]
    assert node.tags["area"] == "DE_LU" and node.tags["endpoint"] == "actual_load"
    assert node.pools == {"entsoe_api"}
    assert node.freshness_policy is None  # judged by its runs: the companion's follows the data
    assert node.automation_condition is not None
    assert dg.AssetKey(["entsoe_api", "actual_load"]) in node.parent_keys
    newest = graph.get(dg.AssetKey(["entsoe", "actual_load", "de_lu_newest"]))
    assert newest.freshness_policy is not None
    assert not newest.is_materializable  # materialized runless by the store sensor
    assert node.key in newest.parent_keys


def test_partitions_follow_the_endpoint_granularity_in_utc_with_the_current_partition_present():
    for name, last_key in [
        ("actual_load", "2026-11-29"),
        ("day_ahead_load_forecast", "2026-11-30"),  # tomorrow's forecast is published today
        ("week_ahead_load_forecast", "2026-11-30"),
        ("month_ahead_load_forecast", "2026-12-01"),
        ("year_ahead_load_forecast", "2027"),
    ]:
        pd = partitions_for(catalog.endpoint(name), Settings().history_start)
        from datetime import UTC, datetime

        keys = pd.get_partition_keys(current_time=datetime(2026, 11, 29, 9, tzinfo=UTC))
        assert keys[-1] == last_key, name
        assert pd.timezone == "UTC"


def test_backfill_policy_makes_runs_of_twelve_api_requests():
    graph = _defs().resolve_asset_graph()
    actual = graph.get(dg.AssetKey(["entsoe", "actual_load", "fr"])).backfill_policy
    weekly = graph.get(dg.AssetKey(["entsoe", "week_ahead_load_forecast", "fr"])).backfill_policy
    assert actual.max_partitions_per_run == 12 * 28  # 28 days = one request
    assert weekly.max_partitions_per_run == 12 * 52  # one year of weeks = one request


def test_runs_execute_their_steps_in_the_run_worker():
    # A step process per asset would load the code location again for every step of every run.
    assert _defs().resolve_implicit_global_asset_job_def().executor_def is dg.in_process_executor


def test_two_sensors_launch_everything_and_run_by_default():
    defs = _defs()
    assert {s.name: s.default_status for s in defs.sensors} == {
        "store_sensor": dg.DefaultSensorStatus.RUNNING,
        "entsoe_automation": dg.DefaultSensorStatus.RUNNING,
    }
    assert list(defs.schedules or []) == []


def test_the_store_sensor_targets_exactly_the_series():
    defs = _defs()
    selection = defs.resolve_sensor_def("store_sensor").asset_selection
    assert selection is not None
    assert {k.to_user_string() for k in selection.resolve(defs.resolve_asset_graph())} == LOAD_KEYS


def test_any_catalogue_subset_can_be_enabled():
    settings = Settings(
        areas=(catalog.area("BE"), catalog.area("DK1")),
        endpoints=(catalog.endpoint("actual_generation"), catalog.endpoint("day_ahead_prices")),
    )
    keys = set(_asset_specs(_defs(settings)))
    assert {"entsoe/actual_generation/be", "entsoe/day_ahead_prices/dk1"} <= keys
    assert not any(k.startswith("derived/load_forecast_error") for k in keys)


def test_the_whole_catalogue_for_every_area_loads_as_one_code_location():
    settings = Settings(areas=tuple(catalog.AREAS.values()), endpoints=tuple(catalog.ENDPOINTS.values()))
    defs = _defs(settings)
    keys = set(_asset_specs(defs))
    series = [k for k in keys if k.startswith("entsoe/") and not k.endswith("_newest")]
    assert len(series) == len(catalog.AREAS) * len(catalog.ENDPOINTS)
    defs.resolve_all_job_defs()


def test_dagster_definitions_validate_passes_on_the_code_location(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    # A DAGSTER_HOME of its own: without one the CLI would read the repository's dagster.yaml.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env={**user_environment(), "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr
