//! `read --format ecs`: every line over every bundled sample is an ECS document with the
//! required fields, each with the type ECS gives it, and the documents match the NDJSON.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn samples() -> Vec<PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "samples missing");
    v
}

fn run(format: &str, path: &PathBuf) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["read", "--flows", "--format", format])
        .arg(path)
        .output()
        .expect("run tlstriage");
    assert_eq!(out.status.code(), Some(0), "{}", path.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(doc, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

#[derive(Clone, Copy, Debug)]
enum T {
    Keyword,
    Date,
    Long,
    Bool,
    Ip,
    Port,
    Keywords,
    Hex32,
    Version,
}

fn check_type(path: &str, v: &Value, t: T, doc: &Value) {
    let ok = match t {
        T::Keyword => v.as_str().is_some_and(|s| !s.is_empty()),
        T::Date => v.as_str().is_some_and(is_rfc3339),
        T::Long => v.is_u64() || v.is_i64(),
        T::Bool => v.is_boolean(),
        T::Ip => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        T::Port => v.as_u64().is_some_and(|p| p <= 65535),
        T::Keywords => v
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)),
        T::Hex32 => v
            .as_str()
            .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())),
        T::Version => v.as_str().is_some_and(|s| {
            let b = s.as_bytes();
            b.len() == 3 && b[0].is_ascii_digit() && b[1] == b'.' && b[2].is_ascii_digit()
        }),
    };
    assert!(ok, "{path} should be {t:?}, is {v} in\n{doc}");
}

/// "2024-05-01T10:02:03.123456Z" or with second precision.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && s.ends_with('Z')
        && s[..4].parse::<u32>().is_ok()
}

/// Fields every document has.
const REQUIRED: &[(&str, T)] = &[
    ("@timestamp", T::Date),
    ("ecs.version", T::Keyword),
    ("message", T::Keyword),
    ("event.kind", T::Keyword),
    ("event.category", T::Keywords),
    ("event.type", T::Keywords),
    ("event.severity", T::Long),
    ("event.dataset", T::Keyword),
    ("source.ip", T::Ip),
    ("source.port", T::Port),
    ("destination.ip", T::Ip),
    ("destination.port", T::Port),
    ("network.community_id", T::Keyword),
    ("network.transport", T::Keyword),
];

/// Fields that are typed when present.
const OPTIONAL: &[(&str, T)] = &[
    ("client.ip", T::Ip),
    ("server.ip", T::Ip),
    ("network.protocol", T::Keyword),
    ("network.vlan.id", T::Keyword),
    ("event.start", T::Date),
    ("event.end", T::Date),
    ("event.duration", T::Long),
    ("event.outcome", T::Keyword),
    ("source.bytes", T::Long),
    ("destination.bytes", T::Long),
    ("network.bytes", T::Long),
    ("network.packets", T::Long),
    ("rule.name", T::Keyword),
    ("log.level", T::Keyword),
    ("tls.version", T::Version),
    ("tls.version_protocol", T::Keyword),
    ("tls.cipher", T::Keyword),
    ("tls.curve", T::Keyword),
    ("tls.established", T::Bool),
    ("tls.resumed", T::Bool),
    ("tls.next_protocol", T::Keyword),
    ("tls.client.server_name", T::Keyword),
    ("tls.client.ja3", T::Hex32),
    ("tls.client.supported_ciphers", T::Keywords),
    ("tls.server.ja3s", T::Hex32),
    ("tls.server.subject", T::Keyword),
    ("tls.server.issuer", T::Keyword),
    ("tls.server.not_before", T::Date),
    ("tls.server.not_after", T::Date),
    ("tls.server.hash.sha256", T::Keyword),
    ("tls.server.x509.subject.distinguished_name", T::Keyword),
    ("tls.server.x509.subject.common_name", T::Keywords),
    ("tls.server.x509.issuer.distinguished_name", T::Keyword),
    ("tls.server.x509.issuer.common_name", T::Keywords),
    ("tls.server.x509.serial_number", T::Keyword),
    ("tls.server.x509.not_before", T::Date),
    ("tls.server.x509.not_after", T::Date),
    ("tls.server.x509.alternative_names", T::Keywords),
    ("tls.server.x509.public_key_algorithm", T::Keyword),
    ("tls.server.x509.public_key_size", T::Long),
    ("tls.server.x509.signature_algorithm", T::Keyword),
];

/// ECS allowed values (event.kind, event.category, event.type).
const KINDS: &[&str] = &["alert", "event"];
const TYPES: &[&str] = &[
    "access",
    "allowed",
    "connection",
    "denied",
    "end",
    "error",
    "info",
    "protocol",
    "start",
];

#[test]
fn every_ecs_line_has_the_required_fields_with_the_right_types() {
    let mut seen: std::collections::BTreeSet<&str> = Default::default();
    let mut docs = 0;
    for path in samples() {
        let ecs = run("ecs", &path);
        let nd = run("ndjson", &path);
        for doc in &ecs {
            docs += 1;
            for (p, t) in REQUIRED {
                let v = get(doc, p).unwrap_or_else(|| panic!("{p} missing in\n{doc}"));
                check_type(p, v, *t, doc);
            }
            for (p, t) in OPTIONAL {
                if let Some(v) = get(doc, p) {
                    check_type(p, v, *t, doc);
                    seen.insert(p);
                }
            }
            let kind = doc["event"]["kind"].as_str().unwrap();
            assert!(KINDS.contains(&kind), "{kind}");
            assert_eq!(doc["event"]["category"], serde_json::json!(["network"]));
            for t in doc["event"]["type"].as_array().unwrap() {
                assert!(TYPES.contains(&t.as_str().unwrap()), "event.type {t}");
            }
            assert!(doc["network"]["community_id"]
                .as_str()
                .unwrap()
                .starts_with("1:"));
            assert_eq!(doc["network"]["transport"], "tcp");
            if kind == "alert" {
                let rule = get(doc, "rule.name").expect("a finding has rule.name");
                assert!(tlstriage::explain::lookup(rule.as_str().unwrap()).is_some());
                assert!(get(doc, "tlstriage.frames").is_some_and(Value::is_array));
            }
            // No `type` field at the top: ECS documents are told apart by event.dataset.
            assert!(doc.get("type").is_none());
        }
        // Same findings and flows as the NDJSON output, in the same order.
        let nd_docs: Vec<&Value> = nd.iter().filter(|r| r["type"] != "capture_stats").collect();
        assert_eq!(ecs.len(), nd_docs.len(), "{}", path.display());
        for (e, n) in ecs.iter().zip(nd_docs) {
            assert_eq!(e["tlstriage"]["type"], n["type"]);
            assert_eq!(e["@timestamp"], n["ts"]);
            assert_eq!(e["network"]["community_id"], n["flow"]["community_id"]);
            assert_eq!(e["source"]["ip"], n["flow"]["client"]["ip"]);
            assert_eq!(e["destination"]["port"], n["flow"]["server"]["port"]);
            if n["type"] == "finding" {
                assert_eq!(e["rule"]["name"], n["kind"]);
                assert_eq!(e["log"]["level"], n["severity"]);
                assert_eq!(e["tlstriage"]["evidence"], n["evidence"]);
            }
        }
    }
    assert!(docs > 30, "only {docs} documents");
    // The samples exercise every TLS field of the mapping at least once.
    for p in [
        "tls.version",
        "tls.cipher",
        "tls.client.server_name",
        "tls.client.ja3",
        "tls.server.ja3s",
        "tls.server.x509.not_after",
        "tls.server.x509.subject.common_name",
        "tls.server.x509.alternative_names",
        "tls.server.x509.public_key_size",
        "rule.name",
        "event.outcome",
    ] {
        assert!(seen.contains(p), "{p} never emitted over the samples");
    }
}

#[test]
fn severities_and_versions_follow_ecs_conventions() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/version-mismatch.pcap"
    ));
    let docs = run("ecs", &path);
    let aborted = docs
        .iter()
        .find(|d| d["rule"]["name"] == "handshake_aborted")
        .expect("handshake_aborted");
    assert_eq!(aborted["event"]["kind"], "alert");
    assert_eq!(aborted["event"]["severity"], 73);
    assert_eq!(aborted["log"]["level"], "high");
    assert_eq!(
        aborted["tlstriage"]["evidence"]["likely_cause"],
        "version_mismatch"
    );
    let flow = docs
        .iter()
        .find(|d| d["event"]["dataset"] == "tlstriage.tls_flow")
        .expect("flow document");
    assert_eq!(flow["event"]["kind"], "event");
    assert_eq!(flow["event"]["outcome"], "failure");
    assert_eq!(
        flow["event"]["severity"], 73,
        "the worst finding of the flow"
    );

    let ok = run(
        "ecs",
        &PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/tls12-ok.pcap"
        )),
    );
    let flow = ok
        .iter()
        .find(|d| d["event"]["dataset"] == "tlstriage.tls_flow")
        .unwrap();
    assert_eq!(flow["tls"]["version"], "1.2");
    assert_eq!(flow["tls"]["version_protocol"], "tls");
    assert_eq!(flow["event"]["outcome"], "success");
    assert_eq!(
        flow["tls"]["server"]["x509"]["subject"]["common_name"][0],
        "localhost"
    );
}
