#!/usr/bin/env bash
# Run every cargo-fuzz target for N seconds each (default 180), one at a time in one process.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain nightly features are
# unlocked with RUSTC_BOOTSTRAP=1. Seed corpora are (re)made from samples/ and
# ../shared/captures/ into fuzz/corpus/ (gitignored). A timeout (-timeout) or an RSS
# blow-up (-rss_limit_mb) stops the run and counts as a finding, like a crash. Crash inputs land in
# fuzz/artifacts/TARGET/; turn each into a regression test in `cargo test` (see
# fuzz/README.md). Not run by CI: CI runs only the regression tests.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-180}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(session pipeline tls keylog decrypt capture decode reassembly cert filter defrag)
fi
# Whole captures and TLS conversations are large: give the targets that take them room for
# a real multi-record session (libFuzzer's default caps inputs near 4 KiB).
max_len_for() {
    case $1 in
    pipeline | tls | session | capture) echo 4194304 ;;
    *) echo 65536 ;;
    esac
}
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz not found; install it with: cargo install cargo-fuzz" >&2
    exit 2
fi

# A worktree's ../shared is not the main checkout's: fall back to the one beside it.
shared=../shared
if [ ! -d "$shared/captures" ]; then
    shared="$(git rev-parse --path-format=absolute --git-common-dir)/../../shared"
fi
captures=$(find samples "$shared/captures" -name '*.pcap' -o -name '*.pcapng' 2>/dev/null | sort)
cargo run --quiet --manifest-path fuzz/Cargo.toml --example make_seeds -- fuzz/corpus $captures

cargo fuzz build
summary=()
for t in "${targets[@]}"; do
    log="fuzz/artifacts/$t.log"
    mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
    echo "== fuzzing $t for ${secs}s (log: $log)"
    status=ok
    cargo fuzz run "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -max_len="$(max_len_for "$t")" -print_final_stats=1 >"$log" 2>&1 || status=CRASH
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 || true)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    line="$t: $status secs=$secs execs=${execs:-?} execs/s=${rate:-?} ${cov:-cov: ?} ${ft:-ft: ?} corpus=$corpus artifacts=$(find "fuzz/artifacts/$t" -type f | wc -l)"
    echo "$line" | tee -a fuzz/artifacts/results.txt
    summary+=("$line")
done
printf '%s\n' "${summary[@]}"
if printf '%s\n' "${summary[@]}" | grep -q CRASH; then
    echo "fuzz.sh: crash inputs are in fuzz/artifacts/" >&2
    exit 1
fi
