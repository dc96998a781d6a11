//! Wire numbers and byte helpers shared by the TLS stage and the fingerprints:
//! named protocol numbers (tls-parser's where it has them), big-endian reads that check
//! their bounds, and hex formatting.

use std::fmt::Write as _;

use tls_parser::{TlsExtensionType, TlsHandshakeType, TlsRecordType};

/// Record content types (RFC 8446 5.1, RFC 6520).
pub(crate) mod ct {
    use super::TlsRecordType;
    pub const CHANGE_CIPHER_SPEC: u8 = TlsRecordType::ChangeCipherSpec.0;
    pub const ALERT: u8 = TlsRecordType::Alert.0;
    pub const HANDSHAKE: u8 = TlsRecordType::Handshake.0;
    pub const APPLICATION_DATA: u8 = TlsRecordType::ApplicationData.0;
    pub const HEARTBEAT: u8 = TlsRecordType::Heartbeat.0;
}

/// Handshake message types (IANA "TLS HandshakeType").
pub(crate) mod hs {
    use super::TlsHandshakeType;
    pub const HELLO_REQUEST: u8 = TlsHandshakeType::HelloRequest.0;
    pub const CLIENT_HELLO: u8 = TlsHandshakeType::ClientHello.0;
    pub const SERVER_HELLO: u8 = TlsHandshakeType::ServerHello.0;
    pub const HELLO_VERIFY_REQUEST: u8 = TlsHandshakeType::HelloVerifyRequest.0;
    pub const NEW_SESSION_TICKET: u8 = TlsHandshakeType::NewSessionTicket.0;
    pub const END_OF_EARLY_DATA: u8 = TlsHandshakeType::EndOfEarlyData.0;
    /// Pre-draft-22 TLS 1.3 only; later drafts send a ServerHello with `HRR_RANDOM`.
    pub const HELLO_RETRY_REQUEST: u8 = TlsHandshakeType::HelloRetryRequest.0;
    pub const ENCRYPTED_EXTENSIONS: u8 = TlsHandshakeType::EncryptedExtensions.0;
    pub const CERTIFICATE: u8 = TlsHandshakeType::Certificate.0;
    pub const SERVER_KEY_EXCHANGE: u8 = TlsHandshakeType::ServerKeyExchange.0;
    pub const CERTIFICATE_REQUEST: u8 = TlsHandshakeType::CertificateRequest.0;
    pub const SERVER_HELLO_DONE: u8 = TlsHandshakeType::ServerDone.0;
    pub const CERTIFICATE_VERIFY: u8 = TlsHandshakeType::CertificateVerify.0;
    pub const CLIENT_KEY_EXCHANGE: u8 = TlsHandshakeType::ClientKeyExchange.0;
    pub const FINISHED: u8 = TlsHandshakeType::Finished.0;
    pub const CERTIFICATE_URL: u8 = TlsHandshakeType::CertificateURL.0;
    pub const CERTIFICATE_STATUS: u8 = TlsHandshakeType::CertificateStatus.0;
    /// RFC 4680; tls-parser has no name for it.
    pub const SUPPLEMENTAL_DATA: u8 = 23;
    pub const KEY_UPDATE: u8 = TlsHandshakeType::KeyUpdate.0;
    /// RFC 8446 4.4.1 (a transcript stand-in, never sent); tls-parser has no name for it.
    pub const MESSAGE_HASH: u8 = 254;
}

/// Extension types (IANA "TLS ExtensionType Values").
pub(crate) mod ext {
    use super::TlsExtensionType;
    pub const SERVER_NAME: u16 = TlsExtensionType::ServerName.0;
    pub const STATUS_REQUEST: u16 = TlsExtensionType::StatusRequest.0;
    pub const SUPPORTED_GROUPS: u16 = TlsExtensionType::SupportedGroups.0;
    pub const EC_POINT_FORMATS: u16 = TlsExtensionType::EcPointFormats.0;
    pub const SIGNATURE_ALGORITHMS: u16 = TlsExtensionType::SignatureAlgorithms.0;
    pub const ALPN: u16 = TlsExtensionType::ApplicationLayerProtocolNegotiation.0;
    pub const SESSION_TICKET: u16 = TlsExtensionType::SessionTicketTLS.0;
    /// key_share before TLS 1.3 draft 23 moved it to 51.
    pub const KEY_SHARE_OLD: u16 = TlsExtensionType::KeyShareOld.0;
    pub const PRE_SHARED_KEY: u16 = TlsExtensionType::PreSharedKey.0;
    pub const ENCRYPT_THEN_MAC: u16 = TlsExtensionType::EncryptThenMac.0;
    pub const SUPPORTED_VERSIONS: u16 = TlsExtensionType::SupportedVersions.0;
    pub const KEY_SHARE: u16 = TlsExtensionType::KeyShare.0;
    /// NSS's pre-standard "TLS 1.3 draft version" extension (two bytes: the draft
    /// number), sent by TLS 1.3 clients before the 0x7fNN version codes existed.
    pub const NSS_DRAFT_VERSION: u16 = 0xff02;
}

/// SSLv2 message types (draft-hickman-netscape-ssl-00) that open an SSLv2-format stream.
pub(crate) mod sslv2 {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 4;
}

/// The big-endian u16 at `at`, if the bytes are there.
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// The big-endian 24-bit length at `at`, if the bytes are there.
pub(crate) fn be24(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at.checked_add(3)?)?;
    Some((usize::from(s[0]) << 16) | (usize::from(s[1]) << 8) | usize::from(s[2]))
}

/// `b` read as big-endian u16s; an odd last byte is ignored (callers check the length).
pub(crate) fn be16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]))
}

/// Lower-case hex of `bytes`, `sep` between bytes.
pub(crate) fn hex(bytes: &[u8], sep: &str) -> String {
    let mut out = String::with_capacity(bytes.len() * (2 + sep.len()));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}
