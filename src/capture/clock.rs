//! Timestamps as the rest of the pipeline may trust them.

use super::MAX_SANE_TS_US;
use crate::model::{FrameNo, TimestampUs};

/// Timestamps as the rest of the pipeline may trust them: within 1970..=9999 (a hostile or
/// corrupt file can claim any 64-bit time; outside it, dates cannot be written and
/// durations go wrong), with the frames that were clamped or went back in time counted
/// for one warning each at the end.
#[derive(Debug, Default)]
pub(super) struct Clock {
    last: Option<TimestampUs>,
    clamped: u64,
    first_clamped: Option<FrameNo>,
    backwards: u64,
    first_backwards: Option<FrameNo>,
}

impl Clock {
    pub(super) fn check(&mut self, frame: FrameNo, ts: TimestampUs) -> TimestampUs {
        let sane = ts.clamp(0, MAX_SANE_TS_US);
        if sane != ts {
            self.clamped += 1;
            self.first_clamped.get_or_insert(frame);
        }
        if self.last.is_some_and(|last| sane < last) {
            self.backwards += 1;
            self.first_backwards.get_or_insert(frame);
        }
        self.last = Some(sane);
        sane
    }

    /// The warnings, once (the counts start again after).
    pub(super) fn warnings(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(frame) = self.first_clamped.take() {
            out.push(format!(
                "{} frame(s) with a timestamp before 1970 or after 9999, the first frame {frame}: clamped to that range",
                self.clamped
            ));
        }
        if let Some(frame) = self.first_backwards.take() {
            out.push(format!(
                "{} frame(s) with a timestamp earlier than the frame before, the first frame {frame}: timestamps out of order (durations and idle timeouts follow the file's order)",
                self.backwards
            ));
        }
        out
    }
}
