//! TCP reassembly: a sequence of segments with arbitrary seq / flags / payload, fed
//! to one direction (DirStream, with small limits so eviction paths run) and to the
//! whole connection tracker (Analyzer) as real TCP packets.
//!
//! Input: repeated records of `flags(1) seq(4) len(1) payload(len)`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlstriage::capture::Packet;
use tlstriage::decode::linktype;
use tlstriage::flow::{Analyzer, AnalyzerConfig};
use tlstriage::tcp::{DirStream, ReassemblyLimits, StreamChunk};

const LIMITS: ReassemblyLimits = ReassemblyLimits {
    max_buffered_bytes: 2048,
    max_buffered_segments: 16,
};

/// A raw IPv4/TCP packet (linktype 228), client 10.0.0.1:40000 <-> server 10.0.0.2:443.
fn ipv4_tcp(to_server: bool, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let total = 40 + payload.len();
    let (src, dst, sport, dport) = if to_server {
        ([10, 0, 0, 1], [10, 0, 0, 2], 40000u16, 443u16)
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1], 443, 40000)
    };
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

fuzz_target!(|data: &[u8]| {
    let mut stream = DirStream::new(LIMITS);
    let mut config = AnalyzerConfig::default();
    config.max_flows = 4;
    config.reassembly = LIMITS;
    let mut analyzer = Analyzer::new(config);
    let mut rest = data;
    let mut frame = 0u64;
    let mut delivered = 0u64;
    let mut gaps = 0u64;
    while let [flags, a, b, c, d, len, tail @ ..] = rest {
        let seq = u32::from_be_bytes([*a, *b, *c, *d]);
        let len = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        frame += 1;
        // Bit 0x80 of the flags byte (CWR) doubles as "sent by the server" for the analyzer;
        // for the lone stream, SYN sets the ISN.
        if flags & 0x02 != 0 {
            stream.set_isn(seq);
        }
        stream.segment(seq, payload, &mut |chunk| match chunk {
            StreamChunk::Data(d) => {
                assert!(!d.is_empty());
                delivered += d.len() as u64;
            }
            StreamChunk::Gap { missing } => {
                assert!(missing > 0);
                gaps += missing;
            }
        });
        assert!(stream.buffered_bytes() <= LIMITS.max_buffered_bytes);
        let bytes = ipv4_tcp(flags & 0x80 == 0, seq, flags & 0x7f, payload);
        analyzer.packet(&Packet {
            frame,
            ts_us: i64::try_from(frame).unwrap_or(0) * 1000,
            linktype: linktype::IPV4,
            data: &bytes,
            orig_len: bytes.len() as u32,
        });
    }
    stream.flush(&mut |chunk| {
        if let StreamChunk::Data(d) = chunk {
            delivered += d.len() as u64;
        }
    });
    assert_eq!(stream.stats().delivered_bytes, delivered);
    assert_eq!(stream.buffered_bytes(), 0);
    let _ = gaps;
    analyzer.finish();
    for flow in analyzer.take_finished() {
        let _ = tlstriage::rules::evaluate(&flow);
    }
});
