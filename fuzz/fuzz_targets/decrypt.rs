//! The decrypting record layer: a connection whose run has every secret for its session
//! (TLS 1.3 with each suite, or TLS 1.2 AES-GCM) gets any records in both directions after
//! valid hellos. Nothing panics, a record that fails to authenticate is reported and stops
//! its direction, and finishing the flow drops the keys.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use tlstriage::keylog::KeyStore;
use tlstriage::model::Dir;
use tlstriage::tls::TlsConn;

const RANDOM: [u8; 32] = [0x42; 32];

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ, 0, (body.len() >> 8) as u8, body.len() as u8];
    m.extend_from_slice(body);
    record(22, &m)
}

fn hellos(cipher: u16, tls13: bool) -> (Vec<u8>, Vec<u8>) {
    let mut ch = vec![3, 3];
    ch.extend_from_slice(&RANDOM);
    ch.extend_from_slice(&[0, 0, 2]);
    ch.extend_from_slice(&cipher.to_be_bytes());
    ch.extend_from_slice(&[1, 0, 0, 7, 0, 0x2b, 0, 3, 2, 3, 4]);
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[0x24; 32]);
    sh.push(0);
    sh.extend_from_slice(&cipher.to_be_bytes());
    sh.push(0);
    if tls13 {
        sh.extend_from_slice(&[0, 6, 0, 0x2b, 0, 2, 3, 4]);
    } else {
        sh.extend_from_slice(&[0, 0]);
    }
    (handshake(1, &ch), handshake(2, &sh))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let (cipher, tls13) = match pick % 4 {
        0 => (0x1301, true),
        1 => (0x1302, true),
        2 => (0x1303, true),
        _ => (0xc02f, false),
    };
    let store = KeyStore::new();
    let hex: String = RANDOM.iter().map(|b| format!("{b:02x}")).collect();
    let s32 = "11".repeat(32);
    let s48 = "22".repeat(48);
    let secret = if cipher == 0x1302 { &s48 } else { &s32 };
    let text = format!(
        "CLIENT_RANDOM {hex} {s48}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {hex} {secret}\n\
         SERVER_HANDSHAKE_TRAFFIC_SECRET {hex} {secret}\nCLIENT_TRAFFIC_SECRET_0 {hex} {secret}\n\
         SERVER_TRAFFIC_SECRET_0 {hex} {secret}\n"
    );
    store.add_block(text.as_bytes());
    let mut conn = TlsConn::with_keys(Arc::new(store));
    let (ch, sh) = hellos(cipher, tls13);
    conn.feed(Dir::ToServer, &ch, 1, 0);
    conn.feed(Dir::ToClient, &sh, 2, 0);
    if !tls13 {
        conn.feed(Dir::ToServer, &record(20, &[1]), 3, 0);
        conn.feed(Dir::ToClient, &record(20, &[1]), 3, 0);
    }
    // Chunks: a direction/length byte pair, then that many bytes.
    let mut frame = 4;
    while let [head, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let dir = if head & 1 == 0 { Dir::ToServer } else { Dir::ToClient };
        conn.feed(dir, &tail[..n], frame, frame as i64);
        rest = &tail[n..];
        frame += 1;
    }
    conn.finish(frame, frame as i64);
    if let Some(e) = &conn.decryption_error {
        assert!(!e.contains(&s32[..16]) && !e.contains(&s48[..16]));
    }
});
