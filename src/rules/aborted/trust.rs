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
