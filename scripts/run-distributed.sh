#!/usr/bin/env bash
# `make run-distributed`: the set-up of `make run`, then Dagster in the shape it is deployed in beyond
# one machine: three processes against the same instance storage in PostgreSQL.
#   the code server   `dagster api grpc -m entsoe_pipeline.definitions`: the only process that loads
#                     the pipeline's code; it evaluates sensors and starts the run workers
#   the webserver     `dagster-webserver -w deploy/workspace-grpc.yaml`: the UI, asks the code server
#   the daemon        `dagster-daemon run -w deploy/workspace-grpc.yaml`: schedules, sensors, automation,
#                     backfills and the run queue
# ENTSOE_CODE_SERVER_PORT (4266) is the code server's port. Ctrl-C and SIGTERM stop all three and what
# they started, then the simulator and the database cluster as make run does.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/scripts/setup.sh"
source "$REPO_ROOT/scripts/db.sh"

prepare_dagster
# The code server runs whatever its callers ask for and has no login: it serves this machine only.
export ENTSOE_CODE_SERVER_HOST=127.0.0.1
export ENTSOE_CODE_SERVER_PORT="${ENTSOE_CODE_SERVER_PORT:-4266}"
require_free_port "$ENTSOE_CODE_SERVER_PORT" "the code server's" ENTSOE_CODE_SERVER_PORT
workspace=deploy/workspace-grpc.yaml

trap 'stop_dagster; exit 0' INT
trap 'stop_dagster; exit 143' TERM
say "starting the code server on $ENTSOE_CODE_SERVER_HOST:$ENTSOE_CODE_SERVER_PORT (dagster api grpc -m entsoe_pipeline.definitions)"
start_dagster "the code server" "$VENV_DIR/bin/dagster" api grpc -m entsoe_pipeline.definitions \
    --location-name entsoe -h "$ENTSOE_CODE_SERVER_HOST" -p "$ENTSOE_CODE_SERVER_PORT"
# It listens once the definitions are loaded: the webserver and the daemon find them at their start.
wait_listening "$ENTSOE_CODE_SERVER_PORT" "${DAGSTER_PIDS[0]}" "the code server" 300
say "starting the daemon and the webserver on http://$DAGSTER_UI_HOST:$DAGSTER_UI_PORT (DAGSTER_HOME=$LOCAL_SHOWN/dagster_home, instance in $(redact_url "$DAGSTER_PG_URL"), workspace $workspace); Ctrl-C stops them"
start_dagster "the daemon" "$VENV_DIR/bin/dagster-daemon" run -w "$workspace"
start_dagster "the webserver" "$VENV_DIR/bin/dagster-webserver" -w "$workspace" \
    -h "$DAGSTER_UI_HOST" -p "$DAGSTER_UI_PORT"

# None of the three is meant to end on its own: when one does, the others are stopped with it.
status=0 gone=""
wait -n -p gone "${DAGSTER_PIDS[@]}" || status=$?
for i in "${!DAGSTER_PIDS[@]}"; do
    if [ "${DAGSTER_PIDS[i]}" = "$gone" ]; then
        say "${DAGSTER_NAMES[i]} exited (status $status): stopping the others"
    fi
done
exit 1
