"""Expected versus stored points per window: the Dagster checks' and the gap sensor's queries.

The rule, per series (business_type, psr_type, variant) of an (endpoint, area) and window:

* Sub-daily resolutions: a point at ``t`` covers ``[t, t + r)``. The series is short by
  ``ceil(uncovered seconds / r)`` points, ``r`` being the finest sub-daily resolution stored in the
  window (for a window with nothing stored: that of the nearest stored window before it, else
  after it). So a PT15M day always expects 96 points, DST or not (windows are UTC), and a day that
  switches from PT60M to PT15M at noon expects 12 + 48 points: a resolution change is no gap.
* Day, week, month and year resolutions (P1D, P7D, P1M, P1Y) are calendar steps in the area's
  time zone, starting at local midnight: the series expects the steps of its grid (anchored at its
  first stored point) that *start* in the window, e.g. 7 P1D points per week, 4 or 5 P7D points
  per month, 1 P1Y point per year.
* ``expected = stored + short`` (so ``expected >= stored``); the window is incomplete when short > 0.
* A series is expected in a window only within its lifetime (first to last stored day): a
  production type that stopped publishing is not a gap forever after. Across several series of an
  (endpoint, area) (A60 and A61, one per psrType) ``expected`` and ``stored`` are summed over the
  series alive in the window. A window where no series is alive expects one series at the
  caller's ``default_resolution`` (steps from the window start, in UTC, for calendar ones).

``incomplete_windows`` answers from ``entsoe.daily_counts`` (a few hundred thousand summary rows
for ten years of 240 series, instead of ~84 million points), so its windows are whole UTC days
(the Dagster partitions). The heavy work is one aggregate over the summary rows in the range plus a
window function that finds missing windows as gaps between present ones; only the windows that
fall short come back to Python. ``window_completeness`` serves the asset checks: a few windows of
one (endpoint, area), possibly partial days (today up to now), so it counts the raw points.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg2
import psycopg2.extensions

from entsoe_pipeline.catalog import Granularity

from .connection import connect, redact
from .errors import StorageError
from .resolution import Resolution
from .windows import partition_windows


@dataclass(frozen=True)
class SeriesSpec:
    """One (endpoint, area EIC) to check, with the resolution to expect where nothing is stored."""

    endpoint: str
    area: str
    default_resolution: timedelta | str


@dataclass(frozen=True)
class WindowCompleteness:
    start: datetime
    end: datetime
    expected: int
    stored: int
    confirmed_empty_tries: int  # how often ENTSO-E answered "no data" for a window covering this one

    @property
    def missing(self) -> int:
        return max(0, self.expected - self.stored)

    @property
    def complete(self) -> bool:
        return self.stored >= self.expected


@dataclass(frozen=True)
class IncompleteWindow:
    endpoint: str
    area: str
    start: datetime
    end: datetime
    expected: int
    stored: int
    empty_tries: int  # how often ENTSO-E answered "no data" for a window covering this one

    @property
    def missing(self) -> int:
        return max(0, self.expected - self.stored)


_CALENDAR = "(date_part('day', {r}) <> 0 OR date_part('month', {r}) <> 0 OR date_part('year', {r}) <> 0)"

# The series alive in the bounds, with their lifetime as window numbers (lw0..lw1). Windows are
# numbered 1..n by width_bucket over the n + 1 bounds.
_LIVE = """
CREATE TEMPORARY TABLE entsoe_live ON COMMIT DROP AS
WITH spec AS (
    SELECT s.spec::int AS spec, s.endpoint, s.area, coalesce(a.tz, 'UTC') AS tz
    FROM unnest(%(endpoints)s::text[], %(areas)s::text[]) WITH ORDINALITY AS s(endpoint, area, spec)
    LEFT JOIN entsoe.areas a ON a.eic = s.area
), series AS (
    SELECT s.spec, s.endpoint, s.area, s.tz, x.business_type, x.psr_type, x.variant,
           f.day AS first_day, l.day AS last_day, l.resolution AS last_res
    FROM spec s
    CROSS JOIN LATERAL entsoe.series_of(s.endpoint, s.area) x
    CROSS JOIN LATERAL (
        SELECT d.day FROM entsoe.daily_counts d
        WHERE (d.endpoint, d.area, d.business_type, d.psr_type, d.variant)
              = (s.endpoint, s.area, x.business_type, x.psr_type, x.variant)
        ORDER BY d.day LIMIT 1) f
    CROSS JOIN LATERAL (
        SELECT d.day, d.resolution FROM entsoe.daily_counts d
        WHERE (d.endpoint, d.area, d.business_type, d.psr_type, d.variant)
              = (s.endpoint, s.area, x.business_type, x.psr_type, x.variant)
        ORDER BY d.day DESC, d.resolution LIMIT 1) l
)
SELECT spec, endpoint, area, tz, business_type, psr_type, variant, last_res,
       greatest(1, width_bucket(first_day::timestamp AT TIME ZONE 'UTC', %(bounds)s::timestamptz[])) AS lw0,
       least(%(n)s, width_bucket((last_day + 1)::timestamp AT TIME ZONE 'UTC' - interval '1 microsecond',
                                 %(bounds)s::timestamptz[])) AS lw1
FROM series
WHERE first_day::timestamp AT TIME ZONE 'UTC' < (%(bounds)s::timestamptz[])[%(n)s + 1]
  AND (last_day + 1)::timestamp AT TIME ZONE 'UTC' > (%(bounds)s::timestamptz[])[1]
"""

# Points per series and window, from the summary (whole-day windows) ...
_PRESENT_FROM_SUMMARY = f"""
SELECT l.spec, l.business_type, l.psr_type, l.variant,
       width_bucket(d.day, %(days)s::date[]) AS w,
       sum(d.points)::bigint AS points,
       coalesce(sum(d.points * extract(epoch FROM d.resolution)) FILTER (WHERE NOT c.cal), 0)::float8
           AS covered,
       min(d.resolution) FILTER (WHERE NOT c.cal) AS finest_sub,
       min(d.resolution) FILTER (WHERE c.cal) AS finest_cal
FROM entsoe_live l
JOIN entsoe.daily_counts d
  ON (d.endpoint, d.area, d.business_type, d.psr_type, d.variant)
     = (l.endpoint, l.area, l.business_type, l.psr_type, l.variant)
 AND d.day >= %(day_lo)s AND d.day < %(day_hi)s
CROSS JOIN LATERAL (SELECT {_CALENDAR.format(r="d.resolution")} AS cal) c
GROUP BY 1, 2, 3, 4, 5
"""

# ... or from the raw points (any windows).
_PRESENT_FROM_POINTS = f"""
SELECT l.spec, l.business_type, l.psr_type, l.variant,
       width_bucket(o.time, %(bounds)s::timestamptz[]) AS w,
       count(*)::bigint AS points,
       coalesce(sum(extract(epoch FROM o.resolution)) FILTER (WHERE NOT c.cal), 0)::float8 AS covered,
       min(o.resolution) FILTER (WHERE NOT c.cal) AS finest_sub,
       min(o.resolution) FILTER (WHERE c.cal) AS finest_cal
FROM entsoe_live l
JOIN entsoe.observations o
  ON (o.endpoint, o.area, o.business_type, o.psr_type, o.variant)
     = (l.endpoint, l.area, l.business_type, l.psr_type, l.variant)
 AND o.time >= %(lo)s AND o.time < %(hi)s
CROSS JOIN LATERAL (SELECT {_CALENDAR.format(r="o.resolution")} AS cal) c
GROUP BY 1, 2, 3, 4, 5
"""

# Windows that may fall short (present ones not fully covered, and runs of windows with nothing
# stored inside a series' lifetime, found as gaps between consecutive present windows).
_SHORT = """
WITH present AS ({present}),
marks AS (
    SELECT spec, business_type, psr_type, variant, w, points, covered, finest_sub, finest_cal,
           coalesce(finest_sub, finest_cal) AS res
    FROM present
    UNION ALL  -- one mark past each lifetime, to find the missing windows at its end
    SELECT spec, business_type, psr_type, variant, lw1 + 1, NULL, NULL, NULL, NULL, last_res
    FROM entsoe_live
), ordered AS (
    SELECT m.*, l.lw0, lag(m.w) OVER s AS prev_w, lag(m.res) OVER s AS prev_res
    FROM marks m JOIN entsoe_live l USING (spec, business_type, psr_type, variant)
    WINDOW s AS (PARTITION BY m.spec, m.business_type, m.psr_type, m.variant ORDER BY m.w)
)
SELECT spec, business_type, psr_type, variant, w AS w_from, w AS w_to, points, covered,
       finest_sub::text, finest_cal::text
FROM ordered
WHERE points IS NOT NULL
  AND (%(all)s OR finest_cal IS NOT NULL OR covered < (%(seconds)s::float8[])[w])
UNION ALL
SELECT spec, business_type, psr_type, variant, coalesce(prev_w, lw0 - 1) + 1, w - 1, 0, 0,
       CASE WHEN NOT {calendar} THEN coalesce(prev_res, res)::text END,
       CASE WHEN {calendar} THEN coalesce(prev_res, res)::text END
FROM ordered
WHERE w - coalesce(prev_w, lw0 - 1) > 1
""".replace("{calendar}", _CALENDAR.format(r="coalesce(prev_res, res)"))

_STORED_IN = """
SELECT t.spec, t.w, sum(d.points)::bigint
FROM unnest(%(specs)s::int[], %(ws)s::int[], %(los)s::date[], %(his)s::date[]) AS t(spec, w, lo, hi)
JOIN entsoe_live l ON l.spec = t.spec
JOIN entsoe.daily_counts d
  ON (d.endpoint, d.area, d.business_type, d.psr_type, d.variant)
     = (l.endpoint, l.area, l.business_type, l.psr_type, l.variant)
 AND d.day >= t.lo AND d.day < t.hi
GROUP BY 1, 2
"""

_ANCHOR = """
SELECT o.time FROM entsoe.observations o
WHERE (o.endpoint, o.area, o.business_type, o.psr_type, o.variant) = (%s, %s, %s, %s, %s)
ORDER BY o.time LIMIT 1
"""

_EMPTY = """
SELECT endpoint, area, window_start, window_end, tries FROM entsoe.empty_windows
WHERE (endpoint, area) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
  AND window_start < %s AND window_end > %s
"""

_SeriesKey = tuple[int, str, str, str]  # spec number, business_type, psr_type, variant


@dataclass
class _Live:
    endpoint: str
    area: str
    tz: str
    lw0: int
    lw1: int


class _Evaluation:
    """Short and stored points per (spec number, window number) for contiguous windows."""

    def __init__(
        self, cur: psycopg2.extensions.cursor, specs: Sequence[SeriesSpec], bounds: Sequence[datetime]
    ) -> None:
        self.cur = cur
        self.specs = specs
        self.bounds = list(bounds)
        self.n = len(bounds) - 1
        self.seconds = [(b - a).total_seconds() for a, b in itertools.pairwise(self.bounds)]
        self.live: dict[_SeriesKey, _Live] = {}
        self.short: dict[tuple[int, int], int] = defaultdict(int)
        self.stored: dict[tuple[int, int], int] = defaultdict(int)
        self._grids: dict[tuple[_SeriesKey, Resolution], list[datetime]] = {}

    def params(self) -> dict[str, Any]:
        return {
            "endpoints": [s.endpoint for s in self.specs],
            "areas": [s.area for s in self.specs],
            "bounds": self.bounds,
            "days": [b.date() for b in self.bounds],
            "day_lo": self.bounds[0].date(),
            "day_hi": self.bounds[-1].date(),
            "lo": self.bounds[0],
            "hi": self.bounds[-1],
            "n": self.n,
            "seconds": self.seconds,
        }

    def run(self, present_sql: str, all_windows: bool) -> None:
        cur = self.cur
        cur.execute("SET LOCAL intervalstyle = 'iso_8601'; SET LOCAL jit = off; SET LOCAL work_mem = '128MB'")
        params = self.params()
        cur.execute(_LIVE, params)
        cur.execute("ANALYZE entsoe_live")
        cur.execute(
            "SELECT spec, business_type, psr_type, variant, endpoint, area, tz, lw0, lw1 FROM entsoe_live"
        )
        for spec, bt, psr, variant, endpoint, area, tz, lw0, lw1 in cur.fetchall():
            self.live[(spec, bt, psr, variant)] = _Live(endpoint, area, tz, lw0, lw1)
        cur.execute(_SHORT.replace("{present}", present_sql), {**params, "all": all_windows})
        for spec, bt, psr, variant, w_from, w_to, points, covered, finest_sub, finest_cal in cur.fetchall():
            key = (spec, bt, psr, variant)
            for w in range(w_from, w_to + 1):
                self.stored[(spec, w)] += points
                self.short[(spec, w)] += self._short(key, w, points, covered, finest_sub, finest_cal)
        self._windows_without_series()

    def _short(
        self,
        key: _SeriesKey,
        w: int,
        points: int,
        covered: float,
        finest_sub: str | None,
        finest_cal: str | None,
    ) -> int:
        if finest_sub is not None:
            step = Resolution.parse(finest_sub).seconds
            return math.ceil(max(0.0, self.seconds[w - 1] - covered) / step - 1e-9)
        if finest_cal is None:
            return 0
        return max(0, self._grid_count(key, Resolution.parse(finest_cal), w) - points)

    def _grid_count(self, key: _SeriesKey, resolution: Resolution, w: int) -> int:
        """Steps of the series' calendar grid (from its first point) that start in window w."""
        grid = self._grids.get((key, resolution))
        if grid is None:
            live = self.live[key]
            self.cur.execute(_ANCHOR, (live.endpoint, live.area, *key[1:]))
            row = self.cur.fetchone()
            anchor = row[0] if row else self.bounds[0]
            grid = _steps(anchor, resolution, live.tz, self.bounds[-1])
            self._grids[(key, resolution)] = grid
        return _count_in(grid, self.bounds[w - 1], self.bounds[w])

    def _windows_without_series(self) -> None:
        covered: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for key, live in self.live.items():
            covered[key[0]].append((live.lw0, live.lw1))
        for spec_no, spec in enumerate(self.specs, start=1):
            default = Resolution.of(spec.default_resolution)
            for w in _uncovered(covered.get(spec_no, []), self.n):
                self.short[(spec_no, w)] += _default_expected(default, self.bounds[w - 1], self.bounds[w])


def _steps(anchor: datetime, resolution: Resolution, tz: str, until: datetime) -> list[datetime]:
    out: list[datetime] = []
    k = 0
    while True:
        t = resolution.add(anchor, tz, k)
        if t >= until:
            return out
        out.append(t)
        k += 1


def _count_in(sorted_times: list[datetime], start: datetime, end: datetime) -> int:
    return bisect.bisect_left(sorted_times, end) - bisect.bisect_left(sorted_times, start)


def _default_expected(resolution: Resolution, start: datetime, end: datetime) -> int:
    if not resolution.is_calendar:
        return math.ceil((end - start).total_seconds() / resolution.seconds - 1e-9)
    return len(_steps(start, resolution, "UTC", end))


def _uncovered(ranges: list[tuple[int, int]], n: int) -> list[int]:
    """Window numbers 1..n outside every (lo, hi) range."""
    out: list[int] = []
    nxt = 1
    for lo, hi in sorted(ranges):
        out.extend(range(nxt, min(lo, n + 1)))
        nxt = max(nxt, hi + 1)
    out.extend(range(nxt, n + 1))
    return out


def _empty_tries(
    cur: psycopg2.extensions.cursor, specs: Sequence[SeriesSpec], lo: datetime, hi: datetime
) -> dict[tuple[str, str], list[tuple[datetime, datetime, int]]]:
    cur.execute(_EMPTY, ([s.endpoint for s in specs], [s.area for s in specs], hi, lo))
    out: dict[tuple[str, str], list[tuple[datetime, datetime, int]]] = defaultdict(list)
    for endpoint, area, start, end, tries in cur.fetchall():
        out[(endpoint, area)].append((start, end, tries))
    return out


def _tries_for(records: list[tuple[datetime, datetime, int]], start: datetime, end: datetime) -> int:
    return max((tries for s, e, tries in records if s <= start and e >= end), default=0)


def _utc(t: datetime, name: str) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {t!r}")
    return t.astimezone(UTC)


def window_completeness(
    dsn: str,
    endpoint: str,
    area: str,
    windows: Sequence[tuple[datetime, datetime]],
    *,
    default_resolution: timedelta | str,
) -> list[WindowCompleteness]:
    """Expected versus stored points of ``endpoint``/``area`` (EIC) in each window (see the module
    docstring for the rule). Windows may be partial days; they must not overlap. Results come in
    the order of ``windows``."""
    if not windows:
        return []
    spans = [(_utc(s, "window start"), _utc(e, "window end")) for s, e in windows]
    for s, e in spans:
        if e <= s:
            raise ValueError(f"window {s.isoformat()} .. {e.isoformat()} is empty or reversed")
    ordered = sorted(set(spans))
    for (_, e1), (s2, _) in itertools.pairwise(ordered):
        if s2 < e1:
            raise ValueError(f"windows overlap at {s2.isoformat()}")
    bounds = sorted({t for span in ordered for t in span})
    index = {b: i + 1 for i, b in enumerate(bounds)}  # window number of [bounds[i], bounds[i+1])
    spec = SeriesSpec(endpoint, area, default_resolution)
    Resolution.of(default_resolution)  # fail early on a bad default
    try:
        with connect(dsn) as conn, conn.cursor() as cur:
            conn.set_session(isolation_level="REPEATABLE READ")  # one snapshot; temp tables
            evaluation = _Evaluation(cur, [spec], bounds)
            evaluation.run(_PRESENT_FROM_POINTS, all_windows=True)
            empties = _empty_tries(cur, [spec], bounds[0], bounds[-1]).get((endpoint, area), [])
    except psycopg2.Error as exc:
        raise StorageError(
            redact(f"completeness of {endpoint} {area} failed: {str(exc).strip()}", dsn)
        ) from None
    out = []
    for s, e in spans:
        w = index[s]
        stored = evaluation.stored.get((1, w), 0)
        out.append(
            WindowCompleteness(
                s, e, stored + evaluation.short.get((1, w), 0), stored, _tries_for(empties, s, e)
            )
        )
    return out


def incomplete_windows(
    dsn: str,
    specs: Sequence[SeriesSpec],
    start: datetime,
    end: datetime,
    granularity: Granularity,
) -> list[IncompleteWindow]:
    """The partition windows (UTC days, Monday weeks, months or years) overlapping ``[start, end)``
    whose stored points fall short of what their resolution implies, for many (endpoint, area) at
    once; sorted by endpoint, area and start. Reads the summary, not the raw points."""
    if not specs:
        return []
    windows = partition_windows(_utc(start, "start"), _utc(end, "end"), granularity)
    if not windows:
        return []
    for spec in specs:
        Resolution.of(spec.default_resolution)
    bounds = [w[0] for w in windows] + [windows[-1][1]]
    try:
        with connect(dsn) as conn, conn.cursor() as cur:
            conn.set_session(isolation_level="REPEATABLE READ")  # one snapshot; temp tables
            evaluation = _Evaluation(cur, specs, bounds)
            evaluation.run(_PRESENT_FROM_SUMMARY, all_windows=False)
            short = sorted(k for k, v in evaluation.short.items() if v > 0)
            stored = _stored_in(cur, short, bounds)
            empties = _empty_tries(cur, specs, bounds[0], bounds[-1])
    except psycopg2.Error as exc:
        raise StorageError(
            redact(f"gap query over {len(specs)} series failed: {str(exc).strip()}", dsn)
        ) from None
    out = []
    for spec_no, w in short:
        spec = specs[spec_no - 1]
        s, e = bounds[w - 1], bounds[w]
        have = stored.get((spec_no, w), 0)
        out.append(
            IncompleteWindow(
                spec.endpoint,
                spec.area,
                s,
                e,
                have + evaluation.short[(spec_no, w)],
                have,
                _tries_for(empties.get((spec.endpoint, spec.area), []), s, e),
            )
        )
    out.sort(key=lambda x: (x.endpoint, x.area, x.start))
    return out


def _stored_in(
    cur: psycopg2.extensions.cursor, keys: list[tuple[int, int]], bounds: Sequence[datetime]
) -> dict[tuple[int, int], int]:
    """Points stored in each (spec number, window number), over all series."""
    if not keys:
        return {}
    days: list[date] = [b.date() for b in bounds]
    cur.execute(
        _STORED_IN,
        {
            "specs": [k[0] for k in keys],
            "ws": [k[1] for k in keys],
            "los": [days[k[1] - 1] for k in keys],
            "his": [days[k[1]] for k in keys],
        },
    )
    return {(spec, w): int(points) for spec, w, points in cur.fetchall()}
