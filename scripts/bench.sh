#!/usr/bin/env bash
# Throughput and peak memory of tlstriage against the read floors and tshark, on the same
# generated capture in the same run.
#
#   scripts/bench.sh [--mib N] [--runs R] [--threads "1 2"] [--dir DIR] [--keep] [--no-tshark]
#                    [--gen "GENERATOR OPTIONS"] [--report]
#
# Builds the release binary and the examples, generates DIR/bench-N.pcap with
# examples/bench_gen.rs (deterministic; replays samples/*.pcap; reused when present), warms
# the page cache, then runs R rounds, each running once, one after the other:
#   header floor  examples/read_floor --headers: every pcap record header read from a memory
#                 map, the frames skipped (the physical floor)
#   byte floor    examples/read_floor: tlstriage's capture reader over every packet, each
#                 frame's bytes summed, nothing else
#   tlstriage     tlstriage read --format ndjson --threads T FILE > /dev/null  (each T of
#                 --threads; "default" runs it without --threads: one thread per core)
#   tshark        tshark -r FILE -Y tls.alert_message -T fields -e frame.number > /dev/null
#                 (first round only: it takes a minute a GiB)
# and prints the median seconds of the rounds, MB/s (10^6 bytes of file per second),
# packets/s and the highest peak RSS (/usr/bin/time), then the ratios of throughput
# tlstriage/floor for both floors and tlstriage/tshark. Rounds interleave the commands so
# that a busy neighbour slows all of them alike. The capture is deleted at the end unless
# --keep. Needs /usr/bin/time (apt: time), and tshark for its row (apt: tshark). --report
# also writes `tlstriage report` of the capture (time, peak RSS, size of the HTML) and times
# headless Chromium rendering it (--dump-dom; needs chromium; the issue #20 target is under
# 5 MB and under 10 s for the 1 GiB capture).
set -euo pipefail
cd "$(dirname "$0")/.."

mib=1024 runs=5 threads="1 default" dir=/tmp/tlstriage-bench keep=0 tshark=1 gen="" report=0
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
    *) echo "usage: $0 [--mib N] [--runs R] [--threads \"1 default\"] [--dir DIR] [--keep] [--no-tshark] [--gen \"OPTS\"]" >&2; exit 2 ;;
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
packets=$("$bin/examples/read_floor" --headers "$file" | sed 's/.*packets=\([0-9]*\).*/\1/')

echo "# $(date -u +%FT%TZ) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $file: $bytes bytes, $packets packets; median of $runs rounds"

names=("header floor" "byte floor")
cmds=("$bin/examples/read_floor --headers $file" "$bin/examples/read_floor $file")
for t in $threads; do
  if [ "$t" = default ]; then
    names+=("tlstriage (default threads)")
    cmds+=("$bin/tlstriage read --format ndjson $file")
  else
    names+=("tlstriage --threads $t")
    cmds+=("$bin/tlstriage read --format ndjson --threads $t $file")
  fi
done
if [ "$tshark" = 1 ]; then
  names+=("tshark")
  cmds+=("tshark -r $file -Y tls.alert_message -T fields -e frame.number")
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for round in $(seq "$runs"); do
  for i in "${!cmds[@]}"; do
    [ "${names[$i]}" = tshark ] && [ "$round" -gt 1 ] && continue
    # shellcheck disable=SC2086 # each command is a word list without spaces in words
    /usr/bin/time -f '%e %M' -o "$tmp/time" ${cmds[$i]} > /dev/null 2>"$tmp/stderr" || { cat "$tmp/stderr" >&2; exit 1; }
    cat "$tmp/time" >> "$tmp/$i"
  done
done

# median seconds and highest peak RSS (KiB) of the runs of command $1
stat_of() {
  sort -n "$tmp/$1" | awk '{ s[NR] = $1; if ($2 > m) m = $2 }
    END { med = (NR % 2) ? s[(NR + 1) / 2] : (s[NR / 2] + s[NR / 2 + 1]) / 2; print med, m }'
}

printf '%-34s %9s %10s %12s %13s\n' what seconds MB/s packets/s peak_RSS_MiB
declare -A secs
for i in "${!cmds[@]}"; do
  read -r s r < <(stat_of "$i")
  secs[$i]=$s
  awk -v n="${names[$i]}" -v s="$s" -v r="$r" -v b="$bytes" -v p="$packets" \
    'BEGIN{ if (s < 0.005) s = 0.005; printf "%-34s %9.3f %10.1f %12.0f %13.1f\n", n, s, b/s/1e6, p/s, r/1024 }'
done
tshark_i=""
for i in "${!cmds[@]}"; do [ "${names[$i]}" = tshark ] && tshark_i=$i; done
for i in "${!cmds[@]}"; do
  case "${names[$i]}" in tlstriage*) ;; *) continue ;; esac
  awk -v n="${names[$i]}" -v a="${secs[$i]}" -v h="${secs[0]}" -v f="${secs[1]}" \
    'BEGIN{ if (a < 0.005) a = 0.005
      printf "ratio %s / header floor throughput: %.1f%%\n", n, 100*h/a
      printf "ratio %s / byte floor throughput: %.1f%%\n", n, 100*f/a }'
  if [ -n "$tshark_i" ]; then
    awk -v n="${names[$i]}" -v a="${secs[$i]}" -v s="${secs[$tshark_i]}" \
      'BEGIN{ if (a < 0.005) a = 0.005; printf "ratio %s / tshark throughput: %.1fx\n", n, s/a }'
  fi
done
if [ "$report" = 1 ]; then
  html=$dir/report-$mib$suffix.html
  /usr/bin/time -f '%e %M' -o "$tmp/report-time" "$bin/tlstriage" report --threads "$(nproc)" -o "$html" "$file"
  read -r s r < "$tmp/report-time"
  awk -v s="$s" -v r="$r" 'BEGIN{ printf "report: %.2f s, peak RSS %.1f MiB\n", s, r/1024 }'
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
