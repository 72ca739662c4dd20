"""While a new installation fills its history, a hole in what is already stored is restored before
the history's runs queued ahead of it: the fill does not hold back the store sensor's restore.

`dagster dev` runs with the project's own dagster.yaml (run queue, per-backfill run limit, pool)
against the simulator, slowed to 0.5 s an answer, over six years of six series. Once a week of FR
actual load is stored and materialized, the API pool is closed for a while (as from the UI's
concurrency page), so that history runs pile up in the queue as on a machine whose fill takes hours;
then the week's rows are deleted by hand and the store sensor queues its restore behind them. The
pool reopens: the week must come back exactly while history runs queued before it still wait. The
test does not wait for the rest of the fill.
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
from entsoe_pipeline.simulator import SimulatorConfig
from entsoe_pipeline_tests.fixtures.live_dagster import (
    REPO,
    DagsterDev,
    RecordingSimulator,
    dagster_database,
    gql,
    not_materialized,
)
from entsoe_pipeline_tests.fixtures.polling import wait_for
from entsoe_pipeline_tests.fixtures.processes import user_environment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

AREAS = ("DE_LU", "FR", "NL")
ENDPOINTS = ("actual_load", "day_ahead_load_forecast")
FR_LOAD = ("entsoe", "actual_load", "fr")

_SET_LIMIT = """
mutation Limit($key: String!, $limit: Int!) { setConcurrencyLimit(concurrencyKey: $key, limit: $limit) }
"""
_QUEUED = """
query Queued($tags: [ExecutionTag!]) { runsOrError(filter: {statuses: [QUEUED], tags: $tags}) {
  ... on Runs { results { runId } } } }
"""


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
                **user_environment(),
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
                yield {"dev": dev, "start": start, "database_url": own_database_url}
            finally:
                dev.stop()
    finally:
        sim.stop()


def _rows(database_url: str, first: date, end: date) -> list[tuple]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT time, value FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s"
            " AND time >= %s AND time < %s ORDER BY time",
            (catalog.area("FR").eic, first, end),
        )
        return cur.fetchall()


def _set_api_slots(url: str, limit: int) -> None:
    """The entsoe_api pool's limit, as the UI's concurrency page sets it."""
    assert gql(url, _SET_LIMIT, {"key": "entsoe_api", "limit": limit})["setConcurrencyLimit"] is True


def _queued(url: str, launched_by: str) -> set[str]:
    """Ids of the queued runs a launcher started."""
    runs = gql(url, _QUEUED, {"tags": [{"key": "launched_by", "value": launched_by}]})["runsOrError"]
    return {r["runId"] for r in runs["results"]}


def test_a_deleted_week_is_restored_before_the_history_runs_queued_ahead_of_it(filling):
    dev, start = filling["dev"], filling["start"]
    paths = [["entsoe", e, catalog.area(a).key] for e in ENDPOINTS for a in AREAS]
    database_url = filling["database_url"]

    # The second week of the history: among the first partitions the fill materializes.
    week = [start + timedelta(days=7 + i) for i in range(7)]
    week_keys = {d.isoformat() for d in week}

    def week_materialized() -> bool:
        return not week_keys & set(not_materialized(dev.url, paths)[FR_LOAD])

    wait_for("the fill to materialize a week of FR actual load", week_materialized, timeout=600, interval=3)
    first, end = week[0], week[-1] + timedelta(days=1)
    before = _rows(database_url, first, end)
    assert len(before) == 7 * 24

    # No API slot for a while: the history's runs pile up in the queue, as they do on a machine
    # whose fill takes hours. The hole is made and found behind them.
    _set_api_slots(dev.url, 0)

    def piled_up() -> set[str] | None:
        queued = _queued(dev.url, "automation")
        return queued if len(queued) >= 4 else None

    ahead = wait_for("history runs to queue up", piled_up, timeout=600, interval=3)
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s"
            " AND time >= %s AND time < %s",
            (catalog.area("FR").eic, first, end),
        )
    assert _rows(database_url, first, end) == []
    wait_for("the store sensor to queue its restore", lambda: _queued(dev.url, "gap"), timeout=300)
    _set_api_slots(dev.url, 2)

    wait_for(
        "the store sensor's run to restore the deleted week",
        lambda: len(_rows(database_url, first, end)) == len(before),
        timeout=600,
        interval=2,
    )
    assert _rows(database_url, first, end) == before
    # A backfill runs at most 3 runs at once (dagster.yaml): the restore took the free place instead
    # of waiting, in the order of the queue, for every history run queued before it.
    still_queued = ahead & _queued(dev.url, "automation")
    assert still_queued, (
        f"the week came back only after all {len(ahead)} history runs queued before it had started"
    )
