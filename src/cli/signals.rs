//! Stop signals of `tlstriage live` and `read --follow`, handled on a thread of their own.
//!
//! The first SIGINT/SIGTERM asks the capture loop to stop and flush. The same signal often
//! arrives twice within milliseconds: `timeout` sends it to the child and then to the whole
//! process group, and a shell or supervisor may forward it as well. Exiting on that
//! duplicate would throw away every open flow and the final `capture_stats` (issue #21),
//! so a stop signal within [`DUPLICATE_WINDOW`] of the first is ignored; only one after
//! that forces an immediate exit, with a message on stderr.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// A second stop signal this soon after the first is taken as the same request.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(2);

/// What a stop signal means, given when the first one arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// The first: stop capturing, flush everything, exit 0.
    Flush,
    /// A copy of the first (within [`DUPLICATE_WINDOW`]): nothing more to do.
    Duplicate,
    /// A later one: the user insists; exit at once.
    Force,
}

/// Classify a stop signal arriving at `now`; `first` is when the first one came.
pub fn classify(first: Option<Instant>, now: Instant) -> Stop {
    match first {
        None => Stop::Flush,
        Some(t) if now.saturating_duration_since(t) < DUPLICATE_WINDOW => Stop::Duplicate,
        Some(_) => Stop::Force,
    }
}

/// Flags the capture loop polls at every wakeup.
pub struct Flags {
    pub term: Arc<AtomicBool>,
    pub hup: Arc<AtomicBool>,
}

/// Start the signal thread. SIGHUP is only caught when `hup` (there is a file to reopen);
/// otherwise it keeps its default action.
pub fn install(hup: bool) -> Result<Flags> {
    let flags = Flags {
        term: Arc::new(AtomicBool::new(false)),
        hup: Arc::new(AtomicBool::new(false)),
    };
    let mut sigs = vec![SIGINT, SIGTERM];
    if hup {
        sigs.push(SIGHUP);
    }
    let mut signals = Signals::new(&sigs).context("installing signal handlers")?;
    let term = Arc::clone(&flags.term);
    let hup_flag = Arc::clone(&flags.hup);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut first = None;
            for sig in signals.forever() {
                if sig == SIGHUP {
                    hup_flag.store(true, Ordering::Relaxed);
                    continue;
                }
                let now = Instant::now();
                match classify(first, now) {
                    Stop::Flush => {
                        first = Some(now);
                        term.store(true, Ordering::Relaxed);
                    }
                    Stop::Duplicate => {}
                    Stop::Force => {
                        eprintln!(
                            "tlstriage: second stop signal while flushing: exiting now; \
                             open flows and the final capture_stats are lost"
                        );
                        std::process::exit(128 + sig);
                    }
                }
            }
        })
        .context("starting the signal thread")?;
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_of_the_first_signal_is_ignored_and_a_later_one_forces() {
        let t0 = Instant::now();
        assert_eq!(classify(None, t0), Stop::Flush);
        assert_eq!(
            classify(Some(t0), t0 + Duration::from_millis(3)),
            Stop::Duplicate
        );
        assert_eq!(
            classify(Some(t0), t0 + DUPLICATE_WINDOW + Duration::from_millis(1)),
            Stop::Force
        );
    }
}
