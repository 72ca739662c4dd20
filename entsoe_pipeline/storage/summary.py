"""Rebuilding ``entsoe.daily_counts`` from the raw points.

Needed after changes that bypass ``upsert_points`` and the triggers: ``drop_chunks`` or a
retention policy, ``COPY``/``INSERT`` straight into ``entsoe.observations``, or restoring a dump of
one table without the other. The rebuild locks the summary against concurrent upserts (they wait
for it) so that no write is counted twice or lost.
"""

from __future__ import annotations

import psycopg2

from .connection import connect, redact
from .errors import StorageError

_DELETE = """
DELETE FROM entsoe.daily_counts
WHERE (%(endpoint)s::text IS NULL OR endpoint = %(endpoint)s)
  AND (%(area)s::text IS NULL OR area = %(area)s)
"""

_INSERT = """
INSERT INTO entsoe.daily_counts
    (endpoint, area, business_type, psr_type, variant, day, points, covered, resolution)
SELECT o.endpoint, o.area, o.business_type, o.psr_type, o.variant,
       entsoe.summary_day(o.time, o.resolution, coalesce(a.tz, 'UTC')),
       count(*), sum(entsoe.covered_seconds(o.resolution)), min(o.resolution)
FROM entsoe.observations o
LEFT JOIN entsoe.areas a ON a.eic = o.area
WHERE (%(endpoint)s::text IS NULL OR o.endpoint = %(endpoint)s)
  AND (%(area)s::text IS NULL OR o.area = %(area)s)
GROUP BY 1, 2, 3, 4, 5, 6
"""


# Days with nothing stored between a series' first and last day get their (zero) row.
_DENSIFY = """
SELECT entsoe.fill_days(endpoint, area, business_type, psr_type, variant, min(day), max(day))
FROM entsoe.daily_counts
WHERE (%(endpoint)s::text IS NULL OR endpoint = %(endpoint)s)
  AND (%(area)s::text IS NULL OR area = %(area)s)
GROUP BY endpoint, area, business_type, psr_type, variant
"""

_COUNT = """
SELECT count(*) FROM entsoe.daily_counts
WHERE (%(endpoint)s::text IS NULL OR endpoint = %(endpoint)s)
  AND (%(area)s::text IS NULL OR area = %(area)s)
"""


def rebuild_summary(dsn: str, endpoint: str | None = None, area: str | None = None) -> int:
    """Recompute the summary of one endpoint, one area (EIC), both, or everything; returns the
    number of summary rows written."""
    try:
        with connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute("LOCK TABLE entsoe.daily_counts IN SHARE ROW EXCLUSIVE MODE")
            params = {"endpoint": endpoint, "area": area}
            cur.execute(_DELETE, params)
            cur.execute(_INSERT, params)
            cur.execute(_DENSIFY, params)
            cur.execute(_COUNT, params)
            row = cur.fetchone()
            return int(row[0]) if row else 0
    except psycopg2.Error as exc:
        scope = " ".join(x for x in (endpoint, area) if x) or "all series"
        raise StorageError(
            redact(f"rebuilding the summary of {scope} failed: {str(exc).strip()}", dsn)
        ) from None
