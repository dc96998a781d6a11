//! `plaintext_to_tls_port` and `tls_to_plaintext_port`: the two halves of "one side speaks
//! TLS, the other does not", the cause behind "wrong version number" and "packet length too
//! long" client errors.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::cleartext::{
    detect_client_protocol, detect_server_banner, escape_bytes, looks_like_tls,
};
use crate::flow::FlowRecord;
use crate::model::Dir;

pub const PLAINTEXT_TO_TLS_PORT: Rule = Rule {
    name: "plaintext_to_tls_port",
    doc:
        "The client's first bytes to a TLS port are not a TLS record (HTTP to 443, SMTP to 465...).",
    kinds: &[Kind::PlaintextToTlsPort],
    after: &[],
    check: check_plaintext_to_tls,
};

pub const TLS_TO_PLAINTEXT_PORT: Rule = Rule {
    name: "tls_to_plaintext_port",
    doc: "A ClientHello met a server that answered in plaintext (HTTP 400, an SMTP banner...).",
    kinds: &[Kind::TlsToPlaintextPort],
    after: &[],
    check: check_tls_to_plaintext,
};

/// How the server reacted to bytes it could not understand.
fn server_reaction(flow: &FlowRecord) -> &'static str {
    if let Some((bytes, _)) = &flow.first_bytes[Dir::ToClient.index()] {
        if bytes.first() == Some(&0x15) && looks_like_tls(bytes) {
            return "alert";
        }
        if bytes.starts_with(b"HTTP/1.") && bytes.get(9..12) == Some(b"400") {
            return "http_400";
        }
        return "data";
    }
    if flow.rst[Dir::ToClient.index()].is_some() {
        "rst"
    } else if flow.fin[Dir::ToClient.index()].is_some() {
        "close"
    } else {
        "nothing"
    }
}

fn check_plaintext_to_tls(ctx: &mut RuleCtx<'_>) {
    if !ctx.flow.server_port_is_tls {
        return;
    }
    if let Some(f) = plaintext_finding(ctx.flow) {
        ctx.push(f);
    }
}

/// The `plaintext_to_tls_port` finding for a flow whose client spoke plaintext first, as if
/// its server port were a TLS port (the capture rule `learned_tls_ports` asks for flows to
/// ports that only other flows showed to be TLS ports).
pub(crate) fn plaintext_finding(flow: &FlowRecord) -> Option<Finding> {
    if flow.midstream || flow.preamble.via.is_some() {
        return None;
    }
    // The sniffer's copy of the first bytes: credentials in them are already cut out.
    let (first, frame) = flow.preamble.client_first_bytes.as_ref()?;
    let raw = flow.first_bytes[Dir::ToServer.index()].as_ref()?;
    if looks_like_tls(&raw.0) {
        return None;
    }
    let protocol = flow
        .preamble
        .client_protocol
        .unwrap_or_else(|| detect_client_protocol(&raw.0, flow.server.port));
    let reaction = server_reaction(flow);
    let mut frames = vec![*frame];
    if let Some((_, f)) = &flow.first_bytes[Dir::ToClient.index()] {
        frames.push(*f);
    }
    frames.extend(flow.rst.iter().chain(&flow.fin).flatten().map(|e| e.frame));
    let port = flow.server.port;
    let proto = protocol.as_str();
    Some(
        Finding::new(Kind::PlaintextToTlsPort, Severity::Medium, flow.ts_of(*frame))
            .frames(frames)
            .summary(format!(
                "The client sent plaintext ({proto}) to TLS port {port} instead of a TLS ClientHello."
            ))
            .explanation(format!(
                "Port {port} expects TLS from the first byte, but the client spoke {proto} in the clear. \
                 The client is configured for the wrong scheme or port (http:// instead of https://, or \
                 STARTTLS settings pointed at an implicit-TLS port); the server typically answers with an \
                 alert or closes, and the client reports a cryptic error. Use the TLS scheme for this port, \
                 or the plaintext port for this scheme."
            ))
            .evidence(json!({
                "detected_protocol": proto,
                "first_bytes": first,
                "server_reaction": reaction,
                "server_port": port,
            })),
    )
}

fn check_tls_to_plaintext(ctx: &mut RuleCtx<'_>) {
    let flow = ctx.flow;
    let Some(tls) = flow.tls.as_ref() else {
        return;
    };
    if tls.client_hello.is_none() || tls.server_hello.is_some() || flow.preamble.via.is_some() {
        return;
    }
    let Some((server_first, frame)) = &flow.first_bytes[Dir::ToClient.index()] else {
        return;
    };
    if looks_like_tls(server_first) {
        return;
    }
    let banner = detect_server_banner(server_first);
    let port = flow.server.port;
    let mut frames: Vec<u64> = tls
        .events
        .iter()
        .filter(|e| e.dir == Dir::ToServer)
        .map(|e| e.frame)
        .take(1)
        .collect();
    frames.push(*frame);
    ctx.push(
        Finding::new(Kind::TlsToPlaintextPort, Severity::Medium, flow.ts_of(*frame))
            .frames(frames)
            .summary(format!(
                "The client started TLS but the server on port {port} answered in plaintext ({}).",
                banner.as_str()
            ))
            .explanation(format!(
                "The server on port {port} does not speak TLS on this port: it answered the ClientHello with \
                 plaintext. Clients report this as \"wrong version number\" or \"packet length too long\". \
                 Point the client at the server's TLS port, or use the plaintext scheme (or STARTTLS) here."
            ))
            .evidence(json!({
                "server_first_bytes": escape_bytes(server_first, 64),
                "detected_protocol": banner.as_str(),
                "server_port": port,
            })),
    );
}

#[cfg(test)]
mod tests {
    use super::{PLAINTEXT_TO_TLS_PORT, TLS_TO_PLAINTEXT_PORT};
    use crate::flow::FlowRecord;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::{evaluate, Severity};
    use crate::tls::HandshakeStage;

    const C: Dir = Dir::ToServer;
    const S: Dir = Dir::ToClient;
    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
    /// Minimal TLS 1.2 ClientHello record (only its first bytes matter to the sniffer).
    const CH: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8,
        9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
        32, 0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00,
    ];
    /// A fatal protocol_version alert record.
    const ALERT: &[u8] = &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];

    /// HTTP GET (frame 4) to port 443, then the server's `answer` (frame 5), if any.
    fn http_to_443(answer: Option<&[u8]>) -> FlowRecord {
        let mut f = flow();
        let mut script: Vec<(Dir, &[u8], u64)> = vec![(C, GET, 4)];
        script.extend(answer.map(|a| (S, a, 5)));
        cleartext(&mut f, &script);
        f
    }

    #[test]
    fn http_to_443_server_closes() {
        let mut f = http_to_443(None);
        close(&mut f, S, false, 6);
        let out = run(&PLAINTEXT_TO_TLS_PORT, &f);
        let p = one(&out, "plaintext_to_tls_port");
        assert_eq!(p.severity, Severity::Medium);
        assert_eq!(p.frames, vec![4, 6]);
        assert_eq!(ev(p, "detected_protocol"), "http");
        assert_eq!(ev(p, "server_reaction"), "close");
        assert_eq!(p.evidence["server_port"], 443);
        assert!(
            ev(p, "first_bytes").starts_with("GET / HTTP/1.1\\r\\nHost: www.example.com"),
            "{}",
            ev(p, "first_bytes")
        );
        assert_eq!(
            p.summary,
            "The client sent plaintext (http) to TLS port 443 instead of a TLS ClientHello."
        );
    }

    #[test]
    fn http_to_443_server_resets() {
        let mut f = http_to_443(None);
        close(&mut f, S, true, 5);
        let out = run(&PLAINTEXT_TO_TLS_PORT, &f);
        let p = one(&out, "plaintext_to_tls_port");
        assert_eq!(ev(p, "server_reaction"), "rst");
        assert_eq!(p.frames, vec![4, 5]);
    }

    #[test]
    fn http_to_443_server_alerts_or_answers_400() {
        let mut f = http_to_443(Some(ALERT));
        close(&mut f, S, false, 6);
        let out = run(&PLAINTEXT_TO_TLS_PORT, &f);
        let p = one(&out, "plaintext_to_tls_port");
        assert_eq!(ev(p, "server_reaction"), "alert");
        assert_eq!(p.frames, vec![4, 5, 6]);

        let f = http_to_443(Some(
            b"HTTP/1.1 400 Bad Request\r\n\r\nThe plain HTTP request was sent to HTTPS port",
        ));
        let out = run(&PLAINTEXT_TO_TLS_PORT, &f);
        assert_eq!(
            ev(one(&out, "plaintext_to_tls_port"), "server_reaction"),
            "http_400"
        );

        let f = http_to_443(Some(b"SSH-2.0-OpenSSH_9.6\r\n"));
        let out = run(&PLAINTEXT_TO_TLS_PORT, &f);
        assert_eq!(
            ev(one(&out, "plaintext_to_tls_port"), "server_reaction"),
            "data"
        );

        let f = http_to_443(None);
        let out = run(&PLAINTEXT_TO_TLS_PORT, &f);
        let p = one(&out, "plaintext_to_tls_port");
        assert_eq!(ev(p, "server_reaction"), "nothing");
        assert_eq!(p.frames, vec![4]);
    }

    #[test]
    fn smtp_to_implicit_tls_port() {
        let mut f = flow();
        on_port(&mut f, 465);
        cleartext(&mut f, &[(C, b"EHLO client.example\r\n", 4)]);
        close(&mut f, S, false, 5);
        let out = run(&PLAINTEXT_TO_TLS_PORT, &f);
        let p = one(&out, "plaintext_to_tls_port");
        assert_eq!(ev(p, "detected_protocol"), "smtp");
        assert_eq!(p.evidence["server_port"], 465);
    }

    #[test]
    fn plaintext_to_tls_port_not_raised() {
        // Picked up mid-stream: the first bytes seen are not the connection's first bytes.
        let mut f = http_to_443(None);
        f.midstream = true;
        assert!(run(&PLAINTEXT_TO_TLS_PORT, &f).is_empty());
        // Not a TLS port.
        let mut f = flow();
        on_port(&mut f, 80);
        cleartext(&mut f, &[(C, GET, 4)]);
        assert!(!f.server_port_is_tls);
        assert!(run(&PLAINTEXT_TO_TLS_PORT, &f).is_empty());
        // The client does speak TLS.
        let mut f = flow();
        cleartext(&mut f, &[(C, CH, 4)]);
        assert!(run(&PLAINTEXT_TO_TLS_PORT, &f).is_empty());
        // Nothing from the client at all.
        assert!(run(&PLAINTEXT_TO_TLS_PORT, &flow()).is_empty());
        assert!(evaluate(&healthy12()).is_empty());
    }

    /// A ClientHello (frame 4) to `port` answered by `answer` (frame 5) in plaintext.
    fn client_hello_answered(port: u16, answer: &[u8]) -> FlowRecord {
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        on_port(&mut f, port);
        cleartext(&mut f, &[(C, CH, 4), (S, answer, 5)]);
        close(&mut f, S, false, 6);
        f
    }

    #[test]
    fn tls_to_plaintext_http_400() {
        let f = client_hello_answered(443, b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n");
        let out = run(&TLS_TO_PLAINTEXT_PORT, &f);
        let t = one(&out, "tls_to_plaintext_port");
        assert_eq!(t.severity, Severity::Medium);
        assert_eq!(t.frames, vec![4, 5]);
        assert_eq!(
            ev(t, "server_first_bytes"),
            "HTTP/1.1 400 Bad Request\\r\\nServer: nginx\\r\\n\\r\\n"
        );
        assert_eq!(ev(t, "detected_protocol"), "http");
        assert_eq!(t.evidence["server_port"], 443);
    }

    #[test]
    fn tls_to_plaintext_smtp_banner() {
        let f = client_hello_answered(25, b"220 mx.example ESMTP Postfix\r\n");
        let out = run(&TLS_TO_PLAINTEXT_PORT, &f);
        let t = one(&out, "tls_to_plaintext_port");
        assert_eq!(ev(t, "detected_protocol"), "smtp");
        assert_eq!(
            ev(t, "server_first_bytes"),
            "220 mx.example ESMTP Postfix\\r\\n"
        );
    }

    #[test]
    fn tls_to_plaintext_not_raised() {
        // The server answers with TLS (an alert, here).
        let f = client_hello_answered(443, ALERT);
        assert!(run(&TLS_TO_PLAINTEXT_PORT, &f).is_empty());
        // A ServerHello was parsed: the server speaks TLS.
        let mut f = client_hello_answered(443, b"HTTP/1.1 400 Bad Request\r\n\r\n");
        f.tls.as_mut().unwrap().server_hello = Some(server_hello(0x0303, 0xc02f));
        assert!(run(&TLS_TO_PLAINTEXT_PORT, &f).is_empty());
        // After STARTTLS or CONNECT the cleartext answer belongs to the outer protocol.
        let mut f = client_hello_answered(443, b"HTTP/1.1 400 Bad Request\r\n\r\n");
        f.preamble.via = Some(crate::cleartext::Via::HttpConnect);
        assert!(run(&TLS_TO_PLAINTEXT_PORT, &f).is_empty());
        // No answer, or no ClientHello.
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        close(&mut f, S, false, 5);
        assert!(run(&TLS_TO_PLAINTEXT_PORT, &f).is_empty());
        assert!(run(
            &TLS_TO_PLAINTEXT_PORT,
            &http_to_443(Some(b"HTTP/1.1 400 x\r\n"))
        )
        .is_empty());
        assert!(run(&TLS_TO_PLAINTEXT_PORT, &healthy12()).is_empty());
    }
}
