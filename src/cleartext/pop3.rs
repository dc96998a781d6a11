//! POP3 (RFC 1939): `STLS` (RFC 2595), `USER`/`PASS`, `APOP` and `AUTH` (RFC 5034).

use super::lines::{is_verb, token_end, tokens};
use super::session::{PendingKey, Session};
use super::{sasl, AppProtocol, Upgrade};
use crate::model::{Dir, FrameNo};

/// POP3 keeps no state of its own: the reply count and the `USER` mark are the
/// [`Dialogue`](super::lines::Dialogue) it shares with SMTP and FTP.
#[derive(Debug, Default)]
pub(super) struct Pop3;

impl Upgrade for Pop3 {
    fn client(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) {
        let n = s.dialogue.command();
        let verb_is = |v: &str| is_verb(line, v.as_bytes());
        let c = Dir::ToServer;
        if verb_is("STLS") {
            s.start_upgrade(AppProtocol::Pop3, PendingKey::Reply(n), frame);
        } else if verb_is("USER") {
            // POP3 has no anonymous login.
            s.dialogue.user(false);
        } else if verb_is("PASS") {
            if !s.dialogue.anonymous() {
                s.credential("USER/PASS", frame, c, token_end(line, 0));
            }
        } else if verb_is("APOP") {
            s.credential("APOP", frame, c, token_end(line, 0));
        } else if verb_is("AUTH") {
            let mech = tokens(line).nth(1).unwrap_or(b"");
            sasl::credential(s, "AUTH", mech, frame, token_end(line, 1));
        }
    }

    fn server(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) -> bool {
        // `+` alone starts a SASL challenge, which is a reply too.
        if !(line.starts_with(b"+") || line.starts_with(b"-ERR")) {
            return false;
        }
        s.counted_reply(line.starts_with(b"+OK"), line, frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    #[test]
    fn pop3_stls_ok_and_refused() {
        for (answer, result) in [
            (&b"+OK Begin TLS\r\n"[..], StartTlsResult::Ok),
            (b"-ERR not supported\r\n", StartTlsResult::Refused),
        ] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (S, b"+OK POP3 ready\r\n", 1),
                (C, b"CAPA\r\n", 2),
                (S, b"+OK\r\nSTLS\r\nUSER\r\n.\r\n", 3),
                (C, b"STLS\r\n", 4),
                (S, answer, 5),
                (C, CH, 6),
            ];
            let o = check(110, script);
            let s = starttls(&o);
            assert_eq!((s.protocol, s.result), (AppProtocol::Pop3, result));
            assert_eq!(s.response_frame, Some(5));
            let ok = result == StartTlsResult::Ok;
            assert_eq!(o.switch_at[1].is_some(), ok);
            // Even after a refusal a ClientHello is not mistaken for text,
            // but it is not sniffed for either: only an accepted upgrade switches.
            assert_eq!(o.switch_at[0], ok.then_some(12));
        }
    }

    #[test]
    fn pop3_credentials() {
        let pop: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"+OK ready <1.2@h>\r\n", 1),
            (C, b"USER bob\r\n", 2),
            (S, b"+OK\r\n", 3),
            (C, b"PASS hunter2\r\n", 4),
            (S, b"-ERR\r\n", 5),
            (C, b"APOP bob c4c9334bac560ecc979e58001b3e22fb\r\n", 6),
            (C, b"AUTH PLAIN\r\n", 7),
        ];
        let o = check(110, pop);
        assert_eq!(
            mechs(&o),
            vec![
                (AppProtocol::Pop3, "USER/PASS", 4),
                (AppProtocol::Pop3, "APOP", 6),
                (AppProtocol::Pop3, "AUTH PLAIN", 7)
            ]
        );
        assert_no_secret(&o, &["hunter2", "c4c9334bac"]);
    }
}
