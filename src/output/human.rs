//! The human triage summary, top down: a one-line verdict over the whole capture, then the
//! failure groups (one block per kind, cause and target, with counts, first and last time,
//! one example flow with its frames and Wireshark filter, and the fix), the connection
//! failures per server:port, the counts per kind; then, with `--flows-detail` (or `-v`, which
//! adds the flows with only informational findings), every flow, worst first, then by time.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::failures::Failures;
use super::groups::{headline, thousands, Group, Triage};
use super::printable;
use crate::flow::{CaptureStats, FlowRecord, FlowRef};
use crate::model::{format_ts_us, TimestampUs};
use crate::rules::{Finding, Kind, Severity};

/// Failure groups shown; the rest are counted in one line.
const GROUPS_SHOWN: usize = 20;

struct FlowLine {
    worst: Severity,
    ts_us: TimestampUs,
    tcp_stream: u64,
    title: String,
    findings: Vec<Finding>,
}

/// What the flow list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// No flow list: the verdict and the groups.
    #[default]
    Summary,
    /// Every flow with a finding at or above low.
    Flows,
    /// Every flow with a finding (`-v`).
    All,
}

/// Collects findings while a capture is read, renders the summary at the end.
#[derive(Default)]
pub struct HumanReport {
    counts: BTreeMap<(&'static str, Severity), usize>,
    flows: Vec<FlowLine>,
    detail: Detail,
    /// Roll-up sentences (`--summary-by`), biggest first.
    rollups: Vec<String>,
    triage: Triage,
    /// Flows whose headline is a failed connection, counted per server:port.
    failures: Failures,
}

/// "2021-06-01 12:00:00.123".
fn short_ts(ts: TimestampUs) -> String {
    let full = format_ts_us(ts);
    let (date, time) = full.split_once('T').unwrap_or((&full, ""));
    format!("{date} {}", time.get(..12).unwrap_or(time))
}

/// "12:00:00.123 .. 12:05:10.456" (the date said once when both are on the same day).
fn time_span(first: TimestampUs, last: TimestampUs) -> String {
    let (a, b) = (short_ts(first), short_ts(last));
    if first == last {
        return a;
    }
    match (a.split_once(' '), b.split_once(' ')) {
        (Some((da, _)), Some((db, tb))) if da == db => format!("{a} .. {tb}"),
        _ => format!("{a} .. {b}"),
    }
}

fn endpoint_text(ep: crate::flow::Endpoint) -> String {
    match ep.ip {
        std::net::IpAddr::V6(ip) => format!("[{ip}]:{}", ep.port),
        ip => format!("{ip}:{}", ep.port),
    }
}

fn frames_text(frames: &[u64]) -> String {
    frames
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl HumanReport {
    pub fn new(detail: Detail) -> Self {
        HumanReport {
            detail,
            ..Default::default()
        }
    }

    pub fn add(&mut self, flow: &FlowRecord, findings: &[Finding]) {
        for f in findings {
            *self
                .counts
                .entry((f.kind.as_str(), f.severity))
                .or_default() += 1;
        }
        self.triage.add(flow, findings);
        let head = headline(findings);
        if let Some(h) = head.filter(|h| h.kind == Kind::ConnectionFailed) {
            self.failures.add(flow, h);
        }
        let worst = findings.iter().map(|f| f.severity).max();
        let listed = match self.detail {
            Detail::Summary => false,
            Detail::Flows => head.is_some(),
            Detail::All => worst.is_some(),
        };
        if !listed {
            return;
        }
        let sni = flow
            .sni()
            .map(|s| format!("  sni={}", printable(s)))
            .unwrap_or_default();
        let (quality, _) = crate::flow::capture_quality(flow);
        let quality = if quality == "ok" {
            String::new()
        } else {
            format!("  [capture: {quality}]")
        };
        let title = format!(
            "tcp.stream {}  {} -> {}{}  (frames {}-{}){quality}",
            flow.tcp_stream,
            endpoint_text(flow.client),
            endpoint_text(flow.server),
            sni,
            flow.first_frame,
            flow.last_frame
        );
        let mut findings = findings.to_vec();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        self.flows.push(FlowLine {
            worst: worst.unwrap_or(Severity::Info),
            ts_us: flow.first_ts_us,
            tcp_stream: flow.tcp_stream,
            title,
            findings,
        });
    }

    /// The roll-up lines (`--summary-by`), biggest first.
    pub fn set_rollups(&mut self, lines: Vec<String>) {
        self.rollups = lines;
    }

    /// A finding a capture rule made at the end of the capture, about the flow `at`.
    pub fn add_at(&mut self, at: &FlowRef, f: &Finding) {
        *self
            .counts
            .entry((f.kind.as_str(), f.severity))
            .or_default() += 1;
        self.triage.add_at(at, f);
        if self.detail == Detail::Summary {
            return;
        }
        let title = format!(
            "tcp.stream {}  {} -> {}  (cross-flow)",
            at.tcp_stream,
            endpoint_text(at.client),
            endpoint_text(at.server)
        );
        self.flows.push(FlowLine {
            worst: f.severity,
            ts_us: f.ts_us,
            tcp_stream: at.tcp_stream,
            title,
            findings: vec![f.clone()],
        });
    }

    pub fn render(&self, capture: &str, stats: &CaptureStats, warnings: &[String]) -> String {
        let mut out = String::new();
        let duration = match (stats.first_ts_us, stats.last_ts_us) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e6,
            _ => 0.0,
        };
        let _ = writeln!(
            out,
            "== {}: {} packets, {} TCP flows ({} TLS), {:.3} s of traffic",
            printable(capture),
            stats.packets,
            stats.flows,
            stats.tls_flows,
            duration
        );
        if let Some(sessions) = stats.keylog_sessions {
            let _ = writeln!(
                out,
                "   decryption: {} of {} TLS flows decrypted (key log: {sessions} session{}){}",
                stats.tls_flows_decrypted,
                stats.tls_flows,
                if sessions == 1 { "" } else { "s" },
                match stats.tls_flows_decryption_failed {
                    0 => String::new(),
                    n => format!("; {n} stopped or could not start (tls_flow.decryption_error)"),
                }
            );
        }
        quality_line(&mut out, stats);
        for w in warnings {
            let _ = writeln!(out, "   warning: {}", printable(w));
        }
        let _ = writeln!(out, "\n{}", printable(&self.triage.verdict(stats.flows)));
        if !self.rollups.is_empty() {
            let _ = writeln!(out, "\nRoll-ups (biggest first):");
            for line in &self.rollups {
                let _ = writeln!(out, "  {}", printable(line));
            }
        }
        self.render_groups(&mut out);
        self.failures.render(&mut out);
        let total: usize = self.counts.values().sum();
        if total == 0 {
            return out;
        }
        let _ = writeln!(out, "\nFindings: {total}");
        let mut rows: Vec<(&(&str, Severity), &usize)> = self.counts.iter().collect();
        rows.sort_by(|a, b| b.0 .1.cmp(&a.0 .1).then(b.1.cmp(a.1)));
        for ((kind, sev), n) in rows {
            let _ = writeln!(out, "  {:<8} {:>5}  {kind}", sev.as_str(), n);
        }
        self.render_flows(&mut out);
        out
    }

    fn render_groups(&self, out: &mut String) {
        let groups: Vec<&Group> = self
            .triage
            .ranked()
            .into_iter()
            .filter(|g| g.key.kind != Kind::ConnectionFailed)
            .collect();
        if groups.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\nProblems, worst first ({}):",
            if groups.len() == 1 {
                "1 group".to_string()
            } else {
                format!("{} groups", groups.len())
            }
        );
        for g in groups.iter().take(GROUPS_SHOWN) {
            render_group(out, g);
        }
        let hidden = &groups[groups.len().min(GROUPS_SHOWN)..];
        let untracked = self.triage.untracked_flows;
        if hidden.is_empty() && untracked == 0 {
            return;
        }
        // The rest, one line per kind and cause: the same problem at many other targets.
        let mut rest: BTreeMap<(&str, &str), (Severity, u64, u64)> = BTreeMap::new();
        for g in hidden {
            let e = rest
                .entry((g.key.kind.as_str(), g.key.cause.as_str()))
                .or_insert((g.severity, 0, 0));
            e.0 = e.0.max(g.severity);
            e.1 += g.flows;
            e.2 += 1;
        }
        let mut rest: Vec<_> = rest.into_iter().collect();
        rest.sort_by(|a, b| (b.1 .0, b.1 .1).cmp(&(a.1 .0, a.1 .1)).then(a.0.cmp(&b.0)));
        let flows: u64 = hidden.iter().map(|g| g.flows).sum::<u64>() + untracked;
        let _ = writeln!(
            out,
            "\n  ... {} more flow(s) in {}{} other group(s) (--flows-detail lists every flow):",
            thousands(flows),
            hidden.len(),
            if untracked > 0 { "+" } else { "" }
        );
        for ((kind, cause), (sev, n, targets)) in rest.iter().take(GROUPS_SHOWN) {
            let words = super::groups::cause_words(
                crate::rules::Kind::parse(kind).unwrap_or(Kind::HandshakeAborted),
                cause,
            );
            let kind = if cause.is_empty() {
                String::new()
            } else {
                format!(" ({kind})")
            };
            let _ = writeln!(
                out,
                "  [{}] {words}{kind}: {} at {} other target(s)",
                sev.as_str(),
                if *n == 1 {
                    "1 flow".to_string()
                } else {
                    format!("{} flows", thousands(*n))
                },
                thousands(*targets)
            );
        }
        if rest.len() > GROUPS_SHOWN {
            let _ = writeln!(
                out,
                "  ... and {} other kind(s) and cause(s)",
                rest.len() - GROUPS_SHOWN
            );
        }
        if untracked > 0 {
            let _ = writeln!(
                out,
                "  ... and {} flow(s) past the {} groups tracked",
                thousands(untracked),
                super::groups::MAX_GROUPS
            );
        }
    }

    fn render_flows(&self, out: &mut String) {
        if self.flows.is_empty() {
            return;
        }
        let mut flows: Vec<&FlowLine> = self.flows.iter().collect();
        flows.sort_by_key(|f| (std::cmp::Reverse(f.worst), f.ts_us, f.tcp_stream));
        let _ = writeln!(out, "\nEvery flow, worst first, then by time:");
        for fl in flows {
            let _ = writeln!(out, "\n  {}", fl.title);
            for f in &fl.findings {
                let _ = writeln!(
                    out,
                    "    [{}] {}: {}  (frames {})",
                    f.severity.as_str(),
                    f.kind,
                    printable(&f.summary),
                    frames_text(&f.frames)
                );
                if f.kind == Kind::HandshakeAborted {
                    let _ = writeln!(out, "        why: {}", printable(&f.explanation));
                }
            }
        }
    }
}

/// The capture quality line, when it matters: reassembly gaps or undecodable frames, and
/// bad checksums only beside retransmissions or gaps (alone they are what loopback and
/// offloading hosts capture, and change nothing).
fn quality_line(out: &mut String, stats: &CaptureStats) {
    let suspicious_checksums =
        stats.bad_checksums > 0 && (stats.retransmissions > 0 || stats.reassembly_gaps > 0);
    if stats.reassembly_gaps == 0 && stats.decode_errors == 0 && !suspicious_checksums {
        return;
    }
    let mut parts = vec![
        format!("{} reassembly gaps", stats.reassembly_gaps),
        format!("{} undecodable frames", stats.decode_errors),
    ];
    if suspicious_checksums {
        parts.push(format!(
            "{} bad checksums (normal on loopback and offloading hosts; with {} retransmissions they may be real corruption)",
            stats.bad_checksums, stats.retransmissions
        ));
    }
    let _ = writeln!(out, "   capture quality: {}", parts.join(", "));
}

fn render_group(out: &mut String, g: &Group) {
    let target = printable(&g.key.target);
    let servers = if g.servers.count() == 1 && target != endpoint_text(g.example.server) {
        format!(" ({})", endpoint_text(g.example.server))
    } else if g.servers.count() > 1 {
        format!(" ({} servers)", g.servers.text())
    } else {
        String::new()
    };
    let kind = if g.key.cause.is_empty() {
        String::new()
    } else {
        format!(" ({})", g.key.kind)
    };
    let _ = writeln!(
        out,
        "\n  [{}] {}{kind} at {target}{servers}: {}, {} {}",
        g.severity.as_str(),
        g.key.cause_words(),
        if g.flows == 1 {
            "1 flow".to_string()
        } else {
            format!("{} flows", thousands(g.flows))
        },
        g.clients.text(),
        if g.clients.count() == 1 {
            "client"
        } else {
            "clients"
        },
    );
    let _ = writeln!(out, "    when: {}", time_span(g.first_ts, g.last_ts));
    let e = &g.example;
    let _ = writeln!(
        out,
        "    {}: {}",
        if g.flows == 1 { "what" } else { "e.g." },
        printable(&e.summary)
    );
    let _ = writeln!(
        out,
        "    example: tcp.stream {}  {} -> {}  frames {}-{}, cited {}  (Wireshark: tcp.stream eq {})",
        e.tcp_stream,
        endpoint_text(e.client),
        endpoint_text(e.server),
        e.first_frame,
        e.last_frame,
        frames_text(&e.frames),
        e.tcp_stream
    );
    if g.key.kind == Kind::HandshakeAborted && !e.explanation.is_empty() {
        let _ = writeln!(out, "    why: {}", printable(&e.explanation));
    }
    let _ = writeln!(out, "    fix: {}", g.fix);
    if !g.also.is_empty() {
        let also: Vec<String> = g.also.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(out, "    also on these flows: {}", also.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testutil::{alert, close, tls_flow};
    use crate::tls::types::ClientHello;
    use crate::tls::HandshakeStage;

    #[test]
    fn wire_text_reaches_the_terminal_escaped() {
        let ch = ClientHello {
            sni: Some("evil\u{1b}]0;pwned\u{7}\r\n\u{202e}moc.example".into()),
            ..crate::rules::testutil::client_hello()
        };
        let mut f = tls_flow(
            ch,
            None,
            vec![alert(crate::model::Dir::ToClient, 5, 2, 40)],
            HandshakeStage::ClientHello,
        );
        close(&mut f, crate::model::Dir::ToClient, false, 6);
        let findings = crate::rules::evaluate(&f);
        let mut h = HumanReport::new(Detail::All);
        h.add(&f, &findings);
        let text = h.render("cap\u{1b}.pcap", &CaptureStats::default(), &[]);
        assert!(
            !text
                .chars()
                .any(|c| crate::output::is_unsafe(c) && c != '\n'),
            "{text:?}"
        );
        assert!(
            text.contains("evil\\u{1b}]0;pwned\\u{7}\\u{d}\\u{a}\\u{202e}moc.example"),
            "{text}"
        );
    }
}
