//! One direction of TCP stream reassembly.
//!
//! [`DirStream`] turns the payloads of one TCP direction, given in capture
//! order, into the byte stream the receiver's socket would have seen, handed to
//! a sink as [`StreamChunk`]s in stream order.
//!
//! Policies (all input is untrusted, so every one of them is bounded):
//!
//! * Positions are kept as a 64-bit offset from the stream start; a 32-bit
//!   sequence number is placed relative to the next expected byte with a
//!   wrapping difference, so anything up to 2 GiB behind is old data and
//!   anything up to 2 GiB ahead is future data, across `u32::MAX` as well.
//! * **First received wins.** When bytes overlap, the copy that reached the
//!   capture first is the one delivered, as in most TCP stacks and Suricata's
//!   default policy. Bytes already delivered cannot be compared (they are not
//!   kept), so `overlap_conflicts` counts segments whose bytes differ from
//!   *buffered* data only.
//! * Out-of-order bytes are copied into a buffer bounded by
//!   [`ReassemblyLimits`]. When a segment would not fit, the stream skips
//!   forward instead of growing: a [`StreamChunk::Gap`] is reported for the hole
//!   before the lowest pending segment (buffered, or the new one if it comes
//!   first) and delivery resumes there. Giving up on a hole is better than
//!   stalling forever on a packet the capture never had.
//!   A far-ahead segment (a huge capture loss, or a sequence number from
//!   another connection) costs only its own bytes: holes are never allocated.
//! * The one exception to skipping: a segment that does not fit, comes before
//!   everything buffered and starts more than [`MAX_AHEAD`] bytes beyond the
//!   next expected byte is dropped (`dropped_bytes`) instead. Nothing received
//!   vouches for it, and jumping there on its word alone would turn the whole
//!   real stream into "old" data.

use std::collections::BTreeMap;

use serde::Serialize;

/// The furthest the stream skips forward to reach a lone segment that does not fit.
pub const MAX_AHEAD: u64 = 16 * 1024 * 1024;

/// Frames of conflicting segments kept per direction: enough to point at the splice, bounded
/// against a flood of them.
pub const CONFLICT_FRAMES_KEPT: usize = 8;

/// Bounds on the out-of-order data held for one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Out-of-order payload bytes held at once.
    pub max_buffered_bytes: usize,
    /// Out-of-order buffer entries held at once (each costs a map node).
    pub max_buffered_segments: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_buffered_bytes: 1024 * 1024,
            max_buffered_segments: 1024,
        }
    }
}

/// What the sink receives, in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamChunk<'a> {
    /// The next bytes of the stream (never empty).
    Data(&'a [u8]),
    /// This many bytes of the stream were never seen (never zero).
    Gap { missing: u64 },
}

/// Counters for one direction; all segment counters count non-empty segments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamStats {
    /// Segments with payload.
    pub segments: u64,
    /// Segments adding no new byte: everything was already delivered or buffered.
    pub retransmitted: u64,
    /// Segments partly made of already delivered or buffered bytes and partly new.
    pub overlaps: u64,
    /// Segments whose bytes differ from buffered bytes they overlap (the buffered ones won).
    pub overlap_conflicts: u64,
    /// Capture frames of the first [`CONFLICT_FRAMES_KEPT`] of those segments, as the
    /// caller reports them with [`DirStream::conflict_frame`] (this module sees no frames).
    pub conflict_frames: Vec<u64>,
    /// Segments that arrived ahead of the next expected byte.
    pub out_of_order: u64,
    /// Gap chunks reported.
    pub gaps: u64,
    /// Total bytes of all reported gaps.
    pub gap_bytes: u64,
    /// Total bytes of all delivered data chunks.
    pub delivered_bytes: u64,
    /// New payload bytes thrown away unseen by the sink: they did not fit and
    /// were too far ahead to skip to.
    pub dropped_bytes: u64,
}

/// Reassembly state of one TCP direction.
#[derive(Debug, Clone)]
pub struct DirStream {
    limits: ReassemblyLimits,
    /// Sequence number of stream offset 0, once known.
    base: Option<u32>,
    /// Once payload was seen, a SYN can no longer move the stream start.
    started: bool,
    /// Stream offset of the next byte to deliver.
    next: u64,
    /// Out-of-order bytes keyed by stream offset. Entries never overlap and all
    /// start beyond `next` between calls.
    buffer: BTreeMap<u64, Vec<u8>>,
    buffered: usize,
    stats: StreamStats,
}

/// What became of one segment's bytes, to classify it once at the end.
#[derive(Default)]
struct Seen {
    old: bool,
    new: bool,
    conflict: bool,
}

/// A part of a segment to copy into the buffer.
struct Piece {
    at: u64,
    from: usize,
    len: usize,
}

fn to_usize(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

fn len64(data: &[u8]) -> u64 {
    u64::try_from(data.len()).unwrap_or(u64::MAX)
}

impl DirStream {
    pub fn new(limits: ReassemblyLimits) -> Self {
        DirStream {
            limits,
            base: None,
            started: false,
            next: 0,
            buffer: BTreeMap::new(),
            buffered: 0,
            stats: StreamStats::default(),
        }
    }

    /// The SYN (or SYN-ACK) seen: stream data starts at `isn + 1`.
    ///
    /// Ignored once payload has been seen: a retransmitted SYN carries the same
    /// ISN, and a late one cannot un-deliver data.
    pub fn set_isn(&mut self, isn: u32) {
        if !self.started {
            self.base = Some(isn.wrapping_add(1));
        }
    }

    /// One segment's payload. Delivers every byte that became contiguous, in
    /// order, to `sink`. An empty payload is ignored.
    pub fn segment(&mut self, seq: u32, payload: &[u8], sink: &mut dyn FnMut(StreamChunk<'_>)) {
        if payload.is_empty() {
            return;
        }
        self.stats.segments = self.stats.segments.saturating_add(1);
        if self.base.is_none() {
            // Mid-stream pickup: the first segment seen defines the stream start.
            self.base = Some(seq);
        }
        self.started = true;
        if self.rel(seq) > 0 {
            self.stats.out_of_order = self.stats.out_of_order.saturating_add(1);
        }
        let mut seen = Seen::default();
        self.place(seq, payload, &mut seen, sink);
        if seen.conflict {
            self.stats.overlap_conflicts = self.stats.overlap_conflicts.saturating_add(1);
        }
        if seen.old {
            if seen.new {
                self.stats.overlaps = self.stats.overlaps.saturating_add(1);
            } else {
                self.stats.retransmitted = self.stats.retransmitted.saturating_add(1);
            }
        }
    }

    /// End of flow: delivers everything buffered, each hole reported as a Gap
    /// before the data that follows it. The stream stays usable afterwards.
    pub fn flush(&mut self, sink: &mut dyn FnMut(StreamChunk<'_>)) {
        while let Some((at, data)) = self.buffer.pop_first() {
            self.buffered = self.buffered.saturating_sub(data.len());
            if at > self.next {
                self.emit_gap(at - self.next, sink);
            }
            self.emit_tail(at, &data, sink);
        }
    }

    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// The segment just given in `frame` conflicted with buffered bytes: remembers the frame.
    pub fn conflict_frame(&mut self, frame: u64) {
        if self.stats.conflict_frames.len() < CONFLICT_FRAMES_KEPT {
            self.stats.conflict_frames.push(frame);
        }
    }

    /// Out-of-order payload bytes currently held.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Next expected sequence number, if known.
    pub fn next_seq(&self) -> Option<u32> {
        // Truncation is the point: sequence numbers are the offset modulo 2^32.
        self.base.map(|b| b.wrapping_add(self.next as u32))
    }

    /// Signed distance of `seq` from the next expected byte, modulo 2^32.
    fn rel(&self, seq: u32) -> i32 {
        match self.next_seq() {
            Some(n) => seq.wrapping_sub(n) as i32,
            None => 0,
        }
    }

    fn place(
        &mut self,
        seq: u32,
        payload: &[u8],
        seen: &mut Seen,
        sink: &mut dyn FnMut(StreamChunk<'_>),
    ) {
        // Each pass either returns or delivers at least one buffered entry or
        // jumps to this segment, so the loop ends.
        loop {
            let rel = self.rel(seq);
            if rel <= 0 {
                let old = to_usize(u64::from(rel.unsigned_abs()));
                match payload.get(old..) {
                    Some(rest) if !rest.is_empty() => {
                        if old > 0 {
                            seen.old = true;
                        }
                        self.deliver_in_order(rest, seen, sink);
                    }
                    _ => seen.old = true,
                }
                return;
            }
            let ahead = u64::from(rel.unsigned_abs());
            let start = self.next.saturating_add(ahead);
            let pieces = self.plan(start, payload, seen);
            if pieces.is_empty() {
                return;
            }
            let new_bytes: usize = pieces.iter().map(|p| p.len).sum();
            if self.fits(new_bytes, pieces.len()) {
                for p in pieces {
                    if let Some(bytes) = payload.get(p.from..p.from.saturating_add(p.len)) {
                        self.buffer.insert(p.at, bytes.to_vec());
                        self.buffered = self.buffered.saturating_add(bytes.len());
                    }
                }
                seen.new = true;
                return;
            }
            // Full: give up on the lowest hole rather than grow or stall.
            let target = match self.buffer.first_key_value() {
                Some((&at, _)) if at < start => at,
                _ if ahead > MAX_AHEAD => {
                    let n = u64::try_from(new_bytes).unwrap_or(u64::MAX);
                    self.stats.dropped_bytes = self.stats.dropped_bytes.saturating_add(n);
                    return;
                }
                _ => start,
            };
            if target > self.next {
                self.emit_gap(target - self.next, sink);
            }
            self.drain(sink);
        }
    }

    fn fits(&self, new_bytes: usize, new_entries: usize) -> bool {
        self.buffered.saturating_add(new_bytes) <= self.limits.max_buffered_bytes
            && self.buffer.len().saturating_add(new_entries) <= self.limits.max_buffered_segments
    }

    /// The parts of a future segment at `start` not already buffered; compares
    /// the overlapping parts, since the buffered copy wins.
    fn plan(&self, start: u64, payload: &[u8], seen: &mut Seen) -> Vec<Piece> {
        let end = start.saturating_add(len64(payload));
        let mut pieces = Vec::new();
        let mut cursor = start;
        // Only the last entry starting before `start` can reach into it.
        let first = self
            .buffer
            .range(..start)
            .next_back()
            .map_or(start, |(&at, _)| at);
        for (&at, data) in self.buffer.range(first..end) {
            let data_end = at.saturating_add(len64(data));
            if data_end <= cursor {
                continue;
            }
            if at > cursor {
                pieces.push(Piece {
                    at: cursor,
                    from: to_usize(cursor - start),
                    len: to_usize(at - cursor),
                });
                cursor = at;
            }
            let overlap_end = data_end.min(end);
            seen.old = true;
            let mine = payload.get(to_usize(cursor - start)..to_usize(overlap_end - start));
            let theirs = data.get(to_usize(cursor - at)..to_usize(overlap_end - at));
            if mine != theirs {
                seen.conflict = true;
            }
            cursor = overlap_end;
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            pieces.push(Piece {
                at: cursor,
                from: to_usize(cursor - start),
                len: to_usize(end - cursor),
            });
        }
        pieces
    }

    /// Delivers `rest`, which starts exactly at `next`, straight from the
    /// caller's buffer, except where a buffered entry already covers it.
    fn deliver_in_order(
        &mut self,
        mut rest: &[u8],
        seen: &mut Seen,
        sink: &mut dyn FnMut(StreamChunk<'_>),
    ) {
        while !rest.is_empty() {
            let rest_end = self.next.saturating_add(len64(rest));
            let hit = self
                .buffer
                .first_key_value()
                .map(|(&at, _)| at)
                .filter(|&at| at < rest_end);
            let Some(at) = hit else {
                seen.new = true;
                self.emit_data(rest, sink);
                break;
            };
            let head = to_usize(at.saturating_sub(self.next)).min(rest.len());
            let (now, after) = rest.split_at(head);
            if !now.is_empty() {
                seen.new = true;
                self.emit_data(now, sink);
            }
            let Some((at, data)) = self.buffer.pop_first() else {
                break;
            };
            self.buffered = self.buffered.saturating_sub(data.len());
            seen.old = true;
            let tail = data
                .get(to_usize(self.next.saturating_sub(at))..)
                .unwrap_or(&[]);
            let overlap = tail.len().min(after.len());
            if tail.get(..overlap) != after.get(..overlap) {
                seen.conflict = true;
            }
            self.emit_data(tail, sink);
            rest = after.get(tail.len()..).unwrap_or(&[]);
        }
        self.drain(sink);
    }

    /// Delivers buffered entries that became contiguous.
    fn drain(&mut self, sink: &mut dyn FnMut(StreamChunk<'_>)) {
        while let Some(entry) = self.buffer.first_entry() {
            if *entry.key() > self.next {
                break;
            }
            let (at, data) = entry.remove_entry();
            self.buffered = self.buffered.saturating_sub(data.len());
            self.emit_tail(at, &data, sink);
        }
    }

    /// Delivers the part of an entry at `at` that lies at or beyond `next`.
    fn emit_tail(&mut self, at: u64, data: &[u8], sink: &mut dyn FnMut(StreamChunk<'_>)) {
        if let Some(tail) = data.get(to_usize(self.next.saturating_sub(at))..) {
            self.emit_data(tail, sink);
        }
    }

    fn emit_data(&mut self, data: &[u8], sink: &mut dyn FnMut(StreamChunk<'_>)) {
        if data.is_empty() {
            return;
        }
        let n = len64(data);
        self.next = self.next.saturating_add(n);
        self.stats.delivered_bytes = self.stats.delivered_bytes.saturating_add(n);
        sink(StreamChunk::Data(data));
    }

    fn emit_gap(&mut self, missing: u64, sink: &mut dyn FnMut(StreamChunk<'_>)) {
        if missing == 0 {
            return;
        }
        self.next = self.next.saturating_add(missing);
        self.stats.gaps = self.stats.gaps.saturating_add(1);
        self.stats.gap_bytes = self.stats.gap_bytes.saturating_add(missing);
        sink(StreamChunk::Gap { missing });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Sink output with adjacent data chunks merged, so tests do not depend on
    /// how delivery happens to be split.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Out {
        Data(Vec<u8>),
        Gap(u64),
    }

    fn push(out: &mut Vec<Out>, chunk: StreamChunk<'_>) {
        match chunk {
            StreamChunk::Data(d) => {
                assert!(!d.is_empty(), "empty data chunk");
                if let Some(Out::Data(last)) = out.last_mut() {
                    last.extend_from_slice(d);
                } else {
                    out.push(Out::Data(d.to_vec()));
                }
            }
            StreamChunk::Gap { missing } => {
                assert!(missing > 0, "empty gap");
                out.push(Out::Gap(missing));
            }
        }
    }

    fn feed(s: &mut DirStream, seq: u32, payload: &[u8], out: &mut Vec<Out>) {
        s.segment(seq, payload, &mut |c| push(out, c));
    }

    fn flush(s: &mut DirStream, out: &mut Vec<Out>) {
        s.flush(&mut |c| push(out, c));
    }

    fn data(b: &[u8]) -> Out {
        Out::Data(b.to_vec())
    }

    fn with_isn(isn: u32) -> DirStream {
        let mut s = DirStream::new(ReassemblyLimits::default());
        s.set_isn(isn);
        s
    }

    #[test]
    fn in_order_is_zero_copy() {
        let mut s = with_isn(1000);
        let a = b"hello ".to_vec();
        let b = b"world".to_vec();
        let mut got: Vec<(usize, usize)> = Vec::new();
        s.segment(1001, &a, &mut |c| match c {
            StreamChunk::Data(d) => got.push((d.as_ptr() as usize, d.len())),
            StreamChunk::Gap { .. } => panic!("gap"),
        });
        s.segment(1007, &b, &mut |c| match c {
            StreamChunk::Data(d) => got.push((d.as_ptr() as usize, d.len())),
            StreamChunk::Gap { .. } => panic!("gap"),
        });
        assert_eq!(
            got,
            vec![
                (a.as_ptr() as usize, a.len()),
                (b.as_ptr() as usize, b.len())
            ]
        );
        assert_eq!(s.next_seq(), Some(1012));
        assert_eq!(s.buffered_bytes(), 0);
        assert!(s.buffer.is_empty());
        let st = s.stats();
        assert_eq!(
            (st.segments, st.delivered_bytes, st.out_of_order),
            (2, 11, 0)
        );
    }

    #[test]
    fn empty_payload_is_ignored() {
        let mut s = with_isn(0);
        let mut out = Vec::new();
        feed(&mut s, 500, b"", &mut out);
        assert!(out.is_empty());
        assert_eq!(s.stats(), &StreamStats::default());
        assert_eq!(s.next_seq(), Some(1));
    }

    #[test]
    fn hole_filled_later() {
        let mut s = with_isn(0);
        let mut out = Vec::new();
        feed(&mut s, 4, b"def", &mut out);
        feed(&mut s, 10, b"jk", &mut out);
        assert!(out.is_empty());
        assert_eq!(s.buffered_bytes(), 5);
        feed(&mut s, 1, b"abc", &mut out);
        assert_eq!(out, vec![data(b"abcdef")]);
        assert_eq!(s.buffered_bytes(), 2);
        feed(&mut s, 7, b"ghi", &mut out);
        assert_eq!(out, vec![data(b"abcdefghijk")]);
        assert_eq!(s.buffered_bytes(), 0);
        let st = s.stats();
        assert_eq!(st.out_of_order, 2);
        assert_eq!(st.delivered_bytes, 11);
        assert_eq!((st.retransmitted, st.overlaps, st.gaps), (0, 0, 0));
    }

    #[test]
    fn reversed_segments() {
        let stream: Vec<u8> = (0..=255u8).collect();
        let mut s = with_isn(41);
        let mut out = Vec::new();
        let chunks: Vec<(usize, &[u8])> = stream
            .chunks(10)
            .enumerate()
            .map(|(i, c)| (i * 10, c))
            .collect();
        for &(off, c) in chunks.iter().rev() {
            feed(&mut s, 42 + off as u32, c, &mut out);
        }
        assert_eq!(out, vec![data(&stream)]);
        assert_eq!(s.stats().out_of_order, chunks.len() as u64 - 1);
        assert_eq!(s.buffered_bytes(), 0);
    }

    #[test]
    fn duplicates() {
        let mut s = with_isn(0);
        let mut out = Vec::new();
        feed(&mut s, 1, b"abc", &mut out);
        feed(&mut s, 1, b"abc", &mut out); // already delivered
        feed(&mut s, 7, b"ghi", &mut out);
        feed(&mut s, 7, b"ghi", &mut out); // already buffered, same bytes
        feed(&mut s, 7, b"gXi", &mut out); // already buffered, other bytes
        feed(&mut s, 4, b"def", &mut out);
        assert_eq!(out, vec![data(b"abcdefghi")]);
        let st = s.stats();
        assert_eq!(st.segments, 6);
        assert_eq!(st.retransmitted, 3);
        assert_eq!(st.overlaps, 0);
        assert_eq!(st.overlap_conflicts, 1);
    }

    #[test]
    fn retransmission_with_other_bytes_is_not_a_conflict() {
        // Delivered bytes are not kept, so there is nothing to compare with.
        let mut s = with_isn(0);
        let mut out = Vec::new();
        feed(&mut s, 1, b"abc", &mut out);
        feed(&mut s, 1, b"XYZ", &mut out);
        assert_eq!(out, vec![data(b"abc")]);
        assert_eq!(s.stats().retransmitted, 1);
        assert_eq!(s.stats().overlap_conflicts, 0);
    }

    #[test]
    fn partial_overlap_with_delivered() {
        let mut s = with_isn(99);
        let mut out = Vec::new();
        feed(&mut s, 100, b"hello", &mut out);
        feed(&mut s, 103, b"lo world", &mut out);
        assert_eq!(out, vec![data(b"hello world")]);
        let st = s.stats();
        assert_eq!(
            (st.overlaps, st.retransmitted, st.overlap_conflicts),
            (1, 0, 0)
        );
        assert_eq!(st.delivered_bytes, 11);
        assert_eq!(s.next_seq(), Some(111));
    }

    #[test]
    fn overlap_trim_stays_zero_copy() {
        let mut s = with_isn(99);
        feed(&mut s, 100, b"hello", &mut Vec::new());
        let p = b"lo world".to_vec();
        let mut ptrs = Vec::new();
        s.segment(103, &p, &mut |c| {
            if let StreamChunk::Data(d) = c {
                ptrs.push(d.as_ptr() as usize);
            }
        });
        assert_eq!(ptrs, vec![p.as_ptr() as usize + 2]);
    }

    #[test]
    fn buffered_overlap_first_received_wins() {
        let mut s = with_isn(0);
        let mut out = Vec::new();
        feed(&mut s, 11, b"BBBB", &mut out); // offsets 10..14
        feed(&mut s, 13, b"XXXXYY", &mut out); // 12..18: 12..14 conflict, 14..18 new
        feed(&mut s, 9, b"ZZZ", &mut out); // 8..11: 10 conflicts
        assert_eq!(s.buffered_bytes(), 4 + 4 + 2);
        feed(&mut s, 1, b"01234567", &mut out);
        assert_eq!(out, vec![data(b"01234567ZZBBBBXXYY")]);
        let st = s.stats();
        assert_eq!(st.overlap_conflicts, 2);
        assert_eq!(st.overlaps, 2);
        assert_eq!(st.out_of_order, 3);
    }

    #[test]
    fn in_order_segment_overlapping_buffer_keeps_buffered_bytes() {
        let mut s = with_isn(0);
        let mut out = Vec::new();
        feed(&mut s, 4, b"de", &mut out); // offsets 3..5
        feed(&mut s, 1, b"abcXYf", &mut out); // offsets 0..6, 3..5 differ
        assert_eq!(out, vec![data(b"abcdef")]);
        let st = s.stats();
        assert_eq!((st.overlaps, st.overlap_conflicts), (1, 1));
        assert_eq!(s.buffered_bytes(), 0);
    }

    #[test]
    fn wraparound_across_u32_max() {
        let isn = u32::MAX - 5; // data starts at u32::MAX - 4
        let stream: Vec<u8> = (0..20u8).collect();
        let seq = |off: usize| isn.wrapping_add(1).wrapping_add(off as u32);
        let mut s = with_isn(isn);
        let mut out = Vec::new();
        feed(&mut s, seq(8), &stream[8..14], &mut out); // past the wrap
        feed(&mut s, seq(0), &stream[0..3], &mut out); // before it
        feed(&mut s, seq(14), &stream[14..20], &mut out);
        feed(&mut s, seq(2), &stream[2..9], &mut out); // straddles it, overlaps both sides
        assert_eq!(out, vec![data(&stream)]);
        assert_eq!(s.next_seq(), Some(seq(20)));
        assert_eq!(s.next_seq(), Some(15));
        feed(&mut s, seq(1), &stream[1..4], &mut out); // old data from before the wrap
        assert_eq!(s.stats().retransmitted, 1);
        assert_eq!(s.stats().overlap_conflicts, 0);
    }

    #[test]
    fn many_wraps_keep_offsets_growing() {
        let mut s = with_isn(7);
        let block = vec![0xA5u8; 60_000];
        let mut seq = 8u32;
        let mut n = 0u64;
        for _ in 0..(3 * 71_583) {
            // ~12.9 GB in total: the 32-bit sequence wraps three times
            s.segment(seq, &block, &mut |_| {});
            seq = seq.wrapping_add(block.len() as u32);
            n += block.len() as u64;
        }
        assert_eq!(s.stats().delivered_bytes, n);
        assert_eq!(s.next_seq(), Some(seq));
        assert_eq!(s.next, n);
        assert_eq!(s.stats().retransmitted, 0);
    }

    #[test]
    fn midstream_pickup() {
        let mut s = DirStream::new(ReassemblyLimits::default());
        assert_eq!(s.next_seq(), None);
        let mut out = Vec::new();
        feed(&mut s, 123_456, b"middle", &mut out);
        assert_eq!(out, vec![data(b"middle")]);
        assert_eq!(s.next_seq(), Some(123_462));
        feed(&mut s, 123_450, b"before", &mut out); // earlier than the pickup point
        assert_eq!(s.stats().retransmitted, 1);
        // A SYN seen after payload cannot move the stream start.
        s.set_isn(5);
        assert_eq!(s.next_seq(), Some(123_462));
        feed(&mut s, 123_462, b"!", &mut out);
        assert_eq!(out, vec![data(b"middle!")]);
    }

    #[test]
    fn midstream_pickup_near_u32_max() {
        let mut s = DirStream::new(ReassemblyLimits::default());
        let mut out = Vec::new();
        feed(&mut s, u32::MAX - 1, b"abcd", &mut out);
        feed(&mut s, 3, b"fg", &mut out);
        feed(&mut s, 2, b"ef", &mut out);
        assert_eq!(out, vec![data(b"abcdefg")]);
        assert_eq!(s.next_seq(), Some(5));
    }

    #[test]
    fn flush_reports_gaps_before_data() {
        let mut s = with_isn(0);
        let mut out = Vec::new();
        feed(&mut s, 21, b"uvw", &mut out); // offsets 20..23
        feed(&mut s, 1, b"abcd", &mut out); // 0..4
        feed(&mut s, 11, b"klm", &mut out); // 10..13
        assert_eq!(out, vec![data(b"abcd")]);
        flush(&mut s, &mut out);
        assert_eq!(
            out,
            vec![
                data(b"abcd"),
                Out::Gap(6),
                data(b"klm"),
                Out::Gap(7),
                data(b"uvw")
            ]
        );
        let st = s.stats();
        assert_eq!((st.gaps, st.gap_bytes, st.delivered_bytes), (2, 13, 10));
        assert_eq!(s.buffered_bytes(), 0);
        assert_eq!(s.next_seq(), Some(24));
        // Still usable after a flush; a second flush has nothing to say.
        feed(&mut s, 24, b"xyz", &mut out);
        flush(&mut s, &mut out);
        assert_eq!(out.last(), Some(&data(b"uvwxyz")));
    }

    #[test]
    fn flush_with_leading_hole() {
        let mut s = with_isn(0);
        let mut out = Vec::new();
        feed(&mut s, 6, b"fgh", &mut out);
        flush(&mut s, &mut out);
        assert_eq!(out, vec![Out::Gap(5), data(b"fgh")]);
    }

    fn small(bytes: usize, segments: usize) -> DirStream {
        let mut s = DirStream::new(ReassemblyLimits {
            max_buffered_bytes: bytes,
            max_buffered_segments: segments,
        });
        s.set_isn(0);
        s
    }

    #[test]
    fn byte_limit_skips_forward_and_continues() {
        let mut s = small(8, 100);
        let mut out = Vec::new();
        feed(&mut s, 11, b"KKKK", &mut out); // offsets 10..14
        feed(&mut s, 21, b"UUUU", &mut out); // 20..24, buffer now full
        assert!(out.is_empty());
        feed(&mut s, 31, b"EEEE", &mut out); // 30..34 does not fit
        assert_eq!(out, vec![Out::Gap(10), data(b"KKKK")]);
        assert_eq!(s.buffered_bytes(), 8);
        assert_eq!(s.stats().dropped_bytes, 0);
        feed(&mut s, 15, b"OOOOOO", &mut out); // fills 14..20
        assert_eq!(out, vec![Out::Gap(10), data(b"KKKKOOOOOOUUUU")]);
        flush(&mut s, &mut out);
        assert_eq!(
            out,
            vec![
                Out::Gap(10),
                data(b"KKKKOOOOOOUUUU"),
                Out::Gap(6),
                data(b"EEEE")
            ]
        );
        let st = s.stats();
        assert_eq!((st.gaps, st.gap_bytes), (2, 16));
    }

    #[test]
    fn limit_skips_to_new_segment_when_it_comes_first() {
        let mut s = small(8, 100);
        let mut out = Vec::new();
        feed(&mut s, 21, b"UUUU", &mut out); // 20..24
        feed(&mut s, 31, b"EEEE", &mut out); // 30..34, full
        let p = b"NNNNNNNNNNNN".to_vec(); // 10..22, lower than everything buffered
        let mut ptrs = Vec::new();
        s.segment(11, &p, &mut |c| {
            if let StreamChunk::Data(d) = c {
                ptrs.push(d.as_ptr() as usize);
            }
            push(&mut out, c);
        });
        // Buffered bytes still win where they overlap the new segment.
        assert_eq!(out, vec![Out::Gap(10), data(b"NNNNNNNNNNUUUU")]);
        assert_eq!(ptrs.first(), Some(&(p.as_ptr() as usize)));
        assert_eq!(s.buffered_bytes(), 4);
        assert_eq!(s.stats().overlaps, 1);
    }

    #[test]
    fn segment_count_limit() {
        let mut s = small(1 << 20, 2);
        let mut out = Vec::new();
        feed(&mut s, 3, b"c", &mut out);
        feed(&mut s, 5, b"e", &mut out);
        feed(&mut s, 7, b"g", &mut out);
        assert_eq!(out, vec![Out::Gap(2), data(b"c")]);
        assert!(s.buffer.len() <= 2);
        flush(&mut s, &mut out);
        assert_eq!(
            out,
            vec![
                Out::Gap(2),
                data(b"c"),
                Out::Gap(1),
                data(b"e"),
                Out::Gap(1),
                data(b"g")
            ]
        );
    }

    #[test]
    fn zero_limits_disable_reordering_but_lose_nothing_seen() {
        let mut s = small(0, 0);
        let mut out = Vec::new();
        feed(&mut s, 5, b"efgh", &mut out);
        assert_eq!(out, vec![Out::Gap(4), data(b"efgh")]);
        feed(&mut s, 1, b"abcd", &mut out); // too late now
        assert_eq!(s.stats().retransmitted, 1);
        assert_eq!(s.buffered_bytes(), 0);
    }

    #[test]
    fn far_ahead_segment_costs_only_its_bytes() {
        let mut s = with_isn(0);
        let mut out = Vec::new();
        feed(&mut s, 1, b"ab", &mut out);
        let other = 3u32.wrapping_add((1 << 31) - 1); // as far ahead as can be
        feed(&mut s, other, b"other connection", &mut out);
        assert_eq!(s.buffered_bytes(), 16);
        // The real stream flows on regardless.
        feed(&mut s, 3, b"cd", &mut out);
        assert_eq!(out, vec![data(b"abcd")]);
        flush(&mut s, &mut out);
        assert_eq!(
            out,
            vec![
                data(b"abcd"),
                Out::Gap((1 << 31) - 3),
                data(b"other connection")
            ]
        );
        assert_eq!(s.stats().dropped_bytes, 0);
    }

    #[test]
    fn lone_far_segment_that_does_not_fit_is_dropped() {
        let mut s = small(0, 0);
        let mut out = Vec::new();
        feed(&mut s, 1, b"ab", &mut out);
        let far = 3u32.wrapping_add(MAX_AHEAD as u32 + 1);
        feed(&mut s, far, b"zzzz", &mut out);
        assert_eq!(s.stats().dropped_bytes, 4);
        assert_eq!(s.next_seq(), Some(3));
        // Within MAX_AHEAD the stream does skip to it.
        let near = 3u32.wrapping_add(MAX_AHEAD as u32);
        feed(&mut s, near, b"yy", &mut out);
        assert_eq!(out, vec![data(b"ab"), Out::Gap(MAX_AHEAD), data(b"yy")]);
        assert_eq!(s.stats().dropped_bytes, 4);
    }

    #[test]
    fn sixteen_mib_hole_stays_bounded() {
        let mut s = with_isn(0);
        let mut out = Vec::new();
        let block = vec![7u8; 1400];
        let hole = MAX_AHEAD as u32 + 12_345;
        // A lost 16 MiB followed by 4 MiB of data: only the limit is ever held.
        let mut off = hole;
        for _ in 0..3000 {
            feed(&mut s, 1 + off, &block, &mut out);
            off += block.len() as u32;
            assert!(s.buffered_bytes() <= ReassemblyLimits::default().max_buffered_bytes);
            assert!(s.buffer.len() <= ReassemblyLimits::default().max_buffered_segments);
        }
        assert_eq!(out.first(), Some(&Out::Gap(u64::from(hole))));
        flush(&mut s, &mut out);
        let st = s.stats();
        assert_eq!(st.gaps, 1);
        assert_eq!(st.delivered_bytes, 3000 * 1400);
        assert_eq!(st.dropped_bytes, 0);
    }

    #[test]
    fn one_byte_segments() {
        let stream: Vec<u8> = (0..200u8).collect();
        let mut s = with_isn(u32::MAX - 100);
        let base = u32::MAX - 99;
        let mut out = Vec::new();
        for (i, b) in stream.iter().enumerate() {
            feed(
                &mut s,
                base.wrapping_add(i as u32),
                std::slice::from_ref(b),
                &mut out,
            );
        }
        assert_eq!(out, vec![data(&stream)]);
        assert_eq!(s.stats().segments, 200);

        // Reversed: held until the first byte arrives.
        let mut s = with_isn(0);
        let mut out = Vec::new();
        for (i, b) in stream.iter().enumerate().rev() {
            feed(&mut s, 1 + i as u32, std::slice::from_ref(b), &mut out);
        }
        assert_eq!(out, vec![data(&stream)]);
        assert_eq!(s.stats().out_of_order, 199);
    }

    #[test]
    fn one_byte_segments_reversed_beyond_segment_limit() {
        let stream: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        let mut s = with_isn(0);
        let mut out = Vec::new();
        for (i, b) in stream.iter().enumerate().rev() {
            feed(&mut s, 1 + i as u32, std::slice::from_ref(b), &mut out);
            assert!(s.buffer.len() <= 1024);
        }
        // 1024 held at 976..2000; byte 975 did not fit and comes first: skip to it.
        assert_eq!(out, vec![Out::Gap(975), data(&stream[975..])]);
        assert_eq!(s.stats().retransmitted, 975);
    }

    /// Deterministic Fisher-Yates shuffle driven by a proptest-chosen seed.
    fn shuffle<T>(v: &mut [T], mut seed: u64) {
        for i in (1..v.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let j = (seed % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }

    fn isn_strategy() -> impl Strategy<Value = u32> {
        prop_oneof![any::<u32>(), (0u32..5000).prop_map(|d| u32::MAX - d)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Permuted, duplicated and re-segmented consistent data comes out as
        /// the original stream, before any flush.
        #[test]
        fn reorder_duplicate_resegment(
            stream in proptest::collection::vec(any::<u8>(), 1..4096),
            isn in isn_strategy(),
            cuts in proptest::collection::vec(1usize..300, 1..64),
            extras in proptest::collection::vec((any::<u16>(), 1usize..200), 0..40),
            dups in proptest::collection::vec(any::<u16>(), 0..20),
            seed in any::<u64>(),
        ) {
            let n = stream.len();
            let mut segs: Vec<(usize, usize)> = Vec::new();
            let mut off = 0;
            let mut i = 0;
            while off < n {
                let len = cuts[i % cuts.len()].min(n - off);
                segs.push((off, off + len));
                off += len;
                i += 1;
            }
            for &(start, len) in &extras {
                let start = usize::from(start) % n;
                segs.push((start, (start + len).min(n)));
            }
            for &d in &dups {
                let pick = segs[usize::from(d) % segs.len()];
                segs.push(pick);
            }
            shuffle(&mut segs, seed | 1);

            let mut s = DirStream::new(ReassemblyLimits {
                max_buffered_bytes: usize::MAX,
                max_buffered_segments: usize::MAX,
            });
            s.set_isn(isn);
            let mut out = Vec::new();
            for &(a, b) in &segs {
                let seq = isn.wrapping_add(1).wrapping_add(a as u32);
                feed(&mut s, seq, &stream[a..b], &mut out);
                let st = s.stats();
                prop_assert_eq!(st.delivered_bytes, s.next);
            }
            prop_assert_eq!(&out, &vec![Out::Data(stream.clone())]);
            flush(&mut s, &mut out);
            prop_assert_eq!(out.len(), 1);

            let st = s.stats();
            prop_assert_eq!(st.segments, segs.len() as u64);
            prop_assert_eq!(st.delivered_bytes, n as u64);
            prop_assert_eq!((st.gaps, st.gap_bytes, st.dropped_bytes), (0, 0, 0));
            prop_assert_eq!(st.overlap_conflicts, 0);
            prop_assert!(st.retransmitted + st.overlaps <= st.segments);
            prop_assert!(st.out_of_order <= st.segments);
            // Every segment either delivered, buffered or was wholly old.
            prop_assert!(st.retransmitted >= (segs.len() - segs.iter().collect::<std::collections::HashSet<_>>().len()) as u64);
            prop_assert_eq!(s.buffered_bytes(), 0);
            prop_assert_eq!(s.next_seq(), Some(isn.wrapping_add(1).wrapping_add(n as u32)));
        }

        /// Arbitrary (inconsistent) data without limits matches a byte model:
        /// each offset carries the first bytes received for it; holes are gaps.
        #[test]
        fn first_received_wins_model(
            isn in isn_strategy(),
            segs in proptest::collection::vec(
                (0usize..600, proptest::collection::vec(any::<u8>(), 1..60)), 1..60),
        ) {
            let mut model: Vec<Option<u8>> = Vec::new();
            let mut s = DirStream::new(ReassemblyLimits {
                max_buffered_bytes: usize::MAX,
                max_buffered_segments: usize::MAX,
            });
            s.set_isn(isn);
            let mut out = Vec::new();
            for (off, bytes) in &segs {
                let seq = isn.wrapping_add(1).wrapping_add(*off as u32);
                feed(&mut s, seq, bytes, &mut out);
                if model.len() < off + bytes.len() {
                    model.resize(off + bytes.len(), None);
                }
                for (i, b) in bytes.iter().enumerate() {
                    model[off + i].get_or_insert(*b);
                }
            }
            flush(&mut s, &mut out);
            let mut want = Vec::new();
            for b in &model {
                match b {
                    Some(b) => push(&mut want, StreamChunk::Data(std::slice::from_ref(b))),
                    None => match want.last_mut() {
                        Some(Out::Gap(m)) => *m += 1,
                        _ => want.push(Out::Gap(1)),
                    },
                }
            }
            prop_assert_eq!(&out, &want);
            let st = s.stats();
            prop_assert_eq!(st.delivered_bytes + st.gap_bytes, model.len() as u64);
            prop_assert_eq!(st.gaps, want.iter().filter(|o| matches!(o, Out::Gap(_))).count() as u64);
            prop_assert_eq!(st.dropped_bytes, 0);
            prop_assert_eq!(st.segments, segs.len() as u64);
        }

        /// Under tight limits, every delivered byte is still at its true
        /// offset, memory stays within the limits and nothing seen is lost
        /// silently: data plus gaps spans exactly to the furthest byte seen.
        #[test]
        fn tight_limits_stay_correct(
            stream in proptest::collection::vec(any::<u8>(), 1..2048),
            isn in isn_strategy(),
            max_bytes in 0usize..300,
            max_segs in 0usize..10,
            segs in proptest::collection::vec((any::<u16>(), 1usize..120), 1..80),
        ) {
            let n = stream.len();
            let mut s = DirStream::new(ReassemblyLimits {
                max_buffered_bytes: max_bytes,
                max_buffered_segments: max_segs,
            });
            s.set_isn(isn);
            let mut chunks: Vec<(u64, Vec<u8>)> = Vec::new();
            let mut pos = 0u64;
            let mut furthest = 0usize;
            let mut sink = |c: StreamChunk<'_>| match c {
                StreamChunk::Data(d) => {
                    chunks.push((pos, d.to_vec()));
                    pos += d.len() as u64;
                }
                StreamChunk::Gap { missing } => pos += missing,
            };
            for &(start, len) in &segs {
                let a = usize::from(start) % n;
                let b = (a + len).min(n);
                let seq = isn.wrapping_add(1).wrapping_add(a as u32);
                s.segment(seq, &stream[a..b], &mut sink);
                furthest = furthest.max(b);
                prop_assert!(s.buffered_bytes() <= max_bytes);
                prop_assert!(s.buffer.len() <= max_segs);
            }
            s.flush(&mut sink);
            for (at, d) in &chunks {
                let at = *at as usize;
                prop_assert_eq!(&stream[at..at + d.len()], &d[..]);
            }
            let st = s.stats();
            prop_assert_eq!(pos, furthest as u64);
            prop_assert_eq!(st.delivered_bytes + st.gap_bytes, furthest as u64);
            prop_assert_eq!(st.overlap_conflicts, 0);
            prop_assert_eq!(s.buffered_bytes(), 0);
        }

        /// Hostile input: arbitrary sequence numbers, sizes, SYNs and flushes.
        #[test]
        fn never_panics_and_stays_bounded(
            ops in proptest::collection::vec(
                (0u8..10, any::<u32>(), 0usize..3000, any::<u8>()), 1..100),
            max_bytes in 0usize..5000,
            max_segs in 0usize..20,
        ) {
            let mut s = DirStream::new(ReassemblyLimits {
                max_buffered_bytes: max_bytes,
                max_buffered_segments: max_segs,
            });
            let buf = vec![0u8; 3000];
            let mut last = 0u32;
            for (kind, x, len, fill) in ops {
                let mut chunk_total = 0u64;
                let mut sink = |c: StreamChunk<'_>| match c {
                    StreamChunk::Data(d) => {
                        assert!(!d.is_empty());
                        chunk_total += d.len() as u64;
                    }
                    StreamChunk::Gap { missing } => {
                        assert!(missing > 0);
                        chunk_total += missing;
                    }
                };
                let before = s.next;
                match kind {
                    0 => s.set_isn(x),
                    1 => s.flush(&mut sink),
                    // Near the previous sequence number, to hit overlaps.
                    2..=5 => {
                        let seq = last.wrapping_add(x % 4000).wrapping_sub(2000);
                        let payload: Vec<u8> = buf[..len].iter().map(|_| fill).collect();
                        s.segment(seq, &payload, &mut sink);
                        last = seq;
                    }
                    _ => s.segment(x, &buf[..len], &mut sink),
                }
                prop_assert_eq!(s.next - before, chunk_total);
                prop_assert!(s.buffered_bytes() <= max_bytes);
                prop_assert!(s.buffer.len() <= max_segs);
                prop_assert_eq!(s.buffered_bytes(), s.buffer.values().map(Vec::len).sum::<usize>());
                prop_assert!(s.buffer.keys().all(|&k| k > s.next));
                let st = s.stats();
                prop_assert_eq!(st.delivered_bytes + st.gap_bytes, s.next);
            }
        }
    }
}
