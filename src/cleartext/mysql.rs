//! MySQL/MariaDB: the server speaks first with a greeting (protocol 10) whose capability
//! flags say whether it offers TLS (CLIENT_SSL). A client that wants TLS answers with a
//! short SSLRequest packet (sequence 1, the capabilities with CLIENT_SSL, nothing else)
//! and starts its TLS handshake right behind it: no answer is owed. A greeting without
//! CLIENT_SSL means the server cannot do TLS; a client that requires it closes.

use super::session::Session;
use super::{AppProtocol, StartTls, StartTlsResult, Upgrade};
use crate::model::{Dir, FrameNo};

/// Ports where the server's first bytes are read as MySQL packets.
pub(super) const PORTS: &[u16] = &[3306, 3307];
/// Packet header: 3-byte little-endian payload length, then the sequence id.
const HEADER_LEN: usize = 4;
/// The only handshake protocol version since MySQL 3.21.
const PROTOCOL_10: u8 = 10;
/// CLIENT_SSL in the low 16 capability bits (greeting and client packets alike).
const CLIENT_SSL: u16 = 0x0800;
/// An SSLRequest payload: capabilities (4), max packet size (4), charset (1), 23
/// reserved bytes (MariaDB keeps its extended capabilities in the last 4).
const SSL_REQUEST_PAYLOAD_LEN: usize = 32;
/// Longest server version string worth reading in a greeting.
const VERSION_CAP: usize = 64;

/// Total length of the packet whose first bytes are `unit`, once its header is in.
pub(super) fn packet_len(unit: &[u8]) -> Option<usize> {
    let h = unit.get(..HEADER_LEN)?;
    let payload = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    Some(HEADER_LEN + payload)
}

/// A greeting's capability flags (low 16 bits), when `packet` is one: sequence 0,
/// protocol 10, a NUL-terminated printable version, connection id, 8 bytes of scramble
/// and a filler byte.
pub(super) fn greeting_capabilities(packet: &[u8]) -> Option<u16> {
    let (h, p) = (packet.get(..HEADER_LEN)?, packet.get(HEADER_LEN..)?);
    if h[3] != 0 || p.first() != Some(&PROTOCOL_10) {
        return None;
    }
    let version = &p[1..];
    let nul = version.iter().take(VERSION_CAP).position(|&c| c == 0)?;
    if nul == 0 || !version[..nul].iter().all(|c| c.is_ascii_graphic()) {
        return None;
    }
    // version NUL, connection id (4), scramble part 1 (8), filler (1), capabilities (2).
    let caps_at = 1 + nul + 1 + 4 + 8 + 1;
    let caps = p.get(caps_at..caps_at + 2)?;
    Some(u16::from_le_bytes([caps[0], caps[1]]))
}

/// Whether the first bytes a server sent start a greeting (detection).
pub(super) fn greeting_start(first: &[u8]) -> bool {
    let Some(len) = packet_len(first) else {
        return false;
    };
    // Real greetings are 60..120 bytes; the version must begin with a digit.
    (HEADER_LEN + 30..=HEADER_LEN + 512).contains(&len)
        && first[3] == 0
        && first.get(4) == Some(&PROTOCOL_10)
        && first.get(5).is_some_and(u8::is_ascii_digit)
}

/// Whether the first bytes a client sent start its first packet (sequence 1), the
/// SSLRequest or a handshake response (detection; only with a server greeting or port).
pub(super) fn client_packet_start(first: &[u8]) -> bool {
    packet_len(first).is_some_and(|len| {
        (HEADER_LEN + SSL_REQUEST_PAYLOAD_LEN..=HEADER_LEN + 1024).contains(&len) && first[3] == 1
    })
}

fn is_ssl_request(packet: &[u8]) -> bool {
    packet.len() == HEADER_LEN + SSL_REQUEST_PAYLOAD_LEN
        && packet[3] == 1
        && u16::from_le_bytes([packet[4], packet[5]]) & CLIENT_SSL != 0
}

#[derive(Debug, Default)]
pub(super) struct Mysql {
    /// Frame of a greeting that offered CLIENT_SSL.
    tls_offered_in: Option<FrameNo>,
}

impl Upgrade for Mysql {
    fn client(&mut self, s: &mut Session, packet: &[u8], frame: FrameNo) {
        if is_ssl_request(packet) {
            s.facts.starttls = Some(StartTls {
                protocol: AppProtocol::Mysql,
                command_frame: frame,
                // The offer was the greeting; the request needs no answer.
                response_frame: self.tls_offered_in,
                result: StartTlsResult::Ok,
                response: self
                    .tls_offered_in
                    .map(|_| "greeting offers CLIENT_SSL".to_string()),
            });
            s.client_may_start_tls = true;
            return;
        }
        // A handshake response in cleartext (or anything else): the session stays clear.
        s.ignore(Dir::ToServer);
    }

    fn server(&mut self, s: &mut Session, packet: &[u8], frame: FrameNo) -> bool {
        match greeting_capabilities(packet) {
            Some(caps) if s.facts.starttls.is_none() => {
                if caps & CLIENT_SSL != 0 {
                    self.tls_offered_in = Some(frame);
                } else {
                    s.facts.starttls = Some(StartTls {
                        protocol: AppProtocol::Mysql,
                        command_frame: frame,
                        response_frame: Some(frame),
                        result: StartTlsResult::NotOffered,
                        response: Some("greeting without CLIENT_SSL".to_string()),
                    });
                }
            }
            // Past the greeting, the server's packets are not ours to read.
            _ => s.ignore(Dir::ToClient),
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    /// samples/mysql-ssl.pcap frame 4: MariaDB 10.11 greeting with CLIENT_SSL.
    const GREETING: &str = "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100030000005b6a277e6a77364800feff080200ff81150000000000001d0000004665497c577d327d416b783a006d7973716c5f6e61746976655f70617373776f726400";
    /// samples/mysql-ssl-not-offered.pcap frame 4: the same server started with --skip-ssl.
    const GREETING_NO_SSL: &str = "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b646562313275310003000000315c5e457b5d406400fef7080200ff81150000000000001d0000005b7b786821655d253c3f645e006d7973716c5f6e61746976655f70617373776f726400";
    /// samples/mysql-ssl.pcap frame 6: the client's SSLRequest.
    const SSL_REQUEST: &str =
        "2000000184aabf000000100008000000000000000000000000000000000000001d000000";

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn ssl_request_then_tls() {
        let (g, r) = (hex(GREETING), hex(SSL_REQUEST));
        assert_eq!(
            greeting_capabilities(&g).map(|c| c & CLIENT_SSL),
            Some(CLIENT_SSL)
        );
        assert!(greeting_start(&g) && client_packet_start(&r));
        let script: &[(Dir, &[u8], FrameNo)] = &[(S, &g, 4), (C, &r, 6), (C, CH, 8), (S, SH, 10)];
        let o = check(3306, script);
        assert_eq!(o.switch_at, [Some(r.len()), Some(g.len())]);
        let t = starttls(&o);
        assert_eq!(
            (t.protocol, t.result, t.command_frame, t.response_frame),
            (AppProtocol::Mysql, StartTlsResult::Ok, 6, Some(4))
        );
        assert_eq!(o.facts.via, Some(Via::StartTls(AppProtocol::Mysql)));
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Mysql));
        assert_eq!(o.facts.client_protocol, Some(AppProtocol::Mysql));
    }

    #[test]
    fn greeting_without_client_ssl_is_not_offered() {
        // samples/mysql-ssl-not-offered.pcap frame 4 (capabilities 0xf7fe), then the
        // client closes; a cleartext login after it changes nothing.
        let g = hex(GREETING_NO_SSL);
        assert_eq!(greeting_capabilities(&g), Some(0xf7fe));
        let login = [5, 0, 0, 1, 0x85, 0xa6, 0x3f, 0x20, 0];
        let o = check(
            3306,
            &[
                (S, &g, 4),
                (C, &login, 6),
                (S, &[7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0], 8),
            ],
        );
        let t = starttls(&o);
        assert_eq!(
            (t.result, t.command_frame, t.response_frame),
            (StartTlsResult::NotOffered, 4, Some(4))
        );
        assert_eq!(o.switch_at, [None, None]);
        assert_eq!(o.facts.via, None);
    }

    #[test]
    fn garbage_on_the_mysql_port_stays_cleartext() {
        let big = [0x10, 0xff, 0xff, 0x00, 10, b'5'];
        let o = check(
            3306,
            &[(S, &big, 1), (S, &[0u8; 300], 2), (C, b"hello\r\n", 3)],
        );
        assert_eq!(o.switch_at, [None, None]);
        assert!(o.facts.starttls.is_none());
        assert!(greeting_capabilities(&[4, 0, 0, 0, 10, 0, 0, 0]).is_none());
        assert!(greeting_capabilities(&[]).is_none());
        assert_eq!(packet_len(&[1, 2]), None);
    }
}
