//! TLS 1.2 CBC suites: AES-CBC (RustCrypto `aes` + `cbc`: ring has no CBC) with HMAC-SHA1,
//! -SHA256 or -SHA384 (ring), MAC-then-encrypt (RFC 5246 6.2.3.2) or encrypt-then-MAC when
//! the hellos negotiated it (RFC 7366). The MAC is always verified; padding is checked whole.

use aes::{Aes128, Aes256};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use ring::hmac;

use super::OpenError;

const BLOCK: usize = 16;

/// One direction's CBC key and MAC key.
#[derive(Clone)]
pub struct Cbc {
    key: [u8; 32],
    key_len: usize,
    mac: hmac::Key,
    mac_len: usize,
    encrypt_then_mac: bool,
}

impl std::fmt::Debug for Cbc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Cbc(AES-{}, HMAC {} bytes, etm {}, keys redacted)",
            self.key_len * 8,
            self.mac_len,
            self.encrypt_then_mac
        )
    }
}

/// The HMAC of a CBC suite and its output length.
pub fn mac_algorithm(mac: tls_parser::TlsCipherMac) -> Option<(hmac::Algorithm, usize)> {
    use tls_parser::TlsCipherMac as M;
    match mac {
        M::HmacSha1 => Some((hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, 20)),
        M::HmacSha256 => Some((hmac::HMAC_SHA256, 32)),
        M::HmacSha384 => Some((hmac::HMAC_SHA384, 48)),
        _ => None,
    }
}

impl Cbc {
    pub fn new(
        key: &[u8],
        mac: hmac::Algorithm,
        mac_key: &[u8],
        encrypt_then_mac: bool,
    ) -> Option<Self> {
        if key.len() != 16 && key.len() != 32 {
            return None;
        }
        let mut k = [0u8; 32];
        k[..key.len()].copy_from_slice(key);
        Some(Cbc {
            key: k,
            key_len: key.len(),
            mac: hmac::Key::new(mac, mac_key),
            mac_len: mac_key.len(),
            encrypt_then_mac,
        })
    }

    fn verify(&self, seq: u64, header: &[u8; 5], data: &[u8], tag: &[u8]) -> Result<(), OpenError> {
        let mut ctx = hmac::Context::with_key(&self.mac);
        ctx.update(&seq.to_be_bytes());
        ctx.update(&header[..3]);
        ctx.update(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
        ctx.update(data);
        if ctx.sign().as_ref() == tag {
            Ok(())
        } else {
            Err(OpenError::Authentication)
        }
    }

    /// Decrypts `iv || blocks` in place in `out`, returning the plaintext length with the
    /// padding still on.
    fn decrypt(&self, iv: &[u8], blocks: &[u8], out: &mut Vec<u8>) -> Result<usize, OpenError> {
        out.clear();
        out.extend_from_slice(blocks);
        let key = &self.key[..self.key_len];
        let bad = |_| OpenError::Malformed("CBC ciphertext is not whole blocks");
        let n = match self.key_len {
            16 => cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
                .map_err(|_| OpenError::Malformed("bad CBC key"))?
                .decrypt_padded_mut::<NoPadding>(out)
                .map_err(bad)?
                .len(),
            _ => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
                .map_err(|_| OpenError::Malformed("bad CBC key"))?
                .decrypt_padded_mut::<NoPadding>(out)
                .map_err(bad)?
                .len(),
        };
        Ok(n)
    }

    /// Opens a CBC record (TLS 1.1+: explicit IV first) into `out`.
    pub fn open(
        &self,
        seq: u64,
        header: &[u8; 5],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, OpenError> {
        let tail = if self.encrypt_then_mac {
            self.mac_len
        } else {
            0
        };
        if body.len() < BLOCK + BLOCK + tail || (body.len() - tail) % BLOCK != 0 {
            return Err(OpenError::Malformed(
                "CBC record is not an IV and whole blocks",
            ));
        }
        if self.encrypt_then_mac {
            let (sealed, tag) = body.split_at(body.len() - self.mac_len);
            self.verify(seq, header, sealed, tag)?;
            let (iv, blocks) = sealed.split_at(BLOCK);
            let n = self.decrypt(iv, blocks, out)?;
            let len = unpad(&out[..n]).ok_or(OpenError::Malformed("bad CBC padding"))?;
            out.truncate(len);
            return Ok(len);
        }
        let (iv, blocks) = body.split_at(BLOCK);
        let n = self.decrypt(iv, blocks, out)?;
        // A bad padding is reported as an authentication failure: it is one, as the MAC
        // cannot be checked (and wrong keys show up as exactly this).
        let padded = unpad(&out[..n]).ok_or(OpenError::Authentication)?;
        let content = padded
            .checked_sub(self.mac_len)
            .ok_or(OpenError::Authentication)?;
        let (data, tag) = out[..padded].split_at(content);
        self.verify(seq, header, data, tag)?;
        out.truncate(content);
        Ok(content)
    }
}

/// Length without the padding: the last byte says how many bytes, all of that value, precede it.
fn unpad(plain: &[u8]) -> Option<usize> {
    let &last = plain.last()?;
    let pad = usize::from(last) + 1;
    let keep = plain.len().checked_sub(pad)?;
    plain[keep..].iter().all(|&b| b == last).then_some(keep)
}
