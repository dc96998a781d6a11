//! The causes that build on chain validation (`certificate_trust`): a client that refuses
//! the server's chain as unknown is told which certificate is missing or which root it
//! must trust, before the generic certificate-alert cause answers.

use super::{diag, finding_fact, Diag, Facts};
use crate::rules::{Cause, Finding, Kind};

/// Alerts with which clients say "I cannot build a path to a root I trust" (OpenSSL sends
/// unknown_ca, Java and Go certificate_unknown or bad_certificate).
const TRUST_ALERTS: &[&str] = &["unknown_ca", "bad_certificate", "certificate_unknown"];

/// The client's trust alert and the server-side finding of `kind`, when the client ended
/// the handshake with such an alert. A wrong name also draws bad_certificate: then only
/// unknown_ca is taken as being about the chain.
fn trust_rejection<'a>(x: &Facts<'a>, kind: Kind) -> Option<(&'static str, &'a Finding)> {
    let a = x
        .end
        .alert
        .filter(|a| x.by_client && TRUST_ALERTS.contains(a))?;
    if a != "unknown_ca" && x.name_problem.is_some() {
        return None;
    }
    let f = x.ctx.first(kind)?;
    (f.evidence_str("side") == Some("server")).then_some((a, f))
}

pub(super) fn missing_intermediate(x: &Facts<'_>) -> Option<Diag> {
    let (a, f) = trust_rejection(x, Kind::CertificateChainIncomplete)?;
    let missing = f.evidence_str("missing_issuer").unwrap_or("its issuer");
    let fetch = f
        .evidence_str("aia_ca_issuers")
        .map(|u| format!(" (the CA publishes it at {u})"))
        .unwrap_or_default();
    Some(
        diag(
            Cause::CertificateRejected,
            "high",
            format!(
                "The client rejected the server's certificate with a fatal {a} alert: the server does not send \
                 its intermediate '{missing}'{fetch}; add it to the server's chain file (e.g. nginx \
                 ssl_certificate must hold leaf + intermediates). If '{missing}' is a private root, the client \
                 must trust it instead."
            ),
        )
        .because(x.leaf.clone().into_iter().chain([finding_fact(f)])),
    )
}

pub(super) fn untrusted_root(x: &Facts<'_>) -> Option<Diag> {
    let (a, f) = trust_rejection(x, Kind::CertificateUntrusted)?;
    if f.evidence_str("reason") != Some("unknown_root") {
        return None;
    }
    let root = f.evidence_str("root_subject").unwrap_or("the chain's root");
    Some(
        diag(
            Cause::CertificateRejected,
            "high",
            format!(
                "The client rejected the server's certificate with a fatal {a} alert: the chain ends at the root \
                 '{root}', which the client does not trust (a private or test CA). The client must trust '{root}' \
                 (install it in its trust store, or e.g. curl --cacert root.pem), or the server must use a \
                 certificate from a publicly trusted CA."
            ),
        )
        .because(x.leaf.clone().into_iter().chain([finding_fact(f)])),
    )
}

/// Alerts with which clients refuse a stapled status: RFC 6066's own, and what OpenSSL and
/// GnuTLS send for a revoked leaf or any failed verification.
const STATUS_ALERTS: &[&str] = &[
    "bad_certificate_status_response",
    "certificate_revoked",
    "bad_certificate",
    "certificate_unknown",
];

pub(super) fn stapled_status_rejected(x: &Facts<'_>) -> Option<Diag> {
    let a = x
        .end
        .alert
        .filter(|a| x.by_client && STATUS_ALERTS.contains(a))?;
    let (f, what) = if let Some(f) = x.ctx.first(Kind::CertificateRevoked) {
        let at = f.evidence_str("revoked_at").unwrap_or("an earlier date");
        (f, format!("the server's own stapled OCSP response says its certificate was revoked on {at}; it needs a new certificate"))
    } else {
        let f = x.ctx.first(Kind::OcspStapleInvalid)?;
        let what = match f.evidence_str("reason") {
            Some("expired") => format!(
                "the server stapled a stale OCSP response (nextUpdate {} had passed); its stapling no longer refreshes the response",
                f.evidence_str("next_update").unwrap_or("?")
            ),
            Some("not_yet_valid") => "the server stapled an OCSP response that is not valid yet (a clock is off)".to_string(),
            Some("wrong_certificate") => "the server stapled an OCSP response for another certificate (a staple file left from the previous certificate)".to_string(),
            _ => "the server stapled an OCSP response the client cannot use".to_string(),
        };
        (f, what)
    };
    Some(
        diag(
            Cause::CertificateRejected,
            "high",
            format!("The client rejected the server's certificate with a fatal {a} alert: {what}."),
        )
        .because(x.leaf.clone().into_iter().chain([finding_fact(f)])),
    )
}
