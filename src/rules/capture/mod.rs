//! Capture rules: findings that no single flow shows, made from what many flows of one
//! capture showed (pcap-analyzer's `post_process`, Zeek's cross-connection policy scripts).
//!
//! A capture rule works in three steps, so that a `--threads` run keeps its per-flow work
//! on the worker that finished the flow: `sight` takes the little it needs of a finished
//! flow (on the worker), `add` counts it where flows are numbered (the reading thread), and
//! `finish` raises findings at the end of the capture, each naming its flow by a
//! [`FlowRef`]. Findings of capture rules go through the same outputs as flow findings.

use std::any::Any;

use super::{Finding, Kind, RuleEnv};
use crate::flow::{FlowRecord, FlowRef};

mod interception;
mod learned_ports;
mod truncated;

/// What a capture rule takes of one flow, of a type its own state knows.
pub type SightingData = Box<dyn Any + Send>;

/// What a capture rule took of one flow, on the thread that finished it.
pub struct Sighting {
    rule: usize,
    data: SightingData,
}

/// A capture rule's state over one capture.
pub trait CaptureState: Send {
    /// Count what `sight` took of the flow numbered `tcp_stream`.
    fn add(&mut self, sighting: SightingData, tcp_stream: u64);
    /// The findings, at the end of the capture.
    fn finish(&mut self) -> Vec<(FlowRef, Finding)>;
    /// Notes for the capture's `capture_stats.warnings`, after `finish`.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A named capture rule.
pub struct CaptureRule {
    pub name: &'static str,
    /// One line for `tlstriage rules` and the README.
    pub doc: &'static str,
    /// The kinds it raises.
    pub kinds: &'static [Kind],
    /// What it needs of a finished flow and its findings, if anything.
    pub sight: fn(&FlowRecord, &[Finding]) -> Option<SightingData>,
    /// Its empty state for a new capture.
    pub new: fn(&RuleEnv) -> Box<dyn CaptureState>,
}

/// Every capture rule.
pub const CAPTURE_RULES: &[CaptureRule] = &[
    interception::TLS_INTERCEPTION,
    learned_ports::LEARNED_TLS_PORTS,
    truncated::TRUNCATED_CAPTURE,
];

/// What every capture rule took of one flow.
pub fn sightings(flow: &FlowRecord, findings: &[Finding]) -> Vec<Sighting> {
    CAPTURE_RULES
        .iter()
        .enumerate()
        .filter_map(|(rule, r)| (r.sight)(flow, findings).map(|data| Sighting { rule, data }))
        .collect()
}

/// The state of every capture rule over one capture.
pub struct CaptureRules {
    states: Vec<Box<dyn CaptureState>>,
}

impl CaptureRules {
    pub fn new(env: &RuleEnv) -> Self {
        CaptureRules {
            states: CAPTURE_RULES.iter().map(|r| (r.new)(env)).collect(),
        }
    }

    /// Count the sightings of the flow numbered `tcp_stream`.
    pub fn add(&mut self, sightings: Vec<Sighting>, tcp_stream: u64) {
        for s in sightings {
            self.states[s.rule].add(s.data, tcp_stream);
        }
    }

    /// Sight and count a flow whose number is known.
    pub fn add_flow(&mut self, flow: &FlowRecord, findings: &[Finding]) {
        self.add(sightings(flow, findings), flow.tcp_stream);
    }

    /// Every capture rule's findings, in rule order, with the kinds each declares.
    pub fn finish(&mut self) -> Vec<(FlowRef, Finding)> {
        let mut out = Vec::new();
        for (state, rule) in self.states.iter_mut().zip(CAPTURE_RULES) {
            let found = state.finish();
            debug_assert!(
                found.iter().all(|(_, f)| rule.kinds.contains(&f.kind)),
                "capture rule {} raised a kind it does not declare",
                rule.name
            );
            out.extend(found.into_iter().map(|(at, mut f)| {
                f.bound();
                (at, f)
            }));
        }
        out
    }

    /// What the capture rules have to say about the capture, after [`Self::finish`].
    pub fn notes(&self) -> Vec<String> {
        self.states.iter().flat_map(|s| s.notes()).collect()
    }
}
