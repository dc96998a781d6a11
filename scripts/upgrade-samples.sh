# Sourced by make-samples.sh: captures of TLS reached through an upgrade or tunnel that is
# not STARTTLS or HTTP CONNECT (MySQL/MariaDB SSL request, SOCKS4a/5, HTTP Upgrade: TLS/1.0). Uses its helpers
# (start_bg, capture_start, describe, client, ...) and the same certificates.

# mariadb_start PORT WITH_TLS: an unprivileged mariadbd (user mysql) with its own datadir
# under $WORK, on 127.0.0.1:PORT; with WITH_TLS=1 it loads the sample certificate.
mariadb_start() {
    BG_PID=""
    [ -n "$VERIFY_ONLY" ] && return 0
    local port="$1" tls="$2" d="$WORK/mariadb-$1"
    command -v mariadbd >/dev/null || die "mariadbd missing: apt-get install mariadb-server mariadb-client"
    mkdir -p "$d/data" "$d/run"
    # mariadbd drops to user mysql, which must reach its files under the private $WORK.
    chmod 755 "$WORK" "$d"
    cp "$WORK/certs/good.pem" "$WORK/certs/good.key" "$d/"
    chmod 644 "$d/good.pem" "$d/good.key"
    chown -R mysql:mysql "$d/data" "$d/run"
    mariadb-install-db --no-defaults --user=mysql --datadir="$d/data" \
        --auth-root-authentication-method=normal --skip-test-db >"$WORK/log/mariadb-install-$port.out" 2>&1 ||
        die "mariadb-install-db failed: $(tail -3 "$WORK/log/mariadb-install-$port.out")"
    local ssl=(--skip-ssl)
    [ "$tls" = 1 ] && ssl=(--ssl-cert="$d/good.pem" --ssl-key="$d/good.key")
    start_bg "mariadbd-$port" mariadbd --no-defaults --user=mysql --datadir="$d/data" \
        --bind-address=$LO --port="$port" --socket="$d/run/sock" --pid-file="$d/run/pid" \
        --skip-name-resolve "${ssl[@]}"
    wait_listen "$port"
}

sample_mysql_ssl() {
    local p=3306 f=mysql-ssl.pcap
    mariadb_start $p 1
    local srv=$BG_PID
    capture_start $f $p
    client mariadb --no-defaults -h $LO -P $p -u root --ssl --ssl-verify-server-cert=0 -e 'select 1'
    capture_stop; stop_bg "$srv"
    describe $f $p mysql "MariaDB client with --ssl to a MariaDB server with a certificate: SSL request, then TLS." \
        "mariadbd --user=mysql --ssl-cert good.pem --ssl-key good.key on 127.0.0.1:$p (own datadir); mariadb -h 127.0.0.1 -P $p -u root --ssl --ssl-verify-server-cert=0 -e 'select 1'" \
        "Server greeting with the CLIENT_SSL capability, the client's 32-byte SSL request (seq 1), then a TLS 1.3 handshake and the query inside TLS (via starttls, protocol mysql)." \
        "version=TLSv1.3;established=yes;no_clear_fatal"
}

sample_mysql_ssl_not_offered() {
    local p=3307 f=mysql-ssl-not-offered.pcap
    mariadb_start $p 0
    local srv=$BG_PID
    capture_start $f $p
    # --ssl alone falls back to cleartext when the server lacks TLS; verifying the server
    # certificate makes TLS mandatory.
    client mariadb --no-defaults -h $LO -P $p -u root --ssl --ssl-verify-server-cert --ssl-ca="$SAMPLES_CA" -e 'select 1'
    capture_stop; stop_bg "$srv"
    describe $f $p mysql "MariaDB client demanding TLS (--ssl) from a server started with --skip-ssl." \
        "mariadbd --user=mysql --skip-ssl on 127.0.0.1:$p (own datadir); mariadb -h 127.0.0.1 -P $p -u root --ssl --ssl-verify-server-cert --ssl-ca=ca.pem -e 'select 1'" \
        "Server greeting without the CLIENT_SSL capability; the client closes without sending anything (it reports 'SSL is required, but the server does not support it'); no TLS." \
        "version=-;established=no;no_tls"
}

# microsocks on 127.0.0.1:PORT; an openssl s_server (TLS 1.2) behind it on TPORT.
sample_socks5_tls() {
    local pp=1080 tp=4470 f=socks5-tls.pcap
    s_server_bg $tp good -tls1_2
    local tls=$BG_PID
    start_bg socks microsocks -i $LO -p $pp
    local prx=$BG_PID
    wait_listen $pp
    capture_start $f $pp
    client "${CURL[@]}" --socks5-hostname "$LO:$pp" --tlsv1.2 --tls-max 1.2 $CA "$SAMPLES_CA" "https://localhost:$tp/"
    capture_stop; stop_bg "$prx"; stop_bg "$tls"
    describe $f $pp tls "HTTPS through a SOCKS5 proxy (host name resolved by the proxy); only the client<->proxy leg is captured." \
        "microsocks -i 127.0.0.1 -p $pp; openssl s_server -tls1_2 -www on $tp; curl --socks5-hostname 127.0.0.1:$pp --tlsv1.2 --tls-max 1.2 --cacert ca.pem https://localhost:$tp/" \
        "SOCKS5 greeting (no auth), CONNECT localhost:$tp (domain name) answered 'succeeded', then a full TLS 1.2 handshake (SNI localhost) inside the tunnel (via socks_proxy)." \
        "version=TLSv1.2;sni=localhost;established=yes;no_clear_fatal"
}

sample_socks4a_tls() {
    local pp=1081 tp=4471 f=socks4a-tls.pcap
    s_server_bg $tp good -tls1_2
    local tls=$BG_PID
    start_bg socks4 python3 "$HELPER" socks4-proxy $pp
    local prx=$BG_PID
    wait_listen $pp
    capture_start $f $pp
    client "${CURL[@]}" --socks4a "$LO:$pp" --tlsv1.2 --tls-max 1.2 $CA "$SAMPLES_CA" "https://localhost:$tp/"
    capture_stop; stop_bg "$prx"; stop_bg "$tls"
    describe $f $pp tls "HTTPS through a SOCKS4a proxy (microsocks speaks only SOCKS5, so a small Python one); only the client<->proxy leg is captured." \
        "python3 scripts/sample_helpers.py socks4-proxy $pp; openssl s_server -tls1_2 -www on $tp; curl --socks4a 127.0.0.1:$pp --tlsv1.2 --tls-max 1.2 --cacert ca.pem https://localhost:$tp/" \
        "SOCKS4a CONNECT to localhost:$tp (0.0.0.1 plus the host name) answered 90 (granted), then a full TLS 1.2 handshake (SNI localhost) inside the tunnel (via socks_proxy)." \
        "version=TLSv1.2;sni=localhost;established=yes;no_clear_fatal"
}

sample_socks5_refused() {
    local pp=1082 tp=4472 f=socks5-refused.pcap
    start_bg socks microsocks -i $LO -p $pp
    local prx=$BG_PID
    wait_listen $pp
    capture_start $f $pp
    # Nothing listens on $tp: the proxy's connect is refused and it says so in its reply.
    client "${CURL[@]}" --socks5 "$LO:$pp" $CA "$SAMPLES_CA" "https://localhost:$tp/"
    capture_stop; stop_bg "$prx"
    describe $f $pp tls "SOCKS5 CONNECT to a port where nothing listens: the proxy answers 'connection refused'; no TLS follows." \
        "microsocks -i 127.0.0.1 -p $pp; no server on $tp; curl --socks5 127.0.0.1:$pp --cacert ca.pem https://localhost:$tp/" \
        "SOCKS5 greeting, CONNECT 127.0.0.1:$tp answered with reply code 5 (connection refused), proxy closes, no ClientHello; curl reports a SOCKS5 connect error." \
        "version=-;established=no;no_tls"
}

sample_http_upgrade_tls() {
    local p=8081 f=http-upgrade-tls.pcap
    start_bg upgrade-server python3 "$HELPER" upgrade-server $p "$WORK/certs/good.pem" "$WORK/certs/good.key"
    local srv=$BG_PID
    wait_listen $p
    capture_start $f $p
    client python3 "$HELPER" upgrade-client $p "$SAMPLES_CA"
    capture_stop; stop_bg "$srv"
    describe $f $p http "HTTP/1.1 upgraded to TLS in the same connection (RFC 2817 'Upgrade: TLS/1.0'), python ssl on both sides." \
        "python3 scripts/sample_helpers.py upgrade-server $p good.pem good.key; python3 scripts/sample_helpers.py upgrade-client $p ca.pem" \
        "'OPTIONS * HTTP/1.1' with 'Upgrade: TLS/1.0', answered '101 Switching Protocols', then a TLS 1.3 handshake (SNI localhost) and a GET inside TLS (via starttls, protocol http). tshark's HTTP dissector does not follow an RFC 2817 upgrade, so the tshark columns below show no TLS; tests/samples.rs checks the handshake." \
        "no_clear_fatal;contains=Upgrade: TLS/1.0;contains=101 Switching Protocols"
}

# xrdp (TLS security layer, the sample certificate) and FreeRDP's xfreerdp in auth-only mode:
# X.224 Connection Request with RDP_NEG_REQ, Confirm with RDP_NEG_RSP selecting
# PROTOCOL_SSL, then TLS. xfreerdp opens an X display even for +auth-only, so an Xvfb.
sample_rdp_tls() {
    local p=3389 f=rdp-tls.pcap d="$WORK/xrdp"
    if [ -z "$VERIFY_ONLY" ]; then
        command -v xrdp >/dev/null && command -v xfreerdp >/dev/null && command -v Xvfb >/dev/null ||
            die "xrdp, xfreerdp or Xvfb missing: apt-get install xrdp freerdp2-x11 xvfb"
        mkdir -p "$d"
        sed -e "s|^port=3389|port=tcp://$LO:$p|" -e "s|^certificate=.*|certificate=$WORK/certs/good.pem|" \
            -e "s|^key_file=.*|key_file=$WORK/certs/good.key|" /etc/xrdp/xrdp.ini >"$d/xrdp.ini"
    fi
    start_bg xvfb Xvfb :91 -nolisten tcp
    local xvfb=$BG_PID
    start_bg xrdp xrdp --nodaemon --config "$d/xrdp.ini"
    local srv=$BG_PID
    wait_listen $p
    capture_start $f $p
    client env DISPLAY=:91 timeout 20 xfreerdp /v:$LO:$p /cert:ignore +auth-only /u:nobody /p:x /sec:tls
    capture_stop; stop_bg "$srv"; stop_bg "$xvfb"
    describe $f $p tpkt "RDP client (FreeRDP 2, +auth-only, /sec:tls) to xrdp 0.9: X.224 negotiation selects TLS, then the TLS handshake." \
        "xrdp --nodaemon (xrdp.ini: port 127.0.0.1:$p, security_layer=negotiate, certificate good.pem); Xvfb :91; DISPLAY=:91 xfreerdp /v:127.0.0.1:$p /cert:ignore +auth-only /u:nobody /p:x /sec:tls" \
        "X.224 Connection Request (cookie mstshash=nobody, RDP_NEG_REQ requesting PROTOCOL_SSL), Connection Confirm with RDP_NEG_RSP selecting PROTOCOL_SSL, then a TLS handshake (via starttls, protocol rdp). tshark dissects the TLS inside TPKT only as continuation data." \
        "contains=mstshash=nobody"
}
