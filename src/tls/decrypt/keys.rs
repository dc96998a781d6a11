//! Key derivation: TLS 1.3's HKDF-Expand-Label (RFC 8446 7.1) and the TLS 1.2 PRF
//! (RFC 5246 5), on ring's HKDF and HMAC. No primitive is written here.

use ring::{hkdf, hmac};

/// The hash of a cipher suite's PRF or HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    pub fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }

    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Hash::Sha256 => hkdf::HKDF_SHA256,
            Hash::Sha384 => hkdf::HKDF_SHA384,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }
}

/// Output length for ring's `Prk::expand`.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, context, out.len()) with the "tls13 " prefix.
/// Fails only for an output longer than HKDF allows (255 hash lengths).
pub fn hkdf_expand_label(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), ring::error::Unspecified> {
    const PREFIX: &[u8] = b"tls13 ";
    let length = u16::try_from(out.len())
        .map_err(|_| ring::error::Unspecified)?
        .to_be_bytes();
    let label_len =
        [u8::try_from(PREFIX.len() + label.len()).map_err(|_| ring::error::Unspecified)?];
    let context_len = [u8::try_from(context.len()).map_err(|_| ring::error::Unspecified)?];
    let info: [&[u8]; 6] = [&length, &label_len, PREFIX, label, &context_len, context];
    let prk = hkdf::Prk::new_less_safe(hash.hkdf(), secret);
    prk.expand(&info, Len(out.len()))?.fill(out)
}

/// The TLS 1.2 PRF: P_hash(secret, label + seed) (RFC 5246 5), filling `out`.
pub fn prf_tls12(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let key = hmac::Key::new(hash.hmac(), secret);
    // A(1) = HMAC(secret, label + seed); A(i) = HMAC(secret, A(i-1)).
    let mut a = {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(label);
        ctx.update(seed);
        ctx.sign()
    };
    let mut filled = 0;
    while filled < out.len() {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(label);
        ctx.update(seed);
        let block = ctx.sign();
        let n = block.as_ref().len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&block.as_ref()[..n]);
        filled += n;
        a = hmac::sign(&key, a.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 3 (Simple 1-RTT Handshake): the server handshake traffic secret and the
    /// key and IV derived from it for TLS_AES_128_GCM_SHA256.
    #[test]
    fn hkdf_expand_label_gives_rfc_8448_server_handshake_key_and_iv() {
        let secret = unhex(
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38",
        );
        let mut key = [0u8; 16];
        hkdf_expand_label(Hash::Sha256, &secret, b"key", b"", &mut key).unwrap();
        assert_eq!(
            key.to_vec(),
            unhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
        );
        let mut iv = [0u8; 12];
        hkdf_expand_label(Hash::Sha256, &secret, b"iv", b"", &mut iv).unwrap();
        assert_eq!(iv.to_vec(), unhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
    }

    /// The TLS 1.2 PRF test vectors of the IETF TLS list (Wireshark and others use them):
    /// P_SHA256 and P_SHA384 over "test label".
    #[test]
    fn prf_matches_the_published_sha256_and_sha384_vectors() {
        let secret = unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let mut out = [0u8; 100];
        prf_tls12(Hash::Sha256, &secret, b"test label", &seed, &mut out);
        assert_eq!(
            out.to_vec(),
            unhex(
                "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a
                 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab
                 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01
                 87 34 7b 66"
            )
        );
        let secret = unhex("b8 0b 73 3d 6c ee fc dc 71 56 6e a4 8e 55 67 df");
        let seed = unhex("cd 66 5c f6 a8 44 7d d6 ff 8b 27 55 5e db 74 65");
        let mut out = [0u8; 148];
        prf_tls12(Hash::Sha384, &secret, b"test label", &seed, &mut out);
        assert_eq!(
            out[..32].to_vec(),
            unhex("7b 0c 18 e9 ce d4 10 ed 18 04 f2 cf a3 4a 33 6a 1c 14 df fb 49 00 bb 5f d7 94 21 07 e8 1c 83 cd")
        );
    }
}
