#!/usr/bin/env bash
# Throughput and peak memory of tlstriage against the read floor and tshark, on the same
# generated capture in the same run.
#
#   scripts/bench.sh [--mib N] [--runs R] [--threads "1 2"] [--dir DIR] [--keep] [--no-tshark]
#                    [--gen "GENERATOR OPTIONS"] [--report]
#
# Builds the release binary and the examples, generates DIR/bench-N.pcap with
# examples/bench_gen.rs (deterministic; replays samples/*.pcap; reused when present), warms
# the page cache, then times R runs of each of:
#   floor      examples/read_floor: the pcap reader over every packet, nothing else
#   tlstriage  tlstriage read --format ndjson --threads T FILE > /dev/null   (each T)
#   tshark     tshark -r FILE -Y tls.alert_message -T fields -e frame.number > /dev/null
# and prints MB/s (10^6 bytes of file per second), packets/s and peak RSS (/usr/bin/time -v)
# of the best run, and the ratios tlstriage/floor and tlstriage/tshark. --report also
# writes `tlstriage report` of the capture (time, peak RSS, size of the HTML) and times
# headless Chromium rendering it (--dump-dom; needs chromium; the issue #20 target is under
# 5 MB and under 10 s for the 1 GiB capture). The capture is
# deleted at the end unless --keep. Needs tshark and /usr/bin/time (apt: tshark, time).
set -euo pipefail
cd "$(dirname "$0")/.."

mib=1024 runs=2 threads="1 $(nproc)" dir=/tmp/tlstriage-bench keep=0 tshark=1 gen="" report=0
while [ $# -gt 0 ]; do
  case "$1" in
    --mib) mib=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --no-tshark) tshark=0; shift ;;
    --gen) gen=$2; shift 2 ;;
    --report) report=1; shift ;;
    *) echo "usage: $0 [--mib N] [--runs R] [--threads \"1 2\"] [--dir DIR] [--keep] [--no-tshark] [--gen \"OPTS\"]" >&2; exit 2 ;;
  esac
done
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
if [ "$tshark" = 1 ] && ! command -v tshark >/dev/null; then
  echo "tshark not found (apt-get install tshark); continuing without it" >&2; tshark=0
fi

cargo build --release --quiet --bin tlstriage --example bench_gen --example read_floor
bin=target/release
mkdir -p "$dir"
# --gen passes options to the generator (e.g. "--bulk-percent 100 --bulk-records 32" for a
# capture whose cost is in bytes rather than connections); they name the file too.
suffix=$(printf '%s' "$gen" | tr -c 'A-Za-z0-9' '_')
file=$dir/bench-$mib$suffix.pcap
# shellcheck disable=SC2086 # $gen is a list of options
[ -s "$file" ] || "$bin/examples/bench_gen" --mib "$mib" $gen -o "$file" 2>&1 | head -1
bytes=$(stat -c %s "$file")
cat "$file" > /dev/null # page cache warm
packets=$("$bin/examples/read_floor" "$file" | sed 's/.*packets=\([0-9]*\).*/\1/')

echo "# $(date -u +%FT%TZ) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $file: $bytes bytes, $packets packets; best of $runs runs"

# best wall seconds and peak RSS (KiB; GNU time's %M, the 'Maximum resident set size' of -v)
# of a command run $runs times
measure() {
  local best="" rss=0 out
  for _ in $(seq "$runs"); do
    out=$(/usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1)
    local s=${out% *} m=${out#* }
    if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; fi
    [ "$m" -gt "$rss" ] && rss=$m
  done
  echo "$best $rss"
}

printf '%-22s %9s %10s %12s %10s\n' what seconds MB/s packets/s peak_RSS_MiB
row() { # name seconds rss_kib
  awk -v n="$1" -v s="$2" -v r="$3" -v b="$bytes" -v p="$packets" \
    'BEGIN{ if (s < 0.005) s = 0.005; printf "%-22s %9.2f %10.1f %12.0f %10.1f\n", n, s, b/s/1e6, p/s, r/1024 }'
}
read -r floor_s floor_rss < <(measure "$bin/examples/read_floor" "$file")
row floor "$floor_s" "$floor_rss"
declare -A tt
for t in $threads; do
  read -r s r < <(measure "$bin/tlstriage" read --format ndjson --threads "$t" "$file")
  tt[$t]=$s
  row "tlstriage --threads $t" "$s" "$r"
done
if [ "$tshark" = 1 ]; then
  read -r tshark_s tshark_rss < <(measure tshark -r "$file" -Y tls.alert_message -T fields -e frame.number)
  row tshark "$tshark_s" "$tshark_rss"
fi
for t in $threads; do
  awk -v n="$t" -v a="${tt[$t]}" -v f="$floor_s" 'BEGIN{printf "ratio tlstriage(--threads %s)/floor throughput: %.1f%%\n", n, 100*f/a}'
  if [ "$tshark" = 1 ]; then
    awk -v n="$t" -v a="${tt[$t]}" -v s="$tshark_s" 'BEGIN{printf "ratio tlstriage(--threads %s)/tshark throughput: %.1fx\n", n, s/a}'
  fi
done
if [ "$report" = 1 ]; then
  html=$dir/report-$mib$suffix.html
  read -r s r < <(measure "$bin/tlstriage" report --threads "$(nproc)" -o "$html" "$file")
  row "report" "$s" "$r"
  echo "report: $(stat -c %s "$html") bytes, $(grep -o '<svg class="ladder"' "$html" | wc -l) ladders"
  if command -v chromium >/dev/null; then
    profile=$(mktemp -d)
    start=$(date +%s.%N)
    timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
      --user-data-dir="$profile" --dump-dom "file://$html" > /dev/null 2>&1 || echo "chromium failed or timed out"
    awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "report rendered in headless chromium in %.2f s\n", b-a}'
    rm -rf "$profile"
  else
    echo "chromium not found: rendering not timed" >&2
  fi
  [ "$keep" = 1 ] || rm -f "$html"
fi
[ "$keep" = 1 ] || rm -f "$file"
