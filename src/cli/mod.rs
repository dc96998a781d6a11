//! Command-line interface: `tlstriage read`, `report`, `rules`, `explain`, `live`. Every
//! subcommand flattens the shared option sets of [`args`] and reports through one
//! [`crate::output::Fanout`] of sinks.

use std::io::{self, Write};

use clap::{Parser, Subcommand};

pub mod args;
mod explain;
mod follow;
pub mod live;
pub mod metrics;
mod read;
mod report;
mod set;
mod signals;

pub use args::{AnalysisArgs, FailOn, Format, OutputArgs, SeverityArg};
pub use explain::rules_listing;
pub use read::{default_threads, ReadArgs};
pub use report::ReportArgs;

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
    Live(live::LiveArgs),
    /// Print the Elasticsearch index template for `--format ecs` documents (also
    /// contrib/ecs-template.json): `PUT _index_template/tlstriage` with it.
    EcsTemplate,
}

/// Run the CLI; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Rules => print(&rules_listing()).map(|()| 0),
        Command::EcsTemplate => {
            let text = serde_json::to_string_pretty(&crate::output::ecs_template())
                .map_err(anyhow::Error::from);
            text.and_then(|t| print(&format!("{t}\n"))).map(|()| 0)
        }
        Command::Explain { kind } => explain::explain(kind.as_deref()),
        Command::Live(args) => Ok(live::run(&args)),
        Command::Report(args) => report::report(&args),
        Command::Read(args) => read::read(&args),
    };
    match result {
        Ok(code) => code,
        // A reader that went away (`tlstriage rules | head -1`) is no error of ours.
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            error(&format!("{e:#}"));
            EXIT_ERROR
        }
    }
}

/// Writes `text` to stdout.
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<crate::output::SinkError>()
                .is_some_and(|s| matches!(s, crate::output::SinkError::Io(io) if io.kind() == io::ErrorKind::BrokenPipe))
    })
}

/// An error message on stderr (a stderr that cannot be written is not worth a panic).
pub fn error(msg: &str) {
    let _ = writeln!(io::stderr(), "tlstriage: error: {msg}");
}
