//! The offline pipeline and every output over one capture's bytes, shared by the `pipeline`
//! and `session` targets so both reach the same code past the capture reader.

use tlstriage::capture::CaptureReader;
use tlstriage::config::RuleEnv;
use tlstriage::flow::AnalyzerConfig;
use tlstriage::output::{
    capture_stats_record, ecs_finding, ecs_tls_flow, finding_record, render_report,
    tls_flow_record, write_finding, write_finding_parts, Detail, EcsSink, Fanout, HumanLinesSink,
    HumanReport, HumanSink, NdjsonSink, Rendered, ReportSink, RollupBy,
};
use tlstriage::pipeline::run;
use tlstriage::rules::Severity;

/// capture -> decode -> flow + reassembly -> sniffers -> TLS -> rules -> NDJSON records,
/// ECS documents and the human summary; the CLI's fast NDJSON lines are checked against
/// serde_json's.
pub fn records_and_summary(data: &[u8]) {
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
                let _ = ecs_finding("fuzz", &flow, f).to_string();
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
            let _ = ecs_tls_flow("fuzz", &flow, &findings).to_string();
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
}

/// The CLI's event stream: every in-memory sink behind one `Fanout` (as `read` drives it),
/// so the capture-wide rules, roll-ups and the HTML report run too.
pub fn event_stream(data: &[u8]) {
    let input = std::io::Cursor::new(data.to_vec());
    let Ok(mut reader) = CaptureReader::with_buffer(Box::new(input), 4096) else {
        return;
    };
    let mut config = AnalyzerConfig::default();
    config.max_flows = 64;
    let (mut ndjson, mut ecs, mut human, mut lines) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut report = ReportSink::default();
    {
        let by = [
            RollupBy::Server,
            RollupBy::Client,
            RollupBy::Sni,
            RollupBy::Cause,
        ];
        let mut fan = Fanout::new(Severity::Info, &by, &RuleEnv::default());
        fan.add(NdjsonSink::new(&mut ndjson, true));
        fan.add(EcsSink::new(&mut ecs, true));
        fan.add(HumanSink::new(&mut human, Detail::All));
        fan.add(HumanLinesSink::new(&mut lines));
        fan.add(&mut report);
        fan.begin("fuzz");
        let prepare = fan.prepare();
        let Ok(outcome) = tlstriage::pipeline::run_threads(
            &mut reader,
            &config,
            1,
            &|flow, findings, out| prepare.flow(flow, findings, out),
            &mut |digest, tcp_stream, rendered| fan.flow(digest, tcp_stream, rendered),
            &mut |_| {},
        ) else {
            return;
        };
        let warnings = reader.warnings().to_vec();
        let _ = fan.end(
            &outcome.stats,
            Some(reader.input_format()),
            &warnings,
            reader.truncated(),
            None,
        );
        let _ = fan.close();
    }
    // Every line a sink wrote is one whole JSON value.
    for out in [&ndjson, &ecs] {
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert!(serde_json::from_slice::<serde_json::Value>(line).is_ok());
        }
    }
    // Nothing from the wire reaches a terminal as a control character.
    for out in [&human, &lines] {
        let text = String::from_utf8_lossy(out);
        assert!(!text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'));
    }
    let _ = render_report(&mut report.captures);
}
