"""Windows for which ENTSO-E confirmed it has no data ("No matching data found").

The store sensor stops asking for a window after a number of such answers; ``tries`` counts them.
"""

from __future__ import annotations

from datetime import datetime

from .connection import DsnOrConnection, errors_named, transaction

_RECORD = """
INSERT INTO entsoe.empty_windows AS e (endpoint, area, window_start, window_end)
VALUES (%s, %s, %s, %s)
ON CONFLICT (endpoint, area, window_start, window_end)
DO UPDATE SET tries = e.tries + 1, last_checked_at = now()
RETURNING tries
"""


def record_empty_window(
    dsn_or_conn: DsnOrConnection, endpoint: str, area: str, start: datetime, end: datetime
) -> int:
    """Record one more "no data" answer for ``[start, end)``; returns how many there have been."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        raise ValueError(f"empty window {start.isoformat()} .. {end.isoformat()}")
    what = f"recording the empty window {start:%Y-%m-%dT%H:%MZ}..{end:%Y-%m-%dT%H:%MZ} of {endpoint} {area}"
    with errors_named(dsn_or_conn, what), transaction(dsn_or_conn) as cur:
        cur.execute(_RECORD, (endpoint, area, start, end))
        row = cur.fetchone()
        assert row is not None
        return int(row[0])


_FORGET = """
DELETE FROM entsoe.empty_windows
WHERE endpoint = %s AND area = %s AND window_start < %s AND window_end > %s
"""


def forget_empty_windows(
    dsn_or_conn: DsnOrConnection, endpoint: str, area: str, start: datetime, end: datetime
) -> int:
    """Drop the "no data" records of windows overlapping ``[start, end)``: data has arrived there, so
    earlier empty answers (late publication) must not stop anyone from asking again. With an open
    connection, the work commits on it and it stays open."""
    what = f"forgetting the empty windows of {endpoint} {area}"
    with errors_named(dsn_or_conn, what), transaction(dsn_or_conn) as cur:
        cur.execute(_FORGET, (endpoint, area, end, start))
        return int(cur.rowcount)
