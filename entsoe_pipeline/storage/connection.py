"""Connections from a DSN, and removal of the password from anything shown to users.

DSNs come as ``postgresql://user:pass@host:port/db`` or in SQLAlchemy's form
``postgresql+psycopg2://...``; the driver suffix is stripped.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit

import psycopg2
import psycopg2.extensions

from .errors import StorageError

_DRIVER = re.compile(r"^(postgres(?:ql)?)\+[A-Za-z0-9_]+://")


def normalize_dsn(dsn: str) -> str:
    """``postgresql+psycopg2://...`` -> ``postgresql://...``; key=value DSNs pass unchanged."""
    return _DRIVER.sub(r"\1://", dsn.strip())


def dsn_password(dsn: str) -> str | None:
    """The password in a URL or key=value DSN, to scrub it from messages."""
    dsn = normalize_dsn(dsn)
    if "://" in dsn:
        password = urlsplit(dsn).password
        return unquote(password) if password else None
    match = re.search(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn)
    if not match:
        return None
    value = match.group(1)
    return value[1:-1] if value.startswith("'") else value


def redact(text: str, dsn: str | None) -> str:
    """``text`` with the DSN's password (plain and URL-encoded) replaced by ``***``."""
    if not dsn:
        return text
    password = dsn_password(dsn)
    if password:
        text = text.replace(password, "***")
        raw = urlsplit(normalize_dsn(dsn)).password if "://" in dsn else None
        if raw and raw != password:
            text = text.replace(raw, "***")
    return text


# Where a write goes: a DSN (the call opens a connection of its own) or a connection the caller
# holds open (and keeps open).
DsnOrConnection: TypeAlias = str | psycopg2.extensions.connection


class Connection(psycopg2.extensions.connection):
    """A psycopg2 connection whose ``with`` block commits (or rolls back) and then closes it.

    psycopg2's own connection only ends the transaction on leaving ``with``; every caller here
    opens a connection per unit of work, so leaving the block should also release it.
    """

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        try:
            if not self.closed:  # a dropped connection has nothing left to commit or roll back
                return super().__exit__(exc_type, exc, tb)
            return None
        finally:
            self.close()


def connect(dsn: str, **kwargs: Any) -> Connection:
    """Open a connection; use it as ``with connect(dsn) as conn:`` (commit on success, then close)."""
    conn = psycopg2.connect(normalize_dsn(dsn), connection_factory=Connection, **kwargs)
    assert isinstance(conn, Connection)
    # Timestamps come back in UTC whatever the server's or role's default zone, and
    # timestamptz arithmetic with day steps is UTC unless a query sets the zone itself.
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SET TimeZone TO 'UTC'")
    conn.autocommit = False
    return conn


@contextmanager
def session(dsn: str) -> Iterator[Connection]:
    """One connection for a sequence of transactions that each commit on their own (a run's
    partitions): connecting costs more than writing a day of points. Closed at the end; a failure
    to connect is a StorageError without the password."""
    with errors_named(dsn, "connecting to the database"):
        conn = connect(dsn)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(dsn_or_conn: DsnOrConnection) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor whose work commits at the end of the block, or rolls back on an error. From a DSN,
    on a connection of its own; from an open connection (handed over idle, as a run that stores
    many partitions keeps one), on that connection, which stays open."""
    if isinstance(dsn_or_conn, str):
        with connect(dsn_or_conn) as conn, conn.cursor() as cur:
            yield cur
        return
    conn = dsn_or_conn
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        if not conn.closed:
            # A dead connection has nothing to roll back: the server did it.
            with contextlib.suppress(psycopg2.Error):
                conn.rollback()
        raise


@contextmanager
def errors_named(target: DsnOrConnection, what: str) -> Iterator[None]:
    """Database errors inside the block become StorageError saying what failed, without the
    password (of the DSN; an open connection's is not in its errors)."""
    try:
        yield
    except psycopg2.Error as exc:
        dsn = target if isinstance(target, str) else None
        raise StorageError(redact(f"{what} failed: {str(exc).strip()}", dsn)) from None
