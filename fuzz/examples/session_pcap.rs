//! Writes the pcap the `session` target builds from one input, to look at what it fuzzes:
//! `cargo run --manifest-path fuzz/Cargo.toml --example session_pcap -- INPUT OUT.pcap`.

#[path = "../fuzz_targets/common/session_gen.rs"]
mod session_gen;

use libfuzzer_sys::arbitrary::Unstructured;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: session_pcap INPUT OUT.pcap");
        std::process::exit(2);
    };
    let data = std::fs::read(&input).expect("read input");
    let pcap = session_gen::generate(&mut Unstructured::new(&data), session_gen::replays());
    std::fs::write(&out, pcap).expect("write pcap");
}
