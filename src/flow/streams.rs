//! Wireshark's `tcp.stream` numbers, kept apart from our flows.
//!
//! Our flows end on RST, on the second FIN, on the idle timeout and on eviction; Wireshark's
//! TCP conversations never end. It numbers a conversation when it first sees its address and
//! port pair, and starts a new one only when a SYN (without ACK) comes with another sequence
//! number than the one it took as that direction's start (`packet-tcp.c`, Wireshark 4.0):
//! a refused connection retried with the same ISN, a late RST after a long silence and a
//! connection quiet for hours all stay one stream. So that `tcp.stream eq N` opens the
//! connection a finding is about, the numbers are kept here by those rules, and a flow takes
//! the number of the conversation its first packet belongs to (several of our flows can
//! share one number; one flow never spans two).
//!
//! The rules, as read in `packet-tcp.c` and checked against tshark 4.0 (tests/wireshark.rs):
//! - a direction's start is set by its first segment: the sequence number of a SYN, or one
//!   before it otherwise; and by the first segment with ACK the other way, as its ack - 1;
//! - the header quoted by an ICMP error finds or creates a conversation (without setting any
//!   start) when the quote reaches the window field, 16 bytes in: Wireshark reads that far
//!   before it looks the conversation up, and a shorter quote stops its dissection first;
//! - VLAN tags are not part of a conversation.
//!
//! Memory is bounded: at most `cap` conversations are remembered (the oldest forgotten
//! first, counted in `tcp_streams_forgotten`); a pair seen again after that gets a new
//! number where Wireshark would reuse the old one.

use std::collections::VecDeque;

use crate::model::FrameNo;

/// A conversation's key: a hash of its two endpoints in a fixed order (no VLAN). Two pairs
/// with the same hash would share a number; with 64 bits and a bounded table that is far
/// less likely than any real capture's quirks.
pub(super) type ConvKey = u64;

/// The stream a packet belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stream {
    /// Wireshark's number, counted by this table (the whole capture's in a one-thread run).
    pub number: u64,
    /// The frame that created the conversation: what a multi-threaded run numbers streams
    /// by over all its shards.
    pub created: FrameNo,
}

#[derive(Clone, Copy)]
struct Conv {
    stream: Stream,
    /// Each direction's start (low endpoint to high first), once set.
    start: [Option<u32>; 2],
}

/// What the table needs of a TCP header.
#[derive(Clone, Copy)]
pub(super) struct Segment {
    /// 0 when sent by the key's low endpoint, 1 otherwise.
    pub dir: usize,
    pub syn: bool,
    pub ack_flag: bool,
    pub seq: u32,
    pub ack: u32,
}

pub(super) struct StreamNumbers {
    convs: foldhash::HashMap<ConvKey, Conv>,
    /// (key, creation frame) in creation order: the oldest to forget when full. Entries of
    /// conversations replaced since (a new SYN) stay until they come to the front.
    order: VecDeque<(ConvKey, FrameNo)>,
    cap: usize,
    next_number: u64,
    /// Multi-threaded runs: creation frames since the last [`StreamNumbers::take_created`].
    track: bool,
    created: Vec<FrameNo>,
    pub forgotten: u64,
}

impl StreamNumbers {
    pub fn new(cap: usize) -> Self {
        StreamNumbers {
            convs: foldhash::HashMap::default(),
            order: VecDeque::new(),
            cap: cap.max(1),
            next_number: 0,
            track: false,
            created: Vec::new(),
            forgotten: 0,
        }
    }

    pub fn track_created(&mut self) {
        self.track = true;
    }

    /// Creation frames of the conversations created since the last call, in order.
    pub fn take_created(&mut self, into: &mut Vec<FrameNo>) {
        into.append(&mut self.created);
    }

    /// No flow still to come can belong to a conversation created before this frame: every
    /// older one is forgotten. `None` when none is remembered.
    pub fn oldest_remembered(&self) -> Option<FrameNo> {
        self.order.front().map(|&(_, f)| f)
    }

    /// The stream of a TCP segment, after Wireshark's rules (see the module comment).
    pub fn segment(&mut self, key: ConvKey, s: Segment, frame: FrameNo) -> Stream {
        // One lookup for the usual packet: a conversation already started both ways.
        if let Some(c) = self.convs.get_mut(&key) {
            let restarted =
                s.syn && !s.ack_flag && c.start[s.dir].is_some_and(|start| start != s.seq);
            if !restarted {
                set_starts(c, s);
                return c.stream;
            }
        }
        let mut conv = self.create(key, frame);
        set_starts(&mut conv, s);
        self.convs.insert(key, conv);
        conv.stream
    }

    /// An ICMP error quoting a TCP header of `key` far enough for Wireshark to number it
    /// (to the window field); `syn_seq` is the sequence number of a quoted SYN, which
    /// restarts the conversation as a real SYN would.
    pub fn quoted(
        &mut self,
        key: ConvKey,
        dir: usize,
        syn_seq: Option<u32>,
        frame: FrameNo,
    ) -> Stream {
        match self.convs.get(&key) {
            Some(c) => {
                let restarted =
                    syn_seq.is_some_and(|seq| c.start[dir].is_some_and(|start| start != seq));
                if restarted {
                    let conv = self.create(key, frame);
                    self.convs.insert(key, conv);
                    conv.stream
                } else {
                    c.stream
                }
            }
            None => {
                let conv = self.create(key, frame);
                self.convs.insert(key, conv);
                conv.stream
            }
        }
    }

    /// A new conversation (not yet inserted), forgetting the oldest when full.
    fn create(&mut self, key: ConvKey, frame: FrameNo) -> Conv {
        while self.convs.len() >= self.cap {
            let Some((old, created)) = self.order.pop_front() else {
                break;
            };
            if self
                .convs
                .get(&old)
                .is_some_and(|c| c.stream.created == created)
            {
                self.convs.remove(&old);
                self.forgotten += 1;
            }
        }
        // Replaced conversations leave entries behind: drop them before they outnumber the
        // live ones.
        if self.order.len() >= 2 * self.cap {
            let convs = &self.convs;
            self.order
                .retain(|(k, f)| convs.get(k).is_some_and(|c| c.stream.created == *f));
        }
        let stream = Stream {
            number: self.next_number,
            created: frame,
        };
        self.next_number += 1;
        self.order.push_back((key, frame));
        if self.track {
            self.created.push(frame);
        }
        Conv {
            stream,
            start: [None; 2],
        }
    }
}

/// A direction's start from its first segment, the other's from the first ACK.
fn set_starts(c: &mut Conv, s: Segment) {
    if c.start[s.dir].is_none() {
        c.start[s.dir] = Some(if s.syn { s.seq } else { s.seq.wrapping_sub(1) });
    }
    if s.ack_flag && c.start[1 - s.dir].is_none() {
        c.start[1 - s.dir] = Some(s.ack.wrapping_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(dir: usize, syn: bool, ack_flag: bool, seq: u32, ack: u32) -> Segment {
        Segment {
            dir,
            syn,
            ack_flag,
            seq,
            ack,
        }
    }

    fn numbers(t: &mut StreamNumbers, segs: &[Segment]) -> Vec<u64> {
        segs.iter()
            .enumerate()
            .map(|(i, s)| t.segment(7, *s, i as u64 + 1).number)
            .collect()
    }

    // Each case below was checked with tshark 4.0.17 on a capture of the same segments.
    #[test]
    fn a_syn_with_the_same_isn_stays_in_its_stream_another_isn_starts_one() {
        let mut t = StreamNumbers::new(100);
        let n = numbers(
            &mut t,
            &[
                seg(0, true, false, 1000, 0),
                seg(1, false, true, 0, 1001), // RST/ACK: refused
                seg(0, true, false, 1000, 0), // retried with the same ISN
                seg(0, true, false, 2000, 0), // a new connection on the same ports
            ],
        );
        assert_eq!(n, [0, 0, 0, 1]);
    }

    #[test]
    fn starts_set_from_a_mid_stream_segment_and_from_the_other_sides_ack() {
        let mut t = StreamNumbers::new(100);
        // Data seq 100 sets the start to 99: a SYN at 99 is the same conversation.
        let n = numbers(
            &mut t,
            &[
                seg(0, false, true, 100, 7),
                seg(0, true, false, 99, 0),
                seg(0, true, false, 100, 0),
            ],
        );
        assert_eq!(n, [0, 0, 1]);
        let mut t = StreamNumbers::new(100);
        // The server's ACK of 500 sets the client's start to 499.
        let n = numbers(
            &mut t,
            &[
                seg(1, false, true, 7000, 500),
                seg(0, true, false, 499, 0),
                seg(0, true, false, 500, 0),
                seg(0, true, false, 501, 0),
            ],
        );
        assert_eq!(n, [0, 0, 1, 2]);
    }

    #[test]
    fn a_syn_ack_with_another_isn_never_starts_a_stream() {
        let mut t = StreamNumbers::new(100);
        let n = numbers(
            &mut t,
            &[
                seg(0, true, false, 1000, 0),
                seg(1, true, true, 5000, 1001),
                seg(1, true, true, 6000, 1001),
            ],
        );
        assert_eq!(n, [0, 0, 0]);
    }

    #[test]
    fn an_icmp_quote_numbers_an_unseen_conversation_and_a_quoted_syn_restarts_one() {
        let mut t = StreamNumbers::new(100);
        assert_eq!(t.quoted(1, 0, Some(5), 1).number, 0);
        assert_eq!(t.segment(2, seg(0, true, false, 1000, 0), 2).number, 1);
        assert_eq!(t.quoted(2, 0, Some(3000), 3).number, 2);
        // The restarted conversation has no start yet: the original ISN joins it.
        assert_eq!(t.segment(2, seg(0, true, false, 1000, 0), 4).number, 2);
    }

    #[test]
    fn the_oldest_conversation_is_forgotten_when_full_and_counted() {
        let mut t = StreamNumbers::new(2);
        t.track_created();
        for (key, frame) in [(1, 1), (2, 2), (3, 3)] {
            t.segment(key, seg(0, true, false, 1, 0), frame);
        }
        assert_eq!(t.forgotten, 1);
        assert_eq!(t.oldest_remembered(), Some(2));
        assert_eq!(t.segment(1, seg(0, false, true, 2, 0), 4).number, 3);
        let mut created = Vec::new();
        t.take_created(&mut created);
        assert_eq!(created, [1, 2, 3, 4]);
    }
}
