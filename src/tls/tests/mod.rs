//! Tests of the TLS state machine: the record and message builders shared by the
//! hand-built cases (by protocol, then hostile input), and real captures.

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

mod captures;
mod decrypted;
mod hostile;
mod sslv2;
mod tls12;
mod tls13;
