//! Capture-level passes over all flows of one capture, emitted at its end:
//!
//! * **Roll-ups** (`read --summary-by server|client|sni`): findings aggregated per server
//!   (`ip:port`), client (`ip`) or SNI — "10.0.0.2:443 — 412 aborted handshakes since
//!   10:02:11, all from clients offering at most TLS 1.1; 3 distinct client JA3s". NDJSON
//!   `"type": "rollup"` records, biggest first; the human summary leads with them.
//! * **Issuer watch** (always on): a leaf certificate whose issuer differs from the issuer the
//!   same SNI presents on most other flows of the capture suggests TLS interception (a proxy
//!   or security product re-signing certificates). Each such flow gets a
//!   `tls_interception_suspected` finding, emitted at the end of the capture.
//!
//! Both keep bounded state: per key counters and a few example streams.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::records::SCHEMA_VERSION;
use crate::fingerprint::ja3;
use crate::flow::FlowRecord;
use crate::model::{format_ts_us, TimestampUs};
use crate::rules::{client_max_version, Finding, Kind, Severity};
use crate::tls::names::version_name;

/// What findings are rolled up by.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RollupBy {
    Server,
    Client,
    Sni,
    /// The flow's failure cause: `handshake_aborted`'s likely_cause, `connection_failed`'s
    /// reason (as `connection_failed:REASON`), else the kind of its headline finding.
    Cause,
}

impl RollupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            RollupBy::Server => "server",
            RollupBy::Client => "client",
            RollupBy::Sni => "sni",
            RollupBy::Cause => "cause",
        }
    }

    fn key(self, flow: &FlowRecord, findings: &[Finding]) -> Option<String> {
        Some(match self {
            RollupBy::Cause => {
                let head = super::groups::headline(findings)?;
                match head.kind {
                    Kind::HandshakeAborted => head.evidence_str("likely_cause")?.to_string(),
                    Kind::ConnectionFailed => {
                        format!("connection_failed:{}", head.evidence_str("reason")?)
                    }
                    k => k.as_str().to_string(),
                }
            }
            RollupBy::Server => match flow.server.ip {
                std::net::IpAddr::V6(ip) => format!("[{ip}]:{}", flow.server.port),
                ip => format!("{ip}:{}", flow.server.port),
            },
            RollupBy::Client => flow.client.ip.to_string(),
            RollupBy::Sni => flow.sni()?.to_string(),
        })
    }
}

/// Example streams kept per roll-up key.
const MAX_EXAMPLES: usize = 10;
/// Distinct values (JA3s, clients) counted exactly up to this many per key.
const MAX_DISTINCT: usize = 10_000;

#[derive(Default)]
struct Group {
    flows: u64,
    flows_with_findings: u64,
    findings: BTreeMap<&'static str, u64>,
    worst: Option<Severity>,
    aborted: u64,
    causes: BTreeMap<String, u64>,
    /// `connection_failed` by reason: a scan's roll-up says "30 refused", not just a count.
    failure_reasons: BTreeMap<String, u64>,
    /// Best version each aborted flow's client offers.
    client_max: BTreeMap<String, u64>,
    ja3: BTreeSet<String>,
    peers: BTreeSet<String>,
    /// For a roll-up by cause: the server:port pairs it happened at.
    servers: BTreeSet<String>,
    first_ts: Option<TimestampUs>,
    last_ts: Option<TimestampUs>,
    streams: Vec<u64>,
}

/// One `rollup` record (fields in serialized order).
#[derive(Serialize, Debug)]
pub struct RollupRecord<'a> {
    pub aborted_handshakes: u64,
    pub by: &'static str,
    pub capture: &'a str,
    pub client_max_versions: &'a BTreeMap<String, u64>,
    pub distinct_ja3: usize,
    pub distinct_peers: usize,
    pub findings: &'a BTreeMap<&'static str, u64>,
    pub first_ts: Option<String>,
    pub flows: u64,
    pub flows_with_findings: u64,
    pub key: &'a str,
    pub last_ts: Option<String>,
    pub likely_causes: &'a BTreeMap<String, u64>,
    pub schema: u32,
    pub severity: Option<&'static str>,
    pub summary: String,
    pub tcp_streams: &'a [u64],
    pub ts: String,
    #[serde(rename = "type")]
    pub record_type: &'static str,
    pub wireshark_filter: String,
}

/// Aggregates findings per server, client or SNI over one capture.
pub struct Rollups {
    by: Vec<RollupBy>,
    groups: HashMap<(RollupBy, String), Group>,
}

impl Rollups {
    pub fn new(by: &[RollupBy]) -> Self {
        let mut by = by.to_vec();
        by.sort();
        by.dedup();
        Rollups {
            by,
            groups: HashMap::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by.is_empty()
    }

    pub fn add(&mut self, flow: &FlowRecord, findings: &[Finding]) {
        let relevant: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.severity >= Severity::Low)
            .collect();
        let ch = flow.tls.as_ref().and_then(|t| t.client_hello.as_ref());
        for &by in &self.by {
            let Some(key) = by.key(flow, findings) else {
                continue;
            };
            let g = self.groups.entry((by, key)).or_default();
            g.flows += 1;
            if relevant.is_empty() {
                continue;
            }
            g.flows_with_findings += 1;
            for f in &relevant {
                *g.findings.entry(f.kind.as_str()).or_default() += 1;
                g.worst = g.worst.max(Some(f.severity));
                g.first_ts = Some(g.first_ts.map_or(f.ts_us, |t| t.min(f.ts_us)));
                g.last_ts = Some(g.last_ts.map_or(f.ts_us, |t| t.max(f.ts_us)));
                if f.kind == Kind::ConnectionFailed {
                    let reason = f.evidence_str("reason").unwrap_or("unknown");
                    *g.failure_reasons.entry(reason.to_string()).or_default() += 1;
                }
                if f.kind == Kind::HandshakeAborted {
                    g.aborted += 1;
                    if let Some(c) = f.evidence_str("likely_cause") {
                        *g.causes.entry(c.to_string()).or_default() += 1;
                    }
                    if let Some(ch) = ch {
                        *g.client_max
                            .entry(version_name(client_max_version(ch)))
                            .or_default() += 1;
                    }
                }
            }
            if let Some(ch) = ch {
                if g.ja3.len() < MAX_DISTINCT {
                    g.ja3.insert(ja3(ch).hash);
                }
            }
            let peer = match by {
                RollupBy::Client => by_server_key(flow),
                _ => flow.client.ip.to_string(),
            };
            if g.peers.len() < MAX_DISTINCT {
                g.peers.insert(peer);
            }
            if by == RollupBy::Cause && g.servers.len() < MAX_DISTINCT {
                g.servers.insert(by_server_key(flow));
            }
            if g.streams.len() < MAX_EXAMPLES {
                g.streams.push(flow.tcp_stream);
            }
        }
    }

    /// The groups with findings, biggest first (aborted handshakes, then findings).
    fn ranked(&self) -> Vec<(&(RollupBy, String), &Group)> {
        let mut v: Vec<_> = self
            .groups
            .iter()
            .filter(|(_, g)| g.flows_with_findings > 0)
            .collect();
        v.sort_by(|a, b| {
            let total = |g: &Group| g.findings.values().sum::<u64>();
            (b.1.aborted, total(b.1), b.1.worst)
                .cmp(&(a.1.aborted, total(a.1), a.1.worst))
                .then(a.0.cmp(b.0))
        });
        v
    }

    /// One `rollup` record per group with findings, biggest first.
    pub fn records<'a>(&'a self, capture: &'a str) -> Vec<RollupRecord<'a>> {
        self.ranked()
            .into_iter()
            .map(|((by, key), g)| RollupRecord {
                aborted_handshakes: g.aborted,
                by: by.as_str(),
                capture,
                client_max_versions: &g.client_max,
                distinct_ja3: g.ja3.len(),
                distinct_peers: g.peers.len(),
                findings: &g.findings,
                first_ts: g.first_ts.map(format_ts_us),
                flows: g.flows,
                flows_with_findings: g.flows_with_findings,
                key,
                last_ts: g.last_ts.map(format_ts_us),
                likely_causes: &g.causes,
                schema: SCHEMA_VERSION,
                severity: g.worst.map(Severity::as_str),
                summary: sentence(*by, key, g),
                tcp_streams: &g.streams,
                ts: format_ts_us(g.last_ts.unwrap_or(0)),
                record_type: "rollup",
                wireshark_filter: streams_filter(&g.streams),
            })
            .collect()
    }

    /// The human lines, biggest first.
    pub fn lines(&self) -> Vec<String> {
        self.ranked()
            .into_iter()
            .map(|((by, key), g)| sentence(*by, key, g))
            .collect()
    }
}

fn by_server_key(flow: &FlowRecord) -> String {
    RollupBy::Server.key(flow, &[]).unwrap_or_default()
}

/// `tcp.stream in {0 3 7}` for the example streams.
fn streams_filter(streams: &[u64]) -> String {
    let list: Vec<String> = streams.iter().map(u64::to_string).collect();
    format!("tcp.stream in {{{}}}", list.join(" "))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "10.0.0.2:443 — 412 aborted handshakes since 10:02:11, all from clients offering at
/// most TLSv1.1 (412 version mismatch); 3 distinct client JA3s".
fn sentence(by: RollupBy, key: &str, g: &Group) -> String {
    let since = g
        .first_ts
        .map(|t| {
            let full = format_ts_us(t);
            format!(" since {}", full.get(11..19).unwrap_or(&full))
        })
        .unwrap_or_default();
    let mut parts = Vec::new();
    if g.aborted > 0 {
        let mut s = format!(
            "{}{since}",
            plural(g.aborted, "aborted handshake", "aborted handshakes")
        );
        if let Some((best, n)) = g.client_max.iter().max_by_key(|(_, n)| **n) {
            let offering = format!("clients offering at most {best}");
            if *n == g.aborted {
                s.push_str(&format!(", all from {offering}"));
            } else {
                s.push_str(&format!(", {n} from {offering}"));
            }
        }
        let causes: Vec<String> = {
            let mut c: Vec<(&String, &u64)> = g.causes.iter().collect();
            c.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            c.iter()
                .map(|(cause, n)| format!("{n} {}", cause.replace('_', " ")))
                .collect()
        };
        if !causes.is_empty() {
            s.push_str(&format!(" ({})", causes.join(", ")));
        }
        parts.push(s);
    }
    let others: Vec<String> = g
        .findings
        .iter()
        .filter(|(k, _)| **k != "handshake_aborted")
        .map(|(k, n)| {
            if *k != "connection_failed" {
                return format!("{n} {k}");
            }
            let mut r: Vec<(&String, &u64)> = g.failure_reasons.iter().collect();
            r.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let r: Vec<String> = r.iter().map(|(k, n)| format!("{n} {k}")).collect();
            format!("{n} {k} ({})", r.join(", "))
        })
        .collect();
    if !others.is_empty() {
        let lead = if g.aborted > 0 { "also " } else { "" };
        parts.push(format!("{lead}{}", others.join(", ")));
    }
    let peers = match by {
        RollupBy::Client => plural(g.peers.len() as u64, "server:port", "server:ports"),
        RollupBy::Cause => format!(
            "{}, {}",
            plural(g.servers.len() as u64, "server:port", "server:ports"),
            plural(g.peers.len() as u64, "client", "clients")
        ),
        _ => plural(g.peers.len() as u64, "client", "clients"),
    };
    parts.push(format!(
        "{peers}, {}",
        plural(
            g.ja3.len() as u64,
            "distinct client JA3",
            "distinct client JA3s"
        )
    ));
    format!("{} {key} — {}", by.as_str(), parts.join("; "))
}

/// One flow that presented a leaf certificate for an SNI.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn values(recs: Vec<RollupRecord<'_>>) -> Vec<Value> {
        recs.iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect()
    }
    use crate::model::Dir;
    use crate::rules::evaluate;
    use crate::rules::testutil::*;
    use crate::tls::types::ClientHello;
    use crate::tls::HandshakeStage;

    /// An old client refused by the server with protocol_version on tcp.stream `stream`.
    fn refused(stream: u64, client: u8) -> FlowRecord {
        let ch = ClientHello {
            version: 0x0302,
            ..client_hello()
        };
        let mut f = tls_flow(
            ch,
            None,
            vec![alert(Dir::ToClient, 5, 2, 70)],
            HandshakeStage::ClientHello,
        );
        f.tcp_stream = stream;
        f.client.ip = std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 1, client));
        close(&mut f, Dir::ToClient, false, 6);
        f
    }

    #[test]
    fn rollup_by_server_counts_aborts_clients_and_versions() {
        let mut r = Rollups::new(&[RollupBy::Server, RollupBy::Sni]);
        for (i, c) in [(0, 1), (1, 2), (2, 2)] {
            let f = refused(i, c);
            r.add(&f, &evaluate(&f));
        }
        let ok = healthy12();
        r.add(&ok, &evaluate(&ok));
        let recs = values(r.records("x.pcap"));
        // sni first (same counts, "server" < "sni" breaks ties alphabetically by key).
        assert_eq!(recs.len(), 2);
        let server = recs.iter().find(|r| r["by"] == "server").unwrap();
        assert_eq!(server["key"], "10.0.0.2:443");
        assert_eq!(server["flows"], 4);
        assert_eq!(server["aborted_handshakes"], 3);
        assert_eq!(server["likely_causes"]["version_mismatch"], 3);
        assert_eq!(server["client_max_versions"]["TLSv1.1"], 3);
        assert_eq!(server["distinct_peers"], 2);
        assert_eq!(server["distinct_ja3"], 1);
        assert_eq!(server["tcp_streams"], json!([0, 1, 2]));
        assert_eq!(server["wireshark_filter"], "tcp.stream in {0 1 2}");
        assert_eq!(
            server["summary"],
            "server 10.0.0.2:443 — 3 aborted handshakes since 22:13:20, all from clients offering at most \
             TLSv1.1 (3 version mismatch); also 3 obsolete_version, 3 tls_alert, 3 version_mismatch; \
             2 clients, 1 distinct client JA3"
        );
        assert_eq!(r.lines().len(), 2);
    }

    #[test]
    fn biggest_first_and_clean_keys_left_out() {
        let mut r = Rollups::new(&[RollupBy::Client]);
        for (i, c) in [(0, 1), (1, 2), (2, 2)] {
            let f = refused(i, c);
            r.add(&f, &evaluate(&f));
        }
        let recs = values(r.records("x.pcap"));
        assert_eq!(recs[0]["key"], "10.0.1.2");
        assert_eq!(recs[0]["aborted_handshakes"], 2);
        assert_eq!(recs[1]["key"], "10.0.1.1");
        let mut clean = Rollups::new(&[RollupBy::Client]);
        let ok = healthy12();
        clean.add(&ok, &evaluate(&ok));
        assert!(values(clean.records("x")).is_empty());
    }

    #[test]
    fn rollup_by_cause_joins_servers_and_clients() {
        let mut r = Rollups::new(&[RollupBy::Cause]);
        for (i, c) in [(0, 1), (1, 2), (2, 2)] {
            let mut f = refused(i, c);
            f.server.port = 443 + i as u16;
            r.add(&f, &evaluate(&f));
        }
        let ok = healthy12();
        r.add(&ok, &evaluate(&ok));
        let recs = values(r.records("x.pcap"));
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0]["by"], "cause");
        assert_eq!(recs[0]["key"], "version_mismatch");
        assert_eq!(recs[0]["flows"], 3);
        assert_eq!(recs[0]["aborted_handshakes"], 3);
        assert!(
            recs[0]["summary"]
                .as_str()
                .unwrap()
                .ends_with("; 3 server:ports, 2 clients, 1 distinct client JA3"),
            "{}",
            recs[0]["summary"]
        );
    }
}
