"""Dagster's instance storage for this project: dagster-postgres's, changed where a history fill on a
small machine spent its time (dagster.yaml: ``storage: custom``, ``EntsoePostgresStorage``).

* **Pooled connections in every process.** dagster-postgres keeps connections open only in the
  webserver. Elsewhere (the daemon, each run worker) every event opens and closes connections of its
  own, two or three per event, and PostgreSQL forks a server process for each. Here every process
  that loads the instance holds a small pool, pinged at checkout so that a connection the server
  dropped (a restart, an idle timeout) is replaced instead of failing the write.
* **Batches stored as batches.** Dagster hands events over in batches only when
  DAGSTER_EVENT_BATCH_SIZE is set; importing this module sets it in every process that loads the
  instance, the daemon included (the code location sets it too, for deployments on another storage).
* **Planned materializations in one INSERT.** Submitting a run, the backfill daemon records a planned
  materialization for every partition of every asset of the run: 1,008 for a run of three assets over
  336 days, 4,578 for the default history. dagster-postgres batches only materializations and
  observations and writes these one at a time; here each asset's planned partitions of one batch go
  in one INSERT, with the asset's row updated once, as dagster-postgres does for a batch of
  materializations.
* **A run's per-partition check results written together.** Dagster hands check results over one
  at a time (it never batches them): a history run of three assets over 336 days reports 2,016, and
  writing each (an INSERT, a NOTIFY nobody listens to, an UPDATE of its planned row, a transaction
  apiece) took a third of the run. Here a run's results about single partitions are held until an
  event of another kind comes (the step's end, at the latest) or 1,000 are held, then written in one
  INSERT and one transaction of UPDATEs. Readers see them a moment later, in the same order and in
  the same rows. A run worker killed in that moment loses them with the run, which is launched
  again (dagster.yaml: run_retries); a failed write raises at that next event.

Nothing public offers any of this, so the internals it relies on (``optimize_for_webserver``, the
storages' ``_engine``, the event log's batch-writing helpers and its table of check executions) are
used here alone. entsoe_pipeline_tests/dagster/test_dagster_storage.py fails if an upgrade changes
them: it compares what the batch paths store with what dagster-postgres stores event by event, and
counts connections.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Sequence
from typing import Any

import psycopg2
import sqlalchemy
from dagster import DagsterEventType, EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

BATCH_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
# A year of daily partitions of one asset fits in one batch; a value already set is kept.
BATCH_SIZE = 1000
# Check results held back at most, then written together.
CHECK_RESULTS_HELD = 1000
POOL_RECYCLE_SECONDS = 3600
# Beyond the one connection each storage keeps: for the threads of the daemon and of a run worker
# that write at the same time.
POOL_OVERFLOW = 8


def batch_event_writes() -> None:
    os.environ.setdefault(BATCH_VARIABLE, str(BATCH_SIZE))


batch_event_writes()


def _ping_at_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """SQLAlchemy's checkout hook: a connection the server has closed raises DisconnectionError,
    on which the pool discards it and opens a new one."""
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except psycopg2.Error as error:
        raise sqlalchemy.exc.DisconnectionError(str(error)) from error


def pool_connections(storage: Any) -> None:
    """Give one of dagster-postgres's storages a pool of connections kept open for the process,
    without a statement timeout (a run's writes take as long as they take)."""
    storage.optimize_for_webserver(
        statement_timeout=0, pool_recycle=POOL_RECYCLE_SECONDS, max_overflow=POOL_OVERFLOW
    )
    sqlalchemy.event.listen(storage._engine, "checkout", _ping_at_checkout)


def _planned_asset(event: EventLogEntry) -> str | None:
    """The asset of a planned materialization for one partition; None for any other event."""
    dagster_event = event.dagster_event
    if (
        dagster_event is None
        or dagster_event.event_type != DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        or dagster_event.asset_key is None
        or dagster_event.partition is None
    ):
        return None
    return dagster_event.asset_key.to_string()


def _partition_check_result(event: EventLogEntry) -> bool:
    """A run's check result for one partition: one of the many a range run reports."""
    dagster_event = event.dagster_event
    return (
        bool(event.run_id)
        and dagster_event is not None
        and dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
        and dagster_event.asset_check_evaluation_data.partition is not None
    )


class PlannedBatchEventLogStorage(PostgresEventLogStorage):
    """dagster-postgres's event log, storing a batch's planned materializations one INSERT per asset
    and a run's consecutive per-partition check results together."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_checks: list[EventLogEntry] = []
        # Held while check results are written: a writer of any other event waits for them, so the
        # event log keeps the order in which events came.
        self._held_lock = threading.Lock()

    def store_event(self, event: EventLogEntry) -> None:
        if not _partition_check_result(event):
            self.flush_check_results()
            super().store_event(event)
            return
        with self._held_lock:
            self._held_checks.append(event)
            full = len(self._held_checks) >= CHECK_RESULTS_HELD
        if full:
            self.flush_check_results()

    def flush_check_results(self) -> None:
        """Write the check results held back, if any."""
        with self._held_lock:
            held, self._held_checks = self._held_checks, []
            for _, results in itertools.groupby(held, key=lambda e: e.run_id):
                self._store_check_results(list(results))

    def dispose(self) -> None:
        self.flush_check_results()
        super().dispose()

    def _store_check_results(self, events: list[EventLogEntry]) -> None:
        """What store_event does for each check result, for all of them at once: their events in one
        INSERT, their planned rows updated in one transaction. A result without a planned row (none
        was recorded for its run) goes the event-by-event way, which inserts one."""
        rows = [self._event_to_row(e) for e in events]
        with self._connect() as conn:
            statement = SqlEventLogStorageTable.insert().values(rows).returning(SqlEventLogStorageTable.c.id)
            ids = [int(row[0]) for row in conn.execute(statement)]
        table = AssetCheckExecutionsTable
        key = sqlalchemy.bindparam
        update = (
            table.update()
            .where(
                table.c.asset_key == key("b_asset_key"),
                table.c.check_name == key("b_check_name"),
                table.c.run_id == key("b_run_id"),
                table.c.partition == key("b_partition"),
            )
            .values(
                execution_status=key("b_status"),
                evaluation_event=key("b_event"),
                evaluation_event_timestamp=key("b_timestamp"),
                evaluation_event_storage_id=key("b_id"),
                materialization_event_storage_id=key("b_materialization_id"),
            )
        )
        parameters = []
        for event, row, event_id in zip(events, rows, ids, strict=True):
            evaluation = event.get_dagster_event().asset_check_evaluation_data
            target = evaluation.target_materialization_data
            parameters.append(
                {
                    "b_asset_key": evaluation.asset_key.to_string(),
                    "b_check_name": evaluation.check_name,
                    "b_run_id": event.run_id,
                    "b_partition": evaluation.partition,
                    "b_status": (
                        AssetCheckExecutionRecordStatus.SUCCEEDED
                        if evaluation.passed
                        else AssetCheckExecutionRecordStatus.FAILED
                    ).value,
                    "b_event": row["event"],  # the same serialized event as the event log's row
                    "b_timestamp": row["timestamp"],
                    "b_id": event_id,
                    "b_materialization_id": target.storage_id if target else None,
                }
            )
        with self.index_transaction() as conn:
            conn.execute(update, parameters)
            stored = {
                int(row[0])
                for row in conn.execute(
                    sqlalchemy.select(table.c.evaluation_event_storage_id).where(
                        table.c.run_id == events[0].run_id, table.c.evaluation_event_storage_id.in_(ids)
                    )
                )
            }
        for event, event_id in zip(events, ids, strict=True):
            if event_id not in stored:
                self.store_asset_check_event(event, event_id)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        self.flush_check_results()
        # Runs of consecutive events keep the batch's order (and so its event ids).
        for asset, run in itertools.groupby(events, key=_planned_asset):
            group = list(run)
            if asset is None or len(group) == 1:
                super().store_event_batch(group)
            else:
                self._store_planned(group)

    def _store_planned(self, events: list[EventLogEntry]) -> None:
        """What store_event does for each planned materialization, for all of one asset at once;
        the asset's row records the last, as store_event_batch does for materializations."""
        statement = self.prepare_insert_event_batch(events)
        with self._connect() as conn:
            ids = [int(row[0]) for row in conn.execute(statement.returning(SqlEventLogStorageTable.c.id))]
        with self.index_transaction() as conn:
            self._store_asset_event_tags(conn, events, ids)
            self._store_asset_event(conn, events[-1], ids[-1])


class EntsoePostgresStorage(DagsterPostgresStorage):
    """dagster-postgres's storage with pooled connections and planned materializations batched.
    Configured as dagster-postgres's (``postgres_url`` or ``postgres_db``)."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: Any = None,
        token_provider: Any = None,
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._planned_batch_event_log = PlannedBatchEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        for storage in (self.run_storage, self._planned_batch_event_log, self.schedule_storage):
            pool_connections(storage)

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> EntsoePostgresStorage:
        return cls(
            pg_url_from_config(config_value),
            config_value.get("should_autocreate_tables", True),
            inst_data,
            get_token_provider_from_config(config_value),
        )

    @property
    def event_log_storage(self) -> PlannedBatchEventLogStorage:
        return self._planned_batch_event_log
