//! Hostile and broken input: garbage, impossible lengths, gaps, caps and the traces they leave.

use super::*;

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
