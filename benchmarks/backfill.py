"""Backfill throughput: how long the history fill of a new installation takes, against the API's own
floor, through the real Dagster machinery.

For each simulated API latency (BENCH_BACKFILL_LATENCIES, default ``0,1`` seconds) it starts from
nothing: a fresh data database, a fresh Dagster instance database (both on the project's cluster),
the project's own dagster.yaml, the simulator over HTTP recording every answer, and `dagster dev`
(webserver, daemon, code server, run workers) over BENCH_BACKFILL_AREAS x BENCH_BACKFILL_ENDPOINTS
(default: the 18 assets of `make run`) from BENCH_BACKFILL_HISTORY_START (default: the pipeline's).
Nobody clicks: as with `make run`, the automation fills the history on its own. The clock starts
when the code location has loaded and stops when every partition that ended before today (UTC) is
materialized: the UI's partition status (GraphQL, polled every 10 s) says when that is the case, and
the instance's event log when the last of those partitions was first materialized.

Printed per latency, last lines ``name: value``:

* ``history_fill_s``: that time; ``seen_complete_s``: when the poll saw it (up to a poll later);
* ``api_floor_s``: the least time the API allows for the requests made: requests at the configured
  budget (ENTSOE_REQUESTS_PER_MINUTE, default 300; the burst ignored), or requests x latency / the
  requests allowed in flight at once (ENTSOE_MAX_CONCURRENT_REQUESTS, default 2), whichever is
  larger; ``max_in_flight``: the most requests the simulator had in hand at once, which must not
  exceed that bound;
* ``fill_vs_floor``: their ratio (targets: 3 at latency 0, 1.5 at 1 s);
* runs, steps, requests, the median run's wall time, CPU seconds per run (all processes of
  `dagster dev` and their children, PostgreSQL not counted) and how busy the machine's CPUs were.

Then the projection for every area of the catalogue x every endpoint x ten years: partitions,
requests (one per API-sized chunk of each series), runs and steps as the backfill policies cut them,
the hours at the API budget, and the fill's hours scaled from the one measured at latency 0, by
requests (``fill_vs_floor`` x the floor) and by partitions (Dagster writes two events per partition);
for each latency above 0, the floor of the projected requests at that latency and the fill at the
ratio measured there.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._database import admin_url, bench_database, say  # noqa: E402
from entsoe_pipeline import catalog  # noqa: E402
from entsoe_pipeline.defs.partitions import max_partitions_per_run, partitions_for  # noqa: E402
from entsoe_pipeline.settings import DEFAULT_REQUESTS_PER_MINUTE, ApiSettings, Settings  # noqa: E402
from entsoe_pipeline.simulator import SimulatorConfig  # noqa: E402
from entsoe_pipeline_tests.fixtures.live_dagster import (  # noqa: E402
    DagsterDev,
    RecordingSimulator,
    dagster_database,
    gql,
    materialized,
)
from entsoe_pipeline_tests.fixtures.processes import descendants  # noqa: E402

TIMEOUT_S = float(os.environ.get("BENCH_BACKFILL_TIMEOUT_S", "2400"))
POLL_S = 10.0  # the UI's partition status is not free: the webserver computes it per poll
LOG_DIR = ROOT / ".local"

_RUN_STATS = """
query RunStats { runsOrError(limit: 100000) { __typename ... on Runs { results {
  status tags { key value }
  stats { __typename ... on RunStatsSnapshot { startTime endTime stepsSucceeded stepsFailed } } } } } }
"""


@dataclass(frozen=True)
class Scope:
    areas: tuple[catalog.Area, ...]
    endpoints: tuple[catalog.Endpoint, ...]
    history_start: date

    @classmethod
    def from_env(cls) -> Scope:
        defaults = Settings()

        def names(variable: str) -> list[str]:
            return [n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()]

        areas = tuple(catalog.area(a) for a in names("BENCH_BACKFILL_AREAS")) or defaults.areas
        endpoints = (
            tuple(catalog.endpoint(e) for e in names("BENCH_BACKFILL_ENDPOINTS")) or defaults.endpoints
        )
        start = os.environ.get("BENCH_BACKFILL_HISTORY_START", "").strip()
        return cls(areas, endpoints, date.fromisoformat(start) if start else defaults.history_start)

    def paths(self) -> list[list[str]]:
        return [["entsoe", e.name, a.key] for e in self.endpoints for a in self.areas]

    def history_keys(self, today: datetime) -> dict[tuple[str, ...], set[str]]:
        """Per asset, the partitions that ended before ``today``: the history to fill."""
        out: dict[tuple[str, ...], set[str]] = {}
        for e in self.endpoints:
            definition = partitions_for(e, self.history_start)
            keys = {
                k
                for k in definition.get_partition_keys(current_time=today)
                if definition.time_window_for_partition_key(k).end <= today
            }
            for a in self.areas:
                out[("entsoe", e.name, a.key)] = keys
        return out


def cpu_seconds(root_pid: int) -> float:
    """CPU time of ``root_pid`` and its living descendants, with what their reaped children used."""
    ticks = 0
    for pid in {root_pid, *descendants(root_pid)}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def last_first_materialization(dagster_pg_url: str, history: dict[tuple[str, ...], set[str]]) -> datetime:
    """When the last of ``history``'s partitions was first materialized (UTC), from the instance's
    event log: the moment the UI's partition status turned complete."""
    pairs = [(dg.AssetKey(list(path)).to_string(), key) for path, keys in history.items() for key in keys]
    url = dagster_pg_url.replace("postgresql+psycopg2://", "postgresql://", 1)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT max(first) FROM (SELECT min(e.timestamp) AS first FROM event_logs e "
            "JOIN unnest(%s::text[], %s::text[]) AS h(asset_key, partition) "
            "ON e.asset_key = h.asset_key AND e.partition = h.partition "
            "WHERE e.dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY e.asset_key, e.partition) f",
            ([a for a, _ in pairs], [k for _, k in pairs]),
        )
        (last,) = cur.fetchone()
    return last.replace(tzinfo=UTC)


@dataclass
class Fill:
    latency: float
    seconds: float
    seen_after: float
    finished: bool
    requests: int
    runs: int
    runs_failed: int
    steps: int
    median_run_s: float
    cpu_s: float
    machine_busy: float
    rate_per_minute: float
    concurrency: int
    max_in_flight: int

    @property
    def floor_s(self) -> float:
        return max(self.requests * 60 / self.rate_per_minute, self.requests * self.latency / self.concurrency)


def run_stats(url: str) -> tuple[int, int, int, float]:
    runs = gql(url, _RUN_STATS)["runsOrError"]["results"]
    stats = [r["stats"] for r in runs if r["stats"]["__typename"] == "RunStatsSnapshot"]
    steps = sum(s["stepsSucceeded"] + s["stepsFailed"] for s in stats)
    walls = [s["endTime"] - s["startTime"] for s in stats if s["startTime"] and s["endTime"]]
    failed = sum(1 for r in runs if r["status"] == "FAILURE")
    return len(runs), failed, steps, statistics.median(walls) if walls else 0.0


def fill(scope: Scope, latency: float, admin: str) -> Fill:
    rate = float(os.environ.get("ENTSOE_REQUESTS_PER_MINUTE") or DEFAULT_REQUESTS_PER_MINUTE)
    concurrency = ApiSettings.from_env().max_concurrent_requests
    sim = RecordingSimulator(SimulatorConfig(latency_seconds=latency, max_requests_per_minute=400))
    home = Path(tempfile.mkdtemp(prefix="bench-backfill-home-"))
    name = f"dagster_bench_{os.getpid()}_{int(latency * 1000)}"
    try:
        with bench_database(admin) as (data_url, _), dagster_database(admin, name) as dagster_pg:
            shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("ENTSOE_", "DAGSTER_"))},
                **dagster_pg,
                "DAGSTER_HOME": str(home),
                "ENTSOE_API_URL": sim.url,
                "ENTSOE_DATABASE_URL": data_url,
                "ENTSOE_AREAS": ",".join(a.name for a in scope.areas),
                "ENTSOE_ENDPOINTS": ",".join(e.name for e in scope.endpoints),
                "ENTSOE_HISTORY_START": scope.history_start.isoformat(),
                "ENTSOE_REQUESTS_PER_MINUTE": f"{rate:g}",
                "ENTSOE_MAX_CONCURRENT_REQUESTS": str(concurrency),
            }
            dev = DagsterDev(home, env, LOG_DIR / f"bench-backfill-{latency:g}s.log")
            try:
                dev.start()
                assert dev.process is not None
                today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                history = scope.history_keys(today)
                cpu0, busy0 = cpu_seconds(dev.process.pid), machine_busy()
                began, began_at = time.monotonic(), datetime.now(UTC)
                finished = False
                last_said = began
                # Ever materialized: a revision sweep or a refresh that runs a filled partition again
                # shows it as MATERIALIZING meanwhile, but the fill has done its part.
                seen: dict[tuple[str, ...], set[str]] = {path: set() for path in history}
                while time.monotonic() - began < TIMEOUT_S:
                    for path, (_, done) in materialized(dev.url, scope.paths()).items():
                        seen[path] |= done
                    left = sum(len(keys - seen[path]) for path, keys in history.items())
                    if left == 0:
                        finished = True
                        break
                    if time.monotonic() - last_said >= 30:
                        say(f"  {time.monotonic() - began:5.0f} s: {left} history partitions to go")
                        last_said = time.monotonic()
                    time.sleep(POLL_S)
                seen_after = time.monotonic() - began
                cpu1, busy1 = cpu_seconds(dev.process.pid), machine_busy()
                seconds = seen_after
                if finished:
                    last = last_first_materialization(dagster_pg["DAGSTER_PG_URL"], history)
                    seconds = (last - began_at).total_seconds()
                requests = len(sim.answered())
                max_in_flight = sim.max_in_flight
                runs, failed, steps, median_run = run_stats(dev.url)
            finally:
                dev.stop()
    finally:
        sim.stop()
        shutil.rmtree(home, ignore_errors=True)
    cores = os.cpu_count() or 1
    return Fill(
        latency=latency,
        seconds=seconds,
        seen_after=seen_after,
        finished=finished,
        requests=requests,
        runs=runs,
        runs_failed=failed,
        steps=steps,
        median_run_s=median_run,
        cpu_s=cpu1 - cpu0,
        machine_busy=(busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]) * cores,
        rate_per_minute=rate,
        concurrency=concurrency,
        max_in_flight=max_in_flight,
    )


@dataclass(frozen=True)
class Projection:
    series: int
    partitions: int
    requests: int
    runs: int
    steps: int
    floor_hours: float


def project(areas: Sequence[catalog.Area], endpoints: Sequence[catalog.Endpoint], years: int) -> Projection:
    """The history fill of ``years`` for these areas and endpoints: one request per API-sized chunk
    of each series; the backfill policy's runs, each covering all areas of an endpoint (Dagster puts
    assets with the same partitions and policy in one run)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (today - timedelta(days=round(365.25 * years))).date()
    requests = runs = partitions = 0
    for e in endpoints:
        count = len(partitions_for(e, start).get_partition_keys(current_time=today))
        partitions += count * len(areas)
        requests += math.ceil(count / e.partitions_per_request) * len(areas)
        runs += math.ceil(count / max_partitions_per_run(e))
    rate = float(os.environ.get("ENTSOE_REQUESTS_PER_MINUTE") or DEFAULT_REQUESTS_PER_MINUTE)
    return Projection(
        series=len(areas) * len(endpoints),
        partitions=partitions,
        requests=requests,
        runs=runs,
        steps=runs * len(areas),
        floor_hours=requests / rate / 60,
    )


def _interrupt(signum: int, frame: object) -> None:
    # Ctrl-C or SIGTERM unwinds through the finally blocks: dagster dev is stopped, the databases
    # are dropped.
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    scope = Scope.from_env()
    latencies = [float(v) for v in os.environ.get("BENCH_BACKFILL_LATENCIES", "0,1").split(",") if v.strip()]
    say(
        f"history fill of {len(scope.areas) * len(scope.endpoints)} assets "
        f"({','.join(a.name for a in scope.areas)} x {','.join(e.name for e in scope.endpoints)}) "
        f"from {scope.history_start}, API latency {', '.join(f'{v:g} s' for v in latencies)}"
    )
    fills: list[Fill] = []
    with admin_url() as admin:
        for latency in latencies:
            say(f"latency {latency:g} s: starting dagster dev on an empty instance and database")
            fills.append(fill(scope, latency, admin))
    figures: dict[str, Any] = {}
    for f in fills:
        tag = f"latency_{f.latency:g}s"
        if not f.finished:
            say(f"{tag}: the history was NOT filled within {TIMEOUT_S:.0f} s")
        figures.update(
            {
                f"history_fill_s_{tag}": round(f.seconds),
                f"seen_complete_s_{tag}": round(f.seen_after),
                f"api_floor_s_{tag}": round(f.floor_s),
                f"fill_vs_floor_{tag}": round(f.seconds / f.floor_s, 2) if f.floor_s else float("nan"),
                f"requests_{tag}": f.requests,
                f"max_in_flight_{tag}": f.max_in_flight,
                f"runs_{tag}": f.runs,
                f"runs_failed_{tag}": f.runs_failed,
                f"steps_{tag}": f.steps,
                f"median_run_s_{tag}": round(f.median_run_s, 1),
                f"cpu_s_per_run_{tag}": round(f.cpu_s / max(1, f.runs), 1),
                f"cpus_busy_{tag}": round(f.machine_busy, 2),
            }
        )
    everything = project(list(catalog.AREAS.values()), list(catalog.ENDPOINTS.values()), years=10)
    measured = next((f for f in fills if f.latency == 0 and f.finished), None)
    ratio = measured.seconds / measured.floor_s if measured and measured.floor_s else float("nan")
    # Dagster records two events per partition (planned, materialized): the fill grows with the
    # partitions as much as with the requests. Both scalings of the measured fill are printed.
    measured_partitions = sum(len(keys) for keys in scope.history_keys(datetime.now(UTC)).values())
    per_partition = measured.seconds / measured_partitions if measured else float("nan")
    figures.update(
        {
            "projection_series_all_areas_endpoints": everything.series,
            "projection_partitions_10y": everything.partitions,
            "projection_requests_10y": everything.requests,
            "projection_runs_10y": everything.runs,
            "projection_steps_10y": everything.steps,
            "projection_api_floor_hours_10y": round(everything.floor_hours, 1),
            "projection_fill_hours_10y_by_requests": round(everything.floor_hours * ratio, 1),
            "projection_fill_hours_10y_by_partitions": round(everything.partitions * per_partition / 3600, 1),
        }
    )
    # At a latency, the floor is the requests in flight (the real API answers in about a second):
    # the projection's requests at that floor, times the ratio measured at that latency.
    for f in fills:
        if f.latency > 0 and f.finished and f.floor_s:
            floor_hours = max(everything.floor_hours, everything.requests * f.latency / f.concurrency / 3600)
            figures[f"projection_api_floor_hours_10y_latency_{f.latency:g}s"] = round(floor_hours, 1)
            figures[f"projection_fill_hours_10y_latency_{f.latency:g}s"] = round(
                floor_hours * f.seconds / f.floor_s, 1
            )
    for key, value in figures.items():
        print(f"{key}: {value}", flush=True)
    return 0 if all(f.finished and not f.runs_failed for f in fills) else 1


if __name__ == "__main__":
    sys.exit(main())
