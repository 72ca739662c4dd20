#!/usr/bin/env bash
# `make run`: set-up, database, the ENTSO-E simulator when no ENTSOE_API_TOKEN is set, then
# `dagster dev` (webserver and daemon) with its instance in PostgreSQL. Ctrl-C stops what this
# invocation started: dagster, the simulator, and the database cluster if it was not already running.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/scripts/setup.sh"
source "$REPO_ROOT/scripts/db.sh"

begin_session end_session 0   # Ctrl-C is how make run is meant to stop
export ENTSOE_DATABASE_URL
ENTSOE_DATABASE_URL=$(database_url)

# Dagster's instance storage: its own database unless the user named one.
if [ -z "${DAGSTER_PG_HOST:-}${DAGSTER_PG_URL:-}" ] && external_database; then
    if ! create_db "$DAGSTER_DB" >/dev/null 2>&1; then
        say "cannot create database '$DAGSTER_DB' on that server: Dagster's tables go into the data database"
        export DAGSTER_PG_URL="$ENTSOE_DATABASE_URL"
    fi
fi
export_dagster_env

export DAGSTER_HOME="$LOCAL_DIR/dagster_home"
mkdir -p "$DAGSTER_HOME"
cmp -s "$REPO_ROOT/dagster.yaml" "$DAGSTER_HOME/dagster.yaml" || cp "$REPO_ROOT/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"

if [ -z "${ENTSOE_API_TOKEN:-}" ]; then
    start_simulator
else
    export ENTSOE_API_URL="${ENTSOE_API_URL:-https://web-api.tp.entsoe.eu/api}"
    say "ENTSOE_API_TOKEN is set: using the ENTSO-E API at $ENTSOE_API_URL"
fi

"$VENV_PY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("entsoe_pipeline.definitions") is None)' \
    || die "the module entsoe_pipeline.definitions does not exist, so Dagster has nothing to load"
dagster_port="${ENTSOE_DAGSTER_PORT:-3000}"
# The UI has no login and launches runs: only this machine reaches it unless asked otherwise.
dagster_host="${ENTSOE_DAGSTER_HOST:-127.0.0.1}"
port_in_use "$dagster_port" && die "port $dagster_port (Dagster's web UI) is already in use" \
    "Stop the program using it, or set ENTSOE_DAGSTER_PORT to a free port."
say "starting dagster dev on http://$dagster_host:$dagster_port (DAGSTER_HOME=$LOCAL_SHOWN/dagster_home, instance in $(redact_url "$DAGSTER_PG_URL")); Ctrl-C stops it"
cd "$REPO_ROOT"
# dagster dev runs as a job of its own process group, and this shell waits for it, so that Ctrl-C and
# SIGTERM alike stop everything: a foreground command would make bash defer the SIGTERM trap until it
# exits (make passes SIGTERM on to this script alone), and without job control a background command
# ignores SIGINT, which dagster dev then also applies to SIGTERM. stop_dagster signals the whole group:
# dagster dev, the webserver, the daemon, the code servers and any run worker.
set -m
"$VENV_DIR/bin/dagster" dev -w workspace.yaml -h "$dagster_host" -p "$dagster_port" 9>&- &
DAGSTER_PID=$!
set +m
trap 'stop_dagster; exit 0' INT
trap 'stop_dagster; exit 143' TERM
wait "$DAGSTER_PID"
