//! ICMP and ICMPv6 error messages that quote a TCP segment: destination unreachable, time
//! exceeded and (ICMPv6) packet too big. The quote is what ties the error to a connection:
//! the IP header and the first bytes of the segment that drew it. Routers often quote only
//! the 8 bytes RFC 792 requires (ports and sequence number), and a quote may be cut anywhere
//! by the router or the snaplen, so it is read leniently: whatever it holds, it never fails
//! the packet.

use std::net::IpAddr;

use etherparse::{Icmpv4Slice, Icmpv6Slice, IpNumber, LaxIpSlice};

/// The TCP segment an ICMP error quotes, as its sender (the host that gets the error) sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedTcp {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// Absent when the quote stops before byte 8 of the TCP header.
    pub seq: Option<u32>,
    /// The TCP flags, when the quote reaches the end of the window field (byte 16): as far
    /// as Wireshark reads before it gives the quoted header a `tcp.stream`.
    pub flags: Option<u8>,
}

/// One ICMP or ICMPv6 error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// Who sent the error (a router, a firewall, or the destination host).
    pub sender: IpAddr,
    pub receiver: IpAddr,
    /// TTL / hop limit of the error itself.
    pub ttl: u8,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// The `icmp_<name>` reason without its prefix, e.g. `port_unreachable`.
    pub name: &'static str,
    /// Next-hop MTU of "fragmentation needed" (ICMP) or "packet too big" (ICMPv6).
    pub mtu: Option<u32>,
    /// The quoted TCP segment; `None` when the quote is not TCP or too short for its ports.
    pub quoted: Option<QuotedTcp>,
    /// Outer and inner VLAN ids of the frame (Ethernet only), as [`super::TcpPacket::vlan`].
    pub vlan: [Option<u16>; 2],
}

impl IcmpError {
    /// Fragmentation needed (ICMP 3/4) or packet too big (ICMPv6 2): a path-MTU signal.
    pub fn is_mtu_signal(&self) -> bool {
        matches!(
            (self.v6, self.icmp_type, self.code),
            (false, 3, 4) | (true, 2, _)
        )
    }
}

const V4_UNREACHABLE: u8 = 3;
const V4_TIME_EXCEEDED: u8 = 11;
const V6_UNREACHABLE: u8 = 1;
const V6_PACKET_TOO_BIG: u8 = 2;
const V6_TIME_EXCEEDED: u8 = 3;

/// The name of an ICMP (v4) error, or `None` for a message that is not one of the errors
/// read here (echo, redirect, ...). Codes of RFC 792, 1122 and 1812.
fn v4_name(icmp_type: u8, code: u8) -> Option<&'static str> {
    Some(match (icmp_type, code) {
        (V4_UNREACHABLE, 0) => "net_unreachable",
        (V4_UNREACHABLE, 1) => "host_unreachable",
        (V4_UNREACHABLE, 2) => "protocol_unreachable",
        (V4_UNREACHABLE, 3) => "port_unreachable",
        (V4_UNREACHABLE, 4) => "frag_needed",
        (V4_UNREACHABLE, 5) => "source_route_failed",
        (V4_UNREACHABLE, 6) => "net_unknown",
        (V4_UNREACHABLE, 7) => "host_unknown",
        (V4_UNREACHABLE, 8) => "host_isolated",
        (V4_UNREACHABLE, 9) => "net_prohibited",
        (V4_UNREACHABLE, 10) => "host_prohibited",
        (V4_UNREACHABLE, 11) => "net_unreachable_for_tos",
        (V4_UNREACHABLE, 12) => "host_unreachable_for_tos",
        (V4_UNREACHABLE, 13) => "admin_prohibited",
        (V4_UNREACHABLE, 14) => "host_precedence_violation",
        (V4_UNREACHABLE, 15) => "precedence_cutoff",
        (V4_UNREACHABLE, _) => "unreachable",
        (V4_TIME_EXCEEDED, 0) => "ttl_exceeded",
        (V4_TIME_EXCEEDED, _) => "reassembly_time_exceeded",
        _ => return None,
    })
}

/// ICMPv6 errors (RFC 4443), named like their ICMP counterparts where there is one, so
/// that a rule or a person reads one vocabulary: no route = net_unreachable, address
/// unreachable = host_unreachable, administratively prohibited = admin_prohibited.
fn v6_name(icmp_type: u8, code: u8) -> Option<&'static str> {
    Some(match (icmp_type, code) {
        (V6_UNREACHABLE, 0) => "net_unreachable",
        (V6_UNREACHABLE, 1) => "admin_prohibited",
        (V6_UNREACHABLE, 2) => "beyond_scope",
        (V6_UNREACHABLE, 3) => "host_unreachable",
        (V6_UNREACHABLE, 4) => "port_unreachable",
        (V6_UNREACHABLE, 5) => "source_policy_failed",
        (V6_UNREACHABLE, 6) => "reject_route",
        (V6_UNREACHABLE, _) => "unreachable",
        (V6_PACKET_TOO_BIG, _) => "packet_too_big",
        (V6_TIME_EXCEEDED, 0) => "hop_limit_exceeded",
        (V6_TIME_EXCEEDED, _) => "reassembly_time_exceeded",
        _ => return None,
    })
}

/// Reads an ICMP (`v6` false) or ICMPv6 message carried in an IP packet from `sender`.
/// `None` when it is not an error message read here or too short for its own header.
pub fn parse(
    v6: bool,
    message: &[u8],
    sender: IpAddr,
    receiver: IpAddr,
    ttl: u8,
) -> Option<IcmpError> {
    let (icmp_type, code, rest, quote) = if v6 {
        let s = Icmpv6Slice::from_slice(message).ok()?;
        (s.type_u8(), s.code_u8(), s.bytes5to8(), s.payload())
    } else {
        let s = Icmpv4Slice::from_slice(message).ok()?;
        (s.type_u8(), s.code_u8(), s.bytes5to8(), s.payload())
    };
    let name = if v6 {
        v6_name(icmp_type, code)?
    } else {
        v4_name(icmp_type, code)?
    };
    let mtu = match (v6, icmp_type, code) {
        // RFC 1191: the next-hop MTU is the low half of the second word.
        (false, V4_UNREACHABLE, 4) => Some(u32::from(u16::from_be_bytes([rest[2], rest[3]]))),
        (true, V6_PACKET_TOO_BIG, _) => Some(u32::from_be_bytes(rest)),
        _ => None,
    };
    Some(IcmpError {
        sender,
        receiver,
        ttl,
        v6,
        icmp_type,
        code,
        name,
        mtu,
        quoted: quoted_tcp(quote),
        vlan: [None, None],
    })
}

/// The quoted IP header and the start of its TCP segment. The quoted IP's total length
/// always exceeds the quote, which the lax slicer accepts; a quote that ends inside the IP
/// header or before the TCP ports is no quote of a connection.
fn quoted_tcp(quote: &[u8]) -> Option<QuotedTcp> {
    let (ip, _) = LaxIpSlice::from_slice(quote).ok()?;
    let payload = ip.payload();
    // A later fragment holds no TCP header; the first one does.
    if payload.ip_number != IpNumber::TCP || payload.fragmented && !is_first_fragment(&ip) {
        return None;
    }
    let t = payload.payload;
    let be16 = |at: usize| Some(u16::from_be_bytes([*t.get(at)?, *t.get(at + 1)?]));
    let seq = t
        .get(4..8)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    Some(QuotedTcp {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        sport: be16(0)?,
        dport: be16(2)?,
        seq,
        flags: (t.len() >= 16).then(|| t[13]),
    })
}

fn is_first_fragment(ip: &LaxIpSlice<'_>) -> bool {
    match ip {
        LaxIpSlice::Ipv4(v4) => v4.header().fragments_offset().value() == 0,
        // The fragment header's offset is not exposed by the lax slice; an IPv6 quote of
        // a fragmented TCP segment is too rare to read.
        LaxIpSlice::Ipv6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use std::net::Ipv4Addr;

    const CLIENT: [u8; 4] = [10, 9, 1, 2];
    const SERVER: [u8; 4] = [10, 9, 2, 2];
    const ROUTER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 1, 1));

    /// A client's SYN, as it left the client.
    fn syn() -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv4(CLIENT, SERVER, 64)
            .tcp(40000, 443, 0x0102_0304, 64240)
            .syn()
            .write(&mut v, &[])
            .unwrap();
        v
    }

    fn icmp4(icmp_type: u8, code: u8, rest: [u8; 4], quote: &[u8]) -> Vec<u8> {
        let mut m = vec![icmp_type, code, 0, 0];
        m.extend_from_slice(&rest);
        m.extend_from_slice(quote);
        m
    }

    fn parse4(m: &[u8]) -> Option<IcmpError> {
        parse(false, m, ROUTER, IpAddr::from(CLIENT), 64)
    }

    #[test]
    fn port_unreachable_quoting_a_whole_syn() {
        let e = parse4(&icmp4(3, 3, [0; 4], &syn())).unwrap();
        assert_eq!(e.name, "port_unreachable");
        assert_eq!(e.sender, ROUTER);
        assert_eq!(e.mtu, None);
        let q = e.quoted.unwrap();
        assert_eq!((q.src, q.dst), (IpAddr::from(CLIENT), IpAddr::from(SERVER)));
        assert_eq!((q.sport, q.dport, q.seq), (40000, 443, Some(0x0102_0304)));
        assert_eq!(q.flags, Some(0x02));
    }

    #[test]
    fn rfc792_quote_of_eight_tcp_bytes_is_enough() {
        let s = syn();
        let e = parse4(&icmp4(3, 13, [0; 4], &s[..20 + 8])).unwrap();
        assert_eq!(e.name, "admin_prohibited");
        assert_eq!(e.quoted.unwrap().seq, Some(0x0102_0304));
        assert_eq!(e.quoted.unwrap().flags, None);
        let e = parse4(&icmp4(3, 13, [0; 4], &s[..20 + 16])).unwrap();
        assert_eq!(e.quoted.unwrap().flags, Some(0x02));
        // Ports only: no sequence number.
        let e = parse4(&icmp4(3, 1, [0; 4], &s[..20 + 4])).unwrap();
        assert_eq!(e.name, "host_unreachable");
        assert_eq!(e.quoted.unwrap().seq, None);
        assert_eq!(e.quoted.unwrap().dport, 443);
    }

    #[test]
    fn frag_needed_carries_the_next_hop_mtu() {
        let e = parse4(&icmp4(3, 4, [0, 0, 0x03, 0xe8], &syn())).unwrap();
        assert_eq!((e.name, e.mtu), ("frag_needed", Some(1000)));
        assert!(e.is_mtu_signal());
    }

    #[test]
    fn icmpv6_errors_use_the_icmp_names() {
        let mut v = Vec::new();
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
            .tcp(40000, 443, 7, 64240)
            .syn()
            .write(&mut v, &[])
            .unwrap();
        let mut m = vec![1, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&v);
        let e = parse(true, &m, ROUTER, ROUTER, 64).unwrap();
        assert_eq!(e.name, "admin_prohibited");
        assert_eq!(e.quoted.unwrap().dport, 443);
        let mut m = vec![2, 0, 0, 0, 0, 0, 0x05, 0x00];
        m.extend_from_slice(&v);
        let e = parse(true, &m, ROUTER, ROUTER, 64).unwrap();
        assert_eq!((e.name, e.mtu), ("packet_too_big", Some(1280)));
    }

    #[test]
    fn not_an_error_or_not_tcp() {
        assert_eq!(parse4(&icmp4(8, 0, [0; 4], b"ping")), None);
        assert_eq!(
            parse(true, &[135, 0, 0, 0, 0, 0, 0, 0], ROUTER, ROUTER, 255),
            None
        );
        let mut udp = Vec::new();
        PacketBuilder::ipv4(CLIENT, SERVER, 64)
            .udp(5000, 9)
            .write(&mut udp, b"x")
            .unwrap();
        let e = parse4(&icmp4(3, 3, [0; 4], &udp)).unwrap();
        assert_eq!((e.name, e.quoted), ("port_unreachable", None));
    }

    /// Every truncation of the message, and every byte of it overwritten with each of a few
    /// hostile values: never a panic, and a quote is either read or not.
    #[test]
    fn hostile_and_truncated_quotes_never_panic() {
        let whole = icmp4(3, 4, [0, 0, 0xff, 0xff], &syn());
        for len in 0..=whole.len() {
            let e = parse4(&whole[..len]);
            assert_eq!(e.is_some(), len >= 8, "len {len}");
            if len < 8 + 20 + 4 {
                assert!(e.and_then(|e| e.quoted).is_none(), "len {len}");
            }
        }
        for at in 0..whole.len() {
            for v in [0x00, 0x0f, 0x45, 0x60, 0xff] {
                let mut m = whole.clone();
                m[at] = v;
                let _ = parse4(&m);
                let _ = parse(true, &m, ROUTER, ROUTER, 1);
            }
        }
    }
}
