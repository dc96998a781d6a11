//! Criterion benchmarks of the pipeline's hot functions (issue #7).
//!
//! ```text
//! cargo bench --bench hot                 # real run, about a minute and a half
//! cargo bench --bench hot -- --test       # run every benchmark once (CI smoke test)
//! cargo bench --bench hot -- reassembly   # one group
//! ```
//!
//! Every input comes from `samples/*.pcap` (read once, outside the timed loops) or is
//! generated deterministically from them, so the numbers are reproducible. Groups:
//!
//! * `capture`    `CaptureReader` over a sample from disk and from memory, and over a
//!   sample's frames replicated into a ~2 MB in-memory pcap (steady state) — packets/s.
//! * `decode`     `decode::decode` over every frame of a sample / of all samples — frames/s.
//! * `reassembly` one `tcp::DirStream` fed 1 MiB in 1460-byte segments, in order and out of
//!   order — bytes/s.
//! * `tls`        `tls::TlsConn::feed` over the reassembled streams of a real TLS 1.2 and
//!   TLS 1.3 handshake — handshakes/s.
//! * `cert`       `tls::cert::parse_certificate` on the real leaf certificate of a sample.
//! * `pipeline`   `pipeline::analyze_path` (disk) and `pipeline::run` (memory), default
//!   config — bytes of capture/s.
//! * `output`     `output::write_finding_parts` (the NDJSON path), `output::write_finding`
//!   (the same bytes through serde_json), `output::finding_record` and
//!   `output::tls_flow_record` (through a `serde_json::Value`) into a `Vec<u8>` — records/s.

use std::hint::black_box;
use std::io::Cursor;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

use tlstriage::capture::CaptureReader;
use tlstriage::decode::{decode, tcp_flags, Decoded};
use tlstriage::flow::AnalyzerConfig;
use tlstriage::model::{Dir, FrameNo, TimestampUs};
use tlstriage::pipeline::{analyze_path, run, Analysis};
use tlstriage::tcp::{DirStream, ReassemblyLimits, StreamChunk};
use tlstriage::tls::cert::parse_certificate;
use tlstriage::tls::TlsConn;

// ---------------------------------------------------------------------------------------
// Inputs, built once outside the timed loops.

fn sample_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// A sample's bytes with a `'static` lifetime, so `CaptureReader::from_reader` can own a
/// cursor over them without a copy per iteration. `None` (and a note) when unreadable.
fn sample_bytes(name: &str) -> Option<&'static [u8]> {
    match std::fs::read(sample_path(name)) {
        Ok(bytes) => Some(Box::leak(bytes.into_boxed_slice())),
        Err(e) => {
            eprintln!("hot: skipping benchmarks of samples/{name}: {e}");
            None
        }
    }
}

/// Every `samples/*.pcap`, sorted by name.
fn all_samples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sample_path(""))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// One captured frame, copied out of the reader.
struct Frame {
    linktype: u32,
    ts_us: TimestampUs,
    frame: FrameNo,
    data: Vec<u8>,
}

fn read_frames(bytes: &'static [u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    let Ok(mut reader) = CaptureReader::from_reader(Box::new(Cursor::new(bytes))) else {
        return frames;
    };
    while let Ok(Some(pkt)) = reader.next_packet() {
        frames.push(Frame {
            linktype: pkt.linktype,
            ts_us: pkt.ts_us,
            frame: pkt.frame,
            data: pkt.data.to_vec(),
        });
    }
    frames
}

/// A classic little-endian microsecond pcap holding `frames` `copies` times over, one
/// millisecond apart, for a steady-state reader measurement. Frames whose link type
/// differs from the first one are left out (one pcap has one link type).
fn replicate_pcap(frames: &[Frame], copies: usize) -> (Vec<u8>, u64) {
    let linktype = frames.first().map_or(1, |f| f.linktype);
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    let mut packets = 0u64;
    let mut ts_us: u64 = 1_700_000_000_000_000;
    for _ in 0..copies {
        for f in frames.iter().filter(|f| f.linktype == linktype) {
            let len = u32::try_from(f.data.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&f.data);
            ts_us += 1000;
            packets += 1;
        }
    }
    (out, packets)
}

/// The reassembled byte stream of a sample's first TCP connection, as the chunks the
/// analyzer would hand to the TLS layer (direction, bytes, frame, time), in capture order.
fn tls_chunks(frames: &[Frame]) -> Vec<(Dir, Vec<u8>, FrameNo, TimestampUs)> {
    type Key = (IpAddr, u16, IpAddr, u16);
    let mut client: Option<Key> = None;
    let mut streams = [
        DirStream::new(ReassemblyLimits::default()),
        DirStream::new(ReassemblyLimits::default()),
    ];
    let mut chunks = Vec::new();
    for f in frames {
        let Ok(Decoded::Tcp(pkt)) = decode(f.linktype, &f.data) else {
            continue;
        };
        let key = (pkt.src, pkt.sport, pkt.dst, pkt.dport);
        let reverse = (pkt.dst, pkt.dport, pkt.src, pkt.sport);
        // The connection's client: the sender of the SYN, else of the first packet.
        let client_key = *client.get_or_insert(key);
        let dir = if key == client_key {
            Dir::ToServer
        } else if reverse == client_key {
            Dir::ToClient
        } else {
            continue; // another connection
        };
        let stream = &mut streams[dir.index()];
        let mut seq = pkt.seq;
        if pkt.flags & tcp_flags::SYN != 0 {
            stream.set_isn(pkt.seq);
            seq = seq.wrapping_add(1);
        }
        stream.segment(seq, pkt.payload, &mut |chunk| {
            if let StreamChunk::Data(data) = chunk {
                chunks.push((dir, data.to_vec(), f.frame, f.ts_us));
            }
        });
    }
    chunks
}

fn feed_tls(chunks: &[(Dir, Vec<u8>, FrameNo, TimestampUs)]) -> TlsConn {
    let mut conn = TlsConn::new();
    for (dir, data, frame, ts_us) in chunks {
        conn.feed(*dir, data, *frame, *ts_us);
    }
    conn
}

/// `len` deterministic pseudo-random bytes (xorshift), cut into `mss`-byte segments.
fn synthetic_segments(len: usize, mss: usize) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    bytes.chunks(mss).map(<[u8]>::to_vec).collect()
}

fn analyze(name: &str) -> Option<Analysis> {
    match analyze_path(&sample_path(name), &AnalyzerConfig::default()) {
        Ok(a) => Some(a),
        Err(e) => {
            eprintln!("hot: skipping benchmarks of samples/{name}: {e}");
            None
        }
    }
}

fn configure(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

/// Elements throughput from a count.
fn elements(n: usize) -> Throughput {
    Throughput::Elements(u64::try_from(n).unwrap_or(u64::MAX))
}

fn bytes(n: usize) -> Throughput {
    Throughput::Bytes(u64::try_from(n).unwrap_or(u64::MAX))
}

// ---------------------------------------------------------------------------------------
// Benchmarks.

/// Reads every packet, touching its length so the pass cannot be optimized away.
fn read_all(mut reader: CaptureReader) -> u64 {
    let mut n = 0u64;
    while let Ok(Some(pkt)) = reader.next_packet() {
        black_box(pkt.data);
        n += 1;
    }
    n
}

fn bench_capture(c: &mut Criterion) {
    const SAMPLE: &str = "tls12-ok.pcap";
    let Some(data) = sample_bytes(SAMPLE) else {
        return;
    };
    let frames = read_frames(data);
    let mut g = c.benchmark_group("capture");
    configure(&mut g);
    g.throughput(elements(frames.len()));
    let path = sample_path(SAMPLE);
    g.bench_function("open_file/tls12-ok", |b| {
        b.iter(|| match CaptureReader::open(black_box(&path)) {
            Ok(reader) => read_all(reader),
            Err(_) => 0,
        });
    });
    g.bench_function("from_reader/tls12-ok", |b| {
        b.iter(
            || match CaptureReader::from_reader(Box::new(Cursor::new(black_box(data)))) {
                Ok(reader) => read_all(reader),
                Err(_) => 0,
            },
        );
    });
    // The two above are dominated by opening (a 1 MiB read buffer) for ~20 frames; this
    // one is the per-packet cost over a larger in-memory capture.
    let (big, packets) = replicate_pcap(&frames, 256);
    let big: &'static [u8] = Box::leak(big.into_boxed_slice());
    g.throughput(Throughput::Elements(packets));
    g.bench_function("from_reader/tls12-ok-x256", |b| {
        b.iter(
            || match CaptureReader::from_reader(Box::new(Cursor::new(black_box(big)))) {
                Ok(reader) => read_all(reader),
                Err(_) => 0,
            },
        );
    });
    g.finish();
}

fn decode_all(frames: &[Frame]) -> usize {
    frames
        .iter()
        .filter(|f| matches!(decode(f.linktype, black_box(&f.data)), Ok(Decoded::Tcp(_))))
        .count()
}

fn bench_decode(c: &mut Criterion) {
    let one: Vec<Frame> = sample_bytes("tls12-ok.pcap")
        .map(read_frames)
        .unwrap_or_default();
    let all: Vec<Frame> = all_samples()
        .iter()
        .filter_map(|n| sample_bytes(n))
        .flat_map(read_frames)
        .collect();
    let mut g = c.benchmark_group("decode");
    configure(&mut g);
    for (name, frames) in [("tls12-ok", &one), ("all-samples", &all)] {
        if frames.is_empty() {
            continue;
        }
        g.throughput(elements(frames.len()));
        g.bench_function(name, |b| b.iter(|| decode_all(frames)));
    }
    g.finish();
}

/// Feeds `order` (indexes into `segs`) to a fresh stream; returns the bytes delivered.
fn reassemble(segs: &[Vec<u8>], offsets: &[u32], order: &[usize], isn: u32) -> u64 {
    let mut stream = DirStream::new(ReassemblyLimits::default());
    stream.set_isn(isn);
    let mut delivered = 0u64;
    let mut sink = |chunk: StreamChunk<'_>| {
        if let StreamChunk::Data(d) = chunk {
            delivered += black_box(d).len() as u64;
        }
    };
    for &i in order {
        let seq = isn.wrapping_add(1).wrapping_add(offsets[i]);
        stream.segment(seq, &segs[i], &mut sink);
    }
    stream.flush(&mut sink);
    delivered
}

fn bench_reassembly(c: &mut Criterion) {
    const MSS: usize = 1460;
    let segs = synthetic_segments(1 << 20, MSS);
    let total: usize = segs.iter().map(Vec::len).sum();
    let offsets: Vec<u32> = segs
        .iter()
        .scan(0u32, |at, s| {
            let here = *at;
            *at = at.wrapping_add(s.len() as u32);
            Some(here)
        })
        .collect();
    let n = segs.len();
    let in_order: Vec<usize> = (0..n).collect();
    // Every pair swapped: every other segment is buffered, then released by the next.
    let mut swapped_pairs = in_order.clone();
    swapped_pairs.chunks_mut(2).for_each(<[usize]>::reverse);
    // Blocks of 8 reversed: up to 7 segments buffered at once.
    let mut reversed_8 = in_order.clone();
    reversed_8.chunks_mut(8).for_each(<[usize]>::reverse);
    // Starting near the top of the sequence space also exercises wrap-around.
    let isn = u32::MAX - 100_000;
    let mut g = c.benchmark_group("reassembly");
    configure(&mut g);
    g.throughput(bytes(total));
    for (name, order) in [
        ("in_order/1MiB", &in_order),
        ("out_of_order_pairs/1MiB", &swapped_pairs),
        ("out_of_order_rev8/1MiB", &reversed_8),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| reassemble(&segs, &offsets, black_box(order), isn))
        });
    }
    g.finish();
}

fn bench_tls(c: &mut Criterion) {
    let mut g = c.benchmark_group("tls");
    configure(&mut g);
    g.throughput(Throughput::Elements(1));
    for name in ["tls12-ok", "tls13-ok"] {
        let Some(data) = sample_bytes(&format!("{name}.pcap")) else {
            continue;
        };
        let chunks = tls_chunks(&read_frames(data));
        let check = feed_tls(&chunks);
        if !check.established {
            eprintln!("hot: note: the {name} handshake did not complete in TlsConn");
        }
        g.bench_function(format!("handshake/{name}"), |b| {
            b.iter(|| feed_tls(black_box(&chunks)).events.len())
        });
    }
    g.finish();
}

fn bench_cert(c: &mut Criterion) {
    // TLS 1.3 certificates are encrypted on the wire, so the real DER comes from the
    // TLS 1.2 samples' Certificate messages.
    let mut g = c.benchmark_group("cert");
    configure(&mut g);
    g.throughput(Throughput::Elements(1));
    for name in ["tls12-ok", "cert-expired"] {
        let Some(data) = sample_bytes(&format!("{name}.pcap")) else {
            continue;
        };
        let conn = feed_tls(&tls_chunks(&read_frames(data)));
        let Some(der) = conn.server_cert_der.into_iter().next() else {
            eprintln!("hot: note: no server certificate found in {name}");
            continue;
        };
        if let Err(e) = parse_certificate(&der) {
            eprintln!("hot: note: the {name} certificate does not parse: {e}");
        }
        g.bench_function(format!("parse_certificate/{name}-leaf"), |b| {
            b.iter(|| parse_certificate(black_box(&der)).is_ok())
        });
    }
    g.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    const SAMPLE: &str = "tls12-ok.pcap";
    let config = AnalyzerConfig::default();
    let mut g = c.benchmark_group("pipeline");
    configure(&mut g);
    if let Some(data) = sample_bytes(SAMPLE) {
        g.throughput(bytes(data.len()));
        let path = sample_path(SAMPLE);
        g.bench_function("analyze_path/tls12-ok", |b| {
            b.iter(|| analyze_path(black_box(&path), &config).map_or(0, |a| a.flows.len()))
        });
        g.bench_function("run_in_memory/tls12-ok", |b| {
            b.iter(|| {
                let Ok(mut reader) =
                    CaptureReader::from_reader(Box::new(Cursor::new(black_box(data))))
                else {
                    return 0;
                };
                let mut findings = 0usize;
                let outcome = run::<std::convert::Infallible>(
                    &mut reader,
                    &config,
                    &mut |flow, fs| {
                        black_box(&flow);
                        findings += fs.len();
                        Ok(())
                    },
                    &mut |_| {},
                );
                black_box(outcome.is_ok());
                findings
            })
        });
    }
    let paths: Vec<PathBuf> = all_samples().iter().map(|n| sample_path(n)).collect();
    let total: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    if !paths.is_empty() {
        g.throughput(Throughput::Bytes(total));
        g.bench_function("analyze_path/all-samples", |b| {
            b.iter(|| {
                paths
                    .iter()
                    .filter_map(|p| analyze_path(black_box(p), &config).ok())
                    .map(|a| a.flows.len())
                    .sum::<usize>()
            })
        });
    }
    g.finish();
}

fn bench_output(c: &mut Criterion) {
    const SAMPLE: &str = "cert-expired.pcap";
    let Some(analysis) = analyze(SAMPLE) else {
        return;
    };
    let capture = SAMPLE;
    let findings = analysis.findings().count();
    let mut g = c.benchmark_group("output");
    configure(&mut g);
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    if findings > 0 {
        g.throughput(elements(findings));
        // What `read --format ndjson` does: written field by field (output::fastjson), with
        // the tcp_stream holes filled as the merge fills them.
        let mut parts = tlstriage::output::Rendered::default();
        g.bench_function("write_finding_parts/cert-expired", |b| {
            b.iter(|| {
                buf.clear();
                for (flow, f) in analysis.findings() {
                    parts.clear();
                    let _ = tlstriage::output::write_finding_parts(&mut parts, capture, flow, f);
                    parts.fill(flow.tcp_stream, &mut buf);
                }
                black_box(buf.len())
            })
        });
        // The same bytes through serde_json's serializer (the reference the fast path is
        // tested against).
        g.bench_function("write_finding/cert-expired", |b| {
            b.iter(|| {
                buf.clear();
                for (flow, f) in analysis.findings() {
                    let _ = tlstriage::output::write_finding(&mut buf, capture, flow, f);
                }
                black_box(buf.len())
            })
        });
        // Through a serde_json::Value first (tests, ECS, syslog).
        g.bench_function("finding_record/cert-expired", |b| {
            b.iter(|| {
                buf.clear();
                for (flow, f) in analysis.findings() {
                    let rec = tlstriage::output::finding_record(capture, flow, f);
                    if serde_json::to_writer(&mut buf, &rec).is_ok() {
                        buf.push(b'\n');
                    }
                }
                black_box(buf.len())
            })
        });
    } else {
        eprintln!("hot: note: {SAMPLE} has no findings");
    }
    g.throughput(elements(analysis.flows.len()));
    g.bench_function("tls_flow_record/cert-expired", |b| {
        b.iter(|| {
            buf.clear();
            for (flow, fs) in &analysis.flows {
                let rec = tlstriage::output::tls_flow_record(capture, flow, fs);
                if serde_json::to_writer(&mut buf, &rec).is_ok() {
                    buf.push(b'\n');
                }
            }
            black_box(buf.len())
        })
    });
    g.finish();
}

criterion_group!(
    hot,
    bench_capture,
    bench_decode,
    bench_reassembly,
    bench_tls,
    bench_cert,
    bench_pipeline,
    bench_output
);
criterion_main!(hot);
