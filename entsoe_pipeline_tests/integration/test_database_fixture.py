"""The database fixtures give real PostgreSQL databases, with and without TimescaleDB."""

from __future__ import annotations

import os
import stat
from urllib.parse import parse_qs, urlsplit, urlunsplit

import psycopg2
import pytest

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
    assert urlsplit(database_url).path != urlsplit(plain_database_url).path
    assert urlsplit(database_url).path.startswith("/entsoe_test_")


def test_the_cluster_trusts_its_private_socket_and_asks_a_password_over_tcp(database_url: str) -> None:
    if os.environ.get("ENTSOE_DATABASE_URL") or os.environ.get("ENTSOE_TEST_ADMIN_URL"):
        pytest.skip("the tests use a server of the user's (ENTSOE_*_URL), not this checkout's cluster")
    parts = urlsplit(database_url)
    socket_dir = parse_qs(parts.query).get("host", [None])[0]
    assert socket_dir, f"the cluster's URL does not use its socket: {parts._replace(netloc='...').geturl()}"
    # Only the server's user and root may enter the socket's directory: that is what makes the
    # passwordless socket safe.
    assert stat.S_IMODE(os.stat(socket_dir).st_mode) == 0o700
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT inet_server_addr()")
        assert cur.fetchone() == (None,)  # a Unix socket, not TCP
    tcp = parts._replace(netloc=f"{parts.username}:wrong-password@{parts.hostname}:{parts.port}", query="")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(urlunsplit(tcp)).close()
