"""The simulator's HTTP server: GET /api like the platform, with its token check, rate-limit ban and
injectable faults (503s and bursts of 500/503, latency, truncated or non-XML bodies, connections
reset mid-body, redirects, Acknowledgements instead of data, a revoked token), in a background
thread; and, for tests, the record of what it publishes (``published``, ``revisions``)."""

from __future__ import annotations

import hashlib
import logging
import random
import re
import socket
import struct
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

import pandas as pd

from entsoe_pipeline import catalog

from . import truth
from .api import ACK, Answer, answer
from .config import FAULTS, SimulatorConfig, validate_count, validate_rate
from .documents import acknowledgement

logger = logging.getLogger(__name__)

API_PATH = "/api"
# Bodies as the platform sends them (entsoe-api.md §1.2, §1.5, §1.6).
UNAUTHORIZED = b"<html><body>Unauthorized. Missing or invalid security token</body></html>"
MAINTENANCE = (
    b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    b"<h1>Service Temporarily Unavailable</h1>"
    b"<p>Scheduled maintenance is currently underway</p></body></html>"
)
INTERNAL_ERROR = (
    b"<html><head><title>500 Internal Server Error</title></head><body>Internal Server Error</body></html>"
)
NOT_FOUND = b"404 page not found"
NOT_XML = b"upstream connect error or disconnect/reset before headers. reset reason: overflow"
_REQUEST_LOG_LIMIT = 10_000
_TOKEN = re.compile(r"(securityToken=)[^&\s]*")
# The pause between half a body and the reset, so the client is reading the body when it breaks.
_RESET_PAUSE_SECONDS = 0.05


class Reply(NamedTuple):
    status: int
    content_type: str
    body: bytes
    #: Location header of a redirect.
    location: str = ""
    #: Send the headers and half the body, then reset the connection.
    reset: bool = False


def _overlaps(params: dict[str, str], windows: tuple[tuple[datetime, datetime], ...]) -> bool:
    """Whether the request's periodStart/periodEnd overlap one of ``windows``."""
    if not windows:
        return False
    start, end = (
        datetime.strptime(params[name], "%Y%m%d%H%M").replace(tzinfo=UTC)
        for name in ("periodStart", "periodEnd")
    )
    return any(start < b and end > a for a, b in windows)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: SimulatorServer) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up before the answer is written (a timeout, a size limit) is no error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        # A connection set to linger 0 is being reset: close it at once, without shutdown's FIN.
        linger_on, _ = struct.unpack("ii", request.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
        if linger_on:
            self.close_request(request)
        else:
            super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients' sessions reuse connections
    server_version = "entsoe-simulator"
    timeout = 60  # close idle keep-alive connections

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        assert isinstance(self.server, _HttpServer)
        reply = self.server.simulator.handle(url.path, params)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        if reply.location:
            self.send_header("Location", reply.location)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if not reply.reset:
            self.wfile.write(reply.body)
            return
        self.wfile.write(reply.body[: len(reply.body) // 2])
        time.sleep(_RESET_PAUSE_SECONDS)
        # Linger 0: closing sends a TCP RST, as a dropped connection of the platform does.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def do_POST(self) -> None:
        body = b"The simulator answers GET requests only"
        self.send_response(405)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), _TOKEN.sub(r"\1<redacted>", format % args))


class SimulatorServer:
    """A local ENTSO-E API on ``url`` (``http://127.0.0.1:PORT/api``), running until ``stop``.

    ``config`` is read on every request, so tests may change faults while it runs (or call
    ``set_faults``). ``clock`` (epoch seconds) drives the rate limit and ban; tests can share a fake
    clock with the client's sleep so a ban passes without waiting.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or SimulatorConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._recent: dict[str, deque[float]] = {}
        self._banned_until: dict[str, float] = {}
        self._log: deque[dict[str, str]] = deque(maxlen=_REQUEST_LOG_LIMIT)
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self.request_count = 0
        self._httpd = _HttpServer((host, port), self)
        self.host = host
        self.port = int(self._httpd.server_address[1])
        url_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.url = f"http://{url_host}:{self.port}{API_PATH}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"entsoe-simulator:{self.port}",
            daemon=True,
        )
        self._thread.start()

    # -- observation for tests -------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, str]]:
        """Query parameters of the requests received (token removed), oldest first (last 10 000)."""
        with self._lock:
            return list(self._log)

    @property
    def counts(self) -> dict[tuple[str, str, str], int]:
        """Requests per (documentType, processType, area EIC)."""
        with self._lock:
            return dict(self._counts)

    def count(self, endpoint: catalog.Endpoint | str, area: catalog.Area | str) -> int:
        """Requests received for a catalogue endpoint and area."""
        ep = endpoint if isinstance(endpoint, catalog.Endpoint) else catalog.endpoint(endpoint)
        ar = area if isinstance(area, catalog.Area) else catalog.area(area)
        return self.counts.get((ep.document_type, ep.process_type or "", ar.eic), 0)

    def reset_counts(self) -> None:
        with self._lock:
            self.request_count = 0
            self._log.clear()
            self._counts.clear()

    def lift_bans(self) -> None:
        """Forget the rate-limit window and any ban (between tests sharing one server)."""
        with self._lock:
            self._recent.clear()
            self._banned_until.clear()

    def published(
        self,
        endpoint: catalog.Endpoint | str,
        area: catalog.Area | str,
        start: datetime,
        end: datetime,
        *,
        as_of: datetime | None = None,
    ) -> pd.DataFrame:
        """The points this server serves for a request of [start, end) at ``as_of`` (default: its
        clock), one row per point (see ``truth.published``)."""
        return truth.published(self.config, endpoint, area, start, end, as_of=as_of)

    def revisions(
        self,
        endpoint: catalog.Endpoint | str,
        area: catalog.Area | str,
        start: datetime,
        end: datetime,
        *,
        as_of: datetime | None = None,
    ) -> pd.DataFrame:
        """The points of [start, end) whose served value was revised at or before ``as_of``, with
        their first value and revision time (see ``truth.revisions``)."""
        return truth.revisions(self.config, endpoint, area, start, end, as_of=as_of)

    def set_faults(self, **faults: object) -> None:
        """Change faults at run time, e.g. ``set_faults(error_rate=0.5, latency_seconds=0.1)``,
        ``set_faults(error_burst=3)`` or ``set_faults(revoked=True)``."""
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(FAULTS)}")
        for name, value in faults.items():
            if name.endswith("_rate"):
                validate_rate(name, value)  # type: ignore[arg-type]
            elif name == "error_burst":
                validate_count(name, value)  # type: ignore[arg-type]
        with self._lock:
            for name, value in faults.items():
                setattr(self.config, name, value)

    # -- request handling -----------------------------------------------------------------------------

    def handle(self, path: str, params: dict[str, str]) -> Reply:
        """The answer to one GET."""
        config = self.config
        token = params.pop("securityToken", "")
        self._record(params)
        if config.redirect_to and not self._is_own(config.redirect_to, path):
            query = urlencode({**params, "securityToken": token})
            return Reply(302, "text/html", b"", location=f"{config.redirect_to}?{query}")
        if path.rstrip("/") != API_PATH:
            return Reply(404, "text/plain", NOT_FOUND)
        if config.latency_seconds > 0:
            time.sleep(config.latency_seconds)
        banned_until = self._admit(token, config)
        if banned_until is not None:
            stamp = (
                datetime.fromtimestamp(banned_until, UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z")
            )
            body = f"<html><body><p>Requester banned until '{stamp}'.</p></body></html>".encode()
            return Reply(429, "text/html", body)
        if token != config.token or config.revoked:
            return Reply(401, "text/html", UNAUTHORIZED)
        burst = self._take_burst()
        if burst is not None:
            return Reply(burst, "text/html", INTERNAL_ERROR if burst == 500 else MAINTENANCE)
        if self._draw(config.error_rate):
            return Reply(503, "text/html", MAINTENANCE)
        if config.acknowledgement_text:
            created = config.current_time()
            return Reply(200, ACK, acknowledgement(config.acknowledgement_text, created=created, mrid="ack"))
        result: Answer = answer(
            params,
            now=config.current_time(),
            no_data=config.no_data,
            span_limits=config.span_limits,
            habits=config.habits(),
        )
        if result.has_data:
            if self._draw(config.malformed_rate) or _overlaps(params, config.malformed_windows):
                return Reply(200, "text/plain", NOT_XML)
            if self._draw(config.truncate_rate):
                return Reply(200, result.content_type, result.body[: len(result.body) // 2])
            if self._draw(config.reset_rate):
                return Reply(200, result.content_type, result.body, reset=True)
        return Reply(result.status, result.content_type, result.body)

    def _is_own(self, url: str, path: str) -> bool:
        """Whether ``url`` is this server at ``path`` (a redirect's target is not redirected again)."""
        target, own = urlsplit(url), urlsplit(self.url)
        return (target.hostname, target.port, target.path) == (own.hostname, own.port, path)

    def _take_burst(self) -> int | None:
        """The status of the next answer of an error burst (500 and 503 alternately), if one is on."""
        with self._lock:
            left = self.config.error_burst
            if left <= 0:
                return None
            self.config.error_burst = left - 1
            return 500 if left % 2 else 503

    def _record(self, params: dict[str, str]) -> None:
        area = next(
            (params[p] for p in ("outBiddingZone_Domain", "in_Domain", "out_Domain") if params.get(p)), ""
        )
        with self._lock:
            self.request_count += 1
            self._log.append(dict(params))
            self._counts[(params.get("documentType", ""), params.get("processType", ""), area)] += 1

    def _admit(self, token: str, config: SimulatorConfig) -> float | None:
        """None if the request may proceed, else the end of the requester's ban (epoch seconds).

        The platform counts requests per token over a minute and bans for about ten minutes beyond
        its limit (entsoe-api.md §1.5); the count starts afresh after a ban.
        """
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            until = self._banned_until.get(key)
            if until is not None:
                if now < until:
                    return until
                del self._banned_until[key]
            recent = self._recent.setdefault(key, deque())
            while recent and recent[0] <= now - 60:
                recent.popleft()
            recent.append(now)
            if len(recent) > config.max_requests_per_minute:
                recent.clear()
                self._banned_until[key] = until = now + config.ban_seconds
                return until
            return None

    def _draw(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    # -- life cycle ----------------------------------------------------------------------------------------

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SimulatorServer(url={self.url!r}, requests={self.request_count})"
