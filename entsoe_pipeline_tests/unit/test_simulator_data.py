"""entsoe_pipeline/simulator/series.py and periods.py: the synthetic values and their time grids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from entsoe_pipeline import catalog
from entsoe_pipeline.simulator import periods, series
from entsoe_pipeline.simulator.documents import Period, gl_series, market_document
from entsoe_pipeline.simulator.periods import to_minutes

DE_LU = catalog.area("DE_LU")
FR = catalog.area("FR")


def _quarter_hours(start: datetime, days: int) -> np.ndarray:
    return periods.mtu_starts(start, start + timedelta(days=days), 15)


def _at_local(area: catalog.Area, local: str) -> np.ndarray:
    """Epoch minutes of a local wall-clock time in the area."""
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(area.tz))
    return np.array([to_minutes(moment.astimezone(UTC))], dtype=np.int64)


def test_values_are_the_same_on_every_call():
    minutes = _quarter_hours(datetime(2025, 6, 1, tzinfo=UTC), 7)
    assert np.array_equal(series.actual_load(DE_LU, minutes), series.actual_load(DE_LU, minutes))
    assert np.array_equal(
        series.day_ahead_price(DE_LU, minutes, 2), series.day_ahead_price(DE_LU, minutes, 2)
    )


def test_a_value_depends_on_its_time_only_not_on_the_window_it_was_asked_in():
    month = _quarter_hours(datetime(2025, 6, 1, tzinfo=UTC), 28)
    day = month[96 * 10 : 96 * 11]
    for compute in (
        lambda m: series.actual_load(FR, m),
        lambda m: series.load_forecast(FR, m),
        lambda m: series.generation(FR, "B19", m),
        lambda m: series.wind_solar_forecast(FR, "B16", m),
        lambda m: series.day_ahead_price(FR, m),
    ):
        assert np.array_equal(compute(month)[96 * 10 : 96 * 11], compute(day))


def test_areas_and_endpoints_get_different_values():
    minutes = _quarter_hours(datetime(2025, 6, 1, tzinfo=UTC), 1)
    assert not np.allclose(series.load_shape(DE_LU, minutes), series.load_shape(catalog.area("NL"), minutes))
    assert not np.array_equal(series.actual_load(DE_LU, minutes), series.load_forecast(DE_LU, minutes))


def test_load_is_scaled_to_the_areas_peak():
    year = periods.mtu_starts(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), 60)
    for area in (DE_LU, FR, catalog.area("LU")):
        load = series.actual_load(area, year)
        assert 0.85 * area.peak_load_mw < load.max() <= 1.1 * area.peak_load_mw
        assert load.min() > 0.3 * area.peak_load_mw


def test_load_is_lower_at_night_than_in_the_evening():
    night = series.actual_load(DE_LU, _at_local(DE_LU, "2025-06-04T03:00"))
    evening = series.actual_load(DE_LU, _at_local(DE_LU, "2025-06-04T18:00"))
    assert night[0] < 0.8 * evening[0]


def test_load_is_lower_on_sundays_than_on_wednesdays():
    wednesday = series.actual_load(FR, _quarter_hours(datetime(2025, 6, 4, tzinfo=UTC), 1))
    sunday = series.actual_load(FR, _quarter_hours(datetime(2025, 6, 8, tzinfo=UTC), 1))
    assert sunday.mean() < 0.9 * wednesday.mean()


def test_solar_is_exactly_zero_at_night_and_positive_at_noon():
    for area in (DE_LU, FR):
        for day in ("2025-01-15", "2025-06-21"):
            for hour in ("00:00", "02:30", "04:00", "22:30"):
                assert series.generation(area, "B16", _at_local(area, f"{day}T{hour}"))[0] == 0.0
                assert series.wind_solar_forecast(area, "B16", _at_local(area, f"{day}T{hour}"))[0] == 0.0
            assert series.generation(area, "B16", _at_local(area, f"{day}T12:30"))[0] > 0


def test_summer_days_have_more_solar_hours_than_winter_days():
    def sunny_quarters(day: str) -> int:
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        return int(np.count_nonzero(series.generation(DE_LU, "B16", _quarter_hours(start, 1))))

    assert sunny_quarters("2025-06-21") > sunny_quarters("2025-12-21") + 20


def test_nuclear_is_flat_within_a_day_so_a03_curves_compress_it():
    day = _quarter_hours(datetime(2025, 3, 3, 23, tzinfo=UTC), 1)  # one Paris day
    assert len(np.unique(series.generation(FR, "B14", day))) == 1


def test_pumped_storage_consumption_is_published_and_never_negative():
    week = _quarter_hours(datetime(2025, 6, 2, tzinfo=UTC), 7)
    pumping = series.generation(DE_LU, "B10", week, consumption=True)
    assert pumping.min() >= 0 and pumping.max() > 0


def test_prices_go_negative_only_around_midday_on_sunny_weekends():
    summer = periods.mtu_starts(datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 9, 1, tzinfo=UTC), 60)
    prices = series.day_ahead_price(DE_LU, summer)
    local = series.local_time(summer, DE_LU.tz)
    negative = prices < 0
    assert negative.any()
    assert np.all(local.weekday[negative] >= 5)
    assert np.all((local.hour[negative] >= 6) & (local.hour[negative] <= 19))  # daylight


def test_the_second_price_sequence_differs_from_the_first():
    day = _quarter_hours(datetime(2025, 6, 2, tzinfo=UTC), 1)
    first, second = series.day_ahead_price(DE_LU, day, 1), series.day_ahead_price(DE_LU, day, 2)
    assert not np.array_equal(first, second)
    assert np.abs(first - second).max() < 5


def test_minimum_forecasts_are_below_maximum_forecasts():
    steps = periods.calendar_steps(
        (datetime(2025, 1, 5, 23, tzinfo=UTC), datetime(2025, 3, 2, 23, tzinfo=UTC)), "Europe/Berlin", 1
    )
    low, high = series.load_extremes(DE_LU, *steps, "week_ahead_load_forecast")
    assert low.size == high.size == 56
    assert np.all(low < high)


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2025-03-30", 23), ("2025-10-26", 25), ("2025-06-15", 24)],
)
def test_local_days_last_23_24_or_25_hours_across_dst(day, hours):
    noon = datetime.fromisoformat(f"{day}T12:00").replace(tzinfo=UTC)
    ((start, end),) = periods.local_days(noon, noon + timedelta(minutes=1), "Europe/Berlin")
    assert end - start == timedelta(hours=hours)
    assert len(periods.mtu_starts(start, end, 15)) == hours * 4


def test_a_utc_day_overlaps_two_local_days():
    days = periods.local_days(
        datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC), "Europe/Berlin"
    )
    assert days == [
        (datetime(2024, 12, 31, 23, tzinfo=UTC), datetime(2025, 1, 1, 23, tzinfo=UTC)),
        (datetime(2025, 1, 1, 23, tzinfo=UTC), datetime(2025, 1, 2, 23, tzinfo=UTC)),
    ]


def test_month_ahead_blocks_are_the_weeks_whose_monday_is_in_the_month():
    # As in load_monthahead_A65-A32_CZ_2016_P7D_pj.xml: February 2016 = five weeks from Feb 1.
    blocks = periods.month_weeks(
        datetime(2016, 2, 10, tzinfo=UTC), datetime(2016, 2, 11, tzinfo=UTC), "Europe/Prague"
    )
    assert blocks == [(datetime(2016, 1, 31, 23, tzinfo=UTC), datetime(2016, 3, 6, 23, tzinfo=UTC))]


def test_a_p7d_week_across_the_october_dst_change_lasts_169_hours():
    block = periods.month_weeks(
        datetime(2016, 10, 10, tzinfo=UTC), datetime(2016, 10, 11, tzinfo=UTC), "Europe/Prague"
    )[0]
    starts, ends = periods.calendar_steps(block, "Europe/Prague", 7)
    lengths = (ends - starts) // 60
    assert sorted(set(lengths.tolist())) == [168, 169]


def test_year_ahead_blocks_hold_52_or_53_weeks():
    for year in (2015, 2016, 2020, 2025):
        middle = datetime(year, 6, 1, tzinfo=UTC)
        ((start, end),) = periods.year_weeks(middle, middle + timedelta(days=1), "Europe/Berlin")
        assert (end - start).days // 7 in (52, 53)
        assert start.astimezone(UTC).hour in (22, 23)  # local midnight of a Monday


def test_day_ahead_data_reach_tomorrow_only_after_the_noon_auction():
    morning = datetime(2025, 6, 4, 9, tzinfo=UTC)
    afternoon = datetime(2025, 6, 4, 13, tzinfo=UTC)
    assert periods.day_ahead_horizon(morning, "Europe/Berlin") == datetime(2025, 6, 4, 22, tzinfo=UTC)
    assert periods.day_ahead_horizon(afternoon, "Europe/Berlin") == datetime(2025, 6, 5, 22, tzinfo=UTC)


def test_a03_curves_omit_points_that_repeat_the_previous_value():
    period = Period(0, 6 * 15, "PT15M", np.array([5.0, 5.0, 7.0, 7.0, 7.0, 5.0]))
    body = market_document(
        root="GL_MarketDocument",
        document_type="A75",
        process_type="A16",
        series=[
            gl_series(
                business_type="A01",
                domain="inBiddingZone_Domain",
                eic=FR.eic,
                periods=(period,),
                curve_type="A03",
                psr_type="B14",
            )
        ],
        created=datetime(2025, 1, 1, tzinfo=UTC),
        mrid="x",
    ).decode()
    assert body.count("<Point>") == 3
    assert "<position>3</position><quantity>7</quantity>" in body
    assert "<position>6</position><quantity>5</quantity>" in body
