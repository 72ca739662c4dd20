"""entsoe_pipeline/read.py: a stored series, its past vintages and the derived tables in one call."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from entsoe_pipeline import storage
from entsoe_pipeline.read import read_forecast_error, read_series, read_total_load
from entsoe_pipeline_tests.integration.test_storage_upsert import FR, points, query
from entsoe_pipeline_tests.integration.test_storage_vintages import DAY, FIRST, REVISED, answer


@pytest.fixture
def url(own_database_url: str) -> str:
    storage.ensure_schema(own_database_url)
    storage.upsert_points(own_database_url, "actual_load", FR, answer(FIRST, value=100.0))
    revised = answer(REVISED, value=100.0)
    revised.loc[revised.index[:4], "value"] = 120.0
    storage.upsert_points(own_database_url, "actual_load", FR, revised)
    pumping = points(4, start=DAY, value=7.0)
    pumping["variant"] = "consumption"
    storage.upsert_points(own_database_url, "actual_load", FR, pumping)
    return own_database_url


def test_a_series_comes_back_with_a_utc_index_and_its_latest_values(url: str) -> None:
    frame = read_series("actual_load", "FR", "2025-06-02", "2025-06-03", database_url=url)
    assert len(frame) == 96
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    assert frame.index[0] == pd.Timestamp(DAY)
    assert frame["value"].iloc[:4].tolist() == [120.0] * 4 and frame["value"].iloc[4] == 100.0
    assert set(frame["resolution"]) == {pd.Timedelta(minutes=15)}
    assert set(frame.columns) >= {"value", "unit", "resolution", "business_type", "psr_type", "variant"}


def test_the_area_may_be_named_by_eic_and_times_by_any_zone(url: str) -> None:
    by_name = read_series("actual_load", "FR", DAY, DAY + timedelta(hours=1), database_url=url)
    by_eic = read_series(
        "actual_load", FR, "2025-06-02T02:00+02:00", pd.Timestamp("2025-06-02T01:00Z"), database_url=url
    )
    pd.testing.assert_frame_equal(by_name, by_eic)
    assert len(by_name) == 4


def test_as_of_gives_the_values_known_then(url: str) -> None:
    known = read_series(
        "actual_load", "FR", DAY, DAY + timedelta(days=1), as_of=FIRST + timedelta(days=1), database_url=url
    )
    assert known["value"].iloc[:4].tolist() == [100.0] * 4
    assert (known["known_since"] == pd.Timestamp(FIRST)).all()


def test_every_variant_on_request(url: str) -> None:
    frame = read_series("actual_load", "FR", DAY, DAY + timedelta(days=1), variant=None, database_url=url)
    assert sorted(set(frame["variant"])) == ["", "consumption"]
    assert len(frame) == 100


def test_the_derived_tables_read_the_same_way(url: str) -> None:
    query(
        url,
        "INSERT INTO entsoe.total_load_hourly (hour, load_mw, areas, area_codes) VALUES (%s, 1000, 1, %s)",
        (DAY, [FR]),
    )
    query(
        url,
        "INSERT INTO entsoe.load_forecast_error_daily (area, day, mae_mw, mape_percent, bias_mw, hours)"
        " VALUES (%s, %s, 12.5, 1.2, -3, 24)",
        (FR, DAY.date()),
    )
    total = read_total_load(DAY, DAY + timedelta(days=1), database_url=url)
    assert total.index.tolist() == [pd.Timestamp(DAY)] and total["load_mw"].iloc[0] == 1000
    error = read_forecast_error("FR", DAY, DAY + timedelta(days=1), database_url=url)
    assert error.index.tolist() == [pd.Timestamp(DAY)] and error["mae_mw"].iloc[0] == 12.5


def test_bad_requests_say_what_is_wrong(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeyError, match="XX"):
        read_series("actual_load", "XX", DAY, DAY + timedelta(days=1), database_url=url)
    with pytest.raises(ValueError, match="must be after start"):
        read_series("actual_load", "FR", DAY, DAY, database_url=url)
    with pytest.raises(ValueError, match="not a date"):
        read_series("actual_load", "FR", "yesterday-ish", DAY, database_url=url)
    monkeypatch.delenv("ENTSOE_DATABASE_URL", raising=False)
    with pytest.raises(ValueError, match="ENTSOE_DATABASE_URL"):
        read_series("actual_load", "FR", DAY, DAY + timedelta(days=1))
