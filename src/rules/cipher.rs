//! `cipher_mismatch` and `weak_cipher`.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::model::Side;
use crate::tls::names::{alert_description_name, cipher_is_weak, cipher_name, is_grease};
use crate::tls::types::ClientHello;
use crate::tls::TlsEventKind;

pub const CIPHER_MISMATCH: Rule = Rule {
    name: "cipher_mismatch",
    doc: "The server sent handshake_failure/insufficient_security right after the ClientHello, before any ServerHello.",
    kinds: &[Kind::CipherMismatch],
    after: &[],
    check: check_mismatch,
};

pub const WEAK_CIPHER: Rule = Rule {
    name: "weak_cipher",
    doc: "A NULL, EXPORT, anonymous, RC4, DES or 3DES cipher suite was negotiated.",
    kinds: &[Kind::WeakCipher],
    after: &[],
    check: check_weak,
};

/// Offered cipher suites by IANA name, GREASE and signalling values removed.
pub fn offered_cipher_names(ch: &ClientHello) -> Vec<String> {
    ch.ciphers
        .iter()
        .filter(|c| !is_grease(**c) && **c != 0x00ff && **c != 0x5600)
        .map(|c| cipher_name(*c))
        .collect()
}

/// A short description of what kind of suites the client offers, for the explanation.
fn describe_cipher_offer(ch: &ClientHello) -> String {
    let real: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c) && *c != 0x00ff && *c != 0x5600)
        .collect();
    if real.is_empty() {
        return "no cipher suites at all".into();
    }
    let names: Vec<String> = real.iter().map(|c| cipher_name(*c)).collect();
    let all = |pred: &dyn Fn(&str) -> bool| names.iter().all(|n| pred(n));
    if all(&|n| n.starts_with("TLS_AES") || n.starts_with("TLS_CHACHA20")) {
        return "only TLS 1.3 suites".into();
    }
    if real.iter().all(|c| cipher_is_weak(*c).is_some()) {
        return "only weak suites (RC4, DES/3DES, EXPORT, NULL or anonymous)".into();
    }
    if all(&|n| n.contains("_CBC_")) {
        return "only CBC suites".into();
    }
    if all(&|n| n.starts_with("TLS_RSA_")) {
        return "only static-RSA key exchange suites (no forward secrecy)".into();
    }
    if names.len() <= 4 {
        return format!("only {}", names.join(", "));
    }
    format!("{} suites", names.len())
}

fn check_mismatch(ctx: &mut RuleCtx<'_>) {
    let Some(tls) = ctx.flow.tls.as_ref() else {
        return;
    };
    let Some(ch) = tls.client_hello.as_ref() else {
        return;
    };
    if tls.server_hello.is_some() || tls.hello_retry_request.is_some() {
        return;
    }
    let alert = tls.events.iter().find_map(|e| match e.kind {
        TlsEventKind::Alert { description, .. } if e.dir.sender() == Side::Server => {
            let name = alert_description_name(description);
            matches!(name, "handshake_failure" | "insufficient_security").then_some((e, name))
        }
        _ => None,
    });
    let Some((alert, alert_name)) = alert else {
        return;
    };
    let offered = offered_cipher_names(ch);
    let offer = describe_cipher_offer(ch);
    let hello_frame = tls.events.first().map(|e| e.frame);
    ctx.push(
        Finding::new(Kind::CipherMismatch, Severity::High, alert.ts_us)
            .frames(hello_frame.into_iter().chain([alert.frame]))
            .summary(format!(
                "The server refused the ClientHello with {alert_name}: no cipher suite in common (the client offers {offer})."
            ))
            .explanation(format!(
                "The server answered the ClientHello with a fatal {alert_name} alert before choosing anything, which \
                 most often means none of the client's cipher suites is enabled on the server (the client offers \
                 {offer}). Less often the server lacks a common group or signature algorithm, or requires SNI. \
                 Compare with `openssl s_client -connect HOST:PORT -cipher LIST` and align the cipher \
                 configuration of both ends."
            ))
            .evidence(json!({ "offered_ciphers": offered, "alert": alert_name })),
    );
}

fn check_weak(ctx: &mut RuleCtx<'_>) {
    let Some(tls) = ctx.flow.tls.as_ref() else {
        return;
    };
    // An SSLv2 ServerHello carries SSLv2 cipher specs, not a TLS suite: obsolete_version
    // covers that flow.
    let Some(sh) = tls.server_hello.as_ref().filter(|sh| sh.version != 0x0002) else {
        return;
    };
    let Some(reason) = cipher_is_weak(sh.cipher) else {
        return;
    };
    let name = cipher_name(sh.cipher);
    let severity = if matches!(reason, "NULL" | "EXPORT" | "anon") {
        Severity::High
    } else {
        Severity::Medium
    };
    let ev = tls
        .events
        .iter()
        .find(|e| matches!(e.kind, TlsEventKind::Handshake(t) if t.0 == 2 || t.0 == 4));
    ctx.push(
        Finding::new(Kind::WeakCipher, severity, ev.map_or(ctx.flow.first_ts_us, |e| e.ts_us))
            .frames(ev.map(|e| e.frame))
            .summary(format!("The weak cipher suite {name} ({reason}) was negotiated."))
            .explanation(format!(
                "{name} uses {reason}, which gives little or no protection today. The server chose it, so the server \
                 prefers or allows it: remove it from the server's cipher list (and the client's), and prefer \
                 AEAD suites with ECDHE."
            ))
            .evidence(json!({ "cipher": name, "weakness": reason })),
    );
}

#[cfg(test)]
mod tests {
    use super::{offered_cipher_names, CIPHER_MISMATCH, WEAK_CIPHER};
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::Severity;
    use crate::tls::types::{ClientHello, ServerHello};
    use crate::tls::HandshakeStage;

    fn refused(ch: ClientHello, description: u8) -> crate::flow::FlowRecord {
        tls_flow(
            ch,
            None,
            vec![alert(Dir::ToClient, 5, 2, description)],
            HandshakeStage::ClientHello,
        )
    }

    #[test]
    fn handshake_failure_before_server_hello() {
        let out = run(&CIPHER_MISMATCH, &refused(client_hello(), 40));
        let m = one(&out, "cipher_mismatch");
        assert_eq!(m.severity, Severity::High);
        assert_eq!(m.frames, vec![4, 5]);
        assert_eq!(m.ts_us, ts(5));
        assert_eq!(ev(m, "alert"), "handshake_failure");
        assert_eq!(
            m.evidence["offered_ciphers"],
            serde_json::json!([
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_RSA_WITH_AES_128_GCM_SHA256"
            ])
        );
    }

    #[test]
    fn insufficient_security_and_offer_description() {
        let ch = ClientHello {
            ciphers: vec![0x0a0a, 0x0005, 0x000a, 0x00ff],
            ..client_hello()
        };
        let out = run(&CIPHER_MISMATCH, &refused(ch, 71));
        let m = one(&out, "cipher_mismatch");
        assert_eq!(ev(m, "alert"), "insufficient_security");
        // GREASE and the renegotiation SCSV are not suites.
        assert_eq!(
            m.evidence["offered_ciphers"],
            serde_json::json!(["TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"])
        );
        assert!(m.summary.contains("only weak suites"), "{}", m.summary);
    }

    #[test]
    fn offered_names_filter_signalling_values() {
        let ch = ClientHello {
            ciphers: vec![0x2a2a, 0x1301, 0x5600, 0x00ff],
            ..client_hello()
        };
        assert_eq!(offered_cipher_names(&ch), vec!["TLS_AES_128_GCM_SHA256"]);
    }

    #[test]
    fn no_cipher_mismatch_otherwise() {
        // Other alerts, the client's own handshake_failure, or after a ServerHello.
        assert!(run(&CIPHER_MISMATCH, &refused(client_hello(), 70)).is_empty());
        let f = tls_flow(
            client_hello(),
            None,
            vec![alert(Dir::ToServer, 5, 2, 40)],
            HandshakeStage::ClientHello,
        );
        assert!(run(&CIPHER_MISMATCH, &f).is_empty());
        let f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            vec![hs(Dir::ToClient, 5, 2), alert(Dir::ToClient, 6, 2, 40)],
            HandshakeStage::ServerHello,
        );
        assert!(run(&CIPHER_MISMATCH, &f).is_empty());
        // A HelloRetryRequest means the server found a suite it likes.
        let mut f = refused(client_hello13(), 40);
        f.tls.as_mut().unwrap().hello_retry_request = Some(ServerHello {
            is_hello_retry_request: true,
            ..server_hello13()
        });
        assert!(run(&CIPHER_MISMATCH, &f).is_empty());
        assert!(run(&CIPHER_MISMATCH, &healthy12()).is_empty());
        assert!(run(&CIPHER_MISMATCH, &flow()).is_empty());
    }

    fn negotiated(cipher: u16) -> crate::flow::FlowRecord {
        let mut f = healthy12();
        f.tls.as_mut().unwrap().server_hello = Some(server_hello(0x0303, cipher));
        f
    }

    #[test]
    fn weak_suites() {
        for (id, name, weakness, severity) in [
            (0x0005, "TLS_RSA_WITH_RC4_128_SHA", "RC4", Severity::Medium),
            (0x0002, "TLS_RSA_WITH_NULL_SHA", "NULL", Severity::High),
            (
                0x0003,
                "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
                "EXPORT",
                Severity::High,
            ),
            (
                0x000a,
                "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
                "3DES",
                Severity::Medium,
            ),
            (
                0x0034,
                "TLS_DH_anon_WITH_AES_128_CBC_SHA",
                "anon",
                Severity::High,
            ),
        ] {
            let out = run(&WEAK_CIPHER, &negotiated(id));
            let w = one(&out, "weak_cipher");
            assert_eq!(
                (ev(w, "cipher"), ev(w, "weakness"), w.severity),
                (name, weakness, severity)
            );
            // The ServerHello's frame.
            assert_eq!(w.frames, vec![5]);
            assert_eq!(w.ts_us, ts(5));
        }
    }

    #[test]
    fn strong_suites_and_offers_are_not_weak_ciphers() {
        for id in [0xc02f, 0x1301, 0x1303, 0xcca8, 0x009c] {
            assert!(run(&WEAK_CIPHER, &negotiated(id)).is_empty(), "{id:#06x}");
        }
        // Offering RC4 is not negotiating it.
        let ch = ClientHello {
            ciphers: vec![0x0005],
            ..client_hello()
        };
        let f = tls_flow(ch, None, vec![], HandshakeStage::ClientHello);
        assert!(run(&WEAK_CIPHER, &f).is_empty());
    }
}
