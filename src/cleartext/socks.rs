//! SOCKS tunnels. SOCKS5 (RFC 1928): method offer and choice, an optional
//! username/password exchange (RFC 1929, a cleartext credential), then CONNECT and its
//! reply. SOCKS4/4a: one CONNECT (the 4a form carries a host name) and an 8-byte reply.
//! After a successful reply the tunnel carries whatever the client speaks, TLS here.
//! A refused CONNECT is recorded like an HTTP CONNECT refusal.
//!
//! Each message's length follows from its first bytes ([`message_len`]); the message a
//! direction owes next is kept in its framing. Anything that does not fit the protocol
//! stops the parsing of that direction.

use super::lines::escape_bytes;
use super::session::{Framing, Session};
use super::{ConnectRequest, ProxyProtocol, Upgrade, Via, TEXT_CAP};
use crate::model::{Dir, FrameNo};

pub(super) const VERSION_4: u8 = 4;
pub(super) const VERSION_5: u8 = 5;
const CMD_CONNECT: u8 = 1;
const ADDR_IPV4: u8 = 1;
const ADDR_DOMAIN: u8 = 3;
const ADDR_IPV6: u8 = 4;
const METHOD_USER_PASS: u8 = 2;
const NO_ACCEPTABLE_METHOD: u8 = 0xff;
/// RFC 1929 sub-negotiation version.
const USER_PASS_VERSION: u8 = 1;
/// SOCKS4 reply codes: 90 granted, 91 rejected or failed, 92/93 identd problems.
const SOCKS4_GRANTED: u8 = 90;
const SOCKS4_REPLIES: std::ops::RangeInclusive<u8> = 90..=93;
/// SOCKS5 reply codes 0 (succeeded) to 8 (address type not supported).
const SOCKS5_LAST_REPLY: u8 = 8;
/// Longest SOCKS4 user id or 4a host name accepted (each NUL-terminated).
const SOCKS4_FIELD_CAP: usize = 255;

/// The message a direction owes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SocksMsg {
    /// Client: VER 5, NMETHODS, METHODS.
    Greeting5,
    /// Client: RFC 1929 VER 1, ULEN, UNAME, PLEN, PASSWD.
    UserPass,
    /// Client: VER 5, CMD, RSV 0, ATYP, DST.ADDR, DST.PORT.
    Request5,
    /// Client: VER 4, CMD, DSTPORT, DSTIP, USERID NUL [, HOST NUL for 4a].
    Request4,
    /// Server: VER 5, METHOD.
    MethodChoice,
    /// Server: VER 1, STATUS.
    UserPassStatus,
    /// Server: VER 5, REP, RSV 0, ATYP, BND.ADDR, BND.PORT.
    Reply5,
    /// Server: VN 0, CD, DSTPORT, DSTIP.
    Reply4,
}

/// Bytes of an address of type `atyp` starting at `at` plus the 2-byte port, or Err
/// for an unknown type; None until the domain length byte is in.
fn address_len(unit: &[u8], at: usize) -> Result<Option<usize>, ()> {
    match unit.get(at) {
        None => Ok(None),
        Some(&ADDR_IPV4) => Ok(Some(1 + 4 + 2)),
        Some(&ADDR_IPV6) => Ok(Some(1 + 16 + 2)),
        Some(&ADDR_DOMAIN) => match unit.get(at + 1) {
            None => Ok(None),
            Some(0) => Err(()),
            Some(&n) => Ok(Some(2 + n as usize + 2)),
        },
        Some(_) => Err(()),
    }
}

/// Where the NUL ending the field that starts at `from` is, Err past the cap.
fn nul_end(unit: &[u8], from: usize) -> Result<Option<usize>, ()> {
    let field = unit.get(from..).unwrap_or(&[]);
    match field.iter().position(|&c| c == 0) {
        Some(p) => Ok(Some(from + p + 1)),
        None if field.len() > SOCKS4_FIELD_CAP => Err(()),
        None => Ok(None),
    }
}

/// Total length of the `msg` whose first bytes are `unit`: None while more bytes are
/// needed to know it, Err when the bytes cannot be that message.
pub(super) fn message_len(msg: SocksMsg, unit: &[u8]) -> Result<Option<usize>, ()> {
    let at = |i: usize| unit.get(i).copied();
    let byte_is = |i: usize, ok: &dyn Fn(u8) -> bool| match at(i) {
        Some(b) if !ok(b) => Err(()),
        _ => Ok(()),
    };
    match msg {
        SocksMsg::Greeting5 => {
            byte_is(0, &|b| b == VERSION_5)?;
            byte_is(1, &|n| n >= 1)?;
            Ok(at(1).map(|n| 2 + n as usize))
        }
        SocksMsg::UserPass => {
            byte_is(0, &|b| b == USER_PASS_VERSION)?;
            let Some(ulen) = at(1) else { return Ok(None) };
            let plen_at = 2 + ulen as usize;
            Ok(at(plen_at).map(|plen| plen_at + 1 + plen as usize))
        }
        SocksMsg::Request5 | SocksMsg::Reply5 => {
            byte_is(0, &|b| b == VERSION_5)?;
            if msg == SocksMsg::Request5 {
                byte_is(1, &|cmd| (1..=3).contains(&cmd))?;
            } else {
                byte_is(1, &|rep| rep <= SOCKS5_LAST_REPLY)?;
            }
            byte_is(2, &|rsv| rsv == 0)?;
            Ok(address_len(unit, 3)?.map(|n| 3 + n))
        }
        SocksMsg::Request4 => {
            byte_is(0, &|b| b == VERSION_4)?;
            byte_is(1, &|cmd| cmd == 1 || cmd == 2)?;
            if unit.len() < 8 {
                return Ok(None);
            }
            let Some(user_end) = nul_end(unit, 8)? else {
                return Ok(None);
            };
            // SOCKS4a: DSTIP 0.0.0.x (x != 0) means a host name follows the user id.
            if unit[4..7] == [0, 0, 0] && unit[7] != 0 {
                return nul_end(unit, user_end);
            }
            Ok(Some(user_end))
        }
        SocksMsg::MethodChoice => {
            byte_is(0, &|b| b == VERSION_5)?;
            Ok(Some(2))
        }
        SocksMsg::UserPassStatus => {
            byte_is(0, &|b| b == USER_PASS_VERSION)?;
            Ok(Some(2))
        }
        SocksMsg::Reply4 => {
            byte_is(0, &|b| b == 0)?;
            byte_is(1, &|cd| SOCKS4_REPLIES.contains(&cd))?;
            Ok(Some(8))
        }
    }
}

/// A client's first bytes fit a SOCKS greeting or SOCKS4 request (detection).
pub(super) fn client_start(first: &[u8]) -> bool {
    let msg = match first.first() {
        Some(&VERSION_5) => SocksMsg::Greeting5,
        Some(&VERSION_4) => SocksMsg::Request4,
        _ => return false,
    };
    first.len() >= 2 && message_len(msg, first).is_ok()
}

/// A server answer to a SOCKS client, which no banner check would recognise.
pub(super) fn answer_seen(client_head: &[u8], server_head: &[u8]) -> bool {
    client_start(client_head)
        && match client_head[0] {
            VERSION_5 => message_len(SocksMsg::MethodChoice, server_head).is_ok(),
            _ => message_len(SocksMsg::Reply4, server_head).is_ok(),
        }
}

fn socks5_reply_text(rep: u8) -> &'static str {
    match rep {
        0 => "succeeded",
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        _ => "address type not supported",
    }
}

fn socks4_reply_text(cd: u8) -> &'static str {
    match cd {
        SOCKS4_GRANTED => "request granted",
        91 => "request rejected or failed",
        92 => "rejected: no identd on the client",
        _ => "rejected: identd user id mismatch",
    }
}

/// `host:port` of a SOCKS5 address (ATYP at `unit[at]`), escaped.
fn socks5_target(unit: &[u8], at: usize) -> String {
    let port = |p: usize| {
        unit.get(p..p + 2)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    };
    match unit.get(at) {
        Some(&ADDR_IPV4) if unit.len() >= at + 7 => {
            let a = &unit[at + 1..at + 5];
            format!("{}.{}.{}.{}:{}", a[0], a[1], a[2], a[3], port(at + 5))
        }
        Some(&ADDR_IPV6) if unit.len() >= at + 19 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&unit[at + 1..at + 17]);
            format!("[{}]:{}", std::net::Ipv6Addr::from(a), port(at + 17))
        }
        Some(&ADDR_DOMAIN) => {
            let n = unit.get(at + 1).copied().unwrap_or(0) as usize;
            let name = unit.get(at + 2..at + 2 + n).unwrap_or(&[]);
            format!("{}:{}", escape_bytes(name, TEXT_CAP), port(at + 2 + n))
        }
        _ => String::new(),
    }
}

#[derive(Debug)]
pub(super) struct Socks;

impl Socks {
    fn expect(s: &mut Session, dir: Dir, msg: SocksMsg) {
        s.dir(dir).framing = Some(Framing::Socks(msg));
    }

    fn request(s: &mut Session, proxy: ProxyProtocol, target: String, frame: FrameNo) {
        s.facts.connect = Some(ConnectRequest {
            proxy,
            target,
            request_frame: frame,
            status: None,
            response_frame: None,
            reason: None,
        });
        s.client_may_start_tls = true;
    }

    /// Records the reply to CONNECT; true when the tunnel is open.
    fn reply(s: &mut Session, code: u8, granted: bool, reason: &str, frame: FrameNo) -> bool {
        let Some(c) = &mut s.facts.connect else {
            s.ignore(Dir::ToClient);
            return false;
        };
        c.status = Some(code.into());
        c.response_frame = Some(frame);
        c.reason = Some(reason.to_string());
        if granted {
            s.facts.via = Some(Via::Socks);
        } else {
            s.client_may_start_tls = false;
            s.ignore(Dir::ToClient);
            s.ignore(Dir::ToServer);
        }
        granted
    }
}

impl Upgrade for Socks {
    fn client(&mut self, s: &mut Session, unit: &[u8], frame: FrameNo) {
        let Some(Framing::Socks(msg)) = s.dirs[Dir::ToServer.index()].framing else {
            return;
        };
        match msg {
            SocksMsg::Greeting5 => {
                Self::expect(s, Dir::ToServer, SocksMsg::Request5);
                Self::expect(s, Dir::ToClient, SocksMsg::MethodChoice);
            }
            SocksMsg::UserPass => {
                // Keep VER and ULEN: the user name and password never reach the evidence.
                s.credential("SOCKS5 username/password", frame, Dir::ToServer, 1);
                Self::expect(s, Dir::ToServer, SocksMsg::Request5);
            }
            SocksMsg::Request5 => {
                if unit[1] != CMD_CONNECT {
                    // BIND and UDP ASSOCIATE carry no TLS of this connection.
                    s.ignore(Dir::ToServer);
                    s.ignore(Dir::ToClient);
                    return;
                }
                Self::request(s, ProxyProtocol::Socks5, socks5_target(unit, 3), frame);
                Self::expect(s, Dir::ToClient, SocksMsg::Reply5);
            }
            SocksMsg::Request4 => {
                if unit[1] != CMD_CONNECT {
                    s.ignore(Dir::ToServer);
                    s.ignore(Dir::ToClient);
                    return;
                }
                let port = u16::from_be_bytes([unit[2], unit[3]]);
                let ip = &unit[4..8];
                let user_end = 8 + unit[8..].iter().position(|&c| c == 0).unwrap_or(0) + 1;
                let host = if ip[..3] == [0, 0, 0] && ip[3] != 0 {
                    let name = unit.get(user_end..unit.len() - 1).unwrap_or(&[]);
                    escape_bytes(name, TEXT_CAP)
                } else {
                    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
                };
                Self::request(s, ProxyProtocol::Socks4, format!("{host}:{port}"), frame);
                Self::expect(s, Dir::ToClient, SocksMsg::Reply4);
            }
            _ => s.ignore(Dir::ToServer),
        }
    }

    fn server(&mut self, s: &mut Session, unit: &[u8], frame: FrameNo) -> bool {
        let Some(Framing::Socks(msg)) = s.dirs[Dir::ToClient.index()].framing else {
            return false;
        };
        match msg {
            SocksMsg::MethodChoice => match unit[1] {
                METHOD_USER_PASS => {
                    Self::expect(s, Dir::ToServer, SocksMsg::UserPass);
                    Self::expect(s, Dir::ToClient, SocksMsg::UserPassStatus);
                }
                NO_ACCEPTABLE_METHOD => {
                    s.ignore(Dir::ToServer);
                    s.ignore(Dir::ToClient);
                }
                _ => Self::expect(s, Dir::ToClient, SocksMsg::Reply5),
            },
            SocksMsg::UserPassStatus if unit[1] == 0 => {
                Self::expect(s, Dir::ToClient, SocksMsg::Reply5);
            }
            SocksMsg::Reply5 => {
                let rep = unit[1];
                return Self::reply(s, rep, rep == 0, socks5_reply_text(rep), frame);
            }
            SocksMsg::Reply4 => {
                let cd = unit[1];
                return Self::reply(s, cd, cd == SOCKS4_GRANTED, socks4_reply_text(cd), frame);
            }
            _ => {
                s.ignore(Dir::ToServer);
                s.ignore(Dir::ToClient);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    // Client and server messages of samples/socks5-tls.pcap (frames 4, 6, 8, 9),
    // socks5-refused.pcap (frame 8, 9) and socks4a-tls.pcap (frames 4, 6).
    const GREETING: &[u8] = &[5, 2, 0, 1];
    const CHOICE: &[u8] = &[5, 0];
    const REQUEST_DOMAIN: &[u8] = b"\x05\x01\x00\x03\x09localhost\x11\x76";
    const REPLY_OK: &[u8] = &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    const REQUEST_IPV4: &[u8] = &[5, 1, 0, 1, 127, 0, 0, 1, 0x11, 0x78];
    const REPLY_REFUSED: &[u8] = &[5, 5, 0, 1, 0, 0, 0, 0, 0, 0];
    const REQUEST_4A: &[u8] = b"\x04\x01\x11\x77\x00\x00\x00\x01\x00localhost\x00";
    const REPLY_4_GRANTED: &[u8] = &[0, 0x5a, 0x11, 0x77, 0, 0, 0, 1];

    #[test]
    fn socks5_connect_then_tls() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, GREETING, 4),
            (S, CHOICE, 6),
            (C, REQUEST_DOMAIN, 8),
            (S, REPLY_OK, 9),
            (C, CH, 10),
            (S, SH, 11),
        ];
        let o = check(1080, script);
        assert_eq!(o.switch_at, [Some(20), Some(12)]);
        let c = o.facts.connect.as_ref().unwrap();
        assert_eq!(
            (
                c.proxy,
                c.target.as_str(),
                c.status,
                c.request_frame,
                c.response_frame
            ),
            (ProxyProtocol::Socks5, "localhost:4470", Some(0), 8, Some(9))
        );
        assert_eq!(o.facts.via, Some(Via::Socks));
        assert_eq!(o.facts.client_protocol, Some(AppProtocol::Socks));
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Socks));
        // Content detection: the same bytes on another port.
        assert_eq!(check(40000, script).switch_at, [Some(20), Some(12)]);
    }

    #[test]
    fn socks5_refused() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, GREETING, 4),
            (S, CHOICE, 6),
            (C, REQUEST_IPV4, 8),
            (S, REPLY_REFUSED, 9),
        ];
        let o = check(1082, script);
        assert_eq!(o.switch_at, [None, None]);
        let c = o.facts.connect.as_ref().unwrap();
        assert_eq!(
            (c.target.as_str(), c.status, c.reason.as_deref()),
            ("127.0.0.1:4472", Some(5), Some("connection refused"))
        );
        assert_eq!(o.facts.via, None);
    }

    #[test]
    fn socks4a_connect_then_tls() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, REQUEST_4A, 4),
            (S, REPLY_4_GRANTED, 6),
            (C, CH, 8),
            (S, SH, 9),
        ];
        let o = check(1081, script);
        assert_eq!(o.switch_at, [Some(REQUEST_4A.len()), Some(8)]);
        let c = o.facts.connect.as_ref().unwrap();
        assert_eq!(
            (c.proxy, c.target.as_str(), c.status),
            (ProxyProtocol::Socks4, "localhost:4471", Some(90))
        );
        assert_eq!(o.facts.via, Some(Via::Socks));
    }

    #[test]
    fn socks5_password_is_a_credential_never_evidence() {
        let auth = b"\x01\x03bob\x06hunter";
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, &[5, 1, 2], 1),
            (S, &[5, 2], 2),
            (C, auth, 3),
            (S, &[1, 0], 4),
            (C, REQUEST_IPV4, 5),
            (S, REPLY_OK, 6),
            (C, CH, 7),
        ];
        let o = check(1080, script);
        assert_eq!(
            mechs(&o),
            vec![(AppProtocol::Socks, "SOCKS5 username/password", 3)]
        );
        assert_no_secret(&o, &["bob", "hunter"]);
        assert_eq!(o.switch_at[0], Some(3 + auth.len() + REQUEST_IPV4.len()));
    }

    #[test]
    fn not_socks_stays_cleartext() {
        // DCE/RPC starts with 05 00: zero methods is no SOCKS greeting.
        let o = check(
            135,
            &[(C, &[5, 0, 0x0b, 3, 0x10, 0, 0, 0], 1), (S, &[5, 0], 2)],
        );
        assert!(o.facts.connect.is_none());
        assert_eq!(o.facts.client_protocol, Some(AppProtocol::Unknown));
        // A SOCKS4 user id that never ends is capped.
        let mut long = vec![4, 1, 0, 80, 1, 2, 3, 4];
        long.extend(std::iter::repeat_n(b'a', 600));
        let o = check(1080, &[(C, &long, 1)]);
        assert!(o.facts.connect.is_none());
        assert_eq!(message_len(SocksMsg::Reply5, &[5, 0, 0, 9]), Err(()));
        assert_eq!(message_len(SocksMsg::Request5, &[5, 1, 0, 3, 0]), Err(()));
        assert_eq!(message_len(SocksMsg::Greeting5, &[5]), Ok(None));
    }
}
