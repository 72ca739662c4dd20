"""One run's partitions from ENTSO-E into the store, each partition on its own.

``ingest_partitions`` fetches the windows of a run's partitions in as few API requests as the span
limit allows, then writes each partition in its own transaction (all or nothing per partition) and
says per partition what happened. A window whose answer cannot be read fails alone: the request is
narrowed, by halves, to the partitions whose answers stay unreadable, and the others are stored.
"No matching data" counts towards a window being confirmed empty only once the window is older than
the endpoint's late-publication horizon: younger windows may still be published (D+2, D+7).

No Dagster here: the asset (defs/observations.py) calls this and reports the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from entsoe_pipeline import storage
from entsoe_pipeline.catalog import Area, Cadence, Endpoint
from entsoe_pipeline.entsoe import DocumentProblem, EntsoeClient, FetchResult, MalformedDocument
from entsoe_pipeline.entsoe.point_frame import empty_frame
from entsoe_pipeline.storage.windows import data_window

NOTHING = storage.UpsertCounts(inserted=0, updated=0, unchanged=0)

# Actual data is published about an hour after real time; leave a margin before calling it missing.
ACTUAL_PUBLICATION_LAG = timedelta(hours=2)
FORECAST_PUBLICATION_LAG = timedelta(hours=12)


def expected_until(endpoint: Endpoint, now: datetime) -> datetime:
    """Until when the API should have published this endpoint's data."""
    if endpoint.cadence is Cadence.ACTUAL:
        return now - ACTUAL_PUBLICATION_LAG
    # Forecasts reach their horizon only after the day's publication (day-ahead: the noon auction),
    # and a UTC day ends inside the next local day, which is published with the next forecast.
    return now + endpoint.horizon - FORECAST_PUBLICATION_LAG


@dataclass(frozen=True)
class PartitionWindow:
    """A partition: its key and UTC window."""

    key: str
    start: datetime
    end: datetime


@dataclass
class PartitionIngest:
    """What one partition's part of the run fetched and stored."""

    window: PartitionWindow
    # The instants whose points belong to the partition (local midnights for calendar data).
    data_start: datetime
    data_end: datetime
    points: pd.DataFrame = field(default_factory=empty_frame)
    counts: storage.UpsertCounts = NOTHING
    no_data: bool = False  # ENTSO-E answered "no matching data" for the whole window
    problems: tuple[DocumentProblem, ...] = ()
    error: str | None = None  # set when the window could not be fetched: nothing was stored

    @property
    def points_dropped(self) -> int:
        return sum(p.dropped for p in self.problems)


@dataclass
class IngestResult:
    partitions: list[PartitionIngest]
    requests: int
    duplicates: int  # values an answer held twice for one series and time (the later one kept)

    @property
    def failed(self) -> list[PartitionIngest]:
        return [p for p in self.partitions if p.error is not None]

    @property
    def stored(self) -> list[PartitionIngest]:
        return [p for p in self.partitions if p.error is None]


def local_calendar(endpoint: Endpoint) -> bool:
    """Whether the endpoint's points are steps of the local calendar (P1D and longer)."""
    return endpoint.default_resolution.total_seconds() >= 86_400


def ingest_partitions(
    client: EntsoeClient,
    dsn: str,
    endpoint: Endpoint,
    area: Area,
    windows: Sequence[PartitionWindow],
    *,
    now: datetime,
) -> IngestResult:
    """Fetch and store ``windows`` (contiguous partitions of one asset); ``now`` is the fetch time.

    Raises what the client raises for the whole run (Unauthorized, InvalidRequest, RateLimited,
    Unavailable), and StorageError when a write fails; an unreadable answer (MalformedDocument)
    fails only the partitions it covers once narrowed down.
    """
    parts = [
        PartitionIngest(w, *data_window(w.start, w.end, local_calendar(endpoint), area.tz)) for w in windows
    ]
    requests_before = client.requests_made
    fetched, failed = _fetch_isolating(client, endpoint, area, parts)
    for index, message in failed.items():
        parts[index].error = message
    points = _points_of(fetched)
    empty = [w for result in fetched for w in result.empty_windows]
    with_points = []
    for part in parts:
        if part.error is not None:
            continue
        inside = (points["time"] >= part.data_start) & (points["time"] < part.data_end)
        part.points = points.loc[inside].reset_index(drop=True)
        part.problems = tuple(_problems_for(part, fetched))
        if part.points.empty:
            part.no_data = _covered(part.data_start, part.data_end, empty)
        else:
            with_points.append(part)
    # One connection for the run. Each partition is stored whole or not at all: in one COPY with its
    # neighbours where the store holds nothing of their range yet (a history fill), else in a
    # transaction of its own, which merges and counts what changed. Hundreds of partitions do not
    # each pay for a connection and a transaction.
    with storage.session(dsn) as conn:
        for part in _insert_new(conn, endpoint, area, with_points, now):
            part.counts = storage.upsert_points(conn, endpoint.name, area.eic, part.points, fetched_at=now)
        for part in with_points:
            storage.forget_empty_windows(conn, endpoint.name, area.eic, part.data_start, part.data_end)
        # An empty answer for a window that may still be published late says nothing yet.
        confirmable_until = now - endpoint.late_publication
        for start, end in empty:
            if end <= confirmable_until:
                storage.record_empty_window(conn, endpoint.name, area.eic, start, end)
    return IngestResult(
        partitions=parts,
        requests=client.requests_made - requests_before,
        duplicates=sum(r.duplicates for r in fetched),
    )


def _insert_new(
    conn: storage.Connection, endpoint: Endpoint, area: Area, parts: Sequence[PartitionIngest], now: datetime
) -> list[PartitionIngest]:
    """Store in one COPY the partitions' points if their range holds no rows yet, every point then
    being new; where it holds some (the newest days a refill brought, a neighbour's), the halves are
    tried in turn. Returns the partitions left to merge: single ones whose range holds rows."""
    if len(parts) < 2:
        return list(parts)
    batch = pd.concat([p.points for p in parts], ignore_index=True)
    if storage.insert_new_points(conn, endpoint.name, area.eic, batch, fetched_at=now) is not None:
        for part in parts:
            part.counts = storage.UpsertCounts(len(part.points), 0, 0)
        return []
    middle = len(parts) // 2
    return _insert_new(conn, endpoint, area, parts[:middle], now) + _insert_new(
        conn, endpoint, area, parts[middle:], now
    )


def _fetch_isolating(
    client: EntsoeClient, endpoint: Endpoint, area: Area, parts: Sequence[PartitionIngest]
) -> tuple[list[FetchResult], dict[int, str]]:
    """Fetch the parts' data windows; an answer that cannot be read is asked for again in halves
    until it covers one partition, which then fails (its error by index)."""
    results: list[FetchResult] = []
    failed: dict[int, str] = {}

    def fetch(lo: int, hi: int) -> None:
        try:
            results.append(client.fetch(endpoint, area, parts[lo].data_start, parts[hi - 1].data_end))
        except MalformedDocument as exc:
            if hi - lo == 1:
                failed[lo] = str(exc)
                return
            middle = (lo + hi) // 2
            fetch(lo, middle)
            fetch(middle, hi)

    for lo, hi in _contiguous(parts):
        fetch(lo, hi)
    return results, failed


def _contiguous(parts: Sequence[PartitionIngest]) -> list[tuple[int, int]]:
    """Index ranges of neighbouring partitions (each ends where the next starts)."""
    ranges: list[tuple[int, int]] = []
    for i, part in enumerate(parts):
        if ranges and parts[i - 1].data_end == part.data_start:
            ranges[-1] = (ranges[-1][0], i + 1)
        else:
            ranges.append((i, i + 1))
    return ranges


def _points_of(results: Sequence[FetchResult]) -> pd.DataFrame:
    frames = [r.points for r in results if len(r.points)]
    if not frames:
        return empty_frame()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _problems_for(part: PartitionIngest, results: Sequence[FetchResult]) -> list[DocumentProblem]:
    """The problems of the answers that covered the partition, of Periods that touch its data (a
    Period one step short of its Points reaches its declared end)."""
    out: list[DocumentProblem] = []
    for result in results:
        if not any(start < part.data_end and end > part.data_start for start, end in result.windows):
            continue
        out += (
            p
            for p in result.problems
            if p.period is None or (p.period[0] < part.data_end and p.period[1] >= part.data_start)
        )
    return out


def _covered(start: datetime, end: datetime, windows: Sequence[tuple[datetime, datetime]]) -> bool:
    """Whether ``windows`` together cover [start, end)."""
    reached = start
    for lo, hi in sorted(windows):
        if lo > reached:
            break
        reached = max(reached, hi)
    return reached >= end
