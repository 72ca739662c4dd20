"""Placing the Points of one Period on its time grid: what can be placed is kept, the rest is
dropped and reported, and nothing here raises.

A Period's timeInterval and its Points can contradict each other. The real year-ahead answer
load_yearahead_A65-A33_CZ_2015-2016_P7D_pj.xml declares 2015-01-04T23:00Z..2015-12-27T23:00Z
(51 local weeks) but carries 52 P7D Points; the 52nd week ends exactly where the 2016 Periods
begin, and entsoe-py keeps it. So, per Period:

* positions step from the Period start (durations.period_grid); N steps start before its end;
* a whole number of steps: positions 1..N are placed, and for calendar resolutions (P1D, P7D,
  P1M, P1Y) position N + 1 too, one step past the declared end, as entsoe-py does;
* not a whole number of steps: positions 1..N;
* Points at other positions, and Points whose value is not a finite number, are dropped;
* a Period that cannot be placed at all (interval or resolution missing or unreadable, Points
  that cannot be read, an unsupported curveType) is dropped whole.

Each contradiction of a Period that has Points becomes one DocumentProblem, with the Points it
cost (a Period without Points costs nothing and is not reported). A03 filling stays within the
placed positions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from lxml import etree

from .curves import CURVE_TYPES, VARIABLE_BLOCKS, decode_curve
from .durations import DurationError, PeriodGrid, Resolution, parse_resolution, parse_utc, period_grid
from .points import PointError, PointReader, point_reader
from .problems import DocumentProblem, SeriesLabel, count_points

# Day boundaries of an area missing from the catalogue: CET is the most common zone, and EU zones
# change DST at the same instant, so their local midnights keep a fixed offset from Brussels'.
FALLBACK_TZ = ZoneInfo("Europe/Brussels")
_UTC_TZ = ZoneInfo("UTC")


@dataclass(frozen=True)
class PeriodTags:
    """Qualified tag names of a Period's children in one namespace."""

    time_interval: str
    start: str
    end: str
    resolution: str
    points: PointReader


@lru_cache(maxsize=32)
def period_tags(namespace: str) -> PeriodTags:
    def tag(name: str) -> str:
        return f"{{{namespace}}}{name}" if namespace else name

    return PeriodTags(
        tag("timeInterval"), tag("start"), tag("end"), tag("resolution"), point_reader(namespace)
    )


class PlacedPeriod(NamedTuple):
    """The points of one Period that could be placed, in position order."""

    resolution: str  # normalised spelling (PT60M, P7D, ...)
    times_ns: np.ndarray  # int64 ns since epoch, UTC: start of each point
    values: np.ndarray  # float64, finite
    duplicates: int  # Points dropped because a later Point had the same position


@dataclass(frozen=True)
class SeriesContext:
    """What the Periods of one TimeSeries share."""

    where: str  # the request, TimeSeries mRID and line
    label: SeriesLabel
    curve_type: str
    tz: ZoneInfo | None  # the area's zone; None when the area is not in the catalogue


def place_period(
    period: etree._Element, tags: PeriodTags, series: SeriesContext, problems: list[DocumentProblem]
) -> PlacedPeriod | None:
    """The Period's placeable points, or None when it holds none; problems are appended."""

    declared: list[tuple[datetime, datetime]] = []  # the timeInterval, once it could be read

    def report(what: str, dropped: int) -> None:
        where = f"{series.where} Period (line {period.sourceline})"
        problems.append(
            DocumentProblem(where, what, series.label, dropped, declared[0] if declared else None)
        )

    def drop_whole(reason: str) -> None:
        count = int(tags.points.count(period))
        report(f"{reason}: Period dropped with its {count_points(count)}", count)

    start_text, end_text, resolution_text = _period_header(period, tags)
    if not (start_text and end_text and resolution_text):
        drop_whole("timeInterval start/end or resolution missing")
        return None
    try:
        resolution = parse_resolution(resolution_text)
        start, end = parse_utc(start_text), parse_utc(end_text)
        declared.append((start, end))
        grid, zone = _grid(start, end, resolution, series.tz)
    except DurationError as exc:
        drop_whole(str(exc))
        return None
    if series.curve_type not in CURVE_TYPES:
        shown = series.curve_type if len(series.curve_type) <= 40 else series.curve_type[:40] + "..."
        drop_whole(f"curveType {shown!r} is not supported (known: {', '.join(CURVE_TYPES)})")
        return None
    try:
        positions, values, ordered = tags.points.read(period)
    except PointError as exc:
        drop_whole(str(exc))
        return None
    if not positions.size:
        return None

    # The bulk path: every position within 1..N, checked without looking at each Point.
    low, high = (positions[0], positions[-1]) if ordered else (positions.min(), positions.max())
    fill_end = grid.count
    if not (grid.exact and low >= 1 and high <= grid.count):
        span = _Span(start, end, resolution, zone, int(low), int(high))
        positions, values, fill_end = _fit(positions, values, grid, span, report)
        if not positions.size:
            return None
    curve = decode_curve(positions, values, fill_end, series.curve_type, ordered=ordered)
    if curve.non_finite.size:
        what = _non_finite(curve.non_finite, positions, values, series.curve_type == VARIABLE_BLOCKS)
        report(what, int(curve.non_finite.size))
    return PlacedPeriod(resolution.normalised, grid.starts(curve.positions), curve.values, curve.duplicates)


class _Span(NamedTuple):
    """What a contradicting Period declares, and the lowest and highest position it carries."""

    start: datetime
    end: datetime
    resolution: Resolution
    zone: ZoneInfo
    low: int
    high: int


def _fit(
    positions: np.ndarray,
    values: np.ndarray,
    grid: PeriodGrid,
    span: _Span,
    report: Callable[[str, int], None],
) -> tuple[np.ndarray, np.ndarray, int]:
    """The Points a contradicting Period can place, and the position A03 filling ends at."""
    n, limit = grid.count, grid.limit
    inside = (positions >= 1) & (positions <= limit)
    below = int(np.count_nonzero(positions < 1))
    beyond = positions.size - int(np.count_nonzero(inside)) - below
    if below or beyond:
        positions, values = positions[inside], values[inside]
    # Position N + 1 only exists for whole calendar Periods (grid.limit), and is placed only when a
    # Point is there: A03 never fills past the declared end on its own.
    past_end = limit > n and bool(positions.size) and int(positions.max()) == limit

    step = span.resolution.normalised
    if grid.exact:
        if span.low < 1:
            carried = f"from position {span.low}" + (f" to {span.high}" if span.high > n else "")
        else:
            carried = f"up to position {span.high}"
        head = f"Period declares {n} {step} steps but has Points {carried}"
    else:
        local = f" in local time {span.zone.key}" if span.resolution.is_calendar else ""
        head = (
            f"Period {span.start:%Y-%m-%dT%H:%MZ}/{span.end:%Y-%m-%dT%H:%MZ} is not a whole number of "
            f"{step} steps{local} ({n} start before its end)"
        )
    parts = [f"position {limit} placed one step past the declared end"] if past_end else []
    lost = [f"{count_points(below)} below position 1"] if below else []
    if beyond:
        lost.append(f"{count_points(beyond)} beyond position {limit}")
    if lost:
        parts.append(" and ".join(lost) + " dropped")
    report(f"{head}: {', '.join(parts or ['every Point placed'])}", below + beyond)
    return positions, values, limit if past_end else n


def _non_finite(bad: np.ndarray, positions: np.ndarray, values: np.ndarray, variable_blocks: bool) -> str:
    """The sentence for Points whose value is NaN or infinite, naming the first of them."""
    first = int(bad[0])
    value = float(values[np.flatnonzero(positions == first)[-1]])
    shown = "NaN" if np.isnan(value) else ("INF" if value > 0 else "-INF")
    fill = ", and the positions it would fill left empty" if variable_blocks else ""
    if bad.size == 1:
        return f"value {shown} at position {first} is not a finite number: Point dropped{fill}"
    fill = fill.replace("it would", "they would")
    return (
        f"{bad.size} values are not finite numbers, the first {shown} at position {first}: "
        f"Points dropped{fill}"
    )


def _period_header(period: etree._Element, tags: PeriodTags) -> tuple[str, str, str]:
    """timeInterval start and end, and resolution, as texts ('' where absent)."""
    # A walk over the first children beats three find() calls; they precede the Points.
    interval = resolution = None
    for child in period:
        if interval is None and child.tag == tags.time_interval:
            interval = child
        elif resolution is None and child.tag == tags.resolution:
            resolution = child
        if interval is not None and resolution is not None:
            break
    start = end = None
    for child in () if interval is None else interval:
        if start is None and child.tag == tags.start:
            start = child
        elif end is None and child.tag == tags.end:
            end = child
    return text_of(start), text_of(end), text_of(resolution)


def _grid(
    start: datetime, end: datetime, resolution: Resolution, tz: ZoneInfo | None
) -> tuple[PeriodGrid, ZoneInfo]:
    if tz is not None:
        return period_grid(start, end, resolution, tz), tz
    # Area not in the catalogue: try CET day boundaries, then UTC ones.
    grid = period_grid(start, end, resolution, FALLBACK_TZ)
    if grid.exact or not resolution.is_calendar:
        return grid, FALLBACK_TZ
    utc_grid = period_grid(start, end, resolution, _UTC_TZ)
    return (utc_grid, _UTC_TZ) if utc_grid.exact else (grid, FALLBACK_TZ)


def text_of(element: etree._Element | None) -> str:
    """An element's text, stripped; '' when the element or its text is absent."""
    if element is None or element.text is None:
        return ""
    return element.text.strip()
