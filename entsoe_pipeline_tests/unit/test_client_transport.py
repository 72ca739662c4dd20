"""entsoe_pipeline/entsoe/client.py transport without a server: which base URLs may carry the token,
redirects, and bodies read as a stream (size limit, breaks mid-body, connections released)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
import requests
import urllib3

from entsoe_pipeline.entsoe.client import REDACTED, EntsoeClient
from entsoe_pipeline.entsoe.errors import BodyTooLarge, InsecureTransport, RedirectRefused, Unauthorized
from entsoe_pipeline.entsoe.rate_limit import RateLimiter
from entsoe_pipeline.settings import ApiSettings
from entsoe_pipeline.simulator import DEMO_TOKEN

TOKEN = "tok-9d4e2a71-transport-distinctive"
DAY = (datetime(2025, 6, 4, tzinfo=UTC), datetime(2025, 6, 5, tzinfo=UTC))
HTTPS = "https://web-api.tp.entsoe.eu/api"


def _client(base_url: str = HTTPS, token: str = TOKEN, **options) -> EntsoeClient:
    options.setdefault("limiter", RateLimiter(60_000, burst=1_000))
    options.setdefault("sleep", lambda seconds: None)
    options.setdefault("rng", random.Random(1))
    return EntsoeClient(token, base_url, **options)


# --- which base URLs may carry the token --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://web-api.tp.entsoe.eu/api",
        "HTTP://web-api.tp.entsoe.eu/api",
        "http://10.0.0.5:8765/api",
        "http://[2001:db8::1]:8765/api",
        "http://simulator:8765/api",
        "http://localhost.example.com/api",
    ],
)
def test_plain_http_to_another_machine_is_refused_with_a_real_token(url):
    with pytest.raises(InsecureTransport) as caught:
        _client(url)
    message = str(caught.value)
    assert "plain http://" in message and "https://" in message and "ENTSOE_API_URL" in message
    assert urllib3.util.parse_url(url).host.lower() in message.lower()
    assert isinstance(caught.value, Unauthorized)  # callers that fail fast on a token problem do here


@pytest.mark.parametrize(
    "url",
    [
        HTTPS,
        "https://10.0.0.5/api",
        "http://127.0.0.1:8765/api",
        "http://127.3.2.1/api",
        "http://[::1]:8765/api",
        "http://localhost:8765/api",
    ],
)
def test_https_and_plain_http_on_this_machine_are_accepted(url):
    with _client(url) as client:
        assert client.base_url == url


def test_the_simulator_token_may_travel_in_clear_to_another_machine():
    with _client("http://simulator:8765/api", token=DEMO_TOKEN) as client:
        assert client.base_url == "http://simulator:8765/api"


def test_the_refusal_names_the_address_without_token_or_password():
    url = f"http://user:hunter2@api.example.com/api?securityToken={TOKEN}"
    with pytest.raises(InsecureTransport) as caught:
        _client(url)
    message = str(caught.value)
    assert "api.example.com" in message and REDACTED in message
    assert TOKEN not in message and "hunter2" not in message


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "http://127.0.0.1:8765/api"),  # demo mode: the simulator, its token, plain http locally
        ({"ENTSOE_API_TOKEN": TOKEN}, HTTPS),
        ({"ENTSOE_API_TOKEN": TOKEN, "ENTSOE_API_URL": "http://127.0.0.1:9999/api"}, None),
    ],
)
def test_clients_built_from_the_settings_are_accepted(env, url):
    api = ApiSettings.from_env(env)
    with EntsoeClient(api.token, api.base_url, requests_per_minute=api.requests_per_minute) as client:
        assert client.base_url == (url or env["ENTSOE_API_URL"])


def test_a_real_token_with_a_plain_http_address_in_the_settings_is_refused():
    api = ApiSettings.from_env({"ENTSOE_API_TOKEN": TOKEN, "ENTSOE_API_URL": "http://proxy.internal/api"})
    with pytest.raises(InsecureTransport, match=r"http://proxy\.internal/api"):
        EntsoeClient(api.token, api.base_url)


# --- a session whose answers are streamed from scripted chunks ---------------------------------------


class _Raw:
    """What requests streams a body from: scripted chunks, then optionally an error; records how much
    was handed out and whether the connection was closed."""

    def __init__(self, chunks: list[bytes], error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error
        self.served = 0
        self.closed = False

    def stream(self, amt: int, decode_content: bool = True):
        for chunk in self.chunks:
            self.served += len(chunk)
            yield chunk
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


class _Scripted(requests.Session):
    """Answers the n-th GET with the n-th (status, headers, raw); records URLs and options."""

    def __init__(self, *answers: tuple[int, dict[str, str], _Raw]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, str], dict]] = []

    def get(self, url, params=None, **kwargs):  # type: ignore[override]
        self.calls.append((url, dict(params or {}), kwargs))
        status, headers, raw = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response.raw = raw
        response.url = url
        return response


def _document() -> bytes:
    fr = "10YFR-RTE------C"
    points = "".join(f"<Point><position>{p}</position><quantity>{p}</quantity></Point>" for p in range(1, 25))
    return (
        '<GL_MarketDocument xmlns="urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0">'
        "<mRID>d</mRID><revisionNumber>1</revisionNumber><type>A65</type>"
        "<process.processType>A16</process.processType><createdDateTime>2025-06-05T08:00:00Z</createdDateTime>"
        "<TimeSeries><mRID>1</mRID><businessType>A04</businessType>"
        f'<outBiddingZone_Domain.mRID codingScheme="A01">{fr}</outBiddingZone_Domain.mRID>'
        "<quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name><curveType>A01</curveType>"
        "<Period><timeInterval><start>2025-06-04T00:00Z</start><end>2025-06-05T00:00Z</end></timeInterval>"
        f"<resolution>PT60M</resolution>{points}</Period></TimeSeries></GL_MarketDocument>"
    ).encode()


def test_requests_are_streamed_without_following_redirects():
    session = _Scripted((200, {}, _Raw([_document()])))
    with _client(session=session) as client:
        assert len(client.fetch("actual_load", "FR", *DAY).points) == 24
    (_, params, options) = session.calls[0]
    assert options["stream"] is True and options["allow_redirects"] is False
    assert params["securityToken"] == TOKEN


def test_a_body_broken_mid_stream_is_retried():
    document = _document()
    broken = _Raw([document[:100]], error=urllib3.exceptions.ProtocolError("Connection broken: reset"))
    session = _Scripted((200, {}, broken), (200, {}, _Raw([document])))
    with _client(session=session) as client:
        result = client.fetch("actual_load", "FR", *DAY)
    assert len(result.points) == 24 and result.requests == 2
    assert broken.closed


def test_a_read_timeout_mid_body_is_retried():
    timeout = urllib3.exceptions.ReadTimeoutError(None, "/api", "Read timed out.")  # type: ignore[arg-type]
    broken = _Raw([b"<GL_Market"], error=timeout)
    session = _Scripted((200, {}, broken), (200, {}, _Raw([_document()])))
    with _client(session=session) as client:
        assert client.fetch("actual_load", "FR", *DAY).requests == 2


def test_a_declared_length_over_the_limit_is_refused_unread_and_the_connection_closed():
    raw = _Raw([b"x" * 4096])
    session = _Scripted((200, {"Content-Length": "5000"}, raw))
    with _client(session=session, max_document_bytes=4096) as client, pytest.raises(BodyTooLarge) as caught:
        client.fetch("actual_load", "FR", *DAY)
    assert "5000 bytes (Content-Length)" in str(caught.value) and "actual_load for FR" in str(caught.value)
    assert raw.served == 0 and raw.closed
    assert len(session.calls) == 1  # not retried: the same request would bring the same body


def test_an_endless_body_is_cut_off_after_the_limit_and_the_connection_closed():
    raw = _Raw([b"<" * 1000] * 1000)  # 1 MB in 1000-byte chunks
    session = _Scripted((200, {}, raw))
    with _client(session=session, max_document_bytes=10_000) as client, pytest.raises(BodyTooLarge) as caught:
        client.fetch("actual_load", "FR", *DAY)
    assert raw.served == 11_000  # the chunk that passed the limit, and not one more
    assert raw.closed
    assert "larger than the limit of 10000 bytes" in str(caught.value)


def test_a_body_of_exactly_the_limit_is_read():
    document = _document()
    session = _Scripted((200, {"Content-Length": str(len(document))}, _Raw([document])))
    with _client(session=session, max_document_bytes=len(document)) as client:
        assert len(client.fetch("actual_load", "FR", *DAY).points) == 24


# --- redirects ---------------------------------------------------------------------------------------


def test_a_redirect_within_the_host_is_followed_with_the_parameters_sent_again():
    echoed = f"{HTTPS}/v2?securityToken={TOKEN}&documentType=A65"
    session = _Scripted((301, {"Location": echoed}, _Raw([])), (200, {}, _Raw([_document()])))
    with _client(session=session) as client:
        result = client.fetch("actual_load", "FR", *DAY)
    assert len(result.points) == 24 and result.requests == 2
    (first, _, _), (second, params, _) = session.calls
    assert (first, second) == (HTTPS, f"{HTTPS}/v2")  # the Location's query (the echo) is dropped
    assert params["securityToken"] == TOKEN and params["periodStart"] == "202506040000"


@pytest.mark.parametrize(
    "location",
    [
        f"http://web-api.tp.entsoe.eu/api?securityToken={TOKEN}",  # a downgrade to plain http
        f"https://web-api.tp.entsoe.eu:8443/api?securityToken={TOKEN}",  # another port
        f"https://elsewhere.example/api?securityToken={TOKEN}",
        "//elsewhere.example/api",
    ],
)
def test_a_redirect_to_another_scheme_or_host_is_refused(location):
    first = _Raw([])
    session = _Scripted((302, {"Location": location}, first))
    with _client(session=session) as client, pytest.raises(RedirectRefused) as caught:
        client.fetch("actual_load", "FR", *DAY)
    assert len(session.calls) == 1 and first.closed and first.served == 0
    message = str(caught.value)
    assert TOKEN not in message and "HTTP 302" in message and "ENTSOE_API_URL" in message
    assert "actual_load for FR" in message and "2025-06-04T00:00Z to 2025-06-05T00:00Z" in message


def test_a_redirect_loop_within_the_host_ends():
    session = _Scripted(*[(302, {"Location": "/api/again"}, _Raw([]))] * 10)
    with _client(session=session) as client, pytest.raises(RedirectRefused, match="redirects in a row"):
        client.fetch("actual_load", "FR", *DAY)
    assert len(session.calls) == 4  # the request and three redirects followed
