//! pcapng blocks: sections, interfaces (link types, clocks), packet blocks.

use pcap_parser::{Block, InterfaceDescriptionBlock, OptionCode, SHB_MAGIC};

use super::state::{Found, Interface, State, Step};
use super::wire::{hex, native_u32, read_u16, read_u32};
use super::{linktype_label, CaptureError, MAX_BLOCK_LEN, MAX_INTERFACES};
use crate::model::TimestampUs;

/// Warnings about interfaces with unsupported link types, per capture.
pub(super) const MAX_LINKTYPE_WARNINGS: usize = 8;

/// The obsolete pcapng Packet Block; pcap-parser hands it to us as unknown.
pub(super) const PB_MAGIC: u32 = 0x0000_0002;

/// Turns one parsed pcapng block into a step, updating frame numbering and the
/// interface table.
pub(super) fn block(block: Block<'_>, len: usize, st: &mut State) -> Result<Step, CaptureError> {
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
pub(super) fn ng_ts_us(high: u32, low: u32, iface: &Interface) -> TimestampUs {
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

/// Total length of the Section Header Block at the start of `p`.
pub(super) fn shb_len(p: &[u8]) -> Result<usize, CaptureError> {
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

pub(super) fn shb_big_endian(p: &[u8]) -> Option<bool> {
    match p.get(8..12)? {
        [0x1a, 0x2b, 0x3c, 0x4d] => Some(true),
        [0x4d, 0x3c, 0x2b, 0x1a] => Some(false),
        _ => None,
    }
}

/// Block type and total length of the pcapng block at the start of `p`.
pub(super) fn ng_block_header(p: &[u8], section_be: bool) -> Option<(u32, u32)> {
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
