//! Parsing state shared by the pcap and pcapng block classifiers and the reader.

use super::{CaptureError, CaptureStats};
use crate::model::{FrameNo, TimestampUs};

#[derive(Debug, Clone, Copy)]
pub(super) struct Interface {
    pub(super) linktype: u32,
    pub(super) tsresol: u8,
    pub(super) tsoffset: i64,
    pub(super) snaplen: u32,
}

/// Parsing state kept apart from the pcap-parser reader so both can be
/// borrowed at once.
#[derive(Debug)]
pub(super) struct State {
    pub(super) big_endian: bool,
    // classic pcap only
    pub(super) nanos: bool,
    pub(super) record_header_len: usize,
    pub(super) linktype: u32,
    // pcapng only
    pub(super) interfaces: Vec<Interface>,
    pub(super) last_ts: TimestampUs,
    pub(super) stats: CaptureStats,
    /// Warnings raised while classifying blocks, moved to the reader's list.
    pub(super) new_warnings: Vec<String>,
    pub(super) linktype_warnings: usize,
}

/// Where the next packet sits inside the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    pub(super) frame: FrameNo,
    pub(super) ts_us: TimestampUs,
    pub(super) linktype: u32,
    pub(super) orig_len: u32,
    pub(super) start: usize,
    pub(super) end: usize,
}

pub(super) enum Step {
    Packet(usize, Found),
    Skip(usize),
    Refill,
    Grow,
    Eof,
    TruncatedTail,
    ReadFailed,
    Malformed(String),
}

impl State {
    pub(super) fn next_frame(&mut self) -> FrameNo {
        self.stats.frames = self.stats.frames.saturating_add(1);
        self.stats.frames
    }

    pub(super) fn interface(&self, frame: FrameNo, id: u32) -> Result<Interface, CaptureError> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.interfaces.get(i))
            .copied()
            .ok_or(CaptureError::UnknownInterface {
                frame,
                interface: id,
                described: self.interfaces.len(),
            })
    }
}
