//! IMAP (RFC 9051): `STARTTLS`, `LOGIN` and `AUTHENTICATE`. Commands are tagged, and
//! the answer to `STARTTLS` is the tagged status line that repeats its tag.

use super::lines::{escape_bytes, token_end, tokens};
use super::session::{PendingKey, Session};
use super::{sasl, AppProtocol, Upgrade, TEXT_CAP};
use crate::model::{Dir, FrameNo};

/// Commands a client plausibly opens a session with (detection only).
const COMMANDS: &[&[u8]] = &[
    b"CAPABILITY",
    b"LOGIN",
    b"AUTHENTICATE",
    b"STARTTLS",
    b"NOOP",
    b"LOGOUT",
    b"ID",
    b"ENABLE",
    b"SELECT",
    b"EXAMINE",
    b"LIST",
    b"LSUB",
    b"STATUS",
    b"NAMESPACE",
];

/// `<tag> <COMMAND> ...` with a known IMAP command; returns (tag, command).
pub(super) fn command(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut it = line.splitn(3, |&c| c == b' ');
    let tag = it.next()?;
    let cmd = it.next()?;
    // RFC 9051 tag: printable, without the atom-specials `(){%*"\` and without `+`.
    let tag_ok = !tag.is_empty()
        && tag.len() <= 32
        && tag
            .iter()
            .all(|&c| c.is_ascii_graphic() && !b"(){%*\"\\+".contains(&c));
    if !tag_ok {
        return None;
    }
    COMMANDS
        .iter()
        .any(|c| cmd.eq_ignore_ascii_case(c))
        .then_some((tag, cmd))
}

/// IMAP literal announced at the end of a line: `{n}` or `{n+}`.
fn literal(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&c| c == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// IMAP keeps no state of its own: the tag of a pending `STARTTLS` is its [`PendingKey`].
#[derive(Debug, Default)]
pub(super) struct Imap;

impl Upgrade for Imap {
    fn client(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) {
        // A literal's bytes are data (a password, a message), never a command.
        if let Some(len) = literal(line) {
            s.skip(Dir::ToServer, len);
        }
        let Some((tag, cmd)) = command(line) else {
            return;
        };
        let c = Dir::ToServer;
        if cmd.eq_ignore_ascii_case(b"STARTTLS") {
            s.start_upgrade(AppProtocol::Imap, PendingKey::ImapTag(tag.to_vec()), frame);
        } else if cmd.eq_ignore_ascii_case(b"LOGIN") {
            s.credential("LOGIN", frame, c, token_end(line, 1));
        } else if cmd.eq_ignore_ascii_case(b"AUTHENTICATE") {
            let mech = tokens(line).nth(2).unwrap_or(b"");
            sasl::credential(s, "AUTHENTICATE", mech, frame, token_end(line, 2));
        }
    }

    fn server(&mut self, s: &mut Session, line: &[u8], frame: FrameNo) -> bool {
        let Some(PendingKey::ImapTag(tag)) = s.pending.clone() else {
            return false;
        };
        let resp = || escape_bytes(line, TEXT_CAP);
        // The server hangs up instead of answering.
        if line.starts_with(b"* BYE") {
            return s.answer_upgrade(false, resp(), frame);
        }
        let mut t = tokens(line);
        if t.next() != Some(&tag[..]) {
            return false;
        }
        let status = t.next().unwrap_or(b"");
        s.answer_upgrade(status.eq_ignore_ascii_case(b"OK"), resp(), frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleartext::tests::*;

    #[test]
    fn imap_starttls_ok_and_refused() {
        let ok: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n", 1),
            (C, b"a1 CAPABILITY\r\n", 2),
            (S, b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n", 3),
            (C, b"a2 STARTTLS\r\n", 4),
            (S, b"* NOTE hi\r\na2 OK Begin TLS negotiation now\r\n", 5),
            (C, CH, 6),
        ];
        let o = check(143, ok);
        let s = starttls(&o);
        assert_eq!(
            (s.protocol, s.result),
            (AppProtocol::Imap, StartTlsResult::Ok)
        );
        assert_eq!(
            s.response.as_deref(),
            Some("a2 OK Begin TLS negotiation now")
        );
        assert_eq!(o.switch_at[1], Some(stream_len(ok, S, 6)));
        assert_eq!(o.switch_at[0], Some(stream_len(ok, C, 6)));
        for answer in [&b"a2 NO not now\r\n"[..], b"a2 BAD unknown command\r\n"] {
            let script: &[(Dir, &[u8], FrameNo)] = &[
                (S, b"* OK ready\r\n", 1),
                (C, b"a2 STARTTLS\r\n", 2),
                (S, answer, 3),
                (C, b"a3 LOGIN bob hunter2\r\n", 4),
            ];
            let o = check(143, script);
            assert_eq!(starttls(&o).result, StartTlsResult::Refused);
            assert_eq!(o.switch_at, [None, None]);
            assert_eq!(mechs(&o), vec![(AppProtocol::Imap, "LOGIN", 4)]);
            assert_no_secret(&o, &["hunter2"]);
        }
    }

    #[test]
    fn imap_credentials() {
        let script: &[(Dir, &[u8], FrameNo)] = &[
            (S, b"* OK ready\r\n", 1),
            (C, b"a1 login bob {7}\r\n", 2),
            (C, b"hunter2 x STARTTLS\r\n", 3),
            (C, b"a2 AUTHENTICATE PLAIN AGJvYgBodW50ZXIy\r\n", 4),
            (C, b"a3 AUTHENTICATE GSSAPI\r\n", 5),
        ];
        let o = check(143, script);
        assert_eq!(
            mechs(&o),
            vec![
                (AppProtocol::Imap, "LOGIN", 2),
                (AppProtocol::Imap, "AUTHENTICATE PLAIN", 4)
            ]
        );
        // The literal is skipped, so its content is not taken for a command.
        assert!(o.facts.starttls.is_none());
        assert_no_secret(&o, &["hunter2", "AGJvYgBodW50ZXIy"]);
    }
}
