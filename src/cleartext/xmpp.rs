//! XMPP (RFC 6120): `<starttls/>` answered by `<proceed/>` or `<failure/>` in the
//! `xmpp-tls` namespace, and SASL `<auth mechanism=...>`.

use super::lines::escape_bytes;
use super::session::{PendingKey, Session};
use super::{sasl, AppProtocol, Upgrade, TEXT_CAP};
use crate::model::FrameNo;

/// Value of attribute `name` in one element, quoted either way.
fn attr<'a>(unit: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let pos = unit
        .windows(name.len() + 1)
        .position(|w| &w[..name.len()] == name && w[name.len()] == b'=')?;
    let rest = &unit[pos + name.len() + 1..];
    let quote = *rest.first()?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let rest = &rest[1..];
    let end = rest.iter().position(|&c| c == quote)?;
    Some(&rest[..end])
}

/// XMPP keeps no state of its own; a unit is one XML tag, up to its `>`.
#[derive(Debug, Default)]
pub(super) struct Xmpp;

impl Upgrade for Xmpp {
    fn client(&mut self, s: &mut Session, unit: &[u8], frame: FrameNo) {
        let has = |n: &[u8]| unit.windows(n.len()).any(|w| w == n);
        if unit.starts_with(b"<starttls") && has(b"xmpp-tls") {
            s.start_upgrade(AppProtocol::Xmpp, PendingKey::Next, frame);
        } else if unit.starts_with(b"<auth") && has(b"xmpp-sasl") {
            let mech = attr(unit, b"mechanism").unwrap_or(b"");
            // The SASL payload follows in the next unit.
            sasl::credential(s, "SASL", mech, frame, unit.len());
        }
    }

    fn server(&mut self, s: &mut Session, unit: &[u8], frame: FrameNo) -> bool {
        if s.pending.is_none() || !unit.windows(8).any(|w| w == b"xmpp-tls") {
            return false;
        }
        let resp = escape_bytes(unit, TEXT_CAP);
        if unit.starts_with(b"<proceed") {
            s.answer_upgrade(true, resp, frame)
        } else if unit.starts_with(b"<failure") {
            s.answer_upgrade(false, resp, frame)
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    #[test]
    fn xmpp_starttls_ok_and_failure() {
        for (answer, result) in [
            (
                &b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"[..],
                StartTlsResult::Ok,
            ),
            (
                b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>",
                StartTlsResult::Refused,
            ),
        ] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (C, b"<?xml version='1.0'?><stream:stream to='x' xmlns='jabber:client' version='1.0'>", 1),
                (S, b"<?xml version='1.0'?><stream:stream from='x' id='1' version='1.0'>", 2),
                (S, b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>", 3),
                (C, b"\n<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", 4),
                (S, answer, 5),
                (C, CH, 6),
            ];
            let o = check(5222, script);
            let s = starttls(&o);
            assert_eq!((s.protocol, s.result), (AppProtocol::Xmpp, result));
            assert_eq!(o.facts.client_protocol, Some(AppProtocol::Xmpp));
            assert_eq!(o.facts.server_protocol, Some(AppProtocol::Xmpp));
            if result == StartTlsResult::Ok {
                assert_eq!(o.switch_at[1], Some(stream_len(script, S, 6)));
                assert_eq!(o.switch_at[0], Some(stream_len(script, C, 6)));
            } else {
                assert_eq!(o.switch_at, [None, None]);
            }
        }
    }

    #[test]
    fn xmpp_credentials() {
        let xmpp: &[(Dir, &[u8], FrameNo)] = &[
            (C, b"<stream:stream to='x'>", 1),
            (C, b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGJvYgBodW50ZXIy</auth>", 2),
        ];
        let o = check(5222, xmpp);
        assert_eq!(mechs(&o), vec![(AppProtocol::Xmpp, "SASL PLAIN", 2)]);
        assert_no_secret(&o, &["AGJvYgBodW50ZXIy"]);
    }
}
