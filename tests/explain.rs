//! `tlstriage explain`: every finding kind and likely_cause the schema allows (and every one
//! the samples produce) has a long explanation; unknown names list the known ones, exit 2.

use std::process::{Command, Output};

use serde_json::Value;
use tlstriage::explain::lookup;
use tlstriage::flow::AnalyzerConfig;
use tlstriage::pipeline::analyze_path;

fn tlstriage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run tlstriage")
}

fn schema() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/tlstriage.schema.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every `enum` list found under a property called `name` in the schema.
fn enums_named(v: &Value, name: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == name {
                    if let Some(e) = child.get("enum").and_then(Value::as_array) {
                        out.extend(e.iter().filter_map(Value::as_str).map(String::from));
                    }
                }
                enums_named(child, name, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| enums_named(c, name, out)),
        _ => {}
    }
}

#[test]
fn every_kind_and_likely_cause_of_the_schema_is_explained() {
    let s = schema();
    for field in ["kind", "likely_cause"] {
        let mut names = Vec::new();
        enums_named(&s, field, &mut names);
        assert!(names.len() > 5, "no {field} enum in the schema");
        for n in names {
            assert!(lookup(&n).is_some(), "no explanation for {field} {n}");
        }
    }
}

#[test]
fn every_kind_and_cause_raised_over_the_samples_is_explained() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "pcap") {
            continue;
        }
        let a = analyze_path(&p, &AnalyzerConfig::default()).unwrap();
        for (_, f) in a.findings() {
            assert!(
                lookup(f.kind.as_str()).is_some(),
                "{}: {}",
                p.display(),
                f.kind
            );
            if let Some(c) = f.evidence_str("likely_cause") {
                assert!(lookup(c).is_some(), "{}: cause {c}", p.display());
            }
        }
    }
}

#[test]
fn explain_prints_meaning_causes_and_commands() {
    let out = tlstriage(&["explain", "handshake_aborted"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for s in [
        "handshake_aborted: ",
        "What it means",
        "Common causes",
        "version mismatch",
        "cipher mismatch",
        "SNI mismatch",
        "plaintext to a TLS port",
        "proxy misconfiguration",
        "How to confirm",
        "openssl s_client",
        "curl -v",
    ] {
        assert!(text.contains(s), "missing {s:?} in:\n{text}");
    }
    let cert = String::from_utf8(tlstriage(&["explain", "certificate_expired"]).stdout).unwrap();
    assert!(cert.contains("openssl x509 -noout -dates"), "{cert}");
}

#[test]
fn explain_accepts_likely_cause_values() {
    let out = tlstriage(&["explain", "certificate_rejected"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("certificate_rejected: "), "{text}");
    assert!(text.contains("likely_cause of handshake_aborted"));
    assert!(text.contains("untrusted"));
}

#[test]
fn unknown_kind_lists_the_known_ones_and_exits_2() {
    let out = tlstriage(&["explain", "no_such_kind"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown kind \"no_such_kind\""), "{err}");
    for k in ["handshake_aborted", "malformed_tls", "certificate_rejected"] {
        assert!(err.contains(k), "{k} not listed:\n{err}");
    }
    assert!(out.stdout.is_empty());
    // Without a kind: the list, exit 0.
    let out = tlstriage(&["explain"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("client_gave_up"));
}
