//! One event stream to every output (Zeek's notice framework): `read`, `report` and `live`
//! hand every finished flow, every capture rule's finding and the capture statistics to one
//! [`Fanout`], which applies `--min-severity`, runs the capture rules and the roll-ups, keeps
//! the worst severity for `--fail-on`, and passes the same events to each [`Sink`]. So every
//! output sees the same findings, and the exit code counts exactly what was reported.
//!
//! With `--threads N` a flow's work starts on the worker that finished it: the [`Prepare`]
//! step filters its findings, formats its NDJSON finding lines (the hot path) and takes the
//! capture rules' sightings; the full record travels to the reading thread only when some
//! sink needs more than those lines.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Arc;

use thiserror::Error;

use super::delivery::{Delivery, NamedDelivery};
use super::html::CaptureReport;
use super::records::{write_finding_parts, CaptureFileRecord, CaptureStatsRecord, TlsFlowRecord};
use super::{
    ecs_finding, ecs_finding_at, ecs_rollup, ecs_tls_flow, Detail, FindingRecord, HumanReport,
    Rendered, RollupBy, Rollups,
};
use crate::bounded::{fit, MAX_LINE};
use crate::capture::InputFormat;
use crate::config::RuleEnv;
use crate::flow::{CaptureStats, FlowRecord, FlowRef};
use crate::keylog::KeyStore;
use crate::model::format_ts_us;
use crate::rules::capture::{sightings, CaptureRules, Sighting};
use crate::rules::{Finding, Severity};

#[derive(Debug, Error)]
pub enum SinkError {
    #[error("writing output: {0}")]
    Io(#[from] io::Error),
    #[error("serializing a record: {0}")]
    Json(#[from] serde_json::Error),
}

/// A finished flow, as the sinks get it.
pub struct FlowDone<'a> {
    pub tcp_stream: u64,
    /// Its finding lines in NDJSON, made where the flow finished (empty unless a sink
    /// wants them).
    pub ndjson: &'a [u8],
    /// The flow and its findings; `None` when no sink needs more than `ndjson`.
    pub full: Option<(&'a FlowRecord, &'a [Finding])>,
}

/// The capture's counters, once at its end (`last`), and periodically in `live`.
pub struct StatsEvent<'a> {
    pub last: bool,
    pub stats: &'a CaptureStats,
    pub format: Option<InputFormat>,
    pub warnings: &'a [String],
    pub truncated: bool,
    /// The files of a capture read from several.
    pub files: &'a [CaptureFileRecord],
    pub rollups: &'a Rollups,
    /// `live` only: the `live` object of the capture_stats record (drops, uptime, ...).
    pub live: Option<&'a serde_json::Value>,
    /// What each network output (Redis, syslog) delivered and dropped so far.
    pub outputs: &'a [NamedDelivery],
}

pub enum Event<'a> {
    Flow(FlowDone<'a>),
    /// A capture rule's finding about the flow `at`, at the end of the capture.
    CrossFlow {
        at: &'a FlowRef,
        finding: &'a Finding,
    },
    Stats(StatsEvent<'a>),
}

/// An output. Each gets every event of the run, in order.
pub trait Sink {
    fn event(&mut self, capture: &str, ev: &Event<'_>) -> Result<(), SinkError>;
    /// Whether the NDJSON finding lines made on the workers are all it needs of a flow.
    fn lines_are_enough(&self) -> bool {
        false
    }
    /// Whether it wants the NDJSON finding lines made on the workers.
    fn wants_ndjson(&self) -> bool {
        false
    }
    /// Called once after the last capture.
    fn close(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    /// A network output: wait (bounded) until what was handed to it is delivered or
    /// dropped, before the final statistics report it.
    fn settle(&mut self) {}
    /// A network output's name and counters.
    fn delivery(&self) -> Option<NamedDelivery> {
        None
    }
}

/// What the reading thread gets of a finished flow from where it finished.
pub struct FlowDigest {
    worst: Option<Severity>,
    kinds: Vec<&'static str>,
    sightings: Vec<Sighting>,
    full: Option<Box<(FlowRecord, Vec<Finding>)>>,
}

/// The worker-side step of a flow (shared by every thread of a run).
pub struct Prepare {
    capture: String,
    min_severity: Severity,
    ndjson: bool,
    full: bool,
}

impl Prepare {
    pub fn flow(
        &self,
        flow: FlowRecord,
        mut findings: Vec<Finding>,
        out: &mut Rendered,
    ) -> FlowDigest {
        findings.retain(|f| f.severity >= self.min_severity);
        if self.ndjson {
            for f in &findings {
                // Writing into memory fails only if serde_json does (it cannot for these types).
                if let Err(e) = write_finding_parts(out, &self.capture, &flow, f) {
                    debug_assert!(false, "serializing a finding: {e}");
                }
            }
        }
        FlowDigest {
            worst: findings.iter().map(|f| f.severity).max(),
            kinds: findings.iter().map(|f| f.kind.as_str()).collect(),
            sightings: sightings(&flow, &findings),
            full: self.full.then(|| Box::new((flow, findings))),
        }
    }
}

/// Every sink of a run, and what they share: the severity floor, the capture rules, the
/// roll-ups and the worst severity reported.
pub struct Fanout<'a> {
    sinks: Vec<Box<dyn Sink + 'a>>,
    min_severity: Severity,
    summary_by: Vec<RollupBy>,
    rules: RuleEnv,
    capture: String,
    capture_rules: CaptureRules,
    rollups: Rollups,
    files: Vec<CaptureFileRecord>,
    worst: Option<Severity>,
    /// Findings reported over the run, by kind (for `live --metrics`).
    found: BTreeMap<&'static str, u64>,
    /// The run's TLS secrets: their warnings and how many sessions they hold are reported
    /// with the statistics.
    keys: Option<Arc<KeyStore>>,
}

impl<'a> Fanout<'a> {
    pub fn new(min_severity: Severity, summary_by: &[RollupBy], rules: &RuleEnv) -> Self {
        Fanout {
            sinks: Vec::new(),
            min_severity,
            summary_by: summary_by.to_vec(),
            rules: rules.clone(),
            capture: String::new(),
            capture_rules: CaptureRules::new(rules),
            rollups: Rollups::new(summary_by),
            files: Vec::new(),
            worst: None,
            found: BTreeMap::new(),
            keys: None,
        }
    }

    pub fn set_keys(&mut self, keys: Arc<KeyStore>) {
        self.keys = Some(keys);
    }

    /// Findings reported so far in the run, by kind.
    pub fn findings_by_kind(&self) -> &BTreeMap<&'static str, u64> {
        &self.found
    }

    pub fn add(&mut self, sink: impl Sink + 'a) {
        self.sinks.push(Box::new(sink));
    }

    /// A new capture begins: capture rules and roll-ups start afresh.
    pub fn begin(&mut self, capture: &str) {
        self.capture = capture.to_string();
        self.capture_rules = CaptureRules::new(&self.rules);
        self.rollups = Rollups::new(&self.summary_by);
        self.files.clear();
    }

    /// The files the current capture was read from, when more than one.
    pub fn set_files(&mut self, files: Vec<CaptureFileRecord>) {
        self.files = files;
    }

    /// The worker-side step for the current capture.
    pub fn prepare(&self) -> Prepare {
        let full = !self.rollups.is_empty() || !self.sinks.iter().all(|s| s.lines_are_enough());
        Prepare {
            capture: self.capture.clone(),
            min_severity: self.min_severity,
            ndjson: self.sinks.iter().any(|s| s.wants_ndjson()),
            full,
        }
    }

    /// The worst severity reported so far (for `--fail-on`).
    pub fn worst(&self) -> Option<Severity> {
        self.worst
    }

    /// A finished flow, numbered `tcp_stream`, with its NDJSON finding lines.
    pub fn flow(&mut self, d: FlowDigest, tcp_stream: u64, ndjson: &[u8]) -> Result<(), SinkError> {
        self.worst = self.worst.max(d.worst);
        for k in &d.kinds {
            *self.found.entry(k).or_default() += 1;
        }
        self.capture_rules.add(d.sightings, tcp_stream);
        let full = d.full.map(|b| {
            let (mut flow, findings) = *b;
            flow.tcp_stream = tcp_stream;
            (flow, findings)
        });
        if let Some((flow, findings)) = &full {
            self.rollups.add(flow, findings);
        }
        let ev = Event::Flow(FlowDone {
            tcp_stream,
            ndjson,
            full: full.as_ref().map(|(f, fs)| (f, fs.as_slice())),
        });
        self.send(&ev)
    }

    /// End of the capture: the capture rules' findings, then the final statistics.
    pub fn end(
        &mut self,
        stats: &CaptureStats,
        format: Option<InputFormat>,
        warnings: &[String],
        truncated: bool,
        live: Option<&serde_json::Value>,
    ) -> Result<(), SinkError> {
        let mut notes = self.cross_flow()?;
        notes.extend(stats.tunnel_warnings());
        if let Some(keys) = &self.keys {
            notes.extend(keys.warnings());
        }
        if notes.is_empty() {
            return self.stats(true, stats, format, warnings, truncated, live);
        }
        let all: Vec<String> = warnings.iter().cloned().chain(notes).collect();
        self.stats(true, stats, format, &all, truncated, live)
    }

    /// The capture rules' findings so far (they start afresh afterwards), and their notes.
    fn cross_flow(&mut self) -> Result<Vec<String>, SinkError> {
        let mut found = self.capture_rules.finish();
        let notes = self.capture_rules.notes();
        self.capture_rules = CaptureRules::new(&self.rules);
        found.retain(|(_, f)| f.severity >= self.min_severity);
        for (at, finding) in &found {
            self.worst = self.worst.max(Some(finding.severity));
            *self.found.entry(finding.kind.as_str()).or_default() += 1;
            self.send(&Event::CrossFlow { at, finding })?;
        }
        Ok(notes)
    }

    /// Statistics (periodic in `live`; `last` at the end of the capture).
    pub fn stats(
        &mut self,
        last: bool,
        stats: &CaptureStats,
        format: Option<InputFormat>,
        warnings: &[String],
        truncated: bool,
        live: Option<&serde_json::Value>,
    ) -> Result<(), SinkError> {
        let with_keys;
        let stats = match self.keys.as_ref().filter(|k| k.in_use()) {
            Some(keys) => {
                with_keys = CaptureStats {
                    keylog_sessions: Some(keys.sessions() as u64),
                    ..stats.clone()
                };
                &with_keys
            }
            None => stats,
        };
        let rollups = std::mem::replace(&mut self.rollups, Rollups::new(&[]));
        let files = std::mem::take(&mut self.files);
        if last {
            for s in &mut self.sinks {
                s.settle();
            }
        }
        let outputs = self.deliveries();
        let ev = Event::Stats(StatsEvent {
            last,
            stats,
            format,
            warnings,
            truncated,
            files: &files,
            rollups: &rollups,
            live,
            outputs: &outputs,
        });
        let sent = self.send(&ev);
        self.rollups = rollups;
        self.files = files;
        sent
    }

    fn send(&mut self, ev: &Event<'_>) -> Result<(), SinkError> {
        for s in &mut self.sinks {
            s.event(&self.capture, ev)?;
        }
        Ok(())
    }

    /// Each network output's counters.
    pub fn deliveries(&self) -> Vec<NamedDelivery> {
        self.sinks.iter().filter_map(|s| s.delivery()).collect()
    }

    /// After the last capture: every sink flushes and reports what it could not deliver.
    /// Returns the number of records the network outputs dropped over the run.
    pub fn close(&mut self) -> Result<u64, SinkError> {
        for s in &mut self.sinks {
            s.close()?;
        }
        Ok(self
            .deliveries()
            .iter()
            .map(|(_, d): &(&str, Delivery)| d.dropped)
            .sum())
    }
}

/// A writer of JSON lines: each record serialized whole, then written with one call (never
/// half a record).
struct Lines<'w> {
    out: &'w mut dyn Write,
    buf: Vec<u8>,
}

impl<'w> Lines<'w> {
    fn new(out: &'w mut dyn Write) -> Self {
        Lines {
            out,
            buf: Vec::new(),
        }
    }

    fn line(&mut self, v: &impl serde::Serialize) -> Result<(), SinkError> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, v)?;
        if self.buf.len() > MAX_LINE {
            // Lists and strings are bounded where records are made; this is the last guard.
            let mut short = serde_json::to_value(v)?;
            fit(&mut short, MAX_LINE);
            self.buf.clear();
            serde_json::to_writer(&mut self.buf, &short)?;
        }
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        Ok(())
    }
}

/// Whether a flow gets a `tls_flow` record.
fn has_flow_record(flow: &FlowRecord) -> bool {
    flow.tls.is_some() || flow.server_port_is_tls
}

/// NDJSON: finding lines, `tls_flow` records with `--flows`, the capture rules' findings,
/// roll-ups and `capture_stats`.
pub struct NdjsonSink<'w> {
    w: Lines<'w>,
    flows: bool,
}

impl<'w> NdjsonSink<'w> {
    pub fn new(out: &'w mut dyn Write, flows: bool) -> Self {
        NdjsonSink {
            w: Lines::new(out),
            flows,
        }
    }
}

impl Sink for NdjsonSink<'_> {
    fn lines_are_enough(&self) -> bool {
        !self.flows
    }

    fn wants_ndjson(&self) -> bool {
        true
    }

    fn event(&mut self, capture: &str, ev: &Event<'_>) -> Result<(), SinkError> {
        match ev {
            Event::Flow(done) => {
                self.w.out.write_all(done.ndjson)?;
                let full = done.full.filter(|(f, _)| self.flows && has_flow_record(f));
                if let Some((flow, findings)) = full {
                    self.w.line(&TlsFlowRecord::new(capture, flow, findings))?;
                }
            }
            Event::CrossFlow { at, finding } => {
                self.w.line(&FindingRecord::at(capture, at, finding))?;
            }
            Event::Stats(s) => {
                if s.last {
                    for rec in s.rollups.records(capture) {
                        self.w.line(&rec)?;
                    }
                }
                let mut rec =
                    CaptureStatsRecord::new(capture, s.format, s.stats, s.warnings, s.truncated);
                rec.files = s.files;
                rec.outputs = s.outputs.iter().copied().collect();
                if let Some(live) = s.live {
                    rec.ts = format_ts_us(crate::model::now_us());
                    rec.live = Some(live.clone());
                }
                self.w.line(&rec)?;
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.w.out.flush()?;
        Ok(())
    }
}

/// Elastic Common Schema: one document per finding (the capture rules' too), one per flow
/// with `--flows`, and one per roll-up with `--summary-by`. Capture statistics have no ECS
/// event.
pub struct EcsSink<'w> {
    w: Lines<'w>,
    flows: bool,
}

impl<'w> EcsSink<'w> {
    pub fn new(out: &'w mut dyn Write, flows: bool) -> Self {
        EcsSink {
            w: Lines::new(out),
            flows,
        }
    }
}

impl Sink for EcsSink<'_> {
    fn event(&mut self, capture: &str, ev: &Event<'_>) -> Result<(), SinkError> {
        match ev {
            Event::Flow(done) => {
                let Some((flow, findings)) = done.full else {
                    return Ok(());
                };
                for f in findings {
                    self.w.line(&ecs_finding(capture, flow, f))?;
                }
                if self.flows && has_flow_record(flow) {
                    self.w.line(&ecs_tls_flow(capture, flow, findings))?;
                }
            }
            Event::CrossFlow { at, finding } => {
                self.w.line(&ecs_finding_at(capture, at, finding))?;
            }
            Event::Stats(s) => {
                if s.last {
                    for rec in s.rollups.records(capture) {
                        self.w.line(&ecs_rollup(&rec))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.w.out.flush()?;
        Ok(())
    }
}

/// The human triage summary, written at the end of each capture.
pub struct HumanSink<'w> {
    out: &'w mut dyn Write,
    detail: Detail,
    report: HumanReport,
}

impl<'w> HumanSink<'w> {
    pub fn new(out: &'w mut dyn Write, detail: Detail) -> Self {
        HumanSink {
            out,
            detail,
            report: HumanReport::new(detail),
        }
    }
}

impl Sink for HumanSink<'_> {
    fn event(&mut self, capture: &str, ev: &Event<'_>) -> Result<(), SinkError> {
        match ev {
            Event::Flow(done) => {
                if let Some((flow, findings)) = done.full {
                    self.report.add(flow, findings);
                }
            }
            Event::CrossFlow { at, finding } => self.report.add_at(at, finding),
            Event::Stats(s) if s.last => {
                let mut report = std::mem::replace(&mut self.report, HumanReport::new(self.detail));
                report.set_rollups(s.rollups.lines());
                let text = report.render(capture, s.stats, s.warnings);
                self.out.write_all(text.as_bytes())?;
            }
            Event::Stats(_) => {}
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
    }
}

/// One human line per finding as it is decided (`live --format human`), and a line of
/// counters per statistics event.
pub struct HumanLinesSink<'w> {
    out: &'w mut dyn Write,
}

impl<'w> HumanLinesSink<'w> {
    pub fn new(out: &'w mut dyn Write) -> Self {
        HumanLinesSink { out }
    }
}

impl HumanLinesSink<'_> {
    fn line(&mut self, at: &FlowRef, f: &Finding) -> Result<(), SinkError> {
        let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
        let line = format!(
            "{} {:<8} {:<26} {}:{} -> {}:{} (tcp.stream eq {}, frames {}) {}\n",
            format_ts_us(f.ts_us),
            f.severity.as_str(),
            f.kind,
            at.client.ip,
            at.client.port,
            at.server.ip,
            at.server.port,
            at.tcp_stream,
            frames.join(","),
            super::printable(&f.summary)
        );
        self.out.write_all(line.as_bytes())?;
        Ok(())
    }
}

impl Sink for HumanLinesSink<'_> {
    fn event(&mut self, capture: &str, ev: &Event<'_>) -> Result<(), SinkError> {
        match ev {
            Event::Flow(done) => {
                if let Some((flow, findings)) = done.full {
                    let at = flow.flow_ref();
                    for f in findings {
                        self.line(&at, f)?;
                    }
                }
            }
            Event::CrossFlow { at, finding } => self.line(at, finding)?,
            Event::Stats(s) => {
                let live = s.live.cloned().unwrap_or_default();
                let num = |k: &str| live[k].as_u64().map_or("?".into(), |n| n.to_string());
                let line = format!(
                    "{} capture_stats{} {capture}: packets {}, dropped {}, flows {} ({} open, {} timed out, {} evicted), rss {}\n",
                    format_ts_us(crate::model::now_us()),
                    if s.last { " (final)" } else { "" },
                    s.stats.packets,
                    num("pcap_dropped"),
                    s.stats.flows,
                    num("open_flows"),
                    s.stats.flows_timed_out,
                    s.stats.flows_evicted,
                    live["rss_bytes"].as_u64().map_or("?".into(), |b| format!("{} KiB", b / 1024)),
                );
                self.out.write_all(line.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// The HTML report's sink: what the report shows of each capture, bounded (see
/// [`CaptureReport`]); the page is written at the end.
#[derive(Default)]
pub struct ReportSink {
    pub captures: Vec<CaptureReport>,
}

impl Sink for &mut ReportSink {
    fn event(&mut self, capture: &str, ev: &Event<'_>) -> Result<(), SinkError> {
        if self.captures.last().is_none_or(|c| c.name != capture) {
            self.captures.push(CaptureReport::new(capture));
        }
        let Some(c) = self.captures.last_mut() else {
            return Ok(());
        };
        match ev {
            Event::Flow(done) => {
                if let Some((flow, findings)) = done.full {
                    c.add(flow, findings);
                }
            }
            Event::CrossFlow { at, finding } => c.add_at(at, finding),
            Event::Stats(s) => {
                c.stats = s.stats.clone();
                c.warnings = s.warnings.to_vec();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_line_is_longer_than_the_limit() {
        let warnings: Vec<String> = (0..5000)
            .map(|i| format!("warning {i}: {}", "x".repeat(40)))
            .collect();
        let rec =
            serde_json::json!({"type": "capture_stats", "capture": "c", "warnings": warnings});
        let mut out = Vec::new();
        Lines::new(&mut out).line(&rec).unwrap();
        assert!(out.len() <= MAX_LINE + 1, "{}", out.len());
        assert_eq!(out.last(), Some(&b'\n'));
        let back: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(back["record_truncated"], true);
        assert_eq!(back["type"], "capture_stats");
        let shown = back["warnings"].as_array().unwrap().len() as u64;
        assert_eq!(shown + back["warnings_not_shown"].as_u64().unwrap(), 5000);
    }
}
