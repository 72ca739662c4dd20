"""End to end, as a user sees it: `dagster dev` (webserver and daemon) in demo mode against the
simulator and a real TimescaleDB, driven through the GraphQL API the UI uses.

1. A partition backfill of 60 days for two assets, launched like the UI's "Materialize" dialog
   (launchPartitionBackfill), finishes with every row in TimescaleDB.
2. A week of rows three weeks back is deleted by hand; the store sensor, on by default, restores
   exactly those rows without anyone clicking.
3. Freshness follows the data: when ENTSO-E stops publishing, the series' _newest companion turns
   to FAIL although a backfill of older partitions materializes the series meanwhile, and back to
   PASS as soon as current data is stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import pytest
import requests

from entsoe_pipeline_tests.fixtures.database import create_database, drop_database
from entsoe_pipeline_tests.fixtures.live_dagster import DagsterDev
from entsoe_pipeline_tests.fixtures.polling import wait_for
from entsoe_pipeline_tests.fixtures.processes import user_environment

REPO = Path(__file__).resolve().parents[2]
AREAS = {"DE_LU": "10Y1001A1001A82H", "FR": "10YFR-RTE------C"}
POINTS_PER_DAY = {"DE_LU": 96, "FR": 24}

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

_LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}
"""
_STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numPartitions }
    ... on PythonError { message }
  }
}
"""


@contextmanager
def _dagster_dev(
    pg_admin_url: str, database_url: str, api_url: str, tmp_path: Path, settings: dict[str, str]
) -> Iterator[dict]:
    """`dagster dev` on a free port with the ENTSOE_* ``settings``, its instance storage in a fresh
    PostgreSQL database."""
    dagster_db = f"dagster_e2e_{uuid.uuid4().hex[:8]}"
    dagster_url = create_database(pg_admin_url, dagster_db, timescaledb=False)
    pg = urlparse(dagster_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        f"""
storage:
  custom:
    module: entsoe_pipeline.dagster_storage
    class: EntsoePostgresStorage
    config:
      postgres_db:
        hostname: {pg.hostname}
        port: {pg.port}
        username: {pg.username}
        password: {pg.password}
        db_name: {dagster_db}
        scheme: postgresql+psycopg2
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    default_limit: 2
telemetry:
  enabled: false
"""
    )
    today = datetime.now(UTC).date()
    env = {
        **user_environment(),
        "DAGSTER_HOME": str(home),
        "ENTSOE_API_URL": api_url,
        "ENTSOE_DATABASE_URL": database_url,
        **settings,
    }
    dev = DagsterDev(home, env, tmp_path / "dagster_dev.log")
    try:
        dev.start()
        yield {
            "url": dev.url,
            "today": today,
            "database_url": database_url,
            "dagster_url": dagster_url,
            "log": tmp_path / "dagster_dev.log",
        }
    finally:
        dev.stop()
        drop_database(pg_admin_url, dagster_db)


# A token of the real shape: the pipeline treats it as a secret (the simulator's demo token is not one).
SECRET_TOKEN = f"e2e-{uuid.uuid4()}"


@pytest.fixture
def dagster_dev(pg_admin_url, database_url, make_simulator, tmp_path) -> Iterator[dict]:
    today = datetime.now(UTC).date()
    simulator = make_simulator(token=SECRET_TOKEN)
    settings = {
        "ENTSOE_API_TOKEN": SECRET_TOKEN,
        "ENTSOE_AREAS": ",".join(AREAS),
        "ENTSOE_ENDPOINTS": "actual_load",
        "ENTSOE_HISTORY_START": (today - timedelta(days=61)).isoformat(),
        "ENTSOE_STORE_SENSOR_INTERVAL_SECONDS": "30",
    }
    with _dagster_dev(pg_admin_url, database_url, simulator.url, tmp_path, settings) as dev:
        yield dev


def _gql(url: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(url, json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _rows(database_url: str, area: str, start: date, end: date) -> list[tuple]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT time, value FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s "
            "AND time >= %s AND time < %s ORDER BY time",
            (AREAS[area], start, end),
        )
        return cur.fetchall()


def _launch_backfill(url: str, areas: list[str], first: date, last: date, title: str) -> str:
    """A partition backfill of actual load, as the UI's "Materialize" dialog launches it."""
    launched = _gql(
        url,
        _LAUNCH,
        {
            "params": {
                "partitionsByAssets": [
                    {
                        "assetKey": {"path": ["entsoe", "actual_load", area.lower()]},
                        "partitions": {"range": {"start": first.isoformat(), "end": last.isoformat()}},
                    }
                    for area in areas
                ],
                "title": title,
                "tags": [{"key": "launched_by", "value": "e2e"}],
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def _wait_for_backfill(dev: dict, backfill_id: str) -> None:
    def _finished() -> str | None:
        status = _gql(dev["url"], _STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
        return (
            status
            if status in {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
            else None
        )

    status = wait_for("the backfill to finish", _finished, timeout=600, interval=5)
    assert status in {"COMPLETED", "COMPLETED_SUCCESS"}, (status, dev["log"].read_text()[-4000:])


def test_ui_backfill_then_store_sensor_restores_deleted_rows(dagster_dev):
    url, today, database_url = dagster_dev["url"], dagster_dev["today"], dagster_dev["database_url"]
    # Ends the day before yesterday: yesterday's last hour is published only after 01:00 UTC today.
    first, last = today - timedelta(days=61), today - timedelta(days=2)
    backfill_id = _launch_backfill(url, list(AREAS), first, last, "e2e: 60 days of actual load")
    _wait_for_backfill(dagster_dev, backfill_id)
    for area, per_day in POINTS_PER_DAY.items():
        assert len(_rows(database_url, area, first, last + timedelta(days=1))) == 60 * per_day, area

    # A week three weeks back: Dagster counts its partitions as materialized, only the store sensor
    # sees that their rows are gone.
    hole_start, hole_end = today - timedelta(days=21), today - timedelta(days=14)
    before = _rows(database_url, "FR", hole_start, hole_end)
    assert len(before) == 7 * 24
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s "
            "AND time >= %s AND time < %s",
            (AREAS["FR"], hole_start, hole_end),
        )
    assert _rows(database_url, "FR", hole_start, hole_end) == []

    restored = wait_for(
        "the store sensor to restore the deleted week",
        lambda: len(_rows(database_url, "FR", hole_start, hole_end)) == len(before),
        timeout=600,
        interval=10,
    )
    assert restored
    assert _rows(database_url, "FR", hole_start, hole_end) == before
    assert len(_rows(database_url, "FR", first, last + timedelta(days=1))) == 60 * 24
    _assert_token_nowhere(dagster_dev)


_RUNS = """
query { runsOrError(limit: 500) { ... on Runs { results { runId status runConfigYaml
  tags { key value } } } } }
"""
_RUN_LOGS = """
query Logs($runId: ID!) { logsForRun(runId: $runId) { ... on EventConnection { events {
  __typename ... on MessageEvent { message }
  ... on MaterializationEvent { metadataEntries { label ... on TextMetadataEntry { text }
    ... on JsonMetadataEntry { jsonString } ... on UrlMetadataEntry { url } } }
  ... on ExecutionStepFailureEvent { error { message stack } }
} } } }
"""
_RESOURCE = """
query { topLevelResourceDetailsOrError(resourceSelector: {repositoryLocationName: "entsoe",
  repositoryName: "__repository__", resourceName: "entsoe_api"}) {
  ... on ResourceDetails { configuredValues { key value type } } } }
"""


def _assert_token_nowhere(dev: dict) -> None:
    """The token is in no GraphQL answer (runs, their config and tags, every event of every run,
    the resource's configuration), in no row of Dagster's storage and not in dagster dev's log."""
    answers = [requests.post(dev["url"], json={"query": _RESOURCE}, timeout=60).text]
    runs = _gql(dev["url"], _RUNS)["runsOrError"]["results"]
    assert runs
    answers.append(str(runs))
    for run in runs:
        answers.append(
            requests.post(
                dev["url"], json={"query": _RUN_LOGS, "variables": {"runId": run["runId"]}}, timeout=60
            ).text
        )
    assert "ENTSOE_API_TOKEN" in answers[0]  # the resource shows the variable's name, not its value
    assert all(SECRET_TOKEN not in answer for answer in answers)
    with psycopg2.connect(dev["dagster_url"]) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND data_type IN ('text', 'character varying', 'json', 'jsonb')"
        )
        for table, column in cur.fetchall():  # names read from the catalogue, not from input
            pattern = f"%{SECRET_TOKEN}%"
            cur.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %s', (pattern,))
            assert cur.fetchone()[0] == 0, f"the token is in Dagster's {table}.{column}"
    assert SECRET_TOKEN not in dev["log"].read_text()


_FRESHNESS = """
query Freshness($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    freshnessStatusInfo { freshnessStatus freshnessStatusMetadata { lastMaterializedTimestamp } }
    assetMaterializations(limit: 1) { timestamp runId }
  }
}
"""
SERIES = ["entsoe", "actual_load", "fr"]
NEWEST = ["entsoe", "actual_load", "fr_newest"]


def _nodes(url: str) -> dict[str, dict]:
    nodes = _gql(url, _FRESHNESS, {"keys": [{"path": SERIES}, {"path": NEWEST}]})["assetNodes"]
    return {"/".join(n["assetKey"]["path"]): n for n in nodes}


def _freshness(url: str) -> str | None:
    info = _nodes(url)["/".join(NEWEST)]["freshnessStatusInfo"]
    return info and info["freshnessStatus"]


def _backfill_status(url: str, backfill_id: str) -> str:
    return _gql(url, _STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]


def test_freshness_follows_the_stored_data_not_the_runs(
    pg_admin_url, own_database_url, make_simulator, tmp_path
):
    simulator = make_simulator()
    today = datetime.now(UTC).date()
    # Three runs' worth of history (a run re-reads up to 336 days): two re-read at once, the third
    # waits, so the backfill is still under way when the first ones have stored their partitions.
    history_start = today - timedelta(days=700)
    settings = {
        "ENTSOE_AREAS": "FR",
        "ENTSOE_ENDPOINTS": "actual_load",
        "ENTSOE_HISTORY_START": history_start.isoformat(),
        # Confirmations every 20 s, the companion's policy fails after 60 s without one, and a
        # series that is not current is refilled every 75 s.
        "ENTSOE_STORE_SENSOR_INTERVAL_SECONDS": "5",
    }
    with _dagster_dev(pg_admin_url, own_database_url, simulator.url, tmp_path, settings) as dev:
        url = dev["url"]
        # The automation loads the history on its own; the store sensor confirms the data current.
        wait_for("the companion to pass", lambda: _freshness(url) == "HEALTHY", timeout=420, interval=5)

        # ENTSO-E stops publishing six hours ago (and the store forgets what came since): the
        # newest point falls four hours behind what is due, beyond the two hours tolerated. A user
        # re-reads the history meanwhile, slowly (10 s an answer): the series is materialized
        # again and again while its data stays behind.
        cut = datetime.now(UTC) - timedelta(hours=6)
        simulator.set_faults(latency_seconds=10)
        simulator.config.no_data = ((cut, datetime(2100, 1, 1, tzinfo=UTC)),)
        with psycopg2.connect(own_database_url) as conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s AND time >= %s",
                (AREAS["FR"], cut),
            )
        backfill_id = _launch_backfill(
            url, ["FR"], history_start, today - timedelta(days=2), "e2e: re-read history"
        )

        def _series_materialized_after_confirmation() -> bool:
            nodes = _nodes(url)
            series_last = int(nodes["/".join(SERIES)]["assetMaterializations"][0]["timestamp"]) / 1000
            confirmed = nodes["/".join(NEWEST)]["freshnessStatusInfo"]["freshnessStatusMetadata"]
            return series_last > confirmed["lastMaterializedTimestamp"]

        def _failed_during_backfill() -> bool:
            # The series is materialized (a re-read run stores its year of partitions at its end)
            # after the companion's last confirmation, and the companion fails all the same.
            if _freshness(url) != "DEGRADED" or not _series_materialized_after_confirmation():
                return False
            status = _backfill_status(url, backfill_id)
            assert status == "REQUESTED", f"the backfill ended ({status}) before freshness failed"
            return True

        wait_for(
            "the companion to fail while the series is materialized after its last confirmation",
            _failed_during_backfill,
            timeout=300,
            interval=5,
        )
        assert _freshness(url) == "DEGRADED"
        assert _series_materialized_after_confirmation()

        # Publication resumes: the store sensor's refill brings the data in, no one clicks anything.
        simulator.set_faults(latency_seconds=0)
        simulator.config.no_data = ()
        wait_for("the companion to pass again", lambda: _freshness(url) == "HEALTHY", timeout=300, interval=5)
        _wait_for_backfill(dev, backfill_id)
