//! `CaptureReader`: frames out of a capture, from a memory map or a stream.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use memmap2::Mmap;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{
    LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader, EPB_MAGIC, SHB_MAGIC, SJE_MAGIC,
    SPB_MAGIC,
};

use super::clock::Clock;
use super::mapped::{self, MappedBlocks};
use super::pcapng::{ng_block_header, shb_big_endian, shb_len, PB_MAGIC};
use super::sniff::sniff;
use super::state::{Found, State, Step};
use super::stream::{read_up_to, FillReader};
use super::wire::{describe_pcap_error, header_error, read_u32};
use super::{
    legacy, pcapng, CaptureError, CaptureFormat, CaptureStats, Compression, InputFormat, Packet,
    MAX_BLOCK_LEN, MAX_CAPLEN, PCAP_HEADER_LEN,
};
use crate::model::TimestampUs;

const INITIAL_BUFFER: usize = 1024 * 1024;
// pcap-parser wants the buffer strictly larger than the block it parses.
const BUFFER_SLACK: usize = 64 * 1024;
const MAX_BUFFER: usize = MAX_BLOCK_LEN as usize + BUFFER_SLACK;

/// Reader over a pcap or pcapng capture: a memory-mapped file, or a stream.
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
    /// Read from a memory map rather than a stream.
    mapped: bool,
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

impl CaptureReader {
    /// Opens a capture file; `-` reads standard input. A regular file is read from a
    /// memory map (frames are slices of it), unless it is compressed; anything else, and
    /// compressed files, through the stream reader.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Self::open_file(path, true)
    }

    /// Opens a capture file through the stream reader only, for files that another program
    /// may still truncate or rewrite while they are read (a directory a capture tool
    /// rotates into): a mapped file cut shorter under the reader would fault.
    pub fn open_streaming(path: &Path) -> Result<Self, CaptureError> {
        Self::open_file(path, false)
    }

    fn open_file(path: &Path, may_map: bool) -> Result<Self, CaptureError> {
        if path.as_os_str() == "-" {
            return Self::from_reader(Box::new(io::stdin()));
        }
        let file = File::open(path).map_err(|error| CaptureError::Open {
            path: path.display().to_string(),
            error,
        })?;
        if let Some(map) = may_map.then(|| mapped::map_file(&file)).flatten() {
            if Compression::sniff(map.get(..PCAP_HEADER_LEN).unwrap_or(&map)).is_none() {
                return Self::from_map(map);
            }
        }
        Self::from_reader(Box::new(file))
    }

    /// The reader over a mapped file: the same checks of the file header as the stream
    /// reader makes, then blocks parsed in place.
    fn from_map(map: Mmap) -> Result<Self, CaptureError> {
        let prefix = map.get(..PCAP_HEADER_LEN).unwrap_or(&map);
        let format = sniff(prefix)?;
        let state = match format {
            CaptureFormat::Pcap => pcap_state(prefix)?,
            CaptureFormat::PcapNg => {
                let shb_len = shb_len(prefix)?;
                if map.len() < shb_len {
                    return Err(CaptureError::TruncatedHeader {
                        what: "pcapng section header block",
                        got: map.len(),
                        need: shb_len,
                    });
                }
                initial_state()
            }
        };
        let blocks =
            MappedBlocks::new(map, format).map_err(|e| header_error(header_name(format), &e))?;
        let mut reader = Self::assemble(
            Box::new(blocks),
            format,
            None,
            state,
            MAX_BUFFER,
            Arc::new(Mutex::new(None)),
        );
        reader.mapped = true;
        Ok(reader)
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

    /// The stream reader once the first bytes of the (decompressed) capture are in `prefix`.
    fn from_prefix(
        mut prefix: Vec<u8>,
        mut input: Box<dyn Read + Send>,
        initial_buffer: usize,
        compression: Option<Compression>,
    ) -> Result<Self, CaptureError> {
        let format = sniff(&prefix)?;
        let state = match format {
            CaptureFormat::Pcap => pcap_state(&prefix)?,
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
                initial_state()
            }
        };

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
                    .map_err(|e| header_error(header_name(format), &e))?,
            ),
            CaptureFormat::PcapNg => Box::new(
                PcapNGReader::new(initial_buffer, source)
                    .map_err(|e| header_error(header_name(format), &e))?,
            ),
        };
        Ok(Self::assemble(
            reader,
            format,
            compression,
            state,
            initial_buffer,
            io_error,
        ))
    }

    fn assemble(
        reader: Box<dyn PcapReaderIterator + Send>,
        format: CaptureFormat,
        compression: Option<Compression>,
        state: State,
        capacity: usize,
        io_error: Arc<Mutex<Option<io::Error>>>,
    ) -> Self {
        CaptureReader {
            reader,
            format,
            compression,
            state,
            capacity,
            pending_consume: 0,
            held: None,
            clock: Clock::default(),
            done: false,
            truncated: false,
            warnings: Vec::new(),
            io_error,
            mapped: false,
        }
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

    /// True when the capture is read from a memory map of its file (a regular file,
    /// uncompressed), false for a stream.
    pub fn is_mapped(&self) -> bool {
        self.mapped
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
            // Without the shift: the buffered readers move what is left to the front of
            // their buffer when they refill (it was a tenth of a run, shifting half the
            // buffer every half buffer consumed).
            self.reader
                .consume_noshift(std::mem::take(&mut self.pending_consume));
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
                Step::Skip(len) => self.reader.consume_noshift(len),
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
    match block {
        PcapBlockOwned::LegacyHeader(_) => Ok(Step::Skip(len)),
        PcapBlockOwned::Legacy(rec) => Ok(legacy::record(&rec, len, st)),
        PcapBlockOwned::NG(block) => pcapng::block(block, len, st),
    }
}

/// The header pcap-parser checks when a reader is created, for its errors.
fn header_name(format: CaptureFormat) -> &'static str {
    match format {
        CaptureFormat::Pcap => "pcap file header",
        CaptureFormat::PcapNg => "pcapng section header block",
    }
}

/// Parsing state before the first block.
fn initial_state() -> State {
    State {
        big_endian: false,
        nanos: false,
        record_header_len: 16,
        linktype: 0,
        interfaces: Vec::new(),
        last_ts: 0,
        stats: CaptureStats::default(),
        new_warnings: Vec::new(),
        linktype_warnings: 0,
        secrets: Vec::new(),
        secrets_seen: 0,
    }
}

/// Parsing state of a classic pcap, from its file header (at least its first 24 bytes in
/// `prefix` for anything but an error).
fn pcap_state(prefix: &[u8]) -> Result<State, CaptureError> {
    if prefix.len() < PCAP_HEADER_LEN {
        return Err(CaptureError::TruncatedHeader {
            what: "pcap file header",
            got: prefix.len(),
            need: PCAP_HEADER_LEN,
        });
    }
    let mut state = initial_state();
    let magic = read_u32(prefix, 0, false).unwrap_or(0);
    state.big_endian = matches!(magic, 0xd4c3_b2a1 | 0x4d3c_b2a1);
    state.nanos = matches!(magic, 0xa1b2_3c4d | 0x4d3c_b2a1);
    // Kuznetzov's patched format carries 8 extra bytes per record.
    state.record_header_len = if magic == 0xa1b2_cd34 { 24 } else { 16 };
    state.linktype = read_u32(prefix, 20, state.big_endian).unwrap_or(0);
    // The low 16 bits are the link type; the upper ones hold FCS flags.
    state.linktype &= 0xffff;
    if !crate::decode::linktype::is_supported(state.linktype) {
        return Err(CaptureError::UnsupportedLinkType {
            linktype: state.linktype,
        });
    }
    Ok(state)
}
