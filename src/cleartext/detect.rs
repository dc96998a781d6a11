//! Which protocol a direction speaks, from its first bytes: TLS (or its SSLv2
//! predecessor), or one of the cleartext protocols. The port only breaks ties.

use super::lines::{first_line, is_verb, reply_code, starts_with_ic, tokens};
use super::{ftp, imap, irc, ldap, mysql, postgres, rdp, socks, AppProtocol};
use crate::model::Dir;

/// Highest TLS record length: 2^14 of plaintext plus the largest expansion TLS allows.
const TLS_MAX_RECORD_LEN: u16 = 16384 + 2048;
/// TLS record content types ChangeCipherSpec (20) through Heartbeat (24).
const TLS_CONTENT_TYPES: std::ops::RangeInclusive<u8> = 0x14..=0x18;
/// Pre-standard TLS 1.3 drafts used major version 0x7f.
const TLS13_DRAFT_MAJOR: u8 = 0x7f;
/// SSLv2 message types.
const SSL2_CLIENT_HELLO: u8 = 1;
const SSL2_SERVER_HELLO: u8 = 4;
/// SSLv2 certificate type X.509.
const SSL2_X509_CERTIFICATE: u8 = 1;

/// True when `first` plausibly starts a TLS record or an SSLv2-format
/// ClientHello. Needs at least 3 bytes; looks at no more than 5.
pub fn looks_like_tls(first: &[u8]) -> bool {
    first.len() >= 3 && tls_prefix_plausible(first)
}

/// Like [`looks_like_tls`] but also accepts 1 or 2 bytes that could begin a
/// record. Only used at positions where cleartext would be ASCII text, where
/// a control byte 0x14..=0x18 or a byte >= 0x80 cannot start a line anyway.
fn tls_prefix_plausible(b: &[u8]) -> bool {
    // Zero-length records are legal TLS framing (empty application data; empty handshake
    // fragments from broken or evasive stacks): judge what follows them, or the headers
    // alone when nothing does. Bounded, since each step consumes five bytes.
    let mut b = b;
    let mut empty = 0;
    while empty < MAX_EMPTY_RECORDS_SKIPPED && empty_record(b) {
        b = &b[5..];
        empty += 1;
    }
    if empty > 0 && b.is_empty() {
        return true;
    }
    let Some(&b0) = b.first() else {
        return false;
    };
    if TLS_CONTENT_TYPES.contains(&b0) {
        if let Some(&major) = b.get(1) {
            if major != 3 && major != TLS13_DRAFT_MAJOR {
                return false;
            }
            if let Some(&minor) = b.get(2) {
                // 3.4 is TLS 1.3; nothing newer exists.
                if major == 3 && minor > 4 {
                    return false;
                }
            }
        }
        if b.len() >= 5 {
            let len = u16::from_be_bytes([b[3], b[4]]);
            if len == 0 || len > TLS_MAX_RECORD_LEN {
                return false;
            }
        }
        return true;
    }
    if b0 & 0x80 != 0 {
        // SSLv2 record header: 2-byte length, then msg type 1 (ClientHello).
        let len = u16::from_be_bytes([b0 & 0x7f, b.get(1).copied().unwrap_or(0xff)]);
        if b.len() >= 2 && len < 9 {
            return false;
        }
        if let Some(&t) = b.get(2) {
            if t != SSL2_CLIENT_HELLO {
                return false;
            }
        }
        if b.len() >= 5 {
            // SSLv2 (0x0002) up to TLS 1.2 (0x0303) could be offered in this format.
            let v = u16::from_be_bytes([b[3], b[4]]);
            if !(0x0002..=0x0303).contains(&v) {
                return false;
            }
        }
        return true;
    }
    false
}

/// Empty records skipped before the judgement: more than this many in a row is no TLS stack.
const MAX_EMPTY_RECORDS_SKIPPED: usize = 64;

/// A whole 5-byte TLS record header with a zero length.
fn empty_record(b: &[u8]) -> bool {
    match b {
        [t, 3, minor, 0, 0, ..] => TLS_CONTENT_TYPES.contains(t) && *minor <= 4,
        _ => false,
    }
}

/// An SSLv2 SERVER-HELLO: 2-byte header with the high bit set, message type 4,
/// session-id-hit 0/1, certificate type 1 (X.509), then version 0x0002 (or an SSLv3/TLS
/// version from servers that answer an SSLv2-format hello that way). Only a server sends it.
/// Like [`tls_prefix_plausible`], a prefix of 1 to 6 bytes is judged on what it has.
fn sslv2_server_hello_plausible(b: &[u8]) -> bool {
    let Some(&b0) = b.first() else {
        return false;
    };
    let at = |i: usize| b.get(i).copied();
    b0 & 0x80 != 0
        && at(1).is_none_or(|lo| u16::from_be_bytes([b0 & 0x7f, lo]) >= 11)
        && at(2).is_none_or(|t| t == SSL2_SERVER_HELLO)
        && at(3).is_none_or(|hit| hit <= 1)
        && at(4).is_none_or(|cert_type| cert_type == SSL2_X509_CERTIFICATE)
        && at(5).is_none_or(|maj| maj == 0 || maj == 3)
        && match (at(5), at(6)) {
            (Some(0), Some(min)) => min == 2,
            (Some(3), Some(min)) => min <= 3,
            _ => true,
        }
}

/// Where a direction's bytes can switch to TLS: a TLS record or SSLv2 hello, plus an
/// SSLv2 SERVER-HELLO from the server.
pub(super) fn tls_start_plausible(dir: Dir, b: &[u8]) -> bool {
    tls_prefix_plausible(b) || (dir == Dir::ToClient && sslv2_server_hello_plausible(b))
}

/// Protocol spoken by a client, from its first bytes; the port only breaks ties.
pub fn detect_client_protocol(first: &[u8], server_port: u16) -> AppProtocol {
    resolve(client_candidates(first), None, server_port)
}

/// Protocol of a server's greeting or first answer.
pub fn detect_server_banner(first: &[u8]) -> AppProtocol {
    server_banner(first, 0)
}

pub(super) fn port_protocol(port: u16) -> AppProtocol {
    match port {
        80 | 3128 | 8000 | 8080 | 8008 | 8888 => AppProtocol::Http,
        25 | 465 | 587 | 2525 => AppProtocol::Smtp,
        143 | 993 => AppProtocol::Imap,
        110 | 995 => AppProtocol::Pop3,
        21 | 990 | 2121 => AppProtocol::Ftp,
        22 => AppProtocol::Ssh,
        5222 | 5223 | 5269 => AppProtocol::Xmpp,
        389 | 636 | 3268 => AppProtocol::Ldap,
        5432 => AppProtocol::Postgres,
        3306 | 3307 => AppProtocol::Mysql,
        1080 => AppProtocol::Socks,
        3389 => AppProtocol::Rdp,
        194 | 6660..=6669 | 6697 | 7000 => AppProtocol::Irc,
        _ => AppProtocol::Unknown,
    }
}

/// Picks among candidates (best first): the server's banner wins, then the port.
pub(super) fn resolve(
    cands: &[AppProtocol],
    server: Option<AppProtocol>,
    port: u16,
) -> AppProtocol {
    if let Some(s) = server {
        if cands.contains(&s) {
            return s;
        }
    }
    let by_port = port_protocol(port);
    if cands.contains(&by_port) {
        return by_port;
    }
    cands.first().copied().unwrap_or(AppProtocol::Unknown)
}

const HTTP_METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"TRACE ",
    b"CONNECT ",
    b"PROPFIND ",
    b"PRI * HTTP/2",
];

/// The protocols a client's first bytes fit, best first.
pub(super) fn client_candidates(first: &[u8]) -> &'static [AppProtocol] {
    use AppProtocol::*;
    if first.is_empty() {
        return &[];
    }
    if first[0] == ldap::SEQUENCE && ldap::message_start(first) {
        return &[Ldap];
    }
    if postgres::untyped_message_start(first) {
        return &[Postgres];
    }
    // Never text: a line protocol cannot start with 0x04 or 0x05.
    if rdp::connection_request_start(first) {
        return &[Rdp];
    }
    if socks::client_start(first) {
        return &[Socks];
    }
    // Only taken when the server's greeting or the port says MySQL (see `resolve`).
    if mysql::client_packet_start(first) {
        return &[Unknown, Mysql];
    }
    if first.starts_with(b"<?xml") || first.starts_with(b"<stream:stream") {
        return &[Xmpp];
    }
    let line = first_line(first);
    if HTTP_METHODS.iter().any(|m| line.starts_with(m)) {
        return &[Http];
    }
    if line.starts_with(b"SSH-") {
        return &[Ssh];
    }
    if is_verb(line, b"EHLO") || is_verb(line, b"HELO") || is_verb(line, b"LHLO") {
        return &[Smtp];
    }
    // SMTP always says EHLO first, so a leading STARTTLS is IRC's.
    if is_verb(line, b"STARTTLS") {
        return &[Irc, Smtp];
    }
    if is_verb(line, b"CAPA") || is_verb(line, b"STLS") || is_verb(line, b"APOP") {
        return &[Pop3];
    }
    if is_verb(line, b"AUTH") {
        if ftp::is_tls_mechanism(tokens(line).nth(1).unwrap_or(b"")) {
            return &[Ftp];
        }
        return &[Pop3, Smtp];
    }
    if ["FEAT", "SYST", "PBSZ", "OPTS"]
        .iter()
        .any(|v| is_verb(line, v.as_bytes()))
    {
        return &[Ftp];
    }
    if is_verb(line, b"NICK") || starts_with_ic(line, b"CAP LS") || starts_with_ic(line, b"CAP REQ")
    {
        return &[Irc];
    }
    if is_verb(line, b"USER") {
        // IRC: USER <user> <mode> <unused> :<realname>
        if tokens(line).count() >= 5 && line.windows(2).any(|w| w == b" :") {
            return &[Irc];
        }
        return &[Pop3, Ftp];
    }
    if is_verb(line, b"PASS") {
        return &[Pop3, Ftp, Irc];
    }
    if is_verb(line, b"QUIT") || is_verb(line, b"NOOP") {
        return &[Smtp, Pop3, Ftp];
    }
    if imap::command(line).is_some() {
        return &[Imap];
    }
    &[Unknown]
}

pub(super) fn server_banner(first: &[u8], port: u16) -> AppProtocol {
    use AppProtocol::*;
    if first.is_empty() {
        return Unknown;
    }
    if first[0] == ldap::SEQUENCE && ldap::message_start(first) {
        return Ldap;
    }
    if first.starts_with(b"<?xml") || first.starts_with(b"<stream:") {
        return Xmpp;
    }
    if mysql::greeting_start(first) {
        return Mysql;
    }
    let line = first_line(first);
    if line.starts_with(b"HTTP/1.") || line.starts_with(b"HTTP/2") {
        return Http;
    }
    if line.starts_with(b"SSH-") {
        return Ssh;
    }
    if line.starts_with(b"* OK") || line.starts_with(b"* PREAUTH") || line.starts_with(b"* BYE") {
        return Imap;
    }
    if line.starts_with(b"+OK") || line.starts_with(b"-ERR") {
        return Pop3;
    }
    if reply_code(line).is_some() {
        let has = |needle: &[u8]| {
            line.windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle))
        };
        if has(b"SMTP") || has(b"Postfix") || has(b"Exim") || has(b"Sendmail") {
            return Smtp;
        }
        if has(b"FTP") || has(b"FileZilla") {
            return Ftp;
        }
        return match port_protocol(port) {
            Ftp => Ftp,
            _ => Smtp,
        };
    }
    if line.starts_with(b"NOTICE AUTH") || (line.starts_with(b":") && irc::numeric_or_notice(line))
    {
        return Irc;
    }
    Unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::postgres::SSL_REQUEST;
    use crate::cleartext::tests::{check, ALERT, C, CH, S};
    use crate::cleartext::{escape_bytes, Via};

    #[test]
    fn tls_detection() {
        assert!(looks_like_tls(&[0x16, 0x03, 0x01]));
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(looks_like_tls(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]));
        assert!(looks_like_tls(&[0x17, 0x03, 0x04, 0x00, 0x10]));
        assert!(looks_like_tls(&[0x16, 0x7f, 0x12, 0x00, 0x10])); // draft version
        assert!(looks_like_tls(&[0x16, 0x03, 0x00, 0x00, 0x70])); // SSLv3 record
        assert!(looks_like_tls(CH));
        // SSLv2-format ClientHello offering TLS 1.0.
        assert!(looks_like_tls(&[0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15]));
        assert!(looks_like_tls(&[0x80, 0x2e, 0x01, 0x00, 0x02]));
        assert!(!looks_like_tls(&[0x80, 0x2e, 0x02, 0x03, 0x01])); // not ClientHello
        assert!(!looks_like_tls(&[0x80, 0x2e, 0x01, 0x04, 0x00]));
        assert!(!looks_like_tls(&[0x16, 0x03])); // too short to decide
        assert!(!looks_like_tls(b""));
        assert!(!looks_like_tls(&[0x16, 0x03, 0x05]));
        assert!(!looks_like_tls(&[0x16, 0x02, 0x01]));
        // An empty record is TLS framing: what follows it decides, or nothing does.
        assert!(looks_like_tls(&[0x16, 0x03, 0x01, 0x00, 0x00]));
        assert!(looks_like_tls(
            &[[0x17, 3, 3, 0, 0].as_slice(), CH].concat()
        ));
        assert!(looks_like_tls(&[0x16, 3, 1, 0, 0].repeat(64)));
        assert!(!looks_like_tls(
            &[&[0x16, 3, 1, 0, 0][..], b"GET / HTTP/1.1\r\n"].concat()
        ));
        assert!(!looks_like_tls(&[0x16, 0x03, 0x07, 0x00, 0x00])); // no such version
                                                                   // 65 empty records, then text: the 65th is judged as a record and fails.
        assert!(!looks_like_tls(
            &[&[0x16, 3, 1, 0, 0].repeat(65)[..], b"GET /"].concat()
        ));
        assert!(!looks_like_tls(&[0x16, 0x03, 0x01, 0xff, 0xff])); // too long
        assert!(!looks_like_tls(&[0x19, 0x03, 0x01, 0x00, 0x10]));
        assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_tls(b"SSH-2.0-x"));
        assert!(!looks_like_tls(&SSL_REQUEST));
        assert!(!looks_like_tls(&[0x30, 0x1d, 0x02, 0x01, 0x01]));
        assert!(!looks_like_tls("é".as_bytes()));
    }

    #[test]
    fn client_protocols() {
        use AppProtocol::*;
        let cases: &[(&[u8], u16, AppProtocol)] = &[
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 443, Http),
            (b"POST /a HTTP/1.0\r\n", 0, Http),
            (b"CONNECT example.com:443 HTTP/1.1\r\n", 8080, Http),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 443, Http),
            (b"SSH-2.0-OpenSSH_9.6\r\n", 443, Ssh),
            (b"EHLO client.example\r\n", 465, Smtp),
            (b"HELO x\r\n", 0, Smtp),
            (b". CAPABILITY\r\n", 993, Imap),
            (b"a1 LOGIN bob secret\r\n", 0, Imap),
            (b"A001 STARTTLS\r\n", 0, Imap),
            (b"CAPA\r\n", 995, Pop3),
            (b"STLS\r\n", 0, Pop3),
            (b"USER bob\r\n", 110, Pop3),
            (b"USER bob\r\n", 21, Ftp),
            (b"USER bob\r\n", 0, Pop3),
            (b"PASS x\r\n", 6667, Irc),
            (b"AUTH TLS\r\n", 0, Ftp),
            (b"AUTH SSL\r\n", 990, Ftp),
            (b"FEAT\r\n", 0, Ftp),
            (b"<?xml version='1.0'?><stream:stream>", 5223, Xmpp),
            (b"<stream:stream xmlns='jabber:client'>", 0, Xmpp),
            (&[0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07], 636, Ldap),
            (&SSL_REQUEST, 0, Postgres),
            (&[0, 0, 0, 0x29, 0, 3, 0, 0, b'u'], 0, Postgres),
            (b"NICK bob\r\nUSER bob 0 * :Bob\r\n", 6697, Irc),
            (b"CAP LS 302\r\n", 0, Irc),
            (b"USER bob 0 * :Bob B\r\n", 0, Irc),
            (b"STARTTLS\r\n", 0, Irc),
            (b"STARTTLS\r\n", 25, Smtp),
            (CH, 443, Unknown),
            (b"hello\r\n", 443, Unknown),
            (b"", 443, Unknown),
            (&[0xff; 10], 0, Unknown),
        ];
        for (bytes, port, want) in cases {
            assert_eq!(
                detect_client_protocol(bytes, *port),
                *want,
                "{}",
                escape_bytes(bytes, 64)
            );
        }
    }

    #[test]
    fn server_banners() {
        use AppProtocol::*;
        let cases: &[(&[u8], AppProtocol)] = &[
            (b"HTTP/1.1 400 Bad Request\r\n", Http),
            (b"HTTP/1.0 200 OK\r\n", Http),
            (b"220 mx.example ESMTP Postfix\r\n", Smtp),
            (b"220-mx.example ESMTP\r\n220 go\r\n", Smtp),
            (b"220 poczta.example\r\n", Smtp),
            (b"220 (vsFTPd 3.0.5)\r\n", Ftp),
            (b"220 ProFTPD Server ready\r\n", Ftp),
            (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", Imap),
            (b"+OK POP3 ready\r\n", Pop3),
            (b"SSH-2.0-OpenSSH_8.9\r\n", Ssh),
            (b"<?xml version='1.0'?>", Xmpp),
            (b":irc.example NOTICE * :*** Looking up\r\n", Irc),
            (b":irc.example 670 :go ahead\r\n", Irc),
            (&[0x30, 0x0c, 0x02, 0x01, 0x01, 0x78], Ldap),
            (ALERT, Unknown),
            (b"S", Unknown),
            (b"", Unknown),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                detect_server_banner(bytes),
                *want,
                "{}",
                escape_bytes(bytes, 64)
            );
        }
        assert_eq!(server_banner(b"220 Welcome\r\n", 21), AppProtocol::Ftp);
        assert_eq!(server_banner(b"220 Welcome\r\n", 25), AppProtocol::Smtp);
        assert_eq!(AppProtocol::Postgres.as_str(), "postgres");
        assert_eq!(Via::HttpConnect.as_str(), "connect_proxy");
        assert_eq!(Via::StartTls(AppProtocol::Smtp).as_str(), "starttls");
    }

    #[test]
    fn sslv2_server_hello_is_tls() {
        // zeek/sslv2-clienthello.pcap: SSLv2 CLIENT-HELLO answered by an SSLv2 SERVER-HELLO
        // (83 b4 04 00 01 00 02 ...), which is TLS's predecessor, not a plaintext banner.
        let ch = [0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15];
        let sh = [
            0x83, 0xb4, 0x04, 0x00, 0x01, 0x00, 0x02, 0x03, 0x87, 0x00, 0x12,
        ];
        let o = check(443, &[(C, &ch, 1), (S, &sh, 2)]);
        assert_eq!(o.switch_at, [Some(0), Some(0)]);
        assert!(!sslv2_server_hello_plausible(&ch));
        // The same bytes from a client are not a ClientHello.
        assert!(!looks_like_tls(&sh));
        // A binary server answer with the high bit set but another message type stays cleartext.
        assert!(!sslv2_server_hello_plausible(&[
            0x83, 0xb4, 0x05, 0x00, 0x01, 0x00, 0x02
        ]));
        assert!(!sslv2_server_hello_plausible(&[
            0x83, 0xb4, 0x04, 0x00, 0x07, 0x00, 0x02
        ]));
    }
}
