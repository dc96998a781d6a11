//! Where `live` writes its records: stdout, or a file opened for append and reopened on
//! SIGHUP, surviving write errors (issue #16, item 4).
//!
//! A write error (a full disk, a collector that closed its pipe) does not stop the capture:
//! open flows keep being analysed, what could not be written stays pending (the unwritten
//! rest of a record is written first, so no half line is left behind by a retry), and the
//! output is retried once a second, a file being reopened first (it may have been removed
//! or its file system remounted). Records beyond [`MAX_PENDING_FAILING`] pending bytes are
//! dropped whole and counted. Only when every retry has failed for the `--output-retry`
//! window does [`Out::flush`] return an error, and `live` exits with it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

/// Pending output written out at once beyond this, however busy the capture is.
const OUT_FLUSH_BYTES: usize = 256 * 1024;
/// While the output fails, records are kept up to this many bytes; later ones are dropped.
pub const MAX_PENDING_FAILING: usize = 8 << 20;
/// A failing output is retried this often.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// The state of an output that stopped accepting writes.
struct Failing {
    since: Instant,
    last_try: Instant,
    error: io::Error,
}

pub struct Out {
    path: Option<PathBuf>,
    file: Option<File>,
    pending: Vec<u8>,
    retry_for: Duration,
    failing: Option<Failing>,
    /// Records dropped because the output failed, and write errors met.
    pub dropped: u64,
    pub write_errors: u64,
}

impl Out {
    pub fn open(path: Option<PathBuf>, retry_for: Duration) -> Result<Out> {
        let file = match &path {
            Some(p) => Some(Self::open_file(p)?),
            None => None,
        };
        Ok(Out {
            path,
            file,
            pending: Vec::new(),
            retry_for,
            failing: None,
            dropped: 0,
            write_errors: 0,
        })
    }

    fn open_file(p: &PathBuf) -> Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .with_context(|| format!("opening {}", p.display()))
    }

    fn name(&self) -> String {
        self.path.as_ref().map_or_else(
            || "standard output".to_string(),
            |p| p.display().to_string(),
        )
    }

    /// SIGHUP (logrotate): what was written before belongs to the old file, the rest goes
    /// to the new one.
    pub fn reopen(&mut self) -> Result<()> {
        self.flush()?;
        if let Some(p) = &self.path {
            match Self::open_file(p) {
                Ok(f) => self.file = Some(f),
                Err(e) => crate::output::warn(&format!("{e:#}; keeping the old file")),
            }
        }
        Ok(())
    }

    /// One whole record.
    pub fn line(&mut self, text: &[u8]) {
        if self.failing.is_some() && self.pending.len() + text.len() > MAX_PENDING_FAILING {
            self.dropped += 1;
            return;
        }
        self.pending.extend_from_slice(text);
        if self.pending.len() >= OUT_FLUSH_BYTES && self.failing.is_none() {
            let _ = self.flush();
        }
    }

    /// Write out what is pending. Errors only when the output has failed for the whole
    /// retry window; a failure short of that is reported on stderr and retried later.
    pub fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Some(f) = &mut self.failing {
            if f.last_try.elapsed() < RETRY_EVERY {
                return Ok(());
            }
            f.last_try = Instant::now();
            if let Some(p) = &self.path {
                if let Ok(file) = Self::open_file(p) {
                    self.file = Some(file);
                }
            }
        }
        match self.write_pending() {
            Ok(()) => {
                if let Some(f) = self.failing.take() {
                    crate::output::warn(&format!(
                        "{}: writing again after {:.0} s of errors ({} records dropped in all)",
                        self.name(),
                        f.since.elapsed().as_secs_f64(),
                        self.dropped
                    ));
                }
                Ok(())
            }
            Err(e) => {
                self.write_errors += 1;
                let now = Instant::now();
                match &mut self.failing {
                    None => {
                        crate::output::warn(&format!(
                            "writing to {} failed: {e}; still analysing, retrying every \
                             second for up to {} s (records beyond {} MiB pending are \
                             dropped and counted in capture_stats live.output_dropped)",
                            self.name(),
                            self.retry_for.as_secs(),
                            MAX_PENDING_FAILING >> 20
                        ));
                        self.failing = Some(Failing {
                            since: now,
                            last_try: now,
                            error: e,
                        });
                    }
                    Some(f) => f.error = e,
                }
                self.check_persistent()
            }
        }
    }

    /// An error once writing has failed for longer than the retry window.
    pub fn check_persistent(&self) -> Result<()> {
        match &self.failing {
            Some(f) if f.since.elapsed() >= self.retry_for => Err(anyhow!(
                "giving up on {}: writes failed for {} s (last error: {}); {} records \
                 dropped, {} bytes not written",
                self.name(),
                f.since.elapsed().as_secs(),
                f.error,
                self.dropped,
                self.pending.len()
            )),
            _ => Ok(()),
        }
    }

    /// Whether the last write failed.
    pub fn is_failing(&self) -> bool {
        self.failing.is_some()
    }

    /// Write as much as possible; what was not written stays pending.
    fn write_pending(&mut self) -> io::Result<()> {
        let mut done = 0;
        let result = loop {
            if done == self.pending.len() {
                break Ok(());
            }
            let rest = &self.pending[done..];
            let r = match &mut self.file {
                Some(f) => f.write(rest),
                None => io::stdout().lock().write(rest),
            };
            match r {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.pending.drain(..done);
        if result.is_ok() && self.file.is_none() {
            io::stdout().lock().flush()?;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::Out;
    use std::time::Duration;

    /// /dev/full fails every write with ENOSPC, as a full disk does.
    #[test]
    fn a_full_disk_keeps_records_then_drops_them_counted_then_gives_up() {
        if !std::path::Path::new("/dev/full").exists() {
            eprintln!("SKIPPED: no /dev/full");
            return;
        }
        let mut out = Out::open(Some("/dev/full".into()), Duration::from_millis(0)).expect("open");
        out.line(b"{\"a\":1}\n");
        let err = out
            .flush()
            .expect_err("a persistent failure with no retry window");
        let msg = format!("{err:#}");
        assert!(msg.contains("giving up on /dev/full"), "{msg}");
        assert!(msg.contains("No space left"), "{msg}");
        assert_eq!(out.write_errors, 1);
        // Failing: records are kept up to the cap, then dropped whole and counted.
        let record = vec![b'x'; 1 << 20];
        for _ in 0..20 {
            out.line(&record);
        }
        assert!(out.dropped >= 12, "{}", out.dropped);
        assert!(out.pending.len() <= super::MAX_PENDING_FAILING);
    }

    #[test]
    fn a_failing_output_within_its_window_is_not_an_error() {
        if !std::path::Path::new("/dev/full").exists() {
            return;
        }
        let mut out = Out::open(Some("/dev/full".into()), Duration::from_secs(60)).expect("open");
        out.line(b"{}\n");
        out.flush().expect("within the retry window");
        assert!(out.is_failing());
        assert_eq!(out.pending, b"{}\n");
    }
}
