"""Splitting a request window into the fewest API-sized chunks, and shrinking the chunk size when the
API says a window is too long. Pure arithmetic on datetimes; the client does the I/O."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

# ISO 8601 durations the API quotes in "larger than maximum allowed period 'P1M'" acknowledgements
# (entsoe-api.md §3.10). Months and years are calendar units, so they are taken at their shortest
# safe length: 'P1M' has been refused for a 31-day month (entsoe-py #546), hence 28 days.
_ISO_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?)?$"
)
_DAYS_PER_YEAR = 365
_DAYS_PER_MONTH = 28

# "The number of instances (365) exceeds the allowed maximum (100) for data item ENERGY_PRICES."
# (entsoe-py #481): the answer would hold too many documents; a window shorter by that ratio fits.
_INSTANCES = re.compile(r"number of instances \((\d+)\) exceeds the allowed maximum \((\d+)\)", re.IGNORECASE)

#: Below this the client stops shrinking: no ENTSO-E data item limits a request to less than an hour.
MIN_SPAN = timedelta(hours=1)


def split_window(start: datetime, end: datetime, max_span: timedelta) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end)`` into the fewest contiguous chunks of at most ``max_span``.

    Chunks are ``max_span`` long except the last one; there are ``ceil((end - start) / max_span)``.
    """
    if max_span <= timedelta(0):
        raise ValueError(f"max_span must be positive, got {max_span}")
    if end < start:
        raise ValueError(f"window end {end.isoformat()} is before its start {start.isoformat()}")
    chunks = []
    cursor = start
    while cursor < end:
        chunk_end = min(cursor + max_span, end)
        chunks.append((cursor, chunk_end))
        cursor = chunk_end
    return chunks


def chunk_count(start: datetime, end: datetime, max_span: timedelta) -> int:
    """How many requests ``split_window`` makes for ``[start, end)``: ``ceil(length / max_span)``."""
    return -(-(end - start) // max_span)


def iso_duration_span(hint: str | None) -> timedelta | None:
    """The request span an ISO 8601 duration from an acknowledgement allows (P1M -> 28 days,
    P1Y -> 365 days, PnD -> n days, PTnH -> n hours); None when absent or not understood."""
    if not hint:
        return None
    match = _ISO_DURATION.match(hint.strip().upper())
    if not match or not any(match.groupdict().values()):
        return None
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    span = timedelta(
        days=parts.get("years", 0) * _DAYS_PER_YEAR
        + parts.get("months", 0) * _DAYS_PER_MONTH
        + parts.get("weeks", 0) * 7
        + parts.get("days", 0),
        hours=parts.get("hours", 0),
        minutes=parts.get("minutes", 0),
    )
    return span if span > timedelta(0) else None


def shrink_span(
    rejected: timedelta, *, hint: str | None = None, reason_text: str = "", min_span: timedelta = MIN_SPAN
) -> timedelta | None:
    """The span to retry with after the API rejected a window of length ``rejected`` as too long.

    Uses the limit the API quoted (``hint``, e.g. 'P1M') or the ratio of an "instances exceed the
    allowed maximum" message; when neither gives a shorter span, halves. Returns a whole number of
    minutes (the API's time parameters have minute precision), or None when ``rejected`` is already
    at ``min_span`` and cannot usefully shrink further.
    """
    candidate = iso_duration_span(hint)
    instances = _INSTANCES.search(reason_text or "")
    if candidate is None and instances:
        found, allowed = int(instances.group(1)), int(instances.group(2))
        if found > 0 and allowed > 0:
            candidate = rejected * allowed / found
    if candidate is None or candidate >= rejected:
        candidate = rejected / 2
    candidate = timedelta(minutes=int(candidate.total_seconds() // 60))
    if candidate < min_span:
        return min_span if rejected > min_span else None
    return candidate
