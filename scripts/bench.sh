#!/usr/bin/env bash
# Runs every benchmarks/*.py with the venv's Python, in name order, except modules named _*.py (shared
# code); fails when one fails or none exist.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

shopt -s nullglob
benchmarks=("$REPO_ROOT"/benchmarks/*.py)
[ ${#benchmarks[@]} -gt 0 ] || die "no benchmarks/*.py to run"
failed=()
for bench in "${benchmarks[@]}"; do
    [[ "$(basename "$bench")" == _* ]] && continue
    say "benchmark ${bench#"$REPO_ROOT/"}"
    "$VENV_PY" "$bench" || failed+=("${bench#"$REPO_ROOT/"}")
done
[ ${#failed[@]} -eq 0 ] || die "these benchmarks failed: ${failed[*]}"
