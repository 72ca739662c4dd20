#!/usr/bin/env bash
# `make test` and `make bench`: set-up, the database started, then COMMAND with its exit code:
#   scripts/with-db.sh COMMAND [ARGS]
# A cluster this script started is stopped again when COMMAND ends, unless another session (see
# join_cluster_session in db.sh) still uses it. DAGSTER_PG_URL is exported as for make run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/scripts/setup.sh"
source "$REPO_ROOT/scripts/db.sh"

[ $# -gt 0 ] || die "usage: scripts/with-db.sh COMMAND [ARGS]"
begin_session leave_cluster_session 130
export_dagster_env

say "running: $*"
cd "$REPO_ROOT"
set +e
"$@" 9>&-
status=$?
set -e
[ "$status" -eq 0 ] || say "'$*' exited with code $status"
exit "$status"
