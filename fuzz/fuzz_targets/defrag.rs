//! IP fragment reassembly: arbitrary IPv4 and IPv6 fragments (ids, offsets, MF bits,
//! lengths, overlaps, time jumps) into a Defrag with small limits, so eviction, timeout and
//! the range cap all run; whatever comes out as whole must decode without panicking, and
//! the bytes held never exceed the cap.
//!
//! Input: repeated records of `kind(1) id(1) offset(2) dt(1) len(1) payload(len)`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlstriage::decode::defrag::{Defrag, DefragLimits, Offer};
use tlstriage::decode::{decode, linktype};

const MAX_BYTES: usize = 8192;

fn fragment(v6: bool, id: u8, offset: u16, more: bool, payload: &[u8]) -> Vec<u8> {
    let off = offset & 0xfff8;
    if v6 {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[44, 64]);
        p.extend_from_slice(&[0xfd; 16]);
        p.extend_from_slice(&[0xfe; 16]);
        p.extend_from_slice(&[6, 0]);
        p.extend_from_slice(&(off | u16::from(more)).to_be_bytes());
        p.extend_from_slice(&u32::from(id).to_be_bytes());
        p.extend_from_slice(payload);
        p
    } else {
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
        h.extend_from_slice(&[0, id]);
        h.extend_from_slice(&((off >> 3) | if more { 0x2000 } else { 0 }).to_be_bytes());
        h.extend_from_slice(&[64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        h.extend_from_slice(payload);
        h
    }
}

fuzz_target!(|data: &[u8]| {
    let mut d = Defrag::new(DefragLimits {
        max_datagrams: 8,
        max_bytes: MAX_BYTES,
        timeout_us: 1_000_000,
    });
    let mut ts = 0i64;
    let mut rest = data;
    while rest.len() >= 6 {
        let (kind, id) = (rest[0], rest[1]);
        let offset = u16::from_be_bytes([rest[2], rest[3]]);
        ts += i64::from(rest[4]) * 50_000;
        let len = usize::from(rest[5]).min(rest.len() - 6);
        let payload = &rest[6..6 + len];
        rest = &rest[6 + len..];
        let v6 = kind & 1 != 0;
        let ip = fragment(v6, id, offset, kind & 2 != 0, payload);
        // Raw garbage too, to reach the header checks.
        let frame = if kind & 4 != 0 { payload.to_vec() } else { ip };
        if let Offer::Whole(whole) = d.offer(&frame, 0, ts) {
            let lt = if v6 { linktype::IPV6 } else { linktype::IPV4 };
            let _ = decode(lt, &whole);
            let _ = decode(linktype::RAW, &whole);
        }
        assert!(d.held_bytes() <= MAX_BYTES + 65_535);
    }
});
