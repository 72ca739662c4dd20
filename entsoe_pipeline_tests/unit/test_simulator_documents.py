"""The simulator's answers (entsoe_pipeline/simulator/api.py, items.py) read back with the real
parser: every catalogue endpoint, the expected points per day, business types and variants, and
the Acknowledgements of no data and rejected requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from entsoe_pipeline import catalog
from entsoe_pipeline.entsoe.client import format_period
from entsoe_pipeline.entsoe.errors import InvalidRequest, NoMatchingData, SpanTooLong
from entsoe_pipeline.entsoe.parser import parse_document
from entsoe_pipeline.simulator.api import answer
from entsoe_pipeline.simulator.items import generation_types

NOW = datetime(2026, 1, 12, 14, 0, tzinfo=UTC)


def _params(endpoint: str, area: str, start: datetime, end: datetime) -> dict[str, str]:
    ep, ar = catalog.endpoint(endpoint), catalog.area(area)
    return {**ep.params(ar), "periodStart": format_period(start), "periodEnd": format_period(end)}


def _fetch(endpoint: str, area: str, start: datetime, end: datetime, **kw) -> pd.DataFrame:
    result = answer(_params(endpoint, area, start, end), now=kw.pop("now", NOW), **kw)
    return parse_document(result.body, source=f"{endpoint} {area}")


def _day(iso: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(iso).replace(tzinfo=UTC)
    return start, start + timedelta(days=1)


@pytest.mark.parametrize(
    ("area", "points", "resolution"), [("DE_LU", 96, "PT15M"), ("NL", 96, "PT15M"), ("FR", 24, "PT60M")]
)
def test_one_utc_day_of_actual_load_has_one_point_per_mtu(area, points, resolution):
    frame = _fetch("actual_load", area, *_day("2025-06-04"))
    assert len(frame) == points
    assert set(frame["resolution"]) == {resolution}
    assert set(frame["business_type"]) == {"A04"}
    assert set(frame["area"]) == {catalog.area(area).eic}
    assert frame["time"].is_monotonic_increasing and frame["time"].is_unique


@pytest.mark.parametrize(
    ("area", "local_start", "hours"),
    [
        ("DE_LU", datetime(2025, 3, 29, 23, tzinfo=UTC), 23),
        ("DE_LU", datetime(2025, 10, 25, 22, tzinfo=UTC), 25),
        ("FR", datetime(2025, 3, 29, 23, tzinfo=UTC), 23),
        ("FR", datetime(2025, 10, 25, 22, tzinfo=UTC), 25),
    ],
)
def test_day_ahead_forecasts_of_dst_days_have_92_or_100_quarter_hours(area, local_start, hours):
    frame = _fetch("day_ahead_load_forecast", area, local_start, local_start + timedelta(hours=hours))
    per_hour = 4 if area == "DE_LU" else 1
    assert len(frame) == hours * per_hour
    assert frame["time"].min() == pd.Timestamp(local_start)


def test_day_ahead_forecasts_come_as_whole_local_days():
    # A UTC day touches two Berlin days; the platform answers both in full (entsoe-api.md §1.3).
    frame = _fetch("day_ahead_load_forecast", "DE_LU", *_day("2025-06-04"))
    assert len(frame) == 2 * 96
    assert (frame["time"].min(), frame["time"].max()) == (
        pd.Timestamp("2025-06-03T22:00Z"),
        pd.Timestamp("2025-06-05T21:45Z"),
    )


def test_week_ahead_forecasts_are_daily_minimum_and_maximum():
    frame = _fetch("week_ahead_load_forecast", "DE_LU", *_day("2025-06-04"))
    assert frame.groupby("business_type").size().to_dict() == {"A60": 7, "A61": 7}
    assert set(frame["resolution"]) == {"P1D"}
    low = frame[frame.business_type == "A60"]["value"].to_numpy()
    high = frame[frame.business_type == "A61"]["value"].to_numpy()
    assert np.all(low < high)


def test_month_ahead_forecasts_are_weekly_over_the_weeks_of_the_month():
    frame = _fetch("month_ahead_load_forecast", "FR", *_day("2025-06-10"))
    assert set(frame["resolution"]) == {"P7D"}
    assert frame.groupby("business_type").size().to_dict() == {"A60": 5, "A61": 5}  # Mondays 2, 9, 16, 23, 30


def test_year_ahead_forecasts_hold_one_point_per_week_of_the_year():
    frame = _fetch("year_ahead_load_forecast", "DE_LU", *_day("2025-06-10"))
    assert frame.groupby("business_type").size().to_dict() == {"A60": 52, "A61": 52}


def test_the_forecast_margin_is_one_value_per_local_year():
    frame = _fetch("year_ahead_forecast_margin", "DE_LU", *_day("2025-06-10"))
    assert len(frame) == 1
    assert frame.iloc[0]["business_type"] == "A91"
    assert frame.iloc[0]["resolution"] == "P1Y"
    assert frame.iloc[0]["time"] == pd.Timestamp("2024-12-31T23:00Z")


def test_actual_generation_has_every_production_type_and_pumping_as_consumption():
    frame = _fetch("actual_generation", "DE_LU", *_day("2025-06-04"))
    counts = frame.groupby(["psr_type", "variant"]).size()
    expected = {(psr, "") for psr in generation_types(catalog.area("DE_LU"))} | {("B10", "consumption")}
    assert set(counts.index) == expected
    assert set(counts) == {96}  # A03 curves decode to every quarter hour
    assert set(frame["business_type"]) == {"A01"}


def test_solar_generation_is_zero_at_night_in_the_parsed_document():
    frame = _fetch("actual_generation", "DE_LU", *_day("2025-06-04"))
    solar = frame[frame.psr_type == "B16"].set_index("time")["value"]
    assert solar[pd.Timestamp("2025-06-04T00:00Z")] == 0.0  # 02:00 in Berlin
    assert solar[pd.Timestamp("2025-06-04T10:00Z")] > 0


def test_wind_and_solar_forecasts_use_their_business_types():
    frame = _fetch("wind_solar_forecast", "NL", *_day("2025-06-04"))
    types = frame.groupby("psr_type")["business_type"].unique().map(tuple).to_dict()
    assert types == {"B16": ("A94",), "B18": ("A93",), "B19": ("A93",)}


def test_de_lu_prices_have_a_second_sequence_as_its_own_variant():
    frame = _fetch("day_ahead_prices", "DE_LU", *_day("2025-11-04"))
    by_variant = frame.groupby("variant").size().to_dict()
    assert by_variant == {"": 2 * 96, "sequence=2": 2 * 96}
    assert set(frame["unit"]) == {"EUR/MWH"}
    assert set(frame["business_type"]) == {"A62"}


def test_prices_are_hourly_before_the_sdac_15_minute_go_live_and_quarter_hourly_after():
    before = _fetch(
        "day_ahead_prices", "FR", datetime(2025, 9, 29, 22, tzinfo=UTC), datetime(2025, 9, 30, 22, tzinfo=UTC)
    )
    after = _fetch(
        "day_ahead_prices", "FR", datetime(2025, 9, 30, 22, tzinfo=UTC), datetime(2025, 10, 1, 22, tzinfo=UTC)
    )
    assert (len(before), set(before["resolution"])) == (24, {"PT60M"})
    assert (len(after), set(after["resolution"])) == (96, {"PT15M"})


def test_every_endpoint_answers_for_every_catalogue_area():
    start, end = _day("2025-06-04")
    for area in catalog.AREAS:
        for endpoint in catalog.ENDPOINTS:
            frame = _fetch(endpoint, area, start, end)
            assert len(frame) > 0, (endpoint, area)
            assert set(frame["area"]) == {catalog.area(area).eic}


def test_actual_data_end_an_hour_before_now():
    now = datetime(2025, 6, 4, 12, 7, tzinfo=UTC)
    frame = _fetch("actual_load", "DE_LU", *_day("2025-06-04"), now=now)
    assert frame["time"].max() == pd.Timestamp("2025-06-04T10:45Z")  # its quarter ends at 11:00


def test_tomorrows_prices_appear_after_the_noon_auction():
    window = _day("2025-06-05")
    with pytest.raises(NoMatchingData):
        _fetch("day_ahead_prices", "FR", *window, now=datetime(2025, 6, 4, 11, tzinfo=UTC))
    assert len(_fetch("day_ahead_prices", "FR", *window, now=datetime(2025, 6, 4, 13, tzinfo=UTC))) > 0


def test_a_window_beyond_what_is_published_is_a_no_data_acknowledgement():
    result = answer(_params("actual_load", "FR", *_day("2026-02-01")), now=NOW)
    assert result.status == 200
    with pytest.raises(NoMatchingData, match="No matching data found for Data item ACTUAL_TOTAL_LOAD_R3"):
        parse_document(result.body)


def test_a_withheld_window_splits_actual_load_into_two_time_series():
    start, end = _day("2025-06-04")
    hole = (start + timedelta(hours=6), start + timedelta(hours=8))
    result = answer(_params("actual_load", "DE_LU", start, end), now=NOW, no_data=(hole,))
    assert result.body.count(b"<TimeSeries>") == 2
    frame = parse_document(result.body)
    assert len(frame) == 96 - 8
    assert not ((frame["time"] >= pd.Timestamp(hole[0])) & (frame["time"] < pd.Timestamp(hole[1]))).any()


@pytest.mark.parametrize(
    ("endpoint", "days", "hint"), [("actual_load", 29, "P1M"), ("week_ahead_load_forecast", 366, "P1Y")]
)
def test_a_window_beyond_the_span_limit_is_refused_with_the_limit(endpoint, days, hint):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    result = answer(_params(endpoint, "DE_LU", start, start + timedelta(days=days)), now=NOW)
    assert result.status == 400
    with pytest.raises(SpanTooLong) as caught:
        parse_document(result.body)
    assert caught.value.max_span_hint == hint


def test_an_unknown_parameter_combination_is_refused_against_the_dependency_tables():
    params = {**_params("actual_load", "FR", *_day("2025-06-04")), "processType": "A99"}
    result = answer(params, now=NOW)
    assert result.status == 400
    with pytest.raises(InvalidRequest, match="check you request against dependency tables"):
        parse_document(result.body)


def test_a_missing_mandatory_parameter_is_named():
    params = _params("actual_load", "FR", *_day("2025-06-04"))
    del params["outBiddingZone_Domain"]
    with pytest.raises(InvalidRequest, match="Mandatory parameter outBiddingZone_Domain is missing"):
        parse_document(answer(params, now=NOW).body)


def test_a_psr_type_filter_returns_only_that_type():
    params = {**_params("actual_generation", "FR", *_day("2025-06-04")), "psrType": "B14"}
    frame = parse_document(answer(params, now=NOW).body)
    assert set(frame["psr_type"]) == {"B14"}
    assert len(frame) == 24
