"""Partition windows in UTC, as the Dagster layer cuts them (entsoe_pipeline/defs/partitions.py):
days, weeks starting on Monday, calendar months and calendar years; and the instants whose data a
partition holds."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from entsoe_pipeline.catalog import Granularity


def window_start(t: datetime, granularity: Granularity) -> datetime:
    """Start of the partition that contains ``t``."""
    day = t.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity is Granularity.DAILY:
        return day
    if granularity is Granularity.WEEKLY:
        return day - timedelta(days=day.weekday())
    if granularity is Granularity.MONTHLY:
        return day.replace(day=1)
    if granularity is Granularity.YEARLY:
        return day.replace(month=1, day=1)
    raise ValueError(f"unknown granularity {granularity!r}")


def next_window_start(ws: datetime, granularity: Granularity) -> datetime:
    if granularity is Granularity.DAILY:
        return ws + timedelta(days=1)
    if granularity is Granularity.WEEKLY:
        return ws + timedelta(days=7)
    if granularity is Granularity.MONTHLY:
        return ws.replace(year=ws.year + ws.month // 12, month=ws.month % 12 + 1)
    return ws.replace(year=ws.year + 1)


def partition_windows(
    start: datetime, end: datetime, granularity: Granularity
) -> list[tuple[datetime, datetime]]:
    """The partitions that overlap ``[start, end)``, whole: the first contains ``start``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    out: list[tuple[datetime, datetime]] = []
    ws = window_start(start, granularity)
    while ws < end:
        we = next_window_start(ws, granularity)
        out.append((ws, we))
        ws = we
    return out


def data_window(start: datetime, end: datetime, local_calendar: bool, tz: str) -> tuple[datetime, datetime]:
    """The instants whose points belong to the partition ``[start, end)`` (UTC midnights).

    Sub-daily points belong to the UTC window. Day-long and longer points (P1D, P7D, P1M, P1Y) are
    steps of the area's local calendar and belong to the partition of the local days they start on
    (as the summary counts them): the same dates at local midnight, e.g. 2025-12-31T23:00Z to
    2026-12-31T23:00Z for CET's 2026.
    """
    if not local_calendar:
        return start, end
    zone = ZoneInfo(tz)

    def local_midnight(t: datetime) -> datetime:
        return datetime.combine(t.astimezone(UTC).date(), time(), zone).astimezone(UTC)

    return local_midnight(start), local_midnight(end)


def partition_clock(t: datetime, local_calendar: bool, tz: str) -> datetime:
    """Where the data instant ``t`` falls on the partitions' clock, the inverse of ``data_window``:
    ``t`` itself, or for local-calendar data its local wall time read as UTC (CET's
    2025-12-31T23:00Z is 2026-01-01T00:00Z, in partition 2026)."""
    if not local_calendar:
        return t
    return t.astimezone(ZoneInfo(tz)).replace(tzinfo=UTC)
