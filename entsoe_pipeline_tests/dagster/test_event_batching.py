"""The code location makes Dagster write a range run's materializations in batches, and a run
worker's other events over pooled connections (entsoe_pipeline/defs/event_batching.py): a history
run of hundreds of partitions costs one insert per asset, not hundreds, and its check results a
round trip each, not new connections. This fails if a Dagster upgrade stops honouring
DAGSTER_EVENT_BATCH_SIZE or optimize_for_webserver."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import psycopg2
import pytest
from dagster_postgres import PostgresEventLogStorage

from entsoe_pipeline import catalog
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.event_batching import VARIABLE, batch_event_writes, pool_instance_connections
from entsoe_pipeline.defs.observations import observation_key
from entsoe_pipeline_tests.fixtures.database import create_database, drop_database

from .conftest import make_resources

ACTUAL = catalog.endpoint("actual_load")
FR = catalog.area("FR")


@pytest.fixture
def postgres_instance(pg_admin_url: str, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance with its storage in PostgreSQL, as make run has it."""
    name = f"dagster_batch_{secrets.token_hex(4)}"
    url = create_database(pg_admin_url, name, timescaledb=False).replace(
        "postgresql://", "postgresql+psycopg2://", 1
    )
    (tmp_path / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: '{url}'\ntelemetry:\n  enabled: false\n"
    )
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        yield instance
    finally:
        instance.dispose()
        drop_database(pg_admin_url, name)


def test_a_range_runs_materializations_are_stored_in_one_batch(
    simulator, own_database_url, postgres_instance, monkeypatch
):
    monkeypatch.delenv(VARIABLE, raising=False)
    batch_event_writes()
    assert int(os.environ[VARIABLE]) >= 366  # a year of days in one batch
    batches: list[int] = []
    store_batch = PostgresEventLogStorage.store_event_batch

    def spy(self, events):  # type: ignore[no-untyped-def]
        batches.append(len(events))
        return store_batch(self, events)

    monkeypatch.setattr(PostgresEventLogStorage, "store_event_batch", spy)
    defs = build_defs(
        Settings(areas=(FR,), endpoints=(ACTUAL,)), resources=make_resources(simulator.url, own_database_url)
    )
    result = dg.materialize(
        [defs.resolve_assets_def(observation_key(ACTUAL, FR))],
        instance=postgres_instance,
        tags={
            "dagster/asset_partition_range_start": "2025-03-01",
            "dagster/asset_partition_range_end": "2025-03-28",
        },
    )
    assert result.success
    assert 28 in batches, f"the 28 materializations were not written as one batch: {batches}"
    status = postgres_instance.get_status_by_partition(
        observation_key(ACTUAL, FR),
        [f"2025-03-{d:02d}" for d in range(1, 29)],
        defs.resolve_assets_def(observation_key(ACTUAL, FR)).partitions_def,
    )
    assert set(status.values()) == {dg.AssetPartitionStatus.MATERIALIZED}


def _sessions_ended(admin_url: str, database: str) -> int:
    """Sessions to ``database`` that PostgreSQL has seen end (pg_stat_database, PostgreSQL 14+)."""
    time.sleep(1)  # an ended backend's statistics are flushed as it exits
    with psycopg2.connect(admin_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (database,))
        return cur.fetchone()[0]


def test_a_run_workers_instance_keeps_its_connections_open(pg_admin_url, postgres_instance):
    """Check results and step events cannot be batched: each would open (and close) connections of
    its own. Pooled, as the assets make their run worker's instance, they reuse one."""
    database = urlsplit(postgres_instance.event_log_storage.postgres_url).path.lstrip("/")
    key = dg.AssetKey(["pool", "probe"])

    def write_events() -> int:
        before = _sessions_ended(pg_admin_url, database)
        for n in range(20):
            postgres_instance.report_runless_asset_event(dg.AssetMaterialization(key, metadata={"n": n}))
        return _sessions_ended(pg_admin_url, database) - before

    unpooled = write_events()
    pool_instance_connections(postgres_instance)
    pooled = write_events()
    assert unpooled >= 20, f"expected a connection per event without the pool, saw {unpooled} sessions"
    assert pooled <= 2, f"the pooled instance opened {pooled} sessions for 20 events"
