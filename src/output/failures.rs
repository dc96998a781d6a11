//! The human summary's connection failures: one line per server:port with a count, instead of
//! a block per flow, so that a port scan (one client, many ports, thousands of refused or
//! unanswered SYNs) stays a screenful, and a client that failed on many ports is named once.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;

use super::printable;
use crate::flow::FlowRecord;
use crate::rules::{Finding, Severity};

/// server:port lines shown; the rest are counted in one line.
const SHOWN: usize = 20;
/// Distinct server:port pairs tracked; beyond, failures are only counted.
const MAX_KEYS: usize = 10_000;
/// Example streams per server:port.
const EXAMPLES: usize = 3;
/// A client that failed on at least this many server:port pairs is called out as a scan.
const SCAN_PORTS: u64 = 10;

#[derive(Default)]
struct PerServer {
    count: u64,
    worst: Option<Severity>,
    reasons: BTreeMap<String, u64>,
    /// The single failure's summary, kept while there is only one.
    first_summary: String,
    streams: Vec<u64>,
}

#[derive(Default)]
pub struct Failures {
    servers: HashMap<String, PerServer>,
    /// Failures on server:port pairs past [`MAX_KEYS`].
    untracked: u64,
    /// Per client: the server:port pairs whose first failure was its own (exact for the one
    /// client of a scan, without a set of pairs per client), and its failures.
    clients: BTreeMap<IpAddr, (u64, u64)>,
}

fn server_key(flow: &FlowRecord) -> String {
    match flow.server.ip {
        IpAddr::V6(ip) => format!("[{ip}]:{}", flow.server.port),
        ip => format!("{ip}:{}", flow.server.port),
    }
}

impl Failures {
    pub fn add(&mut self, flow: &FlowRecord, f: &Finding) {
        let key = server_key(flow);
        let new_pair = !self.servers.contains_key(&key);
        if self.clients.len() < MAX_KEYS || self.clients.contains_key(&flow.client.ip) {
            let c = self.clients.entry(flow.client.ip).or_default();
            c.0 += u64::from(new_pair);
            c.1 += 1;
        }
        if new_pair && self.servers.len() >= MAX_KEYS {
            self.untracked += 1;
            return;
        }
        let s = self.servers.entry(key).or_default();
        s.count += 1;
        s.worst = s.worst.max(Some(f.severity));
        let reason = f.evidence_str("reason").unwrap_or("unknown");
        let label = match f.evidence_str("answered_by") {
            Some(by) => format!("{reason} ({by})"),
            None => reason.to_string(),
        };
        *s.reasons.entry(label).or_default() += 1;
        if s.count == 1 {
            s.first_summary = f.summary.clone();
        }
        if s.streams.len() < EXAMPLES {
            s.streams.push(flow.tcp_stream);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.untracked == 0
    }

    pub fn render(&self, out: &mut String) {
        if self.is_empty() {
            return;
        }
        let total: u64 = self.servers.values().map(|s| s.count).sum::<u64>() + self.untracked;
        let _ = writeln!(
            out,
            "\nConnection failures: {total} on {}{} server:port pair(s), most first:",
            self.servers.len(),
            if self.untracked > 0 { "+" } else { "" }
        );
        for (client, (pairs, n)) in &self.clients {
            if *pairs >= SCAN_PORTS {
                let _ = writeln!(
                    out,
                    "  client {client}: {n} failures on {pairs} server:port pairs: a port scan, or a client with a wrong target list"
                );
            }
        }
        let mut rows: Vec<(&String, &PerServer)> = self.servers.iter().collect();
        rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        for (key, s) in rows.iter().take(SHOWN) {
            let streams: Vec<String> = s.streams.iter().map(u64::to_string).collect();
            let sev = s.worst.map_or("-", Severity::as_str);
            if total == 1 {
                let _ = writeln!(
                    out,
                    "  [{sev}] {}  1x  {}  (tcp.stream {})",
                    printable(key),
                    printable(&s.first_summary),
                    streams.join(", ")
                );
                continue;
            }
            let reasons: Vec<String> = s
                .reasons
                .iter()
                .map(|(r, n)| {
                    if s.count == 1 {
                        r.clone()
                    } else {
                        format!("{n} {r}")
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "  [{sev}] {}  {}x  {}  (tcp.stream {}{})",
                printable(key),
                s.count,
                reasons.join(", "),
                streams.join(", "),
                if s.count as usize > s.streams.len() {
                    ", ..."
                } else {
                    ""
                }
            );
        }
        let hidden = rows.len().saturating_sub(SHOWN);
        if hidden > 0 || self.untracked > 0 {
            let more: u64 =
                rows.iter().skip(SHOWN).map(|(_, s)| s.count).sum::<u64>() + self.untracked;
            let plus = if self.untracked > 0 { "+" } else { "" };
            let _ = writeln!(
                out,
                "  ... {more} more failure(s) on {hidden}{plus} other server:port pair(s) (all of them: --summary-by server, or the NDJSON records)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Kind;

    fn failure(reason: &str) -> Finding {
        Finding::new(Kind::ConnectionFailed, Severity::Low, 0)
            .summary(format!("Connection {reason}."))
            .evidence(serde_json::json!({ "reason": reason, "answered_by": null }))
    }

    #[test]
    fn counts_per_server_port_and_stays_bounded() {
        let mut f = Failures::default();
        let mut flow = crate::rules::testutil::flow();
        for i in 0..(MAX_KEYS + 5) {
            flow.server.port = (i % 60_000) as u16;
            flow.server.ip = IpAddr::from([10, 1, (i / 60_000) as u8, 1]);
            f.add(&flow, &failure("no_answer"));
        }
        // Three more on one pair already seen.
        flow.server.port = 7;
        flow.server.ip = IpAddr::from([10, 1, 0, 1]);
        for _ in 0..3 {
            f.add(&flow, &failure("refused"));
        }
        assert_eq!(f.servers.len(), MAX_KEYS);
        assert_eq!(f.untracked, 5);
        let mut out = String::new();
        f.render(&mut out);
        let lines: Vec<&str> = out.lines().collect();
        // A blank line, the header, the scan line, the shown pairs, the rest in one line.
        assert_eq!(lines.len(), 1 + 1 + 1 + SHOWN + 1, "{out}");
        assert!(lines[1].starts_with("Connection failures: 10008 on 10000+ server:port pair(s)"));
        assert!(lines[2].contains("client 10.0.0.1: 10008 failures on 10005 server:port pairs"));
        assert_eq!(
            lines[3],
            "  [low] 10.1.0.1:7  4x  1 no_answer, 3 refused  (tcp.stream 0, 0, 0, ...)"
        );
        assert!(
            lines
                .last()
                .unwrap()
                .contains("9985 more failure(s) on 9980+ other"),
            "{out}"
        );
    }
}
