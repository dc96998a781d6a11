//! TLS 1.3: traffic keys from the logged traffic secrets (RFC 8446 7.3), per-record nonces,
//! and TLSInnerPlaintext unwrapping (content, real type, zero padding: 5.2, 5.4).

use super::aead::{Aead, Algorithm};
use super::keys::{hkdf_expand_label, Hash};
use super::{OpenError, Opened};
use crate::keylog::{Secret, SessionSecrets};
use crate::model::Dir;

/// The suite's algorithms and the application traffic secrets still to use.
#[derive(Debug, Clone)]
pub struct Schedule {
    hash: Hash,
    algorithm: Algorithm,
    /// Indexed by `Dir::index()` (client's, then server's); replaced at each KeyUpdate.
    application: [Option<Secret>; 2],
}

/// TLS 1.3 suites we decrypt (RFC 8446 B.4): all five.
fn suite(cipher: u16) -> Option<(Hash, Algorithm)> {
    match cipher {
        0x1301 => Some((Hash::Sha256, Algorithm::Aes128Gcm)),
        0x1302 => Some((Hash::Sha384, Algorithm::Aes256Gcm)),
        0x1303 => Some((Hash::Sha256, Algorithm::ChaCha20Poly1305)),
        0x1304 => Some((Hash::Sha256, Algorithm::Aes128Ccm)),
        0x1305 => Some((Hash::Sha256, Algorithm::Aes128Ccm8)),
        _ => None,
    }
}

impl Schedule {
    /// The schedule and the handshake keys of the client and the server.
    pub fn new(
        cipher: u16,
        secrets: &SessionSecrets,
    ) -> Option<(Schedule, Option<Aead>, Option<Aead>)> {
        let (hash, algorithm) = suite(cipher)?;
        let schedule = Schedule {
            hash,
            algorithm,
            application: [secrets.client_traffic_0, secrets.server_traffic_0],
        };
        let client = secrets
            .client_handshake
            .and_then(|s| schedule.keys(s.as_bytes()));
        let server = secrets
            .server_handshake
            .and_then(|s| schedule.keys(s.as_bytes()));
        if client.is_none() && server.is_none() {
            return None;
        }
        Some((schedule, client, server))
    }

    /// key = HKDF-Expand-Label(secret, "key", "", key length), iv = ... "iv" ... 12.
    fn keys(&self, secret: &[u8]) -> Option<Aead> {
        if secret.len() != self.hash.len() {
            return None;
        }
        let mut key = [0u8; 32];
        let key = &mut key[..self.algorithm.key_len()];
        hkdf_expand_label(self.hash, secret, b"key", b"", key).ok()?;
        let mut iv = [0u8; 12];
        hkdf_expand_label(self.hash, secret, b"iv", b"", &mut iv).ok()?;
        Aead::new(self.algorithm, key, &iv)
    }

    /// The application keys of `dir`'s sender, once; `None` when not logged.
    pub fn application(&mut self, dir: Dir) -> Option<Aead> {
        let secret = self.application[dir.index()]?;
        self.keys(secret.as_bytes())
    }

    /// application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length)
    pub fn update(&mut self, dir: Dir) -> Option<Aead> {
        let current = self.application[dir.index()]?;
        let mut next = [0u8; 48];
        let next = &mut next[..self.hash.len()];
        hkdf_expand_label(self.hash, current.as_bytes(), b"traffic upd", b"", next).ok()?;
        let secret = Secret::new(next)?;
        self.application[dir.index()] = Some(secret);
        self.keys(secret.as_bytes())
    }
}

/// Opens a TLSCiphertext: the header is the additional data, the nonce the IV XOR the
/// sequence number; the content type is the last non-zero byte of the plaintext.
pub fn open(
    aead: &Aead,
    seq: u64,
    header: &[u8; 5],
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<Opened, OpenError> {
    aead.open(aead.xor_nonce(seq), header, body, out)?;
    let Some(last) = out.iter().rposition(|&b| b != 0) else {
        return Err(OpenError::Malformed("no content type after the padding"));
    };
    let content_type = out[last];
    out.truncate(last);
    Ok(Opened {
        content_type,
        len: last,
    })
}
