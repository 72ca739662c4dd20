"""The database fails under a run: PostgreSQL stopped in the middle of a range run, or the run killed
with SIGKILL in the middle of a write. Partitions are all or nothing, the failure says what happened
without the password, and re-running gives exactly the rows of a clean run (a checksum per series).

Both ways a run stores are disturbed: a range the store holds nothing of ("history") is written in
one transaction, so none of its partitions is left; a range that holds rows ("merge", here its last
day) is written in halves around them, a COPY for each half that holds none and a transaction for
each partition that does, so the interrupted half is absent and the stored day stays, whole.

The server is a private cluster of its own (scripts/db.sh with another ENTSOE_LOCAL_DIR and port),
so that stopping it disturbs no other test. A partition's write is held in the middle by a row the
test inserts, uncommitted, with a key of that partition: the writer waits on it, and the fault
strikes while it waits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from entsoe_pipeline import catalog, storage
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.observations import observation_key
from entsoe_pipeline.demo import DEMO_TOKEN
from entsoe_pipeline.entsoe import EntsoeClient
from entsoe_pipeline.ingest import PartitionWindow, ingest_partitions
from entsoe_pipeline_tests.fixtures.database import create_database, drop_database
from entsoe_pipeline_tests.fixtures.polling import wait_for
from entsoe_pipeline_tests.fixtures.private_cluster import PrivateCluster

from .conftest import make_resources

REPO_ROOT = Path(__file__).resolve().parents[2]
ACTUAL = catalog.endpoint("actual_load")
FR = catalog.area("FR")
FIRST, LAST = "2025-03-03", "2025-03-08"  # six daily partitions, one API request
HELD = "2025-03-05"  # the partition whose write the fault interrupts
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST}

CHECKSUMS = """
    SELECT (time AT TIME ZONE 'UTC')::date::text AS day,
           count(*),
           md5(string_agg(concat_ws('|', time, business_type, psr_type, variant, resolution, value, unit),
                          ',' ORDER BY time, business_type, psr_type, variant))
    FROM entsoe.observations WHERE endpoint = %s AND area = %s GROUP BY 1 ORDER BY 1
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    private = PrivateCluster("db-fault-test")
    try:
        private.start()
        yield private
    finally:
        private.remove()


def _checksums(url: str) -> dict[str, tuple[int, str]]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(CHECKSUMS, (ACTUAL.name, FR.eic))
        return {day: (count, digest) for day, count, digest in cur.fetchall()}


def _clear(url: str) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE entsoe.observations")
        cur.execute("DELETE FROM entsoe.daily_counts")


def _store_last_day(api_url: str, url: str) -> None:
    """The range's last partition stored beforehand: the run then merges partition by partition."""
    start = datetime.fromisoformat(f"{LAST}T00:00+00:00")
    with EntsoeClient(DEMO_TOKEN, api_url) as client:
        window = PartitionWindow(LAST, start, start + timedelta(days=1))
        result = ingest_partitions(client, url, ACTUAL, FR, [window], now=datetime.now(UTC))
    assert not result.failed


# What is left of the range after the fault struck the write of HELD, per way of storing.
LEFT_AFTER_FAULT = {
    "history": {},
    "merge": {LAST: 24},
}


def _prepare(api_url: str, url: str, path: str) -> None:
    _clear(url)
    if path == "merge":
        _store_last_day(api_url, url)


def _materialize(defs: dg.Definitions) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [defs.resolve_assets_def(observation_key(ACTUAL, FR))],
        instance=dg.DagsterInstance.ephemeral(),
        tags=RANGE_TAGS,
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def clean_run(simulator, pg_admin_url) -> tuple[str, dict[str, tuple[int, str]], tuple]:
    """The rows of an undisturbed run (in a database of the suite's cluster) and one row of HELD."""
    sim = simulator
    name = f"entsoe_clean_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_admin_url, name, timescaledb=True)
    try:
        assert _materialize(build_defs(Settings(), resources=make_resources(sim.url, url))).success
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT * FROM entsoe.observations WHERE endpoint = %s AND area = %s AND time = %s",
                (ACTUAL.name, FR.eic, f"{HELD}T00:00Z"),
            )
            columns = tuple(d.name for d in cur.description)
            (row,) = cur.fetchall()
        sums = _checksums(url)
    finally:
        drop_database(pg_admin_url, name)
    assert len(sums) == 6 and all(count == 24 for count, _ in sums.values())
    return sim.url, sums, (columns, row)


class HeldWrite:
    """An open transaction holding an uncommitted row with a key of HELD: a writer of HELD waits."""

    def __init__(self, url: str, held_row: tuple) -> None:
        columns, row = held_row
        insert = (
            f"INSERT INTO entsoe.observations ({', '.join(columns)})"  # names from the catalogue
            f" VALUES ({', '.join(['%s'] * len(row))})"
        )
        # The hypertable's chunk must exist already: a chunk created by the open transaction would
        # hold every writer of its week, not only the writer of this key.
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(insert, row)
            cur.execute("DELETE FROM entsoe.observations WHERE time = %s", (row[columns.index("time")],))
        self.url = url
        self.conn = psycopg2.connect(url)
        with self.conn.cursor() as cur:
            cur.execute(insert, row)

    def writer_waiting(self) -> bool:
        with psycopg2.connect(self.url) as probe, probe.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> %s",
                (self.conn.get_backend_pid(),),
            )
            return cur.fetchone()[0] > 0

    def release(self) -> None:
        if not self.conn.closed:
            with contextlib.suppress(psycopg2.Error):  # a server that went away rolled back itself
                self.conn.rollback()
            self.conn.close()


def _messages(error) -> str:
    """The messages of a serialized error and of its causes (a retry wraps the step's error)."""
    parts = []
    while error is not None:
        parts.append(error.message)
        error = error.cause or error.context
    return "\n".join(parts)


def _stored_days(url: str) -> dict[str, int]:
    return {day: count for day, (count, _) in _checksums(url).items()}


# The disturbed run goes in a child process, as Dagster runs it: psycopg2 can leave the interpreter
# in a bad state when the server goes away in the middle of a COPY, which must not reach pytest.
DISTURBED_RUN = """
import json, sys
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline_tests.dagster.conftest import make_resources
from entsoe_pipeline_tests.dagster.test_database_faults import _materialize, _messages

api_url, db_url, retry_delay = sys.argv[1], sys.argv[2], int(sys.argv[3])
defs = build_defs(Settings(retry_delay_seconds=retry_delay), resources=make_resources(api_url, db_url))
result = _materialize(defs)
failures = [
    _messages(e.event_specific_data.error)
    for e in result.all_events
    if e.event_type_value in ("STEP_FAILURE", "STEP_UP_FOR_RETRY")
]
print(json.dumps({"success": result.success, "failures": failures}))
"""


def _start_run(api_url: str, db_url: str, retry_delay: int = 60) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DISTURBED_RUN, api_url, db_url, str(retry_delay)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def _outcome(run: subprocess.Popen[str]) -> dict:
    out, _ = run.communicate(timeout=300)
    assert run.returncode == 0, out[-2000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("down_seconds", "retry_delay", "outcome", "path"),
    [
        (1, 3, "the run's own retry completes it", "history"),
        (12, 1, "the run fails cleanly, a re-execution completes it", "history"),
        (12, 1, "the run fails cleanly, a re-execution completes it", "merge"),
    ],
)
def test_postgres_stopped_during_a_range_run_loses_nothing(
    cluster, clean_run, down_seconds, retry_delay, outcome, path
):
    api_url, clean, held_row = clean_run
    storage.ensure_schema(cluster.url)
    _prepare(api_url, cluster.url, path)
    held = HeldWrite(cluster.url, held_row)
    run = _start_run(api_url, cluster.url, retry_delay)
    try:
        wait_for("the write of the held partition to wait", held.writer_waiting, timeout=120, interval=0.2)
        cluster.stop()
        held.release()
        time.sleep(down_seconds)
        if outcome.startswith("the run fails"):
            result = _outcome(run)
        cluster.start()
        if outcome.startswith("the run's own retry"):
            result = _outcome(run)
    finally:
        held.release()
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    # The interrupted write says what happened and holds no credentials of the database URL.
    assert result["failures"], "the write interrupted by the stop did not fail"
    message = result["failures"][0]
    assert "nothing was stored" in message and "entsoe:entsoe@" not in message

    if outcome.startswith("the run's own retry"):
        assert result["success"]
    else:
        assert not result["success"]
        # Whole partitions or none: the held one and those after it are absent.
        assert _stored_days(cluster.url) == LEFT_AFTER_FAULT[path]
        assert _outcome(_start_run(api_url, cluster.url))["success"]
    assert _checksums(cluster.url) == clean


@pytest.mark.parametrize("path", ["history", "merge"])
def test_a_run_killed_mid_write_leaves_no_partial_partition(cluster, clean_run, path):
    api_url, clean, held_row = clean_run
    storage.ensure_schema(cluster.url)
    _prepare(api_url, cluster.url, path)
    held = HeldWrite(cluster.url, held_row)
    process = _start_run(api_url, cluster.url)
    try:
        wait_for("the write of the held partition to wait", held.writer_waiting, timeout=120, interval=0.2)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        held.release()
    # The killed writer's transaction ends with its connection: nothing of HELD was committed.
    assert _stored_days(cluster.url) == LEFT_AFTER_FAULT[path]

    assert _outcome(_start_run(api_url, cluster.url))["success"]
    assert _checksums(cluster.url) == clean
