//! Certificate trust: would a validating client accept the chain a peer sent, at the
//! moment of the capture? Path building, signatures and CA constraints are rustls-webpki's
//! (the verifier of rustls, kept up by the same people, pure Rust, no system library);
//! this module adds what a troubleshooter needs around it: which intermediate is missing,
//! which root nobody trusts, what is odd about the chain's order.
//!
//! Validation never reads the machine's clock (the time is the capture's) and never goes
//! to the network (no AIA, OCSP or CRL fetch): a passive analyzer must give the same
//! answer for the same capture on any machine, given the same trust store.

mod cache;
pub mod ocsp;
mod store;
mod verify;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use cache::Validator;
pub use store::{StoreOptions, TrustStore, SYSTEM_BUNDLES};
pub use verify::check;

/// Errors building a trust store.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("reading CA file {0}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("CA file {0}: {1}")]
    Pem(PathBuf, String),
    #[error("CA file {0} holds no PEM certificate")]
    NoCertificate(PathBuf),
}

/// Which side sent the chain: a server chain is checked for serverAuth, a client's (mutual
/// TLS) for clientAuth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Usage {
    Server,
    Client,
}

/// Why a complete chain is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The chain ends in a self-issued root that no store in use holds.
    UnknownRoot,
    /// The last issuer's name is a trusted root's, but no trusted key signed the chain.
    UnknownIssuer,
    BadSignature,
    UnsupportedAlgorithm,
    /// A CA certificate used as the leaf, or a leaf used as a CA.
    NotACa,
    PathLen,
    NameConstraints,
    /// The leaf's extended key usage does not allow serverAuth (or clientAuth).
    WrongUsage,
    /// A root or intermediate that webpki distrusts by key.
    Distrusted,
    /// Out of its dates even when trust is decided apart from them (kept for completeness:
    /// dates themselves are reported by `certificate_expired`).
    Expired,
    /// Path building gave up on its limits (a crafted or absurd chain).
    TooComplex,
    /// A certificate of a form strict verifiers refuse: X.509 v1 (or v2), or a critical
    /// extension they do not know. OpenSSL may accept it; rustls and browsers do not.
    UnsupportedCertificate,
    /// A certificate webpki cannot parse.
    Malformed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnknownRoot => "unknown_root",
            Reason::UnknownIssuer => "unknown_issuer",
            Reason::BadSignature => "bad_signature",
            Reason::UnsupportedAlgorithm => "unsupported_algorithm",
            Reason::NotACa => "not_a_ca",
            Reason::PathLen => "path_len",
            Reason::NameConstraints => "name_constraints",
            Reason::WrongUsage => "wrong_usage",
            Reason::Distrusted => "distrusted",
            Reason::Expired => "expired",
            Reason::TooComplex => "too_complex",
            Reason::UnsupportedCertificate => "unsupported_certificate",
            Reason::Malformed => "malformed",
        }
    }
}

/// What a client would conclude about the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A path to a trust anchor exists; the anchor's subject.
    Trusted { anchor: String },
    /// The last certificate reached from the leaf is not self-issued and its issuer is
    /// neither sent nor trusted.
    Incomplete {
        missing_issuer: String,
        last_sent: String,
        aia_ca_issuers: Option<String>,
    },
    Untrusted {
        reason: Reason,
        root_subject: String,
        /// webpki's error, for the evidence.
        detail: String,
    },
    /// Nothing to conclude: the leaf does not parse, or no moment exists at which every
    /// certificate sent is within its dates.
    Undecided { why: String },
}

/// Something about the chain's order that strict clients may reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderNote {
    /// The first certificate is a CA while a non-CA certificate follows.
    LeafNotFirst,
    /// A certificate is not followed by its issuer.
    OutOfOrder,
    /// The same certificate sent twice.
    Duplicate,
    /// A self-issued root sent after the leaf (useless: a client must already have it).
    RootSent,
    /// A certificate that is on no path from the leaf.
    Unneeded,
}

impl OrderNote {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderNote::LeafNotFirst => "leaf_not_first",
            OrderNote::OutOfOrder => "out_of_order",
            OrderNote::Duplicate => "duplicate",
            OrderNote::RootSent => "root_sent",
            OrderNote::Unneeded => "unneeded_certificate",
        }
    }
}

/// The result for one chain at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub verdict: Verdict,
    pub order: Vec<OrderNote>,
    /// The Unix second trust was decided at: the capture time, or, when a certificate sent
    /// is out of its dates there, the nearest moment at which all are within them.
    pub checked_at: i64,
}
