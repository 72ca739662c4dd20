"""entsoe_pipeline/storage/schema.py on a fresh TimescaleDB database and on plain PostgreSQL."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import pytest

from entsoe_pipeline.catalog import AREAS
from entsoe_pipeline.storage import SchemaStatus, StorageError, ensure_schema
from entsoe_pipeline.storage.schema import MIGRATIONS
from entsoe_pipeline_tests.fixtures.database import create_database, drop_database, execute

OBSERVATION_COLUMNS = [
    ("time", "timestamp with time zone", "NO"),
    ("endpoint", "text", "NO"),
    ("area", "text", "NO"),
    ("business_type", "text", "NO"),
    ("psr_type", "text", "NO"),
    ("variant", "text", "NO"),
    ("resolution", "interval", "NO"),
    ("value", "double precision", "NO"),
    ("unit", "text", "NO"),
    ("document_mrid", "text", "NO"),
    ("revision", "integer", "NO"),
    ("fetched_at", "timestamp with time zone", "NO"),
    ("document_created", "timestamp with time zone", "YES"),
]


@pytest.fixture(params=["timescaledb", "plain"])
def fresh_dsn(request: pytest.FixtureRequest, pg_admin_url: str) -> Iterator[str]:
    """A database of its own (the session databases already hold the schema)."""
    name = f"entsoe_schema_{secrets.token_hex(4)}"
    try:
        yield create_database(pg_admin_url, name, timescaledb=request.param == "timescaledb")
    finally:
        drop_database(pg_admin_url, name)


def _query(dsn: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()
    finally:
        conn.close()


def _has_timescaledb(dsn: str) -> bool:
    return bool(_query(dsn, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")[0][0])


def test_second_run_applies_nothing_and_reports_the_same(fresh_dsn: str) -> None:
    first = ensure_schema(fresh_dsn)
    second = ensure_schema(fresh_dsn)
    assert first.applied and first.applied[0] == MIGRATIONS[0].id
    assert second.applied == []
    assert (second.timescaledb, second.hypertable, second.compression, second.notes) == (
        first.timescaledb,
        first.hypertable,
        first.compression,
        first.notes,
    )
    recorded = [r[0] for r in _query(fresh_dsn, "SELECT id FROM entsoe.schema_migrations ORDER BY id")]
    assert recorded == sorted(first.applied)


def test_hypertable_exists_exactly_where_timescaledb_is_installed(fresh_dsn: str) -> None:
    status = ensure_schema(fresh_dsn)
    if _has_timescaledb(fresh_dsn):
        assert status.timescaledb and status.hypertable
        dims = _query(
            fresh_dsn,
            "SELECT column_name, time_interval FROM timescaledb_information.dimensions "
            "WHERE hypertable_schema = 'entsoe' AND hypertable_name = 'observations'",
        )
        assert [(c, str(i)) for c, i in dims] == [("time", "30 days, 0:00:00")]
        assert not any(n.startswith("hypertable skipped") for n in status.notes)
    else:
        assert not status.timescaledb and not status.hypertable
        skipped = [n for n in status.notes if n.startswith("hypertable skipped")]
        assert len(skipped) == 1


def test_compression_is_skipped_once_with_a_reason_on_builds_without_it(fresh_dsn: str) -> None:
    status = ensure_schema(fresh_dsn)
    license_ = _query(fresh_dsn, "SELECT current_setting('timescaledb.license', true)")[0][0]
    if status.timescaledb and license_ not in (None, "apache"):
        assert status.compression
    else:
        assert not status.compression
        assert len([n for n in status.notes if n.startswith("compression skipped")]) == 1


def test_compress_after_none_asks_for_no_compression(fresh_dsn: str) -> None:
    status = ensure_schema(fresh_dsn, compress_after=None)
    assert not status.compression
    assert "compression skipped: compress_after is None" in status.notes


def test_observations_has_exactly_the_analyst_columns_with_comments(fresh_dsn: str) -> None:
    ensure_schema(fresh_dsn)
    columns = _query(
        fresh_dsn,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'entsoe' AND table_name = 'observations' ORDER BY ordinal_position",
    )
    assert columns == OBSERVATION_COLUMNS
    uncommented = _query(
        fresh_dsn,
        "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = 'entsoe.observations'::regclass "
        "AND a.attnum > 0 AND NOT a.attisdropped AND col_description(a.attrelid, a.attnum) IS NULL",
    )
    assert uncommented == []
    variant = _query(fresh_dsn, "SELECT col_description('entsoe.observations'::regclass, 6)")[0][0]
    assert "consumption" in str(variant) and "sequence=2" in str(variant)
    assert _query(fresh_dsn, "SELECT obj_description('entsoe.observations'::regclass)")[0][0]


def test_unique_key_includes_variant(fresh_dsn: str) -> None:
    ensure_schema(fresh_dsn)
    key = _query(
        fresh_dsn,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'entsoe.observations'::regclass AND contype = 'p'",
    )
    assert key == [('PRIMARY KEY (endpoint, area, business_type, psr_type, variant, "time")',)]


def test_areas_table_holds_the_catalogue_and_the_series_view_names_them(fresh_dsn: str) -> None:
    ensure_schema(fresh_dsn)
    areas = {str(eic): str(name) for eic, name in _query(fresh_dsn, "SELECT eic, name FROM entsoe.areas")}
    assert areas == {a.eic: a.name for a in AREAS.values()}
    conn = psycopg2.connect(fresh_dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO entsoe.observations (time, endpoint, area, variant, resolution, value, unit,"
                " fetched_at) VALUES ('2024-01-01Z', 'actual_load', %s, '', 'PT15M', 1, 'MAW', now()),"
                " ('2024-01-01Z', 'actual_load', %s, 'consumption', 'PT15M', 2, 'MAW', now())",
                (AREAS["DE_LU"].eic, AREAS["DE_LU"].eic),
            )
        rows = _query(
            fresh_dsn,
            "SELECT time, value FROM entsoe.series WHERE endpoint = 'actual_load' AND area_name = 'DE_LU'",
        )
    finally:
        conn.close()
    assert [r[1] for r in rows] == [1.0]


def test_processes_starting_at_once_apply_each_migration_once(fresh_dsn: str) -> None:
    results: list[SchemaStatus] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        try:
            results.append(ensure_schema(fresh_dsn))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = [m for r in results for m in r.applied]
    assert sorted(applied) == sorted(set(applied))
    assert MIGRATIONS[0].id in applied


def test_plain_database_converts_to_a_hypertable_once_timescaledb_is_installed(
    pg_admin_url: str,
) -> None:
    name = f"entsoe_schema_{secrets.token_hex(4)}"
    url = create_database(pg_admin_url, name, timescaledb=False)
    try:
        before = ensure_schema(url)
        execute(
            url,
            "INSERT INTO entsoe.observations (time, endpoint, area, resolution, value, unit, fetched_at)"
            " VALUES ('2024-01-01Z', 'actual_load', 'X', 'PT15M', 1, 'MAW', now())",
        )
        execute(url, "CREATE EXTENSION timescaledb")
        after = ensure_schema(url)
        assert not before.hypertable
        assert after.hypertable and after.applied == ["0002_hypertable"]
        assert _query(url, "SELECT count(*) FROM entsoe.observations")[0][0] == 1
    finally:
        drop_database(pg_admin_url, name)


def test_unreachable_server_raises_storage_error_without_the_password() -> None:
    password = "s3cret-" + secrets.token_hex(4)
    with pytest.raises(StorageError) as info:
        ensure_schema(f"postgresql+psycopg2://entsoe:{password}@127.0.0.1:1/nowhere")
    assert password not in str(info.value)
