"""Time grids of the simulated documents: MTUs in UTC and the local-calendar blocks (days, weeks,
months of weeks, years) that ENTSO-E aligns its documents to (entsoe-api.md §3.4, §3.7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DATE = EPOCH.date()

Interval = tuple[datetime, datetime]


def to_minutes(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds() // 60)


def from_minutes(minutes: int) -> datetime:
    return EPOCH + timedelta(minutes=int(minutes))


def local_midnight(day: date, tz: str) -> datetime:
    """Start of a local calendar day, in UTC (local midnight exists in every catalogue zone)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def day_number(day_start: datetime, tz: str) -> int:
    """The local day that starts at ``day_start``, as days since 1970-01-01 (``series.LocalTime.day``)."""
    return (local_date(day_start, tz) - EPOCH_DATE).days


def local_midnights(day_numbers: np.ndarray, tz: str) -> np.ndarray:
    """Epoch minutes of the starts of local days given as days since 1970-01-01 (vectorised)."""
    dates = pd.DatetimeIndex(np.asarray(day_numbers, dtype=np.int64).astype("datetime64[D]"))
    return dates.tz_localize(tz).tz_convert("UTC").as_unit("s").asi8 // 60


def mtu_starts(start: datetime, end: datetime, step_minutes: int) -> np.ndarray:
    """Epoch minutes of the MTUs of length ``step_minutes`` that overlap [start, end)."""
    first = to_minutes(start) // step_minutes * step_minutes
    return np.arange(first, to_minutes(end), step_minutes, dtype=np.int64)


def local_days(start: datetime, end: datetime, tz: str) -> list[Interval]:
    """The local calendar days overlapping [start, end), as UTC intervals (23, 24 or 25 hours)."""
    day = local_date(start, tz)
    out = []
    while (day_start := local_midnight(day, tz)) < end:
        day_end = local_midnight(day + timedelta(days=1), tz)
        if day_end > start:
            out.append((day_start, day_end))
        day += timedelta(days=1)
    return out


def _week_blocks(start: datetime, end: datetime, tz: str, key) -> list[Interval]:
    """Runs of whole local weeks (Monday to Monday) grouped by ``key(monday)``, overlapping the window."""
    monday = local_date(start, tz)
    monday -= timedelta(days=monday.weekday())
    # Step back to the first Monday of the block that contains this week.
    while key(monday - timedelta(days=7)) == key(monday):
        monday -= timedelta(days=7)
    out = []
    while (block_start := local_midnight(monday, tz)) < end:
        following = monday + timedelta(days=7)
        while key(following) == key(monday):
            following += timedelta(days=7)
        block_end = local_midnight(following, tz)
        if block_end > start:
            out.append((block_start, block_end))
        monday = following
    return out


def weeks(start: datetime, end: datetime, tz: str) -> list[Interval]:
    """Local weeks, Monday to Monday, overlapping [start, end): week-ahead forecast documents."""
    return _week_blocks(start, end, tz, lambda monday: monday)


def month_weeks(start: datetime, end: datetime, tz: str) -> list[Interval]:
    """Month-ahead blocks: the weeks whose Monday falls in one calendar month (4 or 5 weeks), as in
    load_monthahead_A65-A32_CZ_2016_P7D_pj.xml (2016-01-31T23:00Z .. 2016-03-06T23:00Z for February)."""
    return _week_blocks(start, end, tz, lambda monday: (monday.year, monday.month))


def year_weeks(start: datetime, end: datetime, tz: str) -> list[Interval]:
    """Year-ahead blocks: the weeks whose Monday falls in one calendar year (52 or 53 weeks)."""
    return _week_blocks(start, end, tz, lambda monday: monday.year)


def local_years(start: datetime, end: datetime, tz: str) -> list[Interval]:
    """Local calendar years overlapping [start, end): forecast margin documents (P1Y)."""
    year = local_date(start, tz).year
    out = []
    while (year_start := local_midnight(date(year, 1, 1), tz)) < end:
        year_end = local_midnight(date(year + 1, 1, 1), tz)
        if year_end > start:
            out.append((year_start, year_end))
        year += 1
    return out


def calendar_steps(block: Interval, tz: str, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (epoch minutes) of the P1D or P7D steps of a block, stepped in local time."""
    first = local_date(block[0], tz)
    starts, ends = [], []
    day = first
    while (step_start := local_midnight(day, tz)) < block[1]:
        day += timedelta(days=days)
        starts.append(to_minutes(step_start))
        ends.append(to_minutes(local_midnight(day, tz)))
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


# Calendar resolutions stepped in local time, as days per step (P1Y: by calendar year instead).
_CALENDAR_DAYS = {"P1D": 1, "P7D": 7}


def step_starts(start: int, count: int, resolution: str, tz: str) -> np.ndarray:
    """Epoch minutes of the first ``count`` steps of a Period that starts at ``start`` (epoch
    minutes): exact minutes for PTnM, local-calendar steps for P1D, P7D and P1Y."""
    if resolution.startswith("PT") and resolution.endswith("M"):
        return start + int(resolution[2:-1]) * np.arange(count, dtype=np.int64)
    first = local_date(from_minutes(start), tz)
    if resolution == "P1Y":
        days = [date(first.year + n, 1, 1) for n in range(count)]
    else:
        days = [first + timedelta(days=_CALENDAR_DAYS[resolution] * n) for n in range(count)]
    return np.array([to_minutes(local_midnight(day, tz)) for day in days], dtype=np.int64)


def day_ahead_horizon(now: datetime, tz: str) -> datetime:
    """How far day-ahead data (load forecast, wind/solar forecast, prices) is published at ``now``:
    to the end of tomorrow (local) once the 12:00 UTC auction has run, else to the end of today."""
    today = local_date(now, tz)
    days_ahead = 2 if now.astimezone(UTC).hour >= 12 else 1
    return local_midnight(today + timedelta(days=days_ahead), tz)
