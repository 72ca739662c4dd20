#!/usr/bin/env bash
# `make test` and `make bench`: set-up, the database started, then COMMAND with its exit code:
#   scripts/with-db.sh COMMAND [ARGS]
# A cluster this script started is stopped again when COMMAND ends. DAGSTER_PG_* are exported as
# for make run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/scripts/setup.sh"
source "$REPO_ROOT/scripts/db.sh"

[ $# -gt 0 ] || die "usage: scripts/with-db.sh COMMAND [ARGS]"
load_dotenv
setup_venv
setup_postgres

started_db=""
stop_started_db() { if [ -n "$started_db" ]; then stop_cluster; fi; }
trap stop_started_db EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if ! external_database && ! cluster_running; then started_db=1; fi
start
# The same Dagster instance storage as `make run`, so that a dagster command run from the repository
# root (which reads ./dagster.yaml when DAGSTER_HOME is unset) finds its DAGSTER_PG_* variables.
export_dagster_env

say "running: $*"
cd "$REPO_ROOT"
set +e
"$@"
status=$?
set -e
[ "$status" -eq 0 ] || say "'$*' exited with code $status"
exit "$status"
