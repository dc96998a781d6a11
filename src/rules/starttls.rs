//! `starttls`: an in-protocol upgrade to TLS (SMTP, IMAP, POP3, FTP, XMPP, LDAP, PostgreSQL, IRC,
//! MySQL's SSL request), or a server greeting that does not offer one (MySQL).

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::cleartext::{AppProtocol, StartTlsResult};

pub const STARTTLS: Rule = Rule {
    name: "starttls",
    doc: "A cleartext protocol upgraded (or tried to upgrade) to TLS; the TLS that follows is analysed too.",
    kinds: &[Kind::Starttls],
    after: &[],
    check,
};

/// What the upgrade is called in the protocol's own terms.
fn upgrade_name(protocol: AppProtocol) -> &'static str {
    match protocol {
        AppProtocol::Mysql => "its SSL request",
        AppProtocol::Http => "Upgrade: TLS/1.0 (RFC 2817)",
        AppProtocol::Postgres => "SSLRequest",
        AppProtocol::Rdp => "its X.224 security negotiation",
        _ => "STARTTLS",
    }
}

fn check(ctx: &mut RuleCtx<'_>) {
    let flow = ctx.flow;
    let Some(st) = flow.preamble.starttls.as_ref() else {
        return;
    };
    let proto = st.protocol.as_str();
    let client_hello_frame = flow.tls.as_ref().and_then(|t| {
        t.client_hello.as_ref()?;
        t.events.first().map(|e| e.frame)
    });
    let (result, severity, summary, explanation) = match st.result {
        StartTlsResult::Refused => (
            "refused",
            Severity::Medium,
            format!("The {proto} server refused the STARTTLS upgrade."),
            format!(
                "The client asked to upgrade the {proto} session to TLS and the server said no ({}). The session \
                 either stops or continues in cleartext: check that TLS is enabled on the server (certificate \
                 and key configured) for this service.",
                st.response.as_deref().unwrap_or("no detail")
            ),
        ),
        StartTlsResult::NotOffered => (
            "not_offered",
            Severity::Medium,
            format!("The {proto} server does not offer TLS."),
            format!(
                "The server's {proto} greeting does not announce TLS support ({}), so no client can \
                 upgrade this session: a client that requires TLS closes with an error such as 'SSL is \
                 required, but the server does not support it', one that does not carries on in cleartext. \
                 Configure a certificate and key on the server (for MySQL/MariaDB ssl_cert and ssl_key; \
                 check `SHOW VARIABLES LIKE 'have_ssl'`).",
                st.response.as_deref().unwrap_or("no detail")
            ),
        ),
        _ if client_hello_frame.is_none() => (
            "no_tls_followed",
            Severity::Medium,
            format!("The {proto} STARTTLS upgrade was not followed by a TLS handshake."),
            format!(
                "The {proto} STARTTLS command was sent but no ClientHello followed: the client gave up, or \
                 something on the path (a firewall or a 'STARTTLS stripping' middlebox) interfered."
            ),
        ),
        _ => (
            "ok",
            Severity::Info,
            format!("The {proto} session upgraded to TLS with {}.", upgrade_name(st.protocol)),
            format!(
                "The {proto} session started in cleartext and switched to TLS; the TLS handshake that follows is \
                 analysed like any other (its findings carry via=starttls)."
            ),
        ),
    };
    let frames = [
        Some(st.command_frame),
        st.response_frame,
        client_hello_frame,
    ];
    ctx.push(
        Finding::new(
            Kind::Starttls,
            severity,
            flow.ts_of(st.response_frame.unwrap_or(st.command_frame)),
        )
        .frames(frames.into_iter().flatten())
        .summary(summary)
        .explanation(explanation)
        .evidence(json!({
            "protocol": proto,
            "result": result,
            "server_response": st.response,
        })),
    );
}

#[cfg(test)]
mod tests {
    use super::STARTTLS;
    use crate::flow::FlowRecord;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::{evaluate, Severity};
    use crate::tls::HandshakeStage;

    const C: Dir = Dir::ToServer;
    const S: Dir = Dir::ToClient;
    /// Minimal TLS 1.2 ClientHello record (only its first bytes matter to the sniffer).
    const CH: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8,
        9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
        32, 0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00,
    ];

    /// An SMTP session on port 25: greeting, EHLO, STARTTLS (frame 10) answered by `answer`
    /// (frame 12); with `tls`, a ClientHello follows in frame 14.
    fn smtp(answer: Option<&[u8]>, tls: bool) -> FlowRecord {
        let mut f = if tls {
            let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
            f.tls.as_mut().unwrap().events[0].frame = 14;
            f
        } else {
            flow()
        };
        on_port(&mut f, 25);
        let mut script: Vec<(Dir, &[u8], u64)> = vec![
            (S, b"220 mx.example ESMTP Postfix\r\n", 4),
            (C, b"EHLO me.example\r\n", 6),
            (S, b"250-mx.example\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n", 8),
            (C, b"STARTTLS\r\n", 10),
        ];
        script.extend(answer.map(|a| (S, a, 12)));
        if tls {
            script.push((C, CH, 14));
        }
        cleartext(&mut f, &script);
        f
    }

    #[test]
    fn upgrade_ok() {
        let f = smtp(Some(b"220 2.0.0 Ready to start TLS\r\n"), true);
        let out = run(&STARTTLS, &f);
        let s = one(&out, "starttls");
        assert_eq!(s.severity, Severity::Info);
        assert_eq!(s.frames, vec![10, 12, 14]);
        assert_eq!(ev(s, "protocol"), "smtp");
        assert_eq!(ev(s, "result"), "ok");
        assert_eq!(ev(s, "server_response"), "220 2.0.0 Ready to start TLS");
        assert_eq!(s.summary, "The smtp session upgraded to TLS with STARTTLS.");
        // The TLS that follows is analysed with via=starttls, and no SNI is not a problem.
        let mut f = f;
        f.tls.as_mut().unwrap().client_hello.as_mut().unwrap().sni = None;
        let all = evaluate(&f);
        assert!(!kinds(&all).contains(&"missing_sni"), "{:?}", kinds(&all));
        assert_eq!(ev(one(&all, "handshake_aborted"), "via"), "starttls");
    }

    #[test]
    fn upgrade_refused() {
        let f = smtp(
            Some(b"454 4.7.0 TLS not available due to local problem\r\n"),
            false,
        );
        let out = run(&STARTTLS, &f);
        let s = one(&out, "starttls");
        assert_eq!(s.severity, Severity::Medium);
        assert_eq!(s.frames, vec![10, 12]);
        assert_eq!(ev(s, "result"), "refused");
        assert_eq!(
            ev(s, "server_response"),
            "454 4.7.0 TLS not available due to local problem"
        );
        assert!(s.explanation.contains("454 4.7.0"));
    }

    #[test]
    fn no_tls_followed() {
        // Accepted, but the client never sent a ClientHello.
        let f = smtp(Some(b"220 2.0.0 Ready to start TLS\r\n"), false);
        let out = run(&STARTTLS, &f);
        let s = one(&out, "starttls");
        assert_eq!(s.severity, Severity::Medium);
        assert_eq!(s.frames, vec![10, 12]);
        assert_eq!(ev(s, "result"), "no_tls_followed");
        // Never answered, never followed.
        let f = smtp(None, false);
        let out = run(&STARTTLS, &f);
        let s = one(&out, "starttls");
        assert_eq!(ev(s, "result"), "no_tls_followed");
        assert_eq!(s.frames, vec![10]);
        assert!(s.evidence["server_response"].is_null());
    }

    #[test]
    fn unanswered_but_followed_by_tls_is_ok() {
        // A one-sided capture: the reply is missing, the ClientHello is there.
        let f = smtp(None, true);
        let out = run(&STARTTLS, &f);
        let s = one(&out, "starttls");
        assert_eq!(ev(s, "result"), "ok");
        assert_eq!(s.frames, vec![10, 14]);
    }

    #[test]
    fn no_starttls_no_finding() {
        let mut f = flow();
        on_port(&mut f, 25);
        cleartext(
            &mut f,
            &[(S, b"220 mx ESMTP\r\n", 4), (C, b"EHLO a\r\n", 5)],
        );
        assert!(run(&STARTTLS, &f).is_empty());
        assert!(run(&STARTTLS, &healthy12()).is_empty());
    }
}
