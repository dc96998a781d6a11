//! RDP (MS-RDPBCGR 2.2.1.1-2.2.1.2): the client's X.224 Connection Request in a TPKT
//! carries an optional cookie and an RDP_NEG_REQ listing the security protocols it
//! supports; the server's Connection Confirm carries an RDP_NEG_RSP with the one it
//! selected (TLS, CredSSP/NLA over TLS, ...) or an RDP_NEG_FAILURE. Anything but
//! standard RDP security means TLS starts right after the Confirm, in both directions.
//! Recorded like a STARTTLS (protocol rdp).

use super::lines::escape_bytes;
use super::session::{PendingKey, Session};
use super::{AppProtocol, Upgrade, TEXT_CAP};
use crate::model::{Dir, FrameNo};

/// TPKT (RFC 1006) header: version 3, reserved 0, 16-bit big-endian length.
pub(super) const TPKT_VERSION: u8 = 3;
const TPKT_HEADER_LEN: usize = 4;
/// X.224 TPDU codes (high nibble of the byte after the length indicator).
const X224_CONNECTION_REQUEST: u8 = 0xe0;
const X224_CONNECTION_CONFIRM: u8 = 0xd0;
/// X.224 fixed part after the length indicator: code, DST-REF, SRC-REF, class.
const X224_FIXED_LEN: usize = 7;
const TYPE_RDP_NEG_REQ: u8 = 1;
const TYPE_RDP_NEG_RSP: u8 = 2;
const TYPE_RDP_NEG_FAILURE: u8 = 3;
const NEG_LEN: usize = 8;
/// selectedProtocol PROTOCOL_RDP: standard RDP security, no TLS.
const PROTOCOL_RDP: u32 = 0;

/// Total length of the TPKT whose first bytes are `unit`, Err when it is no TPKT.
pub(super) fn tpkt_len(unit: &[u8]) -> Result<Option<usize>, ()> {
    match unit {
        [v, ..] if *v != TPKT_VERSION => Err(()),
        [_, r, ..] if *r != 0 => Err(()),
        [_, _, hi, lo, ..] => {
            let len = u16::from_be_bytes([*hi, *lo]) as usize;
            if len < TPKT_HEADER_LEN + X224_FIXED_LEN {
                return Err(());
            }
            Ok(Some(len))
        }
        _ => Ok(None),
    }
}

/// The X.224 TPDU of a TPKT with `code`, from its length indicator on.
fn x224(tpkt: &[u8], code: u8) -> Option<&[u8]> {
    let tpdu = tpkt.get(TPKT_HEADER_LEN..)?;
    let li = *tpdu.first()? as usize;
    let body = tpdu.get(1..1 + li)?;
    (body.len() >= X224_FIXED_LEN - 1 && body[0] & 0xf0 == code).then_some(body)
}

/// The trailing 8-byte negotiation structure of a TPDU body, when it has type `ty`.
fn negotiation(body: &[u8], ty: u8) -> Option<u32> {
    let neg = body.get(body.len().checked_sub(NEG_LEN)?..)?;
    (neg[0] == ty && u16::from_le_bytes([neg[2], neg[3]]) as usize == NEG_LEN)
        .then(|| u32::from_le_bytes([neg[4], neg[5], neg[6], neg[7]]))
}

/// A client's first bytes start an X.224 Connection Request (detection).
pub(super) fn connection_request_start(first: &[u8]) -> bool {
    matches!(tpkt_len(first), Ok(Some(_)))
        && first
            .get(5)
            .is_some_and(|&c| c & 0xf0 == X224_CONNECTION_REQUEST)
}

fn protocol_name(p: u32) -> &'static str {
    match p {
        0 => "PROTOCOL_RDP",
        1 => "PROTOCOL_SSL",
        2 => "PROTOCOL_HYBRID",
        4 => "PROTOCOL_RDSTLS",
        8 => "PROTOCOL_HYBRID_EX",
        16 => "PROTOCOL_RDSAAD",
        _ => "unknown protocol",
    }
}

fn failure_name(code: u32) -> &'static str {
    match code {
        1 => "SSL_REQUIRED_BY_SERVER",
        2 => "SSL_NOT_ALLOWED_BY_SERVER",
        3 => "SSL_CERT_NOT_ON_SERVER",
        4 => "INCONSISTENT_FLAGS",
        5 => "HYBRID_REQUIRED_BY_SERVER",
        6 => "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
        _ => "unknown failure",
    }
}

#[derive(Debug)]
pub(super) struct Rdp;

impl Upgrade for Rdp {
    fn client(&mut self, s: &mut Session, tpkt: &[u8], frame: FrameNo) {
        let requested = x224(tpkt, X224_CONNECTION_REQUEST)
            .and_then(|body| negotiation(body, TYPE_RDP_NEG_REQ));
        match requested {
            // A client that offers TLS in any form asks for the upgrade.
            Some(p) if p != PROTOCOL_RDP && s.facts.starttls.is_none() => {
                s.start_upgrade(AppProtocol::Rdp, PendingKey::Next, frame);
            }
            _ => s.ignore(Dir::ToServer),
        }
    }

    fn server(&mut self, s: &mut Session, tpkt: &[u8], frame: FrameNo) -> bool {
        let body = x224(tpkt, X224_CONNECTION_CONFIRM);
        if s.pending.is_none() || body.is_none() {
            s.ignore(Dir::ToClient);
            return false;
        }
        let body = body.unwrap_or_default();
        let (ok, text) = if let Some(p) = negotiation(body, TYPE_RDP_NEG_RSP) {
            (p != PROTOCOL_RDP, format!("selected {}", protocol_name(p)))
        } else if let Some(code) = negotiation(body, TYPE_RDP_NEG_FAILURE) {
            (false, format!("negotiation failure {}", failure_name(code)))
        } else {
            (
                false,
                "no negotiation response (standard RDP security)".to_string(),
            )
        };
        let ok = s.answer_upgrade(ok, escape_bytes(text.as_bytes(), TEXT_CAP), frame);
        if !ok {
            s.ignore(Dir::ToClient);
            s.ignore(Dir::ToServer);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    /// samples/rdp-tls.pcap frame 4 (xfreerdp: cookie, RDP_NEG_REQ PROTOCOL_SSL) and
    /// frame 6 (xrdp: RDP_NEG_RSP selecting PROTOCOL_SSL).
    const REQUEST: &[u8] = b"\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00Cookie: mstshash=nobody\r\n\x01\x00\x08\x00\x01\x00\x00\x00";
    const CONFIRM: &[u8] = &[
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x01, 0x08, 0x00,
        0x01, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn negotiation_selects_tls() {
        let script: &[(Dir, &[u8], FrameNo)] =
            &[(C, REQUEST, 4), (S, CONFIRM, 6), (C, CH, 8), (S, SH, 9)];
        let o = check(3389, script);
        assert_eq!(o.switch_at, [Some(REQUEST.len()), Some(CONFIRM.len())]);
        let t = starttls(&o);
        assert_eq!(
            (t.protocol, t.result, t.command_frame, t.response_frame),
            (AppProtocol::Rdp, StartTlsResult::Ok, 4, Some(6))
        );
        assert_eq!(t.response.as_deref(), Some("selected PROTOCOL_SSL"));
        assert_eq!(o.facts.via, Some(Via::StartTls(AppProtocol::Rdp)));
        assert_eq!(o.facts.client_protocol, Some(AppProtocol::Rdp));
        // Detected by content on another port too.
        assert_eq!(check(13389, script).switch_at, o.switch_at);
    }

    #[test]
    fn failure_and_standard_security_are_refusals() {
        let mut failure = CONFIRM.to_vec();
        failure[11] = TYPE_RDP_NEG_FAILURE;
        failure[15] = 2; // SSL_NOT_ALLOWED_BY_SERVER
        let o = check(3389, &[(C, REQUEST, 1), (S, &failure, 2)]);
        let t = starttls(&o);
        assert_eq!(t.result, StartTlsResult::Refused);
        assert_eq!(
            t.response.as_deref(),
            Some("negotiation failure SSL_NOT_ALLOWED_BY_SERVER")
        );
        let mut rdp = CONFIRM.to_vec();
        rdp[15] = 0;
        let o = check(3389, &[(C, REQUEST, 1), (S, &rdp, 2)]);
        assert_eq!(starttls(&o).result, StartTlsResult::Refused);
        assert_eq!(o.switch_at, [None, None]);
    }

    #[test]
    fn garbage_tpkt_stays_cleartext() {
        assert_eq!(tpkt_len(&[3, 0, 0, 2]), Err(()));
        assert_eq!(tpkt_len(&[3, 1]), Err(()));
        assert_eq!(tpkt_len(&[3]), Ok(None));
        let o = check(3389, &[(C, &[3, 0, 0, 0x0b, 6, 0xe0, 0, 0, 0, 0, 0], 1)]);
        assert!(o.facts.starttls.is_none());
        assert!(x224(&[3, 0, 0, 5, 200], X224_CONNECTION_REQUEST).is_none());
    }
}
