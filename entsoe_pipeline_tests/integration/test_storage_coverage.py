"""entsoe_pipeline/storage/coverage.py: missing intervals in SQL against a brute-force computation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg2
import pytest

from entsoe_pipeline.catalog import AREAS
from entsoe_pipeline.storage import latest_points, series_coverage, upsert_points

FR = AREAS["FR"].eic
DE_LU = AREAS["DE_LU"].eic
DAY = timedelta(days=1)


Point = tuple[datetime, timedelta]  # start, length (sub-daily)


def frame(series: dict[str, list[Point]], area: str = FR) -> pd.DataFrame:
    rows = [
        {
            "time": t,
            "value": float(i),
            "resolution": f"PT{int(r.total_seconds() // 60)}M",
            "business_type": "A75",
            "psr_type": psr,
            "variant": "",
            "unit": "MAW",
        }
        for psr, pts in series.items()
        for i, (t, r) in enumerate(pts)
    ]
    out = pd.DataFrame(rows)
    out["time"] = pd.to_datetime(out["time"], utc=True)
    return out


def brute_force_missing(pts: list[Point], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) minus the union of [t, t + r), walking a sorted list of intervals."""
    gaps = []
    reach = start
    for t, r in sorted(pts):
        if t > reach and reach < end:
            gaps.append((reach, min(t, end)))
        reach = max(reach, t + r)
    if reach < end:
        gaps.append((reach, end))
    return [(s, e) for s, e in gaps if s < e]


def random_series(rng: random.Random, first: datetime, days: int) -> list[Point]:
    """PT15M, then PT60M from a random hour on, with 3..9 random holes of 1..40 points."""
    change = first + timedelta(hours=rng.randrange(24, days * 24 - 24))
    pts: list[Point] = []
    t = first
    end = first + days * DAY
    while t < end:
        r = timedelta(minutes=15) if t < change else timedelta(hours=1)
        pts.append((t, r))
        t += r
    for _ in range(rng.randrange(3, 10)):
        at = rng.randrange(len(pts))
        del pts[at : at + rng.randrange(1, 40)]
    return pts


@pytest.mark.parametrize("seed", range(6))
def test_missing_intervals_match_brute_force_on_random_holes(dsn: str, endpoint: str, seed: int) -> None:
    rng = random.Random(seed)
    first = datetime(2024, 3, 25, tzinfo=UTC)
    series = {
        "B01": random_series(rng, first, 12),
        "B02": random_series(rng, first + timedelta(days=2, hours=3), 8),
    }
    upsert_points(dsn, endpoint, FR, frame(series))
    start = first + timedelta(minutes=15 * rng.randrange(-200, 400))
    end = first + timedelta(days=12) + timedelta(minutes=15 * rng.randrange(-300, 300))

    result = {c.psr_type: c for c in series_coverage(dsn, endpoint, FR, start, end)}

    assert set(result) == {"B01", "B02"}
    for psr, pts in series.items():
        in_range = [t for t, _ in pts if start <= t < end]
        assert result[psr].missing == brute_force_missing(pts, start, end), psr
        assert result[psr].points == len(in_range)
        assert result[psr].first == min(in_range) and result[psr].last == max(in_range)


def test_a_resolution_change_is_not_a_gap(dsn: str, endpoint: str) -> None:
    day = datetime(2024, 6, 1, tzinfo=UTC)
    hourly = [(day + timedelta(hours=h), timedelta(hours=1)) for h in range(12)]
    quarterly = [(day + timedelta(hours=12, minutes=15 * q), timedelta(minutes=15)) for q in range(48)]
    upsert_points(dsn, endpoint, FR, frame({"": hourly + quarterly}))

    (coverage,) = series_coverage(dsn, endpoint, FR, day, day + DAY)

    assert coverage.missing == []
    assert coverage.resolutions == ["PT15M", "PT60M"]
    assert coverage.points == 60


def test_daily_points_at_local_midnight_leave_no_gap_across_dst(dsn: str, endpoint: str) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    local_days = pd.date_range("2024-03-28", "2024-11-02", freq="D", tz=berlin)  # both DST changes
    batch = pd.DataFrame(
        {
            "time": local_days.tz_convert("UTC"),
            "value": 1.0,
            "resolution": "P1D",
            "business_type": "A60",
            "unit": "MAW",
        }
    )
    upsert_points(dsn, endpoint, DE_LU, batch)
    start = local_days[0].to_pydatetime().astimezone(UTC)
    end = (local_days[-1] + pd.Timedelta(days=1)).to_pydatetime().astimezone(UTC)

    (coverage,) = series_coverage(dsn, endpoint, DE_LU, start, end)

    assert coverage.missing == []
    assert coverage.resolutions == ["P1D"]
    # ... while a missing local day is exactly that day, 23 hours long on the spring DST day.
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM entsoe.observations WHERE endpoint = %s AND time = %s",
            (endpoint, "2024-03-30T23:00Z"),
        )
    conn.close()
    (coverage,) = series_coverage(dsn, endpoint, DE_LU, start, end)
    assert coverage.missing == [
        (datetime(2024, 3, 30, 23, tzinfo=UTC), datetime(2024, 3, 31, 22, tzinfo=UTC))
    ]


def test_a_hole_wider_than_the_range_reports_the_whole_range(dsn: str, endpoint: str) -> None:
    day = datetime(2024, 6, 1, tzinfo=UTC)
    pts = [(day + timedelta(hours=h), timedelta(hours=1)) for h in range(6)]
    pts += [(day + 3 * DAY + timedelta(hours=h), timedelta(hours=1)) for h in range(6)]
    upsert_points(dsn, endpoint, FR, frame({"": pts}))

    (coverage,) = series_coverage(dsn, endpoint, FR, day + DAY, day + 2 * DAY)

    assert coverage.points == 0 and coverage.first is None
    assert coverage.missing == [(day + DAY, day + 2 * DAY)]


def test_a_point_before_the_range_covers_into_it(dsn: str, endpoint: str) -> None:
    day = datetime(2024, 6, 1, tzinfo=UTC)
    upsert_points(dsn, endpoint, FR, frame({"": [(day, timedelta(hours=1))]}))

    (coverage,) = series_coverage(dsn, endpoint, FR, day + timedelta(minutes=30), day + timedelta(hours=2))

    assert coverage.missing == [(day + timedelta(hours=1), day + timedelta(hours=2))]


def test_latest_points_gives_the_newest_point_of_each_series(dsn: str, endpoint: str) -> None:
    day = datetime(2024, 6, 1, tzinfo=UTC)
    quarter = timedelta(minutes=15)
    upsert_points(dsn, endpoint, FR, frame({"B01": [(day + i * quarter, quarter) for i in range(10)]}))
    upsert_points(dsn, endpoint, FR, frame({"B02": [(day + i * quarter, quarter) for i in range(3)]}))
    upsert_points(dsn, endpoint, DE_LU, frame({"B01": [(day, quarter)]}, area=DE_LU))

    latest = latest_points(dsn, endpoint)

    assert [(p.area, p.psr_type, p.time, p.value) for p in latest] == sorted(
        [
            (DE_LU, "B01", day, 0.0),
            (FR, "B01", day + 9 * quarter, 9.0),
            (FR, "B02", day + 2 * quarter, 2.0),
        ]
    )
    assert all(p.endpoint == endpoint and p.fetched_at.tzinfo is not None for p in latest)
    assert {p.endpoint for p in latest_points(dsn)} >= {endpoint}
