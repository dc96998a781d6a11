//! Every NDJSON line tlstriage emits over every bundled sample (and the public corpus, when
//! present) validates against the published JSON Schema, and the CLI's hand-written finding
//! lines are byte for byte serde_json's.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tlstriage::capture::CaptureReader;
use tlstriage::flow::AnalyzerConfig;
use tlstriage::output::{
    capture_stats_record, finding_record, tls_flow_record, write_finding, write_finding_parts,
    Rendered,
};
use tlstriage::pipeline;

fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The records the CLI would print for one capture (`read --format ndjson --flows`).
fn records(path: &Path) -> Vec<Value> {
    let name = path.display().to_string();
    let mut reader = CaptureReader::open(path).expect("open capture");
    let mut out = Vec::new();
    let outcome = pipeline::run::<std::convert::Infallible>(
        &mut reader,
        &AnalyzerConfig::default(),
        &mut |flow, findings| {
            for f in &findings {
                out.push(finding_record(&name, &flow, f));
                // The CLI's hand-written hot path prints exactly what serde_json prints.
                let mut serde_line = Vec::new();
                write_finding(&mut serde_line, &name, &flow, f).expect("serde writes");
                let mut parts = Rendered::default();
                write_finding_parts(&mut parts, &name, &flow, f).expect("writes");
                let mut fast_line = Vec::new();
                parts.fill(flow.tcp_stream, &mut fast_line);
                assert_eq!(
                    String::from_utf8_lossy(&fast_line),
                    String::from_utf8_lossy(&serde_line),
                    "{}",
                    path.display()
                );
            }
            out.push(tls_flow_record(&name, &flow, &findings));
            Ok(())
        },
        &mut |_| {},
    )
    .unwrap_or_else(|never| match never {});
    out.push(capture_stats_record(
        &name,
        Some(reader.input_format()),
        &outcome.stats,
        reader.warnings(),
        reader.truncated(),
    ));
    out
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/tlstriage.schema.json"
    ))
    .expect("schema file");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn check_all(files: &[PathBuf]) -> usize {
    let v = validator();
    let mut lines = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for path in files {
        for rec in records(path) {
            // Serialize and parse back: what is validated is exactly what is printed.
            let line = serde_json::to_string(&rec).expect("serialize");
            assert!(!line.contains('\n'), "one object per line");
            let back: Value = serde_json::from_str(&line).expect("parse back");
            let errors: Vec<String> = v
                .iter_errors(&back)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{}: {line}\n{errors:#?}", path.display());
            if let Some(k) = back.get("kind").and_then(Value::as_str) {
                kinds.insert(k.to_string());
            }
            lines += 1;
        }
    }
    eprintln!("validated {lines} lines; finding kinds seen: {kinds:?}");
    lines
}

#[test]
fn every_sample_line_matches_the_schema() {
    let files = captures_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("samples"));
    assert!(files.len() >= 12, "bundled samples missing");
    assert!(check_all(&files) > files.len());
}

#[test]
fn every_corpus_line_matches_the_schema() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    let files: Vec<PathBuf> = ["suricata-verify", "zeek"]
        .iter()
        .flat_map(|d| captures_in(&dir.join(d)))
        .collect();
    if files.is_empty() {
        assert!(
            std::env::var_os("TLSTRIAGE_REQUIRE_CORPUS").is_none(),
            "../shared/captures is required here"
        );
        eprintln!("skipping corpus schema check: ../shared/captures not found");
        return;
    }
    check_all(&files);
}

#[test]
fn the_schema_rejects_a_broken_finding() {
    let v = validator();
    let bad = serde_json::json!({
        "type": "finding", "schema": 1, "ts": "2024-01-01T00:00:00.000000Z",
        "kind": "handshake_aborted", "severity": "high", "summary": "x", "explanation": "y",
        "evidence": { "aborted_by": "client" }, "frames": [1],
        "flow": { "community_id": "1:AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "client": {"ip": "10.0.0.1", "port": 1},
                  "server": {"ip": "10.0.0.2", "port": 443}, "transport": "tcp", "vlan": [] },
        "tcp_stream": 0, "wireshark_filter": "tcp.stream eq 0"
    });
    assert!(
        !v.is_valid(&bad),
        "missing stage/how/likely_cause must be rejected"
    );
}
