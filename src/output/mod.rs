//! Output stage: NDJSON records (the contract in `shared/spec/findings.md`, schema in
//! `schema/tlstriage.schema.json`) and the human triage summary.

mod human;
mod records;

pub use human::HumanReport;
pub use records::{
    capture_stats_record, finding_record, flow_json, tls_flow_record, SCHEMA_VERSION,
};
