//! `tlstriage read`: analyze capture files: several files or a directory as one capture
//! (`set.rs`), or each file as its own with `--each-file`.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::args::{fanout, AnalysisArgs, FailOn, Format, Mode, NetworkOutputs, OutputArgs};
use super::follow::{follow, FollowArgs};
use super::set::{read_set, Inputs};
use super::{error, EXIT_ERROR, EXIT_FINDINGS};
use std::sync::Arc;

use crate::capture::{AfterRead, CaptureError, CaptureReader};
use crate::filter::Filter;
use crate::flow::AnalyzerConfig;
use crate::output::{AtomicFile, Fanout, WholeLines};
use crate::pipeline;

#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// Capture files (pcap or pcapng, plain or gzip/zstd/xz/lz4-compressed); "-" for
    /// standard input.
    #[arg(required_unless_present_any = ["read_file", "follow"])]
    pub files: Vec<PathBuf>,
    /// Follow a directory a capture tool rotates files into: read each file once a newer
    /// one appears beside it, keep flow state across files, stop on SIGINT/SIGTERM (the
    /// file being read is read to its end). Files read are listed in the state file.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["files", "read_file", "each_file"])]
    pub follow: Option<PathBuf>,
    /// With --follow: the state file (default DIR/.tlstriage-follow.state).
    #[arg(long, value_name = "FILE", requires = "follow")]
    pub state_file: Option<PathBuf>,
    /// With --follow: delete each file once read.
    #[arg(long, requires = "follow", conflicts_with = "move_after")]
    pub delete_after: bool,
    /// With --follow: move each file into DIR once read.
    #[arg(long, value_name = "DIR", requires = "follow")]
    pub move_after: Option<PathBuf>,
    /// A capture file, as tshark and tcpdump take it (repeatable; read before the
    /// positional files).
    #[arg(short = 'r', value_name = "FILE")]
    pub read_file: Vec<PathBuf>,
    /// Write the output to FILE instead of standard output: under a temporary name beside
    /// it, renamed over FILE once complete, so a reader never sees part of it.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Exit with 1 when a finding of at least this severity was reported.
    #[arg(long, value_enum, default_value = "never")]
    pub fail_on: FailOn,
    /// Analyse only TCP packets matching this pcap-filter(7)-style expression: host, net,
    /// port, portrange, src/dst, tcp/ip/ip6, and/or/not, parentheses (e.g. "host 10.0.0.5
    /// and port 443 or 8443"). Our own subset, in every build (not libpcap's compiler);
    /// frame numbers stay those of the file, as with tshark -Y.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Analyse each file as a capture of its own, as before version 0.2 (default: all the
    /// files and directories given are one capture, merged in time order like mergecap).
    #[arg(long)]
    pub each_file: bool,
    /// Threads: the reading thread and N-1 workers, connections spread over them by a hash
    /// of their endpoints; the output is the same as with one. Default: one per core not
    /// busy with other work (load average, runnable threads), at least one.
    /// At most 256 (more shards only split the flow table finer).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    pub threads: Option<u16>,
}

/// Standard output, or a file that appears when complete.
enum Target {
    Stdout(io::StdoutLock<'static>),
    File(AtomicFile),
}

impl Write for Target {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Target::Stdout(w) => w.write(data),
            Target::File(w) => w.write(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Target::Stdout(w) => w.flush(),
            Target::File(w) => w.flush(),
        }
    }
}

/// The most threads `read` takes.
pub const MAX_THREADS: i64 = 256;

/// The number of threads `read` uses by default: one per core that other work does not keep
/// busy (at least one, at most [`MAX_THREADS`]). A shard on a core that another process
/// holds waits for it, and the reading thread waits for the shard: on 2 cores with one
/// busy, 2 threads were slower than 1.
pub fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let busy = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| busy_cores(&text))
        .unwrap_or(0);
    cores.saturating_sub(busy).clamp(1, MAX_THREADS as usize)
}

/// Cores kept busy by other work, from the text of `/proc/loadavg` ("0.98 0.50 0.20 2/345
/// 6789"): the larger of the 1-minute load average (rounded) and the threads runnable right
/// now less this one (the average lags a minute behind a job that just started).
fn busy_cores(loadavg: &str) -> Option<usize> {
    let mut fields = loadavg.split_ascii_whitespace();
    let load: f64 = fields.next()?.parse().ok()?;
    let runnable: usize = fields.nth(2)?.split('/').next()?.parse().ok()?;
    let load = if load.is_finite() && load > 0.0 {
        // Rounded; the cast saturates, and load averages are small numbers.
        load.round() as usize
    } else {
        0
    };
    Some(load.max(runnable.saturating_sub(1)))
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
    let to_terminal = args.output_file.is_none() && io::stdout().is_terminal();
    let format = args.output.format.unwrap_or(if to_terminal {
        Format::Human
    } else {
        Format::Ndjson
    });
    let mut config = args.analysis.config()?;
    if let Some(expr) = &args.filter {
        config.filter = Some(Arc::new(Filter::parse(expr)?));
    }
    let threads = args.threads.map_or_else(default_threads, usize::from);
    let net = NetworkOutputs::connect(&args.output)?;
    let target = match &args.output_file {
        Some(path) => Target::File(
            AtomicFile::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Target::Stdout(io::stdout().lock()),
    };
    // Output can be a third of the capture's size: write it in large blocks; when
    // following a directory, a record as soon as it is decided.
    let block = if args.follow.is_some() { 1 } else { 1 << 18 };
    let mut out = WholeLines::with_capacity(block, target);
    let mut errors = 0;
    let worst = {
        let mut fan = fanout(
            &args.analysis,
            &config,
            &args.output,
            format,
            Mode::Read,
            &mut out,
            net,
        );
        if let Some(dir) = &args.follow {
            let after = match (&args.move_after, args.delete_after) {
                (Some(d), _) => AfterRead::MoveTo(d.clone()),
                (None, true) => AfterRead::Delete,
                (None, false) => AfterRead::Keep,
            };
            let how = FollowArgs {
                dir,
                state: args.state_file.as_ref(),
                after,
            };
            errors += follow(&how, &config, threads, &mut fan)?;
        }
        let given: Vec<&PathBuf> = args.read_file.iter().chain(&args.files).collect();
        let inputs = Inputs::expand(&given)?;
        let as_one = !args.each_file && (inputs.has_dir || given.len() > 1);
        if as_one {
            fan.begin(&inputs.name);
            match read_set(&inputs, &config, threads, &mut fan) {
                Ok(outcome) => errors += outcome.errors,
                Err(e) => return Err(e),
            }
        }
        let each: &[PathBuf] = if as_one { &[] } else { &inputs.paths };
        for path in each {
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
        if fan.close()? > 0 {
            errors += 1;
        }
        fan.worst()
    };
    out.flush().context("writing output")?;
    if let Target::File(file) = out.get_mut() {
        file.commit().context("writing output")?;
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
    // The bar counts bytes of the capture, which a compressed file does not have.
    let file_len = std::fs::metadata(path)
        .ok()
        .map(|m| m.len())
        .filter(|_| reader.input_format().compression.is_none());
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
        Some(reader.input_format()),
        &warnings,
        reader.truncated(),
        None,
    )?;
    for w in &warnings {
        crate::output::warn(&format!("{}: {w}", path.display()));
    }
    Ok(outcome.error)
}

#[cfg(test)]
mod tests {
    use super::busy_cores;

    #[test]
    fn busy_cores_take_the_load_average_or_the_threads_running_now() {
        // Idle machine: this thread is the one running.
        assert_eq!(busy_cores("0.02 0.10 0.05 1/312 4242\n"), Some(0));
        // A CPU hog that started seconds ago: the average has not caught up yet.
        assert_eq!(busy_cores("0.08 0.02 0.01 2/312 4242\n"), Some(1));
        // One busy for minutes, idle at this instant.
        assert_eq!(busy_cores("1.04 1.00 0.90 1/312 4242\n"), Some(1));
        assert_eq!(busy_cores("9.17 9.59 8.95 3/812 12345"), Some(9));
        assert_eq!(busy_cores(""), None);
        assert_eq!(busy_cores("nan 0 0 1/1 1"), Some(0));
        assert_eq!(busy_cores("garbage"), None);
    }
}
