//! `tlstriage report`: one self-contained HTML file over every capture given.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::args::AnalysisArgs;
use super::read::{default_threads, read_one, MAX_THREADS};
use super::{error, EXIT_ERROR};
use crate::output::{render_report, AtomicFile, Fanout, ReportSink};

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Capture files (pcap or pcapng, plain or compressed).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The HTML file to write ("-" for standard output); written under a temporary name and
    /// renamed once complete.
    #[arg(short, long, default_value = "report.html")]
    pub output: PathBuf,
    /// Threads, flows sharded as for `read` (default: all cores; 1 = single-threaded).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    pub threads: Option<u16>,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// A capture that cannot be opened is an error; one broken part-way is reported as far as
/// it was read (exit 2).
pub fn report(args: &ReportArgs) -> Result<i32> {
    let config = args.analysis.config()?;
    let threads = args.threads.map_or_else(default_threads, usize::from);
    let mut collect = ReportSink::default();
    let mut errors = Vec::new();
    let mut code = 0;
    {
        let mut fan = Fanout::new(args.analysis.min_severity(), &[], &config.rules);
        fan.set_keys(config.keys.clone());
        fan.add(&mut collect);
        for path in &args.files {
            let name = path.display().to_string();
            fan.begin(&name);
            match read_one(path, &config, threads, &mut fan).with_context(|| name.clone())? {
                None => errors.push(None),
                Some(e) => {
                    error(&format!("{name}: {e}"));
                    code = EXIT_ERROR;
                    errors.push(Some(e.to_string()));
                }
            }
        }
    }
    for (c, error) in collect.captures.iter_mut().zip(errors) {
        c.error = error;
    }
    let html = render_report(&mut collect.captures);
    if args.output.as_os_str() == "-" {
        io::stdout()
            .write_all(html.as_bytes())
            .context("writing output")?;
    } else {
        let written = AtomicFile::create(&args.output).and_then(|mut file| {
            file.write_all(html.as_bytes())?;
            file.commit()
        });
        written.with_context(|| format!("writing {}", args.output.display()))?;
    }
    Ok(code)
}
