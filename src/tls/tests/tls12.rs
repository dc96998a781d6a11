//! TLS 1.2 and earlier handshakes: full, resumed, alerts, client certificates, splits.

use super::*;

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

/// JA4 reads the first ALPN name's bytes as sent: a name that is not UTF-8 gives the hex
/// of its first and last byte (FoxIO's rule), not of a replacement character.
#[test]
fn ja4_alpn_of_a_name_that_is_not_utf8() {
    let alpn = ext(16, &with_len16(&[2, 0xff, 0x61]));
    let ch = client_hello_body(&[], &[0xc02f], &[ext_sni("a.example"), alpn]);
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &ch), 1, 0);
    let ch = c.client_hello.as_ref().unwrap();
    assert_eq!(ch.alpn_first_raw, [0xff, 0x61]);
    assert_eq!(&crate::fingerprint::ja4(ch)[..10], "t12d0102f1");
}

/// An SSL 3.0 ServerHello with extensions: JA3S lists them (as Zeek, Suricata and
/// Wireshark do), and they are no parse error.
#[test]
fn sslv3_server_hello_extensions_count_in_ja3s() {
    let mut sh = server_hello_body(&[0x55; 32], &[], 0x000a, &[ext(0xff01, &[0])]);
    sh[..2].copy_from_slice(&be16(0x0300));
    let mut c = TlsConn::new();
    c.feed(ToClient, &hs_rec(2, &sh), 1, 0);
    let sh = c.server_hello.as_ref().unwrap();
    assert_eq!(sh.extensions, [0xff01]);
    assert_eq!(crate::fingerprint::ja3s(sh).text, "768,10,65281");
    assert!(c.malformed.is_empty());
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
