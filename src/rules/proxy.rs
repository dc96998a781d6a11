//! `proxy_connect_failed`: an HTTP CONNECT answered with a non-2xx status.

use serde_json::json;

use super::{Finding, Rule, RuleCtx, Severity};

pub const PROXY_CONNECT_FAILED: Rule = Rule {
    name: "proxy_connect_failed",
    doc: "An HTTP CONNECT to a proxy was refused (403, 407, 502...): TLS never started.",
    check,
};

fn status_advice(status: u16) -> &'static str {
    match status {
        407 => "407 means the proxy wants credentials: configure proxy authentication in the client.",
        403 => "403 means the proxy's policy forbids this target (host or port not allowed, e.g. CONNECT only to 443).",
        404 | 502 | 503 | 504 => "The proxy could not reach the target: DNS failure, target down, or the proxy's own upstream is unreachable.",
        400 | 405 => "The proxy did not accept the CONNECT request itself: wrong proxy type or a malformed request.",
        _ => "The proxy refused to open the tunnel; its response body usually says why.",
    }
}

fn check(ctx: &mut RuleCtx<'_>) {
    let Some(connect) = ctx.flow.preamble.connect.as_ref() else {
        return;
    };
    let Some(status) = connect.status else {
        return;
    };
    if (200..300).contains(&status) {
        return;
    }
    let target = connect.target.clone();
    let reason = connect.reason.clone().unwrap_or_default();
    let frames = [Some(connect.request_frame), connect.response_frame];
    let ts = ctx.flow.first_ts_us;
    ctx.push(
        Finding::new("proxy_connect_failed", Severity::Medium, ts)
            .frames(frames.into_iter().flatten())
            .summary(format!(
                "The proxy refused CONNECT {target} with {status} {reason}; no TLS was attempted."
            ))
            .explanation(format!(
                "The client asked the HTTP proxy to open a tunnel to {target} and the proxy answered {status}. \
                 The TLS client typically reports only a generic proxy or handshake error. {}",
                status_advice(status)
            ))
            .evidence(json!({ "target": target, "status": status, "reason": reason })),
    );
}
