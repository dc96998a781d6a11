//! Certificate rules over the server's chain (TLS <= 1.2, where the chain is in clear):
//! `certificate_expired` / `certificate_not_yet_valid`, `certificate_self_signed`,
//! `certificate_name_mismatch`, `certificate_weak`.

use serde_json::json;

use super::{Finding, Rule, RuleCtx, Severity};
use crate::model::{format_secs, Dir, FrameNo, TimestampUs};
use crate::tls::cert::cert_matches_host;
use crate::tls::names::alert_description_name;
use crate::tls::types::CertInfo;
use crate::tls::TlsEventKind;

pub const CERTIFICATE_VALIDITY: Rule = Rule {
    name: "certificate_validity",
    doc: "A certificate of the server's chain is expired or not yet valid at capture time.",
    check: check_validity,
};

pub const CERTIFICATE_SELF_SIGNED: Rule = Rule {
    name: "certificate_self_signed",
    doc: "The server's leaf certificate is self-signed, or its chain ends in a root the client did not trust.",
    check: check_self_signed,
};

pub const CERTIFICATE_NAME_MISMATCH: Rule = Rule {
    name: "certificate_name_mismatch",
    doc: "The SNI name is not covered by the leaf certificate's SAN/CN (RFC 6125 wildcards).",
    check: check_name,
};

pub const CERTIFICATE_WEAK: Rule = Rule {
    name: "certificate_weak",
    doc: "RSA/DSA key under 2048 bits, EC key under 224 bits, or an MD5/SHA-1 signature.",
    check: check_weak,
};

/// The frame and time of the server's Certificate message.
fn certificate_event(ctx: &RuleCtx<'_>) -> (Option<FrameNo>, TimestampUs) {
    let ev = ctx.flow.tls.as_ref().and_then(|t| {
        t.events.iter().find(|e| {
            e.dir == Dir::ToClient && matches!(e.kind, TlsEventKind::Handshake(t) if t.0 == 11)
        })
    });
    (
        ev.map(|e| e.frame),
        ev.map_or(ctx.flow.first_ts_us, |e| e.ts_us),
    )
}

fn certs(ctx: &RuleCtx<'_>) -> Vec<CertInfo> {
    ctx.flow
        .server_certs
        .iter()
        .filter_map(|c| c.as_ref().ok())
        .cloned()
        .collect()
}

fn position(i: usize, n: usize) -> &'static str {
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
                "certificate_expired",
                format!("The server's {pos} certificate ({}) expired on {} ({days} days before the capture).", c.subject, format_secs(c.not_after)),
                "A certificate past its notAfter date is rejected by every validating client (alert certificate_expired \
                 or bad_certificate). Renew and deploy the certificate (and its chain), then reload the server. If it \
                 looks valid, check the clock of the client: a clock far in the future gives the same error."
                    .to_string(),
            )
        } else if now < c.not_before {
            (
                "certificate_not_yet_valid",
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
        && chain.last().is_some_and(CertInfo::is_self_issued)
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
        Finding::new("certificate_self_signed", Severity::Medium, ts)
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
    let listed = names.join(", ");
    let sni = sni.to_string();
    ctx.push(
        Finding::new("certificate_name_mismatch", Severity::High, ts)
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
            Finding::new("certificate_weak", Severity::Medium, ts)
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
