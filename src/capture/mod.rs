//! Capture stage: streams frames out of classic pcap and pcapng files.
//!
//! Parsing is done by pcap-parser's streaming readers; this module adds the
//! things a troubleshooting tool needs on top: Wireshark-compatible frame
//! numbers, per-interface link types and clocks, readable errors for files
//! that are not captures, and a soft landing on files cut off mid-record.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{
    Block, InterfaceDescriptionBlock, LegacyPcapReader, OptionCode, PcapBlockOwned, PcapError,
    PcapNGReader, EPB_MAGIC, SHB_MAGIC, SJE_MAGIC, SPB_MAGIC,
};

use crate::model::{FrameNo, TimestampUs};

mod compressed;
mod follow;
mod set;
pub use compressed::Compression;
pub use follow::{AfterRead, Follow, FollowedFile};
pub use set::{CaptureSet, SetMember};

/// Largest captured length accepted for one packet (Wireshark's limit for
/// ordinary link types). Anything above it is a corrupt length field, and
/// trusting it would make us buffer megabytes of garbage.
pub const MAX_CAPLEN: u32 = 262_144;

/// Largest pcapng block (of any type) that will be buffered.
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;

const INITIAL_BUFFER: usize = 1024 * 1024;
// pcap-parser wants the buffer strictly larger than the block it parses.
const BUFFER_SLACK: usize = 64 * 1024;
const MAX_BUFFER: usize = MAX_BLOCK_LEN as usize + BUFFER_SLACK;

/// Interface Description Blocks accepted per section (each costs a table entry).
pub const MAX_INTERFACES: usize = 65_536;
/// Warnings about interfaces with unsupported link types, per capture.
const MAX_LINKTYPE_WARNINGS: usize = 8;

/// The obsolete pcapng Packet Block; pcap-parser hands it to us as unknown.
const PB_MAGIC: u32 = 0x0000_0002;
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

/// Timestamps as the rest of the pipeline may trust them: within 1970..=9999 (a hostile or
/// corrupt file can claim any 64-bit time; outside it, dates cannot be written and
/// durations go wrong), with the frames that were clamped or went back in time counted
/// for one warning each at the end.
#[derive(Debug, Default)]
struct Clock {
    last: Option<TimestampUs>,
    clamped: u64,
    first_clamped: Option<FrameNo>,
    backwards: u64,
    first_backwards: Option<FrameNo>,
}

impl Clock {
    fn check(&mut self, frame: FrameNo, ts: TimestampUs) -> TimestampUs {
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
    fn warnings(&mut self) -> Vec<String> {
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

/// Streaming reader over a pcap or pcapng capture.
pub struct CaptureReader {
    reader: Box<dyn PcapReaderIterator + Send>,
    format: CaptureFormat,
    compression: Option<Compression>,
    state: State,
    capacity: usize,
    /// Length of the block handed out last; consumed on the next call so the
    /// returned packet can borrow the buffer.
    pending_consume: usize,
    /// A frame found by [`CaptureReader::peek_ts`] and not handed out yet.
    held: Option<Found>,
    clock: Clock,
    done: bool,
    truncated: bool,
    warnings: Vec<String>,
    io_error: Arc<Mutex<Option<io::Error>>>,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format)
            .field("stats", &self.state.stats)
            .field("bytes_read", &self.bytes_read())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    tsresol: u8,
    tsoffset: i64,
    snaplen: u32,
}

/// Parsing state kept apart from the pcap-parser reader so both can be
/// borrowed at once.
#[derive(Debug)]
struct State {
    big_endian: bool,
    // classic pcap only
    nanos: bool,
    record_header_len: usize,
    linktype: u32,
    // pcapng only
    interfaces: Vec<Interface>,
    last_ts: TimestampUs,
    stats: CaptureStats,
    /// Warnings raised while classifying blocks, moved to the reader's list.
    new_warnings: Vec<String>,
    linktype_warnings: usize,
    /// TLS key log text of Decryption Secrets Blocks not yet taken by the pipeline.
    secrets: Vec<u8>,
    /// Bytes of all the blocks' secrets seen, kept or not (bounded by `MAX_SECRETS_BYTES`).
    secrets_seen: usize,
}

/// pcapng Decryption Secrets Block type of a TLS key log (`TLSK`).
const SECRETS_TYPE_TLS_KEYLOG: u32 = 0x544c_534b;
/// Key log text taken from a capture's Decryption Secrets Blocks in all (about 100,000
/// sessions' worth of lines); further blocks are skipped with a warning.
const MAX_SECRETS_BYTES: usize = 64 << 20;

/// " (IEEE 802.11 (Wi-Fi))" for a known unsupported link type, "" otherwise.
fn linktype_label(linktype: u32) -> String {
    crate::decode::linktype::unsupported_name(linktype)
        .map(|n| format!(" ({n})"))
        .unwrap_or_default()
}

/// Where the next packet sits inside the reader's buffer.
#[derive(Debug, Clone, Copy)]
struct Found {
    frame: FrameNo,
    ts_us: TimestampUs,
    linktype: u32,
    orig_len: u32,
    start: usize,
    end: usize,
}

enum Step {
    Packet(usize, Found),
    Skip(usize),
    Refill,
    Grow,
    Eof,
    TruncatedTail,
    ReadFailed,
    Malformed(String),
}

impl CaptureReader {
    /// Opens a capture file; `-` reads standard input.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        if path.as_os_str() == "-" {
            return Self::from_reader(Box::new(io::stdin()));
        }
        let file = File::open(path).map_err(|error| CaptureError::Open {
            path: path.display().to_string(),
            error,
        })?;
        Self::from_reader(Box::new(file))
    }

    /// Reads a capture from any byte source (the format is sniffed).
    pub fn from_reader(input: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        Self::with_buffer(input, INITIAL_BUFFER)
    }

    /// Tests and the fuzz targets use small buffers to exercise growing (and
    /// because allocating a 1 MiB buffer per input is slow). Clamped to
    /// 4 KiB..=16 MiB + 64 KiB.
    #[doc(hidden)]
    pub fn with_buffer(
        mut input: Box<dyn Read + Send>,
        initial_buffer: usize,
    ) -> Result<Self, CaptureError> {
        let initial_buffer = initial_buffer.clamp(4096, MAX_BUFFER);
        let mut prefix = Vec::with_capacity(PCAP_HEADER_LEN);
        read_up_to(&mut input, &mut prefix, PCAP_HEADER_LEN)
            .map_err(|error| CaptureError::Read { offset: 0, error })?;
        let Some(compression) = Compression::sniff(&prefix) else {
            return Self::from_prefix(prefix, input, initial_buffer, None);
        };
        let inside = |inner: CaptureError| CaptureError::Compressed {
            compression: compression.name(),
            inner: Box::new(inner),
        };
        let mut input = compression
            .decoder(std::mem::take(&mut prefix), input)
            .map_err(|error| inside(CaptureError::Read { offset: 0, error }))?;
        read_up_to(&mut input, &mut prefix, PCAP_HEADER_LEN)
            .map_err(|error| inside(CaptureError::Read { offset: 0, error }))?;
        Self::from_prefix(prefix, input, initial_buffer, Some(compression)).map_err(inside)
    }

    /// The reader once the first bytes of the (decompressed) capture are in `prefix`.
    fn from_prefix(
        mut prefix: Vec<u8>,
        mut input: Box<dyn Read + Send>,
        initial_buffer: usize,
        compression: Option<Compression>,
    ) -> Result<Self, CaptureError> {
        let format = sniff(&prefix)?;
        let mut state = State {
            big_endian: false,
            nanos: false,
            record_header_len: 16,
            linktype: 0,
            interfaces: Vec::new(),
            last_ts: 0,
            stats: CaptureStats::default(),
            new_warnings: Vec::new(),
            secrets: Vec::new(),
            secrets_seen: 0,
            linktype_warnings: 0,
        };
        match format {
            CaptureFormat::Pcap => {
                if prefix.len() < PCAP_HEADER_LEN {
                    return Err(CaptureError::TruncatedHeader {
                        what: "pcap file header",
                        got: prefix.len(),
                        need: PCAP_HEADER_LEN,
                    });
                }
                let magic = read_u32(&prefix, 0, false).unwrap_or(0);
                state.big_endian = matches!(magic, 0xd4c3_b2a1 | 0x4d3c_b2a1);
                state.nanos = matches!(magic, 0xa1b2_3c4d | 0x4d3c_b2a1);
                // Kuznetzov's patched format carries 8 extra bytes per record.
                state.record_header_len = if magic == 0xa1b2_cd34 { 24 } else { 16 };
                state.linktype = read_u32(&prefix, 20, state.big_endian).unwrap_or(0);
                // The low 16 bits are the link type; the upper ones hold FCS flags.
                state.linktype &= 0xffff;
                if !crate::decode::linktype::is_supported(state.linktype) {
                    return Err(CaptureError::UnsupportedLinkType {
                        linktype: state.linktype,
                    });
                }
            }
            CaptureFormat::PcapNg => {
                // pcap-parser validates the first block from its first read
                // alone, so the whole Section Header Block must be in hand.
                read_up_to(&mut input, &mut prefix, 12)
                    .map_err(|error| CaptureError::Read { offset: 0, error })?;
                let shb_len = shb_len(&prefix)?;
                read_up_to(&mut input, &mut prefix, shb_len)
                    .map_err(|error| CaptureError::Read { offset: 0, error })?;
                if prefix.len() < shb_len {
                    return Err(CaptureError::TruncatedHeader {
                        what: "pcapng section header block",
                        got: prefix.len(),
                        need: shb_len,
                    });
                }
            }
        }

        let io_error = Arc::new(Mutex::new(None));
        let source = FillReader {
            prefix,
            prefix_pos: 0,
            inner: input,
            pending: None,
            error: Arc::clone(&io_error),
        };
        let reader: Box<dyn PcapReaderIterator + Send> = match format {
            CaptureFormat::Pcap => Box::new(
                LegacyPcapReader::new(initial_buffer, source)
                    .map_err(|e| header_error("pcap file header", &e))?,
            ),
            CaptureFormat::PcapNg => Box::new(
                PcapNGReader::new(initial_buffer, source)
                    .map_err(|e| header_error("pcapng section header block", &e))?,
            ),
        };
        Ok(CaptureReader {
            reader,
            format,
            compression,
            state,
            capacity: initial_buffer,
            pending_consume: 0,
            held: None,
            clock: Clock::default(),
            done: false,
            truncated: false,
            warnings: Vec::new(),
            io_error,
        })
    }

    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// The container and the compression the input was read through.
    pub fn input_format(&self) -> InputFormat {
        InputFormat {
            container: self.format,
            compression: self.compression,
        }
    }

    /// Bytes of the (decompressed) capture processed so far, for progress display; with
    /// compression these are not bytes of the file.
    pub fn bytes_read(&self) -> u64 {
        u64::try_from(self.reader.consumed()).unwrap_or(u64::MAX)
    }

    /// Non-fatal problems, e.g. a truncated last record.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Key log text of the Decryption Secrets Blocks read since the last call.
    pub fn take_secrets(&mut self) -> Option<Vec<u8>> {
        if self.state.secrets.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.state.secrets))
    }

    /// True when the input ended in the middle of a record.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    pub fn stats(&self) -> CaptureStats {
        self.state.stats
    }

    /// Returns the next frame, `Ok(None)` at the end of the capture. After an
    /// error the reader is finished and keeps returning `Ok(None)`.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        let found = match self.held.take() {
            Some(found) => found,
            None => match self.fetch()? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        let Some(data) = self.reader.data().get(found.start..found.end) else {
            self.done = true;
            return Err(self.malformed(format!(
                "frame {}: packet data {}..{} lies outside the parsed block",
                found.frame, found.start, found.end
            )));
        };
        Ok(Some(Packet {
            frame: found.frame,
            ts_us: found.ts_us,
            linktype: found.linktype,
            data,
            orig_len: found.orig_len,
        }))
    }

    /// The timestamp of the frame the next call to [`Self::next_packet`] returns, `Ok(None)`
    /// at the end. Merging several captures in time order looks ahead with it.
    pub fn peek_ts(&mut self) -> Result<Option<TimestampUs>, CaptureError> {
        if self.held.is_none() {
            self.held = self.fetch()?;
        }
        Ok(self.held.map(|f| f.ts_us))
    }

    /// Finds the next frame in the buffer (releasing the one handed out before).
    fn fetch(&mut self) -> Result<Option<Found>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        if self.pending_consume > 0 {
            self.reader
                .consume(std::mem::take(&mut self.pending_consume));
        }
        match self.advance() {
            Ok(Some(mut found)) => {
                found.ts_us = self.clock.check(found.frame, found.ts_us);
                Ok(Some(found))
            }
            Ok(None) => {
                self.done = true;
                self.warnings.extend(self.clock.warnings());
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                self.warnings.extend(self.clock.warnings());
                Err(e)
            }
        }
    }

    fn advance(&mut self) -> Result<Option<Found>, CaptureError> {
        loop {
            self.precheck()?;
            let step = match self.reader.next() {
                Ok((len, block)) => {
                    let step = classify(block, len, &mut self.state);
                    self.warnings.append(&mut self.state.new_warnings);
                    step?
                }
                Err(PcapError::Eof) => Step::Eof,
                Err(PcapError::Incomplete(_)) => Step::Refill,
                Err(PcapError::BufferTooSmall) => Step::Grow,
                Err(PcapError::UnexpectedEof) => Step::TruncatedTail,
                Err(PcapError::ReadError) => Step::ReadFailed,
                Err(e) => Step::Malformed(describe_pcap_error(&e)),
            };
            match step {
                Step::Packet(len, found) => {
                    self.pending_consume = len;
                    return Ok(Some(found));
                }
                Step::Skip(len) => self.reader.consume(len),
                Step::Refill => {
                    if !self.refill()? {
                        // The parser wants more but the buffer is full.
                        self.grow()?;
                    }
                }
                Step::Grow => self.grow()?,
                Step::Eof => return Ok(None),
                Step::TruncatedTail => {
                    let msg = self.truncation_message();
                    self.warnings.push(msg);
                    self.truncated = true;
                    return Ok(None);
                }
                Step::ReadFailed => return Err(self.read_error()),
                Step::Malformed(detail) => return Err(self.malformed(detail)),
            }
        }
    }

    /// Rejects absurd lengths before pcap-parser tries to buffer them.
    fn precheck(&self) -> Result<(), CaptureError> {
        let data = self.reader.data();
        let be = self.state.big_endian;
        let next_frame = self.state.stats.frames.saturating_add(1);
        let offset = self.bytes_read();
        let caplen_error = |caplen: u64| CaptureError::CaplenTooLarge {
            frame: next_frame,
            offset,
            caplen,
            limit: MAX_CAPLEN,
        };
        match self.format {
            CaptureFormat::Pcap => {
                // The header itself is returned as the first "block".
                if self.reader.consumed() == 0 {
                    return Ok(());
                }
                if let Some(caplen) = read_u32(data, 8, be) {
                    if caplen > MAX_CAPLEN {
                        return Err(caplen_error(caplen.into()));
                    }
                }
            }
            CaptureFormat::PcapNg => {
                let Some((block_type, len)) = ng_block_header(data, be) else {
                    return Ok(());
                };
                if len > MAX_BLOCK_LEN {
                    return Err(CaptureError::BlockTooLarge {
                        block_type,
                        offset,
                        len,
                        limit: MAX_BLOCK_LEN,
                    });
                }
                if len < 12 || len % 4 != 0 {
                    return Err(self.malformed(format!(
                        "pcapng block of type 0x{block_type:08x} has invalid length {len}"
                    )));
                }
                let be = if block_type == SHB_MAGIC {
                    shb_big_endian(data).unwrap_or(be)
                } else {
                    be
                };
                match block_type {
                    EPB_MAGIC | PB_MAGIC => {
                        if let Some(caplen) = read_u32(data, 20, be) {
                            if caplen > MAX_CAPLEN {
                                return Err(caplen_error(caplen.into()));
                            }
                            if u64::from(caplen) + 32 > u64::from(len) {
                                return Err(self.malformed(format!(
                                    "frame {next_frame}: captured length {caplen} does not fit in its {len}-byte block"
                                )));
                            }
                        }
                    }
                    SPB_MAGIC => {
                        let body = len.saturating_sub(16);
                        if let Some(orig) = read_u32(data, 8, be) {
                            let caplen = orig.min(body);
                            if caplen > MAX_CAPLEN {
                                return Err(caplen_error(caplen.into()));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Reads more input; false when there was no room to read into.
    fn refill(&mut self) -> Result<bool, CaptureError> {
        let before = self.reader.data().len();
        if self.reader.refill().is_err() {
            return Err(self.read_error());
        }
        Ok(self.reader.data().len() > before || self.reader.reader_exhausted())
    }

    /// Doubles the buffer (up to the cap) rather than jumping straight to
    /// the claimed block size, so that a corrupt length near the end of a
    /// small file costs little before it shows up as a truncated tail.
    fn grow(&mut self) -> Result<(), CaptureError> {
        let target = self.capacity.saturating_mul(2).min(MAX_BUFFER);
        if target <= self.capacity || !self.reader.grow(target) {
            let len = self
                .next_block_len()
                .map_or_else(|| "unknown".to_string(), |l| l.to_string());
            return Err(self.malformed(format!(
                "block of {len} bytes does not fit the {}-byte buffer",
                self.capacity
            )));
        }
        self.capacity = target;
        self.refill().map(|_| ())
    }

    fn next_block_len(&self) -> Option<usize> {
        let data = self.reader.data();
        let be = self.state.big_endian;
        match self.format {
            CaptureFormat::Pcap => usize::try_from(read_u32(data, 8, be)?)
                .ok()?
                .checked_add(self.state.record_header_len),
            CaptureFormat::PcapNg => usize::try_from(ng_block_header(data, be)?.1).ok(),
        }
    }

    fn truncation_message(&self) -> String {
        let next_frame = self.state.stats.frames.saturating_add(1);
        let data = self.reader.data();
        let is_packet = match self.format {
            CaptureFormat::Pcap => true,
            CaptureFormat::PcapNg => match read_u32(data, 0, self.state.big_endian) {
                Some(t) => matches!(t, EPB_MAGIC | SPB_MAGIC | PB_MAGIC | SJE_MAGIC),
                None => false,
            },
        };
        if is_packet {
            format!("capture ends in the middle of frame {next_frame} (file truncated?)")
        } else if let Some(t) = read_u32(data, 0, self.state.big_endian) {
            format!(
                "capture ends in the middle of a pcapng block of type 0x{t:08x} after frame {} (file truncated?)",
                self.state.stats.frames
            )
        } else {
            format!(
                "capture ends with {} stray bytes after frame {} (file truncated?)",
                data.len(),
                self.state.stats.frames
            )
        }
    }

    fn read_error(&self) -> CaptureError {
        let source = self
            .io_error
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .unwrap_or_else(|| io::Error::other("read failed"));
        CaptureError::Read {
            offset: self.bytes_read(),
            error: source,
        }
    }

    fn malformed(&self, detail: String) -> CaptureError {
        CaptureError::Malformed {
            offset: self.bytes_read(),
            last_frame: self.state.stats.frames,
            detail,
        }
    }
}

/// Turns one parsed block into a step, updating frame numbering and the
/// interface table.
fn classify(block: PcapBlockOwned<'_>, len: usize, st: &mut State) -> Result<Step, CaptureError> {
    let block = match block {
        PcapBlockOwned::LegacyHeader(_) => return Ok(Step::Skip(len)),
        PcapBlockOwned::Legacy(rec) => {
            let frame = st.next_frame();
            let frac = if st.nanos {
                rec.ts_usec / 1000
            } else {
                rec.ts_usec
            };
            let ts_us = i64::from(rec.ts_sec)
                .saturating_mul(1_000_000)
                .saturating_add(i64::from(frac));
            let start = st.record_header_len;
            return Ok(Step::Packet(
                len,
                Found {
                    frame,
                    ts_us,
                    linktype: st.linktype,
                    orig_len: rec.origlen,
                    start,
                    end: start.saturating_add(rec.data.len()),
                },
            ));
        }
        PcapBlockOwned::NG(block) => block,
    };
    match block {
        Block::SectionHeader(shb) => {
            st.big_endian = shb.big_endian();
            st.interfaces.clear();
            st.stats.sections = st.stats.sections.saturating_add(1);
            Ok(Step::Skip(len))
        }
        Block::InterfaceDescription(idb) => {
            if st.interfaces.len() >= MAX_INTERFACES {
                return Ok(Step::Malformed(format!(
                    "more than {MAX_INTERFACES} interface description blocks in one section"
                )));
            }
            let iface = interface_from_idb(&idb, st.big_endian);
            if !crate::decode::linktype::is_supported(iface.linktype) {
                st.linktype_warnings += 1;
                if st.linktype_warnings <= MAX_LINKTYPE_WARNINGS {
                    st.new_warnings.push(format!(
                        "interface {} has unsupported link type {}{}; its frames are counted as decode errors",
                        st.interfaces.len(),
                        iface.linktype,
                        linktype_label(iface.linktype)
                    ));
                } else if st.linktype_warnings == MAX_LINKTYPE_WARNINGS + 1 {
                    st.new_warnings
                        .push("more interfaces with unsupported link types".to_string());
                }
            }
            st.interfaces.push(iface);
            st.stats.other_blocks = st.stats.other_blocks.saturating_add(1);
            Ok(Step::Skip(len))
        }
        Block::EnhancedPacket(epb) => {
            let frame = st.next_frame();
            let iface = st.interface(frame, epb.if_id)?;
            let ts_us = ng_ts_us(epb.ts_high, epb.ts_low, &iface);
            st.last_ts = ts_us;
            let caplen = usize::try_from(epb.caplen).unwrap_or(usize::MAX);
            let captured = caplen.min(epb.data.len());
            Ok(Step::Packet(
                len,
                Found {
                    frame,
                    ts_us,
                    linktype: iface.linktype,
                    orig_len: epb.origlen,
                    start: 28,
                    end: 28usize.saturating_add(captured),
                },
            ))
        }
        Block::SimplePacket(spb) => {
            let frame = st.next_frame();
            let iface = st.interface(frame, 0)?;
            let mut captured = spb.data.len();
            for limit in [spb.origlen, iface.snaplen] {
                if limit > 0 {
                    captured = captured.min(usize::try_from(limit).unwrap_or(usize::MAX));
                }
            }
            Ok(Step::Packet(
                len,
                Found {
                    frame,
                    // An SPB has no clock; reusing the last one keeps
                    // time monotonic for timeout logic downstream.
                    ts_us: st.last_ts,
                    linktype: iface.linktype,
                    orig_len: spb.origlen,
                    start: 12,
                    end: 12usize.saturating_add(captured),
                },
            ))
        }
        Block::Unknown(ub) if native_u32(ub.block_type, st.big_endian) == PB_MAGIC => {
            let frame = st.next_frame();
            let be = st.big_endian;
            let field = |off: usize| read_u32(ub.data, off, be);
            let (Some(head), Some(ts_high), Some(ts_low), Some(caplen), Some(orig_len)) = (
                read_u16(ub.data, 0, be),
                field(4),
                field(8),
                field(12),
                field(16),
            ) else {
                return Ok(Step::Malformed(format!(
                    "frame {frame}: packet block too short for its header"
                )));
            };
            let iface = st.interface(frame, u32::from(head))?;
            let ts_us = ng_ts_us(ts_high, ts_low, &iface);
            st.last_ts = ts_us;
            let available = ub.data.len().saturating_sub(20);
            let captured = usize::try_from(caplen).unwrap_or(usize::MAX).min(available);
            Ok(Step::Packet(
                len,
                Found {
                    frame,
                    ts_us,
                    linktype: iface.linktype,
                    orig_len,
                    start: 28,
                    end: 28usize.saturating_add(captured),
                },
            ))
        }
        Block::DecryptionSecrets(dsb) => {
            st.stats.other_blocks = st.stats.other_blocks.saturating_add(1);
            st.decryption_secrets(dsb.secrets_type.0, dsb.secrets_len, dsb.data);
            Ok(Step::Skip(len))
        }
        Block::SystemdJournalExport(_) => {
            // Wireshark shows journal entries as frames; count them so our
            // frame numbers stay equal to Wireshark's, but do not return them.
            st.next_frame();
            Ok(Step::Skip(len))
        }
        _ => {
            st.stats.other_blocks = st.stats.other_blocks.saturating_add(1);
            Ok(Step::Skip(len))
        }
    }
}

impl State {
    /// Keeps a TLS key log block's text for [`CaptureReader::take_secrets`]; other secret
    /// types (SSH, WireGuard, ...) are not ours to use.
    fn decryption_secrets(&mut self, secrets_type: u32, secrets_len: u32, data: &[u8]) {
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

    fn next_frame(&mut self) -> FrameNo {
        self.stats.frames = self.stats.frames.saturating_add(1);
        self.stats.frames
    }

    fn interface(&self, frame: FrameNo, id: u32) -> Result<Interface, CaptureError> {
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

fn interface_from_idb(idb: &InterfaceDescriptionBlock<'_>, big_endian: bool) -> Interface {
    // pcap-parser always reads if_tsoffset as little-endian; redo it with
    // the section's byte order.
    let tsoffset = idb
        .options
        .iter()
        .find(|o| o.code == OptionCode::IfTsoffset)
        .and_then(|o| o.value().get(..8))
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(|b| {
            if big_endian {
                i64::from_be_bytes(b)
            } else {
                i64::from_le_bytes(b)
            }
        })
        .unwrap_or(0);
    Interface {
        linktype: u32::try_from(idb.linktype.0).unwrap_or(u32::MAX),
        tsresol: idb.if_tsresol,
        tsoffset,
        snaplen: idb.snaplen,
    }
}

/// Converts a pcapng timestamp to Unix microseconds, honouring if_tsresol
/// (10^-n or 2^-n seconds) and if_tsoffset (seconds).
fn ng_ts_us(high: u32, low: u32, iface: &Interface) -> TimestampUs {
    let units = i128::from((u64::from(high) << 32) | u64::from(low));
    let exp = u32::from(iface.tsresol & 0x7f);
    let us: i128 = if iface.tsresol & 0x80 == 0 {
        if exp >= 6 {
            10i128
                .checked_pow(exp - 6)
                .map_or(0, |div| units.checked_div(div).unwrap_or(0))
        } else {
            10i128
                .checked_pow(6 - exp)
                .and_then(|mul| units.checked_mul(mul))
                .unwrap_or(i128::MAX)
        }
    } else {
        units
            .checked_mul(1_000_000)
            .and_then(|v| v.checked_shr(exp))
            .unwrap_or(0)
    };
    let total = us.saturating_add(i128::from(iface.tsoffset).saturating_mul(1_000_000));
    // Clamped to +-2^62 us (146 000 years) so that the difference of any two
    // timestamps (durations, timeouts downstream) cannot overflow an i64.
    let total = total.clamp(-MAX_TS_US, MAX_TS_US);
    i64::try_from(total).unwrap_or(0)
}

/// Largest timestamp magnitude handed out, in microseconds.
const MAX_TS_US: i128 = (1 << 62) - 1;

/// Decides the container format from the first bytes, or explains what the
/// file looks like instead.
fn sniff(prefix: &[u8]) -> Result<CaptureFormat, CaptureError> {
    if prefix.is_empty() {
        return Err(CaptureError::Empty);
    }
    const PCAP_MAGICS: [[u8; 4]; 5] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        // Kuznetzov's modified pcap; pcap-parser reads only this byte order
        [0x34, 0xcd, 0xb2, 0xa1],
    ];
    const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
    let head = prefix.get(..4);
    if head == Some(&PCAPNG_MAGIC[..]) {
        return Ok(CaptureFormat::PcapNg);
    }
    if let Some(h) = head {
        if PCAP_MAGICS.iter().any(|m| m[..] == *h) {
            return Ok(CaptureFormat::Pcap);
        }
    } else {
        let short = prefix;
        let is_start_of_magic = PCAP_MAGICS
            .iter()
            .chain(std::iter::once(&PCAPNG_MAGIC))
            .any(|m| m.starts_with(short));
        if is_start_of_magic {
            return Err(CaptureError::TruncatedHeader {
                what: "capture file header",
                got: prefix.len(),
                need: PCAP_HEADER_LEN,
            });
        }
    }
    let shown = &prefix[..prefix.len().min(4)];
    let first_bytes = shown
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    let hint = guess_file_type(prefix)
        .map(|g| format!(" ({g})"))
        .unwrap_or_default();
    Err(CaptureError::NotACapture { first_bytes, hint })
}

fn guess_file_type(p: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG", "PNG image?"),
        (b"\x1f\x8b", "compressed twice?"),
        (b"\x28\xb5\x2f\xfd", "compressed twice?"),
        (b"\xfd7zXZ", "compressed twice?"),
        (b"\x04\x22\x4d\x18", "compressed twice?"),
        (b"BZh", "bzip2-compressed; decompress it first?"),
        (b"PK\x03\x04", "zip archive?"),
        (b"%PDF", "PDF document?"),
        (b"\x7fELF", "ELF executable?"),
        (b"\xff\xd8\xff", "JPEG image?"),
        (
            b"snoop\0",
            "Solaris snoop capture, convert it with editcap?",
        ),
        (
            b"GMBU",
            "Microsoft Network Monitor capture, convert it with editcap?",
        ),
        (
            b"\xa1\xb2\xcd\x34",
            "big-endian modified pcap, not supported",
        ),
    ];
    if let Some((_, name)) = SIGNATURES.iter().find(|(sig, _)| p.starts_with(sig)) {
        return Some(name);
    }
    let text = p
        .iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    text.then_some("text file?")
}

/// Total length of the Section Header Block at the start of `p`.
fn shb_len(p: &[u8]) -> Result<usize, CaptureError> {
    let Some(be) = shb_big_endian(p) else {
        return Err(if p.len() < 12 {
            CaptureError::TruncatedHeader {
                what: "pcapng section header block",
                got: p.len(),
                need: 28,
            }
        } else {
            CaptureError::BadHeader {
                what: "pcapng section header block",
                detail: format!(
                    "byte-order magic is {}, expected 1a 2b 3c 4d or 4d 3c 2b 1a",
                    hex(p.get(8..12).unwrap_or_default())
                ),
            }
        });
    };
    let len = read_u32(p, 4, be).unwrap_or(0);
    if !(28..=MAX_BLOCK_LEN).contains(&len) || len % 4 != 0 {
        return Err(CaptureError::BadHeader {
            what: "pcapng section header block",
            detail: format!("invalid block length {len}"),
        });
    }
    usize::try_from(len).map_err(|_| CaptureError::BadHeader {
        what: "pcapng section header block",
        detail: format!("invalid block length {len}"),
    })
}

fn shb_big_endian(p: &[u8]) -> Option<bool> {
    match p.get(8..12)? {
        [0x1a, 0x2b, 0x3c, 0x4d] => Some(true),
        [0x4d, 0x3c, 0x2b, 0x1a] => Some(false),
        _ => None,
    }
}

/// Block type and total length of the pcapng block at the start of `p`.
fn ng_block_header(p: &[u8], section_be: bool) -> Option<(u32, u32)> {
    let block_type = read_u32(p, 0, section_be)?;
    let be = if block_type == SHB_MAGIC {
        // A new section may switch byte order; if the BOM is not buffered
        // yet we cannot know the length.
        shb_big_endian(p)?
    } else {
        section_be
    };
    Some((block_type, read_u32(p, 4, be)?))
}

fn header_error(what: &'static str, e: &PcapError<&[u8]>) -> CaptureError {
    CaptureError::BadHeader {
        what,
        detail: describe_pcap_error(e),
    }
}

fn describe_pcap_error(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("block does not parse ({kind:?})")
        }
        PcapError::HeaderNotRecognized => "header not recognized".to_string(),
        PcapError::Incomplete(n) => format!("incomplete, {n} more bytes needed"),
        other => format!("{other:?}"),
    }
}

fn native_u32(raw_le: u32, big_endian: bool) -> u32 {
    if big_endian {
        raw_le.swap_bytes()
    } else {
        raw_le
    }
}

fn read_u32(p: &[u8], off: usize, be: bool) -> Option<u32> {
    let b: [u8; 4] = p.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

fn read_u16(p: &[u8], off: usize, be: bool) -> Option<u16> {
    let b: [u8; 2] = p.get(off..off.checked_add(2)?)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    })
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads until `buf` holds `want` bytes or the input ends.
fn read_up_to(input: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    while buf.len() < want {
        let n = chunk.len().min(want - buf.len());
        match input.read(&mut chunk[..n]) {
            Ok(0) => break,
            Ok(got) => buf.extend_from_slice(chunk.get(..got).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Replays the sniffed prefix, then the rest of the input, filling every
/// read completely. pcap-parser treats a short read as "no more room" and a
/// zero read as end of file, which pipes (stdin) would otherwise trip over.
/// I/O errors are parked in `error` because pcap-parser drops them.
struct FillReader {
    prefix: Vec<u8>,
    prefix_pos: usize,
    inner: Box<dyn Read + Send>,
    pending: Option<io::Error>,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl Read for FillReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            return Err(self.park(e));
        }
        let mut filled = 0;
        if let Some(rest) = self.prefix.get(self.prefix_pos..) {
            let n = rest.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
                dst.copy_from_slice(src);
                filled = n;
                self.prefix_pos = self.prefix_pos.saturating_add(n);
            }
        }
        while let Some(dst) = buf.get_mut(filled..).filter(|d| !d.is_empty()) {
            match self.inner.read(dst) {
                Ok(0) => break,
                Ok(n) => filled = filled.saturating_add(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if filled > 0 => {
                    // Hand over what we have; fail on the next call.
                    self.pending = Some(e);
                    break;
                }
                Err(e) => return Err(self.park(e)),
            }
        }
        Ok(filled)
    }
}

impl FillReader {
    /// Keeps a copy of the error for `CaptureReader::read_error`.
    fn park(&self, e: io::Error) -> io::Error {
        if let Ok(mut slot) = self.error.lock() {
            *slot = Some(io::Error::new(e.kind(), e.to_string()));
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    // ---- builders -------------------------------------------------------

    fn u32b(v: u32, be: bool) -> [u8; 4] {
        if be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u16b(v: u16, be: bool) -> [u8; 2] {
        if be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    struct Rec<'a> {
        sec: u32,
        frac: u32,
        data: &'a [u8],
        orig: u32,
    }

    fn rec(sec: u32, frac: u32, data: &[u8]) -> Rec<'_> {
        Rec {
            sec,
            frac,
            data,
            orig: data.len() as u32,
        }
    }

    fn pcap(be: bool, nanos: bool, linktype: u32, recs: &[Rec<'_>]) -> Vec<u8> {
        let magic = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut v = Vec::new();
        v.extend(u32b(magic, be));
        v.extend(u16b(2, be));
        v.extend(u16b(4, be));
        v.extend(u32b(0, be));
        v.extend(u32b(0, be));
        v.extend(u32b(65535, be));
        v.extend(u32b(linktype, be));
        for r in recs {
            v.extend(u32b(r.sec, be));
            v.extend(u32b(r.frac, be));
            v.extend(u32b(r.data.len() as u32, be));
            v.extend(u32b(r.orig, be));
            v.extend(r.data);
        }
        v
    }

    fn block(be: bool, block_type: u32, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = body.len() as u32 + 12;
        let mut v = Vec::new();
        v.extend(u32b(block_type, be));
        v.extend(u32b(len, be));
        v.extend(body);
        v.extend(u32b(len, be));
        v
    }

    fn options(be: bool, opts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        if opts.is_empty() {
            return v;
        }
        for (code, val) in opts {
            v.extend(u16b(*code, be));
            v.extend(u16b(val.len() as u16, be));
            v.extend(*val);
            while v.len() % 4 != 0 {
                v.push(0);
            }
        }
        v.extend([0, 0, 0, 0]);
        v
    }

    fn shb(be: bool) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(u32b(0x1a2b_3c4d, be));
        body.extend(u16b(1, be));
        body.extend(u16b(0, be));
        body.extend([0xff; 8]);
        body.extend(options(be, &[(4, b"tlstriage-test")]));
        block(be, SHB_MAGIC, &body)
    }

    fn idb(be: bool, linktype: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(u16b(linktype, be));
        body.extend(u16b(0, be));
        body.extend(u32b(snaplen, be));
        body.extend(options(be, opts));
        block(be, 1, &body)
    }

    fn epb(be: bool, if_id: u32, ts: u64, data: &[u8], orig: u32) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(u32b(if_id, be));
        body.extend(u32b((ts >> 32) as u32, be));
        body.extend(u32b(ts as u32, be));
        body.extend(u32b(data.len() as u32, be));
        body.extend(u32b(orig, be));
        body.extend(data);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        body.extend(options(be, &[(1, b"a comment")]));
        block(be, EPB_MAGIC, &body)
    }

    fn spb(be: bool, data: &[u8], orig: u32) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(u32b(orig, be));
        body.extend(data);
        block(be, SPB_MAGIC, &body)
    }

    fn obsolete_pb(be: bool, if_id: u16, ts: u64, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(u16b(if_id, be));
        body.extend(u16b(0, be));
        body.extend(u32b((ts >> 32) as u32, be));
        body.extend(u32b(ts as u32, be));
        body.extend(u32b(data.len() as u32, be));
        body.extend(u32b(data.len() as u32, be));
        body.extend(data);
        block(be, PB_MAGIC, &body)
    }

    fn reader(bytes: Vec<u8>) -> Result<CaptureReader, CaptureError> {
        CaptureReader::from_reader(Box::new(Cursor::new(bytes)))
    }

    #[derive(Debug, PartialEq, Eq)]
    struct Owned {
        frame: u64,
        ts_us: i64,
        linktype: u32,
        data: Vec<u8>,
        orig_len: u32,
    }

    fn collect(r: &mut CaptureReader) -> Result<Vec<Owned>, CaptureError> {
        let mut out = Vec::new();
        while let Some(p) = r.next_packet()? {
            out.push(Owned {
                frame: p.frame,
                ts_us: p.ts_us,
                linktype: p.linktype,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
            });
        }
        Ok(out)
    }

    fn read_all(bytes: Vec<u8>) -> Result<Vec<Owned>, CaptureError> {
        collect(&mut reader(bytes)?)
    }

    /// Returns at most a few bytes per read, like a pipe under load.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.step = self.step % 7 + 1;
            let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    // ---- classic pcap ----------------------------------------------------

    #[test]
    fn pcap_little_endian_microseconds() {
        let bytes = pcap(
            false,
            false,
            1,
            &[
                rec(1_700_000_000, 123_456, b"abc"),
                rec(1_700_000_001, 7, b""),
            ],
        );
        let total = bytes.len() as u64;
        let mut r = reader(bytes).unwrap();
        assert_eq!(r.format(), CaptureFormat::Pcap);
        let pkts = collect(&mut r).unwrap();
        assert_eq!(pkts.len(), 2);
        assert_eq!(
            pkts[0],
            Owned {
                frame: 1,
                ts_us: 1_700_000_000_123_456,
                linktype: 1,
                data: b"abc".to_vec(),
                orig_len: 3
            }
        );
        assert_eq!(pkts[1].frame, 2);
        assert_eq!(pkts[1].ts_us, 1_700_000_001_000_007);
        assert!(pkts[1].data.is_empty());
        assert_eq!(r.bytes_read(), total);
        assert!(!r.truncated());
        assert!(r.warnings().is_empty());
        assert_eq!(r.next_packet().unwrap(), None);
    }

    #[test]
    fn pcap_big_endian_nanoseconds_and_snaplen() {
        let mut short = rec(10, 999_999_999, &[1, 2, 3, 4]);
        short.orig = 1500;
        let bytes = pcap(true, true, 101, &[short, rec(11, 1_500, &[9])]);
        let pkts = read_all(bytes).unwrap();
        assert_eq!(pkts[0].ts_us, 10_999_999);
        assert_eq!(pkts[0].linktype, 101);
        assert_eq!(pkts[0].data, vec![1, 2, 3, 4]);
        assert_eq!(pkts[0].orig_len, 1500);
        assert_eq!(pkts[1].ts_us, 11_000_001);
    }

    #[test]
    fn pcap_little_endian_nanoseconds() {
        let pkts = read_all(pcap(false, true, 0, &[rec(2, 3_000, b"x")])).unwrap();
        assert_eq!(pkts[0].ts_us, 2_000_003);
        assert_eq!(pkts[0].linktype, 0);
    }

    #[test]
    fn pcap_read_in_tiny_chunks_like_a_pipe() {
        let payload: Vec<u8> = (0..=255).collect();
        let recs: Vec<Rec<'_>> = (0..50).map(|i| rec(i, i, &payload[..i as usize])).collect();
        let bytes = pcap(false, false, 1, &recs);
        let expected = read_all(bytes.clone()).unwrap();
        let mut r = CaptureReader::from_reader(Box::new(Trickle {
            data: bytes,
            pos: 0,
            step: 0,
        }))
        .unwrap();
        assert_eq!(collect(&mut r).unwrap(), expected);
        assert_eq!(expected.len(), 50);
        assert!(!r.truncated());
    }

    #[test]
    fn pcap_larger_than_initial_buffer() {
        // 40 near-maximum records (about 10 MiB) cross many buffer refills.
        let big = vec![0x5a; 250_000];
        let recs: Vec<Rec<'_>> = (0..40).map(|i| rec(i, 0, &big)).collect();
        let bytes = pcap(false, false, 1, &recs);
        let pkts = read_all(bytes).unwrap();
        assert_eq!(pkts.len(), 40);
        assert!(pkts.iter().all(|p| p.data.len() == 250_000));
        assert_eq!(pkts[39].frame, 40);
    }

    #[test]
    fn pcap_truncated_last_record_is_a_warning() {
        let bytes = pcap(
            false,
            false,
            1,
            &[rec(1, 0, b"one"), rec(2, 0, b"two"), rec(3, 0, b"three!")],
        );
        for cut in [1, 3, 10, 17] {
            let mut r = reader(bytes[..bytes.len() - cut].to_vec()).unwrap();
            let pkts = collect(&mut r).unwrap();
            assert_eq!(pkts.len(), 2, "cut {cut}");
            assert!(r.truncated());
            assert_eq!(
                r.warnings(),
                ["capture ends in the middle of frame 3 (file truncated?)"]
            );
        }
    }

    #[test]
    fn pcap_unsupported_link_type_is_an_error_naming_it() {
        let err = reader(pcap(false, false, 105, &[rec(1, 0, b"x")])).unwrap_err();
        assert!(matches!(
            err,
            CaptureError::UnsupportedLinkType { linktype: 105 }
        ));
        let msg = err.to_string();
        assert!(
            msg.starts_with("unsupported link type 105 (IEEE 802.11"),
            "{msg}"
        );
        assert!(msg.contains("1 Ethernet"), "{msg}");
        // FCS flags in the upper bits of the field are not part of the link type.
        let mut r = reader(pcap(false, false, 0x1000_0001, &[rec(1, 0, b"x")])).unwrap();
        assert_eq!(collect(&mut r).unwrap()[0].linktype, 1);
    }

    #[test]
    fn pcapng_unsupported_link_type_is_a_warning_per_interface() {
        let mut bytes = shb(false);
        for _ in 0..12 {
            bytes.extend(idb(false, 147, 0, &[]));
        }
        bytes.extend(idb(false, 1, 0, &[]));
        bytes.extend(epb(false, 0, 1, b"frame", 5));
        bytes.extend(epb(false, 12, 1, b"frame", 5));
        let mut r = reader(bytes).unwrap();
        let pkts = collect(&mut r).unwrap();
        assert_eq!(
            pkts.iter().map(|p| p.linktype).collect::<Vec<_>>(),
            [147, 1]
        );
        let w = r.warnings();
        assert_eq!(w.len(), MAX_LINKTYPE_WARNINGS + 1, "{w:?}");
        assert!(
            w[0].starts_with("interface 0 has unsupported link type 147"),
            "{w:?}"
        );
        assert!(w[1].starts_with("interface 1 "), "{w:?}");
    }

    #[test]
    fn pcapng_interface_table_is_bounded() {
        let one = idb(false, 1, 0, &[]);
        let mut bytes = shb(false);
        for _ in 0..=MAX_INTERFACES {
            bytes.extend(&one);
        }
        let mut r = reader(bytes).unwrap();
        let err = collect(&mut r).unwrap_err().to_string();
        assert!(
            err.contains("more than 65536 interface description blocks"),
            "{err}"
        );
    }

    #[test]
    fn pcap_absurd_caplen_names_frame_and_length() {
        let mut bytes = pcap(false, false, 1, &[rec(1, 0, b"ok"), rec(2, 0, b"bad")]);
        let second = 24 + 16 + 2;
        bytes[second + 8..second + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        let mut r = reader(bytes).unwrap();
        assert_eq!(r.next_packet().unwrap().unwrap().frame, 1);
        let err = r.next_packet().unwrap_err();
        let msg = err.to_string();
        assert!(matches!(
            err,
            CaptureError::CaplenTooLarge {
                frame: 2,
                caplen: 0x7fff_ffff,
                ..
            }
        ));
        assert!(
            msg.contains("frame 2") && msg.contains("2147483647"),
            "{msg}"
        );
        // The reader stays finished instead of panicking or looping.
        assert_eq!(r.next_packet().unwrap(), None);
    }

    #[test]
    fn pcap_caplen_just_over_limit_is_rejected() {
        let data = vec![0u8; MAX_CAPLEN as usize + 1];
        let err = read_all(pcap(false, false, 1, &[rec(1, 0, &data)])).unwrap_err();
        assert!(matches!(err, CaptureError::CaplenTooLarge { frame: 1, .. }));
        let ok = vec![0u8; MAX_CAPLEN as usize];
        assert_eq!(
            read_all(pcap(false, false, 1, &[rec(1, 0, &ok)]))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn modified_pcap_format_is_read() {
        let mut v = pcap(false, false, 1, &[]);
        v[..4].copy_from_slice(&0xa1b2_cd34u32.to_le_bytes());
        v.extend(5u32.to_le_bytes());
        v.extend(6u32.to_le_bytes());
        v.extend(2u32.to_le_bytes());
        v.extend(2u32.to_le_bytes());
        v.extend([0u8; 8]);
        v.extend(b"hi");
        let pkts = read_all(v).unwrap();
        assert_eq!(pkts[0].data, b"hi");
        assert_eq!(pkts[0].ts_us, 5_000_006);
    }

    // ---- bad input -------------------------------------------------------

    #[test]
    fn empty_input() {
        let err = reader(Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "empty file");
    }

    #[test]
    fn png_is_not_a_capture() {
        let err = reader(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a pcap or pcapng file: starts with 89 50 4e 47 (PNG image?)"
        );
    }

    #[test]
    fn other_non_captures_get_hints() {
        let gz = reader(vec![0x1f, 0x8b, 8, 0, 0, 0])
            .unwrap_err()
            .to_string();
        assert!(gz.starts_with("gzip-compressed file: read error"), "{gz}");
        let bz = reader(b"BZh91AY&SY".to_vec()).unwrap_err().to_string();
        assert!(
            bz.contains("bzip2-compressed; decompress it first?"),
            "{bz}"
        );
        let text = reader(b"hello world\n".to_vec()).unwrap_err().to_string();
        assert!(text.contains("68 65 6c 6c (text file?)"), "{text}");
        let junk = reader(vec![0, 1]).unwrap_err().to_string();
        assert_eq!(junk, "not a pcap or pcapng file: starts with 00 01");
    }

    #[test]
    fn truncated_global_header() {
        let bytes = pcap(false, false, 1, &[]);
        for len in [2, 4, 10, 23] {
            let err = reader(bytes[..len].to_vec()).unwrap_err();
            assert!(
                matches!(err, CaptureError::TruncatedHeader { got, need: 24, .. } if got == len),
                "{len}: {err}"
            );
        }
        // Header only: a valid, empty capture.
        assert!(read_all(bytes).unwrap().is_empty());
    }

    #[test]
    fn truncated_or_bad_section_header() {
        let s = shb(false);
        for len in [4, 11, 20, s.len() - 1] {
            let err = reader(s[..len].to_vec()).unwrap_err();
            assert!(
                matches!(err, CaptureError::TruncatedHeader { .. }),
                "{len}: {err}"
            );
        }
        let mut bad_bom = s.clone();
        bad_bom[8..12].copy_from_slice(&[1, 2, 3, 4]);
        let msg = reader(bad_bom).unwrap_err().to_string();
        assert!(msg.contains("byte-order magic is 01 02 03 04"), "{msg}");
        let mut bad_len = s;
        bad_len[4..8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(matches!(
            reader(bad_len).unwrap_err(),
            CaptureError::BadHeader { .. }
        ));
    }

    #[test]
    fn open_missing_file_and_read_errors() {
        let err = CaptureReader::open(Path::new("/nonexistent/x.pcap")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot open /nonexistent/x.pcap: "));

        struct Failing(Vec<u8>, usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = buf.len().min(self.0.len() - self.1);
                buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let bytes = pcap(false, false, 1, &[rec(1, 0, b"abc")]);
        let mut r = CaptureReader::from_reader(Box::new(Failing(bytes, 0))).unwrap();
        let mut seen = 0;
        let err = loop {
            match r.next_packet() {
                Ok(Some(_)) => seen += 1,
                Ok(None) => panic!("read error swallowed"),
                Err(e) => break e,
            }
        };
        assert!(seen <= 1);
        assert!(err.to_string().contains("disk on fire"), "{err}");
    }

    // ---- pcapng ----------------------------------------------------------

    #[test]
    fn pcapng_two_interfaces_other_blocks_and_resolutions() {
        for be in [false, true] {
            let mut f = shb(be);
            f.extend(idb(be, 1, 65535, &[]));
            // interface 1: raw IP, nanoseconds, clock offset of 100 s
            f.extend(idb(
                be,
                101,
                0,
                &[(9, &[9]), (14, &u32b_8(100, be)), (2, b"eth1")],
            ));
            f.extend(block(be, 0x0000_1234, b"unknown block content"));
            f.extend(block(be, 4, &[0, 0, 0, 0])); // NRB, end of records only
            f.extend(epb(be, 0, 1_600_000_000_000_001, b"eth frame", 60));
            f.extend(block(be, 5, &[0; 12])); // ISB
            f.extend(block(be, 0x0000_0bad, &[0, 0, 0x7e, 0x2b, 1, 2])); // custom
            f.extend(block(
                be,
                0x0000_000a,
                &[0x4b, 0x53, 0x4c, 0x54, 0, 0, 0, 0],
            )); // DSB
            f.extend(epb(be, 1, 1_600_000_000_123_456_789, b"raw ip", 6));
            let total = f.len() as u64;
            let mut r = reader(f).unwrap();
            assert_eq!(r.format(), CaptureFormat::PcapNg);
            let p = collect(&mut r).unwrap();
            assert_eq!(p.len(), 2, "be={be}");
            assert_eq!(
                p[0],
                Owned {
                    frame: 1,
                    ts_us: 1_600_000_000_000_001,
                    linktype: 1,
                    data: b"eth frame".to_vec(),
                    orig_len: 60
                }
            );
            assert_eq!(p[1].frame, 2);
            assert_eq!(p[1].linktype, 101);
            assert_eq!(p[1].ts_us, 1_600_000_100_123_456);
            assert_eq!(p[1].data, b"raw ip");
            assert_eq!(r.bytes_read(), total);
            assert!(r.warnings().is_empty());
            let s = r.stats();
            assert_eq!((s.frames, s.sections), (2, 1));
            assert_eq!(s.other_blocks, 2 + 5);
        }
    }

    fn u32b_8(v: i64, be: bool) -> [u8; 8] {
        if be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    #[test]
    fn pcapng_power_of_two_resolution_spb_and_obsolete_pb() {
        for be in [false, true] {
            let mut f = shb(be);
            // 2^-20 s units
            f.extend(idb(be, 113, 4, &[(9, &[0x80 | 20])]));
            f.extend(obsolete_pb(be, 0, 3 << 20 | 1 << 19, b"old"));
            f.extend(spb(be, b"simple-data", 11));
            f.extend(epb(be, 0, 5 << 20, b"e", 1));
            let p = read_all(f).unwrap();
            assert_eq!(p.len(), 3, "be={be}");
            assert_eq!(p[0].ts_us, 3_500_000);
            assert_eq!(p[0].data, b"old");
            assert_eq!(p[0].linktype, 113);
            // SPB: no clock of its own, captured length limited by snaplen 4
            assert_eq!(p[1].frame, 2);
            assert_eq!(p[1].ts_us, 3_500_000);
            assert_eq!(p[1].data, b"simp");
            assert_eq!(p[1].orig_len, 11);
            assert_eq!(p[2].ts_us, 5_000_000);
        }
    }

    #[test]
    fn pcapng_spb_uses_original_length_to_strip_padding() {
        let mut f = shb(false);
        f.extend(idb(false, 1, 0, &[]));
        f.extend(spb(false, b"abcde", 5));
        let p = read_all(f).unwrap();
        assert_eq!(p[0].data, b"abcde");
    }

    #[test]
    fn pcapng_sections_reset_interfaces_and_may_switch_byte_order() {
        let mut f = shb(false);
        f.extend(idb(false, 1, 0, &[]));
        f.extend(idb(false, 228, 0, &[]));
        f.extend(epb(false, 1, 1, b"a", 1));
        f.extend(shb(true));
        f.extend(idb(true, 229, 0, &[(9, &[3])]));
        f.extend(epb(true, 0, 2, b"b", 1));
        let mut ok = f.clone();
        ok.extend(block(true, 5, &[0; 12]));
        let p = read_all(ok).unwrap();
        assert_eq!(
            p.iter()
                .map(|p| (p.frame, p.linktype, p.ts_us))
                .collect::<Vec<_>>(),
            vec![(1, 228, 1), (2, 229, 2000)]
        );
        // Interface 1 existed only in the first section.
        f.extend(epb(true, 1, 3, b"c", 1));
        let mut r = reader(f).unwrap();
        assert_eq!(collect_until_err(&mut r), 2);
    }

    fn collect_until_err(r: &mut CaptureReader) -> usize {
        let mut n = 0;
        loop {
            match r.next_packet() {
                Ok(Some(_)) => n += 1,
                Ok(None) => panic!("expected an error"),
                Err(e) => {
                    let msg = e.to_string();
                    assert_eq!(
                        msg,
                        "frame 3: packet refers to interface 1, but the section describes only 1 interface(s)"
                    );
                    return n;
                }
            }
        }
    }

    #[test]
    fn pcapng_packet_before_any_interface() {
        let mut f = shb(false);
        f.extend(epb(false, 0, 1, b"a", 1));
        let err = read_all(f).unwrap_err();
        assert!(matches!(
            err,
            CaptureError::UnknownInterface {
                frame: 1,
                interface: 0,
                described: 0
            }
        ));
    }

    #[test]
    fn pcapng_truncated_tail() {
        let mut f = shb(false);
        f.extend(idb(false, 1, 0, &[]));
        f.extend(epb(false, 0, 1, b"first", 5));
        f.extend(epb(false, 0, 2, b"second", 6));
        let full = f.len();
        for cut in [1, 4, 20, 40] {
            let mut r = reader(f[..full - cut].to_vec()).unwrap();
            let p = collect(&mut r).unwrap();
            assert_eq!(p.len(), 1, "cut {cut}");
            assert!(r.truncated());
            assert_eq!(
                r.warnings(),
                ["capture ends in the middle of frame 2 (file truncated?)"]
            );
        }
        // Cut inside a trailing statistics block: no frame is lost.
        let mut g = f.clone();
        g.extend(block(false, 5, &[0; 12]));
        g.truncate(g.len() - 3);
        let mut r = reader(g).unwrap();
        assert_eq!(collect(&mut r).unwrap().len(), 2);
        assert!(r.truncated());
        assert!(r.warnings()[0].contains("type 0x00000005 after frame 2"));
    }

    #[test]
    fn pcapng_absurd_lengths() {
        let mut f = shb(false);
        f.extend(idb(false, 1, 0, &[]));
        let mut e = epb(false, 0, 1, b"x", 1);
        e[20..24].copy_from_slice(&1_000_000u32.to_le_bytes());
        let mut g = f.clone();
        g.extend(&e);
        let err = read_all(g).unwrap_err();
        assert!(
            matches!(
                err,
                CaptureError::CaplenTooLarge {
                    frame: 1,
                    caplen: 1_000_000,
                    ..
                }
            ),
            "{err}"
        );
        // caplen larger than the block that holds it
        let mut e2 = epb(false, 0, 1, b"x", 1);
        e2[20..24].copy_from_slice(&1000u32.to_le_bytes());
        let mut g = f.clone();
        g.extend(&e2);
        let msg = read_all(g).unwrap_err().to_string();
        assert!(msg.contains("frame 1: captured length 1000"), "{msg}");
        // block length beyond the cap
        let mut g = f.clone();
        g.extend(5u32.to_le_bytes());
        g.extend(0x4000_0000u32.to_le_bytes());
        g.extend([0u8; 64]);
        assert!(matches!(
            read_all(g).unwrap_err(),
            CaptureError::BlockTooLarge { block_type: 5, .. }
        ));
        // block length not a multiple of 4
        let mut g = f;
        g.extend(5u32.to_le_bytes());
        g.extend(13u32.to_le_bytes());
        g.extend([0u8; 16]);
        assert!(matches!(
            read_all(g).unwrap_err(),
            CaptureError::Malformed { .. }
        ));
    }

    #[test]
    fn pcapng_block_bigger_than_initial_buffer_grows_it() {
        let mut f = shb(false);
        f.extend(idb(false, 1, 0, &[]));
        f.extend(block(false, 0x0000_0bad, &vec![7u8; 3 * 1024 * 1024]));
        f.extend(epb(false, 0, 1, b"after", 5));
        let p = read_all(f).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].data, b"after");
    }

    #[test]
    fn small_buffer_grows_for_big_records() {
        let big = vec![0xa5u8; 100_000];
        let bytes = pcap(
            false,
            false,
            1,
            &[rec(1, 0, b"a"), rec(2, 0, &big), rec(3, 0, b"c")],
        );
        let mut r = CaptureReader::with_buffer(Box::new(Cursor::new(bytes)), 4096).unwrap();
        let p = collect(&mut r).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].data, big);
        assert_eq!(p[2].data, b"c");
    }

    #[test]
    fn pcapng_in_tiny_chunks() {
        let mut f = shb(true);
        f.extend(idb(true, 1, 0, &[]));
        for i in 0..30u8 {
            f.extend(epb(true, 0, u64::from(i), &vec![i; usize::from(i)], 100));
        }
        let expected = read_all(f.clone()).unwrap();
        let mut r = CaptureReader::from_reader(Box::new(Trickle {
            data: f,
            pos: 0,
            step: 3,
        }))
        .unwrap();
        assert_eq!(collect(&mut r).unwrap(), expected);
        assert_eq!(expected.len(), 30);
    }

    #[test]
    fn timestamp_conversion_edges() {
        let iface = |tsresol, tsoffset| Interface {
            linktype: 1,
            tsresol,
            tsoffset,
            snaplen: 0,
        };
        assert_eq!(ng_ts_us(0, 1_000_000, &iface(6, 0)), 1_000_000);
        assert_eq!(ng_ts_us(0, 5, &iface(0, 0)), 5_000_000);
        assert_eq!(ng_ts_us(0, 1_500, &iface(9, 0)), 1);
        assert_eq!(ng_ts_us(0, 3, &iface(0x80, -1)), 2_000_000);
        assert_eq!(ng_ts_us(u32::MAX, u32::MAX, &iface(127, 0)), 0);
        assert_eq!(ng_ts_us(u32::MAX, u32::MAX, &iface(0xff, 0)), 0);
        // Clamped so that differences between timestamps cannot overflow.
        let max = ng_ts_us(u32::MAX, u32::MAX, &iface(0, i64::MAX));
        let min = ng_ts_us(0, 0, &iface(0, i64::MIN));
        assert_eq!((max, min), ((1 << 62) - 1, 1 - (1 << 62)));
        assert!(max.checked_sub(min).is_some());
    }

    // ---- robustness ------------------------------------------------------

    #[test]
    fn mutated_inputs_never_panic_or_hang() {
        let mut ng = shb(false);
        ng.extend(idb(false, 1, 0, &[(9, &[9])]));
        ng.extend(epb(false, 0, 1, b"abcdefgh", 8));
        ng.extend(spb(false, b"xyz", 3));
        ng.extend(obsolete_pb(false, 0, 1, b"pb"));
        ng.extend(block(false, 5, &[0; 12]));
        let classic = pcap(true, false, 1, &[rec(1, 2, b"abcd"), rec(3, 4, b"efgh")]);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for base in [ng, classic] {
            for _ in 0..1500 {
                let mut m = base.clone();
                for _ in 0..(rnd() % 4 + 1) {
                    let i = (rnd() % m.len() as u64) as usize;
                    m[i] = rnd() as u8;
                }
                if rnd() % 4 == 0 {
                    m.truncate((rnd() % m.len() as u64) as usize);
                }
                if let Ok(mut r) = CaptureReader::with_buffer(Box::new(Cursor::new(m)), 4096) {
                    let mut guard = 0;
                    while let Ok(Some(_)) = r.next_packet() {
                        guard += 1;
                        assert!(guard < 100);
                    }
                }
            }
        }
    }

    // ---- real captures ---------------------------------------------------

    #[derive(Debug, PartialEq, Eq)]
    enum Walk {
        Complete(u64),
        /// file ends inside record n+1
        CutAfter(u64),
        /// record n+1 claims an absurd length
        CorruptAfter(u64, u32),
    }

    /// Walks a classic pcap by hand, independently of pcap-parser.
    fn walk_pcap(b: &[u8]) -> Walk {
        let be = b[..4] == [0xa1, 0xb2, 0xc3, 0xd4] || b[..4] == [0xa1, 0xb2, 0x3c, 0x4d];
        let mut off = 24;
        let mut n = 0;
        while off < b.len() {
            if off + 16 > b.len() {
                return Walk::CutAfter(n);
            }
            let raw: [u8; 4] = b[off + 8..off + 12].try_into().unwrap();
            let caplen = if be {
                u32::from_be_bytes(raw)
            } else {
                u32::from_le_bytes(raw)
            };
            if caplen > MAX_CAPLEN {
                return Walk::CorruptAfter(n, caplen);
            }
            if off + 16 + caplen as usize > b.len() {
                return Walk::CutAfter(n);
            }
            off += 16 + caplen as usize;
            n += 1;
        }
        Walk::Complete(n)
    }

    fn read_counting(path: &Path) -> (Walk, CaptureReader) {
        let mut r = CaptureReader::open(path).unwrap();
        let mut frames = 0;
        loop {
            let end = match r.next_packet() {
                Ok(Some(p)) => {
                    frames += 1;
                    assert_eq!(p.frame, frames);
                    assert!(p.ts_us > 0);
                    continue;
                }
                Ok(None) => frames,
                Err(CaptureError::CaplenTooLarge { frame, caplen, .. }) => {
                    assert_eq!(frame, frames + 1);
                    return (Walk::CorruptAfter(frames, caplen as u32), r);
                }
                Err(e) => panic!("{}: {e}", path.display()),
            };
            return if r.truncated() {
                (Walk::CutAfter(end), r)
            } else {
                (Walk::Complete(end), r)
            };
        }
    }

    #[test]
    fn shared_captures_read_completely() {
        let root = Path::new("/work/shared/captures");
        if !root.is_dir() {
            println!("skipping: {} not found", root.display());
            return;
        }
        let mut files = Vec::new();
        for sub in std::fs::read_dir(root).unwrap() {
            let sub = sub.unwrap().path();
            if sub.is_dir() {
                for f in std::fs::read_dir(&sub).unwrap() {
                    let f = f.unwrap().path();
                    if f.extension().is_some_and(|e| e == "pcap") {
                        files.push(f);
                    }
                }
            }
        }
        files.sort();
        assert!(files.len() >= 50, "only {} captures found", files.len());
        let mut total_frames = 0;
        let mut corrupt = Vec::new();
        for path in &files {
            let bytes = std::fs::read(path).unwrap();
            let expected = walk_pcap(&bytes);
            let (got, r) = read_counting(path);
            assert_eq!(got, expected, "{}", path.display());
            match got {
                Walk::Complete(n) => {
                    assert_eq!(r.bytes_read(), bytes.len() as u64, "{}", path.display());
                    assert!(r.warnings().is_empty());
                    total_frames += n;
                }
                Walk::CutAfter(n) => {
                    assert_eq!(r.warnings().len(), 1);
                    total_frames += n;
                }
                Walk::CorruptAfter(n, _) => {
                    corrupt.push(path.file_name().unwrap().to_string_lossy().to_string());
                    total_frames += n;
                }
            }
        }
        // These crafted files have a broken record in the middle; libpcap and
        // Wireshark stop there too.
        assert_eq!(
            corrupt,
            [
                "tls12-cert-der-incomplete-content.pcap",
                "tls12-cert-der-incomplete-header.pcap"
            ]
        );
        assert!(total_frames > 1000, "{total_frames}");
    }

    #[test]
    fn known_frame_counts_in_shared_captures() {
        let root = Path::new("/work/shared/captures");
        if !root.is_dir() {
            println!("skipping: {} not found", root.display());
            return;
        }
        for name in [
            "suricata-verify/tls12-linktype228-ipv4.pcap",
            "zeek/irc-starttls-linux-sll.pcap",
            "zeek/tls12-normal-handshake.pcap",
        ] {
            let path = root.join(name);
            let bytes = std::fs::read(&path).unwrap();
            let Walk::Complete(expected) = walk_pcap(&bytes) else {
                panic!("{name} is damaged");
            };
            let linktype = u32::from_le_bytes(bytes[20..24].try_into().unwrap());
            let mut r = CaptureReader::open(&path).unwrap();
            let mut n = 0;
            while let Some(p) = r.next_packet().unwrap() {
                assert_eq!(p.linktype, linktype);
                n += 1;
            }
            assert_eq!(n, expected, "{name}");
            assert!(n > 0);
        }
    }
}
