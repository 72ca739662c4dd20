"""entsoe_pipeline/ingest.py against the simulator over HTTP and a real database: late publications,
local-calendar partitions and per-partition outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from entsoe_pipeline import catalog, storage
from entsoe_pipeline.entsoe import EntsoeClient
from entsoe_pipeline.ingest import PartitionWindow, ingest_partitions
from entsoe_pipeline.simulator import DEMO_TOKEN
from entsoe_pipeline.simulator.habits import Habits, late_delays
from entsoe_pipeline.storage.windows import partition_windows
from entsoe_pipeline_tests.integration.test_storage_upsert import query

ACTUAL = catalog.endpoint("actual_load")
YEAR_AHEAD = catalog.endpoint("year_ahead_load_forecast")
CZ = catalog.area("CZ")


def _windows(endpoint: catalog.Endpoint, start: datetime, end: datetime, fmt: str) -> list[PartitionWindow]:
    return [
        PartitionWindow(s.strftime(fmt), s, e) for s, e in partition_windows(start, end, endpoint.granularity)
    ]


def _ingest(url: str, dsn: str, endpoint, area, windows, now):
    with EntsoeClient(DEMO_TOKEN, url) as client:
        return ingest_partitions(client, dsn, endpoint, area, windows, now=now)


def _a_late_day(seed: int) -> tuple[datetime, int]:
    """A UTC day of CZ actual load that the simulator (late_share 0.3) publishes late, and its delay."""
    habits = Habits(seed=seed, late_share=0.3)
    days = np.arange(19_800, 19_900)  # local day numbers in 2024
    delays = late_delays(habits, ACTUAL.name, CZ, days)
    day = int(days[np.flatnonzero(delays)[0]])
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day), int(delays[np.flatnonzero(delays)[0]])


@pytest.fixture
def dsn(database_url: str) -> str:
    storage.ensure_schema(database_url)
    return database_url


def test_a_day_published_late_is_not_confirmed_empty_and_arrives_when_asked_again(make_simulator, dsn):
    day, delay = _a_late_day(seed=11)
    # Local day D of CZ runs 23:00Z to 23:00Z: the UTC day after it holds 23 of its hours.
    utc_day = day + timedelta(days=1)
    window = _windows(ACTUAL, utc_day, utc_day + timedelta(days=1), "%Y-%m-%d")
    next_morning = utc_day + timedelta(days=1, hours=6)
    sim = make_simulator(now=next_morning, late_share=0.3, seed=11)

    first = _ingest(sim.url, dsn, ACTUAL, CZ, window, next_morning)
    stored_first = len(first.partitions[0].points)
    assert stored_first < 96  # most of the day is still unpublished

    # "No matching data" for a window younger than the late-publication horizon is not recorded.
    assert query(
        dsn,
        "SELECT count(*) FROM entsoe.empty_windows WHERE endpoint = %s AND area = %s",
        (ACTUAL.name, CZ.eic),
    ) == [(0,)]
    (gap,) = storage.incomplete_windows(
        dsn,
        [storage.SeriesSpec(ACTUAL.name, CZ.eic, ACTUAL.default_resolution)],
        utc_day,
        utc_day + timedelta(days=1),
        ACTUAL.granularity,
    )
    assert gap.empty_tries == 0  # still a gap to fill, not a window ENTSO-E confirmed empty

    published = day + timedelta(days=delay + 1)
    sim.config.now = published
    again = _ingest(sim.url, dsn, ACTUAL, CZ, window, published)
    assert again.partitions[0].counts.inserted == 96 - stored_first
    assert (
        storage.incomplete_windows(
            dsn,
            [storage.SeriesSpec(ACTUAL.name, CZ.eic, ACTUAL.default_resolution)],
            utc_day,
            utc_day + timedelta(days=1),
            ACTUAL.granularity,
        )
        == []
    )


def test_no_data_for_a_window_past_the_horizon_counts_towards_confirmed_empty(make_simulator, dsn):
    hole = (datetime(2023, 5, 10, tzinfo=UTC), datetime(2023, 5, 11, tzinfo=UTC))
    now = hole[1] + ACTUAL.late_publication + timedelta(hours=1)
    sim = make_simulator(now=now, no_data=(hole,))
    window = _windows(ACTUAL, *hole, "%Y-%m-%d")

    result = _ingest(sim.url, dsn, ACTUAL, CZ, window, now)

    assert result.partitions[0].no_data
    assert query(
        dsn,
        "SELECT tries FROM entsoe.empty_windows WHERE endpoint = %s AND area = %s AND window_start = %s",
        (ACTUAL.name, CZ.eic, hole[0]),
    ) == [(1,)]


def test_a_local_year_lands_in_its_partition_with_the_week_its_short_period_left_out(make_simulator, dsn):
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    sim = make_simulator(now=now, short_period_share=1.0)  # every block declares one week too few
    years = _windows(YEAR_AHEAD, datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), "%Y")

    result = _ingest(sim.url, dsn, YEAR_AHEAD, CZ, years, now)

    y2025, y2026 = result.partitions
    # Prague's 2026 starts 2025-12-31T23:00Z; its weeks are those whose Monday is in 2026.
    assert (y2026.data_start, y2026.data_end) == (
        datetime(2025, 12, 31, 23, tzinfo=UTC),
        datetime(2026, 12, 31, 23, tzinfo=UTC),
    )
    assert len(y2026.points) == 2 * 52  # A60 and A61, every week, the 52nd included
    assert y2026.points["time"].min() == datetime(2026, 1, 4, 23, tzinfo=UTC)
    assert y2026.points["time"].max() == datetime(2026, 12, 27, 23, tzinfo=UTC)
    assert [p.dropped for p in y2026.problems] == [0, 0]  # one resolved contradiction per series
    assert len(y2025.points) == 2 * 52
    truth = sim.published(YEAR_AHEAD, CZ, y2026.data_start, y2026.data_end)  # whole documents
    truth = truth[(truth["time"] >= y2026.data_start) & (truth["time"] < y2026.data_end)]
    assert sorted(y2026.points["time"]) == sorted(truth["time"])
    # The store counts them in the partition they describe: both years complete.
    counts = storage.window_completeness(
        dsn, YEAR_AHEAD.name, CZ.eic, [(y.start, y.end) for y in years], default_resolution="P7D"
    )
    assert [(c.expected, c.stored) for c in counts] == [(104, 104), (104, 104)]


# NL actual load, 40 days of quarter-hours (no DST change), fetched as of a later day.
_NL_START = datetime(2024, 2, 1, tzinfo=UTC)
NL_RANGE = (
    catalog.area("NL"),
    _NL_START,
    _windows(ACTUAL, _NL_START, _NL_START + timedelta(days=40), "%Y-%m-%d"),
    datetime(2024, 6, 1, tzinfo=UTC),
)


def test_a_history_range_is_stored_in_one_write_and_counted_per_partition_like_a_merge(
    make_simulator, own_database_url
):
    """A range the store holds nothing of is written in one COPY; a second run over it merges one
    partition at a time. Both report each partition's own points and store the same rows."""
    dsn = own_database_url
    storage.ensure_schema(dsn)
    sim = make_simulator()
    area, start, windows, now = NL_RANGE
    fill = _ingest(sim.url, dsn, ACTUAL, area, windows, now)
    assert not fill.failed
    assert [p.counts.inserted for p in fill.partitions] == [len(p.points) for p in fill.partitions]
    assert {len(p.points) for p in fill.partitions} == {96}  # NL: quarter-hours, no DST change here
    rows = query(
        dsn,
        "SELECT time, value FROM entsoe.observations WHERE endpoint = %s AND area = %s AND time >= %s "
        "AND time < %s ORDER BY time",
        (ACTUAL.name, area.eic, start, start + timedelta(days=40)),
    )
    assert len(rows) == 40 * 96

    again = _ingest(sim.url, dsn, ACTUAL, area, windows, now + timedelta(days=1))
    assert [(p.counts.inserted, p.counts.unchanged) for p in again.partitions] == [(0, 96)] * 40
    assert rows == query(
        dsn,
        "SELECT time, value FROM entsoe.observations WHERE endpoint = %s AND area = %s AND time >= %s "
        "AND time < %s ORDER BY time",
        (ACTUAL.name, area.eic, start, start + timedelta(days=40)),
    )


def test_a_range_around_stored_days_is_copied_around_them_and_merged_only_where_they_are(
    make_simulator, own_database_url, monkeypatch
):
    """A refill stored the newest day before the history run over it: only that day is merged, the
    other partitions of the run still go in COPYs, and every partition counts its own points."""
    dsn = own_database_url
    storage.ensure_schema(dsn)
    sim = make_simulator()
    area, start, windows, now = NL_RANGE
    _ingest(sim.url, dsn, ACTUAL, area, [windows[29]], now)
    merged: list[datetime] = []
    upsert = storage.upsert_points

    def spy(conn, endpoint, eic, points, **options):  # type: ignore[no-untyped-def]
        merged.append(points["time"].min())
        return upsert(conn, endpoint, eic, points, **options)

    monkeypatch.setattr(storage, "upsert_points", spy)
    fill = _ingest(sim.url, dsn, ACTUAL, area, windows, now)
    # Halving down to the stored day leaves a neighbour or two alone, merged (a transaction each
    # either way); the other partitions went in COPYs.
    assert windows[29].start in merged and len(merged) <= 3, f"merged {merged}"
    counts = [(p.counts.inserted, p.counts.unchanged) for p in fill.partitions]
    assert counts == [(96, 0)] * 29 + [(0, 96)] + [(96, 0)] * 10
    stored = query(
        dsn,
        "SELECT count(*) FROM entsoe.observations "
        "WHERE endpoint = %s AND area = %s AND time >= %s AND time < %s",
        (ACTUAL.name, area.eic, start, start + timedelta(days=40)),
    )
    assert stored == [(40 * 96,)]
