//! Structure-aware: the input drives a generator that writes a valid pcap of one TCP
//! connection (three-way handshake, correct seq/ack both ways, checksums, segmentation
//! chosen by the input, a FIN or RST close) around TLS records whose record headers,
//! handshake headers and extensions come from the input. Byte-level targets rarely get
//! past the TCP and record framing; this one spends its time in the TLS state machine, the
//! rules and the outputs (the same ones the `pipeline` target runs, plus the event stream).
//!
//! One input in four (when samples/ can be read) instead replays a real conversation from
//! samples/ with mutations applied record by record (a byte flipped, a header field changed,
//! a record dropped, repeated, cut short or a generated one inserted). The samples directory
//! is `TLSTRIAGE_FUZZ_SAMPLES`, else the checkout's samples/.
#![no_main]

#[path = "common/outputs.rs"]
mod outputs;
#[path = "common/session_gen.rs"]
mod session_gen;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let pcap = session_gen::generate(&mut u, session_gen::replays());
    outputs::records_and_summary(&pcap);
    outputs::event_stream(&pcap);
});
