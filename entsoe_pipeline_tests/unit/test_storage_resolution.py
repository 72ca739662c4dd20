"""entsoe_pipeline/storage/resolution.py and windows.py: pure calendar arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from entsoe_pipeline.catalog import Granularity
from entsoe_pipeline.storage.resolution import Resolution
from entsoe_pipeline.storage.windows import data_window, partition_clock, partition_windows


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


@pytest.mark.parametrize(
    ("text", "months", "days", "seconds", "iso"),
    [
        ("PT15M", 0, 0, 900, "PT15M"),
        ("PT60M", 0, 0, 3600, "PT60M"),
        ("PT1H", 0, 0, 3600, "PT60M"),
        ("P1D", 0, 1, 0, "P1D"),
        ("P7D", 0, 7, 0, "P7D"),
        ("P1W", 0, 7, 0, "P7D"),
        ("P1M", 1, 0, 0, "P1M"),
        ("P1Y", 12, 0, 0, "P1Y"),
    ],
)
def test_iso_durations_parse_and_print_in_entsoe_spelling(
    text: str, months: int, days: int, seconds: int, iso: str
) -> None:
    r = Resolution.parse(text)
    assert (r.months, r.days, r.seconds) == (months, days, seconds)
    assert r.iso == iso


@pytest.mark.parametrize("text", ["", "P", "PT", "15M", "PT15X", "P0D"])
def test_malformed_durations_are_refused_naming_them(text: str) -> None:
    with pytest.raises(ValueError, match=r"ISO 8601|zero"):
        Resolution.parse(text)


def test_nominal_timedeltas_of_the_catalogue_stand_for_calendar_resolutions() -> None:
    assert Resolution.of(timedelta(days=365)) == Resolution.parse("P1Y")
    assert Resolution.of(timedelta(days=30)) == Resolution.parse("P1M")
    assert Resolution.of(timedelta(days=7)) == Resolution.parse("P7D")
    assert Resolution.of(timedelta(minutes=15)) == Resolution.parse("PT15M")


def test_a_local_day_is_23_hours_on_the_spring_dst_change() -> None:
    start = utc(2024, 3, 30, 23)  # local midnight of 2024-03-31 in Berlin
    assert Resolution.parse("P1D").add(start, "Europe/Berlin") == utc(2024, 3, 31, 22)


def test_months_step_from_the_anchor_in_local_time() -> None:
    start = utc(2023, 12, 31, 23)  # local 2024-01-01
    steps = [Resolution.parse("P1M").add(start, "Europe/Berlin", k) for k in range(5)]
    assert steps == [
        utc(2023, 12, 31, 23),
        utc(2024, 1, 31, 23),
        utc(2024, 2, 29, 23),
        utc(2024, 3, 31, 22),
        utc(2024, 4, 30, 22),
    ]


def test_sub_daily_steps_ignore_the_time_zone() -> None:
    assert Resolution.parse("PT15M").add(utc(2024, 3, 31, 0, 45), "Europe/Berlin") == utc(2024, 3, 31, 1)


@pytest.mark.parametrize(
    ("granularity", "start", "end", "expected"),
    [
        (
            Granularity.DAILY,
            utc(2024, 3, 30, 12),
            utc(2024, 4, 1),
            [utc(2024, 3, 30), utc(2024, 3, 31), utc(2024, 4, 1)],
        ),
        (
            Granularity.WEEKLY,
            utc(2024, 1, 3),
            utc(2024, 1, 9),
            [utc(2024, 1, 1), utc(2024, 1, 8), utc(2024, 1, 15)],
        ),
        (
            Granularity.MONTHLY,
            utc(2023, 12, 5),
            utc(2024, 2, 1),
            [utc(2023, 12, 1), utc(2024, 1, 1), utc(2024, 2, 1)],
        ),
        (
            Granularity.YEARLY,
            utc(2023, 6, 1),
            utc(2024, 1, 2),
            [utc(2023, 1, 1), utc(2024, 1, 1), utc(2025, 1, 1)],
        ),
    ],
)
def test_partition_windows_are_the_whole_partitions_overlapping_the_range(
    granularity: Granularity, start: datetime, end: datetime, expected: list[datetime]
) -> None:
    windows = partition_windows(start, end, granularity)
    assert [w[0] for w in windows] + [windows[-1][1]] == expected


def test_partition_clock_undoes_the_data_window_of_local_calendar_data() -> None:
    year = (utc(2026, 1, 1), utc(2027, 1, 1))
    start, end = data_window(*year, True, "Europe/Paris")
    assert (start, end) == (datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2026, 12, 31, 23, tzinfo=UTC))
    assert partition_clock(start, True, "Europe/Paris") == year[0]
    # The last instant of the local year is still in partition 2026; sub-daily data keeps UTC.
    assert partition_clock(end - timedelta(hours=1), True, "Europe/Paris") < year[1]
    assert partition_clock(start, False, "Europe/Paris") == start
