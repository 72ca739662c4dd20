from datetime import UTC, datetime, timedelta

import pytest

from entsoe_pipeline import catalog
from entsoe_pipeline.simulator import periods


def test_every_area_is_found_by_name_and_by_eic():
    for a in catalog.AREAS.values():
        assert catalog.area(a.name) is a
        assert catalog.area(a.eic) is a
        assert catalog.area(a.name.lower()) is a


def test_entsoe_py_spellings_of_zone_names_are_accepted():
    assert catalog.area("DK_1").name == "DK1"
    assert catalog.area("no-2").name == "NO2"
    assert catalog.area("SE_4").eic == "10Y1001A1001A47J"


def test_unknown_area_lists_close_matches():
    with pytest.raises(catalog.UnknownName) as err:
        catalog.area("DE_L")
    assert "unknown area 'DE_L'" in str(err.value)
    assert "did you mean DE_LU" in str(err.value)


def test_unknown_endpoint_lists_close_matches():
    with pytest.raises(catalog.UnknownName, match="did you mean actual_load"):
        catalog.endpoint("actual_lod")


def test_default_areas_are_the_three_of_the_first_slice():
    assert [catalog.area(a).eic for a in catalog.DEFAULT_AREAS] == [
        "10Y1001A1001A82H",
        "10YFR-RTE------C",
        "10YNL----------L",
    ]


def test_load_endpoints_match_the_documented_parameters():
    expected = {
        "actual_load": ("A65", "A16"),
        "day_ahead_load_forecast": ("A65", "A01"),
        "week_ahead_load_forecast": ("A65", "A31"),
        "month_ahead_load_forecast": ("A65", "A32"),
        "year_ahead_load_forecast": ("A65", "A33"),
        "year_ahead_forecast_margin": ("A70", "A33"),
    }
    for name, (doc, proc) in expected.items():
        params = catalog.endpoint(name).params(catalog.area("FR"))
        assert params == {
            "documentType": doc,
            "processType": proc,
            "outBiddingZone_Domain": "10YFR-RTE------C",
        }


def test_prices_ask_for_the_zone_as_in_and_out_domain_with_the_day_ahead_contract():
    params = catalog.endpoint("day_ahead_prices").params(catalog.area("DE_LU"))
    assert params == {
        "documentType": "A44",
        "in_Domain": "10Y1001A1001A82H",
        "out_Domain": "10Y1001A1001A82H",
        "contract_MarketAgreement.type": "A01",
    }


def test_spans_stay_within_the_limits_the_api_enforces():
    for e in catalog.ENDPOINTS.values():
        assert e.max_span <= timedelta(days=365)
        if e.granularity is catalog.Granularity.DAILY:
            # 'P1M' was refused for a 31-day month: daily endpoints ask for at most 28 days.
            assert e.max_span <= timedelta(days=28)
        assert e.partitions_per_request >= 1
        assert e.default_resolution > timedelta(0)


def _nested(*names: str) -> set[tuple[str, str]]:
    return {(p.name, c.name) for p, c in catalog.nested_pairs([catalog.area(n) for n in names])}


def test_every_italian_zone_is_nested_in_italy_and_in_nothing_else():
    zones = catalog.area("IT").parts
    assert len(zones) == 7
    assert _nested("IT", *zones, "FR") == {(zone, "IT") for zone in zones}
    assert _nested(*zones) == set()  # the zones side by side do not overlap


def test_a_german_control_area_is_nested_in_de_lu_and_through_it_in_de_at_lu():
    assert _nested("DE_AT_LU", "DE_LU", "DE_TENNET", "AT") == {
        ("DE_LU", "DE_AT_LU"),
        ("DE_TENNET", "DE_LU"),
        ("DE_TENNET", "DE_AT_LU"),
        ("AT", "DE_AT_LU"),
    }
    # Without DE_LU enabled, the control area is still inside DE_AT_LU.
    assert _nested("DE_AT_LU", "DE_TENNET") == {("DE_TENNET", "DE_AT_LU")}
    assert _nested("DE_LU", "AT") == set()


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "partition_start", "first_published"),
    [
        ("day_ahead_load_forecast", _utc(2026, 1, 6), _utc(2026, 1, 5, 12)),  # the noon auction
        ("wind_solar_forecast", _utc(2026, 1, 6), _utc(2026, 1, 5, 12)),
        ("day_ahead_prices", _utc(2026, 1, 6), _utc(2026, 1, 5, 12)),
        ("week_ahead_load_forecast", _utc(2026, 1, 12), _utc(2026, 1, 9)),  # the Friday before
        ("month_ahead_load_forecast", _utc(2026, 3, 1), _utc(2026, 2, 22)),
        ("year_ahead_load_forecast", _utc(2027, 1, 1), _utc(2026, 12, 17)),  # mid-December
        ("year_ahead_forecast_margin", _utc(2027, 1, 1), _utc(2026, 12, 17)),
        ("actual_load", _utc(2026, 1, 6), _utc(2026, 1, 6)),  # as it happens
    ],
)
def test_a_partition_is_published_from_its_lead_before_its_start(name, partition_start, first_published):
    endpoint = catalog.endpoint(name)
    assert not catalog.published_by(endpoint, partition_start, first_published - timedelta(seconds=1))
    assert catalog.published_by(endpoint, partition_start, first_published)
    assert catalog.published_by(endpoint, partition_start, partition_start + timedelta(days=400))


def test_actual_data_is_not_published_ahead():
    assert {e.name for e in catalog.ENDPOINTS.values() if e.published_ahead is None} == {
        "actual_load",
        "actual_generation",
    }


@pytest.mark.parametrize("name", ["day_ahead_load_forecast", "wind_solar_forecast", "day_ahead_prices"])
@pytest.mark.parametrize("tz", ["Europe/Lisbon", "Europe/Berlin", "Europe/Athens"])
def test_day_ahead_publication_is_the_simulators_noon_auction(name, tz):
    endpoint = catalog.endpoint(name)
    tomorrow = _utc(2026, 7, 15)
    for now in (_utc(2026, 7, 14, 11, 59), _utc(2026, 7, 14, 12)):
        # The simulator publishes tomorrow (local) whole at the auction: the UTC partition's first day.
        simulated = periods.day_ahead_horizon(now, tz) > tomorrow
        assert catalog.published_by(endpoint, tomorrow, now) is simulated
