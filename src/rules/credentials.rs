//! `cleartext_credentials`: authentication sent before any TLS protected it.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};

pub const CLEARTEXT_CREDENTIALS: Rule = Rule {
    name: "cleartext_credentials",
    doc: "Credentials (AUTH, LOGIN, USER/PASS, HTTP Basic) crossed the network before TLS; the secret is never logged.",
    kinds: &[Kind::CleartextCredentials],
    after: &[],
    check,
};

fn check(ctx: &mut RuleCtx<'_>) {
    let flow = ctx.flow;
    let mut out = Vec::new();
    for cred in &flow.preamble.credentials {
        let proto = cred.protocol.as_str();
        let mech = cred.mechanism.as_str();
        out.push(
            Finding::new(Kind::CleartextCredentials, Severity::High, flow.ts_of(cred.frame))
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

#[cfg(test)]
mod tests {
    use super::CLEARTEXT_CREDENTIALS;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::{evaluate, Severity};

    const C: Dir = Dir::ToServer;
    const S: Dir = Dir::ToClient;

    fn assert_no_secret(f: &crate::flow::FlowRecord, secrets: &[&str]) {
        let all = evaluate(f);
        let dump = serde_json::to_string(&all).unwrap();
        for s in secrets {
            assert!(!dump.contains(s), "secret {s:?} leaked into {dump}");
        }
    }

    #[test]
    fn smtp_auth_plain() {
        let mut f = flow();
        on_port(&mut f, 25);
        cleartext(
            &mut f,
            &[
                (S, b"220 mx ESMTP\r\n", 4),
                (C, b"EHLO a\r\n", 5),
                (S, b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n", 6),
                (C, b"AUTH PLAIN AGJvYgBodW50ZXIy\r\n", 7),
                (S, b"235 ok\r\n", 8),
            ],
        );
        let out = run(&CLEARTEXT_CREDENTIALS, &f);
        let c = one(&out, "cleartext_credentials");
        assert_eq!(c.severity, Severity::High);
        assert_eq!(c.frames, vec![7]);
        assert_eq!(ev(c, "protocol"), "smtp");
        assert_eq!(ev(c, "mechanism"), "AUTH PLAIN");
        assert_eq!(
            c.summary,
            "smtp credentials (AUTH PLAIN) were sent in cleartext."
        );
        assert_no_secret(&f, &["AGJvYgBodW50ZXIy", "hunter2"]);
    }

    #[test]
    fn pop3_user_pass_and_ftp() {
        let mut f = flow();
        on_port(&mut f, 110);
        cleartext(
            &mut f,
            &[
                (S, b"+OK ready\r\n", 4),
                (C, b"USER bob\r\n", 5),
                (S, b"+OK\r\n", 6),
                (C, b"PASS hunter2\r\n", 7),
            ],
        );
        let out = run(&CLEARTEXT_CREDENTIALS, &f);
        let c = one(&out, "cleartext_credentials");
        assert_eq!(
            (ev(c, "protocol"), ev(c, "mechanism")),
            ("pop3", "USER/PASS")
        );
        assert_eq!(c.frames, vec![7]);
        assert_no_secret(&f, &["hunter2"]);
    }

    #[test]
    fn http_basic_to_a_tls_port_never_leaks_the_secret() {
        // Plaintext HTTP to 443 with Basic auth: both plaintext_to_tls_port (which quotes the
        // client's first bytes) and cleartext_credentials fire, neither with the secret.
        let mut f = flow();
        cleartext(
            &mut f,
            &[(
                C,
                b"GET / HTTP/1.1\r\nAuthorization: Basic Ym9iOmh1bnRlcjI=\r\n\r\n",
                4,
            )],
        );
        close(&mut f, S, false, 5);
        let all = evaluate(&f);
        let c = one(&all, "cleartext_credentials");
        assert_eq!(
            (ev(c, "protocol"), ev(c, "mechanism")),
            ("http", "HTTP Basic")
        );
        assert_eq!(c.frames, vec![4]);
        let p = one(&all, "plaintext_to_tls_port");
        assert!(ev(p, "first_bytes").starts_with("GET / HTTP/1.1"));
        assert_no_secret(&f, &["Ym9iOmh1bnRlcjI", "hunter2"]);
    }

    #[test]
    fn no_credentials_no_finding() {
        let mut f = flow();
        on_port(&mut f, 25);
        cleartext(
            &mut f,
            &[
                (S, b"220 mx ESMTP\r\n", 4),
                (C, b"EHLO a\r\n", 5),
                (C, b"QUIT\r\n", 6),
            ],
        );
        assert!(run(&CLEARTEXT_CREDENTIALS, &f).is_empty());
        assert!(run(&CLEARTEXT_CREDENTIALS, &healthy12()).is_empty());
    }
}
