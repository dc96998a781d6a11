//! The fix in one line, for the summaries' failure groups: what an engineer changes, on which
//! end, for a kind (or, for `handshake_aborted`, its `likely_cause`; for `connection_failed`,
//! its `reason`). `tlstriage explain` has the long version and the commands that confirm it.

use crate::rules::{Cause, Finding, Kind};

/// The fix for a kind. Every kind has one (the match is exhaustive).
pub fn kind_fix(kind: Kind) -> &'static str {
    match kind {
        Kind::HandshakeAborted => "see the likely cause: `tlstriage explain handshake_aborted`",
        Kind::TlsAlert => "read the alert's description: `tlstriage explain alert:NAME` says who sends it and why",
        Kind::PlaintextToTlsPort => "make the client speak TLS to this port (https://, implicit TLS), or point it at the plaintext port",
        Kind::TlsToPlaintextPort => "point the client at the server's TLS port, or use STARTTLS where the protocol upgrades in-band",
        Kind::VersionMismatch => "enable a TLS version both ends share: TLS 1.2 or 1.3 on the client, or the client's version on the server",
        Kind::CipherMismatch => "enable a cipher suite, group and signature algorithm both ends share (modern ECDHE with AES-GCM or ChaCha20)",
        Kind::CertificateExpired => "renew the certificate and install it on the server (or fix the clock of the end that rejects it)",
        Kind::CertificateNotYetValid => "fix the clock of the end that rejects it, or install a certificate whose validity has begun",
        Kind::CertificateSelfSigned => "install a certificate from a CA the clients trust, or add this certificate to the clients' trust store",
        Kind::CertificateNameMismatch => "install a certificate whose subjectAltName covers the name the clients ask for (SNI)",
        Kind::CertificateWeak => "reissue the certificate with a stronger key (RSA 2048+ or ECDSA P-256) and a SHA-256 signature",
        Kind::MissingSni => "configure the client to send SNI (the server name), or give the server a default certificate for it",
        Kind::ObsoleteVersion => "upgrade the client to offer TLS 1.2 or 1.3",
        Kind::WeakCipher => "remove the weak suites from the server's list (and the client's): prefer ECDHE with AES-GCM or ChaCha20",
        Kind::Starttls => "nothing to fix if the upgrade succeeded; require STARTTLS on the server so it cannot be stripped",
        Kind::CleartextCredentials => "require TLS (or STARTTLS) before authentication on the server, and change the exposed password",
        Kind::ProxyConnectFailed => "check the proxy's answer: allow the destination in its policy, or fix the CONNECT target and credentials",
        Kind::MalformedTls => "find what rewrites or cuts the bytes (a middlebox, a broken TLS stack): capture on both sides",
        Kind::Heartbeat => "patch OpenSSL on the server (Heartbleed, CVE-2014-0160) and disable the heartbeat extension",
        Kind::ConnectionFailed => "make the service reachable: start it, open the firewall, or fix the client's target address",
        Kind::TlsInterceptionSuspected => "check for an intercepting proxy or security product; trust its CA deliberately or bypass it for this name",
        Kind::CertificateChainIncomplete => "configure the server to send the intermediate certificates (the full chain file)",
        Kind::CertificateUntrusted => "use a certificate from a CA the clients trust, or add the private root to the clients' trust store",
        Kind::CertificateExpiresSoon => "renew the certificate before it expires",
        Kind::CertificateRevoked => "replace the revoked certificate (new key, new certificate) and deploy it",
        Kind::OcspStapleInvalid => "fix the server's OCSP stapling: refresh the staple before its nextUpdate, for the certificate it serves",
        Kind::TcpOverlapConflict => "compare the conflicting segments in Wireshark; find the device or tool that rewrites or splices TCP payload, and do not trust this flow's SNI until then",
    }
}

/// The fix for a `handshake_aborted` likely cause.
pub fn cause_fix(cause: Cause) -> &'static str {
    match cause {
        Cause::VersionMismatch => kind_fix(Kind::VersionMismatch),
        Cause::CipherMismatch => kind_fix(Kind::CipherMismatch),
        Cause::CertificateRejected => "serve a certificate the clients accept: valid dates, a trusted CA, the full chain, a name that covers the SNI",
        Cause::NameMismatch => kind_fix(Kind::CertificateNameMismatch),
        Cause::ClientCertificate => "give the client the certificate the server asks for, signed by a CA the server trusts",
        Cause::PlaintextMismatch => "make both ends agree on TLS or plaintext for this port",
        Cause::Proxy => kind_fix(Kind::ProxyConnectFailed),
        Cause::ServerClosedWithoutAlert => "check the server's TLS configuration for this name and port (and its logs): it closed without saying why",
        Cause::ClientGaveUp => "read the client's own error (a timeout, a rejection it did not announce): reproduce with `curl -v` or `openssl s_client`",
        Cause::Network => "find the device on the path that resets or drops the flow (firewall, IPS, MTU): capture on both sides of it",
        Cause::HeartbleedProbe => kind_fix(Kind::Heartbeat),
        Cause::Unknown => "capture on both ends to see who stops and why",
    }
}

/// The fix for a `connection_failed` reason.
pub fn reason_fix(reason: &str) -> &'static str {
    match reason {
        "refused" => "start the service on that port, or point the client at the port it listens on",
        "no_answer" => "open the firewall for the port, or fix the client's target address (nothing answered the SYNs)",
        "server_closed" | "server_reset" => "check the server's logs and limits: it accepted the connection and dropped it before any byte",
        r if r.starts_with("icmp_") => "read the ICMP error's sender: a router or firewall on the path refuses the flow",
        _ => kind_fix(Kind::ConnectionFailed),
    }
}

/// The fix for a finding: by cause or reason where the kind has them; a certificate
/// rejection names the certificate problem found on the same flow when there is one.
pub fn finding_fix(f: &Finding, on_flow: &[Finding]) -> &'static str {
    match f.kind {
        Kind::HandshakeAborted => {
            let cause = f.evidence_str("likely_cause").and_then(Cause::parse);
            if cause == Some(Cause::CertificateRejected) {
                if let Some(c) = on_flow.iter().find(|c| c.kind.spec().rejects_certificate) {
                    return kind_fix(c.kind);
                }
            }
            cause.map_or(kind_fix(f.kind), cause_fix)
        }
        Kind::ConnectionFailed => f
            .evidence_str("reason")
            .map_or(kind_fix(f.kind), reason_fix),
        k => kind_fix(k),
    }
}
