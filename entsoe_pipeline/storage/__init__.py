"""TimescaleDB (or plain PostgreSQL) storage of ENTSO-E points: schema, upserts, coverage and gaps.

No Dagster here. Every function takes a DSN (``postgresql://...`` or ``postgresql+psycopg2://...``).
"""

from .api_budget import SharedBudget
from .completeness import (
    IncompleteWindow,
    SeriesSpec,
    WindowCompleteness,
    incomplete_windows,
    window_completeness,
)
from .connection import Connection, connect, session
from .coverage import LatestPoint, SeriesCoverage, latest_points, series_coverage, stored_points
from .empty_windows import forget_empty_windows, record_empty_window
from .errors import InvalidPoints, StorageError
from .schema import SchemaStatus, ensure_schema
from .summary import rebuild_summary
from .upsert import UpsertCounts, insert_new_points, upsert_points

__all__ = [
    "Connection",
    "IncompleteWindow",
    "InvalidPoints",
    "LatestPoint",
    "SchemaStatus",
    "SeriesCoverage",
    "SeriesSpec",
    "SharedBudget",
    "StorageError",
    "UpsertCounts",
    "WindowCompleteness",
    "connect",
    "ensure_schema",
    "forget_empty_windows",
    "incomplete_windows",
    "insert_new_points",
    "latest_points",
    "rebuild_summary",
    "record_empty_window",
    "series_coverage",
    "session",
    "stored_points",
    "upsert_points",
    "window_completeness",
]
