//! TLS 1.3: encrypted flights, completion from the client Finished, HelloRetryRequest, drafts.

use super::*;

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
    // Then real application data (a first server record of alert size would be a refusal,
    // see below).
    c.feed(ToClient, &rec(23, 0x0303, &[0; 100]), 4, 0);
    c.feed(ToClient, &rec(23, 0x0303, &[0; 19]), 5, 0);
    assert_eq!(
        c.events.last().unwrap().kind,
        TlsEventKind::ApplicationData { len: 19 }
    );
    assert!(c.established);
    assert!(c.malformed.is_empty());
}

/// Google's experiments and Facebook's fizz drafts negotiate TLS 1.3 semantics under their
/// own version numbers (issue #19 item 6): established by the client's Finished like 1.3,
/// never an abort of a session that carried data.
#[test]
fn experimental_tls13_versions_are_tls13() {
    for version in [0x7e01, 0x7e02, 0xfb17, 0xfb1a] {
        let mut c = TlsConn::new();
        c.feed(ToServer, &hs_rec(1, &tls13_client_hello()), 1, 0);
        let sh = server_hello_body(
            &[0x66; 32],
            &[0x44; 32],
            0x1301,
            &[ext(43, &be16(version)), ext_server_key_share(29)],
        );
        let mut s = hs_rec(2, &sh);
        s.extend_from_slice(&rec(20, 0x0303, &[1]));
        s.extend_from_slice(&rec(23, 0x0303, &[0; 2000]));
        c.feed(ToClient, &s, 2, 0);
        assert_eq!(
            c.stage,
            HandshakeStage::ServerEncryptedFlight,
            "{version:#x}"
        );
        let mut cl = rec(20, 0x0303, &[1]);
        cl.extend_from_slice(&rec(23, 0x0303, &[0; 53]));
        c.feed(ToServer, &cl, 3, 0);
        c.feed(ToServer, &rec(23, 0x0303, &[0; 400]), 4, 0);
        assert!(c.established, "{version:#x}");
        assert_eq!(c.negotiated_version(), Some(version));
        assert!(c.malformed.is_empty(), "{version:#x}");
    }
}

/// Mutual TLS refused: the client's flight (empty Certificate, Finished), then the server's
/// only record is alert-sized. The handshake did not complete; the client's later request
/// stays its data and does not complete it again.
#[test]
fn tls13_server_alert_right_after_client_finished_is_a_refusal() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls13_client_hello()), 1, 0);
    let mut s = hs_rec(2, &tls13_server_hello(29, false));
    s.extend_from_slice(&rec(20, 0x0303, &[1]));
    for len in [23, 60, 2000, 280, 53] {
        s.extend_from_slice(&rec(23, 0x0303, &vec![0; len]));
    }
    c.feed(ToClient, &s, 2, 0);
    let mut cl = rec(20, 0x0303, &[1]);
    cl.extend_from_slice(&rec(23, 0x0303, &[0; 25]));
    cl.extend_from_slice(&rec(23, 0x0303, &[0; 69]));
    c.feed(ToServer, &cl, 3, 0);
    assert!(c.established);
    c.feed(ToClient, &rec(23, 0x0303, &[0; 19]), 4, 0);
    assert!(!c.established);
    assert_eq!(
        (c.established_frame, c.stage),
        (None, HandshakeStage::Finished)
    );
    assert_eq!(
        c.events.last().unwrap().kind,
        TlsEventKind::EncryptedAlert { len: 19 }
    );
    assert!(c.history.ends_with('l'), "{}", c.history);
    c.feed(ToServer, &rec(23, 0x0303, &[0; 100]), 5, 0);
    assert!(!c.established);
    assert_eq!(
        c.events.last().unwrap().kind,
        TlsEventKind::ApplicationData { len: 100 }
    );

    // The client's close_notify first: the server's answering one is no refusal.
    let mut c = TlsConn::new();
    c.feed(ToServer, &hs_rec(1, &tls13_client_hello()), 1, 0);
    c.feed(ToClient, &s, 2, 0);
    c.feed(ToServer, &cl, 3, 0);
    c.feed(ToServer, &rec(23, 0x0303, &[0; 19]), 4, 0);
    c.feed(ToClient, &rec(23, 0x0303, &[0; 19]), 5, 0);
    assert!(c.established);
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
        kind: TlsEventKind::Handshake(HandshakeType(6)),
        decrypted: false,
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
