"""Derived assets computed in SQL in TimescaleDB, downstream of the observation assets, so the UI
shows lineage from the API through raw series to analysis tables. They recompute automatically when
an upstream partition they read is updated."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import dagster as dg

from entsoe_pipeline import catalog
from entsoe_pipeline.catalog import Area, Endpoint, endpoint
from entsoe_pipeline.ingest import expected_until
from entsoe_pipeline.settings import Settings
from entsoe_pipeline.storage import derived

from .automation import derived_condition
from .observations import observation_key
from .partitions import partitions_for
from .resources import TimescaleResource

ACTUAL = endpoint("actual_load")
DAY_AHEAD = endpoint("day_ahead_load_forecast")
DERIVED_FRESHNESS = timedelta(days=1)


def _sql_asset(
    key: list[str],
    deps: list[dg.AssetKey],
    description: str,
    table: str,
    refresh: Callable[[str, datetime, datetime, datetime], derived.DerivedRows],
    sql_version: str,
    coverage: str,
    settings: Settings,
    tags: dict[str, str] | None = None,
) -> dg.AssetsDefinition:
    """A daily-partitioned asset whose body is one SQL refresh of ``table`` over the run's window.

    Its code version is a fingerprint of the SQL; its ``coverage`` check says how much of the
    finished part of the window the inputs covered (``coverage`` names the unit)."""

    @dg.asset(
        key=key,
        deps=deps,
        group_name="derived",
        description=(
            f"{description}, computed in SQL into {table}. Its freshness says when it was last "
            "recomputed (whenever an upstream partition it reads is materialized), not how "
            "current its data is: that is the freshness of the upstream series' _newest companions."
        ),
        partitions_def=partitions_for(ACTUAL, settings.history_start),
        kinds={"timescaledb", "sql"},
        owners=["team:energy-data"],
        tags=tags or {},
        code_version=sql_version,
        automation_condition=derived_condition(),
        # Fails when nothing recomputed it for a day: the automation or the upstream runs stopped.
        # Dagster judges it by the last materialization, so it cannot follow the data (see the
        # description).
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=DERIVED_FRESHNESS),
        # The SQL takes any time range: one run recomputes a whole backfill, not one run per day.
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"dagster/table_name": table},
        check_specs=[
            dg.AssetCheckSpec("coverage", asset=key, description=f"{coverage} of the finished days")
        ],
    )
    def _asset(context: dg.AssetExecutionContext, timescale: TimescaleResource) -> dg.MaterializeResult:
        window = context.partition_time_window
        result = refresh(timescale.dsn, window.start, window.end, expected_until(ACTUAL, settings.clock()))
        # Each day's partition carries its own rows and figures (a backfill is one run over many
        # days: the run's totals would say nothing about any one day).
        for key in context.partition_keys:
            day = result.per_day.get(key, {"rows": 0})
            meta: dict[str, Any] = {"dagster/row_count": day["rows"]}
            meta.update({k: v for k, v in day.items() if k != "rows"})
            context.add_asset_metadata(meta, partition_key=key)
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(
                    check_name="coverage",
                    passed=result.whole == result.expected,
                    severity=dg.AssetCheckSeverity.WARN,
                    description=f"{result.whole} of {result.expected} {coverage}",
                    metadata={"expected": result.expected, "whole": result.whole},
                )
            ],
        )

    return _asset


def build_forecast_error_asset(area: Area, settings: Settings) -> dg.AssetsDefinition:
    return _sql_asset(
        key=["derived", "load_forecast_error", area.key],
        deps=[observation_key(ACTUAL, area), observation_key(DAY_AHEAD, area)],
        description=f"Day-ahead load forecast error for {area.label} per UTC day (MAE, MAPE, bias)",
        table="entsoe.load_forecast_error_daily",
        refresh=lambda dsn, start, end, until: derived.refresh_forecast_error(
            dsn, area.eic, start, end, until
        ),
        sql_version=derived.FORECAST_ERROR_VERSION,
        coverage="days with all 24 hours paired",
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
        refresh=lambda dsn, start, end, until: derived.refresh_total_load(
            dsn, eics, start, end, [(part.eic, outer.eic) for part, outer in nested], until
        ),
        sql_version=derived.TOTAL_LOAD_VERSION,
        coverage="hours with every area",
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
