//! The rule engine: small, named units that read a finished [`FlowRecord`] and raise
//! findings. Each rule lives in its own file with its own tests and declares the kinds it
//! raises (`kinds`) and the kinds raised by other rules that it reads (`after`); every kind
//! is declared once in [`kind::KINDS`]. Adding a rule means adding a file and one line in
//! [`RULES`].
//!
//! Rules run in the order of [`RULES`]; a rule can read the findings raised before it on
//! the same flow (`handshake_aborted` builds its diagnosis on them). A test checks that
//! every kind a rule reads is raised by a rule before it, and in debug builds
//! [`evaluate`] checks that a rule raises only the kinds it declares.

use serde::Serialize;
use serde_json::Value;

pub use crate::config::RuleEnv;
use crate::flow::FlowRecord;
use crate::model::{FrameNo, TimestampUs};

mod aborted;
mod alert;
pub mod capture;
pub mod cause;
mod certificate;
mod chain;
mod cipher;
mod connect;
mod credentials;
mod heartbeat;
pub mod kind;
mod malformed;
mod ocsp;
mod offer;
pub mod one_sided;
mod overlap;
mod plaintext;
mod proxy;
mod sni;
mod starttls;
pub mod truncated;
mod version;

pub use cause::Cause;
pub use kind::{Category, Kind, KindSpec, Scope, KINDS};
pub use version::client_max_version;

#[cfg(test)]
pub(crate) mod testutil;

/// Severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// One finding about one flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    /// Capture time of the decisive packet.
    pub ts_us: TimestampUs,
    /// Frames that prove the finding, ascending.
    pub frames: Vec<FrameNo>,
    pub summary: String,
    pub explanation: String,
    pub evidence: Value,
}

impl Finding {
    /// Cut its lists, strings and frames to the sizes of [`crate::bounded`], so that no
    /// output carries a 10,000-name certificate whole.
    pub fn bound(&mut self) {
        crate::bounded::bound_finding_text(
            &mut self.evidence,
            &mut self.summary,
            &mut self.explanation,
            &mut self.frames,
        );
    }

    pub fn new(kind: Kind, severity: Severity, ts_us: TimestampUs) -> Self {
        Finding {
            kind,
            severity,
            ts_us,
            frames: Vec::new(),
            summary: String::new(),
            explanation: String::new(),
            evidence: Value::Object(Default::default()),
        }
    }

    pub fn frames(mut self, frames: impl IntoIterator<Item = FrameNo>) -> Self {
        self.frames.extend(frames);
        self.frames.sort_unstable();
        self.frames.dedup();
        self
    }

    pub fn summary(mut self, s: impl Into<String>) -> Self {
        self.summary = s.into();
        self
    }

    pub fn explanation(mut self, s: impl Into<String>) -> Self {
        self.explanation = s.into();
        self
    }

    pub fn evidence(mut self, v: Value) -> Self {
        self.evidence = v;
        self
    }

    /// A string field of the evidence object, if present.
    pub fn evidence_str(&self, field: &str) -> Option<&str> {
        self.evidence.get(field).and_then(Value::as_str)
    }
}

/// What a rule sees: the flow, the findings raised on it so far, and the options of the run.
pub struct RuleCtx<'a> {
    pub flow: &'a FlowRecord,
    pub findings: Vec<Finding>,
    pub env: &'a RuleEnv,
    /// The `after` list of the rule running: what it may read (checked in debug builds).
    reads: &'static [Kind],
}

impl<'a> RuleCtx<'a> {
    pub fn new(flow: &'a FlowRecord, env: &'a RuleEnv) -> Self {
        RuleCtx {
            flow,
            findings: Vec::new(),
            env,
            reads: &[],
        }
    }

    /// Prepare to run `rule`.
    pub fn enter(&mut self, rule: &Rule) {
        self.reads = rule.after;
    }

    pub fn has(&self, kind: Kind) -> bool {
        self.first(kind).is_some()
    }

    pub fn first(&self, kind: Kind) -> Option<&Finding> {
        debug_assert!(
            self.reads.contains(&kind),
            "a rule reads {kind} without listing it in `after`"
        );
        self.findings.iter().find(|f| f.kind == kind)
    }

    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

/// A named rule. `check` may push any number of findings, of the kinds in `kinds` only.
pub struct Rule {
    pub name: &'static str,
    /// One line for `tlstriage rules` and the README.
    pub doc: &'static str,
    /// The kinds it raises.
    pub kinds: &'static [Kind],
    /// The kinds raised by other rules that it reads: those rules must come before it.
    pub after: &'static [Kind],
    pub check: fn(&mut RuleCtx<'_>),
}

/// Every rule, in evaluation order.
pub const RULES: &[Rule] = &[
    connect::CONNECTION_FAILED,
    plaintext::PLAINTEXT_TO_TLS_PORT,
    plaintext::TLS_TO_PLAINTEXT_PORT,
    proxy::PROXY_CONNECT_FAILED,
    starttls::STARTTLS,
    credentials::CLEARTEXT_CREDENTIALS,
    malformed::MALFORMED_TLS,
    heartbeat::HEARTBEAT,
    alert::TLS_ALERT,
    version::VERSION_MISMATCH,
    version::OBSOLETE_VERSION,
    cipher::CIPHER_MISMATCH,
    cipher::WEAK_CIPHER,
    sni::MISSING_SNI,
    certificate::CERTIFICATE_VALIDITY,
    certificate::CERTIFICATE_SELF_SIGNED,
    certificate::CERTIFICATE_NAME_MISMATCH,
    certificate::CERTIFICATE_WEAK,
    chain::CERTIFICATE_TRUST,
    chain::CERTIFICATE_EXPIRES_SOON,
    ocsp::OCSP_STAPLE,
    overlap::TCP_OVERLAP_CONFLICT,
    aborted::HANDSHAKE_ABORTED,
];

/// Run every rule over a finished flow, with the default options.
pub fn evaluate(flow: &FlowRecord) -> Vec<Finding> {
    evaluate_with(flow, &RuleEnv::default())
}

/// Run every rule over a finished flow.
pub fn evaluate_with(flow: &FlowRecord, env: &RuleEnv) -> Vec<Finding> {
    let mut ctx = RuleCtx::new(flow, env);
    for rule in RULES {
        ctx.enter(rule);
        let before = ctx.findings.len();
        (rule.check)(&mut ctx);
        debug_assert!(
            ctx.findings[before..]
                .iter()
                .all(|f| rule.kinds.contains(&f.kind)),
            "rule {} raised a kind it does not declare",
            rule.name
        );
    }
    let mut findings = ctx.findings;
    collapse_identical(&mut findings);
    for f in &mut findings {
        f.bound();
    }
    findings
}

/// Identical findings (same kind and summary) kept per flow; a flow of 10,000 identical
/// alerts gives this many and a count, not 10,000 lines.
pub const MAX_IDENTICAL_FINDINGS: usize = 10;

/// Keeps the first [`MAX_IDENTICAL_FINDINGS`] of each group of identical findings; the last
/// one kept says how many more there were (`identical_not_shown` in its evidence).
fn collapse_identical(findings: &mut Vec<Finding>) {
    if findings.len() <= MAX_IDENTICAL_FINDINGS {
        return;
    }
    let mut seen: std::collections::HashMap<(Kind, String), (usize, usize)> =
        std::collections::HashMap::new();
    let mut keep = Vec::with_capacity(findings.len());
    for (i, f) in findings.iter().enumerate() {
        let entry = seen.entry((f.kind, f.summary.clone())).or_insert((0, i));
        entry.0 += 1;
        if entry.0 <= MAX_IDENTICAL_FINDINGS {
            entry.1 = i;
            keep.push(true);
        } else {
            keep.push(false);
        }
    }
    for &(count, last_kept) in seen.values() {
        if count > MAX_IDENTICAL_FINDINGS {
            let more = count - MAX_IDENTICAL_FINDINGS;
            if let Some(f) = findings.get_mut(last_kept) {
                f.summary = format!("{} (and {more} more identical on this flow)", f.summary);
                if let Value::Object(ev) = &mut f.evidence {
                    ev.insert("identical_not_shown".into(), Value::from(more));
                }
            }
        }
    }
    let mut kept = keep.into_iter();
    findings.retain(|_| kept.next().unwrap_or(true));
}

/// The rule that raises `kind` on flows, if any.
pub fn rule_raising(kind: Kind) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.kinds.contains(&kind))
}
