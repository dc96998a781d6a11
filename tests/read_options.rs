//! `read`'s tshark/tcpdump habits: `-r FILE`, `-o FILE` written atomically, `--tls-ports +N`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn tlstriage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run tlstriage")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tlstriage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const A: &str = "samples/cert-expired.pcap";
const B: &str = "samples/version-mismatch.pcap";

#[test]
fn dash_r_reads_like_a_positional_file() {
    let positional = tlstriage(&["read", "--format", "ndjson", A, B]);
    assert!(positional.status.success());
    let with_r = tlstriage(&["read", "--format", "ndjson", "-r", A, B]);
    assert_eq!(with_r.stdout, positional.stdout);
    let both_r = tlstriage(&["read", "--format", "ndjson", "-r", A, "-r", B]);
    assert_eq!(both_r.stdout, positional.stdout);
    let none = tlstriage(&["read", "--format", "ndjson"]);
    assert_eq!(none.status.code(), Some(2), "a file is required");
}

#[test]
fn dash_o_writes_the_same_bytes_into_a_file_that_appears_whole() {
    let dir = temp_dir("out");
    let dest = dir.join("findings.ndjson");
    let stdout = tlstriage(&["read", "--format", "ndjson", "--flows", A, B]);
    let to_file = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--flows",
        "-o",
        dest.to_str().unwrap(),
        A,
        B,
    ]);
    assert!(to_file.status.success());
    assert!(to_file.stdout.is_empty());
    assert_eq!(std::fs::read(&dest).unwrap(), stdout.stdout);
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");

    // A capture that cannot be read is an error (exit 2), yet what was read is written.
    let partial = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "-o",
        dest.to_str().unwrap(),
        A,
        "/nonexistent.pcap",
    ]);
    assert_eq!(partial.status.code(), Some(2));
    let text = std::fs::read_to_string(&dest).unwrap();
    assert!(text.contains("certificate_expired"), "{text}");
    assert!(text.ends_with('\n'));

    // An output that cannot be created is a one-line error and leaves nothing behind.
    let missing = dir.join("no/such/dir/out.ndjson");
    let bad = tlstriage(&["read", "-o", missing.to_str().unwrap(), A]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("no/such/dir/out.ndjson"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_writes_its_html_atomically() {
    let dir = temp_dir("report");
    let dest = dir.join("r.html");
    let out = tlstriage(&["report", "-o", dest.to_str().unwrap(), A]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&dest).unwrap();
    assert!(html.trim_end().ends_with("</html>"), "whole file");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_plus_port_adds_to_the_default_tls_ports() {
    let sample = "samples/plaintext-http-to-tls-port.pcap";
    let kinds = |args: &[&str]| -> Vec<String> {
        let out = tlstriage(&[&["read", "--format", "ndjson"], args, &[sample]].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|r| r["kind"].as_str().map(str::to_owned))
            .collect()
    };
    // The sample's server listens on 4439, which is not a default TLS port.
    assert!(!kinds(&[]).contains(&"plaintext_to_tls_port".to_string()));
    assert!(kinds(&["--tls-ports", "+4439"]).contains(&"plaintext_to_tls_port".to_string()));
    assert!(!kinds(&["--tls-ports", "+4440"]).contains(&"plaintext_to_tls_port".to_string()));
}
