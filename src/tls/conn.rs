//! Per-connection TLS record layer and handshake state machine.
//!
//! The flow stage hands us reassembled TCP bytes per direction; we frame records,
//! reassemble handshake messages, let tls-parser decode them and keep the facts a
//! troubleshooter needs. Nothing here trusts a length field: every claimed length is
//! checked against caps and against the bytes that are actually there.

use std::mem;

use serde::Serialize;
use tls_parser::nom;
use tls_parser::{
    ECParametersContent, SNIType, TlsCipherKx, TlsCipherSuite, TlsExtension, TlsMessageHandshake,
};

use crate::model::{Dir, FrameNo, TimestampUs};
use crate::tls::names::{self, is_tls13};
use crate::tls::types::{ClientHello, ServerHello};

/// Largest record we accept: 2^14 plaintext plus the 2048 bytes of expansion
/// RFC 5246 allows for ciphertext. Anything claiming more is not a sane TLS stream.
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Cap on one handshake message (and so on the per-direction reassembly buffer).
/// Real Certificate messages of over 300 KB exist (Zeek's fragmented-handshake trace).
pub const MAX_HANDSHAKE_LEN: usize = 512 * 1024;
/// How many certificates of a chain we keep, and the size cap of each.
pub const MAX_CERTS: usize = 10;
/// A certificate always sits inside one Certificate message, which is already capped at
/// `MAX_HANDSHAKE_LEN`, so a smaller per-certificate cap would only drop real certificates
/// (Zeek's fragmented-handshake trace has a single 340 KB leaf, subject CN=Bro).
pub const MAX_CERT_LEN: usize = MAX_HANDSHAKE_LEN;
/// Heartbeat message type, payload_length and the minimum 16 bytes of padding (RFC 6520).
const HEARTBEAT_MIN_OVERHEAD: usize = 1 + 2 + 16;
/// Extension type of NSS's pre-standard "TLS 1.3 draft version" extension (two bytes:
/// the draft number), sent by TLS 1.3 clients before the 0x7fNN version codes existed.
const EXT_NSS_DRAFT_VERSION: u16 = 0xff02;
/// Bound on `events`; long sessions would otherwise grow it without limit.
pub const MAX_EVENTS: usize = 4096;
/// ApplicationData events recorded per direction; later ones are only counted.
pub const MAX_APP_DATA_EVENTS_PER_DIR: u64 = 16;
const MAX_MALFORMED: usize = 64;
const MAX_HISTORY: usize = 100;

/// ServerHello.random of a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3): SHA-256("HelloRetryRequest").
pub const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// Last handshake step seen on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeStage {
    #[default]
    None,
    ClientHello,
    HelloRetryRequest,
    ServerHello,
    EncryptedExtensions,
    /// TLS 1.3: the server's encrypted flight (EncryptedExtensions..Finished) was sent.
    ServerEncryptedFlight,
    Certificate,
    ServerKeyExchange,
    CertificateRequest,
    ServerHelloDone,
    ClientCertificate,
    ClientKeyExchange,
    CertificateVerify,
    ChangeCipherSpec,
    Finished,
    Established,
}

impl HandshakeStage {
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeStage::None => "none",
            HandshakeStage::ClientHello => "client_hello",
            HandshakeStage::HelloRetryRequest => "hello_retry_request",
            HandshakeStage::ServerHello => "server_hello",
            HandshakeStage::EncryptedExtensions => "encrypted_extensions",
            HandshakeStage::ServerEncryptedFlight => "server_encrypted_flight",
            HandshakeStage::Certificate => "certificate",
            HandshakeStage::ServerKeyExchange => "server_key_exchange",
            HandshakeStage::CertificateRequest => "certificate_request",
            HandshakeStage::ServerHelloDone => "server_hello_done",
            HandshakeStage::ClientCertificate => "client_certificate",
            HandshakeStage::ClientKeyExchange => "client_key_exchange",
            HandshakeStage::CertificateVerify => "certificate_verify",
            HandshakeStage::ChangeCipherSpec => "change_cipher_spec",
            HandshakeStage::Finished => "finished",
            HandshakeStage::Established => "established",
        }
    }
}

/// A handshake message type as on the wire (see `names::handshake_type_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct HandshakeType(pub u8);

impl HandshakeType {
    pub fn name(self) -> &'static str {
        names::handshake_type_name(self.0)
    }
}

/// What a record (or a plaintext handshake message) was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsEventKind {
    /// A plaintext handshake message; the value is the handshake type
    /// (see `names::handshake_type_name`). A TLS 1.3 HelloRetryRequest, which is a
    /// ServerHello on the wire, is reported as 6 (hello_retry_request).
    Handshake(HandshakeType),
    ChangeCipherSpec,
    Alert {
        level: u8,
        description: u8,
    },
    /// An alert whose content we cannot see: TLS <= 1.2 after the sender's
    /// ChangeCipherSpec (or not 2 bytes long), or a 19-byte TLS 1.3 record before
    /// the handshake completed.
    EncryptedAlert {
        len: u16,
    },
    ApplicationData {
        len: u16,
    },
    /// An encrypted handshake record: the Finished after a ChangeCipherSpec (TLS <= 1.2),
    /// or the encrypted flights of TLS 1.3.
    EncryptedHandshake {
        len: u16,
    },
    /// A heartbeat record. `payload_len_claimed` is 0 when the record is encrypted.
    Heartbeat {
        len: u16,
        payload_len_claimed: u16,
    },
    Malformed,
}

impl TlsEventKind {
    /// A plaintext heartbeat whose claimed payload does not fit in its record (Heartbleed).
    /// RFC 6520 section 4: type (1) + payload_length (2) + payload + at least 16 bytes of
    /// padding, so a request claiming more than `len - 19` bytes reads past its data. This is
    /// the test Zeek's heartbleed detection applies (its trace: record 16368, payload 16365).
    pub fn is_heartbleed(&self) -> bool {
        match *self {
            TlsEventKind::Heartbeat {
                len,
                payload_len_claimed,
            } => {
                payload_len_claimed > 0
                    && usize::from(payload_len_claimed) + HEARTBEAT_MIN_OVERHEAD > usize::from(len)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsEvent {
    pub dir: Dir,
    pub frame: FrameNo,
    pub ts_us: TimestampUs,
    pub kind: TlsEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Malformed {
    pub dir: Dir,
    pub frame: FrameNo,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Records,
    /// After a gap: skip bytes until something looks like a record header.
    Resync,
    /// Broken stream: nothing more is parsed in this direction.
    Stopped,
    /// SSLv2 was negotiated; its records carry nothing we analyse.
    Ignore,
}

#[derive(Debug, Default, Clone)]
struct DirState {
    mode: Mode,
    /// A gap hit this direction after the ServerHello of a TLS <= 1.2 handshake and
    /// before its ChangeCipherSpec was seen: the ChangeCipherSpec may have been lost.
    ccs_maybe_lost: bool,
    /// Bytes of an incomplete record (or, in Resync, up to 4 bytes of a possible header).
    rec_buf: Vec<u8>,
    /// Body bytes of an application-data record still to pass over: only its length
    /// matters, so its body is skipped instead of buffered.
    skip: usize,
    /// Body length of the application-data record being skipped.
    skip_len: usize,
    /// Bytes of an incomplete handshake message.
    hs_buf: Vec<u8>,
    /// Record version of the record in which the buffered handshake message started.
    hs_record_version: u16,
    records: u64,
    /// Sent ChangeCipherSpec.
    ccs: bool,
    /// Its handshake/alert records are encrypted from here on (TLS <= 1.2 after CCS).
    encrypted: bool,
    /// Sent its (encrypted) Finished.
    finished: bool,
    /// Sent a message that only a full handshake has (Certificate, ServerKeyExchange,
    /// ServerHelloDone, ClientKeyExchange).
    full_handshake: bool,
    app_data_events: u64,
}

/// Everything learned about the TLS layer of one connection.
#[derive(Debug, Clone, Default)]
pub struct TlsConn {
    /// The first ClientHello (fingerprints use the first one, as Suricata does).
    pub client_hello: Option<ClientHello>,
    pub server_hello: Option<ServerHello>,
    pub hello_retry_request: Option<ServerHello>,
    /// DER certificates of the server's first Certificate message (at most
    /// `MAX_CERTS`, each at most `MAX_CERT_LEN`; the chain is cut at the first oversized one).
    pub server_cert_der: Vec<Vec<u8>>,
    pub client_cert_der: Vec<Vec<u8>>,
    pub events: Vec<TlsEvent>,
    /// Zeek `ssl_history` letters (upper case client, lower case server).
    pub history: String,
    pub stage: HandshakeStage,
    pub established: bool,
    pub established_frame: Option<FrameNo>,
    pub established_ts: Option<TimestampUs>,
    pub resumed: bool,
    pub malformed: Vec<Malformed>,
    pub client_hello_count: u32,
    /// Application data records and bytes per direction, indexed by `Dir::index()`
    /// (counted even when no event is recorded for them).
    pub app_data_records: [u64; 2],
    pub app_data_bytes: [u64; 2],
    /// Events not recorded because `events` reached `MAX_EVENTS`.
    pub events_dropped: u64,
    dirs: [DirState; 2],
    /// Draft number from the first ClientHello's NSS draft-version extension (0xff02).
    nss_draft: Option<u8>,
}

/// Result of looking at the start of a record.
enum Framing {
    /// Not enough bytes yet to decide.
    NeedMore,
    /// A record of this total size (header included).
    Record {
        total: usize,
        sslv2: bool,
    },
    NotTls(String),
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be24(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at.checked_add(3)?)?;
    Some((usize::from(s[0]) << 16) | (usize::from(s[1]) << 8) | usize::from(s[2]))
}

fn hex_bytes(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn too_long_reason(typ: u8, len: usize) -> String {
    format!(
        "handshake message {} claims {len} bytes, more than the {MAX_HANDSHAKE_LEN} accepted",
        names::handshake_type_name(typ)
    )
}

fn nom_reason(e: &nom::Err<nom::error::Error<&[u8]>>) -> String {
    match e {
        nom::Err::Incomplete(_) => "a length field exceeds the message".to_string(),
        nom::Err::Error(e) | nom::Err::Failure(e) => format!("parse error {:?}", e.code),
    }
}

/// Record header of a (resynchronisation) candidate that could plausibly be TLS.
fn plausible_header(h: &[u8]) -> bool {
    match (h.first(), be16(h, 1), be16(h, 3)) {
        (Some(&ct), Some(ver), Some(len)) => {
            (20..=24).contains(&ct)
                && (0x0300..=0x0304).contains(&ver)
                && usize::from(len) <= MAX_RECORD_LEN
        }
        _ => false,
    }
}

fn history_letter(msg_type: u8) -> char {
    match msg_type {
        0 => 'H',
        1 => 'C',
        2 => 'S',
        3 => 'V',
        4 => 'T',
        5 => 'E',
        6 => 'J',
        8 => 'O',
        11 => 'X',
        12 => 'K',
        13 => 'R',
        14 => 'N',
        15 => 'Y',
        16 => 'G',
        20 => 'F',
        21 => 'W',
        22 => 'U',
        23 => 'A',
        24 => 'P',
        254 => 'M',
        _ => 'Z',
    }
}

/// One extension as framed on the wire.
struct RawExt<'a> {
    typ: u16,
    /// Type, length and data, as tls-parser's per-extension parsers want it.
    whole: &'a [u8],
    data: &'a [u8],
}

/// Frame an extensions block ourselves: tls-parser's list parsers stop silently at the
/// first bad length, and we need both the exact wire order and a reason when it breaks.
fn walk_extensions<'a>(msg: &str, mut data: &'a [u8], errs: &mut Vec<String>) -> Vec<RawExt<'a>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (Some(typ), Some(len)) = (be16(data, 0), be16(data, 2)) else {
            errs.push(format!(
                "{msg} extension header truncated ({} bytes left)",
                data.len()
            ));
            break;
        };
        let len = usize::from(len);
        let avail = data.len().saturating_sub(4);
        if len > avail {
            errs.push(format!(
                "{msg} extension 0x{typ:04x} ({}) claims {len} bytes but only {avail} remain",
                names::extension_name(typ)
            ));
            break;
        }
        let (whole, rest) = data.split_at(4 + len);
        out.push(RawExt {
            typ,
            whole,
            data: &whole[4..],
        });
        data = rest;
    }
    out
}

fn u16_list(data: &[u8]) -> Option<Vec<u16>> {
    if data.len() % 2 != 0 {
        return None;
    }
    Some(
        data.chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
    )
}

/// Groups of a ClientHello key_share (0x0033, or 0x0028 in early TLS 1.3 drafts).
fn client_key_share_groups(data: &[u8]) -> Option<Vec<u16>> {
    let list_len = usize::from(be16(data, 0)?);
    let mut list = data.get(2..2usize.checked_add(list_len)?)?;
    let mut groups = Vec::new();
    while !list.is_empty() {
        let g = be16(list, 0)?;
        let kx_len = usize::from(be16(list, 2)?);
        list = list.get(4usize.checked_add(kx_len)?..)?;
        groups.push(g);
    }
    Some(groups)
}

/// Parse a ClientHello body. Returns the hello (if the fixed part parsed) and the
/// problems found, each naming the message.
pub(crate) fn parse_client_hello(
    body: &[u8],
    record_version: u16,
) -> (Option<ClientHello>, Vec<String>) {
    let mut errs = Vec::new();
    let (rest, ch) = match tls_parser::parse_tls_handshake_client_hello(body) {
        Ok(v) => v,
        Err(e) => {
            errs.push(format!("ClientHello does not parse: {}", nom_reason(&e)));
            return (None, errs);
        }
    };
    let mut out = ClientHello {
        version: ch.version.0,
        record_version,
        sslv2_format: false,
        random: ch.random.to_vec(),
        session_id: ch.session_id.unwrap_or_default().to_vec(),
        ciphers: ch.ciphers.iter().map(|c| c.0).collect(),
        compression: ch.comp.iter().map(|c| c.0).collect(),
        ..Default::default()
    };
    if !rest.is_empty() {
        if ch.ext.is_none() {
            errs.push(format!(
                "ClientHello extensions length exceeds the message ({} bytes left)",
                rest.len()
            ));
        } else {
            errs.push(format!(
                "ClientHello has {} trailing bytes after its extensions",
                rest.len()
            ));
        }
    }
    let exts = walk_extensions("ClientHello", ch.ext.unwrap_or_default(), &mut errs);
    for ext in &exts {
        out.extensions.push(ext.typ);
        let bad = |what: &str| format!("ClientHello {what} extension does not parse");
        match ext.typ {
            0 => match tls_parser::parse_tls_client_hello_extension(ext.whole) {
                Ok((_, TlsExtension::SNI(list))) => {
                    if out.sni.is_none() {
                        out.sni = list
                            .iter()
                            .find(|(t, _)| *t == SNIType::HostName)
                            .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                    }
                }
                _ => errs.push(bad("server_name")),
            },
            10 => match tls_parser::parse_tls_client_hello_extension(ext.whole) {
                Ok((_, TlsExtension::EllipticCurves(g))) => {
                    out.groups = g.iter().map(|g| g.0).collect()
                }
                _ => errs.push(bad("supported_groups")),
            },
            11 => match tls_parser::parse_tls_client_hello_extension(ext.whole) {
                Ok((_, TlsExtension::EcPointFormats(f))) => out.ec_point_formats = f.to_vec(),
                _ => errs.push(bad("ec_point_formats")),
            },
            13 => match tls_parser::parse_tls_client_hello_extension(ext.whole) {
                Ok((_, TlsExtension::SignatureAlgorithms(s))) => out.signature_algorithms = s,
                _ => errs.push(bad("signature_algorithms")),
            },
            16 => match tls_parser::parse_tls_client_hello_extension(ext.whole) {
                Ok((_, TlsExtension::ALPN(p))) => {
                    out.alpn = p
                        .iter()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect()
                }
                _ => errs.push(bad("application_layer_protocol_negotiation")),
            },
            // tls-parser would read a 2-byte list as the ServerHello form; do it exactly.
            43 => {
                let parsed = ext.data.split_first().and_then(|(&n, list)| {
                    (usize::from(n) == list.len())
                        .then(|| u16_list(list))
                        .flatten()
                });
                match parsed {
                    Some(v) => out.supported_versions = v,
                    None => errs.push(bad("supported_versions")),
                }
            }
            40 | 51 => match client_key_share_groups(ext.data) {
                Some(g) => out.key_share_groups = g,
                None => errs.push(bad("key_share")),
            },
            41 => out.has_psk = true,
            35 => out.has_session_ticket = !ext.data.is_empty(),
            _ => {}
        }
    }
    (Some(out), errs)
}

/// Could `body` start a plaintext handshake message: a known type and a length we accept?
fn plausible_handshake_header(body: &[u8]) -> bool {
    match (body.first(), be24(body, 1)) {
        (Some(&t), Some(len)) => {
            names::handshake_type_name(t) != "unknown" && len + 4 <= MAX_HANDSHAKE_LEN
        }
        // Too short to tell: a fragment of a message split across records.
        _ => true,
    }
}

/// The draft number of NSS's draft-version extension (0xff02) in a ClientHello body.
fn nss_draft_version(body: &[u8]) -> Option<u8> {
    let (_, ch) = tls_parser::parse_tls_handshake_client_hello(body).ok()?;
    let mut errs = Vec::new();
    walk_extensions("ClientHello", ch.ext?, &mut errs)
        .iter()
        .find(|e| e.typ == EXT_NSS_DRAFT_VERSION)
        .and_then(|e| match e.data {
            [0, draft] => Some(*draft),
            _ => None,
        })
}

/// Parse a ServerHello (or HelloRetryRequest in ServerHello form) body.
pub(crate) fn parse_server_hello(body: &[u8]) -> (Option<ServerHello>, Vec<String>) {
    let mut errs = Vec::new();
    let Some(version) = be16(body, 0) else {
        errs.push("ServerHello is truncated".to_string());
        return (None, errs);
    };
    let mut out = ServerHello {
        version,
        ..Default::default()
    };
    let ext: &[u8];
    if (version & 0xff00) == 0x7f00 || version == 0x0304 {
        // TLS 1.3 drafts before 22: version, random, cipher_suite, extensions
        // (tls-parser only knows draft 18's layout, which is the same). Early draft
        // servers wrote 0x0304 there; final TLS 1.3 never does (legacy_version 0x0303).
        let (Some(random), Some(cipher)) = (body.get(2..34), be16(body, 34)) else {
            errs.push("ServerHello is truncated".to_string());
            return (None, errs);
        };
        out.random = random.to_vec();
        out.cipher = cipher;
        let rest = body.get(36..).unwrap_or_default();
        ext = match be16(rest, 0) {
            Some(n) if rest.len() == usize::from(n) + 2 => &rest[2..],
            None if rest.is_empty() => &[],
            _ => {
                errs.push("ServerHello extensions length does not match the message".into());
                &[]
            }
        };
    } else {
        let (rest, sh) = match tls_parser::parse_tls_handshake_server_hello(body) {
            Ok(v) => v,
            Err(e) => {
                let why = if matches!(version, 0x0300..=0x0303) {
                    nom_reason(&e)
                } else {
                    format!("unsupported version 0x{version:04x}")
                };
                errs.push(format!("ServerHello does not parse: {why}"));
                return (None, errs);
            }
        };
        out.random = sh.random.to_vec();
        out.session_id = sh.session_id.unwrap_or_default().to_vec();
        out.cipher = sh.cipher.0;
        out.compression = sh.compression.0;
        // SSLv3 ServerHellos are parsed without extensions; what follows is not an error.
        if !rest.is_empty() && version != 0x0300 {
            errs.push(format!(
                "ServerHello extensions length does not match the message ({} bytes left)",
                rest.len()
            ));
        }
        ext = sh.ext.unwrap_or_default();
    }
    out.is_hello_retry_request = out.random == HRR_RANDOM;
    for e in walk_extensions("ServerHello", ext, &mut errs) {
        out.extensions.push(e.typ);
        match e.typ {
            43 => match be16(e.data, 0) {
                Some(v) if e.data.len() == 2 => out.selected_version = Some(v),
                _ => errs.push("ServerHello supported_versions extension does not parse".into()),
            },
            16 => match tls_parser::parse_tls_server_hello_extension(e.whole) {
                Ok((_, TlsExtension::ALPN(p))) => {
                    out.alpn = p.first().map(|p| String::from_utf8_lossy(p).into_owned())
                }
                _ => errs.push(
                    "ServerHello application_layer_protocol_negotiation extension does not parse"
                        .into(),
                ),
            },
            40 | 51 => match be16(e.data, 0) {
                Some(g) => out.group = Some(g),
                None => errs.push("ServerHello key_share extension does not parse".into()),
            },
            _ => {}
        }
    }
    (Some(out), errs)
}

impl TlsConn {
    pub fn new() -> Self {
        Self::default()
    }

    /// The version the server selected (0x0002 when an SSLv2 ServerHello was seen).
    /// Bytes held for partial records and handshake messages, both directions.
    pub fn buffered_bytes(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| d.rec_buf.len() + d.hs_buf.len())
            .sum()
    }

    pub fn negotiated_version(&self) -> Option<u16> {
        self.server_hello.as_ref().map(|s| s.negotiated_version())
    }

    /// Alerts in the clear and encrypted alerts, in capture order.
    pub fn alerts(&self) -> impl Iterator<Item = &TlsEvent> {
        self.events.iter().filter(|e| {
            matches!(
                e.kind,
                TlsEventKind::Alert { .. } | TlsEventKind::EncryptedAlert { .. }
            )
        })
    }

    /// Feed the next bytes of one direction, in stream order.
    pub fn feed(&mut self, dir: Dir, data: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        let i = dir.index();
        let mut input = data;
        loop {
            match self.dirs[i].mode {
                Mode::Stopped | Mode::Ignore => return,
                Mode::Resync => {
                    input = self.resync(i, input);
                    if self.dirs[i].mode == Mode::Resync {
                        return;
                    }
                }
                Mode::Records => {}
            }
            if self.dirs[i].skip > 0 {
                let n = self.dirs[i].skip.min(input.len());
                self.dirs[i].skip -= n;
                input = &input[n..];
                if self.dirs[i].skip > 0 {
                    return;
                }
                let len = self.dirs[i].skip_len;
                self.skipped_app_data(dir, len, frame, ts_us);
                continue;
            }
            if !self.dirs[i].rec_buf.is_empty() {
                // Complete the buffered record with as few bytes as it needs.
                let total = loop {
                    match self.framing(dir, &self.dirs[i].rec_buf) {
                        Framing::NeedMore => {
                            let have = self.dirs[i].rec_buf.len();
                            let take = 5usize.saturating_sub(have).min(input.len());
                            if take == 0 {
                                return;
                            }
                            self.dirs[i].rec_buf.extend_from_slice(&input[..take]);
                            input = &input[take..];
                        }
                        Framing::NotTls(reason) => {
                            self.stop(dir, frame, ts_us, reason);
                            return;
                        }
                        Framing::Record { total, sslv2 } => break (total, sslv2),
                    }
                };
                let (total, sslv2) = total;
                let have = self.dirs[i].rec_buf.len();
                if !sslv2 && self.dirs[i].rec_buf.first() == Some(&23) {
                    // Application data: only the length is needed; pass over the body.
                    let d = &mut self.dirs[i];
                    d.rec_buf.clear();
                    d.skip = total.saturating_sub(have);
                    d.skip_len = total.saturating_sub(5);
                    if d.skip == 0 {
                        // An empty record whose header was split: nothing left to skip,
                        // so the skip path above would never count it.
                        self.skipped_app_data(dir, 0, frame, ts_us);
                    }
                    continue;
                }
                let take = total.saturating_sub(have).min(input.len());
                self.dirs[i].rec_buf.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.dirs[i].rec_buf.len() < total {
                    return;
                }
                let mut rec = mem::take(&mut self.dirs[i].rec_buf);
                self.record(dir, &rec, sslv2, frame, ts_us);
                // Keep the buffer's allocation for the next split record.
                let d = &mut self.dirs[i];
                if d.mode == Mode::Records && d.rec_buf.is_empty() {
                    rec.clear();
                    d.rec_buf = rec;
                }
                continue;
            }
            if input.is_empty() {
                return;
            }
            match self.framing(dir, input) {
                Framing::NeedMore => {
                    self.dirs[i].rec_buf.extend_from_slice(input);
                    return;
                }
                Framing::NotTls(reason) => {
                    self.stop(dir, frame, ts_us, reason);
                    return;
                }
                Framing::Record { total, sslv2 } => {
                    if input.len() < total && !sslv2 && input[0] == 23 {
                        // Application data split over segments: skip its body.
                        let d = &mut self.dirs[i];
                        d.skip = total - input.len();
                        d.skip_len = total - 5;
                        return;
                    }
                    if input.len() < total {
                        self.dirs[i].rec_buf.extend_from_slice(input);
                        return;
                    }
                    let (rec, rest) = input.split_at(total);
                    self.record(dir, rec, sslv2, frame, ts_us);
                    input = rest;
                }
            }
        }
    }

    /// The connection ended (`frame` and `ts_us` are its last packet's): a handshake
    /// message still incomplete is reported as malformed, since nothing else would show
    /// it, and the reassembly buffers are released. Calling it again does nothing.
    pub fn finish(&mut self, frame: FrameNo, ts_us: TimestampUs) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let d = &mut self.dirs[dir.index()];
            let pending = mem::take(&mut d.hs_buf);
            d.rec_buf = Vec::new();
            if let Some(&typ) = pending.first() {
                let claimed = be24(&pending, 1).map_or(0, |n| n + 4);
                let reason = format!(
                    "handshake message {} is incomplete ({} of {} bytes) when the connection ends",
                    names::handshake_type_name(typ),
                    pending.len(),
                    claimed
                );
                self.malformed(dir, frame, ts_us, reason);
            }
        }
    }

    /// Bytes were lost in this direction: forget partial state and resynchronise on
    /// the next plausible record header.
    pub fn gap(&mut self, dir: Dir, _frame: FrameNo, _ts_us: TimestampUs) {
        // The sender's ChangeCipherSpec is due once it sent its key exchange (or, when
        // resuming, once the ServerHello is out). The ServerHello may not have been
        // processed yet if the server's stream is itself held up by a gap.
        let ccs_due = (self.server_hello.is_some() || self.dirs[dir.index()].full_handshake)
            && !self.tls13_context();
        let d = &mut self.dirs[dir.index()];
        if ccs_due && !d.encrypted {
            d.ccs_maybe_lost = true;
        }
        d.rec_buf.clear();
        d.hs_buf.clear();
        d.skip = 0;
        if d.mode == Mode::Records {
            d.mode = Mode::Resync;
        }
    }

    /// Skip to the next plausible record header. `rec_buf` carries at most 4 bytes
    /// between calls so a header split across chunks is still found.
    fn resync<'a>(&mut self, i: usize, input: &'a [u8]) -> &'a [u8] {
        let d = &mut self.dirs[i];
        let carry = mem::take(&mut d.rec_buf);
        for start in 0..carry.len() {
            let mut cand = carry[start..].to_vec();
            let need = 5usize.saturating_sub(cand.len()).min(input.len());
            cand.extend_from_slice(&input[..need]);
            if cand.len() < 5 {
                d.rec_buf = cand;
                return &[];
            }
            if plausible_header(&cand) {
                d.mode = Mode::Records;
                d.rec_buf = carry[start..].to_vec();
                return input;
            }
        }
        for start in 0..input.len() {
            let cand = &input[start..];
            if cand.len() < 5 {
                d.rec_buf = cand.to_vec();
                return &[];
            }
            if plausible_header(cand) {
                d.mode = Mode::Records;
                return cand;
            }
        }
        &[]
    }

    fn framing(&self, dir: Dir, b: &[u8]) -> Framing {
        if b.len() < 5 {
            return Framing::NeedMore;
        }
        let d = &self.dirs[dir.index()];
        let ct = b[0];
        // SSLv2-format hellos only open a stream: a 2-byte header with the high bit set.
        if d.records == 0 && ct & 0x80 != 0 {
            let msg_type = b[2];
            let v2_version = be16(b, 3).unwrap_or(0);
            let ok = match dir {
                Dir::ToServer => {
                    msg_type == 1 && (v2_version == 0x0002 || (v2_version >> 8) == 0x03)
                }
                Dir::ToClient => msg_type == 4,
            };
            let len = (usize::from(ct & 0x7f) << 8) | usize::from(b[1]);
            if ok && len >= 3 {
                let len = (usize::from(ct & 0x7f) << 8) | usize::from(b[1]);
                return Framing::Record {
                    total: 2 + len,
                    sslv2: true,
                };
            }
        }
        let hdr = match tls_parser::parse_tls_record_header(b) {
            Ok((_, h)) => h,
            Err(_) => return Framing::NeedMore,
        };
        let version = hdr.version.0;
        let len = usize::from(hdr.len);
        // Only built for a header that is refused: this runs on every record.
        let head = || hex_bytes(&b[..5]);
        if !(20..=24).contains(&ct) {
            return Framing::NotTls(format!(
                "record header {} is not TLS (content type 0x{ct:02x})",
                head()
            ));
        }
        if (version >> 8) != 0x03 && (version >> 8) != 0x7f {
            return Framing::NotTls(format!(
                "record header {} is not TLS (version 0x{version:04x})",
                head()
            ));
        }
        if len > MAX_RECORD_LEN {
            return Framing::NotTls(format!(
                "record header {} claims {len} bytes, more than the {MAX_RECORD_LEN} TLS allows",
                head()
            ));
        }
        Framing::Record {
            total: 5 + len,
            sslv2: false,
        }
    }

    fn push_event(&mut self, dir: Dir, frame: FrameNo, ts_us: TimestampUs, kind: TlsEventKind) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(TlsEvent {
                dir,
                frame,
                ts_us,
                kind,
            });
        } else {
            // Said once, so that the cut-off is visible where the events are read (the
            // malformed_tls rule); the count alone reached no finding.
            if self.events_dropped == 0 && self.malformed.len() < MAX_MALFORMED {
                self.malformed.push(Malformed {
                    dir,
                    frame,
                    reason: format!(
                        "the connection has more than {MAX_EVENTS} TLS records and handshake messages; later ones are only counted"
                    ),
                });
            }
            self.events_dropped += 1;
        }
    }

    fn push_history(&mut self, dir: Dir, upper: char) {
        if self.history.len() < MAX_HISTORY {
            let c = match dir {
                Dir::ToServer => upper.to_ascii_uppercase(),
                Dir::ToClient => upper.to_ascii_lowercase(),
            };
            self.history.push(c);
        }
    }

    fn set_stage(&mut self, s: HandshakeStage) {
        if !self.established {
            self.stage = s;
        }
    }

    fn malformed(&mut self, dir: Dir, frame: FrameNo, ts_us: TimestampUs, reason: String) {
        if self.malformed.len() < MAX_MALFORMED {
            self.malformed.push(Malformed { dir, frame, reason });
        }
        self.push_event(dir, frame, ts_us, TlsEventKind::Malformed);
    }

    /// Report and stop parsing this direction.
    fn stop(&mut self, dir: Dir, frame: FrameNo, ts_us: TimestampUs, reason: String) {
        self.malformed(dir, frame, ts_us, reason);
        let d = &mut self.dirs[dir.index()];
        d.mode = Mode::Stopped;
        d.rec_buf = Vec::new();
        d.hs_buf = Vec::new();
        d.skip = 0;
    }

    fn mark_established(&mut self, frame: FrameNo, ts_us: TimestampUs) {
        if !self.established {
            self.stage = HandshakeStage::Established;
            self.established = true;
            self.established_frame = Some(frame);
            self.established_ts = Some(ts_us);
        }
    }

    /// TLS 1.3 was negotiated (final or draft).
    fn tls13_negotiated(&self) -> bool {
        self.negotiated_version().is_some_and(is_tls13)
    }

    /// A ChangeCipherSpec here would be TLS 1.3 middlebox compatibility, not a key change.
    fn tls13_context(&self) -> bool {
        if let Some(sh) = &self.server_hello {
            return is_tls13(sh.negotiated_version());
        }
        if self.hello_retry_request.is_some() {
            return true;
        }
        self.client_hello
            .as_ref()
            .is_some_and(|c| c.supported_versions.iter().any(|&v| is_tls13(v)))
    }

    fn record(&mut self, dir: Dir, rec: &[u8], sslv2: bool, frame: FrameNo, ts_us: TimestampUs) {
        let i = dir.index();
        self.dirs[i].records += 1;
        if sslv2 {
            self.sslv2_record(dir, rec.get(2..).unwrap_or_default(), frame, ts_us);
            return;
        }
        let (Some(&ct), Some(body)) = (rec.first(), rec.get(5..)) else {
            return;
        };
        let version = be16(rec, 1).unwrap_or(0);
        let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
        self.pending_handshake_check(dir, ct, frame, ts_us);
        match ct {
            20 => self.change_cipher_spec(dir, body, frame, ts_us),
            21 => self.alert(dir, body, frame, ts_us),
            22 => {
                if self.dirs[i].ccs_maybe_lost
                    && !self.dirs[i].encrypted
                    && self.dirs[i].hs_buf.is_empty()
                    && !plausible_handshake_header(body)
                {
                    // The ChangeCipherSpec was in the gap: this record is the encrypted
                    // Finished, not a plaintext message with a nonsensical header.
                    self.dirs[i].ccs = true;
                    self.dirs[i].encrypted = true;
                }
                if self.dirs[i].encrypted {
                    self.push_event(dir, frame, ts_us, TlsEventKind::EncryptedHandshake { len });
                    self.dirs[i].finished = true;
                    self.set_stage(HandshakeStage::Finished);
                    self.check_established_tls12(frame, ts_us);
                } else {
                    self.handshake_bytes(dir, body, version, frame, ts_us);
                }
            }
            23 => self.application_data(dir, len, frame, ts_us),
            _ => self.heartbeat(dir, body, frame, ts_us),
        }
    }

    /// A record of another content type cuts off a handshake message still incomplete.
    fn pending_handshake_check(&mut self, dir: Dir, ct: u8, frame: FrameNo, ts_us: TimestampUs) {
        let i = dir.index();
        if ct != 22 && !self.dirs[i].hs_buf.is_empty() {
            let pending = mem::take(&mut self.dirs[i].hs_buf);
            let claimed = be24(&pending, 1).map_or(0, |n| n + 4);
            self.malformed(
                dir,
                frame,
                ts_us,
                format!(
                    "handshake message {} is incomplete ({} of {} bytes) when a record of content type {} arrives",
                    names::handshake_type_name(pending[0]),
                    pending.len(),
                    claimed,
                    ct
                ),
            );
        }
    }

    /// An application-data record whose body was skipped (see `DirState::skip`): the same
    /// as [`TlsConn::record`] does for one, from its length alone.
    fn skipped_app_data(&mut self, dir: Dir, body_len: usize, frame: FrameNo, ts_us: TimestampUs) {
        self.dirs[dir.index()].records += 1;
        self.pending_handshake_check(dir, 23, frame, ts_us);
        let len = u16::try_from(body_len).unwrap_or(u16::MAX);
        self.application_data(dir, len, frame, ts_us);
    }

    fn change_cipher_spec(&mut self, dir: Dir, body: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        self.push_event(dir, frame, ts_us, TlsEventKind::ChangeCipherSpec);
        self.push_history(dir, 'I');
        // In TLS 1.3 the ChangeCipherSpec is a middlebox-compatibility no-op, not a step.
        if !self.tls13_context() {
            self.set_stage(HandshakeStage::ChangeCipherSpec);
        }
        if body != [1] {
            self.malformed(
                dir,
                frame,
                ts_us,
                format!(
                    "ChangeCipherSpec record is {} bytes, expected the single byte 01",
                    body.len()
                ),
            );
        }
        if !self.tls13_context() {
            // An abbreviated (resumed) handshake is the one where the server changes
            // keys first, with no full-handshake message from either side in between.
            if dir == Dir::ToClient
                && self.server_hello.is_some()
                && !self.dirs.iter().any(|d| d.ccs || d.full_handshake)
            {
                self.resumed = true;
            }
            self.dirs[dir.index()].encrypted = true;
        }
        self.dirs[dir.index()].ccs = true;
    }

    fn check_established_tls12(&mut self, frame: FrameNo, ts_us: TimestampUs) {
        let both = self.dirs.iter().all(|d| d.ccs && d.finished);
        if both {
            self.mark_established(frame, ts_us);
        }
    }

    fn alert(&mut self, dir: Dir, body: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        match body {
            [level, description] if !self.dirs[dir.index()].encrypted => {
                self.push_history(dir, 'L');
                let kind = TlsEventKind::Alert {
                    level: *level,
                    description: *description,
                };
                self.push_event(dir, frame, ts_us, kind);
            }
            _ => {
                // Zeek cannot see encrypted alerts after the handshake (its history of a
                // normal session ends "...Ii"), so only handshake-time ones get a letter.
                if !self.established {
                    self.push_history(dir, 'L');
                }
                let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
                self.push_event(dir, frame, ts_us, TlsEventKind::EncryptedAlert { len });
            }
        }
    }

    fn application_data(&mut self, dir: Dir, len: u16, frame: FrameNo, ts_us: TimestampUs) {
        let i = dir.index();
        if !self.established && self.tls13_negotiated() {
            // 2-byte alert + inner content type + 16-byte AEAD tag: nothing else in a
            // TLS 1.3 handshake is that small.
            if len == 19 {
                self.push_history(dir, 'L');
                self.push_event(dir, frame, ts_us, TlsEventKind::EncryptedAlert { len });
                return;
            }
            self.push_event(dir, frame, ts_us, TlsEventKind::EncryptedHandshake { len });
            if dir == Dir::ToClient {
                self.set_stage(HandshakeStage::ServerEncryptedFlight);
            }
            if dir == Dir::ToServer {
                // The client's first encrypted record after the ServerHello is its Finished.
                self.dirs[i].finished = true;
                self.mark_established(frame, ts_us);
            }
            return;
        }
        self.app_data_records[i] += 1;
        self.app_data_bytes[i] += u64::from(len);
        if self.dirs[i].app_data_events < MAX_APP_DATA_EVENTS_PER_DIR {
            self.dirs[i].app_data_events += 1;
            self.push_event(dir, frame, ts_us, TlsEventKind::ApplicationData { len });
        }
    }

    fn heartbeat(&mut self, dir: Dir, body: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        self.push_history(dir, 'B');
        let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
        let encrypted = self.dirs[dir.index()].encrypted || self.established;
        let payload_len_claimed = if encrypted {
            0
        } else {
            be16(body, 1).unwrap_or(0)
        };
        self.push_event(
            dir,
            frame,
            ts_us,
            TlsEventKind::Heartbeat {
                len,
                payload_len_claimed,
            },
        );
    }

    /// Reassemble handshake messages. Each byte is copied at most once: whole messages
    /// are parsed in place from the record, and a message split across records is
    /// gathered in an append-only buffer that takes only the bytes it still lacks and
    /// is parsed once, when its 4-byte header says it is complete. Re-joining the
    /// pending bytes with every record made a stream of tiny records quadratic.
    fn handshake_bytes(
        &mut self,
        dir: Dir,
        mut body: &[u8],
        record_version: u16,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let i = dir.index();
        if !self.dirs[i].hs_buf.is_empty() {
            let d = &mut self.dirs[i];
            let take = 4usize.saturating_sub(d.hs_buf.len()).min(body.len());
            d.hs_buf.extend_from_slice(&body[..take]);
            body = &body[take..];
            let Some(len) = be24(&d.hs_buf, 1) else {
                return;
            };
            if len > MAX_HANDSHAKE_LEN {
                let reason = too_long_reason(d.hs_buf[0], len);
                self.stop(dir, frame, ts_us, reason);
                return;
            }
            let take = (4 + len).saturating_sub(d.hs_buf.len()).min(body.len());
            d.hs_buf.extend_from_slice(&body[..take]);
            body = &body[take..];
            if d.hs_buf.len() < 4 + len {
                return;
            }
            // Not kept for the next message: it may be as large as MAX_HANDSHAKE_LEN.
            let msg = mem::take(&mut d.hs_buf);
            let msg_version = d.hs_record_version;
            self.handshake_message(dir, msg[0], &msg[4..], msg_version, frame, ts_us);
            if self.dirs[i].mode != Mode::Records {
                return;
            }
        }
        while let Some(len) = be24(body, 1) {
            if len > MAX_HANDSHAKE_LEN {
                let reason = too_long_reason(body[0], len);
                self.stop(dir, frame, ts_us, reason);
                return;
            }
            let Some(msg) = body.get(..4 + len) else {
                break;
            };
            body = &body[4 + len..];
            self.handshake_message(dir, msg[0], &msg[4..], record_version, frame, ts_us);
            if self.dirs[i].mode != Mode::Records {
                return;
            }
        }
        if !body.is_empty() {
            let d = &mut self.dirs[i];
            d.hs_buf.extend_from_slice(body);
            d.hs_record_version = record_version;
        }
    }

    fn handshake_message(
        &mut self,
        dir: Dir,
        typ: u8,
        body: &[u8],
        record_version: u16,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let is_hrr = typ == 6 || (typ == 2 && body.get(2..34) == Some(&HRR_RANDOM[..]));
        let shown = if is_hrr { 6 } else { typ };
        self.push_history(dir, history_letter(shown));
        self.push_event(
            dir,
            frame,
            ts_us,
            TlsEventKind::Handshake(HandshakeType(shown)),
        );
        let server = dir == Dir::ToClient;
        match typ {
            1 => {
                self.set_stage(HandshakeStage::ClientHello);
                self.client_hello_count = self.client_hello_count.saturating_add(1);
                let (ch, errs) = parse_client_hello(body, record_version);
                for e in errs {
                    self.malformed(dir, frame, ts_us, e);
                }
                if self.client_hello.is_none() {
                    // Parsed again only when the extension is there (NSS's TLS 1.3 drafts).
                    self.nss_draft = ch
                        .as_ref()
                        .filter(|c| c.extensions.contains(&EXT_NSS_DRAFT_VERSION))
                        .and_then(|_| nss_draft_version(body));
                    self.client_hello = ch;
                }
            }
            2 | 6 => {
                let (sh, errs) = if typ == 6 {
                    draft_hello_retry_request(body)
                } else {
                    parse_server_hello(body)
                };
                for e in errs {
                    self.malformed(dir, frame, ts_us, e);
                }
                if is_hrr {
                    self.set_stage(HandshakeStage::HelloRetryRequest);
                    if self.hello_retry_request.is_none() {
                        self.hello_retry_request = sh;
                    }
                } else {
                    self.set_stage(HandshakeStage::ServerHello);
                    if let Some(sh) = sh {
                        self.server_hello_parsed(sh);
                    }
                }
            }
            8 => self.set_stage(HandshakeStage::EncryptedExtensions),
            11 | 12 | 14 | 16 => {
                self.dirs[dir.index()].full_handshake = true;
            }
            _ => {}
        }
        match typ {
            11 => {
                self.set_stage(if server {
                    HandshakeStage::Certificate
                } else {
                    HandshakeStage::ClientCertificate
                });
                self.certificate(dir, body, frame, ts_us);
            }
            12 => {
                self.set_stage(HandshakeStage::ServerKeyExchange);
                self.server_key_exchange(body);
            }
            13 => self.set_stage(HandshakeStage::CertificateRequest),
            14 => self.set_stage(HandshakeStage::ServerHelloDone),
            15 => self.set_stage(HandshakeStage::CertificateVerify),
            16 => self.set_stage(HandshakeStage::ClientKeyExchange),
            20 => self.set_stage(HandshakeStage::Finished),
            _ => {}
        }
    }

    fn server_hello_parsed(&mut self, mut sh: ServerHello) {
        if self.server_hello.is_some() {
            return;
        }
        // Early TLS 1.3 drafts (before draft-16's 0x7f10) put 0x0304 in the ServerHello and
        // told the draft number only in the client's 0xff02 extension: what was negotiated is
        // that draft, not TLS 1.3 (Zeek logs "TLSv13-draft14", Suricata "TLS 1.3 draft-<16").
        if sh.version == 0x0304 && sh.selected_version.is_none() {
            if let Some(draft) = self.nss_draft {
                sh.selected_version = Some(0x7f00 | u16::from(draft));
            }
        }
        if is_tls13(sh.negotiated_version()) {
            self.resumed |= sh.extensions.contains(&41);
        } else if !sh.session_id.is_empty()
            && self
                .client_hello
                .as_ref()
                .is_some_and(|c| c.session_id == sh.session_id)
        {
            self.resumed = true;
        }
        self.server_hello = Some(sh);
    }

    fn certificate(&mut self, dir: Dir, body: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        if self.tls13_negotiated() {
            // TLS 1.3 Certificates are encrypted; a plaintext one has another layout.
            return;
        }
        let chain = match tls_parser::parse_tls_handshake_msg_certificate(body) {
            Ok((rest, TlsMessageHandshake::Certificate(c))) => {
                let list_len = be24(body, 0).unwrap_or(0);
                let framed: usize = c.cert_chain.iter().map(|c| 3 + c.data.len()).sum();
                if framed != list_len {
                    self.malformed(
                        dir,
                        frame,
                        ts_us,
                        format!(
                            "Certificate entry lengths do not add up: the list is {list_len} bytes, entries account for {framed}"
                        ),
                    );
                }
                if !rest.is_empty() {
                    self.malformed(
                        dir,
                        frame,
                        ts_us,
                        format!("Certificate message has {} trailing bytes", rest.len()),
                    );
                }
                c.cert_chain
            }
            Ok(_) => Vec::new(),
            Err(e) => {
                let reason = format!("Certificate does not parse: {}", nom_reason(&e));
                self.malformed(dir, frame, ts_us, reason);
                Vec::new()
            }
        };
        let target = match dir {
            Dir::ToClient => &mut self.server_cert_der,
            Dir::ToServer => &mut self.client_cert_der,
        };
        if !target.is_empty() {
            return;
        }
        for c in chain
            .iter()
            .take(MAX_CERTS)
            .take_while(|c| c.data.len() <= MAX_CERT_LEN)
        {
            target.push(c.data.to_vec());
        }
    }

    fn server_key_exchange(&mut self, body: &[u8]) {
        let Some(sh) = self.server_hello.as_mut() else {
            return;
        };
        if sh.group.is_some() {
            return;
        }
        // The layout of a ServerKeyExchange depends on the key exchange of the suite.
        let ecdhe = TlsCipherSuite::from_id(sh.cipher)
            .is_some_and(|cs| matches!(cs.kx, TlsCipherKx::Ecdhe | TlsCipherKx::Aecdh));
        if !ecdhe {
            return;
        }
        if let Ok((_, params)) = tls_parser::parse_ecdh_params(body) {
            if let ECParametersContent::NamedGroup(g) = params.curve_params.params_content {
                sh.group = Some(g.0);
            }
        }
    }

    fn sslv2_record(&mut self, dir: Dir, body: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        match dir {
            Dir::ToServer => {
                self.push_history(dir, 'C');
                self.push_event(dir, frame, ts_us, TlsEventKind::Handshake(HandshakeType(1)));
                self.set_stage(HandshakeStage::ClientHello);
                self.client_hello_count = self.client_hello_count.saturating_add(1);
                match parse_sslv2_client_hello(body) {
                    Ok(ch) => {
                        if self.client_hello.is_none() {
                            self.client_hello = Some(ch);
                        }
                    }
                    Err(e) => self.malformed(dir, frame, ts_us, e),
                }
            }
            Dir::ToClient => {
                self.push_history(dir, 'S');
                self.push_event(dir, frame, ts_us, TlsEventKind::Handshake(HandshakeType(2)));
                self.set_stage(HandshakeStage::ServerHello);
                match parse_sslv2_server_hello(body) {
                    Ok((sh, cert)) => {
                        if self.server_hello.is_none() {
                            self.server_hello = Some(sh);
                        }
                        if !cert.is_empty() {
                            // SSLv2 has no Certificate message: the SERVER-HELLO carries the
                            // certificate. Say where it arrived, as a Certificate event (no
                            // history letter: nothing else was on the wire).
                            self.push_event(
                                dir,
                                frame,
                                ts_us,
                                TlsEventKind::Handshake(HandshakeType(11)),
                            );
                        }
                        if self.server_cert_der.is_empty()
                            && !cert.is_empty()
                            && cert.len() <= MAX_CERT_LEN
                        {
                            self.server_cert_der.push(cert);
                        }
                        // SSLv2 was negotiated; the rest of the session is SSLv2.
                        for d in &mut self.dirs {
                            if d.mode != Mode::Stopped {
                                d.mode = Mode::Ignore;
                                d.rec_buf = Vec::new();
                                d.hs_buf = Vec::new();
                            }
                        }
                    }
                    Err(e) => self.malformed(dir, frame, ts_us, e),
                }
            }
        }
    }
}

/// Pre-draft-22 TLS 1.3 HelloRetryRequest (handshake type 6).
fn draft_hello_retry_request(body: &[u8]) -> (Option<ServerHello>, Vec<String>) {
    match tls_parser::parse_tls_handshake_msg_hello_retry_request(body) {
        Ok((_, TlsMessageHandshake::HelloRetryRequest(h))) => {
            let mut errs = Vec::new();
            let mut sh = ServerHello {
                version: h.version.0,
                cipher: h.cipher.0,
                is_hello_retry_request: true,
                ..Default::default()
            };
            for e in walk_extensions("HelloRetryRequest", h.ext.unwrap_or_default(), &mut errs) {
                sh.extensions.push(e.typ);
                if matches!(e.typ, 40 | 51) {
                    sh.group = be16(e.data, 0);
                }
            }
            (Some(sh), errs)
        }
        Ok(_) => (None, Vec::new()),
        Err(e) => (
            None,
            vec![format!(
                "HelloRetryRequest does not parse: {}",
                nom_reason(&e)
            )],
        ),
    }
}

/// SSLv2 CLIENT-HELLO (body after the 2-byte record header), as sent by clients that
/// still offer SSLv2 compatibility. Only 3-byte cipher specs with a zero first byte
/// map to TLS suites.
fn parse_sslv2_client_hello(b: &[u8]) -> Result<ClientHello, String> {
    let (Some(version), Some(cs_len), Some(sid_len), Some(ch_len)) =
        (be16(b, 1), be16(b, 3), be16(b, 5), be16(b, 7))
    else {
        return Err("SSLv2 ClientHello is truncated".into());
    };
    let (cs_len, sid_len, ch_len) = (
        usize::from(cs_len),
        usize::from(sid_len),
        usize::from(ch_len),
    );
    let need = 9 + cs_len + sid_len + ch_len;
    if need > b.len() {
        return Err(format!(
            "SSLv2 ClientHello lengths ({cs_len}+{sid_len}+{ch_len}) exceed the {}-byte record",
            b.len()
        ));
    }
    if cs_len % 3 != 0 {
        return Err(format!(
            "SSLv2 ClientHello cipher spec length {cs_len} is not a multiple of 3"
        ));
    }
    let specs = &b[9..9 + cs_len];
    let sid = &b[9 + cs_len..9 + cs_len + sid_len];
    let challenge = &b[9 + cs_len + sid_len..need];
    Ok(ClientHello {
        version,
        record_version: 0x0002,
        sslv2_format: true,
        random: challenge.to_vec(),
        session_id: sid.to_vec(),
        ciphers: specs
            .chunks_exact(3)
            .filter(|c| c[0] == 0)
            .map(|c| u16::from_be_bytes([c[1], c[2]]))
            .collect(),
        ..Default::default()
    })
}

/// SSLv2 SERVER-HELLO: returns the hello and the certificate it carries.
fn parse_sslv2_server_hello(b: &[u8]) -> Result<(ServerHello, Vec<u8>), String> {
    let (Some(version), Some(cert_len), Some(cs_len), Some(cid_len)) =
        (be16(b, 3), be16(b, 5), be16(b, 7), be16(b, 9))
    else {
        return Err("SSLv2 ServerHello is truncated".into());
    };
    let (cert_len, cs_len, cid_len) = (
        usize::from(cert_len),
        usize::from(cs_len),
        usize::from(cid_len),
    );
    if 11 + cert_len + cs_len + cid_len > b.len() {
        return Err(format!(
            "SSLv2 ServerHello lengths ({cert_len}+{cs_len}+{cid_len}) exceed the {}-byte record",
            b.len()
        ));
    }
    let cert = b[11..11 + cert_len].to_vec();
    // The message layout itself says SSLv2, whatever the version field holds
    // (some servers write 0x0200).
    let _ = version;
    let sh = ServerHello {
        version: 0x0002,
        ..Default::default()
    };
    Ok((sh, cert))
}
