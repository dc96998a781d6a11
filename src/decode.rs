//! Decode stage: link layer -> IP -> TCP.
//!
//! Link headers are simple fixed layouts and are walked by hand (that is
//! where VLAN ids are recorded); IP (options, IPv6 extension headers,
//! fragments, snaplen-truncated packets) and TCP are parsed with etherparse's
//! lax slicers, which tolerate truncation instead of rejecting the packet.

use std::net::IpAddr;

use etherparse::{err, IpNumber, LaxIpSlice, LenSource, TcpSlice};
pub use tunnel::{Tunnel, Unopened};

pub mod defrag;
mod icmp;
pub mod tunnel;
pub use icmp::{IcmpError, QuotedTcp};

/// TCP header flag bits as they appear in byte 13 of the header.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// LINKTYPE_* values understood by [`decode`].
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// Raw IP as some BSDs number it in pcap headers.
    pub const RAW_BSD_12: u32 = 12;
    pub const RAW_BSD_14: u32 = 14;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;

    /// The supported link types, as error messages list them.
    pub const SUPPORTED: &str = "0 NULL, 1 Ethernet, 12/14/101 raw IP, 108 LOOP, 113 Linux SLL, 228 IPv4, 229 IPv6, 276 Linux SLL2";

    /// True for the link types [`super::decode`] understands.
    pub fn is_supported(linktype: u32) -> bool {
        matches!(
            linktype,
            NULL | ETHERNET
                | RAW_BSD_12
                | RAW_BSD_14
                | RAW
                | LOOP
                | LINUX_SLL
                | IPV4
                | IPV6
                | LINUX_SLL2
        )
    }

    /// A readable name for common link types that are *not* supported, for error messages.
    pub fn unsupported_name(linktype: u32) -> Option<&'static str> {
        Some(match linktype {
            9 => "PPP",
            10 => "FDDI",
            50 => "PPP in HDLC framing",
            104 => "Cisco HDLC",
            105 => "IEEE 802.11 (Wi-Fi)",
            119 => "802.11 with Prism header",
            127 => "802.11 with radiotap header",
            147..=162 => "a private DLT_USER type",
            163 => "802.11 with AVS header",
            189 => "Linux USB",
            192 => "802.11 with PPI header",
            195 => "IEEE 802.15.4",
            220 => "Linux USB (memory-mapped)",
            253 => "Linux netlink",
            _ => return None,
        })
    }
}

/// One TCP segment; `payload` borrows the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// See [`tcp_flags`].
    pub flags: u8,
    pub window: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Outer and inner 802.1Q/802.1ad VLAN ids (Ethernet only).
    pub vlan: [Option<u16>; 2],
    /// TCP payload, without link-layer padding; shorter than the segment if
    /// the capture's snaplen cut it.
    pub payload: &'a [u8],
    /// The outermost tunnel opened to reach this segment, if any.
    pub tunnel: Option<Tunnel>,
    /// `Some(false)` if the IPv4 header or TCP checksum is wrong (common on
    /// captures taken on the sending host with checksum offload), `None` if
    /// the packet is truncated and cannot be checked.
    pub checksum_ok: Option<bool>,
}

/// Result of decoding one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    Tcp(TcpPacket<'a>),
    /// Not IP, or IP carrying something other than TCP.
    NotTcp,
    /// A fragment (first or later) of a fragmented IP packet carrying TCP, its IP header
    /// at `ip_at` in the frame (for [`defrag`]).
    IpFragment {
        ip_at: usize,
    },
    /// An ICMP or ICMPv6 error message (unreachable, time exceeded, packet too big).
    IcmpError(IcmpError),
    /// Inside a tunnel recognised but not opened (see [`tunnel`]).
    NotDecoded(Unopened),
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported link type {0} (supported: {supported})", supported = linktype::SUPPORTED)]
    UnsupportedLinkType(u32),
    #[error("{layer} truncated: {needed} bytes needed at offset {offset}, frame has {got}")]
    Truncated {
        layer: &'static str,
        offset: usize,
        needed: usize,
        got: usize,
    },
    #[error("malformed {layer} at offset {offset}: {detail}")]
    Malformed {
        layer: &'static str,
        offset: usize,
        detail: String,
    },
}

impl DecodeError {
    /// The same error about bytes that start `by` bytes into the frame.
    fn shifted(self, by: usize) -> Self {
        match self {
            DecodeError::Truncated {
                layer,
                offset,
                needed,
                got,
            } => DecodeError::Truncated {
                layer,
                offset: offset + by,
                needed,
                got,
            },
            DecodeError::Malformed {
                layer,
                offset,
                detail,
            } => DecodeError::Malformed {
                layer,
                offset: offset + by,
                detail,
            },
            other => other,
        }
    }
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// More stacked tags than this is not a real frame.
const MAX_VLAN_TAGS: usize = 8;
/// ARPHRD_NETLINK: SLL frames whose "protocol" is a netlink family.
const ARPHRD_NETLINK: u16 = 824;

/// Which IP version the link layer announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    V4,
    V6,
    /// Raw IP links: trust the version nibble.
    Any,
}

/// Decodes one captured frame of the given LINKTYPE_*.
pub fn decode(linktype: u32, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    decode_with(linktype, data, true)
}

/// [`decode`] without judging checksums (`checksum_ok` is always `None`): for a pass that
/// only needs the addresses, such as the `--threads` dispatcher.
pub fn decode_addresses(linktype: u32, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    decode_with(linktype, data, false)
}

/// What is carried down through the layers of one frame.
struct Walk {
    vlan: [Option<u16>; 2],
    tunnel: Option<Tunnel>,
    depth: usize,
    checksums: bool,
}

fn decode_with(linktype: u32, data: &[u8], checksums: bool) -> Result<Decoded<'_>, DecodeError> {
    let mut walk = Walk {
        vlan: [None, None],
        tunnel: None,
        depth: 0,
        checksums,
    };
    let (net, offset) = match linktype {
        linktype::ETHERNET => return decode_ethernet(data, 0, &mut walk),
        linktype::NULL => match address_family(data, true)? {
            Some(net) => (net, 4),
            None => return Ok(Decoded::NotTcp),
        },
        linktype::LOOP => match address_family(data, false)? {
            Some(net) => (net, 4),
            None => return Ok(Decoded::NotTcp),
        },
        linktype::LINUX_SLL => match sll(data, 16, 14, 2)? {
            Some(net) => net,
            None => return Ok(Decoded::NotTcp),
        },
        linktype::LINUX_SLL2 => match sll(data, 20, 0, 8)? {
            Some(net) => net,
            None => return Ok(Decoded::NotTcp),
        },
        linktype::RAW | linktype::RAW_BSD_12 | linktype::RAW_BSD_14 => (Net::Any, 0),
        linktype::IPV4 => (Net::V4, 0),
        linktype::IPV6 => (Net::V6, 0),
        other => return Err(DecodeError::UnsupportedLinkType(other)),
    };
    let ip = data.get(offset..).unwrap_or_default();
    decode_ip(ip, offset, net, &mut walk)
}

/// An Ethernet frame at `base` in the captured frame: the outer one, or one a tunnel
/// carries (whose VLAN tags are not kept: the outer frame's name the flow).
fn decode_ethernet<'a>(
    data: &'a [u8],
    base: usize,
    walk: &mut Walk,
) -> Result<Decoded<'a>, DecodeError> {
    let mut inner_vlan = [None, None];
    let vlan = if walk.depth == 0 {
        &mut walk.vlan
    } else {
        &mut inner_vlan
    };
    let (ethertype, off) = ethernet(data, vlan).map_err(|e| e.shifted(base))?;
    let rest = data.get(off..).unwrap_or_default();
    let opened = match ethertype {
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => tunnel::mpls(rest),
        ETHERTYPE_PPPOE_SESSION => tunnel::pppoe_session(rest),
        other => {
            return match ether_net(other) {
                Some(net) => decode_ip(rest, base + off, net, walk),
                // Values below 0x0600 are 802.3 lengths (LLC frames such as STP).
                None => Ok(Decoded::NotTcp),
            };
        }
    };
    open(opened, rest, base + off, walk)
}

/// Go into the tunnel `opened` found in `data` (at `base` in the frame).
fn open<'a>(
    opened: Result<(Tunnel, tunnel::Next), Unopened>,
    data: &'a [u8],
    base: usize,
    walk: &mut Walk,
) -> Result<Decoded<'a>, DecodeError> {
    let (kind, next) = match opened {
        Ok(found) => found,
        Err(why) => return Ok(Decoded::NotDecoded(why)),
    };
    if walk.depth >= tunnel::MAX_DEPTH {
        return Ok(Decoded::NotDecoded(Unopened::TooDeep));
    }
    walk.depth += 1;
    walk.tunnel.get_or_insert(kind);
    match next {
        tunnel::Next::Ethernet(at) => {
            decode_ethernet(data.get(at..).unwrap_or_default(), base + at, walk)
        }
        tunnel::Next::Ip(at, version) => {
            let net = match version {
                Some(4) => Net::V4,
                Some(6) => Net::V6,
                _ => Net::Any,
            };
            decode_ip(data.get(at..).unwrap_or_default(), base + at, net, walk)
        }
    }
}

fn be16(data: &[u8], off: usize) -> Option<u16> {
    let b = data.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

fn need(layer: &'static str, data: &[u8], offset: usize, len: usize) -> DecodeError {
    DecodeError::Truncated {
        layer,
        offset,
        needed: len,
        got: data.len(),
    }
}

fn ether_net(ethertype: u16) -> Option<Net> {
    match ethertype {
        ETHERTYPE_IPV4 => Some(Net::V4),
        ETHERTYPE_IPV6 => Some(Net::V6),
        _ => None,
    }
}

fn is_vlan_tpid(ethertype: u16) -> bool {
    matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    )
}

/// Walks the Ethernet header and any VLAN tags; returns the ethertype and where its
/// payload starts.
fn ethernet(data: &[u8], vlan: &mut [Option<u16>; 2]) -> Result<(u16, usize), DecodeError> {
    let mut off = 12;
    let mut ethertype = be16(data, off).ok_or_else(|| need("Ethernet header", data, 0, 14))?;
    off += 2;
    let mut tags = 0;
    while is_vlan_tpid(ethertype) {
        if tags == MAX_VLAN_TAGS {
            return Err(DecodeError::Malformed {
                layer: "VLAN tag",
                offset: off,
                detail: format!("more than {MAX_VLAN_TAGS} stacked VLAN tags"),
            });
        }
        let tci = be16(data, off).ok_or_else(|| need("VLAN tag", data, off, off + 4))?;
        ethertype = be16(data, off + 2).ok_or_else(|| need("VLAN tag", data, off, off + 4))?;
        if let Some(slot) = vlan.get_mut(tags) {
            *slot = Some(tci & 0x0fff);
        }
        tags += 1;
        off += 4;
    }
    Ok((ethertype, off))
}

/// BSD NULL (host byte order) and OpenBSD LOOP (network byte order) headers.
fn address_family(data: &[u8], either_order: bool) -> Result<Option<Net>, DecodeError> {
    let bytes: [u8; 4] = data
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| need("loopback header", data, 0, 4))?;
    let classify = |af: u32| match af {
        2 => Some(Net::V4),
        // AF_INET6 differs between BSDs: 24 (NetBSD/OpenBSD), 28 (FreeBSD),
        // 30 (macOS).
        24 | 28 | 30 => Some(Net::V6),
        _ => None,
    };
    let be = classify(u32::from_be_bytes(bytes));
    if !either_order {
        return Ok(be);
    }
    // The capturing host's byte order is unknown, so try both.
    Ok(be.or_else(|| classify(u32::from_le_bytes(bytes))))
}

/// Linux cooked capture v1/v2: protocol and ARPHRD type at fixed offsets.
fn sll(
    data: &[u8],
    header_len: usize,
    proto_at: usize,
    hatype_at: usize,
) -> Result<Option<(Net, usize)>, DecodeError> {
    if data.len() < header_len {
        return Err(need("Linux cooked header", data, 0, header_len));
    }
    let hatype = be16(data, hatype_at).unwrap_or(0);
    let proto = be16(data, proto_at).unwrap_or(0);
    if hatype == ARPHRD_NETLINK {
        return Ok(None);
    }
    if is_vlan_tpid(proto) {
        // The kernel normally strips tags before the cooked header is
        // built; a tag here is rare enough to count as "not TCP".
        return Ok(None);
    }
    Ok(ether_net(proto).map(|net| (net, header_len)))
}

/// Decodes IP and TCP; `base` is where `ip` starts within the frame (for
/// error offsets).
fn decode_ip<'a>(
    ip: &'a [u8],
    base: usize,
    net: Net,
    walk: &mut Walk,
) -> Result<Decoded<'a>, DecodeError> {
    let (vlan, checksums) = (walk.vlan, walk.checksums);
    let version = ip.first().map(|b| b >> 4);
    let expected = match net {
        Net::V4 => Some(4),
        Net::V6 => Some(6),
        Net::Any => None,
    };
    match (version, expected) {
        (None, _) => return Err(need("IP header", ip, base, 1)),
        (Some(v), Some(e)) if v != e => {
            return Err(DecodeError::Malformed {
                layer: "IP header",
                offset: base,
                detail: format!("link layer announced IPv{e} but version is {v}"),
            })
        }
        // Raw IP carrying something else (e.g. IPv4 version nibble garbage).
        (Some(v), None) if v != 4 && v != 6 => {
            return Err(DecodeError::Malformed {
                layer: "IP header",
                offset: base,
                detail: format!("IP version {v}"),
            })
        }
        _ => {}
    }

    let (slice, ext_err) = LaxIpSlice::from_slice(ip).map_err(|e| ip_error(e, ip, base))?;
    let payload = slice.payload();
    let icmp_v6 = match (&slice, payload.ip_number) {
        (LaxIpSlice::Ipv4(_), IpNumber::ICMP) => Some(false),
        (LaxIpSlice::Ipv6(_), IpNumber::IPV6_ICMP) => Some(true),
        _ => None,
    };
    if let (Some(v6), false) = (icmp_v6, payload.fragmented) {
        let ttl = match &slice {
            LaxIpSlice::Ipv4(v4) => v4.header().ttl(),
            LaxIpSlice::Ipv6(v6) => v6.header().hop_limit(),
        };
        let (src, dst) = (slice.source_addr(), slice.destination_addr());
        return Ok(
            icmp::parse(v6, payload.payload, src, dst, ttl).map_or(Decoded::NotTcp, |e| {
                Decoded::IcmpError(IcmpError { vlan, ..e })
            }),
        );
    }
    if !payload.fragmented {
        let inner = payload.payload;
        let at = base + segment_offset(ip, inner);
        let opened = match payload.ip_number {
            IpNumber::UDP => match (be16(inner, 0), be16(inner, 2)) {
                (Some(sport), Some(dport)) => {
                    let udp_payload = inner.get(8..).unwrap_or_default();
                    match tunnel::udp(sport, dport, udp_payload) {
                        Some(opened) => return open(opened, udp_payload, at + 8, walk),
                        None => None,
                    }
                }
                _ => None,
            },
            IpNumber::GRE => Some(tunnel::gre(inner)),
            IpNumber::IPV4 => Some(Ok((Tunnel::IpInIp, tunnel::Next::Ip(0, Some(4))))),
            IpNumber::IPV6 => Some(Ok((Tunnel::IpInIp, tunnel::Next::Ip(0, Some(6))))),
            IpNumber::ENCAPSULATING_SECURITY_PAYLOAD => Some(Err(Unopened::Esp)),
            _ => None,
        };
        if let Some(opened) = opened {
            return open(opened, inner, at, walk);
        }
    }
    if payload.ip_number != IpNumber::TCP {
        if let Some((e, _)) = ext_err {
            // Extension header chain broken before reaching the upper layer.
            return Err(DecodeError::Malformed {
                layer: "IPv6 extension header",
                offset: base,
                detail: e.to_string(),
            });
        }
        return Ok(Decoded::NotTcp);
    }
    if payload.fragmented {
        return Ok(Decoded::IpFragment { ip_at: base });
    }

    let (ttl, ip_header_ok) = match &slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                h.ttl(),
                checksums && ones_complement_sum(h.slice(), 0) == 0xffff,
            )
        }
        LaxIpSlice::Ipv6(v6) => (v6.header().hop_limit(), true),
    };

    let segment = payload.payload;
    let seg_offset = segment_offset(ip, segment).saturating_add(base);
    let tcp = TcpSlice::from_slice(segment).map_err(|e| match e {
        err::tcp::HeaderSliceError::Len(l) => DecodeError::Truncated {
            layer: "TCP header",
            offset: seg_offset,
            needed: l.required_len,
            got: l.len,
        },
        err::tcp::HeaderSliceError::Content(c) => DecodeError::Malformed {
            layer: "TCP header",
            offset: seg_offset,
            detail: c.to_string(),
        },
    })?;

    // A total length of 0 (TSO) or larger than the capture means the real
    // segment length is unknown, so the checksum cannot be judged.
    let complete = !payload.incomplete && payload.len_source != LenSource::Slice;
    let checksum_ok = if complete && checksums {
        let tcp_ok = tcp_checksum_ok(&slice, segment);
        Some(ip_header_ok && tcp_ok)
    } else {
        None
    };

    let flags = tcp.header_slice().get(13).copied().unwrap_or(0);
    Ok(Decoded::Tcp(TcpPacket {
        src: slice.source_addr(),
        dst: slice.destination_addr(),
        sport: tcp.source_port(),
        dport: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        window: tcp.window_size(),
        ttl,
        vlan,
        payload: tcp.payload(),
        tunnel: walk.tunnel,
        checksum_ok,
    }))
}

/// Position of `inner` inside `outer`, both borrowed from the same frame.
fn segment_offset(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

fn ip_error(e: err::ip::LaxHeaderSliceError, ip: &[u8], base: usize) -> DecodeError {
    match e {
        err::ip::LaxHeaderSliceError::Len(l) => DecodeError::Truncated {
            layer: "IP header",
            offset: base,
            needed: l.required_len,
            got: ip.len(),
        },
        err::ip::LaxHeaderSliceError::Content(c) => DecodeError::Malformed {
            layer: "IP header",
            offset: base,
            detail: c.to_string(),
        },
    }
}

/// Verifies the TCP checksum over the pseudo-header and the whole segment:
/// a correct segment sums to 0xffff including its own checksum field.
fn tcp_checksum_ok(ip: &LaxIpSlice<'_>, segment: &[u8]) -> bool {
    let Ok(seg_len) = u32::try_from(segment.len()) else {
        return false;
    };
    let mut sum = match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let mut s = ones_complement_sum(&h.source(), 0);
            s = ones_complement_sum(&h.destination(), s);
            s
        }
        LaxIpSlice::Ipv6(v6) => {
            // With a routing header the pseudo-header should use the final
            // destination; such TCP traffic is too rare to warrant it.
            let h = v6.header();
            let mut s = ones_complement_sum(&h.source(), 0);
            s = ones_complement_sum(&h.destination(), s);
            s
        }
    };
    sum = ones_complement_sum(&[0, 6], sum);
    sum = ones_complement_sum(&seg_len.to_be_bytes(), sum);
    ones_complement_sum(segment, sum) == 0xffff
}

/// Folded 16-bit one's complement sum (RFC 1071), continuing from `start`.
///
/// The bulk in native-endian 32-bit words over four independent lanes, so the loop
/// vectorizes: the one's-complement sum does not depend on byte order (RFC 1071 section
/// 2(B)), so the folded native sum is turned back into the big-endian one with a single
/// swap, and since 2^16 = 1 modulo 0xffff a sum of 32-bit words folds to the sum of their
/// 16-bit halves. The tail of fewer than 16 bytes goes word by word.
fn ones_complement_sum(data: &[u8], start: u16) -> u16 {
    let mut lanes = [0u64; 4];
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        for (lane, w) in lanes.iter_mut().zip(block.chunks_exact(4)) {
            if let [a, b, c, d] = *w {
                *lane += u64::from(u32::from_ne_bytes([a, b, c, d]));
            }
        }
    }
    // Each lane adds less than 2^32 per 16 bytes and a frame is far below 2^28 bytes, so
    // nothing overflows before folding.
    let bulk = u16::from_be(fold16(lanes.iter().sum()));
    let mut acc = u64::from(start) + u64::from(bulk);
    let mut pairs = blocks.remainder().chunks_exact(2);
    for pair in &mut pairs {
        if let [hi, lo] = *pair {
            acc += u64::from(u16::from_be_bytes([hi, lo]));
        }
    }
    if let [last] = *pairs.remainder() {
        acc += u64::from(u16::from_be_bytes([last, 0]));
    }
    fold16(acc)
}

/// Folds a one's-complement accumulator to 16 bits.
fn fold16(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    u16::try_from(acc).unwrap_or(0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureReader;
    use etherparse::PacketBuilder;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::path::Path;

    const SRC4: [u8; 4] = [192, 0, 2, 1];
    const DST4: [u8; 4] = [198, 51, 100, 7];
    const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    /// IPv4 + TCP with checksums computed by etherparse's builder, which is
    /// independent of the verification code under test.
    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv4(SRC4, DST4, 63)
            .tcp(51000, 443, 1_000_000, 29200)
            .ack(77)
            .psh()
            .write(&mut v, payload)
            .unwrap();
        v
    }

    fn ipv6_tcp(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv6(SRC6, DST6, 57)
            .tcp(443, 51000, 42, 512)
            .syn()
            .ack(1)
            .write(&mut v, payload)
            .unwrap();
        v
    }

    fn eth(ethertype: u16, tags: &[(u16, u16)], ip: &[u8]) -> Vec<u8> {
        let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        for (tpid, id) in tags {
            v.extend(tpid.to_be_bytes());
            v.extend((0x2000 | id).to_be_bytes()); // PCP 1, to check masking
        }
        v.extend(ethertype.to_be_bytes());
        v.extend(ip);
        v
    }

    fn sll(proto: u16, ip: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
        v.extend(proto.to_be_bytes());
        v.extend(ip);
        v
    }

    fn sll2(proto: u16, ip: &[u8]) -> Vec<u8> {
        let mut v = proto.to_be_bytes().to_vec();
        v.extend([0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
        v.extend(ip);
        v
    }

    fn tcp(d: Result<Decoded<'_>, DecodeError>) -> TcpPacket<'_> {
        match d {
            Ok(Decoded::Tcp(t)) => t,
            other => panic!("expected TCP, got {other:?}"),
        }
    }

    fn assert_v4(t: &TcpPacket<'_>, payload: &[u8]) {
        assert_eq!(t.src, IpAddr::V4(Ipv4Addr::from(SRC4)));
        assert_eq!(t.dst, IpAddr::V4(Ipv4Addr::from(DST4)));
        assert_eq!((t.sport, t.dport), (51000, 443));
        assert_eq!((t.seq, t.ack), (1_000_000, 77));
        assert_eq!(t.flags, tcp_flags::ACK | tcp_flags::PSH);
        assert_eq!(t.window, 29200);
        assert_eq!(t.ttl, 63);
        assert_eq!(t.payload, payload);
        assert_eq!(t.checksum_ok, Some(true));
    }

    fn assert_v6(t: &TcpPacket<'_>, payload: &[u8]) {
        assert_eq!(t.src, IpAddr::V6(Ipv6Addr::from(SRC6)));
        assert_eq!(t.dst, IpAddr::V6(Ipv6Addr::from(DST6)));
        assert_eq!((t.sport, t.dport, t.seq, t.ack), (443, 51000, 42, 1));
        assert_eq!(t.flags, tcp_flags::SYN | tcp_flags::ACK);
        assert_eq!(t.ttl, 57);
        assert_eq!(t.payload, payload);
        assert_eq!(t.checksum_ok, Some(true));
    }

    #[test]
    fn ethernet_ipv4_and_ipv6() {
        let p4 = eth(0x0800, &[], &ipv4_tcp(b"hello"));
        let t = tcp(decode(1, &p4));
        assert_v4(&t, b"hello");
        assert_eq!(t.vlan, [None, None]);
        let p6 = eth(0x86dd, &[], &ipv6_tcp(b"\x16\x03\x01"));
        assert_v6(&tcp(decode(1, &p6)), b"\x16\x03\x01");
    }

    /// RFC 1071 one 16-bit word at a time, the reference for the 8-byte version.
    fn ones_complement_sum_by_words(data: &[u8], start: u16) -> u16 {
        let mut acc = u64::from(start);
        for pair in data.chunks(2) {
            let hi = pair[0];
            let lo = pair.get(1).copied().unwrap_or(0);
            acc += u64::from(u16::from_be_bytes([hi, lo]));
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    proptest::proptest! {
        #[test]
        fn ones_complement_sum_matches_rfc1071(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            start in proptest::prelude::any::<u16>(),
        ) {
            proptest::prop_assert_eq!(
                ones_complement_sum(&data, start),
                ones_complement_sum_by_words(&data, start)
            );
        }
    }

    #[test]
    fn ones_complement_sum_edges() {
        for data in [
            &[][..],
            &[0; 9][..],
            &[0xff; 64][..],
            &[0xff, 0xff, 0, 1][..],
        ] {
            for start in [0, 1, 0xfffe, 0xffff] {
                assert_eq!(
                    ones_complement_sum(data, start),
                    ones_complement_sum_by_words(data, start),
                    "{data:?} {start}"
                );
            }
        }
    }

    #[test]
    fn decode_addresses_is_decode_without_checksums() {
        for frame in [
            eth(0x0800, &[], &ipv4_tcp(b"hello")),
            eth(0x86dd, &[(0x8100, 7)], &ipv6_tcp(b"\x16\x03\x01")),
        ] {
            let full = tcp(decode(1, &frame));
            let quick = tcp(decode_addresses(1, &frame));
            assert_eq!((full.checksum_ok, quick.checksum_ok), (Some(true), None));
            assert_eq!(
                TcpPacket {
                    checksum_ok: None,
                    ..full
                },
                quick
            );
        }
    }

    #[test]
    fn vlan_qinq_and_deeper_stacks() {
        let ip = ipv4_tcp(b"x");
        let one = eth(0x0800, &[(0x8100, 100)], &ip);
        let t = tcp(decode(1, &one));
        assert_eq!(t.vlan, [Some(100), None]);
        assert_v4(&t, b"x");
        let qinq = eth(0x0800, &[(0x88a8, 10), (0x8100, 20)], &ip);
        assert_eq!(tcp(decode(1, &qinq)).vlan, [Some(10), Some(20)]);
        let old = eth(0x86dd, &[(0x9100, 4095), (0x8100, 1)], &ipv6_tcp(b""));
        assert_eq!(tcp(decode(1, &old)).vlan, [Some(4095), Some(1)]);
        let three = eth(0x0800, &[(0x88a8, 1), (0x8100, 2), (0x8100, 3)], &ip);
        let t = tcp(decode(1, &three));
        assert_eq!(t.vlan, [Some(1), Some(2)]);
        assert_v4(&t, b"x");
        let nine: Vec<(u16, u16)> = (0..9).map(|i| (0x8100, i)).collect();
        assert!(matches!(
            decode(1, &eth(0x0800, &nine, &ip)),
            Err(DecodeError::Malformed {
                layer: "VLAN tag",
                ..
            })
        ));
        // tag cut off
        let cut = &one[..16];
        assert!(matches!(decode(1, cut), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut frame = eth(0x0800, &[], &ipv4_tcp(b""));
        assert_eq!(frame.len(), 54);
        frame.resize(60, 0xee);
        let t = tcp(decode(1, &frame));
        assert_v4(&t, b"");
        let mut frame = eth(0x0800, &[], &ipv4_tcp(b"ab"));
        frame.resize(60, 0xee);
        assert_v4(&tcp(decode(1, &frame)), b"ab");
        // IPv6 minimum-size frames can be padded too
        let mut frame = eth(0x86dd, &[], &ipv6_tcp(b""));
        frame.extend([0xee; 6]);
        assert_v6(&tcp(decode(1, &frame)), b"");
    }

    #[test]
    fn bsd_null_in_both_byte_orders() {
        for fam in [2u32] {
            for hdr in [fam.to_le_bytes(), fam.to_be_bytes()] {
                let mut p = hdr.to_vec();
                p.extend(ipv4_tcp(b"null"));
                assert_v4(&tcp(decode(0, &p)), b"null");
            }
        }
        for fam in [24u32, 28, 30] {
            for hdr in [fam.to_le_bytes(), fam.to_be_bytes()] {
                let mut p = hdr.to_vec();
                p.extend(ipv6_tcp(b"null6"));
                assert_v6(&tcp(decode(0, &p)), b"null6");
            }
        }
        let mut other = 7u32.to_le_bytes().to_vec();
        other.extend(ipv4_tcp(b""));
        assert_eq!(decode(0, &other), Ok(Decoded::NotTcp));
        assert!(matches!(
            decode(0, &[2, 0]),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn openbsd_loop_is_network_order() {
        let mut p = 2u32.to_be_bytes().to_vec();
        p.extend(ipv4_tcp(b"loop"));
        assert_v4(&tcp(decode(108, &p)), b"loop");
        let mut p = 24u32.to_be_bytes().to_vec();
        p.extend(ipv6_tcp(b""));
        assert_v6(&tcp(decode(108, &p)), b"");
        let mut le = 2u32.to_le_bytes().to_vec();
        le.extend(ipv4_tcp(b""));
        assert_eq!(decode(108, &le), Ok(Decoded::NotTcp));
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        assert_v4(&tcp(decode(113, &sll(0x0800, &ipv4_tcp(b"sll")))), b"sll");
        assert_v6(&tcp(decode(113, &sll(0x86dd, &ipv6_tcp(b"6")))), b"6");
        assert_v4(
            &tcp(decode(276, &sll2(0x0800, &ipv4_tcp(b"sll2")))),
            b"sll2",
        );
        assert_v6(&tcp(decode(276, &sll2(0x86dd, &ipv6_tcp(b"")))), b"");
        assert_eq!(decode(113, &sll(0x0806, &[0; 28])), Ok(Decoded::NotTcp));
        let mut netlink = sll(0x0800, &ipv4_tcp(b""));
        netlink[2..4].copy_from_slice(&824u16.to_be_bytes());
        assert_eq!(decode(113, &netlink), Ok(Decoded::NotTcp));
        assert!(matches!(
            decode(276, &[0; 19]),
            Err(DecodeError::Truncated { needed: 20, .. })
        ));
    }

    #[test]
    fn raw_ip_link_types() {
        for lt in [101, 12, 14] {
            assert_v4(&tcp(decode(lt, &ipv4_tcp(b"raw"))), b"raw");
            assert_v6(&tcp(decode(lt, &ipv6_tcp(b"raw6"))), b"raw6");
        }
        assert_v4(&tcp(decode(228, &ipv4_tcp(b"4"))), b"4");
        assert_v6(&tcp(decode(229, &ipv6_tcp(b"6"))), b"6");
        assert!(matches!(
            decode(228, &ipv6_tcp(b"")),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            decode(229, &ipv4_tcp(b"")),
            Err(DecodeError::Malformed { .. })
        ));
        let mut v5 = ipv4_tcp(b"");
        v5[0] = 0x55;
        let msg = decode(101, &v5).unwrap_err().to_string();
        assert!(msg.contains("IP version 5"), "{msg}");
    }

    #[test]
    fn unsupported_link_type_is_named() {
        let err = decode(147, &[0; 40]).unwrap_err();
        assert_eq!(err, DecodeError::UnsupportedLinkType(147));
        assert!(err.to_string().starts_with("unsupported link type 147"));
        assert!(err.to_string().contains("113 Linux SLL"), "{err}");
    }

    #[test]
    fn supported_link_types_are_exactly_the_decoded_ones() {
        for lt in 0..=300u32 {
            let unsupported = decode(lt, &[0; 64]) == Err(DecodeError::UnsupportedLinkType(lt));
            assert_eq!(linktype::is_supported(lt), !unsupported, "link type {lt}");
            if linktype::is_supported(lt) {
                assert_eq!(linktype::unsupported_name(lt), None);
            }
        }
    }

    /// Inserts IPv6 extension headers between the fixed header and TCP.
    fn with_ipv6_exts(mut p: Vec<u8>, exts: &[(u8, &[u8])]) -> Vec<u8> {
        // exts: (header type, 8-byte-multiple body starting after next-hdr/len)
        let mut chain = Vec::new();
        let mut types: Vec<u8> = exts.iter().map(|e| e.0).collect();
        types.push(6);
        for (i, (_, body)) in exts.iter().enumerate() {
            chain.push(types[i + 1]);
            chain.push(((body.len() + 2) / 8 - 1) as u8);
            chain.extend(*body);
        }
        p[6] = types[0];
        let plen = u16::from_be_bytes([p[4], p[5]]) + chain.len() as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p.splice(40..40, chain);
        p
    }

    #[test]
    fn ipv6_extension_headers_before_tcp() {
        let pad6: &[u8] = &[1, 4, 0, 0, 0, 0]; // PadN option
        let hbh = with_ipv6_exts(ipv6_tcp(b"ext"), &[(0, pad6)]);
        assert_v6(&tcp(decode(229, &hbh)), b"ext");
        let two = with_ipv6_exts(ipv6_tcp(b"ext2"), &[(0, pad6), (60, pad6)]);
        let mut framed = eth(0x86dd, &[], &two);
        framed.extend([0; 4]);
        assert_v6(&tcp(decode(1, &framed)), b"ext2");
        // UDP behind extension headers is still not TCP
        let mut udp = Vec::new();
        PacketBuilder::ipv6(SRC6, DST6, 1)
            .udp(53, 53)
            .write(&mut udp, b"dns")
            .unwrap();
        assert_eq!(decode(229, &udp), Ok(Decoded::NotTcp));
    }

    #[test]
    fn snaplen_truncation() {
        let full = eth(0x0800, &[], &ipv4_tcp(b"0123456789"));
        let cut = &full[..full.len() - 4];
        let t = tcp(decode(1, cut));
        assert_eq!(t.payload, b"012345");
        assert_eq!(t.checksum_ok, None);
        // headers only
        let t = tcp(decode(1, &full[..54]));
        assert_eq!(t.payload, b"");
        assert_eq!(t.checksum_ok, None);
        // inside the TCP header
        let err = decode(1, &full[..40]).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::Truncated {
                    layer: "TCP header",
                    offset: 34,
                    ..
                }
            ),
            "{err}"
        );
        // inside the IP header
        assert!(matches!(
            decode(1, &full[..20]),
            Err(DecodeError::Truncated {
                layer: "IP header",
                offset: 14,
                ..
            })
        ));
        assert!(matches!(
            decode(1, &full[..10]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            decode(101, &[]),
            Err(DecodeError::Truncated { .. })
        ));
        let v6 = ipv6_tcp(b"abcdef");
        let t = tcp(decode(229, &v6[..v6.len() - 2]));
        assert_eq!((t.payload, t.checksum_ok), (&b"abcd"[..], None));
    }

    #[test]
    fn tso_zero_total_length_is_unchecked() {
        let mut p = ipv4_tcp(b"big segment");
        p[2..4].copy_from_slice(&[0, 0]);
        let t = tcp(decode(228, &p));
        assert_eq!(t.payload, b"big segment");
        assert_eq!(t.checksum_ok, None);
    }

    #[test]
    fn bad_checksums_are_detected_not_dropped() {
        let good = ipv4_tcp(b"payload");
        assert_eq!(tcp(decode(228, &good)).checksum_ok, Some(true));
        // TCP checksum field is at 20 + 16
        for byte in [36, 37, 20 + 20, 10, 11, 8] {
            let mut bad = good.clone();
            bad[byte] ^= 0x01;
            let t = tcp(decode(228, &bad));
            assert_eq!(t.checksum_ok, Some(false), "flipped byte {byte}");
        }
        let good6 = ipv6_tcp(b"payload6");
        for byte in [40 + 16, 40 + 20, 8, 39] {
            let mut bad = good6.clone();
            bad[byte] ^= 0x80;
            assert_eq!(
                tcp(decode(229, &bad)).checksum_ok,
                Some(false),
                "byte {byte}"
            );
        }
        // odd payload length exercises the padding byte of the sum
        let odd = ipv4_tcp(b"odd");
        assert_eq!(tcp(decode(228, &odd)).checksum_ok, Some(true));
        let mut odd_bad = odd;
        let last = odd_bad.len() - 1;
        odd_bad[last] ^= 0x10;
        assert_eq!(tcp(decode(228, &odd_bad)).checksum_ok, Some(false));
    }

    #[test]
    fn offloaded_checksum_packet_is_kept() {
        // SYN captured on the sending Linux host (pcap-parser's tls12-23.pcap,
        // frame 1): the IPv4 header checksum is right, the TCP checksum holds
        // only the pseudo-header partial sum left for the NIC (verified
        // independently: the segment sums to 0x1537, not 0xffff).
        let frame: [u8; 74] = [
            0x72, 0x4d, 0x4a, 0xd1, 0x13, 0x0d, 0x4e, 0x9c, 0xae, 0xde, 0xcb, 0x73, 0x08, 0x00,
            0x45, 0x00, 0x00, 0x3c, 0xdf, 0x08, 0x40, 0x00, 0x40, 0x06, 0x47, 0x9f, 0x0a, 0x09,
            0x00, 0x01, 0x0a, 0x09, 0x00, 0x02, 0xd1, 0xf4, 0x11, 0x51, 0x34, 0x1b, 0x5b, 0x17,
            0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0x72, 0x10, 0x14, 0x43, 0x00, 0x00, 0x02, 0x04,
            0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0xe4, 0xdb, 0x6b, 0x7b, 0x00, 0x00, 0x00, 0x00,
            0x01, 0x03, 0x03, 0x07,
        ];
        let t = tcp(decode(1, &frame));
        assert_eq!(t.flags, tcp_flags::SYN);
        assert_eq!((t.sport, t.dport), (53748, 4433));
        assert_eq!(t.ttl, 64);
        assert_eq!(t.checksum_ok, Some(false));
        assert_eq!(t.payload, b"");
        // Putting the checksum the NIC would have written makes it good.
        let mut fixed = frame;
        fixed[50..52].copy_from_slice(&0xff0bu16.to_be_bytes()); // 0xffff - (0x1537 - 0x1443)
        assert_eq!(tcp(decode(1, &fixed)).checksum_ok, Some(true));
    }

    #[test]
    fn fragments() {
        let mut mf = ipv4_tcp(b"first part");
        mf[6] |= 0x20; // more fragments
        assert_eq!(decode(228, &mf), Ok(Decoded::IpFragment { ip_at: 0 }));
        let mut later = ipv4_tcp(b"later part");
        later[6] = 0x00;
        later[7] = 0x10; // offset 16 * 8
        assert_eq!(decode(228, &later), Ok(Decoded::IpFragment { ip_at: 0 }));
        let mut udp = Vec::new();
        PacketBuilder::ipv4(SRC4, DST4, 1)
            .udp(1, 2)
            .write(&mut udp, b"x")
            .unwrap();
        udp[6] |= 0x20;
        assert_eq!(decode(228, &udp), Ok(Decoded::NotTcp));
        // IPv6 fragment header (type 44): offset 0, M=1
        let frag = with_ipv6_exts(ipv6_tcp(b"frag"), &[(44, &[0, 1, 0, 0, 0, 7])]);
        assert_eq!(decode(229, &frag), Ok(Decoded::IpFragment { ip_at: 0 }));
        // atomic fragment (offset 0, M=0) is a whole packet
        let atomic = with_ipv6_exts(ipv6_tcp(b"atom"), &[(44, &[0, 0, 0, 0, 0, 7])]);
        assert_v6(&tcp(decode(229, &atomic)), b"atom");
    }

    #[test]
    fn non_tcp_traffic() {
        let arp = eth(0x0806, &[], &[0; 28]);
        assert_eq!(decode(1, &arp), Ok(Decoded::NotTcp));
        let mut llc = eth(0x0026, &[], &[0x42, 0x42, 0x03]);
        llc.resize(60, 0);
        assert_eq!(decode(1, &llc), Ok(Decoded::NotTcp));
        let mut udp = Vec::new();
        PacketBuilder::ipv4(SRC4, DST4, 1)
            .udp(5353, 5353)
            .write(&mut udp, b"mdns")
            .unwrap();
        assert_eq!(decode(1, &eth(0x0800, &[], &udp)), Ok(Decoded::NotTcp));
        let mut icmp = Vec::new();
        PacketBuilder::ipv4(SRC4, DST4, 1)
            .icmpv4_echo_request(1, 1)
            .write(&mut icmp, b"ping")
            .unwrap();
        assert_eq!(decode(228, &icmp), Ok(Decoded::NotTcp));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let seeds = [
            eth(0x0800, &[(0x8100, 5)], &ipv4_tcp(b"seed")),
            eth(
                0x86dd,
                &[],
                &with_ipv6_exts(ipv6_tcp(b"s"), &[(0, &[1, 4, 0, 0, 0, 0])]),
            ),
            sll(0x0800, &ipv4_tcp(b"")),
        ];
        for lt in [0, 1, 12, 14, 101, 108, 113, 228, 229, 276] {
            for len in 0..80 {
                let junk: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
                let _ = decode(lt, &junk);
            }
            for s in &seeds {
                for _ in 0..300 {
                    let mut m = s.clone();
                    for _ in 0..3 {
                        let i = (rnd() % m.len() as u64) as usize;
                        m[i] = rnd() as u8;
                    }
                    m.truncate((rnd() % (m.len() as u64 + 1)) as usize);
                    let _ = decode(lt, &m);
                }
            }
        }
    }

    #[test]
    fn shared_captures_contain_tcp() {
        let root = Path::new("/work/shared/captures");
        if !root.is_dir() {
            println!("skipping: {} not found", root.display());
            return;
        }
        let expect_linktype = [
            ("suricata-verify/tls12-linktype228-ipv4.pcap", 228),
            (
                "suricata-verify/tls13-hello-retry-request-rawip-linktype101.pcap",
                101,
            ),
            ("suricata-verify/http-connect-then-tls-nulllink.pcap", 0),
            ("zeek/pop3-stls-loopback-nulllink.pcap", 0),
            ("zeek/http-connect-then-tls12-ipv6-nulllink.pcap", 0),
            ("zeek/irc-starttls-linux-sll.pcap", 113),
            ("zeek/tls12-normal-handshake.pcap", 1),
        ];
        for (name, lt) in expect_linktype {
            let (linktypes, counts) = decode_file(&root.join(name));
            assert_eq!(linktypes, vec![lt], "{name}");
            assert!(
                counts.tcp > 0 && counts.payload_bytes > 0,
                "{name}: {counts:?}"
            );
            assert_eq!(counts.errors, 0, "{name}: {counts:?}");
        }
        let mut total = Counts::default();
        for sub in ["suricata-verify", "zeek"] {
            for f in std::fs::read_dir(root.join(sub)).unwrap() {
                let path = f.unwrap().path();
                if path.extension().is_none_or(|e| e != "pcap") {
                    continue;
                }
                let (_, c) = decode_file(&path);
                assert!(c.tcp > 0, "{}: {c:?}", path.display());
                total.tcp += c.tcp;
                total.errors += c.errors;
                total.bad_checksum += c.bad_checksum;
                total.unchecked += c.unchecked;
            }
        }
        println!("all shared captures: {total:?}");
        assert!(total.tcp > 1000);
        // Crafted captures may carry the odd broken frame, but not many.
        assert!(total.errors * 100 < total.tcp, "{total:?}");
    }

    #[derive(Debug, Default)]
    struct Counts {
        tcp: u64,
        payload_bytes: u64,
        errors: u64,
        bad_checksum: u64,
        unchecked: u64,
    }

    fn decode_file(path: &Path) -> (Vec<u32>, Counts) {
        let mut r = CaptureReader::open(path).unwrap();
        let mut linktypes = Vec::new();
        let mut c = Counts::default();
        // Two suricata-verify files are corrupt mid-file; stop there.
        while let Ok(Some(p)) = r.next_packet() {
            if !linktypes.contains(&p.linktype) {
                linktypes.push(p.linktype);
            }
            match decode(p.linktype, p.data) {
                Ok(Decoded::Tcp(t)) => {
                    c.tcp += 1;
                    c.payload_bytes += t.payload.len() as u64;
                    match t.checksum_ok {
                        Some(false) => c.bad_checksum += 1,
                        None => c.unchecked += 1,
                        Some(true) => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    println!("{} frame {}: {e}", path.display(), p.frame);
                    c.errors += 1;
                }
            }
        }
        (linktypes, c)
    }
}
