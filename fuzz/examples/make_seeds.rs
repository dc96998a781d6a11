//! Writes seed corpora for every fuzz target from real captures.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds -- OUT_DIR CAPTURE...`
//! (scripts/fuzz.sh does this with samples/ and ../shared/captures/). For each capture:
//! `capture/` and `pipeline/` get the file itself, `decode/` a few distinct frames, `reassembly/`
//! each TCP flow as segments, `tls/` each TLS flow's reassembled conversation, `cert/` every
//! certificate seen.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tlstriage::capture::CaptureReader;
use tlstriage::cleartext::looks_like_tls;
use tlstriage::decode::{decode, linktype, Decoded};
use tlstriage::model::Dir;
use tlstriage::tcp::{DirStream, ReassemblyLimits, StreamChunk};
use tlstriage::tls::TlsConn;

const LINKTYPES: [u32; 12] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::RAW_BSD_12,
    linktype::RAW_BSD_14,
    linktype::RAW,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL2,
    105,
    147,
];

type Key = ((IpAddr, u16), (IpAddr, u16));

/// The largest seed written: the -max_len scripts/fuzz.sh gives the capture, pipeline, tls
/// and session targets; a longer seed would be cut by libFuzzer anyway.
const MAX_SEED: usize = 4 << 20;

#[derive(Default)]
struct FlowSeeds {
    client: Option<(IpAddr, u16)>,
    segments: Vec<u8>,
    /// Reassembled chunks, in arrival order: (dir, gap_before, bytes).
    chunks: Vec<(Dir, bool, Vec<u8>)>,
    streams: Option<[DirStream; 2]>,
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    fs::create_dir_all(dir).expect("create corpus dir");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().expect("usage: make_seeds OUT_DIR CAPTURE..."));
    let mut certs = HashSet::new();
    let mut n = 0;
    for path in args {
        let path = PathBuf::from(path);
        let stem = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(['.', ' '], "_");
        let bytes = fs::read(&path).expect("read capture");
        if bytes.len() <= MAX_SEED {
            write(&out.join("capture"), &stem, &bytes);
            write(&out.join("pipeline"), &stem, &bytes);
        }
        let Ok(mut reader) = CaptureReader::open(&path) else {
            continue;
        };
        let mut flows: HashMap<Key, FlowSeeds> = HashMap::new();
        let mut decode_seeds = 0;
        while let Ok(Some(pkt)) = reader.next_packet() {
            if decode_seeds < 3 {
                if let Some(i) = LINKTYPES.iter().position(|&l| l == pkt.linktype) {
                    let mut seed = vec![i as u8];
                    seed.extend_from_slice(pkt.data);
                    write(
                        &out.join("decode"),
                        &format!("{stem}-{decode_seeds}"),
                        &seed,
                    );
                    decode_seeds += 1;
                }
            }
            let Ok(Decoded::Tcp(tcp)) = decode(pkt.linktype, pkt.data) else {
                continue;
            };
            let a = (tcp.src, tcp.sport);
            let b = (tcp.dst, tcp.dport);
            let key = if a <= b { (a, b) } else { (b, a) };
            let f = flows.entry(key).or_default();
            let client = *f
                .client
                .get_or_insert(if tcp.flags & 0x12 == 0x12 { b } else { a });
            let dir = if a == client {
                Dir::ToServer
            } else {
                Dir::ToClient
            };
            // reassembly seed: flags (0x80 = from server), seq, len, payload
            let len = tcp.payload.len().min(255);
            let flags = (tcp.flags & 0x7f) | if dir == Dir::ToClient { 0x80 } else { 0 };
            f.segments.push(flags);
            f.segments.extend_from_slice(&tcp.seq.to_be_bytes());
            f.segments.push(len as u8);
            f.segments.extend_from_slice(&tcp.payload[..len]);
            // tls seed: the reassembled stream per direction
            let streams = f.streams.get_or_insert_with(|| {
                [
                    DirStream::new(ReassemblyLimits::default()),
                    DirStream::new(ReassemblyLimits::default()),
                ]
            });
            let s = &mut streams[dir.index()];
            if tcp.flags & 0x02 != 0 {
                s.set_isn(tcp.seq);
            }
            let mut gap = false;
            let chunks = &mut f.chunks;
            s.segment(tcp.seq, tcp.payload, &mut |c| match c {
                StreamChunk::Gap { .. } => gap = true,
                StreamChunk::Data(d) => {
                    for piece in d.chunks(u16::MAX as usize) {
                        chunks.push((dir, std::mem::take(&mut gap), piece.to_vec()));
                    }
                }
            });
        }
        for (i, f) in flows.values().enumerate() {
            write(&out.join("reassembly"), &format!("{stem}-{i}"), &f.segments);
            let first_client = f.chunks.iter().find(|c| c.0 == Dir::ToServer);
            if !first_client.is_some_and(|c| looks_like_tls(&c.2)) {
                continue;
            }
            let mut seed = Vec::new();
            let mut conn = TlsConn::new();
            for (frame, (dir, gap, bytes)) in f.chunks.iter().enumerate() {
                let ctl = u8::from(*dir == Dir::ToClient) | if *gap { 2 } else { 0 };
                seed.push(ctl);
                seed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                seed.extend_from_slice(bytes);
                if *gap {
                    conn.gap(*dir, frame as u64, 0);
                }
                conn.feed(*dir, bytes, frame as u64, 0);
            }
            if seed.len() <= MAX_SEED {
                write(&out.join("tls"), &format!("{stem}-{i}"), &seed);
            }
            for der in conn.server_cert_der.iter().chain(&conn.client_cert_der) {
                if certs.insert(der.clone()) {
                    write(&out.join("cert"), &format!("{stem}-{}", certs.len()), der);
                }
            }
        }
        n += 1;
    }
    eprintln!(
        "seeds written from {n} captures, {} distinct certificates",
        certs.len()
    );
}
