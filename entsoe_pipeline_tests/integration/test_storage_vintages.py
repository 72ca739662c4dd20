"""entsoe_pipeline/storage/vintages.py: revisions and re-published resolutions keep what they
replaced, and "as known at T" is a query; on TimescaleDB and plain PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg2

from entsoe_pipeline.storage import rebuild_summary, upsert_points, window_completeness
from entsoe_pipeline_tests.integration.test_storage_upsert import FR, points, query

DAY = datetime(2025, 6, 2, tzinfo=UTC)
FIRST = datetime(2025, 6, 3, 8, tzinfo=UTC)  # createdDateTime of the first answer
REVISED = datetime(2025, 6, 20, 8, tzinfo=UTC)  # and of the revised one


def answer(created: datetime, *, value: float = 100.0, n: int = 96, freq: str = "15min", resolution="PT15M"):
    batch = points(n, start=DAY, freq=freq, resolution=resolution, value=value)
    batch["document_created"] = pd.Timestamp(created)
    return batch


def as_of(dsn: str, endpoint: str, moment: datetime) -> list[tuple[datetime, float, str]]:
    rows = query(
        dsn,
        "SELECT time, value, resolution::text FROM entsoe.observations_as_of(%s) "
        "WHERE endpoint = %s AND area = %s ORDER BY time",
        (moment, endpoint, FR),
    )
    return [(t, v, r) for t, v, r in rows]


def history(dsn: str, endpoint: str) -> list[tuple[object, ...]]:
    return query(
        dsn,
        "SELECT time, value, resolution::text, document_created, replaced_by_created, change "
        "FROM entsoe.observation_history WHERE endpoint = %s ORDER BY time",
        (endpoint,),
    )


def test_every_row_records_the_vintage_of_its_document(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, answer(FIRST))
    vintages = query(
        dsn, "SELECT DISTINCT document_created FROM entsoe.observations WHERE endpoint = %s", (endpoint,)
    )
    assert vintages == [(FIRST,)]


def test_a_revised_value_goes_to_the_history_with_both_vintages(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, answer(FIRST, value=100.0))
    revised = answer(REVISED, value=100.0)
    revised.loc[revised.index[:4], "value"] = 120.0  # the first hour is corrected
    counts = upsert_points(dsn, endpoint, FR, revised)

    assert (counts.updated, counts.unchanged) == (4, 92)
    kept = history(dsn, endpoint)
    assert [(t, v, c) for t, v, _, _, _, c in kept] == [
        (DAY + timedelta(minutes=15 * i), 100.0, "revised") for i in range(4)
    ]
    assert {(created, by) for _, _, _, created, by, _ in kept} == {(FIRST, REVISED)}
    # Unchanged points keep the vintage they were first published with.
    assert query(
        dsn,
        "SELECT count(*) FROM entsoe.observations WHERE endpoint = %s AND document_created = %s",
        (endpoint, FIRST),
    ) == [(92,)]


def test_as_of_a_time_gives_what_was_known_then(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, answer(FIRST, value=100.0))
    upsert_points(dsn, endpoint, FR, answer(REVISED, value=110.0))

    assert as_of(dsn, endpoint, FIRST - timedelta(minutes=1)) == []
    assert {v for _, v, _ in as_of(dsn, endpoint, FIRST)} == {100.0}
    assert {v for _, v, _ in as_of(dsn, endpoint, REVISED - timedelta(seconds=1))} == {100.0}
    assert {v for _, v, _ in as_of(dsn, endpoint, REVISED + timedelta(days=1))} == {110.0}
    assert len(as_of(dsn, endpoint, REVISED)) == 96


def test_a_hand_made_update_is_kept_in_the_history_too(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, answer(FIRST))
    query(
        dsn,
        "UPDATE entsoe.observations SET value = 1 WHERE endpoint = %s AND time = %s",
        (endpoint, DAY),
    )
    assert [(t, v, c) for t, v, _, _, _, c in history(dsn, endpoint)] == [(DAY, 100.0, "revised")]


def test_a_day_re_published_hourly_supersedes_the_quarter_hours(dsn: str, endpoint: str) -> None:
    neighbour = points(96, start=DAY + timedelta(days=1), value=50.0)  # the next day stays PT15M
    neighbour["document_created"] = pd.Timestamp(FIRST)
    upsert_points(dsn, endpoint, FR, answer(FIRST))
    upsert_points(dsn, endpoint, FR, neighbour)

    counts = upsert_points(
        dsn, endpoint, FR, answer(REVISED, value=105.0, n=24, freq="1h", resolution="PT60M")
    )

    assert (counts.updated, counts.superseded) == (24, 72)
    day_rows = query(
        dsn,
        "SELECT count(*), min(resolution)::text, max(resolution)::text FROM entsoe.observations "
        "WHERE endpoint = %s AND time >= %s AND time < %s",
        (endpoint, DAY, DAY + timedelta(days=1)),
    )
    assert day_rows == [(24, "01:00:00", "01:00:00")]
    assert query(
        dsn,
        "SELECT count(*) FROM entsoe.observations WHERE endpoint = %s AND time >= %s",
        (endpoint, DAY + timedelta(days=1)),
    ) == [(96,)]
    changes = pd.DataFrame(
        history(dsn, endpoint), columns=["time", "value", "res", "created", "by", "change"]
    )
    assert changes.groupby("change").size().to_dict() == {"revised": 24, "superseded": 72}
    assert set(changes["by"]) == {REVISED}
    # What was known before the re-publication is still a query.
    before = as_of(dsn, endpoint, REVISED - timedelta(hours=1))
    assert len([r for r in before if r[0] < DAY + timedelta(days=1)]) == 96
    # The summary agrees with the rows: the day is complete at PT60M.
    (day,) = window_completeness(
        dsn, endpoint, FR, [(DAY, DAY + timedelta(days=1))], default_resolution="PT15M"
    )
    assert (day.expected, day.stored) == (24, 24)
    summary = query(
        dsn,
        "SELECT day, points FROM entsoe.daily_counts WHERE endpoint = %s ORDER BY day",
        (endpoint,),
    )
    rebuild_summary(dsn, endpoint, FR)
    assert (
        query(
            dsn,
            "SELECT day, points FROM entsoe.daily_counts WHERE endpoint = %s ORDER BY day",
            (endpoint,),
        )
        == summary
    )


def test_a_thinner_answer_at_the_same_resolution_supersedes_nothing(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, answer(FIRST))
    counts = upsert_points(dsn, endpoint, FR, answer(REVISED).iloc[::2])
    assert (counts.superseded, counts.unchanged) == (0, 48)
    assert query(dsn, "SELECT count(*) FROM entsoe.observations WHERE endpoint = %s", (endpoint,)) == [(96,)]
    assert history(dsn, endpoint) == []


def test_quarter_hours_after_a_new_hourly_range_are_superseded_too(dsn: str, endpoint: str) -> None:
    # Only 23:15..23:45 are stored; an hourly first answer for the day covers them with its 23:00 point.
    late = points(3, start=DAY + timedelta(hours=23, minutes=15))
    upsert_points(dsn, endpoint, FR, late)
    counts = upsert_points(dsn, endpoint, FR, answer(REVISED, n=24, freq="1h", resolution="PT60M"))
    assert (counts.inserted, counts.superseded) == (24, 3)
    assert query(dsn, "SELECT count(*) FROM entsoe.observations WHERE endpoint = %s", (endpoint,)) == [(24,)]


def test_the_as_of_function_is_inlined_so_filters_reach_the_indexes(dsn: str, endpoint: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "EXPLAIN SELECT * FROM entsoe.observations_as_of(now()) "
                "WHERE endpoint = %s AND area = %s AND time >= %s",
                (endpoint, FR, DAY),
            )
            plan = "\n".join(r[0] for r in cur.fetchall())
    finally:
        conn.close()
    assert "Function Scan" not in plan
    assert "observation_history" in plan
