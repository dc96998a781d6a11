//! `missing_sni`: a ClientHello to a TLS port without server_name.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};

pub const MISSING_SNI: Rule = Rule {
    name: "missing_sni",
    doc: "A ClientHello without server_name (outside STARTTLS): virtual-hosted servers pick a default certificate or refuse.",
    kinds: &[Kind::MissingSni],
    after: &[],
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
    let starttls = matches!(flow.preamble.via, Some(crate::cleartext::Via::StartTls(_)));
    if ch.sni.is_some() || ch.sslv2_format || starttls {
        return;
    }
    let port = flow.server.port;
    let ev = tls.events.first();
    ctx.push(
        Finding::new(Kind::MissingSni, Severity::Low, ev.map_or(flow.first_ts_us, |e| e.ts_us))
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

#[cfg(test)]
mod tests {
    use super::MISSING_SNI;
    use crate::cleartext::{AppProtocol, Via};
    use crate::rules::testutil::*;
    use crate::rules::Severity;
    use crate::tls::types::ClientHello;
    use crate::tls::HandshakeStage;

    fn no_sni(ch: ClientHello) -> crate::flow::FlowRecord {
        let ch = ClientHello { sni: None, ..ch };
        tls_flow(ch, None, vec![], HandshakeStage::ClientHello)
    }

    #[test]
    fn client_hello_without_sni() {
        let f = no_sni(client_hello());
        let out = run(&MISSING_SNI, &f);
        let m = one(&out, "missing_sni");
        assert_eq!(m.severity, Severity::Low);
        assert_eq!(m.frames, vec![4]);
        assert_eq!(m.ts_us, ts(4));
        assert_eq!(m.evidence["server_port"], 443);
        assert_eq!(ev(m, "server_ip"), "10.0.0.2");
        assert_eq!(
            m.summary,
            "The ClientHello to port 443 carries no SNI (server_name)."
        );
    }

    #[test]
    fn through_a_connect_proxy_sni_is_still_expected() {
        let mut f = no_sni(client_hello());
        f.preamble.via = Some(Via::HttpConnect);
        assert_eq!(run(&MISSING_SNI, &f).len(), 1);
    }

    #[test]
    fn not_raised_with_sni_after_starttls_or_for_sslv2_hellos() {
        assert!(run(&MISSING_SNI, &healthy12()).is_empty());
        let mut f = no_sni(client_hello());
        f.preamble.via = Some(Via::StartTls(AppProtocol::Smtp));
        assert!(run(&MISSING_SNI, &f).is_empty());
        let v2 = ClientHello {
            version: 0x0002,
            sslv2_format: true,
            extensions: vec![],
            ..client_hello()
        };
        assert!(run(&MISSING_SNI, &no_sni(v2)).is_empty());
        assert!(run(&MISSING_SNI, &flow()).is_empty());
    }
}
