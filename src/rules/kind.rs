//! The one registry of finding kinds (Zeek's `redef enum Notice::Type += {..}`): every kind a
//! rule may raise is a variant of [`Kind`] with one [`KindSpec`] line in [`KINDS`].
//!
//! Everything else that names kinds is generated from this table or checked against it by
//! `tests/registry.rs`: the schema's `kind` enum, the README's kind table, `tlstriage rules`
//! and `tlstriage explain`. Adding a kind is a variant, a line here, its explain topic, and
//! the rule that raises it (which lists it in its `kinds`).

use serde::Serialize;

/// A finding kind. Serialized as its snake_case name, the `kind` field of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    HandshakeAborted,
    TlsAlert,
    PlaintextToTlsPort,
    TlsToPlaintextPort,
    VersionMismatch,
    CipherMismatch,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateSelfSigned,
    CertificateNameMismatch,
    CertificateWeak,
    MissingSni,
    ObsoleteVersion,
    WeakCipher,
    Starttls,
    CleartextCredentials,
    ProxyConnectFailed,
    MalformedTls,
    Heartbeat,
    ConnectionFailed,
    TlsInterceptionSuspected,
    CertificateChainIncomplete,
    CertificateUntrusted,
    CertificateExpiresSoon,
    CertificateRevoked,
    OcspStapleInvalid,
    TcpOverlapConflict,
}

/// What a kind is about: groups the README table and tells the diagnosis what a finding
/// can explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The TCP connection itself.
    Transport,
    /// Cleartext before (or instead of) TLS: wrong protocol on a port, upgrades, proxies.
    Cleartext,
    /// What the two sides offered and chose: versions, cipher suites, extensions.
    Negotiation,
    /// The certificate chain the server (or client) sent.
    Certificate,
    /// The course of the handshake: alerts, aborts, broken records.
    Handshake,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Transport => "transport",
            Category::Cleartext => "cleartext",
            Category::Negotiation => "negotiation",
            Category::Certificate => "certificate",
            Category::Handshake => "handshake",
        }
    }
}

/// Where a kind is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// By a flow rule, when the flow is finished.
    Flow,
    /// By a capture rule, at the end of the capture, from what many flows showed.
    Capture,
}

/// Everything the project says about one kind, in one place.
#[derive(Debug)]
pub struct KindSpec {
    pub kind: Kind,
    /// The serialized name (checked against serde by a test).
    pub name: &'static str,
    pub category: Category,
    pub scope: Scope,
    /// The usual severity, in words for the README (some kinds vary by evidence).
    pub severity: &'static str,
    /// The README's "raised when" column: when it fires and its key evidence.
    pub when: &'static str,
    /// A client may refuse the handshake because of it: `handshake_aborted` names it as
    /// the reason behind a certificate rejection.
    pub rejects_certificate: bool,
}

const fn spec(
    kind: Kind,
    name: &'static str,
    category: Category,
    severity: &'static str,
    when: &'static str,
) -> KindSpec {
    KindSpec {
        kind,
        name,
        category,
        scope: Scope::Flow,
        severity,
        when,
        rejects_certificate: false,
    }
}

const fn rejecting(mut s: KindSpec) -> KindSpec {
    s.rejects_certificate = true;
    s
}

const fn cross_flow(mut s: KindSpec) -> KindSpec {
    s.scope = Scope::Capture;
    s
}

use Category::*;

/// Every kind, in the order of [`Kind`]'s variants (a test keeps them in step).
pub static KINDS: &[KindSpec] = &[
    spec(Kind::HandshakeAborted, "handshake_aborted", Handshake, "high (medium on timeout/capture end)",
        "a ClientHello was seen and the handshake never completed; evidence: `aborted_by` (client/server/unknown/middlebox), `stage`, `how` (rst/fin/alert/timeout/capture_end), `likely_cause`, `confidence`, `because`, `capture_quality`, `capture_issues`, `client_offer`, `server_choice`, `offer_vs_choice`, `ttl` (see below)"),
    spec(Kind::TlsAlert, "tls_alert", Handshake, "fatal: medium, warning: low, close_notify: info",
        "an alert record, in clear or encrypted (`encrypted: true`)"),
    spec(Kind::PlaintextToTlsPort, "plaintext_to_tls_port", Cleartext, "medium",
        "the client's first bytes to a TLS port are not TLS (`detected_protocol`, `first_bytes`, `server_reaction`)"),
    spec(Kind::TlsToPlaintextPort, "tls_to_plaintext_port", Cleartext, "medium",
        "a ClientHello answered in plaintext (`server_first_bytes`)"),
    spec(Kind::VersionMismatch, "version_mismatch", Negotiation, "high",
        "a `protocol_version` alert, or no common version"),
    spec(Kind::CipherMismatch, "cipher_mismatch", Negotiation, "high",
        "`handshake_failure`/`insufficient_security` right after the ClientHello, no ServerHello"),
    rejecting(spec(Kind::CertificateExpired, "certificate_expired", Certificate, "high (leaf), medium (chain)",
        "a certificate of the chain is expired at the capture time")),
    rejecting(spec(Kind::CertificateNotYetValid, "certificate_not_yet_valid", Certificate, "high (leaf), medium (chain)",
        "a certificate of the chain is not yet valid at the capture time")),
    rejecting(spec(Kind::CertificateSelfSigned, "certificate_self_signed", Certificate, "medium",
        "self-signed leaf, or a sent root the client rejected")),
    spec(Kind::CertificateNameMismatch, "certificate_name_mismatch", Certificate, "high",
        "SNI not covered by the leaf's SAN/CN (RFC 6125 wildcards)"),
    rejecting(spec(Kind::CertificateWeak, "certificate_weak", Certificate, "medium",
        "RSA/DSA < 2048 bits, EC < 224 bits, MD5/SHA-1 signature")),
    spec(Kind::MissingSni, "missing_sni", Negotiation, "low",
        "a ClientHello without `server_name`"),
    spec(Kind::ObsoleteVersion, "obsolete_version", Negotiation, "medium (SSL: high)",
        "SSLv2/SSLv3/TLS 1.0/1.1 negotiated, or the client's best"),
    spec(Kind::WeakCipher, "weak_cipher", Negotiation, "medium (NULL/EXPORT/anon: high)",
        "a NULL, EXPORT, anon, RC4, DES or 3DES suite negotiated"),
    spec(Kind::Starttls, "starttls", Cleartext, "info (refused / no TLS: medium)",
        "an in-protocol upgrade to TLS (also MySQL SSL request, HTTP Upgrade, RDP negotiation): `protocol`, `result` ok/refused/not_offered/no_tls_followed"),
    spec(Kind::CleartextCredentials, "cleartext_credentials", Cleartext, "high",
        "AUTH/LOGIN/USER-PASS/HTTP Basic before any TLS (never the secret)"),
    spec(Kind::ProxyConnectFailed, "proxy_connect_failed", Cleartext, "medium",
        "an HTTP CONNECT answered with a non-2xx status, or a SOCKS CONNECT with a failure reply: `target`, `status`, `reason`, `proxy`"),
    spec(Kind::MalformedTls, "malformed_tls", Handshake, "medium",
        "a record or handshake message that does not parse, or an impossible length"),
    spec(Kind::Heartbeat, "heartbeat", Handshake, "info (Heartbleed-style request: high; answered with more than it sent: critical)",
        "TLS heartbeat messages (RFC 6520); a request claiming more payload than its record holds is Heartbleed (CVE-2014-0160): `heartbleed`, `sent_by`, `record_length`, `payload_length`, `answered`, `answer_length`, `leaked`, `heartbeats` per side"),
    spec(Kind::ConnectionFailed, "connection_failed", Transport, "medium on a TLS port, low elsewhere",
        "a TCP connection that never carried a byte: `reason` refused (RST to the SYN), no_answer (SYNs unanswered; `ended_by` client_gave_up/capture_end/evicted), icmp_<name> (an ICMP/ICMPv6 error quoting the SYN, e.g. icmp_port_unreachable, icmp_admin_prohibited), server_closed/server_reset (accepted, then ended by the server before any byte); `attempts`, `waited_ms`, `answered_by` (server, middlebox, or the ICMP sender's address), `confidence`, `because`"),
    cross_flow(spec(Kind::TlsInterceptionSuspected, "tls_interception_suspected", Certificate, "medium",
        "cross-flow, at the end of the capture: the leaf certificate for an SNI has another issuer than the one most flows of the capture get for that SNI (`sni`, `issuer`, `usual_issuer`, `flows_with_issuer`, `flows_with_usual_issuer`)")),
    rejecting(spec(Kind::CertificateChainIncomplete, "certificate_chain_incomplete", Certificate, "high (medium when the handshake completed)",
        "the chain sent stops at a certificate that is not self-issued and whose issuer is neither sent nor trusted: a missing intermediate (`missing_issuer`, `last_sent`, `aia_ca_issuers`, `trust_store`, `chain_order`)")),
    rejecting(spec(Kind::CertificateUntrusted, "certificate_untrusted", Certificate, "high (handshake completed: low for an unknown root, else medium)",
        "the chain is complete but validation at capture time fails: `reason` (`unknown_root`, `bad_signature`, `not_a_ca`, `path_len`, `name_constraints`, `wrong_usage`, ...), `root_subject`, `trust_store`, `chain_order`")),
    spec(Kind::CertificateExpiresSoon, "certificate_expires_soon", Certificate, "low (medium within 7 days)",
        "a certificate of the chain expires within `--expiry-warning-days` (30) of the capture time (`subject`, `not_after`, `days_left`, `chain_position`)"),
    rejecting(spec(Kind::CertificateRevoked, "certificate_revoked", Certificate, "critical",
        "the server's stapled OCSP response (TLS 1.2 CertificateStatus, or the TLS 1.3 leaf's status_request, once decrypted) says the leaf is revoked (`subject`, `revoked_at`, `revocation_reason`, `this_update`, `next_update`, `responder_signature`)")),
    rejecting(spec(Kind::OcspStapleInvalid, "ocsp_staple_invalid", Certificate, "high (medium when the handshake completed)",
        "the stapled OCSP response is not usable at the capture time: `reason` (`expired`: nextUpdate passed, `not_yet_valid`, `wrong_certificate`: CertID serial or issuer hash not the leaf's, `bad_signature`, `unsuccessful`: a responder's refusal, `unparseable`), `reasons`, `status`, `this_update`, `next_update`, `responder_signature`")),
    spec(Kind::TcpOverlapConflict, "tcp_overlap_conflict", Transport, "medium",
        "a TCP segment overlaps bytes already received with different bytes (an evasion splice or a broken middlebox; the first copy received is analysed): `conflicts` per direction (`client`, `server`), `frames` of the conflicting segments per direction, `kept: first_received`"),
];

impl Kind {
    pub fn spec(self) -> &'static KindSpec {
        &KINDS[self as usize]
    }

    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// The kind with this serialized name.
    pub fn parse(name: &str) -> Option<Kind> {
        KINDS.iter().find(|s| s.name == name).map(|s| s.kind)
    }

    pub fn all() -> impl Iterator<Item = Kind> {
        KINDS.iter().map(|s| s.kind)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_follows_the_enum_and_serde_names() {
        for (i, s) in KINDS.iter().enumerate() {
            assert_eq!(s.kind as usize, i, "{} out of order", s.name);
            let json = serde_json::to_value(s.kind).unwrap();
            assert_eq!(json, s.name);
            assert_eq!(Kind::parse(s.name), Some(s.kind));
        }
    }
}
