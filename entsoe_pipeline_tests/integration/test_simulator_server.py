"""entsoe_pipeline/simulator/server.py and __main__.py over real HTTP: the platform's status codes and
bodies, request bookkeeping, run-time faults, the platform's habits and the record of what was
published, and the command line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import requests

from entsoe_pipeline import catalog
from entsoe_pipeline.entsoe.client import format_period
from entsoe_pipeline.entsoe.parser import parse_document
from entsoe_pipeline.simulator import DEMO_TOKEN, SimulatorConfig, habits
from entsoe_pipeline.simulator.api import answer
from entsoe_pipeline.simulator.periods import from_minutes, local_midnight
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


def test_habits_come_from_environment_variables():
    config = SimulatorConfig.from_env(
        {
            "ENTSOE_SIMULATOR_REVISION_SHARE": "0.2",
            "ENTSOE_SIMULATOR_LATE_SHARE": "0.1",
            "ENTSOE_SIMULATOR_SHORT_PERIOD_SHARE": "0.5",
            "ENTSOE_SIMULATOR_RESOLUTION_SWITCH": "2025-10-01",
            "ENTSOE_SIMULATOR_REPUBLISH_HOURLY_SHARE": "0.25",
            "ENTSOE_SIMULATOR_SEED": "4",
        }
    )
    assert config.habits() == habits.Habits(
        seed=4,
        revision_share=0.2,
        late_share=0.1,
        short_period_share=0.5,
        resolution_switch=date(2025, 10, 1),
        republish_hourly_share=0.25,
    )
    with pytest.raises(ValueError, match=r"late_share must be between 0 and 1, got 1\.5"):
        SimulatorConfig.from_env({"ENTSOE_SIMULATOR_LATE_SHARE": "1.5"})
    with pytest.raises(ValueError, match="ENTSOE_SIMULATOR_RESOLUTION_SWITCH='October'"):
        SimulatorConfig.from_env({"ENTSOE_SIMULATOR_RESOLUTION_SWITCH": "October"})


# --- habits and the record of what was published ----------------------------------------------------------

_COLUMNS = ["time", "value", "resolution", "business_type", "psr_type", "variant"]


def _window(endpoint: str, area: str, start: datetime, end: datetime) -> dict[str, str]:
    ep, ar = catalog.endpoint(endpoint), catalog.area(area)
    return {**ep.params(ar), "periodStart": format_period(start), "periodEnd": format_period(end)}


def _fetch(url: str, endpoint: str, area: str, start: datetime, end: datetime) -> requests.Response:
    query = {**_window(endpoint, area, start, end), "securityToken": DEMO_TOKEN}
    response = requests.get(url, params=query, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return response


def _local_day(area: str, day: date) -> tuple[datetime, datetime]:
    tz = catalog.area(area).tz
    return local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)


# When a day is revised or first published, and the value that means "never" or "on schedule".
_WHEN = {"revised": (habits.revision_times, habits.NEVER), "late": (habits.published_from, habits.ALWAYS)}


def _first(
    config: SimulatorConfig, kind: str, endpoint: str, area: str, first: date
) -> tuple[date, datetime]:
    """The first day from ``first`` that is ``kind`` ('revised' or 'late'), and the time of its
    revision or of its first publication."""
    when, usual = _WHEN[kind]
    numbers = (first - date(1970, 1, 1)).days + np.arange(90)
    times = when(config.habits(), endpoint, catalog.area(area), numbers)
    index = int(np.flatnonzero(times != usual)[0])
    return date(1970, 1, 1) + timedelta(days=int(numbers[index])), from_minutes(int(times[index]))


_HABITS = {
    "seed": 21,
    "revision_share": 0.4,
    "late_share": 0.3,
    "resolution_switch": date(2025, 12, 15),
    "republish_hourly_share": 0.5,
}


def test_two_servers_with_the_same_habits_send_the_same_bytes_whatever_the_order_of_requests(make_simulator):
    first, second = make_simulator(now=FIXED_NOW, **_HABITS), make_simulator(now=FIXED_NOW, **_HABITS)
    asked = [
        ("actual_load", "DE_LU", datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 29, tzinfo=UTC)),
        ("actual_generation", "NL", datetime(2025, 12, 10, tzinfo=UTC), datetime(2025, 12, 20, tzinfo=UTC)),
        ("day_ahead_prices", "DE_LU", datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 29, tzinfo=UTC)),
        ("wind_solar_forecast", "NL", datetime(2025, 12, 12, tzinfo=UTC), datetime(2025, 12, 19, tzinfo=UTC)),
    ]
    bodies = [_fetch(first.url, *r).content for r in asked]
    assert [_fetch(second.url, *r).content for r in reversed(asked)] == bodies[::-1]
    baseline = make_simulator(now=FIXED_NOW)
    assert [_fetch(baseline.url, *r).content for r in asked] != bodies  # the habits did something


def test_a_revision_reaches_clients_at_its_time_and_is_listed_by_revisions(make_simulator):
    config = {"seed": 5, "revision_share": 0.3}
    day, revised_at = _first(SimulatorConfig(**config), "revised", "actual_load", "FR", date(2025, 11, 3))
    start, end = _local_day("FR", day)
    before = make_simulator(now=revised_at - timedelta(minutes=1), **config)
    after = make_simulator(now=revised_at, **config)

    first_values = parse_document(_fetch(before.url, "actual_load", "FR", start, end).content)
    revised = parse_document(_fetch(after.url, "actual_load", "FR", start, end).content)
    assert first_values["time"].equals(revised["time"])
    assert (first_values["value"] != revised["value"]).all()

    assert before.revisions("actual_load", "FR", start, end).empty
    listed = after.revisions("actual_load", "FR", start, end)
    assert listed["time"].equals(revised["time"])
    assert np.array_equal(listed["first_value"], first_values["value"])
    assert np.array_equal(listed["value"], revised["value"])
    assert set(listed["revised_at"]) == {pd.Timestamp(revised_at)}


def test_a_late_day_is_no_matching_data_over_http_until_it_is_due(make_simulator):
    config = {"seed": 2, "late_share": 0.3}
    day, due = _first(SimulatorConfig(**config), "late", "actual_generation", "DE_LU", date(2025, 11, 3))
    start, end = _local_day("DE_LU", day)
    early = make_simulator(now=due - timedelta(minutes=1), **config)
    on_time = make_simulator(now=due, **config)

    response = _fetch(early.url, "actual_generation", "DE_LU", start, end)
    assert response.headers["Content-Type"] == "application/xml"
    assert b"No matching data found" in response.content
    assert early.published("actual_generation", "DE_LU", start, end).empty

    complete = parse_document(_fetch(on_time.url, "actual_generation", "DE_LU", start, end).content)
    quarter_hours = (end - start) // timedelta(minutes=15)
    assert set(complete.groupby(["psr_type", "variant"]).size()) == {quarter_hours}


@pytest.mark.parametrize(
    ("endpoint", "area", "start", "end"),
    [
        ("actual_load", "DE_LU", datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 29, tzinfo=UTC)),
        ("actual_generation", "AT", datetime(2025, 12, 10, tzinfo=UTC), datetime(2026, 1, 7, tzinfo=UTC)),
        (
            "day_ahead_load_forecast",
            "NL",
            datetime(2025, 12, 10, tzinfo=UTC),
            datetime(2026, 1, 7, tzinfo=UTC),
        ),
        (
            "wind_solar_forecast",
            "DE_LU",
            datetime(2025, 12, 20, tzinfo=UTC),
            datetime(2026, 1, 14, tzinfo=UTC),
        ),
        ("day_ahead_prices", "AT", datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 29, tzinfo=UTC)),
        ("actual_load", "FR", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 13, tzinfo=UTC)),
    ],
)
def test_published_is_what_the_server_sends_with_the_habits_on(make_simulator, endpoint, area, start, end):
    sim = make_simulator(now=FIXED_NOW, **_HABITS)
    served = parse_document(_fetch(sim.url, endpoint, area, start, end).content)[_COLUMNS]
    pd.testing.assert_frame_equal(served, sim.published(endpoint, area, start, end))


def test_a_short_period_over_http_declares_one_week_less_than_its_points(make_simulator):
    sim = make_simulator(now=FIXED_NOW, short_period_share=1.0)
    start, end = datetime(2025, 1, 10, tzinfo=UTC), datetime(2025, 12, 20, tzinfo=UTC)
    body = _fetch(sim.url, "year_ahead_load_forecast", "CZ", start, end).content
    periods = re.findall(
        rb"<Period><timeInterval><start>([^<]+)</start><end>([^<]+)</end>(.*?)</Period>", body
    )
    assert len(periods) == 2  # A60 and A61 of the 2025 block
    for period_start, period_end, points in periods:
        weeks = (_instant(period_end) - _instant(period_start)) / timedelta(days=7)
        assert (weeks, points.count(b"<Point>")) == (51, 52)
    record = sim.published("year_ahead_load_forecast", "CZ", start, end)
    assert record.groupby("business_type").size().to_dict() == {"A60": 52, "A61": 52}
    assert record["time"].max() == pd.Timestamp(_instant(periods[0][1]))  # the week beyond the declared end


def _instant(text: bytes) -> datetime:
    return datetime.fromisoformat(text.decode().replace("Z", "+00:00"))


def test_the_command_line_sets_the_habits():
    flags = {
        "--revision-share": "1",
        "--late-share": "0.5",
        "--short-period-share": "1",
        "--resolution-switch": "2026-01-05",
        "--republish-hourly-share": "0.5",
        "--seed": "8",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "entsoe_pipeline.simulator", "--port", "0", "--now", "2026-01-12T14:00Z"]
        + [part for flag in flags.items() for part in flag],
        stdout=subprocess.PIPE,
        text=True,
    )
    config = SimulatorConfig(
        now=FIXED_NOW,
        revision_share=1.0,
        late_share=0.5,
        short_period_share=1.0,
        resolution_switch=date(2026, 1, 5),
        republish_hourly_share=0.5,
        seed=8,
    )
    try:
        assert process.stdout is not None
        match = re.search(r"listening on (http://\S+/api)", process.stdout.readline())
        assert match
        for endpoint, start, end in (
            ("actual_load", datetime(2025, 12, 20, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC)),
            ("month_ahead_load_forecast", datetime(2025, 6, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        ):
            expected = answer(_window(endpoint, "DE_LU", start, end), now=FIXED_NOW, habits=config.habits())
            assert _fetch(match.group(1), endpoint, "DE_LU", start, end).content == expected.body
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


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
