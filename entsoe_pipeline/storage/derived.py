"""Derived tables computed in SQL from ``entsoe.observations``.

* ``entsoe.load_forecast_error_daily``: day-ahead load forecast error per area and UTC day (MAE,
  MAPE, bias), from hourly means of actual load and the day-ahead forecast, so areas that publish
  the two at different resolutions still compare hour by hour.
* ``entsoe.total_load_hourly``: hourly total actual load over a set of areas, with how many areas
  contributed to each hour.

Each refresh replaces the rows of its window in one transaction. The tables are created by
``ensure_schema`` (migration 0006).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .connection import connect, errors_named

# Created by the schema's migration 0006.
DDL = """
CREATE TABLE IF NOT EXISTS entsoe.load_forecast_error_daily (
    area text NOT NULL,
    day date NOT NULL,
    mae_mw double precision NOT NULL,
    mape_percent double precision,
    bias_mw double precision NOT NULL,
    hours integer NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (area, day)
);
COMMENT ON TABLE entsoe.load_forecast_error_daily IS
    'Day-ahead total load forecast error per area (EIC) and UTC day, from hourly means: '
    'mae_mw = mean |forecast - actual|, mape_percent = mean |forecast - actual| / actual * 100, '
    'bias_mw = mean (forecast - actual), hours = hours with both values.';
CREATE TABLE IF NOT EXISTS entsoe.total_load_hourly (
    hour timestamptz PRIMARY KEY,
    load_mw double precision NOT NULL,
    areas integer NOT NULL,
    area_codes text[] NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE entsoe.total_load_hourly IS
    'Hourly total actual load (mean MW per hour, summed over areas); areas = how many areas were '
    'summed, area_codes = which (an area inside another summed one, such as a German control area '
    'inside DE_LU, is left out).';
"""

_FORECAST_ERROR = """
WITH hourly AS (
    SELECT endpoint, date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01') AS hour, avg(value) AS mw
    FROM entsoe.observations
    WHERE area = %(area)s AND variant = '' AND business_type = 'A04'
      AND endpoint IN ('actual_load', 'day_ahead_load_forecast')
      AND time >= %(start)s AND time < %(end)s
    GROUP BY endpoint, hour
), paired AS (
    SELECT a.hour, a.mw AS actual, f.mw AS forecast
    FROM hourly a JOIN hourly f ON f.hour = a.hour
    WHERE a.endpoint = 'actual_load' AND f.endpoint = 'day_ahead_load_forecast'
)
INSERT INTO entsoe.load_forecast_error_daily AS e (area, day, mae_mw, mape_percent, bias_mw, hours)
SELECT %(area)s, (hour AT TIME ZONE 'UTC')::date,
       avg(abs(forecast - actual)),
       avg(abs(forecast - actual) / nullif(actual, 0)) * 100,
       avg(forecast - actual),
       count(*)
FROM paired
GROUP BY 2
ON CONFLICT (area, day) DO UPDATE SET
    mae_mw = excluded.mae_mw, mape_percent = excluded.mape_percent, bias_mw = excluded.bias_mw,
    hours = excluded.hours, computed_at = now()
"""

# An area whose container (DE_LU for a German control area) has a value in the same hour is left
# out of that hour's sum: the container's load already holds it. Decided hour by hour, so a part
# still counts where its container publishes nothing (DE_AT_LU after 2018-09-30).
_TOTAL_LOAD = """
WITH hourly AS (
    SELECT area, date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01') AS hour, avg(value) AS mw
    FROM entsoe.observations
    WHERE endpoint = 'actual_load' AND variant = '' AND area = ANY(%(areas)s)
      AND time >= %(start)s AND time < %(end)s
    GROUP BY area, hour
), nested AS (
    SELECT * FROM unnest(%(parts)s::text[], %(containers)s::text[]) AS n(part, container)
)
INSERT INTO entsoe.total_load_hourly AS t (hour, load_mw, areas, area_codes)
SELECT h.hour, sum(h.mw), count(*), array_agg(h.area ORDER BY h.area)
FROM hourly h
WHERE NOT EXISTS (
    SELECT 1 FROM nested n JOIN hourly c ON c.area = n.container AND c.hour = h.hour
    WHERE n.part = h.area)
GROUP BY h.hour
ON CONFLICT (hour) DO UPDATE SET
    load_mw = excluded.load_mw, areas = excluded.areas, area_codes = excluded.area_codes, computed_at = now()
"""


@dataclass(frozen=True)
class DerivedRows:
    rows: int
    # Of the units the finished part of the window should hold (days of 24 paired hours, hours
    # summed over every area): how many it should hold, and how many are whole.
    expected: int = 0
    whole: int = 0
    # Per UTC day (ISO date): the day's rows and its own figures, for the day's partition.
    per_day: dict[str, dict[str, float | int]] = field(default_factory=dict)


def sql_version(statement: str) -> str:
    """A short fingerprint of a refresh's SQL, for the asset's code version."""
    return hashlib.sha256(statement.encode()).hexdigest()[:12]


FORECAST_ERROR_VERSION = sql_version(_FORECAST_ERROR)
TOTAL_LOAD_VERSION = sql_version(_TOTAL_LOAD)


def _finished_part(start: datetime, end: datetime, until: datetime | None, unit: timedelta) -> int:
    """How many whole units of [start, end) lie before ``until`` (None: the whole window)."""
    stop = end if until is None else max(start, min(end, until))
    return int((stop - start) // unit)


def refresh_forecast_error(
    dsn: str, area: str, start: datetime, end: datetime, until: datetime | None = None
) -> DerivedRows:
    """Recompute the forecast error of ``area`` (EIC) for the UTC days in [start, end); the days
    that ended before ``until`` are expected to pair all 24 hours."""
    what = f"load_forecast_error_daily of {area} for {start:%Y-%m-%d}..{end:%Y-%m-%d}"
    with errors_named(dsn, what), connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM entsoe.load_forecast_error_daily "
            "WHERE area = %s AND day >= %s::date AND day < %s::date",
            (area, start, end),
        )
        cur.execute(_FORECAST_ERROR, {"area": area, "start": start, "end": end})
        rows = cur.rowcount
        expected = _finished_part(start, end, until, timedelta(days=1))
        cur.execute(
            "SELECT count(*) FROM entsoe.load_forecast_error_daily "
            "WHERE area = %s AND day >= %s::date AND day < %s::date + %s AND hours = 24",
            (area, start, start, expected),
        )
        (whole,) = cur.fetchone() or (0,)
        cur.execute(
            "SELECT day::text, 1, mae_mw, mape_percent, bias_mw, hours FROM entsoe.load_forecast_error_daily "
            "WHERE area = %s AND day >= %s::date AND day < %s::date ORDER BY day",
            (area, start, end),
        )
        per_day = _per_day(cur.fetchall(), ("mae_mw", "mape_percent", "bias_mw", "hours"))
    return DerivedRows(rows, expected, int(whole), per_day)


def refresh_total_load(
    dsn: str,
    areas: Sequence[str],
    start: datetime,
    end: datetime,
    nested: Sequence[tuple[str, str]] = (),
    until: datetime | None = None,
) -> DerivedRows:
    """Recompute the hourly total load over ``areas`` (EICs) for [start, end). ``nested`` lists
    (part, container) EIC pairs among them: a part is left out of an hour its container has. The
    hours that ended before ``until`` are whole when each area that is not such a part has a value."""
    what = f"total_load_hourly for {start:%Y-%m-%d}..{end:%Y-%m-%d}"
    with errors_named(dsn, what), connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM entsoe.total_load_hourly WHERE hour >= %s AND hour < %s", (start, end))
        cur.execute(
            _TOTAL_LOAD,
            {
                "areas": list(areas),
                "start": start,
                "end": end,
                "parts": [p for p, _ in nested],
                "containers": [c for _, c in nested],
            },
        )
        rows = cur.rowcount
        expected = _finished_part(start, end, until, timedelta(hours=1))
        # Whole: every outermost area summed itself. A part standing in for its container's missing
        # value keeps the count of areas but not the coverage.
        outermost = sorted(set(areas) - {p for p, _ in nested})
        cur.execute(
            "SELECT count(*) FROM entsoe.total_load_hourly "
            "WHERE hour >= %s AND hour < %s AND area_codes @> %s::text[]",
            (start, start + timedelta(hours=expected), outermost),
        )
        (whole,) = cur.fetchone() or (0,)
        cur.execute(
            "SELECT (hour AT TIME ZONE 'UTC')::date::text, count(*), max(load_mw), avg(load_mw), min(areas) "
            "FROM entsoe.total_load_hourly WHERE hour >= %s AND hour < %s GROUP BY 1 ORDER BY 1",
            (start, end),
        )
        per_day = _per_day(cur.fetchall(), ("peak_mw", "mean_mw", "min_areas"))
    return DerivedRows(rows, expected, int(whole), per_day)


def _per_day(rows: Sequence[tuple], names: Sequence[str]) -> dict[str, dict[str, float | int]]:
    """(day, rows, *figures) tuples as {day: {"rows": n, name: figure}}; megawatts and percentages
    to two decimal places (the inputs carry at most two), counts as they are."""
    days: dict[str, dict[str, float | int]] = {}
    for day, count, *figures in rows:
        values: dict[str, float | int] = {"rows": int(count)}
        for name, figure in zip(names, figures, strict=True):
            if figure is not None:
                values[name] = figure if isinstance(figure, int) else round(float(figure), 2)
        days[day] = values
    return days
