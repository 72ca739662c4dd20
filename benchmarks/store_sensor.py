"""How long one store-sensor tick takes for 240 assets with 10 years of history.

Set-up: a fresh database (_database.py) whose summary (``entsoe.daily_counts``, what the gap query
reads) describes 240 daily series (5 daily endpoints x 48 areas) of complete 15-minute
data for 10 years, with 50 scattered holes per series, and one current point per series in
``entsoe.observations`` (what the freshness read sees); the other raw points are not needed by the
tick, so they are not written. The Dagster instance (in memory) knows the holes' partitions as
materialized, so every hole is a gap to fill. Then the full tick runs as the daemon would (Dagster's
sensor evaluation: freshness of every series, confirmations, the gap plan), and, as the baseline in
the same run, the gap query alone.

Last lines, ``name: value``: store_sensor_first_tick_ms_240_assets (the tick that meets every hole
first), store_sensor_tick_ms_240_assets (the next one, the steady state), gap_query_ms_240_assets,
tick_vs_query (the freshness read and the Dagster layer's overhead), first_tick_vs_budget (5 s) and
tick_vs_budget (2 s).
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from benchmarks._database import admin_url, bench_database  # noqa: E402
from entsoe_pipeline import catalog, storage  # noqa: E402
from entsoe_pipeline.defs import Settings  # noqa: E402
from entsoe_pipeline.defs.observations import observation_key  # noqa: E402
from entsoe_pipeline.defs.resources import TimescaleResource  # noqa: E402
from entsoe_pipeline.defs.store_sensor import build_store_sensor  # noqa: E402
from entsoe_pipeline.defs.targets import STATUS_READS_PER_TICK  # noqa: E402

YEARS = 10
HOLES_PER_SERIES = 50
BUDGET_MS = 2000.0
# The tick that first meets every hole asks Dagster for the partition status of every asset.
FIRST_TICK_BUDGET_MS = 5000.0
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
START = date(NOW.year - YEARS, NOW.month, NOW.day)
DAILY = [e for e in catalog.ENDPOINTS.values() if e.granularity is catalog.Granularity.DAILY]


def populate(dsn: str, settings: Settings) -> tuple[int, dict[dg.AssetKey, list[date]]]:
    """Complete days for every series, but HOLES_PER_SERIES random days each with nothing stored,
    and the newest point of each series current; returns the summary's rows and each asset's holes."""
    rng = random.Random(7)
    days = (NOW.date() - START).days
    holes_by_asset: dict[dg.AssetKey, list[date]] = {}
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
                holes = [START + timedelta(days=h) for h in rng.sample(range(days - 10), HOLES_PER_SERIES)]
                holes_by_asset[observation_key(endpoint, area)] = holes
                # The summary is dense: a day with nothing stored is a row with no points.
                cur.execute(
                    "UPDATE entsoe.daily_counts SET points = 0, covered = 0"
                    " WHERE endpoint = %s AND area = %s AND day = ANY(%s)",
                    (endpoint.name, area.eic, holes),
                )
                cur.execute(
                    "INSERT INTO entsoe.observations (time, endpoint, area, business_type, psr_type, variant,"
                    " resolution, value, unit, fetched_at)"
                    " VALUES (%s, %s, %s, 'A04', '', '', interval '15 minutes', 1, 'MAW', %s)",
                    (NOW - timedelta(hours=2), endpoint.name, area.eic, NOW),
                )
        cur.execute("ANALYZE entsoe.daily_counts")
        cur.execute("SELECT count(*) FROM entsoe.daily_counts")
        return int(cur.fetchone()[0]), holes_by_asset


def _best_ms(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) * 1000)
    return best


def plan_every_hole(
    sensor: dg.SensorDefinition, resources: dict, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[str | None, int]:
    """Ticks (untimed) from ``cursor`` until one launches nothing: the cursor then, and the ticks
    that launched something."""
    defs = dg.Definitions(sensors=[sensor], resources=resources)
    for ticks in range(10_000):
        with dg.build_sensor_context(
            instance=instance, definitions=defs, resources=resources, cursor=cursor
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        cursor = result.cursor
        if not result.run_requests:
            return cursor, ticks
    raise AssertionError("the holes were never all launched")


def main() -> None:
    with admin_url() as admin, bench_database(admin) as (dsn, _timescaledb):
        storage.ensure_schema(dsn)
        areas = tuple(catalog.AREAS.values())[: 240 // len(DAILY)]
        settings = Settings(areas=areas, endpoints=tuple(DAILY), history_start=START)
        assets = len(settings.areas) * len(settings.endpoints)
        t0 = time.perf_counter()
        rows, holes = populate(dsn, settings)
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

        settings = replace(settings, clock=lambda: NOW)
        sensor = build_store_sensor(settings)
        resources = {"timescale": TimescaleResource(database_url=dsn)}
        defs = dg.Definitions(sensors=[sensor], resources=resources)
        instance = dg.DagsterInstance.ephemeral()
        for key, days_ in holes.items():  # Dagster knows the holes as materialized partitions
            for day in days_:
                instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=day.isoformat()))
        launched: list[tuple[int, int]] = []
        cursors: list[str | None] = []

        def tick(cursor: str | None) -> None:
            with dg.build_sensor_context(
                instance=instance, definitions=defs, resources=resources, cursor=cursor
            ) as context:
                result = sensor(context)
            assert isinstance(result, dg.SensorResult)
            launched.append((len(result.run_requests or []), len(result.asset_events or [])))
            cursors.append(result.cursor)

        query_ms = _best_ms(query)
        # The first tick after the holes appeared (no cursor): every series is confirmed, the holes
        # of as many series as a tick reads the status of are launched; the next ticks launch the
        # others (untimed). Then a tick a minute later, as the daemon makes it: the holes are in flight.
        first_ms = _best_ms(lambda: tick(None))
        planned, ticks = plan_every_hole(sensor, resources, instance, cursors[0])
        settings_later = replace(settings, clock=lambda: NOW + timedelta(minutes=1))
        sensor = build_store_sensor(settings_later)
        defs = dg.Definitions(sensors=[sensor], resources=resources)
        steady_ms = _best_ms(lambda: tick(planned))
    requests, confirmations = launched[0]
    print(
        f"first tick: {requests:,} run request (one backfill of the holes of {STATUS_READS_PER_TICK} series),"
        f" {confirmations} freshness confirmations; every hole launched after {ticks} more ticks;"
        f" then a tick launches {launched[-1][0]}"
    )
    assert requests == 1 and confirmations == assets, launched[0]
    assert launched[-1] == (0, 0), launched[-1]
    print(f"store_sensor_first_tick_ms_240_assets: {first_ms:.0f}")
    print(f"store_sensor_tick_ms_240_assets: {steady_ms:.0f}")
    print(f"gap_query_ms_240_assets: {query_ms:.0f}")
    print(f"tick_vs_query: {steady_ms / query_ms:.2f}")
    print(f"first_tick_vs_budget: {first_ms / FIRST_TICK_BUDGET_MS:.2f}")
    print(f"tick_vs_budget: {steady_ms / BUDGET_MS:.2f}")


if __name__ == "__main__":
    main()
