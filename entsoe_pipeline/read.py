"""Reading the store back into pandas, for analysts: one call per series or derived table.

    from entsoe_pipeline.read import read_series
    load = read_series("actual_load", "DE_LU", "2025-01-01", "2025-02-01")
    load["value"].resample("1h").mean()

Every frame has a tz-aware UTC ``DatetimeIndex``. Times given without a zone are UTC. The database
is ``database_url``, else ENTSOE_DATABASE_URL (what `make run` and `make db-url` use). No Dagster
here: an asset, a notebook or a script calls the same functions.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from entsoe_pipeline import catalog

TimeLike = str | date | datetime | pd.Timestamp

_SERIES = """
SELECT time, business_type, psr_type, variant, value, unit, resolution{known_since}
FROM {source}
WHERE endpoint = :endpoint AND area = :area AND time >= :start AND time < :end
  {variant_filter}
ORDER BY time, business_type, psr_type, variant
"""


def read_series(
    endpoint: str,
    area: str,
    start: TimeLike,
    end: TimeLike,
    *,
    as_of: TimeLike | None = None,
    variant: str | None = "",
    database_url: str | None = None,
) -> pd.DataFrame:
    """The stored points of ``endpoint`` for ``area`` (name such as "DE_LU" or EIC code) in
    ``[start, end)``, one row per point, indexed by interval start (UTC).

    Columns: value, unit, resolution (a Timedelta), business_type, psr_type (the production type of
    generation series, '' otherwise) and variant. ``variant=''`` (the default) gives the canonical
    series; None gives every variant (pumping consumption, second price sequence, units).
    ``as_of`` gives the values as the store knew them at that time (revisions since are undone),
    with a ``known_since`` column: the vintage of each value.
    """
    ep, ar = catalog.endpoint(endpoint), catalog.area(area)
    lo, hi = _utc(start, "start"), _utc(end, "end")
    if hi <= lo:
        raise ValueError(f"end ({hi.isoformat()}) must be after start ({lo.isoformat()})")
    params: dict[str, Any] = {"endpoint": ep.name, "area": ar.eic, "start": lo, "end": hi}
    if as_of is not None:
        params["as_of"] = _utc(as_of, "as_of")
    if variant is not None:
        params["variant"] = variant
    query = _SERIES.format(
        known_since=", known_since" if as_of is not None else "",
        source="entsoe.observations_as_of(:as_of)" if as_of is not None else "entsoe.observations",
        variant_filter="AND variant = :variant" if variant is not None else "",
    )
    return _frame(query, params, database_url, index="time")


def read_total_load(start: TimeLike, end: TimeLike, *, database_url: str | None = None) -> pd.DataFrame:
    """The derived hourly total load (``derived/total_load``): load_mw, areas, area_codes."""
    query = (
        "SELECT hour, load_mw, areas, area_codes FROM entsoe.total_load_hourly"
        " WHERE hour >= :start AND hour < :end ORDER BY hour"
    )
    params: dict[str, Any] = {"start": _utc(start, "start"), "end": _utc(end, "end")}
    return _frame(query, params, database_url, index="hour")


def read_forecast_error(
    area: str, start: TimeLike, end: TimeLike, *, database_url: str | None = None
) -> pd.DataFrame:
    """The derived daily day-ahead forecast error of ``area``: mae_mw, mape_percent, bias_mw, hours;
    indexed by the UTC day's start."""
    query = (
        "SELECT CAST(day AS timestamp) AT TIME ZONE 'UTC' AS day, mae_mw, mape_percent, bias_mw, hours"
        " FROM entsoe.load_forecast_error_daily"
        " WHERE area = :area AND day >= CAST(:start AS date) AND day < CAST(:end AS date) ORDER BY day"
    )
    params = {"area": catalog.area(area).eic, "start": _utc(start, "start"), "end": _utc(end, "end")}
    return _frame(query, params, database_url, index="day")


def engine(database_url: str | None = None) -> sa.Engine:
    """A SQLAlchemy engine on the store (psycopg2), for queries of your own with pandas."""
    url = database_url or os.environ.get("ENTSOE_DATABASE_URL", "").strip()
    if not url:
        raise ValueError(
            "no database: pass database_url or set ENTSOE_DATABASE_URL (`make db-url` prints the project's)"
        )
    # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which is not installed.
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    return sa.create_engine(url, pool_pre_ping=True)


def _frame(query: str, params: dict[str, Any], database_url: str | None, *, index: str) -> pd.DataFrame:
    db = engine(database_url)
    try:
        with db.connect() as conn:
            frame = pd.read_sql_query(sa.text(query), conn, params=params)
    finally:
        db.dispose()
    frame[index] = pd.to_datetime(frame[index], utc=True)
    if "resolution" in frame:
        frame["resolution"] = pd.to_timedelta(frame["resolution"])
    return frame.set_index(index)


def _utc(moment: TimeLike, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(moment)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}={moment!r} is not a date or time: {exc}") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
