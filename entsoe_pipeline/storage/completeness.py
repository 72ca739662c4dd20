"""Expected versus stored points per window: the Dagster checks' and the store sensor's queries.

The rule, per series (business_type, psr_type, variant) of an (endpoint, area) and window:

* Sub-daily resolutions: a point at ``t`` covers ``[t, t + r)``. The series is short by
  ``ceil(uncovered seconds / r)`` points, ``r`` being the finest sub-daily resolution stored in the
  window (for a window with nothing stored: that of the nearest stored window before it, or after
  it at the start of the series). So a PT15M day always expects 96 points, DST or not (windows are
  UTC), and a day that switches from PT60M to PT15M at noon expects 12 + 48 points: a resolution
  change is no gap.
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

``incomplete_windows`` answers from ``entsoe.daily_counts``, so its windows are whole UTC days (the
Dagster partitions), and short points are counted per day and summed over a window's days. The
summary is dense (a row for every day of a series' lifetime, ``points = 0`` where nothing is
stored), so the query reads only the days that may fall short, through a partial index: its cost
follows the number of incomplete days, not the years of history (ten years of 240 series are
876,000 summary rows and ~84 million points; a sensor tick reads a few thousand). Windows inside
a lifetime with no row read are complete. ``window_completeness`` serves the asset checks: a few
windows of one (endpoint, area), possibly partial days (today up to now), so it counts the raw
points; windows with nothing stored are found as gaps between windows with points (``lag``).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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


# The series alive in the range (a day of margin for windows that start mid-day), numbered (sid),
# with their first and last stored day.
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
        ORDER BY d.day DESC LIMIT 1) l
)
SELECT (row_number() OVER ())::int AS sid, spec, endpoint, area, tz, business_type, psr_type,
       variant, last_res, first_day, last_day
FROM series
WHERE first_day < %(day_hi)s AND last_day >= %(day_lo)s::date - 1
"""

_SERIES_MATCH = """(x.endpoint, x.area, x.business_type, x.psr_type, x.variant)
                   = (l.endpoint, l.area, l.business_type, l.psr_type, l.variant)"""

# The days that may fall short, from the dense summary through its partial index
# daily_counts_short: days not fully covered by sub-daily points (days with nothing stored are
# rows with points = 0) and days of series counted in calendar steps.
_SHORT_DAYS = f"""
SELECT l.sid, x.day, x.points, x.covered, x.resolution::text
FROM entsoe_live l
JOIN entsoe.daily_counts x
  ON {_SERIES_MATCH} AND x.day >= %(day_lo)s AND x.day < %(day_hi)s
WHERE x.covered < 86400 OR x.resolution >= interval '1 day'
"""

# Per series (l) and window (w) of any windows, from the raw points (the asset checks' few
# windows, possibly partial days): points, seconds covered by sub-daily points, finest resolution.
_PER_WINDOW_OF_POINTS = f"""
SELECT w, count(*) AS points, sum(entsoe.covered_seconds(x.resolution))::bigint AS covered,
       min(x.resolution) AS finest
FROM entsoe.observations x
CROSS JOIN LATERAL (SELECT width_bucket(
    CASE WHEN x.resolution >= interval '1 day'
         THEN entsoe.summary_day(x.time, x.resolution, l.tz)::timestamp AT TIME ZONE 'UTC'
         ELSE x.time END,
    %(bounds)s::timestamptz[]) AS w) b
WHERE {_SERIES_MATCH}
  AND x.time >= %(lo)s::timestamptz - interval '1 day' AND x.time < %(hi)s::timestamptz + interval '1 day'
  AND b.w BETWEEN 1 AND %(n)s
GROUP BY w
"""

# Every window with points, per series, with the previous such window (prev_w) and whether it
# is the series' last: windows between them, or after the last one, hold nothing.
_WINDOWS_OF_POINTS = f"""
SELECT l.sid, c.w, c.points, c.covered, c.finest::text, c.prev_w, c.prev_finest::text, c.last
FROM entsoe_live l
CROSS JOIN LATERAL (
    SELECT p.w, p.points, p.covered, p.finest, lag(p.w) OVER o AS prev_w,
           lag(p.finest) OVER o AS prev_finest, lead(p.w) OVER o IS NULL AS last
    FROM ({_PER_WINDOW_OF_POINTS}) p
    WINDOW o AS (ORDER BY p.w)
) c
"""

_STORED_IN = """
SELECT t.spec, t.w, coalesce(sum(c.points), 0)::bigint
FROM unnest(%(specs)s::int[], %(ws)s::int[], %(los)s::date[], %(his)s::date[]) AS t(spec, w, lo, hi)
JOIN entsoe_live l ON l.spec = t.spec
CROSS JOIN LATERAL (
    SELECT sum(d.points) AS points FROM entsoe.daily_counts d
    WHERE (d.endpoint, d.area, d.business_type, d.psr_type, d.variant)
          = (l.endpoint, l.area, l.business_type, l.psr_type, l.variant)
      AND d.day >= t.lo AND d.day < t.hi) c
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
    key: _SeriesKey
    endpoint: str
    area: str
    tz: str
    lw0: int
    lw1: int
    last_res: str


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
        self.live: dict[int, _Live] = {}
        self.short: dict[tuple[int, int], int] = defaultdict(int)
        self.stored: dict[tuple[int, int], int] = defaultdict(int)
        self._grids: dict[tuple[int, Resolution], list[datetime]] = {}
        self.lifetimes: dict[int, list[tuple[int, int]]] = defaultdict(list)  # per spec

    def params(self) -> dict[str, Any]:
        first_day = self.bounds[0].date()
        last_day = self.bounds[-1].date()  # exclusive: the day after the last one touched
        if self.bounds[-1] > _midnight(last_day):
            last_day += timedelta(days=1)
        days = (last_day - first_day).days
        window_of_day = [
            bisect.bisect_right(self.bounds, _midnight(first_day + timedelta(days=i))) for i in range(days)
        ]
        return {
            "endpoints": [s.endpoint for s in self.specs],
            "areas": [s.area for s in self.specs],
            "bounds": self.bounds,
            "day_lo": first_day,
            "day_hi": last_day,
            "window_of_day": window_of_day,
            "lo": self.bounds[0],
            "hi": self.bounds[-1],
            "n": self.n,
            "seconds": self.seconds,
        }

    def _load_live(self, params: dict[str, Any]) -> None:
        cur = self.cur
        cur.execute("SET LOCAL intervalstyle = 'iso_8601'; SET LOCAL jit = off")
        cur.execute(_LIVE, params)
        cur.execute(
            "SELECT sid, spec, business_type, psr_type, variant, endpoint, area, tz, first_day, last_day,"
            " last_res::text FROM entsoe_live"
        )
        for sid, spec, bt, psr, variant, endpoint, area, tz, first_day, last_day, last_res in cur.fetchall():
            # windows overlapping [first_day, last_day + 1 day)
            lw0 = max(1, bisect.bisect_right(self.bounds, _midnight(first_day)))
            lw1 = min(self.n, bisect.bisect_left(self.bounds, _midnight(last_day) + timedelta(days=1)))
            if lw0 <= lw1:
                self.live[sid] = _Live((spec, bt, psr, variant), endpoint, area, tz, lw0, lw1, last_res)
        cur.execute("DELETE FROM entsoe_live WHERE NOT sid = ANY(%s)", (list(self.live),))
        cur.execute("ANALYZE entsoe_live")
        for live in self.live.values():
            self.lifetimes[live.key[0]].append((live.lw0, live.lw1))

    def run_summary(self) -> None:
        """From the dense summary: whole-day windows; only the days that may fall short are read."""
        params = self.params()
        self._load_live(params)
        self.cur.execute(_SHORT_DAYS, params)
        first_day: date = params["day_lo"]
        window_of_day: list[int] = params["window_of_day"]
        steps: dict[tuple[int, int, str], int] = defaultdict(int)  # points of calendar series
        for sid, day, points, covered, finest in self.cur.fetchall():
            w = window_of_day[(day - first_day).days]
            spec = self.live[sid].key[0]
            self.stored[(spec, w)] += points
            resolution = _resolution(finest)
            if resolution.day_or_longer:
                steps[(sid, w, finest)] += points
            else:  # counted per day: a day is 86,400 seconds in UTC
                self.short[(spec, w)] += math.ceil((86_400 - covered) / resolution.seconds - 1e-9)
        for (sid, w, finest), points in steps.items():
            shortfall = self._grid_count(sid, _resolution(finest), w) - points
            self.short[(self.live[sid].key[0], w)] += max(0, shortfall)
        self._windows_without_series()

    def run_points(self) -> None:
        """From the raw points: any windows; every window is evaluated."""
        params = self.params()
        self._load_live(params)
        self.cur.execute(_WINDOWS_OF_POINTS, params)
        seen: set[int] = set()
        for sid, w, points, covered, finest, prev_w, prev_finest, last in self.cur.fetchall():
            seen.add(sid)
            live = self.live[sid]
            spec = live.key[0]
            self.stored[(spec, w)] += points
            self.short[(spec, w)] += self._short_present(sid, w, points, covered, finest)
            # Windows with nothing stored take the resolution of the window with points before
            # them (after them at the start), like the summary's empty days.
            self._absent(sid, prev_w + 1 if prev_w is not None else live.lw0, w - 1, prev_finest or finest)
            if last:
                self._absent(sid, w + 1, live.lw1, finest)
        for sid, live in self.live.items():
            if sid not in seen:  # alive across the whole range with nothing stored in it
                self._absent(sid, live.lw0, live.lw1, live.last_res)
        self._windows_without_series()

    def alive_in(self, spec: int, w: int) -> int:
        """How many series of the spec are alive in window w."""
        return sum(1 for lw0, lw1 in self.lifetimes.get(spec, ()) if lw0 <= w <= lw1)

    def _short_present(self, sid: int, w: int, points: int, covered: float, finest: str) -> int:
        resolution = _resolution(finest)
        if resolution.day_or_longer:
            return max(0, self._grid_count(sid, resolution, w) - points)
        return math.ceil(max(0.0, self.seconds[w - 1] - float(covered)) / resolution.seconds - 1e-9)

    def _absent(self, sid: int, first: int, last: int, resolution_text: str) -> None:
        """Windows first..last of a series hold nothing: all their steps are missing."""
        if first > last:
            return
        resolution = _resolution(resolution_text)
        spec = self.live[sid].key[0]
        for w in range(first, last + 1):
            if resolution.day_or_longer:
                missing = self._grid_count(sid, resolution, w)
            else:
                missing = math.ceil(self.seconds[w - 1] / resolution.seconds - 1e-9)
            self.short[(spec, w)] += missing

    def _grid_count(self, sid: int, resolution: Resolution, w: int) -> int:
        """Steps of the series' calendar grid (from its first point) that start on a local day of
        window w: a CET year's first week starts 2025-12-31T23:00Z, on the local 2026-01-01."""
        grid = self._grids.get((sid, resolution))
        if grid is None:
            live = self.live[sid]
            self.cur.execute(_ANCHOR, (live.endpoint, live.area, *live.key[1:]))
            row = self.cur.fetchone()
            anchor = row[0] if row else self.bounds[0]
            zone = ZoneInfo(live.tz)
            grid = [
                datetime.combine(t.astimezone(zone).date(), time(), UTC)
                for t in _steps(anchor, resolution, live.tz, self.bounds[-1] + timedelta(days=1))
            ]
            self._grids[(sid, resolution)] = grid
        return _count_in(grid, self.bounds[w - 1], self.bounds[w])

    def _windows_without_series(self) -> None:
        for spec_no, spec in enumerate(self.specs, start=1):
            default = Resolution.of(spec.default_resolution)
            for w in _uncovered(self.lifetimes.get(spec_no, []), self.n):
                self.short[(spec_no, w)] += _default_expected(default, self.bounds[w - 1], self.bounds[w])


@functools.lru_cache(maxsize=64)
def _resolution(text: str) -> Resolution:
    return Resolution.parse(text)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


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
    if not resolution.day_or_longer:
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
    if not records:
        return 0
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
            evaluation.run_points()
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
            evaluation.run_summary()
            short = sorted(k for k, v in evaluation.short.items() if v > 0)
            stored = dict(evaluation.stored)
            # A day with one series alive came back whole; other windows are summed up again.
            stored.update(
                _stored_in(
                    cur,
                    [k for k in short if evaluation.alive_in(*k) > 1 or granularity is not Granularity.DAILY],
                    bounds,
                )
            )
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
