"""The project's Dagster storage (entsoe_pipeline/dagster_storage.py, dagster.yaml ``storage: custom``):
a range run's materializations in one batch, a submitted run's planned materializations in one INSERT
per asset and its per-partition check results written together, each with the same event log, partition
status and check status as dagster-postgres's event-by-event writes, and connections pooled in every
process, a dropped one replaced. These fail if a Dagster upgrade changes the internals the storage
relies on."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster_postgres import PostgresEventLogStorage

from entsoe_pipeline import catalog
from entsoe_pipeline.dagster_storage import (
    BATCH_VARIABLE,
    EntsoePostgresStorage,
    PlannedBatchEventLogStorage,
    batch_event_writes,
)
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.observations import observation_key
from entsoe_pipeline.defs.partition_checks import partition_check_events
from entsoe_pipeline.defs.targets import RANGE_END, RANGE_START
from entsoe_pipeline_tests.fixtures.database import create_database, drop_database

from .conftest import make_resources

ACTUAL = catalog.endpoint("actual_load")
FR = catalog.area("FR")
REPO = Path(__file__).resolve().parents[2]

InstanceFactory = Callable[[str], dg.DagsterInstance]


@pytest.fixture
def postgres_instances(pg_admin_url: str, tmp_path: Path) -> Iterator[InstanceFactory]:
    """Dagster instances with their storage in fresh PostgreSQL databases: ``project`` takes the
    storage section of the project's dagster.yaml, ``plain`` dagster-postgres's own storage."""
    made: list[tuple[dg.DagsterInstance, str]] = []

    def make(kind: str) -> dg.DagsterInstance:
        name = f"dagster_storage_{secrets.token_hex(4)}"
        url = create_database(pg_admin_url, name, timescaledb=False).replace(
            "postgresql://", "postgresql+psycopg2://", 1
        )
        if kind == "project":
            storage = yaml.safe_load((REPO / "dagster.yaml").read_text())["storage"]
            storage["custom"]["config"]["postgres_url"] = url
        else:
            storage = {"postgres": {"postgres_url": url}}
        home = tmp_path / name
        home.mkdir()
        (home / "dagster.yaml").write_text(
            yaml.safe_dump({"storage": storage, "telemetry": {"enabled": False}})
        )
        instance = dg.DagsterInstance.from_config(str(home))
        made.append((instance, name))
        return instance

    try:
        yield make
    finally:
        for instance, name in made:
            instance.dispose()
            drop_database(pg_admin_url, name)


def _calls(
    monkeypatch: pytest.MonkeyPatch, storage_class: type, method: str, record: Callable[..., object]
) -> list:
    """``record`` of the arguments of each call of ``storage_class.method`` from now on."""
    seen: list = []
    original = getattr(storage_class, method)

    def spy(self, *args):  # type: ignore[no-untyped-def]
        seen.append(record(*args))
        return original(self, *args)

    monkeypatch.setattr(storage_class, method, spy)
    return seen


def _batch_sizes(monkeypatch: pytest.MonkeyPatch, storage_class: type, method: str) -> list[int]:
    """The sizes of the event batches ``storage_class.method`` is given from now on."""
    return _calls(monkeypatch, storage_class, method, len)


def _range(first: str, last: str) -> dict[str, str]:
    """The tags of a run over a range of partitions."""
    return {RANGE_START: first, RANGE_END: last}


def test_the_project_instance_uses_the_project_storage(postgres_instances):
    instance = postgres_instances("project")
    assert isinstance(instance.get_ref().storage, EntsoePostgresStorage)
    assert isinstance(instance.event_log_storage, PlannedBatchEventLogStorage)
    assert os.environ.get(BATCH_VARIABLE), "loading the storage enables Dagster's batched event writes"


def test_a_range_runs_materializations_are_stored_in_one_batch(
    simulator, own_database_url, postgres_instances, monkeypatch
):
    monkeypatch.delenv(BATCH_VARIABLE, raising=False)
    batch_event_writes()
    assert int(os.environ[BATCH_VARIABLE]) >= 366  # a year of days in one batch
    batches = _batch_sizes(monkeypatch, PostgresEventLogStorage, "store_event_batch")
    instance = postgres_instances("project")
    defs = build_defs(
        Settings(areas=(FR,), endpoints=(ACTUAL,)), resources=make_resources(simulator.url, own_database_url)
    )
    asset = defs.resolve_assets_def(observation_key(ACTUAL, FR))
    result = dg.materialize(
        [asset],
        instance=instance,
        tags=_range("2025-03-01", "2025-03-28"),
    )
    assert result.success
    assert 28 in batches, f"the 28 materializations were not written as one batch: {batches}"
    status = instance.get_status_by_partition(
        observation_key(ACTUAL, FR), [f"2025-03-{d:02d}" for d in range(1, 29)], asset.partitions_def
    )
    assert set(status.values()) == {dg.AssetPartitionStatus.MATERIALIZED}


DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def first() -> None:
    raise RuntimeError("fails, so that its partitions show as failed: planned, never materialized")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def second() -> None:
    raise RuntimeError("fails too")


def _planned_rows(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=10_000
    ).records
    return sorted(
        (
            r.event_log_entry.dagster_event.asset_key.to_user_string(),
            r.event_log_entry.dagster_event.partition,
        )
        for r in records
        if r.event_log_entry.dagster_event is not None
        and r.event_log_entry.dagster_event.asset_key is not None
        and r.event_log_entry.dagster_event.partition is not None
    )


def test_a_runs_planned_materializations_are_one_insert_per_asset_and_read_as_dagster_postgres_reads_them(
    postgres_instances, monkeypatch
):
    keys = DAYS.get_partition_keys_in_range(dg.PartitionKeyRange("2025-01-01", "2025-03-31"))
    inserts = _batch_sizes(monkeypatch, PlannedBatchEventLogStorage, "_store_planned")
    seen = {}
    for kind in ("plain", "project"):
        instance = postgres_instances(kind)
        result = dg.materialize(
            [first, second],
            instance=instance,
            tags=_range(keys[0], keys[-1]),
            raise_on_error=False,
        )
        assert not result.success
        statuses = {
            asset.key: set(instance.get_status_by_partition(asset.key, keys, DAYS).values())
            for asset in (first, second)
        }
        # The asset's row names the run that last planned it (read by the UI and the automation).
        last_runs = {
            record.asset_entry.last_run_id for record in instance.get_asset_records([first.key, second.key])
        }
        assert last_runs == {result.run_id}, kind
        seen[kind] = (_planned_rows(instance, result.run_id), statuses)
    assert sorted(inserts) == [len(keys), len(keys)], (
        f"expected one INSERT of {len(keys)} per asset: {inserts}"
    )
    assert seen["project"] == seen["plain"]
    rows, statuses = seen["project"]
    assert len(rows) == 2 * len(keys)
    assert statuses == {
        first.key: {dg.AssetPartitionStatus.FAILED},
        second.key: {dg.AssetPartitionStatus.FAILED},
    }


CHECKED_DAYS = DAYS.get_partition_keys_in_range(dg.PartitionKeyRange("2025-02-01", "2025-02-20"))


@dg.asset(
    partitions_def=DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[
        dg.AssetCheckSpec("even_day", asset="checked", partitions_def=DAYS),
        dg.AssetCheckSpec("sane", asset="checked", partitions_def=DAYS, blocking=True),
    ],
)
def checked(context):  # type: ignore[no-untyped-def]
    """Reports its check results per partition as the ENTSO-E assets do: odd days fail one check."""
    for key in context.partition_keys:
        context.add_asset_metadata({"day": key}, partition_key=key)
    yield dg.MaterializeResult()
    yield from partition_check_events(
        context,
        {
            key: [
                dg.AssetCheckResult(check_name="even_day", passed=int(key[-2:]) % 2 == 0),
                dg.AssetCheckResult(check_name="sane", passed=True, metadata={"day": key}),
            ]
            for key in context.partition_keys
        },
    )


def _check_state(instance: dg.DagsterInstance, name: str) -> dict[str, str]:
    """Each partition's status of a check, as the UI's Checks tab and automation conditions read it."""
    key = dg.AssetCheckKey(checked.key, name)
    state = instance.event_log_storage.get_asset_check_state([(key, DAYS)])[key]
    return {
        partition: status.value
        for status, subset in state.subsets.items()
        for partition in subset.subset_value.get_partition_keys()
    }


def _check_executions(instance: dg.DagsterInstance, name: str) -> list[tuple]:
    """The check's executions as its history lists them: partition, status, what the stored
    evaluation says and whether it points at a materialization of its partition."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(checked.key, name), limit=1000
    )
    rows = []
    for record in history:
        assert record.event is not None and record.event.dagster_event is not None
        evaluation = record.event.dagster_event.asset_check_evaluation_data
        target = evaluation.target_materialization_data
        materialization = (
            instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=checked.key, storage_ids=[target.storage_id]), limit=1
            ).records
            if target
            else []
        )
        rows.append(
            (
                record.partition,
                record.status.value,
                evaluation.partition,
                evaluation.passed,
                [m.partition_key for m in materialization],
            )
        )
    return sorted(rows)


def _event_log(instance: dg.DagsterInstance, run_id: str) -> list[tuple]:
    """The run's events in storage order: type, asset and partition (a check result's own)."""
    out = []
    for record in instance.get_records_for_run(run_id, limit=100_000).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        partition = (
            event.asset_check_evaluation_data.partition
            if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
            else event.partition
        )
        out.append(
            (event.event_type_value, event.asset_key.to_user_string() if event.asset_key else None, partition)
        )
    return out


def test_a_runs_check_results_per_partition_are_written_together_and_read_as_dagster_postgres_reads_them(
    postgres_instances, monkeypatch
):
    monkeypatch.delenv(BATCH_VARIABLE, raising=False)
    batch_event_writes()
    writes = _batch_sizes(monkeypatch, PlannedBatchEventLogStorage, "_store_check_results")
    # dagster-postgres's own update of one result, which the project's storage uses only for results
    # without a planned row.
    one_by_one = _calls(
        monkeypatch,
        PlannedBatchEventLogStorage,
        "_update_asset_check_evaluation",
        lambda _event, event_id: event_id,
    )
    seen = {}
    for kind in ("plain", "project"):
        instance = postgres_instances(kind)
        result = dg.materialize(
            [checked],
            instance=instance,
            tags=_range(CHECKED_DAYS[0], CHECKED_DAYS[-1]),
        )
        assert result.success
        seen[kind] = (
            {name: _check_state(instance, name) for name in ("even_day", "sane")},
            {name: _check_executions(instance, name) for name in ("even_day", "sane")},
            _event_log(instance, result.run_id),
        )
    assert writes == [2 * len(CHECKED_DAYS)], f"expected the run's check results in one write: {writes}"
    assert not one_by_one, f"{len(one_by_one)} results missed their planned rows and were updated one by one"
    assert seen["project"] == seen["plain"]
    states, executions, _ = seen["project"]
    assert states["sane"] == dict.fromkeys(CHECKED_DAYS, "SUCCEEDED")
    assert states["even_day"] == {d: "SUCCEEDED" if int(d[-2:]) % 2 == 0 else "FAILED" for d in CHECKED_DAYS}
    assert [row[4] for row in executions["sane"]] == [[d] for d in CHECKED_DAYS], (
        "each result points at its own partition's materialization"
    )


def test_a_check_result_without_a_planned_row_or_held_at_the_end_is_stored(postgres_instances):
    """A run whose planned check rows are missing (none recorded for it): the result is inserted as
    dagster-postgres inserts it. A result still held when the process ends is written then."""
    instance = postgres_instances("project")
    result = dg.materialize(
        [checked],
        instance=instance,
        tags=_range("2025-03-01", "2025-03-02"),
    )
    evaluation = next(
        r.event_log_entry
        for r in instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
    )
    storage = instance.event_log_storage
    key = evaluation.dagster_event.asset_check_evaluation_data.asset_check_key
    status = "SUCCEEDED" if evaluation.dagster_event.asset_check_evaluation_data.passed else "FAILED"

    def stored(run_id: str) -> list[tuple[str, str]]:
        history = storage.get_asset_check_execution_history(key, limit=10)
        return [(r.run_id, r.status.value) for r in history if r.run_id == run_id]

    storage.store_event(evaluation._replace(run_id="a-run-without-planned-checks"))
    storage.flush_check_results()
    assert stored("a-run-without-planned-checks") == [("a-run-without-planned-checks", status)]

    # A process that ends holding results writes them as it disposes of its storage.
    other = PlannedBatchEventLogStorage(storage.postgres_url, should_autocreate_tables=False)
    other.store_event(evaluation._replace(run_id="a-run-that-ends"))
    assert stored("a-run-that-ends") == [], "held until the next event or the end of the process"
    other.dispose()
    assert stored("a-run-that-ends") == [("a-run-that-ends", status)]


def _sessions_ended(admin_url: str, database: str) -> int:
    """Sessions to ``database`` that PostgreSQL has seen end (pg_stat_database, PostgreSQL 14+)."""
    time.sleep(1)  # an ended backend's statistics are flushed as it exits
    with psycopg2.connect(admin_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (database,))
        return cur.fetchone()[0]


def _database(instance: dg.DagsterInstance) -> str:
    return urlsplit(instance.event_log_storage.postgres_url).path.lstrip("/")  # type: ignore[attr-defined]


@contextmanager
def _count_sessions(admin_url: str, database: str) -> Iterator[list[int]]:
    ended: list[int] = []
    before = _sessions_ended(admin_url, database)
    yield ended
    ended.append(_sessions_ended(admin_url, database) - before)


def _write_events(instance: dg.DagsterInstance, count: int) -> None:
    key = dg.AssetKey(["pool", "probe"])
    for n in range(count):
        instance.report_runless_asset_event(dg.AssetMaterialization(key, metadata={"n": n}))


def test_every_process_keeps_its_connections_open(pg_admin_url, postgres_instances):
    """Check results and step events cannot be batched: with dagster-postgres's storage each opens
    (and closes) connections of its own outside the webserver; the project's storage reuses one."""
    plain, project = postgres_instances("plain"), postgres_instances("project")
    with _count_sessions(pg_admin_url, _database(plain)) as unpooled:
        _write_events(plain, 20)
    with _count_sessions(pg_admin_url, _database(project)) as pooled:
        _write_events(project, 20)
    assert unpooled[0] >= 20, f"expected a connection per event without the pool, saw {unpooled[0]} sessions"
    assert pooled[0] <= 2, f"the pooled instance opened {pooled[0]} sessions for 20 events"


def test_a_pooled_connection_the_server_dropped_is_replaced(pg_admin_url, postgres_instances):
    """A restart of Dagster's database, or an idle timeout, ends the pooled sessions: the next write
    opens a new connection instead of failing."""
    instance = postgres_instances("project")
    _write_events(instance, 1)
    database = _database(instance)
    with psycopg2.connect(pg_admin_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
        assert cur.fetchone()[0] >= 1, "the instance held no connection to drop"
    _write_events(instance, 3)
    records = instance.fetch_materializations(dg.AssetKey(["pool", "probe"]), limit=10).records
    assert len(records) == 4
