#!/usr/bin/env bash
# `make audit`: re-fetch a sample of stored windows and compare them with the store
# (python -m entsoe_pipeline.audit; AUDIT_ARGS='--sample 10 --days 30' passes options). In demo mode
# the simulator `make run` serves is used, or one is started for the audit and stopped after it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/scripts/setup.sh"
source "$REPO_ROOT/scripts/db.sh"

begin_session end_session 130
export ENTSOE_DATABASE_URL
ENTSOE_DATABASE_URL=$(database_url)
if [ -z "${ENTSOE_API_TOKEN:-}" ]; then
    ALLOW_RUNNING=1 start_simulator
fi
cd "$REPO_ROOT"
set +e
# shellcheck disable=SC2086
"$VENV_PY" -m entsoe_pipeline.audit "$@" 9>&-
status=$?
set -e
exit "$status"
