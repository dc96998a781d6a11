//! Text helpers shared by the line-based protocols, and the command/reply count that
//! SMTP, POP3 and FTP use to find the answer to their upgrade command.

/// Escapes bytes for evidence: printable ASCII as is (a backslash too: text that is
/// already escaped, such as a server echoing `\x16\x03` back in an HTTP 400 page, reads as
/// it was sent instead of as `\\x16`), `\r` `\n` `\t`, everything else `\xNN`.
/// At most `max` input bytes are rendered.
pub fn escape_bytes(bytes: &[u8], max: usize) -> String {
    let bytes = &bytes[..bytes.len().min(max)];
    let mut s = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                s.push_str("\\x");
                s.push(char::from(HEX[usize::from(b >> 4)]));
                s.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
    s
}

pub(super) fn first_line(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == b'\n') {
        Some(p) => trim_eol(&b[..=p]),
        None => b,
    }
}

pub(super) fn trim_eol(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = b {
        b = rest;
    }
    b
}

pub(super) fn starts_with_ic(b: &[u8], prefix: &[u8]) -> bool {
    b.len() >= prefix.len() && b[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// A command verb: the whole line or followed by a space.
pub(super) fn is_verb(line: &[u8], verb: &[u8]) -> bool {
    starts_with_ic(line, verb) && (line.len() == verb.len() || line[verb.len()] == b' ')
}

pub(super) fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&c| c == b' ').filter(|t| !t.is_empty())
}

/// Byte offset just past the `n`th space-separated token (0-based), or the
/// line length when there are fewer tokens.
pub(super) fn token_end(line: &[u8], n: usize) -> usize {
    let mut seen = 0;
    let mut in_tok = false;
    for (i, &c) in line.iter().enumerate() {
        if c == b' ' {
            if in_tok {
                if seen == n {
                    return i;
                }
                seen += 1;
            }
            in_tok = false;
        } else {
            in_tok = true;
        }
    }
    line.len()
}

/// SMTP/FTP reply line: three digits then end, space or `-`. Returns (code, is_final).
pub(super) fn reply_code(line: &[u8]) -> Option<(u16, bool)> {
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = line[..3]
        .iter()
        .fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None | Some(b' ') => Some((code, true)),
        Some(b'-') => Some((code, false)),
        _ => None,
    }
}

/// SMTP, POP3 and FTP answer commands in order with one final reply each, so the
/// answer to the upgrade command is found by counting, even behind replies to
/// pipelined commands. One count serves all three (and so does the anonymous-login
/// mark of POP3/FTP `USER`) because detection may still move a connection from one
/// to another while its first bytes arrive.
#[derive(Debug, Default)]
pub(super) struct Dialogue {
    commands: u32,
    replies: u32,
    greeting_seen: bool,
    anonymous: bool,
}

impl Dialogue {
    /// Counts a client command; returns the number of the reply that answers it.
    pub(super) fn command(&mut self) -> u32 {
        self.commands += 1;
        self.commands
    }

    /// Counts a final reply; the greeting counts as reply 0 when it comes
    /// before any client command.
    pub(super) fn reply(&mut self) -> u32 {
        if !self.greeting_seen {
            self.greeting_seen = true;
            if self.commands == 0 {
                return 0;
            }
        }
        self.replies += 1;
        self.replies
    }

    /// `USER` was sent; `anonymous` when it named an account that needs no password.
    pub(super) fn user(&mut self, anonymous: bool) {
        self.anonymous = anonymous;
    }

    /// The last `USER` named an anonymous account, so its `PASS` is no secret.
    pub(super) fn anonymous(&self) -> bool {
        self.anonymous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_bytes(b"GET /\r\n\t", 64), "GET /\\r\\n\\t");
        assert_eq!(
            escape_bytes(&[0x16, 0x03, 0xff, b'a'], 64),
            "\\x16\\x03\\xffa"
        );
        assert_eq!(escape_bytes(b"a\\x00b", 64), "a\\x00b");
        assert_eq!(escape_bytes(b"abcdef", 3), "abc");
        assert_eq!(escape_bytes(b"", 3), "");
        assert_eq!(escape_bytes(&[0u8; 100], 64).len(), 64 * 4);
    }
}
