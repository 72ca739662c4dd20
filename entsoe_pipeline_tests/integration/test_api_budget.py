"""The API request budget shared through the database: processes that use one token together stay
within ``burst + rate * T`` requests in any interval T, and within its bound on requests in flight,
however many of them fetch at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from entsoe_pipeline import storage
from entsoe_pipeline.storage import SharedBudget, StorageError

REPO_ROOT = Path(__file__).resolve().parents[2]
RATE, BURST = 600.0, 5  # 10 requests a second: the test takes seconds, not minutes
PROCESSES, REQUESTS_EACH = 3, 25


def test_the_first_draws_spend_the_burst_then_each_waits_its_turn(database_url):
    storage.ensure_schema(database_url)
    budget = SharedBudget(database_url, "http://budget.test/api", "tok-turns", RATE, BURST)
    try:
        waits = [budget.reserve() for _ in range(BURST + 3)]
    finally:
        budget.close()
    assert waits[:BURST] == [0.0] * BURST
    # Each reservation beyond the burst waits one more interval (0.1 s at 600/min), less the
    # few milliseconds the draws themselves took.
    for turn, wait in enumerate(waits[BURST:], start=1):
        assert turn * 0.1 - 0.05 < wait <= turn * 0.1


def test_tokens_and_urls_have_budgets_of_their_own(database_url):
    storage.ensure_schema(database_url)
    budgets = [
        SharedBudget(database_url, "http://budget.test/api", "tok-a", RATE, 1),
        SharedBudget(database_url, "http://budget.test/api", "tok-b", RATE, 1),
        SharedBudget(database_url, "http://other.test/api", "tok-a", RATE, 1),
    ]
    try:
        assert [b.reserve() for b in budgets] == [0.0, 0.0, 0.0]
    finally:
        for b in budgets:
            b.close()


def test_an_unreachable_database_is_a_storage_error_without_the_password():
    budget = SharedBudget("postgresql://entsoe:hunter2-secret@127.0.0.1:1/x", "http://a/api", "t", RATE, 1)
    with pytest.raises(StorageError) as info:
        budget.acquire()
    assert "hunter2-secret" not in str(info.value)
    assert "API request budget" in str(info.value)


FETCHER = """
import json, sys, time
from datetime import UTC, datetime, timedelta
from entsoe_pipeline.entsoe import EntsoeClient
from entsoe_pipeline.entsoe.rate_limit import RateLimiter
from entsoe_pipeline.storage import SharedBudget

url, dsn, shared, first_day, n, rate, burst, concurrency = sys.argv[1:]
rate, burst, concurrency = float(rate), int(burst), int(concurrency) or None
token = "entsoe-simulator-demo-token"
inner = (
    SharedBudget(dsn, url, token, rate, burst, concurrency=concurrency)
    if shared == "1" else RateLimiter(rate, burst)
)
sent = []

class Recording:
    def acquire(self):
        waited = inner.acquire()
        sent.append(time.time())
        return waited

    def slot(self):
        return inner.slot()

start = datetime.fromisoformat(first_day).replace(tzinfo=UTC)
with EntsoeClient(token, url, limiter=Recording(), max_retries=0) as client:
    for day in range(int(n)):
        client.fetch("actual_load", "FR", start + timedelta(days=day), start + timedelta(days=day + 1))
print(json.dumps(sent))
"""


def _fetch_concurrently(
    simulator_url: str, database_url: str, shared: bool, concurrency: int = 0, processes: int = PROCESSES
) -> list[float]:
    started = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                FETCHER,
                simulator_url,
                database_url,
                "1" if shared else "0",
                f"2025-0{1 + i}-01",
                str(REQUESTS_EACH),
                str(RATE),
                str(BURST),
                str(concurrency),
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    times: list[float] = []
    for process in started:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]  # a 429 would raise RateLimited: max_retries=0
        times += json.loads(out.strip().splitlines()[-1])
    assert len(times) == processes * REQUESTS_EACH
    return sorted(times)


def _excess(times: list[float]) -> float:
    """How far the busiest interval goes beyond ``burst + rate * T`` (<= 0: within the budget)."""
    worst = float("-inf")
    for i, first in enumerate(times):
        for j in range(i, len(times)):
            allowed = BURST + RATE / 60 * (times[j] - first)
            worst = max(worst, (j - i + 1) - allowed)
    return worst


def test_processes_sharing_a_token_stay_within_one_budget(make_simulator, database_url):
    # The simulator's own ban is out of the way: the test measures the rate, not a ban.
    simulator = make_simulator(max_requests_per_minute=100_000)
    storage.ensure_schema(database_url)
    with storage.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM entsoe.api_budget")
    shared = _fetch_concurrently(simulator.url, database_url, shared=True)
    # One request of slack: the send times are taken in each process just after its draw.
    assert _excess(shared) <= 1
    span = shared[-1] - shared[0]
    reached = (len(shared) - BURST) / span * 60
    print(f"{len(shared)} requests, {PROCESSES} processes, {span:.1f}s: {reached:.0f}/min (budget {RATE:g})")
    assert reached <= RATE * 1.05

    # The same processes, each with a bucket of its own, go well beyond it: the check can fail.
    separate = _fetch_concurrently(simulator.url, database_url, shared=False)
    assert _excess(separate) > 10


def test_processes_sharing_a_token_have_at_most_its_requests_in_flight(database_url):
    """Four processes fetch at once from a simulator that takes 0.2 s per answer; with a bound of 2
    the simulator never has more than 2 requests in hand, and without one it has more."""
    from entsoe_pipeline.simulator import SimulatorConfig
    from entsoe_pipeline_tests.fixtures.live_dagster import RecordingSimulator

    storage.ensure_schema(database_url)
    for concurrency, bounded in ((2, True), (0, False)):
        simulator = RecordingSimulator(SimulatorConfig(latency_seconds=0.2, max_requests_per_minute=100_000))
        try:
            _fetch_concurrently(
                simulator.url, database_url, shared=True, concurrency=concurrency, processes=4
            )
        finally:
            simulator.stop()
        if bounded:
            assert simulator.max_in_flight == 2, f"{simulator.max_in_flight} requests were in flight at once"
        else:
            assert simulator.max_in_flight >= 3, "the check cannot fail: the processes never overlapped"


def test_a_process_that_dies_holding_a_request_slot_gives_it_back(database_url):
    storage.ensure_schema(database_url)
    holder = SharedBudget(database_url, "http://a/api", "slot-test", RATE, BURST, concurrency=1)
    waiter = SharedBudget(database_url, "http://a/api", "slot-test", RATE, BURST, concurrency=1)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            holder.close()  # the holder's process dies while the waiter waits: its session ends

    waiter._sleep = sleep  # type: ignore[method-assign]
    try:
        with holder.slot() as taken, waiter.slot() as second:
            assert (taken, second) == (0, 0)
        assert len(waits) == 3, "the waiter did not wait for the slot, or did not get it once freed"
    finally:
        holder.close()
        waiter.close()
