//! Regular capture files read from a memory map: a block is parsed where it lies in the
//! map and a frame is a slice of it, so no byte is copied (no `read()` into a buffer, no
//! shifting of that buffer as blocks are consumed).
//!
//! It stands in for pcap-parser's buffered readers behind the same [`PcapReaderIterator`]
//! trait, with the whole file "in the buffer" and the input always exhausted: a block cut
//! off by the end of the file is `UnexpectedEof`, exactly what the buffered readers say
//! once their last read came back empty, so the reader's logic (limits, errors, warnings)
//! is the same for both.
//!
//! Pages behind the reading position are given back to the kernel as the reader moves on
//! (they stay in the page cache): without that, every page of the file ever touched would
//! count in the process's resident memory, the whole file by the end.

use std::fs::File;

use memmap2::Mmap;
use pcap_parser::nom;
use pcap_parser::pcap::LegacyPcapBlock;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{
    parse_block_be, parse_block_le, parse_pcap_frame, parse_pcap_frame_be,
    parse_pcap_frame_modified, parse_pcap_header, parse_sectionheaderblock, Block, PcapBlockOwned,
    PcapError, PcapHeader,
};

use super::CaptureFormat;

/// How much of the file may stay mapped in behind the reading position.
const RELEASE_EVERY: usize = 2 * 1024 * 1024;

type LegacyParse = fn(&[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>>;

enum Layout {
    /// The file header, handed out as the first block as pcap-parser's reader does.
    Legacy {
        header: PcapHeader,
        parse: LegacyParse,
    },
    /// The byte order of the current section.
    Ng { big_endian: bool },
}

pub(super) struct MappedBlocks {
    map: Mmap,
    /// Offset of the first byte not consumed.
    pos: usize,
    /// Everything before this offset has been given back to the kernel.
    released: usize,
    layout: Layout,
}

/// Maps `file` when it is a regular, non-empty file that can be mapped; `None` sends the
/// caller to the streaming reader (pipes, devices, FIFOs given by name, empty files).
pub(super) fn map_file(file: &File) -> Option<Mmap> {
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() == 0 {
        return None;
    }
    // SAFETY: the map is only read. Another process truncating the file while it is read
    // would fault (SIGBUS) on the pages past the new end, and one rewriting it would change
    // bytes under a parse: both are documented (README, Input) as what not to do to a
    // capture being read; rotated captures (--follow) are read through the stream reader.
    let map = unsafe { Mmap::map(file) }.ok()?;
    #[cfg(unix)]
    {
        // Read-ahead only: failure changes nothing but speed.
        let _ = map.advise(memmap2::Advice::Sequential);
    }
    Some(map)
}

impl MappedBlocks {
    /// The blocks of a mapped capture whose container is `format`, checking its file
    /// header as pcap-parser's readers do when they are created.
    pub(super) fn new(map: Mmap, format: CaptureFormat) -> Result<Self, PcapError<&'static [u8]>> {
        let layout = match format {
            CaptureFormat::Pcap => {
                let header = match parse_pcap_header(&map) {
                    Ok((_, h)) => h,
                    Err(e) => return Err(static_error(e)),
                };
                let parse: LegacyParse = if header.is_modified_format() {
                    parse_pcap_frame_modified
                } else if header.is_bigendian() {
                    parse_pcap_frame_be
                } else {
                    parse_pcap_frame
                };
                Layout::Legacy { header, parse }
            }
            CaptureFormat::PcapNg => {
                if let Err(e) = parse_sectionheaderblock(&map) {
                    return Err(static_error(e));
                }
                Layout::Ng { big_endian: false }
            }
        };
        Ok(MappedBlocks {
            map,
            pos: 0,
            released: 0,
            layout,
        })
    }

    fn release_behind(&mut self) {
        if self.pos - self.released < RELEASE_EVERY {
            return;
        }
        let page = 4096;
        let end = self.pos / page * page;
        #[cfg(unix)]
        {
            // SAFETY: the map is private, read-only and file-backed, so MADV_DONTNEED only
            // drops the pages from this process: a later access (there is none, the
            // reader has moved past them) would fault them in again from the file.
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.released,
                    end - self.released,
                )
            };
        }
        self.released = end;
    }
}

/// A header error with its input dropped, as pcap-parser's reader constructors return it.
fn static_error(e: nom::Err<PcapError<&[u8]>>) -> PcapError<&'static [u8]> {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e.to_owned_vec(),
        nom::Err::Incomplete(nom::Needed::Size(n)) => PcapError::Incomplete(n.into()),
        nom::Err::Incomplete(nom::Needed::Unknown) => PcapError::Incomplete(0),
    }
}

impl PcapReaderIterator for MappedBlocks {
    fn next(&mut self) -> Result<(usize, PcapBlockOwned<'_>), PcapError<&[u8]>> {
        let data = self.map.get(self.pos..).unwrap_or_default();
        let (parsed, rest_len) = match &mut self.layout {
            Layout::Legacy { header, parse } => {
                if self.pos == 0 {
                    return Ok((header.size(), PcapBlockOwned::from(header.clone())));
                }
                if data.is_empty() {
                    return Err(PcapError::Eof);
                }
                match parse(data) {
                    Ok((rest, block)) => (PcapBlockOwned::from(block), rest.len()),
                    Err(e) => return Err(parse_error(e)),
                }
            }
            Layout::Ng { big_endian } => {
                if data.is_empty() {
                    return Err(PcapError::Eof);
                }
                let parse = if *big_endian {
                    parse_block_be
                } else {
                    parse_block_le
                };
                match parse(data) {
                    Ok((rest, block)) => {
                        if let Block::SectionHeader(shb) = &block {
                            *big_endian = shb.big_endian();
                        }
                        (PcapBlockOwned::from(block), rest.len())
                    }
                    Err(e) => return Err(parse_error(e)),
                }
            }
        };
        Ok((data.len() - rest_len, parsed))
    }

    fn consume(&mut self, offset: usize) {
        self.pos = self.pos.saturating_add(offset).min(self.map.len());
        self.release_behind();
    }

    fn consume_noshift(&mut self, offset: usize) {
        self.consume(offset);
    }

    fn consumed(&self) -> usize {
        self.pos
    }

    fn refill(&mut self) -> Result<(), PcapError<&[u8]>> {
        Ok(())
    }

    fn position(&self) -> usize {
        0
    }

    fn grow(&mut self, _new_size: usize) -> bool {
        false
    }

    fn data(&self) -> &[u8] {
        self.map.get(self.pos..).unwrap_or_default()
    }

    fn reader_exhausted(&self) -> bool {
        true
    }
}

/// A parse failure as the buffered readers report it once their input is exhausted.
fn parse_error(e: nom::Err<PcapError<&[u8]>>) -> PcapError<&[u8]> {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => PcapError::UnexpectedEof,
    }
}
