//! The whole offline pipeline over arbitrary capture bytes: capture -> decode -> flow +
//! reassembly -> sniffers -> TLS -> rules -> NDJSON and ECS records, the human summary and
//! the CLI's event stream (every in-memory sink, the capture-wide rules, the HTML report);
//! the CLI's fast NDJSON lines are checked against serde_json's.
#![no_main]

#[path = "common/outputs.rs"]
mod outputs;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    outputs::records_and_summary(data);
    outputs::event_stream(data);
});
