"""entsoe_pipeline/entsoe/rate_limit.py: the token bucket, on a fake clock."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entsoe_pipeline.entsoe.rate_limit import RateLimiter, default_burst, shared_limiter


class FakeClock:
    """A monotonic clock that only moves when someone sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _limiter(rate: float, burst: int, clock: FakeClock) -> RateLimiter:
    return RateLimiter(rate, burst, clock=clock, sleep=clock.sleep)


def test_a_full_bucket_grants_its_burst_without_waiting():
    clock = FakeClock()
    limiter = _limiter(60, 5, clock)
    assert [limiter.acquire() for _ in range(5)] == [0.0] * 5
    assert clock.sleeps == []


def test_beyond_the_burst_requests_wait_one_refill_interval_each():
    clock = FakeClock()
    limiter = _limiter(120, 2, clock)  # two per second
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == [0.0, 0.0, 0.5, 0.5, 0.5]
    assert clock.now == pytest.approx(1001.5)


def test_an_idle_bucket_refills_only_up_to_its_burst():
    clock = FakeClock()
    limiter = _limiter(60, 3, clock)
    for _ in range(3):
        limiter.acquire()
    clock.now += 3600  # an hour idle
    assert [limiter.acquire() for _ in range(3)] == [0.0] * 3
    assert limiter.acquire() == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(min_value=30, max_value=600),
    burst=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=2.0), min_size=1, max_size=400),
)
def test_grants_never_exceed_burst_plus_rate_in_any_window(rate, burst, gaps):
    clock = FakeClock()
    limiter = _limiter(rate, burst, clock)
    granted = []
    for gap in gaps:
        clock.now += gap
        limiter.acquire()
        granted.append(clock.now)
    for window in (1.0, 10.0, 60.0):
        allowed = burst + rate * window / 60.0 + 1e-6
        j = 0
        for i, t in enumerate(granted):
            while granted[j] <= t - window:
                j += 1
            assert i - j + 1 <= allowed, (window, i, j)


def test_concurrent_reservations_are_each_served_once_in_order():
    clock = FakeClock()  # frozen: every thread sees the same instant
    limiter = _limiter(60, 4, clock)
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(50):
            wait = limiter.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 400 reservations at 1/s after a burst of 4: exactly one per second, none lost or doubled.
    assert sorted(waits) == pytest.approx([0.0] * 4 + [float(k) for k in range(1, 397)])


def test_the_default_burst_keeps_a_minute_under_the_api_limit():
    assert default_burst(300) + 300 <= 350
    assert RateLimiter(300).burst == default_burst(300) >= 1


def test_invalid_rates_are_refused():
    with pytest.raises(ValueError, match="rate_per_minute must be positive"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="burst must be at least 1"):
        RateLimiter(60, 0)


def test_clients_of_one_url_and_token_share_one_bucket():
    a = shared_limiter("http://example.test/api", "token-a-1234", 300)
    assert shared_limiter("http://example.test/api/", "token-a-1234", 300) is a
    assert shared_limiter("http://example.test/api", "token-b-1234", 300) is not a
    assert shared_limiter("http://other.test/api", "token-a-1234", 300) is not a


def test_the_lowest_requested_rate_wins_in_a_shared_bucket():
    first = shared_limiter("http://slow.test/api", "token-c-1234", 300)
    shared_limiter("http://slow.test/api", "token-c-1234", 100)
    shared_limiter("http://slow.test/api", "token-c-1234", 500)
    assert first.rate_per_minute == pytest.approx(100)


def test_a_shared_bucket_does_not_show_the_token():
    limiter = shared_limiter("http://repr.test/api", "token-d-9f8e7d", 300)
    assert "token-d-9f8e7d" not in repr(limiter)
