//! Elastic Common Schema (ECS 8.x) output: findings and flow records as ECS documents, one per
//! line, ready for Filebeat/Elastic Agent or an ingest pipeline. Mapped from the typed
//! records of the NDJSON output ([`TlsFlowRecord`], [`CertRecord`]) so both formats always
//! say the same thing; what ECS has no field for stays under the custom `tlstriage.*`
//! namespace.

use serde_json::{json, Map, Value};

use super::records::{CertRecord, TlsFlowRecord, SCHEMA_VERSION};
use super::rollup::RollupRecord;
use crate::flow::{Endpoint, FlowRecord, FlowRef};
use crate::model::format_ts_us;
use crate::rules::{Finding, Kind, Severity};

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

/// Hashes and serial numbers as ECS wants them: upper-case hex without separators.
fn upper_hex(s: &str) -> String {
    s.chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// `related.ip`, `related.hosts` (SNI, certificate names) and `related.hash` (certificate
/// SHA-256s, JA3/JA3S), as ECS asks for pivoting, from what the document already holds.
fn related(m: &mut Map<String, Value>) {
    let doc = Value::Object(m.clone());
    let text = |p: &str| doc.pointer(p).and_then(Value::as_str).map(str::to_string);
    let list = |p: &str| -> Vec<String> {
        doc.pointer(p)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut ips: Vec<String> = ["/source/ip", "/destination/ip"]
        .iter()
        .filter_map(|p| text(p))
        .collect();
    ips.dedup();
    let mut hosts: Vec<String> = Vec::new();
    hosts.extend(text("/tls/client/server_name"));
    for side in ["server", "client"] {
        hosts.extend(list(&format!("/tls/{side}/x509/subject/common_name")));
        hosts.extend(list(&format!("/tls/{side}/x509/alternative_names")));
    }
    let mut seen = std::collections::BTreeSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    hosts.truncate(crate::bounded::MAX_LIST_ITEMS);
    let mut hashes: Vec<String> = list("/tlstriage/tls/cert_chain_sha256");
    for p in [
        "/tls/client/hash/sha256",
        "/tls/client/ja3",
        "/tls/server/ja3s",
    ] {
        hashes.extend(text(p));
    }
    let mut seen = std::collections::BTreeSet::new();
    hashes.retain(|h| seen.insert(h.clone()));
    put(m, "related.ip", json!(ips));
    put(m, "related.hosts", json!(hosts));
    put(m, "related.hash", json!(hashes));
}

/// Whether a finding is about the connection itself (it failed or was cut), not only about
/// what it carried.
fn is_connection_failure(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::HandshakeAborted | Kind::ConnectionFailed | Kind::ProxyConnectFailed
    )
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

/// The flow a document is about, and its TLS record when it has one.
struct Subject<'a> {
    client: Endpoint,
    server: Endpoint,
    community_id: &'a str,
    vlan: &'a [u16],
    capture: &'a str,
    tcp_stream: u64,
    via: Option<&'static str>,
    tls: Option<&'a TlsFlowRecord<'a>>,
}

impl<'a> Subject<'a> {
    fn flow(flow: &'a FlowRecord, rec: &'a TlsFlowRecord<'a>) -> Self {
        Subject {
            client: flow.client,
            server: flow.server,
            community_id: &flow.community_id,
            vlan: &flow.vlan,
            capture: rec.capture,
            tcp_stream: flow.tcp_stream,
            via: flow.via(),
            tls: Some(rec),
        }
    }

    fn at(capture: &'a str, at: &'a FlowRef) -> Self {
        Subject {
            client: at.client,
            server: at.server,
            community_id: &at.community_id,
            vlan: &at.vlan,
            capture,
            tcp_stream: at.tcp_stream,
            via: at.via,
            tls: None,
        }
    }
}

fn endpoint(e: Endpoint) -> Value {
    let ip = e.ip.to_string();
    json!({ "ip": ip, "port": e.port, "address": ip })
}

/// The fields every document shares: time, endpoints, network, tls (from the flow record).
fn common(s: &Subject<'_>, ts: &str, dataset: &str) -> Map<String, Value> {
    let mut m = Map::new();
    put(&mut m, "@timestamp", json!(ts));
    put(&mut m, "ecs.version", json!(ECS_VERSION));
    put(&mut m, "event.module", json!("tlstriage"));
    put(&mut m, "event.dataset", json!(dataset));
    put(&mut m, "event.category", json!(["network"]));
    put(&mut m, "observer.product", json!("tlstriage"));
    put(&mut m, "observer.type", json!("sensor"));
    put(&mut m, "source", endpoint(s.client));
    put(&mut m, "destination", endpoint(s.server));
    put(&mut m, "client", endpoint(s.client));
    put(&mut m, "server", endpoint(s.server));
    put(&mut m, "network.community_id", json!(s.community_id));
    put(&mut m, "network.transport", json!("tcp"));
    put(
        &mut m,
        "network.type",
        json!(if s.client.ip.is_ipv6() {
            "ipv6"
        } else {
            "ipv4"
        }),
    );
    if let Some(outer) = s.vlan.first() {
        put(&mut m, "network.vlan.id", json!(outer.to_string()));
    }
    if let Some(inner) = s.vlan.get(1) {
        put(&mut m, "network.inner.vlan.id", json!(inner.to_string()));
    }
    if let Some(r) = s.tls {
        tls_fields(&mut m, r);
    }
    put(&mut m, "tlstriage.capture", json!(s.capture));
    put(&mut m, "tlstriage.tcp_stream", json!(s.tcp_stream));
    put(
        &mut m,
        "tlstriage.wireshark_filter",
        json!(format!("tcp.stream eq {}", s.tcp_stream)),
    );
    put(&mut m, "tlstriage.via", json!(s.via));
    m
}

/// `tls.*` from a `tls_flow` record (nothing when the flow carried no TLS).
fn tls_fields(m: &mut Map<String, Value>, r: &TlsFlowRecord<'_>) {
    if r.ja3.is_none() && r.version.is_none() {
        return;
    }
    put(m, "network.protocol", json!("tls"));
    if let Some((proto, v)) = r.version.as_deref().and_then(split_version) {
        put(m, "tls.version_protocol", json!(proto));
        put(m, "tls.version", json!(v));
    }
    put(m, "tls.cipher", json!(r.cipher));
    put(m, "tls.curve", json!(r.group));
    put(m, "tls.established", json!(r.established));
    put(m, "tls.resumed", json!(r.resumed));
    put(m, "tls.next_protocol", json!(r.alpn));
    put(m, "tls.client.server_name", json!(r.sni));
    put(m, "tls.client.ja3", json!(r.ja3));
    put(m, "tls.client.supported_ciphers", json!(r.client_ciphers));
    put(m, "tls.server.ja3s", json!(r.ja3s));
    if let Some(leaf) = r.cert_chain.first() {
        x509(m, "tls.server", leaf);
    }
    if let Some(leaf) = r.client_cert_chain.first() {
        x509(m, "tls.client", leaf);
    }
    let hashes: Vec<String> = r
        .cert_chain
        .iter()
        .filter_map(|c| match c {
            CertRecord::Parsed { sha256, .. } => Some(upper_hex(sha256)),
            CertRecord::Broken { .. } => None,
        })
        .collect();
    put(m, "tlstriage.tls.cert_chain_sha256", json!(hashes));
    put(m, "tlstriage.tls.ja4", json!(r.ja4));
    put(m, "tlstriage.tls.ja4s", json!(r.ja4s));
    put(m, "tlstriage.tls.history", json!(r.history));
    put(m, "tlstriage.tls.stage", json!(r.stage));
    put(m, "tlstriage.tls.last_alert", json!(r.last_alert));
    put(m, "tlstriage.tls.client_versions", json!(r.client_versions));
    put(m, "tlstriage.tls.alpn_offered", json!(r.alpn_offered));
    put(m, "tlstriage.tls.handshake_ms", json!(r.handshake_ms));
}

/// `<side>.x509.*`, `<side>.subject/issuer/not_*` and `<side>.hash.sha256` from a cert.
fn x509(m: &mut Map<String, Value>, side: &str, c: &CertRecord) {
    let CertRecord::Parsed {
        issuer,
        key_bits,
        key_type,
        not_after,
        not_before,
        san,
        serial,
        sha256,
        signature_algorithm,
        subject,
        ..
    } = c
    else {
        return;
    };
    put(m, &format!("{side}.subject"), json!(subject));
    put(m, &format!("{side}.issuer"), json!(issuer));
    put(m, &format!("{side}.not_before"), json!(not_before));
    put(m, &format!("{side}.not_after"), json!(not_after));
    put(m, &format!("{side}.hash.sha256"), json!(upper_hex(sha256)));
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
    put(m, &format!("{x}.serial_number"), json!(upper_hex(serial)));
    put(m, &format!("{x}.not_before"), json!(not_before));
    put(m, &format!("{x}.not_after"), json!(not_after));
    put(m, &format!("{x}.alternative_names"), json!(san));
    put(m, &format!("{x}.public_key_algorithm"), json!(key_type));
    put(m, &format!("{x}.public_key_size"), json!(key_bits));
    put(
        m,
        &format!("{x}.signature_algorithm"),
        json!(signature_algorithm),
    );
}

/// One finding as an ECS alert document.
pub fn ecs_finding(capture: &str, flow: &FlowRecord, f: &Finding) -> Value {
    let rec = TlsFlowRecord::new(capture, flow, &[]);
    finding_doc(&Subject::flow(flow, &rec), f)
}

/// A capture rule's finding as an ECS alert document: the flow is named by its identity
/// (no `tls.*` fields, which belong to the flow's own documents).
pub fn ecs_finding_at(capture: &str, at: &FlowRef, f: &Finding) -> Value {
    finding_doc(&Subject::at(capture, at), f)
}

fn finding_doc(s: &Subject<'_>, f: &Finding) -> Value {
    let mut m = common(s, &format_ts_us(f.ts_us), "tlstriage.finding");
    // ECS allows for category network only access, allowed, connection, denied, end, info,
    // protocol and start: never "error". A failed connection is a connection event with
    // outcome failure; any other finding is information about the protocol.
    let types = if is_connection_failure(f.kind) {
        put(&mut m, "event.outcome", json!("failure"));
        vec!["connection", "protocol"]
    } else {
        vec!["protocol", "info"]
    };
    if f.kind == Kind::TlsInterceptionSuspected {
        // Also an intrusion-detection signal (ECS allows info there).
        put(
            &mut m,
            "event.category",
            json!(["network", "intrusion_detection"]),
        );
    }
    put(&mut m, "message", json!(f.summary));
    put(&mut m, "event.kind", json!("alert"));
    put(&mut m, "event.type", json!(types));
    put(&mut m, "event.severity", json!(severity_number(f.severity)));
    put(&mut m, "event.action", json!(f.kind));
    put(&mut m, "event.reason", json!(f.explanation));
    put(&mut m, "log.level", json!(f.severity.as_str()));
    put(&mut m, "rule.name", json!(f.kind));
    put(&mut m, "rule.ruleset", json!("tlstriage"));
    put(&mut m, "rule.description", json!(f.summary));
    put(&mut m, "tlstriage.type", json!("finding"));
    put(&mut m, "tlstriage.schema", json!(SCHEMA_VERSION));
    put(&mut m, "tlstriage.severity", json!(f.severity.as_str()));
    put(&mut m, "tlstriage.frames", json!(f.frames));
    put(&mut m, "tlstriage.evidence", f.evidence.clone());
    // The offered suites belong to the flow document; a finding only repeats the facts.
    if let Some(c) = m.get_mut("tls").and_then(|t| t.get_mut("client")) {
        c.as_object_mut().map(|c| c.remove("supported_ciphers"));
    }
    if let Some(sni) = f.evidence.get("sni").and_then(Value::as_str) {
        if !m.contains_key("tls") {
            put(&mut m, "tls.client.server_name", json!(sni));
        }
    }
    related(&mut m);
    Value::Object(m)
}

/// One flow as an ECS event document (`tls_flow` record).
pub fn ecs_tls_flow(capture: &str, flow: &FlowRecord, findings: &[Finding]) -> Value {
    let rec = TlsFlowRecord::new(capture, flow, findings);
    let mut m = common(&Subject::flow(flow, &rec), &rec.ts, "tlstriage.tls_flow");
    let worst = findings.iter().map(|f| f.severity).max();
    let established = rec.established;
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
    put(&mut m, "event.start", json!(rec.ts));
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
    put(&mut m, "source.bytes", json!(rec.bytes_client));
    put(&mut m, "source.packets", json!(rec.packets_client));
    put(&mut m, "destination.bytes", json!(rec.bytes_server));
    put(&mut m, "destination.packets", json!(rec.packets_server));
    put(
        &mut m,
        "network.bytes",
        json!(rec.bytes_client + rec.bytes_server),
    );
    put(
        &mut m,
        "network.packets",
        json!(rec.packets_client + rec.packets_server),
    );
    put(&mut m, "tlstriage.type", json!("tls_flow"));
    put(&mut m, "tlstriage.schema", json!(rec.schema));
    put(&mut m, "tlstriage.findings", json!(rec.findings));
    put(&mut m, "tlstriage.first_frame", json!(rec.first_frame));
    put(&mut m, "tlstriage.last_frame", json!(rec.last_frame));
    put(&mut m, "tlstriage.end", json!(rec.end));
    if rec.decrypted {
        put(&mut m, "tlstriage.decrypted", json!(true));
    }
    if let Some(e) = &rec.decryption_error {
        put(&mut m, "tlstriage.decryption_error", json!(e));
    }
    put(&mut m, "tlstriage.closed_by", json!(rec.closed_by));
    put(&mut m, "tlstriage.midstream", json!(rec.midstream));
    related(&mut m);
    Value::Object(m)
}

/// One roll-up (`--summary-by`) as an ECS metric document: the group's counters under
/// `tlstriage.rollup`, its key as the ECS field it is (`server.*`, `client.ip`,
/// `tls.client.server_name`).
pub fn ecs_rollup(rec: &RollupRecord<'_>) -> Value {
    let mut m = Map::new();
    put(&mut m, "@timestamp", json!(rec.ts));
    put(&mut m, "ecs.version", json!(ECS_VERSION));
    put(&mut m, "event.module", json!("tlstriage"));
    put(&mut m, "event.dataset", json!("tlstriage.rollup"));
    put(&mut m, "event.kind", json!("metric"));
    put(&mut m, "event.category", json!(["network"]));
    put(&mut m, "event.type", json!(["info"]));
    put(&mut m, "event.start", json!(rec.first_ts));
    put(&mut m, "event.end", json!(rec.last_ts));
    if let Some(sev) = rec.severity {
        put(&mut m, "log.level", json!(sev));
    }
    put(&mut m, "message", json!(rec.summary));
    put(&mut m, "observer.product", json!("tlstriage"));
    put(&mut m, "observer.type", json!("sensor"));
    match rec.by {
        "server" => {
            if let Some((ip, port)) = rec.key.rsplit_once(':') {
                let ip = ip.trim_start_matches('[').trim_end_matches(']');
                if ip.parse::<std::net::IpAddr>().is_ok() {
                    put(&mut m, "server.ip", json!(ip));
                    put(&mut m, "server.address", json!(ip));
                    put(&mut m, "destination.ip", json!(ip));
                }
                if let Ok(port) = port.parse::<u16>() {
                    put(&mut m, "server.port", json!(port));
                }
            }
        }
        "client" => {
            if rec.key.parse::<std::net::IpAddr>().is_ok() {
                put(&mut m, "client.ip", json!(rec.key));
                put(&mut m, "client.address", json!(rec.key));
                put(&mut m, "source.ip", json!(rec.key));
            }
        }
        _ => put(&mut m, "tls.client.server_name", json!(rec.key)),
    }
    let r = "tlstriage.rollup";
    put(&mut m, &format!("{r}.by"), json!(rec.by));
    put(&mut m, &format!("{r}.key"), json!(rec.key));
    put(&mut m, &format!("{r}.flows"), json!(rec.flows));
    put(
        &mut m,
        &format!("{r}.flows_with_findings"),
        json!(rec.flows_with_findings),
    );
    put(
        &mut m,
        &format!("{r}.aborted_handshakes"),
        json!(rec.aborted_handshakes),
    );
    put(&mut m, &format!("{r}.findings"), json!(rec.findings));
    put(
        &mut m,
        &format!("{r}.likely_causes"),
        json!(rec.likely_causes),
    );
    put(
        &mut m,
        &format!("{r}.client_max_versions"),
        json!(rec.client_max_versions),
    );
    put(
        &mut m,
        &format!("{r}.distinct_ja3"),
        json!(rec.distinct_ja3),
    );
    put(
        &mut m,
        &format!("{r}.distinct_peers"),
        json!(rec.distinct_peers),
    );
    put(&mut m, &format!("{r}.tcp_streams"), json!(rec.tcp_streams));
    put(&mut m, "tlstriage.capture", json!(rec.capture));
    put(&mut m, "tlstriage.type", json!("rollup"));
    put(&mut m, "tlstriage.schema", json!(rec.schema));
    put(&mut m, "tlstriage.severity", json!(rec.severity));
    put(
        &mut m,
        "tlstriage.wireshark_filter",
        json!(rec.wireshark_filter),
    );
    related(&mut m);
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
