"""Derived assets computed in SQL in TimescaleDB, downstream of the observation assets, so the UI
shows lineage from the API through raw series to analysis tables. They recompute automatically when
an upstream partition they read is updated."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import dagster as dg

from entsoe_pipeline import catalog
from entsoe_pipeline.catalog import Area, Endpoint, endpoint
from entsoe_pipeline.settings import Settings
from entsoe_pipeline.storage import derived

from .automation import derived_condition
from .observations import observation_key
from .partitions import partitions_for
from .resources import TimescaleResource

ACTUAL = endpoint("actual_load")
DAY_AHEAD = endpoint("day_ahead_load_forecast")


def _sql_asset(
    key: list[str],
    deps: list[dg.AssetKey],
    description: str,
    table: str,
    refresh: Callable[[str, datetime, datetime], derived.DerivedRows],
    settings: Settings,
    tags: dict[str, str] | None = None,
) -> dg.AssetsDefinition:
    """A daily-partitioned asset whose body is one SQL refresh of ``table`` over the run's window."""

    @dg.asset(
        key=key,
        deps=deps,
        group_name="derived",
        description=f"{description}, computed in SQL into {table}.",
        partitions_def=partitions_for(ACTUAL, settings.history_start),
        kinds={"timescaledb", "sql"},
        owners=["team:energy-data"],
        tags=tags or {},
        automation_condition=derived_condition(),
        # The SQL takes any time range: one run recomputes a whole backfill, not one run per day.
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"dagster/table_name": table},
    )
    def _asset(context: dg.AssetExecutionContext, timescale: TimescaleResource) -> dg.MaterializeResult:
        window = context.partition_time_window
        result = refresh(timescale.dsn, window.start, window.end)
        meta: dict[str, Any] = {"dagster/row_count": result.rows}
        meta.update({k: float(v) for k, v in result.summary.items() if v is not None})
        return dg.MaterializeResult(metadata=meta)

    return _asset


def build_forecast_error_asset(area: Area, settings: Settings) -> dg.AssetsDefinition:
    return _sql_asset(
        key=["derived", "load_forecast_error", area.key],
        deps=[observation_key(ACTUAL, area), observation_key(DAY_AHEAD, area)],
        description=f"Day-ahead load forecast error for {area.label} per UTC day (MAE, MAPE, bias)",
        table="entsoe.load_forecast_error_daily",
        refresh=lambda dsn, start, end: derived.refresh_forecast_error(dsn, area.eic, start, end),
        settings=settings,
        tags={"area": area.name},
    )


def build_total_load_asset(areas: tuple[Area, ...], settings: Settings) -> dg.AssetsDefinition:
    eics = [a.eic for a in areas]
    nested = catalog.nested_pairs(areas)
    description = f"Hourly total actual load of the enabled areas ({', '.join(a.name for a in areas)})"
    if nested:
        description += (
            "; an area inside another enabled one is left out of the hours that one has ("
            + ", ".join(f"{part.name} in {outer.name}" for part, outer in nested)
            + ")"
        )
    return _sql_asset(
        key=["derived", "total_load"],
        deps=[observation_key(ACTUAL, a) for a in areas],
        description=description,
        table="entsoe.total_load_hourly",
        refresh=lambda dsn, start, end: derived.refresh_total_load(
            dsn, eics, start, end, [(part.eic, outer.eic) for part, outer in nested]
        ),
        settings=settings,
    )


def build_derived_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    enabled: set[Endpoint] = set(settings.endpoints)
    assets: list[dg.AssetsDefinition] = []
    if ACTUAL in enabled and DAY_AHEAD in enabled:
        assets += [build_forecast_error_asset(a, settings) for a in settings.areas]
    if ACTUAL in enabled and len(settings.areas) > 1:
        assets.append(build_total_load_asset(settings.areas, settings))
    return assets
