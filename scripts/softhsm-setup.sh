#!/usr/bin/env bash
# A private SoftHSM2 token for the tests.
#
#   scripts/softhsm-setup.sh <dir>   create (or find) a SoftHSM2 config and token directory under
#                                    <dir>/softhsm, with one token labelled IMMERSE (or
#                                    $TEST_PKCS11_TOKEN), and print on stdout the lines
#                                      export SOFTHSM2_CONF=…
#                                      export TEST_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
#                                      export TEST_PKCS11_TOKEN=IMMERSE
#                                      export TEST_PKCS11_PIN=…
#                                      export TEST_PKCS11_SO_PIN=…
#
# Use it as `eval "$(scripts/softhsm-setup.sh /tmp/symbolon-softhsm)"`. The user and SO PINs come
# from TEST_PKCS11_PIN / TEST_PKCS11_SO_PIN when set, otherwise they are generated. They are
# kept in <dir>/softhsm/pins.env (mode 0600; a throwaway test token), so a second run with the
# same <dir> finds the token and prints the same lines again. Nothing is written outside <dir>:
# the config points SoftHSM at <dir>/softhsm/tokens, not at /var/lib/softhsm.
# The `softhsm2` package is installed with apt if missing.
#
# Test variables are TEST_* (or the tool's own, SOFTHSM2_CONF), never SYMBOLON_* (reserved for
# application config).

set -euo pipefail

MODULE=/usr/lib/softhsm/libsofthsm2.so

log() { echo "softhsm-setup: $*" >&2; }
die() {
    log "$*"
    exit 1
}

usage() {
    echo "usage: $0 <dir>" >&2
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
    if ! command -v softhsm2-util >/dev/null || [[ ! -e "$MODULE" ]]; then
        log "installing the softhsm2 package"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends softhsm2 >&2
    fi
    [[ -e "$MODULE" ]] || die "PKCS#11 module $MODULE not found after installing softhsm2"
}

# 16 hex digits from the kernel's generator.
random_pin() {
    od -An -tx1 -N8 /dev/urandom | tr -d ' \n'
}

# Whether a token with label $1 is initialized under the current SOFTHSM2_CONF.
token_present() {
    softhsm2-util --show-slots 2>/dev/null | awk -v want="$1" '
        /^[[:space:]]*Label:/ {
            sub(/^[[:space:]]*Label:[[:space:]]*/, ""); sub(/[[:space:]]+$/, "")
            if ($0 == want) found = 1
        }
        END { exit !found }'

}

print_exports() {
    printf 'export SOFTHSM2_CONF=%q\n' "$SOFTHSM2_CONF"
    printf 'export TEST_PKCS11_MODULE=%q\n' "$MODULE"
    printf 'export TEST_PKCS11_TOKEN=%q\n' "$LABEL"
    printf 'export TEST_PKCS11_PIN=%q\n' "$USER_PIN"
    printf 'export TEST_PKCS11_SO_PIN=%q\n' "$SO_PIN"
}

[[ $# -eq 1 && -n "$1" && "$1" != -* ]] || usage
ensure_installed

ROOT="$(realpath -m "$1")/softhsm"
LABEL=${TEST_PKCS11_TOKEN:-IMMERSE}
((${#LABEL} <= 32)) || die "token label '$LABEL' is longer than 32 bytes"
PINS="$ROOT/pins.env"

umask 077
mkdir -p "$ROOT/tokens"
export SOFTHSM2_CONF="$ROOT/softhsm2.conf"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$ROOT/tokens" >"$SOFTHSM2_CONF"

if token_present "$LABEL"; then
    [[ -f "$PINS" ]] || die "token '$LABEL' exists in $ROOT but $PINS is missing; remove $ROOT to start over"
    # shellcheck source=/dev/null
    source "$PINS"
    if [[ -n "${TEST_PKCS11_PIN:-}" && "$TEST_PKCS11_PIN" != "$USER_PIN" ]] ||
        [[ -n "${TEST_PKCS11_SO_PIN:-}" && "$TEST_PKCS11_SO_PIN" != "$SO_PIN" ]]; then
        die "token '$LABEL' in $ROOT was made with other PINs than TEST_PKCS11_PIN/TEST_PKCS11_SO_PIN; remove $ROOT to start over"
    fi
    log "token '$LABEL' already initialized in $ROOT"
    print_exports
    exit 0
fi

USER_PIN=${TEST_PKCS11_PIN:-$(random_pin)}
SO_PIN=${TEST_PKCS11_SO_PIN:-$(random_pin)}
# SoftHSM accepts PINs of 4 to 255 bytes.
((${#USER_PIN} >= 4 && ${#SO_PIN} >= 4)) || die "PINs must be at least 4 characters"

softhsm2-util --init-token --free --label "$LABEL" --pin "$USER_PIN" --so-pin "$SO_PIN" >&2
printf 'USER_PIN=%q\nSO_PIN=%q\n' "$USER_PIN" "$SO_PIN" >"$PINS"
token_present "$LABEL" || die "token '$LABEL' not visible after initialization"
log "initialized token '$LABEL' in $ROOT"
print_exports
