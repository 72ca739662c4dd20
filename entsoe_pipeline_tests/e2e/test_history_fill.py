"""While a new installation fills its history, a hole in what is already stored is restored before
the fill ends: the history's runs do not hold back the store sensor's restore.

`dagster dev` runs with the project's own dagster.yaml (run queue, per-backfill run limit, pool)
against the simulator, slowed to 0.5 s an answer so that six years of six series take minutes. Once
a week of FR actual load is stored and materialized, its rows are deleted by hand; the test waits
for the store sensor to bring exactly those rows back and checks, at that moment, that history is
still missing elsewhere. It does not wait for the rest of the fill.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest

from entsoe_pipeline import catalog
from entsoe_pipeline.defs.partitions import partitions_for
from entsoe_pipeline.simulator import SimulatorConfig
from entsoe_pipeline_tests.fixtures.live_dagster import (
    REPO,
    DagsterDev,
    RecordingSimulator,
    dagster_database,
    materialized,
    not_materialized,
)
from entsoe_pipeline_tests.fixtures.polling import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

AREAS = ("DE_LU", "FR", "NL")
ENDPOINTS = ("actual_load", "day_ahead_load_forecast")
FR_LOAD = ("entsoe", "actual_load", "fr")


@pytest.fixture
def filling(pg_admin_url: str, own_database_url: str, tmp_path: Path) -> Iterator[dict]:
    """`dagster dev` on an empty instance and database, filling six years of history on its own."""
    today = datetime.now(UTC).date()
    start = date(today.year - 6, today.month, 1)
    sim = RecordingSimulator(SimulatorConfig(latency_seconds=0.5))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    name = f"dagster_e2e_{os.getpid()}_{tmp_path.name[-6:].lower()}".replace("-", "_")
    try:
        with dagster_database(pg_admin_url, name) as dagster_pg:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("ENTSOE_", "DAGSTER_"))},
                **dagster_pg,
                "DAGSTER_HOME": str(home),
                "ENTSOE_API_URL": sim.url,
                "ENTSOE_DATABASE_URL": own_database_url,
                "ENTSOE_AREAS": ",".join(AREAS),
                "ENTSOE_ENDPOINTS": ",".join(ENDPOINTS),
                "ENTSOE_HISTORY_START": start.isoformat(),
                "ENTSOE_STORE_SENSOR_INTERVAL_SECONDS": "15",
            }
            dev = DagsterDev(home, env, tmp_path / "dagster_dev.log")
            try:
                dev.start()
                yield {"dev": dev, "start": start, "today": today, "database_url": own_database_url}
            finally:
                dev.stop()
    finally:
        sim.stop()


def _history(start: date, today: date) -> dict[tuple[str, ...], set[str]]:
    """Per asset, the partitions that ended before today."""
    midnight = datetime.combine(today, datetime.min.time(), UTC)
    out = {}
    for name in ENDPOINTS:
        definition = partitions_for(catalog.endpoint(name), start)
        keys = {
            k
            for k in definition.get_partition_keys(current_time=midnight)
            if definition.time_window_for_partition_key(k).end <= midnight
        }
        for area in AREAS:
            out[("entsoe", name, catalog.area(area).key)] = keys
    return out


def _rows(database_url: str, first: date, end: date) -> list[tuple]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT time, value FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s"
            " AND time >= %s AND time < %s ORDER BY time",
            (catalog.area("FR").eic, first, end),
        )
        return cur.fetchall()


def test_a_deleted_week_is_restored_before_the_history_fill_ends(filling):
    dev, start, today = filling["dev"], filling["start"], filling["today"]
    history = _history(start, today)
    paths = [list(p) for p in history]

    # Ever materialized: a refresh or a revision sweep that runs a filled partition again shows it
    # as MATERIALIZING meanwhile, but the fill has done its part there.
    seen: dict[tuple[str, ...], set[str]] = {path: set() for path in history}

    def history_left() -> int:
        for path, (_, done) in materialized(dev.url, paths).items():
            seen[path] |= done
        return sum(len(keys - seen[path]) for path, keys in history.items())

    # The second week of the history: among the first partitions the fill materializes.
    week = [start + timedelta(days=7 + i) for i in range(7)]
    week_keys = {d.isoformat() for d in week}

    def week_materialized() -> bool:
        return not week_keys & set(not_materialized(dev.url, paths)[FR_LOAD])

    wait_for("the fill to materialize a week of FR actual load", week_materialized, timeout=600, interval=3)
    first, end = week[0], week[-1] + timedelta(days=1)
    before = _rows(filling["database_url"], first, end)
    assert len(before) == 7 * 24
    left_at_delete = history_left()
    assert left_at_delete > 1000, "the fill ended too soon to show anything; lengthen the history"

    with psycopg2.connect(filling["database_url"]) as conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s"
            " AND time >= %s AND time < %s",
            (catalog.area("FR").eic, first, end),
        )
    assert _rows(filling["database_url"], first, end) == []

    wait_for(
        "the store sensor to restore the deleted week",
        lambda: len(_rows(filling["database_url"], first, end)) == len(before),
        timeout=600,
        interval=2,
    )
    left_at_restore = history_left()
    assert _rows(filling["database_url"], first, end) == before
    assert left_at_restore > 0, (
        f"the week came back only once the whole history was filled ({left_at_delete} history "
        "partitions were missing when it was deleted)"
    )
