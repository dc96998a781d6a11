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
    /// TLS key log text of Decryption Secrets Blocks not yet taken by the pipeline.
    pub(super) secrets: Vec<u8>,
    /// Bytes of all the blocks' secrets seen, kept or not (bounded by `MAX_SECRETS_BYTES`).
    pub(super) secrets_seen: usize,
}

/// pcapng Decryption Secrets Block type of a TLS key log (`TLSK`).
pub(super) const SECRETS_TYPE_TLS_KEYLOG: u32 = 0x544c_534b;
/// Key log text taken from a capture's Decryption Secrets Blocks in all (about 100,000
/// sessions' worth of lines); further blocks are skipped with a warning.
const MAX_SECRETS_BYTES: usize = 64 << 20;

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
    /// Keeps a TLS key log block's text for [`super::CaptureReader::take_secrets`]; other
    /// secret types (SSH, WireGuard, ...) are not ours to use.
    pub(super) fn decryption_secrets(&mut self, secrets_type: u32, secrets_len: u32, data: &[u8]) {
        if secrets_type != SECRETS_TYPE_TLS_KEYLOG {
            return;
        }
        let len = usize::try_from(secrets_len).unwrap_or(usize::MAX);
        let text = data.get(..len).unwrap_or(data);
        let before = self.secrets_seen;
        self.secrets_seen = self.secrets_seen.saturating_add(text.len());
        if self.secrets_seen > MAX_SECRETS_BYTES {
            if before <= MAX_SECRETS_BYTES {
                self.new_warnings.push(format!(
                    "Decryption Secrets Blocks hold more than {} MiB of key log; the rest is not used",
                    MAX_SECRETS_BYTES >> 20
                ));
            }
            return;
        }
        self.secrets.extend_from_slice(text);
        // A block's last line may lack its newline; the next block starts a new line.
        if !self.secrets.ends_with(b"\n") {
            self.secrets.push(b'\n');
        }
    }

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
