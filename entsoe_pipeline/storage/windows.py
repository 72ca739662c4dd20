"""Partition windows in UTC, as the Dagster layer cuts them (entsoe_pipeline/defs/partitions.py):
days, weeks starting on Monday, calendar months and calendar years."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
