#!/usr/bin/env bash
# Build the stapled-OCSP samples in samples/ocsp/ from REAL programs on loopback: OCSP
# responses made by `openssl ocsp` acting as the CA's responder, served by `openssl s_server
# -status_file`, asked for by `openssl s_client -status` or `gnutls-cli --ocsp`, captured
# with tcpdump. The CA is kept as samples/ocsp/ca.pem (for --ca-file).
#
#   good.pcap           TLS 1.2, the staple says good (valid for 7 days from its making)
#   revoked.pcap        TLS 1.2, the staple says revoked (keyCompromise)
#   expired.pcap        TLS 1.2, the staple's nextUpdate passed a minute before the capture;
#                       gnutls-cli --ocsp rejects it
#   other-cert.pcap     TLS 1.2, the staple is a good response for another certificate
#   tls13-revoked.pcap  TLS 1.3 (+ tls13-revoked.keys): the staple rides in the leaf's
#                       CertificateEntry, readable once decrypted
#
#   scripts/make-ocsp-samples.sh   # needs root (tcpdump on lo), openssl, gnutls-cli; ~2 minutes
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(cd "$HERE/.." && pwd)/samples/ocsp"
LO=127.0.0.1
WORK="$(mktemp -d)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY || true
export LC_ALL=C
log() { printf '[make-ocsp-samples] %s\n' "$*" >&2; }

BG=()
cleanup() {
    local p
    for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    [ -n "${SAMPLES_KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

for t in openssl gnutls-cli tcpdump; do
    command -v "$t" >/dev/null || { log "missing $t (apt-get install openssl gnutls-bin tcpdump)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { log "must run as root (tcpdump on lo)"; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT"/*.keys

# ---------------------------------------------------------------- certificates
cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
    -subj "/CN=tlstriage OCSP Sample CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
mkdir -p ca/newcerts; : >ca/index.txt; echo 4000 >ca/serial
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
leaf() {   # leaf NAME
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$1.ext"
    openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in "$1.csr" -out "$1.pem" \
        -days 825 -extfile "$1.ext" -notext 2>/dev/null
}
leaf server
leaf other
cp ca/index.txt index-good.txt
# Both leaves are CN=localhost: the index must allow a subject twice.
echo "unique_subject = no" >index-good.txt.attr
# The server's certificate revoked for keyCompromise (what `openssl ca -revoke` writes).
openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -revoke server.pem -crl_reason keyCompromise 2>/dev/null
cp ca/index.txt index-revoked.txt
cp index-good.txt.attr index-revoked.txt.attr

# respond INDEX CERT OUT.der ARGS...: the CA answers a request for CERT from its INDEX
respond() {
    local index=$1 cert=$2 out=$3; shift 3
    openssl ocsp -issuer ca.pem -cert "$cert.pem" -no_nonce -reqout "$out.req" 2>/dev/null
    openssl ocsp -index "$index" -CA ca.pem -rsigner ca.pem -rkey ca.key -reqin "$out.req" \
        -respout "$out" "$@" 2>/dev/null
}
respond index-good.txt server good.der -ndays 7
respond index-revoked.txt server revoked.der -ndays 7
respond index-good.txt other other-cert.der -ndays 7
respond index-good.txt server expired.der -nmin 1

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
    log "wrote samples/ocsp/$1.pcap"
}
server() {   # server PORT STAPLE ARGS...
    local port=$1 staple=$2; shift 2
    openssl s_server -accept "$port" -cert server.pem -key server.key -status_file "$staple" -www "$@" \
        >"$WORK/server-$port.log" 2>&1 </dev/null &
    BG+=($!)
    sleep 0.5
}
stop_server() { kill "${BG[-1]}" 2>/dev/null || true; wait "${BG[-1]}" 2>/dev/null || true; }
sclient() {  # sclient PORT ARGS...: asks for the staple, closes after the handshake
    local port=$1; shift
    timeout 10 openssl s_client -connect "$LO:$port" -servername localhost -status -CAfile ca.pem "$@" \
        </dev/null >>"$WORK/client.log" 2>&1 || true
}

# ---------------------------------------------------------------- samples
staple_sample() {  # staple_sample NAME PORT STAPLE
    server "$2" "$3" -tls1_2
    capture_start "$2"
    sclient "$2" -tls1_2
    capture_stop "$1"
    stop_server
}
staple_sample good 4701 good.der
staple_sample revoked 4702 revoked.der
staple_sample other-cert 4703 other-cert.der

# The expired staple: nextUpdate is one minute after its making; wait it out.
log "waiting 70 s for the expired staple's nextUpdate to pass"
sleep 70
server 4704 expired.der -tls1_2
capture_start 4704
timeout 10 gnutls-cli "$LO" -p 4704 --sni-hostname localhost --verify-hostname localhost \
    --x509cafile ca.pem --ocsp --priority NORMAL:-VERS-ALL:+VERS-TLS1.2 </dev/null >>"$WORK/client.log" 2>&1 || true
capture_stop expired
stop_server

server 4705 revoked.der -tls1_3
capture_start 4705
sclient 4705 -tls1_3 -keylogfile "$OUT/tls13-revoked.keys"
capture_stop tls13-revoked
stop_server

install -m 0644 ca.pem "$OUT/ca.pem"
for r in good revoked other-cert expired; do openssl ocsp -respin "$r.der" -resp_text -noverify 2>/dev/null | sed -n '1,40p' >"$WORK/$r.txt"; done
log "client output:"; grep -i -E 'OCSP|Cert Status|revok|alert|error|status' "$WORK/client.log" | head -40 >&2 || true
