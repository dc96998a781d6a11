//! The `likely_cause` of a `handshake_aborted` finding: one closed set, serialized as the
//! snake_case names of the contract. The schema's `likely_cause` enum and `tlstriage
//! explain` are checked against [`Cause::ALL`] by `tests/registry.rs`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    VersionMismatch,
    CipherMismatch,
    CertificateRejected,
    NameMismatch,
    ClientCertificate,
    PlaintextMismatch,
    Proxy,
    ServerClosedWithoutAlert,
    ClientGaveUp,
    Network,
    HeartbleedProbe,
    Unknown,
}

impl Cause {
    /// Every cause, in the order the schema lists them.
    pub const ALL: &'static [Cause] = &[
        Cause::VersionMismatch,
        Cause::CipherMismatch,
        Cause::CertificateRejected,
        Cause::NameMismatch,
        Cause::ClientCertificate,
        Cause::PlaintextMismatch,
        Cause::Proxy,
        Cause::ServerClosedWithoutAlert,
        Cause::ClientGaveUp,
        Cause::Network,
        Cause::HeartbleedProbe,
        Cause::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::VersionMismatch => "version_mismatch",
            Cause::CipherMismatch => "cipher_mismatch",
            Cause::CertificateRejected => "certificate_rejected",
            Cause::NameMismatch => "name_mismatch",
            Cause::ClientCertificate => "client_certificate",
            Cause::PlaintextMismatch => "plaintext_mismatch",
            Cause::Proxy => "proxy",
            Cause::ServerClosedWithoutAlert => "server_closed_without_alert",
            Cause::ClientGaveUp => "client_gave_up",
            Cause::Network => "network",
            Cause::HeartbleedProbe => "heartbleed_probe",
            Cause::Unknown => "unknown",
        }
    }

    pub fn parse(name: &str) -> Option<Cause> {
        Cause::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde_and_parse_back() {
        for &c in Cause::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(Cause::parse(c.as_str()), Some(c));
        }
        assert_eq!(Cause::ALL.len(), 12);
    }
}
