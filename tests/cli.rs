//! The binary as a script sees it: exit codes, formats, stdin, one-line errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn tlstriage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run tlstriage")
}

fn ndjson(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tlstriage-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn fail_on_sets_exit_code_1_only_at_or_above_the_threshold() {
    let bad = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--fail-on",
        "high",
        "samples/version-mismatch.pcap",
    ]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let good = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--fail-on",
        "medium",
        "samples/tls13-ok.pcap",
    ]);
    assert_eq!(good.status.code(), Some(0));
    let never = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "samples/version-mismatch.pcap",
    ]);
    assert_eq!(never.status.code(), Some(0));
}

#[test]
fn ndjson_has_findings_flows_and_stats() {
    let out = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--flows",
        "samples/version-mismatch.pcap",
    ]);
    assert!(out.status.success());
    let recs = ndjson(&out);
    let types: Vec<&str> = recs.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"finding"));
    assert_eq!(types.iter().filter(|t| **t == "tls_flow").count(), 1);
    assert_eq!(types.last(), Some(&"capture_stats"));
    let aborted = recs
        .iter()
        .find(|r| r["kind"] == "handshake_aborted")
        .expect("aborted finding");
    assert_eq!(aborted["evidence"]["likely_cause"], "version_mismatch");
    assert_eq!(aborted["wireshark_filter"], "tcp.stream eq 0");
    assert!(recs.iter().all(|r| r["schema"] == 1));
}

#[test]
fn reads_standard_input() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/version-mismatch.pcap"
    ))
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["read", "--format", "ndjson", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(ndjson(&out).iter().any(|r| r["kind"] == "version_mismatch"));
}

#[test]
fn human_summary_names_the_failing_flow() {
    let out = tlstriage(&["read", "--format", "human", "samples/version-mismatch.pcap"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("handshake_aborted"), "{text}");
    assert!(
        text.contains("aborted by the server at client_hello"),
        "{text}"
    );
    assert!(text.contains("tcp.stream 0"), "{text}");
}

fn assert_one_line_error(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
}

#[test]
fn bad_files_get_a_one_line_error_and_exit_2() {
    let out = tlstriage(&["read", "--format", "ndjson", "/nonexistent/x.pcap"]);
    assert_one_line_error(&out, "/nonexistent/x.pcap");

    let empty = temp_file("empty.pcap", b"");
    let out = tlstriage(&["read", "--format", "ndjson", empty.to_str().unwrap()]);
    assert_one_line_error(&out, "empty");

    let png = temp_file("picture.pcap", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    let out = tlstriage(&["read", "--format", "ndjson", png.to_str().unwrap()]);
    assert_one_line_error(&out, "PNG");
}

#[test]
fn a_truncated_capture_is_analyzed_up_to_the_cut_with_a_warning() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/version-mismatch.pcap"
    ))
    .unwrap();
    let cut = temp_file("cut.pcap", &bytes[..bytes.len() - 10]);
    let out = tlstriage(&["read", "--format", "ndjson", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let recs = ndjson(&out);
    assert!(recs.iter().any(|r| r["kind"] == "version_mismatch"));
    let stats = recs.last().unwrap();
    assert_eq!(stats["truncated"], true);
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
}

#[test]
fn rules_lists_every_rule() {
    let out = tlstriage(&["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "handshake_aborted",
        "tls_alert",
        "certificate_name_mismatch",
        "malformed_tls",
    ] {
        assert!(text.contains(name), "{text}");
    }
}
