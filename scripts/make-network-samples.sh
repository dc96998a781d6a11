#!/usr/bin/env bash
# Build the two network-fault samples from REAL programs and a REAL Linux network path:
# three network namespaces (client -- router -- server) joined by veth pairs, with the fault
# configured on the router with iptables / the link MTU. Nothing in the captures is edited.
#
#   samples/middlebox-rst.pcap   The router is a firewall that blocks the SNI
#                                "blocked.example" by forging a TCP RST to the client
#                                (iptables string match + REJECT --reject-with tcp-reset).
#                                The server runs with the TTL of a Windows host (128), so its
#                                packets reach the client with TTL 127, the forged RST with the
#                                router's 64. Captured on the client's interface.
#   samples/pmtu-blackhole.pcap  The router's link towards the client has MTU 1000 and the
#                                router drops its own ICMP "fragmentation needed": a path-MTU
#                                black hole. The client (MTU 1500, MSS 1460) gets the
#                                ServerHello flight with a ~4 KB certificate chain never; the
#                                server retransmits its full-size segments until the client
#                                gives up after 3 s. Captured on the server's interface.
#
#   samples/no-answer.pcap       The router DROPs the SYNs to port 4455: curl --connect-timeout 4
#                                sends a SYN and two retransmissions (1 s, 2 s apart) and gives up;
#                                8 s later a UDP datagram to a closed port of the router draws an
#                                ICMP port-unreachable (not about any TCP flow), which shows the
#                                capture went on after the client gave up.
#   samples/reject-port-unreachable.pcap, samples/reject-admin-prohibited.pcap
#                                The router REJECTs the SYN with ICMP port-unreachable (port 4456)
#                                / host-administratively-prohibited (port 4457).
#   samples/reject6-adm-prohibited.pcap   The same over IPv6 with ICMPv6 adm-prohibited (4458).
#   samples/pmtu-frag-needed.pcap   As pmtu-blackhole (port 4459), but the router's ICMP
#                                "fragmentation needed" (MTU 1000) is sent and captured on the
#                                server's interface, then dropped by the server's own INPUT chain,
#                                so the handshake still stalls with the ICMP in the capture.
#   samples/alert-after-rst.pcap The client RSTs 40 ms after its ClientHello while the server's
#                                fatal handshake_failure is in flight (a user-space bridge delays
#                                each way by 50 ms): the alert is captured after the RST.
#
#   scripts/make-network-samples.sh [NAME...]   # needs root, ip, iptables, tcpdump, openssl, curl;
#                                               # NAME (e.g. no-answer) makes only that sample
#
# tlstriage reads them as: middlebox-rst -> handshake_aborted aborted_by middlebox,
# likely_cause network (RST TTL 64 vs the server's 127); pmtu-blackhole -> handshake_aborted
# likely_cause network (the server's retransmitted certificate flight). tests/network_samples.rs
# asserts exactly that.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(cd "$HERE/.." && pwd)/samples"
WORK="$(mktemp -d)"
C=ttc$$ R=ttr$$ S=tts$$
log() { printf '[make-network-samples] %s\n' "$*" >&2; }

cleanup() {
    for ns in "$C" "$R" "$S"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    [ -n "${SAMPLES_KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

for t in ip iptables ip6tables tcpdump openssl curl python3; do
    command -v "$t" >/dev/null || { log "missing $t (apt-get install iproute2 iptables tcpdump openssl)"; exit 1; }
done

# ---------------------------------------------------------------- topology
topology() {
    local mtu_towards_client=$1
    for ns in "$C" "$R" "$S"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
    ip link add c0 netns "$C" type veth peer name r0 netns "$R"
    ip link add s0 netns "$S" type veth peer name r1 netns "$R"
    ip -n "$C" addr add 10.9.1.2/24 dev c0
    ip -n "$R" addr add 10.9.1.1/24 dev r0
    ip -n "$R" addr add 10.9.2.1/24 dev r1
    ip -n "$S" addr add 10.9.2.2/24 dev s0
    ip -n "$C" addr add fd00:9:1::2/64 dev c0 nodad
    ip -n "$R" addr add fd00:9:1::1/64 dev r0 nodad
    ip -n "$R" addr add fd00:9:2::1/64 dev r1 nodad
    ip -n "$S" addr add fd00:9:2::2/64 dev s0 nodad
    ip -n "$R" link set r0 mtu "$mtu_towards_client"
    for l in "$C:c0" "$R:r0" "$R:r1" "$S:s0"; do ip -n "${l%%:*}" link set "${l#*:}" up; done
    ip -n "$C" route add default via 10.9.1.1
    ip -n "$S" route add default via 10.9.2.1
    ip -n "$C" -6 route add default via fd00:9:1::1
    ip -n "$S" -6 route add default via fd00:9:2::1
    ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$R" sysctl -qw net.ipv6.conf.all.forwarding=1
    # Segments as they are on the wire (no GSO super-packets in the capture).
    if command -v ethtool >/dev/null; then
        for l in "$C:c0" "$S:s0"; do ip netns exec "${l%%:*}" ethtool -K "${l#*:}" tso off gso off gro off >/dev/null 2>&1 || true; done
    fi
}

teardown() {
    for ns in "$C" "$R" "$S"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    sleep 0.3
}

capture() { # ns dev file [filter]
    ip netns exec "$1" tcpdump -i "$2" --immediate-mode -U -s 0 -w "$3" "${4:-tcp}" 2>/dev/null &
    sleep 1
}

stop_capture() {
    sleep 1.5
    ip netns pids "$1" | xargs -r ps -o pid=,comm= -p | awk '$2=="tcpdump"{print $1}' | xargs -r kill -INT
    sleep 0.5
}

# ---------------------------------------------------------------- certificates
cd "$WORK"
openssl req -x509 -newkey rsa:4096 -nodes -keyout ca.key -out ca.pem -days 3650 \
    -subj "/CN=tlstriage Network Sample Root CA" 2>/dev/null
openssl req -newkey rsa:4096 -nodes -keyout int.key -out int.csr \
    -subj "/CN=tlstriage Network Sample Intermediate CA" 2>/dev/null
printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n' > ca.ext
openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile ca.ext -out int.pem 2>/dev/null
openssl req -newkey rsa:4096 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,DNS:blocked.example\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -days 825 -extfile leaf.ext -out leaf.pem 2>/dev/null
cat int.pem ca.pem > chain.pem

server() { # port
    ip netns exec "$S" openssl s_server -accept "$1" -cert leaf.pem -key leaf.key -cert_chain chain.pem \
        -tls1_2 -quiet -naccept 1 >/dev/null 2>&1 &
    sleep 1
}

# ---------------------------------------------------------------- middlebox RST
sample_middlebox_rst() {
log "middlebox-rst.pcap"
topology 1500
ip netns exec "$S" sysctl -qw net.ipv4.ip_default_ttl=128
ip netns exec "$R" iptables -A FORWARD -p tcp --dport 4448 -m string --string "blocked.example" \
    --algo bm -j REJECT --reject-with tcp-reset
server 4448
capture "$C" c0 "$WORK/middlebox-rst.pcap"
ip netns exec "$C" timeout 5 openssl s_client -connect 10.9.2.2:4448 -servername blocked.example \
    </dev/null >/dev/null 2>&1 || true
stop_capture "$C"
teardown
cp "$WORK/middlebox-rst.pcap" "$OUT/middlebox-rst.pcap"
}

# ---------------------------------------------------------------- PMTU black hole
sample_pmtu_blackhole() {
log "pmtu-blackhole.pcap"
topology 1000
ip netns exec "$R" iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
server 4449
capture "$S" s0 "$WORK/pmtu-blackhole.pcap"
ip netns exec "$C" timeout 3 openssl s_client -connect 10.9.2.2:4449 -servername localhost -tls1_2 \
    </dev/null >/dev/null 2>&1 || true
sleep 1
stop_capture "$S"
teardown
cp "$WORK/pmtu-blackhole.pcap" "$OUT/pmtu-blackhole.pcap"
}

# ---------------------------------------------------------------- connection failures
# ICMP errors only for ICMPv6 (types below 128): no neighbour or router solicitations.
WITH_ICMP="tcp or icmp or (icmp6 and ip6[40] < 128)"
CURL=(curl -q -sS -o /dev/null --noproxy '*')

sample_no_answer() {
log "no-answer.pcap"
topology 1500
ip netns exec "$R" iptables -A FORWARD -p tcp --dport 4455 -j DROP
capture "$C" c0 "$WORK/no-answer.pcap" "$WITH_ICMP"
ip netns exec "$C" "${CURL[@]}" --connect-timeout 4 https://10.9.2.2:4455/ >/dev/null 2>&1 || true
# Longer than twice the client's whole wait: no retransmission could still be due.
sleep 8
ip netns exec "$C" python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("10.9.1.1", 9))' || true
stop_capture "$C"
teardown
cp "$WORK/no-answer.pcap" "$OUT/no-answer.pcap"
}

reject_sample() { # name port reject-with [6]
    log "$1.pcap"
    topology 1500
    if [ -n "${4:-}" ]; then
        ip netns exec "$R" ip6tables -A FORWARD -p tcp --dport "$2" -j REJECT --reject-with "$3"
    else
        ip netns exec "$R" iptables -A FORWARD -p tcp --dport "$2" -j REJECT --reject-with "$3"
    fi
    capture "$C" c0 "$WORK/$1.pcap" "$WITH_ICMP"
    local target="10.9.2.2"
    [ -n "${4:-}" ] && target="[fd00:9:2::2]"
    ip netns exec "$C" "${CURL[@]}" -g --connect-timeout 4 "https://$target:$2/" >/dev/null 2>&1 || true
    stop_capture "$C"
    teardown
    cp "$WORK/$1.pcap" "$OUT/$1.pcap"
}
sample_reject_port_unreachable() { reject_sample reject-port-unreachable 4456 icmp-port-unreachable; }
sample_reject_admin_prohibited() { reject_sample reject-admin-prohibited 4457 icmp-admin-prohibited; }
sample_reject6_adm_prohibited() { reject_sample reject6-adm-prohibited 4458 icmp6-adm-prohibited 6; }

sample_pmtu_frag_needed() {
log "pmtu-frag-needed.pcap"
topology 1000
# The ICMP reaches s0 (and the capture) but not the server's TCP: a black hole one hop later.
ip netns exec "$S" iptables -A INPUT -p icmp --icmp-type fragmentation-needed -j DROP
server 4459
capture "$S" s0 "$WORK/pmtu-frag-needed.pcap" "$WITH_ICMP"
ip netns exec "$C" timeout 3 openssl s_client -connect 10.9.2.2:4459 -servername localhost -tls1_2 \
    </dev/null >/dev/null 2>&1 || true
sleep 1
stop_capture "$S"
teardown
cp "$WORK/pmtu-frag-needed.pcap" "$OUT/pmtu-frag-needed.pcap"
}

# `ethtool -K DEV tx off tso off gso off gro off` without ethtool (SIOCETHTOOL): a bridged
# frame must carry its real checksum, and segments must be as on the wire.
OFFLOADS_OFF='
import array, fcntl, socket, struct, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for cmd in (0x17, 0x1f, 0x24, 0x2c):
    buf = array.array("B", struct.pack("II", cmd, 0))
    ifr = struct.pack("16sP", sys.argv[1].encode(), buf.buffer_info()[0])
    fcntl.ioctl(sock.fileno(), 0x8946, ifr)
'

# ---------------------------------------------------------------- alert crossing a RST
# The client resets its connection 40 ms after its ClientHello; the router delays each way by
# 50 ms, so the server's fatal alert (no shared cipher) is already on its way when the RST
# leaves: captured on the client's interface, the alert arrives after the client's RST.
sample_alert_after_rst() {
log "alert-after-rst.pcap"
# No netem in every kernel: the "router" is a user-space Ethernet bridge that holds every
# frame 50 ms each way (AF_PACKET sockets on r0 and r1, no IP on the router).
for ns in "$C" "$R" "$S"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add c0 netns "$C" type veth peer name r0 netns "$R"
ip link add s0 netns "$S" type veth peer name r1 netns "$R"
ip -n "$C" addr add 10.9.3.2/24 dev c0
ip -n "$S" addr add 10.9.3.3/24 dev s0
for l in "$C:c0" "$R:r0" "$R:r1" "$S:s0"; do
    ip -n "${l%%:*}" link set "${l#*:}" up
    ip netns exec "${l%%:*}" python3 -c "$OFFLOADS_OFF" "${l#*:}"
done
ip netns exec "$R" python3 - 2>/dev/null <<'PY' &
import socket, threading, time, queue
def side(dev):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((dev, 0))
    return s
a, b = side("r0"), side("r1")
def pump(src, dst):
    q = queue.Queue()
    def send():
        while True:
            due, frame = q.get()
            time.sleep(max(0.0, due - time.monotonic()))
            dst.send(frame)
    threading.Thread(target=send, daemon=True).start()
    while True:
        frame, addr = src.recvfrom(65535)
        if addr[2] != socket.PACKET_OUTGOING:
            q.put((time.monotonic() + 0.05, frame))
threading.Thread(target=pump, args=(a, b), daemon=True).start()
pump(b, a)
PY
sleep 0.5
ip netns exec "$S" openssl s_server -accept 4460 -cert leaf.pem -key leaf.key -cert_chain chain.pem \
    -tls1_2 -cipher AES256-GCM-SHA384 -quiet -naccept 1 >/dev/null 2>&1 &
sleep 1
capture "$C" c0 "$WORK/alert-after-rst.pcap"
ip netns exec "$C" python3 - <<'PY'
import socket, ssl, struct, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers("AES128-SHA")
s = socket.create_connection(("10.9.3.3", 4460), timeout=5)
s.setblocking(False)
t = ctx.wrap_socket(s, server_hostname="localhost", do_handshake_on_connect=False)
try:
    t.do_handshake()
except ssl.SSLWantReadError:
    pass
time.sleep(0.04)
# SO_LINGER 0: close() sends a RST instead of a FIN.
t.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
t.close()
PY
stop_capture "$C"
teardown
cp "$WORK/alert-after-rst.pcap" "$OUT/alert-after-rst.pcap"
}

ALL=(middlebox-rst pmtu-blackhole no-answer reject-port-unreachable reject-admin-prohibited
     reject6-adm-prohibited pmtu-frag-needed alert-after-rst)
[ $# -gt 0 ] || set -- "${ALL[@]}"
for n in "$@"; do
    declare -F "sample_${n//-/_}" >/dev/null || { log "unknown sample $n (known: ${ALL[*]})"; exit 1; }
done
for n in "$@"; do "sample_${n//-/_}"; done
log "done: $*"
