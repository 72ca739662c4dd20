"""Derived assets computed in SQL in TimescaleDB, downstream of the observation assets, so the UI
shows lineage from the API through raw series to analysis tables. They recompute automatically when
an upstream partition they read is updated."""

from typing import Any

import dagster as dg

from entsoe_pipeline.catalog import Area, Endpoint, endpoint
from entsoe_pipeline.storage import derived

from .automation import derived_condition
from .observations import observation_key
from .partitions import partitions_for
from .resources import TimescaleResource
from .settings import Settings

ACTUAL = endpoint("actual_load")
DAY_AHEAD = endpoint("day_ahead_load_forecast")


def _metadata(result: derived.DerivedRows, table: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"dagster/row_count": result.rows, "dagster/table_name": table}
    meta.update({k: float(v) for k, v in result.summary.items() if v is not None})
    return meta


def build_forecast_error_asset(area: Area, settings: Settings) -> dg.AssetsDefinition:
    partitions_def = partitions_for(ACTUAL, settings.history_start)

    @dg.asset(
        key=["derived", "load_forecast_error", area.key],
        deps=[observation_key(ACTUAL, area), observation_key(DAY_AHEAD, area)],
        group_name="derived",
        description=f"Day-ahead load forecast error for {area.label} per UTC day (MAE, MAPE, bias), "
        "computed in SQL into entsoe.load_forecast_error_daily.",
        partitions_def=partitions_def,
        kinds={"timescaledb", "sql"},
        owners=["team:energy-data"],
        tags={"area": area.name},
        automation_condition=derived_condition(),
        # The SQL takes any time range: one run recomputes a whole backfill, not one run per day.
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"dagster/table_name": "entsoe.load_forecast_error_daily"},
    )
    def _asset(context: dg.AssetExecutionContext, timescale: TimescaleResource) -> dg.MaterializeResult:
        window = context.partition_time_window
        derived.ensure_derived_tables(timescale.dsn)
        result = derived.refresh_forecast_error(timescale.dsn, area.eic, window.start, window.end)
        return dg.MaterializeResult(metadata=_metadata(result, "entsoe.load_forecast_error_daily"))

    return _asset


def build_total_load_asset(areas: tuple[Area, ...], settings: Settings) -> dg.AssetsDefinition:
    partitions_def = partitions_for(ACTUAL, settings.history_start)

    @dg.asset(
        key=["derived", "total_load"],
        deps=[observation_key(ACTUAL, a) for a in areas],
        group_name="derived",
        description="Hourly total actual load of the enabled areas ("
        + ", ".join(a.name for a in areas)
        + "), computed in SQL into entsoe.total_load_hourly.",
        partitions_def=partitions_def,
        kinds={"timescaledb", "sql"},
        owners=["team:energy-data"],
        automation_condition=derived_condition(),
        # The SQL takes any time range: one run recomputes a whole backfill, not one run per day.
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"dagster/table_name": "entsoe.total_load_hourly"},
    )
    def _asset(context: dg.AssetExecutionContext, timescale: TimescaleResource) -> dg.MaterializeResult:
        window = context.partition_time_window
        derived.ensure_derived_tables(timescale.dsn)
        result = derived.refresh_total_load(timescale.dsn, [a.eic for a in areas], window.start, window.end)
        return dg.MaterializeResult(metadata=_metadata(result, "entsoe.total_load_hourly"))

    return _asset


def build_derived_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    enabled: set[Endpoint] = set(settings.endpoints)
    assets: list[dg.AssetsDefinition] = []
    if ACTUAL in enabled and DAY_AHEAD in enabled:
        assets += [build_forecast_error_asset(a, settings) for a in settings.areas]
    if ACTUAL in enabled and len(settings.areas) > 1:
        assets.append(build_total_load_asset(settings.areas, settings))
    return assets
