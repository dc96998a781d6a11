//! The whole offline pipeline over arbitrary capture bytes: capture -> decode -> flow +
//! reassembly -> sniffers -> TLS -> rules -> NDJSON records and the human summary; the
//! CLI's fast NDJSON lines are checked against serde_json's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlstriage::capture::CaptureReader;
use tlstriage::flow::AnalyzerConfig;
use tlstriage::output::{Detail, 
    capture_stats_record, finding_record, tls_flow_record, write_finding, write_finding_parts,
    HumanReport, Rendered,
};
use tlstriage::pipeline::run;

fuzz_target!(|data: &[u8]| {
    let input = std::io::Cursor::new(data.to_vec());
    let Ok(mut reader) = CaptureReader::with_buffer(Box::new(input), 4096) else {
        return;
    };
    let mut config = AnalyzerConfig::default();
    config.max_flows = 64;
    let mut human = HumanReport::new(Detail::All);
    let outcome = run::<std::convert::Infallible>(
        &mut reader,
        &config,
        &mut |flow, findings| {
            for f in &findings {
                let _ = finding_record("fuzz", &flow, f).to_string();
                // The CLI's hand-written NDJSON line must be serde_json's, byte for byte,
                // whatever the capture put in the evidence strings.
                let mut reference = Vec::new();
                let _ = write_finding(&mut reference, "fuzz", &flow, f);
                let mut parts = Rendered::default();
                let _ = write_finding_parts(&mut parts, "fuzz", &flow, f);
                let mut fast = Vec::new();
                parts.fill(flow.tcp_stream, &mut fast);
                assert_eq!(fast, reference);
            }
            let _ = tls_flow_record("fuzz", &flow, &findings).to_string();
            human.add(&flow, &findings);
            Ok(())
        },
        &mut |_| {},
    );
    let Ok(outcome) = outcome;
    let warnings = reader.warnings().to_vec();
    let _ = capture_stats_record(
        "fuzz",
        Some(reader.input_format()),
        &outcome.stats,
        &warnings,
        false,
    )
    .to_string();
    let _ = human.render("fuzz", &outcome.stats, &warnings);
});
