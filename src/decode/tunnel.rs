//! Encapsulations opened to reach the TCP inside: VXLAN, Geneve and GTP-U (over UDP), GRE
//! with ERSPAN, IP in IP, MPLS and PPPoE. Each parser reads only its own header and says
//! what comes next; [`super::decode`] walks the layers with a depth limit, so a frame that
//! nests tunnels without end costs a bounded amount of work. Tunnels recognised but not
//! opened (PPTP's GRE, L2TP, IPsec ESP, ...) are named so the capture can say how many
//! packets it could not look into, instead of a silent zero.

/// A tunnel that was opened. The outermost one is kept with the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunnel {
    Vxlan,
    Geneve,
    GtpU,
    Gre,
    Erspan,
    IpInIp,
    Mpls,
    Pppoe,
}

impl Tunnel {
    pub const ALL: [Tunnel; 8] = [
        Tunnel::Vxlan,
        Tunnel::Geneve,
        Tunnel::GtpU,
        Tunnel::Gre,
        Tunnel::Erspan,
        Tunnel::IpInIp,
        Tunnel::Mpls,
        Tunnel::Pppoe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tunnel::Vxlan => "vxlan",
            Tunnel::Geneve => "geneve",
            Tunnel::GtpU => "gtp_u",
            Tunnel::Gre => "gre",
            Tunnel::Erspan => "erspan",
            Tunnel::IpInIp => "ip_in_ip",
            Tunnel::Mpls => "mpls",
            Tunnel::Pppoe => "pppoe",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A tunnel recognised but not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unopened {
    /// GRE version 1: PPTP's enhanced GRE, carrying PPP (often compressed or encrypted).
    GreV1,
    /// GRE carrying a protocol other than IP, Ethernet or ERSPAN.
    GreOther,
    /// ERSPAN type III whose frame is not Ethernet.
    ErspanNotEthernet,
    /// GTP-U messages other than G-PDU (echo, error indication, end marker) and GTP' / v2.
    GtpOther,
    L2tp,
    /// IPsec ESP: encrypted, nothing to look into.
    Esp,
    /// MPLS whose payload is neither IP nor an Ethernet pseudowire.
    MplsOther,
    /// PPPoE carrying something else than IP (LCP, discovery, ...).
    PppoeOther,
    /// More nested tunnels than [`MAX_DEPTH`].
    TooDeep,
    /// A tunnel header cut short by the snaplen or malformed.
    Truncated,
}

impl Unopened {
    pub const ALL: [Unopened; 10] = [
        Unopened::GreV1,
        Unopened::GreOther,
        Unopened::ErspanNotEthernet,
        Unopened::GtpOther,
        Unopened::L2tp,
        Unopened::Esp,
        Unopened::MplsOther,
        Unopened::PppoeOther,
        Unopened::TooDeep,
        Unopened::Truncated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Unopened::GreV1 => "gre_v1_pptp",
            Unopened::GreOther => "gre_other_protocol",
            Unopened::ErspanNotEthernet => "erspan_not_ethernet",
            Unopened::GtpOther => "gtp_other",
            Unopened::L2tp => "l2tp",
            Unopened::Esp => "ipsec_esp",
            Unopened::MplsOther => "mpls_other",
            Unopened::PppoeOther => "pppoe_other",
            Unopened::TooDeep => "nested_too_deep",
            Unopened::Truncated => "tunnel_header_truncated",
        }
    }

    /// For the capture's warning: "N packets inside <this> were not decoded".
    pub fn describe(self) -> &'static str {
        match self {
            Unopened::GreV1 => "GRE version 1 (PPTP) tunnels",
            Unopened::GreOther => "GRE tunnels of another protocol than IP or Ethernet",
            Unopened::ErspanNotEthernet => "ERSPAN type III sessions that mirror no Ethernet",
            Unopened::GtpOther => "GTP messages other than user-plane G-PDUs",
            Unopened::L2tp => "L2TP tunnels",
            Unopened::Esp => "IPsec ESP (encrypted)",
            Unopened::MplsOther => "MPLS with a payload neither IP nor Ethernet",
            Unopened::PppoeOther => "PPPoE sessions carrying no IP",
            Unopened::TooDeep => "more than 4 nested tunnels",
            Unopened::Truncated => "tunnel headers cut short",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Tunnels opened within one frame at most; deeper nesting is counted, not decoded.
pub const MAX_DEPTH: usize = 4;

/// What follows a tunnel header, at `offset` into the bytes given to the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Ethernet(usize),
    /// An IP packet; `Some(4 | 6)` when the tunnel says which version.
    Ip(usize, Option<u8>),
}

pub const UDP_VXLAN: u16 = 4789;
pub const UDP_GENEVE: u16 = 6081;
pub const UDP_GTP_U: u16 = 2152;
pub const UDP_L2TP: u16 = 1701;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const TRANSPARENT_ETHERNET: u16 = 0x6558;
const ERSPAN_II: u16 = 0x88be;
const ERSPAN_III: u16 = 0x22eb;

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

/// A UDP payload on a tunnel port (either port), or `None` when the ports are no tunnel's.
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Option<Result<(Tunnel, Next), Unopened>> {
    let on = |port| sport == port || dport == port;
    if on(UDP_VXLAN) {
        Some(vxlan(payload).map(|n| (Tunnel::Vxlan, n)))
    } else if on(UDP_GENEVE) {
        Some(geneve(payload).map(|n| (Tunnel::Geneve, n)))
    } else if on(UDP_GTP_U) {
        Some(gtp_u(payload).map(|n| (Tunnel::GtpU, n)))
    } else if on(UDP_L2TP) {
        Some(Err(Unopened::L2tp))
    } else {
        None
    }
}

/// VXLAN (RFC 7348): 8 bytes with the I flag, then Ethernet.
fn vxlan(p: &[u8]) -> Result<Next, Unopened> {
    match p.first() {
        Some(flags) if flags & 0x08 != 0 && p.len() >= 8 + 14 => Ok(Next::Ethernet(8)),
        _ => Err(Unopened::Truncated),
    }
}

/// Geneve (RFC 8926): 8 bytes plus options, then the protocol its type names.
fn geneve(p: &[u8]) -> Result<Next, Unopened> {
    let (Some(&first), Some(proto)) = (p.first(), be16(p, 2)) else {
        return Err(Unopened::Truncated);
    };
    if first >> 6 != 0 {
        return Err(Unopened::Truncated);
    }
    let start = 8 + usize::from(first & 0x3f) * 4;
    if p.len() <= start {
        return Err(Unopened::Truncated);
    }
    match proto {
        TRANSPARENT_ETHERNET => Ok(Next::Ethernet(start)),
        ETHERTYPE_IPV4 => Ok(Next::Ip(start, Some(4))),
        ETHERTYPE_IPV6 => Ok(Next::Ip(start, Some(6))),
        _ => Err(Unopened::Truncated),
    }
}

/// GTP-U (3GPP TS 29.281): version 1 G-PDUs carry the subscriber's IP packet after 8 bytes,
/// 12 when a sequence number, N-PDU number or extension header is flagged, and the chain
/// of extension headers (each a length in 4-byte units).
fn gtp_u(p: &[u8]) -> Result<Next, Unopened> {
    let (Some(&flags), Some(&msg_type)) = (p.first(), p.get(1)) else {
        return Err(Unopened::Truncated);
    };
    if flags >> 5 != 1 || flags & 0x10 == 0 || msg_type != 0xff {
        return Err(Unopened::GtpOther);
    }
    let mut at = 8;
    if flags & 0x07 != 0 {
        at = 12;
        let mut next_ext = p.get(11).copied().ok_or(Unopened::Truncated)?;
        // Each extension header is at least 4 bytes, so the walk ends within the packet.
        while next_ext != 0 {
            let units = usize::from(*p.get(at).ok_or(Unopened::Truncated)?);
            if units == 0 {
                return Err(Unopened::Truncated);
            }
            at += units * 4;
            next_ext = *p.get(at - 1).ok_or(Unopened::Truncated)?;
        }
    }
    match p.get(at).map(|b| b >> 4) {
        Some(v @ (4 | 6)) => Ok(Next::Ip(at, Some(v))),
        Some(_) => Err(Unopened::GtpOther),
        None => Err(Unopened::Truncated),
    }
}

/// GRE (RFC 2784/2890) and the ERSPAN it carries for mirrored traffic: version 0 only; the
/// checksum, key and sequence fields each add 4 bytes when flagged.
pub fn gre(p: &[u8]) -> Result<(Tunnel, Next), Unopened> {
    let (Some(flags), Some(proto)) = (be16(p, 0), be16(p, 2)) else {
        return Err(Unopened::Truncated);
    };
    if flags & 0x0007 != 0 {
        return Err(Unopened::GreV1);
    }
    let start = 4
        + 4 * usize::from(flags & 0x8000 != 0)
        + 4 * usize::from(flags & 0x2000 != 0)
        + 4 * usize::from(flags & 0x1000 != 0);
    if p.len() <= start {
        return Err(Unopened::Truncated);
    }
    match proto {
        ETHERTYPE_IPV4 => Ok((Tunnel::Gre, Next::Ip(start, Some(4)))),
        ETHERTYPE_IPV6 => Ok((Tunnel::Gre, Next::Ip(start, Some(6)))),
        TRANSPARENT_ETHERNET => Ok((Tunnel::Gre, Next::Ethernet(start))),
        // ERSPAN type I has no header of its own (and no GRE sequence number); type II an
        // 8-byte one.
        ERSPAN_II if flags & 0x1000 == 0 => Ok((Tunnel::Erspan, Next::Ethernet(start))),
        ERSPAN_II => Ok((Tunnel::Erspan, Next::Ethernet(start + 8))),
        ERSPAN_III => erspan3(&p[start..]).map(|n| match n {
            Next::Ethernet(at) => (Tunnel::Erspan, Next::Ethernet(start + at)),
            Next::Ip(at, v) => (Tunnel::Erspan, Next::Ip(start + at, v)),
        }),
        _ => Err(Unopened::GreOther),
    }
}

/// ERSPAN type III: 12 bytes, 8 more with the optional platform subheader (O flag); the
/// frame type says whether Ethernet follows.
fn erspan3(p: &[u8]) -> Result<Next, Unopened> {
    let (Some(ft), Some(&last)) = (be16(p, 10), p.get(11)) else {
        return Err(Unopened::Truncated);
    };
    let frame_type = (ft >> 10) & 0x1f;
    if frame_type != 0 {
        return Err(Unopened::ErspanNotEthernet);
    }
    let at = if last & 0x01 != 0 { 20 } else { 12 };
    if p.len() <= at {
        return Err(Unopened::Truncated);
    }
    Ok(Next::Ethernet(at))
}

/// An MPLS label stack (RFC 3032) down to its bottom label, then IP by its version nibble,
/// or an Ethernet pseudowire after its control word (RFC 4448, first nibble 0).
pub fn mpls(p: &[u8]) -> Result<(Tunnel, Next), Unopened> {
    let mut at = 0;
    loop {
        let bottom = p.get(at + 2).ok_or(Unopened::Truncated)? & 0x01 != 0;
        at += 4;
        if bottom {
            break;
        }
    }
    match p.get(at).map(|b| b >> 4) {
        Some(v @ (4 | 6)) => Ok((Tunnel::Mpls, Next::Ip(at, Some(v)))),
        Some(0) if p.len() > at + 4 + 14 => Ok((Tunnel::Mpls, Next::Ethernet(at + 4))),
        Some(_) => Err(Unopened::MplsOther),
        None => Err(Unopened::Truncated),
    }
}

/// A PPPoE session frame (RFC 2516): 6 bytes, then PPP's protocol field.
pub fn pppoe_session(p: &[u8]) -> Result<(Tunnel, Next), Unopened> {
    match be16(p, 6) {
        Some(0x0021) => Ok((Tunnel::Pppoe, Next::Ip(8, Some(4)))),
        Some(0x0057) => Ok((Tunnel::Pppoe, Next::Ip(8, Some(6)))),
        Some(_) => Err(Unopened::PppoeOther),
        None => Err(Unopened::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vxlan_needs_its_flag_and_room_for_ethernet() {
        let mut p = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        p.extend_from_slice(&[0; 14]);
        assert_eq!(vxlan(&p), Ok(Next::Ethernet(8)));
        p[0] = 0;
        assert_eq!(vxlan(&p), Err(Unopened::Truncated));
    }

    #[test]
    fn geneve_skips_its_options() {
        let mut p = vec![0x02, 0, 0x65, 0x58, 0, 0, 1, 0];
        p.extend_from_slice(&[0; 8]); // 2 words of options
        p.push(0xaa);
        assert_eq!(geneve(&p), Ok(Next::Ethernet(16)));
        p[2..4].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(geneve(&p), Ok(Next::Ip(16, Some(4))));
    }

    #[test]
    fn gtp_u_g_pdu_with_and_without_extension_headers() {
        let ip = [0x45, 0, 0, 20];
        let mut plain = vec![0x30, 0xff, 0, 4, 0, 0, 0, 1];
        plain.extend_from_slice(&ip);
        assert_eq!(gtp_u(&plain), Ok(Next::Ip(8, Some(4))));
        // E flag, next extension 0x85 (PDU session container, 1 unit), then none.
        let mut ext = vec![0x34, 0xff, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0x85];
        ext.extend_from_slice(&[1, 0x00, 0x01, 0x00]);
        ext.extend_from_slice(&[0x60, 0, 0, 0]);
        assert_eq!(gtp_u(&ext), Ok(Next::Ip(16, Some(6))));
        // Echo request: not user data.
        assert_eq!(
            gtp_u(&[0x32, 0x01, 0, 4, 0, 0, 0, 0]),
            Err(Unopened::GtpOther)
        );
        // An extension header of length 0 would never end.
        let mut bad = ext.clone();
        bad[12] = 0;
        assert_eq!(gtp_u(&bad), Err(Unopened::Truncated));
    }

    #[test]
    fn gre_fields_erspan_and_pptp() {
        let mut p = vec![0x20, 0x00, 0x08, 0x00, 0, 0, 0, 7]; // key present
        p.push(0x45);
        assert_eq!(gre(&p), Ok((Tunnel::Gre, Next::Ip(8, Some(4)))));
        let mut erspan2 = vec![0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1]; // sequence present
        erspan2.extend_from_slice(&[0x10, 0, 0, 1, 0, 0, 0, 0]);
        erspan2.extend_from_slice(&[0; 14]);
        assert_eq!(gre(&erspan2), Ok((Tunnel::Erspan, Next::Ethernet(16))));
        assert_eq!(
            gre(&[0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0]),
            Err(Unopened::GreV1)
        );
        assert_eq!(gre(&[0, 0, 0x12, 0x34, 0]), Err(Unopened::GreOther));
        let mut erspan3 = vec![0x00, 0x00, 0x22, 0xeb];
        erspan3.extend_from_slice(&[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x01]);
        erspan3.extend_from_slice(&[0; 8]);
        erspan3.extend_from_slice(&[0; 14]);
        assert_eq!(gre(&erspan3), Ok((Tunnel::Erspan, Next::Ethernet(4 + 20))));
    }

    #[test]
    fn mpls_stack_to_ip_or_pseudowire() {
        let p = [0, 0, 0x10, 64, 0, 0, 0x21, 64, 0x45, 0];
        assert_eq!(mpls(&p), Ok((Tunnel::Mpls, Next::Ip(8, Some(4)))));
        let mut pw = vec![0, 0, 0x21, 64, 0, 0, 0, 0];
        pw.extend_from_slice(&[0; 15]);
        assert_eq!(mpls(&pw), Ok((Tunnel::Mpls, Next::Ethernet(8))));
        // A stack with no bottom label runs out of bytes, never of time.
        assert_eq!(mpls(&[0; 4000]), Err(Unopened::Truncated));
    }

    #[test]
    fn pppoe_session_by_ppp_protocol() {
        let p = [0x11, 0, 0, 1, 0, 40, 0x00, 0x21, 0x45];
        assert_eq!(pppoe_session(&p), Ok((Tunnel::Pppoe, Next::Ip(8, Some(4)))));
        let lcp = [0x11, 0, 0, 1, 0, 40, 0xc0, 0x21];
        assert_eq!(pppoe_session(&lcp), Err(Unopened::PppoeOther));
    }
}
