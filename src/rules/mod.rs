//! The rule engine: small, named units that read a finished [`FlowRecord`] and raise
//! findings. Each rule lives in its own file with its own tests; adding a rule means adding
//! a file and one line in [`RULES`].
//!
//! Rules run in the order of [`RULES`]; a rule can read the findings raised before it on
//! the same flow (the `handshake_aborted` rule runs last and builds its diagnosis on them).

use serde::Serialize;
use serde_json::Value;

use crate::flow::FlowRecord;
use crate::model::{FrameNo, TimestampUs};

mod aborted;
mod alert;
mod certificate;
mod cipher;
mod credentials;
mod malformed;
mod offer;
mod plaintext;
mod proxy;
mod sni;
mod starttls;
mod version;

pub use aborted::{capture_quality, capture_quality_label};
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
    pub kind: &'static str,
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
    pub fn new(kind: &'static str, severity: Severity, ts_us: TimestampUs) -> Self {
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

/// What a rule sees: the flow and the findings raised on it so far.
pub struct RuleCtx<'a> {
    pub flow: &'a FlowRecord,
    pub findings: Vec<Finding>,
}

impl RuleCtx<'_> {
    pub fn has(&self, kind: &str) -> bool {
        self.findings.iter().any(|f| f.kind == kind)
    }

    pub fn first(&self, kind: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.kind == kind)
    }

    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

/// A named rule. `check` may push any number of findings.
pub struct Rule {
    pub name: &'static str,
    /// One line for `--list-rules` and the README.
    pub doc: &'static str,
    pub check: fn(&mut RuleCtx<'_>),
}

/// Every rule, in evaluation order.
pub const RULES: &[Rule] = &[
    plaintext::PLAINTEXT_TO_TLS_PORT,
    plaintext::TLS_TO_PLAINTEXT_PORT,
    proxy::PROXY_CONNECT_FAILED,
    starttls::STARTTLS,
    credentials::CLEARTEXT_CREDENTIALS,
    malformed::MALFORMED_TLS,
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
    aborted::HANDSHAKE_ABORTED,
];

/// Run every rule over a finished flow.
pub fn evaluate(flow: &FlowRecord) -> Vec<Finding> {
    let mut ctx = RuleCtx {
        flow,
        findings: Vec::new(),
    };
    for rule in RULES {
        (rule.check)(&mut ctx);
    }
    ctx.findings
}
