//! Several capture files read as one capture in time order, as `mergecap` merges them:
//! rotated files (`dumpcap -b`, `tcpdump -C/-G`) become one continuous capture, so flows,
//! idle timeouts and roll-ups run across the file boundaries; files captured at the same
//! time on different interfaces are interleaved frame by frame by timestamp.
//!
//! Each file is opened once to read its first timestamp and closed again; it is reopened
//! when the merge reaches that time. Rotated sets of any length so keep one or two files
//! open at a time (with their reader buffers), not all of them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::path::PathBuf;

use super::{CaptureError, CaptureReader, InputFormat, Packet, PacketSource};
use crate::model::{FrameNo, TimestampUs};

/// One file of a set and what became of it.
#[derive(Debug)]
pub struct SetMember {
    pub path: PathBuf,
    /// Frames read from this file.
    pub frames: u64,
    /// Number, in the merged capture, of this file's first frame.
    pub first_frame: Option<FrameNo>,
    pub format: Option<InputFormat>,
    /// Why the file could not be read (to the end).
    pub error: Option<CaptureError>,
    pub warnings: Vec<String>,
    pub truncated: bool,
    bytes: u64,
}

/// Files merged by timestamp into one stream of frames, numbered 1.. in merged order.
/// A file that cannot be read is recorded in its [`SetMember`] and the others go on.
pub struct CaptureSet {
    /// In the order of their first frame's timestamp (then as given), which also breaks
    /// ties between frames with the same timestamp.
    members: Vec<SetMember>,
    first_ts: Vec<Option<TimestampUs>>,
    /// Open readers, by member.
    readers: Vec<Option<CaptureReader>>,
    /// Members not opened yet, by first timestamp.
    pending: VecDeque<usize>,
    /// The next timestamp of each open member.
    heap: BinaryHeap<Reverse<(TimestampUs, usize)>>,
    /// The member whose frame was handed out last: it moves on at the next call.
    last: Option<usize>,
    frame: FrameNo,
}

impl CaptureSet {
    /// Opens every file for its first timestamp. Standard input ("-") cannot be reopened
    /// and stays open.
    pub fn open(paths: &[PathBuf]) -> Self {
        let mut probed: Vec<(SetMember, Option<TimestampUs>, Option<CaptureReader>)> = paths
            .iter()
            .map(|path| {
                let mut member = SetMember {
                    path: path.clone(),
                    frames: 0,
                    first_frame: None,
                    format: None,
                    error: None,
                    warnings: Vec::new(),
                    truncated: false,
                    bytes: 0,
                };
                let mut reader = match CaptureReader::open(path) {
                    Ok(r) => r,
                    Err(e) => {
                        member.error = Some(e);
                        return (member, None, None);
                    }
                };
                member.format = Some(reader.input_format());
                match reader.peek_ts() {
                    Ok(Some(ts)) => {
                        let keep = path.as_os_str() == "-";
                        (member, Some(ts), keep.then_some(reader))
                    }
                    Ok(None) => {
                        finish(&mut member, &reader);
                        (member, None, None)
                    }
                    Err(e) => {
                        finish(&mut member, &reader);
                        member.error = Some(e);
                        (member, None, None)
                    }
                }
            })
            .collect();
        // Stable: files starting at the same time keep the order given.
        probed.sort_by_key(|(_, ts, _)| ts.unwrap_or(TimestampUs::MAX));
        let mut set = CaptureSet {
            members: Vec::with_capacity(probed.len()),
            first_ts: Vec::with_capacity(probed.len()),
            readers: Vec::with_capacity(probed.len()),
            pending: VecDeque::new(),
            heap: BinaryHeap::new(),
            last: None,
            frame: 0,
        };
        for (i, (member, ts, reader)) in probed.into_iter().enumerate() {
            if ts.is_some() {
                set.pending.push_back(i);
            }
            set.members.push(member);
            set.first_ts.push(ts);
            set.readers.push(reader);
        }
        set
    }

    /// The files, in merged order; complete once [`PacketSource::next_packet`] returned
    /// `Ok(None)`.
    pub fn members(&self) -> &[SetMember] {
        &self.members
    }

    pub fn into_members(self) -> Vec<SetMember> {
        self.members
    }

    /// Opens pending files whose first frame is due: before every frame still to come from
    /// the open ones (or when none is open).
    fn open_due(&mut self) {
        while let Some(&i) = self.pending.front() {
            let next_open = self.heap.peek().map(|Reverse((ts, _))| *ts);
            let due = match (self.first_ts[i], next_open) {
                (Some(first), Some(next)) => first <= next,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if !due {
                break;
            }
            self.pending.pop_front();
            if self.readers[i].is_none() {
                match CaptureReader::open(&self.members[i].path) {
                    Ok(r) => self.readers[i] = Some(r),
                    Err(e) => {
                        self.members[i].error = Some(e);
                        continue;
                    }
                }
            }
            self.advance(i);
        }
    }

    /// Queues member `i`'s next frame, or closes it at its end.
    fn advance(&mut self, i: usize) {
        let Some(reader) = self.readers[i].as_mut() else {
            return;
        };
        let peeked = reader.peek_ts();
        match peeked {
            Ok(Some(ts)) => self.heap.push(Reverse((ts, i))),
            Ok(None) | Err(_) => {
                if let Some(reader) = self.readers[i].take() {
                    finish(&mut self.members[i], &reader);
                }
                if let Err(e) = peeked {
                    self.members[i].error = Some(e);
                }
            }
        }
    }
}

/// Keeps what a finished reader has to say.
fn finish(member: &mut SetMember, reader: &CaptureReader) {
    member.warnings.extend(reader.warnings().iter().cloned());
    member.truncated |= reader.truncated();
    member.bytes = reader.bytes_read();
}

impl PacketSource for CaptureSet {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if let Some(i) = self.last.take() {
            self.advance(i);
        }
        self.open_due();
        let Some(Reverse((_, i))) = self.heap.pop() else {
            return Ok(None);
        };
        self.last = Some(i);
        let frame = self.frame + 1;
        let member = &mut self.members[i];
        let Some(reader) = self.readers[i].as_mut() else {
            return Ok(None);
        };
        // The frame was found by peek_ts: handing it out cannot fail.
        match reader.next_packet() {
            Ok(Some(mut packet)) => {
                self.frame = frame;
                member.frames += 1;
                member.first_frame.get_or_insert(frame);
                packet.frame = frame;
                Ok(Some(packet))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn take_secrets(&mut self) -> Option<Vec<u8>> {
        let mut all: Option<Vec<u8>> = None;
        for reader in self.readers.iter_mut().flatten() {
            if let Some(text) = reader.take_secrets() {
                all.get_or_insert_with(Vec::new).extend_from_slice(&text);
            }
        }
        all
    }

    fn bytes_read(&self) -> u64 {
        let open: u64 = self.readers.iter().flatten().map(|r| r.bytes_read()).sum();
        let done: u64 = self.members.iter().map(|m| m.bytes).sum();
        open.saturating_add(done)
    }
}
