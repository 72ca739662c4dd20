# Common functions of the set-up scripts. Sourced by the other scripts, never run on its own.
# shellcheck shell=bash

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# Where this checkout keeps its state (cluster, Dagster home, logs); another directory runs a second,
# independent instance (the tests of `make run` use that).
LOCAL_DIR="${ENTSOE_LOCAL_DIR:-$REPO_ROOT/.local}"
LOCAL_SHOWN="${LOCAL_DIR#"$REPO_ROOT/"}"   # for messages: .local unless moved elsewhere
VENV_DIR="$REPO_ROOT/.venv"
VENV_PY="$VENV_DIR/bin/python"

# The project-owned PostgreSQL cluster. Everything under PG_DIR belongs to the user the server runs as.
PG_DIR="$LOCAL_DIR/pg"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgresql.log"
# The cluster's Unix socket: a directory only the server's user (and root) may enter, see db.sh.
PG_SOCKET_DIR="$PG_DIR/socket"
PG_PORT_FILE="$LOCAL_DIR/pg-port"                 # the port this checkout's cluster uses (see pg_port)
PG_SUPERUSER_PASSWORD_FILE="$LOCAL_DIR/pg-superuser-password"
DEFAULT_PG_PORT=54329
APP_ROLE=entsoe
APP_PASSWORD=entsoe
DATA_DB=entsoe
DAGSTER_DB=dagster

# Never fails: the reader of our output (a `| tee` hit by the same Ctrl-C) may be gone.
say() { printf '==> %s\n' "$*" >&2 2>/dev/null || true; }

die() {
    printf '\nerror: %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do printf '       %s\n' "$line" >&2; done
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Reads REPO_ROOT/.env: KEY=VALUE lines, '#' comments, an optional leading 'export ', values optionally
# in single or double quotes, no expansion. A variable already in the environment wins over the file,
# so `ENTSOE_PG_PORT=5555 make run` works next to a .env that sets another port.
load_dotenv() {
    local file="$REPO_ROOT/.env" line key value
    [ -f "$file" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        line="${line#"${line%%[![:space:]]*}"}"
        line="${line%"${line##*[![:space:]]}"}"
        case "$line" in '' | '#'*) continue ;; esac
        line="${line#export }"
        key="${line%%=*}"
        [[ "$line" == *=* && "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] \
            || die "$file: cannot read the line '$line'" "Each line must be KEY=VALUE (see .env.example)."
        value="${line#*=}"
        if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then value="${BASH_REMATCH[1]}"; fi
        [ -n "${!key+set}" ] || export "$key=$value"
    done <"$file"
}

# --- Debian packages --------------------------------------------------------------------------------

debian_codename() {
    [ -r /etc/os-release ] || { echo unknown; return; }
    # shellcheck disable=SC1091
    (. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
}

package_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# apt_install PKG...: installs what is missing, or explains what to install when that is not possible.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do package_installed "$pkg" || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null \
        || die "these Debian packages are needed but this system has no apt-get: ${missing[*]}" \
            "Install their equivalents, or point ENTSOE_DATABASE_URL at an existing TimescaleDB."
    is_root || die "these Debian packages are missing and installing them needs root: ${missing[*]}" \
        "Run as root:  apt-get update && apt-get install -y ${missing[*]}" \
        "then run this command again (it does not need root once they are installed)."
    say "installing Debian packages: ${missing[*]}"
    if [ -z "${_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
            || die "apt-get update failed" "Check the network and /etc/apt/sources.list*, then retry."
        _APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
        || die "apt-get install ${missing[*]} failed" "See apt's message above; fix it and run again."
}

# --- PostgreSQL -------------------------------------------------------------------------------------

# The PostgreSQL major version to use: ENTSOE_PG_VERSION, else the one Debian ships for this release
# (TimescaleDB is packaged for 17 on trixie and built from source for 15 on bookworm).
pg_major() {
    if [ -n "${ENTSOE_PG_VERSION:-}" ]; then echo "$ENTSOE_PG_VERSION"; return; fi
    case "$(debian_codename)" in
        bookworm) echo 15 ;;
        trixie) echo 17 ;;
        *)
            local newest
            newest=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null \
                | sed -E 's#/usr/lib/postgresql/([0-9]+)/.*#\1#' | sort -n | tail -n 1)
            [ -n "$newest" ] || die "cannot tell which PostgreSQL to use on '$(debian_codename)'" \
                "Supported: Debian 12 (bookworm) and 13 (trixie). Elsewhere, install PostgreSQL with" \
                "TimescaleDB yourself and set ENTSOE_DATABASE_URL, or set ENTSOE_PG_VERSION."
            echo "$newest"
            ;;
    esac
}

pg_bin() { echo "/usr/lib/postgresql/$(pg_major)/bin"; }

timescaledb_installed() {
    local sharedir
    sharedir=$("$(pg_bin)/pg_config" --sharedir 2>/dev/null) || return 1
    [ -f "$sharedir/extension/timescaledb.control" ]
}

# True when the user runs their own database server (ENTSOE_DATABASE_URL); the scripts then install
# and start nothing for it.
external_database() { [ -n "${ENTSOE_DATABASE_URL:-}" ]; }

# The OS user the project cluster runs as: PostgreSQL refuses to run as root, so root uses the
# 'postgres' system user that Debian's packages create; anyone else runs it as themselves.
pg_os_user() { if is_root; then echo postgres; else id -un; fi; }

# as_pg_user CMD...: runs CMD as pg_os_user, from a directory that user can enter.
as_pg_user() {
    if is_root; then
        (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
        (cd "$PG_DIR" && "$@")
    fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cluster_running() {
    [ -f "$PG_DATA/PG_VERSION" ] || return 1
    as_pg_user "$(pg_bin)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

# The port of this checkout's cluster: the running server's own (line 4 of postmaster.pid), else
# ENTSOE_PG_PORT, else the one recorded when the cluster last started, else 54329.
pg_port() {
    if cluster_running && [ -r "$PG_DATA/postmaster.pid" ]; then
        sed -n 4p "$PG_DATA/postmaster.pid"
    elif [ -n "${ENTSOE_PG_PORT:-}" ]; then
        echo "$ENTSOE_PG_PORT"
    elif [ -s "$PG_PORT_FILE" ]; then
        cat "$PG_PORT_FILE"
    else
        echo "$DEFAULT_PG_PORT"
    fi
}

# A Unix socket path must fit in 107 bytes; a checkout that deep is reached over TCP only.
socket_dir_fits() { [ $((${#PG_SOCKET_DIR} + 16)) -le 107 ]; }

# The URL of a database of this checkout's cluster. Over its Unix socket when the server has one
# (libpq reads host=DIR as the socket's directory): a connection there costs a third of a TCP login
# with SCRAM, and Dagster opens one for every event it stores. The TCP address stays in the URL for
# tools that ignore the parameter.
project_database_url() {
    local port socket=""
    port=$(pg_port)
    [ -S "$PG_SOCKET_DIR/.s.PGSQL.$port" ] && socket="?host=$PG_SOCKET_DIR"
    echo "postgresql://$APP_ROLE:$APP_PASSWORD@127.0.0.1:$port/${1:-$DATA_DB}$socket"
}

database_url() {
    if external_database; then echo "$ENTSOE_DATABASE_URL"; else project_database_url "$DATA_DB"; fi
}

# A URL with its password replaced, for messages.
redact_url() { sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$1"; }

# --- Python -----------------------------------------------------------------------------------------

python_ok() { "$1" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)))' 2>/dev/null; }

# The interpreter the venv is made with: ENTSOE_PYTHON, else python3.11, else python3 when it is 3.11-3.13.
find_python() {
    local candidate
    if [ -n "${ENTSOE_PYTHON:-}" ]; then
        python_ok "$ENTSOE_PYTHON" || die "ENTSOE_PYTHON=$ENTSOE_PYTHON is not a Python 3.11 to 3.13"
        echo "$ENTSOE_PYTHON"
        return
    fi
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null && python_ok "$candidate"; then
            command -v "$candidate"
            return
        fi
    done
    return 1
}

# --- the ENTSO-E simulator (demo mode) ----------------------------------------------------------------

SIMULATOR_PID=""

# Starts `python -m entsoe_pipeline.simulator` on ENTSOE_SIMULATOR_PORT (8765), waits until it listens
# and exports ENTSOE_API_URL to it (unless set). With ALLOW_RUNNING=1 a simulator that already listens
# there (the one `make run` started) is used instead. stop_simulator stops only what this started.
start_simulator() {
    local port="${ENTSOE_SIMULATOR_PORT:-8765}"
    export ENTSOE_API_URL="${ENTSOE_API_URL:-http://127.0.0.1:$port/api}"
    if [ "${ALLOW_RUNNING:-0}" = 1 ] && port_in_use "$port"; then
        say "using the ENTSO-E simulator already on 127.0.0.1:$port"
        return 0
    fi
    require_free_port "$port" "the simulator's" ENTSOE_SIMULATOR_PORT
    say "no ENTSOE_API_TOKEN: demo mode, starting the ENTSO-E simulator on 127.0.0.1:$port (log: $LOCAL_SHOWN/simulator.log)"
    mkdir -p "$LOCAL_DIR"
    "$VENV_PY" -m entsoe_pipeline.simulator --host 127.0.0.1 --port "$port" \
        >"$LOCAL_DIR/simulator.log" 2>&1 </dev/null 9>&- &
    SIMULATOR_PID=$!
    wait_listening "$port" "$SIMULATOR_PID" "the simulator" 30 "$LOCAL_DIR/simulator.log"
}

# wait_listening PORT PID NAME SECONDS [LOG]: returns once something listens on PORT; stops with a
# message (and the end of LOG) when PID exits first or SECONDS pass.
wait_listening() {
    local port=$1 pid=$2 name=$3 seconds=$4 log=${5:-} shown _
    shown="${log#"$REPO_ROOT/"}"
    for _ in $(seq 1 $((seconds * 5))); do
        port_in_use "$port" && return 0
        kill -0 "$pid" 2>/dev/null || die "$name exited before it listened on port $port" \
            ${log:+"The last lines of $shown:" "$(tail -n 5 "$log")"}
        sleep 0.2
    done
    die "$name did not listen on port $port within $seconds s" ${log:+"See $shown"}
}

# require_free_port PORT WHAT VARIABLE: stops with a hint when a program already listens on PORT.
require_free_port() {
    if port_in_use "$1"; then
        die "port $1 ($2) is already in use" "Stop the program using it, or set $3 to a free port."
    fi
}

# The EXIT trap of make run, make run-distributed and make audit: stop what this invocation started.
end_session() {
    trap - EXIT INT TERM
    stop_dagster
    stop_simulator
    leave_cluster_session
}

# --- Dagster (make run, make run-distributed) -----------------------------------------------------------

# The set-up both ways of serving the pipeline share (needs setup.sh and db.sh sourced): the session
# and its database, Dagster's instance (storage in PostgreSQL, DAGSTER_HOME with the project's
# dagster.yaml), the simulator unless ENTSOE_API_TOKEN is set, and the UI's address, DAGSTER_UI_HOST
# and DAGSTER_UI_PORT, checked free. Ends in REPO_ROOT, which workspace.yaml's paths are relative to.
prepare_dagster() {
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
    DAGSTER_UI_PORT="${ENTSOE_DAGSTER_PORT:-3000}"
    # The UI has no login and launches runs: only this machine reaches it unless asked otherwise.
    # shellcheck disable=SC2034  # read by run.sh and run-distributed.sh
    DAGSTER_UI_HOST="${ENTSOE_DAGSTER_HOST:-127.0.0.1}"
    require_free_port "$DAGSTER_UI_PORT" "Dagster's web UI" ENTSOE_DAGSTER_PORT
    cd "$REPO_ROOT"
}

DAGSTER_PIDS=()    # leaders of the process groups start_dagster started, in that order
DAGSTER_NAMES=()   # what each of them is, for messages

# start_dagster NAME COMMAND [ARGS]: runs COMMAND as a job of its own process group, and the caller
# waits for it, so that Ctrl-C and SIGTERM alike stop everything: a foreground command would make bash
# defer the SIGTERM trap until it exits (make passes SIGTERM on to the script alone), and without job
# control a background command ignores SIGINT, which dagster dev then also applies to SIGTERM.
# stop_dagster signals the whole group: the process, its code servers and any run worker.
start_dagster() {
    local name=$1
    shift
    set -m
    "$@" 9>&- &
    DAGSTER_PIDS+=("$!")
    DAGSTER_NAMES+=("$name")
    set +m
}

# Stops what start_dagster started, the last started first (the daemon and the webserver of make
# run-distributed before the code server they call).
stop_dagster() {
    local last pid name
    while [ ${#DAGSTER_PIDS[@]} -gt 0 ]; do
        last=$((${#DAGSTER_PIDS[@]} - 1))
        pid=${DAGSTER_PIDS[last]}
        name=${DAGSTER_NAMES[last]}
        # Off the list before the wait: a second Ctrl-C meanwhile must not stop it twice.
        unset "DAGSTER_PIDS[last]" "DAGSTER_NAMES[last]"
        stop_group "$pid" "$name"
    done
}

# stop_group PID NAME: stops the process group PID leads. The leader first, alone: dagster dev handles
# SIGTERM as an interrupt and shuts its webserver and daemon down; signalled together, its code-server
# manager would restart the code servers it sees exit. Then whatever is left of the group (code
# servers, run workers), and SIGKILL for what still runs after that.
stop_group() {
    local group=$1 name=$2
    kill -0 -- "-$group" 2>/dev/null || return 0
    say "stopping $name"
    kill -TERM "$group" 2>/dev/null || true
    if wait_until_gone "$group" 30; then
        wait "$group" 2>/dev/null || true
    else
        say "$name did not stop within 30 s"   # waiting for it would wait for ever
    fi
    kill -TERM -- "-$group" 2>/dev/null || return 0
    wait_until_gone "-$group" 10 && return 0
    say "killing what is left of the processes of $name"
    kill -KILL -- "-$group" 2>/dev/null || true
}

# wait_until_gone PID|-PGID SECONDS: true once nothing answers to that process (group).
wait_until_gone() {
    local target=$1 _
    for _ in $(seq 1 $(($2 * 5))); do
        kill -0 -- "$target" 2>/dev/null || return 0
        sleep 0.2
    done
    return 1
}

stop_simulator() {
    if [ -n "$SIMULATOR_PID" ] && kill -0 "$SIMULATOR_PID" 2>/dev/null; then
        say "stopping the simulator"
        kill "$SIMULATOR_PID" 2>/dev/null || true
        wait "$SIMULATOR_PID" 2>/dev/null || true
    fi
    SIMULATOR_PID=""
}
