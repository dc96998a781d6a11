//! `read --follow DIR`: the rotating directory of a capture tool as one endless capture,
//! until SIGINT/SIGTERM (see `capture::Follow`).

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::error;
use crate::capture::{AfterRead, Follow, PacketSource};
use crate::flow::AnalyzerConfig;
use crate::output::{CaptureFileRecord, Fanout};
use crate::pipeline;

/// How to follow, from the command line.
pub struct FollowArgs<'a> {
    pub dir: &'a PathBuf,
    pub state: Option<&'a PathBuf>,
    pub after: AfterRead,
}

/// Reads every complete file of the directory as it appears, until a signal; returns the
/// number of files that could not be read.
pub fn follow(
    args: &FollowArgs<'_>,
    config: &AnalyzerConfig,
    threads: usize,
    fan: &mut Fanout<'_>,
) -> Result<usize> {
    // As in live: the first signal stops and flushes, a copy within 2 s is ignored, a later
    // one exits at once.
    let stop = super::signals::install(false)?.term;
    let state = args
        .state
        .cloned()
        .unwrap_or_else(|| args.dir.join(".tlstriage-follow.state"));
    if let AfterRead::MoveTo(dir) = &args.after {
        anyhow::ensure!(
            dir.is_dir(),
            "--move-after {}: not a directory",
            dir.display()
        );
    }
    let mut source =
        Follow::new(args.dir, state.clone(), args.after.clone(), stop).with_context(|| {
            format!(
                "--follow {} (state {})",
                args.dir.display(),
                state.display()
            )
        })?;
    fan.begin(&args.dir.display().to_string());
    let prepare = fan.prepare();
    let outcome = pipeline::run_threads(
        &mut source as &mut dyn PacketSource,
        config,
        threads,
        &|flow, findings, out| prepare.flow(flow, findings, out),
        &mut |digest, tcp_stream, rendered| fan.flow(digest, tcp_stream, rendered),
        &mut |_| {},
    )?;
    let mut errors = 0;
    let mut warnings = source.notes.clone();
    let mut files = Vec::with_capacity(source.files.len());
    for f in &source.files {
        let name = f.path.display().to_string();
        warnings.extend(f.warnings.iter().map(|w| format!("{name}: {w}")));
        if let Some(e) = &f.error {
            errors += 1;
            error(&format!("{name}: {e}"));
        }
        files.push(CaptureFileRecord {
            error: f.error.as_ref().map(ToString::to_string),
            first_frame: f.first_frame,
            frames: f.frames,
            name,
        });
    }
    if let Some(e) = &outcome.error {
        errors += 1;
        error(&format!("{}: {e}", args.dir.display()));
    }
    fan.set_files(files);
    fan.end(&outcome.stats, None, &warnings, false, None)?;
    for w in &source.notes {
        crate::output::warn(w);
    }
    Ok(errors)
}
