"""entsoe_pipeline/storage/derived.py: the total load sums areas that do not overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from entsoe_pipeline import catalog
from entsoe_pipeline.storage import upsert_points
from entsoe_pipeline.storage.derived import DerivedRows, refresh_total_load
from entsoe_pipeline_tests.integration.test_storage_upsert import points, query

DE_LU, TENNET, FR = (catalog.area(n) for n in ("DE_LU", "DE_TENNET", "FR"))
DE_AT_LU, AT, IT, IT_NORD = (catalog.area(n) for n in ("DE_AT_LU", "AT", "IT", "IT_NORD"))
# Windows of their own: the derived tables are shared by every test of the session.
DAY = datetime(2019, 3, 4, tzinfo=UTC)
ITALY_DAY = datetime(2019, 3, 5, tzinfo=UTC)
DE_AT_LU_DAY = datetime(2019, 3, 6, tzinfo=UTC)


def _store(dsn: str, area: catalog.Area, value: float, hours: range, day: datetime) -> None:
    start = day + timedelta(hours=hours.start)
    batch = points(len(hours), start=start, freq="1h", resolution="PT60M", value=value, area=area.eic)
    upsert_points(dsn, "actual_load", area.eic, batch)


def _refresh(dsn: str, areas: list[catalog.Area], day: datetime) -> DerivedRows:
    nested = [(p.eic, c.eic) for p, c in catalog.nested_pairs(areas)]
    end = day + timedelta(days=1)
    return refresh_total_load(dsn, [a.eic for a in areas], day, end, nested, until=end)


def _totals(dsn: str, day: datetime) -> list[tuple[float, tuple[str, ...]]]:
    rows = query(
        dsn,
        "SELECT load_mw, area_codes FROM entsoe.total_load_hourly "
        "WHERE hour >= %s AND hour < %s ORDER BY hour",
        (day, day + timedelta(days=1)),
    )
    return [(load, tuple(codes)) for load, codes in rows]


def _codes(*areas: catalog.Area) -> tuple[str, ...]:
    return tuple(sorted(a.eic for a in areas))


def test_a_control_area_inside_an_enabled_bidding_zone_is_not_counted_twice(dsn: str) -> None:
    for area, value, hours in (
        (DE_LU, 60_000.0, range(20)),
        (TENNET, 15_000.0, range(24)),
        (FR, 50_000.0, range(24)),
    ):
        _store(dsn, area, value, hours, DAY)
    assert catalog.nested_pairs([DE_LU, TENNET, FR]) == [(TENNET, DE_LU)]

    result = _refresh(dsn, [DE_LU, TENNET, FR], DAY)

    totals = _totals(dsn, DAY)
    assert len(totals) == 24
    # DE_LU published hours 0-19: TenneT is inside it there; afterwards TenneT is all there is.
    assert set(totals[:20]) == {(110_000.0, _codes(DE_LU, FR))}
    assert set(totals[20:]) == {(65_000.0, _codes(TENNET, FR))}
    # TenneT standing in for DE_LU keeps two areas in the sum, but those hours are not whole.
    assert (result.expected, result.whole) == (24, 20)


def test_an_italian_zone_with_italy_enabled_is_not_counted_twice(dsn: str) -> None:
    _store(dsn, IT, 40_000.0, range(18), ITALY_DAY)
    _store(dsn, IT_NORD, 25_000.0, range(24), ITALY_DAY)

    result = _refresh(dsn, [IT, IT_NORD], ITALY_DAY)

    totals = _totals(dsn, ITALY_DAY)
    assert set(totals[:18]) == {(40_000.0, _codes(IT))}
    assert set(totals[18:]) == {(25_000.0, _codes(IT_NORD))}
    assert (result.expected, result.whole) == (24, 18)


def test_de_at_lu_with_de_lu_a_control_area_and_austria_counts_each_load_once(dsn: str) -> None:
    # DE_AT_LU for the morning only (as when the zone was split), its parts all day.
    _store(dsn, DE_AT_LU, 90_000.0, range(12), DE_AT_LU_DAY)
    _store(dsn, DE_LU, 60_000.0, range(24), DE_AT_LU_DAY)
    _store(dsn, TENNET, 15_000.0, range(24), DE_AT_LU_DAY)
    _store(dsn, AT, 8_000.0, range(24), DE_AT_LU_DAY)

    result = _refresh(dsn, [DE_AT_LU, DE_LU, TENNET, AT], DE_AT_LU_DAY)

    totals = _totals(dsn, DE_AT_LU_DAY)
    assert set(totals[:12]) == {(90_000.0, _codes(DE_AT_LU))}
    assert set(totals[12:]) == {(68_000.0, _codes(DE_LU, AT))}
    # Only DE_AT_LU is outermost: the afternoon's parts add up, but DE_AT_LU itself is missing.
    assert (result.expected, result.whole) == (24, 12)
