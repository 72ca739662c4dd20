"""Peak memory of a big run: a year of 15-minute actual generation per production type for DE_LU
(9 production types and pumped-storage consumption: 10 series, 350,400 points) fetched from the
simulator over HTTP with the real client and stored in a fresh database, as one run of the 365
daily partitions of 2025. That is the largest run there is: backfills split into runs of one API
request (a month), but a run over a range of partitions, launched from the UI, fetches the whole
range before it stores the first partition.

Each figure is the peak resident set of a child process (ru_maxrss, from os.wait4), against a
baseline measured in the same run: a child that imports the same modules and runs the same code
for one partition (one day, one request):

1. ingest path: ``ingest_partitions`` (entsoe_pipeline/ingest.py), what the asset calls;
2. asset path: the asset itself, materialized over the partition range in the child, with the
   per-partition metadata and the checks (Dagster's instance on disk, as a run's is in its
   database, so the event log does not count).

Bound: a peak of at most 512 MiB. dagster.yaml runs up to 4 runs at once, so four such runs fit
in 2 GiB next to PostgreSQL on a small host; the run holds every fetched point until it has
stored them all, so the peak grows with the points of the run (bytes per point over the baseline).

Last lines ``name: value``: per path the peak and baseline MiB, their ratio and peak_vs_bound.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._database import admin_url, bench_database, execute  # noqa: E402
from entsoe_pipeline import catalog, storage  # noqa: E402
from entsoe_pipeline.demo import DEMO_TOKEN  # noqa: E402

ENDPOINT = catalog.endpoint("actual_generation")
AREA = catalog.area("DE_LU")
# The simulator's clock and the run's: all of 2025 is published.
NOW = datetime(2026, 1, 12, 14, tzinfo=UTC)
YEAR_START = date(2025, 1, 1)
BASELINE_DAY = date(2024, 12, 31)
BOUND_MIB = 512.0
MIB = 1024  # ru_maxrss is in KiB on Linux
DSN_VARIABLE = "ENTSOE_BENCH_DSN"  # the child's database, not on its command line


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


# --- the children ---------------------------------------------------------------------------------


def child_ingest(api_url: str, dsn: str, days: list[date]) -> dict[str, int]:
    from entsoe_pipeline.entsoe import EntsoeClient
    from entsoe_pipeline.ingest import PartitionWindow, ingest_partitions
    from entsoe_pipeline.settings import DEFAULT_REQUESTS_PER_MINUTE

    windows = [
        PartitionWindow(
            d.isoformat(),
            datetime.combine(d, datetime.min.time(), UTC),
            datetime.combine(d + timedelta(days=1), datetime.min.time(), UTC),
        )
        for d in days
    ]
    with EntsoeClient(DEMO_TOKEN, api_url, requests_per_minute=DEFAULT_REQUESTS_PER_MINUTE) as client:
        result = ingest_partitions(client, dsn, ENDPOINT, AREA, windows, now=NOW)
    assert not result.failed, result.failed[0].error
    return {"requests": result.requests}


def child_asset(api_url: str, dsn: str, days: list[date]) -> dict[str, int]:
    import dagster as dg

    from entsoe_pipeline.defs import Settings, build_defs
    from entsoe_pipeline.defs.observations import observation_key
    from entsoe_pipeline.defs.resources import EntsoeApiResource, TimescaleResource

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    settings = Settings(areas=(AREA,), endpoints=(ENDPOINT,), history_start=BASELINE_DAY, clock=lambda: NOW)
    resources = {
        "entsoe_api": EntsoeApiResource(token=DEMO_TOKEN, base_url=api_url),
        "timescale": TimescaleResource(database_url=dsn),
    }
    asset = build_defs(settings, resources=resources).resolve_assets_def(observation_key(ENDPOINT, AREA))
    tags = {
        "dagster/asset_partition_range_start": days[0].isoformat(),
        "dagster/asset_partition_range_end": days[-1].isoformat(),
    }
    with tempfile.TemporaryDirectory() as home, dg.DagsterInstance.local_temp(home) as instance:
        result = dg.materialize([asset], instance=instance, tags=tags)
    assert result.success
    return {}


CHILDREN = {"ingest": child_ingest, "asset": child_asset}


def run_child(args: argparse.Namespace) -> None:
    dsn = os.environ[DSN_VARIABLE]
    days = _days(date.fromisoformat(args.first), args.days)
    figures = CHILDREN[args.child](args.api, dsn, days)
    figures["self_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(figures), flush=True)


# --- the parent -----------------------------------------------------------------------------------


def measure(path: str, api_url: str, dsn: str, first: date, days: int) -> tuple[float, dict[str, int]]:
    """Peak RSS (MiB) of a child running ``path`` over ``days`` partitions from ``first``, and what
    it printed."""
    execute(dsn, "TRUNCATE entsoe.observations")  # every run stores its points as new rows
    command = [sys.executable, __file__, "--child", path, "--api", api_url, "--first", first.isoformat()]
    with tempfile.TemporaryFile("w+") as errors:
        child = subprocess.Popen(
            [*command, "--days", str(days)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, DSN_VARIABLE: dsn},
        )
        assert child.stdout is not None
        out = child.stdout.read()
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the largest of all children).
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            sys.exit(f"the {path} child failed ({child.returncode}):\n{errors.read()[-3000:]}")
    figures = json.loads(out.strip().splitlines()[-1])
    return usage.ru_maxrss / MIB, figures


def main() -> None:
    # Here, not at the top: a run process does not import the simulator.
    from entsoe_pipeline.simulator import SimulatorConfig, SimulatorServer

    begun = time.perf_counter()
    results: dict[str, tuple[float, float, int, int]] = {}
    with admin_url() as admin, bench_database(admin) as (dsn, _timescaledb):
        storage.ensure_schema(dsn)
        simulator = SimulatorServer(SimulatorConfig(now=NOW))
        try:
            for path in CHILDREN:
                base_mib, _ = measure(path, simulator.url, dsn, BASELINE_DAY, 1)
                served = simulator.request_count
                started = time.perf_counter()
                peak_mib, _ = measure(path, simulator.url, dsn, YEAR_START, 365)
                took = time.perf_counter() - started
                points = int(execute(dsn, "SELECT count(*) FROM entsoe.observations")[0][0])
                requests = simulator.request_count - served
                results[path] = (peak_mib, base_mib, points, requests)
                print(
                    f"{path} path: {points:,} points of {ENDPOINT.name} {AREA.name} 2025 in {requests} "
                    f"requests, stored in {took:.0f} s; peak {peak_mib:.0f} MiB, one day {base_mib:.0f} MiB",
                    flush=True,
                )
        finally:
            simulator.stop()

    print(
        f"\n{'path':<8} {'points':>9} {'requests':>8} {'peak MiB':>8} {'baseline':>8} {'ratio':>6}"
        f" {'B/point':>7} {'bound MiB':>9}"
    )
    for path, (peak, base, points, requests) in results.items():
        per_point = (peak - base) * 2**20 / points
        verdict = "OK" if peak <= BOUND_MIB else "OVER"
        print(
            f"{path:<8} {points:>9,} {requests:>8} {peak:>8.0f} {base:>8.0f} {peak / base:>6.2f}"
            f" {per_point:>7.0f} {BOUND_MIB:>9.0f} {verdict}"
        )
    print(f"\ntotal {time.perf_counter() - begun:.0f} s")
    for path, (peak, base, _points, _requests) in results.items():
        print(f"memory_peak_mib_{path}_year: {peak:.0f}")
        print(f"memory_baseline_mib_{path}_day: {base:.0f}")
        print(f"memory_peak_vs_baseline_{path}: {peak / base:.2f}")
        print(f"memory_peak_vs_bound_{path}: {peak / BOUND_MIB:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=sorted(CHILDREN), help="run one path (the parent starts these)")
    parser.add_argument("--api")
    parser.add_argument("--first")
    parser.add_argument("--days", type=int)
    arguments = parser.parse_args()
    if arguments.child:
        run_child(arguments)
    else:
        main()
