//! Elastic Common Schema (ECS 8.x) output: findings and flow records as ECS documents, one per
//! line, ready for Filebeat/Elastic Agent or an ingest pipeline. Built from the NDJSON
//! records so both formats always say the same thing; what ECS has no field for stays under
//! the custom `tlstriage.*` namespace.

use serde_json::{json, Map, Value};

use super::records::{finding_record, tls_flow_record, FindingRecord};
use crate::flow::{FlowRecord, FlowRef};
use crate::rules::{Finding, Severity};

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "8.11.0";

/// `event.severity`: Elastic's default risk scores per severity (info is 1).
pub fn severity_number(s: Severity) -> u64 {
    match s {
        Severity::Info => 1,
        Severity::Low => 21,
        Severity::Medium => 47,
        Severity::High => 73,
        Severity::Critical => 99,
    }
}

/// ECS splits "TLSv1.2" into `tls.version_protocol` "tls" and `tls.version` "1.2".
fn split_version(name: &str) -> Option<(&'static str, String)> {
    Some(match name {
        "SSLv2" => ("ssl", "2.0".to_string()),
        "SSLv3" => ("ssl", "3.0".to_string()),
        n => {
            let v = n.strip_prefix("TLSv")?;
            let v = v.split('-').next().unwrap_or(v);
            ("tls", v.to_string())
        }
    })
}

/// The values of every `CN=` attribute of an RFC 4514 name (escaped commas respected).
fn common_names(dn: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in dn.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' || c == '+' {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    parts
        .iter()
        .filter_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("CN")
                .then(|| v.trim().to_string())
        })
        .collect()
}

fn ep(ip: &Value, port: &Value) -> Value {
    json!({ "ip": ip, "port": port, "address": ip })
}

/// Insert `v` at a dotted path, creating objects on the way; nulls are left out.
fn put(m: &mut Map<String, Value>, path: &str, v: Value) {
    if v.is_null() || v.as_array().is_some_and(Vec::is_empty) {
        return;
    }
    let mut cur = m;
    let mut parts = path.split('.').peekable();
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(p.to_string(), v);
            return;
        }
        let next = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        cur = next.as_object_mut().expect("just made an object");
    }
}

/// The fields every document shares: time, endpoints, network, tls (from the flow record).
fn common(flow_rec: &Value, ts: &Value, dataset: &str) -> Map<String, Value> {
    let mut m = Map::new();
    put(&mut m, "@timestamp", ts.clone());
    put(&mut m, "ecs.version", json!(ECS_VERSION));
    put(&mut m, "event.module", json!("tlstriage"));
    put(&mut m, "event.dataset", json!(dataset));
    put(&mut m, "event.category", json!(["network"]));
    put(&mut m, "observer.product", json!("tlstriage"));
    put(&mut m, "observer.type", json!("sensor"));
    let flow = &flow_rec["flow"];
    let (c, s) = (&flow["client"], &flow["server"]);
    put(&mut m, "source", ep(&c["ip"], &c["port"]));
    put(&mut m, "destination", ep(&s["ip"], &s["port"]));
    put(&mut m, "client", ep(&c["ip"], &c["port"]));
    put(&mut m, "server", ep(&s["ip"], &s["port"]));
    put(&mut m, "network.community_id", flow["community_id"].clone());
    put(&mut m, "network.transport", json!("tcp"));
    put(
        &mut m,
        "network.type",
        json!(if c["ip"].as_str().is_some_and(|ip| ip.contains(':')) {
            "ipv6"
        } else {
            "ipv4"
        }),
    );
    if let Some(vlans) = flow["vlan"].as_array() {
        if let Some(outer) = vlans.first() {
            put(&mut m, "network.vlan.id", json!(outer.to_string()));
        }
        if let Some(inner) = vlans.get(1) {
            put(&mut m, "network.inner.vlan.id", json!(inner.to_string()));
        }
    }
    tls_fields(&mut m, flow_rec);
    put(&mut m, "tlstriage.capture", flow_rec["capture"].clone());
    put(
        &mut m,
        "tlstriage.tcp_stream",
        flow_rec["tcp_stream"].clone(),
    );
    put(
        &mut m,
        "tlstriage.wireshark_filter",
        flow_rec["wireshark_filter"].clone(),
    );
    put(&mut m, "tlstriage.via", flow_rec["via"].clone());
    m
}

/// `tls.*` from a `tls_flow` record (nothing when the flow carried no TLS).
fn tls_fields(m: &mut Map<String, Value>, r: &Value) {
    let is_tls = r["ja3"].is_string() || r["version"].is_string();
    if !is_tls {
        return;
    }
    put(m, "network.protocol", json!("tls"));
    if let Some((proto, v)) = r["version"].as_str().and_then(split_version) {
        put(m, "tls.version_protocol", json!(proto));
        put(m, "tls.version", json!(v));
    }
    put(m, "tls.cipher", r["cipher"].clone());
    put(m, "tls.curve", r["group"].clone());
    put(m, "tls.established", r["established"].clone());
    put(m, "tls.resumed", r["resumed"].clone());
    put(m, "tls.next_protocol", r["alpn"].clone());
    put(m, "tls.client.server_name", r["sni"].clone());
    put(m, "tls.client.ja3", r["ja3"].clone());
    put(
        m,
        "tls.client.supported_ciphers",
        r["client_ciphers"].clone(),
    );
    put(m, "tls.server.ja3s", r["ja3s"].clone());
    if let Some(leaf) = r["cert_chain"].as_array().and_then(|c| c.first()) {
        if leaf.get("error").is_none() {
            x509(m, "tls.server", leaf);
        }
    }
    if let Some(leaf) = r["client_cert_chain"].as_array().and_then(|c| c.first()) {
        if leaf.get("error").is_none() {
            x509(m, "tls.client", leaf);
        }
    }
    if let Some(chain) = r["cert_chain"].as_array() {
        let hashes: Vec<Value> = chain
            .iter()
            .filter_map(|c| c.get("sha256").cloned())
            .collect();
        put(m, "tlstriage.tls.cert_chain_sha256", json!(hashes));
    }
    put(m, "tlstriage.tls.ja4", r["ja4"].clone());
    put(m, "tlstriage.tls.ja4s", r["ja4s"].clone());
    put(m, "tlstriage.tls.history", r["history"].clone());
    put(m, "tlstriage.tls.stage", r["stage"].clone());
    put(m, "tlstriage.tls.last_alert", r["last_alert"].clone());
    put(
        m,
        "tlstriage.tls.client_versions",
        r["client_versions"].clone(),
    );
    put(m, "tlstriage.tls.alpn_offered", r["alpn_offered"].clone());
    put(m, "tlstriage.tls.handshake_ms", r["handshake_ms"].clone());
}

/// `<side>.x509.*`, `<side>.subject/issuer/not_*` and `<side>.hash.sha256` from a cert object.
fn x509(m: &mut Map<String, Value>, side: &str, c: &Value) {
    let subject = c["subject"].as_str().unwrap_or_default();
    let issuer = c["issuer"].as_str().unwrap_or_default();
    put(m, &format!("{side}.subject"), json!(subject));
    put(m, &format!("{side}.issuer"), json!(issuer));
    put(m, &format!("{side}.not_before"), c["not_before"].clone());
    put(m, &format!("{side}.not_after"), c["not_after"].clone());
    put(m, &format!("{side}.hash.sha256"), c["sha256"].clone());
    let x = format!("{side}.x509");
    put(
        m,
        &format!("{x}.subject.distinguished_name"),
        json!(subject),
    );
    put(
        m,
        &format!("{x}.subject.common_name"),
        json!(common_names(subject)),
    );
    put(m, &format!("{x}.issuer.distinguished_name"), json!(issuer));
    put(
        m,
        &format!("{x}.issuer.common_name"),
        json!(common_names(issuer)),
    );
    put(m, &format!("{x}.serial_number"), c["serial"].clone());
    put(m, &format!("{x}.not_before"), c["not_before"].clone());
    put(m, &format!("{x}.not_after"), c["not_after"].clone());
    put(m, &format!("{x}.alternative_names"), c["san"].clone());
    put(
        m,
        &format!("{x}.public_key_algorithm"),
        c["key_type"].clone(),
    );
    put(m, &format!("{x}.public_key_size"), c["key_bits"].clone());
    put(
        m,
        &format!("{x}.signature_algorithm"),
        c["signature_algorithm"].clone(),
    );
}

/// One finding as an ECS alert document.
pub fn ecs_finding(capture: &str, flow: &FlowRecord, f: &Finding) -> Value {
    let rec = finding_record(capture, flow, f);
    let flow_rec = tls_flow_record(capture, flow, &[]);
    finding_doc(&rec, &flow_rec, f)
}

/// A capture rule's finding as an ECS alert document: the flow is named by its identity
/// (no `tls.*` fields, which belong to the flow's own documents).
pub fn ecs_finding_at(capture: &str, at: &FlowRef, f: &Finding) -> Value {
    let rec = serde_json::to_value(FindingRecord::at(capture, at, f)).unwrap_or(Value::Null);
    finding_doc(&rec, &rec, f)
}

fn finding_doc(rec: &Value, flow_rec: &Value, f: &Finding) -> Value {
    let mut m = common(flow_rec, &rec["ts"], "tlstriage.finding");
    let mut types = vec!["protocol"];
    if f.severity > Severity::Info {
        types.push("error");
    } else {
        types.push("info");
    }
    put(&mut m, "message", rec["summary"].clone());
    put(&mut m, "event.kind", json!("alert"));
    put(&mut m, "event.type", json!(types));
    put(&mut m, "event.severity", json!(severity_number(f.severity)));
    put(&mut m, "event.action", json!(f.kind));
    put(&mut m, "event.reason", rec["explanation"].clone());
    put(&mut m, "log.level", json!(f.severity.as_str()));
    put(&mut m, "rule.name", json!(f.kind));
    put(&mut m, "rule.ruleset", json!("tlstriage"));
    put(&mut m, "rule.description", rec["summary"].clone());
    put(&mut m, "tlstriage.type", json!("finding"));
    put(&mut m, "tlstriage.schema", rec["schema"].clone());
    put(&mut m, "tlstriage.severity", json!(f.severity.as_str()));
    put(&mut m, "tlstriage.frames", rec["frames"].clone());
    put(&mut m, "tlstriage.evidence", rec["evidence"].clone());
    // The offered suites belong to the flow document; a finding only repeats the facts.
    if let Some(c) = m.get_mut("tls").and_then(|t| t.get_mut("client")) {
        c.as_object_mut().map(|c| c.remove("supported_ciphers"));
    }
    Value::Object(m)
}

/// One flow as an ECS event document (`tls_flow` record).
pub fn ecs_tls_flow(capture: &str, flow: &FlowRecord, findings: &[Finding]) -> Value {
    let rec = tls_flow_record(capture, flow, findings);
    let mut m = common(&rec, &rec["ts"], "tlstriage.tls_flow");
    let worst = findings.iter().map(|f| f.severity).max();
    let established = rec["established"].as_bool().unwrap_or(false);
    put(&mut m, "event.kind", json!("event"));
    put(
        &mut m,
        "event.type",
        json!(["connection", "protocol", "end"]),
    );
    put(
        &mut m,
        "event.severity",
        json!(worst.map_or(0, severity_number)),
    );
    put(
        &mut m,
        "event.outcome",
        json!(if established { "success" } else { "failure" }),
    );
    put(&mut m, "event.start", rec["ts"].clone());
    put(
        &mut m,
        "event.end",
        json!(crate::model::format_ts_us(flow.last_ts_us)),
    );
    put(
        &mut m,
        "event.duration",
        json!((flow.last_ts_us - flow.first_ts_us)
            .max(0)
            .saturating_mul(1000)),
    );
    put(
        &mut m,
        "message",
        json!(format!(
            "TLS flow {}:{} -> {}:{}{}",
            flow.client.ip,
            flow.client.port,
            flow.server.ip,
            flow.server.port,
            if established {
                " established"
            } else {
                " not established"
            }
        )),
    );
    put(&mut m, "source.bytes", rec["bytes_client"].clone());
    put(&mut m, "source.packets", rec["packets_client"].clone());
    put(&mut m, "destination.bytes", rec["bytes_server"].clone());
    put(&mut m, "destination.packets", rec["packets_server"].clone());
    let bytes =
        rec["bytes_client"].as_u64().unwrap_or(0) + rec["bytes_server"].as_u64().unwrap_or(0);
    put(&mut m, "network.bytes", json!(bytes));
    let packets =
        rec["packets_client"].as_u64().unwrap_or(0) + rec["packets_server"].as_u64().unwrap_or(0);
    put(&mut m, "network.packets", json!(packets));
    put(&mut m, "tlstriage.type", json!("tls_flow"));
    put(&mut m, "tlstriage.schema", rec["schema"].clone());
    put(&mut m, "tlstriage.findings", rec["findings"].clone());
    put(&mut m, "tlstriage.first_frame", rec["first_frame"].clone());
    put(&mut m, "tlstriage.last_frame", rec["last_frame"].clone());
    put(&mut m, "tlstriage.end", rec["end"].clone());
    put(&mut m, "tlstriage.closed_by", rec["closed_by"].clone());
    put(&mut m, "tlstriage.midstream", rec["midstream"].clone());
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_split_as_ecs_wants() {
        assert_eq!(split_version("TLSv1.2"), Some(("tls", "1.2".into())));
        assert_eq!(
            split_version("TLSv1.3-draft23"),
            Some(("tls", "1.3".into()))
        );
        assert_eq!(split_version("SSLv3"), Some(("ssl", "3.0".into())));
        assert_eq!(split_version("0x1234"), None);
    }

    #[test]
    fn common_names_respect_escapes() {
        assert_eq!(
            common_names("CN=a\\, b.example, O=X, CN=c"),
            vec!["a, b.example".to_string(), "c".to_string()]
        );
        assert!(common_names("O=Only").is_empty());
    }

    #[test]
    fn put_builds_nested_objects_and_skips_nulls() {
        let mut m = Map::new();
        put(&mut m, "a.b.c", json!(1));
        put(&mut m, "a.b.d", Value::Null);
        put(&mut m, "a.e", json!([]));
        assert_eq!(Value::Object(m), json!({"a": {"b": {"c": 1}}}));
    }
}
