//! The Elasticsearch index template for `--format ecs` (`tlstriage ecs-template`, also
//! shipped as `contrib/ecs-template.json`): every field the ECS documents can carry, with
//! the type ECS gives it (or ours, under `tlstriage.*`), and `dynamic: strict`, so that
//! Elasticsearch refuses a document with a field the template does not know.
//! `tests/ecs_template.rs` checks every document over every sample against it.

use serde_json::{json, Map, Value};

use super::ecs::ECS_VERSION;

/// Every field path and its Elasticsearch type. `flattened` holds an object of any keys.
pub const ECS_FIELDS: &[(&str, &str)] = &[
    ("@timestamp", "date"),
    ("message", "match_only_text"),
    ("ecs.version", "keyword"),
    ("event.module", "keyword"),
    ("event.dataset", "keyword"),
    ("event.kind", "keyword"),
    ("event.category", "keyword"),
    ("event.type", "keyword"),
    ("event.outcome", "keyword"),
    ("event.action", "keyword"),
    ("event.reason", "keyword"),
    ("event.severity", "long"),
    ("event.start", "date"),
    ("event.end", "date"),
    ("event.duration", "long"),
    ("log.level", "keyword"),
    ("observer.product", "keyword"),
    ("observer.type", "keyword"),
    ("rule.name", "keyword"),
    ("rule.ruleset", "keyword"),
    ("rule.description", "keyword"),
    ("source.ip", "ip"),
    ("source.port", "long"),
    ("source.address", "keyword"),
    ("source.bytes", "long"),
    ("source.packets", "long"),
    ("destination.ip", "ip"),
    ("destination.port", "long"),
    ("destination.address", "keyword"),
    ("destination.bytes", "long"),
    ("destination.packets", "long"),
    ("client.ip", "ip"),
    ("client.port", "long"),
    ("client.address", "keyword"),
    ("server.ip", "ip"),
    ("server.port", "long"),
    ("server.address", "keyword"),
    ("network.community_id", "keyword"),
    ("network.transport", "keyword"),
    ("network.type", "keyword"),
    ("network.protocol", "keyword"),
    ("network.bytes", "long"),
    ("network.packets", "long"),
    ("network.vlan.id", "keyword"),
    ("network.inner.vlan.id", "keyword"),
    ("related.ip", "ip"),
    ("related.hosts", "keyword"),
    ("related.hash", "keyword"),
    ("tls.version", "keyword"),
    ("tls.version_protocol", "keyword"),
    ("tls.cipher", "keyword"),
    ("tls.curve", "keyword"),
    ("tls.established", "boolean"),
    ("tls.resumed", "boolean"),
    ("tls.next_protocol", "keyword"),
    ("tls.client.server_name", "keyword"),
    ("tls.client.ja3", "keyword"),
    ("tls.client.supported_ciphers", "keyword"),
    ("tls.server.ja3s", "keyword"),
    // tls.server.* and tls.client.* certificate fields: see CERT_FIELDS.
    ("tlstriage.type", "keyword"),
    ("tlstriage.schema", "long"),
    ("tlstriage.capture", "keyword"),
    ("tlstriage.tcp_stream", "long"),
    ("tlstriage.wireshark_filter", "keyword"),
    ("tlstriage.via", "keyword"),
    ("tlstriage.severity", "keyword"),
    ("tlstriage.frames", "long"),
    ("tlstriage.evidence", "flattened"),
    ("tlstriage.findings", "keyword"),
    ("tlstriage.first_frame", "long"),
    ("tlstriage.last_frame", "long"),
    ("tlstriage.end", "keyword"),
    ("tlstriage.closed_by", "keyword"),
    ("tlstriage.midstream", "boolean"),
    ("tlstriage.record_truncated", "boolean"),
    ("tlstriage.tls.cert_chain_sha256", "keyword"),
    ("tlstriage.tls.ja4", "keyword"),
    ("tlstriage.tls.ja4s", "keyword"),
    ("tlstriage.tls.history", "keyword"),
    ("tlstriage.tls.stage", "keyword"),
    ("tlstriage.tls.last_alert", "keyword"),
    ("tlstriage.tls.client_versions", "keyword"),
    ("tlstriage.tls.alpn_offered", "keyword"),
    ("tlstriage.tls.handshake_ms", "double"),
    ("tlstriage.rollup.by", "keyword"),
    ("tlstriage.rollup.key", "keyword"),
    ("tlstriage.rollup.flows", "long"),
    ("tlstriage.rollup.flows_with_findings", "long"),
    ("tlstriage.rollup.aborted_handshakes", "long"),
    ("tlstriage.rollup.findings", "flattened"),
    ("tlstriage.rollup.likely_causes", "flattened"),
    ("tlstriage.rollup.client_max_versions", "flattened"),
    ("tlstriage.rollup.distinct_ja3", "long"),
    ("tlstriage.rollup.distinct_peers", "long"),
    ("tlstriage.rollup.tcp_streams", "long"),
];

/// The certificate fields ECS has under both `tls.server` and `tls.client`.
const CERT_FIELDS: &[(&str, &str)] = &[
    ("subject", "keyword"),
    ("issuer", "keyword"),
    ("not_before", "date"),
    ("not_after", "date"),
    ("hash.sha256", "keyword"),
    ("x509.subject.distinguished_name", "keyword"),
    ("x509.subject.common_name", "keyword"),
    ("x509.issuer.distinguished_name", "keyword"),
    ("x509.issuer.common_name", "keyword"),
    ("x509.serial_number", "keyword"),
    ("x509.not_before", "date"),
    ("x509.not_after", "date"),
    ("x509.alternative_names", "keyword"),
    ("x509.public_key_algorithm", "keyword"),
    ("x509.public_key_size", "long"),
    ("x509.signature_algorithm", "keyword"),
];

/// Every field path with its type, certificate fields of both sides included.
pub fn ecs_fields() -> Vec<(String, &'static str)> {
    let mut all: Vec<(String, &'static str)> = ECS_FIELDS
        .iter()
        .map(|(p, t)| (p.to_string(), *t))
        .collect();
    for side in ["tls.server", "tls.client"] {
        all.extend(CERT_FIELDS.iter().map(|(p, t)| (format!("{side}.{p}"), *t)));
    }
    all
}

/// The composable index template (`PUT _index_template/tlstriage`).
pub fn ecs_template() -> Value {
    let mut props = Map::new();
    for (path, ty) in ecs_fields() {
        let mut cur = &mut props;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                let mut field = json!({ "type": ty });
                if ty == "keyword" {
                    field["ignore_above"] = json!(1024);
                }
                cur.insert(part.to_string(), field);
            } else {
                let obj = cur
                    .entry(part.to_string())
                    .or_insert_with(|| json!({ "properties": {} }));
                cur = obj["properties"]
                    .as_object_mut()
                    .expect("an object field has properties");
            }
        }
    }
    json!({
        "index_patterns": ["tlstriage-*"],
        "priority": 200,
        "_meta": {
            "description": "tlstriage --format ecs documents (findings, tls_flow, rollup)",
            "ecs_version": ECS_VERSION,
        },
        "template": {
            "mappings": {
                "dynamic": "strict",
                "date_detection": false,
                "properties": props,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_appears_once_and_paths_do_not_collide() {
        let all = ecs_fields();
        let mut seen = std::collections::BTreeSet::new();
        for (p, _) in &all {
            assert!(seen.insert(p.clone()), "{p} twice");
        }
        // No field is both a leaf and an object.
        for (p, _) in &all {
            let prefix = format!("{p}.");
            assert!(
                !all.iter().any(|(q, _)| q.starts_with(&prefix)),
                "{p} is a leaf and an object"
            );
        }
        let t = ecs_template();
        let sha = &t["template"]["mappings"]["properties"]["tls"]["properties"]["server"]
            ["properties"]["hash"]["properties"]["sha256"];
        assert_eq!(sha["type"], "keyword");
    }
}
