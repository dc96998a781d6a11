//! `starttls`: an in-protocol upgrade to TLS (SMTP, IMAP, POP3, FTP, XMPP, LDAP, PostgreSQL, IRC).

use serde_json::json;

use super::{Finding, Rule, RuleCtx, Severity};
use crate::app::StartTlsResult;

pub const STARTTLS: Rule = Rule {
    name: "starttls",
    doc: "A cleartext protocol upgraded (or tried to upgrade) to TLS; the TLS that follows is analysed too.",
    check,
};

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
            format!("The {proto} session upgraded to TLS with STARTTLS."),
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
        Finding::new("starttls", severity, flow.first_ts_us)
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
