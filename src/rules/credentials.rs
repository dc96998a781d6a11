//! `cleartext_credentials`: authentication sent before any TLS protected it.

use serde_json::json;

use super::{Finding, Rule, RuleCtx, Severity};

pub const CLEARTEXT_CREDENTIALS: Rule = Rule {
    name: "cleartext_credentials",
    doc: "Credentials (AUTH, LOGIN, USER/PASS, HTTP Basic) crossed the network before TLS; the secret is never logged.",
    check,
};

fn check(ctx: &mut RuleCtx<'_>) {
    let flow = ctx.flow;
    let mut out = Vec::new();
    for cred in &flow.preamble.credentials {
        let proto = cred.protocol.as_str();
        let mech = cred.mechanism.as_str();
        out.push(
            Finding::new("cleartext_credentials", Severity::High, flow.first_ts_us)
                .frames([cred.frame])
                .summary(format!("{proto} credentials ({mech}) were sent in cleartext."))
                .explanation(format!(
                    "The client authenticated with {mech} before any TLS protected the session, so anyone on the \
                     path can read the credentials. Require STARTTLS (or implicit TLS) before authentication on \
                     the server, and change the exposed password."
                ))
                .evidence(json!({ "protocol": proto, "mechanism": mech })),
        );
    }
    ctx.findings.extend(out);
}
