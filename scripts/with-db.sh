#!/usr/bin/env bash
# `make test` and `make bench`: set-up, the database started, then COMMAND with its exit code:
#   scripts/with-db.sh COMMAND [ARGS]
# A cluster this script started is stopped again when COMMAND ends.
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

say "running: $*"
cd "$REPO_ROOT"
set +e
"$@"
status=$?
set -e
[ "$status" -eq 0 ] || say "'$*' exited with code $status"
exit "$status"
