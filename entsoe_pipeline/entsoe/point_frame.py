"""The parser's output table: one row per point, series merged, duplicates resolved, rows sorted.

Columns (names, order and dtypes are the public contract of ``parse_document``):
time (datetime64[ns, UTC], start of the point's interval), value (float64), resolution,
business_type, psr_type, variant, area, unit, document_mrid (str), revision (int64) and
document_created (datetime64[ns, UTC]: the document's createdDateTime, NaT when the header lacks it).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

COLUMNS = (
    "time",
    "value",
    "resolution",
    "business_type",
    "psr_type",
    "variant",
    "area",
    "unit",
    "document_mrid",
    "revision",
    "document_created",
)
_TEXT_COLUMNS = ("resolution", "business_type", "psr_type", "variant", "area", "unit", "document_mrid")
# Resolved once: looking a dtype up by name costs more than building a small column.
_TEXT_DTYPE: Any = pd.api.types.pandas_dtype("str")  # StringDtype under pandas 3
#: The int64 that datetime64 reads as NaT: a document_created that is unknown.
NOT_A_TIME = int(np.iinfo(np.int64).min)


class SeriesKey(NamedTuple):
    """What makes two points the same series; field order is the sort order of the output."""

    business_type: str
    psr_type: str
    variant: str
    area: str
    unit: str


class PointFrameBuilder:
    """Collects the decoded Periods of one or more documents, then builds the table once.

    Series with equal key are concatenated; of two values for the same key and time the later one
    in document order is kept, and ``duplicates`` counts the values dropped. A series is one input
    per (key, document mRID, revision, createdDateTime), so each row keeps its own document's.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[SeriesKey, str, int, int], int] = {}
        self._resolutions: dict[str, int] = {}
        self._series_ids: list[int] = []
        self._resolution_ids: list[int] = []
        self._counts: list[int] = []
        self._times: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self.duplicates = 0

    def series_id(
        self, key: SeriesKey, document_mrid: str, revision: int, created_ns: int = NOT_A_TIME
    ) -> int:
        """The id of a series of one document; ``created_ns`` is its createdDateTime (ns, UTC)."""
        return self._series.setdefault((key, document_mrid, revision, created_ns), len(self._series))

    def add(self, series_id: int, resolution: str, times_ns: np.ndarray, values: np.ndarray) -> None:
        """One Period's points: start times (int64 ns since epoch, UTC) and values, in position order."""
        if not times_ns.size:
            return
        self._series_ids.append(series_id)
        self._resolution_ids.append(self._resolutions.setdefault(resolution, len(self._resolutions)))
        self._counts.append(times_ns.size)
        self._times.append(times_ns)
        self._values.append(values)

    def build(self) -> pd.DataFrame:
        if not self._times:
            return empty_frame()
        series = list(self._series)  # index = series id
        keys = sorted({s[0] for s in series})
        key_rank = {key: rank for rank, key in enumerate(keys)}
        series_rank = np.array([key_rank[s[0]] for s in series], dtype=np.int64)

        counts = np.array(self._counts, dtype=np.int64)
        row_series = np.repeat(np.array(self._series_ids, dtype=np.int64), counts)
        row_resolution = np.repeat(np.array(self._resolution_ids, dtype=np.int64), counts)
        times = np.concatenate(self._times)
        values = np.concatenate(self._values)
        rank = series_rank[row_series]

        order = _merge_order(rank, times)
        if order is not None:
            row_series, row_resolution, times, values, rank = (
                a[order] for a in (row_series, row_resolution, times, values, rank)
            )
            keep = np.append((rank[1:] != rank[:-1]) | (times[1:] != times[:-1]), True)
            dropped = int(keep.size - np.count_nonzero(keep))
            if dropped:
                self.duplicates += dropped
                row_series, row_resolution, times, values, rank = (
                    a[keep] for a in (row_series, row_resolution, times, values, rank)
                )
        if len({k[:3] for k in keys}) < len(keys):
            # Several areas or units share (business_type, psr_type, variant) - e.g. members of
            # one ZIP - so order by time before area and unit, as documented.
            group = {k[:3]: g for g, k in enumerate(sorted({k[:3] for k in keys}))}
            group_rank = np.array([group[k[:3]] for k in keys], dtype=np.int64)[rank]
            final = np.lexsort((rank, times, group_rank))
            row_series, row_resolution, times, values = (
                a[final] for a in (row_series, row_resolution, times, values)
            )

        by_series = {
            name: np.array([getattr(s[0], name) for s in series], dtype=object)
            for name in ("business_type", "psr_type", "variant", "area", "unit")
        }
        by_series["document_mrid"] = np.array([s[1] for s in series], dtype=object)
        text = {name: table.take(row_series) for name, table in by_series.items()}
        text["resolution"] = np.array(list(self._resolutions), dtype=object).take(row_resolution)
        revision = np.array([s[2] for s in series], dtype=np.int64).take(row_series)
        created = np.array([s[3] for s in series], dtype=np.int64).take(row_series)
        return _frame(times, values, text, revision, created)


def _merge_order(rank: np.ndarray, times: np.ndarray) -> np.ndarray | None:
    """Row order by (series key, time) keeping document order among equals; None if already so."""
    if rank.size < 2:
        return None
    step_rank, step_time = np.diff(rank), np.diff(times)
    if bool(np.all((step_rank > 0) | ((step_rank == 0) & (step_time > 0)))):
        return None
    return np.lexsort((times, rank))  # lexsort is stable: equal (key, time) keep document order


def _frame(
    times: np.ndarray,
    values: np.ndarray,
    text: dict[str, np.ndarray],
    revision: np.ndarray,
    created: np.ndarray,
) -> pd.DataFrame:
    columns: dict[str, object] = {
        "time": pd.array(times.view("datetime64[ns]")).tz_localize("UTC"),
        "value": values.astype(np.float64, copy=False),
    }
    for name in _TEXT_COLUMNS:
        columns[name] = pd.array(text[name], dtype=_TEXT_DTYPE)
    columns["revision"] = revision
    columns["document_created"] = pd.array(created.view("datetime64[ns]")).tz_localize("UTC")
    return pd.DataFrame({name: columns[name] for name in COLUMNS}, copy=False)


def empty_frame() -> pd.DataFrame:
    """A frame with no rows and the output's columns and dtypes."""
    text = {name: np.array([], dtype=object) for name in _TEXT_COLUMNS}
    no_times = np.array([], dtype=np.int64)
    return _frame(no_times, np.array([], dtype=np.float64), text, np.array([], dtype=np.int64), no_times)
