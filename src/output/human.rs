//! The human triage summary: counts per kind and severity, then each failing flow with its
//! one-line diagnosis and the frames to look at.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::failures::Failures;
use super::printable;
use crate::flow::{CaptureStats, FlowRecord, FlowRef};
use crate::rules::{Finding, Kind, Severity};

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
    /// Flows whose only problem is a failed connection, counted per server:port.
    failures: Failures,
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
            *self
                .counts
                .entry((f.kind.as_str(), f.severity))
                .or_default() += 1;
        }
        let worst = findings.iter().map(|f| f.severity).max();
        if worst.is_none_or(|s| s < Severity::Low) && !self.verbose {
            return;
        }
        // Verbose lists every flow; otherwise a scan's thousand failures are a few lines.
        if let (false, [f]) = (self.verbose, findings) {
            if f.kind == Kind::ConnectionFailed {
                self.failures.add(flow, f);
                return;
            }
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

    /// A finding a capture rule made at the end of the capture, about the flow `at`.
    pub fn add_at(&mut self, at: &FlowRef, f: &Finding) {
        *self
            .counts
            .entry((f.kind.as_str(), f.severity))
            .or_default() += 1;
        let title = format!(
            "tcp.stream {}  {}:{} -> {}:{}  (cross-flow)",
            at.tcp_stream, at.client.ip, at.client.port, at.server.ip, at.server.port
        );
        self.flows.push(FlowLine {
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
        if stats.bad_checksums > 0 || stats.reassembly_gaps > 0 || stats.decode_errors > 0 {
            let _ = writeln!(
                out,
                "   capture quality: {} bad checksums (normal for loopback/offload captures), {} reassembly gaps, {} undecodable frames",
                stats.bad_checksums, stats.reassembly_gaps, stats.decode_errors
            );
        }
        for w in warnings {
            let _ = writeln!(out, "   warning: {}", printable(w));
        }
        if !self.rollups.is_empty() {
            let _ = writeln!(out, "\nRoll-ups (biggest first):");
            for line in &self.rollups {
                let _ = writeln!(out, "  {}", printable(line));
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
        self.failures.render(&mut out);
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
                    printable(&f.summary),
                    frames.join(", ")
                );
                if f.kind == Kind::HandshakeAborted {
                    let _ = writeln!(out, "        why: {}", printable(&f.explanation));
                }
            }
        }
        out
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
        let mut h = HumanReport::new(true);
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
