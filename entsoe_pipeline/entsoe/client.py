"""HTTP client of the ENTSO-E Transparency Platform REST API.

``EntsoeClient.fetch`` turns (endpoint, area, window) into parsed points: it splits the window into
the fewest requests the endpoint's span limit allows, shrinks the span when the API says a window is
too long, treats "no matching data" as an empty chunk, waits out rate-limit bans and retries
platform outages with backoff. The token is a URL parameter of every request (the documented form),
so every URL this module logs or puts into an error is redacted first (entsoe-api.md §1.2).

Retries are a loop here rather than urllib3's ``Retry`` because a 429 says how long to wait only in
its HTML body ("Requester banned until '...'", entsoe-api.md §1.5) and an Acknowledgement must be
classified by its body whatever the status (§1.6).

Because the token travels in the URL, the client refuses a base URL that would carry it unencrypted
off this machine, and follows redirects itself, to the same scheme and host only. Bodies are
streamed and refused as soon as they pass ``max_document_bytes``, so an endless or huge answer
costs at most that much memory.
"""

from __future__ import annotations

import email.utils
import ipaddress
import itertools
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import NoReturn
from urllib.parse import SplitResult, quote, urlencode, urljoin, urlsplit, urlunsplit

import pandas as pd
import requests
import urllib3

from entsoe_pipeline import catalog
from entsoe_pipeline.catalog import Area, Endpoint
from entsoe_pipeline.demo import DEMO_TOKEN

from .chunking import shrink_span, split_window
from .errors import (
    ApiError,
    BodyTooLarge,
    EntsoeError,
    InsecureTransport,
    InvalidRequest,
    NoMatchingData,
    RateLimited,
    RedirectRefused,
    SpanTooLong,
    Unauthorized,
    Unavailable,
)
from .parser import parse_document
from .point_frame import empty_frame
from .problems import DocumentProblem, points_dropped
from .rate_limit import Limiter, shared_limiter
from .xml_safety import MAX_DOCUMENT_BYTES

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://web-api.tp.entsoe.eu/api"
TOKEN_ENV = "ENTSOE_API_TOKEN"
TOKEN_HELP = (
    "To get a token: register on transparency.entsoe.eu, e-mail transparency@entsoe.eu with the "
    'subject "Restful API access", then generate it under My Account Settings. The pipeline reads '
    f"it from the environment variable {TOKEN_ENV}."
)
REDACTED = "<redacted>"

# Points of a chunk are kept once per series and time; a later chunk's value wins.
DEDUP_KEY = ["business_type", "psr_type", "variant", "time"]

_TOKEN_PARAM = re.compile(r"(securityToken=)[^&\s'\"<>]*", re.IGNORECASE)
_BANNED_UNTIL = re.compile(r"banned until '([^']+)'", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_ACK_ROOT = b"Acknowledgement_MarketDocument"
_USERINFO = re.compile(r"//[^/@]*@")
_CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 3


def redact(text: str, token: str | None = None) -> str:
    """``text`` with every ``securityToken=...`` value (and the literal token) replaced."""
    if token:
        text = text.replace(token, REDACTED).replace(quote(token, safe=""), REDACTED)
    return _TOKEN_PARAM.sub(r"\1" + REDACTED, text)


def _redact_url(url: str, token: str) -> str:
    """``url`` without the token and without credentials before the host."""
    return _USERINFO.sub(f"//{REDACTED}@", redact(url, token))


def _origin(url: str | SplitResult) -> tuple[str, str, int | None]:
    parts = urlsplit(url) if isinstance(url, str) else url
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or ""), parts.port or default


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_transport(base_url: str, token: str) -> None:
    """Refuse a base URL that would send a real token unencrypted to another machine.

    The simulator speaks plain http on this machine, and its token opens nothing else.
    """
    parts = urlsplit(base_url)
    if parts.scheme == "http" and token != DEMO_TOKEN and not _is_loopback(parts.hostname or ""):
        raise InsecureTransport(
            f"Refusing the API address {_redact_url(base_url, token)}: plain http:// would send the "
            "security token unencrypted to another machine. Use https:// (the platform is "
            f"{DEFAULT_BASE_URL}) in ENTSOE_API_URL; plain http:// is accepted only for this machine "
            "(127.0.0.1, ::1, localhost), where the simulator runs."
        )


class _RedactTokenFilter(logging.Filter):
    """urllib3 logs every request line at DEBUG, query string (and so the token) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "securityToken=" in message:
            record.msg, record.args = redact(message), None
        return True


def _install_urllib3_redaction() -> None:
    pool_logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactTokenFilter) for f in pool_logger.filters):
        pool_logger.addFilter(_RedactTokenFilter())


_install_urllib3_redaction()


@dataclass(frozen=True)
class FetchResult:
    """What one ``fetch`` returned and what it cost."""

    #: Parser columns, merged over chunks, clipped to [start, end), deduplicated (later chunk wins).
    points: pd.DataFrame
    #: HTTP requests made, retries and rejected over-long windows included.
    requests: int
    #: The chunks that were answered (with data or with "no matching data"); they tile [start, end).
    windows: tuple[tuple[datetime, datetime], ...]
    #: The chunks ENTSO-E answered with "no matching data".
    empty_windows: tuple[tuple[datetime, datetime], ...]
    #: What the answers contradicted and what it cost (Periods dropped in part or whole), in order.
    problems: tuple[DocumentProblem, ...] = ()
    #: Values each answer held twice for one series and time (the later one kept), summed over
    #: answers; the overlap of neighbouring answers is not counted.
    duplicates: int = 0

    @property
    def points_dropped(self) -> int:
        """Points the answers carried that are not in ``points`` because of ``problems``."""
        return points_dropped(self.problems)


@dataclass
class _Retry:
    """A failed attempt that may be repeated: why, and how long the server asked us to wait."""

    problem: str
    error: type[EntsoeError]
    wait: float | None = None


def format_period(moment: datetime) -> str:
    """The API's periodStart/periodEnd format: yyyyMMddHHmm in UTC."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M")


def _utc(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} {moment.isoformat()} has no time zone; pass a tz-aware datetime (UTC)")
    utc = moment.astimezone(UTC)
    if utc.second or utc.microsecond:
        raise ValueError(f"{name} {utc.isoformat()} is not on a whole minute (the API's precision)")
    # pandas Timestamps convert to themselves; the window arithmetic wants plain datetimes.
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, tzinfo=UTC)


def _duration(span: timedelta) -> str:
    hours, rest = divmod(int(span.total_seconds()), 3600)
    if rest == 0 and hours % 24 == 0:
        return f"{hours // 24} days"
    return f"{hours} h {rest // 60} min" if rest else f"{hours} h"


def _short(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


class _RequestsAhead:
    """The requests of a fetch's next chunks, sent while the current one is read: up to ``size`` in
    flight at once (the limiter's slot bounds them across processes as well). Answers are taken in
    chunk order, so the fetch reads them as if it had asked one after the other. Without a pool
    (one request at a time) nothing is sent ahead."""

    def __init__(self, pool: ThreadPoolExecutor | None, size: int) -> None:
        self._pool = pool
        self._size = size
        self._futures: dict[tuple[datetime, datetime], Future[bytes]] = {}

    def keep_going(
        self, pending: deque[tuple[datetime, datetime]], get: Callable[[datetime, datetime], bytes]
    ) -> None:
        if self._pool is None:
            return
        for chunk in itertools.islice(pending, self._size):
            if chunk not in self._futures:
                self._futures[chunk] = self._pool.submit(get, *chunk)

    def take(self, chunk: tuple[datetime, datetime]) -> bytes | None:
        """The chunk's answer (raising what its request raised), or None if it was not sent ahead."""
        future = self._futures.pop(chunk, None)
        return None if future is None else future.result()

    def cancel(self) -> None:
        for future in self._futures.values():
            future.cancel()


class EntsoeClient:
    """Client of the ENTSO-E REST API (or of the bundled simulator, which speaks the same API).

    Use it as a context manager (or call ``close``) to release its HTTP connections.

    Without ``limiter`` the client draws from the process-wide bucket of its (base_url, token), at
    ``requests_per_minute`` (the lowest rate any client of that bucket asked for). A fetch of
    several chunks has up to ``parallel_requests`` of them in flight at once, and reads the answers
    in order. ``sleep``, ``clock`` (wall-clock epoch seconds, for "banned until" times) and ``rng``
    (backoff jitter) are injectable so that tests need not wait. ``max_document_bytes`` caps every
    body (and the inflated members of a ZIP body); tests lower it.

    Raises InsecureTransport when ``base_url`` is plain http:// to another machine and the token is
    not the simulator's.
    """

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        requests_per_minute: float = 300.0,
        max_retries: int = 5,
        connect_timeout: float = 10,
        read_timeout: float = 120,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        ban_wait_default: float = 600.0,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        limiter: Limiter | None = None,
        parallel_requests: int = 1,
        session: requests.Session | None = None,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        token = (token or "").strip()
        if not token:
            raise Unauthorized(f"No ENTSO-E API token was given. {TOKEN_HELP}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if parallel_requests < 1:
            raise ValueError(f"parallel_requests must be >= 1, got {parallel_requests}")
        _check_transport(base_url, token)
        self._token = token
        self.base_url = base_url
        self.max_retries = max_retries
        self.timeout = (connect_timeout, read_timeout)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.ban_wait_default = ban_wait_default
        self.max_document_bytes = max_document_bytes
        self.limiter = limiter or shared_limiter(base_url, token, requests_per_minute)
        self.parallel_requests = parallel_requests
        self._count_lock = threading.Lock()
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock  # wall clock (epoch seconds): "banned until" is an absolute time
        self._rng = rng or random.Random()
        # Spans the API refused to accept, remembered per endpoint for the client's life.
        self._learned_spans: dict[str, timedelta] = {}
        self.requests_made = 0

    # -- public API -------------------------------------------------------------------------------

    def max_span(self, endpoint: Endpoint | str) -> timedelta:
        """The longest window one request covers: the catalogue's, or shorter once the API said so."""
        ep = _endpoint(endpoint)
        return self._learned_spans.get(ep.name, ep.max_span)

    def fetch(
        self, endpoint: Endpoint | str, area: Area | str, start: datetime, end: datetime
    ) -> FetchResult:
        """All points of ``endpoint`` for ``area`` in ``[start, end)``, in as few requests as allowed.

        Raises Unauthorized (RedirectRefused for a redirect off the host), InvalidRequest,
        RateLimited, Unavailable or MalformedDocument (BodyTooLarge for a body over the limit); a
        chunk without published data is not an error but an entry of ``empty_windows``.
        """
        ep, ar = _endpoint(endpoint), _area(area)
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            raise ValueError(
                f"{ep.name} for {ar.name}: window end {_short(end)} is not after start {_short(start)}"
            )
        counter = [0]
        pending = deque(split_window(start, end, self.max_span(ep)))
        frames: list[pd.DataFrame] = []
        windows: list[tuple[datetime, datetime]] = []
        empty: list[tuple[datetime, datetime]] = []
        problems: list[DocumentProblem] = []
        duplicates = 0
        with self._requests_ahead() as ahead:
            while pending:
                ahead.keep_going(pending, lambda s, e: self._get(ep, ar, s, e, counter))
                chunk_start, chunk_end = pending.popleft()
                try:
                    body = ahead.take((chunk_start, chunk_end))
                    if body is None:
                        body = self._get(ep, ar, chunk_start, chunk_end, counter)
                except NoMatchingData:
                    windows.append((chunk_start, chunk_end))
                    empty.append((chunk_start, chunk_end))
                    continue
                except SpanTooLong as exc:
                    rejected = chunk_end - chunk_start
                    span = shrink_span(rejected, hint=exc.max_span_hint, reason_text=exc.reason_text)
                    if span is None:
                        raise
                    self._learned_spans[ep.name] = min(span, self.max_span(ep))
                    logger.warning(
                        "%s: the API refused a %s window (limit %s); using %s per request from now on",
                        self._describe(ep, ar, chunk_start, chunk_end),
                        _duration(rejected),
                        exc.max_span_hint or "not stated",
                        _duration(span),
                    )
                    pending = deque(split_window(chunk_start, end, span))
                    continue
                frame = parse_document(
                    body,
                    source=self._describe(ep, ar, chunk_start, chunk_end),
                    max_bytes=self.max_document_bytes,
                )
                # The source is redacted already; the sentences quote the document, which is the server's.
                problems += (replace(p, what=self._redact(p.what)) for p in frame.attrs["problems"])
                duplicates += frame.attrs["duplicates"]
                frames.append(frame)
                windows.append((chunk_start, chunk_end))
        return FetchResult(
            points=_merge(frames, start, end),
            requests=counter[0],
            windows=tuple(windows),
            empty_windows=tuple(empty),
            problems=tuple(problems),
            duplicates=duplicates,
        )

    def fetch_document(
        self, endpoint: Endpoint | str, area: Area | str, start: datetime, end: datetime
    ) -> bytes:
        """The raw document for one request (retried on transient failures).

        Raises NoMatchingData when ENTSO-E has nothing for the window, SpanTooLong when the window is
        longer than the API accepts, and the other typed errors like ``fetch``.
        """
        ep, ar = _endpoint(endpoint), _area(area)
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            raise ValueError(
                f"{ep.name} for {ar.name}: window end {_short(end)} is not after start {_short(start)}"
            )
        return self._get(ep, ar, start, end, [0])

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> EntsoeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        base_url = _redact_url(self.base_url, self._token)
        return f"EntsoeClient(base_url={base_url!r}, token={REDACTED!r}, limiter={self.limiter!r})"

    @contextmanager
    def _requests_ahead(self) -> Iterator[_RequestsAhead]:
        if self.parallel_requests == 1:
            yield _RequestsAhead(None, 1)
            return
        with ThreadPoolExecutor(self.parallel_requests, thread_name_prefix="entsoe-request") as pool:
            ahead = _RequestsAhead(pool, self.parallel_requests)
            try:
                yield ahead
            finally:
                ahead.cancel()  # the pool's exit then waits for the requests already sent

    # -- one request, with retries ----------------------------------------------------------------

    def _get(self, ep: Endpoint, ar: Area, start: datetime, end: datetime, counter: list[int]) -> bytes:
        params = {**ep.params(ar), "periodStart": format_period(start), "periodEnd": format_period(end)}
        where = self._describe(ep, ar, start, end)
        attempts = self.max_retries + 1
        last: _Retry | None = None
        for attempt in range(attempts):
            outcome = self._attempt(params, where, counter)
            if isinstance(outcome, bytes):
                return outcome
            last = outcome
            if attempt + 1 == attempts:
                break
            wait = self._wait(outcome, attempt)
            logger.warning(
                "%s: %s; retry %d of %d in %.1f s",
                where,
                outcome.problem,
                attempt + 1,
                self.max_retries,
                wait,
            )
            self._sleep(wait)
        assert last is not None
        message = f"{where}: {last.problem}; gave up after {attempts} attempts"
        if last.error is RateLimited:
            raise RateLimited(message, retry_after=last.wait)
        raise last.error(message)

    def _attempt(self, params: dict[str, str], where: str, counter: list[int]) -> bytes | _Retry:
        """One request (and the same-host redirects it leads to): the body, a retryable failure, or a
        raised non-retryable error.

        Errors are raised outside the ``except`` blocks so that no requests exception (whose text
        holds the URL and so the token) ends up as ``__context__`` of what the caller sees.
        """
        url = self.base_url
        for _hop in range(MAX_REDIRECTS + 1):
            with self.limiter.slot():
                answer = self._send(url, params, where, counter)
            if not isinstance(answer, str):
                return answer
            url = answer
        raise RedirectRefused(
            f"{where}: more than {MAX_REDIRECTS} redirects in a row; check the API address (ENTSOE_API_URL)"
        )

    def _send(self, url: str, params: dict[str, str], where: str, counter: list[int]) -> bytes | _Retry | str:
        """One HTTP request, inside the limiter's slot: the body, a retryable failure, or the URL a
        redirect leads to."""
        self.limiter.acquire()
        with self._count_lock:
            counter[0] += 1
            self.requests_made += 1
        logger.debug("GET %s", self._redacted_url(url, params))
        failure: _Retry | None = None
        try:
            # Redirects are followed below, only where the token may go.
            response = self._session.get(
                url,
                params={**params, "securityToken": self._token},
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            failure = _Retry(f"no answer in time ({type(exc).__name__})", Unavailable)
        except requests.RequestException as exc:
            failure = _Retry(
                f"connection failed ({type(exc).__name__}: {self._redact(str(exc))})", Unavailable
            )
        if failure is not None:
            return failure
        # Closing an unfinished streamed response drops its connection instead of reusing it.
        with response:
            if not response.is_redirect:
                body = self._read(response, where)
                return body if isinstance(body, _Retry) else self._classify(response, body, where)
            return self._redirect_target(response, url, where)

    def _read(self, response: requests.Response, where: str) -> bytes | _Retry:
        """The body, read in chunks and refused as soon as it passes ``max_document_bytes``."""
        limit = self.max_document_bytes
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(
                f"{where}: the answer announces {declared} bytes (Content-Length), more than the limit "
                f"of {limit} bytes; refused without reading it"
            )
        chunks: list[bytes] = []
        size = 0
        failure: _Retry | None = None
        try:
            for chunk in response.iter_content(_CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    break
                chunks.append(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            # A reset or a cut mid-body is the platform's habit under load (§1.5): transient.
            failure = _Retry(
                f"connection broken after {size} bytes of the body "
                f"({type(exc).__name__}: {self._redact(str(exc))})",
                Unavailable,
            )
        if failure is not None:
            return failure
        if size > limit:
            raise BodyTooLarge(
                f"{where}: the answer is larger than the limit of {limit} bytes; stopped reading after "
                f"{size} bytes"
            )
        return b"".join(chunks)

    def _redirect_target(self, response: requests.Response, url: str, where: str) -> str:
        """Where a redirect leads, if that is the base URL's scheme and host; else RedirectRefused."""
        target = urlsplit(urljoin(url, response.headers["Location"]))
        if _origin(target) != _origin(self.base_url):
            scheme, host, port = _origin(self.base_url)
            raise RedirectRefused(
                f"{where}: the API answered HTTP {response.status_code} redirecting to "
                f"{_redact_url(target.geturl(), self._token)}, not {scheme}://{host}:{port}; the token "
                "is not sent to another scheme or host. If the API has moved, set ENTSOE_API_URL to its "
                "new https:// address."
            )
        # The query is sent again from ``params``: one in Location may echo the token.
        return urlunsplit((target.scheme, target.netloc, target.path, "", ""))

    def _classify(self, response: requests.Response, body: bytes, where: str) -> bytes | _Retry:
        status = response.status_code
        # An Acknowledgement decides by its Reason text, whether it came with 200 or 400 (§1.6).
        if _ACK_ROOT in body[:4096]:
            self._raise_acknowledgement(body, where)
        if status == 200:
            return body
        said = self._snippet(body)
        if status in (401, 403):
            raise Unauthorized(
                f"{where}: ENTSO-E refused the security token (HTTP {status}: {said}). {TOKEN_HELP}"
            )
        if status == 429:
            wait = _retry_after(response, self._clock()) or self._banned_for(said)
            return _Retry(f"rate limited (HTTP 429: {said})", RateLimited, wait)
        if status == 404 or status >= 500:
            # 404 for every request was the symptom of the 2023 and 2026 platform migrations (§1.1).
            return _Retry(
                f"platform unavailable (HTTP {status}: {said})",
                Unavailable,
                _retry_after(response, self._clock()),
            )
        if 400 <= status < 500:
            raise InvalidRequest(f"{where}: request rejected (HTTP {status}: {said})", reason_text=said)
        return _Retry(f"unexpected HTTP {status}: {said}", Unavailable)

    def _raise_acknowledgement(self, body: bytes, where: str) -> NoReturn:
        try:
            parse_document(body, source=where)  # raises the Acknowledgement's typed error
        except ApiError as exc:
            # The reason text is the server's: keep a token it might echo out of messages too.
            exc.args = tuple(redact(str(a), self._token) for a in exc.args)
            exc.reason_text = redact(exc.reason_text, self._token)
            raise
        raise InvalidRequest(f"{where}: ENTSO-E answered with an Acknowledgement the parser did not classify")

    def _wait(self, retry: _Retry, attempt: int) -> float:
        if retry.wait is not None:
            # The server said how long: wait that long plus a little jitter, so that clients banned
            # together do not return together.
            return max(0.0, retry.wait) + self._rng.uniform(0, self.backoff_base)
        # Exponential backoff with full jitter.
        return self._rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def _banned_for(self, said: str) -> float:
        """Seconds until the ban in a 429 body ends, else the documented ten-minute ban."""
        match = _BANNED_UNTIL.search(said)
        if match:
            try:
                until = datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))
            except ValueError:
                until = None
            if until is not None and until.tzinfo is not None:
                return max(0.0, until.timestamp() - self._clock())
        return self.ban_wait_default

    # -- redaction and descriptions ---------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact(text, self._token)

    def _redacted_url(self, url: str, params: dict[str, str]) -> str:
        query = urlencode({**params, "securityToken": REDACTED}, safe="<>")
        return f"{_redact_url(url, self._token)}?{query}"

    def _describe(self, ep: Endpoint, ar: Area, start: datetime, end: datetime) -> str:
        params = {**ep.params(ar), "periodStart": format_period(start), "periodEnd": format_period(end)}
        query = urlencode(params)
        window = f"{_short(start)} to {_short(end)}"
        base_url = _redact_url(self.base_url, self._token)
        return self._redact(f"{ep.name} for {ar.name} ({ar.eic}), {window} [GET {base_url}?{query}]")

    def _snippet(self, body: bytes, limit: int = 300) -> str:
        text = " ".join(_TAGS.sub(" ", body[:4096].decode("utf-8", "replace")).split())
        return self._redact(text[:limit]) or "(empty body)"


def _retry_after(response: requests.Response, now: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _merge(frames: list[pd.DataFrame], start: datetime, end: datetime) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_frame()
    points = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    # Answers can be wider than asked (prices come as whole local days, §1.3): clip to the window.
    inside = (points["time"] >= pd.Timestamp(start)) & (points["time"] < pd.Timestamp(end))
    points = points.loc[inside]
    points = points.drop_duplicates(subset=DEDUP_KEY, keep="last")
    return points.sort_values(DEDUP_KEY, kind="stable").reset_index(drop=True)


def _endpoint(endpoint: Endpoint | str) -> Endpoint:
    return endpoint if isinstance(endpoint, Endpoint) else catalog.endpoint(endpoint)


def _area(area: Area | str) -> Area:
    return area if isinstance(area, Area) else catalog.area(area)
