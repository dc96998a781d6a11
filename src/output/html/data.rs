//! What the report keeps of a capture while it is read: counters, the failure groups (with
//! one example flow each), and a bounded list of the failing flows, worst first. Memory does
//! not grow with the capture: [`MAX_FLOW_ROWS`] rows and [`MAX_CROSS`] cross-flow findings
//! are kept (the rest counted), and the groups are bounded by [`Triage`].

use std::cmp::Reverse;
use std::collections::BTreeMap;

use crate::flow::{CaptureStats, Endpoint, FlowRecord, FlowRef};
use crate::model::{FrameNo, TimestampUs};
use crate::output::groups::Triage;
use crate::rules::{Finding, Severity};

/// Failing flows listed in the report's flow table; the rest are counted.
pub const MAX_FLOW_ROWS: usize = 500;
/// Cross-flow findings listed.
pub const MAX_CROSS: usize = 200;

/// One failing flow in the flow table.
#[derive(Debug, Clone)]
pub struct FlowRow {
    pub worst: Severity,
    pub ts_us: TimestampUs,
    pub tcp_stream: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub sni: Option<String>,
    /// Kinds above info, in the order raised.
    pub kinds: Vec<&'static str>,
    pub cause: Option<String>,
    pub first_frame: FrameNo,
    pub last_frame: FrameNo,
}

impl FlowRow {
    fn order(&self) -> (Reverse<Severity>, TimestampUs, u64) {
        (Reverse(self.worst), self.ts_us, self.tcp_stream)
    }
}

/// One capture of the report.
pub struct CaptureReport {
    pub name: String,
    pub stats: CaptureStats,
    pub warnings: Vec<String>,
    /// A read error that stopped the capture part-way.
    pub error: Option<String>,
    /// Findings per severity and kind.
    pub counts: BTreeMap<(Reverse<Severity>, &'static str), u64>,
    pub triage: Triage,
    rows: Vec<FlowRow>,
    /// Failing flows (a finding above info), listed or not.
    pub failing_flows: u64,
    pub cross: Vec<(FlowRef, Finding)>,
    pub cross_total: u64,
}

impl CaptureReport {
    pub fn new(name: &str) -> Self {
        CaptureReport {
            name: name.to_string(),
            stats: CaptureStats::default(),
            warnings: Vec::new(),
            error: None,
            counts: BTreeMap::new(),
            triage: Triage::new(true),
            rows: Vec::new(),
            failing_flows: 0,
            cross: Vec::new(),
            cross_total: 0,
        }
    }

    pub fn add(&mut self, flow: &FlowRecord, findings: &[Finding]) {
        for f in findings {
            *self
                .counts
                .entry((Reverse(f.severity), f.kind.as_str()))
                .or_default() += 1;
        }
        self.triage.add(flow, findings);
        let worst = findings.iter().map(|f| f.severity).max();
        let Some(worst) = worst.filter(|w| *w > Severity::Info) else {
            return;
        };
        self.failing_flows += 1;
        let mut kinds: Vec<&'static str> = findings
            .iter()
            .filter(|f| f.severity > Severity::Info)
            .map(|f| f.kind.as_str())
            .collect();
        kinds.dedup();
        self.rows.push(FlowRow {
            worst,
            ts_us: flow.first_ts_us,
            tcp_stream: flow.tcp_stream,
            client: flow.client,
            server: flow.server,
            sni: flow.sni().map(str::to_string),
            kinds,
            cause: findings
                .iter()
                .find_map(|f| f.evidence_str("likely_cause"))
                .map(str::to_string),
            first_frame: flow.first_frame,
            last_frame: flow.last_frame,
        });
        // Keep the worst, earliest rows: trim to the cap once it is exceeded twice over
        // (amortized O(log n) per flow).
        if self.rows.len() >= 2 * MAX_FLOW_ROWS {
            self.trim();
        }
    }

    fn trim(&mut self) {
        self.rows.sort_by_key(FlowRow::order);
        self.rows.truncate(MAX_FLOW_ROWS);
    }

    pub fn add_at(&mut self, at: &FlowRef, f: &Finding) {
        *self
            .counts
            .entry((Reverse(f.severity), f.kind.as_str()))
            .or_default() += 1;
        self.triage.add_at(at, f);
        self.cross_total += 1;
        if self.cross.len() < MAX_CROSS {
            self.cross.push((at.clone(), f.clone()));
        }
    }

    /// The listed failing flows, worst first, then by time.
    pub fn rows(&mut self) -> &[FlowRow] {
        self.trim();
        &self.rows
    }
}
