"""entsoe_pipeline/audit.py: a re-fetch of stored windows finds what the store lacks, against the
simulator with revisions on and a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from entsoe_pipeline import catalog, storage
from entsoe_pipeline.audit import audit
from entsoe_pipeline.entsoe import EntsoeClient
from entsoe_pipeline.ingest import PartitionWindow, ingest_partitions
from entsoe_pipeline.simulator import DEMO_TOKEN
from entsoe_pipeline.storage.windows import partition_windows

ACTUAL = catalog.endpoint("actual_load")
NL = catalog.area("NL")
FIRST_FETCH = datetime(2024, 2, 12, 9, tzinfo=UTC)  # a Monday: 2024-02-01 .. 02-11 published


@pytest.fixture
def database_url(own_database_url: str) -> str:
    """A database per test: the audit samples every stored window, whoever wrote it (in the
    session's shared database, other tests' days that this simulator never published)."""
    return own_database_url


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


def test_the_command_prints_the_table_and_the_revisions_per_series(make_simulator, database_url):
    storage.ensure_schema(database_url)
    fr = catalog.area("FR")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = _days(today - timedelta(days=40), today - timedelta(days=37))
    # Fetched half an hour after the last day ended: the revisions of its local days (D+1 .. D+30,
    # once a day is out in full) mostly come later, so values differ once the clock moves on.
    first_fetch = days[-1].end + timedelta(minutes=30)
    sim = make_simulator(now=first_fetch, revision_share=1.0, seed=2)
    with EntsoeClient(DEMO_TOKEN, sim.url) as client:
        ingest_partitions(client, database_url, ACTUAL, fr, days, now=first_fetch)
    env = {
        **os.environ,
        "ENTSOE_DATABASE_URL": database_url,
        "ENTSOE_API_URL": sim.url,
        "ENTSOE_API_TOKEN": "",
        "ENTSOE_AREAS": "FR",
        "ENTSOE_ENDPOINTS": "actual_load",
        "ENTSOE_HISTORY_START": days[0].start.date().isoformat(),
    }
    command = [sys.executable, "-m", "entsoe_pipeline.audit", "--sample", "3", "--days", "60", "--seed", "5"]
    clean = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "1 series audited, 0 with differences" in clean.stdout

    sim.config.now = datetime.now(UTC)  # every revision of those days (D+30 at the latest) is out
    revised = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert revised.returncode == 1, revised.stdout + revised.stderr
    assert "1 series audited, 1 with differences" in revised.stdout
    header, row = (line.split() for line in revised.stdout.splitlines()[1:3])
    printed = dict(zip(header, row, strict=True))
    window = (days[0].start, days[-1].end)
    stored = sim.published(ACTUAL, fr, *window, as_of=first_fetch)["time"]
    revisions = sim.revisions(ACTUAL, fr, *window)
    # Values revised after the fetch differ; hours published after it are missing.
    after_fetch = revisions[(revisions["revised_at"] > first_fetch) & revisions["time"].isin(stored)]
    late = len(sim.published(ACTUAL, fr, *window)) - len(stored)
    assert (printed["endpoint"], printed["area"], printed["series"]) == ("actual_load", "FR", "A04")
    assert int(printed["mismatched"]) == len(after_fetch) > 0, revised.stdout
    assert (printed["windows"], printed["compared"]) == ("3", str(len(stored)))
    assert (printed["missing"], printed["stale"]) == (str(late), "0")
