//! `tlstriage explain ALERT`: what each TLS alert description means when it ends a
//! handshake (RFC 8446 section 6 and RFC 5246 section 7.2, read as a troubleshooter reads
//! them: who usually sends it, what it usually means in practice, how to confirm).

use std::fmt::Write as _;

use super::{wrap, S_CLIENT};

/// One alert description.
#[derive(Debug)]
pub struct AlertTopic {
    pub code: u8,
    pub name: &'static str,
    /// Who usually sends it and when.
    pub sent_by: &'static str,
    pub meaning: &'static str,
    /// Usual causes, most frequent first.
    pub causes: &'static [&'static str],
    /// Commands that confirm it: (command, what to look for).
    pub confirm: &'static [(&'static str, &'static str)],
    /// tlstriage kinds and causes that usually come with it.
    pub related: &'static [&'static str],
}

const VERIFY: (&str, &str) = (
    "openssl s_client -connect HOST:PORT -servername NAME -showcerts </dev/null",
    "the chain the server sends and 'Verify return code': 20/21 = an issuer is missing or untrusted, 10 = expired, 62 = name mismatch",
);

pub const ALERTS: &[AlertTopic] = &[
    AlertTopic {
        code: 0,
        name: "close_notify",
        sent_by: "either side, when it is done sending",
        meaning: "An orderly close, not an error: the sender will send nothing more. Sent by healthy sessions at their end (encrypted, after the handshake). Sent in the clear during a handshake, it means the sender gave up politely, usually after a local decision it does not explain on the wire.",
        causes: &[
            "the end of a healthy session (informational)",
            "a client that gave up on the server's certificate or parameters without saying why (some Java and Go clients)",
        ],
        confirm: &[(S_CLIENT, "whether the client's own log says why it closed")],
        related: &["tls_alert", "handshake_aborted"],
    },
    AlertTopic {
        code: 10,
        name: "unexpected_message",
        sent_by: "the side that received a message it did not expect at this step",
        meaning: "A handshake or record message arrived out of order: for example a second ClientHello, application data before the handshake completed, or a ChangeCipherSpec where TLS 1.3 forbids it.",
        causes: &[
            "a middlebox that rewrites or injects TLS messages",
            "a client and server that disagree on whether the session was resumed",
            "an implementation bug (often in embedded stacks)",
        ],
        confirm: &[(S_CLIENT, "whether a plain handshake succeeds; then retry with -no_ticket / -sess_out to isolate resumption")],
        related: &["tls_alert", "malformed_tls"],
    },
    AlertTopic {
        code: 20,
        name: "bad_record_mac",
        sent_by: "the side whose integrity check of a received record failed",
        meaning: "A record could not be authenticated: its MAC or AEAD tag was wrong. The bytes were changed on the way, or the two sides derived different keys.",
        causes: &[
            "corruption on the path: a middlebox, a faulty NIC offload or a broken load balancer rewriting bytes",
            "keys that differ: a broken session resumption or a bug in one side's cipher implementation",
            "MTU or fragmentation problems that mangle records",
        ],
        confirm: &[
            (S_CLIENT, "whether a fresh handshake with another cipher (-cipher, -ciphersuites) works"),
            ("ethtool -K IFACE tso off gso off gro off", "whether disabling offloads on a suspect host makes it go away"),
        ],
        related: &["tls_alert"],
    },
    AlertTopic {
        code: 22,
        name: "record_overflow",
        sent_by: "the side that received a record longer than allowed",
        meaning: "A record exceeded 2^14 bytes of plaintext (plus expansion), or the size the peer agreed to with max_fragment_length or record_size_limit.",
        causes: &[
            "a peer that ignores the negotiated record size limit (embedded clients with small buffers)",
            "non-TLS data read as a TLS record header",
        ],
        confirm: &[(S_CLIENT, "the negotiated Max Fragment Length; retry with -maxfraglen 4096")],
        related: &["tls_alert", "malformed_tls"],
    },
    AlertTopic {
        code: 40,
        name: "handshake_failure",
        sent_by: "usually the server, when it finds nothing acceptable in the ClientHello",
        meaning: "No acceptable set of parameters: no cipher suite, key exchange group or signature algorithm in common. Some stacks also send it when a required client certificate is missing, or when the SNI names no configured site.",
        causes: &[
            "no cipher suite in common (a client offering only legacy suites, or a server restricted to a few)",
            "no key exchange group or signature algorithm in common (e.g. an ECDSA-only server and an RSA-only client)",
            "a client certificate that mutual TLS requires was not sent (older stacks)",
        ],
        confirm: &[
            ("nmap --script ssl-enum-ciphers -p PORT HOST", "the suites and versions the server accepts"),
            (S_CLIENT, "retry with -cipher / -ciphersuites / -groups limited to what the failing client offers"),
        ],
        related: &["cipher_mismatch", "handshake_aborted"],
    },
    AlertTopic {
        code: 42,
        name: "bad_certificate",
        sent_by: "the side that rejected its peer's certificate (the client for the server's, the server for a client certificate)",
        meaning: "A certificate was corrupt, had a bad signature, or failed verification for a reason the sender did not name more precisely.",
        causes: &[
            "a server certificate the client cannot verify (chain problems, wrong key usage)",
            "a client certificate the server rejects in mutual TLS (wrong CA, wrong extended key usage)",
        ],
        confirm: &[VERIFY],
        related: &["certificate_untrusted", "certificate_chain_incomplete", "handshake_aborted"],
    },
    AlertTopic {
        code: 43,
        name: "unsupported_certificate",
        sent_by: "the side that received a certificate of a type or usage it cannot use",
        meaning: "The certificate's key type, signature algorithm or key usage is not acceptable to the receiver.",
        causes: &[
            "an ECDSA or Ed25519 certificate offered to a client that only does RSA",
            "key usage or extended key usage that does not allow TLS server (or client) authentication",
        ],
        confirm: &[("openssl x509 -in CERT -noout -text", "Public Key Algorithm, Key Usage, Extended Key Usage")],
        related: &["certificate_weak", "handshake_aborted"],
    },
    AlertTopic {
        code: 44,
        name: "certificate_revoked",
        sent_by: "the side that found its peer's certificate revoked (CRL or OCSP)",
        meaning: "The certificate was revoked by its issuer, as a CRL or an OCSP response (stapled or fetched by the receiver) says.",
        causes: &["a leaf or intermediate revoked after a key compromise or a re-issue; the server still serves the old one"],
        confirm: &[("openssl s_client -connect HOST:PORT -servername NAME -status </dev/null", "the stapled OCSP response's Cert Status")],
        related: &["handshake_aborted"],
    },
    AlertTopic {
        code: 45,
        name: "certificate_expired",
        sent_by: "the side that found its peer's certificate outside its validity period",
        meaning: "A certificate of the chain has expired, or is not valid yet. The sender judges by its own clock.",
        causes: &[
            "an expired leaf or intermediate still served",
            "a wrong clock on the side that sent the alert (a device without NTP, a VM restored from a snapshot)",
        ],
        confirm: &[
            ("openssl x509 -in CERT -noout -dates", "notBefore / notAfter against the time of the failure"),
            ("date -u; timedatectl", "the clock of the side that sent the alert"),
        ],
        related: &["certificate_expired", "certificate_expires_soon", "handshake_aborted"],
    },
    AlertTopic {
        code: 46,
        name: "certificate_unknown",
        sent_by: "the side that rejected its peer's certificate for an unspecified reason",
        meaning: "Some other problem with the certificate. Java (SunJSSE) and some other stacks send it for an untrusted chain where OpenSSL would send unknown_ca.",
        causes: &[
            "an untrusted or incomplete chain seen by a Java client (PKIX path building failed)",
            "a name mismatch seen by a client that does not send a more precise alert",
        ],
        confirm: &[VERIFY],
        related: &["certificate_untrusted", "certificate_chain_incomplete", "certificate_name_mismatch"],
    },
    AlertTopic {
        code: 47,
        name: "illegal_parameter",
        sent_by: "the side that received a field out of range or inconsistent with the rest of the handshake",
        meaning: "A handshake field had a value the receiver considers illegal: a key share for a group not offered, a version or cipher the server chose that the client never offered, a malformed extension.",
        causes: &[
            "an implementation bug on one side",
            "a middlebox that rewrites hellos (downgrades, strips extensions)",
            "a server that picks a parameter the client did not offer (version intolerance workarounds)",
        ],
        confirm: &[(S_CLIENT, "retry with -tls1_2 and -tls1_3 separately, and with fewer -groups")],
        related: &["tls_alert", "malformed_tls"],
    },
    AlertTopic {
        code: 48,
        name: "unknown_ca",
        sent_by: "the client, when it cannot build a chain from the server's certificate to a root it trusts (or a server, for a client certificate)",
        meaning: "No trust anchor: the chain ends at a CA the receiver does not trust, or an intermediate needed to reach a trusted root was not sent.",
        causes: &[
            "the server does not send its intermediate certificate (works in browsers that cache or fetch it, fails in curl, Java, Go, Python)",
            "a private or corporate CA the client does not trust (add it to the client's trust store)",
            "a self-signed certificate",
            "TLS interception by a proxy whose CA the client does not trust",
        ],
        confirm: &[
            VERIFY,
            ("curl -v --cacert ROOT.pem https://NAME:PORT/", "whether trusting the private root explicitly fixes it"),
        ],
        related: &["certificate_chain_incomplete", "certificate_untrusted", "certificate_self_signed", "tls_interception_suspected"],
    },
    AlertTopic {
        code: 49,
        name: "access_denied",
        sent_by: "the side that accepted the certificate but refuses the peer by policy",
        meaning: "The peer's certificate is valid, but access control denies it (a client certificate not authorised for this service).",
        causes: &["a client certificate from the right CA but not on the server's allow list (subject, OU, SAN)"],
        confirm: &[("openssl x509 -in CLIENT.pem -noout -subject -ext subjectAltName", "the identity the server's policy checks")],
        related: &["handshake_aborted"],
    },
    AlertTopic {
        code: 50,
        name: "decode_error",
        sent_by: "the side that could not parse a message",
        meaning: "A message could not be decoded: a length or field was wrong. Often sent by a client that received something that is not TLS at all, or that answers a connection the server already closed.",
        causes: &[
            "the server closed or sent non-TLS bytes after the ClientHello (see who closed first)",
            "a middlebox that truncates or rewrites handshake messages",
            "an extension one side encodes and the other does not understand",
        ],
        confirm: &[(S_CLIENT, "what the server sends back (-msg shows each message)")],
        related: &["handshake_aborted", "tls_to_plaintext_port", "malformed_tls"],
    },
    AlertTopic {
        code: 51,
        name: "decrypt_error",
        sent_by: "the side whose verification of a handshake signature or Finished failed",
        meaning: "A cryptographic check of the handshake failed: the server's signature over the key exchange, a CertificateVerify, or the Finished message did not verify.",
        causes: &[
            "a certificate and private key that do not match on the server (or a client certificate and its key)",
            "a middlebox that altered handshake messages",
            "a PSK or session ticket the two sides derive differently",
        ],
        confirm: &[(
            "openssl x509 -in CERT -noout -pubkey | sha256sum; openssl pkey -in KEY -pubout | sha256sum",
            "the two hashes: different means the key does not belong to the certificate",
        )],
        related: &["handshake_aborted"],
    },
    AlertTopic {
        code: 70,
        name: "protocol_version",
        sent_by: "usually the server, when no TLS version the client offers is acceptable",
        meaning: "The versions do not overlap: the server requires a newer version than the client offers (TLS 1.0/1.1 disabled), or the client requires one the server lacks.",
        causes: &[
            "an old client (TLS 1.0/1.1 only) against a server that requires TLS 1.2 or newer",
            "a client pinned to TLS 1.3 against a TLS 1.2-only server",
        ],
        confirm: &[(S_CLIENT, "retry with -tls1_2 and -tls1_3 to see which the server accepts")],
        related: &["version_mismatch", "obsolete_version", "handshake_aborted"],
    },
    AlertTopic {
        code: 71,
        name: "insufficient_security",
        sent_by: "the server, when the client's offer is weaker than it requires",
        meaning: "The client offered only cipher suites or parameters weaker than the server accepts (for example no forward secrecy).",
        causes: &["a client offering only legacy suites to a hardened server"],
        confirm: &[("nmap --script ssl-enum-ciphers -p PORT HOST", "the suites the server accepts")],
        related: &["cipher_mismatch", "weak_cipher"],
    },
    AlertTopic {
        code: 80,
        name: "internal_error",
        sent_by: "the side that hit a problem of its own",
        meaning: "An error unrelated to the peer: a bug, a resource problem, or a misconfiguration of the sender itself (not the peer's fault).",
        causes: &[
            "a server whose private key or HSM cannot sign (permissions, token not logged in)",
            "a server with no certificate for the requested SNI in some stacks",
            "memory or file descriptor exhaustion",
        ],
        confirm: &[("journalctl -u SERVICE", "the sender's own log at the time of the alert")],
        related: &["handshake_aborted"],
    },
    AlertTopic {
        code: 86,
        name: "inappropriate_fallback",
        sent_by: "the server, when a client retried with a lower version while signalling TLS_FALLBACK_SCSV",
        meaning: "The client's first attempt at a higher version failed and it retried lower; the server, which supports the higher version, refuses the downgrade.",
        causes: &["something broke the first, higher-version attempt (a middlebox dropping TLS 1.3 hellos, a timeout)"],
        confirm: &[(S_CLIENT, "whether a direct -tls1_3 (or -tls1_2) attempt succeeds")],
        related: &["handshake_aborted"],
    },
    AlertTopic {
        code: 90,
        name: "user_canceled",
        sent_by: "the side whose application canceled the handshake",
        meaning: "The handshake was canceled for a reason unrelated to the protocol; usually followed by close_notify.",
        causes: &["the user or application gave up (a timeout in the application, a canceled request)"],
        confirm: &[("journalctl -u SERVICE", "the application's own log")],
        related: &["tls_alert"],
    },
    AlertTopic {
        code: 109,
        name: "missing_extension",
        sent_by: "the side that required a TLS 1.3 extension the peer did not send",
        meaning: "A TLS 1.3 handshake lacked an extension it must carry (supported_versions, key_share, signature_algorithms...).",
        causes: &["a client or middlebox that strips extensions", "an implementation that mixes TLS 1.2 and 1.3 rules"],
        confirm: &[(S_CLIENT, "retry with -tls1_2 to see whether only TLS 1.3 fails")],
        related: &["tls_alert"],
    },
    AlertTopic {
        code: 110,
        name: "unsupported_extension",
        sent_by: "the client, when the server answered with an extension the client did not offer (or in the wrong message)",
        meaning: "An extension appeared where it is not allowed: in a ServerHello without the client having offered it, or in the wrong TLS 1.3 message.",
        causes: &["a server or middlebox that adds extensions on its own", "an implementation bug"],
        confirm: &[(S_CLIENT, "-msg to see the server's extensions")],
        related: &["tls_alert"],
    },
    AlertTopic {
        code: 112,
        name: "unrecognized_name",
        sent_by: "the server, when the SNI names no site it serves (often as a warning)",
        meaning: "The server has no certificate or virtual host for the name in the client's server_name extension. As a warning it is only a note; as a fatal alert the handshake ends.",
        causes: &[
            "a client using an IP address, an internal name or an alias the server is not configured for",
            "a missing server_name/server_alias in the web server's configuration",
        ],
        confirm: &[(S_CLIENT, "retry with the names the server does serve in -servername")],
        related: &["missing_sni", "certificate_name_mismatch"],
    },
    AlertTopic {
        code: 113,
        name: "bad_certificate_status_response",
        sent_by: "the client, when the stapled OCSP response is invalid",
        meaning: "The server stapled an OCSP response the client cannot accept: expired, for another certificate, or badly signed.",
        causes: &["a stale OCSP staple cached by the server", "a responder whose signing certificate the client does not trust"],
        confirm: &[("openssl s_client -connect HOST:PORT -servername NAME -status </dev/null", "the OCSP response's This/Next Update and status")],
        related: &["handshake_aborted"],
    },
    AlertTopic {
        code: 115,
        name: "unknown_psk_identity",
        sent_by: "the server, when the client's pre-shared key identity is unknown",
        meaning: "A PSK cipher suite (or a TLS 1.3 external PSK) was offered with an identity the server does not know.",
        causes: &["a client provisioned with a PSK the server does not have (or a different identity string)"],
        confirm: &[("openssl s_client -connect HOST:PORT -psk_identity ID -psk HEX", "whether the server accepts the identity")],
        related: &["handshake_aborted"],
    },
    AlertTopic {
        code: 116,
        name: "certificate_required",
        sent_by: "the server in TLS 1.3, when it asked for a client certificate and got none",
        meaning: "Mutual TLS: the server sent a CertificateRequest, and the client answered with an empty Certificate message.",
        causes: &[
            "a client with no certificate configured for this server",
            "a client certificate that the client did not offer because it does not match the CAs the server named",
        ],
        confirm: &[(
            "openssl s_client -connect HOST:PORT -servername NAME -cert CLIENT.pem -key CLIENT.key </dev/null",
            "whether the handshake completes with a client certificate; 'Acceptable client certificate CA names' lists what the server wants",
        )],
        related: &["handshake_aborted"],
    },
    AlertTopic {
        code: 120,
        name: "no_application_protocol",
        sent_by: "the server, when no ALPN protocol the client offers is acceptable",
        meaning: "ALPN did not overlap: the client offered, for example, only h2 and the server only http/1.1 (or a gRPC service got a plain HTTP client).",
        causes: &["a client and server configured for different application protocols"],
        confirm: &[(S_CLIENT, "retry with -alpn h2 and -alpn http/1.1")],
        related: &["handshake_aborted"],
    },
];

/// The alert topic called `name` (`unknown_ca`, `alert:unknown_ca` or its code `48`).
pub fn lookup(name: &str) -> Option<&'static AlertTopic> {
    let want = name.trim().to_ascii_lowercase().replace('-', "_");
    let want = want.strip_prefix("alert:").unwrap_or(&want);
    ALERTS
        .iter()
        .find(|a| a.name == want || want.parse::<u8>().is_ok_and(|c| c == a.code))
}

pub fn render(a: &AlertTopic) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} (TLS alert {}): sent by {}",
        a.name, a.code, a.sent_by
    );
    let _ = writeln!(out, "\nWhat it means");
    wrap(&mut out, a.meaning, "  ", "  ", 92);
    let _ = writeln!(out, "\nCommon causes");
    for c in a.causes {
        wrap(&mut out, c, "    ", "  - ", 92);
    }
    let _ = writeln!(out, "\nHow to confirm");
    for (cmd, what) in a.confirm {
        let _ = writeln!(out, "  $ {cmd}");
        wrap(&mut out, what, "      ", "      ", 92);
    }
    if !a.related.is_empty() {
        let _ = writeln!(
            out,
            "\nRelated: tlstriage explain {}",
            a.related.join(" | ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::names::alert_description_name;

    #[test]
    fn every_alert_topic_is_named_as_tls_names_it_and_complete() {
        for (i, a) in ALERTS.iter().enumerate() {
            assert_eq!(alert_description_name(a.code), a.name, "code {}", a.code);
            assert!(
                ALERTS[..i].iter().all(|o| o.code < a.code),
                "ordered, unique: {}",
                a.name
            );
            assert!(
                a.meaning.len() > 60 && !a.causes.is_empty() && !a.confirm.is_empty(),
                "{}",
                a.name
            );
            for r in a.related {
                assert!(
                    super::super::lookup(r).is_some(),
                    "{}: related {r} is no topic",
                    a.name
                );
            }
        }
        assert_eq!(lookup("alert:unknown_ca").map(|a| a.code), Some(48));
        assert_eq!(lookup("116").map(|a| a.name), Some("certificate_required"));
        assert!(lookup("no_such_alert").is_none());
    }
}
