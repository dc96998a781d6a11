//! `plaintext_to_tls_port` and `tls_to_plaintext_port`: the two halves of "one side speaks
//! TLS, the other does not", the cause behind "wrong version number" and "packet length too
//! long" client errors.

use serde_json::json;

use super::{Finding, Rule, RuleCtx, Severity};
use crate::app::{detect_client_protocol, detect_server_banner, escape_bytes, looks_like_tls};
use crate::flow::FlowRecord;
use crate::model::Dir;

pub const PLAINTEXT_TO_TLS_PORT: Rule = Rule {
    name: "plaintext_to_tls_port",
    doc:
        "The client's first bytes to a TLS port are not a TLS record (HTTP to 443, SMTP to 465...).",
    check: check_plaintext_to_tls,
};

pub const TLS_TO_PLAINTEXT_PORT: Rule = Rule {
    name: "tls_to_plaintext_port",
    doc: "A ClientHello met a server that answered in plaintext (HTTP 400, an SMTP banner...).",
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
    let flow = ctx.flow;
    if !flow.server_port_is_tls || flow.midstream || flow.preamble.via.is_some() {
        return;
    }
    // The sniffer's copy of the first bytes: credentials in them are already cut out.
    let Some((first, frame)) = &flow.preamble.client_first_bytes else {
        return;
    };
    let Some(raw) = flow.first_bytes[Dir::ToServer.index()].as_ref() else {
        return;
    };
    if looks_like_tls(&raw.0) {
        return;
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
    ctx.push(
        Finding::new("plaintext_to_tls_port", Severity::Medium, flow.first_ts_us)
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
    );
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
        Finding::new("tls_to_plaintext_port", Severity::Medium, flow.first_ts_us)
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
