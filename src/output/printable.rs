//! Text from the wire (SNI, certificate names, first bytes) made safe for a terminal or a
//! page: control characters and the Unicode bidirectional controls, which can rewrite what a
//! terminal shows or reorder what a reader sees, are written as `\u{..}` escapes.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal or a page as itself.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character (newlines and tabs included) escaped.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bidi_overrides_and_keeps_the_rest() {
        assert!(matches!(printable("www.example.com"), Cow::Borrowed(_)));
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("x\r\ny"), "x\\u{d}\\u{a}y");
        assert_eq!(printable("moc.\u{202e}evil"), "moc.\\u{202e}evil");
        assert_eq!(printable("é ü 日本"), "é ü 日本");
    }
}
