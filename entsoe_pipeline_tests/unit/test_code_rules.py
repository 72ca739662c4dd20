"""Rules the code keeps, checked with the same tools `make lint` runs, so CI enforces them."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).parent / "ruff"


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUFF), *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_only_the_dagster_layer_imports_dagster():
    # TID251 bans `dagster` everywhere but entsoe_pipeline/defs and definitions.py (pyproject.toml).
    result = _ruff("check", "--select", "TID251", "entsoe_pipeline")
    assert result.returncode == 0, result.stdout


def _tracked_python_files() -> list[str]:
    # Only what is committed: a colleague's work in progress in the same checkout is not judged.
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_ruff_lint_and_format_are_clean():
    files = _tracked_python_files()
    assert files
    lint = _ruff("check", *files)
    assert lint.returncode == 0, lint.stdout
    fmt = _ruff("format", "--check", *files)
    assert fmt.returncode == 0, fmt.stdout
