//! SASL mechanism names, as named by SMTP/POP3 `AUTH`, IMAP/IRC `AUTHENTICATE`,
//! XMPP `<auth mechanism=...>` and an LDAP SASL bind.

use super::session::Session;
use crate::model::{Dir, FrameNo};

/// Canonical SASL mechanism name for a client token, if it is one we know.
/// Returning a static string keeps client bytes out of `Credential::mechanism`.
fn mechanism(tok: &[u8]) -> Option<&'static str> {
    const MECHS: &[&str] = &[
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "DIGEST-MD5",
        "NTLM",
        "XOAUTH2",
        "OAUTHBEARER",
        "SCRAM-SHA-1",
        "SCRAM-SHA-1-PLUS",
        "SCRAM-SHA-256",
        "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-512",
        "SCRAM-SHA-512-PLUS",
        "GSSAPI",
        "EXTERNAL",
        "ANONYMOUS",
    ];
    MECHS
        .iter()
        .find(|m| tok.eq_ignore_ascii_case(m.as_bytes()))
        .copied()
}

/// Mechanisms that carry no password-equivalent are not worth a finding.
fn carries_secret(m: &str) -> bool {
    !matches!(m, "GSSAPI" | "EXTERNAL" | "ANONYMOUS")
}

/// Records a client SASL exchange as `"{prefix} {MECH}"`; see [`Session::credential`] for `keep`.
pub(super) fn credential(s: &mut Session, prefix: &str, mech: &[u8], frame: FrameNo, keep: usize) {
    if let Some(m) = mechanism(mech) {
        if carries_secret(m) {
            s.credential(&format!("{prefix} {m}"), frame, Dir::ToServer, keep);
        }
    }
}
