"""entsoe_pipeline/audit.py: a re-fetch of stored windows finds what the store lacks, against the
simulator with revisions on and a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg2

from entsoe_pipeline import catalog, storage
from entsoe_pipeline.audit import audit
from entsoe_pipeline.entsoe import EntsoeClient
from entsoe_pipeline.ingest import PartitionWindow, ingest_partitions
from entsoe_pipeline.simulator import DEMO_TOKEN
from entsoe_pipeline.storage.windows import partition_windows

ACTUAL = catalog.endpoint("actual_load")
NL = catalog.area("NL")
FIRST_FETCH = datetime(2024, 2, 12, 9, tzinfo=UTC)  # a Monday: 2024-02-01 .. 02-11 published


def _days(start: datetime, end: datetime) -> list[PartitionWindow]:
    return [
        PartitionWindow(s.strftime("%Y-%m-%d"), s, e)
        for s, e in partition_windows(start, end, ACTUAL.granularity)
    ]


def _ingest(url: str, dsn: str, now: datetime) -> None:
    with EntsoeClient(DEMO_TOKEN, url) as client:
        ingest_partitions(
            client,
            dsn,
            ACTUAL,
            NL,
            _days(datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 2, 11, tzinfo=UTC)),
            now=now,
        )


def _audit(url: str, dsn: str, now: datetime):
    with EntsoeClient(DEMO_TOKEN, url) as client:
        return audit(
            dsn, client, [ACTUAL], [NL], start=datetime(2024, 2, 1, tzinfo=UTC), now=now, sample=10, seed=1
        )


def test_audit_finds_revisions_not_yet_fetched_and_none_after_a_sweep(make_simulator, database_url):
    storage.ensure_schema(database_url)
    sim = make_simulator(now=FIRST_FETCH, revision_share=0.5, republish_hourly_share=0.5, seed=3)
    _ingest(sim.url, database_url, FIRST_FETCH)
    assert sum(r.differences for r in _audit(sim.url, database_url, FIRST_FETCH)) == 0

    later = FIRST_FETCH + timedelta(days=35)  # every revision of those days is out now
    sim.config.now = later
    before_sweep = _audit(sim.url, database_url, later)
    revised_days = sim.revisions(
        ACTUAL, NL, datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 2, 11, tzinfo=UTC)
    )
    assert len(revised_days) > 0
    assert sum(r.mismatched for r in before_sweep) > 0
    # Quarter hours of days re-published hourly are still stored: stale until a sweep supersedes them.
    assert sum(r.stale for r in before_sweep) > 0

    _ingest(sim.url, database_url, later)  # a revision sweep over the same days
    after_sweep = _audit(sim.url, database_url, later)
    assert [(r.windows, r.differences) for r in after_sweep] == [(10, 0)]
    assert after_sweep[0].compared > 0


def test_the_command_prints_the_table_and_fails_on_a_difference(make_simulator, database_url):
    storage.ensure_schema(database_url)
    sim = make_simulator()  # real clock: the command audits the last days
    fr = catalog.area("FR")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = _days(today - timedelta(days=4), today - timedelta(days=1))
    with EntsoeClient(DEMO_TOKEN, sim.url) as client:
        ingest_partitions(client, database_url, ACTUAL, fr, days, now=datetime.now(UTC))
    env = {
        **os.environ,
        "ENTSOE_DATABASE_URL": database_url,
        "ENTSOE_API_URL": sim.url,
        "ENTSOE_API_TOKEN": "",
        "ENTSOE_AREAS": "FR",
        "ENTSOE_ENDPOINTS": "actual_load",
        "ENTSOE_HISTORY_START": (today - timedelta(days=4)).date().isoformat(),
    }
    command = [sys.executable, "-m", "entsoe_pipeline.audit", "--sample", "3", "--seed", "5"]
    clean = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "1 series audited, 0 with differences" in clean.stdout

    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE entsoe.observations SET value = value + 1 WHERE endpoint = 'actual_load' AND area = %s "
            "AND time >= %s AND time < %s",
            (fr.eic, days[0].start, days[-1].end),
        )
    differing = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert differing.returncode == 1, differing.stdout + differing.stderr
    assert "1 series audited, 1 with differences" in differing.stdout
    assert "mismatched" in differing.stdout
