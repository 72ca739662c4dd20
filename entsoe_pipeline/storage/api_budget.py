"""The API's request budget, shared through the database by every process that uses one token.

ENTSO-E bans a token for about ten minutes above 400 requests a minute, counted per token whatever
process sends them (entsoe-api.md §1.5). Run workers, code servers on other machines and the audit
all reach the same database, so the token bucket lives there: one row per (API URL, token), keyed by
a hash (the token itself is never stored), updated by one atomic statement per request on the
server's clock. A negative balance is a queue of reservations, as in ``entsoe.rate_limit``: a caller
that drew it waits until its turn. In any interval T at most ``burst + rate * T`` requests go out,
however many processes share the token.

The same budget bounds the requests in flight at once (``slot``): each is one of ``concurrency``
session-level advisory locks per key, held for the whole request. A process that dies mid-request
loses its session and so its slot; nothing is left claimed.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import psycopg2

from .connection import Connection, connect, redact
from .errors import StorageError

_DRAW = """
INSERT INTO entsoe.api_budget AS b (key, tokens, updated)
VALUES (%(key)s, %(burst)s - 1, clock_timestamp())
ON CONFLICT (key) DO UPDATE SET
    tokens = least(%(burst)s, b.tokens + %(per_second)s
                   * greatest(0, extract(epoch FROM clock_timestamp() - b.updated))) - 1,
    updated = greatest(b.updated, clock_timestamp())
RETURNING tokens
"""


# One advisory lock per slot of a key: its number, from the key and the slot's index.
_TRY_SLOT = "SELECT pg_try_advisory_lock(hashtextextended(%(slot)s, 0))"
_FREE_SLOT = "SELECT pg_advisory_unlock(hashtextextended(%(slot)s, 0))"
# How often a request waiting for a slot looks again: small against the API's answer times.
SLOT_POLL_SECONDS = 0.02


def budget_key(base_url: str, token: str) -> str:
    return hashlib.sha256(f"{base_url.rstrip('/')}\n{token}".encode()).hexdigest()


class SharedBudget:
    """A rate limiter (``acquire``) whose bucket is a row of ``entsoe.api_budget``.

    Raises StorageError, without the password, when the database cannot be reached: a run that
    cannot count its requests must not send them.
    """

    def __init__(
        self,
        dsn: str,
        base_url: str,
        token: str,
        rate_per_minute: float,
        burst: int,
        *,
        concurrency: int | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError(f"rate_per_minute must be positive, got {rate_per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.concurrency = concurrency
        self._dsn = dsn
        self._key = budget_key(base_url, token)
        self.rate_per_minute = rate_per_minute
        self.burst = burst
        self._sleep = sleep
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._slots_lock = threading.Lock()
        self._held: set[int] = set()  # the slots this process's threads hold

    def reserve(self) -> float:
        """Take one request from the budget; returns the seconds to wait before sending it."""
        params = {"key": self._key, "burst": float(self.burst), "per_second": self.rate_per_minute / 60}
        row = self._query(_DRAW, params, "drawing from the API request budget")
        tokens = float(row[0]) if row else 0.0
        return 0.0 if tokens >= 0 else -tokens * 60 / self.rate_per_minute

    @contextmanager
    def slot(self) -> Iterator[int | None]:
        """Hold one of the key's ``concurrency`` slots (waiting for one to free) while the block
        runs: one request in flight. Without ``concurrency``, no bound."""
        if self.concurrency is None:
            yield None
            return
        taken = None
        while taken is None:
            taken = next((i for i in range(self.concurrency) if self._take_slot(i)), None)
            if taken is None:
                self._sleep(SLOT_POLL_SECONDS)
        try:
            yield taken
        finally:
            # A release that fails closes the connection, and the session's end frees the slot.
            try:
                self._slot_lock(_FREE_SLOT, taken)
            finally:
                with self._slots_lock:
                    self._held.discard(taken)

    def _take_slot(self, index: int) -> bool:
        # A session may take an advisory lock it holds again: the threads of one process, which
        # share this connection, must each take a slot it does not hold yet.
        with self._slots_lock:
            if index in self._held or not self._slot_lock(_TRY_SLOT, index):
                return False
            self._held.add(index)
            return True

    def _slot_lock(self, sql: str, index: int) -> bool:
        slot = {"slot": f"entsoe.api_slot {self._key} {index}"}
        row = self._query(sql, slot, "taking or freeing a request slot")
        return bool(row and row[0])

    def _query(self, sql: str, params: Mapping[str, object], what: str) -> tuple | None:
        """One statement on the budget's own connection (opened when needed); StorageError, without
        the password, when the database cannot be reached."""
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = connect(self._dsn, connect_timeout=10)
                    self._conn.autocommit = True
                with self._conn.cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchone()
            except psycopg2.Error as exc:
                self._close()
                message = f"{what} in the database failed: {str(exc).strip()}"
                raise StorageError(redact(message, self._dsn)) from None

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None

    def __repr__(self) -> str:
        return (
            f"SharedBudget(rate_per_minute={self.rate_per_minute:g}, burst={self.burst}, "
            f"concurrency={self.concurrency})"
        )
