"""`make run` as a person uses it, in a terminal (tmux): Ctrl-C and SIGTERM each stop every process it
started, and a history fill interrupted by Ctrl-C is finished by the next `make run`, with no gap.

The instance is private: its own state directory (ENTSOE_LOCAL_DIR, so its own PostgreSQL cluster
and Dagster home) and free ports, so it neither sees nor disturbs the suite's cluster.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from entsoe_pipeline_tests.fixtures.make_run import REPO_ROOT, MakeRunInstance, private_make_run
from entsoe_pipeline_tests.fixtures.polling import wait_for
from entsoe_pipeline_tests.fixtures.processes import descendants, user_environment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

HISTORY_DAYS = 90


@dataclass
class Terminal:
    """A tmux server of its own (so its shells inherit this session's environment) with one bash."""

    socket_name: str

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket_name, *args],
            check=True,
            capture_output=True,
            text=True,
            env=user_environment(),
        ).stdout

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-t", "run", line, "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-5000", "-t", "run")

    def shell_pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", "run", "#{pane_pid}").strip())


def _command(instance: MakeRunInstance, history_start: str) -> str:
    settings = instance.settings(
        ENTSOE_AREAS="NL", ENTSOE_ENDPOINTS="actual_load", ENTSOE_HISTORY_START=history_start
    )
    assignments = " ".join(f"{k}={v}" for k, v in settings.items())
    return f"cd {REPO_ROOT} && {assignments} make run; echo EXITED:$?"


def _run_workers(instance: MakeRunInstance) -> list[str]:
    """Run workers and step processes: the code server starts them with multiprocessing's spawn,
    the multiprocess executor with `dagster api execute_step`."""
    markers = ("spawn_main", "execute_run", "execute_step")
    return [c for c in instance.processes().values() if any(m in c for m in markers)]


def _days_stored(instance: MakeRunInstance, first: str, last: str) -> dict[str, int]:
    try:
        with psycopg2.connect(instance.data_url(), connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT (time AT TIME ZONE 'UTC')::date::text, count(*) FROM entsoe.observations"
                " WHERE endpoint = 'actual_load' AND area = '10YNL----------L'"
                " AND time >= %s::date AND time < %s::date + 1 GROUP BY 1",
                (first, last),
            )
            return dict(cur.fetchall())
    except psycopg2.Error:
        return {}


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed; run `make setup`", pytrace=False)
    term = Terminal(f"entsoe-test-{uuid.uuid4().hex[:8]}")
    term.tmux("new-session", "-d", "-s", "run", "-x", "220", "-y", "50", "bash --norc --noprofile")
    try:
        yield term
    finally:
        subprocess.run(["tmux", "-L", term.socket_name, "kill-server"], check=False, capture_output=True)


@pytest.fixture
def instance() -> Iterator[MakeRunInstance]:
    with private_make_run() as inst:
        yield inst


def _start(terminal: Terminal, instance: MakeRunInstance, history_start: str) -> None:
    terminal.type(_command(instance, history_start))
    wait_for("the Dagster UI of `make run`", instance.ui_up, timeout=420, interval=2)


def _stop(terminal: Terminal, instance: MakeRunInstance, how: str) -> float:
    """Stops `make run` with Ctrl-C or a SIGTERM to make; returns the seconds until nothing of it runs."""
    running = instance.processes()
    assert running, "make run has no process to stop"
    started = time.monotonic()
    if how == "ctrl-c":
        terminal.tmux("send-keys", "-t", "run", "C-c")
    else:
        make = [pid for pid in descendants(terminal.shell_pid()) if running.get(pid, "").startswith("make")]
        assert len(make) == 1, f"expected one make process, found {make}"
        os.kill(make[0], signal.SIGTERM)
    wait_for(f"make run to exit after {how}", lambda: "EXITED:" in terminal.screen(), timeout=120, interval=1)
    left = instance.wait_gone()
    elapsed = time.monotonic() - started
    assert not left, f"still running {elapsed:.0f}s after {how}: " + "; ".join(c[:120] for c in left.values())
    return elapsed


def test_ctrl_c_and_sigterm_stop_everything_and_an_interrupted_fill_is_finished_by_the_next_run(
    terminal: Terminal, instance: MakeRunInstance
) -> None:
    today = datetime.now(UTC).date()
    start = today - timedelta(days=HISTORY_DAYS)
    last_full_day = today - timedelta(days=2)

    _start(terminal, instance, start.isoformat())
    # The automation fills the history as a backfill: stop while its runs are executing.
    wait_for("a run worker of the history fill", lambda: _run_workers(instance), timeout=300, interval=0.5)
    elapsed = _stop(terminal, instance, "ctrl-c")
    print(f"Ctrl-C stopped everything in {elapsed:.1f}s")
    stored_before = _days_stored(instance, start.isoformat(), last_full_day.isoformat())

    terminal.type("clear")
    _start(terminal, instance, start.isoformat())
    expected_days = (last_full_day - start).days + 1

    def complete() -> bool:
        days = _days_stored(instance, start.isoformat(), last_full_day.isoformat())
        return len(days) == expected_days and min(days.values()) >= 96

    wait_for(f"{expected_days} full days of NL actual load", complete, timeout=600, interval=5)
    assert len(stored_before) < expected_days, "the fill was already complete before Ctrl-C"

    elapsed = _stop(terminal, instance, "sigterm")
    print(f"SIGTERM stopped everything in {elapsed:.1f}s")
    screen = terminal.screen()
    assert "stopping dagster dev" in screen and "stopping PostgreSQL" in screen
