//! Failure groups: the capture-wide picture the summaries lead with. Each flow with a problem
//! (a finding at or above low) joins one group by its headline finding: the same kind, the
//! same likely cause (or `connection_failed` reason), the same target (the SNI it asked for,
//! else the server's address and port; for connection failures the server's address, so a
//! scan of a thousand ports of one host is one group). A group counts its flows, clients,
//! servers, first and last time, keeps one example flow and the fix in one line, so identical
//! findings on thousands of flows are said once.
//!
//! The state is bounded: at most [`MAX_GROUPS`] groups (the flows of any further group are
//! counted, not kept), distinct clients and servers counted up to [`MAX_DISTINCT`] per group
//! and per cause, and the failure timeline in at most [`MAX_BUCKETS`] buckets (wider ones
//! as the capture grows longer).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use super::fix::finding_fix;
use crate::flow::{Endpoint, FlowRecord, FlowRef};
use crate::model::{FrameNo, TimestampUs};
use crate::rules::{Finding, Kind, Severity};

/// Groups tracked per capture; the flows of any further group are only counted.
pub const MAX_GROUPS: usize = 2_000;
/// Distinct clients and servers counted exactly per group and per cause.
pub const MAX_DISTINCT: usize = 10_000;
/// Buckets of the failure timeline; past it, the buckets widen.
pub const MAX_BUCKETS: usize = 2048;
/// Bucket widths of the timeline, in seconds.
const WIDTHS: &[i64] = &[
    1, 5, 10, 30, 60, 300, 600, 1800, 3600, 21_600, 86_400, 604_800, 2_592_000, 31_536_000,
];
/// Example streams kept per group (for a Wireshark filter over several).
const STREAMS: usize = 10;

/// What a group is: the headline kind, its cause or reason, and its target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub kind: Kind,
    /// `likely_cause` of `handshake_aborted`, `reason` of `connection_failed`, else empty.
    pub cause: String,
    /// The SNI, else the server's `ip:port` (`[ip]:port` for IPv6; only the address for
    /// connection failures).
    pub target: String,
}

impl GroupKey {
    /// The cause in words: "certificate rejected", "connection refused", "weak cipher".
    pub fn cause_words(&self) -> String {
        cause_words(self.kind, &self.cause)
    }
}

/// The cause in words, for a headline kind and its cause or reason.
pub fn cause_words(kind: Kind, cause: &str) -> String {
    match (kind, cause) {
        (Kind::HandshakeAborted, c) if !c.is_empty() => c.replace('_', " "),
        (Kind::ConnectionFailed, "refused") => "connection refused".into(),
        (Kind::ConnectionFailed, "no_answer") => "no answer to the SYN".into(),
        (Kind::ConnectionFailed, "server_closed") => "closed by the server before any byte".into(),
        (Kind::ConnectionFailed, "server_reset") => "reset by the server before any byte".into(),
        (Kind::ConnectionFailed, r) if r.starts_with("icmp_") => {
            format!("ICMP {}", r["icmp_".len()..].replace('_', " "))
        }
        (k, _) => k.as_str().replace('_', " "),
    }
}

/// One flow of a group, shown as its example.
#[derive(Debug, Clone)]
pub struct Example {
    pub tcp_stream: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub first_frame: FrameNo,
    pub last_frame: FrameNo,
    /// The frames the headline finding cites.
    pub frames: Vec<FrameNo>,
    pub summary: String,
    pub explanation: String,
}

/// A set of distinct values, counted exactly up to [`MAX_DISTINCT`] ("10000+" beyond).
#[derive(Debug)]
pub struct Distinct<T: std::hash::Hash + Eq> {
    seen: HashSet<T>,
    overflow: bool,
}

impl<T: std::hash::Hash + Eq> Default for Distinct<T> {
    fn default() -> Self {
        Distinct {
            seen: HashSet::new(),
            overflow: false,
        }
    }
}

impl<T: std::hash::Hash + Eq> Distinct<T> {
    fn insert(&mut self, v: T) {
        if self.seen.len() < MAX_DISTINCT {
            self.seen.insert(v);
        } else if !self.seen.contains(&v) {
            self.overflow = true;
        }
    }

    pub fn count(&self) -> usize {
        self.seen.len()
    }

    /// "12", or "10000+" once the cap was reached.
    pub fn text(&self) -> String {
        format!(
            "{}{}",
            self.seen.len(),
            if self.overflow { "+" } else { "" }
        )
    }
}

/// The flows that share a headline finding.
pub struct Group {
    pub key: GroupKey,
    pub severity: Severity,
    pub flows: u64,
    pub first_ts: TimestampUs,
    pub last_ts: TimestampUs,
    pub clients: Distinct<IpAddr>,
    /// Server `ip:port` pairs.
    pub servers: Distinct<String>,
    pub example: Example,
    pub fix: &'static str,
    /// The other kinds raised on the group's flows, with their counts.
    pub also: BTreeMap<&'static str, u64>,
    /// The first streams of the group.
    pub streams: Vec<u64>,
    /// The example flow and its findings, kept for the report's ladder.
    pub example_flow: Option<Box<(FlowRecord, Vec<Finding>)>>,
    /// Whether it counts as a failed connection.
    pub failed: bool,
}

/// A cause of failed connections over the capture, for the verdict.
#[derive(Default)]
pub struct CauseTally {
    pub flows: u64,
    pub clients: Distinct<IpAddr>,
    pub servers: Distinct<String>,
}

/// Every group of one capture.
#[derive(Default)]
pub struct Triage {
    /// Keep each group's example flow (the HTML report draws it).
    keep_flows: bool,
    groups: HashMap<GroupKey, Group>,
    /// Flows of groups past [`MAX_GROUPS`], and how many of them failed.
    pub untracked_flows: u64,
    pub untracked_failed: u64,
    /// Flows with a problem, and failed connections (both counted for every flow).
    pub problem_flows: u64,
    pub failed: u64,
    /// Failed connections per cause in words.
    pub causes: HashMap<String, CauseTally>,
    /// Failed connections over time, by cause in words.
    pub timeline: Timeline,
}

/// Failures counted per time bucket and cause; buckets start as seconds and widen (to 5 s,
/// 10 s, 30 s, a minute, ...) whenever there would be more than [`MAX_BUCKETS`].
#[derive(Debug, Default)]
pub struct Timeline {
    width_index: usize,
    /// Bucket start (unix seconds, a multiple of the width) -> cause -> failures.
    buckets: BTreeMap<i64, BTreeMap<String, u64>>,
}

impl Timeline {
    pub fn add(&mut self, ts_us: TimestampUs, cause: &str) {
        let width = self.width();
        let start = ts_us.div_euclid(1_000_000).div_euclid(width) * width;
        let per_cause = self.buckets.entry(start).or_default();
        match per_cause.get_mut(cause) {
            Some(n) => *n += 1,
            None => {
                per_cause.insert(cause.to_string(), 1);
            }
        }
        while self.buckets.len() > MAX_BUCKETS && self.width_index + 1 < WIDTHS.len() {
            self.width_index += 1;
            self.buckets = rebucket(std::mem::take(&mut self.buckets), self.width());
        }
    }

    /// The bucket width in seconds.
    pub fn width(&self) -> i64 {
        WIDTHS[self.width_index]
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The buckets widened until there are at most `bars` over the span (first to last
    /// bucket), and their width: (width in seconds, bucket start -> cause -> failures).
    pub fn bars(&self, bars: usize) -> (i64, BTreeMap<i64, BTreeMap<String, u64>>) {
        let (Some(first), Some(last)) = (
            self.buckets.keys().next().copied(),
            self.buckets.keys().next_back().copied(),
        ) else {
            return (self.width(), BTreeMap::new());
        };
        let mut i = self.width_index;
        while i + 1 < WIDTHS.len() && (last - first) / WIDTHS[i] + 1 > bars as i64 {
            i += 1;
        }
        let out = self
            .buckets
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect::<BTreeMap<_, _>>();
        (WIDTHS[i], rebucket(out, WIDTHS[i]))
    }
}

fn rebucket(
    buckets: BTreeMap<i64, BTreeMap<String, u64>>,
    width: i64,
) -> BTreeMap<i64, BTreeMap<String, u64>> {
    let mut out: BTreeMap<i64, BTreeMap<String, u64>> = BTreeMap::new();
    for (start, causes) in buckets {
        let into = out.entry(start.div_euclid(width) * width).or_default();
        for (cause, n) in causes {
            *into.entry(cause).or_default() += n;
        }
    }
    out
}

fn server_text(ep: Endpoint) -> String {
    match ep.ip {
        IpAddr::V6(ip) => format!("[{ip}]:{}", ep.port),
        ip => format!("{ip}:{}", ep.port),
    }
}

/// Whether a headline kind means the connection failed (rather than worked with a problem).
fn is_failure(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::HandshakeAborted
            | Kind::ConnectionFailed
            | Kind::PlaintextToTlsPort
            | Kind::TlsToPlaintextPort
            | Kind::ProxyConnectFailed
    )
}

/// The finding a flow is grouped by: the aborted handshake, else the failed connection,
/// else the worst (the first kind in the registry's order among equals).
pub fn headline(findings: &[Finding]) -> Option<&Finding> {
    let relevant = || findings.iter().filter(|f| f.severity >= Severity::Low);
    relevant()
        .find(|f| f.kind == Kind::HandshakeAborted)
        .or_else(|| relevant().find(|f| f.kind == Kind::ConnectionFailed))
        .or_else(|| relevant().min_by_key(|f| (std::cmp::Reverse(f.severity), f.kind)))
}

fn key_of(f: &Finding, client_server: (Endpoint, Endpoint), sni: Option<&str>) -> GroupKey {
    let (_, server) = client_server;
    let cause = match f.kind {
        Kind::HandshakeAborted => f.evidence_str("likely_cause").unwrap_or("unknown"),
        Kind::ConnectionFailed => f.evidence_str("reason").unwrap_or("unknown"),
        _ => "",
    };
    let target = match (f.kind, sni) {
        (Kind::ConnectionFailed, _) => server.ip.to_string(),
        (_, Some(name)) => name.to_string(),
        (_, None) => server_text(server),
    };
    GroupKey {
        kind: f.kind,
        cause: cause.to_string(),
        target,
    }
}

impl Triage {
    pub fn new(keep_flows: bool) -> Self {
        Triage {
            keep_flows,
            ..Default::default()
        }
    }

    /// A finished flow and its findings.
    pub fn add(&mut self, flow: &FlowRecord, findings: &[Finding]) {
        let Some(head) = headline(findings) else {
            return;
        };
        let key = key_of(head, (flow.client, flow.server), flow.sni());
        let example = || Example {
            tcp_stream: flow.tcp_stream,
            client: flow.client,
            server: flow.server,
            first_frame: flow.first_frame,
            last_frame: flow.last_frame,
            frames: head.frames.clone(),
            summary: head.summary.clone(),
            explanation: head.explanation.clone(),
        };
        let keep = self.keep_flows;
        let kept = || keep.then(|| Box::new((flow.clone(), findings.to_vec())));
        self.tally(&key, head, flow.client.ip, server_text(flow.server));
        let also = findings
            .iter()
            .filter(|f| f.severity >= Severity::Low && f.kind != head.kind);
        let fix = finding_fix(head, findings);
        let Some(g) = self.group(key, head, example, fix, kept) else {
            return;
        };
        g.clients.insert(flow.client.ip);
        g.servers.insert(server_text(flow.server));
        for f in also {
            *g.also.entry(f.kind.as_str()).or_default() += 1;
        }
        if g.streams.len() < STREAMS {
            g.streams.push(flow.tcp_stream);
        }
    }

    /// A capture rule's finding about the flow `at` (never a failed connection).
    pub fn add_at(&mut self, at: &FlowRef, f: &Finding) {
        if f.severity < Severity::Low {
            return;
        }
        let key = key_of(f, (at.client, at.server), f.evidence_str("sni"));
        let example = || Example {
            tcp_stream: at.tcp_stream,
            client: at.client,
            server: at.server,
            first_frame: f.frames.first().copied().unwrap_or(0),
            last_frame: f.frames.last().copied().unwrap_or(0),
            frames: f.frames.clone(),
            summary: f.summary.clone(),
            explanation: f.explanation.clone(),
        };
        self.tally(&key, f, at.client.ip, server_text(at.server));
        let fix = finding_fix(f, std::slice::from_ref(f));
        if let Some(g) = self.group(key, f, example, fix, || None) {
            g.clients.insert(at.client.ip);
            g.servers.insert(server_text(at.server));
            if g.streams.len() < STREAMS {
                g.streams.push(at.tcp_stream);
            }
        }
    }

    /// The capture-wide counters of one flow's headline finding.
    fn tally(&mut self, key: &GroupKey, head: &Finding, client: IpAddr, server: String) {
        self.problem_flows += 1;
        if !is_failure(key.kind) {
            return;
        }
        self.failed += 1;
        let words = key.cause_words();
        self.timeline.add(head.ts_us, &words);
        let c = self.causes.entry(words).or_default();
        c.flows += 1;
        c.clients.insert(client);
        c.servers.insert(server);
    }

    /// The group of `key`, made on its first flow; `None` past [`MAX_GROUPS`].
    fn group(
        &mut self,
        key: GroupKey,
        head: &Finding,
        example: impl FnOnce() -> Example,
        fix: &'static str,
        kept: impl FnOnce() -> Option<Box<(FlowRecord, Vec<Finding>)>>,
    ) -> Option<&mut Group> {
        if !self.groups.contains_key(&key) && self.groups.len() >= MAX_GROUPS {
            self.untracked_flows += 1;
            self.untracked_failed += u64::from(is_failure(key.kind));
            return None;
        }
        let failed = is_failure(key.kind);
        let g = self.groups.entry(key.clone()).or_insert_with(|| Group {
            key,
            severity: head.severity,
            flows: 0,
            first_ts: head.ts_us,
            last_ts: head.ts_us,
            clients: Distinct::default(),
            servers: Distinct::default(),
            example: example(),
            fix,
            also: BTreeMap::new(),
            streams: Vec::new(),
            example_flow: kept(),
            failed,
        });
        g.flows += 1;
        g.severity = g.severity.max(head.severity);
        g.first_ts = g.first_ts.min(head.ts_us);
        g.last_ts = g.last_ts.max(head.ts_us);
        Some(g)
    }

    pub fn is_empty(&self) -> bool {
        self.problem_flows == 0
    }

    /// The groups, worst first, then the most flows, then the earliest.
    pub fn ranked(&self) -> Vec<&Group> {
        let mut v: Vec<&Group> = self.groups.values().collect();
        v.sort_by(|a, b| {
            (b.severity, b.flows, a.first_ts, &a.key)
                .cmp(&(a.severity, a.flows, b.first_ts, &b.key))
        });
        v
    }

    /// The causes of failed connections, most flows first.
    pub fn ranked_causes(&self) -> Vec<(&String, &CauseTally)> {
        let mut v: Vec<(&String, &CauseTally)> = self.causes.iter().collect();
        v.sort_by(|a, b| b.1.flows.cmp(&a.1.flows).then(a.0.cmp(b.0)));
        v
    }

    /// The one-line verdict: "1,412 of 65,784 connections failed: 62% certificate rejected
    /// at 3 servers, 21% version mismatch from 40 clients, ...". `connections` is the number
    /// of TCP flows of the capture.
    pub fn verdict(&self, connections: u64) -> String {
        let others = self.problem_flows - self.failed;
        let others_text = if others > 0 {
            format!(
                "; {} more with {}",
                thousands(others),
                plural(others, "a problem", "problems")
            )
        } else {
            String::new()
        };
        if self.failed == 0 {
            return if others == 0 {
                format!(
                    "No connection failed, and no problem found in {}.",
                    plural_n(connections, "connection", "connections")
                )
            } else {
                format!(
                    "No connection of {} failed{others_text} (below).",
                    thousands(connections)
                )
            };
        }
        let causes = self.ranked_causes();
        let mut parts: Vec<String> = Vec::new();
        // Three causes named, or four when the fourth is the last.
        let named = if causes.len() == 4 { 4 } else { 3 };
        for (words, t) in causes.iter().take(named) {
            // Where the cause concentrates: the side with fewer distinct addresses.
            let place = if t.servers.count() <= t.clients.count() {
                format!(
                    "at {} {}",
                    t.servers.text(),
                    if t.servers.count() == 1 {
                        "server"
                    } else {
                        "servers"
                    }
                )
            } else {
                format!(
                    "from {} {}",
                    t.clients.text(),
                    if t.clients.count() == 1 {
                        "client"
                    } else {
                        "clients"
                    }
                )
            };
            parts.push(format!("{} {words} {place}", percent(t.flows, self.failed)));
        }
        let rest: u64 = causes.iter().skip(named).map(|(_, t)| t.flows).sum();
        if rest > 0 {
            parts.push(format!(
                "{} {} other causes",
                percent(rest, self.failed),
                causes.len() - named
            ));
        }
        format!(
            "{} of {} failed: {}{others_text}.",
            thousands(self.failed),
            plural_n(connections.max(self.failed), "connection", "connections"),
            parts.join(", ")
        )
    }
}

/// "62%", "<1%" for a share that rounds to nothing.
fn percent(n: u64, of: u64) -> String {
    let p = (n as f64 * 100.0 / of.max(1) as f64).round();
    if p < 1.0 && n > 0 {
        "<1%".into()
    } else {
        format!("{p}%")
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    (if n == 1 { one } else { many }).to_string()
}

fn plural_n(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), plural(n, one, many))
}

/// 65784 -> "65,784".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Dir;
    use crate::rules::evaluate;
    use crate::rules::testutil::*;
    use crate::tls::types::ClientHello;
    use crate::tls::HandshakeStage;

    /// An old client refused by the server with protocol_version.
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
        f.client.ip = IpAddr::from([10, 0, 1, client]);
        close(&mut f, Dir::ToClient, false, 6);
        f
    }

    #[test]
    fn identical_failures_are_one_group_with_counts_and_one_example() {
        let mut t = Triage::new(false);
        for i in 0..1000 {
            let f = refused(i, (i % 40) as u8);
            t.add(&f, &evaluate(&f));
        }
        let ok = healthy12();
        t.add(&ok, &evaluate(&ok));
        let groups = t.ranked();
        assert_eq!(groups.len(), 1);
        let g = groups[0];
        assert_eq!(g.key.kind, Kind::HandshakeAborted);
        assert_eq!(g.key.cause, "version_mismatch");
        assert_eq!(g.key.target, "www.example.com");
        assert_eq!(
            (g.flows, g.clients.count(), g.servers.count()),
            (1000, 40, 1)
        );
        assert_eq!(g.example.tcp_stream, 0);
        assert_eq!(g.streams, (0..10).collect::<Vec<u64>>());
        assert_eq!(g.also["tls_alert"], 1000);
        assert!(g.fix.contains("TLS 1.2 or 1.3"), "{}", g.fix);
        assert_eq!(
            t.verdict(1001),
            "1,000 of 1,001 connections failed: 100% version mismatch at 1 server."
        );
    }

    #[test]
    fn groups_are_bounded_and_the_rest_counted() {
        let mut t = Triage::new(false);
        let base = refused(0, 1);
        let findings = evaluate(&base);
        for i in 0..(MAX_GROUPS as u32 + 7) {
            let mut f = base.clone();
            f.server.ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000u32 + i));
            f.tcp_stream = u64::from(i);
            // No SNI: grouped by server address.
            if let Some(tls) = f.tls.as_mut() {
                if let Some(ch) = tls.client_hello.as_mut() {
                    ch.sni = None;
                }
            }
            t.add(&f, &findings);
        }
        assert_eq!(t.ranked().len(), MAX_GROUPS);
        assert_eq!(t.untracked_flows, 7);
        assert_eq!(t.failed, MAX_GROUPS as u64 + 7);
        let tally = &t.causes["version mismatch"];
        assert_eq!(tally.servers.count(), MAX_GROUPS + 7);
        assert!(
            t.verdict(5000).contains("from 1 client"),
            "{}",
            t.verdict(5000)
        );
    }

    #[test]
    fn the_verdict_names_three_causes_and_the_rest() {
        let mut t = Triage::new(false);
        let mut add = |cause: &str, n: u64| {
            for i in 0..n {
                let f = Finding::new(Kind::HandshakeAborted, Severity::High, 0)
                    .evidence(serde_json::json!({ "likely_cause": cause }));
                let mut flow = crate::rules::testutil::flow();
                flow.client.ip = IpAddr::from([10, 0, (i / 250) as u8, (i % 250) as u8]);
                t.add(&flow, &[f]);
            }
        };
        add("certificate_rejected", 62);
        add("version_mismatch", 21);
        add("cipher_mismatch", 10);
        add("network", 5);
        add("unknown", 2);
        assert_eq!(
            t.verdict(65_784),
            "100 of 65,784 connections failed: 62% certificate rejected at 1 server, \
             21% version mismatch at 1 server, 10% cipher mismatch at 1 server, 7% 2 other causes."
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(percent(1, 1000), "<1%");
    }

    #[test]
    fn the_timeline_widens_its_buckets_and_stays_bounded() {
        let mut t = Timeline::default();
        // Ten hours, one failure every 7 seconds.
        for i in 0..(10 * 3600 / 7) {
            t.add(i64::from(i) * 7_000_000, if i % 3 == 0 { "a" } else { "b" });
        }
        assert!(t.buckets.len() <= MAX_BUCKETS);
        assert_eq!(t.width(), 30);
        let total: u64 = t.buckets.values().flat_map(|c| c.values()).sum();
        assert_eq!(total, 10 * 3600 / 7);
        let (width, bars) = t.bars(120);
        assert_eq!(width, 300);
        assert_eq!(bars.len(), 120);
        assert_eq!(bars.values().flat_map(|c| c.values()).sum::<u64>(), total);
    }
}
