"""The Dagster UI as a person sees it: `make run` in demo mode (every default area and endpoint),
opened in Debian's chromium through Playwright.

The simulator answers slowly (1 s a request) over a long history, so the history fill is still
under way while the tests look: the partitions page shows filled and missing partitions. One day
is not published at all, so its completeness check fails. Every test leaves a screenshot in
.local/test-artifacts/ui.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest
from playwright.sync_api import Browser, Page

from entsoe_pipeline import catalog
from entsoe_pipeline_tests.fixtures.browser import (
    asset_url,
    chromium,
    graph_nodes,
    launch_backfill_from_dialog,
    new_page,
    partition_counts,
    screenshot,
)
from entsoe_pipeline_tests.fixtures.live_dagster import gql, materialized, partition_stats, wait_backfill
from entsoe_pipeline_tests.fixtures.make_run import MakeRunInstance, private_make_run
from entsoe_pipeline_tests.fixtures.polling import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

TODAY = datetime.now(UTC).date()
HISTORY_START = TODAY - timedelta(days=1000)
UNPUBLISHED_DAY = TODAY - timedelta(days=6)
AREAS = [catalog.area(a).key for a in catalog.DEFAULT_AREAS]
ENDPOINTS = list(catalog.LOAD_ENDPOINTS)

_CHECKS = """
query Checks($key: AssetKeyInput!, $name: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $name, limit: 100) {
    status evaluation { success description }
  }
}
"""
_FRESHNESS = """
query Freshness($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode { freshnessStatusInfo { freshnessStatus } } }
}
"""


@pytest.fixture(scope="module")
def ui() -> Iterator[MakeRunInstance]:
    with private_make_run() as instance:
        instance.start(
            ENTSOE_HISTORY_START=HISTORY_START.isoformat(),
            ENTSOE_SIMULATOR_LATENCY="1",
            ENTSOE_SIMULATOR_NO_DATA=f"{UNPUBLISHED_DAY}T00:00Z/{UNPUBLISHED_DAY + timedelta(days=1)}T00:00Z",
        )
        try:
            yield instance
        finally:
            left = instance.stop()
            assert not left, f"make run left processes behind: {sorted(left.values())}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    opened = new_page(browser)
    try:
        yield opened
    finally:
        screenshot(opened, f"{request.node.name}-last")
        opened.close()


def _days_with_rows(ui: MakeRunInstance, endpoint: str, area: str) -> set[str]:
    with psycopg2.connect(ui.data_url(), connect_timeout=10) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT (time AT TIME ZONE 'UTC')::date::text FROM entsoe.observations "
            "WHERE endpoint = %s AND area = %s",
            (endpoint, catalog.area(area).eic),
        )
        return {day for (day,) in cur.fetchall()}


def test_the_partitions_page_shows_filled_and_missing_partitions_as_the_store_holds_them(
    ui: MakeRunInstance, page: Page
) -> None:
    path = ["entsoe", "actual_load", "nl"]

    def filling() -> bool:
        stats = partition_stats(ui.graphql_url, path)
        return (
            stats["numMaterialized"] > 0
            and stats["numMaterialized"] + stats["numFailed"] < stats["numPartitions"]
        )

    wait_for("the history fill of NL actual load to be under way", filling, timeout=600, interval=2)
    # Read before the page: every partition the page can show as materialized is in this set.
    (_, shown_before) = materialized(ui.graphql_url, [path])[tuple(path)]
    page.goto(asset_url(ui.ui_url, path, "partitions"))
    counts = partition_counts(page)
    screenshot(page, "partitions-page")
    total = partition_stats(ui.graphql_url, path)["numPartitions"]
    assert sum(counts.values()) == total, counts
    assert counts["Materialized"] > 0 and counts["Missing"] > 0, counts
    # What the UI calls materialized is in TimescaleDB: every such day holds rows, except the day
    # ENTSO-E published nothing for (materialized as "no data", with zero rows).
    stored = _days_with_rows(ui, "actual_load", "NL")
    assert shown_before - {UNPUBLISHED_DAY.isoformat()} <= stored
    assert UNPUBLISHED_DAY.isoformat() not in stored


def test_the_asset_graph_shows_every_area_and_endpoint_with_lineage_to_the_derived_assets(
    ui: MakeRunInstance, page: Page
) -> None:
    page.goto(f"{ui.ui_url}/asset-groups")
    groups = {*ENDPOINTS, "derived", "entsoe_api"}
    assert groups <= graph_nodes(page, groups)
    screenshot(page, "asset-graph")
    # Each endpoint's source feeds one asset per area.
    for endpoint in ENDPOINTS:
        page.goto(asset_url(ui.ui_url, ["entsoe_api", endpoint], "lineage"))
        assert set(AREAS) <= graph_nodes(page, set(AREAS)), endpoint
    # The derived tables are downstream of the series they are computed from.
    page.goto(asset_url(ui.ui_url, ["derived", "total_load"], "lineage"))
    assert {*AREAS, "actual_load", "total_load"} <= graph_nodes(page, {*AREAS, "actual_load", "total_load"})
    for area in AREAS:
        page.goto(asset_url(ui.ui_url, ["derived", "load_forecast_error", area], "lineage"))
        wanted = {area, "actual_load", "day_ahead_load_forecast"}
        assert wanted <= graph_nodes(page, wanted), area
    screenshot(page, "forecast-error-lineage")


def _rows_per_day(ui: MakeRunInstance, area: str, first: date, last: date) -> dict[str, int]:
    with psycopg2.connect(ui.data_url(), connect_timeout=10) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (time AT TIME ZONE 'UTC')::date::text, count(*) FROM entsoe.observations "
            "WHERE endpoint = 'actual_load' AND area = %s AND time >= %s AND time < %s GROUP BY 1",
            (catalog.area(area).eic, first, last + timedelta(days=1)),
        )
        return dict(cur.fetchall())


def test_a_backfill_launched_in_the_materialize_dialog_completes_and_its_rows_are_stored(
    ui: MakeRunInstance, page: Page
) -> None:
    first, last = HISTORY_START + timedelta(days=30), HISTORY_START + timedelta(days=32)
    backfill_id = launch_backfill_from_dialog(
        page, ui.ui_url, ["entsoe", "actual_load", "fr"], first.isoformat(), last.isoformat()
    )
    screenshot(page, "backfill-launched")
    assert wait_backfill(ui.graphql_url, backfill_id, timeout=600) == "COMPLETED_SUCCESS"
    # FR publishes hourly: 24 rows a day.
    assert _rows_per_day(ui, "FR", first, last) == {
        (first + timedelta(days=d)).isoformat(): 24 for d in range((last - first).days + 1)
    }
    page.goto(f"{ui.ui_url}/runs/b/{backfill_id}")
    page.get_by_text("Completed").first.wait_for()
    screenshot(page, "backfill-completed")


def test_a_failing_check_shows_as_failing(ui: MakeRunInstance, page: Page) -> None:
    path = ["entsoe", "actual_load", "nl"]

    def failed() -> list[str]:
        executions = gql(ui.graphql_url, _CHECKS, {"key": {"path": path}, "name": "completeness"})
        return [
            e["evaluation"]["description"]
            for e in executions["assetCheckExecutions"]
            if e["status"] == "FAILED" and e["evaluation"]
        ]

    descriptions = wait_for("a failed completeness check of NL actual load", failed, timeout=600)
    assert any(UNPUBLISHED_DAY.isoformat() in d for d in descriptions), descriptions
    page.goto(asset_url(ui.ui_url, path, "checks") + "&checkDetail=completeness")
    page.get_by_text("Execution history").first.click()
    row = page.get_by_role("row").filter(has_text=UNPUBLISHED_DAY.isoformat()).first
    assert "Failed" in row.inner_text()
    screenshot(page, "failing-check")


def test_freshness_shows_what_the_series_newest_point_says(ui: MakeRunInstance, page: Page) -> None:
    newest = ["entsoe", "actual_load", "nl_newest"]

    def status() -> str | None:
        info = gql(ui.graphql_url, _FRESHNESS, {"key": {"path": newest}})["assetNodeOrError"][
            "freshnessStatusInfo"
        ]
        return info and info["freshnessStatus"]

    wait_for("NL actual load's freshness to be known", lambda: status() == "HEALTHY", timeout=600)
    page.goto(asset_url(ui.ui_url, newest))
    page.get_by_text("Freshness policy").first.wait_for()
    page.get_by_text("Passing").first.wait_for()
    screenshot(page, "freshness")


def test_the_plots_view_charts_each_partitions_figures(ui: MakeRunInstance, page: Page) -> None:
    page.goto(asset_url(ui.ui_url, ["entsoe", "actual_load", "de_lu"]))
    page.get_by_role("button", name="Plots").or_(page.get_by_text("Plots", exact=True)).first.click()
    for figure in ("mean", "min", "max"):
        page.get_by_text(figure, exact=True).first.wait_for()
    screenshot(page, "plots")
