//! Capture-level output: `read --summary-by` roll-up records and the cross-flow
//! `tls_interception_suspected` finding, as printed, validated against the JSON Schema.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use tlstriage::config::RuleEnv;
use tlstriage::flow::AnalyzerConfig;
use tlstriage::output::FindingRecord;
use tlstriage::pipeline::analyze_path;
use tlstriage::rules::capture::CaptureRules;

fn tlstriage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run tlstriage")
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/tlstriage.schema.json"
    ))
    .expect("schema file");
    jsonschema::validator_for(&serde_json::from_str(&text).expect("schema is JSON"))
        .expect("schema compiles")
}

fn assert_valid(v: &jsonschema::Validator, rec: &Value) {
    let errors: Vec<String> = v
        .iter_errors(rec)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{rec}\n{errors:#?}");
}

#[test]
fn summary_by_emits_rollup_records_at_the_end_of_each_capture() {
    let out = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--flows",
        "--summary-by",
        "server,sni",
        "--summary-by",
        "client",
        "--each-file",
        // The healthy capture's private root, so that it has only info findings.
        "--no-system-roots",
        "--ca-file",
        "samples/trust-root.pem",
        "samples/version-mismatch.pcap",
        "samples/trust-private-chain.pcap",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = validator();
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    for r in &recs {
        assert_valid(&v, r);
    }
    let types: Vec<&str> = recs.iter().filter_map(|r| r["type"].as_str()).collect();
    // version-mismatch: findings, flow, three roll-ups, stats; trust-private-chain: only
    // info findings, so no roll-up.
    let first_stats = types.iter().position(|t| *t == "capture_stats").unwrap();
    assert_eq!(
        &types[first_stats - 3..=first_stats],
        &["rollup", "rollup", "rollup", "capture_stats"]
    );
    let rollups: Vec<&Value> = recs.iter().filter(|r| r["type"] == "rollup").collect();
    assert_eq!(rollups.len(), 3);
    let server = rollups.iter().find(|r| r["by"] == "server").unwrap();
    assert_eq!(server["key"], "127.0.0.1:4433");
    assert_eq!(server["aborted_handshakes"], 1);
    assert_eq!(server["likely_causes"]["version_mismatch"], 1);
    assert_eq!(server["client_max_versions"]["TLSv1.0"], 1);
    assert_eq!(server["wireshark_filter"], "tcp.stream in {0}");
    assert!(server["summary"]
        .as_str()
        .unwrap()
        .starts_with("server 127.0.0.1:4433 — 1 aborted handshake since "));
    assert!(rollups
        .iter()
        .any(|r| r["by"] == "sni" && r["key"] == "localhost"));
    assert!(rollups
        .iter()
        .any(|r| r["by"] == "client" && r["key"] == "127.0.0.1"));

    // Without --summary-by nothing changes.
    let plain = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "samples/version-mismatch.pcap",
    ]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"rollup\""));
}

#[test]
fn human_summary_leads_with_the_rollups() {
    let out = tlstriage(&[
        "read",
        "--format",
        "human",
        "--summary-by",
        "server",
        "samples/cipher-mismatch.pcap",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let rollups = text.find("Roll-ups (biggest first):").expect(&text);
    let findings = text.find("Findings:").expect(&text);
    assert!(rollups < findings, "{text}");
    assert!(
        text.contains("server 127.0.0.1:4434 — 1 aborted handshake since"),
        "{text}"
    );
    assert!(text.contains("(1 cipher mismatch)"), "{text}");
}

#[test]
fn a_different_issuer_for_the_same_name_is_a_valid_interception_finding() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/tls12-ok.pcap");
    let analyze = || analyze_path(&path, &AnalyzerConfig::default()).expect("sample");
    let (a, mut b) = (analyze(), analyze());
    let mut watch = CaptureRules::new(&RuleEnv::default());
    watch.add_flow(&a.flows[0].0, &a.flows[0].1);
    let flow = &mut b.flows[0].0;
    if let Some(Ok(leaf)) = flow.server_certs.first_mut() {
        leaf.issuer = "CN=Corporate TLS Inspection CA".into();
    }
    flow.tcp_stream = 1;
    watch.add_flow(&b.flows[0].0, &b.flows[0].1);
    let found = watch.finish();
    assert_eq!(found.len(), 1);
    let rec = serde_json::to_value(FindingRecord::at("merged.pcap", &found[0].0, &found[0].1))
        .expect("serializes");
    let rec = &rec;
    assert_valid(&validator(), rec);
    assert_eq!(rec["kind"], "tls_interception_suspected");
    assert_eq!(rec["tcp_stream"], 1);
    assert_eq!(rec["evidence"]["issuer"], "CN=Corporate TLS Inspection CA");
    assert_eq!(rec["evidence"]["sni"], "localhost");
}

#[test]
fn a_port_scan_is_one_line_per_server_port_and_one_client() {
    let out = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--summary-by",
        "server,client",
        "samples/port-scan.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v = validator();
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| r["type"] == "rollup")
        .collect();
    recs.iter().for_each(|r| assert_valid(&v, r));
    let by = |b: &'static str| recs.iter().filter(move |r| r["by"] == b);
    assert_eq!(by("server").count(), 30, "one per server:port");
    assert!(by("server").all(|r| r["findings"]["connection_failed"] == 1));
    let client: Vec<&Value> = by("client").collect();
    assert_eq!(client.len(), 1);
    assert_eq!(client[0]["findings"]["connection_failed"], 30);
    assert_eq!(
        client[0]["summary"],
        "client 127.0.0.1 — 30 connection_failed (30 refused); 30 server:ports, 0 distinct client JA3s"
    );

    // Without roll-ups the human summary still fits a screen: the scanning client named
    // once, 20 server:port lines, one line for the rest.
    let out = tlstriage(&["read", "--format", "human", "samples/port-scan.pcap"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("client 127.0.0.1: 30 failures on 30 server:port pairs: a port scan"),
        "{text}"
    );
    assert!(text.contains("  [low] 127.0.0.1:4460  1x  refused (server)  (tcp.stream 0)"));
    assert!(text.contains("... 10 more failure(s) on 10 other server:port pair(s)"));
    assert!(!text.contains("Flows with problems"), "{text}");
    assert!(text.lines().count() < 35, "{text}");
}
