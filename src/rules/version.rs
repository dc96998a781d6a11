//! `version_mismatch` and `obsolete_version`.

use serde_json::json;

use super::{Finding, Rule, RuleCtx, Severity};
use crate::tls::names::{alert_description_name, is_grease, version_name};
use crate::tls::types::ClientHello;
use crate::tls::{TlsConn, TlsEventKind};

pub const VERSION_MISMATCH: Rule = Rule {
    name: "version_mismatch",
    doc: "A protocol_version alert, or client and server share no protocol version.",
    check: check_mismatch,
};

pub const OBSOLETE_VERSION: Rule = Rule {
    name: "obsolete_version",
    doc: "SSLv2, SSLv3, TLS 1.0 or 1.1 was negotiated, or is the best the client offers.",
    check: check_obsolete,
};

/// Versions ordered by age; TLS 1.3 drafts count as TLS 1.3, the SSLv2 hello as SSLv2.
pub fn version_rank(v: u16) -> u16 {
    match v {
        0x0002 => 0x0200,
        v if v & 0xff00 == 0x7f00 => 0x0304,
        v => v,
    }
}

/// The versions the client offers, oldest first: supported_versions when present, else
/// just the legacy version (its maximum).
pub fn offered_versions(ch: &ClientHello) -> Vec<u16> {
    let mut v: Vec<u16> = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    if v.is_empty() {
        v.push(ch.version);
    }
    v.sort_by_key(|v| version_rank(*v));
    v.dedup();
    v
}

pub fn client_max_version(ch: &ClientHello) -> u16 {
    offered_versions(ch)
        .into_iter()
        .max_by_key(|v| version_rank(*v))
        .unwrap_or(ch.version)
}

/// "TLS 1.0-1.1" style range text for explanations.
pub fn describe_offer(ch: &ClientHello) -> String {
    let v = offered_versions(ch);
    let names: Vec<String> = v.iter().map(|x| version_name(*x)).collect();
    if ch.supported_versions.is_empty() {
        format!("at most {}", names.last().cloned().unwrap_or_default())
    } else if names.len() == 1 {
        format!("only {}", names[0])
    } else {
        format!(
            "{} to {}",
            names.first().cloned().unwrap_or_default(),
            names.last().cloned().unwrap_or_default()
        )
    }
}

fn protocol_version_alert(tls: &TlsConn) -> Option<&crate::tls::TlsEvent> {
    tls.events.iter().find(|e| {
        matches!(e.kind, TlsEventKind::Alert { description, .. }
            if alert_description_name(description) == "protocol_version")
    })
}

fn check_mismatch(ctx: &mut RuleCtx<'_>) {
    let Some(tls) = ctx.flow.tls.as_ref() else {
        return;
    };
    let Some(ch) = tls.client_hello.as_ref() else {
        return;
    };
    let server_version = tls.negotiated_version();
    let offered = offered_versions(ch);
    let alert = protocol_version_alert(tls);
    // A server choosing a version the client did not offer is a mismatch even without alert.
    let unoffered_choice = server_version.filter(|sv| {
        version_rank(*sv) > version_rank(client_max_version(ch))
            || (!ch.supported_versions.is_empty()
                && !offered
                    .iter()
                    .any(|o| version_rank(*o) == version_rank(*sv)))
    });
    if alert.is_none() && unoffered_choice.is_none() {
        return;
    }
    let client_versions: Vec<String> = offered.iter().map(|v| version_name(*v)).collect();
    let offer = describe_offer(ch);
    let max = version_name(client_max_version(ch));
    let mut frames: Vec<u64> = tls
        .events
        .iter()
        .filter(|e| matches!(e.kind, TlsEventKind::Handshake(t) if t.0 == 1 || t.0 == 2))
        .map(|e| e.frame)
        .collect();
    let (ts, summary, explanation) = match alert {
        Some(a) if a.dir.sender() == crate::model::Side::Server => {
            frames.push(a.frame);
            (
                a.ts_us,
                format!("The server rejected the client's TLS versions ({offer}) with a protocol_version alert."),
                format!(
                    "The server answered the ClientHello with a fatal protocol_version alert: the client offered \
                     {offer} and the server accepts none of them. Most often an old client (offering at most \
                     {max}) meets a server that requires TLS 1.2 or newer. Upgrade or reconfigure the client \
                     (e.g. enable TLS 1.2/1.3), or, if you must, enable the version on the server."
                ),
            )
        }
        Some(a) => {
            frames.push(a.frame);
            let sv = server_version
                .map(version_name)
                .unwrap_or_else(|| "an unsupported version".into());
            (
                a.ts_us,
                format!("The client rejected the server's choice of {sv} with a protocol_version alert."),
                format!(
                    "The server chose {sv}, which the client refuses (the client offered {offer}); the client \
                     aborted with protocol_version. Enable a newer TLS version on the server, or relax the \
                     client's minimum version."
                ),
            )
        }
        None => {
            let sv = server_version.map(version_name).unwrap_or_default();
            (
                ctx.flow.first_ts_us,
                format!("The server chose {sv}, which the client did not offer ({offer})."),
                format!(
                    "The ServerHello selects {sv} but the client offered {offer}: the two share no version. \
                     Expect the client to abort. Align the enabled versions of both ends."
                ),
            )
        }
    };
    ctx.push(
        Finding::new("version_mismatch", Severity::High, ts)
            .frames(frames)
            .summary(summary)
            .explanation(explanation)
            .evidence(json!({
                "client_versions": client_versions,
                "client_max_version": max,
                "server_version": server_version.map(version_name),
                "alert_sent_by": alert.map(|a| a.dir.sender().as_str()),
            })),
    );
}

fn check_obsolete(ctx: &mut RuleCtx<'_>) {
    let Some(tls) = ctx.flow.tls.as_ref() else {
        return;
    };
    let negotiated = tls.server_hello.as_ref().map(|sh| sh.negotiated_version());
    let (version, negotiated_flag, frame, ts) = match (negotiated, tls.client_hello.as_ref()) {
        (Some(v), _) => {
            let ev = tls
                .events
                .iter()
                .find(|e| matches!(e.kind, TlsEventKind::Handshake(t) if t.0 == 2 || t.0 == 4));
            (v, true, ev.map(|e| e.frame), ev.map(|e| e.ts_us))
        }
        (None, Some(ch)) => {
            let ev = tls.events.first();
            (
                client_max_version(ch),
                false,
                ev.map(|e| e.frame),
                ev.map(|e| e.ts_us),
            )
        }
        (None, None) => return,
    };
    if version_rank(version) >= 0x0303 {
        return;
    }
    let name = version_name(version);
    let severity = if version_rank(version) <= 0x0300 {
        Severity::High
    } else {
        Severity::Medium
    };
    let (summary, explanation) = if negotiated_flag {
        (
            format!("{name} was negotiated."),
            format!(
                "{name} is obsolete (RFC 8996 deprecates TLS 1.0 and 1.1; SSL is broken) and is disabled by \
                 default in current browsers, OpenSSL security levels and compliance baselines. Enable TLS 1.2 \
                 or 1.3 on both ends."
            ),
        )
    } else {
        (
            format!("The client offers at most {name}."),
            "The client cannot speak TLS 1.2 or newer. Servers following current baselines will refuse it \
             (protocol_version alert). Upgrade the client's TLS library or its configuration."
                .to_string(),
        )
    };
    ctx.push(
        Finding::new(
            "obsolete_version",
            severity,
            ts.unwrap_or(ctx.flow.first_ts_us),
        )
        .frames(frame)
        .summary(summary)
        .explanation(explanation)
        .evidence(json!({ "version": name, "negotiated": negotiated_flag })),
    );
}
