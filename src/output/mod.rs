//! Output stage: NDJSON records (the contract in `shared/spec/findings.md`, schema in
//! `schema/tlstriage.schema.json`) and the human triage summary.

mod delivery;
mod ecs;
mod ecs_template;
mod failures;
mod fastjson;
mod file;
mod fix;
mod groups;
mod html;
mod human;
mod printable;
mod records;
mod redis;
mod rollup;
mod sink;
mod syslog;
mod syslog_tls;

pub use delivery::{Delivery, NamedDelivery};
pub use ecs::{
    ecs_finding, ecs_finding_at, ecs_rollup, ecs_tls_flow, severity_number, ECS_VERSION,
};
pub use ecs_template::{ecs_fields, ecs_template, ECS_FIELDS};
pub use file::{AtomicFile, WholeLines};
pub use fix::{cause_fix, finding_fix, kind_fix, reason_fix};
pub use groups::{cause_words, headline, Group, GroupKey, Timeline, Triage, MAX_GROUPS};
pub use html::{
    esc, ladder_steps, ladder_svg, render_report, timeline_svg, CaptureReport, FlowRow, Step,
    GROUPS_DRAWN, MAX_FLOW_ROWS,
};
pub use human::{Detail, HumanReport};
pub use printable::{is_unsafe, printable};
pub use records::{
    capture_stats_record, finding_record, flow_json, tls_flow_record, write_finding,
    write_finding_parts, CaptureFileRecord, CaptureStatsRecord, CertRecord, FindingRecord,
    FlowJson, Rendered, TlsFlowRecord, SCHEMA_VERSION,
};
pub use redis::{
    RedisConfig, RedisMode, RedisOutputError, RedisSender, RedisSink, DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_QUEUE, DEFAULT_STREAM_MAXLEN,
};
pub use rollup::{RollupBy, Rollups};
pub use sink::{
    EcsSink, Event, Fanout, FlowDigest, FlowDone, HumanLinesSink, HumanSink, NdjsonSink, Prepare,
    ReportSink, Sink, SinkError, StatsEvent,
};
pub use syslog::{
    format_rfc5424, syslog_severity, SyslogSender, SyslogSink, SyslogTarget, Transport,
    DEFAULT_MAX_MESSAGE, MIN_MAX_MESSAGE,
};

/// A warning on stderr. A stderr that cannot be written is no reason to stop the analysis.
pub fn warn(msg: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "tlstriage: warning: {msg}");
}
