"""entsoe_pipeline/entsoe/client.py against faults over real HTTP: what is transient is retried until
the fetch succeeds, what is not fails at once with a typed error naming endpoint, area, window and
cause, and the token is in no error, log record or repr. test_client.py has the simpler faults (a
ban waited out, 503s, a read timeout given up on, truncated bodies, a wrong token)."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from entsoe_pipeline.entsoe.client import REDACTED, EntsoeClient
from entsoe_pipeline.entsoe.errors import (
    BodyTooLarge,
    InvalidRequest,
    NoMatchingData,
    RedirectRefused,
    SpanTooLong,
    Unauthorized,
)
from entsoe_pipeline.entsoe.rate_limit import RateLimiter
from entsoe_pipeline.simulator import SimulatorConfig, SimulatorServer
from entsoe_pipeline_tests.fixtures.ports import free_port
from entsoe_pipeline_tests.fixtures.simulator import FIXED_NOW

SECRET = "tok-c4f81b2e-faults-distinctive"
DAY = (datetime(2025, 6, 4, tzinfo=UTC), datetime(2025, 6, 5, tzinfo=UTC))
WINDOW_TEXT = "2025-06-04T00:00Z to 2025-06-05T00:00Z"


class Clock:
    """Wall clock and sleep for client (and simulator): time moves only when the client sleeps, and
    ``on_sleep`` runs then, so a test can let the platform recover while the client waits."""

    def __init__(self, on_sleep: Callable[[], object] | None = None) -> None:
        self.now = float(int(time.time()))  # whole seconds, as a ban's end time is written
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


def _client(url: str, clock: Clock | None = None, **options) -> EntsoeClient:
    clock = clock or Clock()
    options.setdefault("limiter", RateLimiter(60_000, burst=1_000))
    options.setdefault("rng", random.Random(5))
    return EntsoeClient(SECRET, url, sleep=clock.sleep, clock=clock.time, **options)


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line, query string included


def _assert_secret_kept(caplog: pytest.LogCaptureFixture, *objects: object) -> None:
    """The token is in no log record and in no text or repr of ``objects`` (errors with their
    causes and contexts, clients)."""
    assert caplog.records
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in caplog.text
    seen: list[object] = []
    pending = list(objects)
    while pending:
        item = pending.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        assert SECRET not in str(item) and SECRET not in repr(item)
        if isinstance(item, BaseException):
            assert all(SECRET not in str(arg) for arg in item.args)
            pending += [item.__cause__, item.__context__]


def _assert_names_request(message: str, cause: str, window: str = WINDOW_TEXT) -> None:
    assert "actual_load for FR" in message
    assert window in message
    assert cause in message


def _warnings(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


# --- a second tiny HTTP server ------------------------------------------------------------------------


class TinyServer:
    """An HTTP server of the test's own: records each request (request line and headers) and answers
    with ``reply(handler)``."""

    def __init__(self, reply: Callable[[BaseHTTPRequestHandler], None], host: str) -> None:
        self.received: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.received.append(f"{self.requestline}\n{self.headers}")
                reply(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_address[1]}/api"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()


@pytest.fixture
def tiny_server() -> Iterator[Callable[..., TinyServer]]:
    servers: list[TinyServer] = []

    def start(reply: Callable[[BaseHTTPRequestHandler], None], host: str = "127.0.0.1") -> TinyServer:
        servers.append(TinyServer(reply, host))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    for name, value in {"Content-Type": "text/xml", **headers}.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _document(make_simulator) -> bytes:
    """A real answer of the simulator, for servers of the test's own to replay."""
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    with _client(sim.url) as client:
        return client.fetch_document("actual_load", "FR", *DAY)


# --- transient: retried, then the fetch succeeds ------------------------------------------------------


def test_a_connection_reset_mid_body_is_retried_and_the_fetch_succeeds(make_simulator, caplog):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, reset_rate=1.0)
    clock = Clock(on_sleep=lambda: sim.set_faults(reset_rate=0.0))
    with _client(sim.url, clock) as client:
        result = client.fetch("actual_load", "DE_LU", *DAY)
    assert len(result.points) == 96
    assert result.requests == sim.request_count == 2 and len(clock.sleeps) == 1
    warnings = _warnings(caplog)
    assert "connection broken after" in warnings and "reset" in warnings.lower()
    _assert_secret_kept(caplog, client)


def test_a_burst_of_500_and_503_is_ridden_out(make_simulator, caplog):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, error_burst=4)
    clock = Clock()
    with _client(sim.url, clock, max_retries=5, backoff_base=0.5, backoff_max=4) as client:
        result = client.fetch("actual_load", "FR", *DAY)
    assert len(result.points) == 24
    assert result.requests == sim.request_count == 5 and len(clock.sleeps) == 4
    assert all(0 <= s <= 4 for s in clock.sleeps)
    warnings = _warnings(caplog)
    assert "HTTP 500" in warnings and "HTTP 503" in warnings
    assert sim.config.error_burst == 0  # recovered: the next request is answered normally
    _assert_secret_kept(caplog, client)


@pytest.mark.parametrize("told", ["Retry-After header", "ban body"])
def test_a_429_is_waited_out_for_as_long_as_it_says(make_simulator, tiny_server, caplog, told):
    document = _document(make_simulator)
    clock = Clock()
    banned_until = datetime.fromtimestamp(clock.now + 42, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    ban = f"<html><body><p>Requester banned until '{banned_until}'.</p></body></html>".encode()
    refusal = (
        (429, b"<html><body>Too Many Requests</body></html>", {"Retry-After": "7"})
        if told == "Retry-After header"
        else (429, ban, {})
    )
    answers = iter([refusal, (200, document, {})])

    def reply(handler: BaseHTTPRequestHandler) -> None:
        status, body, headers = next(answers)
        _send(handler, status, body, **headers)

    server = tiny_server(reply)
    with _client(server.url, clock) as client:
        result = client.fetch("actual_load", "FR", *DAY)
    assert len(result.points) == 24 and result.requests == len(server.received) == 2
    (wait,) = clock.sleeps
    expected = 7 if told == "Retry-After header" else 42
    assert expected <= wait <= expected + 1  # plus at most backoff_base of jitter
    assert "rate limited (HTTP 429" in _warnings(caplog)
    _assert_secret_kept(caplog, client)


class _Unreachable:
    """A port that refuses connections, or (``hang``) one whose listen queue is full, so that
    connecting times out; ``recover`` starts the simulator there."""

    def __init__(self, hang: bool) -> None:
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self.simulator: SimulatorServer | None = None
        if hang:
            listener = socket.socket()
            listener.bind(("127.0.0.1", self.port))
            listener.listen(0)
            self._sockets.append(listener)
            for _ in range(4):  # never accepted: they fill the queue, later connects wait
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", self.port))
                self._sockets.append(filler)
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def recover(self) -> None:
        if self.simulator is None:
            self.close_sockets()
            self.simulator = SimulatorServer(SimulatorConfig(now=FIXED_NOW, token=SECRET), port=self.port)

    def close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()


@pytest.mark.parametrize(
    ("hang", "problem"),
    [(False, "connection failed (ConnectionError"), (True, "no answer in time (ConnectTimeout)")],
    ids=["refused", "connect timeout"],
)
def test_a_platform_out_of_reach_is_retried_until_it_answers(caplog, hang, problem):
    port = _Unreachable(hang)
    clock = Clock(on_sleep=port.recover)
    try:
        with _client(port.url, clock, connect_timeout=0.3) as client:
            result = client.fetch("actual_load", "FR", *DAY)
    finally:
        port.close_sockets()
        if port.simulator is not None:
            port.simulator.stop()
    assert len(result.points) == 24
    assert result.requests == 2 and len(clock.sleeps) == 1
    assert problem in _warnings(caplog)
    _assert_secret_kept(caplog, client)


def test_a_read_timeout_is_retried_until_answers_come_in_time(make_simulator, caplog):
    sim = make_simulator(now=FIXED_NOW, token=SECRET, latency_seconds=0.5)
    clock = Clock(on_sleep=lambda: sim.set_faults(latency_seconds=0))
    with _client(sim.url, clock, read_timeout=0.2) as client:
        result = client.fetch("actual_load", "FR", *DAY)
    assert len(result.points) == 24 and result.requests == 2
    assert "no answer in time (ReadTimeout)" in _warnings(caplog)
    _assert_secret_kept(caplog, client)


# --- not transient: fails at once, with a typed error that says what to do ----------------------------


def test_a_token_revoked_mid_run_fails_after_one_request_without_retry(make_simulator, caplog):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    clock = Clock()
    with _client(sim.url, clock) as client:
        client.fetch("actual_load", "FR", DAY[0].replace(day=3), DAY[0])
        sim.set_faults(revoked=True)
        with pytest.raises(Unauthorized) as caught:
            client.fetch("actual_load", "FR", *DAY)
    assert sim.request_count == 2 and clock.sleeps == []
    message = str(caught.value)
    _assert_names_request(message, "refused the security token (HTTP 401")
    assert "ENTSOE_API_TOKEN" in message  # what to do
    _assert_secret_kept(caplog, caught.value, client)


def test_a_span_limit_that_cannot_shrink_fails_without_retry(make_simulator, caplog):
    # An hour is the shortest window the client asks for; the simulator refuses it.
    sim = make_simulator(now=FIXED_NOW, token=SECRET, span_limits={"actual_load": timedelta(minutes=30)})
    clock = Clock()
    hour = (DAY[0], DAY[0] + timedelta(hours=1))
    with _client(sim.url, clock) as client, pytest.raises(SpanTooLong) as caught:
        client.fetch("actual_load", "FR", *hour)
    assert sim.request_count == 1 and clock.sleeps == []
    window = "2025-06-04T00:00Z to 2025-06-04T01:00Z"
    _assert_names_request(str(caught.value), "larger than maximum allowed period", window)
    _assert_secret_kept(caplog, caught.value, client)


def test_an_acknowledgement_with_an_unknown_reason_fails_without_retry(make_simulator, caplog):
    text = "Export service failed (internal reference 4711)"
    sim = make_simulator(now=FIXED_NOW, token=SECRET, acknowledgement_text=text)
    clock = Clock()
    with _client(sim.url, clock) as client, pytest.raises(InvalidRequest) as caught:
        client.fetch("actual_load", "FR", *DAY)
    assert not isinstance(caught.value, NoMatchingData | SpanTooLong)
    assert (caught.value.reason_code, caught.value.reason_text) == ("999", text)
    assert sim.request_count == 1 and clock.sleeps == []
    _assert_names_request(str(caught.value), text)
    _assert_secret_kept(caplog, caught.value, client)


def test_a_redirect_to_another_host_is_refused_and_that_host_never_sees_the_token(
    make_simulator, tiny_server, caplog
):
    other = tiny_server(lambda handler: _send(handler, 200, b"stolen"), host="127.0.0.2")
    sim = make_simulator(now=FIXED_NOW, token=SECRET, redirect_to=other.url)
    clock = Clock()
    with _client(sim.url, clock) as client, pytest.raises(RedirectRefused) as caught:
        client.fetch("actual_load", "FR", *DAY)
    assert other.received == []
    assert sim.request_count == 1 and clock.sleeps == []
    message = str(caught.value)
    # The Location echoes the query, token included, as servers rewriting their address do.
    _assert_names_request(message, f"HTTP 302 redirecting to {other.url}?")
    assert f"securityToken={REDACTED}" in message and "ENTSOE_API_URL" in message
    _assert_secret_kept(caplog, caught.value, client)


def test_a_redirect_within_the_host_is_followed(make_simulator, caplog):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    sim.set_faults(redirect_to=sim.url + "/")
    with _client(sim.url) as client:
        result = client.fetch("actual_load", "FR", *DAY)
    assert len(result.points) == 24 and result.requests == sim.request_count == 2
    assert sim.requests[0] == sim.requests[1]  # the parameters were sent again (the token is checked)
    _assert_secret_kept(caplog, client)


def test_a_body_announced_larger_than_the_limit_is_refused_unread(make_simulator, caplog):
    sim = make_simulator(now=FIXED_NOW, token=SECRET)
    clock = Clock()
    with _client(sim.url, clock, max_document_bytes=2_000) as client, pytest.raises(BodyTooLarge) as caught:
        client.fetch("actual_load", "FR", *DAY)
    assert sim.request_count == 1 and clock.sleeps == []
    _assert_names_request(str(caught.value), "more than the limit of 2000 bytes")
    assert "(Content-Length)" in str(caught.value)
    _assert_secret_kept(caplog, caught.value, client)


def test_an_oversize_body_is_refused_while_it_streams(tiny_server, caplog):
    limit, pieces, pause = 20_000, 10, 0.25
    written: list[int] = []

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        # No Content-Length: ten times the limit, chunk by chunk, slowly.
        handler.send_response(200)
        handler.send_header("Content-Type", "text/xml")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        piece = b"<" + b"x" * (limit - 1)
        handler.close_connection = True
        try:
            for _ in range(pieces):
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                written.append(len(piece))
                time.sleep(pause)
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    server = tiny_server(trickle)
    clock = Clock()
    started = time.monotonic()
    with (
        _client(server.url, clock, max_document_bytes=limit) as client,
        pytest.raises(BodyTooLarge) as caught,
    ):
        client.fetch("actual_load", "FR", *DAY)
    elapsed = time.monotonic() - started
    assert elapsed < pieces * pause / 2, "the client should stop long before the server is done"
    assert len(written) < pieces
    read = int(str(caught.value).rsplit("stopped reading after ", 1)[1].split()[0])
    assert limit < read <= 2 * limit
    assert len(server.received) == 1 and clock.sleeps == []
    _assert_names_request(str(caught.value), f"larger than the limit of {limit} bytes")
    _assert_secret_kept(caplog, caught.value, client)


def test_the_new_faults_are_off_by_default_and_validated(make_simulator):
    config = SimulatorConfig()
    assert (config.reset_rate, config.error_burst, config.redirect_to) == (0.0, 0, "")
    assert (config.acknowledgement_text, config.revoked) == ("", False)
    sim = make_simulator(now=FIXED_NOW)
    with pytest.raises(ValueError, match="reset_rate must be between 0 and 1"):
        sim.set_faults(reset_rate=1.5)
    with pytest.raises(ValueError, match="error_burst must be a whole number"):
        sim.set_faults(error_burst=-1)
    with pytest.raises(ValueError, match="error_burst must be a whole number"):
        SimulatorConfig(error_burst=2.5)  # type: ignore[arg-type]
