//! TLS 1.3 sessions sealed here with ring under secrets put in a key store, fed to a
//! connection that has the store: decrypted handshake messages go down the clear paths
//! (certificates across records, history, stage), alerts become real alert events, the
//! sequence survives records passed over, and a tampered record stops only its direction.

use std::sync::Arc;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};

use super::*;
use crate::keylog::KeyStore;
use crate::tls::decrypt::keys::{hkdf_expand_label, Hash};

const CLIENT_HS: [u8; 32] = [1; 32];
const SERVER_HS: [u8; 32] = [2; 32];
const CLIENT_AP: [u8; 32] = [3; 32];
const SERVER_AP: [u8; 32] = [4; 32];

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn store() -> Arc<KeyStore> {
    let r = hexs(&[0x11; 32]);
    let store = KeyStore::new();
    let text = format!(
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\n\
         CLIENT_TRAFFIC_SECRET_0 {r} {}\nSERVER_TRAFFIC_SECRET_0 {r} {}\n",
        hexs(&CLIENT_HS),
        hexs(&SERVER_HS),
        hexs(&CLIENT_AP),
        hexs(&SERVER_AP)
    );
    store.add_block(text.as_bytes());
    Arc::new(store)
}

/// Seals TLS 1.3 records (AES-128-GCM) for one direction and key, counting the sequence.
struct Sealer {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl Sealer {
    fn new(secret: &[u8]) -> Self {
        let mut key = [0u8; 16];
        hkdf_expand_label(Hash::Sha256, secret, b"key", b"", &mut key).unwrap();
        let mut iv = [0u8; 12];
        hkdf_expand_label(Hash::Sha256, secret, b"iv", b"", &mut iv).unwrap();
        Sealer {
            key: LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &key).unwrap()),
            iv,
            seq: 0,
        }
    }

    fn seal(&mut self, content_type: u8, inner: &[u8]) -> Vec<u8> {
        let mut plain = inner.to_vec();
        plain.push(content_type);
        let len = (plain.len() + 16) as u16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header),
                &mut plain,
            )
            .unwrap();
        [header.to_vec(), plain].concat()
    }
}

fn tls13_hellos() -> (Vec<u8>, Vec<u8>) {
    let ch = hs_rec(
        1,
        &client_hello_body(&[], &[0x1301], &[ext_client_versions(&[0x0304])]),
    );
    let sh = hs_rec(
        2,
        &server_hello_body(
            &[0x22; 32],
            &[],
            0x1301,
            &[ext(43, &be16(0x0304)), ext_server_key_share(29)],
        ),
    );
    (ch, sh)
}

/// A TLS 1.3 Certificate message body: empty context, entries with no extensions.
fn tls13_certificate(ders: &[&[u8]]) -> Vec<u8> {
    let entries: Vec<u8> = ders
        .iter()
        .flat_map(|d| {
            let n = d.len();
            [
                vec![(n >> 16) as u8, (n >> 8) as u8, n as u8],
                d.to_vec(),
                vec![0, 0],
            ]
            .concat()
        })
        .collect();
    let n = entries.len();
    [vec![0, (n >> 16) as u8, (n >> 8) as u8, n as u8], entries].concat()
}

/// The server's encrypted flight, its Certificate split across two records.
fn server_flight(server: &mut Sealer, with_request: bool) -> Vec<u8> {
    let mut msgs = hs(8, &[0, 0]);
    if with_request {
        msgs.extend(hs(13, &[0, 0, 4, 0, 13, 0, 0]));
    }
    let cert = hs(11, &tls13_certificate(&[b"LEAFCERT", b"CA"]));
    let (a, b) = cert.split_at(9);
    msgs.extend_from_slice(a);
    let first = server.seal(22, &msgs);
    let rest = [b.to_vec(), hs(15, &[4, 3, 0, 2, 9, 9]), hs(20, &[0x77; 32])].concat();
    [first, server.seal(22, &rest)].concat()
}

fn conn() -> (TlsConn, Sealer, Sealer) {
    let mut c = TlsConn::with_keys(store());
    let (ch, sh) = tls13_hellos();
    c.feed(ToServer, &ch, 1, 0);
    c.feed(ToClient, &sh, 2, 0);
    (c, Sealer::new(&CLIENT_HS), Sealer::new(&SERVER_HS))
}

#[test]
fn a_client_rejecting_the_decrypted_certificate_sends_a_real_alert() {
    let (mut c, mut client, mut server) = conn();
    c.feed(ToClient, &server_flight(&mut server, false), 2, 0);
    c.feed(ToServer, &client.seal(21, &[2, 42]), 3, 0);
    c.finish(3, 0);
    assert!(c.decrypted(), "{:?}", c.decryption_error);
    assert_eq!(
        c.server_cert_der,
        vec![b"LEAFCERT".to_vec(), b"CA".to_vec()]
    );
    assert_eq!(c.history, "CsoxyfL");
    assert!(!c.established);
    let alert = c.alerts().next().unwrap();
    assert!(alert.decrypted);
    assert_eq!(
        alert.kind,
        TlsEventKind::Alert {
            level: 2,
            description: 42
        }
    );
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
}

#[test]
fn a_server_refusing_after_the_client_finished_is_not_established() {
    let (mut c, mut client, mut server) = conn();
    c.feed(ToClient, &server_flight(&mut server, true), 2, 0);
    let flight = [
        client.seal(22, &hs(11, &[0, 0, 0, 0])),
        client.seal(22, &hs(20, &[0x66; 32])),
    ]
    .concat();
    c.feed(ToServer, &flight, 3, 0);
    assert!(c.established);
    let mut server_ap = Sealer::new(&SERVER_AP);
    c.feed(ToClient, &server_ap.seal(21, &[2, 116]), 4, 0);
    assert!(
        !c.established,
        "a fatal alert before any data undoes the handshake"
    );
    assert_eq!(c.stage, HandshakeStage::Finished);
    assert!(c.history.contains('R') || c.history.contains('r'));
    assert_eq!(c.client_cert_der.len(), 0);
    let alerts: Vec<_> = c.alerts().collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].kind,
        TlsEventKind::Alert {
            level: 2,
            description: 116
        }
    );
}

#[test]
fn records_passed_over_keep_the_sequence_for_the_closing_alert() {
    let (mut c, mut client, mut server) = conn();
    c.feed(ToClient, &server_flight(&mut server, false), 2, 0);
    c.feed(ToServer, &client.seal(22, &hs(20, &[0x66; 32])), 3, 0);
    let mut server_ap = Sealer::new(&SERVER_AP);
    // Four records are opened whatever their size, the fifth and sixth (large) passed over:
    // the sixth arrives in two pieces, so its body is skipped unbuffered.
    for frame in 4..8 {
        c.feed(ToClient, &server_ap.seal(23, &[0xab; 1000]), frame, 0);
    }
    c.feed(ToClient, &server_ap.seal(23, &[0xcd; 2000]), 8, 0);
    let big = server_ap.seal(23, &[0xef; 3000]);
    c.feed(ToClient, &big[..100], 9, 0);
    c.feed(ToClient, &big[100..], 10, 0);
    c.feed(ToClient, &server_ap.seal(21, &[1, 0]), 11, 0);
    assert_eq!(c.decryption_error, None);
    assert_eq!(c.app_data_records[ToClient.index()], 6);
    let last = c.alerts().last().unwrap();
    assert_eq!(
        (last.frame, last.kind),
        (
            11,
            TlsEventKind::Alert {
                level: 1,
                description: 0
            }
        )
    );
    assert!(c.established);
}

#[test]
fn a_tampered_record_stops_its_direction_and_says_where() {
    let (mut c, mut client, mut server) = conn();
    let mut flight = server_flight(&mut server, false);
    let last = flight.len() - 1;
    flight[last] ^= 1;
    c.feed(ToClient, &flight, 2, 0);
    let err = c.decryption_error.clone().expect("reported");
    assert!(err.contains("server's record at frame 2"), "{err}");
    // The first record opened (its certificate half is still pending), the client side still works.
    c.feed(ToServer, &client.seal(21, &[2, 48]), 3, 0);
    assert!(c.alerts().any(|a| a.decrypted
        && a.kind
            == TlsEventKind::Alert {
                level: 2,
                description: 48
            }));
}

#[test]
fn a_malformed_decrypted_certificate_is_reported_not_trusted() {
    let (mut c, _, mut server) = conn();
    // The list claims more than the message holds, and an entry overruns it.
    let bad = hs(11, &[0, 0, 0, 40, 0, 0, 50, 1, 2, 3]);
    c.feed(
        ToClient,
        &server.seal(22, &[hs(8, &[0, 0]), bad].concat()),
        2,
        0,
    );
    assert!(c.server_cert_der.is_empty());
    assert!(
        c.malformed
            .iter()
            .any(|m| m.reason.contains("TLS 1.3 Certificate")),
        "{:?}",
        c.malformed
    );
}

#[test]
fn without_matching_secrets_the_connection_is_inferred_as_before() {
    let mut keyed = TlsConn::with_keys(Arc::new(KeyStore::new()));
    let mut plain = TlsConn::new();
    let (ch, sh) = tls13_hellos();
    let mut server = Sealer::new(&SERVER_HS);
    let flight = server_flight(&mut server, false);
    for c in [&mut keyed, &mut plain] {
        c.feed(ToServer, &ch, 1, 0);
        c.feed(ToClient, &sh, 2, 0);
        c.feed(ToClient, &flight, 3, 0);
    }
    assert!(!keyed.decrypted());
    assert_same_facts(&keyed, &plain);
}
