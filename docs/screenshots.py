"""README's pictures, made from the project's own output: `make screenshots`.

Run from the repository root with it on the path, as `make screenshots` does
(`PYTHONPATH=. .venv/bin/python docs/screenshots.py`). Starts `make run` in demo mode (a private
state directory and free ports: nothing of a `make run` of yours is touched), waits for the
history fill of the default assets to finish, and takes the pictures in Debian's chromium:

    docs/images/asset-graph.png   the lineage of DE_LU's forecast error, from the API's data items
    docs/images/partitions.png    the partitions of DE_LU actual load
    docs/images/plots.png         DE_LU actual load's per-partition figures, plotted by Dagster

The simulator's values are deterministic, so a new run changes the pictures only where the
dates moved on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from entsoe_pipeline_tests.fixtures import browser as ui_browser
from entsoe_pipeline_tests.fixtures.live_dagster import partition_stats
from entsoe_pipeline_tests.fixtures.make_run import private_make_run
from entsoe_pipeline_tests.fixtures.polling import wait_for

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
SERIES = ["entsoe", "actual_load", "de_lu"]
FORECAST_ERROR = ["derived", "load_forecast_error", "de_lu"]
HISTORY_DAYS = 120  # enough for the plots to show weeks, short enough to fill in a few minutes


def _filled(graphql_url: str) -> bool:
    """DE_LU actual load whole, and its forecast error computed for every day but perhaps today's."""
    for path, short in ((SERIES, 0), (FORECAST_ERROR, 1)):
        stats = partition_stats(graphql_url, path)
        if stats["numMaterialized"] < stats["numPartitions"] - short:
            return False
    return True


def main() -> None:
    history_start = datetime.now(UTC).date() - timedelta(days=HISTORY_DAYS)
    with private_make_run() as ui:
        started = time.monotonic()
        ui.start(ENTSOE_HISTORY_START=history_start.isoformat())
        print(f"make run is up on {ui.ui_url}; waiting for the history fill", flush=True)
        what = "the history fill of DE_LU actual load and its forecast error"
        wait_for(what, lambda: _filled(ui.graphql_url), timeout=900)
        with ui_browser.chromium() as browser:
            page = ui_browser.new_page(browser)
            # From the API's data item through the two series it feeds to the derived table.
            upstream = "&lineageScope=upstream&lineageDepth=2"
            page.goto(ui_browser.asset_url(ui.ui_url, FORECAST_ERROR, "lineage") + upstream)
            ui_browser.graph_nodes(page, {"actual_load", "day_ahead_load_forecast", "de_lu"})
            wait_for("the nodes' status", lambda: not page.get_by_text("Loading").count(), timeout=60)
            page.wait_for_timeout(1500)  # edges are drawn after the nodes
            shots = [ui_browser.screenshot(page, "asset-graph", IMAGES)]

            page.goto(ui_browser.asset_url(ui.ui_url, SERIES, "partitions"))
            print(f"partitions page: {ui_browser.partition_counts(page)}")
            shots.append(ui_browser.screenshot(page, "partitions", IMAGES))

            page.goto(ui_browser.asset_url(ui.ui_url, SERIES))
            page.get_by_text("Plots", exact=True).first.click()
            page.get_by_text("mean", exact=True).first.wait_for()
            page.get_by_text("Metadata", exact=True).first.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(1500)  # the charts animate in
            shots.append(ui_browser.screenshot(page, "plots", IMAGES))
        left = ui.stop()
        if left:
            raise SystemExit(f"make run left processes behind: {sorted(left.values())}")
    for shot in shots:
        print(f"wrote {shot.relative_to(ROOT)}")
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
