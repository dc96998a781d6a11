#!/usr/bin/env bash
# Regenerates docs/report.png, the README's picture of `tlstriage report`: the report of
# samples/tls13-cert-rejected.pcap as headless Chromium draws it in a 1200 px wide window
# (tall enough for the verdict, the summary, the timeline and the group's ladder), cropped
# to what it drew. Needs chromium (apt-get install chromium) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin tlstriage
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/debug/tlstriage report -o "$work/report.html" samples/tls13-cert-rejected.pcap
chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1200,1500 \
  --screenshot="$work/report.png" "file://$work/report.html" > /dev/null 2>&1
cp "$work/report.png" docs/report.png
echo "docs/report.png: $(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print("%dx%d" % struct.unpack(">II", d[16:24]))' docs/report.png)"
