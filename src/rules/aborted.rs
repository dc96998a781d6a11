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
