"""A thread-safe token bucket that keeps one process under the API's request rate.

ENTSO-E accepts 400 requests per minute per token and bans the token for about ten minutes beyond
that (entsoe-api.md §1.5); several clients in one process (concurrent Dagster steps, threads) must
therefore draw from one bucket: ``shared_limiter`` hands out one per (API URL, token).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol


class Limiter(Protocol):
    """What the client needs of a rate limiter (this module's bucket, or storage's SharedBudget)."""

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        ...

    def slot(self) -> AbstractContextManager[object]:
        """Held for the whole of one request: bounds the requests in flight at once."""
        ...


def default_burst(rate_per_minute: float) -> int:
    """Two seconds' worth of requests: enough to absorb jitter, small enough that burst + rate per
    minute stays well under the API's 400 (300/min -> burst 10 -> at most 310 in any minute)."""
    return max(1, int(rate_per_minute / 30))


class RateLimiter:
    """Token bucket: up to ``burst`` requests at once, refilled at ``rate_per_minute``.

    In any interval of length T at most ``burst + rate_per_minute * T / 60`` requests are granted.
    ``acquire`` reserves a token under the lock and sleeps outside it, so waiting callers queue in
    the order they arrived without holding the lock while asleep.
    """

    def __init__(
        self,
        rate_per_minute: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError(f"rate_per_minute must be positive, got {rate_per_minute}")
        if burst is not None and burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self._rate_per_second = rate_per_minute / 60.0
        self._burst = float(burst if burst is not None else default_burst(rate_per_minute))
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self._burst
        self._updated = clock()

    @property
    def rate_per_minute(self) -> float:
        return self._rate_per_second * 60.0

    @property
    def burst(self) -> int:
        return int(self._burst)

    def slow_down(self, rate_per_minute: float) -> None:
        """Lower the rate (never raise it: every user of a shared bucket must stay safe)."""
        if rate_per_minute <= 0:
            raise ValueError(f"rate_per_minute must be positive, got {rate_per_minute}")
        with self._lock:
            self._refill()
            self._rate_per_second = min(self._rate_per_second, rate_per_minute / 60.0)

    def reserve(self) -> float:
        """Take one token now and return how many seconds the caller must wait before using it."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            # A negative balance is a queue of reservations: this one is served when it is repaid.
            return -self._tokens / self._rate_per_second

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def slot(self) -> AbstractContextManager[object]:
        """No bound: a process alone has as many requests in flight as its clients send
        (``parallel_requests`` each). The bound across processes is storage's SharedBudget."""
        return contextlib.nullcontext()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate_per_second)
        self._updated = now

    def __repr__(self) -> str:
        return f"RateLimiter(rate_per_minute={self.rate_per_minute:g}, burst={self.burst})"


_shared: dict[tuple[str, str], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(
    base_url: str, token: str, rate_per_minute: float, burst: int | None = None
) -> RateLimiter:
    """The process-wide bucket for one API URL and token (the API counts requests per token).

    The token is only kept as a hash. When clients ask for different rates the lowest one wins.
    """
    key = (base_url.rstrip("/"), hashlib.sha256(token.encode()).hexdigest())
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = _shared[key] = RateLimiter(rate_per_minute, burst)
        elif rate_per_minute < limiter.rate_per_minute:
            limiter.slow_down(rate_per_minute)
        return limiter
