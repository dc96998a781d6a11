//! Options of a run that the rules read besides the flow (thresholds, trust anchors), kept
//! below the flow table so that [`crate::flow::AnalyzerConfig`] can carry them to every
//! shard of a threaded run without the flow stage depending on the rules.

use std::sync::{Arc, OnceLock};

use crate::trust::{TrustStore, Validator};

/// Days before a certificate's notAfter from which `certificate_expires_soon` is raised
/// (Zeek's `SSL::Certificate_Expires_Soon` uses 30 as well).
pub const DEFAULT_EXPIRY_WARNING_DAYS: u32 = 30;

/// What rules read besides the flow and the findings raised before them. Shared by every
/// thread of a run; fields are options of the command line.
#[derive(Debug, Clone)]
pub struct RuleEnv {
    /// The trust store chains are validated against, with its cache of verdicts (one for
    /// the whole run, so every thread reuses every other thread's work).
    pub trust: Arc<Validator>,
    pub expiry_warning_days: u32,
}

impl Default for RuleEnv {
    /// Mozilla's roots only, so that library callers and tests get the same verdicts on
    /// every machine (the CLI adds the system store unless `--no-system-roots`).
    fn default() -> Self {
        static MOZILLA: OnceLock<Arc<Validator>> = OnceLock::new();
        RuleEnv {
            trust: MOZILLA
                .get_or_init(|| Arc::new(Validator::new(TrustStore::mozilla())))
                .clone(),
            expiry_warning_days: DEFAULT_EXPIRY_WARNING_DAYS,
        }
    }
}
