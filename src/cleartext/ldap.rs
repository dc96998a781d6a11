//! LDAP (RFC 4511) over BER: the StartTLS extended operation (RFC 4513) and bind
//! requests, simple (a password) or SASL.

use super::session::{PendingKey, Session};
use super::{sasl, AppProtocol, Upgrade};
use crate::model::{Dir, FrameNo};

/// OID of the StartTLS extended request, sent as its dotted text.
pub(super) const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

// BER tags (identifier octets) that LDAP messages are built from.
/// Universal 16, constructed: an LDAPMessage is a SEQUENCE.
pub(super) const SEQUENCE: u8 = 0x30;
/// Universal 2: messageID, and the bind version.
const INTEGER: u8 = 0x02;
/// Universal 4: a SASL mechanism name.
const OCTET_STRING: u8 = 0x04;
/// Universal 10: resultCode.
const ENUMERATED: u8 = 0x0a;
/// [APPLICATION 0], constructed: BindRequest.
const BIND_REQUEST: u8 = 0x60;
/// [APPLICATION 23], constructed: ExtendedRequest.
const EXTENDED_REQUEST: u8 = 0x77;
/// [APPLICATION 24], constructed: ExtendedResponse.
const EXTENDED_RESPONSE: u8 = 0x78;
/// [0], primitive: ExtendedRequest's requestName, and a simple bind's password.
const CONTEXT_0: u8 = 0x80;
/// [3], constructed: a bind's SaslCredentials.
const CONTEXT_3_CONSTRUCTED: u8 = 0xa3;
/// Tag-number bits all set: a multi-byte tag, which LDAP never uses.
const HIGH_TAG_NUMBER: u8 = 0x1f;
/// Length octet with the high bit set: the count of length bytes that follow.
const LONG_FORM: u8 = 0x80;
/// resultCode success.
const SUCCESS: u32 = 0;

/// Parses a BER tag+length header: Err = not BER, Ok(None) = need more bytes,
/// Ok(Some((tag, header_len, content_len))).
pub(super) fn ber_header(b: &[u8]) -> Result<Option<(u8, usize, usize)>, ()> {
    let (Some(&tag), Some(&l0)) = (b.first(), b.get(1)) else {
        return Ok(None);
    };
    if tag & HIGH_TAG_NUMBER == HIGH_TAG_NUMBER {
        return Err(());
    }
    if l0 & LONG_FORM == 0 {
        return Ok(Some((tag, 2, usize::from(l0))));
    }
    let n = usize::from(l0 & !LONG_FORM);
    // 0 is BER's indefinite length, which LDAP forbids; over 4 bytes is no message we buffer.
    if n == 0 || n > 4 {
        return Err(());
    }
    let Some(lb) = b.get(2..2 + n) else {
        return Ok(None);
    };
    let len = lb.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x));
    Ok(Some((tag, 2 + n, len)))
}

/// Splits one complete TLV off the front of `b`.
fn ber_take(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (tag, h, len) = ber_header(b).ok()??;
    let end = h.checked_add(len)?;
    let content = b.get(h..end)?;
    Some((tag, content, &b[end..]))
}

/// A big-endian unsigned value of 1 to 4 content bytes.
fn ber_uint(v: &[u8]) -> Option<u32> {
    (!v.is_empty() && v.len() <= 4).then(|| v.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x)))
}

/// A SEQUENCE whose first element, if already here, is the messageID INTEGER.
pub(super) fn message_start(b: &[u8]) -> bool {
    match ber_header(b) {
        Ok(Some((SEQUENCE, h, _))) => b.get(h).is_none_or(|&t| t == INTEGER),
        _ => false,
    }
}

/// LDAPMessage -> (messageID, protocolOp tag, protocolOp content).
fn op(msg: &[u8]) -> Option<(u32, u8, &[u8])> {
    let (tag, body, _) = ber_take(msg)?;
    if tag != SEQUENCE {
        return None;
    }
    let (itag, id, rest) = ber_take(body)?;
    if itag != INTEGER {
        return None;
    }
    let id = ber_uint(id)?;
    let (op, content, _) = ber_take(rest)?;
    Some((id, op, content))
}

/// A message still arriving whose header shows a BindRequest, which may carry a password.
pub(super) fn bind_request_prefix(b: &[u8]) -> bool {
    let op_tag = || {
        let (tag, h, _) = ber_header(b).ok()??;
        if tag != SEQUENCE {
            return None;
        }
        let rest = b.get(h..)?;
        let (itag, ih, ilen) = ber_header(rest).ok()??;
        if itag != INTEGER {
            return None;
        }
        rest.get(ih + ilen).copied()
    };
    op_tag() == Some(BIND_REQUEST)
}

/// Offset of `part` inside `whole` (a subslice of it).
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize)
        .saturating_sub(whole.as_ptr() as usize)
        .min(whole.len())
}

/// LDAP keeps no state of its own: the messageID of a pending StartTLS is its [`PendingKey`].
#[derive(Debug, Default)]
pub(super) struct Ldap;

impl Upgrade for Ldap {
    fn client(&mut self, s: &mut Session, msg: &[u8], frame: FrameNo) {
        let Some((id, op, content)) = op(msg) else {
            return;
        };
        match op {
            EXTENDED_REQUEST => {
                if let Some((CONTEXT_0, oid, _)) = ber_take(content) {
                    if oid == STARTTLS_OID {
                        s.start_upgrade(AppProtocol::Ldap, PendingKey::LdapId(id), frame);
                    }
                }
            }
            // Version, name, then the authentication CHOICE.
            BIND_REQUEST => {
                let auth = ber_take(content)
                    .and_then(|(_, _, r)| ber_take(r))
                    .and_then(|(_, _, r)| ber_take(r));
                match auth {
                    // An empty password is an anonymous bind.
                    Some((CONTEXT_0, pw, _)) if !pw.is_empty() => {
                        let keep = offset_in(msg, pw);
                        s.credential("simple bind", frame, Dir::ToServer, keep);
                    }
                    Some((CONTEXT_3_CONSTRUCTED, creds, _)) => {
                        if let Some((OCTET_STRING, mech, rest)) = ber_take(creds) {
                            let keep = offset_in(msg, rest);
                            sasl::credential(s, "SASL", mech, frame, keep);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn server(&mut self, s: &mut Session, msg: &[u8], frame: FrameNo) -> bool {
        let Some(PendingKey::LdapId(want)) = s.pending else {
            return false;
        };
        let Some((id, EXTENDED_RESPONSE, content)) = op(msg) else {
            return false;
        };
        if id != want {
            return false;
        }
        let code = match ber_take(content) {
            Some((ENUMERATED, v, _)) => match ber_uint(v) {
                Some(code) => code,
                None => return false,
            },
            _ => return false,
        };
        s.answer_upgrade(
            code == SUCCESS,
            format!("extendedResponse resultCode={code}"),
            frame,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    fn ldap_ext_response(code: u8) -> Vec<u8> {
        vec![
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, code, 0x04, 0x00, 0x04, 0x00,
        ]
    }

    fn ldap_starttls_request() -> Vec<u8> {
        let mut v = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
        v.extend_from_slice(STARTTLS_OID);
        v
    }

    #[test]
    fn ldap_starttls_ok_and_refused() {
        for (code, result) in [(0, StartTlsResult::Ok), (2, StartTlsResult::Refused)] {
            let req = ldap_starttls_request();
            let resp = ldap_ext_response(code);
            let mut server = resp.clone();
            server.extend_from_slice(SH); // answer and TLS in one segment
            let script: &[(Dir, &[u8], FrameNo)] = &[(C, &req, 4), (S, &server, 5), (C, CH, 6)];
            let o = check(389, script);
            let s = starttls(&o);
            assert_eq!((s.protocol, s.result), (AppProtocol::Ldap, result));
            assert_eq!(o.facts.client_protocol, Some(AppProtocol::Ldap));
            if code == 0 {
                assert_eq!(o.switch_at, [Some(req.len()), Some(resp.len())]);
                assert_eq!(s.response.as_deref(), Some("extendedResponse resultCode=0"));
            } else {
                assert_eq!(o.switch_at, [None, None]);
            }
        }
    }

    fn ldap_bind(pw: &[u8]) -> Vec<u8> {
        let name = b"cn=admin";
        let mut op = vec![0x02, 0x01, 0x03, 0x04, name.len() as u8];
        op.extend_from_slice(name);
        op.extend_from_slice(&[0x80, pw.len() as u8]);
        op.extend_from_slice(pw);
        let mut msg = vec![0x02, 0x01, 0x01, 0x60, op.len() as u8];
        msg.extend_from_slice(&op);
        let mut out = vec![0x30, msg.len() as u8];
        out.extend_from_slice(&msg);
        out
    }

    #[test]
    fn ldap_simple_bind() {
        let bind = ldap_bind(b"hunter2");
        let o = check(389, &[(C, &bind, 3)]);
        assert_eq!(mechs(&o), vec![(AppProtocol::Ldap, "simple bind", 3)]);
        assert_no_secret(&o, &["hunter2"]);
        // Anonymous bind carries no secret.
        let anon = ldap_bind(b"");
        assert!(check(389, &[(C, &anon, 3)]).facts.credentials.is_empty());
        // Long-form lengths and a large message to skip before it.
        let mut big = vec![
            0x30, 0x82, 0x13, 0x88, 0x02, 0x01, 0x05, 0x63, 0x82, 0x13, 0x83,
        ];
        big.resize(4 + 0x1388, b'a');
        big.extend_from_slice(&bind);
        let o = check(389, &[(C, &big, 3)]);
        assert_eq!(o.facts.credentials.len(), 1);
    }
}
