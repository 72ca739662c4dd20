"""`make run-distributed` end to end: scripts/run-distributed.sh in demo mode (its own simulator) on
free ports, against a fresh data database and a fresh Dagster database on the suite's cluster,
driven through the webserver's GraphQL API.

1. The code location is served by the gRPC code server: the webserver and the daemon are processes of
   their own that load no code and start no code server themselves.
2. The daemon is alive: every daemon it runs reports a recent heartbeat.
3. A run of one partition launched through GraphQL runs in a worker the code server starts, succeeds,
   and the rows it reports are in TimescaleDB.
4. Ctrl-C (SIGINT to the script's process group, as a terminal sends it) stops everything without
   escalating to SIGKILL: the script exits 0, no process of it is left and no port is held.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest

from entsoe_pipeline_tests.fixtures.live_dagster import (
    WORKER_MARKS,
    cmdline,
    dagster_database,
    gql,
    stop_pids,
)
from entsoe_pipeline_tests.fixtures.polling import wait_for
from entsoe_pipeline_tests.fixtures.ports import free_port
from entsoe_pipeline_tests.fixtures.processes import descendants, user_environment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
SERIES = ["entsoe", "actual_load", "nl"]
NL = "10YNL----------L"
NL_POINTS_PER_DAY = 96

_LOCATION = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  displayMetadata { key value }
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
_DAEMONS = """
query { instance { daemonHealth { allDaemonStatuses { daemonType required healthy lastHeartbeatTime } } } }
"""
_JOBS = """
query Jobs($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) { jobNames } }
"""
_LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on UnauthorizedError { message }
  }
}
"""
_RUN = """
query Run($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } } }
"""
_RUN_MESSAGES = """
query Logs($runId: ID!) { logsForRun(runId: $runId) { __typename
  ... on EventConnection { events { __typename ... on MessageEvent { message } } } } }
"""
_MATERIALIZATIONS = """
query Materializations($keys: [AssetKeyInput!], $partitions: [String!]) {
  assetNodes(assetKeys: $keys) { assetMaterializations(partitions: $partitions) {
    runId partition metadataEntries { label ... on IntMetadataEntry { intValue } } } } }
"""
RUN_DONE = {"SUCCESS", "FAILURE", "CANCELED"}


class Deployment:
    """scripts/run-distributed.sh in a process group of its own, as a terminal runs it."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.ui_port, self.code_port = int(env["ENTSOE_DAGSTER_PORT"]), int(env["ENTSOE_CODE_SERVER_PORT"])
        self.url = f"http://127.0.0.1:{self.ui_port}/graphql"
        self.log_path = log_path
        self.seen: set[int] = set()  # every process of it seen so far, to check that none is left
        with log_path.open("wb") as log:
            self.script = subprocess.Popen(
                ["bash", "scripts/run-distributed.sh"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def processes(self) -> dict[int, str]:
        """pid -> command line of the script's processes now."""
        found = {pid: cmdline(pid) for pid in descendants(self.script.pid)}
        self.seen |= set(found)
        return found

    def left(self) -> dict[int, str]:
        """Those of the processes seen that still run."""
        return {pid: cmdline(pid) for pid in self.seen if Path(f"/proc/{pid}").exists()}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _location_loaded(deployment: Deployment) -> dict | None:
    assert deployment.script.poll() is None, f"the script exited:\n{deployment.log()[-3000:]}"
    entries = gql(deployment.url, _LOCATION, timeout=10)["workspaceOrError"]["locationEntries"]
    entry = entries[0] if len(entries) == 1 else None
    return entry if entry and entry["loadStatus"] == "LOADED" else None


def _daemons_alive(url: str) -> bool:
    statuses = gql(url, _DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
    required = [s for s in statuses if s["required"]]
    now = time.time()
    return bool(required) and all(s["healthy"] and now - (s["lastHeartbeatTime"] or 0) < 60 for s in required)


def _launch_run(url: str, day: date) -> str:
    """One partition of the series, as the UI's Materialize button launches it for a single partition."""
    job_names = gql(url, _JOBS, {"keys": [{"path": SERIES}]})["assetNodes"][0]["jobNames"]
    launched = gql(
        url,
        _LAUNCH_RUN,
        {
            "params": {
                "selector": {
                    "repositoryLocationName": "entsoe",
                    "repositoryName": "__repository__",
                    "jobName": job_names[0],
                    "assetSelection": [{"path": SERIES}],
                },
                "executionMetadata": {
                    "tags": [
                        {"key": "dagster/partition", "value": day.isoformat()},
                        {"key": "launched_by", "value": "e2e"},
                    ]
                },
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return str(launched["run"]["runId"])


def _stored_rows(database_url: str, day: date) -> int:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s"
            " AND time >= %s AND time < %s",
            (NL, day, day + timedelta(days=1)),
        )
        return int(cur.fetchone()[0])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def deployment(pg_admin_url: str, own_database_url: str, tmp_path: Path) -> Iterator[Deployment]:
    today = datetime.now(UTC).date()
    with dagster_database(pg_admin_url, f"dagster_distributed_{uuid.uuid4().hex[:8]}") as dagster_env:
        env = {
            **user_environment(),
            **dagster_env,
            "ENTSOE_LOCAL_DIR": str(tmp_path / "local"),  # Dagster home and the simulator's log
            "ENTSOE_DATABASE_URL": own_database_url,
            "ENTSOE_API_TOKEN": "",  # demo mode, whatever a .env file says
            "ENTSOE_DAGSTER_PORT": str(free_port()),
            "ENTSOE_CODE_SERVER_PORT": str(free_port()),
            "ENTSOE_SIMULATOR_PORT": str(free_port()),
            "ENTSOE_AREAS": "NL",
            "ENTSOE_ENDPOINTS": "actual_load",
            "ENTSOE_HISTORY_START": (today - timedelta(days=3)).isoformat(),
        }
        deployment = Deployment(env, tmp_path / "run-distributed.log")
        try:
            yield deployment
        finally:
            if deployment.script.poll() is None:  # the test failed before it stopped the script
                os.killpg(deployment.script.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    deployment.script.wait(timeout=90)
            stop_pids(deployment.seen)


def test_code_server_webserver_and_daemon_run_a_partition_and_stop_on_ctrl_c(
    deployment: Deployment, own_database_url: str
) -> None:
    url = deployment.url
    started = time.monotonic()

    # 1. The location comes from the code server, which is a process apart from the other two.
    entry = wait_for("the code location to load", lambda: _location_loaded(deployment), timeout=180)
    assert entry["name"] == "entsoe", entry
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
    assert {m["key"]: m["value"] for m in entry["displayMetadata"]} == {
        "host": "127.0.0.1",
        "port": str(deployment.code_port),
    }
    commands = list(deployment.processes().values())
    code_servers = [c for c in commands if " api grpc " in c or " code-server " in c]
    assert len(code_servers) == 1 and f"-p {deployment.code_port}" in code_servers[0], code_servers
    assert "-m entsoe_pipeline.definitions" in code_servers[0]
    assert sum("dagster-webserver -w deploy/workspace-grpc.yaml" in c for c in commands) == 1, commands
    assert sum("dagster-daemon run -w deploy/workspace-grpc.yaml" in c for c in commands) == 1, commands
    code_server = next(p for p, c in deployment.processes().items() if c == code_servers[0])
    print(f"location loaded from the code server after {time.monotonic() - started:.1f}s")

    # 2. The daemon beats.
    wait_for("every daemon to report a heartbeat", lambda: _daemons_alive(url), timeout=60)

    # 3. A run of the day before yesterday (wholly published by now), launched through GraphQL.
    day = datetime.now(UTC).date() - timedelta(days=2)
    run_id = _launch_run(url, day)
    workers: set[int] = set()

    def _run_done() -> str | None:
        deployment.processes()
        workers.update(
            pid
            for pid in descendants(code_server)
            if any(mark in cmdline(pid) for mark in WORKER_MARKS) and "resource_tracker" not in cmdline(pid)
        )
        status = gql(url, _RUN, {"runId": run_id})["runOrError"]["status"]
        return status if status in RUN_DONE else None

    status = wait_for("the run to finish", _run_done, timeout=120, interval=0.3)
    assert status == "SUCCESS", (status, deployment.log()[-4000:])
    events = gql(url, _RUN_MESSAGES, {"runId": run_id})["logsForRun"]["events"]
    run_pids = {int(pid) for e in events for pid in re.findall(r"\(pid: (\d+)\)", e.get("message") or "")}
    assert run_pids & workers, f"the run's processes {run_pids} are not the code server's workers {workers}"

    stored = _stored_rows(own_database_url, day)
    assert stored == NL_POINTS_PER_DAY
    nodes = gql(url, _MATERIALIZATIONS, {"keys": [{"path": SERIES}], "partitions": [day.isoformat()]})
    reported = [
        entry.get("intValue")
        for m in nodes["assetNodes"][0]["assetMaterializations"]
        if m["runId"] == run_id
        for entry in m["metadataEntries"]
        if entry["label"] == "dagster/row_count"
    ]
    assert reported == [stored], reported
    print(f"run {run_id} stored {stored} rows; {time.monotonic() - started:.1f}s since the start")

    # 4. Ctrl-C: the terminal signals the foreground process group, the script's.
    deployment.processes()
    stopping = time.monotonic()
    os.killpg(deployment.script.pid, signal.SIGINT)
    returncode = deployment.script.wait(timeout=120)
    elapsed = time.monotonic() - stopping
    log = deployment.log()
    assert returncode == 0, log[-3000:]
    # The script waits for what it stops; orphans of a worker it killed may take a moment to go.
    with contextlib.suppress(TimeoutError):
        wait_for("the script's processes to be gone", lambda: not deployment.left(), timeout=10, interval=0.2)
    left = deployment.left()
    assert not left, left
    for name in ("the webserver", "the daemon", "the code server", "the simulator"):
        assert f"==> stopping {name}" in log, name
    assert "did not stop within" not in log and "killing what is left" not in log, log[-3000:]
    ports = [deployment.ui_port, deployment.code_port, int(deployment.env["ENTSOE_SIMULATOR_PORT"])]
    assert not [p for p in ports if _listening(p)]
    print(f"Ctrl-C stopped everything in {elapsed:.1f}s; {time.monotonic() - started:.1f}s in all")
