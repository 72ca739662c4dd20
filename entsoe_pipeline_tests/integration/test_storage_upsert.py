"""entsoe_pipeline/storage/upsert.py against real TimescaleDB and plain PostgreSQL databases.

Every test writes under an endpoint name of its own, so tests sharing the session database never
see each other's rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import psycopg2
import pytest

from entsoe_pipeline.storage import (
    InvalidPoints,
    StorageError,
    UpsertCounts,
    insert_new_points,
    rebuild_summary,
    upsert_points,
)

FR = "10YFR-RTE------C"
NL = "10YNL----------L"
START = datetime(2024, 3, 1, tzinfo=UTC)


def points(
    n: int = 96,
    *,
    start: datetime = START,
    freq: str = "15min",
    resolution: str = "PT15M",
    psr_types: tuple[str, ...] = ("",),
    value: float | np.ndarray = 100.0,
    area: str = FR,
    revision: int = 1,
) -> pd.DataFrame:
    times = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    frames = [
        pd.DataFrame(
            {
                "time": times,
                "value": np.broadcast_to(np.asarray(value, dtype="float64"), (n,)).copy() + i,
                "resolution": resolution,
                "business_type": "A04",
                "psr_type": psr,
                "variant": "",
                "area": area,
                "unit": "MAW",
                "document_mrid": "doc-1",
                "revision": revision,
            }
        )
        for i, psr in enumerate(psr_types)
    ]
    return pd.concat(frames, ignore_index=True)


def query(dsn: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def stored(dsn: str, endpoint: str) -> pd.DataFrame:
    rows = query(
        dsn,
        "SELECT time, psr_type, value, resolution, revision, document_mrid FROM entsoe.observations "
        "WHERE endpoint = %s ORDER BY psr_type, time",
        (endpoint,),
    )
    return pd.DataFrame(
        rows, columns=["time", "psr_type", "value", "resolution", "revision", "document_mrid"]
    )


def summary(dsn: str, endpoint: str) -> list[tuple[object, ...]]:
    return query(
        dsn,
        "SELECT area, business_type, psr_type, variant, day, points, covered, resolution"
        " FROM entsoe.daily_counts WHERE endpoint = %s ORDER BY 1, 2, 3, 4, 5",
        (endpoint,),
    )


def assert_summary_matches_raw(dsn: str, endpoint: str) -> None:
    maintained = summary(dsn, endpoint)
    rebuild_summary(dsn, endpoint=endpoint)
    assert maintained == summary(dsn, endpoint)


def test_first_write_inserts_every_point(dsn: str, endpoint: str) -> None:
    counts = upsert_points(dsn, endpoint, FR, points(96, psr_types=("B01", "B02")))
    assert counts == UpsertCounts(inserted=192, updated=0, unchanged=0)
    assert counts.written == 192
    assert len(stored(dsn, endpoint)) == 192
    assert_summary_matches_raw(dsn, endpoint)


def test_same_points_again_are_unchanged_and_not_rewritten(dsn: str, endpoint: str) -> None:
    batch = points(96)
    upsert_points(dsn, endpoint, FR, batch)
    xmin_before = query(
        dsn, "SELECT time, xmin::text FROM entsoe.observations WHERE endpoint = %s", (endpoint,)
    )
    counts = upsert_points(dsn, endpoint, FR, batch.assign(document_mrid="doc-2"))
    xmin_after = query(
        dsn, "SELECT time, xmin::text FROM entsoe.observations WHERE endpoint = %s", (endpoint,)
    )
    assert counts == UpsertCounts(inserted=0, updated=0, unchanged=96)
    assert xmin_after == xmin_before
    # A new document mRID alone is no change: ENTSO-E gives every answer a new one.
    assert set(stored(dsn, endpoint)["document_mrid"]) == {"doc-1"}


def test_counts_split_new_changed_and_unchanged_points(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, points(96))
    batch = points(120)  # 24 new points after the stored day
    batch.loc[:9, "value"] = 7.0  # 10 changed values
    counts = upsert_points(dsn, endpoint, FR, batch)
    assert counts == UpsertCounts(inserted=24, updated=10, unchanged=86)
    assert_summary_matches_raw(dsn, endpoint)


def test_a_revision_replaces_the_stored_value(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, points(4, value=100.0))
    revised = points(4, value=250.0, revision=2).assign(document_mrid="doc-2")
    counts = upsert_points(dsn, endpoint, FR, revised)
    rows = stored(dsn, endpoint)
    assert counts == UpsertCounts(inserted=0, updated=4, unchanged=0)
    assert rows["value"].tolist() == [250.0] * 4
    assert rows["revision"].tolist() == [2] * 4
    assert rows["document_mrid"].tolist() == ["doc-2"] * 4


def test_a_thinner_answer_deletes_nothing(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, points(96))
    thinner = points(96).iloc[::3]  # a re-fetch that lacks two thirds of the points
    counts = upsert_points(dsn, endpoint, FR, thinner.assign(value=thinner["value"] + 1))
    rows = stored(dsn, endpoint)
    assert counts.updated == 32
    assert len(rows) == 96
    assert rows["value"].tolist() == [101.0 if i % 3 == 0 else 100.0 for i in range(96)]


def test_duplicate_keys_in_one_batch_keep_the_last(dsn: str, endpoint: str) -> None:
    batch = pd.concat([points(4, value=1.0), points(4, value=2.0)], ignore_index=True)
    counts = upsert_points(dsn, endpoint, FR, batch)
    assert counts == UpsertCounts(inserted=4, updated=0, unchanged=0)
    assert stored(dsn, endpoint)["value"].tolist() == [2.0] * 4


def test_a_resolution_change_on_update_is_reflected_in_the_summary(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, points(24, freq="60min", resolution="PT60M"))
    counts = upsert_points(dsn, endpoint, FR, points(1, resolution="PT15M", value=3.0))
    assert counts.updated == 1
    assert_summary_matches_raw(dsn, endpoint)
    ((*_, day_points, covered, finest),) = summary(dsn, endpoint)
    assert (day_points, covered, str(finest)) == (24, 23 * 3600 + 900, "0:15:00")


def test_points_of_another_area_are_refused_naming_both(dsn: str, endpoint: str) -> None:
    with pytest.raises(ValueError, match=f"{NL}.*{FR}|{FR}.*{NL}"):
        upsert_points(dsn, endpoint, FR, points(4, area=NL))
    assert len(stored(dsn, endpoint)) == 0


def test_nan_value_is_refused_before_writing_naming_endpoint_area_and_range(dsn: str, endpoint: str) -> None:
    batch = points(96)
    batch.loc[50, "value"] = np.nan
    with pytest.raises(InvalidPoints) as info:
        upsert_points(dsn, endpoint, FR, batch)
    message = str(info.value)
    assert endpoint in message and FR in message
    assert "2024-03-01T00:00Z" in message and "2024-03-01T23:45Z" in message
    assert "NaN" in message and "2024-03-01T12:30Z" in message
    assert isinstance(info.value, StorageError)
    assert len(stored(dsn, endpoint)) == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b.assign(time=b["time"].dt.tz_localize(None)), "timezone-aware"),
        (lambda b: b.assign(time=b["time"] - pd.Timedelta(days=365 * 40)), "outside"),
        (lambda b: b.assign(value=b["value"].astype(str)), "numeric"),
        (lambda b: b.assign(resolution="PT15X"), "resolution"),
        (lambda b: b.assign(value=np.inf), "infinite"),
    ],
    ids=["naive-time", "time-out-of-range", "text-values", "bad-resolution", "infinite"],
)
def test_unwritable_points_are_refused_and_nothing_is_stored(
    dsn: str, endpoint: str, change: object, expected: str
) -> None:
    upsert_points(dsn, endpoint, FR, points(4, start=START - timedelta(days=1)))
    with pytest.raises(InvalidPoints, match=expected) as info:
        upsert_points(dsn, endpoint, FR, change(points(96)))  # type: ignore[operator]
    assert endpoint in str(info.value) and FR in str(info.value)
    assert len(stored(dsn, endpoint)) == 4


def _wait_until_blocked(dsn: str, pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = query(dsn, "SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", (pid,))[0][0]
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited for the lock")


@pytest.mark.parametrize("stored_before", [0, 96], ids=["new-range", "merge"])
def test_a_connection_killed_mid_write_stores_nothing(dsn: str, endpoint: str, stored_before: int) -> None:
    if stored_before:
        upsert_points(dsn, endpoint, FR, points(stored_before))
    batch = points(96 * 20, value=5.0)  # changes the stored day and adds 19 more
    writer = psycopg2.connect(dsn)
    pid = writer.get_backend_pid()
    blocker = psycopg2.connect(dsn)
    outcome: list[BaseException | UpsertCounts] = []

    def write() -> None:
        try:
            outcome.append(upsert_points(writer, endpoint, FR, batch))
        except BaseException as exc:
            outcome.append(exc)

    try:
        with blocker.cursor() as cur:
            # The write inserts its points, then waits here for the summary: kill it right there.
            cur.execute("LOCK TABLE entsoe.daily_counts IN EXCLUSIVE MODE")
            thread = threading.Thread(target=write)
            thread.start()
            _wait_until_blocked(dsn, pid)
            query(dsn, "SELECT pg_terminate_backend(%s)", (pid,))
        blocker.rollback()
        thread.join(timeout=30)
    finally:
        blocker.close()
        writer.close()
    assert len(outcome) == 1 and isinstance(outcome[0], StorageError), outcome
    message = str(outcome[0])
    assert endpoint in message and FR in message and "2024-03-01T00:00Z" in message
    password = urlsplit(dsn).password
    assert not password or password not in message
    rows = stored(dsn, endpoint)
    assert len(rows) == stored_before
    assert set(rows["value"]) <= {100.0}
    assert_summary_matches_raw(dsn, endpoint)


def test_concurrent_writers_of_overlapping_ranges_leave_one_row_per_key(dsn: str, endpoint: str) -> None:
    writers = 4
    batches = [
        points(96 * 3, start=START + timedelta(hours=6 * i), psr_types=("B01", "B02", "B03"), value=float(i))
        for i in range(writers)
    ]
    barrier = threading.Barrier(writers)
    results: list[UpsertCounts] = []
    errors: list[BaseException] = []

    def write(batch: pd.DataFrame) -> None:
        barrier.wait()
        try:
            results.append(upsert_points(dsn, endpoint, FR, batch))
        except BaseException as exc:
            errors.append(exc)

    for _round in range(3):
        threads = [threading.Thread(target=write, args=(b,)) for b in batches]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert errors == []
    keys = pd.concat(batches)[["psr_type", "time"]].drop_duplicates()
    rows = stored(dsn, endpoint)
    assert len(rows) == len(keys)
    assert not rows.duplicated(["psr_type", "time"]).any()
    assert sum(r.inserted for r in results) == len(keys)
    assert_summary_matches_raw(dsn, endpoint)


def test_new_range_and_merge_paths_store_identical_rows(dsn: str, endpoint: str) -> None:
    other = endpoint + "_merge"
    batch = points(200, psr_types=("B01", ""), value=np.linspace(-5.5, 1e6, 200)).assign(
        variant=["", "consumption"] * 200, document_mrid="mrid-ü"
    )
    upsert_points(dsn, endpoint, FR, batch)  # nothing stored in the range: straight COPY
    # A point of another series inside the range makes the second write merge.
    upsert_points(dsn, other, FR, points(1, start=START + timedelta(hours=1), psr_types=("B99",)))
    upsert_points(dsn, other, FR, batch)
    columns = "time, area, business_type, psr_type, variant, resolution, value, unit, document_mrid, revision"
    direct = query(
        dsn, f"SELECT {columns} FROM entsoe.observations WHERE endpoint = %s ORDER BY 4, 5, 1", (endpoint,)
    )
    merged = query(
        dsn,
        f"SELECT {columns} FROM entsoe.observations WHERE endpoint = %s AND psr_type <> 'B99'"
        " ORDER BY 4, 5, 1",
        (other,),
    )
    assert direct == merged
    assert len(direct) == 400


def test_a_key_stored_during_the_write_makes_it_merge_instead(dsn: str, endpoint: str) -> None:
    blocker = psycopg2.connect(dsn)
    writer = psycopg2.connect(dsn)
    outcome: list[BaseException | UpsertCounts] = []

    def write() -> None:
        try:
            outcome.append(upsert_points(writer, endpoint, FR, points(96)))
        except BaseException as exc:
            outcome.append(exc)

    try:
        with blocker.cursor() as cur:
            # Not yet committed: the write sees an empty range, COPYs, and waits on this key.
            cur.execute(
                "INSERT INTO entsoe.observations (time, endpoint, area, business_type, resolution, value,"
                " unit, fetched_at) VALUES (%s, %s, %s, 'A04', 'PT15M', 1, 'MAW', now())",
                (START + timedelta(hours=5), endpoint, FR),
            )
            thread = threading.Thread(target=write)
            thread.start()
            _wait_until_blocked(dsn, writer.get_backend_pid())
        blocker.commit()
        thread.join(timeout=30)
    finally:
        blocker.close()
        writer.close()
    assert outcome == [UpsertCounts(inserted=95, updated=1, unchanged=0)]
    assert stored(dsn, endpoint)["value"].tolist() == [100.0] * 96


def test_a_connection_can_be_passed_and_stays_open(dsn: str, endpoint: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        counts = upsert_points(conn, endpoint, FR, points(8))
        assert not conn.closed
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM entsoe.observations WHERE endpoint = %s", (endpoint,))
            assert cur.fetchone() == (8,)
    finally:
        conn.close()
    assert counts.inserted == 8


def test_an_empty_batch_writes_nothing(dsn: str, endpoint: str) -> None:
    assert upsert_points(dsn, endpoint, FR, points(0)) == UpsertCounts(0, 0, 0)


def test_fetched_at_is_stored_as_given(dsn: str, endpoint: str) -> None:
    when = datetime(2024, 3, 2, 12, 30, tzinfo=UTC)
    upsert_points(dsn, endpoint, FR, points(2), fetched_at=when)
    assert query(
        dsn, "SELECT DISTINCT fetched_at FROM entsoe.observations WHERE endpoint = %s", (endpoint,)
    ) == [(when,)]


@pytest.fixture
def sqlalchemy_style_dsn(dsn: str) -> Iterator[str]:
    yield dsn.replace("postgresql://", "postgresql+psycopg2://", 1)


def test_sqlalchemy_style_dsn_is_accepted(sqlalchemy_style_dsn: str, endpoint: str) -> None:
    assert upsert_points(sqlalchemy_style_dsn, endpoint, FR, points(3)).inserted == 3


def test_insert_new_points_copies_into_an_empty_range_and_leaves_a_stored_one_alone(
    dsn: str, endpoint: str
) -> None:
    first = insert_new_points(dsn, endpoint, FR, points(96, psr_types=("B01", "B02")))
    assert first == UpsertCounts(inserted=192, updated=0, unchanged=0)
    assert_summary_matches_raw(dsn, endpoint)
    before = stored(dsn, endpoint)
    # A range that holds rows: nothing written, not even the changed values; upsert_points merges.
    assert insert_new_points(dsn, endpoint, FR, points(96, psr_types=("B01",), value=5.0)) is None
    pd.testing.assert_frame_equal(stored(dsn, endpoint), before)
    later = points(96, start=START + timedelta(days=1), psr_types=("B01",))
    assert insert_new_points(dsn, endpoint, FR, later) == UpsertCounts(inserted=96, updated=0, unchanged=0)
    assert len(stored(dsn, endpoint)) == 288
    assert_summary_matches_raw(dsn, endpoint)
