"""The API's request budget, shared through the database by every process that uses one token.

ENTSO-E bans a token for about ten minutes above 400 requests a minute, counted per token whatever
process sends them (entsoe-api.md §1.5). Run workers, code servers on other machines and the audit
all reach the same database, so the token bucket lives there: one row per (API URL, token), keyed by
a hash (the token itself is never stored), updated by one atomic statement per request on the
server's clock. A negative balance is a queue of reservations, as in ``entsoe.rate_limit``: a caller
that drew it waits until its turn. In any interval T at most ``burst + rate * T`` requests go out,
however many processes share the token.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

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
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError(f"rate_per_minute must be positive, got {rate_per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self._dsn = dsn
        self._key = budget_key(base_url, token)
        self.rate_per_minute = rate_per_minute
        self.burst = burst
        self._sleep = sleep
        self._lock = threading.Lock()
        self._conn: Connection | None = None

    def reserve(self) -> float:
        """Take one request from the budget; returns the seconds to wait before sending it."""
        params = {"key": self._key, "burst": float(self.burst), "per_second": self.rate_per_minute / 60}
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = connect(self._dsn, connect_timeout=10)
                    self._conn.autocommit = True
                with self._conn.cursor() as cur:
                    cur.execute(_DRAW, params)
                    row = cur.fetchone()
            except psycopg2.Error as exc:
                self._close()
                message = f"drawing from the API request budget in the database failed: {str(exc).strip()}"
                raise StorageError(redact(message, self._dsn)) from None
        tokens = float(row[0]) if row else 0.0
        return 0.0 if tokens >= 0 else -tokens * 60 / self.rate_per_minute

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
        return f"SharedBudget(rate_per_minute={self.rate_per_minute:g}, burst={self.burst})"
