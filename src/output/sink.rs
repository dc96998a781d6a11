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

use std::io::{self, Write};
use std::sync::Arc;

use thiserror::Error;

use super::records::{write_finding_parts, CaptureFileRecord, CaptureStatsRecord, TlsFlowRecord};
use super::{
    ecs_finding, ecs_finding_at, ecs_tls_flow, FindingRecord, HumanReport, Rendered, RollupBy,
    Rollups, SyslogSender,
};
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
}

/// What the reading thread gets of a finished flow from where it finished.
pub struct FlowDigest {
    worst: Option<Severity>,
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
            keys: None,
        }
    }

    pub fn set_keys(&mut self, keys: Arc<KeyStore>) {
        self.keys = Some(keys);
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
        let ev = Event::Stats(StatsEvent {
            last,
            stats,
            format,
            warnings,
            truncated,
            files: &files,
            rollups: &rollups,
            live,
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

    /// After the last capture: every sink flushes and reports what it could not deliver.
    pub fn close(&mut self) -> Result<(), SinkError> {
        for s in &mut self.sinks {
            s.close()?;
        }
        Ok(())
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

/// Elastic Common Schema: one document per finding (the capture rules' too), and one per
/// flow with `--flows`. Capture statistics and roll-ups have no ECS event.
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
            Event::Stats(_) => {}
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
    verbose: bool,
    report: HumanReport,
}

impl<'w> HumanSink<'w> {
    pub fn new(out: &'w mut dyn Write, verbose: bool) -> Self {
        HumanSink {
            out,
            verbose,
            report: HumanReport::new(verbose),
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
                let mut report =
                    std::mem::replace(&mut self.report, HumanReport::new(self.verbose));
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

/// Each finding (the capture rules' too) to syslog, RFC 5424 with the finding record as
/// message. A failed send is reported once on stderr and counted; `close` reports the count.
pub struct SyslogSink<'s> {
    sender: &'s mut SyslogSender,
}

impl<'s> SyslogSink<'s> {
    pub fn new(sender: &'s mut SyslogSender) -> Self {
        SyslogSink { sender }
    }

    fn send(&mut self, rec: &serde_json::Value, sev: Severity) {
        if let Err(e) = self.sender.send(rec, sev) {
            if self.sender.failed == 1 {
                crate::output::warn(&format!("syslog {}: {e}", self.sender.target()));
            }
        }
    }
}

impl Sink for SyslogSink<'_> {
    fn event(&mut self, capture: &str, ev: &Event<'_>) -> Result<(), SinkError> {
        match ev {
            Event::Flow(done) => {
                if let Some((flow, findings)) = done.full {
                    for f in findings {
                        let rec = serde_json::to_value(FindingRecord::new(capture, flow, f))?;
                        self.send(&rec, f.severity);
                    }
                }
            }
            Event::CrossFlow { at, finding } => {
                let rec = serde_json::to_value(FindingRecord::at(capture, at, finding))?;
                self.send(&rec, finding.severity);
            }
            Event::Stats(_) => {}
        }
        Ok(())
    }
}

/// Everything of each capture, kept for the HTML report written at the end.
#[derive(Default)]
pub struct Collect {
    pub captures: Vec<Collected>,
}

/// One capture's flows, findings and counters.
pub struct Collected {
    pub name: String,
    pub flows: Vec<(FlowRecord, Vec<Finding>)>,
    pub cross: Vec<(FlowRef, Finding)>,
    pub stats: CaptureStats,
    pub warnings: Vec<String>,
}

impl Sink for &mut Collect {
    fn event(&mut self, capture: &str, ev: &Event<'_>) -> Result<(), SinkError> {
        if self.captures.last().is_none_or(|c| c.name != capture) {
            self.captures.push(Collected {
                name: capture.to_string(),
                flows: Vec::new(),
                cross: Vec::new(),
                stats: CaptureStats::default(),
                warnings: Vec::new(),
            });
        }
        let Some(c) = self.captures.last_mut() else {
            return Ok(());
        };
        match ev {
            Event::Flow(done) => {
                if let Some((flow, findings)) = done.full {
                    c.flows.push((flow.clone(), findings.to_vec()));
                }
            }
            Event::CrossFlow { at, finding } => c.cross.push(((*at).clone(), (*finding).clone())),
            Event::Stats(s) => {
                c.stats = s.stats.clone();
                c.warnings = s.warnings.to_vec();
            }
        }
        Ok(())
    }
}
