//! Human-readable names for TLS protocol numbers (IANA registries, RFC spelling).

use tls_parser::{TlsCipherAu, TlsCipherEnc, TlsCipherKx, TlsCipherSuite};

/// GREASE values (RFC 8701): 0x?a?a with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// True for TLS 1.3 and the versions that negotiate its semantics: the IETF drafts
/// (0x7fNN), Google's 2017 experiments (0x7e01-0x7e03, Chrome's deployment trials) and
/// Facebook's fizz drafts (0xfb17 = draft 23, 0xfb1a = draft 26), all named so in Wireshark.
pub fn is_tls13(v: u16) -> bool {
    v == 0x0304 || (v & 0xff00) == 0x7f00 || matches!(v, 0x7e01..=0x7e03 | 0xfb17 | 0xfb1a)
}

/// "SSLv2", "SSLv3", "TLSv1.0" .. "TLSv1.3", "TLSv1.3-draft<N>", else "0x....".
pub fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSLv2".to_string(),
        0x0300 => "SSLv3".to_string(),
        0x0301 => "TLSv1.0".to_string(),
        0x0302 => "TLSv1.1".to_string(),
        0x0303 => "TLSv1.2".to_string(),
        0x0304 => "TLSv1.3".to_string(),
        v if (v & 0xff00) == 0x7f00 => format!("TLSv1.3-draft{}", v & 0xff),
        0x7e01..=0x7e03 => format!("TLSv1.3-google-experiment{}", v & 0xff),
        0xfb17 | 0xfb1a => format!("TLSv1.3-facebook-draft{}", v & 0xff),
        v => format!("0x{v:04x}"),
    }
}

/// IANA cipher suite name, "GREASE", or "unknown_0x....".
pub fn cipher_name(id: u16) -> String {
    if is_grease(id) {
        return "GREASE".to_string();
    }
    // Signalling values are not real suites, so tls-parser's table does not have them.
    match id {
        0x00ff => return "TLS_EMPTY_RENEGOTIATION_INFO_SCSV".to_string(),
        0x5600 => return "TLS_FALLBACK_SCSV".to_string(),
        _ => {}
    }
    match TlsCipherSuite::from_id(id) {
        Some(cs) => cs.name.to_string(),
        None => format!("unknown_0x{id:04x}"),
    }
}

/// Why a suite is weak (NULL, EXPORT, anon, RC4, DES, 3DES), or None when it is not
/// (or unknown, since we cannot judge what we cannot name).
pub fn cipher_is_weak(id: u16) -> Option<&'static str> {
    if is_grease(id) || id == 0x00ff || id == 0x5600 {
        return None;
    }
    let cs = TlsCipherSuite::from_id(id)?;
    if cs.enc == TlsCipherEnc::Null {
        return Some("NULL");
    }
    if cs.name.contains("EXPORT") {
        return Some("EXPORT");
    }
    // PSK/SRP/TLS 1.3 suites authenticate by other means than a certificate.
    let anon = cs.au == TlsCipherAu::Null
        && !matches!(
            cs.kx,
            TlsCipherKx::Null | TlsCipherKx::Psk | TlsCipherKx::Srp | TlsCipherKx::Tls13
        );
    if anon || cs.name.contains("_anon_") {
        return Some("anon");
    }
    match cs.enc {
        TlsCipherEnc::Rc4 => Some("RC4"),
        TlsCipherEnc::Des => Some("DES"),
        TlsCipherEnc::TripleDes => Some("3DES"),
        _ => None,
    }
}

/// RFC snake_case alert description name, "unknown" otherwise.
pub fn alert_description_name(d: u8) -> &'static str {
    match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => "unknown",
    }
}

/// "warning", "fatal" or "unknown".
pub fn alert_level_name(l: u8) -> &'static str {
    match l {
        1 => "warning",
        2 => "fatal",
        _ => "unknown",
    }
}

/// IANA supported-group name ("x25519", "secp256r1", "X25519MLKEM768", ...),
/// "GREASE", or "unknown_0x....".
pub fn group_name(g: u16) -> String {
    if is_grease(g) {
        return "GREASE".to_string();
    }
    let s = match g {
        1 => "sect163k1",
        2 => "sect163r1",
        3 => "sect163r2",
        4 => "sect193r1",
        5 => "sect193r2",
        6 => "sect233k1",
        7 => "sect233r1",
        8 => "sect239k1",
        9 => "sect283k1",
        10 => "sect283r1",
        11 => "sect409k1",
        12 => "sect409r1",
        13 => "sect571k1",
        14 => "sect571r1",
        15 => "secp160k1",
        16 => "secp160r1",
        17 => "secp160r2",
        18 => "secp192k1",
        19 => "secp192r1",
        20 => "secp224k1",
        21 => "secp224r1",
        22 => "secp256k1",
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        26 => "brainpoolP256r1",
        27 => "brainpoolP384r1",
        28 => "brainpoolP512r1",
        29 => "x25519",
        30 => "x448",
        31 => "brainpoolP256r1tls13",
        32 => "brainpoolP384r1tls13",
        33 => "brainpoolP512r1tls13",
        34 => "GC256A",
        35 => "GC256B",
        36 => "GC256C",
        37 => "GC256D",
        38 => "GC512A",
        39 => "GC512B",
        40 => "GC512C",
        41 => "curveSM2",
        256 => "ffdhe2048",
        257 => "ffdhe3072",
        258 => "ffdhe4096",
        259 => "ffdhe6144",
        260 => "ffdhe8192",
        512 => "MLKEM512",
        513 => "MLKEM768",
        514 => "MLKEM1024",
        4587 => "SecP256r1MLKEM768",
        4588 => "X25519MLKEM768",
        4589 => "SecP384r1MLKEM1024",
        25497 => "X25519Kyber768Draft00",
        25498 => "SecP256r1Kyber768Draft00",
        0xff01 => "arbitrary_explicit_prime_curves",
        0xff02 => "arbitrary_explicit_char2_curves",
        _ => return format!("unknown_0x{g:04x}"),
    };
    s.to_string()
}

/// RFC snake_case handshake message type name.
pub fn handshake_type_name(t: u8) -> &'static str {
    match t {
        0 => "hello_request",
        1 => "client_hello",
        2 => "server_hello",
        3 => "hello_verify_request",
        4 => "new_session_ticket",
        5 => "end_of_early_data",
        6 => "hello_retry_request",
        8 => "encrypted_extensions",
        11 => "certificate",
        12 => "server_key_exchange",
        13 => "certificate_request",
        14 => "server_hello_done",
        15 => "certificate_verify",
        16 => "client_key_exchange",
        20 => "finished",
        21 => "certificate_url",
        22 => "certificate_status",
        23 => "supplemental_data",
        24 => "key_update",
        67 => "next_protocol",
        254 => "message_hash",
        _ => "unknown",
    }
}

/// Common extension names (IANA spelling); "unknown_<n>" otherwise.
pub fn extension_name(t: u16) -> String {
    if is_grease(t) {
        return "GREASE".to_string();
    }
    let s = match t {
        0 => "server_name",
        1 => "max_fragment_length",
        5 => "status_request",
        10 => "supported_groups",
        11 => "ec_point_formats",
        13 => "signature_algorithms",
        14 => "use_srtp",
        15 => "heartbeat",
        16 => "application_layer_protocol_negotiation",
        17 => "status_request_v2",
        18 => "signed_certificate_timestamp",
        21 => "padding",
        22 => "encrypt_then_mac",
        23 => "extended_master_secret",
        27 => "compress_certificate",
        28 => "record_size_limit",
        35 => "session_ticket",
        40 => "key_share_old",
        41 => "pre_shared_key",
        42 => "early_data",
        43 => "supported_versions",
        44 => "cookie",
        45 => "psk_key_exchange_modes",
        47 => "certificate_authorities",
        48 => "oid_filters",
        49 => "post_handshake_auth",
        50 => "signature_algorithms_cert",
        51 => "key_share",
        13172 => "next_protocol_negotiation",
        17513 => "application_settings",
        0xfe0d => "encrypted_client_hello",
        0xff01 => "renegotiation_info",
        _ => return format!("unknown_{t}"),
    };
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_name(0x0002), "SSLv2");
        assert_eq!(version_name(0x0300), "SSLv3");
        assert_eq!(version_name(0x0301), "TLSv1.0");
        assert_eq!(version_name(0x0303), "TLSv1.2");
        assert_eq!(version_name(0x0304), "TLSv1.3");
        assert_eq!(version_name(0x7f12), "TLSv1.3-draft18");
        assert_eq!(version_name(0x7f0e), "TLSv1.3-draft14");
        assert_eq!(version_name(0x1234), "0x1234");
        assert!(is_tls13(0x7f17) && is_tls13(0x0304) && !is_tls13(0x0303));
        assert!(is_tls13(0x7e02) && is_tls13(0xfb1a) && !is_tls13(0x7e04) && !is_tls13(0xfb00));
        assert_eq!(version_name(0x7e02), "TLSv1.3-google-experiment2");
        assert_eq!(version_name(0xfb17), "TLSv1.3-facebook-draft23");
        assert_eq!(version_name(0x1234), "0x1234");
    }

    #[test]
    fn ciphers() {
        assert_eq!(cipher_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(cipher_name(0x0a0a), "GREASE");
        assert_eq!(cipher_name(0x00ff), "TLS_EMPTY_RENEGOTIATION_INFO_SCSV");
        assert_eq!(cipher_name(0xfefe), "unknown_0xfefe");
        assert_eq!(cipher_is_weak(0x0000), Some("NULL"));
        assert_eq!(cipher_is_weak(0x0002), Some("NULL"));
        assert_eq!(cipher_is_weak(0x0003), Some("EXPORT"));
        assert_eq!(cipher_is_weak(0x0034), Some("anon"));
        assert_eq!(cipher_is_weak(0x0004), Some("RC4"));
        assert_eq!(cipher_is_weak(0x0009), Some("DES"));
        assert_eq!(cipher_is_weak(0x000a), Some("3DES"));
        assert_eq!(cipher_is_weak(0xc02f), None);
        assert_eq!(cipher_is_weak(0x1301), None);
        assert_eq!(cipher_is_weak(0x008c), None); // TLS_PSK_WITH_AES_128_CBC_SHA
        assert_eq!(cipher_is_weak(0x00ff), None);
        assert_eq!(cipher_is_weak(0x2a2a), None);
    }

    #[test]
    fn alerts_groups_grease() {
        assert_eq!(alert_description_name(40), "handshake_failure");
        assert_eq!(alert_description_name(70), "protocol_version");
        assert_eq!(alert_description_name(90), "user_canceled");
        assert_eq!(alert_description_name(120), "no_application_protocol");
        assert_eq!(alert_description_name(200), "unknown");
        assert_eq!(group_name(29), "x25519");
        assert_eq!(group_name(23), "secp256r1");
        assert_eq!(group_name(4588), "X25519MLKEM768");
        assert_eq!(group_name(0x6399), "X25519Kyber768Draft00");
        assert_eq!(group_name(0xfafa), "GREASE");
        for v in [0x0a0a, 0x1a1a, 0xfafa] {
            assert!(is_grease(v));
        }
        assert!(!is_grease(0x0a1a) && !is_grease(0x1301));
    }
}
