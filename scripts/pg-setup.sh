#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, as a plain process (no Docker, no systemd).
#
#   scripts/pg-setup.sh <dir> [port]     start (or find running) a server with its data under
#                                        <dir>/postgres; prints one line on stdout:
#                                          export TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:<port>/postgres
#   scripts/pg-setup.sh --stop <dir>     stop it (fast shutdown); the data stays until <dir> is removed
#
# Use it as `eval "$(scripts/pg-setup.sh /tmp/symbolon-pg)"`. Idempotent: a second start with the
# same <dir> finds the running server and prints its URL again (its port, even if another was
# asked for). The server listens on 127.0.0.1 only, trusts loopback connections (a test server:
# no password), and runs with fsync off because its data is disposable.
#
# Debian's versioned binaries (/usr/lib/postgresql/<major>/bin) run as the `postgres` OS user;
# PostgreSQL refuses to run as root. The `postgresql` package is installed with apt if missing.
#
# Test variables are TEST_*, never SYMBOLON_* (reserved for application config).

set -euo pipefail

log() { echo "pg-setup: $*" >&2; }
die() {
    log "$*"
    exit 1
}

usage() {
    echo "usage: $0 <dir> [port] | $0 --stop <dir>" >&2
    exit 2
}

as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root to run: $*"
    fi
}

# The newest installed server version's bin directory.
find_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
        echo "$d"
    fi
}

ensure_installed() {
    if [[ -z "$(find_bin)" ]]; then
        log "installing the postgresql package"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
    fi
    BIN=$(find_bin)
    [[ -n "$BIN" ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
}

# Runs a command as the postgres OS user (we are usually root; the server must not be).
as_postgres() {
    if [[ "$(id -un)" == postgres ]]; then
        "$@"
    elif ((EUID == 0)); then
        if command -v runuser >/dev/null; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        sudo -u postgres -- "$@"
    fi
}

running() {
    [[ -f "$DATA/PG_VERSION" ]] && as_postgres "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# The port of the running server: line 4 of postmaster.pid.
running_port() {
    sed -n 4p "$DATA/postmaster.pid"
}

print_url() {
    echo "export TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$1/postgres"
}

if [[ "${1:-}" == --stop ]]; then
    [[ $# -eq 2 ]] || usage
    ensure_installed
    DIR=$(realpath -m "$2")
    DATA="$DIR/postgres/data"
    if running; then
        as_postgres "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    else
        log "no server running in $DATA"
    fi
    exit 0
fi

[[ $# -ge 1 && $# -le 2 ]] || usage
PORT=${2:-54329}
[[ "$PORT" =~ ^[0-9]+$ ]] || die "port must be a number: $PORT"
ensure_installed

DIR=$(realpath -m "$1")
ROOT="$DIR/postgres"
DATA="$ROOT/data"
RUN="$ROOT/run"

if running; then
    port=$(running_port)
    if [[ "$port" != "$PORT" ]]; then
        log "server in $DATA already runs on port $port (asked for $PORT)"
    fi
    print_url "$port"
    exit 0
fi

mkdir -p "$DIR"
# The postgres user must be able to reach its directory through every parent.
install -d -o postgres -g postgres -m 0700 "$ROOT" "$RUN"
as_postgres test -w "$ROOT" ||
    die "user postgres cannot reach $ROOT (a parent directory is not searchable): choose another <dir>"

if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb in $DATA"
    as_postgres "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$ROOT/initdb.log" 2>&1 ||
        die "initdb failed, see $ROOT/initdb.log"
fi

# A stale pid file from a killed server would make pg_ctl refuse to start.
if [[ -f "$DATA/postmaster.pid" ]]; then
    rm -f "$DATA/postmaster.pid"
fi

log "starting PostgreSQL ($BIN) on 127.0.0.1:$PORT"
as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$ROOT/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $RUN -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >&2 || die "pg_ctl start failed, see $ROOT/server.log"

print_url "$PORT"
