"""The store-sensor tick and the automation tick for 240 assets with 10 years of daily partitions,
idle and while a backfill writes into the same database.

Set-up: the store sensor's data as in store_sensor.py (summary of 240 series x 10 years with 50
holes each, one current point per series), and Dagster's storage on PostgreSQL in the same cluster
(a second fresh database), as ``make run`` keeps it (dagster.yaml). Dagster's state is what ten
years of runs leave: every partition of every asset materialized, as Dagster's partition status
cache holds it (written here directly: replaying 876,000 materializations would take hours, and a
tick only reads the cache and the events after it).

Ticks, measured with dagster-postgres's own storage, which holds no pool outside the webserver (a
connection per storage call; the project's storage, entsoe_pipeline/dagster_storage.py, pools in every
process, as the "pooled" figure has it):

* store sensor: the tick that first meets every hole (no cursor: one backfill of all 12,000 holes,
  every series confirmed) and the next one (median of 5), as store_sensor.py measures them with an
  in-memory instance;
* automation: ``entsoe_automation`` evaluated as the daemon does (``evaluate_automation_conditions``
  with the previous tick's cursor) at 12:05:30, right after the publication-cadence cron of actual
  data, so it requests the latest two partitions of the 96 actual series. Launching those runs and
  storing the evaluation records are not part of the figure.

The two slow ticks run once per phase, to keep the benchmark near two minutes. Also printed: the
connections one idle tick opens to Dagster's database, and the idle tick with the connections
pooled as the webserver holds them (where the rest of the time goes).

Load: a separate process writes as a long backfill of ``actual_generation`` does, for an area
outside the 240: one UTC day of 16 production types of 15-minute points per ``upsert_points``
transaction, back from 2025 (always new rows), from before the first loaded tick until the last.

Budgets: store sensor 5 s for the first tick, 2 s steady (store_sensor.py); the automation tick
30 s, its sensor's minimum interval: a longer tick makes the daemon evaluate back to back and the
cadence refreshes start late.

Last lines ``name: value``: per tick its idle and under-load ms, load_vs_idle and vs_budget (of
the under-load time).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402
from dagster._core.storage.partition_status_cache import AssetStatusCacheValue  # noqa: E402

from benchmarks._database import admin_url, bench_database, execute  # noqa: E402
from benchmarks.store_sensor import (  # noqa: E402
    BUDGET_MS,
    DAILY,
    FIRST_TICK_BUDGET_MS,
    HOLES_PER_SERIES,
    NOW,
    START,
    YEARS,
    plan_every_hole,
    populate,
)
from entsoe_pipeline import catalog, storage  # noqa: E402
from entsoe_pipeline.defs import Settings, build_defs  # noqa: E402
from entsoe_pipeline.defs.automation import latest_partition_count  # noqa: E402
from entsoe_pipeline.defs.resources import EntsoeApiResource, TimescaleResource  # noqa: E402
from entsoe_pipeline.defs.store_sensor import build_store_sensor  # noqa: E402
from entsoe_pipeline.defs.targets import STATUS_READS_PER_TICK, SeriesTarget, series_targets  # noqa: E402

AUTOMATION_BUDGET_MS = 30_000.0
# Right after the 12:05 cadence tick of actual data; the previous tick was at NOW.
AUTOMATION_AT = NOW + timedelta(minutes=5, seconds=30)
WRITER_AREA = catalog.area("GB")  # not among the 48 areas of the 240 assets
WRITER_TYPES = 16
WARM_UP_BATCHES = 5


def write_backfill(dsn: str, go: Event, stop: Event, rows: Synchronized) -> None:
    """The writes of a long backfill run: one UTC day per transaction, from 2025 back in time
    (always new rows), from when ``go`` is set until ``stop`` is; ``rows`` counts what was written."""
    go.wait()
    quarters = pd.timedelta_range(0, periods=96, freq="15min")
    psr_types = np.repeat([f"B{i + 1:02d}" for i in range(WRITER_TYPES)], 96)
    rng = np.random.default_rng(7)
    day = datetime(2025, 12, 31, tzinfo=UTC)
    while not stop.is_set():
        points = pd.DataFrame(
            {
                "time": np.tile(pd.Timestamp(day) + quarters, WRITER_TYPES),
                "value": rng.uniform(0, 5000, len(psr_types)).round(2),
                "resolution": "PT15M",
                "business_type": "A01",
                "psr_type": psr_types,
                "variant": "",
                "area": WRITER_AREA.eic,
                "unit": "MAW",
                "document_mrid": "backfill",
                "revision": 1,
                "document_created": pd.Timestamp(day),
            }
        )
        storage.upsert_points(dsn, "actual_generation", WRITER_AREA.eic, points)
        with rows.get_lock():
            rows.value += len(points)
        day -= timedelta(days=1)


def postgres_instance(url: str, home: str, *, pooled: bool = False) -> dg.DagsterInstance:
    """dagster-postgres's storage: no pool, a connection per storage call; ``pooled``: connections
    held as the webserver holds them, and as the project's storage holds them in every process."""
    # SQLAlchemy maps plain postgresql:// to psycopg 3, which dagster-postgres does not use.
    pg_url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    Path(home, "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: {pg_url}\ntelemetry:\n  enabled: false\n"
    )
    instance = dg.DagsterInstance.from_config(home)
    if pooled:
        instance.event_log_storage.optimize_for_webserver(
            statement_timeout=0, pool_recycle=-1, max_overflow=10
        )
    return instance


def all_materialized(instance: dg.DagsterInstance, targets: list[SeriesTarget]) -> None:
    """Every partition existing at NOW materialized: one real event per asset (its record), and the
    status cache over all partitions that Dagster keeps up to date from the events."""
    for target in targets:
        partitions = target.partitions_def
        with dg.partition_loading_context(effective_dt=NOW):
            every = partitions.subset_with_all_partitions()
            last = partitions.get_last_partition_key()
        instance.report_runless_asset_event(dg.AssetMaterialization(target.key, partition=last))
        (record,) = instance.get_asset_records([target.key])
        latest = record.asset_entry.last_materialization_storage_id
        assert latest is not None
        instance.update_asset_cached_status_data(
            target.key,
            AssetStatusCacheValue(
                latest_storage_id=latest,
                partitions_def_id=partitions.get_serializable_unique_identifier(),
                serialized_materialized_partition_subset=every.serialize(),
                serialized_failed_partition_subset=partitions.empty_subset().serialize(),
                serialized_in_progress_partition_subset=partitions.empty_subset().serialize(),
            ),
        )


@dataclass
class Tick:
    name: str
    run: Callable[[dg.DagsterInstance], None]
    budget_ms: float
    repeat: int  # samples per phase (the median counts); the slow ticks once
    idle_ms: float = 0.0
    loaded_ms: float = 0.0
    pooled_ms: float = 0.0
    connections: int = 0  # opened to Dagster's database by one idle tick


def median_ms(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def sessions(url: str) -> int:
    """Connections the database has accepted so far (this one included)."""
    time.sleep(0.2)  # a backend counts its session when it exits, just after the client closed it
    return int(execute(url, "SELECT sessions FROM pg_stat_database WHERE datname = current_database()")[0][0])


def build_ticks(dsn: str, setup: dg.DagsterInstance) -> list[Tick]:
    """The three ticks over the set-up data; ``setup`` (pooled) writes Dagster's state and makes
    the automation cursor of the tick before."""
    areas = tuple(catalog.AREAS.values())[: 240 // len(DAILY)]
    settings = replace(Settings(areas=areas, endpoints=tuple(DAILY), history_start=START), clock=lambda: NOW)
    targets = series_targets(settings)
    t0 = time.perf_counter()
    rows, _holes = populate(dsn, settings)
    all_materialized(setup, targets)
    print(
        f"set-up: {rows:,} summary rows for {len(targets)} series over {YEARS} years, "
        f"{HOLES_PER_SERIES} holes each; every partition materialized in Dagster "
        f"({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    resources = {
        "timescale": TimescaleResource(database_url=dsn),
        "entsoe_api": EntsoeApiResource(token="unused", base_url="http://127.0.0.1:9/api"),  # never called
    }
    cursors: dict[str, str | None] = {"none": None}

    def store_tick(
        name: str, at: datetime, cursor_of: str, launches: tuple[int, int]
    ) -> Callable[[dg.DagsterInstance], None]:
        sensor = build_store_sensor(replace(settings, clock=lambda: at))
        defs = dg.Definitions(sensors=[sensor], resources=resources)

        def tick(instance: dg.DagsterInstance) -> None:
            with dg.build_sensor_context(
                instance=instance, definitions=defs, resources=resources, cursor=cursors[cursor_of]
            ) as context:
                result = sensor(context)
            assert isinstance(result, dg.SensorResult)
            got = (len(result.run_requests or []), len(result.asset_events or []))
            assert got == launches, (name, got, launches)
            cursors[name] = result.cursor

        return tick

    automation_defs = build_defs(settings, resources=resources)
    previous = dg.evaluate_automation_conditions(defs=automation_defs, instance=setup, evaluation_time=NOW)
    expected = sum(
        latest_partition_count(t.endpoint) for t in targets if t.endpoint.cadence is catalog.Cadence.ACTUAL
    )

    def automation_tick(instance: dg.DagsterInstance) -> None:
        result = dg.evaluate_automation_conditions(
            defs=automation_defs, instance=instance, cursor=previous.cursor, evaluation_time=AUTOMATION_AT
        )
        requested = sum(len(result.get_requested_partitions(t.key)) for t in targets)
        assert requested == expected, (requested, expected)

    # The first tick: one backfill of the holes of the first STATUS_READS_PER_TICK series, every
    # series confirmed; the next ticks plan the others, as many series a tick.
    first = store_tick("first", NOW, "none", (1, len(targets)))
    first_sensor = build_store_sensor(replace(settings, clock=lambda: NOW))
    cursors["planned"], ticks = plan_every_hole(first_sensor, resources, setup, cursors["none"])
    print(
        f"store sensor: every hole launched after {ticks} ticks "
        f"(at most {STATUS_READS_PER_TICK} partition-status reads a tick)",
        flush=True,
    )
    # With every hole in flight: nothing new to launch.
    steady = store_tick("next", NOW + timedelta(minutes=1), "planned", (0, 0))
    return [
        Tick("store sensor, first tick", first, FIRST_TICK_BUDGET_MS, 1),
        Tick("store sensor, next tick", steady, BUDGET_MS, 5),
        Tick("automation tick", automation_tick, AUTOMATION_BUDGET_MS, 1),
    ]


@dataclass
class Writer:
    process: multiprocessing.process.BaseProcess
    go: Event
    stop: Event
    rows: Synchronized


def measure(
    ticks: list[Tick],
    daemon: dg.DagsterInstance,
    pooled: dg.DagsterInstance,
    dagster_url: str,
    writer: Writer,
) -> tuple[int, float]:
    """Idle (counting the connections of the first run), idle with pooled connections, under load;
    returns the rows written and the seconds the loaded phase took."""
    for tick in ticks:
        before = sessions(dagster_url)
        samples = [median_ms(partial(tick.run, daemon), 1)]
        tick.connections = sessions(dagster_url) - before - 1
        samples += [median_ms(partial(tick.run, daemon), 1) for _ in range(tick.repeat - 1)]
        tick.idle_ms = statistics.median(samples)
        tick.pooled_ms = median_ms(partial(tick.run, pooled), tick.repeat)
    writer.go.set()
    while writer.rows.value < WARM_UP_BATCHES * WRITER_TYPES * 96:
        if not writer.process.is_alive():
            raise RuntimeError(f"the writer stopped (exit code {writer.process.exitcode})")
        time.sleep(0.1)
    rows_before, loaded_from = writer.rows.value, time.perf_counter()
    for tick in ticks:
        tick.loaded_ms = median_ms(partial(tick.run, daemon), tick.repeat)
    return writer.rows.value - rows_before, time.perf_counter() - loaded_from


def main() -> None:
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    begun = time.perf_counter()
    spawn = multiprocessing.get_context("spawn")
    with (
        admin_url() as admin,
        bench_database(admin) as (dsn, _timescaledb),
        bench_database(admin) as (dagster_url, _),
        tempfile.TemporaryDirectory() as home,
    ):
        storage.ensure_schema(dsn)
        go, stop, rows = spawn.Event(), spawn.Event(), spawn.Value("q", 0)
        # Started now, waiting for ``go``: its imports are done before the loaded phase.
        writer = Writer(
            spawn.Process(target=write_backfill, args=(dsn, go, stop, rows), daemon=True), go, stop, rows
        )
        writer.process.start()
        daemon = postgres_instance(dagster_url, home)
        pooled = postgres_instance(dagster_url, home, pooled=True)
        try:
            ticks = build_ticks(dsn, pooled)
            loaded_rows, loaded_s = measure(ticks, daemon, pooled, dagster_url, writer)
        finally:
            stop.set()
            go.set()
            writer.process.join(30)
            daemon.dispose()
            pooled.dispose()
        if writer.process.exitcode != 0:
            raise RuntimeError(f"the writer failed (exit code {writer.process.exitcode})")

    print(
        f"load: {loaded_rows:,} rows ({loaded_rows // (WRITER_TYPES * 96):,} daily partitions) written "
        f"while the ticks ran under load, {loaded_rows / loaded_s:,.0f} rows/s"
    )
    print(
        f"\n{'tick (median)':<25} {'idle ms':>8} {'load ms':>8} {'load/idle':>9} {'budget ms':>9}"
        f" {'':4} {'connections':>11} {'pooled ms':>9}"
    )
    for tick in ticks:
        verdict = "OK" if tick.loaded_ms <= tick.budget_ms else "OVER"
        ratio = tick.loaded_ms / tick.idle_ms
        print(
            f"{tick.name:<25} {tick.idle_ms:>8.0f} {tick.loaded_ms:>8.0f} {ratio:>9.2f}"
            f" {tick.budget_ms:>9.0f} {verdict:4} {tick.connections:>11,} {tick.pooled_ms:>9.0f}"
        )
    print(
        "(connections: opened to Dagster's database by one idle tick; pooled: the idle tick with the "
        "connections held, as the webserver holds them)"
    )
    print(f"\ntotal {time.perf_counter() - begun:.0f} s")
    for tick, name in zip(
        ticks, ("store_sensor_first_tick", "store_sensor_tick", "automation_tick"), strict=True
    ):
        print(f"{name}_ms_idle: {tick.idle_ms:.0f}")
        print(f"{name}_ms_under_load: {tick.loaded_ms:.0f}")
        print(f"{name}_load_vs_idle: {tick.loaded_ms / tick.idle_ms:.2f}")
        print(f"{name}_vs_budget: {tick.loaded_ms / tick.budget_ms:.2f}")


if __name__ == "__main__":
    main()
