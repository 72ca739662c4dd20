#!/usr/bin/env bash
# Installs what the project needs, skipping every step that is already done:
#   scripts/setup.sh [all|venv|postgres|test-tools]
#   venv      .venv with `pip install -e '.[EXTRAS]'` (EXTRAS from ENTSOE_PIP_EXTRAS, default dev)
#   test-tools  what the tests drive besides Python: tmux (the terminal of the `make run` tests) and
#             chromium (the browser of the UI tests)
#   postgres  PostgreSQL and the TimescaleDB extension (Debian packages; on Debian 12 TimescaleDB is
#             built from Debian's own source package, see DEVELOPERS.md). Skipped when
#             ENTSOE_DATABASE_URL points at a server of the user's own.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_venv() {
    local extras="${ENTSOE_PIP_EXTRAS:-dev}" python stamp="$VENV_DIR/.entsoe-installed" wanted
    if [ ! -x "$VENV_PY" ] || ! python_ok "$VENV_PY"; then
        python=$(find_python) || {
            if [ "$(debian_codename)" = bookworm ] || [ "$(debian_codename)" = trixie ]; then
                apt_install python3 python3-venv
                python=$(find_python) || die "python3 is still not 3.11 to 3.13 after installing it"
            else
                die "no Python 3.11 to 3.13 found (tried python3.11 and python3)" \
                    "Install one, or set ENTSOE_PYTHON to its path."
            fi
        }
        # Debian splits venv's pip bootstrap into the python3-venv package.
        if ! "$python" -c 'import ensurepip' 2>/dev/null; then
            [ "${python#/usr/bin/}" != "$python" ] && apt_install python3-venv
            "$python" -c 'import ensurepip' 2>/dev/null \
                || die "$python cannot create virtual environments (no ensurepip)" \
                    "On Debian: apt-get install python3-venv"
        fi
        say "creating .venv with $python ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
        rm -rf "$VENV_DIR"
        "$python" -m venv "$VENV_DIR"
    fi
    # pip runs again only when pyproject.toml, the checkout's path or the extras change.
    wanted="$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -d' ' -f1) $REPO_ROOT"
    if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$wanted" ] && stamp_has_extras "$stamp" "$extras"; then
        return 0
    fi
    say "installing Python dependencies: pip install -e '.[$extras]' (log: .local/pip-install.log)"
    mkdir -p "$LOCAL_DIR"
    # The log keeps setuptools' editable-install notice out of the terminal; it is shown on failure.
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV_PY" -m pip install -e "${REPO_ROOT}[$extras]" \
        >"$LOCAL_DIR/pip-install.log" 2>&1 \
        || die "pip install -e '.[$extras]' failed; the end of .local/pip-install.log:" \
            "$(tail -n 15 "$LOCAL_DIR/pip-install.log")"
    if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$wanted" ]; then
        extras="$extras,$(sed -n 2p "$stamp")"
    fi
    printf '%s\n%s\n' "$wanted" "$extras" >"$stamp"
}

# stamp_has_extras STAMP a,b: true when every requested extra was installed under this stamp.
stamp_has_extras() {
    local installed=",$(sed -n 2p "$1")," extra
    for extra in ${2//,/ }; do [[ "$installed" == *",$extra,"* ]] || return 1; done
}

setup_postgres() {
    if external_database; then
        say "ENTSOE_DATABASE_URL is set: using $(redact_url "$ENTSOE_DATABASE_URL"), installing no PostgreSQL"
        return 0
    fi
    local major codename
    major=$(pg_major)
    codename=$(debian_codename)
    case "$codename" in
        trixie)
            apt_install "postgresql-$major" "postgresql-$major-timescaledb"
            ;;
        bookworm)
            apt_install "postgresql-$major"
            if ! timescaledb_installed; then
                # dpkg-dev and xz-utils unpack the source package (apt-get source); the keyring verifies it.
                apt_install "postgresql-server-dev-$major" cmake make gcc libc6-dev dpkg-dev xz-utils \
                    debian-archive-keyring
                bash "$REPO_ROOT/scripts/build-timescaledb.sh" "$major"
            fi
            ;;
        *)
            [ -x "$(pg_bin)/postgres" ] || die "PostgreSQL $major is not installed and '$codename' is not a Debian release these scripts know" \
                "Install PostgreSQL with TimescaleDB and set ENTSOE_DATABASE_URL."
            ;;
    esac
    timescaledb_installed || die "the TimescaleDB extension is not installed for PostgreSQL $major" \
        "Expected $("$(pg_bin)/pg_config" --sharedir)/extension/timescaledb.control."
}

setup_test_tools() {
    # chromium: Debian's browser, which the UI tests drive through Playwright (Playwright's own
    # browser download is not used).
    apt_install tmux chromium
}

main() {
    load_dotenv
    case "${1:-all}" in
        all) setup_venv; setup_postgres ;;
        venv) setup_venv ;;
        postgres) setup_postgres ;;
        test-tools) setup_test_tools ;;
        *) die "unknown step '$1'" "Usage: scripts/setup.sh [all|venv|postgres|test-tools]" ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
