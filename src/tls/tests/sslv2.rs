//! SSLv2-format hellos.

use super::*;

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

/// After the SERVER-HELLO: CLIENT-MASTER-KEY in the clear, then SERVER-VERIFY,
/// CLIENT-FINISHED and SERVER-FINISHED encrypted (as in zeek's ssl-v2.pcap, frames 8-11),
/// headers split across segments and one 3-byte (padded) header: established at the
/// server's Finished, later records are data.
#[test]
fn a_complete_sslv2_session_is_established() {
    let mut c = TlsConn::new();
    c.feed(ToServer, &sslv2_client_hello(), 1, 0);
    let mut b = vec![4u8, 0, 1];
    b.extend_from_slice(&be16(0x0002));
    b.extend_from_slice(&be16(0));
    b.extend_from_slice(&be16(3));
    b.extend_from_slice(&be16(16));
    b.extend_from_slice(&[1, 0, 0x80]);
    b.extend_from_slice(&[0xdd; 16]);
    let mut r = vec![0x80, b.len() as u8];
    r.extend_from_slice(&b);
    c.feed(ToClient, &r, 2, 0);
    // CLIENT-MASTER-KEY, its header split from its body.
    c.feed(ToServer, &[0x81], 3, 0);
    c.feed(ToServer, &[0x0a, 2], 3, 0);
    c.feed(ToServer, &[0; 265], 3, 0);
    assert!(!c.established);
    // SERVER-VERIFY (2-byte header, 41 bytes).
    c.feed(ToClient, &[0x80, 41], 4, 0);
    c.feed(ToClient, &[0x55; 41], 4, 0);
    assert!(!c.established);
    // CLIENT-FINISHED with a 3-byte (padded) header.
    let mut fin = vec![0x00, 40, 7];
    fin.extend_from_slice(&[0x66; 40]);
    c.feed(ToServer, &fin, 5, 0);
    assert!(!c.established);
    // SERVER-FINISHED and a data record in one segment.
    let mut two = vec![0x80, 41];
    two.extend_from_slice(&[0x77; 41]);
    two.extend_from_slice(&[0x80, 25]);
    two.extend_from_slice(&[0x88; 25]);
    c.feed(ToClient, &two, 6, 0);
    assert!(c.established);
    assert_eq!(c.established_frame, Some(6));
    assert_eq!(
        kinds(&c)[2..],
        [
            (ToServer, TlsEventKind::Handshake(HandshakeType(16))),
            (ToClient, TlsEventKind::EncryptedHandshake { len: 41 }),
            (ToServer, TlsEventKind::EncryptedHandshake { len: 40 }),
            (ToClient, TlsEventKind::EncryptedHandshake { len: 41 }),
            (ToClient, TlsEventKind::ApplicationData { len: 25 }),
        ]
    );
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
    assert_eq!(c.history, "Cs");
}
