//! Records sealed here with ring under keys derived the way the peers derive them, then
//! opened by the decryptor: nonces, additional data, padding and sequence handling.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, CHACHA20_POLY1305};

use super::keys::{hkdf_expand_label, prf_tls12, Hash};
use super::*;
use crate::keylog::Secret;
use crate::tls::wire::ct;

fn seal(
    alg: &'static ring::aead::Algorithm,
    key: &[u8],
    nonce: [u8; 12],
    aad: &[u8],
    plain: &[u8],
) -> Vec<u8> {
    let key = LessSafeKey::new(UnboundKey::new(alg, key).unwrap());
    let mut buf = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .unwrap();
    buf
}

fn xor(iv: [u8; 12], seq: u64) -> [u8; 12] {
    let mut n = iv;
    for (a, b) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
        *a ^= b;
    }
    n
}

fn tls13_keys(secret: &[u8]) -> ([u8; 32], [u8; 12]) {
    let mut key = [0u8; 32];
    hkdf_expand_label(Hash::Sha256, secret, b"key", b"", &mut key).unwrap();
    let mut iv = [0u8; 12];
    hkdf_expand_label(Hash::Sha256, secret, b"iv", b"", &mut iv).unwrap();
    (key, iv)
}

/// A TLS 1.3 ChaCha20 record from `secret` at `seq`: inner plaintext + type + padding.
fn tls13_record(
    secret: &[u8],
    seq: u64,
    inner: &[u8],
    content_type: u8,
    pad: usize,
) -> ([u8; 5], Vec<u8>) {
    let (key, iv) = tls13_keys(secret);
    let mut plain = inner.to_vec();
    plain.push(content_type);
    plain.extend(std::iter::repeat_n(0, pad));
    let len = u16::try_from(plain.len() + 16).unwrap().to_be_bytes();
    let header = [ct::APPLICATION_DATA, 3, 3, len[0], len[1]];
    (
        header,
        seal(&CHACHA20_POLY1305, &key, xor(iv, seq), &header, &plain),
    )
}

fn secrets13() -> SessionSecrets {
    SessionSecrets {
        client_handshake: Secret::new(&[1; 32]),
        server_handshake: Secret::new(&[2; 32]),
        client_traffic_0: Secret::new(&[3; 32]),
        server_traffic_0: Secret::new(&[4; 32]),
        ..SessionSecrets::default()
    }
}

#[test]
fn tls13_records_open_in_sequence_with_padding_stripped_then_application_keys() {
    let mut d = Decryptor::tls13(0x1303, &secrets13()).unwrap();
    let mut out = Vec::new();
    for seq in 0..3 {
        let (h, body) = tls13_record(&[2; 32], seq, &[20, 0, 0, 1, seq as u8], ct::HANDSHAKE, 7);
        assert!(d.wants(Dir::ToClient, ct::APPLICATION_DATA, body.len()));
        let opened = d.open(Dir::ToClient, &h, &body, &mut out).unwrap();
        assert_eq!(opened.content_type, ct::HANDSHAKE);
        assert_eq!(out, [20, 0, 0, 1, seq as u8]);
    }
    d.handshake_done(Dir::ToClient);
    let (h, body) = tls13_record(&[4; 32], 0, &[2, 45], ct::ALERT, 0);
    let opened = d.open(Dir::ToClient, &h, &body, &mut out).unwrap();
    assert_eq!(
        (opened.content_type, out.as_slice()),
        (ct::ALERT, &[2u8, 45][..])
    );
    // The client direction is independent: its handshake key, its own sequence.
    let (h, body) = tls13_record(&[1; 32], 0, &[2, 116], ct::ALERT, 0);
    assert!(d.open(Dir::ToServer, &h, &body, &mut out).is_ok());
}

#[test]
fn a_record_that_fails_to_authenticate_stops_its_direction_only() {
    let mut d = Decryptor::tls13(0x1303, &secrets13()).unwrap();
    let mut out = Vec::new();
    // Sealed at seq 1 but the decryptor expects seq 0: a missing record.
    let (h, body) = tls13_record(&[2; 32], 1, b"x", ct::HANDSHAKE, 0);
    assert_eq!(
        d.open(Dir::ToClient, &h, &body, &mut out),
        Err(OpenError::Authentication)
    );
    assert!(out.is_empty());
    assert!(!d.active(Dir::ToClient));
    assert!(!d.wants(Dir::ToClient, ct::APPLICATION_DATA, 19));
    assert!(d.active(Dir::ToServer));
}

#[test]
fn large_tls13_application_records_are_skipped_but_counted() {
    let mut d = Decryptor::tls13(0x1303, &secrets13()).unwrap();
    d.handshake_done(Dir::ToServer);
    for _ in 0..FIRST_APPLICATION_RECORDS {
        assert!(d.wants(Dir::ToServer, ct::APPLICATION_DATA, 1000));
        d.skip(Dir::ToServer);
    }
    assert!(!d.wants(Dir::ToServer, ct::APPLICATION_DATA, 1000));
    let mut fresh = Decryptor::tls13(0x1303, &secrets13()).unwrap();
    fresh.handshake_done(Dir::ToServer);
    assert!(
        !fresh.wants(Dir::ToServer, ct::APPLICATION_DATA, 16 * 1024),
        "a full data record is never opened"
    );
    assert!(d.wants(Dir::ToServer, ct::APPLICATION_DATA, 19));
    d.skip(Dir::ToServer);
    let seq = u64::from(FIRST_APPLICATION_RECORDS) + 1;
    let (h, body) = tls13_record(&[3; 32], seq, &[1, 0], ct::ALERT, 0);
    let mut out = Vec::new();
    assert!(d.open(Dir::ToServer, &h, &body, &mut out).is_ok());
}

#[test]
fn unsupported_suites_and_missing_secrets_give_no_decryptor() {
    // AES-CCM (0x1304, 0x1305) is decrypted; an unknown suite is not.
    assert!(Decryptor::tls13(0x1304, &secrets13()).is_some());
    assert!(Decryptor::tls13(0x1305, &secrets13()).is_some());
    assert!(Decryptor::tls13(0x13ff, &secrets13()).is_none());
    assert!(Decryptor::tls13(0x1301, &SessionSecrets::default()).is_none());
    // A SHA-256 suite with a 48-byte secret is a mismatched key log line.
    let wrong = SessionSecrets {
        server_handshake: Secret::new(&[2; 48]),
        ..SessionSecrets::default()
    };
    assert!(Decryptor::tls13(0x1301, &wrong).is_none());
}

#[test]
fn tls12_gcm_records_open_with_the_explicit_nonce_and_sequence_in_the_aad() {
    let master = [9u8; 48];
    let (cr, sr) = ([5u8; 32], [6u8; 32]);
    let secrets = SessionSecrets {
        master_secret: Secret::new(&master),
        ..SessionSecrets::default()
    };
    // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    let mut d = Decryptor::tls12(0xc02f, &cr, &sr, false, &secrets).unwrap();
    let mut seed = sr.to_vec();
    seed.extend_from_slice(&cr);
    let mut block = [0u8; 40];
    prf_tls12(Hash::Sha256, &master, b"key expansion", &seed, &mut block);
    let (server_key, server_salt) = (&block[16..32], &block[36..40]);
    let explicit = [0, 0, 0, 0, 0, 0, 0, 1];
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(server_salt);
    nonce[4..].copy_from_slice(&explicit);
    let seq = 1u64;
    let mut aad = seq.to_be_bytes().to_vec();
    aad.extend_from_slice(&[ct::ALERT, 3, 3, 0, 2]);
    let sealed = seal(&AES_128_GCM, server_key, nonce, &aad, &[1, 0]);
    let mut body = explicit.to_vec();
    body.extend_from_slice(&sealed);
    let header = [ct::ALERT, 3, 3, 0, body.len() as u8];
    assert!(!d.wants(Dir::ToClient, ct::APPLICATION_DATA, 100));
    assert!(d.wants(Dir::ToClient, ct::ALERT, body.len()));
    d.skip(Dir::ToClient); // the server's Finished, not opened here
    let mut out = Vec::new();
    let opened = d.open(Dir::ToClient, &header, &body, &mut out).unwrap();
    assert_eq!(
        (opened.content_type, out.as_slice()),
        (ct::ALERT, &[1u8, 0][..])
    );
}

/// A TLS 1.2 CBC record sealed as a peer seals it: MAC-then-encrypt, or encrypt-then-MAC.
fn cbc_record(
    key: &[u8],
    mac_key: &[u8],
    seq: u64,
    content: &[u8],
    etm: bool,
) -> ([u8; 5], Vec<u8>) {
    use ::cbc::cipher::block_padding::NoPadding;
    use ::cbc::cipher::{BlockEncryptMut, KeyIvInit};
    use ring::hmac;
    let mac = |header: &[u8], data: &[u8]| {
        let k = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, mac_key);
        let mut c = hmac::Context::with_key(&k);
        c.update(&seq.to_be_bytes());
        c.update(&header[..3]);
        c.update(&(data.len() as u16).to_be_bytes());
        c.update(data);
        c.sign().as_ref().to_vec()
    };
    let iv = [0x5a; 16];
    let header0 = [ct::ALERT, 3, 3, 0, 0];
    let mut plain = content.to_vec();
    if !etm {
        plain.extend(mac(&header0, content));
    }
    let pad = 15 - plain.len() % 16;
    plain.extend(std::iter::repeat_n(pad as u8, pad + 1));
    let n = plain.len();
    let enc = ::cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv).unwrap();
    enc.encrypt_padded_mut::<NoPadding>(&mut plain, n).unwrap();
    let mut body = iv.to_vec();
    body.extend(plain);
    if etm {
        let tag = mac(&header0, &body);
        body.extend(tag);
    }
    let len = (body.len() as u16).to_be_bytes();
    ([ct::ALERT, 3, 3, len[0], len[1]], body)
}

#[test]
fn tls12_cbc_records_open_and_verify_their_mac_in_both_orders() {
    let master = [7u8; 48];
    let (cr, sr) = ([1u8; 32], [2u8; 32]);
    let secrets = SessionSecrets {
        master_secret: Secret::new(&master),
        ..SessionSecrets::default()
    };
    let mut seed = sr.to_vec();
    seed.extend_from_slice(&cr);
    // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: MAC keys 20 + 20, keys 16 + 16.
    let mut block = [0u8; 72];
    prf_tls12(Hash::Sha256, &master, b"key expansion", &seed, &mut block);
    let (client_mac, client_key) = (&block[..20], &block[40..56]);
    for etm in [false, true] {
        let mut d = Decryptor::tls12(0xc013, &cr, &sr, etm, &secrets).unwrap();
        let mut out = Vec::new();
        let (h, body) = cbc_record(client_key, client_mac, 0, &[1, 0], etm);
        let opened = d.open(Dir::ToServer, &h, &body, &mut out).unwrap();
        assert_eq!(
            (opened.content_type, out.as_slice()),
            (ct::ALERT, &[1u8, 0][..]),
            "etm {etm}"
        );
        // The same record again is out of sequence: its MAC no longer verifies.
        assert_eq!(
            d.open(Dir::ToServer, &h, &body, &mut out),
            Err(OpenError::Authentication),
            "etm {etm}"
        );
    }
}
