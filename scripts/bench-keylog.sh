#!/usr/bin/env bash
# The cost of decryption: tlstriage read of the keyed benchmark capture
# (scripts/make-keylog-bench.sh) without and with the key log that covers every session.
#
#   scripts/bench-keylog.sh [--runs R] [--dir DIR] [--no-callgrind]
#
# Runs R interleaved rounds of `read --format ndjson --threads 1` with and without
# `--keylog` (wall seconds, each round one after the other so a busy neighbour slows both
# alike) and prints every time and the medians, then the instructions of one run of each
# under `valgrind --tool=callgrind` (repeatable where the clock is not). Needs root (for the
# capture, made once), openssl, python3, /usr/bin/time and valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 dir=/tmp/tlstriage-keylog-bench callgrind=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --no-callgrind) callgrind=0; shift ;;
        *) echo "usage: $0 [--runs R] [--dir DIR] [--no-callgrind]" >&2; exit 2 ;;
    esac
done
cargo build --release --quiet --bin tlstriage
bin=target/release/tlstriage
pcap=$dir/keylog-bench.pcap keys=$dir/keylog-bench.keys
[ -s "$pcap" ] || scripts/make-keylog-bench.sh --dir "$dir"
cat "$pcap" "$keys" >/dev/null # page cache warm
one() { # one LABEL ARGS...: wall seconds of one run
    local label=$1; shift
    /usr/bin/time -f "%e" -o "$dir/time" "$bin" read --format ndjson --threads 1 "$@" "$pcap" >/dev/null 2>"$dir/err" ||
        { cat "$dir/err" >&2; exit 1; }
    printf '%s %s\n' "$label" "$(cat "$dir/time")"
}
: >"$dir/times"
for _ in $(seq "$runs"); do
    one none >>"$dir/times"
    one keys --keylog "$keys" >>"$dir/times"
done
cat "$dir/times"
for label in none keys; do
    printf 'median %s: %s s\n' "$label" "$(awk -v l=$label '$1==l {print $2}' "$dir/times" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
done
"$bin" read --format ndjson --keylog "$keys" "$pcap" 2>/dev/null | grep '"capture_stats"' |
    grep -o '"tls_flows_decrypted":[0-9]*\|"keylog_sessions":[0-9]*\|"flows":[0-9]*' | tr '\n' ' '
echo
if [ "$callgrind" = 1 ]; then
    for label in none keys; do
        extra=()
        [ "$label" = keys ] && extra=(--keylog "$keys")
        valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.$label" \
            "$bin" read --format ndjson --threads 1 "${extra[@]}" "$pcap" >/dev/null 2>"$dir/err.$label"
        printf 'instructions %s: %s\n' "$label" "$(grep -o 'Collected : [0-9]*' "$dir/err.$label" | grep -o '[0-9]*')"
    done
fi
