//! `missing_sni`: a ClientHello to a TLS port without server_name.

use serde_json::json;

use super::{Finding, Rule, RuleCtx, Severity};

pub const MISSING_SNI: Rule = Rule {
    name: "missing_sni",
    doc: "A ClientHello without server_name (outside STARTTLS): virtual-hosted servers pick a default certificate or refuse.",
    check,
};

fn check(ctx: &mut RuleCtx<'_>) {
    let flow = ctx.flow;
    let Some(tls) = flow.tls.as_ref() else {
        return;
    };
    let Some(ch) = tls.client_hello.as_ref() else {
        return;
    };
    // SSLv2-format hellos cannot carry extensions; obsolete_version covers them. After
    // STARTTLS the client already named the service in cleartext, and SNI is optional there.
    let starttls = matches!(flow.preamble.via, Some(crate::app::Via::StartTls(_)));
    if ch.sni.is_some() || ch.sslv2_format || starttls {
        return;
    }
    let port = flow.server.port;
    let ev = tls.events.first();
    ctx.push(
        Finding::new("missing_sni", Severity::Low, ev.map_or(flow.first_ts_us, |e| e.ts_us))
            .frames(ev.map(|e| e.frame))
            .summary(format!("The ClientHello to port {port} carries no SNI (server_name)."))
            .explanation(
                "Without SNI a server hosting several names cannot tell which certificate to present: it sends its \
                 default certificate (often causing a name mismatch) or refuses the handshake (unrecognized_name or \
                 handshake_failure). Clients connecting by IP address, or old libraries, omit SNI. Connect by host \
                 name, or set the server name explicitly (`openssl s_client -servername`).",
            )
            .evidence(json!({ "server_port": port, "server_ip": flow.server.ip.to_string() })),
    );
}
