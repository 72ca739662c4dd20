"""Derived SQL assets read the observation assets' rows and write their own tables."""

from __future__ import annotations

import dagster as dg
import psycopg2

from entsoe_pipeline.defs import Settings


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
