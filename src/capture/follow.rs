//! `read --follow DIR`: a directory that a capture tool rotates files into (dumpcap `-b`,
//! tcpdump `-C`/`-G`, an appliance), read as one endless capture. A file is read once it is
//! complete, which is when a newer file has appeared beside it (the writer moved on); the
//! newest file is left alone while it grows. Files are taken in modification-time order
//! (then name order), which is the order a rotating writer finishes them in, whatever its
//! naming scheme (`cap`, `cap1`, `cap10` sort wrong by name).
//!
//! A state file remembers which files were read, so a restart neither re-reads nor skips
//! one; asked to stop, the file being read is read to its end first. Flow state spans files
//! as in a set; a flow still open when the process stops is finished then, and its remaining
//! packets in the next file start a flow picked up mid-stream after the restart.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{CaptureError, CaptureReader, Packet, PacketSource};
use crate::model::FrameNo;

/// What to do with a file once it has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterRead {
    Keep,
    Delete,
    MoveTo(PathBuf),
}

/// A file read, or the reason it could not be.
#[derive(Debug)]
pub struct FollowedFile {
    pub path: PathBuf,
    pub frames: u64,
    pub first_frame: Option<FrameNo>,
    pub error: Option<CaptureError>,
    pub warnings: Vec<String>,
}

pub struct Follow {
    dir: PathBuf,
    state_path: PathBuf,
    done: BTreeSet<String>,
    after: AfterRead,
    stop: Arc<AtomicBool>,
    poll: Duration,
    current: Option<(PathBuf, CaptureReader, u64, Option<FrameNo>)>,
    frame: FrameNo,
    /// Every file read so far, in order (the caller drains it to report progress).
    pub files: Vec<FollowedFile>,
    /// Problems with the directory or the state file (reported, not fatal).
    pub notes: Vec<String>,
}

impl Follow {
    /// Follows `dir`, remembering the files read in `state_path`; stops (returns the end of
    /// the capture) once `stop` is set.
    pub fn new(
        dir: &Path,
        state_path: PathBuf,
        after: AfterRead,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<Self> {
        if !dir.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not a directory", dir.display()),
            ));
        }
        let done = match std::fs::read_to_string(&state_path) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(e),
        };
        Ok(Follow {
            dir: dir.to_path_buf(),
            state_path,
            done,
            after,
            stop,
            poll: Duration::from_millis(250),
            current: None,
            frame: 0,
            files: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// Complete files not read yet, oldest first: every capture file but the newest.
    fn complete_files(&mut self) -> Vec<PathBuf> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) => {
                self.note(format!("{}: {e}", self.dir.display()));
                return Vec::new();
            }
        };
        let mut files: Vec<(SystemTime, PathBuf)> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        // The newest is still being written.
        files.pop();
        files
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| !self.done.contains(&file_key(p)))
            .collect()
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Records `path` as read (state file written whole, then renamed) and disposes of it.
    fn finish_file(&mut self, path: &Path) {
        self.done.insert(file_key(path));
        let mut text: String = self.done.iter().map(|k| format!("{k}\n")).collect();
        if text.is_empty() {
            text.push('\n');
        }
        let temp = self.state_path.with_extension("tmp");
        let saved =
            std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, &self.state_path));
        if let Err(e) = saved {
            self.note(format!("state file {}: {e}", self.state_path.display()));
        }
        let disposed = match &self.after {
            AfterRead::Keep => Ok(()),
            AfterRead::Delete => std::fs::remove_file(path),
            AfterRead::MoveTo(dir) => match path.file_name() {
                Some(name) => std::fs::rename(path, dir.join(name)),
                None => Ok(()),
            },
        };
        if let Err(e) = disposed {
            self.note(format!("{}: {e}", path.display()));
        }
    }

    /// Opens the next complete file, waiting for one; `false` once asked to stop.
    fn open_next(&mut self) -> bool {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            for path in self.complete_files() {
                match CaptureReader::open_streaming(&path) {
                    Ok(reader) => {
                        self.current = Some((path, reader, 0, None));
                        return true;
                    }
                    Err(e) => {
                        self.files.push(FollowedFile {
                            path: path.clone(),
                            frames: 0,
                            first_frame: None,
                            error: Some(e),
                            warnings: Vec::new(),
                        });
                        self.finish_file(&path);
                    }
                }
            }
            std::thread::sleep(self.poll);
        }
    }

    /// Closes the current file after its last frame or a read error.
    fn close_current(&mut self, error: Option<CaptureError>) {
        if let Some((path, reader, frames, first_frame)) = self.current.take() {
            self.files.push(FollowedFile {
                path: path.clone(),
                frames,
                first_frame,
                error,
                warnings: reader.warnings().to_vec(),
            });
            drop(reader);
            self.finish_file(&path);
        }
    }
}

/// The state file's name for a file: its name within the directory.
fn file_key(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl PacketSource for Follow {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        loop {
            // Asked to stop, the file being read is still read to its end (a rotated file
            // is bounded), so that every file is read whole or not at all and a restart
            // picks up exactly at the next one.
            if self.current.is_none() && !self.open_next() {
                return Ok(None);
            }
            let peeked = match self.current.as_mut() {
                Some((_, reader, ..)) => reader.peek_ts(),
                None => continue,
            };
            match peeked {
                Ok(Some(_)) => break,
                Ok(None) => self.close_current(None),
                Err(e) => self.close_current(Some(e)),
            }
        }
        self.frame += 1;
        let frame = self.frame;
        let Some((_, reader, frames, first_frame)) = self.current.as_mut() else {
            return Ok(None);
        };
        *frames += 1;
        first_frame.get_or_insert(frame);
        Ok(reader.next_packet()?.map(|mut p| {
            p.frame = frame;
            p
        }))
    }

    fn take_secrets(&mut self) -> Option<Vec<u8>> {
        self.current.as_mut()?.1.take_secrets()
    }

    fn bytes_read(&self) -> u64 {
        self.current.as_ref().map_or(0, |(_, r, ..)| r.bytes_read())
    }
}
