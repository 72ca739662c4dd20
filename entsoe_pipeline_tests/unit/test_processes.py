"""The session's leak check finds a process the suite left behind, also one started with the filtered
environment the e2e tests give `dagster dev`, its code servers and run workers."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]

# A session whose one test starts a child that outlives it, with the environment ``ENV`` builds.
STRAY = """
import os, subprocess, sys
from entsoe_pipeline_tests.fixtures.processes import user_environment

ENV = {env}

def test_leaves_a_child_behind():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], env=ENV())
    with open("child.pid", "w") as f:
        f.write(str(child.pid))
"""


def _session(pytester: pytest.Pytester, env: str) -> tuple[pytest.RunResult, int]:
    pytester.makepyfile(test_stray=STRAY.format(env=env))
    # The check waits for shutdowns under way; the stray sleeps on, so a second is enough here.
    pytester.makeconftest("import entsoe_pipeline_tests.fixtures.processes as p\np._GRACE_SECONDS = 1\n")
    result = pytester.runpytest_subprocess("-p", "entsoe_pipeline_tests.fixtures.processes")
    return result, int((pytester.path / "child.pid").read_text())


def test_a_stray_child_started_with_a_users_environment_fails_the_session(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    result, pid = _session(pytester, "user_environment")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*left 1 process(es) running (now killed)*", f"*{pid}: *time.sleep(120)*"])
    assert not Path(f"/proc/{pid}/cmdline").exists() or not Path(f"/proc/{pid}/cmdline").read_bytes()


def test_without_the_marker_the_same_child_goes_unseen(pytester, monkeypatch):
    # What the e2e tests did before: every ENTSOE_* variable dropped, the marker with them.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    blind = "lambda: {k: v for k, v in os.environ.items() if not k.startswith('ENTSOE_')}"
    result, pid = _session(pytester, blind)
    try:
        assert result.ret == pytest.ExitCode.OK
    finally:
        os.kill(pid, signal.SIGKILL)
