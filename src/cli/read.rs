//! `tlstriage read`: analyze capture files, each as its own capture.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::args::{fanout, AnalysisArgs, FailOn, Format, Mode, OutputArgs};
use super::{error, EXIT_ERROR, EXIT_FINDINGS};
use crate::capture::{CaptureError, CaptureReader};
use crate::flow::AnalyzerConfig;
use crate::output::{Fanout, SyslogSender};
use crate::pipeline;

#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// Capture files (pcap or pcapng); "-" for standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Exit with 1 when a finding of at least this severity was reported.
    #[arg(long, value_enum, default_value = "never")]
    pub fail_on: FailOn,
    /// Threads: the reading thread and N-1 workers, connections spread over them by a hash
    /// of their endpoints; the output is the same as with one. Default: one per core.
    /// At most 256 (more shards only split the flow table finer).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    pub threads: Option<u16>,
}

/// The most threads `read` takes.
pub const MAX_THREADS: i64 = 256;

/// The number of threads `read` uses by default: one per core (at most [`MAX_THREADS`]).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS as usize))
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

pub fn read(args: &ReadArgs) -> Result<i32> {
    let format = args.output.format.unwrap_or(if io::stdout().is_terminal() {
        Format::Human
    } else {
        Format::Ndjson
    });
    let config = args.analysis.config()?;
    let threads = args.threads.map_or_else(default_threads, usize::from);
    let mut syslog = match &args.output.syslog {
        Some(t) => Some(SyslogSender::connect(t).with_context(|| format!("syslog {t}"))?),
        None => None,
    };
    let stdout = io::stdout();
    // Output can be a third of the capture's size: write it in large blocks.
    let mut out = BufWriter::with_capacity(1 << 18, stdout.lock());
    let mut errors = 0;
    let worst = {
        let mut fan = fanout(
            &args.analysis,
            &config.rules,
            &args.output,
            format,
            Mode::Read,
            &mut out,
            syslog.as_mut(),
        );
        for path in &args.files {
            let name = path.display().to_string();
            fan.begin(&name);
            match read_one(path, &config, threads, &mut fan) {
                Ok(None) => {}
                Ok(Some(e)) => {
                    errors += 1;
                    error(&format!("{name}: {e}"));
                }
                Err(e) if e.downcast_ref::<crate::output::SinkError>().is_some() => return Err(e),
                Err(e) => {
                    errors += 1;
                    error(&format!("{name}: {e:#}"));
                }
            }
        }
        fan.close()?;
        fan.worst()
    };
    out.flush().context("writing output")?;
    if let Some(s) = syslog.as_mut() {
        s.close();
        if s.failed > 0 {
            error(&format!(
                "syslog {}: {} of {} findings not sent",
                s.target(),
                s.failed,
                s.failed + s.sent
            ));
            errors += 1;
        }
    }
    if errors > 0 {
        return Ok(EXIT_ERROR);
    }
    match (args.fail_on.threshold(), worst) {
        (Some(threshold), Some(w)) if w >= threshold => Ok(EXIT_FINDINGS),
        _ => Ok(0),
    }
}

/// Analyze one capture into `fan`. On a read error part-way, what was read is still
/// analyzed and reported, and the read error is returned as `Ok(Some(..))`; `Err` means
/// the capture could not be opened or an output failed.
pub fn read_one(
    path: &Path,
    config: &AnalyzerConfig,
    threads: usize,
    fan: &mut Fanout<'_>,
) -> Result<Option<CaptureError>> {
    let mut reader = CaptureReader::open(path)?;
    let file_len = std::fs::metadata(path).ok().map(|m| m.len());
    let bar = progress_bar(file_len);
    let prepare = fan.prepare();
    let outcome = pipeline::run_threads(
        &mut reader,
        config,
        threads,
        &|flow, findings, out| prepare.flow(flow, findings, out),
        &mut |digest, tcp_stream, rendered| fan.flow(digest, tcp_stream, rendered),
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
    fan.end(
        &outcome.stats,
        Some(reader.format()),
        &warnings,
        reader.truncated(),
        None,
    )?;
    for w in &warnings {
        crate::output::warn(&format!("{}: {w}", path.display()));
    }
    Ok(outcome.error)
}
