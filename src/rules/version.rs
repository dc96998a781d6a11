//! `version_mismatch` and `obsolete_version`.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::tls::names::{alert_description_name, is_grease, is_tls13, version_name};
use crate::tls::types::ClientHello;
use crate::tls::{TlsConn, TlsEventKind};

pub const VERSION_MISMATCH: Rule = Rule {
    name: "version_mismatch",
    doc: "A protocol_version alert, or client and server share no protocol version.",
    kinds: &[Kind::VersionMismatch],
    after: &[],
    check: check_mismatch,
};

pub const OBSOLETE_VERSION: Rule = Rule {
    name: "obsolete_version",
    doc: "SSLv2, SSLv3, TLS 1.0 or 1.1 was negotiated, or is the best the client offers.",
    kinds: &[Kind::ObsoleteVersion],
    after: &[],
    check: check_obsolete,
};

/// Versions ordered by age; TLS 1.3 drafts count as TLS 1.3, the SSLv2 hello as SSLv2.
pub fn version_rank(v: u16) -> u16 {
    match v {
        0x0002 => 0x0200,
        v if is_tls13(v) => 0x0304,
        v => v,
    }
}

/// What a server that answered `offered` (oldest first) with protocol_version requires, in
/// words ("TLS 1.3", "TLS 1.2 or newer"), and the advice that follows from it. One source for
/// the `version_mismatch` explanation and the offer-vs-choice verdict, so they cannot differ.
pub fn server_requires(offered: &[u16], legacy: u16) -> (String, &'static str) {
    let lo = offered.first().copied().unwrap_or(legacy);
    let max = offered.last().copied().unwrap_or(legacy);
    if version_rank(lo) >= 0x0304 {
        return (
            "an older version: it does not support TLS 1.3".into(),
            "Enable TLS 1.3 on the server, or let the client offer TLS 1.2 too.",
        );
    }
    match version_rank(max) {
        0x0303 => (
            "TLS 1.3".into(),
            "Enable TLS 1.3 on the client, or TLS 1.2 on the server.",
        ),
        0x0302 => (
            "TLS 1.2 or newer".into(),
            "Upgrade or reconfigure the client (e.g. enable TLS 1.2/1.3), or, if you must, enable the version on the server.",
        ),
        // Only "newer than the client's best" is proven; servers that refuse TLS 1.0 today
        // almost always refuse 1.1 too.
        r if r < 0x0302 => (
            format!(
                "a version newer than {} (in practice TLS 1.2 or newer)",
                match r {
                    0x0200 => "SSL 2.0",
                    0x0300 => "SSL 3.0",
                    _ => "TLS 1.0",
                }
            ),
            "Upgrade or reconfigure the client (e.g. enable TLS 1.2/1.3), or, if you must, enable the version on the server.",
        ),
        // The client offers TLS 1.3 (a draft) and older versions, and the server takes none:
        // a server that speaks only another TLS 1.3 draft, or only the final TLS 1.3.
        _ => (
            "a version the client does not offer".into(),
            "The server most likely speaks only another TLS 1.3 version (a different draft, or the final \
             RFC 8446): update the client, or enable TLS 1.2 on the server.",
        ),
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
    let (need, advice) = server_requires(&offered, ch.version);
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
                     {offer} and the server accepts none of them: it requires {need}. {advice}"
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
        Finding::new(Kind::VersionMismatch, Severity::High, ts)
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
            Kind::ObsoleteVersion,
            severity,
            ts.unwrap_or(ctx.flow.first_ts_us),
        )
        .frames(frame)
        .summary(summary)
        .explanation(explanation)
        .evidence(json!({ "version": name, "negotiated": negotiated_flag })),
    );
}

#[cfg(test)]
mod tests {
    use super::{
        client_max_version, describe_offer, offered_versions, OBSOLETE_VERSION, VERSION_MISMATCH,
    };
    use crate::flow::FlowRecord;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::Severity;
    use crate::tls::types::{ClientHello, ServerHello};
    use crate::tls::HandshakeStage;

    fn legacy(version: u16) -> ClientHello {
        ClientHello {
            version,
            ..client_hello()
        }
    }

    fn offering(versions: &[u16]) -> ClientHello {
        ClientHello {
            supported_versions: versions.to_vec(),
            ..client_hello()
        }
    }

    /// The server answered `ch` with `sh` (frame 5) and then `more`.
    fn answered(ch: ClientHello, sh: ServerHello, more: Vec<crate::tls::TlsEvent>) -> FlowRecord {
        let mut events = vec![hs(Dir::ToClient, 5, 2)];
        events.extend(more);
        tls_flow(ch, Some(sh), events, HandshakeStage::ServerHello)
    }

    fn refused(ch: ClientHello) -> FlowRecord {
        tls_flow(
            ch,
            None,
            vec![alert(Dir::ToClient, 5, 2, 70)],
            HandshakeStage::ClientHello,
        )
    }

    #[test]
    fn offers() {
        let ch = offering(&[0x0a0a, 0x0304, 0x0303]);
        assert_eq!(offered_versions(&ch), vec![0x0303, 0x0304]);
        assert_eq!(client_max_version(&ch), 0x0304);
        assert_eq!(describe_offer(&ch), "TLSv1.2 to TLSv1.3");
        assert_eq!(describe_offer(&offering(&[0x0304])), "only TLSv1.3");
        assert_eq!(describe_offer(&legacy(0x0301)), "at most TLSv1.0");
        // Drafts rank as TLS 1.3.
        assert_eq!(client_max_version(&offering(&[0x0303, 0x7f1c])), 0x7f1c);
    }

    #[test]
    fn server_refuses_a_tls13_only_client() {
        let out = run(&VERSION_MISMATCH, &refused(offering(&[0x0304])));
        let m = one(&out, "version_mismatch");
        assert_eq!(m.severity, Severity::High);
        assert_eq!(m.frames, vec![4, 5]);
        assert_eq!(m.ts_us, ts(5));
        assert_eq!(
            m.evidence["client_versions"],
            serde_json::json!(["TLSv1.3"])
        );
        assert_eq!(ev(m, "client_max_version"), "TLSv1.3");
        assert!(m.evidence["server_version"].is_null());
        assert_eq!(ev(m, "alert_sent_by"), "server");
        assert_eq!(
            m.summary,
            "The server rejected the client's TLS versions (only TLSv1.3) with a protocol_version alert."
        );
    }

    #[test]
    fn server_refuses_a_legacy_only_client() {
        let out = run(&VERSION_MISMATCH, &refused(legacy(0x0301)));
        let m = one(&out, "version_mismatch");
        assert_eq!(
            m.evidence["client_versions"],
            serde_json::json!(["TLSv1.0"])
        );
        assert_eq!(ev(m, "client_max_version"), "TLSv1.0");
        assert!(m.explanation.contains("at most TLSv1.0"));
    }

    #[test]
    fn client_refuses_the_servers_choice() {
        let f = answered(
            offering(&[0x0304, 0x0303]),
            server_hello(0x0301, 0xc013),
            vec![alert(Dir::ToServer, 6, 2, 70)],
        );
        let out = run(&VERSION_MISMATCH, &f);
        let m = one(&out, "version_mismatch");
        assert_eq!(m.frames, vec![4, 5, 6]);
        assert_eq!(ev(m, "server_version"), "TLSv1.0");
        assert_eq!(ev(m, "alert_sent_by"), "client");
        assert_eq!(
            m.evidence["client_versions"],
            serde_json::json!(["TLSv1.2", "TLSv1.3"])
        );
        assert!(m.summary.contains("client rejected"), "{}", m.summary);
    }

    #[test]
    fn server_picks_a_version_the_client_did_not_offer() {
        // Above a legacy client's maximum.
        let f = answered(legacy(0x0301), server_hello(0x0303, 0xc02f), vec![]);
        let out = run(&VERSION_MISMATCH, &f);
        let m = one(&out, "version_mismatch");
        assert_eq!(m.frames, vec![4, 5]);
        assert_eq!(ev(m, "server_version"), "TLSv1.2");
        assert!(m.evidence["alert_sent_by"].is_null());
        // Outside an explicit supported_versions list.
        let f = answered(offering(&[0x0304]), server_hello(0x0303, 0xc02f), vec![]);
        let out = run(&VERSION_MISMATCH, &f);
        assert_eq!(
            ev(one(&out, "version_mismatch"), "server_version"),
            "TLSv1.2"
        );
    }

    #[test]
    fn agreeing_versions_raise_no_mismatch() {
        let cases = [
            (offering(&[0x0a0a, 0x0304, 0x0303]), server_hello13()),
            (offering(&[0x0304, 0x0303]), server_hello(0x0303, 0xc02f)),
            (legacy(0x0303), server_hello(0x0301, 0xc013)),
            (
                offering(&[0x7f1c]),
                ServerHello {
                    selected_version: Some(0x7f1c),
                    ..server_hello(0x0303, 0x1301)
                },
            ),
        ];
        for (ch, sh) in cases {
            let f = answered(ch.clone(), sh.clone(), vec![]);
            assert!(run(&VERSION_MISMATCH, &f).is_empty(), "{ch:?} {sh:?}");
        }
        // Other alerts are not about versions.
        let f = tls_flow(
            client_hello(),
            None,
            vec![alert(Dir::ToClient, 5, 2, 40)],
            HandshakeStage::ClientHello,
        );
        assert!(run(&VERSION_MISMATCH, &f).is_empty());
        assert!(run(&VERSION_MISMATCH, &healthy12()).is_empty());
    }

    #[test]
    fn obsolete_versions_negotiated() {
        for (v, name, severity) in [
            (0x0300, "SSLv3", Severity::High),
            (0x0301, "TLSv1.0", Severity::Medium),
            (0x0302, "TLSv1.1", Severity::Medium),
            (0x0002, "SSLv2", Severity::High),
        ] {
            let f = answered(legacy(0x0303), server_hello(v, 0x002f), vec![]);
            let out = run(&OBSOLETE_VERSION, &f);
            let o = one(&out, "obsolete_version");
            assert_eq!(
                (ev(o, "version"), o.severity, &o.evidence["negotiated"]),
                (name, severity, &serde_json::json!(true))
            );
            assert_eq!(o.frames, vec![5]);
            assert_eq!(o.summary, format!("{name} was negotiated."));
        }
    }

    #[test]
    fn obsolete_versions_offered_as_maximum() {
        for (ch, name, severity) in [
            (legacy(0x0300), "SSLv3", Severity::High),
            (legacy(0x0301), "TLSv1.0", Severity::Medium),
            (offering(&[0x0302, 0x0301]), "TLSv1.1", Severity::Medium),
        ] {
            let f = tls_flow(ch, None, vec![], HandshakeStage::ClientHello);
            let out = run(&OBSOLETE_VERSION, &f);
            let o = one(&out, "obsolete_version");
            assert_eq!((ev(o, "version"), o.severity), (name, severity));
            assert_eq!(o.evidence["negotiated"], false);
            assert_eq!(o.frames, vec![4]);
            assert_eq!(o.summary, format!("The client offers at most {name}."));
        }
    }

    #[test]
    fn sslv2_compatible_hello_reports_its_real_maximum() {
        // The SSLv2-format hello's version field is the client's best version.
        let v2 = |version| ClientHello {
            version,
            record_version: 0x0002,
            sslv2_format: true,
            extensions: vec![],
            sni: None,
            ..client_hello()
        };
        let f = tls_flow(v2(0x0301), None, vec![], HandshakeStage::ClientHello);
        let out = crate::rules::evaluate(&f);
        let o = one(&out, "obsolete_version");
        assert_eq!(
            (ev(o, "version"), o.severity),
            ("TLSv1.0", Severity::Medium)
        );
        assert!(!kinds(&out).contains(&"missing_sni"));
        let f = tls_flow(v2(0x0303), None, vec![], HandshakeStage::ClientHello);
        assert!(run(&OBSOLETE_VERSION, &f).is_empty());
    }

    #[test]
    fn modern_versions_and_tls13_drafts_are_not_obsolete() {
        // The negotiated version decides, not the oldest one offered.
        let f = answered(
            offering(&[0x0304, 0x0303, 0x0302, 0x0301]),
            server_hello13(),
            vec![],
        );
        assert!(run(&OBSOLETE_VERSION, &f).is_empty());
        let draft = ServerHello {
            selected_version: Some(0x7f17),
            ..server_hello(0x0303, 0x1301)
        };
        let f = answered(offering(&[0x7f17]), draft, vec![]);
        assert!(run(&OBSOLETE_VERSION, &f).is_empty());
        let f = tls_flow(
            offering(&[0x7f1c]),
            None,
            vec![],
            HandshakeStage::ClientHello,
        );
        assert!(run(&OBSOLETE_VERSION, &f).is_empty());
        // A TLS 1.2 client offering down to 1.0 is fine until the server picks 1.0.
        let f = tls_flow(legacy(0x0303), None, vec![], HandshakeStage::ClientHello);
        assert!(run(&OBSOLETE_VERSION, &f).is_empty());
        assert!(run(&OBSOLETE_VERSION, &healthy12()).is_empty());
        assert!(run(&OBSOLETE_VERSION, &flow()).is_empty());
    }
}
