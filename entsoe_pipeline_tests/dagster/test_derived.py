"""Derived SQL assets read the observation assets' rows and write their own tables."""

from __future__ import annotations

import dagster as dg
import psycopg2

from entsoe_pipeline.defs import Settings
from entsoe_pipeline.storage import derived


def _materialize_all(defs: dg.Definitions, keys: list[str], partition: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [defs.resolve_assets_def(dg.AssetKey.from_user_string(k)) for k in keys],
        instance=dg.DagsterInstance.ephemeral(),
        partition_key=partition,
    )


def test_forecast_error_and_total_load_are_computed_from_stored_series(build_test_defs, database_url):
    defs = build_test_defs(Settings())
    actual = ["entsoe/actual_load/de_lu", "entsoe/actual_load/fr", "entsoe/actual_load/nl"]
    assert _materialize_all(defs, actual, "2025-05-06").success
    assert _materialize_all(defs, ["entsoe/day_ahead_load_forecast/de_lu"], "2025-05-06").success
    result = _materialize_all(defs, ["derived/load_forecast_error/de_lu", "derived/total_load"], "2025-05-06")
    assert result.success
    coverage = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    assert coverage["derived/load_forecast_error/de_lu"].passed
    assert coverage["derived/load_forecast_error/de_lu"].description == "1 of 1 days with all 24 hours paired"
    assert coverage["derived/total_load"].description == "24 of 24 hours with every area"
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT hours, mae_mw, bias_mw FROM entsoe.load_forecast_error_daily "
            "WHERE area = '10Y1001A1001A82H' AND day = '2025-05-06'"
        )
        hours, mae, bias = cur.fetchone()
        cur.execute(
            "SELECT count(*), min(areas), max(load_mw) FROM entsoe.total_load_hourly "
            "WHERE hour >= '2025-05-06' AND hour < '2025-05-07'"
        )
        total_hours, min_areas, peak = cur.fetchone()
    assert hours == 24
    assert mae > 0 and abs(bias) <= mae
    assert total_hours == 24 and min_areas == 3
    assert peak > 50_000  # DE_LU + FR + NL together


def test_a_derived_assets_code_version_follows_its_sql(build_test_defs):
    defs = build_test_defs(Settings())
    spec = defs.resolve_assets_def(dg.AssetKey(["derived", "total_load"])).specs_by_key
    (only,) = spec.values()
    assert only.code_version == derived.TOTAL_LOAD_VERSION == derived.sql_version(derived._TOTAL_LOAD)


def test_a_derived_assets_description_says_its_freshness_follows_recomputation_not_data(build_test_defs):
    graph = build_test_defs(Settings()).resolve_asset_graph()
    for key in (["derived", "total_load"], ["derived", "load_forecast_error", "fr"]):
        node = graph.get(dg.AssetKey(key))
        assert node.freshness_policy is not None
        assert "when it was last recomputed" in (node.description or "")
        assert "_newest" in (node.description or "")


def test_a_derived_range_run_gives_each_day_its_own_figures(build_test_defs, database_url):
    defs = build_test_defs(Settings())
    days = {
        "dagster/asset_partition_range_start": "2025-05-08",
        "dagster/asset_partition_range_end": "2025-05-10",
    }
    for key in ("entsoe/actual_load/de_lu", "entsoe/day_ahead_load_forecast/de_lu"):
        assert dg.materialize([defs.resolve_assets_def(dg.AssetKey.from_user_string(key))], tags=days).success
    result = dg.materialize(
        [defs.resolve_assets_def(dg.AssetKey(["derived", "load_forecast_error", "de_lu"]))], tags=days
    )
    assert result.success
    meta = {
        m.partition: m.metadata
        for m in result.asset_materializations_for_node(result.all_node_events[0].node_name)
    }
    assert sorted(meta) == ["2025-05-08", "2025-05-09", "2025-05-10"]
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT day::text, mae_mw, mape_percent, bias_mw FROM entsoe.load_forecast_error_daily "
            "WHERE area = '10Y1001A1001A82H' AND day BETWEEN '2025-05-08' AND '2025-05-10'"
        )
        stored = {day: figures for day, *figures in cur.fetchall()}
    assert len({stored[d][0] for d in stored}) == 3  # three different days, three different errors
    for day, figures in meta.items():
        assert figures["dagster/row_count"].value == 1
        assert figures["hours"].value == 24
        for name, value in zip(("mae_mw", "mape_percent", "bias_mw"), stored[day], strict=True):
            assert figures[name].value == round(value, 2), (day, name)
