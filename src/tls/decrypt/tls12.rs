//! TLS 1.2: the key block from the master secret (RFC 5246 6.3); AEAD records, GCM with its
//! explicit nonce (RFC 5288 3) and ChaCha20-Poly1305 with the XOR nonce (RFC 7905); CBC
//! records with their MAC (see `cbc`).

use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsCipherMac, TlsCipherSuite, TlsPRF};

use super::aead::{Aead, Algorithm};
use super::cbc::{mac_algorithm, Cbc};
use super::keys::{prf_tls12, Hash};
use super::{Keys, OpenError, Opened};

/// Length of a GCM record's explicit nonce.
const EXPLICIT_NONCE_LEN: usize = 8;

/// The hellos' randoms, which seed the key block.
pub struct Randoms<'a> {
    pub client: &'a [u8],
    pub server: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// `None` for a CBC suite.
    algorithm: Option<Algorithm>,
}

/// What the suite's records are protected with.
enum Protection {
    Aead(Algorithm, usize),
    Cbc {
        key_len: usize,
        mac: ring::hmac::Algorithm,
        mac_len: usize,
    },
}

fn protection(suite: &TlsCipherSuite) -> Option<Protection> {
    Some(
        match (suite.enc, suite.enc_mode, suite.enc_size, suite.mac) {
            (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 128, TlsCipherMac::Aead) => {
                Protection::Aead(Algorithm::Aes128Gcm, 4)
            }
            (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 256, TlsCipherMac::Aead) => {
                Protection::Aead(Algorithm::Aes256Gcm, 4)
            }
            (TlsCipherEnc::Aes, TlsCipherEncMode::Ccm, bits @ (128 | 256), _) => {
                // tls-parser does not tell the tag length; the suite's name does (RFC 6655).
                let short = suite.name.ends_with("_8");
                let alg = match (bits, short) {
                    (128, false) => Algorithm::Aes128Ccm,
                    (128, true) => Algorithm::Aes128Ccm8,
                    (_, false) => Algorithm::Aes256Ccm,
                    (_, true) => Algorithm::Aes256Ccm8,
                };
                Protection::Aead(alg, 4)
            }
            (TlsCipherEnc::Chacha20_Poly1305, _, _, TlsCipherMac::Aead) => {
                Protection::Aead(Algorithm::ChaCha20Poly1305, 12)
            }
            (TlsCipherEnc::Aes, TlsCipherEncMode::Cbc, bits @ (128 | 256), mac) => {
                let (mac, mac_len) = mac_algorithm(mac)?;
                Protection::Cbc {
                    key_len: usize::from(bits / 8),
                    mac,
                    mac_len,
                }
            }
            _ => return None,
        },
    )
}

impl Params {
    /// The suite's parameters and the client's and server's keys.
    pub fn new(
        cipher: u16,
        master_secret: &[u8],
        randoms: Randoms<'_>,
        encrypt_then_mac: bool,
    ) -> Option<(Params, Keys, Keys)> {
        let suite = TlsCipherSuite::from_id(cipher)?;
        if master_secret.len() != 48 {
            return None;
        }
        let protection = protection(suite)?;
        let hash = match suite.prf {
            TlsPRF::Sha384 => Hash::Sha384,
            _ => Hash::Sha256,
        };
        // key_block = PRF(master_secret, "key expansion", server_random + client_random):
        // client and server MAC keys (none for AEAD), write keys, then IVs (AEAD only: CBC
        // records carry theirs).
        let mut seed = Vec::with_capacity(64);
        seed.extend_from_slice(randoms.server);
        seed.extend_from_slice(randoms.client);
        let (mac_len, key_len, iv_len) = match protection {
            Protection::Aead(a, iv) => (0, a.key_len(), iv),
            Protection::Cbc {
                key_len, mac_len, ..
            } => (mac_len, key_len, 0),
        };
        let mut block = [0u8; 2 * 48 + 2 * 32 + 2 * 12];
        let block = &mut block[..2 * (mac_len + key_len + iv_len)];
        prf_tls12(hash, master_secret, b"key expansion", &seed, block);
        let (client_mac, rest) = block.split_at(mac_len);
        let (server_mac, rest) = rest.split_at(mac_len);
        let (client_key, rest) = rest.split_at(key_len);
        let (server_key, rest) = rest.split_at(key_len);
        let (client_iv, server_iv) = rest.split_at(iv_len);
        let made = match protection {
            Protection::Aead(algorithm, _) => (
                Params {
                    algorithm: Some(algorithm),
                },
                Keys::Aead(Aead::new(algorithm, client_key, client_iv)?),
                Keys::Aead(Aead::new(algorithm, server_key, server_iv)?),
            ),
            Protection::Cbc { mac, .. } => (
                Params { algorithm: None },
                Keys::Cbc(Cbc::new(client_key, mac, client_mac, encrypt_then_mac)?),
                Keys::Cbc(Cbc::new(server_key, mac, server_mac, encrypt_then_mac)?),
            ),
        };
        block.fill(0);
        Some(made)
    }
}

/// Opens a TLS 1.2 record; for AEAD the additional data is seq, type, version and the
/// plaintext length (RFC 5246 6.2.3.3).
pub fn open(
    params: &Params,
    keys: &Keys,
    seq: u64,
    header: &[u8; 5],
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<Opened, OpenError> {
    let aead = match (keys, params.algorithm) {
        (Keys::Cbc(cbc), _) => {
            let len = cbc.open(seq, header, body, out)?;
            return Ok(Opened {
                content_type: header[0],
                len,
            });
        }
        (Keys::Aead(aead), Some(_)) => aead,
        (Keys::Aead(_), None) => return Err(OpenError::Malformed("keys do not match the suite")),
    };
    let tag_len = aead.algorithm.tag_len();
    let (nonce, ciphertext) = match aead.algorithm.explicit_nonce() {
        false => (aead.xor_nonce(seq), body),
        true => {
            if body.len() < EXPLICIT_NONCE_LEN + tag_len {
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
    let plain_len = ciphertext.len().saturating_sub(tag_len);
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
