//! Options of a run that the rules read besides the flow (thresholds, trust anchors), kept
//! below the flow table so that [`crate::flow::AnalyzerConfig`] can carry them to every
//! shard of a threaded run without the flow stage depending on the rules.

/// What rules read besides the flow and the findings raised before them. Shared by every
/// thread of a run; fields are options of the command line.
#[derive(Debug, Clone, Default)]
pub struct RuleEnv {}
