#!/usr/bin/env bash
# A throwaway Redis server for the tests, as a plain daemonized process.
#
#   scripts/redis-setup.sh <dir> [port]   start (or find running) a server with its pid file, log
#                                         and port under <dir>/redis; prints one line on stdout:
#                                           export TEST_REDIS_URL=redis://127.0.0.1:<port>
#   scripts/redis-setup.sh --stop <dir>   stop it
#
# Use it as `eval "$(scripts/redis-setup.sh /tmp/symbolon-redis)"`. Idempotent: a second start
# with the same <dir> finds the running server and prints its URL again. Loopback only, no
# persistence (no RDB snapshots, no AOF): replay caches in tests are disposable.
# The `redis-server` package is installed with apt if missing.
#
# Test variables are TEST_*, never SYMBOLON_* (reserved for application config).

set -euo pipefail

log() { echo "redis-setup: $*" >&2; }
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

ensure_installed() {
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        log "installing the redis-server package"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server redis-tools >&2
    fi
}

# The pid of our server if it is alive, else nothing.
live_pid() {
    local pid
    [[ -f "$PIDFILE" ]] || return 0
    pid=$(cat "$PIDFILE")
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == redis-server* ]]; then
        echo "$pid"
    fi
}

print_url() {
    echo "export TEST_REDIS_URL=redis://127.0.0.1:$1"
}

if [[ "${1:-}" == --stop ]]; then
    [[ $# -eq 2 ]] || usage
    ROOT="$(realpath -m "$2")/redis"
    PIDFILE="$ROOT/redis.pid"
    pid=$(live_pid)
    if [[ -n "$pid" ]]; then
        kill "$pid"
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        rm -f "$PIDFILE"
        log "stopped redis-server (pid $pid)"
    else
        log "no server running in $ROOT"
    fi
    exit 0
fi

[[ $# -ge 1 && $# -le 2 ]] || usage
PORT=${2:-63790}
[[ "$PORT" =~ ^[0-9]+$ ]] || die "port must be a number: $PORT"
ensure_installed

ROOT="$(realpath -m "$1")/redis"
PIDFILE="$ROOT/redis.pid"
PORTFILE="$ROOT/redis.port"
mkdir -p "$ROOT"

pid=$(live_pid)
if [[ -n "$pid" ]]; then
    port=$(cat "$PORTFILE")
    if [[ "$port" != "$PORT" ]]; then
        log "server in $ROOT already runs on port $port (asked for $PORT)"
    fi
    print_url "$port"
    exit 0
fi
rm -f "$PIDFILE"

log "starting redis-server on 127.0.0.1:$PORT"
redis-server --bind 127.0.0.1 --port "$PORT" --protected-mode yes \
    --daemonize yes --pidfile "$PIDFILE" --logfile "$ROOT/redis.log" --dir "$ROOT" \
    --save '' --appendonly no
echo "$PORT" >"$PORTFILE"

for _ in $(seq 50); do
    if [[ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" == PONG ]]; then
        print_url "$PORT"
        exit 0
    fi
    sleep 0.1
done
die "redis-server did not answer on port $PORT, see $ROOT/redis.log"
