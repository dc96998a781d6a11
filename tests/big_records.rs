//! Bounded records: a certificate with 10,000 SANs (tests/data/cert-10000-sans.pcap, made
//! by scripts/make-big-san-capture.sh from openssl s_server/s_client on loopback) gives
//! findings and a tls_flow record whose lists keep 100 items and count the rest, every line
//! under the documented limit (64 KiB), and records that still match the schema.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const CAPTURE: &str = "tests/data/cert-10000-sans.pcap";
/// README "Bounded records": no NDJSON line is longer.
const MAX_LINE: usize = 64 * 1024;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn ten_thousand_sans_give_bounded_lines_that_say_what_they_left_out() {
    let lines = run(&["read", "--format", "ndjson", "--flows", CAPTURE]);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/tlstriage.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut seen_names = false;
    let mut seen_san = false;
    for line in &lines {
        assert!(line.len() <= MAX_LINE, "a line of {} bytes", line.len());
        let rec: Value = serde_json::from_str(line).unwrap();
        if let Err(e) = validator.validate(&rec) {
            panic!("{e}: {line}");
        }
        if rec["kind"] == "certificate_name_mismatch" {
            let names = rec["evidence"]["names"].as_array().unwrap();
            assert_eq!(names.len(), 100);
            assert_eq!(names[0], "0000.ex");
            assert_eq!(rec["evidence"]["names_not_shown"], 9_900);
            let summary = rec["summary"].as_str().unwrap();
            assert!(summary.ends_with("0009.ex, and 9990 more)."), "{summary}");
            seen_names = true;
        }
        if rec["type"] == "tls_flow" {
            let leaf = &rec["cert_chain"][0];
            assert_eq!(leaf["san"].as_array().unwrap().len(), 100);
            assert_eq!(leaf["san_not_shown"], 9_900);
            seen_san = true;
        }
    }
    assert!(seen_names && seen_san, "{lines:?}");
    // Without bounds the name-mismatch finding alone was a 280 KB line.
    let total: usize = lines.iter().map(String::len).sum();
    assert!(total < 20_000, "{total} bytes in all");
}

#[test]
fn ecs_documents_are_bounded_too() {
    let lines = run(&["read", "--format", "ecs", "--flows", CAPTURE]);
    assert!(lines.len() >= 4);
    for line in &lines {
        assert!(line.len() <= MAX_LINE, "a document of {} bytes", line.len());
        let doc: Value = serde_json::from_str(line).unwrap();
        if let Some(san) = doc
            .pointer("/tls/server/x509/alternative_names")
            .and_then(Value::as_array)
        {
            assert_eq!(san.len(), 100);
        }
    }
}
