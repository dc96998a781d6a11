#!/usr/bin/env bash
# Run every cargo-fuzz target for N seconds each (default 180), one at a time in one process.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain nightly features are
# unlocked with RUSTC_BOOTSTRAP=1. Seed corpora are (re)made from samples/ and
# ../shared/captures/ into fuzz/corpus/ (gitignored). Crash inputs land in
# fuzz/artifacts/TARGET/; turn each into a regression test in `cargo test` (see
# fuzz/README.md). Not run by CI: CI runs only the regression tests.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-180}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(capture decode reassembly tls cert pipeline filter keylog decrypt defrag)
fi
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz not found; install it with: cargo install cargo-fuzz" >&2
    exit 2
fi

captures=$(find samples ../shared/captures -name '*.pcap' -o -name '*.pcapng' 2>/dev/null | sort)
cargo run --quiet --manifest-path fuzz/Cargo.toml --example make_seeds -- fuzz/corpus $captures

cargo fuzz build
summary=()
for t in "${targets[@]}"; do
    log="fuzz/artifacts/$t.log"
    mkdir -p "fuzz/artifacts/$t"
    echo "== fuzzing $t for ${secs}s (log: $log)"
    status=ok
    cargo fuzz run "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1 || status=CRASH
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 || true)
    summary+=("$t: $status execs=${execs:-?} ${cov:-cov: ?} ${ft:-ft: ?}")
done
printf '%s\n' "${summary[@]}"
if printf '%s\n' "${summary[@]}" | grep -q CRASH; then
    echo "fuzz.sh: crash inputs are in fuzz/artifacts/" >&2
    exit 1
fi
