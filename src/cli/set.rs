//! `read` over several files or a directory as one capture (the default), and the
//! expansion of directories into their capture files.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::error;
use crate::capture::{CaptureError, CaptureSet, PacketSource, SetMember};
use crate::flow::AnalyzerConfig;
use crate::output::{CaptureFileRecord, Fanout};
use crate::pipeline;

/// The inputs of one `read`: files as given, a directory's files in name order.
pub struct Inputs {
    pub paths: Vec<PathBuf>,
    /// Paths that came out of a directory: one that is not a capture is skipped with a
    /// warning (a README beside the captures), not an error.
    from_dir: Vec<bool>,
    /// The name the capture goes by in the output.
    pub name: String,
    /// True when a directory was given (it is one capture even if it holds one file).
    pub has_dir: bool,
}

impl Inputs {
    pub fn expand(given: &[&PathBuf]) -> Result<Self> {
        let mut paths = Vec::new();
        let mut from_dir = Vec::new();
        let mut has_dir = false;
        for &p in given {
            if p.is_dir() {
                has_dir = true;
                let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                    .with_context(|| format!("reading directory {}", p.display()))?
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    // Hidden files: partial downloads and our own `-o` temporaries.
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| e.path())
                    .collect();
                files.sort();
                from_dir.extend(files.iter().map(|_| true));
                paths.extend(files);
            } else {
                paths.push(p.clone());
                from_dir.push(false);
            }
        }
        let name = match given {
            [one] => one.display().to_string(),
            [first, rest @ ..] => format!("{} (+{} more)", first.display(), rest.len()),
            [] => String::new(),
        };
        Ok(Inputs {
            paths,
            from_dir,
            name,
            has_dir,
        })
    }
}

/// What went wrong with the files of a set.
pub struct SetOutcome {
    pub errors: usize,
}

/// Analyses every input as one capture into `fan` (already begun).
pub fn read_set(
    inputs: &Inputs,
    config: &AnalyzerConfig,
    threads: usize,
    fan: &mut Fanout<'_>,
) -> Result<SetOutcome> {
    let mut set = CaptureSet::open(&inputs.paths);
    let prepare = fan.prepare();
    let outcome = pipeline::run_threads(
        &mut set as &mut dyn PacketSource,
        config,
        threads,
        &|flow, findings, out| prepare.flow(flow, findings, out),
        &mut |digest, tcp_stream, rendered| fan.flow(digest, tcp_stream, rendered),
        &mut |_| {},
    )?;
    let members = set.into_members();
    let mut errors = usize::from(outcome.error.is_some());
    if let Some(e) = &outcome.error {
        error(&format!("{}: {e}", inputs.name));
    }
    let mut warnings = Vec::new();
    let mut files = Vec::with_capacity(members.len());
    for (m, from_dir) in members.iter().zip(sorted_from_dir(inputs, &members)) {
        let name = m.path.display().to_string();
        for w in &m.warnings {
            warnings.push(format!("{name}: {w}"));
        }
        if let Some(e) = &m.error {
            if from_dir && is_not_a_capture(e) {
                warnings.push(format!("{name}: skipped: {e}"));
                continue;
            }
            errors += 1;
            error(&format!("{name}: {e}"));
        }
        files.push(CaptureFileRecord {
            error: m.error.as_ref().map(ToString::to_string),
            first_frame: m.first_frame,
            frames: m.frames,
            name,
        });
    }
    let format = members.first().and_then(|m| m.format);
    let same_format = members
        .iter()
        .all(|m| m.format == format || m.format.is_none());
    let truncated = members.iter().any(|m| m.truncated);
    fan.set_files(files);
    fan.end(
        &outcome.stats,
        format.filter(|_| same_format),
        &warnings,
        truncated,
        None,
    )?;
    for w in &warnings {
        crate::output::warn(w);
    }
    Ok(SetOutcome { errors })
}

/// `from_dir` for each member, which the set keeps in time order rather than as given.
fn sorted_from_dir(inputs: &Inputs, members: &[SetMember]) -> Vec<bool> {
    members
        .iter()
        .map(|m| {
            inputs
                .paths
                .iter()
                .position(|p| p == &m.path)
                .and_then(|i| inputs.from_dir.get(i).copied())
                .unwrap_or(false)
        })
        .collect()
}

fn is_not_a_capture(e: &CaptureError) -> bool {
    match e {
        CaptureError::NotACapture { .. } | CaptureError::Empty => true,
        CaptureError::Compressed { inner, .. } => is_not_a_capture(inner),
        _ => false,
    }
}
