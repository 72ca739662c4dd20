"""ISO 8601 resolutions of ENTSO-E Periods and the start time of each position in a Period.

Sub-daily resolutions (PT15M, PT30M, PT60M, PT1M) are exact durations: positions are computed in
UTC. Calendar resolutions (P1D, P7D, P1M, P1Y) are steps of the area's *local* calendar (days start
at local midnight, 22:00Z or 23:00Z for CET), so they are stepped in local time and converted to
UTC: the P7D week across the October DST change lasts 169 h
(fixture load_monthahead_A65-A32_CZ_2016_P7D_pj.xml).

A Period need not be a whole number of steps: the grid says whether it is, and how many steps start
before its end. What to make of Points beyond that is the caller's rule (placement.py).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

# A Period longer than this many positions is refused: a year of PT1M has 527 040, and a forged
# interval must not make the parser allocate billions of timestamps.
MAX_PERIOD_POSITIONS = 1 << 20
# Calendar positions are stepped one by one in local time; 10 000 days are 27 years.
MAX_CALENDAR_POSITIONS = 10_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_PER_SECOND = 1_000_000_000
# Times are int64 nanoseconds (pandas datetime64[ns]): about 1677-09-21 to 2262-04-11.
MIN_NS = -(2**63) + 1  # -2**63 is NaT
MAX_NS = 2**63 - 1

# At most 12 digits a number: no step needs more, and int() refuses 4300 digits with its own ValueError.
_DURATION = re.compile(
    r"P(?:(?P<years>\d{1,12})Y)?(?:(?P<months>\d{1,12})M)?(?:(?P<weeks>\d{1,12})W)?(?:(?P<days>\d{1,12})D)?"
    r"(?:T(?:(?P<hours>\d{1,12})H)?(?:(?P<minutes>\d{1,12})M)?(?:(?P<seconds>\d{1,12})S)?)?"
)
# ENTSO-E's longest step is P1Y. Steps of up to a century keep the calendar arithmetic within
# datetime's years and one step within int64 nanoseconds.
MAX_RESOLUTION_YEARS = 100


class DurationError(ValueError):
    """A resolution or Period interval the parser cannot turn into positions."""


@dataclass(frozen=True)
class Resolution:
    """An ISO 8601 duration split into calendar months, calendar days and exact seconds."""

    months: int
    days: int
    seconds: int

    @property
    def is_calendar(self) -> bool:
        return bool(self.months or self.days)

    @property
    def normalised(self) -> str:
        """One spelling per duration: PT1H -> PT60M, P1W -> P7D, P12M -> P1Y."""
        if self.months:
            return f"P{self.months // 12}Y" if self.months % 12 == 0 else f"P{self.months}M"
        if self.days:
            return f"P{self.days}D"
        if self.seconds % 60 == 0:
            return f"PT{self.seconds // 60}M"
        return f"PT{self.seconds}S"


@lru_cache(maxsize=64)
def parse_resolution(text: str) -> Resolution:
    """Parse an ISO 8601 duration as ENTSO-E writes it (PT15M, PT60M, P1D, P7D, P1M, P1Y, ...)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise DurationError(f"resolution {_shown(text)} is not an ISO 8601 duration")
    part = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    months = 12 * part["years"] + part["months"]
    days = 7 * part["weeks"] + part["days"]
    seconds = 3600 * part["hours"] + 60 * part["minutes"] + part["seconds"]
    if not (months or days or seconds):
        raise DurationError(f"resolution {_shown(text)} is zero")
    if (months or days) and seconds:
        # No ENTSO-E item mixes calendar and clock units; refusing keeps the local-time rule simple.
        raise DurationError(f"resolution {_shown(text)} mixes calendar and clock units")
    years = MAX_RESOLUTION_YEARS
    if months > 12 * years or days > 366 * years or seconds > 366 * 86_400 * years:
        raise DurationError(f"resolution {_shown(text)} is longer than {years} years")
    return Resolution(months, days, seconds)


def parse_utc(text: str) -> datetime:
    """A Period boundary such as 2025-10-21T12:00Z (ENTSO-E times are always UTC)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DurationError(f"time {_shown(text)} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:  # the API documents every time as UTC; a bare time is read as such
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is in year 0 in UTC
        raise DurationError(f"time {_shown(text)} lies outside the years 1-9999 in UTC") from None


def _shown(text: str) -> str:
    """The text quoted for a message, cut so that a forged megabyte value cannot flood a log."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def to_ns(value: datetime) -> int:
    """Nanoseconds since the Unix epoch, exactly (no float rounding)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _NS_PER_SECOND + delta.microseconds * 1000


@dataclass(frozen=True)
class PeriodGrid:
    """The positions of one Period: position p starts at ``starts(p)``.

    ``count`` steps start before the Period end; ``exact`` says whether the last of them ends
    exactly there. ``limit`` is the highest position that has a start time: ``count``, or for an
    exact calendar grid ``count + 1``, whose step begins at the Period end.
    """

    count: int
    exact: bool
    start_ns: int
    step_ns: int  # 0 for calendar resolutions, whose steps vary in length
    boundaries_ns: np.ndarray | None  # calendar resolutions: count + 1 boundaries (the last >= end)

    @property
    def limit(self) -> int:
        return self.count + 1 if self.exact and self.boundaries_ns is not None else self.count

    def starts(self, positions: np.ndarray) -> np.ndarray:
        """Start (ns since epoch, UTC) of each 1-based position; positions must lie in 1..limit."""
        if self.boundaries_ns is None:
            return self.start_ns + (positions - 1) * self.step_ns
        return self.boundaries_ns[positions - 1]


# Cached: A60/A61 min/max series and per-day documents repeat the same Periods many times.
@lru_cache(maxsize=1024)
def period_grid(start: datetime, end: datetime, resolution: Resolution, tz: ZoneInfo) -> PeriodGrid:
    """Positions of a Period [start, end) at ``resolution``; ``tz`` is the area's zone.

    Raises DurationError when the end is not after the start, the Period lies outside the
    nanosecond range, or it would hold more than MAX_PERIOD_POSITIONS positions. An interval that
    is not a whole number of steps is no error here: ``exact`` is False and ``count`` is the number
    of steps that start before the end.
    """
    if end <= start:
        raise DurationError(
            f"Period end {end:%Y-%m-%dT%H:%MZ} is not after its start {start:%Y-%m-%dT%H:%MZ}"
        )
    start_ns, end_ns = to_ns(start), to_ns(end)
    if start_ns < MIN_NS or end_ns > MAX_NS:
        raise DurationError(f"Period {start:%Y-%m-%dT%H:%MZ}/{end:%Y-%m-%dT%H:%MZ} lies outside 1678-2261")
    if not resolution.is_calendar:
        step_ns = resolution.seconds * _NS_PER_SECOND
        count, rest = divmod(end_ns - start_ns, step_ns)
        count += 1 if rest else 0  # the step that starts before the end but runs past it
        _check_count(count, start, end, resolution)
        return PeriodGrid(count, not rest, start_ns, step_ns, None)
    boundaries_ns = [to_ns(b) for b in _calendar_boundaries(start, end, resolution, tz)]
    if boundaries_ns[-1] > MAX_NS:  # the step that ends the Period ends after 2262-04-11
        raise DurationError(
            f"Period {start:%Y-%m-%dT%H:%MZ}/{end:%Y-%m-%dT%H:%MZ} at {resolution.normalised} steps past 2262"
        )
    boundaries = np.array(boundaries_ns, np.int64)
    boundaries.flags.writeable = False  # shared through the cache
    return PeriodGrid(len(boundaries) - 1, bool(boundaries[-1] == end_ns), start_ns, 0, boundaries)


def _calendar_boundaries(
    start: datetime, end: datetime, resolution: Resolution, tz: ZoneInfo
) -> list[datetime]:
    """Step boundaries from ``start`` until the first at or after ``end``."""
    # Step k is computed from the start (not from step k-1) so that month ends do not drift.
    wall_start = start.astimezone(tz).replace(tzinfo=None)
    # Bound the number of steps before looping, so a forged interval fails fast. A local step is
    # at most an hour shorter than its nominal length (DST); two hours of slack are plenty.
    shortest_step = timedelta(days=28 * resolution.months + resolution.days) - timedelta(hours=2)
    _check_count((end - start) // shortest_step, start, end, resolution, MAX_CALENDAR_POSITIONS)
    boundaries = [start]
    k = 0
    while boundaries[-1] < end:
        k += 1
        wall = _add_months(wall_start, k * resolution.months) + timedelta(days=k * resolution.days)
        boundaries.append(wall.replace(tzinfo=tz).astimezone(UTC))
    return boundaries


def _add_months(wall: datetime, months: int) -> datetime:
    if not months:
        return wall
    index = wall.month - 1 + months
    year, month = wall.year + index // 12, index % 12 + 1
    day = min(wall.day, calendar.monthrange(year, month)[1])
    return wall.replace(year=year, month=month, day=day)


def _check_count(
    count: int, start: datetime, end: datetime, resolution: Resolution, limit: int = MAX_PERIOD_POSITIONS
) -> None:
    if count > limit:
        raise DurationError(
            f"Period {start:%Y-%m-%dT%H:%MZ}/{end:%Y-%m-%dT%H:%MZ} at {resolution.normalised} has "
            f"{count} positions, more than the {limit} allowed"
        )
