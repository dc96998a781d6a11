//! `tls_alert`: every alert record, in clear or recognisably encrypted.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::tls::names::alert_description_name;
use crate::tls::TlsEventKind;

pub const TLS_ALERT: Rule = Rule {
    name: "tls_alert",
    doc: "An alert record was sent; fatal alerts name the reason a handshake or session ended.",
    kinds: &[Kind::TlsAlert],
    after: &[],
    check,
};

fn check(ctx: &mut RuleCtx<'_>) {
    let Some(tls) = ctx.flow.tls.as_ref() else {
        return;
    };
    // A one-sided session whose peer went on ends with close_notify like any other.
    let established = tls.established || super::one_sided::inferred_established(ctx.flow).is_some();
    let mut out = Vec::new();
    for ev in &tls.events {
        let sender = ev.dir.sender().as_str();
        let finding = match ev.kind {
            TlsEventKind::Alert { level, description } => {
                let name = alert_description_name(description);
                let level_name = match level {
                    1 => "warning",
                    2 => "fatal",
                    _ => "unknown",
                };
                let severity = match (level, name) {
                    (_, "close_notify") => Severity::Info,
                    (2, _) => Severity::Medium,
                    _ => Severity::Low,
                };
                let mut evidence = json!({
                    "level": level_name,
                    "description": name,
                    "description_code": description,
                    "sent_by": sender,
                    "encrypted": false,
                });
                if ev.decrypted {
                    // Sent encrypted, read with the key log's secrets.
                    evidence["decrypted"] = true.into();
                }
                let how = if ev.decrypted { " (decrypted)" } else { "" };
                Finding::new(Kind::TlsAlert, severity, ev.ts_us)
                    .frames([ev.frame])
                    .summary(format!(
                        "The {sender} sent a {level_name} {name} alert{how}."
                    ))
                    .explanation(alert_explanation(name))
                    .evidence(evidence)
            }
            TlsEventKind::EncryptedAlert { len } => {
                let severity = if established {
                    Severity::Info
                } else {
                    Severity::Medium
                };
                let explanation = if established {
                    "An alert was sent after the handshake completed, encrypted, so its description is not visible. At the end of a session this is almost always close_notify, the normal way to end a TLS session."
                } else {
                    "An alert was sent during the handshake after encryption had started (TLS 1.3, or after ChangeCipherSpec), so its description is not visible. Its position tells which side gave up: see the handshake_aborted finding of this flow for the most likely cause. With the session's key log (`--keylog`, e.g. from SSLKEYLOGFILE) tlstriage decrypts it and names the alert."
                };
                Finding::new(Kind::TlsAlert, severity, ev.ts_us)
                    .frames([ev.frame])
                    .summary(format!(
                        "The {sender} sent an encrypted alert ({len} bytes)."
                    ))
                    .explanation(explanation)
                    .evidence(json!({
                        "level": "unknown",
                        "description": "encrypted",
                        "sent_by": sender,
                        "encrypted": true,
                        "record_length": len,
                    }))
            }
            _ => continue,
        };
        out.push(finding);
    }
    ctx.findings.extend(out);
}

/// What an alert usually means in practice, and what to check.
pub fn alert_explanation(name: &str) -> String {
    let text = match name {
        "close_notify" => "close_notify is the normal end of a TLS session: the sender has no more data. It is not an error.",
        "handshake_failure" => "The sender could not agree on security parameters with its peer. Sent by a server right after the ClientHello it usually means no cipher suite, group or signature algorithm in common, a missing required extension (often SNI), or a client certificate the server required and did not get.",
        "protocol_version" => "The sender does not support (or refuses) the protocol version its peer offered: typically an old client offering only TLS 1.0/1.1 to a server that requires TLS 1.2+, or the reverse.",
        "insufficient_security" => "The sender requires stronger parameters than its peer offered (cipher suites too weak for its policy).",
        "unknown_ca" => "The sender (usually the client) could not build a trusted chain for the peer's certificate: self-signed, private CA not installed, or a missing intermediate certificate on the server.",
        "bad_certificate" | "unsupported_certificate" | "certificate_unknown" => "The sender rejected the certificate its peer presented (corrupt, unsupported, failed verification, or a name mismatch). Check the chain with `openssl s_client -connect host:port -servername NAME -showcerts`.",
        "certificate_expired" => "The sender rejected its peer's certificate because it has expired (or is not yet valid: check the clock of both ends). Check with `openssl x509 -noout -dates`.",
        "certificate_revoked" => "The sender found its peer's certificate revoked (CRL/OCSP).",
        "certificate_required" => "The server requires a client certificate and the client sent none (mutual TLS).",
        "decrypt_error" => "A handshake signature or Finished check failed: wrong key for the certificate, a middlebox altering the handshake, or a client certificate whose proof of possession failed.",
        "bad_record_mac" => "A record failed authentication: corruption on the path, a middlebox rewriting bytes, or a broken TLS implementation.",
        "unrecognized_name" => "The server has no certificate or virtual host for the SNI name the client sent.",
        "no_application_protocol" => "No ALPN protocol in common (e.g. client wants only h2, server offers only http/1.1).",
        "illegal_parameter" | "decode_error" | "unexpected_message" => "The sender received a handshake message that was malformed or out of place: an implementation bug, an incompatible TLS stack, or a middlebox interfering.",
        "inappropriate_fallback" => "The server detected a version downgrade retry (TLS_FALLBACK_SCSV): the client's first, higher-version attempt failed, often because of a middlebox.",
        "internal_error" => "The sender hit an internal problem unrelated to its peer (configuration, missing key, resource exhaustion). Look at the sender's logs.",
        "access_denied" => "The sender refused the peer by policy after a valid handshake (ACL).",
        "user_canceled" => "The sender's application cancelled the handshake.",
        "record_overflow" => "A record larger than allowed was received: broken implementation or corruption.",
        _ => "An alert was sent; its description names the reason.",
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::TLS_ALERT;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::Severity;
    use crate::tls::{HandshakeStage, TlsEventKind};

    #[test]
    fn thousands_of_identical_alerts_give_ten_findings_and_a_count() {
        let alerts = (0..10_000)
            .map(|i| alert(Dir::ToClient, 5 + i, 1, 0))
            .collect();
        let f = tls_flow(client_hello(), None, alerts, HandshakeStage::ClientHello);
        let out = crate::rules::evaluate_with(&f, &Default::default());
        let tls: Vec<_> = out
            .iter()
            .filter(|x| x.kind.as_str() == "tls_alert")
            .collect();
        assert_eq!(tls.len(), crate::rules::MAX_IDENTICAL_FINDINGS);
        let last = tls.last().unwrap();
        let shown = crate::rules::MAX_IDENTICAL_FINDINGS as u64;
        let more = last.evidence["identical_not_shown"].as_u64().unwrap();
        assert_eq!(more + shown, 10_000);
        assert!(last
            .summary
            .ends_with(&format!("(and {more} more identical on this flow)")));
        assert!(tls[0].evidence.get("identical_not_shown").is_none());
        assert!(
            tls.windows(2).all(|w| w[0].frames < w[1].frames),
            "order kept"
        );
    }

    #[test]
    fn fatal_clear_alert_from_the_server() {
        let f = tls_flow(
            client_hello(),
            None,
            vec![alert(Dir::ToClient, 5, 2, 40)],
            HandshakeStage::ClientHello,
        );
        let out = run(&TLS_ALERT, &f);
        let a = one(&out, "tls_alert");
        assert_eq!(a.severity, Severity::Medium);
        assert_eq!(a.frames, vec![5]);
        assert_eq!(a.ts_us, ts(5));
        assert_eq!(ev(a, "level"), "fatal");
        assert_eq!(ev(a, "description"), "handshake_failure");
        assert_eq!(a.evidence["description_code"], 40);
        assert_eq!(ev(a, "sent_by"), "server");
        assert_eq!(a.evidence["encrypted"], false);
        assert_eq!(
            a.summary,
            "The server sent a fatal handshake_failure alert."
        );
        assert!(a.explanation.contains("cipher suite"));
    }

    #[test]
    fn severities_by_level_and_description() {
        let f = tls_flow(
            client_hello(),
            None,
            vec![
                alert(Dir::ToServer, 5, 2, 48),  // fatal unknown_ca from the client
                alert(Dir::ToClient, 6, 1, 112), // warning unrecognized_name
                alert(Dir::ToServer, 7, 1, 0),   // warning close_notify
                alert(Dir::ToClient, 8, 2, 0),   // close_notify sent as fatal: still info
                alert(Dir::ToClient, 9, 7, 250), // nonsense level and description
            ],
            HandshakeStage::ClientHello,
        );
        let out = run(&TLS_ALERT, &f);
        let got: Vec<_> = out
            .iter()
            .map(|a| {
                (
                    a.frames[0],
                    a.severity,
                    ev(a, "level"),
                    ev(a, "description"),
                    ev(a, "sent_by"),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (5, Severity::Medium, "fatal", "unknown_ca", "client"),
                (6, Severity::Low, "warning", "unrecognized_name", "server"),
                (7, Severity::Info, "warning", "close_notify", "client"),
                (8, Severity::Info, "fatal", "close_notify", "server"),
                (9, Severity::Low, "unknown", "unknown", "server"),
            ]
        );
    }

    #[test]
    fn encrypted_alerts_during_and_after_the_handshake() {
        let alert_ev = |frame| {
            event(
                Dir::ToServer,
                frame,
                TlsEventKind::EncryptedAlert { len: 19 },
            )
        };
        let during = tls_flow(
            client_hello13(),
            Some(server_hello13()),
            vec![hs(Dir::ToClient, 5, 2), alert_ev(6)],
            HandshakeStage::ServerHello,
        );
        let out = run(&TLS_ALERT, &during);
        let a = one(&out, "tls_alert");
        assert_eq!(a.severity, Severity::Medium);
        assert_eq!(a.frames, vec![6]);
        assert_eq!(a.evidence["encrypted"], true);
        assert_eq!(ev(a, "description"), "encrypted");
        assert_eq!(ev(a, "level"), "unknown");
        assert_eq!(ev(a, "sent_by"), "client");
        assert_eq!(a.evidence["record_length"], 19);
        assert!(a.explanation.contains("handshake_aborted"));

        // At the end of an established session it is almost always close_notify.
        let mut after = healthy12();
        after.tls.as_mut().unwrap().events.push(alert_ev(9));
        let out = run(&TLS_ALERT, &after);
        let a = one(&out, "tls_alert");
        assert_eq!(a.severity, Severity::Info);
        assert_eq!(a.frames, vec![9]);
        assert!(a.explanation.contains("close_notify"));
    }

    #[test]
    fn no_alert_no_finding() {
        assert!(run(&TLS_ALERT, &healthy12()).is_empty());
        assert!(run(&TLS_ALERT, &flow()).is_empty());
    }

    #[test]
    fn every_alert_has_an_explanation() {
        assert!(super::alert_explanation("unknown_ca").contains("trusted chain"));
        assert_eq!(
            super::alert_explanation("no_such_alert"),
            "An alert was sent; its description names the reason."
        );
    }
}
