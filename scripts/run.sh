#!/usr/bin/env bash
# `make run`: set-up, database, the ENTSO-E simulator when no ENTSOE_API_TOKEN is set, then
# `dagster dev` (webserver and daemon) with its instance in PostgreSQL. Ctrl-C stops what this
# invocation started: dagster, the simulator, and the database cluster if it was not already running.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/scripts/setup.sh"
source "$REPO_ROOT/scripts/db.sh"

prepare_dagster
say "starting dagster dev on http://$DAGSTER_UI_HOST:$DAGSTER_UI_PORT (DAGSTER_HOME=$LOCAL_SHOWN/dagster_home, instance in $(redact_url "$DAGSTER_PG_URL")); Ctrl-C stops it"
# stop_dagster stops dagster dev alone first: it shuts down its webserver, daemon and code servers.
start_dagster "dagster dev" "$VENV_DIR/bin/dagster" dev -w workspace.yaml -h "$DAGSTER_UI_HOST" -p "$DAGSTER_UI_PORT"
trap 'stop_dagster; exit 0' INT
trap 'stop_dagster; exit 143' TERM
wait "${DAGSTER_PIDS[0]}"
