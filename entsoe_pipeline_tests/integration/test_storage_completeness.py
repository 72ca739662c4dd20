"""entsoe_pipeline/storage/completeness.py: expected versus stored points per window, from the raw
points (window_completeness) and from the summary (incomplete_windows)."""

from __future__ import annotations

import math
import random
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg2
import pytest

from entsoe_pipeline.catalog import AREAS, Granularity
from entsoe_pipeline.storage import (
    IncompleteWindow,
    SeriesSpec,
    incomplete_windows,
    rebuild_summary,
    record_empty_window,
    upsert_points,
    window_completeness,
)

FR = AREAS["FR"].eic
DE_LU = AREAS["DE_LU"].eic
NL = AREAS["NL"].eic
DAY = timedelta(days=1)
QUARTER = timedelta(minutes=15)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


def regular(
    start: datetime, end: datetime, step: timedelta, resolution: str, **columns: object
) -> pd.DataFrame:
    times = pd.date_range(start, end, freq=step, inclusive="left")
    return pd.DataFrame({"time": times, "value": 1.0, "resolution": resolution, "unit": "MAW", **columns})


def local_steps(first: str, last: str, freq: str, tz: str) -> pd.DatetimeIndex:
    return pd.date_range(first, last, freq=freq, tz=ZoneInfo(tz)).tz_convert("UTC")


def execute(dsn: str, statement: str, params: tuple[object, ...] = ()) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
    finally:
        conn.close()


def counts(result: list) -> list[tuple[int, int]]:
    return [(w.expected, w.stored) for w in result]


# --- window_completeness -------------------------------------------------------------------------


def test_a_utc_day_of_quarter_hours_expects_96_even_on_dst_days(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, DE_LU, regular(utc(2024, 3, 30), utc(2024, 4, 2), QUARTER, "PT15M"))
    days = [(utc(2024, 3, 30) + i * DAY, utc(2024, 3, 30) + (i + 1) * DAY) for i in range(3)]

    result = window_completeness(dsn, endpoint, DE_LU, days, default_resolution=QUARTER)

    assert counts(result) == [(96, 96)] * 3
    assert all(w.complete and w.missing == 0 for w in result)


def test_a_partial_window_expects_only_its_own_length(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, regular(utc(2024, 5, 1), utc(2024, 5, 1, 10), QUARTER, "PT15M"))

    (window,) = window_completeness(
        dsn, endpoint, FR, [(utc(2024, 5, 1), utc(2024, 5, 1, 12))], default_resolution=QUARTER
    )

    assert (window.expected, window.stored, window.missing) == (48, 40, 8)


def test_nothing_stored_expects_the_default_resolution(dsn: str, endpoint: str) -> None:
    windows = [(utc(2024, 5, 1), utc(2024, 5, 2)), (utc(2024, 5, 2), utc(2024, 5, 3))]

    result = window_completeness(dsn, endpoint, FR, windows, default_resolution=timedelta(hours=1))

    assert counts(result) == [(24, 0), (24, 0)]


def test_a_resolution_change_at_noon_expects_12_hours_plus_48_quarters(dsn: str, endpoint: str) -> None:
    batch = pd.concat(
        [
            regular(utc(2024, 5, 1), utc(2024, 5, 1, 12), timedelta(hours=1), "PT60M"),
            regular(utc(2024, 5, 1, 12), utc(2024, 5, 3), QUARTER, "PT15M"),
        ]
    )
    upsert_points(dsn, endpoint, FR, batch)
    windows = [(utc(2024, 5, 1), utc(2024, 5, 2)), (utc(2024, 5, 2), utc(2024, 5, 3))]

    assert counts(window_completeness(dsn, endpoint, FR, windows, default_resolution=QUARTER)) == [
        (60, 60),
        (96, 96),
    ]


def test_a_missing_day_takes_the_resolution_stored_next_to_it(dsn: str, endpoint: str) -> None:
    batch = pd.concat(
        [
            regular(utc(2024, 5, 1), utc(2024, 5, 2), timedelta(hours=1), "PT60M"),
            regular(utc(2024, 5, 3), utc(2024, 5, 4), timedelta(hours=1), "PT60M"),
        ]
    )
    upsert_points(dsn, endpoint, FR, batch)

    (window,) = window_completeness(
        dsn, endpoint, FR, [(utc(2024, 5, 2), utc(2024, 5, 3))], default_resolution=QUARTER
    )

    assert (window.expected, window.stored) == (24, 0)


def test_min_and_max_series_sum_over_a_week_of_daily_points(dsn: str, endpoint: str) -> None:
    days = local_steps("2024-03-24", "2024-04-14", "D", "Europe/Berlin")  # across the spring DST change
    batch = pd.concat(
        [
            pd.DataFrame(
                {"time": days, "value": 1.0, "resolution": "P1D", "business_type": bt, "unit": "MAW"}
            )
            for bt in ("A60", "A61")
        ]
    )
    batch = batch[~((batch["business_type"] == "A61") & (batch["time"] == pd.Timestamp("2024-04-02T22:00Z")))]
    upsert_points(dsn, endpoint, DE_LU, batch)
    weeks = [(utc(2024, 3, 25), utc(2024, 4, 1)), (utc(2024, 4, 1), utc(2024, 4, 8))]

    result = window_completeness(dsn, endpoint, DE_LU, weeks, default_resolution=DAY)

    assert counts(result) == [(14, 14), (14, 13)]


def test_weekly_points_expect_the_steps_that_start_in_each_month(dsn: str, endpoint: str) -> None:
    weeks = local_steps("2024-01-01", "2024-12-30", "7D", "Europe/Berlin")  # Mondays, local midnight
    batch = pd.DataFrame({"time": weeks, "value": 1.0, "resolution": "P7D", "unit": "MAW"})
    upsert_points(dsn, endpoint, DE_LU, batch.drop(index=10))
    months = [(utc(2024, m, 1), utc(2024, m + 1, 1)) for m in range(1, 12)]

    result = window_completeness(dsn, endpoint, DE_LU, months, default_resolution="P7D")

    # A week counts in the month of the local day it starts: Monday 2024-01-01 starts
    # 2023-12-31T23:00Z and is January's first week.
    local_days = pd.Series(weeks.tz_convert("Europe/Berlin").date)
    expected = [int(((local_days >= s.date()) & (local_days < e.date())).sum()) for s, e in months]
    assert [w.expected for w in result] == expected
    dropped = weeks.tz_convert("Europe/Berlin")[10].date()
    assert [w.expected - w.stored for w in result] == [
        1 if s.date() <= dropped < e.date() else 0 for s, e in months
    ]
    assert set(expected) == {4, 5}
    assert result[0].expected == 5  # Mondays 1, 8, 15, 22 and 29 January


def test_a_local_year_value_counts_in_the_year_it_describes_not_the_utc_year_it_starts(
    dsn: str, endpoint: str
) -> None:
    start_2026 = pd.Timestamp("2025-12-31T23:00Z")  # local midnight of 2026-01-01 in Berlin
    upsert_points(
        dsn,
        endpoint,
        DE_LU,
        pd.DataFrame({"time": [start_2026], "value": 1.0, "resolution": "P1Y", "unit": "MAW"}),
    )
    years = [(utc(2025, 1, 1), utc(2026, 1, 1)), (utc(2026, 1, 1), utc(2027, 1, 1))]

    result = window_completeness(dsn, endpoint, DE_LU, years, default_resolution="P1Y")

    assert [w.stored for w in result] == [0, 1]
    assert result[1].complete


def test_a_year_of_a_yearly_value_expects_one_point(dsn: str, endpoint: str) -> None:
    years = local_steps("2020-01-01", "2023-01-01", "YS", "Europe/Berlin")  # starts 2019-12-31T23:00Z
    upsert_points(
        dsn, endpoint, DE_LU, pd.DataFrame({"time": years, "value": 1.0, "resolution": "P1Y", "unit": "MAW"})
    )

    result = window_completeness(
        dsn,
        endpoint,
        DE_LU,
        [(utc(y, 1, 1), utc(y + 1, 1, 1)) for y in (2020, 2021, 2022)],
        default_resolution="P1Y",
    )

    assert counts(result) == [(1, 1)] * 3


def test_overlapping_windows_are_refused(dsn: str, endpoint: str) -> None:
    with pytest.raises(ValueError, match="overlap"):
        window_completeness(
            dsn,
            endpoint,
            FR,
            [(utc(2024, 5, 1), utc(2024, 5, 3)), (utc(2024, 5, 2), utc(2024, 5, 4))],
            default_resolution=QUARTER,
        )


def test_confirmed_empty_windows_report_their_tries(dsn: str, endpoint: str) -> None:
    assert record_empty_window(dsn, endpoint, FR, utc(2024, 5, 1), utc(2024, 5, 29)) == 1
    assert record_empty_window(dsn, endpoint, FR, utc(2024, 5, 1), utc(2024, 5, 29)) == 2

    inside, outside = window_completeness(
        dsn,
        endpoint,
        FR,
        [(utc(2024, 5, 3), utc(2024, 5, 4)), (utc(2024, 5, 29), utc(2024, 5, 30))],
        default_resolution=QUARTER,
    )

    assert (inside.confirmed_empty_tries, outside.confirmed_empty_tries) == (2, 0)


# --- incomplete_windows --------------------------------------------------------------------------


def brute_force_short_days(
    series: dict[str, list[tuple[datetime, timedelta]]], start: datetime, end: datetime, default: timedelta
) -> dict[datetime, tuple[int, int]]:
    """Per UTC day: (expected, stored) by the documented rule, computed from the points in Python."""
    days = pd.date_range(start, end, freq="D", inclusive="left").to_pydatetime()
    short: dict[datetime, int] = dict.fromkeys(days, 0)
    stored: dict[datetime, int] = dict.fromkeys(days, 0)
    alive_any = dict.fromkeys(days, False)
    for pts in series.values():
        by_day: dict[datetime, list[tuple[datetime, timedelta]]] = {}
        for t, r in pts:
            by_day.setdefault(t.replace(hour=0, minute=0), []).append((t, r))
        first_day, last_day = min(by_day), max(by_day)
        present = sorted(by_day)
        for day in days:
            if not first_day <= day <= last_day:
                continue
            alive_any[day] = True
            here = by_day.get(day, [])
            if here:
                resolution = min(r for _, r in here)
            else:  # nothing that day: the resolution of the day with points before it
                before = [d for d in present if d < day]
                resolution = min(r for _, r in by_day[before[-1]])
            uncovered = DAY - sum((r for _, r in here), timedelta(0))
            stored[day] += len(here)
            short[day] += math.ceil(uncovered / resolution)
    for day in days:
        if not alive_any[day]:
            short[day] = DAY // default
    return {d: (stored[d] + short[d], stored[d]) for d in days if short[d]}


def random_points(rng: random.Random, first: datetime, days: int) -> list[tuple[datetime, timedelta]]:
    change = first + timedelta(hours=rng.randrange(24, days * 24 - 24))
    pts = []
    t = first
    while t < first + days * DAY:
        r = QUARTER if t < change else timedelta(hours=1)
        pts.append((t, r))
        t += r
    for _ in range(rng.randrange(2, 8)):
        at = rng.randrange(len(pts))
        del pts[at : at + rng.randrange(1, 150)]
    return pts


def as_frame(series: dict[str, list[tuple[datetime, timedelta]]]) -> pd.DataFrame:
    rows = [
        {
            "time": t,
            "value": 1.0,
            "resolution": f"PT{int(r.total_seconds() // 60)}M",
            "psr_type": psr,
            "unit": "MAW",
        }
        for psr, pts in series.items()
        for t, r in pts
    ]
    out = pd.DataFrame(rows)
    out["time"] = pd.to_datetime(out["time"], utc=True)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_incomplete_days_match_brute_force_on_random_holes(dsn: str, endpoint: str, seed: int) -> None:
    rng = random.Random(seed)
    first = utc(2024, 3, 20)
    series = {"B01": random_points(rng, first, 20), "B02": random_points(rng, first + 3 * DAY, 12)}
    upsert_points(dsn, endpoint, FR, as_frame(series))
    start, end = first - 2 * DAY, first + 24 * DAY

    found = incomplete_windows(dsn, [SeriesSpec(endpoint, FR, QUARTER)], start, end, Granularity.DAILY)

    expected = brute_force_short_days(series, start, end, QUARTER)
    assert {w.start: (w.expected, w.stored) for w in found} == expected
    assert all(w.end - w.start == DAY and w.endpoint == endpoint and w.area == FR for w in found)


def test_a_week_deleted_by_hand_is_found(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, regular(utc(2024, 1, 1), utc(2024, 3, 1), QUARTER, "PT15M"))
    spec = SeriesSpec(endpoint, FR, QUARTER)
    assert incomplete_windows(dsn, [spec], utc(2024, 1, 1), utc(2024, 3, 1), Granularity.DAILY) == []

    execute(
        dsn,
        "DELETE FROM entsoe.observations WHERE endpoint = %s AND time >= %s AND time < %s",
        (endpoint, utc(2024, 2, 5), utc(2024, 2, 12)),
    )
    found = incomplete_windows(dsn, [spec], utc(2024, 1, 1), utc(2024, 3, 1), Granularity.DAILY)

    assert [(w.start, w.expected, w.stored) for w in found] == [
        (utc(2024, 2, 5) + i * DAY, 96, 0) for i in range(7)
    ]


def test_many_series_at_once_each_get_their_own_windows(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, regular(utc(2024, 1, 1), utc(2024, 1, 10), QUARTER, "PT15M"))
    upsert_points(
        dsn, endpoint, DE_LU, regular(utc(2024, 1, 1), utc(2024, 1, 8), timedelta(hours=1), "PT60M")
    )
    specs = [SeriesSpec(endpoint, a, QUARTER) for a in (FR, DE_LU, NL)]

    found = incomplete_windows(dsn, specs, utc(2024, 1, 1), utc(2024, 1, 10), Granularity.DAILY)

    by_area: dict[str, list[IncompleteWindow]] = {}
    for w in found:
        by_area.setdefault(w.area, []).append(w)
    assert FR not in by_area
    # after its last point DE_LU has no series alive: one series at the default resolution
    assert [(w.start, w.expected) for w in by_area[DE_LU]] == [(utc(2024, 1, 8), 96), (utc(2024, 1, 9), 96)]
    assert len(by_area[NL]) == 9 and {(w.expected, w.stored) for w in by_area[NL]} == {(96, 0)}


def test_weeks_start_on_monday_and_cover_the_whole_range(dsn: str, endpoint: str) -> None:
    days = local_steps("2024-01-01", "2024-02-29", "D", "Europe/Berlin")
    batch = pd.DataFrame({"time": days, "value": 1.0, "resolution": "P1D", "unit": "MAW"})
    upsert_points(dsn, endpoint, DE_LU, batch[batch["time"] != pd.Timestamp("2024-01-16T23:00Z")])

    found = incomplete_windows(
        dsn, [SeriesSpec(endpoint, DE_LU, DAY)], utc(2024, 1, 3), utc(2024, 2, 20), Granularity.WEEKLY
    )

    # 2024-01-01 is a Monday: the first window is that week, though the range starts on the 3rd.
    # Each week holds 7 local-midnight starts (local Tuesday to the next Monday).
    assert [(w.start, w.end, w.expected, w.stored) for w in found] == [
        (utc(2024, 1, 15), utc(2024, 1, 22), 7, 6)
    ]


def test_empty_window_tries_come_with_the_incomplete_windows(dsn: str, endpoint: str) -> None:
    record_empty_window(dsn, endpoint, NL, utc(2024, 1, 1), utc(2024, 1, 3))
    record_empty_window(dsn, endpoint, NL, utc(2024, 1, 1), utc(2024, 1, 3))
    record_empty_window(dsn, endpoint, NL, utc(2024, 1, 1), utc(2024, 1, 3))

    found = incomplete_windows(
        dsn, [SeriesSpec(endpoint, NL, QUARTER)], utc(2024, 1, 1), utc(2024, 1, 4), Granularity.DAILY
    )

    assert [w.empty_tries for w in found] == [3, 3, 0]


def test_summary_stays_equal_to_a_rebuild_through_writes_deletes_and_updates(dsn: str, endpoint: str) -> None:
    upsert_points(
        dsn, endpoint, FR, regular(utc(2024, 1, 1), utc(2024, 1, 5), QUARTER, "PT15M", psr_type="B01")
    )
    upsert_points(
        dsn, endpoint, FR, regular(utc(2024, 1, 3), utc(2024, 1, 8), QUARTER, "PT15M", psr_type="B01")
    )
    execute(
        dsn, "DELETE FROM entsoe.observations WHERE endpoint = %s AND time < %s", (endpoint, utc(2024, 1, 2))
    )
    execute(
        dsn,
        "UPDATE entsoe.observations SET resolution = '1 hour'"
        " WHERE endpoint = %s AND time >= %s AND time < %s",
        (endpoint, utc(2024, 1, 4), utc(2024, 1, 4, 6)),
    )

    def snapshot() -> list[tuple[object, ...]]:
        conn = psycopg2.connect(dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT * FROM entsoe.daily_counts WHERE endpoint = %s ORDER BY 1, 2, 3, 4, 5, 6, 7",
                    (endpoint,),
                )
                return cur.fetchall()
        finally:
            conn.close()

    maintained = snapshot()
    assert rebuild_summary(dsn, endpoint=endpoint) == len(maintained)
    assert snapshot() == maintained


def test_a_month_between_two_writes_is_found(dsn: str, endpoint: str) -> None:
    upsert_points(dsn, endpoint, FR, regular(utc(2024, 3, 1), utc(2024, 4, 1), QUARTER, "PT15M"))
    upsert_points(dsn, endpoint, FR, regular(utc(2024, 5, 1), utc(2024, 6, 1), QUARTER, "PT15M"))

    found = incomplete_windows(
        dsn,
        [SeriesSpec(endpoint, FR, timedelta(hours=1))],
        utc(2024, 3, 1),
        utc(2024, 6, 1),
        Granularity.DAILY,
    )

    # inside the series' lifetime the missing days expect its own resolution, not the default
    assert [(w.start, w.expected, w.stored) for w in found] == [
        (utc(2024, 4, d), 96, 0) for d in range(1, 31)
    ]


def test_first_writes_of_a_new_series_at_once_leave_no_day_unaccounted(dsn: str, endpoint: str) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(start: datetime, end: datetime) -> None:
        barrier.wait()
        try:
            upsert_points(dsn, endpoint, FR, regular(start, end, QUARTER, "PT15M"))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(utc(2024, 3, 1), utc(2024, 4, 1))),
        threading.Thread(target=write, args=(utc(2024, 5, 1), utc(2024, 6, 1))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    found = incomplete_windows(
        dsn, [SeriesSpec(endpoint, FR, QUARTER)], utc(2024, 3, 1), utc(2024, 6, 1), Granularity.DAILY
    )
    assert errors == []
    assert [w.start for w in found] == [utc(2024, 4, d) for d in range(1, 31)]
    assert summary_rows(dsn, endpoint) == rebuilt_rows(dsn, endpoint)


def summary_rows(dsn: str, endpoint: str) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT area, business_type, psr_type, variant, day, points, covered, resolution"
                " FROM entsoe.daily_counts WHERE endpoint = %s ORDER BY 1, 2, 3, 4, 5",
                (endpoint,),
            )
            return cur.fetchall()
    finally:
        conn.close()


def rebuilt_rows(dsn: str, endpoint: str) -> list[tuple[object, ...]]:
    rebuild_summary(dsn, endpoint=endpoint)
    return summary_rows(dsn, endpoint)


@pytest.mark.parametrize("seed", range(4))
def test_summary_equals_a_rebuild_after_random_writes_and_deletes(dsn: str, endpoint: str, seed: int) -> None:
    rng = random.Random(seed)
    origin = utc(2024, 1, 1)
    for _ in range(12):
        if rng.random() < 0.7:
            start = origin + QUARTER * rng.randrange(0, 96 * 60)
            batch = regular(start, start + QUARTER * rng.randrange(1, 96 * 9), QUARTER, "PT15M")
            batch = batch.assign(psr_type=rng.choice(["B01", "B02"]))
            keep = [rng.random() > 0.05 for _ in range(len(batch))]  # scattered missing points
            upsert_points(dsn, endpoint, FR, batch[keep])
        else:
            start = origin + QUARTER * rng.randrange(0, 96 * 60)
            execute(
                dsn,
                "DELETE FROM entsoe.observations WHERE endpoint = %s AND time >= %s AND time < %s",
                (endpoint, start, start + QUARTER * rng.randrange(1, 96 * 5)),
            )
        maintained = summary_rows(dsn, endpoint)
        assert maintained == rebuilt_rows(dsn, endpoint)
