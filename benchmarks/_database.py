"""Databases for benchmarks: a fresh database on the project's cluster (or on the server of
ENTSOE_BENCH_ADMIN_URL), created for one run and dropped after it."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.errors
from psycopg2 import sql

REPO_ROOT = Path(__file__).resolve().parents[1]


def say(text: str) -> None:
    print(text, flush=True)


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1))
    return urlunsplit(parts)


@contextmanager
def admin_url() -> Iterator[str]:
    """A URL whose role may CREATE DATABASE; starts the project's cluster if needed."""
    explicit = os.environ.get("ENTSOE_BENCH_ADMIN_URL")
    if explicit:
        yield explicit
        return
    script = ["bash", str(REPO_ROOT / "scripts" / "db.sh")]
    started = subprocess.run([*script, "status"], capture_output=True, check=False).returncode != 0
    if started:
        subprocess.run([*script, "start"], check=True, capture_output=True)
    try:
        yield subprocess.run(
            [*script, "admin-url"], check=True, capture_output=True, text=True
        ).stdout.strip()
    finally:
        if started:
            subprocess.run([*script, "stop"], check=False, capture_output=True)


def execute(
    url: str, statement: sql.Composable | str, params: Any = None, *, autocommit: bool = False
) -> list:
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = autocommit
        with conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else []
        if not autocommit:
            conn.commit()
        return rows
    finally:
        conn.close()


@contextmanager
def bench_database(admin: str) -> Iterator[tuple[str, bool]]:
    name = f"entsoe_bench_{secrets.token_hex(4)}"
    url = urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    execute(admin, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)), autocommit=True)
    try:
        try:
            execute(url, "CREATE EXTENSION IF NOT EXISTS timescaledb", autocommit=True)
            timescaledb = True
        except psycopg2.Error as exc:
            say(f"note: no TimescaleDB here ({str(exc).strip()}); measuring plain PostgreSQL")
            timescaledb = False
        yield url, timescaledb
    finally:
        drop_database(admin, url, name)


def drop_database(admin: str, url: str, name: str) -> None:
    """DROP DATABASE ... WITH (FORCE) cannot end TimescaleDB's scheduler for the database (it runs as
    the superuser); dropping the extension first makes the launcher stop it."""
    with suppress(psycopg2.Error):
        execute(url, "DROP EXTENSION IF EXISTS timescaledb CASCADE", autocommit=True)
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    for attempt in range(50):
        try:
            execute(admin, statement, autocommit=True)
            return
        except (psycopg2.errors.InsufficientPrivilege, psycopg2.errors.ObjectInUse):
            if attempt == 49:
                raise
            time.sleep(0.2)
