//! IRC: `STARTTLS` (IRCv3 tls extension), `PASS`, `OPER` and SASL `AUTHENTICATE`.

use super::lines::{escape_bytes, is_verb, token_end, tokens};
use super::session::{PendingKey, Session};
use super::{sasl, AppProtocol, Upgrade, TEXT_CAP};
use crate::model::{Dir, FrameNo};

/// RPL_STARTTLS: the server is ready for the handshake.
const RPL_STARTTLS: &[u8] = b"670";
/// ERR_STARTTLS: the upgrade failed.
const ERR_STARTTLS: &[u8] = b"691";
/// ERR_UNKNOWNCOMMAND, which a server without the extension answers.
const ERR_UNKNOWNCOMMAND: &[u8] = b"421";

/// `:<prefix> NOTICE ...` or `:<prefix> <3-digit numeric> ...` (detection only).
pub(super) fn numeric_or_notice(line: &[u8]) -> bool {
    let mut t = tokens(line).skip(1);
    match t.next() {
        Some(cmd) => cmd == b"NOTICE" || (cmd.len() == 3 && cmd.iter().all(u8::is_ascii_digit)),
        None => false,
    }
}

#[derive(Debug, Default)]
pub(super) struct Irc;

impl Upgrade for Irc {
    fn client(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) {
        let verb_is = |v: &str| is_verb(line, v.as_bytes());
        let c = Dir::ToServer;
        if verb_is("STARTTLS") {
            s.start_upgrade(AppProtocol::Irc, PendingKey::Next, frame);
        } else if verb_is("PASS") {
            s.credential("PASS", frame, c, token_end(line, 0));
        } else if verb_is("OPER") {
            s.credential("OPER", frame, c, token_end(line, 0));
        } else if verb_is("AUTHENTICATE") {
            let mech = tokens(line).nth(1).unwrap_or(b"");
            sasl::credential(s, "AUTHENTICATE", mech, frame, token_end(line, 1));
        }
    }

    fn server(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) -> bool {
        let resp = || escape_bytes(line, TEXT_CAP);
        let mut t = tokens(line);
        if line.starts_with(b":") {
            t.next();
        }
        match t.next() {
            Some(RPL_STARTTLS) => s.answer_upgrade(true, resp(), frame),
            Some(ERR_STARTTLS) => s.answer_upgrade(false, resp(), frame),
            Some(ERR_UNKNOWNCOMMAND) if line.windows(8).any(|w| w == b"STARTTLS") => {
                s.answer_upgrade(false, resp(), frame)
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
    fn irc_starttls_ok_and_refused() {
        for (answer, result) in [
            (
                &b":irc.example 670 bob :STARTTLS successful, go ahead\r\n"[..],
                StartTlsResult::Ok,
            ),
            (
                b":irc.example 691 bob :STARTTLS failed\r\n",
                StartTlsResult::Refused,
            ),
        ] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (C, b"STARTTLS\r\n", 1),
                (
                    S,
                    b":irc.example NOTICE * :*** Looking up your hostname\r\n",
                    2,
                ),
                (S, answer, 3),
                (C, CH, 4),
            ];
            let o = check(6667, script);
            let s = starttls(&o);
            assert_eq!((s.protocol, s.result), (AppProtocol::Irc, result));
            assert_eq!(o.facts.server_protocol, Some(AppProtocol::Irc));
            assert_eq!(o.switch_at[1].is_some(), result == StartTlsResult::Ok);
        }
    }

    #[test]
    fn irc_credentials() {
        let irc: &[(Dir, &[u8], FrameNo)] = &[
            (C, b"PASS hunter2\r\nNICK bob\r\nUSER bob 0 * :Bob\r\n", 1),
            (
                C,
                b"AUTHENTICATE PLAIN\r\nAUTHENTICATE Ym9iAGJvYgBodW50ZXIy\r\n",
                2,
            ),
        ];
        let o = check(6667, irc);
        assert_eq!(
            mechs(&o),
            vec![
                (AppProtocol::Irc, "PASS", 1),
                (AppProtocol::Irc, "AUTHENTICATE PLAIN", 2)
            ]
        );
        assert_no_secret(&o, &["hunter2", "Ym9iAGJvYgBodW50ZXIy"]);
    }
}
