//! A direction's AEAD key and IV, on ring (AES-128/256-GCM, ChaCha20-Poly1305).

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};

use super::OpenError;

/// The AEAD algorithms we decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl Algorithm {
    pub fn key_len(self) -> usize {
        match self {
            Algorithm::Aes128Gcm => 16,
            Algorithm::Aes256Gcm | Algorithm::ChaCha20Poly1305 => 32,
        }
    }

    fn ring(self) -> &'static aead::Algorithm {
        match self {
            Algorithm::Aes128Gcm => &aead::AES_128_GCM,
            Algorithm::Aes256Gcm => &aead::AES_256_GCM,
            Algorithm::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }
}

/// Length of every supported AEAD's tag.
pub const TAG_LEN: usize = 16;

/// A key and the 12-byte IV (TLS 1.3, TLS 1.2 ChaCha20) or 4-byte salt (TLS 1.2 GCM,
/// kept in the first 4 bytes).
#[derive(Clone)]
pub struct Aead {
    key: LessSafeKey,
    pub(super) iv: [u8; 12],
    pub(super) algorithm: Algorithm,
}

impl std::fmt::Debug for Aead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Aead({:?}, key redacted)", self.algorithm)
    }
}

impl Aead {
    pub fn new(algorithm: Algorithm, key: &[u8], iv: &[u8]) -> Option<Self> {
        let key = LessSafeKey::new(UnboundKey::new(algorithm.ring(), key).ok()?);
        let mut full = [0u8; 12];
        full.get_mut(..iv.len())?.copy_from_slice(iv);
        Some(Aead {
            key,
            iv: full,
            algorithm,
        })
    }

    /// `iv` XOR the big-endian sequence number (RFC 8446 5.3, RFC 7905).
    pub fn xor_nonce(&self, seq: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// Decrypts `ciphertext || tag` into `out` (cleared first); verifies the tag.
    pub fn open(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), OpenError> {
        if ciphertext.len() < TAG_LEN {
            return Err(OpenError::Malformed("record shorter than its AEAD tag"));
        }
        out.clear();
        out.extend_from_slice(ciphertext);
        let plain = self
            .key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), out)
            .map_err(|_| OpenError::Authentication)?
            .len();
        out.truncate(plain);
        Ok(())
    }
}
