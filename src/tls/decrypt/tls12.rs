//! TLS 1.2 AEAD suites: the key block from the master secret (RFC 5246 6.3), GCM records
//! with their explicit nonce (RFC 5288 3) and ChaCha20-Poly1305 with the XOR nonce (RFC 7905).

use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsCipherMac, TlsCipherSuite, TlsPRF};

use super::aead::{Aead, Algorithm, TAG_LEN};
use super::keys::{prf_tls12, Hash};
use super::{OpenError, Opened};

/// Length of a GCM record's explicit nonce.
const EXPLICIT_NONCE_LEN: usize = 8;

#[derive(Debug, Clone, Copy)]
pub struct Params {
    algorithm: Algorithm,
}

impl Params {
    /// The suite's parameters and the client's and server's write keys.
    pub fn new(
        cipher: u16,
        master_secret: &[u8],
        client_random: &[u8],
        server_random: &[u8],
    ) -> Option<(Params, Aead, Aead)> {
        let suite = TlsCipherSuite::from_id(cipher)?;
        if suite.mac != TlsCipherMac::Aead || master_secret.len() != 48 {
            return None;
        }
        let (algorithm, iv_len) = match (suite.enc, suite.enc_mode, suite.enc_size) {
            (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 128) => (Algorithm::Aes128Gcm, 4),
            (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 256) => (Algorithm::Aes256Gcm, 4),
            (TlsCipherEnc::Chacha20_Poly1305, _, _) => (Algorithm::ChaCha20Poly1305, 12),
            _ => return None,
        };
        let hash = match suite.prf {
            TlsPRF::Sha384 => Hash::Sha384,
            _ => Hash::Sha256,
        };
        let key_len = algorithm.key_len();
        // key_block = PRF(master_secret, "key expansion", server_random + client_random):
        // client key, server key, client IV, server IV (AEAD suites have no MAC keys).
        let mut seed = Vec::with_capacity(64);
        seed.extend_from_slice(server_random);
        seed.extend_from_slice(client_random);
        let mut block = [0u8; 2 * 32 + 2 * 12];
        let block = &mut block[..2 * key_len + 2 * iv_len];
        prf_tls12(hash, master_secret, b"key expansion", &seed, block);
        let (client_key, rest) = block.split_at(key_len);
        let (server_key, rest) = rest.split_at(key_len);
        let (client_iv, server_iv) = rest.split_at(iv_len);
        let client = Aead::new(algorithm, client_key, client_iv)?;
        let server = Aead::new(algorithm, server_key, server_iv)?;
        block.fill(0);
        Some((Params { algorithm }, client, server))
    }
}

/// Opens a TLS 1.2 AEAD record; the additional data is seq, type, version and the
/// plaintext length (RFC 5246 6.2.3.3).
pub fn open(
    params: &Params,
    aead: &Aead,
    seq: u64,
    header: &[u8; 5],
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<Opened, OpenError> {
    let (nonce, ciphertext) = match params.algorithm {
        Algorithm::ChaCha20Poly1305 => (aead.xor_nonce(seq), body),
        Algorithm::Aes128Gcm | Algorithm::Aes256Gcm => {
            if body.len() < EXPLICIT_NONCE_LEN + TAG_LEN {
                return Err(OpenError::Malformed(
                    "record shorter than its explicit nonce and tag",
                ));
            }
            let (explicit, rest) = body.split_at(EXPLICIT_NONCE_LEN);
            let mut nonce = aead.iv;
            nonce[4..].copy_from_slice(explicit);
            (nonce, rest)
        }
    };
    let plain_len = ciphertext.len().saturating_sub(TAG_LEN);
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8..11].copy_from_slice(&header[..3]);
    aad[11..].copy_from_slice(&u16::try_from(plain_len).unwrap_or(u16::MAX).to_be_bytes());
    aead.open(nonce, &aad, ciphertext, out)?;
    Ok(Opened {
        content_type: header[0],
        len: out.len(),
    })
}
