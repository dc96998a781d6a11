//! CPU bounds on hostile input: work must stay linear in the bytes of the capture.
//!
//! A capture whose client announces a ~500 KiB ClientHello, sends all but its last byte
//! and then floods zero-length handshake records (the tail in 1-byte TCP segments) used to
//! re-copy the pending message on every record: 11 MB took about a minute. It is timed
//! here against a benign capture of the same size and shape (the message complete, the
//! flood zero-length application-data records), through the whole pipeline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tlstriage::flow::AnalyzerConfig;
use tlstriage::pipeline::{analyze_path, Analysis};

/// Announced length of the ClientHello body: close to `MAX_HANDSHAKE_LEN` (512 KiB).
const HELLO_LEN: usize = 500 * 1024;
/// Bytes of each capture's TCP stream (the hello, then the flood of 5-byte records).
const STREAM_LEN: usize = 3_000_000;
/// Bytes at the end of the stream sent one per TCP segment.
const ONE_BYTE_SEGMENTS: usize = 20_000;
/// Hostile time may exceed benign time by this factor (both are a few hundred ms in debug).
const MAX_FACTOR: u32 = 20;
/// And may not exceed this, in any build (quadratic behaviour takes minutes).
const MAX_HOSTILE: Duration = Duration::from_secs(2);

const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40_000);
const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 443);

/// An Ethernet/IPv4/TCP frame (checksums left zero: counted as bad, still analyzed).
fn eth_tcp(
    (src, sport): ([u8; 4], u16),
    (dst, dport): ([u8; 4], u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let ip_len = 40 + payload.len();
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&u16::try_from(ip_len).unwrap().to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// A classic little-endian pcap (microsecond stamps, Ethernet) of `frames`.
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        let i = u32::try_from(i).unwrap();
        let len = u32::try_from(f.len()).unwrap();
        out.extend_from_slice(&(1 + i / 1_000_000).to_le_bytes());
        out.extend_from_slice(&(i % 1_000_000).to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn tls_record(ct: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ct, 3, 3];
    r.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// The client's stream: a ClientHello of `HELLO_LEN` announced bytes in 16 KiB records
/// (one byte short when `hostile`), then zero-length records (handshake when `hostile`,
/// application data otherwise) up to `STREAM_LEN`.
fn client_stream(hostile: bool) -> Vec<u8> {
    let len = u32::try_from(HELLO_LEN).unwrap().to_be_bytes();
    let mut hello = vec![1, len[1], len[2], len[3]];
    hello.resize(4 + HELLO_LEN - usize::from(hostile), 0);
    let mut stream: Vec<u8> = hello
        .chunks(16_384)
        .flat_map(|c| tls_record(22, c))
        .collect();
    let flood = tls_record(if hostile { 22 } else { 23 }, &[]);
    while stream.len() + flood.len() <= STREAM_LEN {
        stream.extend_from_slice(&flood);
    }
    stream
}

/// The handshake, then the client's stream in full-size segments, its tail one byte each.
fn capture(hostile: bool) -> Vec<u8> {
    let (cseq, sseq) = (1000u32, 5000u32);
    let mut frames = vec![
        eth_tcp(CLIENT, SERVER, cseq, 0, SYN, &[]),
        eth_tcp(SERVER, CLIENT, sseq, cseq + 1, SYN_ACK, &[]),
        eth_tcp(CLIENT, SERVER, cseq + 1, sseq + 1, ACK, &[]),
    ];
    let stream = client_stream(hostile);
    let (bulk, tail) = stream.split_at(stream.len() - ONE_BYTE_SEGMENTS);
    let mut seq = cseq + 1;
    for seg in bulk.chunks(1460).chain(tail.chunks(1)) {
        frames.push(eth_tcp(CLIENT, SERVER, seq, sseq + 1, PSH_ACK, seg));
        seq += u32::try_from(seg.len()).unwrap();
    }
    pcap(&frames)
}

fn temp_pcap(name: &str, bytes: &[u8]) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("tlstriage-work-{}-{name}.pcap", std::process::id()));
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// Best of three runs (the machine is shared), and the analysis of the last.
fn timed(path: &Path) -> (Duration, Analysis) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..3 {
        let start = Instant::now();
        let analysis = analyze_path(path, &AnalyzerConfig::default())
            .unwrap_or_else(|e| panic!("analyzing {}: {e}", path.display()));
        best = best.min(start.elapsed());
        last = Some(analysis);
    }
    (best, last.expect("three runs"))
}

#[test]
fn zero_length_handshake_records_behind_a_pending_message_are_linear() {
    let hostile_bytes = capture(true);
    let benign_bytes = capture(false);
    assert!(hostile_bytes.len().abs_diff(benign_bytes.len()) < 16);
    let hostile_path = temp_pcap("hostile", &hostile_bytes);
    let benign_path = temp_pcap("benign", &benign_bytes);
    let (benign, benign_run) = timed(&benign_path);
    let (hostile, hostile_run) = timed(&hostile_path);
    for p in [&hostile_path, &benign_path] {
        std::fs::remove_file(p).unwrap_or_else(|e| panic!("removing {}: {e}", p.display()));
    }
    eprintln!(
        "{} bytes: benign {benign:?}, hostile {hostile:?}",
        hostile_bytes.len()
    );

    // Both captures were analyzed as what they are, so the timings compare like with like.
    let tls = |a: &Analysis| {
        assert_eq!(a.flows.len(), 1);
        a.flows[0].0.tls.clone().expect("a TLS flow")
    };
    let (benign_tls, hostile_tls) = (tls(&benign_run), tls(&hostile_run));
    assert!(benign_tls.client_hello.is_some());
    // Every zero-length application-data record of the flood was counted.
    let flood = (STREAM_LEN - HELLO_LEN.div_ceil(16_384) * 5 - 4 - HELLO_LEN) / 5;
    assert_eq!(benign_tls.app_data_records[0], flood as u64);
    assert!(hostile_tls.client_hello.is_none());
    // The message that never completed is reported once, when the flow ends.
    assert_eq!(hostile_tls.events.len(), 1, "{:?}", hostile_tls.events);
    assert!(hostile_run
        .findings()
        .any(|(_, f)| f.kind.as_str() == "malformed_tls"));

    assert!(
        hostile <= benign * MAX_FACTOR,
        "hostile capture took {hostile:?}, more than {MAX_FACTOR}x the benign one's {benign:?}"
    );
    assert!(
        hostile < MAX_HOSTILE,
        "hostile capture took {hostile:?} (limit {MAX_HOSTILE:?})"
    );
}
