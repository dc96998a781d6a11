//! The human triage summary: counts per kind and severity, then each failing flow with its
//! one-line diagnosis and the frames to look at.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::flow::{CaptureStats, FlowRecord};
use crate::rules::{Finding, Severity};

struct FlowLine {
    title: String,
    findings: Vec<Finding>,
}

/// Collects findings while a capture is read, renders the summary at the end.
#[derive(Default)]
pub struct HumanReport {
    counts: BTreeMap<(&'static str, Severity), usize>,
    flows: Vec<FlowLine>,
    verbose: bool,
    /// Roll-up sentences (`--summary-by`), biggest first: they lead the summary.
    rollups: Vec<String>,
}

impl HumanReport {
    pub fn new(verbose: bool) -> Self {
        HumanReport {
            verbose,
            ..Default::default()
        }
    }

    pub fn add(&mut self, flow: &FlowRecord, findings: &[Finding]) {
        for f in findings {
            *self.counts.entry((f.kind, f.severity)).or_default() += 1;
        }
        let worst = findings.iter().map(|f| f.severity).max();
        if worst.is_none_or(|s| s < Severity::Low) && !self.verbose {
            return;
        }
        let sni = flow.sni().map(|s| format!("  sni={s}")).unwrap_or_default();
        let (quality, _) = crate::rules::capture_quality(flow);
        let quality = if quality == "ok" {
            String::new()
        } else {
            format!("  [capture: {quality}]")
        };
        let title = format!(
            "tcp.stream {}  {}:{} -> {}:{}{}  (frames {}-{}){quality}",
            flow.tcp_stream,
            flow.client.ip,
            flow.client.port,
            flow.server.ip,
            flow.server.port,
            sni,
            flow.first_frame,
            flow.last_frame
        );
        let mut findings = findings.to_vec();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        self.flows.push(FlowLine { title, findings });
    }

    /// The roll-up lines (`--summary-by`), biggest first.
    pub fn set_rollups(&mut self, lines: Vec<String>) {
        self.rollups = lines;
    }

    /// Findings made at the end of the capture across flows (NDJSON finding records).
    pub fn add_records<'a>(&mut self, records: impl IntoIterator<Item = &'a serde_json::Value>) {
        for r in records {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let (Some(kind), Some(sev)) = (
                r["kind"].as_str(),
                Severity::parse(r["severity"].as_str().unwrap_or_default()),
            ) else {
                continue;
            };
            let kind: &'static str = match kind {
                "tls_interception_suspected" => "tls_interception_suspected",
                _ => continue,
            };
            *self.counts.entry((kind, sev)).or_default() += 1;
            let frames: Vec<u64> = r["frames"]
                .as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
                .unwrap_or_default();
            let mut f = Finding::new(kind, sev, 0)
                .frames(frames)
                .summary(text("summary"))
                .explanation(text("explanation"));
            f.evidence = r["evidence"].clone();
            let flow = &r["flow"];
            let title = format!(
                "tcp.stream {}  {}:{} -> {}:{}  (cross-flow)",
                r["tcp_stream"],
                flow["client"]["ip"].as_str().unwrap_or_default(),
                flow["client"]["port"],
                flow["server"]["ip"].as_str().unwrap_or_default(),
                flow["server"]["port"]
            );
            self.flows.push(FlowLine {
                title,
                findings: vec![f],
            });
        }
    }

    pub fn render(&self, capture: &str, stats: &CaptureStats, warnings: &[String]) -> String {
        let mut out = String::new();
        let duration = match (stats.first_ts_us, stats.last_ts_us) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e6,
            _ => 0.0,
        };
        let _ = writeln!(
            out,
            "== {capture}: {} packets, {} TCP flows ({} TLS), {:.3} s of traffic",
            stats.packets, stats.flows, stats.tls_flows, duration
        );
        if stats.bad_checksums > 0 || stats.reassembly_gaps > 0 || stats.decode_errors > 0 {
            let _ = writeln!(
                out,
                "   capture quality: {} bad checksums (normal for loopback/offload captures), {} reassembly gaps, {} undecodable frames",
                stats.bad_checksums, stats.reassembly_gaps, stats.decode_errors
            );
        }
        for w in warnings {
            let _ = writeln!(out, "   warning: {w}");
        }
        if !self.rollups.is_empty() {
            let _ = writeln!(out, "\nRoll-ups (biggest first):");
            for line in &self.rollups {
                let _ = writeln!(out, "  {line}");
            }
        }
        let total: usize = self.counts.values().sum();
        if total == 0 {
            let _ = writeln!(out, "No findings.");
            return out;
        }
        let _ = writeln!(out, "\nFindings: {total}");
        let mut rows: Vec<(&(&str, Severity), &usize)> = self.counts.iter().collect();
        rows.sort_by(|a, b| b.0 .1.cmp(&a.0 .1).then(b.1.cmp(a.1)));
        for ((kind, sev), n) in rows {
            let _ = writeln!(out, "  {:<8} {:>5}  {kind}", sev.as_str(), n);
        }
        if !self.flows.is_empty() {
            let _ = writeln!(out, "\nFlows with problems:");
        }
        for fl in &self.flows {
            let _ = writeln!(out, "\n  {}", fl.title);
            for f in &fl.findings {
                let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
                let _ = writeln!(
                    out,
                    "    [{}] {}: {}  (frames {})",
                    f.severity.as_str(),
                    f.kind,
                    f.summary,
                    frames.join(", ")
                );
                if f.kind == "handshake_aborted" {
                    let _ = writeln!(out, "        why: {}", f.explanation);
                }
            }
        }
        out
    }
}
