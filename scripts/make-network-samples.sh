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
#   scripts/make-network-samples.sh        # needs root, ip, iptables, tcpdump, openssl
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

for t in ip iptables tcpdump openssl; do
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
    ip -n "$R" link set r0 mtu "$mtu_towards_client"
    for l in "$C:c0" "$R:r0" "$R:r1" "$S:s0"; do ip -n "${l%%:*}" link set "${l#*:}" up; done
    ip -n "$C" route add default via 10.9.1.1
    ip -n "$S" route add default via 10.9.2.1
    ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
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

capture() { # ns dev file
    ip netns exec "$1" tcpdump -i "$2" --immediate-mode -U -s 0 -w "$3" tcp 2>/dev/null &
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

# ---------------------------------------------------------------- PMTU black hole
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

log "done: $OUT/middlebox-rst.pcap $OUT/pmtu-blackhole.pcap"
