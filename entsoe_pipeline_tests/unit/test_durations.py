"""entsoe_pipeline.entsoe.durations: ISO 8601 resolutions and the positions of a Period."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from entsoe_pipeline.entsoe.durations import (
    MAX_PERIOD_POSITIONS,
    DurationError,
    Resolution,
    parse_resolution,
    parse_utc,
    period_grid,
    to_ns,
)

PRAGUE = ZoneInfo("Europe/Prague")
HELSINKI = ZoneInfo("Europe/Helsinki")


def utc(text: str) -> datetime:
    return parse_utc(text)


def iso_ns(values: np.ndarray) -> list[str]:
    return [np.datetime_as_string(v.astype("datetime64[ns]"), unit="m") + "Z" for v in values]


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("PT15M", "PT15M"),
        ("PT30M", "PT30M"),
        ("PT60M", "PT60M"),
        ("PT1H", "PT60M"),
        ("PT1M", "PT1M"),
        ("PT90S", "PT90S"),
        ("P1D", "P1D"),
        ("P7D", "P7D"),
        ("P1W", "P7D"),
        ("P1M", "P1M"),
        ("P12M", "P1Y"),
        ("P1Y", "P1Y"),
        (" PT15M\n", "PT15M"),
    ],
)
def test_resolution_has_one_normal_spelling(text, normalised):
    assert parse_resolution(text).normalised == normalised


def test_resolution_splits_calendar_and_clock_units():
    assert parse_resolution("P1Y") == Resolution(months=12, days=0, seconds=0)
    assert parse_resolution("PT1H") == Resolution(months=0, days=0, seconds=3600)
    assert parse_resolution("P1D").is_calendar and not parse_resolution("PT60M").is_calendar


@pytest.mark.parametrize("text", ["", "P", "PT", "15M", "PT0M", "P1DT1H", "PT15m", "P1.5D", "1H"])
def test_invalid_or_unsupported_resolution_is_refused(text):
    with pytest.raises(DurationError):
        parse_resolution(text)


def test_times_are_read_as_utc():
    assert parse_utc("2025-10-21T12:00Z") == datetime(2025, 10, 21, 12, 0, tzinfo=UTC)
    assert parse_utc("2025-10-21T12:57:19Z") == datetime(2025, 10, 21, 12, 57, 19, tzinfo=UTC)
    assert parse_utc("2025-10-21T14:00+02:00") == datetime(2025, 10, 21, 12, 0, tzinfo=UTC)
    with pytest.raises(DurationError):
        parse_utc("21/10/2025")


def test_to_ns_is_exact():
    assert to_ns(utc("1970-01-01T00:00Z")) == 0
    assert to_ns(utc("2024-01-01T00:00Z")) == 1_704_067_200 * 10**9


def test_sub_daily_grid_counts_exact_steps():
    grid = period_grid(utc("2024-03-30T23:00Z"), utc("2024-03-31T22:00Z"), parse_resolution("PT15M"), PRAGUE)
    assert (grid.count, grid.exact, grid.limit) == (92, True, 92)
    assert iso_ns(grid.starts(np.array([1, 92]))) == ["2024-03-30T23:00Z", "2024-03-31T21:45Z"]


def test_sub_daily_grid_that_is_not_whole_steps_counts_the_steps_starting_before_the_end():
    grid = period_grid(utc("2024-01-01T00:00Z"), utc("2024-01-01T01:30Z"), parse_resolution("PT60M"), PRAGUE)
    assert (grid.count, grid.exact, grid.limit) == (2, False, 2)
    assert iso_ns(grid.starts(np.array([1, 2]))) == ["2024-01-01T00:00Z", "2024-01-01T01:00Z"]


def test_whole_calendar_grid_has_one_position_past_its_end():
    # The 2015 Periods of load_yearahead_A65-A33_CZ_2015-2016_P7D_pj.xml: 51 local weeks, 52 Points.
    grid = period_grid(utc("2015-01-04T23:00Z"), utc("2015-12-27T23:00Z"), parse_resolution("P7D"), PRAGUE)
    assert (grid.count, grid.exact, grid.limit) == (51, True, 52)
    assert iso_ns(grid.starts(np.array([51, 52]))) == ["2015-12-20T23:00Z", "2015-12-27T23:00Z"]


def test_weekly_grid_across_october_dst_has_a_169_hour_week():
    # Fixture load_monthahead_A65-A32_CZ_2016_P7D_pj.xml: 5 weeks + 1 h.
    grid = period_grid(utc("2016-10-02T22:00Z"), utc("2016-11-06T23:00Z"), parse_resolution("P7D"), PRAGUE)
    assert grid.count == 5
    bounds = grid.boundaries_ns
    assert bounds is not None
    assert list(np.diff(bounds) // (3600 * 10**9)) == [168, 168, 168, 169, 168]


def test_weekly_grid_in_utc_arithmetic_would_not_end_at_the_period_end():
    grid = period_grid(
        utc("2016-10-02T22:00Z"), utc("2016-11-06T23:00Z"), parse_resolution("P7D"), ZoneInfo("UTC")
    )
    # Five UTC weeks end at 2016-11-06T22:00Z, an hour early: a sixth starts before the end.
    assert (grid.count, grid.exact, grid.limit) == (6, False, 6)


def test_daily_grid_follows_the_area_zone():
    # Finnish days start at 22:00Z in winter and 21:00Z in summer.
    grid = period_grid(utc("2024-03-29T22:00Z"), utc("2024-04-01T21:00Z"), parse_resolution("P1D"), HELSINKI)
    assert iso_ns(grid.starts(np.array([1, 2, 3]))) == [
        "2024-03-29T22:00Z",
        "2024-03-30T22:00Z",
        "2024-03-31T21:00Z",
    ]


def test_monthly_and_yearly_grids_step_the_local_calendar():
    months = period_grid(utc("2023-12-31T23:00Z"), utc("2024-12-31T23:00Z"), parse_resolution("P1M"), PRAGUE)
    assert months.count == 12
    assert iso_ns(months.starts(np.array([3, 4, 11]))) == [
        "2024-02-29T23:00Z",
        "2024-03-31T22:00Z",
        "2024-10-31T23:00Z",
    ]
    years = period_grid(utc("2014-12-31T23:00Z"), utc("2016-12-31T23:00Z"), parse_resolution("P1Y"), PRAGUE)
    assert years.count == 2


def test_month_steps_from_the_start_do_not_drift_at_month_ends():
    grid = period_grid(
        utc("2024-01-31T00:00Z"), utc("2024-04-30T00:00Z"), parse_resolution("P1M"), ZoneInfo("UTC")
    )
    assert iso_ns(grid.starts(np.array([1, 2, 3]))) == [
        "2024-01-31T00:00Z",
        "2024-02-29T00:00Z",
        "2024-03-31T00:00Z",
    ]


def test_period_ending_before_it_starts_is_refused():
    with pytest.raises(DurationError, match="not after its start"):
        period_grid(utc("2024-01-02T00:00Z"), utc("2024-01-01T00:00Z"), parse_resolution("PT60M"), PRAGUE)


def test_period_with_too_many_positions_is_refused():
    with pytest.raises(DurationError, match=f"more than the {MAX_PERIOD_POSITIONS} allowed"):
        period_grid(utc("1900-01-01T00:00Z"), utc("2100-01-01T00:00Z"), parse_resolution("PT1M"), PRAGUE)
    with pytest.raises(DurationError, match="allowed"):
        period_grid(
            utc("1700-01-01T00:00Z"), utc("2200-01-01T00:00Z"), parse_resolution("P1D"), ZoneInfo("UTC")
        )


def test_period_outside_the_nanosecond_range_is_refused():
    with pytest.raises(DurationError, match="outside"):
        period_grid(utc("1500-01-01T00:00Z"), utc("1500-01-02T00:00Z"), parse_resolution("PT60M"), PRAGUE)
