#!/usr/bin/env bash
# Runs every cargo-fuzz target listed as a [[bin]] in fuzz/Cargo.toml for a short time to
# catch crashes early. Longer campaigns run the same targets by hand:
# `cargo fuzz run -s none <target> -- -max_total_time=600`.
#
# Time: the run shares a budget of FUZZ_BUDGET seconds (default 135) between the targets,
# at least 5 s each, so adding a target does not lengthen CI; FUZZ_SECONDS, when set,
# gives every target that many seconds instead. The one build before the runs is not
# counted.
#
# `-s none` builds without sanitizers, which works on the stable toolchain.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

budget=${FUZZ_BUDGET:-135}

mapfile -t targets < <(python3 -c '
import tomllib
with open("fuzz/Cargo.toml", "rb") as f:
    manifest = tomllib.load(f)
for target in manifest.get("bin", []):
    print(target["name"])
')

if ((${#targets[@]} == 0)); then
    echo "no [[bin]] targets in fuzz/Cargo.toml" >&2
    exit 1
fi

seconds=${FUZZ_SECONDS:-$((budget / ${#targets[@]}))}
if ((seconds < 5)); then
    seconds=5
fi

echo "fuzz targets: ${targets[*]} (${seconds}s each)"
# One build for all targets, so the time below is spent fuzzing, not compiling.
cargo fuzz build -s none

for target in "${targets[@]}"; do
    echo "--> ${target}"
    cargo fuzz run -s none "$target" -- -max_total_time="$seconds"
done
