//! FTP (RFC 959): `AUTH TLS` (RFC 4217) and `USER`/`PASS`.

use super::lines::{is_verb, reply_code, token_end, tokens};
use super::session::{PendingKey, Session};
use super::{AppProtocol, Upgrade};
use crate::model::{Dir, FrameNo};

/// "Security data exchange complete", the positive answer to `AUTH TLS`.
const AUTH_OK: u16 = 234;

/// `AUTH` arguments that ask for TLS: RFC 4217's `TLS`, and the older `SSL`,
/// `TLS-C` and `TLS-P` of its drafts.
pub(super) fn is_tls_mechanism(arg: &[u8]) -> bool {
    [&b"TLS"[..], b"SSL", b"TLS-C", b"TLS-P"]
        .iter()
        .any(|m| arg.eq_ignore_ascii_case(m))
}

/// FTP keeps no state of its own: the reply count and the anonymous-`USER` mark
/// are the [`Dialogue`](super::lines::Dialogue) it shares with SMTP and POP3.
#[derive(Debug, Default)]
pub(super) struct Ftp;

impl Upgrade for Ftp {
    fn client(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) {
        let n = s.dialogue.command();
        let verb_is = |v: &str| is_verb(line, v.as_bytes());
        let arg = tokens(line).nth(1).unwrap_or(b"");
        if verb_is("AUTH") && is_tls_mechanism(arg) {
            s.start_upgrade(AppProtocol::Ftp, PendingKey::Reply(n), frame);
        } else if verb_is("USER") {
            // Anonymous FTP asks for an e-mail address as the password.
            let anonymous =
                arg.eq_ignore_ascii_case(b"anonymous") || arg.eq_ignore_ascii_case(b"ftp");
            s.dialogue.user(anonymous);
        } else if verb_is("PASS") && !s.dialogue.anonymous() {
            s.credential("USER/PASS", frame, Dir::ToServer, token_end(line, 0));
        }
    }

    fn server(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) -> bool {
        match reply_code(line) {
            Some((code, true)) if code >= 200 => s.counted_reply(code == AUTH_OK, line, frame),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    #[test]
    fn ftp_auth_tls_ok_and_refused() {
        for (answer, result) in [
            (
                &b"234 Proceed with negotiation.\r\n"[..],
                StartTlsResult::Ok,
            ),
            (
                b"504 Security mechanism not understood\r\n",
                StartTlsResult::Refused,
            ),
        ] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (S, b"220 (vsFTPd 3.0.5)\r\n", 1),
                (C, b"FEAT\r\n", 2),
                (S, b"211-Features:\r\n AUTH TLS\r\n PBSZ\r\n211 End\r\n", 3),
                (C, b"AUTH TLS\r\n", 4),
                (S, answer, 5),
                (C, CH, 6),
            ];
            let o = check(21, script);
            let s = starttls(&o);
            assert_eq!((s.protocol, s.result), (AppProtocol::Ftp, result));
            assert_eq!(o.switch_at[1].is_some(), result == StartTlsResult::Ok);
            assert_eq!(o.facts.server_protocol, Some(AppProtocol::Ftp));
        }
    }

    #[test]
    fn ftp_credentials() {
        let ftp: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 FTP ready\r\n", 1),
            (C, b"USER bob\r\n", 2),
            (S, b"331 pw\r\n", 3),
            (C, b"PASS hunter2\r\n", 4),
            (S, b"230 ok\r\n", 5),
        ];
        let o = check(21, ftp);
        assert_eq!(mechs(&o), vec![(AppProtocol::Ftp, "USER/PASS", 4)]);
        assert_no_secret(&o, &["hunter2"]);

        let anon: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"220 FTP ready\r\n", 1),
            (C, b"USER anonymous\r\nPASS me@example.org\r\n", 2),
        ];
        assert!(check(21, anon).facts.credentials.is_empty());
    }
}
