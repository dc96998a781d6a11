//! `heartbeat`: TLS heartbeat messages (RFC 6520), and Heartbleed-style requests whose
//! claimed payload does not fit their record (CVE-2014-0160; Zeek's
//! `Heartbleed::SSL_Heartbeat_Attack` and `_Success`, Suricata's
//! `tls.overflow_heartbeat_message`). TLS clients almost never send heartbeats, so one in
//! a handshake is most often a vulnerability scanner.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::model::Side;
use crate::tls::{TlsEvent, TlsEventKind};

pub const HEARTBEAT: Rule = Rule {
    name: "heartbeat",
    doc: "TLS heartbeat messages, and Heartbleed-style requests claiming more payload than their record holds.",
    kinds: &[Kind::Heartbeat],
    after: &[],
    check,
};

fn record_len(e: &TlsEvent) -> u16 {
    match e.kind {
        TlsEventKind::Heartbeat { len, .. } => len,
        _ => 0,
    }
}

fn check(ctx: &mut RuleCtx<'_>) {
    let flow = ctx.flow;
    let Some(tls) = flow.tls.as_ref() else {
        return;
    };
    let beats: Vec<&TlsEvent> = tls
        .events
        .iter()
        .filter(|e| matches!(e.kind, TlsEventKind::Heartbeat { .. }))
        .collect();
    let Some(first) = beats.first() else {
        return;
    };
    let by = |side: Side| beats.iter().filter(|e| e.dir.sender() == side).count();
    let counts = json!({"client": by(Side::Client), "server": by(Side::Server)});
    let Some(attack) = beats.iter().find(|e| e.kind.is_heartbleed()) else {
        let n = beats.len();
        ctx.push(
            Finding::new(Kind::Heartbeat, Severity::Info, first.ts_us)
                .frames(beats.iter().take(8).map(|e| e.frame))
                .summary(format!(
                    "{n} TLS heartbeat message(s) (client {}, server {}), none malformed.",
                    by(Side::Client),
                    by(Side::Server)
                ))
                .explanation(
                    "The heartbeat extension (RFC 6520) keeps a session alive without data. TLS clients \
                     and servers rarely need it and most stacks no longer offer it, since it carried \
                     Heartbleed (CVE-2014-0160): a peer that still answers heartbeats deserves a look at \
                     its TLS library's version."
                        .to_string(),
                )
                .evidence(json!({ "heartbeats": counts, "heartbleed": false })),
        );
        return;
    };
    let TlsEventKind::Heartbeat {
        len,
        payload_len_claimed,
    } = attack.kind
    else {
        return;
    };
    let sender = attack.dir.sender();
    let peer = match sender {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    };
    let answer = beats
        .iter()
        .find(|e| e.frame >= attack.frame && e.dir != attack.dir);
    let (sender, peer) = (sender.as_str(), peer.as_str());
    // A vulnerable peer echoes the claimed payload, so its answer is larger than the request:
    // bytes of its memory that the request never sent.
    let leaked = answer.is_some_and(|a| record_len(a) > len);
    let (severity, outcome) = match answer {
        Some(a) if leaked => (
            Severity::Critical,
            format!(
                " The {peer} answered with a {}-byte heartbeat: it is vulnerable and sent {} bytes of its memory.",
                record_len(a),
                record_len(a).saturating_sub(len)
            ),
        ),
        Some(a) => (
            Severity::High,
            format!(
                " The {peer} answered with a {}-byte heartbeat, no larger than the request: no sign of a leak.",
                record_len(a)
            ),
        ),
        None => (
            Severity::High,
            format!(" No heartbeat came back from the {peer} (not vulnerable, or it dropped the request)."),
        ),
    };
    let mut frames = vec![attack.frame];
    frames.extend(answer.map(|a| a.frame));
    ctx.push(
        Finding::new(Kind::Heartbeat, severity, attack.ts_us)
            .frames(frames)
            .summary(format!(
                "The {sender} sent a Heartbleed-style heartbeat request: {payload_len_claimed} bytes of payload \
                 claimed in a {len}-byte record (CVE-2014-0160).{outcome}"
            ))
            .explanation(format!(
                "A heartbeat request carries its payload and asks the peer to echo it back. This one claims \
                 more payload than its record holds (type, length, payload and 16 bytes of padding must \
                 fit), which is how Heartbleed reads a vulnerable OpenSSL's memory (keys, passwords, \
                 session data). A request like it in a handshake is a vulnerability scanner or an attack, \
                 not a client failing. If the {peer} answered with more than was sent, treat its keys and \
                 certificates as compromised: upgrade its TLS library, then revoke and reissue."
            ))
            .evidence(json!({
                "heartbleed": true,
                "sent_by": sender,
                "record_length": len,
                "payload_length": payload_len_claimed,
                "answered": answer.is_some(),
                "answer_length": answer.map(|a| record_len(a)),
                "leaked": leaked,
                "heartbeats": counts,
            })),
    );
}

#[cfg(test)]
mod tests {
    use super::HEARTBEAT;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::Severity;
    use crate::tls::{HandshakeStage, TlsEventKind};

    fn beat(dir: Dir, frame: u64, len: u16, claimed: u16) -> crate::tls::TlsEvent {
        event(
            dir,
            frame,
            TlsEventKind::Heartbeat {
                len,
                payload_len_claimed: claimed,
            },
        )
    }

    #[test]
    fn an_oversized_claim_is_heartbleed_and_a_larger_answer_a_leak() {
        let probe = |answer: Option<u16>| {
            let mut events = vec![
                hs(Dir::ToClient, 5, 2),
                beat(Dir::ToServer, 7, 16368, 16365),
            ];
            events.extend(answer.map(|len| beat(Dir::ToClient, 8, len, len - 19)));
            tls_flow(
                client_hello(),
                None,
                events,
                HandshakeStage::ServerHelloDone,
            )
        };
        let out = run(&HEARTBEAT, &probe(None));
        let f = one(&out, "heartbeat");
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.frames, vec![7]);
        assert_eq!(f.evidence["payload_length"], 16365);
        assert_eq!(f.evidence["sent_by"], "client");
        assert_eq!(f.evidence["leaked"], false);
        assert!(f.summary.contains("No heartbeat came back from the server"));

        let out = run(&HEARTBEAT, &probe(Some(16384)));
        let f = one(&out, "heartbeat");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.frames, vec![7, 8]);
        assert_eq!(f.evidence["leaked"], true);
        assert!(
            f.summary.contains("it is vulnerable and sent 16 bytes"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn ordinary_heartbeats_are_informational_and_none_is_nothing() {
        let f = tls_flow(
            client_hello(),
            None,
            vec![
                beat(Dir::ToServer, 9, 35, 16),
                beat(Dir::ToClient, 10, 35, 16),
            ],
            HandshakeStage::ClientHello,
        );
        let out = run(&HEARTBEAT, &f);
        let h = one(&out, "heartbeat");
        assert_eq!(h.severity, Severity::Info);
        assert_eq!(h.evidence["heartbeats"]["client"], 1);
        assert_eq!(h.evidence["heartbleed"], false);
        let none = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        assert!(run(&HEARTBEAT, &none).is_empty());
    }
}
