//! PostgreSQL: the client's 8-byte SSLRequest answered by one byte, `S` (TLS
//! follows) or `N`. A GSSENCRequest is answered the same way and may precede it.

use std::ops::RangeInclusive;

use super::lines::escape_bytes;
use super::session::{PendingKey, Session};
use super::{AppProtocol, Upgrade, TEXT_CAP};
use crate::model::{Dir, FrameNo};

/// SSLRequest: length 8, request code 80877103 (1234 in the high 16 bits, 5679 in the low).
pub(super) const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
/// GSSENCRequest: length 8, request code 80877104 (1234, 5680).
pub(super) const GSSENC_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];
/// Shared by the request codes 80877102..=80877104 (CancelRequest, SSLRequest, GSSENCRequest).
const REQUEST_CODE_PREFIX: [u8; 3] = [0x04, 0xd2, 0x16];
/// StartupMessage protocol version 3.0 (196608).
const PROTOCOL_3_0: [u8; 4] = [0, 3, 0, 0];
/// Lengths accepted for a client's untyped first message: an SSLRequest is 8 bytes, and
/// a StartupMessage of a few parameters is far below 10000.
pub(super) const CLIENT_MESSAGE_LEN: RangeInclusive<u32> = 8..=10_000;

/// A client's first message: length then a request code or protocol version (detection).
pub(super) fn untyped_message_start(first: &[u8]) -> bool {
    if first.len() < 8 || first[..2] != [0, 0] {
        return false;
    }
    let len = u32::from_be_bytes([first[0], first[1], first[2], first[3]]);
    let code = &first[4..8];
    CLIENT_MESSAGE_LEN.contains(&len) && (code == PROTOCOL_3_0 || code[..3] == REQUEST_CODE_PREFIX)
}

/// A one-byte answer to an SSLRequest, which no banner check would recognise.
pub(super) fn answer_seen(client_head: &[u8], server_head: &[u8]) -> bool {
    client_head.starts_with(&SSL_REQUEST) && matches!(server_head.first(), Some(b'S' | b'N'))
}

#[derive(Debug, Default)]
pub(super) struct Postgres {
    /// The client sent SSLRequest or GSSENCRequest and the server's byte is still owed.
    answer_owed: bool,
}

impl Upgrade for Postgres {
    fn client(&mut self, s: &mut Session, msg: &[u8], frame: FrameNo) {
        if msg == SSL_REQUEST {
            s.start_upgrade(AppProtocol::Postgres, PendingKey::Next, frame);
            self.answer_owed = true;
        } else if msg == GSSENC_REQUEST {
            // The server answers with one byte; a refusal may be followed by SSLRequest.
            self.answer_owed = true;
        } else {
            // StartupMessage: the regular (typed) protocol follows; not parsed.
            s.ignore(Dir::ToServer);
        }
    }

    fn server(&mut self, s: &mut Session, byte: &[u8], frame: FrameNo) -> bool {
        if !self.answer_owed {
            s.ignore(Dir::ToClient);
            return false;
        }
        self.answer_owed = false;
        let is_ssl = s.pending.is_some()
            && s.facts
                .starttls
                .as_ref()
                .is_some_and(|t| t.protocol == AppProtocol::Postgres);
        if !is_ssl {
            // Answer to GSSENCRequest; keep listening for an SSLRequest answer.
            return false;
        }
        // This byte is what identifies the server (see `answer_seen`).
        s.refresh_detection();
        let resp = escape_bytes(byte, TEXT_CAP);
        let ok = s.answer_upgrade(byte == b"S", resp, frame);
        if !ok {
            s.ignore(Dir::ToClient);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    #[test]
    fn postgres_sslrequest_ok_and_refused() {
        let ok: &[(Dir, &[u8], FrameNo)] = &[(C, &SSL_REQUEST, 4), (S, b"S", 6), (C, CH, 8)];
        let o = check(5432, ok);
        let s = starttls(&o);
        assert_eq!(
            (s.protocol, s.result),
            (AppProtocol::Postgres, StartTlsResult::Ok)
        );
        assert_eq!(o.switch_at, [Some(8), Some(1)]);
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Postgres));
        assert_eq!(o.facts.via, Some(Via::StartTls(AppProtocol::Postgres)));

        let startup = [0, 0, 0, 0x0d, 0, 3, 0, 0, b'u', 0, b'x', 0, 0];
        let refused: &[(Dir, &[u8], FrameNo)] = &[
            (C, &SSL_REQUEST, 4),
            (S, b"N", 6),
            (C, &startup, 8),
            (S, b"R\x00\x00\x00\x08\x00\x00\x00\x03", 9),
        ];
        let o = check(5432, refused);
        assert_eq!(starttls(&o).result, StartTlsResult::Refused);
        assert_eq!(o.switch_at, [None, None]);

        // GSSENCRequest refused, then SSLRequest accepted.
        let gss: &[(Dir, &[u8], FrameNo)] = &[
            (C, &GSSENC_REQUEST, 1),
            (S, b"N", 2),
            (C, &SSL_REQUEST, 3),
            (S, b"S", 4),
            (C, CH, 5),
        ];
        let o = check(5432, gss);
        assert_eq!(starttls(&o).result, StartTlsResult::Ok);
        assert_eq!(o.switch_at, [Some(16), Some(2)]);
    }
}
