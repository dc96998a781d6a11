//! A direction's AEAD key and IV: AES-128/256-GCM and ChaCha20-Poly1305 on ring, AES-CCM
//! (16- and 8-byte tags) on RustCrypto's `ccm`, which ring lacks.

use aes::{Aes128, Aes256};
use ccm::aead::generic_array::GenericArray;
use ccm::aead::{AeadInPlace, KeyInit};
use ccm::consts::{U12, U16, U8};
use ccm::Ccm;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};

use super::OpenError;

/// The AEAD algorithms we decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    /// AES-CCM with a 16-byte tag (TLS 1.3 0x1304, TLS 1.2 *_AES_128_CCM / *_AES_256_CCM).
    Aes128Ccm,
    Aes256Ccm,
    /// AES-CCM with an 8-byte tag (TLS 1.3 0x1305, TLS 1.2 *_CCM_8).
    Aes128Ccm8,
    Aes256Ccm8,
}

impl Algorithm {
    pub fn key_len(self) -> usize {
        match self {
            Algorithm::Aes128Gcm | Algorithm::Aes128Ccm | Algorithm::Aes128Ccm8 => 16,
            Algorithm::Aes256Gcm
            | Algorithm::ChaCha20Poly1305
            | Algorithm::Aes256Ccm
            | Algorithm::Aes256Ccm8 => 32,
        }
    }

    pub fn tag_len(self) -> usize {
        match self {
            Algorithm::Aes128Ccm8 | Algorithm::Aes256Ccm8 => 8,
            _ => 16,
        }
    }

    /// TLS 1.2 builds the nonce from a 4-byte salt and the record's 8 explicit bytes
    /// (GCM, RFC 5288; CCM, RFC 6655), not from the sequence number (ChaCha20, RFC 7905).
    pub fn explicit_nonce(self) -> bool {
        !matches!(self, Algorithm::ChaCha20Poly1305)
    }
}

type Ccm128 = Ccm<Aes128, U16, U12>;
type Ccm256 = Ccm<Aes256, U16, U12>;
type Ccm128x8 = Ccm<Aes128, U8, U12>;
type Ccm256x8 = Ccm<Aes256, U8, U12>;

#[derive(Clone)]
enum Key {
    Ring(LessSafeKey),
    Ccm128(Ccm128),
    Ccm256(Ccm256),
    Ccm128x8(Ccm128x8),
    Ccm256x8(Ccm256x8),
}

impl Key {
    fn new(algorithm: Algorithm, key: &[u8]) -> Option<Key> {
        let ring = |alg| Some(Key::Ring(LessSafeKey::new(UnboundKey::new(alg, key).ok()?)));
        match algorithm {
            Algorithm::Aes128Gcm => ring(&aead::AES_128_GCM),
            Algorithm::Aes256Gcm => ring(&aead::AES_256_GCM),
            Algorithm::ChaCha20Poly1305 => ring(&aead::CHACHA20_POLY1305),
            Algorithm::Aes128Ccm => Some(Key::Ccm128(Ccm128::new_from_slice(key).ok()?)),
            Algorithm::Aes256Ccm => Some(Key::Ccm256(Ccm256::new_from_slice(key).ok()?)),
            Algorithm::Aes128Ccm8 => Some(Key::Ccm128x8(Ccm128x8::new_from_slice(key).ok()?)),
            Algorithm::Aes256Ccm8 => Some(Key::Ccm256x8(Ccm256x8::new_from_slice(key).ok()?)),
        }
    }

    /// Opens `buf` (ciphertext || tag) in place; the plaintext length, or None when the
    /// tag does not verify.
    fn open(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8], tag_len: usize) -> Option<usize> {
        fn ccm<C: AeadInPlace>(
            c: &C,
            nonce: &[u8; 12],
            aad: &[u8],
            buf: &mut [u8],
            tag_len: usize,
        ) -> Option<usize> {
            let at = buf.len().checked_sub(tag_len)?;
            let (text, tag) = buf.split_at_mut(at);
            c.decrypt_in_place_detached(
                GenericArray::from_slice(nonce),
                aad,
                text,
                GenericArray::from_slice(tag),
            )
            .ok()?;
            Some(at)
        }
        match self {
            Key::Ring(k) => k
                .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
                .ok()
                .map(|p| p.len()),
            Key::Ccm128(c) => ccm(c, &nonce, aad, buf, tag_len),
            Key::Ccm256(c) => ccm(c, &nonce, aad, buf, tag_len),
            Key::Ccm128x8(c) => ccm(c, &nonce, aad, buf, tag_len),
            Key::Ccm256x8(c) => ccm(c, &nonce, aad, buf, tag_len),
        }
    }
}

/// A key and the 12-byte IV (TLS 1.3, TLS 1.2 ChaCha20) or 4-byte salt (TLS 1.2 GCM,
/// kept in the first 4 bytes).
#[derive(Clone)]
pub struct Aead {
    key: Key,
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
        let key = Key::new(algorithm, key)?;
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
        let tag_len = self.algorithm.tag_len();
        if ciphertext.len() < tag_len {
            return Err(OpenError::Malformed("record shorter than its AEAD tag"));
        }
        out.clear();
        out.extend_from_slice(ciphertext);
        let plain = self
            .key
            .open(nonce, aad, out, tag_len)
            .ok_or(OpenError::Authentication)?;
        out.truncate(plain);
        Ok(())
    }
}
