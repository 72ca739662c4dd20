"""What is stored: per-series coverage with exact missing intervals, and the latest points.

``series_coverage`` reads the raw points of one (endpoint, area) in a range and computes the
missing intervals in SQL as gaps between islands: ordered by time, each point covers
``[time, time + resolution)`` and a gap opens where a point starts after everything before it has
ended. ``time + resolution`` is evaluated with ``TimeZone`` set to the area's zone, so P1D..P1Y
points are local calendar steps (23 or 25 hours on DST days), and a resolution change is no gap.

``latest_points`` finds the series in the summary's primary key (a skip scan) and then reads one
row per series from the newest end of the points' primary key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import psycopg2

from .connection import connect, redact
from .errors import StorageError
from .resolution import Resolution


@dataclass(frozen=True)
class SeriesCoverage:
    business_type: str
    psr_type: str
    variant: str
    first: datetime | None  # first and last point that starts in the range
    last: datetime | None
    points: int
    resolutions: list[str]  # ENTSO-E spelling (PT15M, PT60M, P1D, ...), finest first
    missing: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def missing_duration(self) -> float:
        """Seconds of the range not covered by any point."""
        return sum((e - s).total_seconds() for s, e in self.missing)


@dataclass(frozen=True)
class LatestPoint:
    endpoint: str
    area: str
    business_type: str
    psr_type: str
    variant: str
    time: datetime
    value: float
    fetched_at: datetime
    resolution: str = ""  # ENTSO-E's spelling (PT15M, P7D, ...): the point covers [time, time + it)


_TZ = "SELECT coalesce((SELECT tz FROM entsoe.areas WHERE eic = %s), 'UTC')"

# Series of the (endpoint, area) that touch the range: points in it, a point before it that reaches
# into it, or points on both sides (alive across a hole that swallows the whole range).
_SERIES = """
SELECT x.business_type, x.psr_type, x.variant, b.time + b.resolution AS before_end,
       EXISTS (SELECT 1 FROM entsoe.observations o
               WHERE (o.endpoint, o.area, o.business_type, o.psr_type, o.variant)
                     = (%(endpoint)s, %(area)s, x.business_type, x.psr_type, x.variant)
                 AND o.time >= %(start)s) AS has_later
FROM entsoe.series_of(%(endpoint)s, %(area)s) x
LEFT JOIN LATERAL (
    SELECT o.time, o.resolution FROM entsoe.observations o
    WHERE (o.endpoint, o.area, o.business_type, o.psr_type, o.variant)
          = (%(endpoint)s, %(area)s, x.business_type, x.psr_type, x.variant)
      AND o.time < %(start)s
    ORDER BY o.time DESC LIMIT 1) b ON true
"""

_STATS = """
SELECT business_type, psr_type, variant, min(time), max(time), count(*),
       array_agg(DISTINCT resolution ORDER BY resolution)::text[]
FROM entsoe.observations
WHERE endpoint = %(endpoint)s AND area = %(area)s AND time >= %(start)s AND time < %(end)s
GROUP BY 1, 2, 3
"""

# Gaps between islands of coverage; the range's start and end close the first and last island.
_GAPS = """
WITH points AS (
    SELECT business_type, psr_type, variant, time, time + resolution AS ends
    FROM entsoe.observations
    WHERE endpoint = %(endpoint)s AND area = %(area)s AND time >= %(start)s AND time < %(end)s
), reached AS (
    SELECT business_type, psr_type, variant, time, ends,
           max(ends) OVER (PARTITION BY business_type, psr_type, variant ORDER BY time
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_until
    FROM points
)
SELECT business_type, psr_type, variant, covered_until, time, ends
FROM reached
WHERE covered_until IS NULL OR time > covered_until
UNION ALL
SELECT business_type, psr_type, variant, max(ends), NULL, NULL
FROM points GROUP BY 1, 2, 3
"""


def _as_utc(t: datetime | None) -> datetime | None:
    return t.astimezone(UTC) if t is not None else None


def _utc(t: datetime, name: str) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {t!r}")
    return t.astimezone(UTC)


def series_coverage(
    dsn: str, endpoint: str, area: str, start: datetime, end: datetime
) -> list[SeriesCoverage]:
    """Per series of ``endpoint``/``area`` (EIC): first/last point, count, resolutions and the
    missing intervals within ``[start, end)`` as compact ranges; sorted by series key."""
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        raise ValueError(f"empty range {start.isoformat()} .. {end.isoformat()}")
    params = {"endpoint": endpoint, "area": area, "start": start, "end": end}
    try:
        with connect(dsn) as conn, conn.cursor() as cur:
            conn.set_session(readonly=True, isolation_level="REPEATABLE READ")
            cur.execute(_TZ, (area,))
            row = cur.fetchone()
            tz = row[0] if row else "UTC"
            # set_config, not SET: the zone is data (from entsoe.areas), so it goes as a parameter.
            cur.execute(
                "SELECT set_config('TimeZone', %s, true), set_config('intervalstyle', 'iso_8601', true),"
                " set_config('jit', 'off', true), set_config('work_mem', '128MB', true)",
                (tz,),
            )
            cur.execute(_SERIES, params)
            series = {(bt, psr, v): (_as_utc(end_), later) for bt, psr, v, end_, later in cur.fetchall()}
            cur.execute(_STATS, params)
            stats = {(r[0], r[1], r[2]): (_as_utc(r[3]), _as_utc(r[4]), r[5], r[6]) for r in cur.fetchall()}
            cur.execute(_GAPS, params)
            gap_rows = [(*r[:3], *(_as_utc(t) for t in r[3:])) for r in cur.fetchall()]
    except psycopg2.Error as exc:
        raise StorageError(redact(f"coverage of {endpoint} {area} failed: {str(exc).strip()}", dsn)) from None

    islands: dict[tuple[str, str, str], list[tuple[datetime | None, datetime | None, datetime | None]]] = {}
    for bt, psr, v, covered_until, t, ends in gap_rows:
        islands.setdefault((bt, psr, v), []).append((covered_until, t, ends))
    out = []
    for key in sorted(series):
        before_end, later = series[key]
        reaches_in = before_end is not None and before_end > start
        if key not in stats and not reaches_in and not (before_end is not None and later):
            continue
        first, last, count, resolutions = stats.get(key, (None, None, 0, []))
        missing = _missing(start, end, before_end, islands.get(key, []))
        out.append(
            SeriesCoverage(
                *key,
                first=first,
                last=last,
                points=count,
                resolutions=[Resolution.parse(r).iso for r in resolutions],
                missing=missing,
            )
        )
    return out


def _missing(
    start: datetime,
    end: datetime,
    before_end: datetime | None,
    rows: list[tuple[datetime | None, datetime | None, datetime | None]],
) -> list[tuple[datetime, datetime]]:
    """Gaps from the SQL rows: (covered_until, island start, its end) per island, and one row
    (max end, None, None) with how far the points in the range reach."""
    reach = before_end if before_end is not None and before_end > start else start
    gaps: list[tuple[datetime, datetime]] = []
    final = reach
    for covered_until, t, _ in sorted(rows, key=lambda r: (r[1] is None, r[1] or start)):
        if t is None:  # the reach of all points in the range
            final = max(final, covered_until) if covered_until is not None else final
            continue
        opened = max(covered_until, reach) if covered_until is not None else reach
        if t > opened:
            gaps.append((opened, t))
    if final < end:
        gaps.append((max(final, start), end))
    return [(s, min(e, end)) for s, e in gaps if s < end and s < min(e, end)]


_LATEST = """
WITH RECURSIVE pairs AS (
    (SELECT endpoint, area FROM entsoe.daily_counts
     WHERE %(endpoint)s::text IS NULL OR endpoint = %(endpoint)s
     ORDER BY endpoint, area LIMIT 1)
    UNION ALL
    SELECT n.endpoint, n.area FROM pairs p CROSS JOIN LATERAL (
        SELECT d.endpoint, d.area FROM entsoe.daily_counts d
        WHERE (d.endpoint, d.area) > (p.endpoint, p.area)
          AND (%(endpoint)s::text IS NULL OR d.endpoint = %(endpoint)s)
        ORDER BY d.endpoint, d.area LIMIT 1) n
)
SELECT p.endpoint, p.area, x.business_type, x.psr_type, x.variant, o.time, o.value, o.fetched_at,
       o.resolution::text
FROM pairs p
CROSS JOIN LATERAL entsoe.series_of(p.endpoint, p.area) x
CROSS JOIN LATERAL (
    SELECT o.time, o.value, o.fetched_at, o.resolution FROM entsoe.observations o
    WHERE (o.endpoint, o.area, o.business_type, o.psr_type, o.variant)
          = (p.endpoint, p.area, x.business_type, x.psr_type, x.variant)
    ORDER BY o.time DESC LIMIT 1) o
ORDER BY 1, 2, 3, 4, 5
"""


def latest_points(dsn: str, endpoint: str | None = None) -> list[LatestPoint]:
    """The newest stored point of every series (of one endpoint, or of all)."""
    try:
        with connect(dsn) as conn, conn.cursor() as cur:
            conn.set_session(readonly=True)
            cur.execute("SET LOCAL intervalstyle = 'iso_8601'")
            cur.execute(_LATEST, {"endpoint": endpoint})
            return [
                LatestPoint(endpoint, area, bt, psr, variant, time, value, fetched, Resolution.parse(res).iso)
                for endpoint, area, bt, psr, variant, time, value, fetched, res in cur.fetchall()
            ]
    except psycopg2.Error as exc:
        raise StorageError(redact(f"latest points failed: {str(exc).strip()}", dsn)) from None


STORED_COLUMNS = ("time", "value", "resolution", "business_type", "psr_type", "variant")
_POINTS = """
SELECT time, value, resolution::text, business_type, psr_type, variant
FROM entsoe.observations
WHERE endpoint = %s AND area = %s AND time >= %s AND time < %s
ORDER BY business_type, psr_type, variant, time
"""


def stored_points(dsn: str, endpoint: str, area: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The stored points of ``endpoint``/``area`` (EIC) that start in ``[start, end)``: columns time
    (UTC), value, resolution (ENTSO-E's spelling: PT15M, PT60M, P7D), business_type, psr_type and
    variant; sorted by series and time."""
    start, end = _utc(start, "start"), _utc(end, "end")
    try:
        with connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("SET LOCAL intervalstyle = 'iso_8601'")
            cur.execute(_POINTS, (endpoint, area, start, end))
            rows = cur.fetchall()
    except psycopg2.Error as exc:
        raise StorageError(redact(f"reading {endpoint} {area} failed: {str(exc).strip()}", dsn)) from None
    frame = pd.DataFrame(rows, columns=list(STORED_COLUMNS))
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["value"] = frame["value"].astype("float64")
    # PostgreSQL writes PT1H; the parser and ENTSO-E write PT60M.
    spelling = {text: Resolution.parse(text).iso for text in frame["resolution"].unique()}
    frame["resolution"] = frame["resolution"].map(spelling)
    return frame
