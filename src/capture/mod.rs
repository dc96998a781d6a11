//! Capture stage: frames out of classic pcap and pcapng files.
//!
//! Parsing is done by pcap-parser; this module adds the things a troubleshooting tool needs
//! on top: Wireshark-compatible frame numbers, per-interface link types and clocks, readable
//! errors for files that are not captures, and a soft landing on files cut off mid-record.
//!
//! Files: `reader.rs` (`CaptureReader`: the loop over blocks, limits, errors), `mapped.rs`
//! (regular files, read from a memory map: frames are slices of it), `stream.rs` (stdin,
//! pipes and decompressed input, through pcap-parser's buffered readers), `legacy.rs` and
//! `pcapng.rs` (what each block means), `state.rs` (numbering and interfaces), `sniff.rs`
//! (what the first bytes say), `clock.rs` (sane timestamps), `wire.rs` (byte order);
//! `compressed.rs`, `set.rs` and `follow.rs` build on the reader.

use std::io;

use crate::model::{FrameNo, TimestampUs};

mod clock;
mod compressed;
mod follow;
mod legacy;
#[allow(unsafe_code)] // memory maps: see the SAFETY notes there
mod mapped;
mod pcapng;
mod reader;
mod set;
mod sniff;
mod state;
mod stream;
mod wire;
pub use compressed::Compression;
pub use follow::{AfterRead, Follow, FollowedFile};
pub use reader::CaptureReader;
pub use set::{CaptureSet, SetMember};

/// Largest captured length accepted for one packet (Wireshark's limit for
/// ordinary link types). Anything above it is a corrupt length field, and
/// trusting it would make us buffer megabytes of garbage.
pub const MAX_CAPLEN: u32 = 262_144;

/// Largest pcapng block (of any type) that will be buffered.
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;

/// Interface Description Blocks accepted per section (each costs a table entry).
pub const MAX_INTERFACES: usize = 65_536;
const PCAP_HEADER_LEN: usize = 24;

/// Container format of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap,
    PcapNg,
}

impl CaptureFormat {
    pub fn name(self) -> &'static str {
        match self {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::PcapNg => "pcapng",
        }
    }
}

/// What the input is: its container, and the compression around it if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputFormat {
    pub container: CaptureFormat,
    pub compression: Option<Compression>,
}

/// One captured frame. `data` borrows the reader's buffer and is valid until
/// the next call to [`CaptureReader::next_packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// 1-based; every packet block or record counts, as in Wireshark.
    pub frame: FrameNo,
    /// Unix time in microseconds.
    pub ts_us: TimestampUs,
    /// LINKTYPE_* value of the interface the frame was captured on.
    pub linktype: u32,
    /// Captured bytes (may be shorter than `orig_len` when a snaplen applied).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub orig_len: u32,
}

/// Counters for the end-of-run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames counted (including frames that were not returned, such as
    /// systemd journal entries, so that numbering stays Wireshark's).
    pub frames: u64,
    /// pcapng blocks that carry no packet (interface descriptions,
    /// statistics, name resolution, secrets, custom, unknown...).
    pub other_blocks: u64,
    /// Section Header Blocks seen (pcapng only).
    pub sections: u64,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    // The io::Error is part of the message and on purpose not a `source`: anyhow's
    // alternate form would print it a second time.
    #[error("cannot open {path}: {error}")]
    Open { path: String, error: io::Error },
    #[error("read error after byte {offset}: {error}")]
    Read { offset: u64, error: io::Error },
    #[error("empty file")]
    Empty,
    #[error("{compression}-compressed file: {inner}")]
    Compressed {
        compression: &'static str,
        inner: Box<CaptureError>,
    },
    #[error("not a pcap or pcapng file: starts with {first_bytes}{hint}")]
    NotACapture { first_bytes: String, hint: String },
    #[error("truncated {what}: file has {got} of the {need} bytes it needs")]
    TruncatedHeader {
        what: &'static str,
        got: usize,
        need: usize,
    },
    #[error("unsupported link type {linktype}{name} in the pcap file header, so no frame can be decoded (supported: {supported})", name = linktype_label(*.linktype), supported = crate::decode::linktype::SUPPORTED)]
    UnsupportedLinkType { linktype: u32 },
    #[error("bad {what}: {detail}")]
    BadHeader { what: &'static str, detail: String },
    #[error("frame {frame} (byte offset {offset}): record claims a captured length of {caplen} bytes, more than the {limit}-byte maximum (corrupt file?)")]
    CaplenTooLarge {
        frame: FrameNo,
        offset: u64,
        caplen: u64,
        limit: u32,
    },
    #[error("pcapng block of type 0x{block_type:08x} at byte offset {offset} claims {len} bytes, more than the {limit}-byte maximum (corrupt file?)")]
    BlockTooLarge {
        block_type: u32,
        offset: u64,
        len: u32,
        limit: u32,
    },
    #[error("frame {frame}: packet refers to interface {interface}, but the section describes only {described} interface(s)")]
    UnknownInterface {
        frame: FrameNo,
        interface: u32,
        described: usize,
    },
    #[error("malformed capture at byte offset {offset} (after frame {last_frame}): {detail}")]
    Malformed {
        offset: u64,
        last_frame: FrameNo,
        detail: String,
    },
}

/// The latest timestamp that every output can write as an ISO 8601 date
/// (9999-12-31T23:59:59.999999Z).
pub const MAX_SANE_TS_US: TimestampUs = 253_402_300_799_999_999;

/// Where the pipeline gets its frames: one capture file, or several read as one.
pub trait PacketSource {
    /// The next frame, `Ok(None)` at the end.
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError>;
    /// Bytes processed so far, for progress display.
    fn bytes_read(&self) -> u64;
    /// TLS key log text from pcapng Decryption Secrets Blocks read since the last call;
    /// the pipeline adds it to the run's key store before the next frame.
    fn take_secrets(&mut self) -> Option<Vec<u8>> {
        None
    }
}

impl PacketSource for CaptureReader {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        CaptureReader::next_packet(self)
    }

    fn take_secrets(&mut self) -> Option<Vec<u8>> {
        CaptureReader::take_secrets(self)
    }

    fn bytes_read(&self) -> u64 {
        CaptureReader::bytes_read(self)
    }
}

/// " (IEEE 802.11 (Wi-Fi))" for a known unsupported link type, "" otherwise.
fn linktype_label(linktype: u32) -> String {
    crate::decode::linktype::unsupported_name(linktype)
        .map(|n| format!(" ({n})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
