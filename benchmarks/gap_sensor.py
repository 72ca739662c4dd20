"""How long one gap-sensor tick takes for 240 assets with 10 years of history.

Set-up: a fresh database (_database.py) whose summary (``entsoe.daily_counts``, what the gap query
reads) describes 240 daily series (5 daily endpoints x 48 areas) of complete 15-minute
data for 10 years, with 50 scattered holes per series; the raw points are not needed by the tick,
so they are not written. Then the full tick runs as the daemon would (Dagster's sensor evaluation
with a real instance), and, as the baseline in the same run, the storage query alone.

Last lines, ``name: value``: gap_sensor_tick_ms_240_assets, gap_query_ms_240_assets,
tick_vs_query (the Dagster layer's overhead), tick_vs_budget (the 2 s target).
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from benchmarks._database import admin_url, bench_database  # noqa: E402
from entsoe_pipeline import catalog, storage  # noqa: E402
from entsoe_pipeline.defs import Settings  # noqa: E402
from entsoe_pipeline.defs.gap_sensor import build_gap_sensor  # noqa: E402
from entsoe_pipeline.defs.observations import observation_key  # noqa: E402
from entsoe_pipeline.defs.resources import TimescaleResource  # noqa: E402

YEARS = 10
HOLES_PER_SERIES = 50
BUDGET_MS = 2000.0
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
START = date(NOW.year - YEARS, NOW.month, NOW.day)
DAILY = [e for e in catalog.ENDPOINTS.values() if e.granularity is catalog.Granularity.DAILY]


def _populate(dsn: str, settings: Settings) -> int:
    """Complete days for every series, but HOLES_PER_SERIES random days each with nothing stored."""
    rng = random.Random(7)
    days = (NOW.date() - START).days
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        for endpoint in settings.endpoints:
            for area in settings.areas:
                cur.execute(
                    "INSERT INTO entsoe.daily_counts (endpoint, area, business_type, psr_type, variant, day,"
                    " points, covered, resolution)"
                    " SELECT %s, %s, 'A04', '', '', d::date, 96, 86400, interval '15 minutes'"
                    " FROM generate_series(%s::date, %s::date, interval '1 day') AS d",
                    (endpoint.name, area.eic, START, NOW.date()),
                )
                holes = rng.sample(range(days - 10), HOLES_PER_SERIES)
                # The summary is dense: a day with nothing stored is a row with no points.
                cur.execute(
                    "UPDATE entsoe.daily_counts SET points = 0, covered = 0"
                    " WHERE endpoint = %s AND area = %s AND day = ANY(%s)",
                    (endpoint.name, area.eic, [START + timedelta(days=h) for h in holes]),
                )
        cur.execute("ANALYZE entsoe.daily_counts")
        cur.execute("SELECT count(*) FROM entsoe.daily_counts")
        return int(cur.fetchone()[0])


def _best_ms(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) * 1000)
    return best


def main() -> None:
    with admin_url() as admin, bench_database(admin) as (dsn, _timescaledb):
        storage.ensure_schema(dsn)
        areas = tuple(catalog.AREAS.values())[: 240 // len(DAILY)]
        settings = Settings(areas=areas, endpoints=tuple(DAILY), history_start=START)
        assets = len(settings.areas) * len(settings.endpoints)
        t0 = time.perf_counter()
        rows = _populate(dsn, settings)
        took = time.perf_counter() - t0
        print(f"summary rows: {rows:,} for {assets} series over {YEARS} years ({took:.1f} s)")

        specs = [
            storage.SeriesSpec(e.name, a.eic, e.default_resolution)
            for e in settings.endpoints
            for a in settings.areas
        ]
        window_start = datetime(START.year, START.month, START.day, tzinfo=UTC)

        def query() -> None:
            found = storage.incomplete_windows(dsn, specs, window_start, NOW, catalog.Granularity.DAILY)
            assert len(found) >= assets * HOLES_PER_SERIES, len(found)

        keys = [observation_key(e, a) for e in settings.endpoints for a in settings.areas]
        sensor = build_gap_sensor(settings, keys, clock=lambda: NOW)
        resources = {"timescale": TimescaleResource(database_url=dsn)}
        defs = dg.Definitions(sensors=[sensor], resources=resources)
        launched: list[int] = []
        with dg.instance_for_test() as instance:

            def tick() -> None:
                with dg.build_sensor_context(
                    instance=instance, definitions=defs, resources=resources
                ) as context:
                    result = sensor(context)
                launched.append(len(result.run_requests or []))

            query_ms = _best_ms(query)
            tick_ms = _best_ms(tick)
    print(f"run requests per tick: {launched[0]:,} (one backfill holds every hole of every series)")
    print(f"gap_sensor_tick_ms_240_assets: {tick_ms:.0f}")
    print(f"gap_query_ms_240_assets: {query_ms:.0f}")
    print(f"tick_vs_query: {tick_ms / query_ms:.2f}")
    print(f"tick_vs_budget: {tick_ms / BUDGET_MS:.2f}")


if __name__ == "__main__":
    main()
