"""entsoe_pipeline/entsoe/client.py against the simulator over real HTTP: chunking, shrinking, no-data
windows, every error path, request counts, and the token kept out of every message and log."""

from __future__ import annotations

import logging
import math
import random
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from entsoe_pipeline import catalog
from entsoe_pipeline.entsoe.client import TOKEN_ENV, EntsoeClient
from entsoe_pipeline.entsoe.errors import (
    EntsoeError,
    MalformedDocument,
    NoMatchingData,
    RateLimited,
    SpanTooLong,
    Unauthorized,
    Unavailable,
)
from entsoe_pipeline.entsoe.point_frame import COLUMNS
from entsoe_pipeline.entsoe.rate_limit import RateLimiter
from entsoe_pipeline.simulator import DEMO_TOKEN, SimulatorConfig
from entsoe_pipeline_tests.fixtures.live_dagster import RecordingSimulator
from entsoe_pipeline_tests.fixtures.simulator import FIXED_NOW

SECRET = "tok-5e3c1f9a-b7d2-distinctive"
DAY = (datetime(2025, 6, 4, tzinfo=UTC), datetime(2025, 6, 5, tzinfo=UTC))


class FakeTime:
    """A wall clock that moves only when the client sleeps: shared with the simulator, a ban of
    minutes passes instantly."""

    def __init__(self, *, advance: bool = True) -> None:
        self.now = time.time()
        self.advance = advance
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds


def _client(url: str, token: str = SECRET, **options) -> EntsoeClient:
    """A client with its own (generous) bucket, so tests neither share nor wait for one."""
    options.setdefault("limiter", RateLimiter(60_000, burst=1_000))
    options.setdefault("sleep", FakeTime().sleep)
    options.setdefault("rng", random.Random(7))
    return EntsoeClient(token, url, **options)


def _days(first: datetime, count: int) -> tuple[datetime, datetime]:
    return first, first + timedelta(days=count)


# --- data -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("area", "points", "resolution"), [("DE_LU", 96, "PT15M"), ("FR", 24, "PT60M")])
def test_one_day_of_actual_load_comes_in_one_request(make_simulator, area, points, resolution):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    with _client(sim.url) as client:
        result = client.fetch("actual_load", area, *DAY)
    assert len(result.points) == points
    assert set(result.points["resolution"]) == {resolution}
    assert list(result.points.columns) == list(COLUMNS)
    assert result.points["time"].min() == DAY[0] and result.points["time"].max() < DAY[1]
    assert result.requests == sim.request_count == sim.count("actual_load", area) == 1
    assert result.windows == (DAY,)
    assert result.empty_windows == ()
    assert (result.problems, result.duplicates) == ((), 0)
    assert result.points["document_created"].notna().all()  # the simulator's createdDateTime


def test_the_session_simulator_runs_on_the_real_clock(simulator):
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with _client(simulator.url, token=DEMO_TOKEN) as client:
        # Two days back: yesterday's last quarter hour is only published from 01:00 UTC today.
        earlier = client.fetch("actual_load", "DE_LU", today - timedelta(days=2), today - timedelta(days=1))
        next_week = client.fetch("actual_load", "DE_LU", today + timedelta(days=7), today + timedelta(days=8))
    assert len(earlier.points) == 96
    assert next_week.points.empty and next_week.empty_windows == next_week.windows


def test_refetching_a_window_gives_identical_values(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    with _client(sim.url) as client:
        first = client.fetch("actual_generation", "NL", *DAY).points
        second = client.fetch("actual_generation", "NL", *DAY).points
    assert first[["time", "psr_type", "variant", "value"]].equals(
        second[["time", "psr_type", "variant", "value"]]
    )


def test_answers_wider_than_the_window_are_clipped_and_deduplicated(make_simulator):
    # Prices come as whole Berlin days, so each one-day chunk also returns its neighbours' hours.
    sim = make_simulator(now=FIXED_NOW, token=SECRET, span_limits={"day_ahead_prices": timedelta(days=1)})
    window = _days(datetime(2025, 11, 3, tzinfo=UTC), 3)
    with _client(sim.url) as client:
        result = client.fetch("day_ahead_prices", "DE_LU", *window)
    points = result.points
    assert len(points) == 3 * 96 * 2  # two sequences
    assert not points.duplicated(["variant", "time"]).any()
    assert points["time"].min() == window[0] and points["time"].max() == window[1] - timedelta(minutes=15)
    assert result.requests == 1 + 3  # the refused 3-day window, then one request per day


def test_a_window_longer_than_the_span_is_split_into_the_fewest_requests(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    window = _days(datetime(2025, 1, 1, tzinfo=UTC), 60)
    with _client(sim.url) as client:
        result = client.fetch("actual_load", "FR", *window)
    assert result.requests == sim.request_count == 3  # 28 + 28 + 4 days
    assert [e - s for s, e in result.windows] == [timedelta(days=28), timedelta(days=28), timedelta(days=4)]
    assert len(result.points) == 60 * 24
    periods = [(r["periodStart"], r["periodEnd"]) for r in sim.requests]
    assert periods[0] == ("202501010000", "202501290000")


def test_two_years_of_every_endpoint_take_exactly_the_minimum_number_of_requests(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=730)
    expected = {
        name: math.ceil(730 / (ep.max_span / timedelta(days=1))) for name, ep in catalog.ENDPOINTS.items()
    }
    made = {}
    with _client(sim.url) as client:
        for name in catalog.ENDPOINTS:
            result = client.fetch(name, "FR", start, end)
            made[name] = result.requests
            assert result.empty_windows == (), name
            assert len(result.points) > 0, name
    assert made == expected
    assert sum(made.values()) == sim.request_count == 5 * 27 + 4 * 2


# --- span limits --------------------------------------------------------------------------------------


def test_a_refused_span_is_shrunk_to_the_quoted_limit_and_remembered(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, span_limits={"actual_load": timedelta(days=7)})
    with _client(sim.url) as client:
        first = client.fetch("actual_load", "DE_LU", *_days(datetime(2025, 3, 1, tzinfo=UTC), 28))
        assert first.requests == 1 + 4  # refused 28 days ('P7D'), then four weeks
        assert len(first.points) == 28 * 96
        assert client.max_span("actual_load") == timedelta(days=7)
        second = client.fetch("actual_load", "DE_LU", *_days(datetime(2025, 5, 1, tzinfo=UTC), 28))
        assert second.requests == 4
        assert client.max_span("actual_generation") == catalog.endpoint("actual_generation").max_span
    assert sim.request_count == 9


def test_a_span_that_cannot_shrink_further_raises(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, span_limits={"actual_load": timedelta(minutes=30)})
    with _client(sim.url) as client, pytest.raises(SpanTooLong, match="actual_load for FR"):
        client.fetch("actual_load", "FR", *DAY)


# --- no data ----------------------------------------------------------------------------------------


def test_a_window_without_published_data_is_an_empty_window_not_an_error(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, no_data=(DAY,))
    with _client(sim.url) as client:
        result = client.fetch("actual_load", "DE_LU", *DAY)
    assert result.points.empty and list(result.points.columns) == list(COLUMNS)
    assert result.empty_windows == result.windows == (DAY,)
    assert result.requests == 1


def test_only_the_chunks_without_data_are_empty(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, span_limits={"actual_load": timedelta(days=1)})
    window = (FIXED_NOW.replace(hour=0) - timedelta(days=1), FIXED_NOW.replace(hour=0) + timedelta(days=2))
    with _client(sim.url) as client:
        result = client.fetch("actual_load", "DE_LU", *window)
    tomorrow = (window[0] + timedelta(days=2), window[1])
    assert result.empty_windows == (tomorrow,)
    assert result.points["time"].max() == FIXED_NOW - timedelta(hours=1, minutes=15)


def test_fetch_document_raises_no_matching_data(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    future = _days(FIXED_NOW.replace(hour=0) + timedelta(days=30), 1)
    with _client(sim.url) as client:
        with pytest.raises(NoMatchingData, match="actual_load for FR"):
            client.fetch_document("actual_load", "FR", *future)
        assert client.fetch_document("actual_load", "FR", *DAY).startswith(b"<?xml")


# --- errors -----------------------------------------------------------------------------------------


def test_a_wrong_token_raises_unauthorized_without_retrying(make_simulator):
    sim = make_simulator(now=FIXED_NOW)
    with _client(sim.url) as client, pytest.raises(Unauthorized) as caught:
        client.fetch("actual_load", "DE_LU", *DAY)
    assert sim.request_count == 1
    message = str(caught.value)
    assert "transparency@entsoe.eu" in message and "Restful API access" in message
    assert TOKEN_ENV in message and "actual_load for DE_LU" in message


def test_an_empty_token_is_refused_before_any_request():
    with pytest.raises(Unauthorized, match=TOKEN_ENV):
        EntsoeClient("  ", "http://127.0.0.1:9/api")


def test_a_rate_limit_ban_is_waited_out_then_the_fetch_succeeds(make_simulator, caplog):
    clock = FakeTime()
    sim = make_simulator(
        now=FIXED_NOW, token=SECRET, max_requests_per_minute=3, ban_seconds=30, clock=clock.time
    )
    caplog.set_level(logging.WARNING, logger="entsoe_pipeline.entsoe.client")
    with _client(sim.url, sleep=clock.sleep, clock=clock.time) as client:
        results = [
            client.fetch("actual_load", "FR", *_days(datetime(2025, 6, d, tzinfo=UTC), 1))
            for d in (1, 2, 3, 4)
        ]
    assert [len(r.points) for r in results] == [24] * 4
    assert [r.requests for r in results] == [1, 1, 1, 2]
    assert sim.request_count == 5
    (wait,) = clock.sleeps
    assert 30 <= wait <= 31  # until the ban ends, plus at most backoff_base of jitter
    assert any("rate limited" in r.getMessage() for r in caplog.records)


def test_a_ban_that_outlasts_the_retries_raises_rate_limited(make_simulator):
    clock = FakeTime(advance=False)
    sim = make_simulator(
        now=FIXED_NOW, token=SECRET, max_requests_per_minute=1, ban_seconds=600, clock=clock.time
    )
    with _client(sim.url, sleep=clock.sleep, clock=clock.time, max_retries=2) as client:
        client.fetch("actual_load", "FR", *DAY)
        with pytest.raises(RateLimited, match="gave up after 3 attempts") as caught:
            client.fetch("actual_load", "FR", *DAY)
    assert caught.value.retry_after == pytest.approx(600, abs=1)
    assert sim.request_count == 4


def test_platform_errors_are_retried_until_an_answer_arrives(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, error_rate=0.5, seed=3)
    sleeper = FakeTime()
    with _client(sim.url, sleep=sleeper.sleep, max_retries=20, backoff_base=0.5, backoff_max=4) as client:
        results = [
            client.fetch("actual_load", "NL", *_days(datetime(2025, 6, d, tzinfo=UTC), 1))
            for d in range(1, 9)
        ]
    assert all(len(r.points) == 96 for r in results)
    made = sum(r.requests for r in results)
    assert made == sim.request_count > 8  # some 503s happened and were retried
    assert len(sleeper.sleeps) == made - 8
    assert all(0 <= s <= 4 for s in sleeper.sleeps)


def test_faults_can_be_switched_on_while_the_server_runs(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    with _client(sim.url, max_retries=1) as client:
        client.fetch("actual_load", "NL", *DAY)
        sim.set_faults(error_rate=1.0)
        with pytest.raises(Unavailable):
            client.fetch("actual_load", "NL", *DAY)
        sim.config.error_rate = 0.0
        assert len(client.fetch("actual_load", "NL", *DAY).points) == 96


def test_persistent_platform_errors_raise_unavailable_after_the_retries(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, error_rate=1.0)
    with _client(sim.url, max_retries=3) as client, pytest.raises(Unavailable) as caught:
        client.fetch("actual_load", "FR", *DAY)
    assert sim.request_count == 4
    assert "actual_load for FR" in str(caught.value) and "HTTP 503" in str(caught.value)
    assert "gave up after 4 attempts" in str(caught.value)


def test_a_404_outage_is_retried_then_unavailable(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    with (
        _client(sim.url.replace("/api", "/gone"), max_retries=2) as client,
        pytest.raises(Unavailable, match="HTTP 404"),
    ):
        client.fetch("actual_load", "FR", *DAY)
    assert sim.request_count == 3


def test_a_timeout_is_retried_then_unavailable(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, latency_seconds=0.5)
    with (
        _client(sim.url, max_retries=1, read_timeout=0.1) as client,
        pytest.raises(Unavailable, match="no answer in time"),
    ):
        client.fetch("actual_load", "FR", *DAY)
    assert sim.request_count == 2


def test_a_truncated_body_raises_malformed_document_naming_the_request(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, truncate_rate=1.0)
    with _client(sim.url) as client, pytest.raises(MalformedDocument) as caught:
        client.fetch("actual_load", "DE_LU", *DAY)
    message = str(caught.value)
    assert "actual_load for DE_LU" in message and "periodStart=202506040000" in message
    assert SECRET not in message
    assert sim.request_count == 1


def test_a_body_that_is_not_xml_raises_malformed_document(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, malformed_rate=1.0)
    with _client(sim.url) as client, pytest.raises(MalformedDocument, match="actual_load for FR"):
        client.fetch("actual_load", "FR", *DAY)


def test_naive_or_empty_windows_are_refused_before_any_request(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    with _client(sim.url) as client:
        with pytest.raises(ValueError, match="no time zone"):
            client.fetch("actual_load", "FR", datetime(2025, 6, 4), datetime(2025, 6, 5))  # noqa: DTZ001
        with pytest.raises(ValueError, match="not after start"):
            client.fetch("actual_load", "FR", DAY[1], DAY[0])
        with pytest.raises(KeyError, match="unknown area"):
            client.fetch("actual_load", "Atlantis", *DAY)
    assert sim.request_count == 0


# --- the token stays secret -------------------------------------------------------------------------


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _scenario(name: str, make_simulator):
    """(client options, url, expected error) for one failure path, with the token SECRET."""
    clock = FakeTime(advance=False)
    if name == "wrong token":
        return make_simulator(now=FIXED_NOW).url, {}, Unauthorized
    if name == "connection refused":
        sim = make_simulator(now=FIXED_NOW, token=SECRET)
        sim.stop()
        return sim.url, {"max_retries": 1}, Unavailable
    config = {
        "platform error": {"error_rate": 1.0},
        "timeout": {"latency_seconds": 0.3},
        "truncated": {"truncate_rate": 1.0},
        "not xml": {"malformed_rate": 1.0},
        "span": {"span_limits": {"actual_load": timedelta(minutes=30)}},
        "ban": {"max_requests_per_minute": 1},
        "outage 404": {},
    }[name]
    sim = make_simulator(now=FIXED_NOW, token=SECRET, clock=clock.time, **config)
    url = sim.url.replace("/api", "/gone") if name == "outage 404" else sim.url
    options = {"max_retries": 1, "read_timeout": 0.1, "clock": clock.time, "sleep": clock.sleep}
    expected = {
        "platform error": Unavailable,
        "timeout": Unavailable,
        "truncated": MalformedDocument,
        "not xml": MalformedDocument,
        "span": SpanTooLong,
        "ban": RateLimited,
        "outage 404": Unavailable,
    }[name]
    return url, options, expected


@pytest.mark.parametrize(
    "name",
    [
        "wrong token",
        "connection refused",
        "platform error",
        "timeout",
        "truncated",
        "not xml",
        "span",
        "ban",
        "outage 404",
    ],
)
def test_the_token_never_appears_in_errors_or_logs(make_simulator, caplog, name):
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line at DEBUG
    url, options, expected = _scenario(name, make_simulator)
    with _client(url, **options) as client:
        assert SECRET not in repr(client)
        if name == "ban":
            client.fetch("actual_load", "FR", *DAY)  # uses up the one request per minute
        with pytest.raises(EntsoeError) as caught:
            client.fetch("actual_load", "FR", *DAY)
    assert isinstance(caught.value, expected)
    for exc in _chain(caught.value):
        assert SECRET not in str(exc) and SECRET not in repr(exc)
        assert SECRET not in " ".join(map(str, exc.args))
    assert "actual_load for FR" in str(caught.value)
    assert caplog.records, "the client should have logged its requests"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in caplog.text


def test_a_fetch_of_many_chunks_has_its_requests_in_flight_together_and_reads_as_one_at_a_time():
    sim = RecordingSimulator(SimulatorConfig(now=FIXED_NOW, token=SECRET, latency_seconds=0.2))
    window = _days(datetime(2025, 1, 1, tzinfo=UTC), 112)  # 4 requests of 28 days
    try:
        with _client(sim.url) as client:
            one_at_a_time = client.fetch("actual_load", "FR", *window)
        assert sim.max_in_flight == 1
        with _client(sim.url, parallel_requests=2) as client:
            together = client.fetch("actual_load", "FR", *window)
            assert client.requests_made == 4
        assert sim.max_in_flight == 2
    finally:
        sim.stop()
    assert together.requests == one_at_a_time.requests == 4
    assert together.windows == one_at_a_time.windows
    pd.testing.assert_frame_equal(together.points, one_at_a_time.points)


def test_a_refused_request_among_several_in_flight_fails_the_fetch_as_it_would_alone(make_simulator):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    with (
        _client(sim.url, token="tok-not-the-one", parallel_requests=2) as client,
        pytest.raises(Unauthorized),
    ):
        client.fetch("actual_load", "FR", *_days(datetime(2025, 1, 1, tzinfo=UTC), 112))
    assert sim.request_count <= 2, "requests went on after the first refusal"
