use super::*;

const SRC: [u8; 4] = [10, 0, 0, 1];
const DST: [u8; 4] = [10, 0, 0, 2];

/// An IPv4 fragment of datagram `id` carrying `data` at byte `offset` (a multiple of 8).
fn v4(id: u16, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&((20 + data.len()) as u16).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    let field = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    h.extend_from_slice(&field.to_be_bytes());
    h.extend_from_slice(&[64, 6, 0, 0]);
    h.extend_from_slice(&SRC);
    h.extend_from_slice(&DST);
    h.extend_from_slice(data);
    h
}

/// An IPv6 fragment (with a destination-options header before the fragment header).
fn v6(id: u32, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&((8 + 8 + data.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[60, 64]);
    p.extend_from_slice(&[0xfd; 16]);
    p.extend_from_slice(&[0xfe; 16]);
    p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // dest opts: PadN, next = fragment
    let field = (((offset / 8) as u16) << 3) | u16::from(more);
    p.extend_from_slice(&[6, 0]);
    p.extend_from_slice(&field.to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(data);
    p
}

fn whole(o: Offer) -> Vec<u8> {
    match o {
        Offer::Whole(d) => d,
        Offer::Held => panic!("not whole"),
    }
}

#[test]
fn ipv4_in_any_order_with_link_bytes_kept() {
    let data: Vec<u8> = (0..40u8).collect();
    let link = [0xaa; 14];
    let frame = |ip: Vec<u8>| [&link[..], &ip].concat();
    let mut d = Defrag::default();
    assert_eq!(
        d.offer(&frame(v4(7, 24, false, &data[24..])), 14, 0),
        Offer::Held
    );
    assert_eq!(
        d.offer(&frame(v4(7, 0, true, &data[..8])), 14, 1),
        Offer::Held
    );
    let got = whole(d.offer(&frame(v4(7, 8, true, &data[8..24])), 14, 2));
    assert_eq!(&got[..14], &link);
    let ip = &got[14..];
    assert_eq!(&ip[20..], &data[..]);
    assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 60);
    assert_eq!(&ip[6..8], &[0, 0], "no fragment bits left");
    assert_eq!(checksum(&ip[..20]), 0, "header checksum recomputed");
    assert_eq!((d.in_flight(), d.held_bytes()), (0, 0));
    let s = d.stats();
    assert_eq!((s.reassembled, s.fragments, s.overlaps), (1, 3, 0));
}

#[test]
fn ipv6_drops_the_fragment_header() {
    let data: Vec<u8> = (100..132u8).collect();
    let mut d = Defrag::default();
    assert_eq!(d.offer(&v6(9, 16, false, &data[16..]), 0, 0), Offer::Held);
    let got = whole(d.offer(&v6(9, 0, true, &data[..16]), 0, 0));
    assert_eq!(got.len(), 40 + 8 + 32);
    assert_eq!(got[40], 6, "dest opts now names TCP");
    assert_eq!(u16::from_be_bytes([got[4], got[5]]), 8 + 32);
    assert_eq!(&got[48..], &data[..]);
}

#[test]
fn overlaps_keep_the_first_copy_and_are_counted() {
    let mut d = Defrag::default();
    d.offer(&v4(1, 0, true, &[1; 16]), 0, 0);
    // Covers 8..24 with 2s: 8..16 is already held (1s stay), 16..24 is new.
    d.offer(&v4(1, 8, true, &[2; 16]), 0, 0);
    let got = whole(d.offer(&v4(1, 24, false, &[3; 8]), 0, 0));
    let payload = &got[20..];
    assert_eq!(&payload[..16], &[1; 16]);
    assert_eq!(&payload[16..24], &[2; 8]);
    assert_eq!(&payload[24..], &[3; 8]);
    assert_eq!(d.stats().overlaps, 1);
}

#[test]
fn timeouts_are_on_capture_time() {
    let mut d = Defrag::default();
    d.offer(&v4(1, 0, true, &[1; 8]), 0, 0);
    d.offer(&v4(2, 0, true, &[1; 8]), 0, 20_000_000);
    d.offer(&v4(3, 0, true, &[1; 8]), 0, 31_000_000);
    assert_eq!((d.stats().timeouts, d.in_flight()), (1, 2));
    // The rest of datagram 1 comes too late: it starts a datagram that never completes.
    assert_eq!(
        d.offer(&v4(1, 8, false, &[1; 8]), 0, 31_000_001),
        Offer::Held
    );
}

#[test]
fn limits_evict_the_oldest_and_hold_no_more() {
    let limits = DefragLimits {
        max_datagrams: 4,
        max_bytes: 100_000,
        timeout_us: 30_000_000,
    };
    let mut d = Defrag::new(limits);
    for id in 0..10u16 {
        d.offer(&v4(id, 0, true, &[0; 800]), 0, i64::from(id));
    }
    assert_eq!((d.in_flight(), d.stats().evicted), (4, 6));
    // The newest survive: datagram 9 completes.
    assert!(matches!(
        d.offer(&v4(9, 800, false, &[0; 8]), 0, 20),
        Offer::Whole(_)
    ));
    let mut d = Defrag::new(DefragLimits {
        max_datagrams: 1000,
        max_bytes: 4096,
        timeout_us: 30_000_000,
    });
    for id in 0..100u16 {
        d.offer(&v4(id, 0, true, &[0; 1000]), 0, 0);
        assert!(d.held_bytes() <= 4096);
    }
    assert_eq!(d.stats().evicted, 96);
}

#[test]
fn many_holes_drop_the_datagram_and_work_stays_linear() {
    let mut d = Defrag::default();
    // Every other 8-byte block: holes everywhere, past MAX_RANGES the datagram is dropped.
    for i in 0..(MAX_RANGES + 10) {
        d.offer(&v4(5, i * 16, true, &[0; 8]), 0, 0);
    }
    assert_eq!(d.stats().evicted, 1);
    // The fragments after the drop start the datagram afresh (they are all that is held).
    assert_eq!(d.in_flight(), 1);
    assert!(
        d.held_bytes() <= (MAX_RANGES + 10) * 16,
        "{}",
        d.held_bytes()
    );
}

#[test]
fn garbage_and_truncated_fragments_never_panic() {
    let mut d = Defrag::default();
    let full = v4(1, 0, true, &[0; 64]);
    for cut in 0..full.len() {
        assert_eq!(d.offer(&full[..cut], 0, 0), Offer::Held);
        assert_eq!(d.offer(&full, cut + 1000, 0), Offer::Held);
    }
    let v = v6(1, 0, true, &[0; 64]);
    for cut in 0..v.len() {
        let _ = d.offer(&v[..cut], 0, 0);
    }
    // An offset past 64 KiB cannot be a datagram.
    assert_eq!(d.offer(&v4(2, 65_528, false, &[0; 16]), 0, 0), Offer::Held);
}
