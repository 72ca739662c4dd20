"""entsoe_pipeline/simulator/server.py and __main__.py over real HTTP: the platform's status codes and
bodies, request bookkeeping, run-time faults, and the command line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import requests

from entsoe_pipeline import catalog
from entsoe_pipeline.simulator import DEMO_TOKEN, SimulatorConfig
from entsoe_pipeline_tests.fixtures.simulator import FIXED_NOW

LOAD = {
    "documentType": "A65",
    "processType": "A16",
    "outBiddingZone_Domain": catalog.area("FR").eic,
    "periodStart": "202506040000",
    "periodEnd": "202506050000",
}


def _get(url: str, token: str | None = DEMO_TOKEN, **params: str) -> requests.Response:
    query = {**LOAD, **params}
    if token is not None:
        query["securityToken"] = token
    return requests.get(url, params=query, timeout=10)


def test_a_valid_request_gets_a_gl_document(make_simulator):
    sim = make_simulator(now=FIXED_NOW)
    response = _get(sim.url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml"
    assert response.content.count(b"<Point>") == 24
    assert b"<GL_MarketDocument" in response.content


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_a_missing_or_wrong_token_gets_401_with_the_platforms_body(make_simulator, token):
    sim = make_simulator(now=FIXED_NOW)
    response = _get(sim.url, token=token)
    assert response.status_code == 401
    assert b"<body>Unauthorized. Missing or invalid security token</body>" in response.content


def test_a_no_data_answer_is_200_with_an_acknowledgement(make_simulator):
    sim = make_simulator(
        now=FIXED_NOW, no_data=((datetime(2025, 6, 4, tzinfo=UTC), datetime(2025, 6, 5, tzinfo=UTC)),)
    )
    response = _get(sim.url)
    assert (response.status_code, response.headers["Content-Type"]) == (200, "application/xml")
    assert b"<code>999</code>" in response.content and b"No matching data found" in response.content


def test_too_many_requests_ban_the_requester_until_a_stated_time(make_simulator):
    clock = [1_800_000_000.0]
    sim = make_simulator(now=FIXED_NOW, max_requests_per_minute=2, ban_seconds=600, clock=lambda: clock[0])
    assert [_get(sim.url).status_code for _ in range(2)] == [200, 200]
    banned = _get(sim.url)
    assert banned.status_code == 429
    match = re.search(rb"Requester banned until '([^']+)'", banned.content)
    assert match is not None
    until = datetime.fromisoformat(match.group(1).decode().replace("Z", "+00:00"))
    assert until.timestamp() == pytest.approx(clock[0] + 600)
    clock[0] += 599
    assert _get(sim.url).status_code == 429
    clock[0] += 2
    assert _get(sim.url).status_code == 200


def test_requests_in_different_minutes_are_not_banned(make_simulator):
    clock = [1_800_000_000.0]
    sim = make_simulator(now=FIXED_NOW, max_requests_per_minute=2, clock=lambda: clock[0])
    statuses = []
    for _ in range(6):
        statuses.append(_get(sim.url).status_code)
        clock[0] += 31
    assert statuses == [200] * 6


def test_other_paths_answer_404(make_simulator):
    sim = make_simulator(now=FIXED_NOW)
    response = requests.get(sim.url.replace("/api", "/other"), timeout=10)
    assert (response.status_code, response.content) == (404, b"404 page not found")


def test_requests_are_logged_and_counted_without_the_token(make_simulator):
    sim = make_simulator(now=FIXED_NOW)
    _get(sim.url)
    _get(sim.url, token="wrong")
    assert sim.request_count == 2
    assert sim.requests == [LOAD, LOAD]
    assert all("securityToken" not in r for r in sim.requests)
    assert sim.count("actual_load", "FR") == 2 and sim.count("actual_load", "DE_LU") == 0
    sim.reset_counts()
    assert (sim.request_count, sim.requests, sim.counts) == (0, [], {})


def test_faults_are_validated_when_changed(make_simulator):
    sim = make_simulator(now=FIXED_NOW)
    with pytest.raises(ValueError, match="unknown fault"):
        sim.set_faults(crash_rate=1.0)
    with pytest.raises(ValueError, match="error_rate must be between 0 and 1"):
        sim.set_faults(error_rate=2.0)
    sim.set_faults(error_rate=1.0)
    assert _get(sim.url).status_code == 503


def test_configuration_comes_from_environment_variables():
    config = SimulatorConfig.from_env(
        {
            "ENTSOE_SIMULATOR_TOKEN": "t",
            "ENTSOE_SIMULATOR_ERROR_RATE": "0.25",
            "ENTSOE_SIMULATOR_NOW": "2026-01-12T14:00Z",
        }
    )
    assert (config.token, config.error_rate, config.now) == ("t", 0.25, FIXED_NOW)
    windows = SimulatorConfig.from_env(
        {"ENTSOE_SIMULATOR_NO_DATA": "2025-08-01T00:00Z/2025-08-02T00:00Z"}
    ).no_data
    assert windows == ((datetime(2025, 8, 1, tzinfo=UTC), datetime(2025, 8, 2, tzinfo=UTC)),)
    with pytest.raises(ValueError, match="ENTSOE_SIMULATOR_RATE_LIMIT='many'"):
        SimulatorConfig.from_env({"ENTSOE_SIMULATOR_RATE_LIMIT": "many"})


def test_the_command_line_serves_until_terminated():
    env = {**os.environ, "ENTSOE_SIMULATOR_TOKEN": "cli-token"}
    process = subprocess.Popen(
        [sys.executable, "-m", "entsoe_pipeline.simulator", "--port", "0", "--now", "2026-01-12T14:00Z"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+/api)", line)
        assert match, line
        assert "cli-token" not in line
        assert _get(match.group(1), token="cli-token").status_code == 200
        assert _get(match.group(1)).status_code == 401  # the demo token is replaced
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
