//! Offer vs choice: what the client offered in its ClientHello (versions including
//! supported_versions, cipher suites, groups, signature algorithms, ALPN) against what the
//! server chose or rejected. Not a rule: `handshake_aborted` puts the comparison in its
//! evidence (`client_offer`, `server_choice`, `offer_vs_choice`) and its explanation.

use serde_json::{json, Value};

use super::cipher::offered_cipher_names;
use super::version::{describe_offer, offered_versions, server_requires, version_rank};
use crate::flow::FlowRecord;
use crate::model::{FrameNo, Side};
use crate::tls::names::{alert_description_name, cipher_name, group_name, is_grease};
use crate::tls::{TlsConn, TlsEventKind};

/// The comparison: plain-words verdicts (the decisive one first) and the evidence objects.
pub struct OfferVsChoice {
    pub verdicts: Vec<String>,
    /// The verdict only says that nothing contradicts (offer and choice agree, or the server
    /// chose nothing): worth a sentence only where the negotiation is the question.
    pub neutral: bool,
    pub client_offer: Value,
    pub server_choice: Value,
}

/// A JSON array of owned strings, moved rather than copied.
pub fn strings(v: impl IntoIterator<Item = String>) -> Value {
    Value::Array(v.into_iter().map(Value::String).collect())
}

/// "TLS 1.2" style short version name for sentences.
pub fn short_version(v: u16) -> String {
    match version_rank(v) {
        0x0200 => "SSL 2.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        _ => crate::tls::names::version_name(v),
    }
}

/// "TLS 1.0-1.1", "TLS 1.2", "SSL 3.0-TLS 1.2" for a sorted list of versions.
pub fn version_range(versions: &[u16]) -> String {
    let (Some(lo), Some(hi)) = (versions.first(), versions.last()) else {
        return "no version".into();
    };
    let (lo, hi) = (short_version(*lo), short_version(*hi));
    if lo == hi {
        return lo;
    }
    match (lo.strip_prefix("TLS "), hi.strip_prefix("TLS ")) {
        (Some(l), Some(h)) => format!("TLS {l}-{h}"),
        _ => format!("{lo}-{hi}"),
    }
}

/// IANA TLS SignatureScheme name, "GREASE", or "unknown_0x....".
pub fn signature_scheme_name(s: u16) -> String {
    if is_grease(s) {
        return "GREASE".into();
    }
    let n = match s {
        0x0201 => "rsa_pkcs1_sha1",
        0x0203 => "ecdsa_sha1",
        0x0202 => "dsa_sha1",
        0x0401 => "rsa_pkcs1_sha256",
        0x0402 => "dsa_sha256",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0501 => "rsa_pkcs1_sha384",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0601 => "rsa_pkcs1_sha512",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0809 => "rsa_pss_pss_sha256",
        0x080a => "rsa_pss_pss_sha384",
        0x080b => "rsa_pss_pss_sha512",
        0x081a => "ecdsa_brainpoolP256r1tls13_sha256",
        0x081b => "ecdsa_brainpoolP384r1tls13_sha384",
        0x081c => "ecdsa_brainpoolP512r1tls13_sha512",
        0x0904 => "mldsa44",
        0x0905 => "mldsa65",
        0x0906 => "mldsa87",
        _ => return format!("unknown_0x{s:04x}"),
    };
    n.into()
}

fn is_rsa_scheme(s: u16) -> bool {
    (s < 0x0800 && s & 0xff == 0x01) || matches!(s, 0x0804..=0x0806 | 0x0809..=0x080b)
}

fn is_ecdsa_scheme(s: u16) -> bool {
    (s < 0x0800 && s & 0xff == 0x03) || matches!(s, 0x081a..=0x081c)
}

/// The family of a suite, for "the client offers only X suites".
fn suite_class(name: &str) -> &'static str {
    if name.starts_with("TLS_AES_") || name.starts_with("TLS_CHACHA20_") {
        "TLS 1.3"
    } else if name.contains("NULL") {
        "NULL"
    } else if name.contains("EXPORT") {
        "EXPORT"
    } else if name.contains("RC4") {
        "RC4"
    } else if name.contains("3DES") || name.contains("_DES_") {
        "DES/3DES"
    } else if name.contains("_CBC_") && name.ends_with("_SHA") {
        "CBC-SHA"
    } else if name.contains("_CBC_") {
        "CBC-SHA2"
    } else {
        "AEAD"
    }
}

/// "only CBC-SHA suites (TLS_RSA_WITH_AES_128_CBC_SHA, ...)" / "12 suites (...)".
pub fn describe_suites(names: &[String]) -> String {
    if names.is_empty() {
        return "no cipher suites at all".into();
    }
    let shown: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
    let more = if names.len() > shown.len() {
        format!(" and {} more", names.len() - shown.len())
    } else {
        String::new()
    };
    let list = format!("{}{more}", shown.join(", "));
    let first = suite_class(&names[0]);
    if names.iter().all(|n| suite_class(n) == first) {
        return format!("only {first} suites ({list})");
    }
    if names.iter().all(|n| n.starts_with("TLS_RSA_")) {
        return format!("only static-RSA suites ({list})");
    }
    if names.iter().all(|n| n.contains("_ECDHE_")) {
        return format!("only ECDHE suites ({list})");
    }
    format!("{} suites ({list})", names.len())
}

fn real(v: &[u16]) -> impl Iterator<Item = u16> + '_ {
    v.iter().copied().filter(|x| !is_grease(*x))
}

/// First handshake message of type `t` sent by `side`: its frame.
pub fn handshake_frame(tls: &TlsConn, side: Side, t: u8) -> Option<FrameNo> {
    tls.events.iter().find_map(|e| match e.kind {
        TlsEventKind::Handshake(h) if h.0 == t && e.dir.sender() == side => Some(e.frame),
        _ => None,
    })
}

/// The first fatal alert in clear sent by `side`: (description, frame).
fn fatal_alert(tls: &TlsConn, side: Side) -> Option<(&'static str, FrameNo)> {
    tls.events.iter().find_map(|e| match e.kind {
        TlsEventKind::Alert {
            level: 2,
            description,
        } if e.dir.sender() == side => Some((alert_description_name(description), e.frame)),
        _ => None,
    })
}

/// Compare the client's offer with the server's choice or refusal.
pub fn compare(flow: &FlowRecord, tls: &TlsConn) -> Option<OfferVsChoice> {
    let ch = tls.client_hello.as_ref()?;
    let ch_frame = handshake_frame(tls, Side::Client, 1).unwrap_or(flow.first_frame);
    let versions = offered_versions(ch);
    let range = version_range(&versions);
    let suites = offered_cipher_names(ch);
    let groups: Vec<String> = real(&ch.groups).map(group_name).collect();
    let key_shares: Vec<String> = real(&ch.key_share_groups).map(group_name).collect();
    let sigalgs: Vec<String> = real(&ch.signature_algorithms)
        .map(signature_scheme_name)
        .collect();
    let sh = tls.server_hello.as_ref().filter(|s| s.version != 0x0002);
    let sh_frame = handshake_frame(tls, Side::Server, 2);
    let server_alert = fatal_alert(tls, Side::Server);
    let client_alert = fatal_alert(tls, Side::Client);
    let mut verdicts: Vec<String> = Vec::new();

    // Versions.
    match (sh, server_alert) {
        (Some(s), _) => {
            let v = s.negotiated_version();
            let offered = versions.iter().any(|o| version_rank(*o) == version_rank(v));
            let at = sh_frame
                .map(|f| format!(" (frame {f})"))
                .unwrap_or_default();
            if !offered {
                verdicts.push(format!(
                    "the server chose {}{at}, which the client does not offer (it offers {range})",
                    short_version(v)
                ));
            } else if client_alert.is_some_and(|(a, _)| a == "protocol_version") {
                verdicts.push(format!(
                    "the server chose {}{at}; the client refused it with protocol_version (it offers {range})",
                    short_version(v)
                ));
            }
        }
        (None, Some(("protocol_version", frame))) => {
            let (need, _) = server_requires(&versions, ch.version);
            verdicts.push(format!(
                "client offers {range} only (frame {ch_frame}); server answered protocol_version (frame {frame}): it requires {need}"
            ));
        }
        _ => {}
    }

    // Cipher suites.
    match (sh, server_alert) {
        (Some(s), _) if !ch.ciphers.contains(&s.cipher) => {
            verdicts.push(format!(
                "the server chose {}, which the client does not offer",
                cipher_name(s.cipher)
            ));
        }
        (None, Some((a @ ("handshake_failure" | "insufficient_security"), frame)))
            if tls.hello_retry_request.is_none() =>
        {
            verdicts.push(format!(
                "no common cipher: the client offers {} (frame {ch_frame}); the server answered {a} (frame {frame})",
                describe_suites(&suites)
            ));
            // A server with only one certificate type cannot sign with another.
            let schemes: Vec<u16> = real(&ch.signature_algorithms).collect();
            if !schemes.is_empty() && !schemes.iter().any(|s| is_rsa_scheme(*s)) {
                verdicts.push(
                    "the client offers no RSA signature algorithm: a server with only an RSA certificate cannot sign for it"
                        .into(),
                );
            } else if !schemes.is_empty() && !schemes.iter().any(|s| is_ecdsa_scheme(*s)) {
                verdicts.push(
                    "the client offers no ECDSA signature algorithm: a server with only an ECDSA certificate cannot sign for it"
                        .into(),
                );
            }
        }
        _ => {}
    }

    // Groups.
    if let Some(hrr) = tls.hello_retry_request.as_ref() {
        if let Some(g) = hrr.group {
            let shares = if key_shares.is_empty() {
                "none".to_string()
            } else {
                key_shares.join(", ")
            };
            verdicts.push(format!(
                "the server asked (HelloRetryRequest) for a {} key share; the client's first key shares: {shares}",
                group_name(g)
            ));
        }
    }
    if let Some(g) = sh.and_then(|s| s.group) {
        if !ch.groups.is_empty() && !ch.groups.contains(&g) {
            verdicts.push(format!(
                "the server chose group {}, which the client does not offer ({})",
                group_name(g),
                groups.join(", ")
            ));
        }
    }

    // ALPN.
    if let Some(("no_application_protocol", frame)) = server_alert {
        verdicts.push(format!(
            "no common ALPN protocol: the client offers {} (frame {ch_frame}); the server answered no_application_protocol (frame {frame})",
            if ch.alpn.is_empty() { "none".to_string() } else { ch.alpn.join(", ") }
        ));
    }
    if let Some(a) = sh.and_then(|s| s.alpn.as_ref()) {
        if !ch.alpn.contains(a) {
            verdicts.push(format!(
                "the server chose ALPN {a}, which the client does not offer"
            ));
        }
    }

    // Client certificate.
    let cert_request = handshake_frame(tls, Side::Server, 13);
    let client_cert = handshake_frame(tls, Side::Client, 11);
    if let Some(req) = cert_request {
        let sent = flow.client_certs.iter().flatten().next();
        let reaction = server_alert
            .map(|(a, f)| format!("; the server then aborted with {a} (frame {f})"))
            .unwrap_or_default();
        match (client_cert, sent) {
            (Some(f), Some(c)) => verdicts.push(format!(
                "the server asked for a client certificate (frame {req}); the client sent {} issued by {} (frame {f}){reaction}",
                c.subject, c.issuer
            )),
            (Some(f), None) if flow.client_certs.is_empty() => verdicts.push(format!(
                "the server asked for a client certificate (frame {req}) and the client sent none (an empty Certificate, frame {f}){reaction}"
            )),
            (None, _) if tls.negotiated_version().is_some_and(|v| version_rank(v) < 0x0304)
                && handshake_frame(tls, Side::Client, 16).is_some() =>
            {
                verdicts.push(format!(
                    "the server asked for a client certificate (frame {req}) and the client sent none{reaction}"
                ))
            }
            _ => {}
        }
    }

    // Nothing contradicts: say what was agreed, or that the server never chose.
    let neutral = verdicts.is_empty();
    if neutral {
        match (sh, server_alert) {
            (Some(s), _) => {
                let mut extra = Vec::new();
                if let Some(g) = s.group {
                    extra.push(format!("group {}", group_name(g)));
                }
                if let Some(a) = &s.alpn {
                    extra.push(format!("ALPN {a}"));
                }
                let extra = if extra.is_empty() {
                    String::new()
                } else {
                    format!(", {}", extra.join(", "))
                };
                verdicts.push(format!(
                    "offer and choice agree: the server chose {}, {}{extra} from the client's {range} offer{}",
                    short_version(s.negotiated_version()),
                    cipher_name(s.cipher),
                    sh_frame.map(|f| format!(" (frame {f})")).unwrap_or_default()
                ));
            }
            (None, Some((a, f))) => verdicts.push(format!(
                "the server chose nothing: it answered the client's {range} offer with {a} (frame {f})"
            )),
            (None, None) => verdicts.push(format!(
                "the server chose nothing: no ServerHello answered the client's {range} offer with {} suites",
                suites.len()
            )),
        }
    }

    let mut client_offer = json!({
        "versions": describe_offer(ch),
        "ciphers": suites.len(),
        "alpn": ch.alpn,
        "frame": ch_frame,
    });
    // The long lists are moved in (json! would copy every name once more).
    if let Value::Object(m) = &mut client_offer {
        let versions = versions.iter().map(|v| crate::tls::names::version_name(*v));
        m.insert("version_list".into(), strings(versions));
        m.insert("cipher_suites".into(), strings(suites));
        m.insert("groups".into(), strings(groups));
        m.insert("key_shares".into(), strings(key_shares));
        m.insert("signature_algorithms".into(), strings(sigalgs));
    }
    let server_choice = json!({
        "version": sh.map(|s| crate::tls::names::version_name(s.negotiated_version())),
        "cipher": sh.map(|s| cipher_name(s.cipher)),
        "group": sh.and_then(|s| s.group).map(group_name),
        "alpn": sh.and_then(|s| s.alpn.clone()),
        "hello_retry_group": tls.hello_retry_request.as_ref().and_then(|h| h.group).map(group_name),
        "rejected_with": server_alert.map(|(a, _)| a),
        "certificate_request": cert_request.is_some(),
        "frame": sh_frame.or(server_alert.map(|(_, f)| f)),
    });
    Some(OfferVsChoice {
        verdicts,
        neutral,
        client_offer,
        server_choice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::tls::types::ClientHello;
    use crate::tls::HandshakeStage;

    const S: Dir = Dir::ToClient;

    #[test]
    fn ranges_and_names() {
        assert_eq!(version_range(&[0x0301, 0x0302]), "TLS 1.0-1.1");
        assert_eq!(version_range(&[0x0303]), "TLS 1.2");
        assert_eq!(version_range(&[0x0300, 0x0303]), "SSL 3.0-TLS 1.2");
        assert_eq!(signature_scheme_name(0x0804), "rsa_pss_rsae_sha256");
        assert!(is_rsa_scheme(0x0401) && is_rsa_scheme(0x0804) && !is_rsa_scheme(0x0403));
        assert!(is_ecdsa_scheme(0x0403) && !is_ecdsa_scheme(0x0807));
        let cbc = vec![
            "TLS_RSA_WITH_AES_128_CBC_SHA".to_string(),
            "TLS_RSA_WITH_AES_256_CBC_SHA".to_string(),
        ];
        assert_eq!(
            describe_suites(&cbc),
            "only CBC-SHA suites (TLS_RSA_WITH_AES_128_CBC_SHA, TLS_RSA_WITH_AES_256_CBC_SHA)"
        );
    }

    #[test]
    fn old_client_against_modern_server() {
        let ch = ClientHello {
            supported_versions: vec![0x0302, 0x0301],
            ..client_hello()
        };
        let f = tls_flow(
            ch,
            None,
            vec![alert(S, 5, 2, 70)],
            HandshakeStage::ClientHello,
        );
        let c = compare(&f, f.tls.as_ref().unwrap()).unwrap();
        assert_eq!(
            c.verdicts[0],
            "client offers TLS 1.0-1.1 only (frame 4); server answered protocol_version (frame 5): it requires TLS 1.2 or newer"
        );
        assert_eq!(c.server_choice["rejected_with"], "protocol_version");
        assert_eq!(c.client_offer["version_list"][1], "TLSv1.1");
    }

    #[test]
    fn no_common_cipher_names_the_suites() {
        let ch = ClientHello {
            ciphers: vec![0x002f, 0x0035, 0x00ff],
            signature_algorithms: vec![0x0403, 0x0503],
            ..client_hello()
        };
        let f = tls_flow(
            ch,
            None,
            vec![alert(S, 5, 2, 40)],
            HandshakeStage::ClientHello,
        );
        let c = compare(&f, f.tls.as_ref().unwrap()).unwrap();
        assert_eq!(
            c.verdicts[0],
            "no common cipher: the client offers only CBC-SHA suites (TLS_RSA_WITH_AES_128_CBC_SHA, \
             TLS_RSA_WITH_AES_256_CBC_SHA) (frame 4); the server answered handshake_failure (frame 5)"
        );
        assert!(c.verdicts[1].contains("no RSA signature algorithm"));
        assert_eq!(
            c.client_offer["signature_algorithms"][0],
            "ecdsa_secp256r1_sha256"
        );
    }

    #[test]
    fn alpn_and_unoffered_choices() {
        let ch = ClientHello {
            alpn: vec!["h2".into()],
            ..client_hello()
        };
        let f = tls_flow(
            ch.clone(),
            None,
            vec![alert(S, 5, 2, 120)],
            HandshakeStage::ClientHello,
        );
        let c = compare(&f, f.tls.as_ref().unwrap()).unwrap();
        assert!(c.verdicts[0].starts_with("no common ALPN protocol: the client offers h2"));

        let mut sh = server_hello(0x0302, 0x1301);
        sh.alpn = Some("http/1.1".into());
        let f = tls_flow(ch, Some(sh), vec![hs(S, 5, 2)], HandshakeStage::ServerHello);
        let c = compare(&f, f.tls.as_ref().unwrap()).unwrap();
        assert_eq!(c.verdicts.len(), 3, "{:?}", c.verdicts);
        assert!(c.verdicts[0].contains("TLS 1.1 (frame 5), which the client does not offer"));
        assert!(c.verdicts[1].contains("TLS_AES_128_GCM_SHA256, which the client does not offer"));
        assert!(c.verdicts[2].contains("ALPN http/1.1"));
        assert_eq!(c.server_choice["version"], "TLSv1.1");
    }

    #[test]
    fn client_certificate_requested_and_not_sent() {
        let f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            vec![
                hs(S, 5, 2),
                hs(S, 5, 11),
                hs(S, 5, 13),
                hs(S, 5, 14),
                hs(Dir::ToServer, 6, 11),
                hs(Dir::ToServer, 6, 16),
                alert(S, 7, 2, 40),
            ],
            HandshakeStage::ClientKeyExchange,
        );
        let c = compare(&f, f.tls.as_ref().unwrap()).unwrap();
        assert_eq!(
            c.verdicts,
            vec![
                "the server asked for a client certificate (frame 5) and the client sent none (an empty \
                 Certificate, frame 6); the server then aborted with handshake_failure (frame 7)"
            ]
        );
        assert_eq!(c.server_choice["certificate_request"], true);
    }

    #[test]
    fn hello_retry_request_names_the_group_asked_for() {
        let mut f = tls_flow(
            client_hello13(),
            None,
            vec![hs(S, 5, 2)],
            HandshakeStage::HelloRetryRequest,
        );
        let tls = f.tls.as_mut().unwrap();
        tls.client_hello.as_mut().unwrap().key_share_groups = vec![0x0a0a, 29];
        tls.hello_retry_request = Some(crate::tls::types::ServerHello {
            group: Some(24),
            is_hello_retry_request: true,
            ..server_hello13()
        });
        let c = compare(&f, f.tls.as_ref().unwrap()).unwrap();
        assert_eq!(
            c.verdicts,
            vec![
                "the server asked (HelloRetryRequest) for a secp384r1 key share; the client's first \
                 key shares: x25519"
            ]
        );
        assert_eq!(c.server_choice["hello_retry_group"], "secp384r1");
        assert_eq!(c.client_offer["key_shares"], serde_json::json!(["x25519"]));
    }
}
