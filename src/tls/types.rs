//! Parsed TLS facts shared by the TLS state machine, fingerprints, rules and output.
//! Everything here is owned and small: it outlives the packet buffers it came from.

use serde::Serialize;

/// What the client offered. Numeric values are kept exactly as on the wire (GREASE included)
/// so fingerprints can be computed; helpers filter GREASE where a consumer needs that.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientHello {
    /// `legacy_version` of the ClientHello body (e.g. 0x0303), or 0x0002 for an SSLv2 hello.
    pub version: u16,
    /// Record-layer version of the record that carried the hello.
    pub record_version: u16,
    /// True when the hello came in the SSLv2-compatible format.
    pub sslv2_format: bool,
    pub random: Vec<u8>,
    pub session_id: Vec<u8>,
    pub ciphers: Vec<u16>,
    pub compression: Vec<u8>,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    pub sni: Option<String>,
    /// supported_versions extension (0x002b), wire order.
    pub supported_versions: Vec<u16>,
    /// supported_groups / elliptic_curves extension (0x000a), wire order.
    pub groups: Vec<u16>,
    /// ec_point_formats extension (0x000b).
    pub ec_point_formats: Vec<u8>,
    /// signature_algorithms extension (0x000d), wire order.
    pub signature_algorithms: Vec<u16>,
    /// ALPN protocol names (0x0010), wire order.
    pub alpn: Vec<String>,
    /// The first ALPN name's bytes as sent (JA4 hashes bytes, and a name that is not UTF-8
    /// is not the same in `alpn`).
    #[serde(skip)]
    pub alpn_first_raw: Vec<u8>,
    /// key_share groups offered (0x0033).
    pub key_share_groups: Vec<u16>,
    /// pre_shared_key extension present (TLS 1.3 resumption attempt).
    pub has_psk: bool,
    /// session_ticket extension with a non-empty ticket (TLS <= 1.2 resumption attempt).
    pub has_session_ticket: bool,
}

/// What the server chose.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerHello {
    /// `legacy_version` of the ServerHello.
    pub version: u16,
    /// Version from the supported_versions extension (TLS 1.3), if any.
    pub selected_version: Option<u16>,
    pub random: Vec<u8>,
    pub session_id: Vec<u8>,
    pub cipher: u16,
    pub compression: u8,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// ALPN protocol the server chose.
    pub alpn: Option<String>,
    /// Its bytes as sent (for JA4S).
    #[serde(skip)]
    pub alpn_raw: Vec<u8>,
    /// key_share group chosen (TLS 1.3), or the curve of a ServerKeyExchange (TLS <= 1.2) when known.
    pub group: Option<u16>,
    /// True when this is a HelloRetryRequest (special random value).
    pub is_hello_retry_request: bool,
}

impl ServerHello {
    /// The version actually negotiated: supported_versions when present, else legacy_version.
    pub fn negotiated_version(&self) -> u16 {
        self.selected_version.unwrap_or(self.version)
    }
}

/// A parsed X.509 certificate, reduced to what troubleshooting needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// RFC 4514 string, e.g. "CN=example.com, O=Example".
    pub subject: String,
    pub issuer: String,
    /// Hex, lowercase, colon-free.
    pub serial: String,
    /// Validity as Unix seconds (may be negative for pre-1970 dates).
    pub not_before: i64,
    pub not_after: i64,
    /// DNS and IP subjectAltNames as text.
    pub san: Vec<String>,
    /// Subject common names.
    pub common_names: Vec<String>,
    /// "rsa", "ec", "ed25519", "ed448", "dsa", "dh" or "unknown".
    pub key_type: String,
    pub key_bits: Option<u32>,
    /// Signature algorithm name, e.g. "sha256WithRSAEncryption", "ecdsa-with-SHA256".
    pub signature_algorithm: String,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// Basic constraints CA flag.
    pub is_ca: bool,
}

impl CertInfo {
    /// Subject and issuer are the same name: the classic self-signed certificate.
    pub fn is_self_issued(&self) -> bool {
        !self.subject.is_empty() && self.subject == self.issuer
    }
}
