//! The read floors `scripts/bench.sh` compares tlstriage's throughput with:
//!
//! * `--headers` (the physical floor): walks a classic pcap file record header by record
//!   header, reading 16 bytes per record and skipping over the frame without touching it, from
//!   a memory map of the whole file: the least any reader of the format can do.
//! * default (the reader floor): one bare pass of tlstriage's capture reader over every
//!   packet, touching each frame's bytes once (a sum, so the pass cannot be optimised away) and
//!   nothing else.
//!
//! ```text
//! cargo run --release --example read_floor -- [--headers] FILE.pcap
//! ```

use std::fs::File;
use std::path::Path;

use tlstriage::capture::CaptureReader;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let headers_only = args.first().is_some_and(|a| a == "--headers");
    if headers_only {
        args.remove(0);
    }
    let [path] = args.as_slice() else {
        eprintln!("usage: read_floor [--headers] FILE");
        std::process::exit(2);
    };
    let result = if headers_only {
        header_floor(path)
    } else {
        reader_floor(path)
    };
    match result {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("read_floor: {path}: {e}");
            std::process::exit(2);
        }
    }
}

/// Every record header of a classic pcap, nothing else.
fn header_floor(path: &str) -> Result<String, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    // SAFETY: the benchmark file is not modified while it is read.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
    let bytes: &[u8] = &map;
    let magic = bytes
        .get(..4)
        .ok_or("shorter than a pcap header")?
        .try_into()
        .map_err(|_| "short header")?;
    let (big_endian, header_len) = match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xa1b2_3c4d => (false, 16),
        0xd4c3_b2a1 | 0x4d3c_b2a1 => (true, 16),
        0xa1b2_cd34 => (false, 24),
        _ => return Err("not a classic pcap file (the header floor reads only those)".into()),
    };
    let (mut packets, mut frame_bytes, mut pos) = (0u64, 0u64, 24usize);
    while let Some(caplen) = bytes.get(pos + 8..pos + 12) {
        let caplen: [u8; 4] = caplen.try_into().map_err(|_| "short record header")?;
        let caplen = if big_endian {
            u32::from_be_bytes(caplen)
        } else {
            u32::from_le_bytes(caplen)
        };
        packets += 1;
        frame_bytes += u64::from(caplen);
        pos = pos.saturating_add(header_len + caplen as usize);
    }
    Ok(format!("packets={packets} bytes={frame_bytes}"))
}

/// tlstriage's capture reader over every packet, each frame's bytes summed.
fn reader_floor(path: &str) -> Result<String, String> {
    let mut reader = CaptureReader::open(Path::new(path)).map_err(|e| e.to_string())?;
    let (mut packets, mut bytes, mut sum) = (0u64, 0u64, 0u64);
    while let Some(pkt) = reader.next_packet().map_err(|e| e.to_string())? {
        packets += 1;
        bytes += pkt.data.len() as u64;
        sum = sum.wrapping_add(pkt.data.iter().map(|&b| u64::from(b)).sum::<u64>());
    }
    Ok(format!("packets={packets} bytes={bytes} checksum={sum}"))
}
