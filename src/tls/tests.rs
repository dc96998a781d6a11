//! Tests of the TLS state machine: hand-built records, then real captures.

use super::*;
use crate::model::Dir;
use crate::model::Dir::{ToClient, ToServer};

// ---------- builders ----------

fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

fn rec(ct: u8, ver: u16, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ct];
    v.extend_from_slice(&be16(ver));
    v.extend_from_slice(&be16(body.len() as u16));
    v.extend_from_slice(body);
    v
}

fn hs(typ: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut v = vec![typ, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    v.extend_from_slice(body);
    v
}

fn hs_rec(typ: u8, body: &[u8]) -> Vec<u8> {
    rec(22, 0x0303, &hs(typ, body))
}

fn u16s(list: &[u16]) -> Vec<u8> {
    list.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn with_len16(b: &[u8]) -> Vec<u8> {
    let mut v = be16(b.len() as u16).to_vec();
    v.extend_from_slice(b);
    v
}

fn ext(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut v = be16(typ).to_vec();
    v.extend_from_slice(&with_len16(data));
    v
}

fn ext_sni(name: &str) -> Vec<u8> {
    let mut entry = vec![0u8];
    entry.extend_from_slice(&with_len16(name.as_bytes()));
    ext(0, &with_len16(&entry))
}

fn ext_alpn(protos: &[&str]) -> Vec<u8> {
    let mut l = Vec::new();
    for p in protos {
        l.push(p.len() as u8);
        l.extend_from_slice(p.as_bytes());
    }
    ext(16, &with_len16(&l))
}

fn ext_client_versions(v: &[u16]) -> Vec<u8> {
    let l = u16s(v);
    let mut d = vec![l.len() as u8];
    d.extend_from_slice(&l);
    ext(43, &d)
}

fn ext_client_key_share(groups: &[u16]) -> Vec<u8> {
    let mut l = Vec::new();
    for g in groups {
        l.extend_from_slice(&be16(*g));
        l.extend_from_slice(&with_len16(&[7u8; 32]));
    }
    ext(51, &with_len16(&l))
}

fn ext_server_key_share(group: u16) -> Vec<u8> {
    let mut d = be16(group).to_vec();
    d.extend_from_slice(&with_len16(&[9u8; 32]));
    ext(51, &d)
}

fn client_hello_body(sid: &[u8], ciphers: &[u16], exts: &[Vec<u8>]) -> Vec<u8> {
    let mut b = be16(0x0303).to_vec();
    b.extend_from_slice(&[0x11; 32]);
    b.push(sid.len() as u8);
    b.extend_from_slice(sid);
    b.extend_from_slice(&with_len16(&u16s(ciphers)));
    b.extend_from_slice(&[1, 0]);
    b.extend_from_slice(&with_len16(&exts.concat()));
    b
}

fn server_hello_body(random: &[u8; 32], sid: &[u8], cipher: u16, exts: &[Vec<u8>]) -> Vec<u8> {
    let mut b = be16(0x0303).to_vec();
    b.extend_from_slice(random);
    b.push(sid.len() as u8);
    b.extend_from_slice(sid);
    b.extend_from_slice(&be16(cipher));
    b.push(0);
    b.extend_from_slice(&with_len16(&exts.concat()));
    b
}

fn certificate_body(certs: &[&[u8]]) -> Vec<u8> {
    let mut l = Vec::new();
    for c in certs {
        let n = c.len();
        l.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        l.extend_from_slice(c);
    }
    let n = l.len();
    let mut b = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8];
    b.extend_from_slice(&l);
    b
}

fn tls12_client_hello() -> Vec<u8> {
    client_hello_body(
        &[],
        &[0x0a0a, 0xc02f, 0xc030, 0x009c, 0x00ff],
        &[
            ext(0x1a1a, &[]),
            ext_sni("example.com"),
            ext(10, &with_len16(&u16s(&[0x2a2a, 29, 23, 24]))),
            ext(11, &[1, 0]),
            ext(13, &with_len16(&u16s(&[0x0403, 0x0804, 0x0401]))),
            ext_alpn(&["h2", "http/1.1"]),
            ext(35, &[]),
            ext(23, &[]),
        ],
    )
}

/// Records of a TLS 1.2 ECDHE full handshake with a session ticket:
/// (client records, server flight 1, client flight 2, server flight 2).
fn tls12_full() -> [Vec<u8>; 4] {
    let ch = hs_rec(1, &tls12_client_hello());
    let sh = server_hello_body(
        &[0x22; 32],
        &[5; 32],
        0xc02f,
        &[ext(0xff01, &[0]), ext(23, &[])],
    );
    let cert = certificate_body(&[b"LEAFCERT", b"INTERMEDIATE"]);
    let mut ske = vec![3u8];
    ske.extend_from_slice(&be16(23));
    ske.push(65);
    ske.extend_from_slice(&[4u8; 65]);
    ske.extend_from_slice(&[0x04, 0x01]);
    ske.extend_from_slice(&with_len16(&[0x55; 64]));
    // Several handshake messages in one record, and a second record in the same chunk.
    let flight1 = [hs(2, &sh), hs(11, &cert), hs(12, &ske)].concat();
    let mut server1 = rec(22, 0x0303, &flight1);
    server1.extend_from_slice(&hs_rec(14, &[]));
    let mut client2 = hs_rec(16, &[0x41; 66]);
    client2.extend_from_slice(&rec(20, 0x0303, &[1]));
    client2.extend_from_slice(&rec(22, 0x0303, &[0x99; 40]));
    let mut server2 = hs_rec(4, &[0, 0, 0, 100, 0, 4, 1, 2, 3, 4]);
    server2.extend_from_slice(&rec(20, 0x0303, &[1]));
    server2.extend_from_slice(&rec(22, 0x0303, &[0x98; 40]));
    [ch, server1, client2, server2]
}

fn feed_flights(c: &mut TlsConn, flights: &[Vec<u8>]) {
    for (n, f) in flights.iter().enumerate() {
        let dir = if n % 2 == 0 { ToServer } else { ToClient };
        c.feed(dir, f, n as u64 + 1, 1_000 * n as i64);
    }
}

fn kinds(c: &TlsConn) -> Vec<(Dir, TlsEventKind)> {
    c.events.iter().map(|e| (e.dir, e.kind)).collect()
}

fn assert_same_facts(a: &TlsConn, b: &TlsConn) {
    assert_eq!(a.history, b.history);
    assert_eq!(a.client_hello, b.client_hello);
    assert_eq!(a.server_hello, b.server_hello);
    assert_eq!(a.hello_retry_request, b.hello_retry_request);
    assert_eq!(a.server_cert_der, b.server_cert_der);
    assert_eq!(a.stage, b.stage);
    assert_eq!(a.established, b.established);
    assert_eq!(a.resumed, b.resumed);
    assert_eq!(kinds(a), kinds(b));
    let ra: Vec<_> = a.malformed.iter().map(|m| &m.reason).collect();
    let rb: Vec<_> = b.malformed.iter().map(|m| &m.reason).collect();
    assert_eq!(ra, rb);
}

// ---------- TLS 1.2 ----------

#[test]
fn tls12_full_handshake() {
    let mut c = TlsConn::new();
    feed_flights(&mut c, &tls12_full());
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    assert_eq!(c.history, "CsxknGIti");
    assert!(c.established);
    assert!(!c.resumed);
    assert_eq!(c.stage, HandshakeStage::Established);
    assert_eq!(c.stage.as_str(), "established");
    assert_eq!(c.established_frame, Some(4));
    assert_eq!(c.negotiated_version(), Some(0x0303));
    let ch = c.client_hello.as_ref().unwrap();
    assert_eq!(ch.version, 0x0303);
    assert_eq!(ch.record_version, 0x0303);
    assert!(!ch.sslv2_format);
    assert_eq!(ch.random, vec![0x11; 32]);
    assert_eq!(ch.ciphers, vec![0x0a0a, 0xc02f, 0xc030, 0x009c, 0x00ff]);
    assert_eq!(ch.compression, vec![0]);
    assert_eq!(ch.extensions, vec![0x1a1a, 0, 10, 11, 13, 16, 35, 23]);
    assert_eq!(ch.sni.as_deref(), Some("example.com"));
    assert_eq!(ch.groups, vec![0x2a2a, 29, 23, 24]);
    assert_eq!(ch.ec_point_formats, vec![0]);
    assert_eq!(ch.signature_algorithms, vec![0x0403, 0x0804, 0x0401]);
    assert_eq!(ch.alpn, vec!["h2".to_string(), "http/1.1".to_string()]);
    assert!(!ch.has_session_ticket && !ch.has_psk);
    let sh = c.server_hello.as_ref().unwrap();
    assert_eq!(sh.cipher, 0xc02f);
    assert_eq!(sh.extensions, vec![0xff01, 23]);
    assert_eq!(sh.group, Some(23));
    assert!(!sh.is_hello_retry_request);
    assert_eq!(
        c.server_cert_der,
        vec![b"LEAFCERT".to_vec(), b"INTERMEDIATE".to_vec()]
    );
    assert!(c.client_cert_der.is_empty());
    assert_eq!(c.client_hello_count, 1);
    let k = kinds(&c);
    assert_eq!(k[0], (ToServer, TlsEventKind::Handshake(HandshakeType(1))));
    assert!(k.contains(&(ToServer, TlsEventKind::EncryptedHandshake { len: 40 })));
    assert!(k.contains(&(ToClient, TlsEventKind::EncryptedHandshake { len: 40 })));
    // Frame attribution: the ServerHelloDone came in the server's first chunk (frame 2).
    let shd = c
        .events
        .iter()
        .find(|e| e.kind == TlsEventKind::Handshake(HandshakeType(14)))
        .unwrap();
    assert_eq!((shd.frame, shd.ts_us), (2, 1000));
    // Application data afterwards.
    c.feed(ToServer, &rec(23, 0x0303, &[0; 100]), 5, 5);
    assert_eq!(c.app_data_records, [1, 0]);
    assert_eq!(c.app_data_bytes, [100, 0]);
    assert_eq!(
        c.events.last().unwrap().kind,
        TlsEventKind::ApplicationData { len: 100 }
    );
    assert_eq!(c.alerts().count(), 0);
}

#[test]
fn byte_by_byte_equals_all_at_once() {
    let flights = tls12_full();
    let mut whole = TlsConn::new();
    feed_flights(&mut whole, &flights);
    let mut bytes = TlsConn::new();
    let mut frame = 0;
    for (n, f) in flights.iter().enumerate() {
        let dir = if n % 2 == 0 { ToServer } else { ToClient };
        for b in f {
            frame += 1;
            bytes.feed(dir, std::slice::from_ref(b), frame, frame as i64);
        }
    }
    assert_same_facts(&whole, &bytes);
    // The ClientHello is attributed to the frame that delivered its last byte.
    assert_eq!(bytes.events[0].frame, flights[0].len() as u64);
}

#[test]
fn split_at_every_boundary() {
    let flights = tls12_full();
    let mut whole = TlsConn::new();
    feed_flights(&mut whole, &flights);
    for (n, f) in flights.iter().enumerate() {
        for cut in 0..=f.len() {
            let mut c = TlsConn::new();
            for (m, g) in flights.iter().enumerate() {
                let dir = if m % 2 == 0 { ToServer } else { ToClient };
                if m == n {
                    c.feed(dir, &g[..cut], 1, 0);
                    c.feed(dir, &g[cut..], 1, 0);
                } else {
                    c.feed(dir, g, 1, 0);
                }
            }
            assert_same_facts(&whole, &c);
        }
    }
}

#[test]
fn handshake_message_across_three_records() {
    let msg = hs(1, &tls12_client_hello());
    let (a, rest) = msg.split_at(3); // even the handshake header is split
    let (b, d) = rest.split_at(40);
    let mut c = TlsConn::new();
    c.feed(ToServer, &rec(22, 0x0301, a), 1, 0);
    c.feed(ToServer, &rec(22, 0x0303, b), 2, 0);
    assert!(c.client_hello.is_none());
    c.feed(ToServer, &rec(22, 0x0303, d), 3, 0);
    let ch = c.client_hello.as_ref().unwrap();
    assert_eq!(ch.sni.as_deref(), Some("example.com"));
    // record_version is that of the record where the hello started.
    assert_eq!(ch.record_version, 0x0301);
    assert_eq!(c.events[0].frame, 3);
    assert_eq!(c.history, "C");
    assert!(c.malformed.is_empty());
}

#[test]
fn resumed_by_session_id() {
    let sid = [7u8; 32];
    let mut c = TlsConn::new();
    c.feed(
        ToServer,
        &hs_rec(1, &client_hello_body(&sid, &[0xc02f], &[])),
        1,
        0,
    );
    let mut s = hs_rec(2, &server_hello_body(&[3; 32], &sid, 0xc02f, &[]));
    s.extend_from_slice(&rec(20, 0x0303, &[1]));
    s.extend_from_slice(&rec(22, 0x0303, &[0; 40]));
    c.feed(ToClient, &s, 2, 0);
    assert!(c.resumed);
    assert!(!c.established);
    let mut cl = rec(20, 0x0303, &[1]);
    cl.extend_from_slice(&rec(22, 0x0303, &[0; 40]));
    c.feed(ToServer, &cl, 3, 0);
    assert!(c.established);
    assert_eq!(c.history, "CsiI");
    assert!(c.server_cert_der.is_empty());
}

#[test]
fn resumed_by_ticket_server_ccs_first() {
    let mut c = TlsConn::new();
    let ch = client_hello_body(&[1; 32], &[0xc02f], &[ext(35, &[0xab; 64])]);
    c.feed(ToServer, &hs_rec(1, &ch), 1, 0);
    assert!(c.client_hello.as_ref().unwrap().has_session_ticket);
    // A different session id, then NewSessionTicket and CCS before the client's CCS.
    let mut s = hs_rec(
        2,
        &server_hello_body(&[3; 32], &[2; 32], 0xc02f, &[ext(35, &[])]),
    );
    s.extend_from_slice(&hs_rec(4, &[0, 0, 0, 1, 0, 0]));
    s.extend_from_slice(&rec(20, 0x0303, &[1]));
    c.feed(ToClient, &s, 2, 0);
    assert!(c.resumed);
    assert_eq!(c.history, "Csti");
    assert_eq!(c.stage, HandshakeStage::ChangeCipherSpec);
    assert_eq!(c.stage.as_str(), "change_cipher_spec");
}

#[test]
fn alert_in_clear_after_client_hello() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls12_client_hello()), 1, 10);
    c.feed(ToClient, &rec(21, 0x0303, &[2, 40]), 2, 20);
    assert_eq!(c.history, "Cl");
    assert_eq!(c.stage, HandshakeStage::ClientHello);
    assert_eq!(c.stage.as_str(), "client_hello");
    assert!(!c.established);
    let alerts: Vec<_> = c.alerts().collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].kind,
        TlsEventKind::Alert {
            level: 2,
            description: 40
        }
    );
    assert_eq!(
        (alerts[0].frame, alerts[0].ts_us, alerts[0].dir),
        (2, 20, ToClient)
    );
    assert_eq!(c.negotiated_version(), None);
}

#[test]
fn tls12_alert_after_ccs_is_encrypted() {
    let f = tls12_full();
    let mut c = TlsConn::new();
    feed_flights(&mut c, &f[..3]);
    // Server never sends its CCS; instead an encrypted-looking alert... and one in clear
    // from the client after its CCS.
    c.feed(ToServer, &rec(21, 0x0303, &[0x33; 26]), 9, 0);
    c.feed(ToClient, &rec(21, 0x0303, &[0x33; 26]), 10, 0);
    assert!(!c.established);
    let k: Vec<_> = c.alerts().map(|e| (e.dir, e.kind)).collect();
    assert_eq!(
        k,
        vec![
            (ToServer, TlsEventKind::EncryptedAlert { len: 26 }),
            (ToClient, TlsEventKind::EncryptedAlert { len: 26 })
        ]
    );
    assert!(c.history.ends_with("Ll"));
    // A 2-byte alert after the sender's CCS is also encrypted (cannot be read).
    c.feed(ToServer, &rec(21, 0x0303, &[1, 0]), 11, 0);
    assert_eq!(
        c.events.last().unwrap().kind,
        TlsEventKind::EncryptedAlert { len: 2 }
    );
}

#[test]
fn client_certificate_and_duplicate_client_hello() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls12_client_hello()), 1, 0);
    let other = client_hello_body(&[], &[0x002f], &[ext_sni("second.example")]);
    c.feed(ToServer, &hs_rec(1, &other), 2, 0);
    assert_eq!(c.client_hello_count, 2);
    assert_eq!(
        c.client_hello.as_ref().unwrap().sni.as_deref(),
        Some("example.com")
    );
    c.feed(
        ToClient,
        &hs_rec(2, &server_hello_body(&[1; 32], &[], 0x009c, &[])),
        3,
        0,
    );
    c.feed(ToClient, &hs_rec(13, &[1, 1, 0, 2, 4, 1, 0, 0]), 3, 0);
    c.feed(
        ToServer,
        &hs_rec(11, &certificate_body(&[b"CLIENTCERT"])),
        4,
        0,
    );
    assert_eq!(c.stage, HandshakeStage::ClientCertificate);
    c.feed(ToServer, &hs_rec(16, &[0; 10]), 4, 0);
    c.feed(ToServer, &hs_rec(15, &[0; 10]), 4, 0);
    assert_eq!(c.stage, HandshakeStage::CertificateVerify);
    assert_eq!(c.client_cert_der, vec![b"CLIENTCERT".to_vec()]);
    assert_eq!(c.history, "CCsrXGY");
    // RSA key exchange: no curve.
    assert_eq!(c.server_hello.as_ref().unwrap().group, None);
}

// ---------- TLS 1.3 ----------

fn tls13_client_hello() -> Vec<u8> {
    client_hello_body(
        &[0x44; 32],
        &[0x1301, 0x1302, 0xc02f],
        &[
            ext_sni("tls13.example"),
            ext(10, &with_len16(&u16s(&[29, 23]))),
            ext_client_versions(&[0x0a0a, 0x0304, 0x0303]),
            ext_client_key_share(&[0x0a0a, 29]),
            ext(45, &[1, 1]),
        ],
    )
}

fn tls13_server_hello(group: u16, psk: bool) -> Vec<u8> {
    let mut exts = vec![ext(43, &be16(0x0304)), ext_server_key_share(group)];
    if psk {
        exts.push(ext(41, &[0, 0]));
    }
    server_hello_body(&[0x66; 32], &[0x44; 32], 0x1301, &exts)
}

#[test]
fn tls13_handshake_established_by_client_finished() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls13_client_hello()), 1, 0);
    let ch = c.client_hello.as_ref().unwrap();
    assert_eq!(ch.supported_versions, vec![0x0a0a, 0x0304, 0x0303]);
    assert_eq!(ch.key_share_groups, vec![0x0a0a, 29]);
    assert_eq!(ch.extensions, vec![0, 10, 43, 51, 45]);
    let mut s = hs_rec(2, &tls13_server_hello(29, false));
    s.extend_from_slice(&rec(20, 0x0303, &[1]));
    s.extend_from_slice(&rec(23, 0x0303, &[0; 2000]));
    s.extend_from_slice(&rec(23, 0x0303, &[0; 300]));
    c.feed(ToClient, &s, 2, 0);
    assert!(!c.established);
    // The compatibility CCS is no step; the encrypted flight is.
    assert_eq!(c.stage, HandshakeStage::ServerEncryptedFlight);
    let mut cl = rec(20, 0x0303, &[1]);
    cl.extend_from_slice(&rec(23, 0x0303, &[0; 53]));
    c.feed(ToServer, &cl, 3, 0);
    assert!(c.established);
    assert_eq!(c.established_frame, Some(3));
    assert!(!c.resumed);
    assert_eq!(c.history, "CsiI");
    assert_eq!(c.negotiated_version(), Some(0x0304));
    let sh = c.server_hello.as_ref().unwrap();
    assert_eq!(
        (sh.version, sh.selected_version, sh.group),
        (0x0303, Some(0x0304), Some(29))
    );
    let k = kinds(&c);
    assert!(k.contains(&(ToClient, TlsEventKind::EncryptedHandshake { len: 2000 })));
    assert!(k.contains(&(ToServer, TlsEventKind::EncryptedHandshake { len: 53 })));
    // Then real application data.
    c.feed(ToClient, &rec(23, 0x0303, &[0; 19]), 4, 0);
    assert_eq!(
        c.events.last().unwrap().kind,
        TlsEventKind::ApplicationData { len: 19 }
    );
    assert!(c.malformed.is_empty());
}

#[test]
fn tls13_encrypted_alert_is_not_finished() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls13_client_hello()), 1, 0);
    let mut s = hs_rec(2, &tls13_server_hello(29, false));
    s.extend_from_slice(&rec(20, 0x0303, &[1]));
    s.extend_from_slice(&rec(23, 0x0303, &[0; 2000]));
    c.feed(ToClient, &s, 2, 0);
    let mut cl = rec(20, 0x0303, &[1]);
    cl.extend_from_slice(&rec(23, 0x0303, &[0; 19]));
    c.feed(ToServer, &cl, 3, 0);
    assert!(!c.established);
    assert_eq!(c.history, "CsiIL");
    let a: Vec<_> = c.alerts().map(|e| (e.dir, e.kind, e.frame)).collect();
    assert_eq!(
        a,
        vec![(ToServer, TlsEventKind::EncryptedAlert { len: 19 }, 3)]
    );
    assert_ne!(c.stage, HandshakeStage::Established);
}

#[test]
fn tls13_psk_resumption() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls13_client_hello()), 1, 0);
    c.feed(ToClient, &hs_rec(2, &tls13_server_hello(29, true)), 2, 0);
    assert!(c.resumed);
}

#[test]
fn hello_retry_request() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls13_client_hello()), 1, 0);
    let hrr = server_hello_body(
        &HRR_RANDOM,
        &[0x44; 32],
        0x1302,
        &[ext(43, &be16(0x0304)), ext(51, &be16(23))],
    );
    let mut s = hs_rec(2, &hrr);
    s.extend_from_slice(&rec(20, 0x0303, &[1]));
    c.feed(ToClient, &s, 2, 0);
    assert_eq!(c.stage, HandshakeStage::HelloRetryRequest);
    let h = c.hello_retry_request.as_ref().unwrap();
    assert!(h.is_hello_retry_request);
    assert_eq!(
        (h.group, h.selected_version, h.cipher),
        (Some(23), Some(0x0304), 0x1302)
    );
    assert!(c.server_hello.is_none());
    // The client's compat CCS must not make its second ClientHello "encrypted".
    let second = client_hello_body(
        &[0x44; 32],
        &[0x1302],
        &[ext_client_versions(&[0x0304]), ext_client_key_share(&[23])],
    );
    let mut cl = rec(20, 0x0303, &[1]);
    cl.extend_from_slice(&hs_rec(1, &second));
    c.feed(ToServer, &cl, 3, 0);
    assert_eq!(c.client_hello_count, 2);
    // The first hello is kept.
    assert_eq!(
        c.client_hello.as_ref().unwrap().key_share_groups,
        vec![0x0a0a, 29]
    );
    c.feed(ToClient, &hs_rec(2, &tls13_server_hello(23, false)), 4, 0);
    assert_eq!(c.history, "CjiICs");
    assert_eq!(c.server_hello.as_ref().unwrap().group, Some(23));
    assert!(c.events.contains(&TlsEvent {
        dir: ToClient,
        frame: 2,
        ts_us: 0,
        kind: TlsEventKind::Handshake(HandshakeType(6))
    }));
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
}

#[test]
fn tls13_draft_server_hello() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls13_client_hello()), 1, 0);
    // draft-18 layout: version 0x7f12, random, cipher, extensions.
    let mut b = be16(0x7f12).to_vec();
    b.extend_from_slice(&[1; 32]);
    b.extend_from_slice(&be16(0x1303));
    b.extend_from_slice(&with_len16(&ext(40, &[0, 29, 0, 2, 1, 2])));
    c.feed(ToClient, &hs_rec(2, &b), 2, 0);
    c.feed(ToClient, &rec(23, 0x0301, &[0; 500]), 2, 0);
    c.feed(ToServer, &rec(23, 0x0301, &[0; 60]), 3, 0);
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    assert_eq!(c.negotiated_version(), Some(0x7f12));
    assert_eq!(
        names::version_name(c.negotiated_version().unwrap()),
        "TLSv1.3-draft18"
    );
    assert_eq!(c.server_hello.as_ref().unwrap().group, Some(29));
    assert!(c.established);
    assert_eq!(c.history, "Cs");
}

// ---------- SSLv2 ----------

fn sslv2_client_hello() -> Vec<u8> {
    let specs: [[u8; 3]; 4] = [[1, 0, 0x80], [0, 0, 0x35], [0, 0, 0x2f], [0, 0, 0xff]];
    let mut b = vec![1u8];
    b.extend_from_slice(&be16(0x0301));
    b.extend_from_slice(&be16(12));
    b.extend_from_slice(&be16(0));
    b.extend_from_slice(&be16(16));
    b.extend_from_slice(&specs.concat());
    b.extend_from_slice(&[0xcc; 16]);
    let mut r = vec![0x80 | (b.len() >> 8) as u8, b.len() as u8];
    r.extend_from_slice(&b);
    r
}

#[test]
fn sslv2_client_hello_upgraded_to_tls() {
    let mut c = TlsConn::new();
    let r = sslv2_client_hello();
    for (n, b) in r.iter().enumerate() {
        c.feed(ToServer, std::slice::from_ref(b), n as u64, 0);
    }
    let ch = c.client_hello.as_ref().unwrap();
    assert!(ch.sslv2_format);
    assert_eq!(ch.version, 0x0301);
    assert_eq!(ch.record_version, 0x0002);
    assert_eq!(ch.ciphers, vec![0x35, 0x2f, 0xff]);
    assert_eq!(ch.random, vec![0xcc; 16]);
    let mut sh = server_hello_body(&[1; 32], &[], 0x0035, &[]);
    sh[0..2].copy_from_slice(&be16(0x0301));
    c.feed(ToClient, &rec(22, 0x0301, &hs(2, &sh)), 99, 0);
    assert_eq!(c.negotiated_version(), Some(0x0301));
    assert_eq!(c.history, "Cs");
    // TLS records from the client after its SSLv2 hello are fine.
    c.feed(ToServer, &hs_rec(16, &[0; 10]), 100, 0);
    assert_eq!(c.history, "CsG");
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
}

#[test]
fn sslv2_negotiated() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &sslv2_client_hello(), 1, 0);
    let cert = b"V2CERT";
    let mut b = vec![4u8, 0, 1];
    b.extend_from_slice(&be16(0x0002));
    b.extend_from_slice(&be16(cert.len() as u16));
    b.extend_from_slice(&be16(3));
    b.extend_from_slice(&be16(16));
    b.extend_from_slice(cert);
    b.extend_from_slice(&[1, 0, 0x80]);
    b.extend_from_slice(&[0xdd; 16]);
    let mut r = vec![0x80, b.len() as u8];
    r.extend_from_slice(&b);
    c.feed(ToClient, &r, 2, 0);
    assert_eq!(c.negotiated_version(), Some(0x0002));
    assert_eq!(names::version_name(0x0002), "SSLv2");
    assert_eq!(c.server_cert_der, vec![cert.to_vec()]);
    // The SERVER-HELLO is where the certificate arrived: a Certificate event at its frame,
    // so findings about the certificate can point at it.
    assert_eq!(
        kinds(&c)[1..],
        [
            (ToClient, TlsEventKind::Handshake(HandshakeType(2))),
            (ToClient, TlsEventKind::Handshake(HandshakeType(11))),
        ]
    );
    assert_eq!(c.events[2].frame, 2);
    // SSLv2 records follow; they are not TLS but not malformed either.
    c.feed(ToServer, &[0x80, 5, 2, 1, 2, 3, 4], 3, 0);
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    assert_eq!(c.history, "Cs");
}

// ---------- hostile input ----------

#[test]
fn http_garbage_is_malformed_and_stops_direction() {
    let mut c = TlsConn::new();
    c.feed(ToServer, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0);
    assert_eq!(c.malformed.len(), 1);
    assert_eq!(
        c.malformed[0].reason,
        "record header 47 45 54 20 2f is not TLS (content type 0x47)"
    );
    assert_eq!((c.malformed[0].dir, c.malformed[0].frame), (ToServer, 1));
    c.feed(ToServer, &hs_rec(1, &tls12_client_hello()), 2, 0);
    assert!(c.client_hello.is_none());
    assert_eq!(c.malformed.len(), 1);
    // The other direction is independent.
    c.feed(ToClient, b"HTTP/1.1 400 Bad Request\r\n", 3, 0);
    assert_eq!(c.malformed.len(), 2);
    assert!(c.events.iter().all(|e| e.kind == TlsEventKind::Malformed));
}

#[test]
fn bad_record_version_and_length() {
    let mut c = TlsConn::new();
    c.feed(ToClient, &[0x15, 0x00, 0x00, 0x00, 0x02, 2, 40], 1, 0);
    assert_eq!(
        c.malformed[0].reason,
        "record header 15 00 00 00 02 is not TLS (version 0x0000)"
    );
    c.feed(ToServer, &[0x16, 0x03, 0x01, 0xff, 0xff], 2, 0);
    assert!(
        c.malformed[1].reason.contains("claims 65535 bytes"),
        "{}",
        c.malformed[1].reason
    );
}

#[test]
fn absurd_handshake_length_stops_direction() {
    let mut c = TlsConn::new();
    c.feed(
        ToServer,
        &rec(22, 0x0301, &[1, 0xff, 0xff, 0xff, 3, 3]),
        1,
        0,
    );
    assert_eq!(c.malformed.len(), 1);
    assert!(c.malformed[0]
        .reason
        .contains("client_hello claims 16777215 bytes"));
    c.feed(ToServer, &hs_rec(1, &tls12_client_hello()), 2, 0);
    assert!(c.client_hello.is_none());
}

#[test]
fn impossible_extension_length_is_reported() {
    let mut body = tls12_client_hello();
    // Make the extensions block length claim 2 bytes more than there are.
    let ext_len_at = 2 + 32 + 1 + 2 + 10 + 2;
    let n = u16::from_be_bytes([body[ext_len_at], body[ext_len_at + 1]]);
    body[ext_len_at..ext_len_at + 2].copy_from_slice(&be16(n + 2));
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &body), 1, 0);
    assert!(
        c.malformed[0].reason.starts_with("ClientHello"),
        "{:?}",
        c.malformed
    );
    // Fixed part is still there.
    assert_eq!(c.client_hello.as_ref().unwrap().ciphers.len(), 5);

    // One extension claiming more than the block.
    let mut c = TlsConn::new();
    let bad = client_hello_body(&[], &[0x2f], &[ext_sni("a.b"), vec![0, 16, 0x40, 0, 1]]);
    c.feed(ToServer, &hs_rec(1, &bad), 1, 0);
    assert_eq!(
        c.malformed[0].reason,
        "ClientHello extension 0x0010 (application_layer_protocol_negotiation) claims 16384 bytes but only 1 remain"
    );
    let ch = c.client_hello.as_ref().unwrap();
    assert_eq!(ch.extensions, vec![0]);
    assert_eq!(ch.sni.as_deref(), Some("a.b"));

    // Hello shorter than its fixed part.
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &[3, 3, 1, 2]), 1, 0);
    assert!(c.malformed[0]
        .reason
        .starts_with("ClientHello does not parse"));
    assert_eq!(c.history, "C");
}

#[test]
fn certificate_length_mismatch() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls12_client_hello()), 1, 0);
    c.feed(
        ToClient,
        &hs_rec(2, &server_hello_body(&[1; 32], &[], 0x2f, &[])),
        2,
        0,
    );
    let mut cert = certificate_body(&[b"ABCDEFGH"]);
    cert[5] = 0x20; // entry claims 32 bytes, list has 8
    c.feed(ToClient, &hs_rec(11, &cert), 3, 0);
    assert!(
        c.malformed
            .iter()
            .any(|m| m.reason.starts_with("Certificate")),
        "{:?}",
        c.malformed
    );
}

#[test]
fn incomplete_handshake_before_other_record() {
    let mut c = TlsConn::new();
    let msg = hs(1, &tls12_client_hello());
    c.feed(ToServer, &rec(22, 0x0303, &msg[..20]), 1, 0);
    c.feed(ToServer, &rec(21, 0x0303, &[2, 10]), 2, 0);
    assert!(c.malformed[0].reason.contains("client_hello is incomplete"));
    assert_eq!(c.history, "L");
}

#[test]
fn heartbleed_heartbeat() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls12_client_hello()), 1, 0);
    c.feed(ToServer, &rec(24, 0x0303, &[1, 0x40, 0x00]), 2, 0);
    let e = c.events.last().unwrap();
    assert_eq!(
        e.kind,
        TlsEventKind::Heartbeat {
            len: 3,
            payload_len_claimed: 0x4000
        }
    );
    assert!(e.kind.is_heartbleed());
    assert_eq!(c.history, "CB");
    let honest = TlsEventKind::Heartbeat {
        len: 19 + 16,
        payload_len_claimed: 16,
    };
    assert!(!honest.is_heartbleed());
}

#[test]
fn gap_then_resync() {
    let [ch, server1, client2, server2] = tls12_full();
    let mut c = TlsConn::new();
    c.feed(ToServer, &ch, 1, 0);
    // Half of the server's first flight, then loss.
    c.feed(ToClient, &server1[..30], 2, 0);
    c.gap(ToClient, 3, 0);
    // The rest of a lost record (junk), then records again, with the header split.
    let mut tail = vec![0xee; 7];
    tail.extend_from_slice(&hs_rec(14, &[]));
    c.feed(ToClient, &tail[..9], 4, 0);
    c.feed(ToClient, &tail[9..], 5, 0);
    c.feed(ToServer, &client2, 6, 0);
    c.feed(ToClient, &server2, 7, 0);
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    assert_eq!(c.history, "CnGIti");
    assert!(!c.resumed);
    assert!(c.established);
    // A gap in the middle of a handshake message drops it.
    let mut c = TlsConn::new();
    let msg = hs_rec(1, &tls12_client_hello());
    c.feed(ToServer, &msg[..50], 1, 0);
    c.gap(ToServer, 2, 0);
    c.feed(ToServer, &msg, 3, 0);
    assert_eq!(c.client_hello_count, 1);
    assert!(c.client_hello.is_some());
}

#[test]
fn heartbleed_needs_room_for_padding() {
    // Zeek's heartbleed trace: a 16368-byte record claiming a 16365-byte payload leaves
    // no room for the 16 bytes of padding RFC 6520 requires: an over-read request.
    let zeek = TlsEventKind::Heartbeat {
        len: 16368,
        payload_len_claimed: 16365,
    };
    assert!(zeek.is_heartbleed());
    let exact = TlsEventKind::Heartbeat {
        len: 3 + 100 + 16,
        payload_len_claimed: 100,
    };
    assert!(!exact.is_heartbleed());
    // Encrypted heartbeats report no claimed length and are never flagged.
    let encrypted = TlsEventKind::Heartbeat {
        len: 8,
        payload_len_claimed: 0,
    };
    assert!(!encrypted.is_heartbleed());
}

#[test]
fn nss_draft_extension_names_the_negotiated_draft() {
    // Draft-14 era: ServerHello says 0x0304, the draft is only in the client's 0xff02.
    let mut c = TlsConn::new();
    let mut ch = client_hello_body(&[], &[0xc02b], &[ext(0xff02, &[0, 14])]);
    ch[..2].copy_from_slice(&be16(0x0304));
    c.feed(ToServer, &rec(22, 0x0301, &hs(1, &ch)), 1, 0);
    let mut sh = vec![0x03, 0x04];
    sh.extend_from_slice(&[0x33; 32]);
    sh.extend_from_slice(&be16(0xc02b));
    sh.extend_from_slice(&with_len16(&[]));
    c.feed(ToClient, &rec(22, 0x0301, &hs(2, &sh)), 2, 0);
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    assert_eq!(c.negotiated_version(), Some(0x7f0e));
    assert_eq!(names::version_name(0x7f0e), "TLSv1.3-draft14");
    // Without the extension a 0x0304 ServerHello stays TLS 1.3.
    let mut c = TlsConn::new();
    let mut ch = client_hello_body(&[], &[0xc02b], &[]);
    ch[..2].copy_from_slice(&be16(0x0304));
    c.feed(ToServer, &rec(22, 0x0301, &hs(1, &ch)), 1, 0);
    c.feed(ToClient, &rec(22, 0x0301, &hs(2, &sh)), 2, 0);
    assert_eq!(c.negotiated_version(), Some(0x0304));
}

#[test]
fn ccs_lost_in_gap_then_encrypted_finished() {
    // suricata-verify bug-2512: the client's ChangeCipherSpec segment is missing from the
    // capture; its encrypted Finished (first byte 0xaf) must not be read as a plaintext
    // handshake message "claiming 1443233 bytes".
    let [ch, server1, client2, server2] = tls12_full();
    let mut c = TlsConn::new();
    c.feed(ToServer, &ch, 1, 0);
    c.feed(ToClient, &server1, 2, 0);
    let cke = hs_rec(16, &[0x41; 66]);
    c.feed(ToServer, &cke, 3, 0);
    c.gap(ToServer, 4, 0);
    let mut fin = vec![0xaf, 0x16, 0x05, 0xa1];
    fin.extend_from_slice(&[0x5a; 36]);
    c.feed(ToServer, &rec(22, 0x0303, &fin), 5, 0);
    c.feed(ToClient, &server2, 6, 0);
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    assert_eq!(c.history, "CsxknGti");
    assert!(c.established);
    // A gap before the ServerHello proves nothing: a bad header there is still malformed.
    let mut c = TlsConn::new();
    c.feed(ToServer, &ch, 1, 0);
    c.gap(ToServer, 2, 0);
    c.feed(ToServer, &rec(22, 0x0303, &fin), 3, 0);
    assert_eq!(c.malformed.len(), 1, "{:?}", c.malformed);
    drop(client2);
}

#[test]
fn certificate_larger_than_64k_is_kept() {
    let big = vec![0x30; 100_000];
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls12_client_hello()), 1, 0);
    let sh = server_hello_body(&[0x22; 32], &[], 0xc02f, &[]);
    let msg = [hs(2, &sh), hs(11, &certificate_body(&[&big]))].concat();
    for chunk in msg.chunks(16_000) {
        c.feed(ToClient, &rec(22, 0x0303, chunk), 2, 0);
    }
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    assert_eq!(c.server_cert_der, vec![big]);
}

#[test]
fn bounded_events() {
    let f = tls12_full();
    let mut c = TlsConn::new();
    feed_flights(&mut c, &f);
    let r = rec(23, 0x0303, &[0; 10]);
    for n in 0..1000 {
        c.feed(ToServer, &r, 10 + n, 0);
    }
    assert_eq!(c.app_data_records[0], 1000);
    let app = c
        .events
        .iter()
        .filter(|e| matches!(e.kind, TlsEventKind::ApplicationData { .. }))
        .count();
    assert_eq!(app as u64, MAX_APP_DATA_EVENTS_PER_DIR);
}

/// Mutated and truncated real handshakes must never panic.
#[test]
fn mutations_never_panic() {
    let flights = tls12_full();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut fl = flights.clone();
        for _ in 0..(next() % 6) {
            let which = (next() % 4) as usize;
            if fl[which].is_empty() {
                continue;
            }
            let at = (next() as usize) % fl[which].len();
            match next() % 3 {
                0 => fl[which][at] = next() as u8,
                1 => fl[which].truncate(at),
                _ => fl[which][at] ^= 0x80,
            }
        }
        let mut c = TlsConn::new();
        for (n, f) in fl.iter().enumerate() {
            let dir = if n % 2 == 0 { ToServer } else { ToClient };
            let cut = if f.is_empty() {
                0
            } else {
                (next() as usize) % f.len()
            };
            c.feed(dir, &f[..cut], 1, 0);
            if next() % 5 == 0 {
                c.gap(dir, 1, 0);
            }
            c.feed(dir, &f[cut..], 2, 0);
        }
        let _ = c.negotiated_version();
    }
    // Pure noise too.
    for _ in 0..500 {
        let noise: Vec<u8> = (0..(next() % 600)).map(|_| next() as u8).collect();
        let mut c = TlsConn::new();
        c.feed(ToServer, &noise, 1, 0);
        c.feed(ToClient, &noise, 1, 0);
    }
}

// ---------- real captures ----------

mod captures {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use std::collections::{BTreeMap, HashMap};
    use std::path::PathBuf;

    fn capture(rel: &str) -> Option<Vec<u8>> {
        let roots = [
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures"),
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures"),
            PathBuf::from("/work/shared/captures"),
        ];
        for r in roots {
            if let Ok(b) = std::fs::read(r.join(rel)) {
                return Some(b);
            }
        }
        eprintln!("capture {rel} not found; skipping");
        None
    }

    #[derive(Default)]
    struct Half {
        next: Option<u32>,
        pending: BTreeMap<u32, Vec<u8>>,
    }

    struct Flow {
        client: (Vec<u8>, u16),
        halves: [Half; 2],
        tls: TlsConn,
    }

    fn deliver(tls: &mut TlsConn, h: &mut Half, dir: Dir, seq: u32, data: &[u8], frame: u64) {
        let Some(next) = h.next else {
            h.next = Some(seq.wrapping_add(data.len() as u32));
            tls.feed(dir, data, frame, 0);
            return;
        };
        let off = seq.wrapping_sub(next) as i32;
        if off > 0 {
            h.pending.insert(seq, data.to_vec());
            return;
        }
        let skip = (-off) as usize;
        if skip < data.len() {
            tls.feed(dir, &data[skip..], frame, 0);
            h.next = Some(next.wrapping_add((data.len() - skip) as u32));
        }
        while let Some((&s, _)) = h.pending.iter().next() {
            let n = h.next.unwrap();
            if (s.wrapping_sub(n) as i32) > 0 {
                break;
            }
            let d = h.pending.remove(&s).unwrap();
            deliver(tls, h, dir, s, &d, frame);
        }
    }

    /// TLS state of each TCP flow of a capture, in order of appearance.
    fn run(rel: &str) -> Option<Vec<TlsConn>> {
        let bytes = capture(rel)?;
        let (_, cap) = pcap_parser::parse_pcap(&bytes).expect("pcap");
        let link = cap.header.network.0;
        let mut flows: Vec<Flow> = Vec::new();
        let mut index: HashMap<(Vec<u8>, u16, Vec<u8>, u16), usize> = HashMap::new();
        for (n, b) in cap.blocks.iter().enumerate() {
            let frame = n as u64 + 1;
            let p = match link {
                1 => SlicedPacket::from_ethernet(b.data),
                113 => SlicedPacket::from_linux_sll(b.data),
                0 => SlicedPacket::from_ip(b.data.get(4..).unwrap_or_default()),
                _ => SlicedPacket::from_ip(b.data),
            };
            let Ok(p) = p else { continue };
            let (src, dst) = match &p.net {
                Some(NetSlice::Ipv4(s)) => (
                    s.header().source().to_vec(),
                    s.header().destination().to_vec(),
                ),
                Some(NetSlice::Ipv6(s)) => (
                    s.header().source().to_vec(),
                    s.header().destination().to_vec(),
                ),
                _ => continue,
            };
            let Some(TransportSlice::Tcp(t)) = &p.transport else {
                continue;
            };
            let (sp, dp) = (t.source_port(), t.destination_port());
            let key = (src.clone(), sp, dst.clone(), dp);
            let rkey = (dst.clone(), dp, src.clone(), sp);
            let idx = match (index.get(&key), index.get(&rkey)) {
                (Some(&i), _) | (_, Some(&i)) => i,
                _ => {
                    // The initiator is the sender of a bare SYN, else of the first packet.
                    let client = if t.syn() && t.ack() {
                        (dst.clone(), dp)
                    } else {
                        (src.clone(), sp)
                    };
                    flows.push(Flow {
                        client,
                        halves: Default::default(),
                        tls: TlsConn::new(),
                    });
                    index.insert(key.clone(), flows.len() - 1);
                    flows.len() - 1
                }
            };
            let f = &mut flows[idx];
            let dir = if (src.clone(), sp) == f.client {
                ToServer
            } else {
                ToClient
            };
            let h = &mut f.halves[dir.index()];
            if t.syn() {
                h.next = Some(t.sequence_number().wrapping_add(1));
                continue;
            }
            if t.payload().is_empty() {
                continue;
            }
            deliver(&mut f.tls, h, dir, t.sequence_number(), t.payload(), frame);
        }
        Some(flows.into_iter().map(|f| f.tls).collect())
    }

    fn cipher(c: &TlsConn) -> String {
        names::cipher_name(c.server_hello.as_ref().unwrap().cipher)
    }

    #[test]
    fn zeek_tls12_normal_handshake() {
        let Some(flows) = run("zeek/tls12-normal-handshake.pcap") else {
            return;
        };
        let c = &flows[0];
        assert_eq!(c.history, "CsxnGIi");
        assert!(c.established);
        assert_eq!(c.negotiated_version(), Some(0x0303));
        assert_eq!(cipher(c), "TLS_RSA_WITH_RC4_128_MD5");
        assert_eq!(
            names::cipher_is_weak(c.server_hello.as_ref().unwrap().cipher),
            Some("RC4")
        );
        assert_eq!(c.server_cert_der.len(), 3);
        assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    }

    #[test]
    fn zeek_tls12_handshake_failure_alert() {
        let Some(flows) = run("zeek/tls12-handshake-failure-alert.pcap") else {
            return;
        };
        let c = &flows[0];
        assert_eq!(c.history, "Cl");
        assert!(!c.established);
        let a: Vec<_> = c.alerts().collect();
        assert_eq!(
            a[0].kind,
            TlsEventKind::Alert {
                level: 2,
                description: 40
            }
        );
        assert_eq!(c.stage.as_str(), "client_hello");
    }

    #[test]
    fn zeek_tls12_protocol_error_invalid_version() {
        let Some(flows) = run("zeek/tls12-protocol-error-invalid-version.pcap") else {
            return;
        };
        let c = &flows[0];
        assert!(
            c.malformed.iter().any(|m| m.reason.contains("is not TLS")),
            "{:?}",
            c.malformed
        );
    }

    #[test]
    fn zeek_tls13_hello_retry_request() {
        let Some(flows) = run("zeek/tls13-hello-retry-request.pcap") else {
            return;
        };
        let c = &flows[0];
        assert_eq!(c.history, "CjiICs");
        assert!(c.established);
        assert_eq!(c.negotiated_version(), Some(0x0304));
        assert_eq!(cipher(c), "TLS_AES_256_GCM_SHA384");
        assert_eq!(
            names::group_name(c.server_hello.as_ref().unwrap().group.unwrap()),
            "secp256r1"
        );
        assert_eq!(c.client_hello_count, 2);
        assert!(c.hello_retry_request.is_some());
        assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    }

    #[test]
    fn zeek_tls13_psk_resumption() {
        let Some(flows) = run("zeek/tls13-psk-resumption.pcap") else {
            return;
        };
        let c = &flows[0];
        assert!(c.resumed);
        assert!(c.established);
        assert_eq!(c.history, "CsiI");
        assert_eq!(cipher(c), "TLS_CHACHA20_POLY1305_SHA256");
        assert_eq!(c.server_hello.as_ref().unwrap().group, Some(29));
    }

    #[test]
    fn zeek_tls13_draft23() {
        let Some(flows) = run("zeek/tls13-draft23-chrome.pcap") else {
            return;
        };
        let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
        assert_eq!(
            names::version_name(c.negotiated_version().unwrap()),
            "TLSv1.3-draft23"
        );
        assert_eq!(c.history, "CsiI");
        assert!(c.established);
        assert_eq!(
            c.client_hello.as_ref().unwrap().sni.as_deref(),
            Some("tls13.crypto.mozilla.org")
        );
    }

    #[test]
    fn zeek_tls13_kyber() {
        let Some(flows) = run("zeek/tls13-chrome-x25519-kyber.pcap") else {
            return;
        };
        let c = flows.iter().find(|c| c.server_hello.is_some()).unwrap();
        assert_eq!(c.history, "CsiI");
        assert_eq!(
            names::group_name(c.server_hello.as_ref().unwrap().group.unwrap()),
            "X25519Kyber768Draft00"
        );
        assert_eq!(
            c.client_hello.as_ref().unwrap().sni.as_deref(),
            Some("lh3.google.com")
        );
    }

    #[test]
    fn zeek_fragmented_handshake() {
        let Some(flows) = run("zeek/tls12-fragmented-handshake-port4433.pcap") else {
            return;
        };
        let c = &flows[0];
        assert_eq!(c.history, "Csxkn");
        assert!(!c.established);
        assert_eq!(
            names::group_name(c.server_hello.as_ref().unwrap().group.unwrap()),
            "secp256r1"
        );
        assert_eq!(cipher(c), "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384");
    }

    #[test]
    fn zeek_client_cert_requested_failed() {
        let Some(flows) = run("zeek/tls-client-cert-requested-failed.pcap") else {
            return;
        };
        let c = &flows[0];
        assert_eq!(c.history, "CsxkrnXGIl");
        assert!(!c.established);
        assert_eq!(
            names::group_name(c.server_hello.as_ref().unwrap().group.unwrap()),
            "x25519"
        );
    }

    #[test]
    fn zeek_sslv2_client_hello() {
        let Some(flows) = run("zeek/sslv2-clienthello.pcap") else {
            return;
        };
        let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
        assert!(c.client_hello.as_ref().unwrap().sslv2_format);
        assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    }

    #[test]
    fn zeek_heartbleed() {
        let Some(flows) = run("zeek/tls-heartbleed-attempt.pcap") else {
            return;
        };
        let hb = flows
            .iter()
            .flat_map(|c| c.events.iter())
            .filter(|e| matches!(e.kind, TlsEventKind::Heartbeat { .. }))
            .count();
        assert!(hb > 0);
    }

    #[test]
    fn suricata_clienthello_split_across_segments() {
        let Some(flows) =
            run("suricata-verify/tls12-clienthello-split-across-tcp-segments-mtu300.pcap")
        else {
            return;
        };
        let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
        assert_eq!(
            c.client_hello.as_ref().unwrap().sni.as_deref(),
            Some("www.google.com")
        );
    }

    #[test]
    fn suricata_sslv2_upgrade() {
        let Some(flows) = run("suricata-verify/sslv2-compat-clienthello-upgrade-to-tlsv1.pcap")
        else {
            return;
        };
        let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
        assert!(c.client_hello.as_ref().unwrap().sslv2_format);
        assert_eq!(c.negotiated_version(), Some(0x0301));
        assert!(!c.server_cert_der.is_empty());
    }

    #[test]
    fn suricata_tls13_draft22_hrr() {
        let Some(flows) = run("suricata-verify/tls13-draft22-hello-retry-request-port4433.pcap")
        else {
            return;
        };
        let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
        assert_eq!(c.client_hello_count, 2);
        assert_eq!(
            c.client_hello.as_ref().unwrap().sni.as_deref(),
            Some("localhost")
        );
        assert_eq!(
            names::version_name(c.negotiated_version().unwrap()),
            "TLSv1.3-draft22"
        );
    }

    #[test]
    fn suricata_duplicate_client_hello() {
        let Some(flows) = run("suricata-verify/tls-duplicate-clienthello-nulllink.pcap") else {
            return;
        };
        let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
        assert_eq!(c.client_hello_count, 2);
    }

    /// Every capture of the corpus: no panic, and a summary to eyeball with --nocapture.
    #[test]
    fn whole_corpus_does_not_panic() {
        for sub in ["zeek", "suricata-verify"] {
            let Some(root) = [
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures"),
                PathBuf::from("/work/shared/captures"),
            ]
            .into_iter()
            .find(|p| p.exists()) else {
                return;
            };
            let Ok(dir) = std::fs::read_dir(root.join(sub)) else {
                continue;
            };
            let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
            files.sort();
            for p in files
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
            {
                let rel = format!("{sub}/{}", p.file_name().unwrap().to_string_lossy());
                let Some(flows) = run(&rel) else { continue };
                for c in flows.iter().filter(|c| !c.events.is_empty()) {
                    eprintln!(
                        "{rel}: {} v={:?} est={} res={} mal={:?}",
                        c.history,
                        c.negotiated_version().map(names::version_name),
                        c.established,
                        c.resumed,
                        c.malformed.iter().map(|m| &m.reason).collect::<Vec<_>>()
                    );
                }
            }
        }
    }
}

#[test]
fn incomplete_handshake_at_end_is_reported_by_finish() {
    let mut c = TlsConn::new();
    let msg = hs(1, &tls12_client_hello());
    c.feed(ToServer, &rec(22, 0x0303, &msg[..20]), 1, 0);
    // Zero-length handshake records leave the pending message as it was.
    for f in 2..100 {
        c.feed(ToServer, &rec(22, 0x0303, &[]), f, 0);
    }
    assert!(c.malformed.is_empty());
    assert_eq!(c.buffered_bytes(), 20);
    c.finish(100, 7);
    assert_eq!(c.malformed.len(), 1);
    let m = &c.malformed[0];
    assert_eq!((m.dir, m.frame), (ToServer, 100));
    let want = format!("client_hello is incomplete (20 of {} bytes)", msg.len());
    assert!(m.reason.contains(&want), "{}", m.reason);
    assert_eq!(c.buffered_bytes(), 0);
    c.finish(101, 8);
    assert_eq!(c.malformed.len(), 1, "a second finish adds nothing");
}

#[test]
fn finish_after_complete_messages_reports_nothing() {
    let mut c = TlsConn::new();
    feed_flights(&mut c, &tls12_full());
    let before = c.events.len();
    c.finish(99, 0);
    assert!(c.malformed.is_empty());
    assert_eq!(c.events.len(), before);
}

#[test]
fn oversized_length_in_a_split_header_stops_before_buffering() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &rec(22, 0x0303, &[11, 0xff]), 1, 0);
    c.feed(ToServer, &rec(22, 0x0303, &[0xff, 0xff, 0, 0, 0]), 2, 0);
    assert_eq!(c.malformed.len(), 1);
    assert!(
        c.malformed[0].reason.contains("16777215"),
        "{:?}",
        c.malformed
    );
    assert_eq!(c.malformed[0].frame, 2);
    assert_eq!(c.buffered_bytes(), 0);
}

#[test]
fn message_completed_mid_record_then_whole_messages_follow() {
    let ch = hs(1, &tls12_client_hello());
    let mut c = TlsConn::new();
    c.feed(ToServer, &rec(22, 0x0301, &ch[..10]), 1, 0);
    // The rest of the hello, two whole HelloRequests and the start of a third message.
    let tail = [&ch[10..], &hs(0, &[]), &hs(0, &[]), &[20u8, 0][..]].concat();
    c.feed(ToServer, &rec(22, 0x0303, &tail), 2, 0);
    assert_eq!(c.history, "CHH");
    assert_eq!(c.client_hello.as_ref().unwrap().record_version, 0x0301);
    assert_eq!(c.buffered_bytes(), 2);
    assert!(c.malformed.is_empty());
}

#[test]
fn events_past_the_cap_are_reported_once() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls12_client_hello()), 1, 0);
    for f in 0..(MAX_EVENTS as u64 + 10) {
        c.feed(ToClient, &rec(21, 0x0303, &[1, 0]), 2 + f, 0);
    }
    assert_eq!(c.events.len(), MAX_EVENTS);
    assert_eq!(c.events_dropped, 11);
    assert_eq!(c.malformed.len(), 1);
    let m = &c.malformed[0];
    assert_eq!((m.dir, m.frame), (ToClient, 2 + MAX_EVENTS as u64 - 1));
    assert!(m.reason.contains("more than 4096"), "{}", m.reason);
}

#[test]
fn empty_application_data_with_split_header_is_counted() {
    let mut c = TlsConn::new();
    feed_flights(&mut c, &tls12_full());
    let empty = rec(23, 0x0303, &[]);
    let (a, b) = empty.split_at(2);
    c.feed(ToServer, a, 10, 0);
    c.feed(ToServer, b, 11, 0);
    // Byte by byte, and then the same record whole.
    for (k, byte) in empty.iter().enumerate() {
        c.feed(ToServer, &[*byte], 12 + k as u64, 0);
    }
    c.feed(ToServer, &empty, 20, 0);
    assert_eq!(c.app_data_records[ToServer.index()], 3);
    let frames: Vec<_> = c
        .events
        .iter()
        .filter(|e| matches!(e.kind, TlsEventKind::ApplicationData { len: 0 }))
        .map(|e| e.frame)
        .collect();
    assert_eq!(frames, [11, 16, 20]);
}
