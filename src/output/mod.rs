//! Output stage: NDJSON records (the contract in `shared/spec/findings.md`, schema in
//! `schema/tlstriage.schema.json`) and the human triage summary.

mod ecs;
mod fastjson;
mod html;
mod human;
mod records;
mod rollup;
mod syslog;

pub use ecs::{ecs_finding, ecs_tls_flow, severity_number, ECS_VERSION};
pub use html::{esc, ladder_steps, ladder_svg, render_report, ReportCapture, Step};
pub use human::HumanReport;
pub use records::{
    capture_stats_record, finding_record, flow_json, tls_flow_record, write_finding,
    write_finding_parts, FindingRecord, FlowJson, Rendered, SCHEMA_VERSION,
};
pub use rollup::{IssuerSighting, IssuerWatch, RollupBy, Rollups};
pub use syslog::{format_rfc5424, syslog_severity, SyslogSender, SyslogTarget, Transport};
