//! Chain trust, as a validating client decides it at the capture time (see
//! [`crate::trust`]): `certificate_chain_incomplete`, `certificate_untrusted`, and
//! `certificate_expires_soon`. The dates themselves (expired, not yet valid, at any
//! position) stay with `certificate_validity`. The spec has no kind for the chain's order,
//! so order problems are the `chain_order` evidence of the two trust findings.

use serde_json::{json, Value};

use super::certificate::{certificate_event, position};
use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::model::{format_secs, Dir, FrameNo, TimestampUs};
use crate::tls::types::CertInfo;
use crate::tls::TlsEventKind;
use crate::trust::{Checked, Reason, Usage, Verdict};

pub const CERTIFICATE_TRUST: Rule = Rule {
    name: "certificate_trust",
    doc: "Validates the server's (and a client's) chain at capture time against Mozilla's roots, the system store and --ca-file: a missing intermediate or an untrusted chain.",
    kinds: &[Kind::CertificateChainIncomplete, Kind::CertificateUntrusted],
    after: &[Kind::CertificateSelfSigned],
    check: check_trust,
};

pub const CERTIFICATE_EXPIRES_SOON: Rule = Rule {
    name: "certificate_expires_soon",
    doc:
        "A certificate of the chain expires within --expiry-warning-days (30) of the capture time.",
    kinds: &[Kind::CertificateExpiresSoon],
    after: &[],
    check: check_expires_soon,
};

/// The frame and time of `dir`'s Certificate message (the server's: `ToClient`).
fn certificate_from(ctx: &RuleCtx<'_>, dir: Dir) -> (Option<FrameNo>, TimestampUs) {
    if dir == Dir::ToClient {
        return certificate_event(ctx);
    }
    let ev = ctx.flow.tls.as_ref().and_then(|t| {
        t.events.iter().find(|e| {
            e.dir == dir
                && matches!(e.kind, TlsEventKind::Handshake(t) if t.0 == crate::tls::wire::hs::CERTIFICATE)
        })
    });
    (
        ev.map(|e| e.frame),
        ev.map_or(ctx.flow.first_ts_us, |e| e.ts_us),
    )
}

fn check_trust(ctx: &mut RuleCtx<'_>) {
    let Some(tls) = ctx.flow.tls.as_ref() else {
        return;
    };
    let established = tls.established;
    let sides = [
        (
            Dir::ToClient,
            Usage::Server,
            &tls.server_cert_der,
            &ctx.flow.server_certs,
        ),
        (
            Dir::ToServer,
            Usage::Client,
            &tls.client_cert_der,
            &ctx.flow.client_certs,
        ),
    ];
    let mut out = Vec::new();
    for (dir, usage, ders, infos) in sides {
        let (frame, ts) = certificate_from(ctx, dir);
        let Some(checked) = ctx
            .env
            .trust
            .check(ders, infos, ts.div_euclid(1_000_000), usage)
        else {
            continue;
        };
        // A lone self-signed leaf is certificate_self_signed's finding; saying "unknown
        // root" again adds nothing. A chain up to a sent root keeps both: the trust finding
        // names the stores that lack the root.
        let self_signed_said =
            usage == Usage::Server && ders.len() == 1 && ctx.has(Kind::CertificateSelfSigned);
        let seen = Seen {
            checked: &checked,
            usage,
            established,
            self_signed_said,
            ts,
        };
        if let Some(f) = finding(ctx, seen) {
            out.push(f.frames(frame));
        }
    }
    ctx.findings.extend(out);
}

struct Seen<'a> {
    checked: &'a Checked,
    usage: Usage,
    established: bool,
    self_signed_said: bool,
    ts: TimestampUs,
}

fn finding(ctx: &RuleCtx<'_>, seen: Seen<'_>) -> Option<Finding> {
    let Seen {
        checked,
        usage,
        established,
        self_signed_said,
        ts,
    } = seen;
    let who = match usage {
        Usage::Server => "server",
        Usage::Client => "client",
    };
    let stores = ctx.env.trust.store().sources().to_vec();
    let order: Vec<&str> = checked.order.iter().map(|n| n.as_str()).collect();
    let (f, mut evidence) = match &checked.verdict {
        Verdict::Trusted { .. } | Verdict::Undecided { .. } => return None,
        Verdict::Untrusted {
            reason: Reason::UnknownRoot,
            ..
        } if self_signed_said => return None,
        Verdict::Incomplete {
            missing_issuer,
            last_sent,
            aia_ca_issuers,
        } => {
            let issuer: &str = if missing_issuer.is_empty() {
                "(an empty name)"
            } else {
                missing_issuer
            };
            let severity = if established {
                Severity::Medium
            } else {
                Severity::High
            };
            let fetch = aia_ca_issuers.as_deref().map_or(String::new(), |u| {
                format!(
                    " Browsers may fetch it from {u} and hide the problem; most libraries do not."
                )
            });
            let f = Finding::new(Kind::CertificateChainIncomplete, severity, ts)
                .summary(format!(
                    "The {who}'s chain stops at {last_sent}: its issuer {issuer} is neither sent nor trusted."
                ))
                .explanation(format!(
                    "A client validating this chain needs the certificate of {issuer}, which the {who} does \
                     not send and no trust store in use holds: curl, Java, Go and Python fail with 'unable to get \
                     local issuer certificate'.{fetch} Add the intermediate to the {who}'s chain file (e.g. nginx \
                     ssl_certificate must hold leaf + intermediates). If {issuer} is a private root that \
                     the clients trust, pass it here with --ca-file."
                ));
            let e = json!({
                "side": who,
                "missing_issuer": missing_issuer,
                "last_sent": last_sent,
                "aia_ca_issuers": aia_ca_issuers,
                "trust_store": stores,
                "chain_order": order,
            });
            (f, e)
        }
        Verdict::Untrusted {
            reason,
            root_subject,
            detail,
        } => {
            let severity = match (established, reason) {
                (false, _) => Severity::High,
                // The client went on: it trusts a root this analysis was not given.
                (true, Reason::UnknownRoot) => Severity::Low,
                // The client went on despite a broken chain: it does not validate.
                (true, _) => Severity::Medium,
            };
            let why = match reason {
                Reason::UnknownRoot => {
                    format!("it ends at the root {root_subject}, which no trust store in use holds")
                }
                Reason::UnknownIssuer => format!("no trusted key of {root_subject} signed it"),
                Reason::BadSignature => "a signature on the path does not verify".to_string(),
                Reason::NotACa => {
                    "a certificate acts as a CA without being one, or a CA certificate is sent as the leaf"
                        .to_string()
                }
                Reason::PathLen => "an intermediate's path length constraint is exceeded".to_string(),
                Reason::NameConstraints => "a name is outside a CA's name constraints".to_string(),
                Reason::WrongUsage => {
                    format!("the leaf's extended key usage does not allow {who} authentication")
                }
                Reason::UnsupportedCertificate => format!(
                    "a certificate is of a form strict verifiers refuse, such as X.509 v1 or an unknown \
                     critical extension ({detail}; OpenSSL may still accept it)"
                ),
                _ => format!("validation fails ({detail})"),
            };
            let f = Finding::new(Kind::CertificateUntrusted, severity, ts)
                .summary(format!("The {who}'s certificate chain is not trusted: {why}."))
                .explanation(format!(
                    "Validated as a client would at the capture time (rustls-webpki, against {}), the chain fails: \
                     {why}. For a private CA, the clients must trust {root_subject} (install it in their trust \
                     store, or point them at it, e.g. curl --cacert); pass the same root here with --ca-file.",
                    stores.join(", ")
                ));
            let e = json!({
                "side": who,
                "reason": reason.as_str(),
                "root_subject": root_subject,
                "detail": detail,
                "trust_store": stores,
                "chain_order": order,
            });
            (f, e)
        }
    };
    if checked.checked_at != ts.div_euclid(1_000_000) {
        // A certificate is out of its dates at the capture (certificate_expired says which):
        // say at which moment trust was decided instead.
        evidence["decided_at"] = Value::String(format_secs(checked.checked_at));
    }
    Some(f.evidence(evidence))
}

fn check_expires_soon(ctx: &mut RuleCtx<'_>) {
    let (frame, ts) = certificate_event(ctx);
    let now = ts.div_euclid(1_000_000);
    let window = i64::from(ctx.env.expiry_warning_days) * 86_400;
    let chain: Vec<&CertInfo> = ctx
        .flow
        .server_certs
        .iter()
        .filter_map(|c| c.as_ref().ok())
        .collect();
    let mut out = Vec::new();
    for (i, c) in chain.iter().enumerate() {
        // A sent root is never used by the client (it has its own copy, with its own dates).
        if i > 0 && c.is_self_issued() {
            continue;
        }
        if now < c.not_before || now > c.not_after || c.not_after - now > window {
            continue;
        }
        let days_left = (c.not_after - now) / 86_400;
        let severity = if days_left < 7 {
            Severity::Medium
        } else {
            Severity::Low
        };
        let pos = position(i, chain.len());
        out.push(
            Finding::new(Kind::CertificateExpiresSoon, severity, ts)
                .frames(frame)
                .summary(format!(
                    "The server's {pos} certificate ({}) expires on {} ({days_left} days after the capture).",
                    c.subject,
                    format_secs(c.not_after)
                ))
                .explanation(
                    "Clients will reject the chain from that date on (certificate_expired). Check that renewal \
                     (ACME, certbot) runs and that the server is reloaded after it.",
                )
                .evidence(json!({
                    "subject": c.subject,
                    "not_after": format_secs(c.not_after),
                    "days_left": days_left,
                    "chain_position": i,
                    "sha256": c.sha256,
                })),
        );
    }
    ctx.findings.extend(out);
}

#[cfg(test)]
mod tests;
