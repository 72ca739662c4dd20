"""entsoe_pipeline/entsoe/client.py without a server: redaction, wait times, request formatting."""

from __future__ import annotations

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
