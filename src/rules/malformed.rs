//! `malformed_tls`: records or handshake messages that do not parse, or impossible lengths.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::model::Dir;

pub const MALFORMED_TLS: Rule = Rule {
    name: "malformed_tls",
    doc: "A TLS record or handshake message does not parse, or claims an impossible length.",
    kinds: &[Kind::MalformedTls],
    after: &[Kind::TlsToPlaintextPort],
    check,
};

fn check(ctx: &mut RuleCtx<'_>) {
    let Some(tls) = ctx.flow.tls.as_ref() else {
        return;
    };
    // A plaintext answer to a ClientHello is explained by tls_to_plaintext_port already.
    let server_plaintext = ctx.has(Kind::TlsToPlaintextPort);
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
            Finding::new(Kind::MalformedTls, Severity::Medium, ts)
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

#[cfg(test)]
mod tests {
    use super::MALFORMED_TLS;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::{evaluate, Severity};
    use crate::tls::{HandshakeStage, Malformed};

    fn malformed(dir: Dir, frame: u64, reason: &str) -> Malformed {
        Malformed {
            dir,
            frame,
            reason: reason.into(),
        }
    }

    #[test]
    fn malformed_records_from_either_side() {
        let mut f = healthy12();
        let tls = f.tls.as_mut().unwrap();
        tls.malformed = vec![
            malformed(Dir::ToClient, 7, "record length 20000 exceeds 18432"),
            malformed(Dir::ToServer, 8, "handshake message does not parse"),
        ];
        let out = run(&MALFORMED_TLS, &f);
        assert_eq!(out.len(), 2);
        let (a, b) = (&out[0], &out[1]);
        assert_eq!(a.severity, Severity::Medium);
        assert_eq!(a.frames, vec![7]);
        // Stamped with the time of an event of the same frame.
        assert_eq!(a.ts_us, ts(7));
        assert_eq!(ev(a, "reason"), "record length 20000 exceeds 18432");
        assert_eq!(ev(a, "sent_by"), "server");
        assert_eq!(b.frames, vec![8]);
        assert_eq!(ev(b, "sent_by"), "client");
        assert_eq!(
            b.summary,
            "Malformed TLS from the client: handshake message does not parse."
        );
    }

    #[test]
    fn server_side_suppressed_when_the_server_speaks_plaintext() {
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        f.first_bytes[Dir::ToClient.index()] =
            Some((b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), 5));
        f.tls.as_mut().unwrap().malformed = vec![
            malformed(Dir::ToClient, 5, "not a TLS record"),
            malformed(Dir::ToServer, 6, "bad length"),
        ];
        let all = evaluate(&f);
        one(&all, "tls_to_plaintext_port");
        let m = one(&all, "malformed_tls");
        assert_eq!(m.frames, vec![6]);
        assert_eq!(ev(m, "sent_by"), "client");
        // Without the plaintext answer both are reported.
        f.first_bytes[Dir::ToClient.index()] = None;
        assert_eq!(run(&MALFORMED_TLS, &f).len(), 2);
    }

    #[test]
    fn well_formed_tls_raises_nothing() {
        assert!(run(&MALFORMED_TLS, &healthy12()).is_empty());
        assert!(run(&MALFORMED_TLS, &flow()).is_empty());
    }
}
