//! Deterministic benchmark capture generator.
//!
//! Replays the real TLS exchanges of `samples/*.pcap` (captured from openssl, curl, python
//! on loopback) into one big pcap of a requested size with many distinct flows:
//!
//! ```text
//! cargo run --release --example bench_gen -- --mib 1024 -o /tmp/bench-1g.pcap
//! ```
//!
//! Every copy of an exchange gets its own client address and port, a server out of 1000,
//! server port 443 (80, 25 or 3128 for the exchanges whose point is another port), and
//! shifted sequence numbers. A share of the healthy TLS 1.2/1.3 copies (`--bulk-percent`,
//! 15) carries bulk application data (1 to `--bulk-records`, 4, whole 16 KiB records cut at
//! a 1448-byte MSS); a share of all copies
//! gets two data segments swapped (out of order) or one segment sent twice
//! (retransmission). About 2000 copies are open at once, interleaved at random, one packet
//! every `--gap-us` microseconds of capture time. The output depends only on the options.
//! Write it to a scratch directory (/tmp, target/), never into git.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use tlstriage::capture::CaptureReader;
use tlstriage::decode::{decode, tcp_flags, Decoded};

/// One TCP segment of a template exchange, addresses replaced by endpoint indexes.
#[derive(Clone)]
struct Seg {
    /// True when sent by the client of connection `conn`.
    to_server: bool,
    /// Index of the connection within the template (tls12-resumed has two).
    conn: usize,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    ttl: u8,
    payload: Vec<u8>,
}

struct Template {
    /// Capture time of the first packet.
    first_ts_us: i64,
    weight: u32,
    server_port: u16,
    /// Healthy TLS exchange that may carry bulk application data.
    bulk: bool,
    segs: Vec<Seg>,
    conns: usize,
}

const TEMPLATES: &[(&str, u32, u16, bool)] = &[
    ("tls12-ok", 20, 443, true),
    ("tls13-ok", 20, 443, true),
    ("tls12-resumed", 6, 443, false),
    ("connect-proxy-ok", 1, 3128, false),
    ("version-mismatch", 6, 443, false),
    ("cipher-mismatch", 4, 443, false),
    ("cert-expired", 3, 443, false),
    ("cert-self-signed", 2, 443, false),
    ("cert-wrong-name", 2, 443, false),
    ("tls13-cert-rejected", 3, 443, false),
    ("tls13-cert-rejected-openssl", 2, 443, false),
    ("client-rst-mid-handshake", 6, 443, false),
    ("server-close-no-alert", 2, 443, false),
    ("plaintext-http-to-tls-port", 4, 443, false),
    ("tls-to-http-server", 1, 80, false),
    ("missing-sni", 3, 443, false),
    ("middlebox-rst", 1, 443, false),
    ("pmtu-blackhole", 1, 443, false),
    ("smtp-starttls", 1, 25, false),
    ("connect-proxy-403", 1, 3128, false),
];

/// xorshift64*: small, deterministic, good enough for picking.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn load_template(dir: &Path, name: &'static str, weight: u32, port: u16, bulk: bool) -> Template {
    let path = dir.join(format!("{name}.pcap"));
    let mut reader =
        CaptureReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Connections keyed by (client ip, client port); the client is who sent the first SYN.
    let mut conns: Vec<(IpAddr, u16)> = Vec::new();
    let mut segs = Vec::new();
    let mut first_ts_us = None;
    while let Some(pkt) = reader.next_packet().expect("sample reads") {
        first_ts_us.get_or_insert(pkt.ts_us);
        let Ok(Decoded::Tcp(t)) = decode(pkt.linktype, pkt.data) else {
            continue;
        };
        let syn_only = t.flags & tcp_flags::SYN != 0 && t.flags & tcp_flags::ACK == 0;
        let (conn, to_server) = match conns
            .iter()
            .position(|c| *c == (t.src, t.sport) || *c == (t.dst, t.dport))
        {
            Some(i) => (i, conns[i] == (t.src, t.sport)),
            None => {
                // Every sample starts its connections with a SYN from the client.
                let client = if syn_only {
                    (t.src, t.sport)
                } else {
                    (t.dst, t.dport)
                };
                conns.push(client);
                (conns.len() - 1, client == (t.src, t.sport))
            }
        };
        segs.push(Seg {
            to_server,
            conn,
            seq: t.seq,
            ack: t.ack,
            flags: t.flags,
            window: t.window,
            ttl: t.ttl,
            payload: t.payload.to_vec(),
        });
    }
    Template {
        first_ts_us: first_ts_us.unwrap_or(0),
        weight,
        server_port: port,
        bulk,
        conns: conns.len(),
        segs,
    }
}

/// A copy of a template being replayed.
struct Copy {
    segs: Vec<Seg>,
    next: usize,
    client_ip: Ipv4Addr,
    server_ip: Ipv4Addr,
    client_port: u16,
    server_port: u16,
}

/// Whole TLS application-data records (16 KiB + AEAD overhead) cut into MSS segments.
fn bulk_segments(n_records: usize, filler: &[u8]) -> Vec<Vec<u8>> {
    const REC_BODY: usize = 16384 + 17;
    let mut stream = Vec::with_capacity(n_records * (REC_BODY + 5));
    for _ in 0..n_records {
        stream.extend_from_slice(&[0x17, 0x03, 0x03]);
        stream.extend_from_slice(&(REC_BODY as u16).to_be_bytes());
        stream.extend_from_slice(&filler[..REC_BODY]);
    }
    stream.chunks(1448).map(<[u8]>::to_vec).collect()
}

fn make_copy(t: &Template, idx: u64, rng: &mut Rng, filler: &[u8], o: &Options) -> Copy {
    let mut segs = t.segs.clone();
    // Per copy and connection: shift the client's and the server's sequence numbers.
    let shifts: Vec<(u32, u32)> = (0..t.conns)
        .map(|_| (rng.next() as u32, rng.next() as u32))
        .collect();
    if t.bulk && rng.below(100) < o.bulk_percent {
        // Bulk data from the server after its last data segment before any FIN/RST.
        let end = segs
            .iter()
            .position(|s| s.flags & (tcp_flags::FIN | tcp_flags::RST) != 0)
            .unwrap_or(segs.len());
        if let Some(at) = segs[..end]
            .iter()
            .rposition(|s| !s.to_server && !s.payload.is_empty())
        {
            let base = segs[at].clone();
            let mut seq = base.seq.wrapping_add(base.payload.len() as u32);
            let records = 1 + rng.below(o.bulk_records.max(1)) as usize;
            let inserted: Vec<Seg> = bulk_segments(records, filler)
                .into_iter()
                .map(|p| {
                    let s = Seg {
                        seq,
                        flags: tcp_flags::ACK,
                        payload: p,
                        ..base.clone()
                    };
                    seq = seq.wrapping_add(s.payload.len() as u32);
                    s
                })
                .collect();
            let added = seq.wrapping_sub(base.seq.wrapping_add(base.payload.len() as u32));
            for s in segs[at + 1..].iter_mut().filter(|s| s.conn == base.conn) {
                if s.to_server {
                    s.ack = s.ack.wrapping_add(added);
                } else {
                    s.seq = s.seq.wrapping_add(added);
                }
            }
            segs.splice(at + 1..at + 1, inserted);
        }
    }
    let data: Vec<usize> = (0..segs.len().saturating_sub(1))
        .filter(|&i| {
            !segs[i].payload.is_empty()
                && !segs[i + 1].payload.is_empty()
                && segs[i].to_server == segs[i + 1].to_server
                && segs[i].conn == segs[i + 1].conn
        })
        .collect();
    match rng.below(100) {
        0..=4 if !data.is_empty() => {
            let i = data[rng.below(data.len() as u64) as usize];
            segs.swap(i, i + 1); // out of order
        }
        5..=9 if !data.is_empty() => {
            let i = data[rng.below(data.len() as u64) as usize];
            let again = segs[i].clone();
            segs.insert(i + 2, again); // retransmitted after the next segment
        }
        _ => {}
    }
    for s in &mut segs {
        let (c, sv) = shifts[s.conn];
        if s.to_server {
            s.seq = s.seq.wrapping_add(c);
            s.ack = s.ack.wrapping_add(sv);
        } else {
            s.seq = s.seq.wrapping_add(sv);
            s.ack = s.ack.wrapping_add(c);
        }
    }
    let server = idx % 1000;
    Copy {
        segs,
        next: 0,
        client_ip: Ipv4Addr::new(10, (idx >> 16) as u8, (idx >> 8) as u8, idx as u8),
        server_ip: Ipv4Addr::new(172, 16, (server >> 8) as u8, server as u8),
        client_port: 20000 + ((idx * 7) % 40000) as u16,
        server_port: t.server_port,
    }
}

fn csum_add(mut sum: u32, b: &[u8]) -> u32 {
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet + IPv4 + TCP (no options) frame with correct checksums.
fn frame(c: &Copy, s: &Seg, out: &mut Vec<u8>) {
    let (src, dst, sport, dport) = if s.to_server {
        (
            c.client_ip,
            c.server_ip,
            c.client_port + s.conn as u16,
            c.server_port,
        )
    } else {
        (
            c.server_ip,
            c.client_ip,
            c.server_port,
            c.client_port + s.conn as u16,
        )
    };
    out.clear();
    let (smac, dmac) = if s.to_server { (1u8, 2u8) } else { (2, 1) };
    out.extend_from_slice(&[2, 0, 0, 0, 0, dmac, 2, 0, 0, 0, 0, smac, 0x08, 0x00]);
    let total = 40 + s.payload.len();
    let ip_start = out.len();
    out.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        s.ttl,
        6,
    ]);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let ipc = csum_fold(csum_add(0, &out[ip_start..ip_start + 20]));
    out[ip_start + 10..ip_start + 12].copy_from_slice(&ipc.to_be_bytes());
    let tcp_start = out.len();
    out.extend_from_slice(&sport.to_be_bytes());
    out.extend_from_slice(&dport.to_be_bytes());
    out.extend_from_slice(&s.seq.to_be_bytes());
    out.extend_from_slice(&s.ack.to_be_bytes());
    out.extend_from_slice(&[0x50, s.flags]);
    out.extend_from_slice(&s.window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&s.payload);
    let tcp_len = (20 + s.payload.len()) as u16;
    let mut sum = csum_add(0, &src.octets());
    sum = csum_add(sum, &dst.octets());
    sum += 6 + u32::from(tcp_len);
    sum = csum_add(sum, &out[tcp_start..]);
    let tc = csum_fold(sum);
    out[tcp_start + 16..tcp_start + 18].copy_from_slice(&tc.to_be_bytes());
}

fn usage() -> ! {
    eprintln!(
        "usage: bench_gen --mib N -o OUT.pcap [--samples DIR] [--seed S] [--gap-us U] [--active K] [--bulk-percent P] [--bulk-records R]"
    );
    std::process::exit(2);
}

/// What to generate (see the module documentation).
pub struct Options {
    pub mib: u64,
    pub out: PathBuf,
    pub samples: PathBuf,
    pub seed: u64,
    pub gap_us: i64,
    pub active: usize,
    /// Share (percent) of the healthy TLS copies that carry bulk application data.
    pub bulk_percent: u64,
    /// Most 16 KiB records of bulk data in one such copy (1 to this many).
    pub bulk_records: u64,
}

impl Options {
    pub fn new(mib: u64, out: PathBuf) -> Self {
        Options {
            mib,
            out,
            samples: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/samples")),
            seed: 0x7115_7121_a6e0_0001,
            gap_us: 100,
            active: 2000,
            bulk_percent: 15,
            bulk_records: 4,
        }
    }
}

#[allow(dead_code)] // also compiled into tests/threads.rs, which calls `generate`
fn main() {
    let mut o = Options::new(0, PathBuf::new());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--mib" => o.mib = val().parse().unwrap_or_else(|_| usage()),
            "-o" | "--output" => o.out = PathBuf::from(val()),
            "--samples" => o.samples = PathBuf::from(val()),
            "--seed" => o.seed = val().parse().unwrap_or_else(|_| usage()),
            "--gap-us" => o.gap_us = val().parse().unwrap_or_else(|_| usage()),
            "--active" => o.active = val().parse().unwrap_or_else(|_| usage()),
            "--bulk-percent" => o.bulk_percent = val().parse().unwrap_or_else(|_| usage()),
            "--bulk-records" => o.bulk_records = val().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if o.mib == 0 || o.out.as_os_str().is_empty() {
        usage();
    }
    eprint!("{}", generate(&o));
}

/// Write the capture; returns a summary (sizes, counts per exchange).
pub fn generate(o: &Options) -> String {
    let (mib, out, samples, seed, gap_us, active) =
        (o.mib, &o.out, &o.samples, o.seed, o.gap_us, o.active);
    let templates: Vec<Template> = TEMPLATES
        .iter()
        .map(|&(n, w, p, b)| load_template(samples, n, w, p, b))
        .collect();
    let total_weight: u32 = templates.iter().map(|t| t.weight).sum();
    let mut rng = Rng(seed | 1);
    let filler: Vec<u8> = (0..20_000).map(|_| rng.next() as u8).collect();
    let target = mib << 20;

    let mut w = BufWriter::with_capacity(1 << 20, File::create(out).expect("create output"));
    // pcap header: µs, Ethernet, snaplen 262144.
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&262_144u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    w.write_all(&hdr).expect("write");
    let mut written = hdr.len() as u64;
    // Start where the samples were captured, so their certificates are valid as they were.
    let mut ts_us: i64 = templates.iter().map(|t| t.first_ts_us).max().unwrap_or(0);
    let mut slots: Vec<Copy> = Vec::with_capacity(active);
    let mut copies: u64 = 0;
    let mut connections: u64 = 0;
    let mut packets: u64 = 0;
    let mut per_template = vec![0u64; templates.len()];
    let mut buf = Vec::with_capacity(2048);
    let mut new_copy = |rng: &mut Rng, copies: &mut u64, connections: &mut u64| {
        let mut pick = rng.below(u64::from(total_weight)) as u32;
        let ti = templates
            .iter()
            .position(|t| {
                if pick < t.weight {
                    true
                } else {
                    pick -= t.weight;
                    false
                }
            })
            .unwrap_or(0);
        per_template[ti] += 1;
        *copies += 1;
        *connections += templates[ti].conns as u64;
        make_copy(&templates[ti], *copies, rng, &filler, o)
    };
    while slots.len() < active {
        slots.push(new_copy(&mut rng, &mut copies, &mut connections));
    }
    while !slots.is_empty() {
        let i = rng.below(slots.len() as u64) as usize;
        let c = &mut slots[i];
        let s = &c.segs[c.next];
        frame(c, s, &mut buf);
        c.next += 1;
        ts_us += gap_us;
        let rec_hdr = [
            ((ts_us / 1_000_000) as u32).to_le_bytes(),
            ((ts_us % 1_000_000) as u32).to_le_bytes(),
            (buf.len() as u32).to_le_bytes(),
            (buf.len() as u32).to_le_bytes(),
        ];
        w.write_all(rec_hdr.as_flattened()).expect("write");
        w.write_all(&buf).expect("write");
        written += 16 + buf.len() as u64;
        packets += 1;
        if c.next == c.segs.len() {
            if written < target {
                slots[i] = new_copy(&mut rng, &mut copies, &mut connections);
            } else {
                slots.swap_remove(i);
            }
        }
    }
    w.flush().expect("flush");
    let mut summary = format!(
        "{}: {} bytes, {packets} packets, {connections} connections ({copies} exchange copies), {:.0} s of capture time\n",
        out.display(),
        written,
        (packets as i64 * gap_us) as f64 / 1e6
    );
    for (t, n) in TEMPLATES.iter().zip(&per_template) {
        summary.push_str(&format!("  {:<28} {n}\n", t.0));
    }
    summary
}
