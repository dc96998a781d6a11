//! `handshake_aborted`: a handshake began (ClientHello seen) and never completed. Runs last:
//! the diagnosis (`likely_cause`) is built from the alert, the step reached, how the
//! connection ended, and the other findings already raised on the flow.

use serde_json::json;

use super::alert::alert_explanation;
use super::cipher::offered_cipher_names;
use super::version::describe_offer;
use super::{Finding, Rule, RuleCtx, Severity};
use crate::flow::{EndReason, FlowRecord};
use crate::model::{FrameNo, Side, TimestampUs};
use crate::tls::names::{alert_description_name, version_name};
use crate::tls::{TlsConn, TlsEventKind};

pub const HANDSHAKE_ABORTED: Rule = Rule {
    name: "handshake_aborted",
    doc: "A handshake began and never completed: who gave up, at which step, how, and the most likely cause.",
    check,
};

/// How the handshake ended, and who ended it.
struct Ending {
    by: Option<Side>,
    how: &'static str,
    frame: Option<FrameNo>,
    ts_us: TimestampUs,
    /// The alert description, when an alert ended it ("encrypted" when not visible).
    alert: Option<&'static str>,
}

fn ending(flow: &FlowRecord, tls: &TlsConn) -> Ending {
    let alert = tls.events.iter().find_map(|e| match e.kind {
        TlsEventKind::Alert {
            level: 2,
            description,
        } => Some((e, alert_description_name(description))),
        TlsEventKind::EncryptedAlert { .. } => Some((e, "encrypted")),
        _ => None,
    });
    if let Some((e, name)) = alert {
        return Ending {
            by: Some(e.dir.sender()),
            how: "alert",
            frame: Some(e.frame),
            ts_us: e.ts_us,
            alert: Some(name),
        };
    }
    if let Some((side, how, ev)) = flow.first_close() {
        return Ending {
            by: Some(side),
            how,
            frame: Some(ev.frame),
            ts_us: ev.ts_us,
            alert: None,
        };
    }
    let how = match flow.end {
        EndReason::Timeout | EndReason::Evicted => "timeout",
        _ => "capture_end",
    };
    Ending {
        by: None,
        how,
        frame: None,
        ts_us: flow.last_ts_us,
        alert: None,
    }
}

const CERT_ALERTS: &[&str] = &[
    "bad_certificate",
    "unsupported_certificate",
    "certificate_revoked",
    "certificate_expired",
    "certificate_unknown",
    "unknown_ca",
];

/// The diagnosis: (likely_cause, confidence, explanation).
fn diagnose(
    ctx: &RuleCtx<'_>,
    tls: &TlsConn,
    end: &Ending,
) -> (&'static str, &'static str, String) {
    let stage = tls.stage.as_str();
    let by_client = end.by == Some(Side::Client);
    let by_server = end.by == Some(Side::Server);
    let tls13 = tls
        .negotiated_version()
        .is_some_and(|v| v == 0x0304 || v & 0xff00 == 0x7f00);

    if let Some(f) = ctx.first("proxy_connect_failed") {
        return ("proxy", "high", format!(
            "The client sent its ClientHello right behind an HTTP CONNECT to {}, and the proxy refused the tunnel \
             with {}: the handshake never reached the target server. See the proxy_connect_failed finding.",
            f.evidence_str("target").unwrap_or("the target"), f.evidence["status"]));
    }
    if let Some(f) = ctx.first("tls_to_plaintext_port") {
        return ("plaintext_mismatch", "high", format!(
            "The server does not speak TLS on this port: it answered the ClientHello with plaintext ({}). Use the \
             server's TLS port or the plaintext scheme.", f.evidence_str("server_first_bytes").unwrap_or("")));
    }
    if let Some(f) = ctx.first("version_mismatch") {
        return ("version_mismatch", "high", f.explanation.clone());
    }
    if let Some(f) = ctx.first("cipher_mismatch") {
        return ("cipher_mismatch", "high", f.explanation.clone());
    }
    let cert_problem = [
        "certificate_expired",
        "certificate_not_yet_valid",
        "certificate_self_signed",
        "certificate_weak",
    ]
    .iter()
    .find_map(|k| ctx.first(k));
    let name_problem = ctx.first("certificate_name_mismatch");

    match end.alert {
        Some(a) if by_client && CERT_ALERTS.contains(&a) => {
            if let Some(f) =
                name_problem.filter(|_| a != "certificate_expired" && a != "unknown_ca")
            {
                return (
                    "name_mismatch",
                    "high",
                    format!(
                        "The client rejected the server certificate with {a}: {}",
                        f.summary
                    ),
                );
            }
            let detail = cert_problem
                .map(|f| format!(" {}", f.summary))
                .unwrap_or_default();
            return ("certificate_rejected", "high", format!(
                "The client rejected the server's certificate with a fatal {a} alert.{detail} {}", alert_explanation(a)));
        }
        Some("encrypted") if by_client && tls13 => {
            return ("certificate_rejected", "medium", format!(
                "In TLS 1.3 the server's certificate is encrypted, and the client answered the server's flight with a \
                 single short encrypted record (the size of an alert) instead of its Finished, then closed: the client \
                 most likely rejected the server certificate (untrusted CA, expired, or name mismatch for SNI {}). \
                 Check the certificate with `openssl s_client -connect HOST:PORT -servername NAME`.",
                ctx.flow.sni().unwrap_or("(none)")));
        }
        Some(a @ ("certificate_required" | "handshake_failure" | "bad_certificate"))
            if by_server
                && tls
                    .events
                    .iter()
                    .any(|e| matches!(e.kind, TlsEventKind::Handshake(t) if t.0 == 13)) =>
        {
            return ("certificate_rejected", "medium", format!(
                "The server asked for a client certificate (CertificateRequest) and then aborted with {a}: the \
                 client sent no certificate, or one the server does not trust. Configure the client certificate and \
                 key, and check that the server trusts its issuing CA."));
        }
        Some(a) => {
            let who = end.by.map_or("a side", Side::as_str);
            return (
                "unknown",
                "medium",
                format!(
                    "The {who} aborted the handshake at {stage} with a fatal {a} alert. {}",
                    alert_explanation(a)
                ),
            );
        }
        None => {}
    }

    let after_server_flight = matches!(
        stage,
        "certificate" | "server_key_exchange" | "certificate_request" | "server_hello_done"
    );
    if by_client && after_server_flight {
        if let Some(f) = name_problem {
            return ("name_mismatch", "medium", format!(
                "The client closed the connection ({}) right after receiving the server's certificate, without an \
                 alert. {}", end.how, f.summary));
        }
        if let Some(f) = cert_problem {
            return ("certificate_rejected", "medium", format!(
                "The client closed the connection ({}) right after receiving the server's certificate, without an \
                 alert. {}", end.how, f.summary));
        }
    }
    if by_server {
        return ("server_closed_without_alert", "medium", format!(
            "The server closed the connection ({}) at {stage} without sending an alert. Servers do this when TLS is \
             not configured for the name or port (no certificate, SNI not mapped), when a load balancer or firewall \
             in front of them refuses the client, or when the server process crashed or hit a limit. Check the \
             server's error log at this time.", end.how));
    }
    if by_client {
        return ("client_gave_up", "medium", format!(
            "The client closed the connection ({}) at {stage} without sending an alert: the client application \
             gave up (timeout, user cancel, or its TLS library rejected something without saying so).", end.how));
    }
    let silent_server =
        tls.server_hello.is_none() && !tls.events.iter().any(|e| e.dir.sender() == Side::Server);
    if silent_server {
        return ("unknown", "low", format!(
            "The server never answered the ClientHello ({} with no reply): a server that does not speak TLS on \
             this port, a firewall dropping the flow, or a capture missing the server's direction.",
            if end.how == "timeout" { "idle timeout" } else { "capture ended" }));
    }
    (
        "unknown",
        "low",
        format!(
            "The handshake stopped at {stage} and the connection went quiet ({}).",
            end.how
        ),
    )
}

fn check(ctx: &mut RuleCtx<'_>) {
    let flow = ctx.flow;
    let Some(tls) = flow.tls.as_ref() else {
        return;
    };
    if tls.client_hello.is_none() || tls.established {
        return;
    }
    let end = ending(flow, tls);
    let (cause, confidence, explanation) = diagnose(ctx, tls, &end);
    let stage = tls.stage.as_str();
    let by = end.by.map_or("unknown", Side::as_str);
    let severity = match end.how {
        "timeout" | "capture_end" => Severity::Medium,
        _ => Severity::High,
    };
    let how_text = match (end.how, end.alert) {
        ("alert", Some(a)) => format!("alert {a}"),
        (h, _) => h.to_string(),
    };
    let client_hello_frame = tls.events.first().map(|e| e.frame);
    let mut because = vec![format!(
        "ClientHello at frame {}",
        client_hello_frame.unwrap_or(flow.first_frame)
    )];
    if let Some(f) = end.frame {
        because.push(format!("{how_text} from the {by} at frame {f}"));
    }
    let ch = tls.client_hello.as_ref();
    let via = flow.preamble.via.as_ref().map(|v| match v {
        crate::app::Via::HttpConnect => "connect_proxy",
        crate::app::Via::StartTls(_) => "starttls",
    });
    let summary = format!(
        "TLS handshake aborted by the {by} at {stage} ({how_text}): {}.",
        cause.replace('_', " ")
    );
    ctx.push(
        Finding::new("handshake_aborted", severity, end.ts_us)
            .frames(client_hello_frame.into_iter().chain(end.frame))
            .summary(summary)
            .explanation(explanation)
            .evidence(json!({
                "aborted_by": by,
                "stage": stage,
                "how": end.how,
                "alert": end.alert,
                "likely_cause": cause,
                "confidence": confidence,
                "because": because,
                "history": tls.history,
                "sni": flow.sni(),
                "client_offer": ch.map(|c| json!({
                    "versions": describe_offer(c),
                    "ciphers": offered_cipher_names(c).len(),
                })),
                "server_version": tls.negotiated_version().map(version_name),
                "via": via,
            })),
    );
}

#[cfg(test)]
mod tests {
    use crate::flow::EndReason;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::{evaluate, Finding, Severity};
    use crate::tls::types::ClientHello;
    use crate::tls::{HandshakeStage, TlsEventKind};

    const C: Dir = Dir::ToServer;
    const S: Dir = Dir::ToClient;

    fn aborted(f: &crate::flow::FlowRecord) -> (Finding, Vec<&'static str>) {
        let all = evaluate(f);
        (one(&all, "handshake_aborted").clone(), kinds(&all))
    }

    /// (aborted_by, stage, how, likely_cause, confidence)
    fn diag(a: &Finding) -> (&str, &str, &str, &str, &str) {
        (
            ev(a, "aborted_by"),
            ev(a, "stage"),
            ev(a, "how"),
            ev(a, "likely_cause"),
            ev(a, "confidence"),
        )
    }

    /// A TLS 1.2 handshake stopped after the server's first flight (frame 5), then `then`.
    fn after_server_flight(then: Vec<crate::tls::TlsEvent>) -> crate::flow::FlowRecord {
        let mut events = server_flight12(5);
        events.extend(then);
        let mut f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            events,
            HandshakeStage::ServerHelloDone,
        );
        f.server_certs = vec![Ok(leaf("www.example.com"))];
        f
    }

    #[test]
    fn version_mismatch_from_protocol_version_alert() {
        let ch = ClientHello {
            version: 0x0301,
            ..client_hello()
        };
        let mut f = tls_flow(
            ch,
            None,
            vec![alert(S, 5, 2, 70)],
            HandshakeStage::ClientHello,
        );
        close(&mut f, S, false, 6);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"version_mismatch"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "server",
                "client_hello",
                "alert",
                "version_mismatch",
                "high"
            )
        );
        assert_eq!(ev(&a, "alert"), "protocol_version");
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.frames, vec![4, 5]);
        assert_eq!(a.ts_us, ts(5));
        assert_eq!(a.evidence["client_offer"]["versions"], "at most TLSv1.0");
        assert!(a.evidence["server_version"].is_null());
        assert_eq!(
            a.summary,
            "TLS handshake aborted by the server at client_hello (alert protocol_version): version mismatch."
        );
        // handshake_aborted runs last.
        assert_eq!(all.last(), Some(&"handshake_aborted"));
    }

    #[test]
    fn cipher_mismatch_from_handshake_failure_before_server_hello() {
        let mut f = tls_flow(
            client_hello(),
            None,
            vec![alert(S, 5, 2, 40)],
            HandshakeStage::ClientHello,
        );
        close(&mut f, S, true, 6);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"cipher_mismatch"), "{all:?}");
        assert_eq!(
            diag(&a),
            ("server", "client_hello", "alert", "cipher_mismatch", "high")
        );
        assert_eq!(ev(&a, "alert"), "handshake_failure");
        assert_eq!(a.evidence["client_offer"]["ciphers"], 3);
        assert_eq!(a.frames, vec![4, 5]);
    }

    #[test]
    fn certificate_rejected_by_clear_client_alert() {
        let mut f = after_server_flight(vec![alert(C, 6, 2, 45)]);
        f.server_certs = vec![Ok(cert(
            "CN=www.example.com",
            "CN=CA",
            NOW - 400 * 86_400,
            NOW - 30 * 86_400,
        ))];
        close(&mut f, C, false, 7);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_expired"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "alert",
                "certificate_rejected",
                "high"
            )
        );
        assert_eq!(ev(&a, "alert"), "certificate_expired");
        assert_eq!(ev(&a, "server_version"), "TLSv1.2");
        assert_eq!(a.frames, vec![4, 6]);
        assert_eq!(a.severity, Severity::High);
        // The explanation names the certificate problem found on the chain.
        assert!(a.explanation.contains("expired"), "{}", a.explanation);
    }

    #[test]
    fn unknown_ca_with_a_name_problem_is_still_a_trust_problem() {
        // unknown_ca says "untrusted", not "wrong name", even if the name is wrong too.
        let mut f = after_server_flight(vec![alert(C, 6, 2, 48)]);
        f.server_certs = vec![Ok(leaf("other.example.net"))];
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_name_mismatch"), "{all:?}");
        assert_eq!(ev(&a, "likely_cause"), "certificate_rejected");
        assert_eq!(ev(&a, "confidence"), "high");
    }

    #[test]
    fn unknown_ca_for_a_private_root() {
        let mut f = after_server_flight(vec![alert(C, 6, 2, 48)]);
        f.server_certs = vec![
            Ok(leaf("www.example.com")),
            Ok(ca("CN=Example Intermediate CA", "CN=Corp Root CA")),
            Ok(ca("CN=Corp Root CA", "CN=Corp Root CA")),
        ];
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_self_signed"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "alert",
                "certificate_rejected",
                "high"
            )
        );
        assert_eq!(ev(&a, "alert"), "unknown_ca");
        assert!(
            a.explanation.contains("CN=Corp Root CA"),
            "{}",
            a.explanation
        );
    }

    #[test]
    fn tls13_encrypted_client_alert_is_a_probable_certificate_rejection() {
        let events = vec![
            hs(S, 5, 2),
            event(S, 5, TlsEventKind::ChangeCipherSpec),
            event(S, 5, TlsEventKind::EncryptedHandshake { len: 2000 }),
            event(C, 6, TlsEventKind::ChangeCipherSpec),
            event(C, 6, TlsEventKind::EncryptedAlert { len: 19 }),
        ];
        let mut f = tls_flow(
            client_hello13(),
            Some(server_hello13()),
            events,
            HandshakeStage::ServerHello,
        );
        close(&mut f, C, false, 7);
        let (a, all) = aborted(&f);
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello",
                "alert",
                "certificate_rejected",
                "medium"
            )
        );
        assert_eq!(ev(&a, "alert"), "encrypted");
        assert_eq!(ev(&a, "server_version"), "TLSv1.3");
        assert_eq!(a.frames, vec![4, 6]);
        assert!(a.explanation.contains("www.example.com"));
        assert!(all.contains(&"tls_alert"));
        assert!(!all.contains(&"certificate_expired"));
    }

    #[test]
    fn tls12_encrypted_alert_is_not_guessed_as_certificate() {
        // After the client's CCS in TLS 1.2 the certificate was in clear and fine: the
        // encrypted alert says nothing about the certificate.
        let mut f = after_server_flight(vec![
            hs(C, 6, 16),
            event(C, 6, TlsEventKind::ChangeCipherSpec),
            event(C, 6, TlsEventKind::EncryptedHandshake { len: 40 }),
            event(C, 7, TlsEventKind::EncryptedAlert { len: 26 }),
        ]);
        f.tls.as_mut().unwrap().stage = HandshakeStage::ChangeCipherSpec;
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            ("client", "change_cipher_spec", "alert", "unknown", "medium")
        );
    }

    #[test]
    fn name_mismatch_with_bad_certificate_alert() {
        let mut f = after_server_flight(vec![alert(C, 6, 2, 42)]);
        f.server_certs = vec![Ok(leaf("other.example.net"))];
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_name_mismatch"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "alert",
                "name_mismatch",
                "high"
            )
        );
        assert!(a.explanation.contains("www.example.com"));
    }

    #[test]
    fn name_mismatch_when_client_closes_silently_after_certificate() {
        let mut f = after_server_flight(vec![]);
        f.server_certs = vec![Ok(leaf("other.example.net"))];
        close(&mut f, C, false, 6);
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "fin",
                "name_mismatch",
                "medium"
            )
        );
        assert!(a.evidence["alert"].is_null());
        assert_eq!(a.frames, vec![4, 6]);
    }

    #[test]
    fn certificate_problem_when_client_resets_silently_after_certificate() {
        let mut f = after_server_flight(vec![]);
        f.server_certs = vec![Ok(cert(
            "CN=www.example.com",
            "CN=www.example.com",
            NOW - 10,
            NOW + 10,
        ))];
        f.server_certs[0].as_mut().unwrap().san = vec!["www.example.com".into()];
        close(&mut f, C, true, 6);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_self_signed"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "rst",
                "certificate_rejected",
                "medium"
            )
        );
    }

    #[test]
    fn plaintext_mismatch_when_server_answers_http() {
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        f.first_bytes[S.index()] = Some((b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), 5));
        close(&mut f, S, false, 6);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"tls_to_plaintext_port"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "server",
                "client_hello",
                "fin",
                "plaintext_mismatch",
                "high"
            )
        );
        assert!(a.explanation.contains("HTTP/1.1 400 Bad Request"));
    }

    #[test]
    fn client_certificate_required() {
        // The server asked for a certificate (R), the client sent an empty one, the server
        // refused with handshake_failure.
        let mut f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            vec![
                hs(S, 5, 2),
                hs(S, 5, 11),
                hs(S, 5, 12),
                hs(S, 5, 13),
                hs(S, 5, 14),
                hs(C, 6, 11),
                hs(C, 6, 16),
                event(C, 6, TlsEventKind::ChangeCipherSpec),
                event(C, 6, TlsEventKind::EncryptedHandshake { len: 40 }),
                alert(S, 7, 2, 40),
            ],
            HandshakeStage::ChangeCipherSpec,
        );
        f.server_certs = vec![Ok(leaf("www.example.com"))];
        let (a, all) = aborted(&f);
        // A ServerHello was seen: this is not a cipher mismatch.
        assert!(!all.contains(&"cipher_mismatch"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "server",
                "change_cipher_spec",
                "alert",
                "certificate_rejected",
                "medium"
            )
        );
        assert!(a.explanation.contains("client certificate"));
        assert_eq!(a.frames, vec![4, 7]);
    }

    #[test]
    fn server_alert_without_certificate_request_is_unknown() {
        let f = after_server_flight(vec![hs(C, 6, 16), alert(S, 7, 2, 40)]);
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            ("server", "server_hello_done", "alert", "unknown", "medium")
        );
        assert_eq!(ev(&a, "alert"), "handshake_failure");
    }

    #[test]
    fn server_closes_without_alert() {
        for (rst, how) in [(false, "fin"), (true, "rst")] {
            let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
            close(&mut f, S, rst, 5);
            let (a, all) = aborted(&f);
            assert_eq!(
                diag(&a),
                (
                    "server",
                    "client_hello",
                    how,
                    "server_closed_without_alert",
                    "medium"
                )
            );
            assert_eq!(a.severity, Severity::High);
            assert_eq!(a.frames, vec![4, 5]);
            assert_eq!(a.ts_us, ts(5));
            assert_eq!(all, vec!["handshake_aborted"]);
        }
    }

    #[test]
    fn client_gives_up_with_rst() {
        let mut f = after_server_flight(vec![]);
        close(&mut f, C, true, 6);
        // The server's later FIN does not change who ended it.
        close(&mut f, S, false, 8);
        let (a, all) = aborted(&f);
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "rst",
                "client_gave_up",
                "medium"
            )
        );
        assert_eq!(a.frames, vec![4, 6]);
        assert_eq!(all, vec!["handshake_aborted"]);
    }

    #[test]
    fn silent_server_on_timeout_or_capture_end() {
        for (end, how) in [
            (EndReason::Timeout, "timeout"),
            (EndReason::Evicted, "timeout"),
            (EndReason::CaptureEnd, "capture_end"),
        ] {
            let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
            f.end = end;
            let (a, all) = aborted(&f);
            assert_eq!(
                diag(&a),
                ("unknown", "client_hello", how, "unknown", "low"),
                "{end:?}"
            );
            assert_eq!(a.severity, Severity::Medium);
            assert_eq!(a.frames, vec![4]);
            assert_eq!(a.ts_us, f.last_ts_us);
            assert!(a.explanation.contains("never answered"));
            assert_eq!(all, vec!["handshake_aborted"]);
        }
    }

    #[test]
    fn quiet_after_server_answer_is_unknown_low() {
        let mut f = after_server_flight(vec![]);
        f.end = EndReason::CaptureEnd;
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            (
                "unknown",
                "server_hello_done",
                "capture_end",
                "unknown",
                "low"
            )
        );
        assert!(a.explanation.contains("went quiet"));
    }

    #[test]
    fn via_is_reported() {
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        f.preamble.via = Some(crate::app::Via::StartTls(crate::app::AppProtocol::Smtp));
        close(&mut f, S, false, 5);
        let (a, _) = aborted(&f);
        assert_eq!(ev(&a, "via"), "starttls");
        assert!(aborted(&tls_flow(
            client_hello(),
            None,
            vec![],
            HandshakeStage::ClientHello
        ))
        .0
        .evidence["via"]
            .is_null());
    }

    #[test]
    fn established_flows_and_flows_without_client_hello_raise_nothing() {
        let f = healthy12();
        assert!(evaluate(&f).is_empty(), "{:?}", kinds(&evaluate(&f)));
        assert!(run(&super::HANDSHAKE_ABORTED, &f).is_empty());

        // Established even though the client reset at the end.
        let mut f = healthy12();
        f.fin = [None, None];
        close(&mut f, C, true, 9);
        assert!(run(&super::HANDSHAKE_ABORTED, &f).is_empty());

        // No TLS at all, and TLS bytes without a ClientHello (server side only).
        assert!(run(&super::HANDSHAKE_ABORTED, &flow()).is_empty());
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::None);
        f.tls.as_mut().unwrap().client_hello = None;
        assert!(run(&super::HANDSHAKE_ABORTED, &f).is_empty());
    }

    /// Minimal TLS 1.2 ClientHello record (only its first bytes matter to the sniffer).
    const CH: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8,
        9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
        32, 0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00,
    ];

    #[test]
    fn refused_pipelined_connect_is_a_proxy_problem() {
        // The client pipelines its ClientHello behind CONNECT; the proxy says 403 and closes.
        let mut request =
            b"CONNECT blocked.example:443 HTTP/1.1\r\nHost: blocked.example:443\r\n\r\n".to_vec();
        request.extend_from_slice(CH);
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        on_port(&mut f, 3128);
        cleartext(
            &mut f,
            &[
                (Dir::ToServer, &request, 4),
                (
                    Dir::ToClient,
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
                    5,
                ),
            ],
        );
        close(&mut f, Dir::ToClient, false, 6);
        let all = evaluate(&f);
        let p = one(&all, "proxy_connect_failed");
        assert_eq!(p.evidence["status"], 403);
        let a = one(&all, "handshake_aborted");
        assert_eq!(ev(a, "likely_cause"), "proxy", "{}", a.explanation);
        assert_eq!(ev(a, "confidence"), "high");
        assert_eq!(ev(a, "via"), "connect_proxy");
        assert_eq!(ev(a, "aborted_by"), "server");
        assert!(a.explanation.contains("403"), "{}", a.explanation);
        assert!(!kinds(&all).contains(&"tls_to_plaintext_port"));
    }
}
