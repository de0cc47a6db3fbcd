#!/usr/bin/env bash
# The test command for Symbolon, used as is by developers and by CI (.ci/run).
#
# On a fresh Debian bookworm machine with the Rust toolchain (+ cargo-nextest), Node 20
# and Python 3.11, running as root, it first installs whatever is missing (idempotent,
# and quick when everything is present), then runs every check in order and stops at
# the first failure, naming the step. Timings per step are printed at the end.
#
# Knobs (environment):
#   FUZZ_BUDGET    seconds the fuzz smoke run shares between its targets (default 135)
#   FUZZ_SECONDS   seconds per fuzz target instead of a share of the budget
#   SKIP_INSTALL=1 skip the install steps (nothing is checked or installed)
#
# Tests get their external services through variables exported by start_services.
# Name them TEST_* (or after the tool, e.g. SOFTHSM2_CONF), never SYMBOLON_*: the binary
# refuses SYMBOLON_* variables that are not config keys.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -d "$HOME/.cargo/bin" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

# Debian packages the tests need: TLS/PKCS#11/TPM libraries and tools, the database and
# cache servers, and a headless browser. Add new ones here.
APT_PACKAGES=(
    pkg-config
    libssl-dev
    softhsm2
    swtpm
    swtpm-tools
    tpm2-tools
    libtss2-dev
    postgresql
    redis-server
    chromium
    chromium-driver
)

# Cargo subcommands: "binary-name crate version". Versions are pinned so every machine
# runs the same tools; `--locked` builds them with their own tested lock files.
CARGO_TOOLS=(
    "cargo-nextest cargo-nextest 0.9.143"
    "cargo-fuzz cargo-fuzz 0.13.2"
    "cargo-deny cargo-deny 0.20.2"
)

# ---------------------------------------------------------------------------------------
# Step bookkeeping

TIMINGS=()
CURRENT_STEP="(setup)"
STEP_START=""

now() { echo "${EPOCHREALTIME/./}"; } # microseconds

# format_timing NAME START_MICROS
format_timing() {
    local micros=$(($(now) - $2))
    printf '%-40s %5d.%01ds' "$1" $((micros / 1000000)) $((micros % 1000000 / 100000))
}

print_timings() {
    if ((${#TIMINGS[@]})); then
        echo
        echo "Step timings:"
        printf '  %s\n' "${TIMINGS[@]}"
    fi
}

on_exit() {
    local rc=$?
    stop_services || true
    if ((rc != 0)) && [[ -n "$STEP_START" ]]; then
        TIMINGS+=("$(format_timing "${CURRENT_STEP} (failed)" "$STEP_START")")
    fi
    print_timings
    if ((rc != 0)); then
        echo
        echo "FAILED: step '${CURRENT_STEP}' (exit ${rc})" >&2
    fi
    exit "$rc"
}
trap on_exit EXIT

# step NAME COMMAND...: runs COMMAND in this shell (so exported variables reach later
# steps); `set -e` ends the script on the first failing command, and on_exit names the
# step.
step() {
    CURRENT_STEP=$1
    shift
    echo
    echo "==> ${CURRENT_STEP}"
    STEP_START=$(now)
    "$@"
    TIMINGS+=("$(format_timing "${CURRENT_STEP}" "$STEP_START")")
    STEP_START=""
}

as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "need root to run: $*" >&2
        return 1
    fi
}

# ---------------------------------------------------------------------------------------
# Install

install_system_packages() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        echo "all ${#APT_PACKAGES[@]} packages present"
        return 0
    fi
    echo "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_rust_tools() {
    local components=()
    cargo fmt --version >/dev/null 2>&1 || components+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || components+=(clippy)
    if ((${#components[@]})); then
        rustup component add "${components[@]}"
    fi
    local entry bin crate version
    for entry in "${CARGO_TOOLS[@]}"; do
        read -r bin crate version <<<"$entry"
        if command -v "$bin" >/dev/null; then
            echo "$bin present"
        else
            echo "installing $crate $version"
            cargo install "$crate" --version "$version" --locked
        fi
    done
}

# Hook: third-party implementations the interop tests run against (npm / pip packages).
# Install into places inside the repository or the user's cache, idempotently.
install_interop_peers() {
    # npm: exact versions from interop/package-lock.json.
    if [[ ! -d interop/node_modules ]] || ! cmp -s interop/package-lock.json interop/node_modules/.package-lock.json; then
        (cd interop && npm ci --no-audit --no-fund)
    else
        echo "interop npm packages present"
    fi
    # PyPI: the Python sd-jwt reference implementation in a private virtualenv.
    local venv=interop/python/.venv
    if [[ ! -x "$venv/bin/python" ]]; then
        python3 -m venv "$venv"
    fi
    if ! cmp -s interop/python/requirements.txt "$venv/.installed-requirements"; then
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r interop/python/requirements.txt
        cp interop/python/requirements.txt "$venv/.installed-requirements"
    else
        echo "interop python packages present"
    fi
    export INTEROP_DIR="$PWD/interop" INTEROP_PYTHON="$PWD/$venv/bin/python"
}

# ---------------------------------------------------------------------------------------
# Services for the tests

# Servers and tokens the tests use, as plain processes on 127.0.0.1 with their state under
# one scratch directory. Each setup script prints `export TEST_…=…` lines. Ports are chosen
# per run so two runs on one machine do not collide.
SERVICES_DIR=""

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start_services() {
    SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/symbolon-test.XXXXXX")
    # The database server runs as the `postgres` user, which must reach its data dir.
    chmod 0755 "$SERVICES_DIR"
    local exports
    # Captured first so a failing setup script fails this step (`eval "$(…)"` would not).
    exports=$(scripts/pg-setup.sh "$SERVICES_DIR" "$(free_port)")
    eval "$exports"
    exports=$(scripts/redis-setup.sh "$SERVICES_DIR" "$(free_port)")
    eval "$exports"
    exports=$(scripts/softhsm-setup.sh "$SERVICES_DIR")
    eval "$exports"
    export TEST_POSTGRES_URL TEST_REDIS_URL SOFTHSM2_CONF TEST_PKCS11_MODULE TEST_PKCS11_TOKEN \
        TEST_PKCS11_PIN TEST_PKCS11_SO_PIN
    echo "PostgreSQL: ${TEST_POSTGRES_URL}"
    echo "Redis:      ${TEST_REDIS_URL}"
    echo "SoftHSM2:   token ${TEST_PKCS11_TOKEN} (${SOFTHSM2_CONF})"
}

# Stops what start_services started (runs on every exit, also after a failure).
stop_services() {
    [[ -n "$SERVICES_DIR" && -d "$SERVICES_DIR" ]] || return 0
    scripts/redis-setup.sh --stop "$SERVICES_DIR" >/dev/null 2>&1 || true
    scripts/pg-setup.sh --stop "$SERVICES_DIR" >/dev/null 2>&1 || true
    rm -rf "$SERVICES_DIR"
    SERVICES_DIR=""
}

# ---------------------------------------------------------------------------------------
# Checks

check_format() {
    cargo fmt --all --check
}

check_clippy() {
    cargo clippy --workspace --all-targets --all-features -- -D warnings
}

run_tests() {
    # --no-fail-fast: one CI run reports every failing test, not just the first.
    cargo nextest run --workspace --all-features --no-fail-fast
}

run_doctests() {
    # nextest does not run doctests; some are compile_fail guards (the sealed verification
    # types of client-attestation cannot be built outside their verifier).
    cargo test --doc --workspace --all-features
}

check_docs() {
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --quiet
}

check_fuzz_lints() {
    # fuzz/ is a cargo workspace of its own, so the workspace fmt and clippy steps do not
    # see it. Runs after the fuzz smoke run and in its target dir (fuzz/target), with its
    # profile and explicit target: the build scripts and their outputs (aws-lc's C build
    # above all) are then the fuzz build's, and only the check of the crates is added.
    # (The sanitizer flags of the fuzz build apply to target code only, so neither run
    # invalidates the other.)
    cargo fmt --manifest-path fuzz/Cargo.toml --check
    local host
    host=$(rustc -vV | sed -n 's/^host: //p')
    cargo clippy --manifest-path fuzz/Cargo.toml --all-targets --release --target "$host" \
        -- -D warnings
}

run_fuzz_smoke() {
    ./scripts/fuzz-smoke.sh
}

check_dependencies() {
    # The advisory database lives on GitHub, which neither developers' machines nor CI can
    # reach, so `advisories` cannot run here; licenses, bans and sources need only the
    # crates.io index. See deny.toml.
    cargo deny --all-features check licenses bans sources
}

# ---------------------------------------------------------------------------------------

if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
    step "install system packages" install_system_packages
    step "install rust tools" install_rust_tools
    step "install interop peers" install_interop_peers
fi
step "start services" start_services
step "cargo fmt --check" check_format
step "cargo clippy" check_clippy
step "cargo nextest" run_tests
step "cargo test --doc" run_doctests
step "cargo doc" check_docs
fuzz_time="${FUZZ_BUDGET:-135}s in all"
if [[ -n "${FUZZ_SECONDS:-}" ]]; then
    fuzz_time="${FUZZ_SECONDS}s per target"
fi
step "fuzz smoke (${fuzz_time})" run_fuzz_smoke
step "fuzz fmt + clippy" check_fuzz_lints
step "cargo deny" check_dependencies
CURRENT_STEP="(done)"
echo
echo "All checks passed."
