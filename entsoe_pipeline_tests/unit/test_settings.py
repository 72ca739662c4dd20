from datetime import date

import pytest

from entsoe_pipeline import catalog
from entsoe_pipeline.settings import ApiSettings, Settings


def test_defaults_are_the_load_endpoints_for_three_areas():
    s = Settings.from_env({})
    assert [a.name for a in s.areas] == ["DE_LU", "FR", "NL"]
    assert [e.name for e in s.endpoints] == list(catalog.LOAD_ENDPOINTS)


def test_areas_endpoints_and_start_come_from_the_environment():
    s = Settings.from_env(
        {
            "ENTSOE_AREAS": "be, dk_1",
            "ENTSOE_ENDPOINTS": "actual_load,day_ahead_prices",
            "ENTSOE_HISTORY_START": "2020-03-01",
        }
    )
    assert [a.name for a in s.areas] == ["BE", "DK1"]
    assert [e.name for e in s.endpoints] == ["actual_load", "day_ahead_prices"]
    assert s.history_start == date(2020, 3, 1)


def test_unknown_area_in_the_environment_fails_at_load_with_close_matches():
    with pytest.raises(catalog.UnknownName, match="did you mean"):
        Settings.from_env({"ENTSOE_AREAS": "FRA"})


def test_bad_history_start_names_the_variable():
    with pytest.raises(ValueError, match="ENTSOE_HISTORY_START"):
        Settings.from_env({"ENTSOE_HISTORY_START": "last year"})


def test_bad_interval_names_the_variable():
    with pytest.raises(ValueError, match="ENTSOE_STORE_SENSOR_INTERVAL_SECONDS"):
        Settings.from_env({"ENTSOE_STORE_SENSOR_INTERVAL_SECONDS": "-5"})


def test_requests_in_flight_default_to_two_and_come_from_the_environment():
    assert ApiSettings.from_env({}).max_concurrent_requests == 2
    assert ApiSettings.from_env({"ENTSOE_MAX_CONCURRENT_REQUESTS": " 3 "}).max_concurrent_requests == 3


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_bound_on_requests_in_flight_names_the_variable(value):
    with pytest.raises(ValueError, match=f"ENTSOE_MAX_CONCURRENT_REQUESTS='{value}'"):
        ApiSettings.from_env({"ENTSOE_MAX_CONCURRENT_REQUESTS": value})
