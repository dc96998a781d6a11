//! The read floor: one bare pass of the capture reader over every packet, touching each
//! frame's bytes once (a sum, so the pass cannot be optimised away) and nothing else.
//! `scripts/bench.sh` compares tlstriage's throughput with this.
//!
//! ```text
//! cargo run --release --example read_floor -- FILE.pcap
//! ```

use std::path::Path;

use tlstriage::capture::CaptureReader;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: read_floor FILE");
        std::process::exit(2);
    };
    let mut reader = CaptureReader::open(Path::new(&path)).unwrap_or_else(|e| {
        eprintln!("read_floor: {path}: {e}");
        std::process::exit(2);
    });
    let (mut packets, mut bytes, mut sum) = (0u64, 0u64, 0u64);
    loop {
        match reader.next_packet() {
            Ok(Some(pkt)) => {
                packets += 1;
                bytes += pkt.data.len() as u64;
                sum = sum.wrapping_add(pkt.data.iter().map(|&b| u64::from(b)).sum::<u64>());
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("read_floor: {path}: {e}");
                std::process::exit(2);
            }
        }
    }
    println!("packets={packets} bytes={bytes} checksum={sum}");
}
