//! Stapled OCSP responses (RFC 6960, stapled per RFC 6066 and RFC 8446 4.4.2.1): what the
//! response says about the leaf, whether it is about that leaf at all, and whether its
//! responder signed it. Parsing is x509-ocsp's (RustCrypto, on `der`); signatures are
//! verified with rustls-webpki's algorithms, as the chain's are.
//!
//! Nothing here reads the clock: the caller compares the dates with the capture time.

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use webpki::EndEntityCert;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{self, Decode, Encode};
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspResponse, OcspResponseStatus,
    SingleResponse,
};

const ID_PKIX_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
const SHA1_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");

/// Why a staple could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OcspError {
    #[error("the OCSP response does not parse: {0}")]
    Der(#[from] der::Error),
    #[error("the OCSP response is of type {0}, not id-pkix-ocsp-basic")]
    NotBasic(String),
    #[error("the OCSP response says successful but carries no response")]
    NoBody,
    #[error("the OCSP response holds no single response")]
    Empty,
}

/// What the responder says about the certificate it answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertState {
    Good,
    Revoked {
        /// Unix seconds.
        at: i64,
        /// The CRL reason's RFC 5280 name, when given.
        reason: Option<&'static str>,
    },
    Unknown,
}

impl CertState {
    pub fn as_str(&self) -> &'static str {
        match self {
            CertState::Good => "good",
            CertState::Revoked { .. } => "revoked",
            CertState::Unknown => "unknown",
        }
    }
}

/// Is the single response about the leaf (its CertID against the leaf and its issuer)?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Leaf,
    /// The serial number is another certificate's.
    OtherSerial {
        serial: String,
    },
    /// The serial matches, but the issuer name or key hash is another CA's.
    OtherIssuer,
    /// Serial and issuer name match; the issuer's key hash cannot be checked without the
    /// issuer's certificate (not sent, not in the store).
    LeafByNameOnly,
}

/// Was the response signed by its responder?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Signed by the leaf's issuer itself.
    ByIssuer,
    /// Signed by a responder certificate (sent in the response) that the issuer signed for
    /// OCSP signing.
    ByDelegate,
    Bad(String),
    /// Not verifiable here, and why (no issuer certificate, an algorithm not supported).
    NotChecked(String),
}

/// A stapled response, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staple {
    /// `successful`, or the responder's refusal (`try_later`, `unauthorized`, ...).
    pub response_status: &'static str,
    /// The answer about the leaf (or, when none is about it, the first), for successful
    /// responses.
    pub answer: Option<Answer>,
    pub signature: SignatureCheck,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub state: CertState,
    pub subject: Subject,
    /// Unix seconds.
    pub this_update: i64,
    pub next_update: Option<i64>,
}

/// Reads the DER OCSPResponse `der` stapled with `leaf`; the leaf's issuer is looked for
/// among `candidates` (the rest of the chain, then the private roots of the trust store).
pub fn read_staple<'c>(
    der: &[u8],
    leaf: &[u8],
    candidates: impl IntoIterator<Item = &'c [u8]>,
) -> Result<Staple, OcspError> {
    let response = OcspResponse::from_der(der)?;
    let response_status = status_name(response.response_status);
    if response.response_status != OcspResponseStatus::Successful {
        return Ok(Staple {
            response_status,
            answer: None,
            signature: SignatureCheck::NotChecked("an unsuccessful response is not signed".into()),
        });
    }
    let bytes = response.response_bytes.ok_or(OcspError::NoBody)?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(OcspError::NotBasic(bytes.response_type.to_string()));
    }
    let basic_der = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(basic_der)?;
    let leaf = Certificate::from_der(leaf).ok();
    let (issuer, issuer_cert) = match &leaf {
        Some(leaf) => candidates
            .into_iter()
            .find_map(|d| {
                let c = Certificate::from_der(d).ok()?;
                (c.tbs_certificate.subject == leaf.tbs_certificate.issuer).then_some((d, c))
            })
            .unzip(),
        None => (None, None),
    };
    let single = pick(&basic.tbs_response_data.responses, leaf.as_ref())?;
    let subject = match &leaf {
        Some(leaf) => subject(&single.cert_id, leaf, issuer_cert.as_ref()),
        None => Subject::LeafByNameOnly,
    };
    let answer = Answer {
        state: state(&single.cert_status),
        subject,
        this_update: unix(&single.this_update),
        next_update: single.next_update.as_ref().map(unix),
    };
    let signature = match (issuer, &issuer_cert) {
        (Some(issuer_der), Some(issuer_cert)) => verify(&basic, basic_der, issuer_der, issuer_cert),
        _ => SignatureCheck::NotChecked(
            "the issuer's certificate is neither sent nor in the trust store".into(),
        ),
    };
    Ok(Staple {
        response_status,
        answer: Some(answer),
        signature,
    })
}

fn status_name(s: OcspResponseStatus) -> &'static str {
    match s {
        OcspResponseStatus::Successful => "successful",
        OcspResponseStatus::MalformedRequest => "malformed_request",
        OcspResponseStatus::InternalError => "internal_error",
        OcspResponseStatus::TryLater => "try_later",
        OcspResponseStatus::SigRequired => "sig_required",
        OcspResponseStatus::Unauthorized => "unauthorized",
    }
}

/// The single response whose serial is the leaf's, else the first.
fn pick<'r>(
    responses: &'r [SingleResponse],
    leaf: Option<&Certificate>,
) -> Result<&'r SingleResponse, OcspError> {
    let serial = leaf.map(|l| l.tbs_certificate.serial_number.as_bytes());
    responses
        .iter()
        .find(|r| Some(r.cert_id.serial_number.as_bytes()) == serial)
        .or_else(|| responses.first())
        .ok_or(OcspError::Empty)
}

fn state(s: &CertStatus) -> CertState {
    match s {
        CertStatus::Good(_) => CertState::Good,
        CertStatus::Revoked(info) => CertState::Revoked {
            at: unix(&info.revocation_time),
            reason: info.revocation_reason.map(crl_reason_name),
        },
        CertStatus::Unknown(_) => CertState::Unknown,
    }
}

fn crl_reason_name(r: x509_cert::ext::pkix::CrlReason) -> &'static str {
    use x509_cert::ext::pkix::CrlReason as R;
    match r {
        R::Unspecified => "unspecified",
        R::KeyCompromise => "keyCompromise",
        R::CaCompromise => "cACompromise",
        R::AffiliationChanged => "affiliationChanged",
        R::Superseded => "superseded",
        R::CessationOfOperation => "cessationOfOperation",
        R::CertificateHold => "certificateHold",
        R::RemoveFromCRL => "removeFromCRL",
        R::PrivilegeWithdrawn => "privilegeWithdrawn",
        R::AaCompromise => "aACompromise",
    }
}

fn unix(t: &OcspGeneralizedTime) -> i64 {
    i64::try_from(t.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// `data` hashed with the CertID's algorithm; `None` for an algorithm we do not know.
fn cert_id_hash(alg: &ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    Some(match alg.to_string().as_str() {
        "1.3.14.3.2.26" => Sha1::digest(data).to_vec(),
        "2.16.840.1.101.3.4.2.1" => Sha256::digest(data).to_vec(),
        "2.16.840.1.101.3.4.2.2" => Sha384::digest(data).to_vec(),
        "2.16.840.1.101.3.4.2.3" => Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

fn subject(id: &CertId, leaf: &Certificate, issuer: Option<&Certificate>) -> Subject {
    let serial = leaf.tbs_certificate.serial_number.as_bytes();
    if id.serial_number.as_bytes() != serial {
        return Subject::OtherSerial {
            serial: hex(id.serial_number.as_bytes()),
        };
    }
    let alg = &id.hash_algorithm.oid;
    let name_der = leaf.tbs_certificate.issuer.to_der().unwrap_or_default();
    let name_ok =
        cert_id_hash(alg, &name_der).is_none_or(|h| h.as_slice() == id.issuer_name_hash.as_bytes());
    if !name_ok {
        return Subject::OtherIssuer;
    }
    let Some(issuer) = issuer else {
        return Subject::LeafByNameOnly;
    };
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    match cert_id_hash(alg, key) {
        Some(h) if h.as_slice() == id.issuer_key_hash.as_bytes() => Subject::Leaf,
        Some(_) => Subject::OtherIssuer,
        None => Subject::LeafByNameOnly,
    }
}

/// webpki's algorithms that a signature algorithm OID may mean (ECDSA's OID names the hash,
/// not the curve, so both curves are tried).
fn algorithms(oid: &ObjectIdentifier) -> Vec<&'static dyn SignatureVerificationAlgorithm> {
    use webpki::ring as alg;
    match oid.to_string().as_str() {
        "1.2.840.113549.1.1.11" => vec![alg::RSA_PKCS1_2048_8192_SHA256],
        "1.2.840.113549.1.1.12" => vec![alg::RSA_PKCS1_2048_8192_SHA384],
        "1.2.840.113549.1.1.13" => vec![alg::RSA_PKCS1_2048_8192_SHA512],
        "1.2.840.113549.1.1.10" => vec![
            alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        ],
        "1.2.840.10045.4.3.2" => vec![alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
        "1.2.840.10045.4.3.3" => vec![alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
        "1.3.101.112" => vec![alg::ED25519],
        _ => vec![],
    }
}

/// Does `signer` (DER) sign `msg` with `signature` under the algorithm `oid`?
fn signed_by(
    signer: &[u8],
    oid: &ObjectIdentifier,
    msg: &[u8],
    signature: &[u8],
) -> Result<bool, String> {
    if oid == &SHA1_WITH_RSA {
        return sha1_rsa_signed_by(signer, msg, signature);
    }
    let algs = algorithms(oid);
    if algs.is_empty() {
        return Err(format!("signature algorithm {oid} is not verified here"));
    }
    let der = CertificateDer::from(signer);
    let cert = EndEntityCert::try_from(&der).map_err(|e| format!("signer certificate: {e}"))?;
    Ok(algs
        .iter()
        .any(|a| cert.verify_signature(*a, msg, signature).is_ok()))
}

/// sha1WithRSAEncryption, which webpki no longer offers but responders used for years (the
/// staples of older captures): ring's legacy verifier, on the signer's RSA key.
fn sha1_rsa_signed_by(signer: &[u8], msg: &[u8], signature: &[u8]) -> Result<bool, String> {
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY};
    let cert = Certificate::from_der(signer).map_err(|e| format!("signer certificate: {e}"))?;
    let key = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    Ok(
        UnparsedPublicKey::new(&RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, key)
            .verify(msg, signature)
            .is_ok(),
    )
}

/// The first element of a DER SEQUENCE, as it was encoded: what a signature covers must
/// be the sender's bytes, not a re-encoding (a responder may spell out a DEFAULT value,
/// such as version v1, that DER re-encoding drops).
fn first_element(seq: &[u8]) -> Option<Vec<u8>> {
    use x509_cert::der::asn1::AnyRef;
    let outer = AnyRef::from_der(seq).ok()?;
    let mut reader = der::SliceReader::new(outer.value()).ok()?;
    let first: AnyRef<'_> = der::Decode::decode(&mut reader).ok()?;
    first.to_der().ok()
}

fn verify(
    basic: &BasicOcspResponse,
    basic_der: &[u8],
    issuer_der: &[u8],
    issuer: &Certificate,
) -> SignatureCheck {
    let (Some(tbs), Some(sig)) = (first_element(basic_der), basic.signature.as_bytes()) else {
        return SignatureCheck::Bad("the response's signed part cannot be read".into());
    };
    let oid = &basic.signature_algorithm.oid;
    match signed_by(issuer_der, oid, &tbs, sig) {
        Err(e) => return SignatureCheck::NotChecked(e),
        Ok(true) => return SignatureCheck::ByIssuer,
        Ok(false) => {}
    }
    // RFC 6960 4.2.2.2: a delegated responder's certificate, issued by the CA for OCSP
    // signing, travels in the response.
    for delegate in basic.certs.iter().flatten() {
        if delegate.tbs_certificate.issuer != issuer.tbs_certificate.subject {
            continue;
        }
        let delegate_der = delegate.to_der().unwrap_or_default();
        let (Some(delegate_tbs), Some(delegate_sig)) =
            (first_element(&delegate_der), delegate.signature.as_bytes())
        else {
            continue;
        };
        let signs_response = signed_by(&delegate_der, oid, &tbs, sig).unwrap_or(false);
        let issued = signed_by(
            issuer_der,
            &delegate.signature_algorithm.oid,
            &delegate_tbs,
            delegate_sig,
        )
        .unwrap_or(false);
        if signs_response && issued {
            if !ocsp_signing(delegate) {
                return SignatureCheck::Bad(
                    "signed by a responder certificate without the OCSPSigning key usage".into(),
                );
            }
            return SignatureCheck::ByDelegate;
        }
    }
    SignatureCheck::Bad(
        "neither the leaf's issuer nor a responder certificate it issued signed the response"
            .into(),
    )
}

fn ocsp_signing(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == ID_CE_EXT_KEY_USAGE)
        .filter_map(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
        .any(|eku| eku.0.contains(&ID_KP_OCSP_SIGNING))
}

/// As `cert_chain[].serial` prints serials.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncated_input_are_errors() {
        assert!(read_staple(&[], &[], []).is_err());
        assert!(read_staple(&[0x30, 0x03, 0x0a, 0x01, 0x00], &[], []).is_err());
        // A well-formed refusal (tryLater): no answer, nothing to verify.
        let s = read_staple(&[0x30, 0x03, 0x0a, 0x01, 0x03], &[], []).unwrap();
        assert_eq!(s.response_status, "try_later");
        assert!(s.answer.is_none());
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
            let _ = read_staple(&junk, &junk, [junk.as_slice()]);
        }
    }
}
