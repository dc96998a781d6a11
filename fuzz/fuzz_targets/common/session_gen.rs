//! TLS records for the `session` target: generated from the input (mostly well-formed, with
//! the input choosing versions, suites, extensions and, now and then, a wrong length), or a
//! real conversation from samples/ mutated record by record.

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use tlstriage::capture::CaptureReader;
use tlstriage::decode::{decode, Decoded};
use tlstriage::model::Dir;
use tlstriage::tcp::{DirStream, ReassemblyLimits, StreamChunk};
use tlstriage::tls::TlsConn;

#[path = "wire.rs"]
mod wire;
use wire::{Wire, ACK, FIN, RST, SYN};

const MAX_RECORDS: usize = 64;
const SUITES: [u16; 12] = [
    0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc030, 0xcca8, 0x009c, 0x002f, 0x0035, 0x000a, 0x0000,
];
const VERSIONS: [u16; 6] = [0x0303, 0x0303, 0x0301, 0x0302, 0x0300, 0x0304];
const GROUPS: [u16; 6] = [0x001d, 0x0017, 0x0018, 0x0100, 0x11ec, 0x6399];

/// A real conversation: (sent by the server, one TLS record or trailing bytes).
pub type Conversation = Vec<(bool, Vec<u8>)>;

pub struct Replays {
    pub conversations: Vec<Conversation>,
    /// Every certificate those conversations carried, for generated Certificate messages.
    pub certs: Vec<Vec<u8>>,
}

pub fn replays() -> &'static Replays {
    static R: OnceLock<Replays> = OnceLock::new();
    R.get_or_init(load)
}

pub fn generate(u: &mut Unstructured<'_>, seeds: &Replays) -> Vec<u8> {
    let mut wire = match Wire::new(u) {
        Ok(w) => w,
        Err(_) => return Vec::new(),
    };
    // Running out of input just ends the conversation where it is.
    let _ = conversation(u, seeds, &mut wire);
    wire.out
}

fn conversation(u: &mut Unstructured<'_>, seeds: &Replays, wire: &mut Wire) -> Result<()> {
    if !u.ratio(1, 16)? {
        wire.send(0, SYN, &[]);
        wire.wait(u)?;
        wire.send(1, SYN | ACK, &[]);
        wire.wait(u)?;
        wire.send(0, ACK, &[]);
    } else if u.arbitrary()? {
        // Refused, or a handshake the capture started after.
        wire.send(0, SYN, &[]);
        wire.send(1, RST | ACK, &[]);
    }
    let replay = !seeds.conversations.is_empty() && u.ratio(1, 4)?;
    if replay {
        let conv = u.choose(&seeds.conversations)?;
        for (server, record) in conv {
            if wire.full() {
                break;
            }
            mutate(u, seeds, wire, usize::from(*server), record)?;
        }
    } else {
        for _ in 0..MAX_RECORDS {
            if u.is_empty() || wire.full() {
                break;
            }
            let side = usize::from(u.arbitrary::<bool>()?);
            let mut bytes = record(u, seeds, side == 1)?;
            // Several records in one write, as real stacks send a flight.
            while u.ratio(1, 3)? && bytes.len() < 64 * 1024 {
                bytes.extend(record(u, seeds, side == 1)?);
            }
            wire.stream(u, side, &bytes)?;
        }
    }
    match u.int_in_range(0..=3u8)? {
        0 => {
            wire.send(0, FIN | ACK, &[]);
            wire.send(1, FIN | ACK, &[]);
            wire.send(0, ACK, &[]);
        }
        1 => wire.send(usize::from(u.arbitrary::<bool>()?), RST | ACK, &[]),
        2 => wire.send(1, FIN | ACK, &[]),
        _ => {} // the capture stops with the connection still open
    }
    Ok(())
}

/// A replayed record, sent as it was or changed at the TLS layer.
fn mutate(
    u: &mut Unstructured<'_>,
    seeds: &Replays,
    wire: &mut Wire,
    side: usize,
    rec: &[u8],
) -> Result<()> {
    let mut rec = rec.to_vec();
    match u.int_in_range(0..=15u8)? {
        0 => return Ok(()), // dropped
        1 if !rec.is_empty() => {
            let i = u.choose_index(rec.len())?;
            rec[i] ^= u.int_in_range(1..=255u8)?;
        }
        2 if !rec.is_empty() => rec[0] = u.arbitrary()?,
        3 if rec.len() >= 3 => {
            let v: u16 = *u.choose(&VERSIONS)?;
            rec[1..3].copy_from_slice(&v.to_be_bytes());
        }
        4 if rec.len() >= 5 => {
            let len: u16 = u.arbitrary()?;
            rec[3..5].copy_from_slice(&len.to_be_bytes());
        }
        5 => rec.truncate(u.int_in_range(0..=rec.len())?),
        6 => {
            let again = rec.clone();
            rec.extend(again);
        }
        7 => {
            let side = usize::from(u.arbitrary::<bool>()?);
            let extra = record(u, seeds, side == 1)?;
            wire.stream(u, side, &extra)?;
        }
        8 if rec.len() >= 6 => rec[5] = u.arbitrary()?, // the handshake type
        9 if rec.len() >= 9 => {
            let i = u.int_in_range(6..=8)?; // the handshake length
            rec[i] = u.arbitrary()?;
        }
        _ => {}
    }
    wire.stream(u, side, &rec)
}

/// One TLS record from `server` or the client.
fn record(u: &mut Unstructured<'_>, seeds: &Replays, server: bool) -> Result<Vec<u8>> {
    let (kind, body) = match u.int_in_range(0..=15u8)? {
        0..=8 => {
            let mut body = handshake(u, seeds, server)?;
            while u.ratio(1, 4)? && body.len() < 32 * 1024 {
                body.extend(handshake(u, seeds, server)?);
            }
            (22, body)
        }
        9 | 10 => (21, vec![*u.choose(&[1u8, 2])?, u.arbitrary()?]),
        11 => (20, vec![1]),
        12 | 13 => (23, bytes(u, 2048)?),
        14 => (24, bytes(u, 64)?), // heartbeat
        _ => (u.arbitrary()?, bytes(u, 256)?),
    };
    let version: u16 = if u.ratio(1, 16)? {
        u.arbitrary()?
    } else {
        *u.choose(&VERSIONS[..3])?
    };
    let len = if u.ratio(1, 32)? {
        u.arbitrary()?
    } else {
        body.len().min(usize::from(u16::MAX)) as u16
    };
    let mut out = vec![kind];
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend(body);
    Ok(out)
}

fn handshake(u: &mut Unstructured<'_>, seeds: &Replays, server: bool) -> Result<Vec<u8>> {
    let (kind, body) = match (server, u.int_in_range(0..=7u8)?) {
        (false, 0..=3) => (1, client_hello(u)?),
        (true, 0..=2) => (2, server_hello(u)?),
        (true, 3 | 4) => (11, certificate(u, seeds)?),
        (true, 5) => (*u.choose(&[12u8, 13, 14, 8, 4, 15])?, bytes(u, 512)?),
        (false, 4 | 5) => (*u.choose(&[16u8, 15, 11, 20])?, bytes(u, 512)?),
        _ => (u.arbitrary()?, bytes(u, 256)?),
    };
    let mut out = vec![kind];
    let len = if u.ratio(1, 32)? {
        u.arbitrary::<u32>()? & 0xff_ffff
    } else {
        body.len() as u32
    };
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend(body);
    Ok(out)
}

fn client_hello(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    b.extend_from_slice(&u.choose(&VERSIONS[..5])?.to_be_bytes());
    b.extend_from_slice(&random(u)?);
    b.extend(vec8(&bytes(u, 32)?));
    let mut suites = Vec::new();
    for _ in 0..u.int_in_range(1..=12)? {
        let s: u16 = if u.ratio(1, 8)? {
            u.arbitrary()?
        } else {
            *u.choose(&SUITES)?
        };
        suites.extend_from_slice(&s.to_be_bytes());
    }
    b.extend(vec16(&suites));
    b.extend(vec8(&[0]));
    let mut exts = Vec::new();
    for _ in 0..u.int_in_range(0..=12)? {
        let (t, body) = match u.int_in_range(0..=13u8)? {
            0 => (0, sni(u)?),
            1 => (16, alpn(u)?),
            2 => (43, vec8(&u16s(u, &VERSIONS)?)),
            3 => (10, vec16(&u16s(u, &GROUPS)?)),
            4 => (
                13,
                vec16(&u16s(u, &[0x0403, 0x0804, 0x0401, 0x0201, 0x0807])?),
            ),
            5 => (51, vec16(&key_share(u)?)),
            6 => (11, vec8(&[0])),
            7 => (23, Vec::new()),
            8 => (0xff01, vec8(&[])),
            9 => (35, bytes(u, 64)?),
            10 => (45, vec8(&[1])),
            11 => (0x0a0a, Vec::new()), // GREASE
            _ => (u.arbitrary()?, bytes(u, 64)?),
        };
        exts.extend(ext(u, t, &body)?);
    }
    b.extend(vec16(&exts));
    Ok(b)
}

fn server_hello(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    b.extend_from_slice(&u.choose(&VERSIONS[..5])?.to_be_bytes());
    b.extend_from_slice(&random(u)?);
    b.extend(vec8(&bytes(u, 32)?));
    b.extend_from_slice(&u.choose(&SUITES)?.to_be_bytes());
    b.push(0);
    let mut exts = Vec::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let (t, body) = match u.int_in_range(0..=6u8)? {
            0 => (43, u.choose(&VERSIONS)?.to_be_bytes().to_vec()),
            1 => (51, key_share(u)?),
            2 => (16, alpn(u)?),
            3 => (0xff01, vec8(&[])),
            4 => (23, Vec::new()),
            5 => (0, Vec::new()),
            _ => (u.arbitrary()?, bytes(u, 64)?),
        };
        exts.extend(ext(u, t, &body)?);
    }
    b.extend(vec16(&exts));
    Ok(b)
}

/// A Certificate message in the TLS 1.2 form or (context byte, per-entry extensions) 1.3's.
fn certificate(u: &mut Unstructured<'_>, seeds: &Replays) -> Result<Vec<u8>> {
    let tls13: bool = u.arbitrary()?;
    let mut list = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let der = if !seeds.certs.is_empty() && u.ratio(3, 4)? {
            let mut der = u.choose(&seeds.certs)?.clone();
            if u.ratio(1, 4)? && !der.is_empty() {
                let i = u.choose_index(der.len())?;
                der[i] = u.arbitrary()?;
            }
            der
        } else {
            bytes(u, 1024)?
        };
        list.extend(vec24(&der));
        if tls13 {
            list.extend(vec16(&[]));
        }
    }
    let mut b = Vec::new();
    if tls13 {
        b.extend(vec8(&[]));
    }
    b.extend(vec24(&list));
    Ok(b)
}

fn ext(u: &mut Unstructured<'_>, t: u16, body: &[u8]) -> Result<Vec<u8>> {
    let mut out = t.to_be_bytes().to_vec();
    let len = if u.ratio(1, 32)? {
        u.arbitrary()?
    } else {
        body.len() as u16
    };
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

fn sni(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let name = if u.ratio(3, 4)? {
        u.choose(&[
            &b"example.com"[..],
            b"localhost",
            b"xn--bcher-kva.example",
            b"a.b.c.d.e",
        ])?
        .to_vec()
    } else {
        bytes(u, 300)?
    };
    let mut entry = vec![0];
    entry.extend(vec16(&name));
    Ok(vec16(&entry))
}

fn alpn(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let mut list = Vec::new();
    for _ in 0..u.int_in_range(1..=3)? {
        let p = if u.ratio(3, 4)? {
            u.choose(&[&b"h2"[..], b"http/1.1", b"h3", b"acme-tls/1"])?
                .to_vec()
        } else {
            bytes(u, 40)?
        };
        list.extend(vec8(&p));
    }
    Ok(vec16(&list))
}

fn key_share(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let mut b = u.choose(&GROUPS)?.to_be_bytes().to_vec();
    b.extend(vec16(&bytes(u, 97)?));
    Ok(b)
}

fn u16s(u: &mut Unstructured<'_>, from: &[u16]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..u.int_in_range(1..=6)? {
        out.extend_from_slice(&u.choose(from)?.to_be_bytes());
    }
    Ok(out)
}

fn random(u: &mut Unstructured<'_>) -> Result<[u8; 32]> {
    u.arbitrary()
}

fn bytes(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
    let n = u.int_in_range(0..=max)?;
    Ok(u.bytes(n.min(u.len()))?.to_vec())
}

fn vec8(b: &[u8]) -> Vec<u8> {
    let mut out = vec![b.len().min(255) as u8];
    out.extend_from_slice(b);
    out
}

fn vec16(b: &[u8]) -> Vec<u8> {
    let mut out = (b.len().min(65535) as u16).to_be_bytes().to_vec();
    out.extend_from_slice(b);
    out
}

fn vec24(b: &[u8]) -> Vec<u8> {
    let mut out = (b.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend_from_slice(b);
    out
}

/// The TLS conversations of the samples: each TCP flow that starts like TLS, reassembled
/// and cut at record boundaries, in the order the records completed.
fn load() -> Replays {
    let dir = std::env::var_os("TLSTRIAGE_FUZZ_SAMPLES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../samples").into());
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"));
    paths.sort();
    let mut r = Replays {
        conversations: Vec::new(),
        certs: Vec::new(),
    };
    for path in paths {
        let Ok(mut reader) = CaptureReader::open(&path) else {
            continue;
        };
        // Only the first TCP flow of each sample: one conversation per file is plenty.
        let mut ends = None;
        let mut streams = [
            DirStream::new(ReassemblyLimits::default()),
            DirStream::new(ReassemblyLimits::default()),
        ];
        let mut pending = [Vec::new(), Vec::new()];
        let mut conv = Conversation::new();
        while let Ok(Some(pkt)) = reader.next_packet() {
            let Ok(Decoded::Tcp(tcp)) = decode(pkt.linktype, pkt.data) else {
                continue;
            };
            let a = (tcp.src, tcp.sport);
            let b = (tcp.dst, tcp.dport);
            let (client, server) = *ends.get_or_insert(if tcp.flags & 0x12 == 0x12 {
                (b, a)
            } else {
                (a, b)
            });
            let side = if (a, b) == (client, server) {
                0
            } else if (a, b) == (server, client) {
                1
            } else {
                continue;
            };
            if tcp.flags & 0x02 != 0 {
                streams[side].set_isn(tcp.seq);
            }
            let buf = &mut pending[side];
            streams[side].segment(tcp.seq, tcp.payload, &mut |c| {
                if let StreamChunk::Data(d) = c {
                    buf.extend_from_slice(d);
                }
            });
            while buf.len() >= 5 {
                let len = 5 + usize::from(u16::from_be_bytes([buf[3], buf[4]]));
                if buf.len() < len {
                    break;
                }
                conv.push((side == 1, buf.drain(..len).collect()));
            }
        }
        for (side, rest) in pending.into_iter().enumerate() {
            if !rest.is_empty() {
                conv.push((side == 1, rest));
            }
        }
        if !conv.first().is_some_and(|(_, r)| r.first() == Some(&22)) {
            continue;
        }
        let mut tls = TlsConn::new();
        for (i, (server, rec)) in conv.iter().enumerate() {
            let dir = if *server {
                Dir::ToClient
            } else {
                Dir::ToServer
            };
            tls.feed(dir, rec, i as u64, 0);
        }
        for der in tls.server_cert_der.iter().chain(&tls.client_cert_der) {
            if !r.certs.contains(der) {
                r.certs.push(der.clone());
            }
        }
        r.conversations.push(conv);
    }
    r
}
