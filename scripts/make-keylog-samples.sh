#!/usr/bin/env bash
# Build the key-log samples in samples/keylog/ from REAL programs on loopback: openssl
# s_server and s_client (-keylogfile) or curl (SSLKEYLOGFILE), captured with tcpdump. Each
# capture is committed with the key log the client wrote while it was taken.
#
#   tls13-expired.pcap + .keys      TLS 1.3, the leaf expired on 2021-01-01: gnutls-cli
#                                   (SSLKEYLOGFILE) sends certificate_expired (45), encrypted.
#   tls13-wrong-name.pcap + .keys   TLS 1.3, gnutls-cli asks for wrong-name.example and rejects
#                                   the CN=localhost leaf with an encrypted alert.
#   tls13-mtls-required.pcap + .keys  TLS 1.3 server with -Verify 1, client without a
#                                   certificate: the server sends certificate_required (116).
#   tls13-chacha-ok.pcap + .keys    TLS 1.3 with TLS_CHACHA20_POLY1305_SHA256, an HTTP GET, and
#                                   the closing close_notify from both sides.
#   tls12-gcm-ok.pcap + .keys       TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 (curl), encrypted
#                                   close_notify alerts at the end.
#   tls12-cbc-etm.pcap + .keys      TLS 1.2 ECDHE-RSA-AES128-SHA with encrypt-then-MAC.
#   tls12-cbc-sha384.pcap + .keys   TLS 1.2 ECDHE-RSA-AES256-SHA384, MAC-then-encrypt (-no_etm).
#   tls12-gcm-dsb.pcapng            tls12-gcm-ok as pcapng with its key log embedded in a
#                                   Decryption Secrets Block (editcap --inject-secrets).
#   unrelated.keys                  a key log of another session (matches none of the above).
#   tls13-ccm-ok.pcap + .keys       TLS 1.3 TLS_AES_128_CCM_SHA256 (openssl s_client), a GET and
#                                   the closing close_notify alerts.
#   tls13-ccm8-ok.pcap + .keys      the same with TLS_AES_128_CCM_8_SHA256 (8-byte tags).
#
#   scripts/make-keylog-samples.sh   # needs root (tcpdump on lo), openssl, curl, editcap
#   ONLY_CCM=1 scripts/make-keylog-samples.sh   # only the two CCM samples
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(cd "$HERE/.." && pwd)/samples/keylog"
LO=127.0.0.1
WORK="$(mktemp -d)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY || true
export LC_ALL=C
log() { printf '[make-keylog-samples] %s\n' "$*" >&2; }

BG=()
cleanup() {
    local p
    for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    [ -n "${SAMPLES_KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

for t in openssl curl gnutls-cli tcpdump editcap; do
    command -v "$t" >/dev/null || { log "missing $t (apt-get install openssl curl gnutls-bin tcpdump wireshark-common)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { log "must run as root (tcpdump on lo)"; exit 1; }
mkdir -p "$OUT"
# s_client -keylogfile and curl append
if [ -n "${ONLY_CCM:-}" ]; then rm -f "$OUT"/tls13-ccm*.keys; else rm -f "$OUT"/*.keys; fi

# ---------------------------------------------------------------- certificates
cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
    -subj "/CN=tlstriage Keylog Sample CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() {   # leaf NAME START END
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$1.ext"
    mkdir -p ca/newcerts; : >ca/index.txt; [ -f ca/serial ] || echo 1000 >ca/serial
    cat >ca.cnf <<EOF
[ca]
default_ca=c
[c]
dir=$WORK/ca
database=\$dir/index.txt
new_certs_dir=\$dir/newcerts
serial=\$dir/serial
default_md=sha256
policy=p
unique_subject=no
[p]
commonName=supplied
EOF
    openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in "$1.csr" -out "$1.pem" \
        -startdate "$2" -enddate "$3" -extfile "$1.ext" -notext 2>/dev/null
}
leaf good 20240101000000Z 20340101000000Z
leaf expired 20200101000000Z 20210101000000Z

# ---------------------------------------------------------------- capture helpers
CAP=""
capture_start() {   # capture_start PORT
    tcpdump -i lo -nn -U --immediate-mode -s 0 -Z root -w "$WORK/cap.pcap" "tcp port $1 and host $LO" \
        2>"$WORK/tcpdump.err" </dev/null &
    CAP=$!
    for _ in $(seq 1 100); do
        grep -q 'listening on' "$WORK/tcpdump.err" 2>/dev/null && { sleep 0.2; return 0; }
        sleep 0.1
    done
    log "tcpdump did not start"; exit 1
}
capture_stop() {    # capture_stop NAME
    sleep 0.7
    kill -INT "$CAP" 2>/dev/null || true
    wait "$CAP" 2>/dev/null || true
    install -m 0644 "$WORK/cap.pcap" "$OUT/$1.pcap"
    log "wrote samples/keylog/$1.pcap"
}
server() {   # server PORT CERT ARGS...
    local port=$1 cert=$2; shift 2
    openssl s_server -accept "$port" -cert "$cert.pem" -key "$cert.key" -CAfile ca.pem "$@" \
        >"$WORK/server-$port.log" 2>&1 </dev/null &
    BG+=($!)
    for _ in $(seq 1 50); do
        ss -ltn "sport = :$port" | grep -q LISTEN && return 0
        sleep 0.1
    done
    log "s_server on $port did not start"; exit 1
}
stop_server() { kill "${BG[-1]}" 2>/dev/null || true; wait "${BG[-1]}" 2>/dev/null || true; }

# ---------------------------------------------------------------- scenarios
# TLS 1.3 AES-CCM (16- and 8-byte tags): OpenSSL offers neither by default, so both ends
# name the suite; an HTTP GET, then close_notify from both sides.
ccm_samples() {
    local name port suite
    for name in ccm:4609:TLS_AES_128_CCM_SHA256 ccm8:4610:TLS_AES_128_CCM_8_SHA256; do
        IFS=: read -r name port suite <<<"$name"
        capture_start "$port"
        server "$port" good -tls1_3 -ciphersuites "$suite" -www
        printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "$LO:$port" -servername localhost \
            -tls1_3 -ciphersuites "$suite" -CAfile ca.pem -keylogfile "$OUT/tls13-$name-ok.keys" -ign_eof \
            >/dev/null 2>&1 || true
        capture_stop "tls13-$name-ok"; stop_server
    done
}
if [ -n "${ONLY_CCM:-}" ]; then
    ccm_samples; chmod 0644 "$OUT"/tls13-ccm*.keys; log "done"; exit 0
fi

# TLS 1.3, expired leaf: GnuTLS verifies and aborts with certificate_expired, encrypted
# under its handshake key (OpenSSL's client would send that alert in the clear).
capture_start 4601
server 4601 expired -tls1_3 -www
SSLKEYLOGFILE="$OUT/tls13-expired.keys" timeout 10 gnutls-cli $LO -p 4601 --sni-hostname localhost \
    --verify-hostname localhost --x509cafile ca.pem --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' \
    </dev/null >/dev/null 2>&1 || true
capture_stop tls13-expired; stop_server

# TLS 1.3, name mismatch: GnuTLS asks for wrong-name.example and gets CN=localhost.
capture_start 4606
server 4606 good -tls1_3 -www
SSLKEYLOGFILE="$OUT/tls13-wrong-name.keys" timeout 10 gnutls-cli $LO -p 4606 \
    --sni-hostname wrong-name.example --verify-hostname wrong-name.example --x509cafile ca.pem \
    --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' </dev/null >/dev/null 2>&1 || true
capture_stop tls13-wrong-name; stop_server

# TLS 1.3, client certificate required and not sent: the server aborts with certificate_required.
capture_start 4602
server 4602 good -tls1_3 -Verify 1 -www
printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect $LO:4602 -servername localhost -tls1_3 \
    -CAfile ca.pem -keylogfile "$OUT/tls13-mtls-required.keys" -ign_eof >/dev/null 2>&1 || true
capture_stop tls13-mtls-required; stop_server

# TLS 1.3 ChaCha20-Poly1305, a good session.
capture_start 4603
server 4603 good -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 -www
SSLKEYLOGFILE="$OUT/tls13-chacha-ok.keys" curl -sS --tlsv1.3 --cacert ca.pem \
    --resolve "localhost:4603:$LO" "https://localhost:4603/" -o /dev/null
capture_stop tls13-chacha-ok; stop_server
ccm_samples

# TLS 1.2 AES-128-GCM, a good session ending with encrypted close_notify alerts.
capture_start 4604
server 4604 good -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -www
SSLKEYLOGFILE="$OUT/tls12-gcm-ok.keys" curl -sS --tlsv1.2 --tls-max 1.2 --cacert ca.pem \
    --resolve "localhost:4604:$LO" "https://localhost:4604/" -o /dev/null
capture_stop tls12-gcm-ok; stop_server

# TLS 1.2 AES-128-CBC with HMAC-SHA1: encrypt-then-MAC (OpenSSL's default, RFC 7366) and,
# with -no_etm on the server, MAC-then-encrypt; both end with encrypted close_notify.
capture_start 4607
server 4607 good -tls1_2 -cipher ECDHE-RSA-AES128-SHA -www
SSLKEYLOGFILE="$OUT/tls12-cbc-etm.keys" curl -sS --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES128-SHA \
    --cacert ca.pem --resolve "localhost:4607:$LO" "https://localhost:4607/" -o /dev/null
capture_stop tls12-cbc-etm; stop_server
capture_start 4608
server 4608 good -tls1_2 -cipher ECDHE-RSA-AES256-SHA384 -no_etm -www
SSLKEYLOGFILE="$OUT/tls12-cbc-sha384.keys" curl -sS --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES256-SHA384 \
    --cacert ca.pem --resolve "localhost:4608:$LO" "https://localhost:4608/" -o /dev/null
capture_stop tls12-cbc-sha384; stop_server

# The same capture as pcapng with its secrets embedded.
editcap -F pcapng "$OUT/tls12-gcm-ok.pcap" "$WORK/gcm.pcapng"
editcap --inject-secrets "tls,$OUT/tls12-gcm-ok.keys" "$WORK/gcm.pcapng" "$OUT/tls12-gcm-dsb.pcapng"
log "wrote samples/keylog/tls12-gcm-dsb.pcapng"

# A key log of a session that is in none of the captures (no capture running).
server 4605 good -tls1_3 -www
SSLKEYLOGFILE="$OUT/unrelated.keys" curl -sS --cacert ca.pem --resolve "localhost:4605:$LO" \
    "https://localhost:4605/" -o /dev/null
stop_server
chmod 0644 "$OUT"/*.keys
log "done"
