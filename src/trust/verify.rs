//! One chain, one moment: path building and signature checks by rustls-webpki, and the
//! facts webpki does not report (which issuer is missing, the chain's order) from the names.

use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::store::TrustStore;
use super::{Checked, OrderNote, Reason, Usage, Verdict};
use crate::tls::types::CertInfo;

/// Validates `ders` (as sent, leaf first) at `time_s` (Unix seconds of the capture).
/// `infos` are the same certificates parsed by the TLS stage, index for index.
pub fn check(
    store: &TrustStore,
    ders: &[Vec<u8>],
    infos: &[Result<CertInfo, String>],
    time_s: i64,
    usage: Usage,
) -> Checked {
    // Index for index: a caller that pairs them wrongly gets no verdict, not a panic.
    let n = if ders.len() == infos.len() {
        ders.len()
    } else {
        0
    };
    let names: Vec<Option<&CertInfo>> = infos[..n].iter().map(|i| i.as_ref().ok()).collect();
    let path = path_by_names(&names);
    let order = order_notes(&names, &path);
    let Some(leaf) = names.first().copied().flatten() else {
        return Checked {
            verdict: Verdict::Undecided {
                why: "no parsable leaf certificate".into(),
            },
            order,
            checked_at: time_s,
        };
    };
    let end = names[*path.last().unwrap_or(&0)].unwrap_or(leaf);
    let end_der = &ders[*path.last().unwrap_or(&0)];

    let mut checked_at = time_s;
    let mut result = webpki_verify(store, ders, time_s, usage);
    if let Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }) = result {
        // The dates are certificate_expired's business (with the position of each
        // certificate); trust is decided at a moment every certificate sent is valid, so
        // an expired intermediate does not hide a missing root, and vice versa.
        let lo = names.iter().flatten().map(|c| c.not_before).max();
        let hi = names.iter().flatten().map(|c| c.not_after).min();
        match (lo, hi) {
            (Some(lo), Some(hi)) if lo <= hi => {
                checked_at = time_s.clamp(lo, hi);
                result = webpki_verify(store, ders, checked_at, usage);
            }
            _ => {
                return Checked {
                    verdict: Verdict::Undecided {
                        why: "no moment at which every certificate sent is valid".into(),
                    },
                    order,
                    checked_at,
                }
            }
        }
    }
    let verdict = match result {
        Ok(anchor) => Verdict::Trusted { anchor },
        Err(webpki::Error::UnknownIssuer)
            if !end.is_self_issued() && !store.has_subject(&end.issuer) =>
        {
            Verdict::Incomplete {
                missing_issuer: end.issuer.clone(),
                last_sent: end.subject.clone(),
                aia_ca_issuers: aia_ca_issuers(end_der),
            }
        }
        Err(e) => Verdict::Untrusted {
            // A self-signed server certificate usually says CA:TRUE (openssl's default),
            // which webpki reports first; what the client says is "self-signed, unknown".
            reason: if path.len() == 1 && end.is_self_issued() && !store.has_subject(&end.subject) {
                Reason::UnknownRoot
            } else {
                reason(&e, end)
            },
            root_subject: if end.is_self_issued() {
                end.subject.clone()
            } else {
                end.issuer.clone()
            },
            detail: format!("{e:?}"),
        },
    };
    Checked {
        verdict,
        order,
        checked_at,
    }
}

/// webpki's verdict; `Ok` holds the anchor's subject.
fn webpki_verify(
    store: &TrustStore,
    ders: &[Vec<u8>],
    time_s: i64,
    usage: Usage,
) -> Result<String, webpki::Error> {
    let leaf = CertificateDer::from(ders[0].as_slice());
    let ee = EndEntityCert::try_from(&leaf)?;
    let intermediates: Vec<CertificateDer<'_>> = ders[1..]
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(time_s.max(0) as u64));
    let usage = match usage {
        Usage::Server => KeyUsage::server_auth(),
        Usage::Client => KeyUsage::client_auth(),
    };
    let path = ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &store.anchors,
        &intermediates,
        time,
        usage,
        None,
        None,
    )?;
    Ok(super::store::anchor_subject(path.anchor()).unwrap_or_default())
}

fn reason(e: &webpki::Error, end: &CertInfo) -> Reason {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer if end.is_self_issued() => Reason::UnknownRoot,
        E::UnknownIssuer => Reason::UnknownIssuer,
        E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => Reason::BadSignature,
        E::UnsupportedSignatureAlgorithmContext(_) => Reason::UnsupportedAlgorithm,
        E::CaUsedAsEndEntity | E::EndEntityUsedAsCa => Reason::NotACa,
        E::PathLenConstraintViolated => Reason::PathLen,
        E::NameConstraintViolation | E::MalformedNameConstraint => Reason::NameConstraints,
        E::RequiredEkuNotFoundContext(_) => Reason::WrongUsage,
        E::CertDistrusted => Reason::Distrusted,
        E::CertExpired { .. } | E::CertNotValidYet { .. } => Reason::Expired,
        E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumNameConstraintComparisonsExceeded => Reason::TooComplex,
        E::UnsupportedCertVersion | E::UnsupportedCriticalExtension => {
            Reason::UnsupportedCertificate
        }
        _ => Reason::Malformed,
    }
}

/// The path a client would follow through the certificates sent, by names: from the leaf,
/// each step to a certificate (not yet on the path) whose subject is the current one's
/// issuer, preferring the next one sent. Ends at a self-issued certificate or where no
/// sent certificate is the issuer.
fn path_by_names(names: &[Option<&CertInfo>]) -> Vec<usize> {
    let mut path = vec![0];
    let mut cur = 0;
    while let Some(c) = names.get(cur).copied().flatten() {
        if c.is_self_issued() {
            break;
        }
        let is_issuer =
            |j: &usize| !path.contains(j) && names[*j].is_some_and(|n| n.subject == c.issuer);
        let next = std::iter::once(cur + 1)
            .filter(|j| *j < names.len())
            .chain(0..names.len())
            .find(is_issuer);
        match next {
            Some(j) => {
                path.push(j);
                cur = j;
            }
            None => break,
        }
    }
    path
}

/// What a strict client may object to in the order of the chain (RFC 5246 7.4.2 asks for
/// leaf first, each certificate followed by its issuer; TLS 1.3 relaxed it but old Java and
/// embedded stacks did not).
fn order_notes(names: &[Option<&CertInfo>], path: &[usize]) -> Vec<OrderNote> {
    let mut notes = Vec::new();
    let leaf_is_ca = names.first().copied().flatten().is_some_and(|c| c.is_ca);
    if leaf_is_ca && names.iter().skip(1).flatten().any(|c| !c.is_ca) {
        notes.push(OrderNote::LeafNotFirst);
    }
    if path.iter().enumerate().any(|(i, &j)| i != j) {
        notes.push(OrderNote::OutOfOrder);
    }
    let mut seen = std::collections::HashSet::new();
    if names.iter().flatten().any(|c| !seen.insert(&c.sha256)) {
        notes.push(OrderNote::Duplicate);
    }
    if names.len() > 1 && names.iter().skip(1).flatten().any(|c| c.is_self_issued()) {
        notes.push(OrderNote::RootSent);
    }
    let dup_free = seen.len();
    if path.len() < dup_free {
        notes.push(OrderNote::Unneeded);
    }
    notes
}

/// The first caIssuers URL of the certificate's Authority Information Access: where a
/// client that fetches missing issuers (browsers, Windows) gets the intermediate.
fn aia_ca_issuers(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                aia.accessdescs
                    .iter()
                    .find_map(|d| match (&d.access_method, &d.access_location) {
                        (m, GeneralName::URI(u)) if *m == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS => {
                            Some(u.to_string())
                        }
                        _ => None,
                    })
            }
            _ => None,
        })
}
