#!/usr/bin/env bash
# `make soak`: set-up, the project's cluster started (Dagster's storage goes there), the parser fuzzed
# with many more mutated documents than `make test` tries (SOAK_FUZZ_EXAMPLES, default 20000), then
# the soak (python -m soak.soak): faults at random while the pipeline runs, then a catch-up and the
# count of rows lost. SOAK_MINUTES (default 8), SOAK_SEED and SOAK_CATCHUP_MINUTES (default 20) tune
# it; the report is also written to .local/soak-report.json.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export ENTSOE_FUZZ_EXAMPLES="${SOAK_FUZZ_EXAMPLES:-20000}"
exec bash "$REPO_ROOT/scripts/with-db.sh" bash -c '
    "$1/bin/pytest" -q -p no:cacheprovider "$2/entsoe_pipeline_tests/unit/test_parser_fuzz.py" &&
    exec "$1/bin/python" -m soak.soak' soak "$VENV_DIR" "$REPO_ROOT"
