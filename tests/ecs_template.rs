//! The shipped Elasticsearch index template (contrib/ecs-template.json, the output of
//! `tlstriage ecs-template`) against every ECS document tlstriage emits over every sample:
//! each sample alone, all of them as one capture (which raises tls_interception_suspected),
//! with --flows and every roll-up, and the 10,000-SAN certificate. Every field must be in
//! the template with a value of its type (the template is `dynamic: strict`, so
//! Elasticsearch would refuse anything else), `event.type` must be allowed for the
//! document's categories, hashes and serials upper-case hex, and `related.*` filled.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tlstriage(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// path -> type, from the template's nested `properties`.
fn fields(props: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    for (k, v) in props.as_object().unwrap() {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v.get("properties") {
            Some(p) => fields(p, &path, out),
            None => {
                out.insert(path, v["type"].as_str().unwrap().to_string());
            }
        }
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && s.ends_with('Z')
}

fn check_value(path: &str, v: &Value, ty: &str, doc: &Value) {
    let ok = match ty {
        "keyword" | "match_only_text" => v.is_string(),
        "date" => v.as_str().is_some_and(is_date),
        "long" => v.is_i64() || v.is_u64(),
        "double" => v.is_number(),
        "boolean" => v.is_boolean(),
        "ip" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        "flattened" => v.is_object(),
        other => panic!("{path}: type {other} not checked"),
    };
    assert!(ok, "{path} ({ty}) holds {v} in\n{doc}");
}

fn check_doc(doc: &Value, at: &str, v: &Value, template: &BTreeMap<String, String>) {
    if let Some(ty) = template.get(at) {
        match v {
            Value::Array(items) if ty != "flattened" => {
                items.iter().for_each(|i| check_value(at, i, ty, doc))
            }
            _ => check_value(at, v, ty, doc),
        }
        return;
    }
    let Value::Object(map) = v else {
        panic!("{at} is not in the template: {v} in\n{doc}");
    };
    for (k, child) in map {
        let path = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        check_doc(doc, &path, child, template);
    }
}

/// ECS 8.x: the event.type values each event.category allows.
fn allowed_types(category: &str) -> &'static [&'static str] {
    match category {
        "network" => &[
            "access",
            "allowed",
            "connection",
            "denied",
            "end",
            "info",
            "protocol",
            "start",
        ],
        "intrusion_detection" => &["allowed", "denied", "info"],
        other => panic!("category {other} not expected"),
    }
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn check_ecs_rules(doc: &Value) {
    let cats = strs(&doc["event"]["category"]);
    assert!(!cats.is_empty(), "{doc}");
    for t in strs(&doc["event"]["type"]) {
        assert!(
            cats.iter().any(|c| allowed_types(c).contains(&t)),
            "event.type {t} is not allowed for {cats:?}: {doc}"
        );
    }
    let upper_hex = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    };
    for side in ["server", "client"] {
        let tls = &doc["tls"][side];
        if let Some(h) = tls["hash"]["sha256"].as_str() {
            assert!(upper_hex(h) && h.len() == 64, "{h}");
            assert!(strs(&doc["related"]["hash"]).contains(&h), "{doc}");
        }
        if let Some(s) = tls["x509"]["serial_number"].as_str() {
            assert!(upper_hex(s), "serial {s}");
        }
    }
    for p in ["source", "destination"] {
        if let Some(ip) = doc[p]["ip"].as_str() {
            assert!(strs(&doc["related"]["ip"]).contains(&ip), "{doc}");
        }
    }
    if let Some(sni) = doc["tls"]["client"]["server_name"].as_str() {
        assert!(strs(&doc["related"]["hosts"]).contains(&sni), "{doc}");
    }
}

#[test]
fn the_shipped_template_is_the_one_tlstriage_prints() {
    let printed = tlstriage(&["ecs-template"]);
    let shipped = std::fs::read_to_string(root().join("contrib/ecs-template.json")).unwrap();
    assert_eq!(
        shipped, printed,
        "contrib/ecs-template.json is stale: tlstriage ecs-template > contrib/ecs-template.json"
    );
}

#[test]
fn every_ecs_document_matches_the_template() {
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("contrib/ecs-template.json")).unwrap(),
    )
    .unwrap();
    let mappings = &template["template"]["mappings"];
    assert_eq!(mappings["dynamic"], "strict");
    let mut types = BTreeMap::new();
    fields(&mappings["properties"], "", &mut types);

    let mut samples: Vec<String> = std::fs::read_dir(root().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    samples.sort();
    let common = [
        "read",
        "--format",
        "ecs",
        "--flows",
        "--summary-by",
        "server,client,sni",
    ];
    let mut runs: Vec<Vec<String>> = samples
        .iter()
        .chain(std::iter::once(
            &"tests/data/cert-10000-sans.pcap".to_string(),
        ))
        .map(|s| vec![s.clone()])
        .collect();
    runs.push(samples.clone());
    let mut kinds = BTreeMap::new();
    let mut datasets = BTreeMap::new();
    for files in &runs {
        let mut args: Vec<&str> = common.to_vec();
        args.extend(files.iter().map(String::as_str));
        for line in tlstriage(&args).lines() {
            let doc: Value = serde_json::from_str(line).unwrap();
            check_doc(&doc, "", &doc, &types);
            check_ecs_rules(&doc);
            *datasets
                .entry(doc["event"]["dataset"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
            if let Some(k) = doc["event"]["action"].as_str() {
                *kinds.entry(k.to_string()).or_insert(0) += 1;
            }
        }
    }
    for d in [
        "tlstriage.finding",
        "tlstriage.tls_flow",
        "tlstriage.rollup",
    ] {
        assert!(datasets.contains_key(d), "no {d} document: {datasets:?}");
    }
    assert!(
        kinds.contains_key("tls_interception_suspected"),
        "{kinds:?}"
    );
    assert!(kinds.contains_key("handshake_aborted"), "{kinds:?}");
}
