#!/usr/bin/env bash
# Builds and installs TimescaleDB for PostgreSQL MAJOR from Debian trixie's source package:
#   scripts/build-timescaledb.sh MAJOR [--force]
# Debian 12 ships no TimescaleDB binary package. Trixie's source package is the one Debian itself
# builds and patches; `apt-get source` fetches it through a private sources list and private state
# under .local/apt, so the system's sources, lists and caches stay untouched. Its integrity is
# checked the usual apt way: the trixie InRelease file is verified against debian-archive-keyring
# (bookworm's keyring already holds the trixie keys) and the tarballs against its hashes.
# Needs root (make install writes into PostgreSQL's directories) and the build packages that
# scripts/setup.sh installs first. DEVELOPERS.md explains how to redo it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

major="${1:?usage: scripts/build-timescaledb.sh POSTGRES_MAJOR [--force]}"
force="${2:-}"
pg_config="/usr/lib/postgresql/$major/bin/pg_config"
[ -x "$pg_config" ] || die "$pg_config not found" "Install postgresql-$major first (scripts/setup.sh does)."
if [ "$force" != --force ] && [ -f "$("$pg_config" --sharedir)/extension/timescaledb.control" ]; then
    say "TimescaleDB already installed for PostgreSQL $major"
    exit 0
fi
is_root || die "building TimescaleDB installs into PostgreSQL's system directories, which needs root" \
    "Run as root:  bash scripts/build-timescaledb.sh $major"
[ -f "$("$pg_config" --includedir-server)/postgres.h" ] \
    || die "PostgreSQL $major server headers are missing" "apt-get install postgresql-server-dev-$major"

apt_dir="$LOCAL_DIR/apt"
build_root="$LOCAL_DIR/build/timescaledb"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
printf 'deb-src [signed-by=%s] http://deb.debian.org/debian trixie main\n' "$keyring" >"$apt_dir/sources.list"
apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    # apt-get source downloads into the working directory, which apt's unprivileged download user
    # (_apt) cannot write to here; apt would fall back to root with a warning anyway.
    -o APT::Sandbox::User=root
)

say "fetching Debian trixie's timescaledb source package (private apt state in .local/apt)"
apt-get "${apt_opts[@]}" update -q >&2 \
    || die "apt-get update of the private trixie deb-src list failed" \
        "If it reports a signature error, update the keyring: apt-get install debian-archive-keyring"
rm -rf "$build_root"
mkdir -p "$build_root"
(cd "$build_root" && apt-get "${apt_opts[@]}" source -q --only-source timescaledb >&2) \
    || die "apt-get source timescaledb failed" "See apt's message above."
src=$(find "$build_root" -mindepth 1 -maxdepth 1 -type d -name 'timescaledb-*' | head -n 1)
[ -n "$src" ] || die "apt-get source unpacked nothing under $build_root"

# The options Debian's own package uses (debian/rules: Apache-licensed part only, telemetry code
# compiled out), minus the test suites, which would need a PostgreSQL source tree.
say "building $(basename "$src") for PostgreSQL $major ($(nproc) jobs)"
started=$(date +%s)
cmake -S "$src" -B "$src/build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DPG_CONFIG="$pg_config" \
    -DAPACHE_ONLY=ON \
    -DUSE_TELEMETRY=OFF \
    -DSEND_TELEMETRY_DEFAULT=OFF \
    -DUSE_OPENSSL=OFF \
    -DREGRESS_CHECKS=OFF \
    -DTAP_CHECKS=OFF \
    -DWARNINGS_AS_ERRORS=OFF >"$build_root/cmake.log" 2>&1 \
    || die "cmake failed for TimescaleDB" "Its output is in $build_root/cmake.log"
make -C "$src/build" -j"$(nproc)" >"$build_root/make.log" 2>&1 \
    || die "compiling TimescaleDB failed" "Its output is in $build_root/make.log"
make -C "$src/build" install >"$build_root/install.log" 2>&1 \
    || die "installing TimescaleDB failed" "Its output is in $build_root/install.log"
say "TimescaleDB installed for PostgreSQL $major in $(($(date +%s) - started)) s"
rm -rf "$src/build"
