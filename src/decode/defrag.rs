//! IPv4 and IPv6 fragment reassembly, so that a ClientHello sent in fragments (a small-MTU
//! path, a tunnel, or an evasion tool) is read like any other.
//!
//! Policies (fragments are untrusted input, so every one is bounded):
//!
//! * A datagram is keyed by (source, destination, identification, and for IPv4 the
//!   protocol), as RFC 791 and RFC 8200 key them.
//! * **First received wins** on overlapping fragments, as in TCP reassembly (tcp.rs): only
//!   the bytes not yet held are copied, and each overlapping fragment is counted.
//! * A datagram not complete [`DefragLimits::timeout_us`] after its first fragment (capture
//!   time, 30 s as Linux's `ipfrag_time`) is dropped and counted (`timeouts`).
//! * At most [`DefragLimits::max_datagrams`] datagrams and [`DefragLimits::max_bytes`]
//!   bytes are held; past either, the oldest datagram goes (`evicted`).
//! * Work per fragment is bounded: a datagram keeps at most [`MAX_RANGES`] separate byte
//!   ranges (a datagram cut into more holes than that is dropped as evicted), expiry pops
//!   from the front of a queue in arrival order, so nothing is quadratic.
//!
//! The reassembled frame keeps the link-layer bytes of the last fragment in front of the
//! whole datagram, so it decodes with the same VLAN tags and link type.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use serde::Serialize;

use crate::model::TimestampUs;

/// Separate byte ranges one datagram may hold before it is dropped.
pub const MAX_RANGES: usize = 64;
/// The largest IP payload a fragment offset and length can describe.
const MAX_PAYLOAD: usize = 65_535;

/// Bounds on what is held while fragments wait for the rest of their datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefragLimits {
    pub max_datagrams: usize,
    pub max_bytes: usize,
    pub timeout_us: i64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 1024,
            max_bytes: 4 * 1024 * 1024,
            timeout_us: 30_000_000,
        }
    }
}

/// `capture_stats.ip_defrag`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DefragStats {
    /// Datagrams made whole.
    pub reassembled: u64,
    /// Fragments seen (those that made a datagram whole included).
    pub fragments: u64,
    /// Datagrams dropped incomplete after the timeout.
    pub timeouts: u64,
    /// Datagrams dropped incomplete to stay within the limits.
    pub evicted: u64,
    /// Fragments overlapping bytes already held (the first copy was kept).
    pub overlaps: u64,
}

impl DefragStats {
    pub fn add(&mut self, o: &DefragStats) {
        self.reassembled += o.reassembled;
        self.fragments += o.fragments;
        self.timeouts += o.timeouts;
        self.evicted += o.evicted;
        self.overlaps += o.overlaps;
    }
}

/// What became of one fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// Held (or dropped) until its datagram is whole.
    Held,
    /// The frame of the whole datagram: the link-layer bytes, then the IP datagram.
    Whole(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

/// One fragment's facts, read from its IP header.
struct Frag<'a> {
    key: Key,
    /// Byte offset of its data in the datagram's payload.
    offset: usize,
    more: bool,
    data: &'a [u8],
    /// The headers to put in front of the whole payload (offset 0 only): IPv4's header, or
    /// IPv6's unfragmentable part without the fragment header.
    head: Option<Vec<u8>>,
}

struct Datagram {
    generation: u64,
    payload: Vec<u8>,
    /// Byte ranges held, sorted, disjoint and not touching.
    ranges: Vec<(usize, usize)>,
    /// The payload's length, once the last fragment came.
    total: Option<usize>,
    head: Option<Vec<u8>>,
}

/// Reassembly state of one capture.
#[derive(Default)]
pub struct Defrag {
    limits: DefragLimits,
    held: HashMap<Key, Datagram>,
    /// (first fragment's time, key, generation) in arrival order; entries of datagrams
    /// already gone are skipped when they reach the front.
    order: VecDeque<(TimestampUs, Key, u64)>,
    bytes: usize,
    generation: u64,
    stats: DefragStats,
}

impl Defrag {
    pub fn new(limits: DefragLimits) -> Self {
        Defrag {
            limits,
            ..Default::default()
        }
    }

    pub fn stats(&self) -> &DefragStats {
        &self.stats
    }

    /// Datagrams waiting for fragments.
    pub fn in_flight(&self) -> usize {
        self.held.len()
    }

    /// Bytes held for them.
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    /// One fragment: `frame` is the captured frame, its IP header at `ip_at`.
    pub fn offer(&mut self, frame: &[u8], ip_at: usize, ts_us: TimestampUs) -> Offer {
        self.stats.fragments += 1;
        self.expire(ts_us);
        let Some(ip) = frame.get(ip_at..) else {
            return Offer::Held;
        };
        let Some(f) = parse(ip) else {
            return Offer::Held;
        };
        let end = f.offset + f.data.len();
        if end > MAX_PAYLOAD {
            return Offer::Held;
        }
        if !self.held.contains_key(&f.key) {
            self.generation += 1;
            self.order.push_back((ts_us, f.key, self.generation));
            self.held.insert(
                f.key,
                Datagram {
                    generation: self.generation,
                    payload: Vec::new(),
                    ranges: Vec::new(),
                    total: None,
                    head: None,
                },
            );
        }
        let Some(d) = self.held.get_mut(&f.key) else {
            return Offer::Held;
        };
        let before = d.payload.len();
        let (overlapped, too_many) = d.insert(&f, end);
        self.bytes = self.bytes + d.payload.len() - before;
        if overlapped {
            self.stats.overlaps += 1;
        }
        if too_many {
            self.drop_datagram(&f.key);
            self.stats.evicted += 1;
            return Offer::Held;
        }
        if let Some(whole) = d.whole() {
            let mut out = Vec::with_capacity(ip_at + whole.len());
            out.extend_from_slice(&frame[..ip_at]);
            out.extend_from_slice(&whole);
            self.drop_datagram(&f.key);
            self.stats.reassembled += 1;
            return Offer::Whole(out);
        }
        self.enforce_limits();
        Offer::Held
    }

    fn drop_datagram(&mut self, key: &Key) {
        if let Some(d) = self.held.remove(key) {
            self.bytes = self.bytes.saturating_sub(d.payload.len());
        }
    }

    /// Drops the datagrams whose first fragment is older than the timeout.
    fn expire(&mut self, now: TimestampUs) {
        while let Some(&(ts, key, generation)) = self.order.front() {
            let live = self
                .held
                .get(&key)
                .is_some_and(|d| d.generation == generation);
            if !live {
                self.order.pop_front();
                continue;
            }
            if now.saturating_sub(ts) <= self.limits.timeout_us {
                break;
            }
            self.order.pop_front();
            self.drop_datagram(&key);
            self.stats.timeouts += 1;
        }
    }

    fn enforce_limits(&mut self) {
        while self.held.len() > self.limits.max_datagrams || self.bytes > self.limits.max_bytes {
            let Some((_, key, generation)) = self.order.pop_front() else {
                break;
            };
            if self
                .held
                .get(&key)
                .is_some_and(|d| d.generation == generation)
            {
                self.drop_datagram(&key);
                self.stats.evicted += 1;
            }
        }
    }
}

impl Datagram {
    /// Copies the bytes of `f` not yet held: (whether it overlapped held bytes, whether the
    /// datagram now has too many separate ranges).
    fn insert(&mut self, f: &Frag<'_>, end: usize) -> (bool, bool) {
        if !f.more {
            // A second "last" fragment disagreeing on the length: the first one wins.
            self.total.get_or_insert(end);
        }
        if f.head.is_some() && self.head.is_none() {
            self.head.clone_from(&f.head);
        }
        if f.data.is_empty() {
            return (false, false);
        }
        let start = f.offset;
        if self.payload.len() < end {
            self.payload.resize(end, 0);
        }
        // Copy into each hole between held ranges that [start, end) covers.
        let mut overlapped = false;
        let mut at = start;
        for &(lo, hi) in &self.ranges {
            if hi <= at {
                continue;
            }
            if lo >= end {
                break;
            }
            if lo > at {
                self.payload[at..lo].copy_from_slice(&f.data[at - start..lo - start]);
            }
            overlapped = true;
            at = at.max(hi);
            if at >= end {
                break;
            }
        }
        if at < end {
            self.payload[at..end].copy_from_slice(&f.data[at - start..]);
        }
        // Merge [start, end) into the sorted ranges.
        let mut merged = Vec::with_capacity(self.ranges.len() + 1);
        let (mut lo, mut hi) = (start, end);
        let mut placed = false;
        for &(a, b) in &self.ranges {
            if b < lo {
                merged.push((a, b));
            } else if a > hi {
                if !placed {
                    merged.push((lo, hi));
                    placed = true;
                }
                merged.push((a, b));
            } else {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        if !placed {
            merged.push((lo, hi));
        }
        self.ranges = merged;
        (overlapped, self.ranges.len() > MAX_RANGES)
    }

    /// The whole IP datagram, once every byte up to the last fragment's end is held.
    fn whole(&self) -> Option<Vec<u8>> {
        let total = self.total?;
        let head = self.head.as_ref()?;
        if self.ranges.first() != Some(&(0, total)) && !(total == 0 && self.ranges.is_empty()) {
            return None;
        }
        let payload = self.payload.get(..total)?;
        let mut out = Vec::with_capacity(head.len() + total);
        out.extend_from_slice(head);
        out.extend_from_slice(payload);
        if out.first().map(|b| b >> 4) == Some(4) {
            let len = u16::try_from(out.len()).ok()?;
            out[2..4].copy_from_slice(&len.to_be_bytes());
            out[6..8].copy_from_slice(&[0, 0]);
            out[10..12].copy_from_slice(&[0, 0]);
            let ihl = usize::from(out[0] & 0x0f) * 4;
            let sum = checksum(&out[..ihl]);
            out[10..12].copy_from_slice(&sum.to_be_bytes());
        } else {
            let len = u16::try_from(out.len() - 40).ok()?;
            out[4..6].copy_from_slice(&len.to_be_bytes());
        }
        Some(out)
    }
}

fn checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The fragment in `ip`, or `None` when it is not one or is cut short by the snaplen (its
/// bytes cannot be trusted to fill the datagram).
fn parse(ip: &[u8]) -> Option<Frag<'_>> {
    match ip.first()? >> 4 {
        4 => parse_v4(ip),
        6 => parse_v6(ip),
        _ => None,
    }
}

fn parse_v4(ip: &[u8]) -> Option<Frag<'_>> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let total = usize::from(be16(ip, 2)?);
    if ihl < 20 || total < ihl || ip.len() < total {
        return None;
    }
    let flags = be16(ip, 6)?;
    let offset = usize::from(flags & 0x1fff) * 8;
    let more = flags & 0x2000 != 0;
    let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
    let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
    let key = Key {
        src: IpAddr::from(src),
        dst: IpAddr::from(dst),
        id: u32::from(be16(ip, 4)?),
        proto: ip[9],
    };
    let head = (offset == 0).then(|| ip[..ihl].to_vec());
    Some(Frag {
        key,
        offset,
        more,
        data: &ip[ihl..total],
        head,
    })
}

/// IPv6 extension headers that may come before the fragment header.
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DEST_OPTS: u8 = 60;

fn parse_v6(ip: &[u8]) -> Option<Frag<'_>> {
    let total = 40 + usize::from(be16(ip, 4)?);
    if ip.len() < total {
        return None;
    }
    let ip = &ip[..total];
    // Walk to the fragment header, remembering where the "next header" byte naming it is.
    let (mut next, mut next_at, mut at) = (ip[6], 6usize, 40usize);
    for _ in 0..8 {
        match next {
            FRAGMENT => break,
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                let len = (usize::from(*ip.get(at + 1)?) + 1) * 8;
                next = *ip.get(at)?;
                next_at = at;
                at += len;
            }
            _ => return None,
        }
    }
    if next != FRAGMENT {
        return None;
    }
    let frag = ip.get(at..at + 8)?;
    let field = be16(frag, 2)?;
    let offset = usize::from(field >> 3) * 8;
    let more = field & 1 != 0;
    let id = u32::from_be_bytes(frag[4..8].try_into().ok()?);
    let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
    let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
    let head = (offset == 0).then(|| {
        let mut h = ip[..at].to_vec();
        h[next_at] = frag[0];
        h
    });
    Some(Frag {
        key: Key {
            src: IpAddr::from(src),
            dst: IpAddr::from(dst),
            id,
            proto: 0,
        },
        offset,
        more,
        data: &ip[at + 8..],
        head,
    })
}

#[cfg(test)]
mod tests;
