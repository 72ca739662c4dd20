#!/usr/bin/env bash
# The project's database server:
#   scripts/db.sh start          start this checkout's cluster (.local/pg), creating it on first use,
#                                with the role entsoe/entsoe and the databases entsoe and dagster
#   scripts/db.sh stop           stop it
#   scripts/db.sh status         say whether it runs (exit code 0 when it does)
#   scripts/db.sh url            print the data database URL
#   scripts/db.sh admin-url      print a URL whose role may CREATE DATABASE (used by the tests):
#                                ENTSOE_TEST_ADMIN_URL, else ENTSOE_DATABASE_URL, else the cluster's
#   scripts/db.sh psql [ARGS]    psql on the data database
#   scripts/db.sh create-db NAME create database NAME owned by the application role, if missing
#   scripts/db.sh dagster-env    print DAGSTER_PG_URL, the instance storage URL dagster.yaml reads
# With ENTSOE_DATABASE_URL set, the server is the user's: start/stop/status only check it.
#
# Port: ENTSOE_PG_PORT when set; otherwise 54329, or the next free port when 54329 is taken by
# something else (another checkout's cluster, say). The port chosen is kept in .local/pg-port and
# read back by `url`, so the scripts and the tests always agree.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

superuser_psql() {
    PGOPTIONS='-c client_min_messages=warning' PGPASSWORD=$(cat "$PG_SUPERUSER_PASSWORD_FILE") \
        "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port)" -U postgres "$@"
}

init_cluster() {
    say "creating the project's PostgreSQL $(pg_major) cluster in ${PG_DATA#"$REPO_ROOT/"}"
    mkdir -p "$PG_DIR"
    if is_root; then
        id postgres >/dev/null 2>&1 || die "the system user 'postgres' does not exist" \
            "Install Debian's postgresql package (scripts/setup.sh does), which creates it."
        chown postgres:postgres "$PG_DIR"
        allow_traversal postgres "$PG_DIR"
    fi
    # The superuser's password lives only in .local; the application role gets its own below.
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$PG_SUPERUSER_PASSWORD_FILE")
    local pwfile="$PG_DIR/initdb-password"
    install -m 600 "$PG_SUPERUSER_PASSWORD_FILE" "$pwfile"
    is_root && chown postgres:postgres "$pwfile"
    as_pg_user "$(pg_bin)/initdb" -D "$PG_DATA" -U postgres --pwfile="$pwfile" \
        --auth-local=reject --auth-host=scram-sha-256 -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 \
        || { rm -f "$pwfile"; die "initdb failed" "Its output is in $PG_DIR/initdb.log"; }
    rm -f "$pwfile"
    # Settings the scripts own live in entsoe.conf, rewritten at every start.
    printf "\ninclude_if_exists = 'entsoe.conf'\n" | as_pg_user tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

# allow_traversal USER PATH: PostgreSQL runs as USER and must be able to enter every directory above
# its data directory. A checkout under a 0700 directory (mktemp -d, a home directory) gets the
# search bit for others on that directory only: no listing, no reading.
allow_traversal() {
    local user="$1" dir="" part parts
    IFS=/ read -ra parts <<<"${2#/}"
    # From the root down, so that only the directories that really block are changed.
    for part in "${parts[@]}"; do
        dir="$dir/$part"
        if ! runuser -u "$user" -- test -x "$dir" 2>/dev/null; then
            say "letting user '$user' enter $dir (chmod o+x) to reach the cluster's data directory"
            chmod o+x "$dir"
        fi
    done
}

write_cluster_config() {
    local pkglibdir telemetry="# timescaledb.telemetry_level: telemetry is compiled out of this build"
    pkglibdir=$("$(pg_bin)/pg_config" --pkglibdir)
    # Debian's package and scripts/build-timescaledb.sh compile TimescaleDB's telemetry out; the
    # setting only exists (and is only accepted without a warning) where it was compiled in.
    if grep -qa telemetry_level "$pkglibdir"/timescaledb-[0-9]*.so 2>/dev/null; then
        telemetry="timescaledb.telemetry_level = off"
    fi
    local sockets="''"
    if socket_dir_fits; then
        as_pg_user mkdir -p "$PG_SOCKET_DIR"
        as_pg_user chmod 700 "$PG_SOCKET_DIR"
        sockets="'$PG_SOCKET_DIR'"
    fi
    as_pg_user tee "$PG_DATA/entsoe.conf" >/dev/null <<EOF
# Written by scripts/db.sh at every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
# A socket of its own (none in the system's /var/run/postgresql), in a directory of mode 0700.
unix_socket_directories = $sockets
unix_socket_permissions = 0700
shared_preload_libraries = 'timescaledb'
$telemetry
password_encryption = 'scram-sha-256'
max_connections = 200          # dagster dev's webserver, daemon and runs each hold pools
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    # Whoever reaches the socket is the server's own user or root (its directory is 0700): they
    # could read the data files anyway, so no password is asked there. TCP asks for one (SCRAM).
    as_pg_user tee "$PG_DATA/pg_hba.conf" >/dev/null <<EOF
# Written by scripts/db.sh at every start; edit the script, not this file.
local   all  all                 trust
host    all  all  127.0.0.1/32   scram-sha-256
host    all  all  ::1/128        scram-sha-256
EOF
}

choose_port() {
    local port
    port=$(pg_port)
    if port_in_use "$port"; then
        [ -z "${ENTSOE_PG_PORT:-}" ] || die "port $port (ENTSOE_PG_PORT) is already in use by another program" \
            "Stop that program or set ENTSOE_PG_PORT to a free port."
        local first="$port"
        while port_in_use "$port"; do
            port=$((port + 1))
            [ $((port - first)) -lt 100 ] || die "no free port in $first-$port" "Set ENTSOE_PG_PORT to a free port."
        done
        say "port $first is taken by another program, using $port for this checkout's cluster"
    fi
    echo "$port" >"$PG_PORT_FILE"
}

# Idempotent: the application role, its databases and the extension in the data database.
ensure_roles_and_databases() {
    superuser_psql -d postgres <<EOF
SELECT 'CREATE ROLE $APP_ROLE LOGIN CREATEDB PASSWORD ''$APP_PASSWORD'''
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$APP_ROLE') \gexec
SELECT 'CREATE DATABASE ' || d || ' OWNER $APP_ROLE' FROM unnest(ARRAY['$DATA_DB', '$DAGSTER_DB']) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \gexec
EOF
    superuser_psql -d "$DATA_DB" -c 'CREATE EXTENSION IF NOT EXISTS timescaledb' \
        || die "CREATE EXTENSION timescaledb failed in database $DATA_DB" "See $PG_LOG"
}

start() {
    if external_database; then
        check_external
        return
    fi
    [ -x "$(pg_bin)/pg_ctl" ] || die "PostgreSQL $(pg_major) is not installed" "Run: make setup"
    timescaledb_installed || die "the TimescaleDB extension is not installed for PostgreSQL $(pg_major)" "Run: make setup"
    mkdir -p "$LOCAL_DIR"
    # One start at a time per checkout (fd 8): two sessions starting together must not both initdb.
    exec 8>>"$LOCAL_DIR/pg-start.lock"
    flock -x 8
    [ -f "$PG_DATA/PG_VERSION" ] || init_cluster
    local data_major
    data_major=$(cat "$PG_DATA/PG_VERSION")
    [ "$data_major" = "$(pg_major)" ] || die "${PG_DATA#"$REPO_ROOT/"} was made by PostgreSQL $data_major, but $(pg_major) is in use" \
        "Remove it with 'make clean' (its data is lost) or set ENTSOE_PG_VERSION=$data_major."
    if cluster_running; then
        say "PostgreSQL already running on port $(pg_port) (${PG_DATA#"$REPO_ROOT/"})"
    else
        choose_port
        write_cluster_config
        say "starting PostgreSQL $(pg_major) on 127.0.0.1:$(pg_port) (log: ${PG_LOG#"$REPO_ROOT/"})"
        # The server must not inherit the lock descriptors (8, 9), or it would hold the locks forever.
        as_pg_user "$(pg_bin)/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "-p $(pg_port)" -w -t 60 start \
            >/dev/null 8>&- 9>&- \
            || die "PostgreSQL did not start" "The last lines of $PG_LOG:" "$(tail -n 5 "$PG_LOG" 2>/dev/null)"
    fi
    ensure_roles_and_databases
    exec 8>&-
}

# A session (make run, make test, make bench) holds a shared lock on .local/pg-sessions.lock (fd 9)
# while it uses the cluster; so do the test fixtures. The session that started the cluster stops it
# at its end only when it can take the lock exclusively, i.e. when no other session still uses it.
join_cluster_session() {
    STARTED_CLUSTER=""
    if ! external_database; then
        mkdir -p "$LOCAL_DIR"
        exec 9>>"$LOCAL_DIR/pg-sessions.lock"
        flock -s 9
        cluster_running || STARTED_CLUSTER=1
    fi
    start
}

# How make run, make audit, make test and make bench start: set-up done, the database started and
# this session joined to it. ON_EXIT (end_session or leave_cluster_session) stops what the session
# started; Ctrl-C exits with INT_STATUS (0 for make run, which is meant to stop that way), SIGTERM
# with 143.
begin_session() {
    local on_exit=$1 int_status=$2
    load_dotenv
    setup_venv
    setup_postgres
    trap "$on_exit" EXIT
    # shellcheck disable=SC2064  # the status is fixed now
    trap "exit $int_status" INT
    trap 'exit 143' TERM
    trap '' PIPE  # the clean-up goes on when whoever read our output is gone
    join_cluster_session
}

leave_cluster_session() {
    [ -n "${STARTED_CLUSTER:-}" ] || return 0
    if flock -x -n 9; then
        stop_cluster
    else
        say "leaving PostgreSQL running: another session (make run, make test, pytest) still uses it"
    fi
    exec 9>&-
}

check_external() {
    local psql
    psql=$(command -v psql || true)
    [ -n "$psql" ] || { say "ENTSOE_DATABASE_URL is set; psql is not installed, so it is not checked here"; return 0; }
    "$psql" -X -q -At -d "$ENTSOE_DATABASE_URL" -c 'select 1' >/dev/null 2>&1 \
        || die "cannot connect to ENTSOE_DATABASE_URL ($(redact_url "$ENTSOE_DATABASE_URL"))" \
            "Check that the server runs and the URL is right (psql \"\$ENTSOE_DATABASE_URL\")."
    say "using the database at $(redact_url "$ENTSOE_DATABASE_URL")"
}

stop() {
    if external_database; then
        say "ENTSOE_DATABASE_URL is set: the server is yours, nothing to stop"
    else
        stop_cluster
    fi
}

stop_cluster() {
    if cluster_running; then
        say "stopping PostgreSQL (${PG_DATA#"$REPO_ROOT/"})"
        as_pg_user "$(pg_bin)/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
    else
        say "PostgreSQL is not running (${PG_DATA#"$REPO_ROOT/"})"
    fi
}

status() {
    if external_database; then
        check_external
    elif cluster_running; then
        say "PostgreSQL running on 127.0.0.1:$(pg_port) (${PG_DATA#"$REPO_ROOT/"})"
    else
        say "PostgreSQL is not running (${PG_DATA#"$REPO_ROOT/"})"
        return 3
    fi
}

psql_client() {
    if [ -x "$(pg_bin 2>/dev/null)/psql" ]; then echo "$(pg_bin)/psql"; else command -v psql || die "psql is not installed" "apt-get install postgresql-client"; fi
}

create_db() {
    local name="${1:?usage: scripts/db.sh create-db NAME}"
    [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "database name '$name' must be lower-case letters, digits and _"
    if external_database; then
        "$(psql_client)" -X -q -At -d "$ENTSOE_DATABASE_URL" -v ON_ERROR_STOP=1 <<EOF
SELECT 'CREATE DATABASE $name' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$name') \gexec
EOF
    else
        superuser_psql -d postgres <<EOF
SELECT 'CREATE DATABASE $name OWNER $APP_ROLE'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$name') \gexec
EOF
    fi
}

# Where Dagster keeps its instance (runs, events, schedules), as the URL dagster.yaml reads: from
# DAGSTER_PG_HOST... when set, else DAGSTER_PG_URL, else the database 'dagster' next to the data
# database. The scheme names psycopg2 (SQLAlchemy 2.1 reads a plain postgresql:// as psycopg 3).
dagster_env() {
    if [ -n "${DAGSTER_PG_HOST:-}" ]; then
        local v
        for v in DAGSTER_PG_HOST DAGSTER_PG_PORT DAGSTER_PG_USER DAGSTER_PG_PASSWORD DAGSTER_PG_DB; do
            [ -n "${!v:-}" ] || die "DAGSTER_PG_HOST is set but $v is not" "Set all five DAGSTER_PG_* variables, or DAGSTER_PG_URL instead."
        done
        "$VENV_PY" - "$DAGSTER_PG_HOST" "$DAGSTER_PG_PORT" "$DAGSTER_PG_USER" "$DAGSTER_PG_PASSWORD" "$DAGSTER_PG_DB" <<'EOF'
import sys
from urllib.parse import quote

host, port, user, password, db = sys.argv[1:]
user, password, db = (quote(v, safe="") for v in (user, password, db))
print(f"DAGSTER_PG_URL=postgresql+psycopg2://{user}:{password}@{host}:{port}/{db}")
EOF
        return
    fi
    local url="${DAGSTER_PG_URL:-}"
    if [ -z "$url" ]; then
        if external_database; then
            url=$(replace_db_name "$ENTSOE_DATABASE_URL" "$DAGSTER_DB")
        else
            url=$(project_database_url "$DAGSTER_DB")
        fi
    fi
    "$VENV_PY" - "$url" <<'EOF'
import sys
from urllib.parse import urlsplit

url = urlsplit(sys.argv[1])
if url.scheme.split("+")[0] not in ("postgresql", "postgres") or not url.hostname or not url.path.strip("/"):
    sys.exit("error: the Dagster storage URL must look like postgresql://user:password@host:port/db")
print(f"DAGSTER_PG_URL={url._replace(scheme='postgresql+psycopg2').geturl()}")
EOF
}

# Exports what dagster_env prints into this shell (for the scripts that start dagster or the tests).
export_dagster_env() {
    local vars line
    vars=$(dagster_env)
    while IFS= read -r line; do export "${line?}"; done <<<"$vars"
}

replace_db_name() { sed -E "s#^([^?]*/)[^/?]*(\\?.*)?\$#\\1$2\\2#" <<<"$1"; }

main() {
    load_dotenv
    local cmd="${1:-}"
    [ $# -gt 0 ] && shift
    case "$cmd" in
        start) start ;;
        stop) stop ;;
        status) status ;;
        url) database_url ;;
        admin-url)
            if [ -n "${ENTSOE_TEST_ADMIN_URL:-}" ]; then
                echo "$ENTSOE_TEST_ADMIN_URL"
            elif external_database; then
                echo "$ENTSOE_DATABASE_URL"
            else
                project_database_url postgres
            fi
            ;;
        psql) exec "$(psql_client)" "$(database_url)" "$@" ;;
        create-db) create_db "$@" ;;
        dagster-env) dagster_env ;;
        *) die "unknown command '${cmd}'" "Usage: scripts/db.sh start|stop|status|url|admin-url|psql [ARGS]|create-db NAME|dagster-env" ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
