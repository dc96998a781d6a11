//! Certificate rules over the server's chain (TLS <= 1.2, where the chain is in clear):
//! `certificate_expired` / `certificate_not_yet_valid`, `certificate_self_signed`,
//! `certificate_name_mismatch`, `certificate_weak`.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::flow::FlowRecord;
use crate::model::{format_secs, Dir, FrameNo, TimestampUs};
use crate::tls::cert::cert_matches_host;
use crate::tls::names::alert_description_name;
use crate::tls::types::CertInfo;
use crate::tls::TlsEventKind;

pub const CERTIFICATE_VALIDITY: Rule = Rule {
    name: "certificate_validity",
    doc: "A certificate of the server's chain is expired or not yet valid at capture time.",
    kinds: &[Kind::CertificateExpired, Kind::CertificateNotYetValid],
    after: &[],
    check: check_validity,
};

pub const CERTIFICATE_SELF_SIGNED: Rule = Rule {
    name: "certificate_self_signed",
    doc: "The server's leaf certificate is self-signed, or its chain ends in a root the client did not trust.",
    kinds: &[Kind::CertificateSelfSigned],
    after: &[],
    check: check_self_signed,
};

pub const CERTIFICATE_NAME_MISMATCH: Rule = Rule {
    name: "certificate_name_mismatch",
    doc: "The SNI name is not covered by the leaf certificate's SAN/CN (RFC 6125 wildcards).",
    kinds: &[Kind::CertificateNameMismatch],
    after: &[],
    check: check_name,
};

pub const CERTIFICATE_WEAK: Rule = Rule {
    name: "certificate_weak",
    doc: "RSA/DSA key under 2048 bits, EC key under 224 bits, or an MD5/SHA-1 signature.",
    kinds: &[Kind::CertificateWeak],
    after: &[],
    check: check_weak,
};

/// The frame and time of the server's Certificate message.
pub(super) fn certificate_event(ctx: &RuleCtx<'_>) -> (Option<FrameNo>, TimestampUs) {
    let ev = ctx.flow.tls.as_ref().and_then(|t| {
        t.events.iter().find(|e| {
            e.dir == Dir::ToClient && matches!(e.kind, TlsEventKind::Handshake(t) if t.0 == crate::tls::wire::hs::CERTIFICATE)
        })
    });
    (
        ev.map(|e| e.frame),
        ev.map_or(ctx.flow.first_ts_us, |e| e.ts_us),
    )
}

/// The server's parsed certificates, borrowed from the flow (not from `ctx`, so findings
/// can be pushed while they are in use).
fn certs<'a>(ctx: &RuleCtx<'a>) -> Vec<&'a CertInfo> {
    let flow: &'a FlowRecord = ctx.flow;
    flow.server_certs
        .iter()
        .filter_map(|c| c.as_ref().ok())
        .collect()
}

pub(super) fn position(i: usize, n: usize) -> &'static str {
    if i == 0 {
        "leaf"
    } else if i + 1 == n {
        "last in chain"
    } else {
        "intermediate"
    }
}

fn check_validity(ctx: &mut RuleCtx<'_>) {
    let chain = certs(ctx);
    let (frame, ts) = certificate_event(ctx);
    let now = ts.div_euclid(1_000_000);
    let mut out = Vec::new();
    for (i, c) in chain.iter().enumerate() {
        let pos = position(i, chain.len());
        let (kind, summary, explanation) = if now > c.not_after {
            let days = (now - c.not_after) / 86_400;
            (
                Kind::CertificateExpired,
                format!("The server's {pos} certificate ({}) expired on {} ({days} days before the capture).", c.subject, format_secs(c.not_after)),
                "A certificate past its notAfter date is rejected by every validating client (alert certificate_expired \
                 or bad_certificate). Renew and deploy the certificate (and its chain), then reload the server. If it \
                 looks valid, check the clock of the client: a clock far in the future gives the same error."
                    .to_string(),
            )
        } else if now < c.not_before {
            (
                Kind::CertificateNotYetValid,
                format!("The server's {pos} certificate ({}) is not valid before {}.", c.subject, format_secs(c.not_before)),
                "The certificate's notBefore is after the capture time: either it was deployed too early or a clock is \
                 wrong (often the client's, e.g. an embedded device without NTP)."
                    .to_string(),
            )
        } else {
            continue;
        };
        let severity = if i == 0 {
            Severity::High
        } else {
            Severity::Medium
        };
        out.push(
            Finding::new(kind, severity, ts)
                .frames(frame)
                .summary(summary)
                .explanation(explanation)
                .evidence(json!({
                    "subject": c.subject,
                    "issuer": c.issuer,
                    "not_before": format_secs(c.not_before),
                    "not_after": format_secs(c.not_after),
                    "chain_position": i,
                    "sha256": c.sha256,
                })),
        );
    }
    ctx.findings.extend(out);
}

/// The client rejected the chain's trust anchor (as opposed to its dates or name).
fn client_said_unknown_ca(ctx: &RuleCtx<'_>) -> bool {
    ctx.flow.tls.as_ref().is_some_and(|t| {
        t.events.iter().any(|e| {
            e.dir == Dir::ToServer
                && matches!(e.kind, TlsEventKind::Alert { description, .. }
                    if matches!(alert_description_name(description), "unknown_ca" | "bad_certificate" | "certificate_unknown"))
        })
    })
}

fn check_self_signed(ctx: &mut RuleCtx<'_>) {
    let chain = certs(ctx);
    let Some(leaf) = chain.first() else {
        return;
    };
    let (frame, ts) = certificate_event(ctx);
    let (cert, summary, explanation) = if leaf.is_self_issued() {
        (
            leaf,
            format!("The server presented a self-signed certificate ({}).", leaf.subject),
            "The leaf certificate is its own issuer, so no public CA vouches for it: clients reject it (unknown_ca, \
             bad_certificate) unless it is pinned or installed in their trust store. Use a certificate from a CA the \
             clients trust, or distribute this certificate to the clients deliberately.",
        )
    } else if chain.len() > 1
        && chain.last().is_some_and(|c| c.is_self_issued())
        && client_said_unknown_ca(ctx)
    {
        let root = chain.last().unwrap_or(leaf);
        (
            root,
            format!("The client rejected the server's chain ending in the root {}.", root.subject),
            "The server sent its chain up to a self-signed root, and the client answered that it does not trust it: \
             the root (a private or test CA) is not in the client's trust store. Install the CA on the clients, or \
             use a publicly trusted CA.",
        )
    } else {
        return;
    };
    let (subject, issuer) = (cert.subject.clone(), cert.issuer.clone());
    ctx.push(
        Finding::new(Kind::CertificateSelfSigned, Severity::Medium, ts)
            .frames(frame)
            .summary(summary)
            .explanation(explanation)
            .evidence(json!({ "subject": subject, "issuer": issuer })),
    );
}

fn check_name(ctx: &mut RuleCtx<'_>) {
    let Some(sni) = ctx.flow.sni() else {
        return;
    };
    let Some(leaf) = ctx.flow.server_leaf() else {
        return;
    };
    if cert_matches_host(leaf, sni) {
        return;
    }
    let names: Vec<String> = if leaf.san.is_empty() {
        leaf.common_names.clone()
    } else {
        leaf.san.clone()
    };
    let (frame, ts) = certificate_event(ctx);
    // The evidence keeps 100 names; the sentence ten.
    let listed = crate::bounded::listed(&names, 10);
    let sni = sni.to_string();
    ctx.push(
        Finding::new(Kind::CertificateNameMismatch, Severity::High, ts)
            .frames(frame)
            .summary(format!("The certificate does not cover the requested name {sni} (it names {listed})."))
            .explanation(format!(
                "The client asked for {sni} (SNI) but the server's certificate is for {listed}. Validating clients \
                 abort (bad_certificate / certificate_unknown, or a hostname verification error). Usual causes: a \
                 missing SNI-to-certificate mapping (default virtual host), a certificate lacking this name in its \
                 SAN, or the client using the wrong host name or an IP address."
            ))
            .evidence(json!({ "sni": sni, "names": names, "subject": leaf.subject })),
    );
}

fn check_weak(ctx: &mut RuleCtx<'_>) {
    let chain = certs(ctx);
    let (frame, ts) = certificate_event(ctx);
    let mut out = Vec::new();
    for (i, c) in chain.iter().enumerate() {
        let weak_key = match (c.key_type.as_str(), c.key_bits) {
            ("rsa" | "dsa", Some(bits)) => bits < 2048,
            ("ec", Some(bits)) => bits < 224,
            _ => false,
        };
        let sig = c.signature_algorithm.to_ascii_lowercase();
        // A self-signed root's own signature is never checked by clients.
        let weak_sig =
            !(c.is_self_issued() && i > 0) && (sig.contains("md5") || sig.contains("sha1"));
        if !weak_key && !weak_sig {
            continue;
        }
        let mut reasons = Vec::new();
        if weak_key {
            reasons.push(format!(
                "{} {}-bit key",
                c.key_type.to_uppercase(),
                c.key_bits.unwrap_or(0)
            ));
        }
        if weak_sig {
            reasons.push(format!("{} signature", c.signature_algorithm));
        }
        out.push(
            Finding::new(Kind::CertificateWeak, Severity::Medium, ts)
                .frames(frame)
                .summary(format!("The server's {} certificate ({}) is weak: {}.", position(i, chain.len()), c.subject, reasons.join(", ")))
                .explanation(
                    "Keys below 2048 bits (RSA/DSA) and MD5 or SHA-1 signatures are rejected by current clients and \
                     CAs (OpenSSL security level 2, browsers). Reissue the certificate with an RSA >= 2048 or ECDSA \
                     P-256 key and a SHA-256 signature.",
                )
                .evidence(json!({
                    "subject": c.subject,
                    "key_type": c.key_type,
                    "key_bits": c.key_bits,
                    "signature_algorithm": c.signature_algorithm,
                    "chain_position": i,
                })),
        );
    }
    ctx.findings.extend(out);
}

#[cfg(test)]
mod tests {
    use super::{
        CERTIFICATE_NAME_MISMATCH, CERTIFICATE_SELF_SIGNED, CERTIFICATE_VALIDITY, CERTIFICATE_WEAK,
    };
    use crate::flow::FlowRecord;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::{evaluate, Severity};
    use crate::tls::types::CertInfo;
    use crate::tls::HandshakeStage;

    const DAY: i64 = 86_400;

    /// The server's TLS 1.2 flight (Certificate in frame 5) with this chain, stopped there,
    /// plus `client` events.
    fn with_chain(chain: Vec<CertInfo>, client: Vec<crate::tls::TlsEvent>) -> FlowRecord {
        let mut events = server_flight12(5);
        events.extend(client);
        let mut f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            events,
            HandshakeStage::ServerHelloDone,
        );
        f.server_certs = chain.into_iter().map(Ok).collect();
        f
    }

    fn chain3() -> Vec<CertInfo> {
        vec![
            leaf("www.example.com"),
            ca("CN=Example Intermediate CA", "CN=Example Root CA"),
            ca("CN=Example Root CA", "CN=Example Root CA"),
        ]
    }

    fn cert_kinds(f: &FlowRecord) -> Vec<&'static str> {
        let mut k = kinds(&evaluate(f));
        k.retain(|k| k.starts_with("certificate_"));
        k
    }

    #[test]
    fn expired_leaf() {
        let mut c = leaf("www.example.com");
        c.not_before = NOW - 400 * DAY;
        c.not_after = NOW - 10 * DAY;
        let f = with_chain(vec![c], vec![]);
        let out = run(&CERTIFICATE_VALIDITY, &f);
        let e = one(&out, "certificate_expired");
        assert_eq!(e.severity, Severity::High);
        assert_eq!(e.frames, vec![5]);
        assert_eq!(e.ts_us, ts(5));
        assert_eq!(ev(e, "subject"), "CN=www.example.com");
        assert_eq!(ev(e, "not_after"), "2023-11-04T22:13:20Z");
        assert_eq!(ev(e, "not_before"), "2022-10-10T22:13:20Z");
        assert_eq!(e.evidence["chain_position"], 0);
        assert!(
            e.summary.contains("leaf") && e.summary.contains("10 days"),
            "{}",
            e.summary
        );
    }

    #[test]
    fn not_yet_valid_leaf() {
        let mut c = leaf("www.example.com");
        c.not_before = NOW + DAY;
        c.not_after = NOW + 400 * DAY;
        let f = with_chain(vec![c], vec![]);
        let out = run(&CERTIFICATE_VALIDITY, &f);
        let e = one(&out, "certificate_not_yet_valid");
        assert_eq!(e.severity, Severity::High);
        assert_eq!(e.frames, vec![5]);
        assert_eq!(ev(e, "not_before"), "2023-11-15T22:13:20Z");
        assert!(!kinds(&out).contains(&"certificate_expired"));
    }

    #[test]
    fn expired_intermediate_is_medium() {
        let mut chain = chain3();
        chain[1].not_after = NOW - DAY;
        let f = with_chain(chain, vec![]);
        let out = run(&CERTIFICATE_VALIDITY, &f);
        let e = one(&out, "certificate_expired");
        assert_eq!(e.severity, Severity::Medium);
        assert_eq!(e.evidence["chain_position"], 1);
        assert_eq!(ev(e, "subject"), "CN=Example Intermediate CA");
        assert!(e.summary.contains("intermediate"), "{}", e.summary);
    }

    #[test]
    fn validity_boundaries_are_inclusive() {
        let mut c = leaf("www.example.com");
        c.not_after = NOW;
        let f = with_chain(vec![c.clone()], vec![]);
        assert!(run(&CERTIFICATE_VALIDITY, &f).is_empty());
        c.not_before = NOW;
        let f = with_chain(vec![c], vec![]);
        assert!(run(&CERTIFICATE_VALIDITY, &f).is_empty());
    }

    #[test]
    fn self_signed_leaf() {
        let mut c = leaf("www.example.com");
        c.issuer = c.subject.clone();
        let f = with_chain(vec![c], vec![]);
        let out = run(&CERTIFICATE_SELF_SIGNED, &f);
        let s = one(&out, "certificate_self_signed");
        assert_eq!(s.severity, Severity::Medium);
        assert_eq!(s.frames, vec![5]);
        assert_eq!(ev(s, "subject"), "CN=www.example.com");
        assert_eq!(ev(s, "issuer"), "CN=www.example.com");
    }

    #[test]
    fn chain_to_self_signed_root_only_after_client_distrust() {
        // Sending the root is harmless by itself...
        let f = with_chain(chain3(), vec![]);
        assert!(run(&CERTIFICATE_SELF_SIGNED, &f).is_empty());
        // ... and a server-side unknown_ca is about the client's certificate, not this chain.
        let f = with_chain(chain3(), vec![alert(Dir::ToClient, 6, 2, 48)]);
        assert!(run(&CERTIFICATE_SELF_SIGNED, &f).is_empty());
        // The client saying unknown_ca names the root as the untrusted anchor.
        let f = with_chain(chain3(), vec![alert(Dir::ToServer, 6, 2, 48)]);
        let out = run(&CERTIFICATE_SELF_SIGNED, &f);
        let s = one(&out, "certificate_self_signed");
        assert_eq!(ev(s, "subject"), "CN=Example Root CA");
        assert_eq!(ev(s, "issuer"), "CN=Example Root CA");
        assert!(s.summary.contains("root"), "{}", s.summary);
        // A chain that does not end in a self-signed root is not flagged even then.
        let f = with_chain(chain3()[..2].to_vec(), vec![alert(Dir::ToServer, 6, 2, 48)]);
        assert!(run(&CERTIFICATE_SELF_SIGNED, &f).is_empty());
    }

    #[test]
    fn name_mismatch_against_san() {
        let mut c = leaf("api.example.com");
        c.san = vec!["api.example.com".into(), "example.com".into()];
        let f = with_chain(vec![c], vec![]);
        let out = run(&CERTIFICATE_NAME_MISMATCH, &f);
        let m = one(&out, "certificate_name_mismatch");
        assert_eq!(m.severity, Severity::High);
        assert_eq!(m.frames, vec![5]);
        assert_eq!(ev(m, "sni"), "www.example.com");
        assert_eq!(
            m.evidence["names"],
            serde_json::json!(["api.example.com", "example.com"])
        );
        assert_eq!(ev(m, "subject"), "CN=api.example.com");
    }

    #[test]
    fn wildcards_per_rfc6125() {
        let wild = |san: &str, sni: &str| {
            let mut c = leaf("x");
            c.san = vec![san.into()];
            let mut f = with_chain(vec![c], vec![]);
            f.tls.as_mut().unwrap().client_hello.as_mut().unwrap().sni = Some(sni.into());
            run(&CERTIFICATE_NAME_MISMATCH, &f)
        };
        assert!(wild("*.example.com", "www.example.com").is_empty());
        assert!(wild("*.example.com", "WWW.Example.COM").is_empty());
        // A wildcard covers exactly one label.
        let out = wild("*.example.com", "a.b.example.com");
        assert_eq!(
            ev(one(&out, "certificate_name_mismatch"), "sni"),
            "a.b.example.com"
        );
        assert_eq!(wild("*.example.com", "example.com").len(), 1);
    }

    #[test]
    fn common_name_is_used_only_without_san() {
        let mut c = leaf("www.example.com");
        c.san.clear();
        let f = with_chain(vec![c.clone()], vec![]);
        assert!(run(&CERTIFICATE_NAME_MISMATCH, &f).is_empty());
        c.common_names = vec!["other.example.com".into()];
        let f = with_chain(vec![c], vec![]);
        let out = run(&CERTIFICATE_NAME_MISMATCH, &f);
        assert_eq!(
            one(&out, "certificate_name_mismatch").evidence["names"],
            serde_json::json!(["other.example.com"])
        );
    }

    #[test]
    fn no_name_check_without_sni_or_leaf() {
        let mut f = with_chain(vec![leaf("other.example.net")], vec![]);
        f.tls.as_mut().unwrap().client_hello.as_mut().unwrap().sni = None;
        assert!(run(&CERTIFICATE_NAME_MISMATCH, &f).is_empty());
        let mut f = with_chain(vec![], vec![]);
        f.server_certs = vec![Err("unparsable".into())];
        assert!(run(&CERTIFICATE_NAME_MISMATCH, &f).is_empty());
    }

    #[test]
    fn weak_rsa_key() {
        let mut c = leaf("www.example.com");
        c.key_bits = Some(1024);
        let f = with_chain(vec![c], vec![]);
        let out = run(&CERTIFICATE_WEAK, &f);
        let w = one(&out, "certificate_weak");
        assert_eq!(w.severity, Severity::Medium);
        assert_eq!(w.frames, vec![5]);
        assert_eq!(w.evidence["key_bits"], 1024);
        assert_eq!(ev(w, "key_type"), "rsa");
        assert_eq!(ev(w, "signature_algorithm"), "sha256WithRSAEncryption");
        assert!(w.summary.contains("RSA 1024-bit key"), "{}", w.summary);
    }

    #[test]
    fn weak_signatures_and_ec_keys() {
        let mut c = leaf("www.example.com");
        c.signature_algorithm = "sha1WithRSAEncryption".into();
        let out = run(&CERTIFICATE_WEAK, &with_chain(vec![c], vec![]));
        let w = one(&out, "certificate_weak");
        assert_eq!(ev(w, "signature_algorithm"), "sha1WithRSAEncryption");
        assert_eq!(w.evidence["key_bits"], 2048);

        let mut c = leaf("www.example.com");
        c.signature_algorithm = "md5WithRSAEncryption".into();
        assert_eq!(
            run(&CERTIFICATE_WEAK, &with_chain(vec![c], vec![])).len(),
            1
        );

        let mut c = leaf("www.example.com");
        c.signature_algorithm = "ecdsa-with-SHA1".into();
        c.key_type = "ec".into();
        c.key_bits = Some(256);
        assert_eq!(
            run(&CERTIFICATE_WEAK, &with_chain(vec![c.clone()], vec![])).len(),
            1
        );
        c.signature_algorithm = "ecdsa-with-SHA256".into();
        assert!(run(&CERTIFICATE_WEAK, &with_chain(vec![c.clone()], vec![])).is_empty());
        c.key_bits = Some(160);
        assert_eq!(
            run(&CERTIFICATE_WEAK, &with_chain(vec![c], vec![])).len(),
            1
        );
    }

    #[test]
    fn self_signed_root_sha1_is_not_flagged() {
        let mut chain = chain3();
        chain[2].signature_algorithm = "sha1WithRSAEncryption".into();
        assert!(run(&CERTIFICATE_WEAK, &with_chain(chain.clone(), vec![])).is_empty());
        // The intermediate's SHA-1 signature is checked by clients, so it is flagged.
        chain[1].signature_algorithm = "sha1WithRSAEncryption".into();
        let out = run(&CERTIFICATE_WEAK, &with_chain(chain, vec![]));
        let w = one(&out, "certificate_weak");
        assert_eq!(w.evidence["chain_position"], 1);
        // A self-signed leaf's SHA-1 signature is still weak.
        let mut c = leaf("www.example.com");
        c.issuer = c.subject.clone();
        c.signature_algorithm = "sha1WithRSAEncryption".into();
        assert_eq!(
            run(&CERTIFICATE_WEAK, &with_chain(vec![c], vec![])).len(),
            1
        );
    }

    #[test]
    fn healthy_chain_raises_nothing() {
        assert!(cert_kinds(&with_chain(chain3(), vec![])).is_empty());
        assert!(cert_kinds(&healthy12()).is_empty());
        // No certificate at all (TLS 1.3, resumption).
        assert!(cert_kinds(&with_chain(vec![], vec![])).is_empty());
    }
}
