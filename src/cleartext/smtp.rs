//! SMTP (RFC 5321): `STARTTLS` (RFC 3207) and `AUTH` (RFC 4954).

use super::lines::{is_verb, reply_code, token_end, tokens};
use super::session::{PendingKey, Session};
use super::{sasl, AppProtocol, Upgrade};
use crate::model::{Dir, FrameNo};

/// "Ready to start TLS", the only positive answer to STARTTLS.
const READY_TO_START_TLS: u16 = 220;

#[derive(Debug, Default)]
pub(super) struct Smtp {
    /// Inside a `DATA` body: its lines are mail, not commands, until a lone `.`.
    data: bool,
}

impl Upgrade for Smtp {
    fn client(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) {
        if self.data {
            if line == b"." {
                self.data = false;
                s.dialogue.command();
            }
            return;
        }
        // Every line, SASL continuations included, gets one reply.
        let n = s.dialogue.command();
        let verb_is = |v: &str| is_verb(line, v.as_bytes());
        let arg = tokens(line).nth(1).unwrap_or(b"");
        if verb_is("STARTTLS") {
            s.start_upgrade(AppProtocol::Smtp, PendingKey::Reply(n), frame);
        } else if verb_is("AUTH") {
            sasl::credential(s, "AUTH", arg, frame, token_end(line, 1));
        } else if verb_is("DATA") {
            self.data = true;
        } else if verb_is("BDAT") {
            // BDAT <size>: that many bytes of mail follow the line.
            let n = std::str::from_utf8(arg)
                .ok()
                .and_then(|s| s.parse::<usize>().ok());
            s.skip(Dir::ToServer, n.unwrap_or(0));
        }
    }

    fn server(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) -> bool {
        match reply_code(line) {
            Some((code, true)) if code >= 200 => {
                s.counted_reply(code == READY_TO_START_TLS, line, frame)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    #[test]
    fn smtp_starttls_ok() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 mx.example ESMTP Postfix\r\n", 4),
            (C, b"EHLO me.example\r\n", 6),
            (S, b"250-mx.example\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n", 8),
            (C, b"STARTTLS\r\n", 10),
            (S, b"220 2.0.0 Ready to start TLS\r\n", 12),
            (C, CH, 14),
            (S, SH, 15),
        ];
        let o = check(25, script);
        let s = starttls(&o);
        assert_eq!(s.protocol, AppProtocol::Smtp);
        assert_eq!(s.result, StartTlsResult::Ok);
        assert_eq!((s.command_frame, s.response_frame), (10, Some(12)));
        assert_eq!(s.response.as_deref(), Some("220 2.0.0 Ready to start TLS"));
        assert_eq!(o.facts.via, Some(Via::StartTls(AppProtocol::Smtp)));
        assert_eq!(o.facts.client_protocol, Some(AppProtocol::Smtp));
        assert_eq!(o.facts.server_protocol, Some(AppProtocol::Smtp));
        assert_eq!(
            o.switch_at,
            [
                Some(stream_len(script, C, 14)),
                Some(stream_len(script, S, 15))
            ]
        );
        assert_eq!(
            o.facts.client_first_bytes,
            Some(("EHLO me.example\\r\\nSTARTTLS\\r\\n".to_string(), 6))
        );
        assert!(o.facts.credentials.is_empty());
    }

    #[test]
    fn smtp_starttls_answer_behind_pipelined_replies() {
        // A client that pipelines EHLO and STARTTLS: the 250 reply is not the answer.
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 mx ESMTP\r\n", 1),
            (C, b"EHLO a\r\nSTARTTLS\r\n", 2),
            (S, b"250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n", 3),
            (C, CH, 4),
        ];
        let o = check(25, script);
        assert_eq!(starttls(&o).result, StartTlsResult::Ok);
        assert_eq!(o.switch_at, [Some(18), Some(14 + 36)]);
    }

    #[test]
    fn smtp_starttls_refused_then_cleartext_auth() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 mx ESMTP\r\n", 1),
            (C, b"EHLO a\r\n", 2),
            (S, b"250 mx\r\n", 3),
            (C, b"STARTTLS\r\n", 4),
            (
                S,
                b"454 4.7.0 TLS not available due to local problem\r\n",
                5,
            ),
            (C, b"AUTH LOGIN\r\n", 6),
            (S, b"334 VXNlcm5hbWU6\r\n", 7),
            (C, b"Ym9i\r\n", 8),
            (S, b"334 UGFzc3dvcmQ6\r\n", 9),
            (C, b"c3VwZXJzZWNyZXQ=\r\n", 10),
            (S, b"235 ok\r\n", 11),
        ];
        let o = check(587, script);
        let s = starttls(&o);
        assert_eq!(s.result, StartTlsResult::Refused);
        assert_eq!(s.response_frame, Some(5));
        assert_eq!(o.facts.via, None);
        assert_eq!(o.switch_at, [None, None]);
        assert_eq!(mechs(&o), vec![(AppProtocol::Smtp, "AUTH LOGIN", 6)]);
        assert_no_secret(&o, &["c3VwZXJzZWNyZXQ", "supersecret", "Ym9i"]);
    }

    #[test]
    fn smtp_auth_mechanisms() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 mx ESMTP\r\n", 1),
            (C, b"EHLO a\r\n", 2),
            (S, b"250 AUTH PLAIN LOGIN CRAM-MD5\r\n", 3),
            (C, b"AUTH PLAIN AGJvYgBodW50ZXIy\r\n", 4),
            (S, b"535 no\r\n", 5),
            (C, b"AUTH CRAM-MD5\r\n", 6),
            (S, b"334 PDEyMzQ+\r\n", 7),
            (C, b"Ym9iIGRpZ2VzdA==\r\n", 8),
            (S, b"535 no\r\n", 9),
            (C, b"AUTH EXTERNAL =\r\n", 10),
            (C, b"AUTH hunter2\r\n", 11),
            (C, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", 12),
            (C, b"AUTH PLAIN in the body is not a command\r\n.\r\n", 13),
            (C, b"STARTTLS\r\n", 14),
        ];
        let o = check(25, script);
        assert_eq!(
            mechs(&o),
            vec![
                (AppProtocol::Smtp, "AUTH PLAIN", 4),
                (AppProtocol::Smtp, "AUTH CRAM-MD5", 6)
            ]
        );
        assert_no_secret(&o, &["AGJvYgBodW50ZXIy", "hunter2", "Ym9iIGRpZ2VzdA"]);
        assert_eq!(starttls(&o).result, StartTlsResult::Pending);
    }
}
