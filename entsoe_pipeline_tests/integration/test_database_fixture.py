"""The database fixtures give real PostgreSQL databases, with and without TimescaleDB."""

from __future__ import annotations

import psycopg2

TIMESCALEDB_VERSION = "select extversion from pg_extension where extname = 'timescaledb'"


def _fetch_all(url: str, query: str) -> list[tuple[object, ...]]:
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetchall()
    finally:
        connection.close()


def test_database_url_has_the_timescaledb_extension(database_url: str) -> None:
    rows = _fetch_all(database_url, TIMESCALEDB_VERSION)
    assert len(rows) == 1
    assert str(rows[0][0]).startswith("2.")


def test_database_url_creates_hypertables(database_url: str) -> None:
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("create table fixture_probe (time timestamptz not null, value double precision)")
            cursor.execute("select create_hypertable('fixture_probe', 'time')")
            cursor.execute(
                "select count(*) from timescaledb_information.hypertables"
                " where hypertable_name = 'fixture_probe'"
            )
            assert cursor.fetchone() == (1,)
    finally:
        # DDL is transactional: rolling back leaves the session's database as the other tests expect it.
        connection.rollback()
        connection.close()


def test_plain_database_url_has_no_timescaledb_extension(plain_database_url: str) -> None:
    assert _fetch_all(plain_database_url, TIMESCALEDB_VERSION) == []


def test_fixture_databases_are_distinct(database_url: str, plain_database_url: str) -> None:
    assert database_url.rsplit("/", 1)[1] != plain_database_url.rsplit("/", 1)[1]
    assert database_url.rsplit("/", 1)[1].startswith("entsoe_test_")
