"""entsoe_pipeline/storage/derived.py: the total load sums areas that do not overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from entsoe_pipeline import catalog
from entsoe_pipeline.storage import upsert_points
from entsoe_pipeline.storage.derived import refresh_total_load
from entsoe_pipeline_tests.integration.test_storage_upsert import points, query

DE_LU, TENNET, FR = (catalog.area(n) for n in ("DE_LU", "DE_TENNET", "FR"))
# A window of its own: the derived tables are shared by every test of the session.
DAY = datetime(2019, 3, 4, tzinfo=UTC)


def test_a_control_area_inside_an_enabled_bidding_zone_is_not_counted_twice(dsn: str) -> None:
    for area, value, hours in ((DE_LU, 60_000.0, 20), (TENNET, 15_000.0, 24), (FR, 50_000.0, 24)):
        batch = points(hours, start=DAY, freq="1h", resolution="PT60M", value=value, area=area.eic)
        upsert_points(dsn, "actual_load", area.eic, batch)
    nested = [(p.eic, c.eic) for p, c in catalog.nested_pairs([DE_LU, TENNET, FR])]
    assert nested == [(TENNET.eic, DE_LU.eic)]

    refresh_total_load(dsn, [DE_LU.eic, TENNET.eic, FR.eic], DAY, DAY + timedelta(days=1), nested)

    rows = query(
        dsn,
        "SELECT hour, load_mw, area_codes FROM entsoe.total_load_hourly "
        "WHERE hour >= %s AND hour < %s ORDER BY hour",
        (DAY, DAY + timedelta(days=1)),
    )
    assert len(rows) == 24
    # DE_LU published hours 0-19: TenneT is inside it there; afterwards TenneT is all there is.
    assert {(load, tuple(codes)) for _, load, codes in rows[:20]} == {
        (110_000.0, tuple(sorted((DE_LU.eic, FR.eic))))
    }
    assert {(load, tuple(codes)) for _, load, codes in rows[20:]} == {
        (65_000.0, tuple(sorted((TENNET.eic, FR.eic))))
    }
