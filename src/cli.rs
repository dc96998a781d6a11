//! Command-line interface: `tlstriage read`, `tlstriage rules`, `tlstriage live`.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use crate::capture::CaptureReader;
use crate::flow::{AnalyzerConfig, FlowRecord, DEFAULT_TLS_PORTS};
use crate::output::{
    capture_stats_record, ecs_finding, ecs_tls_flow, finding_record, tls_flow_record,
    write_finding_parts, HumanReport, IssuerSighting, IssuerWatch, Rendered,
};
use crate::pipeline;
use crate::rules::{Finding, Severity, RULES};

/// Exit code when a finding at or above `--fail-on` was raised.
pub const EXIT_FINDINGS: i32 = 1;
/// Exit code for errors (unreadable input, bad arguments).
pub const EXIT_ERROR: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "tlstriage",
    version,
    about = "Explains failed TLS handshakes from packet captures: who gave up, at which step, and why."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyze pcap/pcapng files ("-" reads standard input).
    Read(ReadArgs),
    /// List the rules and the finding kinds they raise.
    Rules,
    /// Write a self-contained HTML report: summary, failing flows, handshake ladders.
    Report(ReportArgs),
    /// Explain a finding kind or a likely_cause: meaning, common causes, commands to confirm.
    Explain {
        /// A finding kind (e.g. handshake_aborted) or likely_cause (e.g. certificate_rejected);
        /// without it, list the known ones.
        kind: Option<String>,
    },
    /// Capture live from a network interface (libpcap; cargo feature `live`).
    Live(crate::live::LiveArgs),
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Ndjson,
}

/// Output formats of `read`: `Format` plus Elastic Common Schema documents.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFormat {
    Human,
    Ndjson,
    /// One Elastic Common Schema document per finding (and per flow with --flows).
    Ecs,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Info,
    Low,
    Medium,
    High,
    Critical,
    Never,
}

#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// Capture files (pcap or pcapng); "-" for standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format; default: human on a terminal, ndjson otherwise.
    #[arg(long, value_enum)]
    pub format: Option<ReadFormat>,
    /// Also emit one tls_flow record per TLS flow (like Zeek's ssl.log).
    #[arg(long)]
    pub flows: bool,
    /// Ports where clients speak TLS first (comma separated), replacing the default list.
    #[arg(long, value_delimiter = ',')]
    pub tls_ports: Option<Vec<u16>>,
    /// Exit with 1 when a finding of at least this severity was raised.
    #[arg(long, value_enum, default_value = "never")]
    pub fail_on: FailOn,
    /// Idle timeout in seconds of capture time after which an open flow is finished.
    #[arg(long, default_value_t = 120)]
    pub idle_timeout: u64,
    /// Also send each finding to syslog as RFC 5424 with the JSON record as message:
    /// udp://HOST[:514] or tcp://HOST[:601] (octet-counted framing).
    #[arg(long, value_name = "URL")]
    pub syslog: Option<crate::output::SyslogTarget>,
    /// In human output, also list flows with only informational findings.
    #[arg(short, long)]
    pub verbose: bool,
    /// Aggregate findings per server, client and/or SNI (comma separated): "rollup" records
    /// at the end of each capture in NDJSON; the human summary leads with them.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub summary_by: Vec<crate::output::RollupBy>,
    /// Threads: the reading thread and N-1 workers, connections spread over them by a hash
    /// of their endpoints; the output is the same as with one. Default: one per core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Drop findings below this severity everywhere (output, syslog, roll-ups, exit code):
    /// `low` leaves out the informational ones, such as the close_notify alert ending every
    /// healthy session.
    #[arg(long, value_enum, default_value = "info")]
    pub min_severity: MinSeverity,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinSeverity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl MinSeverity {
    fn severity(self) -> Severity {
        match self {
            MinSeverity::Info => Severity::Info,
            MinSeverity::Low => Severity::Low,
            MinSeverity::Medium => Severity::Medium,
            MinSeverity::High => Severity::High,
            MinSeverity::Critical => Severity::Critical,
        }
    }
}

/// The number of threads `read` uses by default: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn fail_threshold(f: FailOn) -> Option<Severity> {
    Some(match f {
        FailOn::Info => Severity::Info,
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
        FailOn::Critical => Severity::Critical,
        FailOn::Never => return None,
    })
}

/// Run the CLI; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Rules => {
            for r in RULES {
                println!("{:<28} {}", r.name, r.doc);
            }
            0
        }
        Command::Live(args) => crate::live::run(&args),
        Command::Explain { kind } => explain(kind.as_deref()),
        Command::Report(args) => match report(&args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("tlstriage: error: {e:#}");
                EXIT_ERROR
            }
        },
        Command::Read(args) => match read(&args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("tlstriage: error: {e:#}");
                EXIT_ERROR
            }
        },
    }
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Capture files (pcap or pcapng).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The HTML file to write ("-" for standard output).
    #[arg(short, long, default_value = "report.html")]
    pub output: PathBuf,
    /// Ports where clients speak TLS first (comma separated), replacing the default list.
    #[arg(long, value_delimiter = ',')]
    pub tls_ports: Option<Vec<u16>>,
    /// Idle timeout in seconds of capture time after which an open flow is finished.
    #[arg(long, default_value_t = 120)]
    pub idle_timeout: u64,
}

/// `tlstriage report`: analyze every capture, write one HTML file. A capture that cannot be
/// opened is an error; one broken part-way is reported as far as it was read (exit 2).
fn report(args: &ReportArgs) -> Result<i32> {
    let mut config = AnalyzerConfig::default();
    config.set_tls_ports(args.tls_ports.as_deref().unwrap_or(DEFAULT_TLS_PORTS));
    config.idle_timeout_us =
        i64::try_from(args.idle_timeout.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
    let mut analyses = Vec::new();
    let mut code = 0;
    for path in &args.files {
        let name = path.display().to_string();
        let a = pipeline::analyze_path(path, &config).with_context(|| name.clone())?;
        if let Some(e) = &a.error {
            eprintln!("tlstriage: error: {name}: {e}");
            code = EXIT_ERROR;
        }
        analyses.push((name, a));
    }
    let captures: Vec<crate::output::ReportCapture<'_>> = analyses
        .iter()
        .map(|(name, analysis)| crate::output::ReportCapture { name, analysis })
        .collect();
    let html = crate::output::render_report(&captures);
    if args.output.as_os_str() == "-" {
        io::stdout()
            .write_all(html.as_bytes())
            .context("writing output")?;
    } else {
        std::fs::write(&args.output, html)
            .with_context(|| format!("writing {}", args.output.display()))?;
    }
    Ok(code)
}

/// `tlstriage explain [KIND]`: 0 when explained or listed, 2 for an unknown kind.
fn explain(kind: Option<&str>) -> i32 {
    match kind.map(crate::explain::lookup) {
        Some(Some(topic)) => {
            print!("{}", crate::explain::render(topic));
            0
        }
        None => {
            print!("{}", crate::explain::known_list());
            0
        }
        Some(None) => {
            eprintln!(
                "tlstriage: error: unknown kind {:?}; known ones:\n\n{}",
                kind.unwrap_or_default(),
                crate::explain::known_list()
            );
            EXIT_ERROR
        }
    }
}

/// Send one finding record to syslog; the first failure is reported at once, the count at
/// the end.
fn syslog_send(sender: &mut crate::output::SyslogSender, rec: &serde_json::Value, sev: Severity) {
    if let Err(e) = sender.send(rec, sev) {
        if sender.failed == 1 {
            eprintln!("tlstriage: warning: syslog {}: {e}", sender.target());
        }
    }
}

/// Everything emitted for one finished flow goes through here.
struct Sink<'a> {
    format: ReadFormat,
    emit_flows: bool,
    out: &'a mut dyn Write,
    human: HumanReport,
    worst: Option<Severity>,
    capture: String,
    syslog: Option<&'a mut crate::output::SyslogSender>,
    /// Findings below this are dropped as soon as the rules raise them.
    min_severity: Severity,
    /// Capture-level passes (roll-ups, issuer watch), emitted at the end of the capture.
    rollups: crate::output::Rollups,
    issuers: crate::output::IssuerWatch,
}

impl Sink<'_> {
    fn flow(&mut self, digest: FlowDigest, tcp_stream: u64, rendered: &[u8]) -> Result<()> {
        let (mut flow, findings) = match digest {
            FlowDigest::Brief { worst, issuer } => {
                self.worst = self.worst.max(worst);
                if let Some(s) = issuer {
                    self.issuers.add_sighting(*s, tcp_stream);
                }
                self.out.write_all(rendered)?;
                return Ok(());
            }
            FlowDigest::Full(record) => *record,
        };
        flow.tcp_stream = tcp_stream;
        let flow = &flow;
        self.rollups.add(flow, &findings);
        self.issuers.add(flow);
        if let Some(sender) = self.syslog.as_deref_mut() {
            for f in &findings {
                syslog_send(sender, &finding_record(&self.capture, flow, f), f.severity);
            }
        }
        if let Some(w) = findings.iter().map(|f| f.severity).max() {
            self.worst = self.worst.max(Some(w));
        }
        match self.format {
            ReadFormat::Ecs => {
                for f in &findings {
                    serde_json::to_writer(&mut *self.out, &ecs_finding(&self.capture, flow, f))?;
                    self.out.write_all(b"\n")?;
                }
                if self.emit_flows && (flow.tls.is_some() || flow.server_port_is_tls) {
                    let doc = ecs_tls_flow(&self.capture, flow, &findings);
                    serde_json::to_writer(&mut *self.out, &doc)?;
                    self.out.write_all(b"\n")?;
                }
            }
            ReadFormat::Ndjson => {
                self.out.write_all(rendered)?;
                if self.emit_flows && (flow.tls.is_some() || flow.server_port_is_tls) {
                    serde_json::to_writer(
                        &mut *self.out,
                        &tls_flow_record(&self.capture, flow, &findings),
                    )?;
                    self.out.write_all(b"\n")?;
                }
            }
            ReadFormat::Human => self.human.add(flow, &findings),
        }
        Ok(())
    }

    /// Whether a flow's NDJSON finding lines and a [`FlowDigest::Brief`] are all this sink
    /// needs of it; otherwise it gets the whole record.
    fn brief_is_enough(&self) -> bool {
        self.format == ReadFormat::Ndjson
            && !self.emit_flows
            && self.syslog.is_none()
            && self.rollups.is_empty()
    }
}

/// What the output needs of a finished flow, made on the worker that finished it.
enum FlowDigest {
    /// Plain NDJSON: the lines are already formatted; what is left is the exit code and the
    /// capture-wide issuer check. The record is freed on the worker.
    Brief {
        worst: Option<Severity>,
        issuer: Option<Box<IssuerSighting>>,
    },
    /// Everything else (human summary, ECS, flow records, syslog, roll-ups).
    Full(Box<(FlowRecord, Vec<Finding>)>),
}

/// The NDJSON lines of a flow's findings (run on the worker that finished the flow).
fn ndjson_findings(capture: &str, flow: &FlowRecord, findings: &[Finding], out: &mut Rendered) {
    for f in findings {
        // Writing into memory fails only if serde_json does (it cannot for these types).
        if let Err(e) = write_finding_parts(out, capture, flow, f) {
            debug_assert!(false, "serializing a finding: {e}");
        }
    }
}

fn progress_bar(len: Option<u64>) -> Option<indicatif::ProgressBar> {
    const WORTH_IT: u64 = 64 << 20;
    let len = len.filter(|l| *l >= WORTH_IT)?;
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

fn read(args: &ReadArgs) -> Result<i32> {
    let format = args.format.unwrap_or(if io::stdout().is_terminal() {
        ReadFormat::Human
    } else {
        ReadFormat::Ndjson
    });
    let mut config = AnalyzerConfig::default();
    config.set_tls_ports(args.tls_ports.as_deref().unwrap_or(DEFAULT_TLS_PORTS));
    config.idle_timeout_us =
        i64::try_from(args.idle_timeout.saturating_mul(1_000_000)).unwrap_or(i64::MAX);

    let stdout = io::stdout();
    // Output can be a third of the capture's size: write it in large blocks.
    let mut out = BufWriter::with_capacity(1 << 18, stdout.lock());
    let mut errors = 0;
    let mut worst = None;
    let mut syslog = match &args.syslog {
        Some(t) => {
            Some(crate::output::SyslogSender::connect(t).with_context(|| format!("syslog {t}"))?)
        }
        None => None,
    };
    for path in &args.files {
        let name = path.display().to_string();
        let mut sink = Sink {
            format,
            emit_flows: args.flows,
            out: &mut out,
            human: HumanReport::new(args.verbose),
            worst: None,
            capture: name.clone(),
            syslog: syslog.as_mut(),
            rollups: crate::output::Rollups::new(&args.summary_by),
            min_severity: args.min_severity.severity(),
            issuers: crate::output::IssuerWatch::default(),
        };
        let threads = args.threads.map_or_else(default_threads, usize::from);
        match read_one(path, &config, threads, &mut sink) {
            Ok(()) => {}
            Err(e) => {
                errors += 1;
                sink.out.flush().ok();
                eprintln!("tlstriage: error: {name}: {e:#}");
            }
        }
        worst = worst.max(sink.worst);
    }
    out.flush().context("writing output")?;
    if let Some(s) = syslog.as_mut() {
        s.close();
        if s.failed > 0 {
            eprintln!(
                "tlstriage: error: syslog {}: {} of {} findings not sent",
                s.target(),
                s.failed,
                s.failed + s.sent
            );
            errors += 1;
        }
    }
    if errors > 0 {
        return Ok(EXIT_ERROR);
    }
    if let (Some(threshold), Some(w)) = (fail_threshold(args.fail_on), worst) {
        if w >= threshold {
            return Ok(EXIT_FINDINGS);
        }
    }
    Ok(0)
}

/// Analyze one capture. On a read error part-way, what was read is still analyzed and
/// reported, and the error is returned.
fn read_one(
    path: &Path,
    config: &AnalyzerConfig,
    threads: usize,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let mut reader = CaptureReader::open(path)?;
    let file_len = std::fs::metadata(path).ok().map(|m| m.len());
    let bar = progress_bar(file_len);
    let capture = sink.capture.clone();
    let (ndjson, brief) = (sink.format == ReadFormat::Ndjson, sink.brief_is_enough());
    let min_severity = sink.min_severity;
    let prepare = |flow: FlowRecord, mut findings: Vec<Finding>, out: &mut Rendered| {
        findings.retain(|f| f.severity >= min_severity);
        if ndjson {
            ndjson_findings(&capture, &flow, &findings, out);
        }
        if brief {
            FlowDigest::Brief {
                worst: findings.iter().map(|f| f.severity).max(),
                issuer: IssuerWatch::sighting(&flow).map(Box::new),
            }
        } else {
            FlowDigest::Full(Box::new((flow, findings)))
        }
    };
    let outcome = pipeline::run_threads(
        &mut reader,
        config,
        threads,
        &prepare,
        &mut |digest, tcp_stream, rendered| sink.flow(digest, tcp_stream, rendered),
        &mut |pos| {
            if let Some(b) = &bar {
                b.set_position(pos);
            }
        },
    )?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let warnings = reader.warnings().to_vec();
    // Cross-flow findings (documented in output/rollup.rs), then the roll-ups.
    let mut cross = sink.issuers.records(&sink.capture);
    cross.retain(|(sev, _)| *sev >= sink.min_severity);
    if let Some(sender) = sink.syslog.as_deref_mut() {
        for (sev, rec) in cross.iter().filter(|(_, r)| r["type"] == "finding") {
            syslog_send(sender, rec, *sev);
        }
    }
    if let Some(w) = cross.iter().map(|(s, _)| *s).max() {
        sink.worst = sink.worst.max(Some(w));
    }
    match sink.format {
        ReadFormat::Ndjson => {
            let rollups = sink.rollups.records(&sink.capture);
            for rec in cross.iter().map(|(_, r)| r).chain(&rollups) {
                serde_json::to_writer(&mut *sink.out, rec)?;
                sink.out.write_all(b"\n")?;
            }
        }
        ReadFormat::Human => {
            sink.human.add_records(cross.iter().map(|(_, r)| r));
            sink.human.set_rollups(sink.rollups.lines());
        }
        ReadFormat::Ecs => {}
    }
    match sink.format {
        // ECS documents are per finding and per flow; capture statistics have no ECS event.
        ReadFormat::Ecs => {}
        ReadFormat::Ndjson => {
            let rec = capture_stats_record(
                &sink.capture,
                Some(reader.format()),
                &outcome.stats,
                &warnings,
                reader.truncated(),
            );
            serde_json::to_writer(&mut *sink.out, &rec)?;
            sink.out.write_all(b"\n")?;
        }
        ReadFormat::Human => {
            let text = sink.human.render(&sink.capture, &outcome.stats, &warnings);
            sink.out.write_all(text.as_bytes())?;
        }
    }
    for w in &warnings {
        eprintln!("tlstriage: warning: {}: {w}", sink.capture);
    }
    match outcome.error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
