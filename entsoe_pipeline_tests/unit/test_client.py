"""entsoe_pipeline/entsoe/client.py without a server: redaction, wait times, request formatting, and
what fetch gathers from the answers of a session that replays bodies."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from entsoe_pipeline.entsoe.client import REDACTED, EntsoeClient, _retry_after, format_period, redact
from entsoe_pipeline.entsoe.rate_limit import RateLimiter

TOKEN = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def _response(headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    return response


def _client(**options) -> EntsoeClient:
    return EntsoeClient(TOKEN, "http://127.0.0.1:9/api", limiter=RateLimiter(600), **options)


def test_redaction_removes_the_token_parameter_wherever_it_is():
    url = f"https://web-api.tp.entsoe.eu/api?documentType=A65&securityToken={TOKEN}&periodStart=202501010000"
    text = f"HTTPSConnectionPool: Max retries exceeded with url: /api?securityToken={TOKEN} (Caused by ...)"
    assert TOKEN not in redact(url) and f"securityToken={REDACTED}&periodStart" in redact(url)
    assert TOKEN not in redact(text)


def test_redaction_removes_the_literal_token_when_known():
    assert redact(f"token {TOKEN} rejected", TOKEN) == f"token {REDACTED} rejected"


def test_urllib3_request_lines_are_redacted(caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    logging.getLogger("urllib3.connectionpool").debug(
        '%s "GET /api?securityToken=%s HTTP/1.1" 200', "host", TOKEN
    )
    assert TOKEN not in caplog.text
    assert f"securityToken={REDACTED}" in caplog.text


def test_periods_are_formatted_as_minutes_in_utc():
    cet = timezone(timedelta(hours=1))
    assert format_period(datetime(2025, 1, 1, 0, 30, tzinfo=cet)) == "202412312330"


def test_retry_after_in_seconds_is_honoured():
    assert _retry_after(_response({"Retry-After": "120"}), now=0) == 120


def test_retry_after_as_an_http_date_is_honoured():
    now = datetime(2025, 11, 25, 10, 0, tzinfo=UTC).timestamp()
    response = _response({"Retry-After": "Tue, 25 Nov 2025 10:01:30 GMT"})
    assert _retry_after(response, now=now) == pytest.approx(90)


def test_an_unreadable_retry_after_is_ignored():
    assert _retry_after(_response({"Retry-After": "soon"}), now=0) is None
    assert _retry_after(_response({}), now=0) is None


def test_a_ban_lasts_until_the_time_in_the_429_body():
    now = datetime(2025, 11, 25, 10, 0, tzinfo=UTC).timestamp()
    client = _client(clock=lambda: now)
    assert client._banned_for("Requester banned until '2025-11-25T10:01:55.545Z'.") == pytest.approx(115.545)


def test_a_ban_without_an_end_time_waits_the_default():
    client = _client(ban_wait_default=600)
    assert (
        client._banned_for("Max allowed requests per minute from each unique IP is max up to 400 only") == 600
    )


def test_the_client_repr_hides_the_token():
    client = _client()
    assert TOKEN not in repr(client) and REDACTED in repr(client)


def test_backoff_waits_grow_but_stay_under_the_cap():
    import random

    from entsoe_pipeline.entsoe.client import _Retry
    from entsoe_pipeline.entsoe.errors import Unavailable

    client = _client(backoff_base=1.0, backoff_max=8.0, rng=random.Random(0))
    for attempt in range(10):
        waits = [client._wait(_Retry("503", Unavailable), attempt) for _ in range(200)]
        assert all(0 <= w <= min(8.0, 2**attempt) for w in waits)
    assert client._wait(_Retry("429", Unavailable, wait=30.0), 0) >= 30.0


# --- what the answers contradicted -----------------------------------------------------------------

FR = "10YFR-RTE------C"


class _AnswerEach(requests.Session):
    """A session that answers the n-th GET with the n-th body (HTTP 200), and records the params."""

    def __init__(self, *bodies: bytes) -> None:
        super().__init__()
        self.bodies = list(bodies)
        self.params: list[dict[str, str]] = []

    def get(self, url, params=None, **kwargs):  # type: ignore[override]
        self.params.append(params)
        response = requests.Response()
        response.status_code = 200
        response.raw = io.BytesIO(self.bodies.pop(0))
        return response


def _load_document(*periods: str) -> bytes:
    return (
        '<GL_MarketDocument xmlns="urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0">'
        "<mRID>d</mRID><revisionNumber>1</revisionNumber><type>A65</type>"
        "<process.processType>A16</process.processType><createdDateTime>2025-02-01T08:00:00Z</createdDateTime>"
        "<TimeSeries><mRID>1</mRID><businessType>A04</businessType>"
        f'<outBiddingZone_Domain.mRID codingScheme="A01">{FR}</outBiddingZone_Domain.mRID>'
        "<quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name>"
        f"<curveType>A01</curveType>{''.join(periods)}</TimeSeries></GL_MarketDocument>"
    ).encode()


def _period(start: str, end: str, values: list[tuple[int, object]]) -> str:
    points = "".join(f"<Point><position>{p}</position><quantity>{v}</quantity></Point>" for p, v in values)
    return (
        f"<Period><timeInterval><start>{start}</start><end>{end}</end></timeInterval>"
        f"<resolution>PT60M</resolution>{points}</Period>"
    )


def test_fetch_gathers_the_problems_and_duplicates_of_every_request():
    hours_25 = [(p, 10) for p in range(1, 26)] + [(1, 11)]  # one hour too many, position 1 twice
    first = _load_document(_period("2025-01-01T00:00Z", "2025-01-02T00:00Z", hours_25))
    second = _load_document(
        _period("2025-01-30T00:00Z", "2025-01-30T02:00Z", [(1, "NaN"), (2, 2)]),
        # A value quoting the token, as a server echo might: the sentence quoting it is redacted.
        _period("2025-01-30T02:00Z", "2025-01-30T03:00Z", [(1, TOKEN)]),
    )
    session = _AnswerEach(first, second)
    with _client(session=session) as client:
        result = client.fetch(
            "actual_load", "FR", datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 31, tzinfo=UTC)
        )
    assert [p["periodStart"] for p in session.params] == ["202501010000", "202501290000"]  # 28 + 2 days
    assert len(result.points) == 24 + 1
    assert [(p.series, p.dropped) for p in result.problems] == [(("A04", "", "", FR), 1)] * 3
    assert "2025-01-01T00:00Z to 2025-01-29T00:00Z" in result.problems[0].where
    assert "2025-01-29T00:00Z to 2025-01-31T00:00Z" in result.problems[2].where
    assert "value NaN at position 1" in result.problems[1].what
    assert result.points_dropped == 3 and result.duplicates == 1
    assert TOKEN not in " ".join(str(p) for p in result.problems) and REDACTED in result.problems[2].what
    assert set(result.points.document_created) == {datetime(2025, 2, 1, 8, tzinfo=UTC)}


def test_a_fetch_without_contradictions_reports_none():
    body = _load_document(_period("2025-01-01T00:00Z", "2025-01-01T02:00Z", [(1, 1), (2, 2)]))
    with _client(session=_AnswerEach(body)) as client:
        result = client.fetch(
            "actual_load", "FR", datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)
        )
    assert (result.problems, result.duplicates, result.points_dropped) == ((), 0, 0)
