"""Storage speed and memory: entsoe_pipeline.storage against baselines measured in the same run.

On a fresh database (created and dropped here) on the project's cluster (``scripts/db.sh``, started
and stopped again if it was not running) or on the server of ENTSOE_BENCH_ADMIN_URL:

1. Ingest: one year of 15-minute data for 20 series (700,800 rows). Baseline: a plain ``COPY`` of
   the same rows into the same truncated table, from a buffer serialised beforehand (CSV and
   binary; the faster counts), so the baseline pays only the server's work while
   ``upsert_points`` is timed end to end from the DataFrame. Targets: upsert into the empty table
   >= 0.7x the COPY rate; re-upsert of the same rows >= 1.2x the COPY rate with zero rows
   rewritten (no row gets a new xmin).
2. Memory: tracemalloc peak of upserts of 100k and 700k rows into tables of 0.7M and 1.4M rows.
3. Gap query (``incomplete_windows``, daily partitions): one series with 10 years of raw
   15-minute points (350k rows, 50 holes, summary rebuilt from them) and 240 series whose summary
   is generated in SQL with 50 holes each (what 84M points would give: checked against the raw
   series); for 1, 2, 5 and 10 years. Targets: 1 series < 100 ms, 240 series < 2 s.

Times are the best of a few runs. The last lines are ``name: value`` for tooling.
"""

from __future__ import annotations

import gc
import io
import os
import random
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import psycopg2.errors
import psycopg2.extras

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script by scripts/bench.sh

from benchmarks._database import admin_url, bench_database, execute, redacted, say  # noqa: E402
from entsoe_pipeline.catalog import AREAS, Granularity  # noqa: E402
from entsoe_pipeline.storage import (  # noqa: E402
    SeriesSpec,
    ensure_schema,
    incomplete_windows,
    rebuild_summary,
    series_coverage,
    upsert_points,
)
from entsoe_pipeline.storage.staging import OBSERVATION_COLUMNS, observation_chunks, prepare  # noqa: E402

FR = AREAS["FR"].eic
QUARTER = timedelta(minutes=15)
SERIES = 20
YEAR_START = datetime(2023, 1, 1, tzinfo=UTC)
GAP_START = date(2016, 1, 1)
GAP_END = date(2026, 1, 1)
HOLES = 50


def best_of(runs: int, fn: Callable[[], Any], before: Callable[[], None] | None = None) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        if before:
            before()
        gc.collect()
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def year_of_points(start: datetime, series: int = SERIES, periods: int = 35_040) -> pd.DataFrame:
    times = pd.date_range(start, periods=periods, freq="15min", tz="UTC")
    rng = np.random.default_rng(7)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "time": times,
                    "value": rng.uniform(0, 5000, periods).round(3),
                    "resolution": "PT15M",
                    "business_type": "A75",
                    "psr_type": f"B{i + 1:02d}",
                    "variant": "",
                    "area": FR,
                    "unit": "MAW",
                    "document_mrid": "bench",
                    "revision": 1,
                    "document_created": pd.Timestamp(start),  # as the parser gives it
                }
            )
            for i in range(series)
        ],
        ignore_index=True,
    )


# --- 1. ingest ------------------------------------------------------------------------------------


def copy_buffers(points: pd.DataFrame, fetched_at: datetime) -> dict[str, tuple[str, bytes]]:
    """The rows serialised beforehand for the COPY baselines."""
    frame = points.assign(endpoint="bench_copy", fetched_at=fetched_at)[
        [c.strip() for c in OBSERVATION_COLUMNS.split(",")]
    ]
    text = io.StringIO()
    frame.to_csv(text, index=False, header=False)
    binary = b"".join(observation_chunks(prepare(points, "bench_copy", FR), "bench_copy", FR, fetched_at))
    keep_empty = "FORCE_NOT_NULL (business_type, psr_type, variant, document_mrid)"
    return {
        "csv": (
            f"COPY entsoe.observations ({OBSERVATION_COLUMNS}) FROM STDIN (FORMAT csv, {keep_empty})",
            text.getvalue().encode(),
        ),
        "binary": (f"COPY entsoe.observations ({OBSERVATION_COLUMNS}) FROM STDIN (FORMAT binary)", binary),
    }


def measure_ingest(url: str, points: pd.DataFrame) -> dict[str, float]:
    rows = len(points)
    buffers = copy_buffers(points, datetime.now(UTC))

    def truncate() -> None:
        execute(url, "TRUNCATE entsoe.observations")  # the summary follows (trigger)

    def copy(statement: str, data: bytes) -> None:
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.copy_expert(statement, io.BytesIO(data), size=1 << 20)
            conn.commit()
        finally:
            conn.close()

    times: dict[str, float] = defaultdict(lambda: float("inf"))
    for _ in range(2):  # interleaved rounds: a slow moment of the machine hits every contender
        for kind, (statement, data) in buffers.items():
            t, _ = best_of(1, partial(copy, statement, data), before=truncate)
            times[f"copy_{kind}"] = min(times[f"copy_{kind}"], t)
        t, counts = best_of(1, lambda: upsert_points(url, "bench_ingest", FR, points), before=truncate)
        assert counts.inserted == rows, counts
        times["upsert"] = min(times["upsert"], t)
        (before_txid,) = execute(url, "SELECT txid_current()")[0]
        t, counts = best_of(1, lambda: upsert_points(url, "bench_ingest", FR, points))
        assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, rows), counts
        (rewritten,) = execute(
            url, "SELECT count(*) FROM entsoe.observations WHERE xmin::text::bigint > %s", (before_txid,)
        )[0]
        assert rewritten == 0, f"{rewritten} rows rewritten by an unchanged re-upsert"
        times["reupsert"] = min(times["reupsert"], t)
    changed = points.assign(value=points["value"] + 1)
    times["update_all"], counts = best_of(1, lambda: upsert_points(url, "bench_ingest", FR, changed))
    assert counts.updated == rows, counts

    copy_time = min(times["copy_csv"], times["copy_binary"])
    say(f"\n1. ingest of {rows:,} rows (1 year, {SERIES} series of 15-minute points), best of 2 rounds")
    for name, label in [
        ("copy_csv", "COPY csv (baseline)"),
        ("copy_binary", "COPY binary (baseline)"),
        ("upsert", "upsert_points, empty table"),
        ("reupsert", "upsert_points, same rows again (0 rewritten)"),
        ("update_all", "upsert_points, every value changed"),
    ]:
        say(f"   {label:<46} {times[name]:6.2f} s  {rows / times[name]:>10,.0f} rows/s")
    return {"upsert_vs_copy": copy_time / times["upsert"], "reupsert_vs_copy": copy_time / times["reupsert"]}


# --- 2. memory ------------------------------------------------------------------------------------


def peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def table_rows(url: str) -> int:
    return int(execute(url, "SELECT count(*) FROM entsoe.observations")[0][0])


def measure_memory(url: str, stored: pd.DataFrame) -> float:
    """``stored``: the rows of bench_ingest as they are in the table now."""
    later = stored.assign(time=stored["time"] + pd.Timedelta(days=365))
    say("\n2. Python peak memory of one upsert (tracemalloc), by batch and table size")
    results = []

    def run(label: str, batch: pd.DataFrame, endpoint: str) -> float:
        held = table_rows(url)
        peak = peak_mb(lambda: upsert_points(url, endpoint, FR, batch))
        say(f"   {label:<36} {len(batch):>8,} rows into {held:>10,} stored: {peak:7.1f} MB")
        results.append(peak)
        return peak

    small = run("new rows", later.iloc[:100_000], "bench_mem_a")
    run("unchanged rows (merge path)", stored, "bench_ingest")
    big = run("new rows", later, "bench_mem_b")
    small_again = run("new rows, table twice as large", later.iloc[:100_000], "bench_mem_c")
    say(
        f"   a 7x larger batch takes {big / small:.1f}x the memory; the same batch into a table twice "
        f"as large {small_again / small:.2f}x"
    )
    return max(results)


# --- 3. gap query ---------------------------------------------------------------------------------


def random_holes(rng: random.Random) -> list[tuple[datetime, datetime]]:
    """50 holes of 15 minutes to ~3 days at random places in ten years."""
    quarters = (GAP_END - GAP_START).days * 96
    origin = datetime.combine(GAP_START, datetime.min.time(), UTC)
    holes = []
    for _ in range(HOLES):
        start = rng.randrange(96, quarters - 400)
        length = rng.choice([rng.randrange(1, 12), rng.randrange(12, 96), rng.randrange(96, 300)])
        holes.append((origin + start * QUARTER, origin + (start + length) * QUARTER))
    return holes


def missing_quarters(holes: list[tuple[datetime, datetime]]) -> set[datetime]:
    missing: set[datetime] = set()
    for start, end in holes:
        t = start
        while t < end:
            missing.add(t)
            t += QUARTER
    return missing


def missing_per_day(holes: list[tuple[datetime, datetime]]) -> dict[date, int]:
    """Quarter hours missing per UTC day (overlapping holes counted once)."""
    per_day: dict[date, int] = defaultdict(int)
    for t in missing_quarters(holes):
        per_day[t.date()] += 1
    return per_day


def synthetic_summary(url: str, specs: list[tuple[str, str]], holes: dict[tuple[str, str], list]) -> None:
    """What the summary holds for ten years of 15-minute series with these holes, made in SQL: one
    row per day, points = 0 for a day with nothing (holes never touch the first or last day)."""
    missing = [(*key, day, n) for key in specs for day, n in missing_per_day(holes[key]).items()]
    execute(
        url,
        "INSERT INTO entsoe.daily_counts (endpoint, area, business_type, psr_type, variant, day, points,"
        " covered, resolution)"
        " SELECT s.endpoint, s.area, 'A04', '', '', d.day, 96 - coalesce(m.n, 0),"
        "        900 * (96 - coalesce(m.n, 0)), interval '15 minutes'"
        " FROM unnest(%s::text[], %s::text[]) AS s(endpoint, area)"
        " CROSS JOIN (SELECT g::date AS day"
        "             FROM generate_series(%s::date, %s::date - 1, interval '1 day') AS g) AS d"
        " LEFT JOIN unnest(%s::text[], %s::text[], %s::date[], %s::int[]) AS m(endpoint, area, day, n)"
        "   ON (m.endpoint, m.area, m.day) = (s.endpoint, s.area, d.day)",
        (
            [e for e, _ in specs],
            [a for _, a in specs],
            GAP_START,
            GAP_END,
            [m[0] for m in missing],
            [m[1] for m in missing],
            [m[2] for m in missing],
            [m[3] for m in missing],
        ),
    )


def raw_series(url: str, endpoint: str, holes: list[tuple[datetime, datetime]]) -> int:
    """Ten years of 15-minute points for one series, generated in SQL, minus the holes."""
    execute(
        url,
        "INSERT INTO entsoe.observations (time, endpoint, area, business_type, resolution, value, unit,"
        " fetched_at)"
        " SELECT g.t, %s, %s, 'A04', interval '15 minutes', 1000 + 100 * sin(extract(epoch FROM g.t) / 7200),"
        " 'MAW', now()"
        " FROM generate_series(%s::timestamptz, %s::timestamptz - interval '15 minutes',"
        "                      interval '15 minutes') AS g(t)"
        " LEFT JOIN unnest(%s::timestamptz[]) AS m(t) ON m.t = g.t"
        " WHERE m.t IS NULL",
        (
            endpoint,
            FR,
            datetime.combine(GAP_START, datetime.min.time(), UTC),
            datetime.combine(GAP_END, datetime.min.time(), UTC),
            sorted(missing_quarters(holes)),
        ),
    )
    return rebuild_summary(url, endpoint=endpoint)


def expected_windows(holes: list[tuple[datetime, datetime]], since: date) -> dict[datetime, tuple[int, int]]:
    return {
        datetime.combine(day, datetime.min.time(), UTC): (96, 96 - missing)
        for day, missing in missing_per_day(holes).items()
        if day >= since
    }


def measure_gaps(url: str) -> dict[str, float]:
    rng = random.Random(20160101)
    specs = [(f"bench_gap_{e}", a.eic) for e in range(5) for a in list(AREAS.values())[:48]]
    holes = {key: random_holes(rng) for key in specs}
    raw_holes = random_holes(rng)

    started = time.perf_counter()
    synthetic_summary(url, specs, holes)
    raw_days = raw_series(url, "bench_gap_raw", raw_holes)
    # The generated summary must be what real points give: build both for the raw series' holes.
    synthetic_summary(url, [("bench_gap_check", FR)], {("bench_gap_check", FR): raw_holes})
    compare = (
        "SELECT day, points, covered, resolution FROM entsoe.daily_counts WHERE endpoint = %s ORDER BY day"
    )
    assert execute(url, compare, ("bench_gap_raw",)) == execute(url, compare, ("bench_gap_check",))
    execute(url, "VACUUM ANALYZE entsoe.daily_counts", autocommit=True)
    points = table_rows(url)
    say(
        f"\n3. gap query: 240 series x 10 years in the summary (generated; equal to a rebuild from raw "
        f"points, checked on one series), 1 series x 10 years of raw points ({raw_days:,} days); "
        f"{points:,} points stored in all; set up in {time.perf_counter() - started:.0f} s"
    )
    raw_spec = [SeriesSpec("bench_gap_raw", FR, QUARTER)]
    all_specs = [SeriesSpec(e, a, QUARTER) for e, a in specs]
    out: dict[str, float] = {}
    say(f"   {'years':>5} {'1 series':>10} {'240 series':>11} {'windows found (240)':>20}")
    end = datetime.combine(GAP_END, datetime.min.time(), UTC)
    for years in (1, 2, 5, 10):
        start = end.replace(year=end.year - years)
        one, found_one = best_of(5, partial(incomplete_windows, url, raw_spec, start, end, Granularity.DAILY))
        many, found = best_of(3, partial(incomplete_windows, url, all_specs, start, end, Granularity.DAILY))
        assert {w.start: (w.expected, w.stored) for w in found_one} == expected_windows(
            raw_holes, start.date()
        )
        say(f"   {years:>5} {one * 1000:>8.0f} ms {many * 1000:>8.0f} ms {len(found):>20,}")
        out[f"one_{years}"], out[f"many_{years}"] = one, many
    coverage_time, coverage = best_of(
        3, lambda: series_coverage(url, "bench_gap_raw", FR, end.replace(year=end.year - 10), end)
    )
    say(
        f"   series_coverage of the raw series over 10 years: {coverage_time * 1000:.0f} ms, "
        f"{len(coverage[0].missing)} missing intervals (50 holes, some overlapping)"
    )
    return {"gap_query_ms_1_series": out["one_10"] * 1000, "gap_query_ms_240_series": out["many_10"] * 1000}


def main() -> None:
    begun = time.perf_counter()
    with admin_url() as admin, bench_database(admin) as (url, _timescaledb):
        status = ensure_schema(url)
        server = execute(url, "SHOW server_version")[0][0]
        say(
            f"database: {redacted(url)} (PostgreSQL {server}, "
            f"{'TimescaleDB hypertable' if status.hypertable else 'plain table'}); "
            f"{os.cpu_count()} CPUs"
        )
        year = year_of_points(YEAR_START)
        figures = measure_ingest(url, year)
        # measure_ingest leaves every value of the year stored plus one
        figures["upsert_peak_mb"] = measure_memory(url, year.assign(value=year["value"] + 1))
        figures.update(measure_gaps(url))
    say(
        f"\ntotal {time.perf_counter() - begun:.0f} s; targets: upsert_vs_copy >= 0.7, "
        "reupsert_vs_copy >= 1.2, gap_query_ms_1_series < 100, gap_query_ms_240_series < 2000"
    )
    for name in (
        "upsert_vs_copy",
        "reupsert_vs_copy",
        "gap_query_ms_1_series",
        "gap_query_ms_240_series",
        "upsert_peak_mb",
    ):
        value = figures[name]
        say(f"{name}: {value:.2f}" if name.endswith("copy") else f"{name}: {value:.0f}")


if __name__ == "__main__":
    main()
