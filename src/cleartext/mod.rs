//! Cleartext phase of a TCP connection: what was spoken before TLS started
//! (or instead of TLS). Detects the plaintext protocol on both sides, follows
//! STARTTLS-style upgrades and HTTP CONNECT tunnels to find the exact byte
//! where TLS begins, and notes credentials sent in the clear (never the secret).
//!
//! Memory is bounded: each direction keeps at most [`HEAD_LEN`] bytes of
//! evidence and one partial protocol unit of at most [`UNIT_CAP`] bytes, and
//! parsing stops after [`PARSE_BUDGET`] bytes when nothing is pending.

use serde::{Serialize, Serializer};

use crate::model::{Dir, FrameNo, TimestampUs};

/// Bytes kept for the `first_bytes` evidence.
const HEAD_LEN: usize = 64;
/// Largest partial line / XML element / BER message buffered per direction.
const UNIT_CAP: usize = 4096;
/// Cleartext bytes per direction worth parsing when no upgrade is pending:
/// upgrades and logins happen early, bulk plaintext afterwards is not ours.
const PARSE_BUDGET: usize = 64 * 1024;
/// Longest escaped response line / reason phrase / target kept.
const TEXT_CAP: usize = 128;

const LDAP_STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
const PG_GSSENC_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];

// ---------------------------------------------------------------------------
// Public types

/// Application protocol spoken in cleartext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppProtocol {
    Http,
    Smtp,
    Imap,
    Pop3,
    Ftp,
    Ssh,
    Xmpp,
    Ldap,
    Postgres,
    Irc,
    Unknown,
}

impl AppProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            AppProtocol::Http => "http",
            AppProtocol::Smtp => "smtp",
            AppProtocol::Imap => "imap",
            AppProtocol::Pop3 => "pop3",
            AppProtocol::Ftp => "ftp",
            AppProtocol::Ssh => "ssh",
            AppProtocol::Xmpp => "xmpp",
            AppProtocol::Ldap => "ldap",
            AppProtocol::Postgres => "postgres",
            AppProtocol::Irc => "irc",
            AppProtocol::Unknown => "unknown",
        }
    }
}

/// How TLS was reached when it did not start on the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    StartTls(AppProtocol),
    HttpConnect,
}

impl Via {
    /// The `via` value of the output contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::StartTls(_) => "starttls",
            Via::HttpConnect => "connect_proxy",
        }
    }
}

impl Serialize for Via {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartTlsResult {
    Ok,
    Refused,
    /// No answer seen (yet); TLS may still have followed on a one-sided capture.
    Pending,
}

impl StartTlsResult {
    pub fn as_str(self) -> &'static str {
        match self {
            StartTlsResult::Ok => "ok",
            StartTlsResult::Refused => "refused",
            StartTlsResult::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartTls {
    pub protocol: AppProtocol,
    pub command_frame: FrameNo,
    pub response_frame: Option<FrameNo>,
    pub result: StartTlsResult,
    /// Escaped first line of the server's answer.
    pub response: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectRequest {
    pub target: String,
    pub request_frame: FrameNo,
    pub status: Option<u16>,
    pub response_frame: Option<FrameNo>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credential {
    pub protocol: AppProtocol,
    /// Only ever built from fixed strings, so no client byte can leak into it.
    pub mechanism: String,
    pub frame: FrameNo,
    pub dir: Dir,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PreambleFacts {
    pub client_protocol: Option<AppProtocol>,
    pub server_protocol: Option<AppProtocol>,
    pub client_first_bytes: Option<(String, FrameNo)>,
    pub server_first_bytes: Option<(String, FrameNo)>,
    pub starttls: Option<StartTls>,
    pub connect: Option<ConnectRequest>,
    pub credentials: Vec<Credential>,
    pub via: Option<Via>,
}

/// Result of [`Preamble::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feed {
    /// Bytes of `data` that were cleartext (all of them unless `tls_starts`).
    pub consumed: usize,
    /// `data[consumed..]` and everything after it is TLS.
    pub tls_starts: bool,
}

// ---------------------------------------------------------------------------
// Detection

/// True when `first` plausibly starts a TLS record or an SSLv2-format
/// ClientHello. Needs at least 3 bytes; looks at no more than 5.
pub fn looks_like_tls(first: &[u8]) -> bool {
    first.len() >= 3 && tls_prefix_plausible(first)
}

/// Like [`looks_like_tls`] but also accepts 1 or 2 bytes that could begin a
/// record. Only used at positions where cleartext would be ASCII text, where
/// a control byte 0x14..=0x18 or a byte >= 0x80 cannot start a line anyway.
fn tls_prefix_plausible(b: &[u8]) -> bool {
    let Some(&b0) = b.first() else {
        return false;
    };
    if (0x14..=0x18).contains(&b0) {
        if let Some(&major) = b.get(1) {
            if major != 3 && major != 0x7f {
                return false;
            }
            if let Some(&minor) = b.get(2) {
                if major == 3 && minor > 4 {
                    return false;
                }
            }
        }
        if b.len() >= 5 {
            let len = u16::from_be_bytes([b[3], b[4]]);
            // 2^14 plus the largest expansion TLS allows.
            if len == 0 || len > 16384 + 2048 {
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
            if t != 1 {
                return false;
            }
        }
        if b.len() >= 5 {
            let v = u16::from_be_bytes([b[3], b[4]]);
            if !(0x0002..=0x0303).contains(&v) {
                return false;
            }
        }
        return true;
    }
    false
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
        && at(2).is_none_or(|t| t == 4)
        && at(3).is_none_or(|hit| hit <= 1)
        && at(4).is_none_or(|cert_type| cert_type == 1)
        && at(5).is_none_or(|maj| maj == 0 || maj == 3)
        && match (at(5), at(6)) {
            (Some(0), Some(min)) => min == 2,
            (Some(3), Some(min)) => min <= 3,
            _ => true,
        }
}

/// Where a direction's bytes can switch to TLS: a TLS record or SSLv2 hello, plus an
/// SSLv2 SERVER-HELLO from the server.
fn tls_start_plausible(dir: Dir, b: &[u8]) -> bool {
    tls_prefix_plausible(b) || (dir == Dir::ToClient && sslv2_server_hello_plausible(b))
}

/// Escapes bytes for evidence: printable ASCII as is, `\r` `\n` `\t`, a
/// backslash doubled (so the output stays unambiguous), everything else `\xNN`.
/// At most `max` input bytes are rendered.
pub fn escape_bytes(bytes: &[u8], max: usize) -> String {
    let bytes = &bytes[..bytes.len().min(max)];
    let mut s = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                s.push_str("\\x");
                s.push(char::from(HEX[usize::from(b >> 4)]));
                s.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
    s
}

/// Protocol spoken by a client, from its first bytes; the port only breaks ties.
pub fn detect_client_protocol(first: &[u8], server_port: u16) -> AppProtocol {
    resolve(client_candidates(first), None, server_port)
}

/// Protocol of a server's greeting or first answer.
pub fn detect_server_banner(first: &[u8]) -> AppProtocol {
    server_banner(first, 0)
}

fn port_protocol(port: u16) -> AppProtocol {
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
        194 | 6660..=6669 | 6697 | 7000 => AppProtocol::Irc,
        _ => AppProtocol::Unknown,
    }
}

/// Picks among candidates (best first): the server's banner wins, then the port.
fn resolve(cands: &[AppProtocol], server: Option<AppProtocol>, port: u16) -> AppProtocol {
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

fn first_line(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == b'\n') {
        Some(p) => trim_eol(&b[..=p]),
        None => b,
    }
}

fn trim_eol(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = b {
        b = rest;
    }
    b
}

fn starts_with_ic(b: &[u8], prefix: &[u8]) -> bool {
    b.len() >= prefix.len() && b[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// A command verb: the whole line or followed by a space.
fn is_verb(line: &[u8], verb: &[u8]) -> bool {
    starts_with_ic(line, verb) && (line.len() == verb.len() || line[verb.len()] == b' ')
}

fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&c| c == b' ').filter(|t| !t.is_empty())
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

const IMAP_COMMANDS: &[&[u8]] = &[
    b"CAPABILITY",
    b"LOGIN",
    b"AUTHENTICATE",
    b"STARTTLS",
    b"NOOP",
    b"LOGOUT",
    b"ID",
    b"ENABLE",
    b"SELECT",
    b"EXAMINE",
    b"LIST",
    b"LSUB",
    b"STATUS",
    b"NAMESPACE",
];

fn client_candidates(first: &[u8]) -> &'static [AppProtocol] {
    use AppProtocol::*;
    if first.is_empty() {
        return &[];
    }
    if first[0] == 0x30 && ldap_message_start(first) {
        return &[Ldap];
    }
    if first.len() >= 8 && first[..2] == [0, 0] {
        let len = u32::from_be_bytes([first[0], first[1], first[2], first[3]]);
        let code = &first[4..8];
        if (8..=10_000).contains(&len) && (code == [0, 3, 0, 0] || code[..3] == [0x04, 0xd2, 0x16])
        {
            return &[Postgres];
        }
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
        let mech = tokens(line).nth(1).unwrap_or(b"");
        if [&b"TLS"[..], b"SSL", b"TLS-C", b"TLS-P"]
            .iter()
            .any(|m| mech.eq_ignore_ascii_case(m))
        {
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
    if imap_command(line).is_some() {
        return &[Imap];
    }
    &[Unknown]
}

/// `<tag> <COMMAND> ...` with a known IMAP command; returns (tag, command).
fn imap_command(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut it = line.splitn(3, |&c| c == b' ');
    let tag = it.next()?;
    let cmd = it.next()?;
    let tag_ok = !tag.is_empty()
        && tag.len() <= 32
        && tag
            .iter()
            .all(|&c| c.is_ascii_graphic() && !b"(){%*\"\\+".contains(&c));
    if !tag_ok {
        return None;
    }
    IMAP_COMMANDS
        .iter()
        .any(|c| cmd.eq_ignore_ascii_case(c))
        .then_some((tag, cmd))
}

fn server_banner(first: &[u8], port: u16) -> AppProtocol {
    use AppProtocol::*;
    if first.is_empty() {
        return Unknown;
    }
    if first[0] == 0x30 && ldap_message_start(first) {
        return Ldap;
    }
    if first.starts_with(b"<?xml") || first.starts_with(b"<stream:") {
        return Xmpp;
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
    if line.starts_with(b"NOTICE AUTH") || (line.starts_with(b":") && irc_numeric_or_notice(line)) {
        return Irc;
    }
    Unknown
}

fn irc_numeric_or_notice(line: &[u8]) -> bool {
    let mut t = tokens(line).skip(1);
    match t.next() {
        Some(cmd) => cmd == b"NOTICE" || (cmd.len() == 3 && cmd.iter().all(u8::is_ascii_digit)),
        None => false,
    }
}

/// SMTP/FTP reply line: three digits then end, space or `-`. Returns (code, is_final).
fn reply_code(line: &[u8]) -> Option<(u16, bool)> {
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = line[..3]
        .iter()
        .fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None | Some(b' ') => Some((code, true)),
        Some(b'-') => Some((code, false)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// BER (LDAP)

/// Parses a BER tag+length header: Err = not BER, Ok(None) = need more bytes,
/// Ok(Some((tag, header_len, content_len))).
fn ber_header(b: &[u8]) -> Result<Option<(u8, usize, usize)>, ()> {
    let (Some(&tag), Some(&l0)) = (b.first(), b.get(1)) else {
        return Ok(None);
    };
    if tag & 0x1f == 0x1f {
        return Err(());
    }
    if l0 < 0x80 {
        return Ok(Some((tag, 2, usize::from(l0))));
    }
    let n = usize::from(l0 & 0x7f);
    if n == 0 || n > 4 {
        return Err(());
    }
    let Some(lb) = b.get(2..2 + n) else {
        return Ok(None);
    };
    let len = lb.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x));
    Ok(Some((tag, 2 + n, len)))
}

/// Splits one complete TLV off the front of `b`.
fn ber_take(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (tag, h, len) = ber_header(b).ok()??;
    let end = h.checked_add(len)?;
    let content = b.get(h..end)?;
    Some((tag, content, &b[end..]))
}

fn ldap_message_start(b: &[u8]) -> bool {
    match ber_header(b) {
        Ok(Some((0x30, h, _))) => b.get(h).is_none_or(|&t| t == 0x02),
        _ => false,
    }
}

/// LDAPMessage -> (messageID, protocolOp tag, protocolOp content).
fn ldap_op(msg: &[u8]) -> Option<(u32, u8, &[u8])> {
    let (tag, body, _) = ber_take(msg)?;
    if tag != 0x30 {
        return None;
    }
    let (itag, id, rest) = ber_take(body)?;
    if itag != 0x02 || id.is_empty() || id.len() > 4 {
        return None;
    }
    let id = id.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x));
    let (op, content, _) = ber_take(rest)?;
    Some((id, op, content))
}

// ---------------------------------------------------------------------------
// SASL

/// Canonical SASL mechanism name for a client token, if it is one we know.
/// Returning a static string keeps client bytes out of `Credential::mechanism`.
fn sasl_mech(tok: &[u8]) -> Option<&'static str> {
    const MECHS: &[&str] = &[
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "DIGEST-MD5",
        "NTLM",
        "XOAUTH2",
        "OAUTHBEARER",
        "SCRAM-SHA-1",
        "SCRAM-SHA-1-PLUS",
        "SCRAM-SHA-256",
        "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-512",
        "SCRAM-SHA-512-PLUS",
        "GSSAPI",
        "EXTERNAL",
        "ANONYMOUS",
    ];
    MECHS
        .iter()
        .find(|m| tok.eq_ignore_ascii_case(m.as_bytes()))
        .copied()
}

/// Mechanisms that carry no password-equivalent are not worth a finding.
fn mech_carries_secret(m: &str) -> bool {
    !matches!(m, "GSSAPI" | "EXTERNAL" | "ANONYMOUS")
}

// ---------------------------------------------------------------------------
// Preamble state

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Cleartext,
    Tls,
    /// Cleartext we no longer parse (over a cap, binary body, unknown framing).
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Line,
    Xml,
    Ber,
    PgClient,
    PgServer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HttpState {
    RequestLine,
    Headers {
        connect: bool,
        body: usize,
        chunked: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PendingKey {
    /// Answered by the Nth counted server reply (SMTP, FTP, POP3).
    Reply(u32),
    ImapTag(Vec<u8>),
    LdapId(u32),
    /// Answered by the next matching message (IRC numerics, XMPP, PostgreSQL).
    Next,
}

#[derive(Debug)]
struct DirState {
    head: Vec<u8>,
    head_frame: Option<FrameNo>,
    unit: Vec<u8>,
    unit_frame: FrameNo,
    framing: Option<Framing>,
    mode: Mode,
    /// Check for a TLS record at every unit start (set after the other side
    /// switched, so that an answer still owed in cleartext is recognised).
    sniff: bool,
    skip: usize,
    parsed: usize,
    /// Stream offset of the next byte to be fed, and of the current unit.
    pos: usize,
    unit_start: usize,
    /// Set once a credential was seen: the head must not grow past it.
    head_frozen: bool,
    /// Length of the head as last published in the facts.
    shown: usize,
}

impl DirState {
    fn new() -> Self {
        DirState {
            head: Vec::new(),
            head_frame: None,
            unit: Vec::new(),
            unit_frame: 0,
            framing: None,
            mode: Mode::Cleartext,
            sniff: false,
            skip: 0,
            parsed: 0,
            pos: 0,
            unit_start: 0,
            head_frozen: false,
            shown: 0,
        }
    }
}

/// Cleartext-phase tracker for one TCP connection.
#[derive(Debug)]
pub struct Preamble {
    server_port: u16,
    dirs: [DirState; 2],
    facts: PreambleFacts,
    /// Protocol used to interpret lines; refreshed as first bytes arrive.
    proto: AppProtocol,
    pending: Option<PendingKey>,
    /// Client after a STARTTLS command or a CONNECT request may start TLS.
    client_may_start_tls: bool,
    connect_pending: bool,
    /// Server is inside the headers of a 2xx CONNECT response.
    connect_ok_headers: bool,
    http: HttpState,
    commands: u32,
    replies: u32,
    greeting_seen: bool,
    smtp_data: bool,
    user_sent: bool,
    anonymous: bool,
    pg_pending: bool,
}

impl Preamble {
    pub fn new(server_port: u16) -> Self {
        Preamble {
            server_port,
            dirs: [DirState::new(), DirState::new()],
            facts: PreambleFacts::default(),
            proto: port_protocol(server_port),
            pending: None,
            client_may_start_tls: false,
            connect_pending: false,
            connect_ok_headers: false,
            http: HttpState::RequestLine,
            commands: 0,
            replies: 0,
            greeting_seen: false,
            smtp_data: false,
            user_sent: false,
            anonymous: false,
            pg_pending: false,
        }
    }

    pub fn facts(&self) -> &PreambleFacts {
        &self.facts
    }

    /// True once `dir` carries TLS. After a switch triggered by one side, the
    /// other side may still owe a cleartext answer (a CONNECT response or
    /// STARTTLS reply that arrives after the client's pipelined ClientHello,
    /// or a plaintext server answering a ClientHello). A caller that wants
    /// that answer keeps feeding that direction until `feed` reports
    /// `tls_starts` for it; a simpler caller may switch both directions at once.
    pub fn is_tls(&self, dir: Dir) -> bool {
        self.dirs[dir.index()].mode == Mode::Tls
    }

    /// Feeds cleartext bytes of one direction in stream order.
    pub fn feed(&mut self, dir: Dir, data: &[u8], frame: FrameNo, _ts_us: TimestampUs) -> Feed {
        let d = dir.index();
        if self.dirs[d].mode == Mode::Tls {
            return Feed {
                consumed: 0,
                tls_starts: true,
            };
        }
        let was_empty = self.dirs[d].head.is_empty();
        let head_before = self.dirs[d].head.len();
        let base = self.dirs[d].pos;
        // Checked before the bytes join the cleartext evidence: a TLS flow (the common
        // case) then never builds any.
        if was_empty && !data.is_empty() && tls_start_plausible(dir, data) {
            return self.switch_at(dir, false, head_before, 0);
        }
        if !self.dirs[d].head_frozen && self.dirs[d].head.len() < HEAD_LEN && !data.is_empty() {
            let n = (HEAD_LEN - self.dirs[d].head.len()).min(data.len());
            self.dirs[d].head.extend_from_slice(&data[..n]);
            if self.dirs[d].head_frame.is_none() {
                self.dirs[d].head_frame = Some(frame);
            }
            self.refresh_detection();
        }
        let mut i = 0;
        while i < data.len() {
            let st = &mut self.dirs[d];
            if st.mode == Mode::Ignore {
                break;
            }
            if st.skip > 0 {
                let n = st.skip.min(data.len() - i);
                st.skip -= n;
                st.parsed += n;
                i += n;
                continue;
            }
            if st.unit.is_empty() {
                if st.framing == Some(Framing::Xml) && data[i].is_ascii_whitespace() {
                    i += 1;
                    continue;
                }
                let may_tls = st.sniff || (dir == Dir::ToServer && self.client_may_start_tls);
                if may_tls && tls_start_plausible(dir, &data[i..]) {
                    self.client_tls_without_answer(dir);
                    return self.switch_at(dir, false, head_before, i);
                }
                let pending_something = self.pending.is_some() || self.connect_pending;
                let st = &mut self.dirs[d];
                if st.parsed > PARSE_BUDGET && !pending_something {
                    st.mode = Mode::Ignore;
                    break;
                }
                st.unit_frame = frame;
                st.unit_start = base + i;
                if st.framing.is_none() {
                    let f = self.pick_framing(dir, data[i]);
                    self.dirs[d].framing = Some(f);
                }
            }
            let (n, complete) = self.take_unit(dir, &data[i..]);
            i += n;
            self.dirs[d].parsed += n;
            if !complete {
                continue;
            }
            let unit = std::mem::take(&mut self.dirs[d].unit);
            let unit_frame = self.dirs[d].unit_frame;
            let switch = match dir {
                Dir::ToServer => {
                    self.client_unit(&unit, unit_frame);
                    false
                }
                Dir::ToClient => self.server_unit(&unit, unit_frame),
            };
            if switch {
                return self.switch_at(dir, true, head_before, i);
            }
        }
        self.dirs[d].pos = base + data.len();
        // A unit still in progress may be a credential line cut short; keep
        // it out of the evidence until it is complete and checked.
        if shown_len(&self.dirs[d]) != self.dirs[d].shown {
            self.refresh_detection();
        }
        Feed {
            consumed: data.len(),
            tls_starts: false,
        }
    }

    fn pick_framing(&self, dir: Dir, b0: u8) -> Framing {
        let client = &self.dirs[Dir::ToServer.index()];
        match (dir, b0) {
            (_, b'<') => Framing::Xml,
            (_, 0x30) => Framing::Ber,
            (Dir::ToServer, 0) => Framing::PgClient,
            (Dir::ToClient, _) if client.framing == Some(Framing::PgClient) => Framing::PgServer,
            _ => Framing::Line,
        }
    }

    /// Moves bytes of the current unit into the unit buffer; returns
    /// (bytes taken, unit complete).
    fn take_unit(&mut self, dir: Dir, data: &[u8]) -> (usize, bool) {
        let st = &mut self.dirs[dir.index()];
        let framing = st.framing.unwrap_or(Framing::Line);
        let terminated = |term: u8, st: &mut DirState| {
            let room = UNIT_CAP.saturating_sub(st.unit.len());
            match data.iter().position(|&c| c == term) {
                Some(p) if p < room => {
                    st.unit.extend_from_slice(&data[..=p]);
                    (p + 1, true)
                }
                _ if data.len() < room => {
                    st.unit.extend_from_slice(data);
                    (data.len(), false)
                }
                _ => {
                    st.unit.clear();
                    st.mode = Mode::Ignore;
                    (data.len(), false)
                }
            }
        };
        match framing {
            Framing::Line => terminated(b'\n', st),
            Framing::Xml => terminated(b'>', st),
            Framing::PgServer => {
                st.unit.push(data[0]);
                (1, true)
            }
            Framing::Ber | Framing::PgClient => {
                // Grow the header first, then the announced length.
                let mut taken = 0;
                loop {
                    let total = if framing == Framing::Ber {
                        match ber_header(&st.unit) {
                            Err(()) => {
                                st.mode = Mode::Ignore;
                                return (data.len(), false);
                            }
                            Ok(None) => None,
                            Ok(Some((_, h, l))) => Some(h.saturating_add(l)),
                        }
                    } else if st.unit.len() >= 4 {
                        let l =
                            u32::from_be_bytes([st.unit[0], st.unit[1], st.unit[2], st.unit[3]]);
                        if !(8..=10_000).contains(&l) {
                            st.mode = Mode::Ignore;
                            return (data.len(), false);
                        }
                        Some(l as usize)
                    } else {
                        None
                    };
                    let want = match total {
                        Some(t) if t > UNIT_CAP => {
                            // Too big to be an upgrade or bind: skip it whole.
                            st.skip = t - st.unit.len();
                            st.unit.clear();
                            return (taken, false);
                        }
                        Some(t) => t,
                        None => st.unit.len() + 1,
                    };
                    if st.unit.len() >= want {
                        return (taken, true);
                    }
                    let n = (want - st.unit.len()).min(data.len() - taken);
                    if n == 0 {
                        return (taken, false);
                    }
                    st.unit.extend_from_slice(&data[taken..taken + n]);
                    taken += n;
                }
            }
        }
    }

    /// The client sent TLS while an upgrade was still unanswered (one-sided
    /// capture, or a ClientHello pipelined behind CONNECT).
    fn client_tls_without_answer(&mut self, dir: Dir) {
        if dir != Dir::ToServer {
            return;
        }
        if self.connect_pending || self.facts.connect.is_some() && self.client_may_start_tls {
            self.facts.via = Some(Via::HttpConnect);
        } else if let Some(s) = &self.facts.starttls {
            if s.result != StartTlsResult::Refused {
                self.facts.via = Some(Via::StartTls(s.protocol));
            }
        }
    }

    /// Switches `dir` to TLS at `data[consumed..]`; the first-bytes evidence
    /// keeps only the cleartext part.
    fn switch_at(&mut self, dir: Dir, answered: bool, head_before: usize, consumed: usize) -> Feed {
        let st = &mut self.dirs[dir.index()];
        st.pos = st.pos.saturating_add(consumed);
        st.head.truncate(head_before.saturating_add(consumed));
        if st.head.is_empty() {
            st.head_frame = None;
        }
        self.switch(dir, answered);
        self.refresh_detection();
        Feed {
            consumed,
            tls_starts: true,
        }
    }

    /// `answered`: the switch follows the other side's positive answer, so
    /// both directions are TLS from here; otherwise the other side may still
    /// owe cleartext and is sniffed.
    fn switch(&mut self, dir: Dir, answered: bool) {
        self.dirs[dir.index()].mode = Mode::Tls;
        self.dirs[dir.index()].unit.clear();
        let other = &mut self.dirs[dir.reverse().index()];
        if answered {
            other.mode = Mode::Tls;
            other.unit.clear();
            other.skip = 0;
        } else if other.mode == Mode::Cleartext {
            other.sniff = true;
        }
        self.client_may_start_tls = false;
    }

    fn refresh_detection(&mut self) {
        for st in &mut self.dirs {
            st.shown = shown_len(st);
        }
        let port = self.server_port;
        let c = &self.dirs[Dir::ToServer.index()];
        let s = &self.dirs[Dir::ToClient.index()];
        let (c_head, s_head) = (&c.head[..c.shown], &s.head[..s.shown]);
        let server = (!s_head.is_empty()).then(|| server_banner(s_head, port));
        let server = match server {
            Some(AppProtocol::Unknown) if self.pg_answer_seen() => Some(AppProtocol::Postgres),
            other => other,
        };
        let server_known = server.filter(|&p| p != AppProtocol::Unknown);
        let client =
            (!c_head.is_empty()).then(|| resolve(client_candidates(c_head), server_known, port));
        self.facts.client_protocol = client;
        self.facts.server_protocol = server;
        for (dir, slot) in [
            (Dir::ToServer, &mut self.facts.client_first_bytes),
            (Dir::ToClient, &mut self.facts.server_first_bytes),
        ] {
            let st = &self.dirs[dir.index()];
            let shown = &st.head[..st.shown];
            *slot = match st.head_frame {
                Some(f) if !shown.is_empty() => Some((escape_bytes(shown, HEAD_LEN), f)),
                _ => None,
            };
        }
        self.proto = match client {
            Some(p) if p != AppProtocol::Unknown => p,
            _ => server_known.unwrap_or_else(|| port_protocol(port)),
        };
    }

    fn pg_answer_seen(&self) -> bool {
        let s = &self.dirs[Dir::ToClient.index()];
        self.dirs[Dir::ToServer.index()]
            .head
            .starts_with(&PG_SSL_REQUEST)
            && matches!(s.head.first(), Some(b'S' | b'N'))
    }

    /// Records a credential seen in the current unit of `dir`; the evidence
    /// head is cut after the first `keep` bytes of that unit so the secret that
    /// follows (and any SASL continuation) never reaches `first_bytes`.
    fn credential(&mut self, mechanism: &str, frame: FrameNo, dir: Dir, keep: usize) {
        let st = &mut self.dirs[dir.index()];
        st.head.truncate(st.unit_start.saturating_add(keep));
        st.head_frozen = true;
        if st.head.is_empty() {
            st.head_frame = None;
        }
        self.facts.credentials.push(Credential {
            protocol: self.proto,
            mechanism: mechanism.to_string(),
            frame,
            dir,
        });
    }

    fn start_upgrade(&mut self, protocol: AppProtocol, key: PendingKey, frame: FrameNo) {
        self.facts.starttls = Some(StartTls {
            protocol,
            command_frame: frame,
            response_frame: None,
            result: StartTlsResult::Pending,
            response: None,
        });
        self.pending = Some(key);
        self.client_may_start_tls = true;
    }

    /// Records the answer to the pending upgrade; true when TLS follows it.
    fn answer_upgrade(&mut self, ok: bool, response: String, frame: FrameNo) -> bool {
        self.pending = None;
        if let Some(s) = &mut self.facts.starttls {
            s.result = if ok {
                StartTlsResult::Ok
            } else {
                StartTlsResult::Refused
            };
            s.response_frame = Some(frame);
            s.response = Some(response);
            if ok {
                self.facts.via = Some(Via::StartTls(s.protocol));
            }
        }
        if !ok {
            self.client_may_start_tls = false;
        }
        ok
    }

    // -- client side --------------------------------------------------------

    fn client_unit(&mut self, unit: &[u8], frame: FrameNo) {
        match self.dirs[Dir::ToServer.index()].framing {
            Some(Framing::Xml) => self.client_xml(unit, frame),
            Some(Framing::Ber) => self.client_ldap(unit, frame),
            Some(Framing::PgClient) => self.client_pg(unit, frame),
            _ => self.client_line(trim_eol(unit), frame),
        }
    }

    fn client_line(&mut self, line: &[u8], frame: FrameNo) {
        if self.proto == AppProtocol::Http || self.http != HttpState::RequestLine {
            self.client_http(line, frame);
            return;
        }
        let verb_is = |v: &str| is_verb(line, v.as_bytes());
        let arg = tokens(line).nth(1).unwrap_or(b"");
        let c = Dir::ToServer;
        match self.proto {
            AppProtocol::Smtp => {
                if self.smtp_data {
                    if line == b"." {
                        self.smtp_data = false;
                        self.commands += 1;
                    }
                    return;
                }
                // Every line, SASL continuations included, gets one reply.
                self.commands += 1;
                if verb_is("STARTTLS") {
                    self.start_upgrade(AppProtocol::Smtp, PendingKey::Reply(self.commands), frame);
                } else if verb_is("AUTH") {
                    self.sasl_credential("AUTH", arg, frame, token_end(line, 1));
                } else if verb_is("DATA") {
                    self.smtp_data = true;
                } else if verb_is("BDAT") {
                    let n = std::str::from_utf8(arg)
                        .ok()
                        .and_then(|s| s.parse::<usize>().ok());
                    self.dirs[c.index()].skip = n.unwrap_or(0);
                }
            }
            AppProtocol::Pop3 | AppProtocol::Ftp => {
                self.commands += 1;
                let ftp = self.proto == AppProtocol::Ftp;
                if !ftp && verb_is("STLS") {
                    self.start_upgrade(AppProtocol::Pop3, PendingKey::Reply(self.commands), frame);
                } else if ftp
                    && verb_is("AUTH")
                    && [&b"TLS"[..], b"SSL", b"TLS-C", b"TLS-P"]
                        .iter()
                        .any(|m| arg.eq_ignore_ascii_case(m))
                {
                    self.start_upgrade(AppProtocol::Ftp, PendingKey::Reply(self.commands), frame);
                } else if verb_is("USER") {
                    self.user_sent = true;
                    self.anonymous = ftp
                        && (arg.eq_ignore_ascii_case(b"anonymous")
                            || arg.eq_ignore_ascii_case(b"ftp"));
                } else if verb_is("PASS") {
                    if !self.anonymous {
                        self.credential("USER/PASS", frame, c, token_end(line, 0));
                    }
                } else if !ftp && verb_is("APOP") {
                    self.credential("APOP", frame, c, token_end(line, 0));
                } else if !ftp && verb_is("AUTH") {
                    self.sasl_credential("AUTH", arg, frame, token_end(line, 1));
                }
            }
            AppProtocol::Imap => {
                if let Some(len) = imap_literal(line) {
                    self.dirs[c.index()].skip = len;
                }
                let Some((tag, cmd)) = imap_command(line) else {
                    return;
                };
                if cmd.eq_ignore_ascii_case(b"STARTTLS") {
                    self.start_upgrade(AppProtocol::Imap, PendingKey::ImapTag(tag.to_vec()), frame);
                } else if cmd.eq_ignore_ascii_case(b"LOGIN") {
                    self.credential("LOGIN", frame, c, token_end(line, 1));
                } else if cmd.eq_ignore_ascii_case(b"AUTHENTICATE") {
                    let mech = tokens(line).nth(2).unwrap_or(b"");
                    self.sasl_credential("AUTHENTICATE", mech, frame, token_end(line, 2));
                }
            }
            AppProtocol::Irc => {
                if verb_is("STARTTLS") {
                    self.start_upgrade(AppProtocol::Irc, PendingKey::Next, frame);
                } else if verb_is("PASS") {
                    self.credential("PASS", frame, c, token_end(line, 0));
                } else if verb_is("OPER") {
                    self.credential("OPER", frame, c, token_end(line, 0));
                } else if verb_is("AUTHENTICATE") {
                    self.sasl_credential("AUTHENTICATE", arg, frame, token_end(line, 1));
                }
            }
            _ => {}
        }
    }

    fn sasl_credential(&mut self, prefix: &str, mech: &[u8], frame: FrameNo, keep: usize) {
        if let Some(m) = sasl_mech(mech) {
            if mech_carries_secret(m) {
                self.credential(&format!("{prefix} {m}"), frame, Dir::ToServer, keep);
            }
        }
    }

    fn client_http(&mut self, line: &[u8], frame: FrameNo) {
        match self.http {
            HttpState::RequestLine => {
                if line.is_empty() {
                    return;
                }
                if line.starts_with(b"PRI * HTTP/2") {
                    // HTTP/2 prior knowledge: binary frames follow the preface.
                    self.dirs[Dir::ToServer.index()].mode = Mode::Ignore;
                    return;
                }
                let connect = line.starts_with(b"CONNECT ");
                if connect {
                    let target = tokens(line).nth(1).unwrap_or(b"");
                    // userinfo in an authority is a credential, never evidence.
                    let target = match target.iter().rposition(|&c| c == b'@') {
                        Some(p) => {
                            let keep = token_end(line, 0);
                            self.credential("HTTP userinfo", frame, Dir::ToServer, keep);
                            &target[p + 1..]
                        }
                        None => target,
                    };
                    self.facts.connect = Some(ConnectRequest {
                        target: escape_bytes(target, TEXT_CAP),
                        request_frame: frame,
                        status: None,
                        response_frame: None,
                        reason: None,
                    });
                }
                self.http = HttpState::Headers {
                    connect,
                    body: 0,
                    chunked: false,
                };
            }
            HttpState::Headers {
                connect,
                body,
                chunked,
            } => {
                if line.is_empty() {
                    self.http = HttpState::RequestLine;
                    if connect {
                        self.connect_pending = true;
                        self.client_may_start_tls = true;
                    } else if chunked {
                        self.dirs[Dir::ToServer.index()].mode = Mode::Ignore;
                    } else {
                        self.dirs[Dir::ToServer.index()].skip = body;
                    }
                    return;
                }
                let Some(colon) = line.iter().position(|&c| c == b':') else {
                    return;
                };
                let name = &line[..colon];
                let value = line[colon + 1..].trim_ascii();
                let scheme = tokens(value).next().unwrap_or(b"");
                if name.eq_ignore_ascii_case(b"authorization") {
                    if scheme.eq_ignore_ascii_case(b"basic") {
                        self.credential("HTTP Basic", frame, Dir::ToServer, colon + 1);
                    } else if scheme.eq_ignore_ascii_case(b"bearer") {
                        self.credential("HTTP Bearer", frame, Dir::ToServer, colon + 1);
                    }
                } else if name.eq_ignore_ascii_case(b"proxy-authorization")
                    && scheme.eq_ignore_ascii_case(b"basic")
                {
                    self.credential(
                        "HTTP Proxy-Authorization Basic",
                        frame,
                        Dir::ToServer,
                        colon + 1,
                    );
                } else if name.eq_ignore_ascii_case(b"content-length") {
                    let n = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
                    self.http = HttpState::Headers {
                        connect,
                        body: n.unwrap_or(0),
                        chunked,
                    };
                } else if name.eq_ignore_ascii_case(b"transfer-encoding")
                    && value.eq_ignore_ascii_case(b"chunked")
                {
                    self.http = HttpState::Headers {
                        connect,
                        body,
                        chunked: true,
                    };
                }
            }
        }
    }

    fn client_xml(&mut self, unit: &[u8], frame: FrameNo) {
        let has = |n: &[u8]| unit.windows(n.len()).any(|w| w == n);
        if unit.starts_with(b"<starttls") && has(b"xmpp-tls") {
            self.start_upgrade(AppProtocol::Xmpp, PendingKey::Next, frame);
        } else if unit.starts_with(b"<auth") && has(b"xmpp-sasl") {
            let mech = xml_attr(unit, b"mechanism").unwrap_or(b"");
            // The SASL payload follows in the next unit.
            self.sasl_credential("SASL", mech, frame, unit.len());
        }
    }

    fn client_ldap(&mut self, msg: &[u8], frame: FrameNo) {
        let Some((id, op, content)) = ldap_op(msg) else {
            return;
        };
        match op {
            // ExtendedRequest: requestName [0] is the OID in dotted text.
            0x77 => {
                if let Some((0x80, oid, _)) = ber_take(content) {
                    if oid == LDAP_STARTTLS_OID {
                        self.start_upgrade(AppProtocol::Ldap, PendingKey::LdapId(id), frame);
                    }
                }
            }
            // BindRequest: version, name, then authentication CHOICE.
            0x60 => {
                let auth = ber_take(content)
                    .and_then(|(_, _, r)| ber_take(r))
                    .and_then(|(_, _, r)| ber_take(r));
                match auth {
                    Some((0x80, pw, _)) if !pw.is_empty() => {
                        let keep = offset_in(msg, pw);
                        self.credential("simple bind", frame, Dir::ToServer, keep);
                    }
                    Some((0xa3, sasl, _)) => {
                        if let Some((0x04, mech, rest)) = ber_take(sasl) {
                            let keep = offset_in(msg, rest);
                            self.sasl_credential("SASL", mech, frame, keep);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn client_pg(&mut self, msg: &[u8], frame: FrameNo) {
        if msg == PG_SSL_REQUEST {
            self.start_upgrade(AppProtocol::Postgres, PendingKey::Next, frame);
            self.pg_pending = true;
        } else if msg == PG_GSSENC_REQUEST {
            // The server answers with one byte; a refusal may be followed by SSLRequest.
            self.pg_pending = true;
        } else {
            // StartupMessage: the regular (typed) protocol follows; not parsed.
            self.dirs[Dir::ToServer.index()].mode = Mode::Ignore;
        }
    }

    // -- server side --------------------------------------------------------

    /// Returns true when TLS starts right after this unit.
    fn server_unit(&mut self, unit: &[u8], frame: FrameNo) -> bool {
        match self.dirs[Dir::ToClient.index()].framing {
            Some(Framing::Xml) => self.server_xml(unit, frame),
            Some(Framing::Ber) => self.server_ldap(unit, frame),
            Some(Framing::PgServer) => self.server_pg(unit, frame),
            _ => self.server_line(trim_eol(unit), frame),
        }
    }

    fn server_line(&mut self, line: &[u8], frame: FrameNo) -> bool {
        if self.connect_pending || self.connect_ok_headers {
            return self.server_http(line, frame);
        }
        let resp = || escape_bytes(line, TEXT_CAP);
        if matches!(
            self.proto,
            AppProtocol::Smtp | AppProtocol::Ftp | AppProtocol::Pop3
        ) {
            // Replies are counted from the greeting on so that the answer to
            // STARTTLS is found even behind replies to pipelined commands.
            let positive = if self.proto == AppProtocol::Pop3 {
                if !(line.starts_with(b"+") || line.starts_with(b"-ERR")) {
                    return false;
                }
                line.starts_with(b"+OK")
            } else {
                match reply_code(line) {
                    Some((code, true)) if code >= 200 => {
                        code == if self.proto == AppProtocol::Smtp {
                            220
                        } else {
                            234
                        }
                    }
                    _ => return false,
                }
            };
            let idx = self.count_reply();
            if self.pending == Some(PendingKey::Reply(idx)) {
                return self.answer_upgrade(positive, resp(), frame);
            }
            return false;
        }
        let Some(key) = self.pending.clone() else {
            return false;
        };
        let Some(proto) = self.facts.starttls.as_ref().map(|s| s.protocol) else {
            return false;
        };
        match (proto, key) {
            (AppProtocol::Imap, PendingKey::ImapTag(tag)) => {
                if line.starts_with(b"* BYE") {
                    return self.answer_upgrade(false, resp(), frame);
                }
                let mut t = tokens(line);
                if t.next() != Some(&tag[..]) {
                    return false;
                }
                let status = t.next().unwrap_or(b"");
                self.answer_upgrade(status.eq_ignore_ascii_case(b"OK"), resp(), frame)
            }
            (AppProtocol::Irc, _) => {
                let mut t = tokens(line);
                if line.starts_with(b":") {
                    t.next();
                }
                match t.next() {
                    Some(b"670") => self.answer_upgrade(true, resp(), frame),
                    Some(b"691") => self.answer_upgrade(false, resp(), frame),
                    Some(b"421") if line.windows(8).any(|w| w == b"STARTTLS") => {
                        self.answer_upgrade(false, resp(), frame)
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }

    /// Counts a final reply; the greeting counts as reply 0 when it comes
    /// before any client command.
    fn count_reply(&mut self) -> u32 {
        if !self.greeting_seen {
            self.greeting_seen = true;
            if self.commands == 0 {
                return 0;
            }
        }
        self.replies += 1;
        self.replies
    }

    fn server_http(&mut self, line: &[u8], frame: FrameNo) -> bool {
        if self.connect_ok_headers {
            if line.is_empty() {
                self.connect_ok_headers = false;
                self.facts.via = Some(Via::HttpConnect);
                return true;
            }
            return false;
        }
        if !line.starts_with(b"HTTP/") {
            return false;
        }
        let mut parts = line.splitn(3, |&c| c == b' ');
        parts.next();
        let status = parts
            .next()
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u16>().ok());
        let Some(status) = status else {
            return false;
        };
        if (100..200).contains(&status) {
            return false;
        }
        let reason = parts.next().unwrap_or(b"");
        self.connect_pending = false;
        if let Some(c) = &mut self.facts.connect {
            c.status = Some(status);
            c.response_frame = Some(frame);
            c.reason = Some(escape_bytes(reason, TEXT_CAP));
        }
        if (200..300).contains(&status) {
            self.connect_ok_headers = true;
        } else {
            self.client_may_start_tls = false;
        }
        false
    }

    fn server_xml(&mut self, unit: &[u8], frame: FrameNo) -> bool {
        if self.pending.is_none() || !unit.windows(8).any(|w| w == b"xmpp-tls") {
            return false;
        }
        let resp = escape_bytes(unit, TEXT_CAP);
        if unit.starts_with(b"<proceed") {
            self.answer_upgrade(true, resp, frame)
        } else if unit.starts_with(b"<failure") {
            self.answer_upgrade(false, resp, frame)
        } else {
            false
        }
    }

    fn server_ldap(&mut self, msg: &[u8], frame: FrameNo) -> bool {
        let Some(PendingKey::LdapId(want)) = self.pending else {
            return false;
        };
        let Some((id, 0x78, content)) = ldap_op(msg) else {
            return false;
        };
        if id != want {
            return false;
        }
        let code = match ber_take(content) {
            Some((0x0a, v, _)) if !v.is_empty() && v.len() <= 4 => {
                v.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x))
            }
            _ => return false,
        };
        self.answer_upgrade(
            code == 0,
            format!("extendedResponse resultCode={code}"),
            frame,
        )
    }

    fn server_pg(&mut self, byte: &[u8], frame: FrameNo) -> bool {
        if !self.pg_pending {
            self.dirs[Dir::ToClient.index()].mode = Mode::Ignore;
            return false;
        }
        self.pg_pending = false;
        let is_ssl = self.pending.is_some()
            && self
                .facts
                .starttls
                .as_ref()
                .is_some_and(|s| s.protocol == AppProtocol::Postgres);
        if !is_ssl {
            // Answer to GSSENCRequest; keep listening for an SSLRequest answer.
            return false;
        }
        self.refresh_detection();
        let resp = escape_bytes(byte, TEXT_CAP);
        let ok = self.answer_upgrade(byte == b"S", resp, frame);
        if !ok {
            self.dirs[Dir::ToClient.index()].mode = Mode::Ignore;
        }
        ok
    }
}

/// Byte offset just past the `n`th space-separated token (0-based), or the
/// line length when there are fewer tokens.
fn token_end(line: &[u8], n: usize) -> usize {
    let mut seen = 0;
    let mut in_tok = false;
    for (i, &c) in line.iter().enumerate() {
        if c == b' ' {
            if in_tok {
                if seen == n {
                    return i;
                }
                seen += 1;
            }
            in_tok = false;
        } else {
            in_tok = true;
        }
    }
    line.len()
}

/// Offset of `part` inside `whole` (a subslice of it).
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize)
        .saturating_sub(whole.as_ptr() as usize)
        .min(whole.len())
}

/// How much of the head may be published: not a partial unit that could
/// still turn out to carry a secret.
fn shown_len(st: &DirState) -> usize {
    if st.unit_start < st.head.len() && may_hold_secret(&st.unit) {
        st.unit_start
    } else {
        st.head.len()
    }
}

/// An incomplete unit that could turn out to be a credential line.
fn may_hold_secret(unit: &[u8]) -> bool {
    if unit.is_empty() {
        return false;
    }
    let line = unit;
    let verb = |v: &[u8]| starts_with_ic(line, v);
    if verb(b"PASS") || verb(b"AUTH") || verb(b"APOP") || verb(b"OPER") {
        return true;
    }
    let has = |n: &[u8]| line.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    if has(b"authorization") || has(b" LOGIN") || has(b" AUTHENTICATE") || has(b"<auth") {
        return true;
    }
    // An LDAP bind request still being received.
    matches!(ldap_op_prefix(unit), Some(0x60))
}

/// protocolOp tag of an LDAP message whose header has arrived.
fn ldap_op_prefix(b: &[u8]) -> Option<u8> {
    let (tag, h, _) = ber_header(b).ok()??;
    if tag != 0x30 {
        return None;
    }
    let rest = b.get(h..)?;
    let (itag, ih, ilen) = ber_header(rest).ok()??;
    if itag != 0x02 {
        return None;
    }
    rest.get(ih + ilen).copied()
}

/// IMAP literal announced at the end of a line: `{n}` or `{n+}`.
fn imap_literal(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&c| c == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn xml_attr<'a>(unit: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let pos = unit
        .windows(name.len() + 1)
        .position(|w| &w[..name.len()] == name && w[name.len()] == b'=')?;
    let rest = &unit[pos + name.len() + 1..];
    let quote = *rest.first()?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let rest = &rest[1..];
    let end = rest.iter().position(|&c| c == quote)?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Dir = Dir::ToServer;
    const S: Dir = Dir::ToClient;

    /// Minimal TLS 1.2 ClientHello record (content is irrelevant here).
    const CH: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8,
        9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
        32, 0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00,
    ];
    const SH: &[u8] = &[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00];
    const ALERT: &[u8] = &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];

    #[derive(Debug, PartialEq)]
    struct Outcome {
        facts: PreambleFacts,
        /// Absolute stream offset where each direction switched to TLS.
        switch_at: [Option<usize>; 2],
    }

    /// Feeds like a per-direction caller: once a direction reports
    /// `tls_starts`, its later bytes go to TLS and are not fed again.
    fn drive(port: u16, script: &[(Dir, &[u8], FrameNo)], piece: usize) -> Outcome {
        let mut p = Preamble::new(port);
        let mut pos = [0usize; 2];
        let mut switch_at = [None; 2];
        for &(dir, data, frame) in script {
            let d = dir.index();
            for c in data.chunks(piece.max(1)) {
                if switch_at[d].is_none() {
                    let f = p.feed(dir, c, frame, 0);
                    assert!(f.consumed <= c.len());
                    if f.tls_starts {
                        switch_at[d] = Some(pos[d] + f.consumed);
                    } else {
                        assert_eq!(f.consumed, c.len(), "cleartext must be consumed whole");
                    }
                }
                pos[d] += c.len();
            }
            for st in &p.dirs {
                assert!(st.unit.len() <= UNIT_CAP && st.head.len() <= HEAD_LEN);
            }
        }
        Outcome {
            facts: p.facts().clone(),
            switch_at,
        }
    }

    /// Runs the script whole and split at every byte (and a few other
    /// sizes); all runs must agree.
    fn check(port: u16, script: &[(Dir, &[u8], FrameNo)]) -> Outcome {
        let whole = drive(port, script, usize::MAX);
        for piece in [1, 2, 3, 5, 7, 64] {
            assert_eq!(drive(port, script, piece), whole, "piece size {piece}");
        }
        whole
    }

    fn stream_len(script: &[(Dir, &[u8], FrameNo)], dir: Dir, upto_frame: FrameNo) -> usize {
        script
            .iter()
            .filter(|(d, _, f)| *d == dir && *f < upto_frame)
            .map(|(_, b, _)| b.len())
            .sum()
    }

    fn assert_no_secret(o: &Outcome, secrets: &[&str]) {
        let dump = format!("{:?}", o.facts);
        for s in secrets {
            assert!(!dump.contains(s), "secret {s:?} leaked into {dump}");
        }
    }

    fn mechs(o: &Outcome) -> Vec<(AppProtocol, &str, FrameNo)> {
        o.facts
            .credentials
            .iter()
            .map(|c| (c.protocol, c.mechanism.as_str(), c.frame))
            .collect()
    }

    fn starttls(o: &Outcome) -> &StartTls {
        o.facts.starttls.as_ref().expect("starttls recorded")
    }

    // -- detection ----------------------------------------------------------

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
        assert!(!looks_like_tls(&[0x16, 0x03, 0x01, 0x00, 0x00])); // empty record
        assert!(!looks_like_tls(&[0x16, 0x03, 0x01, 0xff, 0xff])); // too long
        assert!(!looks_like_tls(&[0x19, 0x03, 0x01, 0x00, 0x10]));
        assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_tls(b"SSH-2.0-x"));
        assert!(!looks_like_tls(&PG_SSL_REQUEST));
        assert!(!looks_like_tls(&[0x30, 0x1d, 0x02, 0x01, 0x01]));
        assert!(!looks_like_tls("é".as_bytes()));
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_bytes(b"GET /\r\n\t", 64), "GET /\\r\\n\\t");
        assert_eq!(
            escape_bytes(&[0x16, 0x03, 0xff, b'a'], 64),
            "\\x16\\x03\\xffa"
        );
        assert_eq!(escape_bytes(b"a\\b", 64), "a\\\\b");
        assert_eq!(escape_bytes(b"abcdef", 3), "abc");
        assert_eq!(escape_bytes(b"", 3), "");
        assert_eq!(escape_bytes(&[0u8; 100], 64).len(), 64 * 4);
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
            (&PG_SSL_REQUEST, 0, Postgres),
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

    // -- STARTTLS -------------------------------------------------------------

    #[test]
    fn smtp_starttls_ok() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 mx.example ESMTP Postfix\r\n", 4),
            (C, b"EHLO me.example\r\n", 6),
            (S, b"250-mx.example\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n", 8),
            (C, b"STARTTLS\r\n", 10),
            (S, b"220 2.0.0 Ready to start TLS\r\n", 12),
            (C, CH, 14),
            (S, SH, 15),
        ];
        let o = check(25, script);
        let s = starttls(&o);
        assert_eq!(s.protocol, AppProtocol::Smtp);
        assert_eq!(s.result, StartTlsResult::Ok);
        assert_eq!((s.command_frame, s.response_frame), (10, Some(12)));
        assert_eq!(s.response.as_deref(), Some("220 2.0.0 Ready to start TLS"));
        assert_eq!(o.facts.via, Some(Via::StartTls(AppProtocol::Smtp)));
        assert_eq!(o.facts.client_protocol, Some(AppProtocol::Smtp));
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Smtp));
        assert_eq!(
            o.switch_at,
            [
                Some(stream_len(script, C, 14)),
                Some(stream_len(script, S, 15))
            ]
        );
        assert_eq!(
            o.facts.client_first_bytes,
            Some(("EHLO me.example\\r\\nSTARTTLS\\r\\n".to_string(), 6))
        );
        assert!(o.facts.credentials.is_empty());
    }

    #[test]
    fn smtp_starttls_answer_behind_pipelined_replies() {
        // A client that pipelines EHLO and STARTTLS: the 250 reply is not the answer.
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 mx ESMTP\r\n", 1),
            (C, b"EHLO a\r\nSTARTTLS\r\n", 2),
            (S, b"250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n", 3),
            (C, CH, 4),
        ];
        let o = check(25, script);
        assert_eq!(starttls(&o).result, StartTlsResult::Ok);
        assert_eq!(o.switch_at, [Some(18), Some(14 + 36)]);
    }

    #[test]
    fn smtp_starttls_refused_then_cleartext_auth() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 mx ESMTP\r\n", 1),
            (C, b"EHLO a\r\n", 2),
            (S, b"250 mx\r\n", 3),
            (C, b"STARTTLS\r\n", 4),
            (
                S,
                b"454 4.7.0 TLS not available due to local problem\r\n",
                5,
            ),
            (C, b"AUTH LOGIN\r\n", 6),
            (S, b"334 VXNlcm5hbWU6\r\n", 7),
            (C, b"Ym9i\r\n", 8),
            (S, b"334 UGFzc3dvcmQ6\r\n", 9),
            (C, b"c3VwZXJzZWNyZXQ=\r\n", 10),
            (S, b"235 ok\r\n", 11),
        ];
        let o = check(587, script);
        let s = starttls(&o);
        assert_eq!(s.result, StartTlsResult::Refused);
        assert_eq!(s.response_frame, Some(5));
        assert_eq!(o.facts.via, None);
        assert_eq!(o.switch_at, [None, None]);
        assert_eq!(mechs(&o), vec![(AppProtocol::Smtp, "AUTH LOGIN", 6)]);
        assert_no_secret(&o, &["c3VwZXJzZWNyZXQ", "supersecret", "Ym9i"]);
    }

    #[test]
    fn imap_starttls_ok_and_refused() {
        let ok: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n", 1),
            (C, b"a1 CAPABILITY\r\n", 2),
            (S, b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n", 3),
            (C, b"a2 STARTTLS\r\n", 4),
            (S, b"* NOTE hi\r\na2 OK Begin TLS negotiation now\r\n", 5),
            (C, CH, 6),
        ];
        let o = check(143, ok);
        let s = starttls(&o);
        assert_eq!(
            (s.protocol, s.result),
            (AppProtocol::Imap, StartTlsResult::Ok)
        );
        assert_eq!(
            s.response.as_deref(),
            Some("a2 OK Begin TLS negotiation now")
        );
        assert_eq!(o.switch_at[1], Some(stream_len(ok, S, 6)));
        assert_eq!(o.switch_at[0], Some(stream_len(ok, C, 6)));
        for answer in [&b"a2 NO not now\r\n"[..], b"a2 BAD unknown command\r\n"] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (S, b"* OK ready\r\n", 1),
                (C, b"a2 STARTTLS\r\n", 2),
                (S, answer, 3),
                (C, b"a3 LOGIN bob hunter2\r\n", 4),
            ];
            let o = check(143, script);
            assert_eq!(starttls(&o).result, StartTlsResult::Refused);
            assert_eq!(o.switch_at, [None, None]);
            assert_eq!(mechs(&o), vec![(AppProtocol::Imap, "LOGIN", 4)]);
            assert_no_secret(&o, &["hunter2"]);
        }
    }

    #[test]
    fn pop3_stls_ok_and_refused() {
        for (answer, result) in [
            (&b"+OK Begin TLS\r\n"[..], StartTlsResult::Ok),
            (b"-ERR not supported\r\n", StartTlsResult::Refused),
        ] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (S, b"+OK POP3 ready\r\n", 1),
                (C, b"CAPA\r\n", 2),
                (S, b"+OK\r\nSTLS\r\nUSER\r\n.\r\n", 3),
                (C, b"STLS\r\n", 4),
                (S, answer, 5),
                (C, CH, 6),
            ];
            let o = check(110, script);
            let s = starttls(&o);
            assert_eq!((s.protocol, s.result), (AppProtocol::Pop3, result));
            assert_eq!(s.response_frame, Some(5));
            let ok = result == StartTlsResult::Ok;
            assert_eq!(o.switch_at[1].is_some(), ok);
            // Even after a refusal a ClientHello is not mistaken for text,
            // but it is not sniffed for either: only an accepted upgrade switches.
            assert_eq!(o.switch_at[0], ok.then_some(12));
        }
    }

    #[test]
    fn ftp_auth_tls_ok_and_refused() {
        for (answer, result) in [
            (
                &b"234 Proceed with negotiation.\r\n"[..],
                StartTlsResult::Ok,
            ),
            (
                b"504 Security mechanism not understood\r\n",
                StartTlsResult::Refused,
            ),
        ] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (S, b"220 (vsFTPd 3.0.5)\r\n", 1),
                (C, b"FEAT\r\n", 2),
                (S, b"211-Features:\r\n AUTH TLS\r\n PBSZ\r\n211 End\r\n", 3),
                (C, b"AUTH TLS\r\n", 4),
                (S, answer, 5),
                (C, CH, 6),
            ];
            let o = check(21, script);
            let s = starttls(&o);
            assert_eq!((s.protocol, s.result), (AppProtocol::Ftp, result));
            assert_eq!(o.switch_at[1].is_some(), result == StartTlsResult::Ok);
            assert_eq!(o.facts.server_protocol, Some(AppProtocol::Ftp));
        }
    }

    #[test]
    fn xmpp_starttls_ok_and_failure() {
        for (answer, result) in [
            (
                &b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"[..],
                StartTlsResult::Ok,
            ),
            (
                b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>",
                StartTlsResult::Refused,
            ),
        ] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (C, b"<?xml version='1.0'?><stream:stream to='x' xmlns='jabber:client' version='1.0'>", 1),
                (S, b"<?xml version='1.0'?><stream:stream from='x' id='1' version='1.0'>", 2),
                (S, b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>", 3),
                (C, b"\n<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", 4),
                (S, answer, 5),
                (C, CH, 6),
            ];
            let o = check(5222, script);
            let s = starttls(&o);
            assert_eq!((s.protocol, s.result), (AppProtocol::Xmpp, result));
            assert_eq!(o.facts.client_protocol, Some(AppProtocol::Xmpp));
            assert_eq!(o.facts.server_protocol, Some(AppProtocol::Xmpp));
            if result == StartTlsResult::Ok {
                assert_eq!(o.switch_at[1], Some(stream_len(script, S, 6)));
                assert_eq!(o.switch_at[0], Some(stream_len(script, C, 6)));
            } else {
                assert_eq!(o.switch_at, [None, None]);
            }
        }
    }

    fn ldap_ext_response(code: u8) -> Vec<u8> {
        vec![
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, code, 0x04, 0x00, 0x04, 0x00,
        ]
    }

    fn ldap_starttls_request() -> Vec<u8> {
        let mut v = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
        v.extend_from_slice(LDAP_STARTTLS_OID);
        v
    }

    #[test]
    fn ldap_starttls_ok_and_refused() {
        for (code, result) in [(0, StartTlsResult::Ok), (2, StartTlsResult::Refused)] {
            let req = ldap_starttls_request();
            let resp = ldap_ext_response(code);
            let mut server = resp.clone();
            server.extend_from_slice(SH); // answer and TLS in one segment
            let script: &[(Dir, &[u8], FrameNo)] = &[(C, &req, 4), (S, &server, 5), (C, CH, 6)];
            let o = check(389, script);
            let s = starttls(&o);
            assert_eq!((s.protocol, s.result), (AppProtocol::Ldap, result));
            assert_eq!(o.facts.client_protocol, Some(AppProtocol::Ldap));
            if code == 0 {
                assert_eq!(o.switch_at, [Some(req.len()), Some(resp.len())]);
                assert_eq!(s.response.as_deref(), Some("extendedResponse resultCode=0"));
            } else {
                assert_eq!(o.switch_at, [None, None]);
            }
        }
    }

    #[test]
    fn postgres_sslrequest_ok_and_refused() {
        let ok: &[(Dir, &[u8], FrameNo)] = &[(C, &PG_SSL_REQUEST, 4), (S, b"S", 6), (C, CH, 8)];
        let o = check(5432, ok);
        let s = starttls(&o);
        assert_eq!(
            (s.protocol, s.result),
            (AppProtocol::Postgres, StartTlsResult::Ok)
        );
        assert_eq!(o.switch_at, [Some(8), Some(1)]);
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Postgres));
        assert_eq!(o.facts.via, Some(Via::StartTls(AppProtocol::Postgres)));

        let startup = [0, 0, 0, 0x0d, 0, 3, 0, 0, b'u', 0, b'x', 0, 0];
        let refused: &[(Dir, &[u8], FrameNo)] = &[
            (C, &PG_SSL_REQUEST, 4),
            (S, b"N", 6),
            (C, &startup, 8),
            (S, b"R\x00\x00\x00\x08\x00\x00\x00\x03", 9),
        ];
        let o = check(5432, refused);
        assert_eq!(starttls(&o).result, StartTlsResult::Refused);
        assert_eq!(o.switch_at, [None, None]);

        // GSSENCRequest refused, then SSLRequest accepted.
        let gss: &[(Dir, &[u8], FrameNo)] = &[
            (C, &PG_GSSENC_REQUEST, 1),
            (S, b"N", 2),
            (C, &PG_SSL_REQUEST, 3),
            (S, b"S", 4),
            (C, CH, 5),
        ];
        let o = check(5432, gss);
        assert_eq!(starttls(&o).result, StartTlsResult::Ok);
        assert_eq!(o.switch_at, [Some(16), Some(2)]);
    }

    #[test]
    fn irc_starttls_ok_and_refused() {
        for (answer, result) in [
            (
                &b":irc.example 670 bob :STARTTLS successful, go ahead\r\n"[..],
                StartTlsResult::Ok,
            ),
            (
                b":irc.example 691 bob :STARTTLS failed\r\n",
                StartTlsResult::Refused,
            ),
        ] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (C, b"STARTTLS\r\n", 1),
                (
                    S,
                    b":irc.example NOTICE * :*** Looking up your hostname\r\n",
                    2,
                ),
                (S, answer, 3),
                (C, CH, 4),
            ];
            let o = check(6667, script);
            let s = starttls(&o);
            assert_eq!((s.protocol, s.result), (AppProtocol::Irc, result));
            assert_eq!(o.facts.server_protocol, Some(AppProtocol::Irc));
            assert_eq!(o.switch_at[1].is_some(), result == StartTlsResult::Ok);
        }
    }

    #[test]
    fn one_sided_starttls_switches_on_client_tls() {
        // Only the client side was captured.
        let mut data = b"EHLO a\r\nSTARTTLS\r\n".to_vec();
        data.extend_from_slice(CH);
        let script: &[(Dir, &[u8], FrameNo)] = &[(C, &data, 3)];
        let o = check(25, script);
        assert_eq!(starttls(&o).result, StartTlsResult::Pending);
        assert_eq!(o.facts.via, Some(Via::StartTls(AppProtocol::Smtp)));
        assert_eq!(o.switch_at, [Some(18), None]);

        // The answer, fed late to the still-cleartext server side, completes it.
        let mut p = Preamble::new(25);
        assert!(!p.feed(S, b"220 mx ESMTP\r\n", 1, 0).tls_starts);
        let f = p.feed(C, &data, 3, 0);
        assert_eq!((f.consumed, f.tls_starts), (18, true));
        assert!(p.is_tls(C) && !p.is_tls(S));
        assert!(!p.feed(S, b"250 hi\r\n", 4, 0).tls_starts);
        let mut answer = b"220 go\r\n".to_vec();
        answer.extend_from_slice(SH);
        assert_eq!(
            p.feed(S, &answer, 5, 0),
            Feed {
                consumed: 8,
                tls_starts: true
            }
        );
        let s = p.facts().starttls.clone().unwrap();
        assert_eq!((s.result, s.response_frame), (StartTlsResult::Ok, Some(5)));
    }

    #[test]
    fn both_directions_switch_after_answer() {
        let mut p = Preamble::new(143);
        p.feed(S, b"* OK hi\r\n", 1, 0);
        p.feed(C, b"x STARTTLS\r\n", 2, 0);
        let f = p.feed(S, b"x OK go\r\n", 3, 0);
        assert_eq!((f.consumed, f.tls_starts), (9, true));
        assert!(p.is_tls(C) && p.is_tls(S));
        assert_eq!(
            p.feed(C, CH, 4, 0),
            Feed {
                consumed: 0,
                tls_starts: true
            }
        );
        assert_eq!(
            p.feed(S, SH, 5, 0),
            Feed {
                consumed: 0,
                tls_starts: true
            }
        );
    }

    // -- HTTP CONNECT ---------------------------------------------------------

    const CONNECT_HDRS: &[u8] = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic Ym9iOnMzY3IzdA==\r\n\r\n";

    #[test]
    fn connect_200_with_pipelined_client_hello() {
        let mut client = CONNECT_HDRS.to_vec();
        client.extend_from_slice(CH);
        let mut p = Preamble::new(3128);
        let f = p.feed(C, &client, 4, 0);
        assert_eq!((f.consumed, f.tls_starts), (CONNECT_HDRS.len(), true));

        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, &client, 4),
            (
                S,
                b"HTTP/1.1 200 Connection established\r\nProxy-Agent: x\r\n\r\n",
                5,
            ),
            (S, SH, 6),
        ];
        let o = check(3128, script);
        assert_eq!(o.switch_at, [Some(CONNECT_HDRS.len()), Some(55)]);
        let c = o.facts.connect.as_ref().unwrap();
        assert_eq!(c.target, "example.com:443");
        assert_eq!(
            (c.request_frame, c.status, c.response_frame),
            (4, Some(200), Some(5))
        );
        assert_eq!(c.reason.as_deref(), Some("Connection established"));
        assert_eq!(o.facts.via, Some(Via::HttpConnect));
        assert_eq!(o.facts.client_protocol, Some(AppProtocol::Http));
        assert_eq!(
            mechs(&o),
            vec![(AppProtocol::Http, "HTTP Proxy-Authorization Basic", 4)]
        );
        assert_no_secret(&o, &["Ym9iOnMzY3IzdA", "s3cr3t"]);
    }

    #[test]
    fn connect_200_then_client_hello() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, b"CONNECT 10.0.0.1:8443 HTTP/1.0\r\n\r\n", 1),
            (S, b"HTTP/1.0 200 OK\r\n\r\n", 2),
            (C, CH, 3),
        ];
        let o = check(8080, script);
        assert_eq!(o.switch_at, [Some(34), Some(19)]);
        assert_eq!(o.facts.via, Some(Via::HttpConnect));
    }

    #[test]
    fn connect_refused_403_and_407() {
        for (status, line) in [
            (403u16, &b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!"[..]),
            (407, b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n\r\n"),
        ] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (C, b"CONNECT blocked.example:443 HTTP/1.1\r\nHost: blocked.example:443\r\n\r\n", 1),
                (S, line, 2),
            ];
            let o = check(3128, script);
            let c = o.facts.connect.as_ref().unwrap();
            assert_eq!((c.status, c.response_frame), (Some(status), Some(2)));
            assert_eq!(c.target, "blocked.example:443");
            assert_eq!(o.switch_at, [None, None]);
            assert_eq!(o.facts.via, None);
        }
        let o = check(
            3128,
            &[
                (C, b"CONNECT a:443 HTTP/1.1\r\n\r\n", 1),
                (S, b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", 2),
            ],
        );
        assert_eq!(
            o.facts.connect.unwrap().reason.as_deref(),
            Some("Proxy Authentication Required")
        );
    }

    #[test]
    fn connect_407_then_retry_with_credentials() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, b"CONNECT a.example:443 HTTP/1.1\r\n\r\n", 1),
            (
                S,
                b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
                2,
            ),
            (C, CONNECT_HDRS, 3),
            (
                S,
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
                4,
            ),
            (C, CH, 5),
        ];
        let o = check(3128, script);
        let c = o.facts.connect.as_ref().unwrap();
        assert_eq!(
            (c.target.as_str(), c.status),
            ("example.com:443", Some(200))
        );
        assert_eq!(o.switch_at[0], Some(stream_len(script, C, 5)));
        assert_eq!(o.facts.credentials.len(), 1);
    }

    #[test]
    fn connect_target_userinfo_is_dropped() {
        let o = check(
            3128,
            &[(C, b"CONNECT bob:pw1@h.example:443 HTTP/1.1\r\n\r\n", 1)],
        );
        assert_eq!(o.facts.connect.as_ref().unwrap().target, "h.example:443");
        assert_eq!(mechs(&o), vec![(AppProtocol::Http, "HTTP userinfo", 1)]);
        assert_eq!(o.facts.client_first_bytes, Some(("CONNECT".to_string(), 1)));
        assert_no_secret(&o, &["pw1"]);
    }

    // -- credentials ----------------------------------------------------------

    #[test]
    fn smtp_auth_mechanisms() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 mx ESMTP\r\n", 1),
            (C, b"EHLO a\r\n", 2),
            (S, b"250 AUTH PLAIN LOGIN CRAM-MD5\r\n", 3),
            (C, b"AUTH PLAIN AGJvYgBodW50ZXIy\r\n", 4),
            (S, b"535 no\r\n", 5),
            (C, b"AUTH CRAM-MD5\r\n", 6),
            (S, b"334 PDEyMzQ+\r\n", 7),
            (C, b"Ym9iIGRpZ2VzdA==\r\n", 8),
            (S, b"535 no\r\n", 9),
            (C, b"AUTH EXTERNAL =\r\n", 10),
            (C, b"AUTH hunter2\r\n", 11),
            (C, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", 12),
            (C, b"AUTH PLAIN in the body is not a command\r\n.\r\n", 13),
            (C, b"STARTTLS\r\n", 14),
        ];
        let o = check(25, script);
        assert_eq!(
            mechs(&o),
            vec![
                (AppProtocol::Smtp, "AUTH PLAIN", 4),
                (AppProtocol::Smtp, "AUTH CRAM-MD5", 6)
            ]
        );
        assert_no_secret(&o, &["AGJvYgBodW50ZXIy", "hunter2", "Ym9iIGRpZ2VzdA"]);
        assert_eq!(starttls(&o).result, StartTlsResult::Pending);
    }

    #[test]
    fn imap_credentials() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"* OK ready\r\n", 1),
            (C, b"a1 login bob {7}\r\n", 2),
            (C, b"hunter2 x STARTTLS\r\n", 3),
            (C, b"a2 AUTHENTICATE PLAIN AGJvYgBodW50ZXIy\r\n", 4),
            (C, b"a3 AUTHENTICATE GSSAPI\r\n", 5),
        ];
        let o = check(143, script);
        assert_eq!(
            mechs(&o),
            vec![
                (AppProtocol::Imap, "LOGIN", 2),
                (AppProtocol::Imap, "AUTHENTICATE PLAIN", 4)
            ]
        );
        // The literal is skipped, so its content is not taken for a command.
        assert!(o.facts.starttls.is_none());
        assert_no_secret(&o, &["hunter2", "AGJvYgBodW50ZXIy"]);
    }

    #[test]
    fn pop3_and_ftp_credentials() {
        let pop: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"+OK ready <1.2@h>\r\n", 1),
            (C, b"USER bob\r\n", 2),
            (S, b"+OK\r\n", 3),
            (C, b"PASS hunter2\r\n", 4),
            (S, b"-ERR\r\n", 5),
            (C, b"APOP bob c4c9334bac560ecc979e58001b3e22fb\r\n", 6),
            (C, b"AUTH PLAIN\r\n", 7),
        ];
        let o = check(110, pop);
        assert_eq!(
            mechs(&o),
            vec![
                (AppProtocol::Pop3, "USER/PASS", 4),
                (AppProtocol::Pop3, "APOP", 6),
                (AppProtocol::Pop3, "AUTH PLAIN", 7)
            ]
        );
        assert_no_secret(&o, &["hunter2", "c4c9334bac"]);

        let ftp: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 FTP ready\r\n", 1),
            (C, b"USER bob\r\n", 2),
            (S, b"331 pw\r\n", 3),
            (C, b"PASS hunter2\r\n", 4),
            (S, b"230 ok\r\n", 5),
        ];
        let o = check(21, ftp);
        assert_eq!(mechs(&o), vec![(AppProtocol::Ftp, "USER/PASS", 4)]);
        assert_no_secret(&o, &["hunter2"]);

        let anon: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 FTP ready\r\n", 1),
            (C, b"USER anonymous\r\nPASS me@example.org\r\n", 2),
        ];
        assert!(check(21, anon).facts.credentials.is_empty());
    }

    #[test]
    fn http_basic_credentials() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (
                C,
                b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 22\r\n\r\nAuthorization: Basic x",
                1,
            ),
            (
                C,
                b"GET /b HTTP/1.1\r\nauthorization:  basic Ym9iOmh1bnRlcjI=\r\n\r\n",
                2,
            ),
            (S, b"HTTP/1.1 200 OK\r\n\r\n", 3),
        ];
        let o = check(80, script);
        assert_eq!(mechs(&o), vec![(AppProtocol::Http, "HTTP Basic", 2)]);
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Http));
        assert_no_secret(&o, &["Ym9iOmh1bnRlcjI", "hunter2"]);
    }

    fn ldap_bind(pw: &[u8]) -> Vec<u8> {
        let name = b"cn=admin";
        let mut op = vec![0x02, 0x01, 0x03, 0x04, name.len() as u8];
        op.extend_from_slice(name);
        op.extend_from_slice(&[0x80, pw.len() as u8]);
        op.extend_from_slice(pw);
        let mut msg = vec![0x02, 0x01, 0x01, 0x60, op.len() as u8];
        msg.extend_from_slice(&op);
        let mut out = vec![0x30, msg.len() as u8];
        out.extend_from_slice(&msg);
        out
    }

    #[test]
    fn ldap_simple_bind() {
        let bind = ldap_bind(b"hunter2");
        let o = check(389, &[(C, &bind, 3)]);
        assert_eq!(mechs(&o), vec![(AppProtocol::Ldap, "simple bind", 3)]);
        assert_no_secret(&o, &["hunter2"]);
        // Anonymous bind carries no secret.
        let anon = ldap_bind(b"");
        assert!(check(389, &[(C, &anon, 3)]).facts.credentials.is_empty());
        // Long-form lengths and a large message to skip before it.
        let mut big = vec![
            0x30, 0x82, 0x13, 0x88, 0x02, 0x01, 0x05, 0x63, 0x82, 0x13, 0x83,
        ];
        big.resize(4 + 0x1388, b'a');
        big.extend_from_slice(&bind);
        let o = check(389, &[(C, &big, 3)]);
        assert_eq!(o.facts.credentials.len(), 1);
    }

    #[test]
    fn irc_and_xmpp_credentials() {
        let irc: &[(Dir, &[u8], FrameNo)] = &[
            (C, b"PASS hunter2\r\nNICK bob\r\nUSER bob 0 * :Bob\r\n", 1),
            (
                C,
                b"AUTHENTICATE PLAIN\r\nAUTHENTICATE Ym9iAGJvYgBodW50ZXIy\r\n",
                2,
            ),
        ];
        let o = check(6667, irc);
        assert_eq!(
            mechs(&o),
            vec![
                (AppProtocol::Irc, "PASS", 1),
                (AppProtocol::Irc, "AUTHENTICATE PLAIN", 2)
            ]
        );
        assert_no_secret(&o, &["hunter2", "Ym9iAGJvYgBodW50ZXIy"]);

        let xmpp: &[(Dir, &[u8], FrameNo)] = &[
            (C, b"<stream:stream to='x'>", 1),
            (C, b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGJvYgBodW50ZXIy</auth>", 2),
        ];
        let o = check(5222, xmpp);
        assert_eq!(mechs(&o), vec![(AppProtocol::Xmpp, "SASL PLAIN", 2)]);
        assert_no_secret(&o, &["AGJvYgBodW50ZXIy"]);
    }

    // -- plaintext / TLS mismatches -------------------------------------------

    #[test]
    fn direct_tls() {
        let mut p = Preamble::new(443);
        assert_eq!(
            p.feed(C, CH, 1, 0),
            Feed {
                consumed: 0,
                tls_starts: true
            }
        );
        assert_eq!(p.facts().client_protocol, None);
        let o = check(443, &[(C, CH, 1), (S, SH, 2)]);
        assert_eq!(o.switch_at, [Some(0), Some(0)]);
        assert!(o.facts.starttls.is_none() && o.facts.via.is_none());
        let sslv2 = [0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15];
        assert_eq!(check(443, &[(C, &sslv2, 1)]).switch_at, [Some(0), None]);
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

    #[test]
    fn http_to_tls_port() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 4),
            (S, ALERT, 5),
        ];
        let o = check(443, script);
        assert_eq!(o.facts.client_protocol, Some(AppProtocol::Http));
        assert_eq!(
            o.facts.client_first_bytes,
            Some((
                "GET / HTTP/1.1\\r\\nHost: example.com\\r\\n\\r\\n".to_string(),
                4
            ))
        );
        // The server's alert goes to the TLS parser so its reaction is visible.
        assert_eq!(o.switch_at, [None, Some(0)]);
        assert_eq!(o.facts.server_protocol, None);
    }

    #[test]
    fn ssh_on_tls_port() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n", 4),
            (C, b"SSH-2.0-OpenSSH_9.6\r\n", 6),
            (C, &[0, 0, 5, 0xdc, 4, 20, 1, 2, 3, 0xff, 0xfe], 7),
        ];
        let o = check(443, script);
        assert_eq!(o.facts.client_protocol, Some(AppProtocol::Ssh));
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Ssh));
        assert_eq!(o.switch_at, [None, None]);
    }

    #[test]
    fn smtp_banner_answering_client_hello() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (C, CH, 4),
            (S, b"220 poczta.example.pl ESMTP\r\n", 5),
            (S, b"500 5.5.1 command unrecognized\r\n", 6),
        ];
        let o = check(465, script);
        assert_eq!(o.switch_at, [Some(0), None]);
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Smtp));
        assert_eq!(
            o.facts.server_first_bytes,
            Some((
                "220 poczta.example.pl ESMTP\\r\\n500 5.5.1 command unrecognized\\r\\n".to_string(),
                5
            ))
        );
        // Only cleartext is evidence: a ClientHello is not "first bytes".
        assert_eq!(o.facts.client_protocol, None);
        assert_eq!(o.facts.client_first_bytes, None);

        let http_400: &[(Dir, &[u8], FrameNo)] = &[
            (C, CH, 1),
            (S, b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n", 2),
        ];
        let o = check(80, http_400);
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Http));
        assert_eq!(o.switch_at, [Some(0), None]);
    }

    // -- robustness -----------------------------------------------------------

    #[test]
    fn overlong_line_stops_parsing() {
        let mut p = Preamble::new(25);
        let long = vec![b'a'; UNIT_CAP * 3];
        assert_eq!(p.feed(C, &long, 1, 0).consumed, long.len());
        assert_eq!(p.dirs[0].mode, Mode::Ignore);
        assert!(p.dirs[0].unit.len() <= UNIT_CAP);
        // Nothing after that is interpreted.
        p.feed(C, b"\r\nAUTH PLAIN x\r\n", 2, 0);
        assert!(p.facts().credentials.is_empty());
        assert_eq!(
            p.facts().client_first_bytes.as_ref().unwrap().0.len(),
            HEAD_LEN
        );
    }

    #[test]
    fn parse_budget_bounds_plain_sessions() {
        let mut p = Preamble::new(80);
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for _ in 0..(PARSE_BUDGET / req.len() + 10) {
            p.feed(C, req, 1, 0);
        }
        assert_eq!(p.dirs[0].mode, Mode::Ignore);
        p.feed(
            C,
            b"GET / HTTP/1.1\r\nAuthorization: Basic eA==\r\n\r\n",
            2,
            0,
        );
        assert!(p.facts().credentials.is_empty());
    }

    #[test]
    fn hostile_input_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds: &[&[u8]] = &[
            b"CONNECT ",
            b"HTTP/1.1 200 x\r\n\r\n",
            b"a STARTTLS\r\n",
            b"STARTTLS\r\n",
            b"220 x\r\n",
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x82],
            &[0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f],
            &[0xff, 0xff, 0xff, 0xff],
            b"<starttls xmlns='xmpp-tls'/>",
            b"{99999999999}\r\n",
            b"BDAT 99999999999999999999999\r\n",
            b"\r\n",
            &[0x16, 0x03],
        ];
        for port in [25, 80, 143, 389, 5432, 5222, 6667, 21, 110, 443] {
            for _ in 0..40 {
                let mut p = Preamble::new(port);
                for _ in 0..60 {
                    let dir = if next() % 2 == 0 { C } else { S };
                    let mut chunk = Vec::new();
                    for _ in 0..(next() % 4) {
                        chunk.extend_from_slice(seeds[(next() % seeds.len() as u64) as usize]);
                    }
                    for _ in 0..(next() % 40) {
                        chunk.push(next() as u8);
                    }
                    let f = p.feed(dir, &chunk, 1, 0);
                    assert!(f.consumed <= chunk.len());
                    assert!(f.tls_starts || f.consumed == chunk.len());
                    for st in &p.dirs {
                        assert!(st.unit.len() <= UNIT_CAP);
                    }
                }
            }
        }
    }

    // -- real captures ----------------------------------------------------------

    mod captures {
        use super::*;
        use etherparse::{SlicedPacket, TransportSlice};
        use std::path::Path;

        const ROOT: &str = "/work/shared/captures";

        /// Payloads of the first TCP connection to `server_port`, as
        /// (dir, payload, frame), in capture order; plain retransmissions dropped.
        fn tcp_payloads(rel: &str, server_port: u16) -> Option<Vec<(Dir, Vec<u8>, FrameNo)>> {
            let path = Path::new(ROOT).join(rel);
            let bytes = std::fs::read(&path).ok()?;
            let (_, cap) = pcap_parser::parse_pcap(&bytes).ok()?;
            let linktype = cap.header.network.0;
            let mut client_port = None;
            let mut next_seq: [Option<u32>; 2] = [None; 2];
            let mut out = Vec::new();
            for (i, block) in cap.blocks.iter().enumerate() {
                let data = block.data;
                let sliced = match linktype {
                    1 => SlicedPacket::from_ethernet(data),
                    0 => SlicedPacket::from_ip(data.get(4..)?),
                    113 => SlicedPacket::from_linux_sll(data),
                    101 => SlicedPacket::from_ip(data),
                    _ => return None,
                };
                let Ok(pkt) = sliced else { continue };
                let Some(TransportSlice::Tcp(tcp)) = pkt.transport else {
                    continue;
                };
                let (sp, dp) = (tcp.source_port(), tcp.destination_port());
                let dir = if dp == server_port && client_port.is_none_or(|c| c == sp) {
                    client_port = Some(sp);
                    Dir::ToServer
                } else if sp == server_port && client_port == Some(dp) {
                    Dir::ToClient
                } else {
                    continue;
                };
                let payload = tcp.payload();
                if payload.is_empty() {
                    continue;
                }
                let seq = tcp.sequence_number();
                let d = dir.index();
                if let Some(n) = next_seq[d] {
                    if (seq.wrapping_sub(n) as i32) < 0 {
                        continue;
                    }
                }
                next_seq[d] = Some(seq.wrapping_add(payload.len() as u32));
                out.push((dir, payload.to_vec(), i as FrameNo + 1));
            }
            Some(out)
        }

        struct Run {
            facts: PreambleFacts,
            streams: [Vec<u8>; 2],
            switch_at: [Option<usize>; 2],
        }

        fn run(rel: &str, port: u16) -> Option<Run> {
            let Some(pkts) = tcp_payloads(rel, port) else {
                eprintln!("skipping {rel}: capture not available");
                return None;
            };
            let script: Vec<(Dir, &[u8], FrameNo)> =
                pkts.iter().map(|(d, b, f)| (*d, &b[..], *f)).collect();
            let o = check(port, &script);
            let mut streams = [Vec::new(), Vec::new()];
            for (d, b, _) in &pkts {
                streams[d.index()].extend_from_slice(b);
            }
            Some(Run {
                facts: o.facts,
                streams,
                switch_at: o.switch_at,
            })
        }

        /// Offset of the first TLS handshake record in a stream.
        fn first_tls_record(s: &[u8]) -> Option<usize> {
            (0..s.len()).find(|&i| s[i] == 0x16 && looks_like_tls(&s[i..]))
        }

        fn assert_upgrade(rel: &str, port: u16, proto: AppProtocol) -> Option<Run> {
            let r = run(rel, port)?;
            let s = r.facts.starttls.as_ref().expect("starttls");
            assert_eq!((s.protocol, s.result), (proto, StartTlsResult::Ok), "{rel}");
            assert!(s.response_frame.unwrap() > s.command_frame);
            assert_eq!(r.facts.via, Some(Via::StartTls(proto)));
            for d in [C, S] {
                let st = &r.streams[d.index()];
                assert_eq!(r.switch_at[d.index()], first_tls_record(st), "{rel} {d:?}");
                assert!(r.switch_at[d.index()].is_some(), "{rel} {d:?}");
            }
            Some(r)
        }

        #[test]
        fn smtp() {
            let Some(r) = assert_upgrade(
                "suricata-verify/smtp-starttls-then-tls12.pcap",
                25,
                AppProtocol::Smtp,
            ) else {
                return;
            };
            assert_eq!(r.facts.client_protocol, Some(AppProtocol::Smtp));
            assert_eq!(r.facts.server_protocol, Some(AppProtocol::Smtp));
            assert!(r.facts.credentials.is_empty());
        }

        #[test]
        fn ldap() {
            assert_upgrade(
                "suricata-verify/ldap-starttls-ipv6.pcap",
                389,
                AppProtocol::Ldap,
            );
        }

        #[test]
        fn postgres() {
            let Some(r) = assert_upgrade(
                "suricata-verify/pgsql-sslrequest-then-tls12.pcap",
                5432,
                AppProtocol::Postgres,
            ) else {
                return;
            };
            assert_eq!(r.switch_at, [Some(8), Some(1)]);
        }

        #[test]
        fn imap() {
            assert_upgrade("zeek/imap-starttls.pcap", 143, AppProtocol::Imap);
        }

        #[test]
        fn pop3() {
            assert_upgrade(
                "zeek/pop3-stls-loopback-nulllink.pcap",
                110,
                AppProtocol::Pop3,
            );
        }

        #[test]
        fn ftp() {
            assert_upgrade("zeek/ftp-auth-tls.pcap", 21, AppProtocol::Ftp);
        }

        #[test]
        fn xmpp() {
            assert_upgrade("zeek/xmpp-starttls.pcap", 5222, AppProtocol::Xmpp);
        }

        #[test]
        fn irc() {
            assert_upgrade("zeek/irc-starttls-linux-sll.pcap", 6667, AppProtocol::Irc);
        }

        #[test]
        fn http_connect() {
            let Some(r) = run(
                "suricata-verify/http-connect-proxy8080-then-tls12.pcap",
                8080,
            ) else {
                return;
            };
            let c = r.facts.connect.as_ref().expect("connect");
            assert_eq!(c.target, "qagpublic.qg1.apps.qualys.com:443");
            assert_eq!(c.status, Some(200));
            assert_eq!(r.facts.via, Some(Via::HttpConnect));
            for d in [C, S] {
                let st = &r.streams[d.index()];
                assert_eq!(r.switch_at[d.index()], first_tls_record(st));
                assert!(r.switch_at[d.index()].is_some());
            }
        }

        #[test]
        fn smtp_banner_answers_client_hello() {
            let Some(r) = run(
                "suricata-verify/smtps-465-clienthello-answered-by-plaintext-smtp-banner.pcap",
                465,
            ) else {
                return;
            };
            assert_eq!(r.switch_at[0], Some(0));
            assert_eq!(r.switch_at[1], None);
            assert_eq!(r.facts.server_protocol, Some(AppProtocol::Smtp));
            assert!(r.facts.server_first_bytes.unwrap().0.starts_with("220 "));
        }

        #[test]
        fn ssh_and_http_on_443() {
            if let Some(r) = run("suricata-verify/ssh-on-port-443.pcap", 443) {
                assert_eq!(r.facts.client_protocol, Some(AppProtocol::Ssh));
                assert_eq!(r.facts.server_protocol, Some(AppProtocol::Ssh));
                assert_eq!(r.switch_at, [None, None]);
            }
            if let Some(r) = run("suricata-verify/plaintext-http-on-port-443.pcap", 443) {
                assert_eq!(r.facts.client_protocol, Some(AppProtocol::Http));
                assert_eq!(r.switch_at, [None, None]);
            }
        }
    }
}
