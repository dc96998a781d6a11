#!/usr/bin/env bash
# A keyed benchmark capture: many REAL TLS sessions on loopback (openssl s_server, Python's
# ssl client writing every session's secrets with keylog_filename), captured with tcpdump,
# so the cost of decryption can be measured with a key log covering every session.
#
#   scripts/make-keylog-bench.sh [--sessions N] [--kib K] [--dir DIR]
#
# Makes DIR/keylog-bench.pcap and DIR/keylog-bench.keys (default /tmp/tlstriage-keylog-bench,
# N=2000 sessions, each a GET of a K=64 KiB file): a third TLS 1.3 AES-256-GCM, a third TLS
# 1.3 ChaCha20-Poly1305, a third TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, 8 clients at a time.
# Real sessions rather than copies of the samples with rewritten client randoms: a TLS 1.2
# key block is derived from both randoms, so rewritten copies would not decrypt.
# Needs root (tcpdump on lo), openssl, python3.
set -euo pipefail

sessions=2000 kib=64 dir=/tmp/tlstriage-keylog-bench
while [ $# -gt 0 ]; do
    case "$1" in
        --sessions) sessions=$2; shift 2 ;;
        --kib) kib=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        *) echo "usage: $0 [--sessions N] [--kib K] [--dir DIR]" >&2; exit 2 ;;
    esac
done
for t in openssl python3 tcpdump; do
    command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "must run as root (tcpdump on lo)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
work=$(mktemp -d)
BG=()
cleanup() {
    local p
    for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout k.pem \
    -out c.pem -days 1 -subj /CN=localhost 2>/dev/null
head -c $((kib * 1024)) /dev/urandom >file.bin

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p13=$(port) pcc=$(port) p12=$(port)
openssl s_server -quiet -WWW -tls1_3 -cert c.pem -key k.pem -accept "$p13" </dev/null >/dev/null 2>&1 &
BG+=($!)
openssl s_server -quiet -WWW -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 -cert c.pem \
    -key k.pem -accept "$pcc" </dev/null >/dev/null 2>&1 &
BG+=($!)
openssl s_server -quiet -WWW -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -cert c.pem -key k.pem \
    -accept "$p12" </dev/null >/dev/null 2>&1 &
BG+=($!)
rm -f "$dir/keylog-bench.keys" "$dir/keylog-bench.pcap"
tcpdump -i lo -B 262144 -U -w "$dir/keylog-bench.pcap" \
    "host 127.0.0.1 and (tcp port $p13 or tcp port $pcc or tcp port $p12)" 2>/dev/null &
BG+=($!)
sleep 1

python3 - "$p13" "$pcc" "$p12" "$sessions" "$dir/keylog-bench.keys" <<'EOF'
import concurrent.futures, socket, ssl, sys
p13, pcc, p12 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
n, keys = int(sys.argv[4]), sys.argv[5]
def ctx(v, ciphers=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname, c.verify_mode = False, ssl.CERT_NONE
    c.minimum_version = c.maximum_version = v
    c.keylog_filename = keys
    return c
tls13 = ctx(ssl.TLSVersion.TLSv1_3)
tls12 = ctx(ssl.TLSVersion.TLSv1_2)
def one(i):
    # The ChaCha server offers only that suite (Python cannot choose TLS 1.3 suites).
    c, port = [(tls13, p13), (tls13, pcc), (tls12, p12)][i % 3]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with c.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"GET /file.bin HTTP/1.0\r\n\r\n")
            got = 0
            while True:
                b = t.recv(65536)
                if not b:
                    break
                got += len(b)
    return got
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    sizes = list(ex.map(one, range(n)))
print(f"{n} sessions, {sum(sizes)} bytes received", file=sys.stderr)
EOF
sleep 1
kill -INT "${BG[-1]}"; wait "${BG[-1]}" 2>/dev/null || true
unset 'BG[-1]'
ls -l "$dir/keylog-bench.pcap" "$dir/keylog-bench.keys" >&2
