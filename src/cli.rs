//! Command-line interface: `tlstriage read`, `tlstriage rules`, `tlstriage live`.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use crate::capture::CaptureReader;
use crate::flow::{AnalyzerConfig, FlowRecord, DEFAULT_TLS_PORTS};
use crate::output::{capture_stats_record, finding_record, tls_flow_record, HumanReport};
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
    /// Capture live from a network interface (libpcap; cargo feature `live`).
    Live(crate::live::LiveArgs),
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Ndjson,
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
    pub format: Option<Format>,
    /// Also emit one tls_flow record per TLS flow (like Zeek's ssl.log).
    #[arg(long)]
    pub flows: bool,
    /// Ports where clients speak TLS first (comma separated), replacing the default list.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub tls_ports: Option<Vec<u16>>,
    /// Exit with 1 when a finding of at least this severity was raised.
    #[arg(long, value_enum, default_value = "never")]
    pub fail_on: FailOn,
    /// Idle timeout in seconds of capture time after which an open flow is finished.
    #[arg(long, default_value_t = 120)]
    pub idle_timeout: u64,
    /// In human output, also list flows with only informational findings.
    #[arg(short, long)]
    pub verbose: bool,
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
        Command::Read(args) => match read(&args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("tlstriage: error: {e:#}");
                EXIT_ERROR
            }
        },
    }
}

/// Everything emitted for one finished flow goes through here.
struct Sink<'a> {
    format: Format,
    emit_flows: bool,
    out: &'a mut dyn Write,
    human: HumanReport,
    worst: Option<Severity>,
    capture: String,
}

impl Sink<'_> {
    fn flow(&mut self, flow: &FlowRecord, findings: &[Finding]) -> Result<()> {
        if let Some(w) = findings.iter().map(|f| f.severity).max() {
            self.worst = self.worst.max(Some(w));
        }
        match self.format {
            Format::Ndjson => {
                for f in findings {
                    serde_json::to_writer(&mut *self.out, &finding_record(&self.capture, flow, f))?;
                    self.out.write_all(b"\n")?;
                }
                if self.emit_flows && (flow.tls.is_some() || flow.server_port_is_tls) {
                    serde_json::to_writer(
                        &mut *self.out,
                        &tls_flow_record(&self.capture, flow, findings),
                    )?;
                    self.out.write_all(b"\n")?;
                }
            }
            Format::Human => self.human.add(flow, findings),
        }
        Ok(())
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
        Format::Human
    } else {
        Format::Ndjson
    });
    let mut config = AnalyzerConfig::default();
    config.set_tls_ports(args.tls_ports.as_deref().unwrap_or(DEFAULT_TLS_PORTS));
    config.idle_timeout_us =
        i64::try_from(args.idle_timeout.saturating_mul(1_000_000)).unwrap_or(i64::MAX);

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut errors = 0;
    let mut worst = None;
    for path in &args.files {
        let name = path.display().to_string();
        let mut sink = Sink {
            format,
            emit_flows: args.flows,
            out: &mut out,
            human: HumanReport::new(args.verbose),
            worst: None,
            capture: name.clone(),
        };
        match read_one(path, &config, &mut sink) {
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
fn read_one(path: &Path, config: &AnalyzerConfig, sink: &mut Sink<'_>) -> Result<()> {
    let mut reader = CaptureReader::open(path)?;
    let file_len = std::fs::metadata(path).ok().map(|m| m.len());
    let bar = progress_bar(file_len);
    let outcome = pipeline::run(
        &mut reader,
        config,
        &mut |flow, findings| sink.flow(&flow, &findings),
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
    match sink.format {
        Format::Ndjson => {
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
        Format::Human => {
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
