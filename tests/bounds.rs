//! Resource bounds on hostile input, library level: every buffer an attacker-controlled
//! length or count can grow has a cap, and the caps hold.
//!
//! Memory is measured as resident set size from `/proc/self/statm` (Linux only; elsewhere
//! the RSS assertions are skipped and the structural ones still run). Each measuring test
//! re-runs itself in a fresh process of this test binary, so memory that other tests freed
//! (and the allocator kept) cannot hide its growth.
//!
//! | input | bound | where |
//! |---|---|---|
//! | SYN flood, distinct flows | `AnalyzerConfig::max_flows` open flows (default 200 000), oldest evicted first; RSS growth < `FLOOD_RSS_CAP` (256 MiB) | `flow` |
//! | 16 MiB out-of-order hole | `ReassemblyLimits::max_buffered_bytes` (1 MiB) per direction, then skip with a gap | `tcp` |
//! | record length > 16 KiB + 2 KiB | refused (`malformed_tls`), nothing allocated | `tls::conn` `MAX_RECORD_LEN` |
//! | handshake length claiming 16 MiB | refused (`malformed_tls`), nothing allocated | `tls::conn` `MAX_HANDSHAKE_LEN` (512 KiB) |
//! | pcap record caplen 4 GiB | error naming the frame | `capture` `MAX_CAPLEN` (256 KiB) |
//! | certificate > 512 KiB, deeply nested DER, 1000-certificate chain | error / cut at `MAX_CERTS` (10) | `tls::cert`, `tls::conn` |

use std::io::Cursor;
use std::process::Command;

use tlstriage::capture::{CaptureError, CaptureReader, Packet, MAX_CAPLEN};
use tlstriage::decode::linktype;
use tlstriage::flow::{Analyzer, AnalyzerConfig, EndReason, FlowRecord};
use tlstriage::model::Dir;
use tlstriage::rules::evaluate;
use tlstriage::tcp::{DirStream, ReassemblyLimits, StreamChunk, MAX_AHEAD};
use tlstriage::tls::cert::{parse_certificate, MAX_CERT_SIZE};
use tlstriage::tls::{TlsConn, MAX_CERTS, MAX_HANDSHAKE_LEN, MAX_RECORD_LEN};

/// RSS growth allowed for a SYN flood of any size with the default flow table (200 000
/// flows). A SYN-only flow costs its 192-byte box (400 before its FIN/RST/ACK facts moved
/// to a box made by the first packet that is not a bare SYN), its table entry and its
/// idle-queue entry (the reassembly, sniffer and TLS state is made on the first payload; it
/// was 2.4 KiB per flow, 578 MiB for 1 000 000 SYNs, when made up front), plus the
/// Wireshark conversations remembered for `tcp_stream` (flow::streams, twice the flow
/// table). Measured: 176 MiB growth for 1 000 000 SYNs (release, this library alone).
const FLOOD_RSS_CAP: u64 = 256 * 1024 * 1024;

const CHILD_ENV: &str = "TLSTRIAGE_BOUNDS_CHILD";

/// In the test harness's process: runs test `name` alone in a fresh process of this binary,
/// checks it passed, and returns true (the caller returns). In that child: returns false
/// and the caller runs the test body.
fn ran_in_fresh_process(name: &str) -> bool {
    if std::env::var_os(CHILD_ENV).is_some() {
        return false;
    }
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            name,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("re-run test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in its own process:\n{stdout}\n{stderr}"
    );
    true
}

/// Resident set size in bytes (Linux), None elsewhere.
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(resident * 4096)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// An Ethernet/IPv4/TCP frame (checksums left zero: counted as bad, still analyzed).
fn eth_tcp(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
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
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

fn feed(an: &mut Analyzer, frame: u64, ts_us: i64, data: &[u8]) {
    an.packet(&Packet {
        frame,
        ts_us,
        linktype: linktype::ETHERNET,
        data,
        orig_len: u32::try_from(data.len()).unwrap(),
    });
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;

/// `count` SYNs from distinct (address, port) pairs within one capture second each
/// 1000 packets, draining finished flows as the pipeline does. Returns (RSS growth,
/// evicted, open flows at the end, records seen).
fn syn_flood(count: u32, config: AnalyzerConfig) -> (Option<u64>, u64, usize, u64) {
    let max_flows = config.max_flows;
    let mut an = Analyzer::new(config);
    let before = rss_bytes();
    let mut peak = before;
    let mut records = 0u64;
    for i in 0..count {
        let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let frame = eth_tcp(
            src,
            [192, 0, 2, 1],
            1024 + (i % 50_000) as u16,
            443,
            i,
            SYN,
            &[],
        );
        // 1000 SYNs per capture millisecond: no flow reaches the idle timeout.
        feed(&mut an, u64::from(i) + 1, i64::from(i), &frame);
        if i % 4096 == 0 {
            records += an.take_finished().len() as u64;
            assert!(an.open_flows() <= max_flows);
        }
        if i % 65_536 == 0 {
            peak = peak.max(rss_bytes());
        }
    }
    records += an.take_finished().len() as u64;
    peak = peak.max(rss_bytes());
    let open = an.open_flows();
    let evicted = an.stats().flows_evicted;
    let growth = before.zip(peak).map(|(b, p)| p.saturating_sub(b));
    (growth, evicted, open, records)
}

/// The table is full but never over: eviction frees a batch of the oldest flows (at most
/// a sixteenth of the table) when it is full, and every evicted flow is reported.
fn assert_flow_table(count: u32, max_flows: usize, open: usize, evicted: u64, records: u64) {
    let count = count as usize;
    assert!(open <= max_flows, "{open} open > {max_flows}");
    if count > max_flows {
        assert!(open + max_flows / 16 + 1 >= max_flows, "only {open} open");
    }
    assert_eq!(open as u64 + evicted, count as u64);
    assert_eq!(records, evicted, "every evicted flow is reported");
}

fn check_flood(count: u32) {
    let config = AnalyzerConfig::default();
    let max_flows = config.max_flows;
    let t = std::time::Instant::now();
    let (growth, evicted, open, records) = syn_flood(count, config);
    eprintln!(
        "SYN flood of {count} flows: {open} open, {evicted} evicted, {records} records, RSS growth {} MiB (cap {} MiB), {:?}",
        growth.map_or(f64::NAN, mib),
        mib(FLOOD_RSS_CAP),
        t.elapsed()
    );
    assert_flow_table(count, max_flows, open, evicted, records);
    if let Some(growth) = growth {
        assert!(growth < FLOOD_RSS_CAP, "RSS grew by {} MiB", mib(growth));
    }
}

/// A SYN flood past the flow table's capacity: the table stays at `max_flows`, the oldest
/// flows are evicted (and reported), memory stays under `FLOOD_RSS_CAP`.
#[test]
fn syn_flood_is_bounded_by_the_flow_table() {
    if ran_in_fresh_process("syn_flood_is_bounded_by_the_flow_table") {
        return;
    }
    check_flood(300_000);
}

/// The full million-flow flood (`cargo test --release --test bounds -- --ignored`).
#[test]
#[ignore = "slow in debug builds; the 300k version above proves the same cap"]
fn syn_flood_of_one_million_flows() {
    if ran_in_fresh_process("syn_flood_of_one_million_flows") {
        return;
    }
    check_flood(1_000_000);
}

/// A small table shows eviction order: the oldest flows go first and are reported
/// (`end: evicted`), the newest survive.
#[test]
fn eviction_keeps_the_newest_flows() {
    let mut config = AnalyzerConfig::default();
    config.max_flows = 100;
    let mut an = Analyzer::new(config);
    let mut evicted = Vec::new();
    for i in 0..1000u32 {
        let src = [10, 1, (i >> 8) as u8, i as u8];
        let frame = eth_tcp(src, [192, 0, 2, 1], 2000, 443, i, SYN, &[]);
        feed(&mut an, u64::from(i) + 1, i64::from(i), &frame);
        evicted.extend(an.take_finished());
    }
    let open = an.open_flows();
    assert_flow_table(
        1000,
        100,
        open,
        an.stats().flows_evicted,
        evicted.len() as u64,
    );
    assert!(evicted
        .iter()
        .all(|r| r.end == EndReason::Evicted && r.tcp_stream < (1000 - open) as u64));
}

/// One direction of a flow: a SYN, then 16 MiB of segments all beyond a 16 MiB hole.
/// The out-of-order buffer never holds more than its limit, the stream skips forward
/// with a gap, and RSS does not grow by anything like the data sent.
#[test]
fn sixteen_mib_hole_does_not_buffer_without_limit() {
    if ran_in_fresh_process("sixteen_mib_hole_does_not_buffer_without_limit") {
        return;
    }
    let limits = ReassemblyLimits::default();
    let hole: u32 = 16 * 1024 * 1024;
    let seg = vec![0x41u8; 1448];
    let total = 16 * 1024 * 1024;
    let before = rss_bytes();

    // The reassembler alone.
    let mut s = DirStream::new(limits.clone());
    s.set_isn(1000);
    let mut gaps = Vec::new();
    let mut max_held = 0;
    let mut sent = 0usize;
    let mut seq = 1001u32.wrapping_add(hole);
    while sent < total {
        s.segment(seq, &seg, &mut |c| {
            if let StreamChunk::Gap { missing } = c {
                gaps.push(missing);
            }
        });
        max_held = max_held.max(s.buffered_bytes());
        seq = seq.wrapping_add(seg.len() as u32);
        sent += seg.len();
    }
    assert!(max_held <= limits.max_buffered_bytes, "held {max_held}");
    assert_eq!(gaps.first().copied(), Some(u64::from(hole)));
    assert_eq!(
        s.stats().dropped_bytes,
        0,
        "within MAX_AHEAD ({MAX_AHEAD}): skipped to"
    );

    // The same through the connection tracker, measured.
    let mut an = Analyzer::new(AnalyzerConfig::default());
    let (c, sv) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    feed(&mut an, 1, 0, &eth_tcp(c, sv, 40000, 443, 1000, SYN, &[]));
    feed(
        &mut an,
        2,
        1,
        &eth_tcp(sv, c, 443, 40000, 5000, SYN | ACK, &[]),
    );
    let mut seq = 1001u32.wrapping_add(hole);
    let mut frame = 3;
    let mut peak = before.max(rss_bytes());
    while frame < 3 + (total / seg.len()) as u64 {
        feed(
            &mut an,
            frame,
            frame as i64,
            &eth_tcp(c, sv, 40000, 443, seq, PSH_ACK, &seg),
        );
        seq = seq.wrapping_add(seg.len() as u32);
        frame += 1;
        if frame % 1024 == 0 {
            peak = peak.max(rss_bytes());
        }
    }
    peak = peak.max(rss_bytes());
    an.finish();
    let flows = an.take_finished();
    assert_eq!(flows.len(), 1);
    assert!(an.stats().reassembly_gap_bytes >= u64::from(hole));
    if let Some(growth) = before.zip(peak).map(|(b, p)| p.saturating_sub(b)) {
        eprintln!(
            "16 MiB hole + 16 MiB sent: RSS growth {:.1} MiB",
            mib(growth)
        );
        assert!(growth < 8 * 1024 * 1024, "RSS grew by {} MiB", mib(growth));
    }
}

fn tls_record(ct: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ct, 3, 3];
    r.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A handshake header claiming 16 MiB is refused at once (no 16 MiB buffer), the
/// connection reports it as malformed with a reason, and a record header claiming
/// more than TLS allows is refused the same way.
#[test]
fn tls_lengths_claiming_16_mib_are_not_allocated() {
    if ran_in_fresh_process("tls_lengths_claiming_16_mib_are_not_allocated") {
        return;
    }
    let before = rss_bytes();
    let mut conn = TlsConn::new();
    // client_hello claiming 0xffffff bytes, followed by 2000 full records of "body".
    let mut first = vec![1, 0xff, 0xff, 0xff];
    first.extend_from_slice(&[0u8; 1000]);
    conn.feed(Dir::ToServer, &tls_record(22, &first), 1, 0);
    for i in 0..2000 {
        conn.feed(Dir::ToServer, &tls_record(22, &[0u8; 16384]), 2 + i, 0);
    }
    let reason = &conn.malformed.first().expect("malformed").reason;
    assert!(reason.contains("16777215"), "{reason}");
    const { assert!(16_777_215 > MAX_HANDSHAKE_LEN) };

    // A record claiming 65535 bytes (> MAX_RECORD_LEN) in the other direction.
    conn.feed(Dir::ToClient, &[22, 3, 3, 0xff, 0xff, 2, 0, 0, 0], 3000, 0);
    let server = conn
        .malformed
        .iter()
        .find(|m| m.dir == Dir::ToClient)
        .expect("server malformed");
    assert!(server.reason.contains("65535"), "{}", server.reason);
    const { assert!(65_535 > MAX_RECORD_LEN) };

    // A handshake message just under the accepted limit, sent in full, is buffered
    // (at most MAX_HANDSHAKE_LEN) and then released.
    let mut conn = TlsConn::new();
    let len = MAX_HANDSHAKE_LEN - 4;
    let mut msg = vec![11, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    msg.resize(MAX_HANDSHAKE_LEN, 0);
    for chunk in msg.chunks(16384) {
        conn.feed(Dir::ToClient, &tls_record(22, chunk), 1, 0);
    }
    drop(conn);
    if let Some(growth) = before.zip(rss_bytes()).map(|(b, a)| a.saturating_sub(b)) {
        eprintln!("16 MiB TLS claims: RSS growth {:.1} MiB", mib(growth));
        assert!(growth < 8 * 1024 * 1024, "RSS grew by {} MiB", mib(growth));
    }
}

fn pcap_header(linktype: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&65_535u32.to_le_bytes());
    h.extend_from_slice(&linktype.to_le_bytes());
    h
}

fn pcap_record(caplen: u32, data: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&1u32.to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes());
    r.extend_from_slice(&caplen.to_le_bytes());
    r.extend_from_slice(&caplen.to_le_bytes());
    r.extend_from_slice(data);
    r
}

/// A record claiming a 4 GiB captured length is an error naming the frame, before
/// anything is allocated for it; the frames before it are still returned.
#[test]
fn pcap_caplen_of_4_gib_is_rejected_naming_the_frame() {
    let frame = eth_tcp([10, 0, 0, 1], [10, 0, 0, 2], 1, 443, 0, SYN, &[]);
    let mut file = pcap_header(linktype::ETHERNET);
    file.extend(pcap_record(frame.len() as u32, &frame));
    file.extend(pcap_record(frame.len() as u32, &frame));
    file.extend(pcap_record(u32::MAX, &[0; 64]));
    let mut reader = CaptureReader::from_reader(Box::new(Cursor::new(file))).unwrap();
    assert_eq!(reader.next_packet().unwrap().unwrap().frame, 1);
    assert_eq!(reader.next_packet().unwrap().unwrap().frame, 2);
    let err = reader.next_packet().unwrap_err();
    assert!(
        matches!(err, CaptureError::CaplenTooLarge { frame: 3, caplen: 4_294_967_295, limit, .. } if limit == MAX_CAPLEN),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("frame 3") && msg.contains("4294967295"),
        "{msg}"
    );
    assert!(reader.next_packet().unwrap().is_none());
}

/// DER length of `n` bytes.
fn der_len(n: usize) -> Vec<u8> {
    if n < 128 {
        return vec![n as u8];
    }
    let bytes: Vec<u8> = n
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut v = vec![0x80 | bytes.len() as u8];
    v.extend(bytes);
    v
}

/// Certificates: oversized ones are refused before parsing, deep nesting fails cleanly
/// (no stack overflow), and a 1000-certificate chain is cut at `MAX_CERTS`.
#[test]
fn huge_and_deeply_nested_certificates_are_bounded() {
    // Oversized: a SEQUENCE claiming (and carrying) MAX_CERT_SIZE + 1 bytes.
    let body = vec![0u8; MAX_CERT_SIZE + 1];
    let mut der = vec![0x30];
    der.extend(der_len(body.len()));
    der.extend(&body);
    let err = parse_certificate(&der).unwrap_err();
    assert!(err.contains("limit"), "{err}");

    // A length claiming 4 GiB with a few bytes behind it.
    let err = parse_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0, 0]).unwrap_err();
    assert!(!err.is_empty());

    // 100 000 nested SEQUENCEs (and nested context tags inside a real prefix).
    for tag in [0x30u8, 0xa0, 0x31] {
        let depth = 100_000;
        let mut nested = vec![0u8; 0];
        for _ in 0..depth {
            let mut outer = vec![tag];
            outer.extend(der_len(nested.len()));
            outer.extend(nested);
            nested = outer;
            if nested.len() > MAX_CERT_SIZE / 2 {
                break;
            }
        }
        let err = parse_certificate(&nested).unwrap_err();
        assert!(!err.is_empty());
    }

    // A Certificate message with 1000 tiny certificates.
    let mut list = Vec::new();
    for i in 0..1000u32 {
        let cert = [0x30, 0x03, 0x02, 0x01, i as u8];
        list.extend_from_slice(&[0, 0, cert.len() as u8]);
        list.extend_from_slice(&cert);
    }
    let mut body = der_len3(list.len());
    body.extend(&list);
    let mut msg = vec![11];
    msg.extend(der_len3(body.len()));
    msg.extend(&body);
    let mut conn = TlsConn::new();
    for chunk in msg.chunks(16384) {
        conn.feed(Dir::ToClient, &tls_record(22, chunk), 1, 0);
    }
    assert!(conn.server_cert_der.len() <= MAX_CERTS);
}

fn der_len3(n: usize) -> Vec<u8> {
    vec![(n >> 16) as u8, (n >> 8) as u8, n as u8]
}

/// Malformed TLS inside valid packets: a `malformed_tls` finding with a reason on that
/// flow, and the next flow in the same capture is analyzed as usual.
#[test]
fn malformed_tls_is_a_finding_and_the_next_flow_carries_on() {
    let mut an = Analyzer::new(AnalyzerConfig::default());
    let (c, sv) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut frame = 0;
    let mut next = || {
        frame += 1;
        frame
    };
    // Flow 1: a handshake record whose ClientHello is garbage.
    let bad = tls_record(22, &[1, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]);
    for (src, dst, sp, dp, seq, flags, payload) in [
        (c, sv, 40001, 443, 100, SYN, &[][..]),
        (sv, c, 443, 40001, 900, SYN | ACK, &[][..]),
        (c, sv, 40001, 443, 101, PSH_ACK, &bad[..]),
        (c, sv, 40001, 443, 101 + bad.len() as u32, 0x14, &[][..]),
    ] {
        let f = next();
        feed(
            &mut an,
            f,
            f as i64,
            &eth_tcp(src, dst, sp, dp, seq, flags, payload),
        );
    }
    // Flow 2: a plausible ClientHello start, unanswered.
    let hello = tls_record(
        22,
        &[
            1, 0, 0, 41, 3, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
            20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 0, 0, 2, 0x13, 1, 1, 0,
        ],
    );
    for (src, dst, sp, dp, seq, flags, payload) in [
        (c, sv, 40002, 443, 200, SYN, &[][..]),
        (sv, c, 443, 40002, 800, SYN | ACK, &[][..]),
        (c, sv, 40002, 443, 201, PSH_ACK, &hello[..]),
    ] {
        let f = next();
        feed(
            &mut an,
            f,
            f as i64,
            &eth_tcp(src, dst, sp, dp, seq, flags, payload),
        );
    }
    an.finish();
    let flows: Vec<FlowRecord> = an.take_finished();
    assert_eq!(flows.len(), 2);
    let first = evaluate(&flows[0]);
    let malformed = first
        .iter()
        .find(|f| f.kind.as_str() == "malformed_tls")
        .unwrap_or_else(|| panic!("no malformed_tls in {first:?}"));
    let reason = malformed.evidence_str("reason").unwrap_or_default();
    assert!(!reason.is_empty(), "{malformed:?}");
    let second = &flows[1];
    let tls = second.tls.as_ref().expect("second flow is TLS");
    assert!(tls.client_hello.is_some(), "the next flow is still parsed");
    assert!(tls.malformed.is_empty());
}
