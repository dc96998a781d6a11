#!/usr/bin/env bash
# Regenerate the bundled sample captures in samples/ from REAL programs talking on
# loopback (openssl s_server/s_client, curl, python's ssl/smtplib/http.server and the
# small helpers in scripts/sample_helpers.py).  All traffic stays on 127.0.0.1.
#
#   scripts/make-samples.sh      # (re)build every sample, then samples/EXPECTED.tsv and README.md
#   scripts/make-samples.sh --verify   # no capture: re-dissect the existing samples/*.pcap with
#                                      # tshark, check them, rewrite EXPECTED.tsv and README.md
#   scripts/make-samples.sh --new NAME...  # (or --only NAME...) capture only the named samples (the others are
#                                      # re-dissected as with --verify); the trust-* samples
#                                      # share samples/trust-root.pem, so they go together
#   SAMPLES_KEEP_WORK=1 scripts/make-samples.sh   # keep the temp dir (certs, logs) for debugging
#
# Needs root (tcpdump on lo).  Missing tools are installed with apt-get (Debian/Ubuntu).
# What happens in each scenario is deterministic; the bytes are not (keys, randoms, times).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
OUT="$ROOT/samples"
HELPER="$HERE/sample_helpers.py"
LO=127.0.0.1

# Never let a proxy from the environment redirect curl or python off loopback.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY ftp_proxy FTP_PROXY || true
export LC_ALL=C

log() { printf '[make-samples] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------ tools
ensure_tools() {
    local missing=()
    command -v tcpdump >/dev/null || missing+=(tcpdump)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v curl    >/dev/null || missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    command -v tshark  >/dev/null || missing+=(tshark)
    command -v gnutls-cli >/dev/null || missing+=(gnutls-bin)
    command -v socat   >/dev/null || missing+=(socat)
    # The upgrade and tunnel samples (scripts/upgrade-samples.sh).
    command -v mariadbd >/dev/null || missing+=(mariadb-server mariadb-client)
    command -v microsocks >/dev/null || missing+=(microsocks)
    command -v xrdp    >/dev/null || missing+=(xrdp)
    command -v xfreerdp >/dev/null || missing+=(freerdp2-x11)
    command -v Xvfb    >/dev/null || missing+=(xvfb)
    if ((${#missing[@]})); then
        [ "$(id -u)" = 0 ] || die "missing tools (${missing[*]}) and not root; install them first"
        command -v apt-get >/dev/null || die "missing tools (${missing[*]}) and no apt-get"
        log "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends ca-certificates "${missing[@]}" >/dev/null
    fi
    [ "$(id -u)" = 0 ] || die "must run as root (tcpdump needs to capture on lo)"
    python3 -c 'import ssl, smtplib' || die "python3 lacks ssl/smtplib"
}

# ------------------------------------------------------------------ process bookkeeping
BG_PIDS=()
WORK=""
cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ -n "$WORK" ]; then
        if [ -n "${SAMPLES_KEEP_WORK:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

VERIFY_ONLY=""

# start_bg LOGNAME cmd...  -> runs cmd in the background, pid in $BG_PID
start_bg() {
    BG_PID=""
    [ -n "$VERIFY_ONLY" ] && return 0
    local name="$1"; shift
    "$@" >"$WORK/log/$name.out" 2>&1 </dev/null &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}
stop_bg() {   # stop_bg PID [SIGNAL]
    [ -n "$1" ] || return 0
    kill "-${2:-TERM}" "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# wait_listen PORT: until something listens on 127.0.0.1:PORT (no probe connection)
wait_listen() {
    [ -n "$VERIFY_ONLY" ] && return 0
    local hex i
    hex=$(printf '%04X' "$1")
    for i in $(seq 1 100); do
        if awk -v h=":$hex" 'NR>1 && $4=="0A" && substr($2, length($2)-4)==h {f=1} END{exit !f}' /proc/net/tcp; then
            return 0
        fi
        sleep 0.1
    done
    die "nothing listens on port $1"
}

# capture_start FILE PORT [HOST]: tcpdump on lo for 'tcp port PORT and host HOST' (HOST
# defaults to 127.0.0.1; ::1 for the IPv6 samples; PORT may be 'range A-B'), waits until
# it is live
CAP_PID=""
CAP_FILE=""
capture_start() {
    [ -n "$VERIFY_ONLY" ] && return 0
    CAP_FILE="$WORK/pcap/$1"
    rm -f "$CAP_FILE" "$WORK/log/tcpdump.err"
    local port="port $2"
    [[ "$2" == range* ]] && port="portrange ${2#range }"
    tcpdump -i lo -nn -U --immediate-mode -s 0 -Z root -w "$CAP_FILE" "tcp $port and host ${3:-$LO}" \
        2>"$WORK/log/tcpdump.err" </dev/null &
    CAP_PID=$!
    local i
    for i in $(seq 1 100); do
        grep -q 'listening on' "$WORK/log/tcpdump.err" 2>/dev/null && { sleep 0.2; return 0; }
        kill -0 "$CAP_PID" 2>/dev/null || die "tcpdump failed: $(cat "$WORK/log/tcpdump.err")"
        sleep 0.1
    done
    die "tcpdump did not start"
}
capture_stop() {
    [ -n "$VERIFY_ONLY" ] && return 0
    sleep 0.7                      # let the last FIN/ACK/RST go through
    kill -INT "$CAP_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 20); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$CAP_PID" 2>/dev/null || true   # SIGINT may be ignored in a background job
    wait "$CAP_PID" 2>/dev/null || true
    install -m 0644 "$CAP_FILE" "$OUT/$(basename "$CAP_FILE")"
    log "wrote samples/$(basename "$CAP_FILE") ($(stat -c %s "$CAP_FILE") bytes)"
}

# describe FILE SERVER_PORT TSHARK_DECODE SCENARIO COMMAND ANALYST EXPECT
#   TSHARK_DECODE: tshark -d protocol for SERVER_PORT (tls, smtp, http)
#   EXPECT: ';'-separated checks run by samples_expected.py against tshark's dissection
describe() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$WORK/manifest.tsv"
}

# ------------------------------------------------------------------ certificates
make_certs() {
    local c="$WORK/certs"
    mkdir -p "$c/db/new"
    : >"$c/db/index.txt"
    echo 1000 >"$c/db/serial"
    cat >"$c/ca.cnf" <<EOF
[ ca ]
default_ca = sample_ca
[ sample_ca ]
database        = $c/db/index.txt
new_certs_dir   = $c/db/new
serial          = $c/db/serial
default_md      = sha256
policy          = any
copy_extensions = copy
unique_subject  = no
x509_extensions = leaf_ext
[ any ]
commonName = supplied
[ leaf_ext ]
basicConstraints = critical,CA:FALSE
keyUsage         = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
EOF
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -keyout "$c/ca.key" -out "$c/ca.pem" -subj "/CN=tlstriage Sample CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    # leaf NAME CN SAN [openssl-ca date args...]
    leaf() {
        local name="$1" cn="$2" san="$3"; shift 3
        openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$c/$name.key" -out "$c/$name.csr" \
            -subj "/CN=$cn" -addext "subjectAltName=$san" 2>/dev/null
        openssl ca -batch -notext -config "$c/ca.cnf" -cert "$c/ca.pem" -keyfile "$c/ca.key" \
            -in "$c/$name.csr" -out "$c/$name.pem" "$@" 2>/dev/null
    }
    leaf good    localhost          "DNS:localhost,IP:127.0.0.1" -days 825
    leaf expired localhost          "DNS:localhost,IP:127.0.0.1" -startdate 20200101000000Z -enddate 20210101000000Z
    leaf wrong   wrong-host.example "DNS:wrong-host.example"     -days 825
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
        -keyout "$c/self.key" -out "$c/self.pem" -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
    export SAMPLES_CA="$c/ca.pem"
}

# The trust samples' PKI: root -> intermediate -> leaves, the way public CAs issue (the
# root never signs a server certificate). The root is kept as samples/trust-root.pem so
# that tests can pass it with --ca-file.
make_trust_certs() {
    local t="$WORK/trust"
    mkdir -p "$t"
    # tca NAME SUBJECT ISSUER openssl-x509-date-args...: a CA certificate
    tca() {
        local name="$1" subj="$2" issuer="$3"; shift 3
        printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >"$t/$name.ext"
        openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$t/$name.key" -out "$t/$name.csr" -subj "$subj" 2>/dev/null
        if [ "$issuer" = self ]; then
            openssl x509 -req -sha256 -in "$t/$name.csr" -signkey "$t/$name.key" -extfile "$t/$name.ext" -out "$t/$name.pem" "$@" 2>/dev/null
        else
            openssl x509 -req -sha256 -in "$t/$name.csr" -CA "$t/$issuer.pem" -CAkey "$t/$issuer.key" -CAcreateserial \
                -extfile "$t/$name.ext" -out "$t/$name.pem" "$@" 2>/dev/null
        fi
    }
    # tleaf NAME ISSUER openssl-ca-date-args...: a localhost server certificate (openssl ca,
    # which takes explicit start and end dates)
    tleaf() {
        local name="$1" issuer="$2"; shift 2
        mkdir -p "$t/db-$name/new"; : >"$t/db-$name/index.txt"; echo 2000 >"$t/db-$name/serial"
        sed -e "s|$WORK/certs/db|$t/db-$name|" "$WORK/certs/ca.cnf" >"$t/$name.cnf"
        openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$t/$name.key" -out "$t/$name.csr" \
            -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
        openssl ca -batch -notext -config "$t/$name.cnf" -cert "$t/$issuer.pem" -keyfile "$t/$issuer.key" \
            -in "$t/$name.csr" -out "$t/$name.pem" "$@" 2>/dev/null
    }
    tca root "/O=tlstriage/CN=tlstriage Trust Root" self -days 3650
    tca int "/O=tlstriage/CN=tlstriage Trust Intermediate" root -days 1825
    tleaf leaf int -days 825
    tleaf soon int -days 5
    # An intermediate that expired on 2021-01-01, still served with a leaf it issued in 2020.
    openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$t/oldint.key" -out "$t/oldint.csr" \
        -subj "/O=tlstriage/CN=tlstriage Old Intermediate" 2>/dev/null
    mkdir -p "$t/db-oldint/new"; : >"$t/db-oldint/index.txt"; echo 3000 >"$t/db-oldint/serial"
    sed -e "s|$WORK/certs/db|$t/db-oldint|" -e 's|^x509_extensions = leaf_ext|x509_extensions = ca_ext|' "$WORK/certs/ca.cnf" >"$t/oldint.cnf"
    printf '[ ca_ext ]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n' >>"$t/oldint.cnf"
    sed -i 's|^commonName = supplied|commonName = supplied\norganizationName = optional|' "$t/oldint.cnf"
    openssl ca -batch -notext -config "$t/oldint.cnf" -cert "$t/root.pem" -keyfile "$t/root.key" \
        -in "$t/oldint.csr" -out "$t/oldint.pem" -startdate 20190101000000Z -enddate 20210101000000Z 2>/dev/null
    tleaf oldleaf oldint -startdate 20200601000000Z -enddate 20300101000000Z
    cat "$t/int.pem" >"$t/chain-int.pem"
    cat "$t/oldint.pem" >"$t/chain-oldint.pem"
    cat "$t/root.pem" "$t/int.pem" >"$t/chain-root-first.pem"
    install -m 0644 "$t/root.pem" "$OUT/trust-root.pem"
    export TRUST_ROOT="$t/root.pem"
}

# s_server_bg PORT CERTNAME extra-args...   (-www: answers GET / with a status page)
s_server_bg() {
    local port="$1" name="$2"; shift 2
    start_bg "s_server-$port" openssl s_server -accept "$LO:$port" \
        -cert "$WORK/certs/$name.pem" -key "$WORK/certs/$name.key" -www "$@"
    wait_listen "$port"
}

CURL=(curl -q -sS -o /dev/null --max-time 10)   # -q: ignore any .curlrc
CA="--cacert"
# client commands are allowed to fail (that is the point of most scenarios)
client() { [ -n "$VERIFY_ONLY" ] && return 0; "$@" >>"$WORK/log/client.out" 2>&1 </dev/null || true; }
sclient() { # sclient PORT args... ; stdin closed -> s_client shuts down after the handshake
    [ -n "$VERIFY_ONLY" ] && return 0
    local port="$1"; shift
    timeout 10 openssl s_client -connect "$LO:$port" "$@" >>"$WORK/log/client.out" 2>&1 </dev/null || true
}

# ------------------------------------------------------------------ scenarios
sample_tls12_ok() {
    local p=4431 f=tls12-ok.pcap
    s_server_bg $p good -tls1_2
    capture_start $f $p
    client "${CURL[@]}" --tlsv1.2 --tls-max 1.2 $CA "$SAMPLES_CA" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Good TLS 1.2 handshake, one HTTP GET and response, clean close." \
        "openssl s_server -tls1_2 -www (CA-signed cert for localhost); curl --tlsv1.2 --tls-max 1.2 --cacert ca.pem https://localhost:$p/" \
        "Full TLS 1.2 handshake (SNI localhost), encrypted application data both ways, encrypted close_notify alerts, FIN close; no problem to report." \
        "version=TLSv1.2;sni=localhost;established=yes;no_clear_fatal"
}

sample_tls13_ok() {
    local p=4432 f=tls13-ok.pcap
    s_server_bg $p good -tls1_3
    capture_start $f $p
    client "${CURL[@]}" --tlsv1.3 $CA "$SAMPLES_CA" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Good TLS 1.3 handshake, one HTTP GET and response, clean close." \
        "openssl s_server -tls1_3 -www; curl --tlsv1.3 --cacert ca.pem https://localhost:$p/" \
        "TLS 1.3 (supported_versions), server flight encrypted after ServerHello, application data both ways, close; no problem to report." \
        "version=TLSv1.3;sni=localhost;established=yes;no_clear_fatal"
}

sample_version_mismatch() {
    local p=4433 f=version-mismatch.pcap
    s_server_bg $p good -tls1_3
    capture_start $f $p
    sclient $p -servername localhost -tls1 -cipher 'DEFAULT:@SECLEVEL=0'
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Server accepts only TLS 1.3, client offers only TLS 1.0." \
        "openssl s_server -tls1_3 -www; openssl s_client -connect 127.0.0.1:$p -servername localhost -tls1 -cipher 'DEFAULT:@SECLEVEL=0'" \
        "ClientHello with legacy_version TLS 1.0 and no supported_versions extension, answered by a fatal protocol_version alert from the server, no ServerHello; server gave up at client_hello." \
        "version=-;established=no;alert=server:fatal:protocol_version;no_server_hello"
}

sample_cipher_mismatch() {
    local p=4434 f=cipher-mismatch.pcap
    s_server_bg $p good -tls1_2 -cipher AES256-GCM-SHA384
    capture_start $f $p
    sclient $p -servername localhost -tls1_2 -cipher AES128-SHA
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "No shared cipher suite: server allows only AES256-GCM-SHA384, client offers only AES128-SHA (TLS 1.2)." \
        "openssl s_server -tls1_2 -cipher AES256-GCM-SHA384 -www; openssl s_client -connect 127.0.0.1:$p -servername localhost -tls1_2 -cipher AES128-SHA" \
        "ClientHello offering only AES128-SHA (0x002f) plus the renegotiation SCSV (0x00ff), answered directly by a fatal handshake_failure alert from the server, no ServerHello." \
        "version=-;established=no;alert=server:fatal:handshake_failure;no_server_hello"
}

sample_cert_expired() {
    local p=4435 f=cert-expired.pcap
    s_server_bg $p expired -tls1_2
    capture_start $f $p
    client "${CURL[@]}" --tlsv1.2 --tls-max 1.2 $CA "$SAMPLES_CA" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Server certificate (CN=localhost, CA-signed) expired on 2021-01-01; client trusts the CA (TLS 1.2)." \
        "openssl s_server -tls1_2 -www with a cert valid 2020-01-01..2021-01-01 (openssl ca -startdate/-enddate); curl --tlsv1.2 --tls-max 1.2 --cacert ca.pem https://localhost:$p/" \
        "Server flight (ServerHello, Certificate with notAfter 2021-01-01, ServerKeyExchange, ServerHelloDone) then the client sends a fatal certificate_expired alert in clear and closes; client gave up at server_hello_done." \
        "version=TLSv1.2;sni=localhost;established=no;alert=client:fatal:certificate_expired"
}

sample_cert_self_signed() {
    local p=4436 f=cert-self-signed.pcap
    s_server_bg $p self -tls1_2
    capture_start $f $p
    client "${CURL[@]}" --tlsv1.2 --tls-max 1.2 $CA "$SAMPLES_CA" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Server presents a self-signed certificate (CN=localhost, issuer=subject) that the client does not trust (TLS 1.2)." \
        "openssl s_server -tls1_2 -www with a self-signed cert (openssl req -x509); curl --tlsv1.2 --tls-max 1.2 --cacert ca.pem https://localhost:$p/" \
        "Server flight with a single self-signed certificate, then the client sends a fatal unknown_ca alert in clear and closes; client gave up at server_hello_done." \
        "version=TLSv1.2;sni=localhost;established=no;alert=client:fatal:unknown_ca"
}

sample_cert_wrong_name() {
    local p=4437 f=cert-wrong-name.pcap
    s_server_bg $p wrong -tls1_2
    capture_start $f $p
    sclient $p -servername localhost -tls1_2 -CAfile "$SAMPLES_CA" -verify_hostname localhost -verify_return_error
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Client asks for localhost (SNI) but the CA-signed certificate is for wrong-host.example only; client checks the host name (TLS 1.2)." \
        "openssl s_server -tls1_2 -www with a cert for DNS:wrong-host.example; openssl s_client -connect 127.0.0.1:$p -servername localhost -tls1_2 -CAfile ca.pem -verify_hostname localhost -verify_return_error" \
        "Server flight with a certificate whose SAN is wrong-host.example, then the client sends a fatal bad_certificate alert in clear (OpenSSL's alert for a host name mismatch) and closes with FIN." \
        "version=TLSv1.2;sni=localhost;established=no;alert=client:fatal:bad_certificate"
}

sample_tls13_cert_rejected() {
    local p=4438 f=tls13-cert-rejected.pcap
    s_server_bg $p self -tls1_3
    capture_start $f $p
    client timeout 10 gnutls-cli $LO -p $p --sni-hostname localhost --verify-hostname localhost \
        --x509cafile "$SAMPLES_CA" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3'
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Same rejection of a self-signed certificate as cert-self-signed, but in TLS 1.3 with a client that encrypts its alert (GnuTLS)." \
        "openssl s_server -tls1_3 -www with a self-signed cert; gnutls-cli 127.0.0.1 -p $p --sni-hostname localhost --verify-hostname localhost --x509cafile ca.pem --priority NORMAL:-VERS-ALL:+VERS-TLS1.3" \
        "ServerHello (TLS 1.3) and the encrypted server flight, then the client's compatibility ChangeCipherSpec and one short encrypted record (application_data, 19 bytes: the encrypted unknown_ca alert), then the client closes (FIN or RST, depending on timing); no client Finished." \
        "version=TLSv1.3;sni=localhost;established=no;alert=client:?:likely_encrypted;no_clear_fatal"
}

sample_tls13_cert_rejected_openssl() {
    local p=4447 f=tls13-cert-rejected-openssl.pcap
    s_server_bg $p self -tls1_3
    capture_start $f $p
    client "${CURL[@]}" --tlsv1.3 $CA "$SAMPLES_CA" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Same TLS 1.3 rejection of a self-signed certificate, but by an OpenSSL client (curl), which sends its alert unencrypted." \
        "openssl s_server -tls1_3 -www with a self-signed cert; curl --tlsv1.3 --cacert ca.pem https://localhost:$p/" \
        "ServerHello (TLS 1.3) and the encrypted server flight, then a plaintext fatal unknown_ca alert from the client (OpenSSL has not switched its write keys yet), then the client closes (FIN or RST, depending on timing); no client Finished." \
        "version=TLSv1.3;sni=localhost;established=no;alert=client:fatal:unknown_ca"
}

sample_plaintext_http_to_tls_port() {
    local p=4439 f=plaintext-http-to-tls-port.pcap
    s_server_bg $p good
    capture_start $f $p
    client "${CURL[@]}" "http://$LO:$p/"
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Plain HTTP request sent to a TLS port." \
        "openssl s_server -www (TLS) on $p; curl http://127.0.0.1:$p/" \
        "Client's first bytes are 'GET / HTTP/1.1' instead of a TLS record; OpenSSL recognises an HTTP request and closes the connection without sending any alert; curl reports an empty reply." \
        "version=-;established=no;no_alert;first_client_bytes=GET "
}

sample_tls_to_http_server() {
    local p=4440 f=tls-to-http-server.pcap
    mkdir -p "$WORK/www"
    echo "hello" >"$WORK/www/index.html"
    start_bg http-server python3 "$HELPER" http-server $p "$WORK/www"
    local srv=$BG_PID
    wait_listen $p
    capture_start $f $p
    client "${CURL[@]}" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    capture_stop; stop_bg "$srv"
    describe $f $p tls "TLS ClientHello sent to a plain HTTP server." \
        "python3 scripts/sample_helpers.py http-server $p DIR (python http.server, SimpleHTTPRequestHandler); curl https://localhost:$p/" \
        "ClientHello (SNI localhost) answered in plaintext by 'HTTP/1.0 400 Bad request ...' from the server, which then closes; curl fails with 'wrong version number'." \
        "version=-;established=no;no_alert;first_server_bytes=HTTP/1.0 400"
}

sample_client_rst_mid_handshake() {
    local p=4441 f=client-rst-mid-handshake.pcap
    s_server_bg $p good -tls1_2
    capture_start $f $p
    client python3 "$HELPER" rst-client $p localhost
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Client sends a ClientHello, receives the server's first flight, then resets the connection." \
        "openssl s_server -tls1_2 -www; python3 scripts/sample_helpers.py rst-client $p localhost (ssl.MemoryBIO ClientHello, then close with SO_LINGER 0)" \
        "ClientHello, server flight up to ServerHelloDone, then a RST from the client with no alert; client gave up at server_hello_done." \
        "version=TLSv1.2;sni=localhost;established=no;no_alert;close=client:rst"
}

sample_server_close_no_alert() {
    local p=4442 f=server-close-no-alert.pcap
    start_bg close-server python3 "$HELPER" close-server $p
    local srv=$BG_PID
    wait_listen $p
    capture_start $f $p
    client "${CURL[@]}" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    capture_stop; stop_bg "$srv"
    describe $f $p tls "Server accepts TCP, reads the ClientHello and closes with FIN, sending nothing." \
        "python3 scripts/sample_helpers.py close-server $p; curl https://localhost:$p/" \
        "ClientHello (SNI localhost), then a FIN from the server with no alert and no ServerHello; server gave up at client_hello; curl reports a connection reset / unexpected EOF." \
        "version=-;sni=localhost;established=no;no_alert;close=server:fin;no_server_hello"
}

sample_smtp_starttls() {
    local p=2525 f=smtp-starttls.pcap
    start_bg smtp-server python3 "$HELPER" smtp-server $p "$WORK/certs/good.pem" "$WORK/certs/good.key"
    local srv=$BG_PID
    wait_listen $p
    capture_start $f $p
    client python3 "$HELPER" smtp-client $p starttls
    capture_stop; stop_bg "$srv"
    describe $f $p smtp "SMTP session upgraded with STARTTLS, then QUIT inside TLS." \
        "python3 scripts/sample_helpers.py smtp-server $p (ssl wrap_socket on STARTTLS); python3 scripts/sample_helpers.py smtp-client $p starttls (smtplib: ehlo, starttls, ehlo, quit)" \
        "Server 220 banner, EHLO/250 (advertises STARTTLS), STARTTLS, '220 2.0.0 Ready to start TLS', then a TLS 1.3 handshake (no SNI: smtplib connects by IP) and encrypted EHLO/QUIT; STARTTLS ok." \
        "version=TLSv1.3;established=yes;no_clear_fatal;contains=STARTTLS"
}

sample_smtp_auth_cleartext() {
    local p=2526 f=smtp-auth-cleartext.pcap
    start_bg smtp-server python3 "$HELPER" smtp-server $p "$WORK/certs/good.pem" "$WORK/certs/good.key"
    local srv=$BG_PID
    wait_listen $p
    capture_start $f $p
    client python3 "$HELPER" smtp-client $p auth
    capture_stop; stop_bg "$srv"
    describe $f $p smtp "SMTP AUTH PLAIN sent before any STARTTLS (credentials in clear)." \
        "python3 scripts/sample_helpers.py smtp-server $p; python3 scripts/sample_helpers.py smtp-client $p auth (smtplib: ehlo, login('alice', ...), quit; no starttls)" \
        "EHLO answered with STARTTLS and AUTH PLAIN LOGIN, client sends 'AUTH PLAIN <base64>' in clear, server '235 Authentication successful', QUIT; no TLS at all." \
        "version=-;established=no;no_tls;contains=AUTH PLAIN"
}

sample_connect_proxy_ok() {
    local pp=3128 tp=4443 f=connect-proxy-ok.pcap
    s_server_bg $tp good -tls1_2
    local tls=$BG_PID
    start_bg proxy python3 "$HELPER" connect-proxy $pp $tp
    local prx=$BG_PID
    wait_listen $pp
    capture_start $f $pp
    client "${CURL[@]}" -x "http://$LO:$pp" --tlsv1.2 --tls-max 1.2 $CA "$SAMPLES_CA" "https://localhost:$tp/"
    capture_stop; stop_bg "$prx"; stop_bg "$tls"
    describe $f $pp http "HTTPS through an HTTP CONNECT proxy; only the client<->proxy leg is captured." \
        "python3 scripts/sample_helpers.py connect-proxy $pp $tp; openssl s_server -tls1_2 -www on $tp; curl -x http://127.0.0.1:$pp --tlsv1.2 --tls-max 1.2 --cacert ca.pem https://localhost:$tp/" \
        "'CONNECT localhost:$tp HTTP/1.1', 'HTTP/1.1 200 Connection established', then a full TLS 1.2 handshake (SNI localhost) and application data inside the tunnel (via connect_proxy)." \
        "version=TLSv1.2;sni=localhost;established=yes;no_clear_fatal;contains=CONNECT localhost:$tp"
}

sample_connect_proxy_403() {
    local pp=3129 tp=4444 f=connect-proxy-403.pcap
    start_bg proxy python3 "$HELPER" connect-proxy $pp 1
    local prx=$BG_PID
    wait_listen $pp
    capture_start $f $pp
    client "${CURL[@]}" -x "http://$LO:$pp" $CA "$SAMPLES_CA" "https://localhost:$tp/"
    capture_stop; stop_bg "$prx"
    describe $f $pp http "HTTP CONNECT refused by the proxy with 403 (target port not allowed); no TLS follows." \
        "python3 scripts/sample_helpers.py connect-proxy $pp 1 (allows nothing useful); curl -x http://127.0.0.1:$pp --cacert ca.pem https://localhost:$tp/" \
        "'CONNECT localhost:$tp HTTP/1.1' answered by 'HTTP/1.1 403 Forbidden', proxy closes, no ClientHello is ever sent; curl reports 'CONNECT tunnel failed, response 403'." \
        "version=-;established=no;no_tls;contains=403 Forbidden"
}

sample_tls12_resumed() {
    local p=4445 f=tls12-resumed.pcap
    local sess="$WORK/sess.pem"
    rm -f "$sess"
    s_server_bg $p good -tls1_2
    capture_start $f $p
    sclient $p -servername localhost -tls1_2 -CAfile "$SAMPLES_CA" -sess_out "$sess"
    sclient $p -servername localhost -tls1_2 -CAfile "$SAMPLES_CA" -sess_in "$sess"
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "Two TLS 1.2 connections; the second resumes the first one's session (session ticket)." \
        "openssl s_server -tls1_2 -www; openssl s_client -tls1_2 -servername localhost -sess_out s.pem; then again with -sess_in s.pem" \
        "First connection: full handshake, the server issues a NewSessionTicket. Second connection: ClientHello carries that ticket, abbreviated handshake (ServerHello, ChangeCipherSpec, Finished from the server first, no Certificate/ServerKeyExchange), resumed; both connections close with encrypted close_notify." \
        "version=TLSv1.2;sni=localhost;established=yes;no_clear_fatal;flows=2;resumed_second"
}

sample_missing_sni() {
    local p=4446 f=missing-sni.pcap
    s_server_bg $p good -tls1_2
    capture_start $f $p
    sclient $p -noservername -tls1_2 -CAfile "$SAMPLES_CA"
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "TLS 1.2 client that sends no server_name extension." \
        "openssl s_server -tls1_2 -www; openssl s_client -connect 127.0.0.1:$p -noservername -tls1_2 -CAfile ca.pem" \
        "ClientHello without SNI, otherwise a complete TLS 1.2 handshake and clean close (encrypted close_notify)." \
        "version=TLSv1.2;sni=-;established=yes;no_clear_fatal"
}


# ------------------------------------------------------------------ trust (chain validation)
# trust_sample FILE PORT LEAF CHAIN_FILE|- ... : s_server with LEAF (and CHAIN_FILE sent
# after it, in its order), curl trusting only the trust root.
trust_capture() {
    local f="$1" p="$2" leaf="$3" chain="$4"
    local t="$WORK/trust" extra=()
    [ "$chain" = - ] || extra=(-cert_chain "$t/$chain")
    start_bg "s_server-$p" openssl s_server -accept "$LO:$p" -cert "$t/$leaf.pem" -key "$t/$leaf.key" \
        "${extra[@]}" -www -tls1_2
    wait_listen "$p"
    capture_start "$f" "$p"
    client "${CURL[@]}" --tlsv1.2 --tls-max 1.2 $CA "$TRUST_ROOT" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    capture_stop; stop_bg "$BG_PID"
}

sample_trust_missing_intermediate() {
    local p=4453 f=trust-missing-intermediate.pcap
    trust_capture $f $p leaf -
    describe $f $p tls "Server sends only its leaf (issued by tlstriage Trust Intermediate, not sent); the client trusts tlstriage Trust Root (TLS 1.2)." \
        "openssl s_server -tls1_2 -www -cert leaf.pem (no -cert_chain); curl --tlsv1.2 --tls-max 1.2 --cacert trust-root.pem https://localhost:$p/" \
        "One certificate in the server's Certificate message; the client cannot build a path ('unable to get local issuer certificate') and sends a fatal unknown_ca alert in clear; tlstriage names the missing intermediate." \
        "version=TLSv1.2;sni=localhost;established=no;alert=client:fatal:unknown_ca"
}

sample_trust_private_chain() {
    local p=4454 f=trust-private-chain.pcap
    trust_capture $f $p leaf chain-int.pem
    describe $f $p tls "Complete private chain: leaf + tlstriage Trust Intermediate; the client trusts tlstriage Trust Root (TLS 1.2)." \
        "openssl s_server -tls1_2 -www -cert leaf.pem -cert_chain int.pem; curl --tlsv1.2 --tls-max 1.2 --cacert trust-root.pem https://localhost:$p/" \
        "Two certificates, handshake completes. Without --ca-file samples/trust-root.pem the root is unknown to tlstriage (certificate_chain_incomplete, medium); with it, nothing to report." \
        "version=TLSv1.2;sni=localhost;established=yes;no_clear_fatal"
}

sample_trust_expired_intermediate() {
    local p=4455 f=trust-expired-intermediate.pcap
    trust_capture $f $p oldleaf chain-oldint.pem
    describe $f $p tls "Leaf (valid 2020-06-01..2030-01-01) served with its intermediate that expired on 2021-01-01; the client trusts tlstriage Trust Root (TLS 1.2)." \
        "openssl s_server -tls1_2 -www -cert oldleaf.pem -cert_chain oldint.pem; curl --tlsv1.2 --tls-max 1.2 --cacert trust-root.pem https://localhost:$p/" \
        "The client rejects the expired intermediate with a fatal certificate_expired alert; tlstriage reports certificate_expired at chain position 1." \
        "version=TLSv1.2;sni=localhost;established=no;alert=client:fatal:certificate_expired"
}

sample_trust_expires_soon() {
    local p=4456 f=trust-expires-soon.pcap
    trust_capture $f $p soon chain-int.pem
    describe $f $p tls "Complete private chain whose leaf expires 5 days after the capture; the client trusts tlstriage Trust Root (TLS 1.2)." \
        "openssl ca -days 5 for the leaf; openssl s_server -tls1_2 -www -cert soon.pem -cert_chain int.pem; curl --tlsv1.2 --tls-max 1.2 --cacert trust-root.pem https://localhost:$p/" \
        "Handshake completes; tlstriage reports certificate_expires_soon with days_left 4 (5 days less the seconds of the capture)." \
        "version=TLSv1.2;sni=localhost;established=yes;no_clear_fatal"
}

sample_trust_wrong_order() {
    local p=4457 f=trust-wrong-order.pcap
    trust_capture $f $p leaf chain-root-first.pem
    describe $f $p tls "Chain sent as leaf, root, intermediate (the root before the intermediate); the client trusts tlstriage Trust Root (TLS 1.2)." \
        "openssl s_server -tls1_2 -www -cert leaf.pem -cert_chain root+int.pem; curl --tlsv1.2 --tls-max 1.2 --cacert trust-root.pem https://localhost:$p/" \
        "Three certificates out of order; OpenSSL's client reorders and completes. tlstriage notes out_of_order and root_sent in chain_order (and, without --ca-file, certificate_untrusted unknown_root)." \
        "version=TLSv1.2;sni=localhost;established=yes;no_clear_fatal"
}

sample_refused_ipv4() {
    local p=4450 f=refused-ipv4.pcap
    capture_start $f $p
    client "${CURL[@]}" "https://$LO:$p/"
    capture_stop
    describe $f $p tls "Connection refused: nothing listens on the TLS port (IPv4)." \
        "no server on $p; curl https://127.0.0.1:$p/" \
        "One SYN answered by a RST/ACK from the server's kernel (Zeek conn_state REJ); curl reports 'Couldn't connect to server'; no TLS at all." \
        "version=-;established=no;no_tls;close=server:rst;flows=1"
}

sample_refused_ipv6() {
    local p=4451 f=refused-ipv6.pcap
    capture_start $f $p ::1
    client "${CURL[@]}" -g "https://[::1]:$p/"
    capture_stop
    describe $f $p tls "Connection refused: nothing listens on the TLS port (IPv6, ::1)." \
        "no server on $p; curl -g https://[::1]:$p/" \
        "One SYN over IPv6 answered by a RST/ACK from the server's kernel (Zeek conn_state REJ); no TLS at all." \
        "version=-;established=no;no_tls;close=server:rst;flows=1"
}

sample_accept_then_close() {
    local p=4452 f=accept-then-close.pcap
    start_bg accept-server python3 "$HELPER" accept-server $p close
    local srv=$BG_PID
    wait_listen $p
    capture_start $f $p
    # A client that has not written yet (socat -u only reads): with curl the ClientHello
    # races the server's close, and either may come first.
    client timeout 5 socat -u "TCP:$LO:$p" /dev/null
    capture_stop; stop_bg "$srv"
    describe $f $p tls "Server accepts the TCP connection and closes it at once with FIN, before any byte (tcpwrappers-style deny)." \
        "python3 scripts/sample_helpers.py accept-server $p close; socat -u TCP:127.0.0.1:$p /dev/null (a client that has not sent its ClientHello yet)" \
        "TCP handshake, then a FIN from the server before any byte in either direction; the client closes too; no TLS at all." \
        "version=-;established=no;no_tls;close=server:fin;flows=1"
}

sample_accept_then_reset() {
    local p=4453 f=accept-then-reset.pcap
    start_bg accept-server python3 "$HELPER" accept-server $p reset
    local srv=$BG_PID
    wait_listen $p
    capture_start $f $p
    # A client that has not written yet (socat -u only reads): with curl the ClientHello
    # races the server's close, and either may come first.
    client timeout 5 socat -u "TCP:$LO:$p" /dev/null
    capture_stop; stop_bg "$srv"
    describe $f $p tls "Server accepts the TCP connection and resets it at once (SO_LINGER 0), before any byte." \
        "python3 scripts/sample_helpers.py accept-server $p reset; socat -u TCP:127.0.0.1:$p /dev/null (a client that has not sent its ClientHello yet)" \
        "Handshake, then a RST from the server before any payload in either direction; no TLS at all." \
        "version=-;established=no;no_tls;close=server:rst"
}

sample_server_fin_client_alert() {
    local p=4454 f=server-fin-client-alert.pcap
    start_bg close-server python3 "$HELPER" close-server $p
    local srv=$BG_PID
    wait_listen $p
    capture_start $f $p
    sclient $p -servername localhost
    capture_stop; stop_bg "$srv"
    describe $f $p tls "Server reads the ClientHello and closes with FIN; the client then sends a fatal decode_error alert (its reaction to the EOF)." \
        "python3 scripts/sample_helpers.py close-server $p; openssl s_client -connect 127.0.0.1:$p -servername localhost" \
        "ClientHello (SNI localhost), a FIN from the server with no alert, then OpenSSL's fatal decode_error alert from the client and its FIN; the server ended the handshake, the alert is a reaction." \
        "version=-;sni=localhost;established=no;alert=client:fatal:decode_error;close=server:fin;no_server_hello"
}

sample_tls13_mtls_rejected() {
    local p=4490 f=tls13-mtls-rejected.pcap
    s_server_bg $p good -tls1_3 -Verify 1
    capture_start $f $p
    client "${CURL[@]}" --tlsv1.3 $CA "$SAMPLES_CA" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "TLS 1.3 server requiring a client certificate (mutual TLS); the client has none." \
        "openssl s_server -tls1_3 -Verify 1 -www; curl --tlsv1.3 --cacert ca.pem https://localhost:$p/ (no --cert)" \
        "ServerHello and the encrypted server flight (with a CertificateRequest, invisible without keys), the client's empty Certificate + Finished and its request, then the server's only further record: an alert-sized encrypted record (certificate_required), then FIN; curl reports the alert." \
        "version=TLSv1.3;sni=localhost;no_clear_fatal"
}

sample_port_scan() {
    local f=port-scan.pcap p
    capture_start $f "range 4460-4489"
    # One client trying 30 ports where nothing listens, one connect each (what a connect
    # scan or a client with a wrong port list does).
    for p in $(seq 4460 4489); do
        client timeout 2 socat -u /dev/null "TCP:$LO:$p"
    done
    capture_stop
    describe $f 4460 tls "A connect scan: one client tries 30 ports (4460-4489) where nothing listens." \
        "no server on 4460-4489; for p in 4460..4489: socat -u /dev/null TCP:127.0.0.1:\$p" \
        "30 TCP connections, each a SYN answered by a RST/ACK (Zeek REJ); no TLS at all; the summary should be one line per server:port, not 30 problems." \
        "version=-;established=no;no_tls;close=server:rst;flows=30"
}

# one_sided FILE PARENT SERVER_PORT client|server: the parent sample's packets of one
# direction only, as a one-direction SPAN port or asymmetric routing captures them.
one_sided() {
    [ -n "$VERIFY_ONLY" ] && return 0
    local f="$1" parent="$2" p="$3" filter
    if [ "$4" = client ]; then filter="tcp dst port $p"; else filter="tcp src port $p"; fi
    tcpdump -r "$OUT/$parent" -w "$WORK/pcap/$f" "$filter" 2>>"$WORK/log/tcpdump.err"
    install -m 0644 "$WORK/pcap/$f" "$OUT/$f"
    log "wrote samples/$f ($(stat -c %s "$OUT/$f") bytes)"
}

sample_tls12_ok_client_only() {
    local p=4431 f=tls12-ok-client-only.pcap
    one_sided $f tls12-ok.pcap $p client
    describe $f $p tls "tls12-ok.pcap seen from the client's direction only (one-direction SPAN port, asymmetric routing)." \
        "tcpdump -r tls12-ok.pcap -w $f 'tcp dst port $p'" \
        "Only the client's packets: ClientHello, ClientKeyExchange, ChangeCipherSpec, Finished, application data, encrypted close_notify, FIN. The client's ACK numbers acknowledge the server's whole flight and its answer: a working session, not an abort." \
        "sni=localhost;no_clear_fatal;close=client:fin"
}

sample_tls12_ok_server_only() {
    local p=4431 f=tls12-ok-server-only.pcap
    one_sided $f tls12-ok.pcap $p server
    describe $f $p tls "tls12-ok.pcap seen from the server's direction only." \
        "tcpdump -r tls12-ok.pcap -w $f 'tcp src port $p'" \
        "Only the server's packets: SYN-ACK, ServerHello..ServerHelloDone, ChangeCipherSpec, Finished, application data, close_notify, FIN; its ACK numbers acknowledge the client's ClientKeyExchange, Finished and request." \
        "version=TLSv1.2;no_clear_fatal;close=server:fin"
}

sample_tls13_ok_client_only() {
    local p=4432 f=tls13-ok-client-only.pcap
    one_sided $f tls13-ok.pcap $p client
    describe $f $p tls "tls13-ok.pcap seen from the client's direction only." \
        "tcpdump -r tls13-ok.pcap -w $f 'tcp dst port $p'" \
        "Only the client's packets: ClientHello, ChangeCipherSpec, encrypted Finished, application data, close_notify, FIN; its ACK numbers acknowledge the server's encrypted flight, tickets and response." \
        "sni=localhost;no_clear_fatal;close=client:fin"
}

sample_tls13_ok_server_only() {
    local p=4432 f=tls13-ok-server-only.pcap
    one_sided $f tls13-ok.pcap $p server
    describe $f $p tls "tls13-ok.pcap seen from the server's direction only." \
        "tcpdump -r tls13-ok.pcap -w $f 'tcp src port $p'" \
        "Only the server's packets: ServerHello, encrypted flight, session tickets, application data, close_notify, FIN; its ACK numbers acknowledge the client's Finished and request." \
        "version=TLSv1.3;no_clear_fatal;close=server:fin"
}

sample_tls12_resumed_client_only() {
    local p=4445 f=tls12-resumed-client-only.pcap
    one_sided $f tls12-resumed.pcap $p client
    describe $f $p tls "tls12-resumed.pcap seen from the client's direction only." \
        "tcpdump -r tls12-resumed.pcap -w $f 'tcp dst port $p'" \
        "Two connections, client packets only; the second resumes: ClientHello with the ticket, then ChangeCipherSpec and encrypted Finished right away (no ClientKeyExchange), close_notify, FIN." \
        "sni=localhost;no_clear_fatal;flows=2;close=client:fin"
}

sample_tls12_resumed_server_only() {
    local p=4445 f=tls12-resumed-server-only.pcap
    one_sided $f tls12-resumed.pcap $p server
    describe $f $p tls "tls12-resumed.pcap seen from the server's direction only." \
        "tcpdump -r tls12-resumed.pcap -w $f 'tcp src port $p'" \
        "Two connections, server packets only; the second is abbreviated: ServerHello, ChangeCipherSpec, encrypted Finished in one segment, then close_notify, FIN; its ACK numbers acknowledge the client's ChangeCipherSpec and Finished." \
        "version=TLSv1.2;no_clear_fatal;flows=2;close=server:fin"
}

sample_handshake_only_filter() {
    local p=4458 f=handshake-only-filter.pcap full=handshake-only-full.pcap i
    s_server_bg $p good
    capture_start $full $p
    # Five working connections: three TLS 1.2, two TLS 1.3.
    for i in 1 2 3; do
        client "${CURL[@]}" --tlsv1.2 --tls-max 1.2 $CA "$SAMPLES_CA" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    done
    for i in 1 2; do
        client "${CURL[@]}" --tlsv1.3 $CA "$SAMPLES_CA" --resolve "localhost:$p:$LO" "https://localhost:$p/"
    done
    capture_stop; stop_bg "$BG_PID"
    if [ -z "$VERIFY_ONLY" ]; then
        # What a capture filtered to handshake records keeps of them.
        tcpdump -r "$OUT/$full" -w "$WORK/pcap/$f" 'tcp[((tcp[12]&0xf0)>>2)]=0x16' 2>>"$WORK/log/tcpdump.err"
        install -m 0644 "$WORK/pcap/$f" "$OUT/$f"
        rm -f "$OUT/$full"
    fi
    describe $f $p tls "Five working HTTPS connections (three TLS 1.2, two TLS 1.3) captured with a filter that keeps only segments starting with a handshake record." \
        "openssl s_server -www; 3x curl --tlsv1.2 --tls-max 1.2, 2x curl --tlsv1.3 https://localhost:$p/; tcpdump -r full.pcap -w $f 'tcp[((tcp[12]&0xf0)>>2)]=0x16'" \
        "No SYN, FIN, ACK or application data: ClientHello, the server's flight and the client's TLS 1.2 key exchange only (the TLS 1.3 client Finished is an application_data record and is filtered out). The capture, not the connections, is incomplete." \
        "sni=localhost;no_clear_fatal;flows=5;filtered"
}

sample_null_cipher() {
    local p=4459 f=null-cipher.pcap
    s_server_bg $p good -tls1_2 -cipher 'NULL-SHA256:@SECLEVEL=0'
    capture_start $f $p
    sclient $p -servername localhost -tls1_2 -CAfile "$SAMPLES_CA" -cipher 'NULL-SHA256:@SECLEVEL=0'
    capture_stop; stop_bg "$BG_PID"
    describe $f $p tls "TLS 1.2 with the NULL-SHA256 suite (integrity only, nothing encrypted), clean close." \
        "openssl s_server -tls1_2 -www -cipher 'NULL-SHA256:@SECLEVEL=0'; openssl s_client -tls1_2 -cipher 'NULL-SHA256:@SECLEVEL=0' -CAfile ca.pem" \
        "Full handshake choosing TLS_RSA_WITH_NULL_SHA256; after ChangeCipherSpec the records are plaintext plus a 32-byte MAC, so both close_notify alerts are readable (tshark shows them): a weak (NULL) cipher, not encrypted alerts." \
        "version=TLSv1.2;sni=localhost;established=yes;no_clear_fatal"
}

ALL=(tls12-ok tls13-ok version-mismatch cipher-mismatch cert-expired cert-self-signed
     cert-wrong-name tls13-cert-rejected tls13-cert-rejected-openssl plaintext-http-to-tls-port tls-to-http-server
     client-rst-mid-handshake server-close-no-alert smtp-starttls smtp-auth-cleartext
     connect-proxy-ok connect-proxy-403 tls12-resumed missing-sni
     refused-ipv4 refused-ipv6 accept-then-close accept-then-reset server-fin-client-alert port-scan
     tls13-mtls-rejected
     trust-missing-intermediate trust-private-chain trust-expired-intermediate trust-expires-soon
     trust-wrong-order
     mysql-ssl mysql-ssl-not-offered socks5-tls socks4a-tls socks5-refused http-upgrade-tls rdp-tls
     tls12-ok-client-only tls12-ok-server-only tls13-ok-client-only tls13-ok-server-only
     tls12-resumed-client-only tls12-resumed-server-only handshake-only-filter
     null-cipher)

# shellcheck source=scripts/upgrade-samples.sh
. "$HERE/upgrade-samples.sh"

main() {
    ensure_tools
    WORK="$(mktemp -d /tmp/tlstriage-samples.XXXXXX)"
    mkdir -p "$WORK/log" "$WORK/pcap" "$OUT"
    : >"$WORK/manifest.tsv"
    local new=() n fn
    if [ "${1:-}" = "--verify" ]; then
        VERIFY_ONLY=1
        export SAMPLES_CA=ca.pem TRUST_ROOT=trust-root.pem
    elif [ "${1:-}" = "--new" ] || [ "${1:-}" = "--only" ]; then
        shift
        new=("$@")
        ((${#new[@]})) || die "usage: $0 --new NAME..."
        local trust_named=0 trust_all=0
        for n in "${ALL[@]}"; do
            [[ $n == trust-* ]] || continue
            trust_all=$((trust_all + 1))
            [[ " ${new[*]} " == *" $n "* ]] && trust_named=$((trust_named + 1))
        done
        ((trust_named == 0 || trust_named == trust_all)) ||
            die "the trust-* samples share samples/trust-root.pem: regenerate all of them together"
        make_certs
        make_trust_certs
    elif [ -n "${1:-}" ]; then
        die "usage: $0 [--verify | --new NAME...]"
    else
        make_certs
        make_trust_certs
    fi
    for n in "${new[@]}"; do
        [[ " ${ALL[*]} " == *" $n "* ]] || die "unknown sample: $n (known: ${ALL[*]})"
    done
    for n in "${ALL[@]}"; do
        fn="sample_${n//-/_}"
        declare -F "$fn" >/dev/null || die "unknown sample: $n (known: ${ALL[*]})"
        if ((${#new[@]})); then
            # Only the named samples are captured; the others are re-dissected as they are.
            if [[ " ${new[*]} " == *" $n "* ]]; then VERIFY_ONLY=""; else VERIFY_ONLY=1; fi
        fi
        [ -n "$VERIFY_ONLY" ] || log "--- $n"
        "$fn"
    done
    # Verification: dissect every sample with tshark, check the scenario's expectations,
    # rewrite samples/EXPECTED.tsv and samples/README.md from what tshark actually saw.
    python3 "$HERE/samples_expected.py" "$OUT" "$WORK/manifest.tsv" "${ALL[@]}"
}

main "$@"
