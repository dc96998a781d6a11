#!/usr/bin/env bash
# tests/data/cert-10000-sans.pcap: one TLS 1.2 handshake on loopback whose server
# certificate (self-signed, RSA 2048) carries 10,000 DNS names (0000.ex ... 9999.ex, short so that the certificate stays under OpenSSL's 100 KiB max_cert_list),
# played by openssl s_server / s_client and captured with tcpdump on lo. The client asks for
# www.other.example (not among the names) and rejects the self-signed certificate, so the
# capture raises findings whose evidence holds every name: the input of the record-size
# bounds (tests/syslog.rs, tests/big_records.rs). Kept out of samples/ so the per-sample
# tests (tshark oracle, HTML report) do not all carry a 200 KB certificate.
#
#   scripts/make-big-san-capture.sh      # needs root (tcpdump on lo), openssl, tcpdump
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/tests/data/cert-10000-sans.pcap"
PORT=4499
WORK="$(mktemp -d /tmp/tlstriage-bigsan.XXXXXX)"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "must run as root (tcpdump on lo)" >&2; exit 1; }

{
    printf '[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n'
    printf '[dn]\nCN = 0000.ex\n[ext]\nsubjectAltName = @names\n'
    printf 'basicConstraints = critical,CA:FALSE\n[names]\n'
    for i in $(seq 0 9999); do printf 'DNS.%d = %04d.ex\n' "$i" "$i"; done
} >"$WORK/req.cnf"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -config "$WORK/req.cnf" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

openssl s_server -accept $PORT -cert "$WORK/cert.pem" -key "$WORK/key.pem" -tls1_2 -www \
    >"$WORK/server.log" 2>&1 </dev/null &
PIDS+=($!)
tcpdump -i lo -nn -U --immediate-mode -s 0 -Z root -w "$WORK/out.pcap" \
    "tcp port $PORT and host 127.0.0.1" 2>"$WORK/tcpdump.err" </dev/null &
TCPDUMP=$!
PIDS+=($TCPDUMP)
for _ in $(seq 1 100); do
    grep -q 'listening on' "$WORK/tcpdump.err" 2>/dev/null && break
    sleep 0.1
done
sleep 0.3
timeout 10 openssl s_client -connect 127.0.0.1:$PORT -servername www.other.example -tls1_2 \
    -verify_return_error </dev/null >"$WORK/client.log" 2>&1 || true
sleep 0.5
kill -INT $TCPDUMP
wait $TCPDUMP || true
cp "$WORK/out.pcap" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)"
