//! `malformed_tls`: records or handshake messages that do not parse, or impossible lengths.

use serde_json::json;

use super::{Finding, Rule, RuleCtx, Severity};
use crate::model::Dir;

pub const MALFORMED_TLS: Rule = Rule {
    name: "malformed_tls",
    doc: "A TLS record or handshake message does not parse, or claims an impossible length.",
    check,
};

fn check(ctx: &mut RuleCtx<'_>) {
    let Some(tls) = ctx.flow.tls.as_ref() else {
        return;
    };
    // A plaintext answer to a ClientHello is explained by tls_to_plaintext_port already.
    let server_plaintext = ctx.has("tls_to_plaintext_port");
    let mut out = Vec::new();
    for m in &tls.malformed {
        if server_plaintext && m.dir == Dir::ToClient {
            continue;
        }
        let sender = m.dir.sender().as_str();
        let ts = tls
            .events
            .iter()
            .find(|e| e.frame == m.frame)
            .map_or(ctx.flow.last_ts_us, |e| e.ts_us);
        out.push(
            Finding::new("malformed_tls", Severity::Medium, ts)
                .frames([m.frame])
                .summary(format!("Malformed TLS from the {sender}: {}.", m.reason))
                .explanation(
                    "Bytes in a TLS stream do not form valid TLS. Causes: a non-TLS protocol on the port, a \
                     broken or hostile implementation, corruption, a middlebox rewriting traffic, or packets \
                     missing from the capture (see capture_stats for reassembly gaps).",
                )
                .evidence(json!({ "reason": m.reason, "sent_by": sender })),
        );
    }
    ctx.findings.extend(out);
}
