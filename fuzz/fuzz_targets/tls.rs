//! TLS record layer and handshake state machine (TlsConn), fed both directions of a
//! connection in arbitrary pieces, with gaps; then the facts later stages read
//! (fingerprints, certificate parsing) are computed from whatever it kept.
//!
//! Input: repeated records of `ctl(1) len(2, big-endian) bytes(len)`; ctl bit 0 is the
//! direction (0 = client to server), bit 1 reports a gap before the bytes.
//! `fuzz/examples/make_seeds.rs` writes real TLS conversations in this format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlstriage::fingerprint::{ja3, ja3s, ja4, ja4s};
use tlstriage::model::Dir;
use tlstriage::tls::cert::parse_certificate;
use tlstriage::tls::{TlsConn, MAX_CERTS, MAX_CERT_LEN, MAX_EVENTS};

fuzz_target!(|data: &[u8]| {
    let mut conn = TlsConn::new();
    let mut rest = data;
    let mut frame = 0u64;
    while let [ctl, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        rest = next;
        frame += 1;
        let dir = if ctl & 1 == 0 {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let ts = i64::try_from(frame).unwrap_or(0) * 1000;
        if ctl & 2 != 0 {
            conn.gap(dir, frame, ts);
        }
        conn.feed(dir, bytes, frame, ts);
    }
    assert!(conn.events.len() <= MAX_EVENTS);
    assert!(conn.server_cert_der.len() <= MAX_CERTS);
    assert!(conn.client_cert_der.iter().all(|c| c.len() <= MAX_CERT_LEN));
    for m in &conn.malformed {
        assert!(!m.reason.is_empty());
    }
    if let Some(ch) = &conn.client_hello {
        let _ = ja3(ch);
        let _ = ja4(ch);
    }
    if let Some(sh) = &conn.server_hello {
        let _ = ja3s(sh);
        let _ = ja4s(sh);
    }
    let _ = conn.negotiated_version();
    let _ = conn.stage.as_str();
    for der in conn.server_cert_der.iter().chain(&conn.client_cert_der) {
        let _ = parse_certificate(der);
    }
});
