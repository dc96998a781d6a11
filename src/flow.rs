//! Connection tracking: the flow table, client/server roles, TCP teardown, idle timeouts,
//! and the wiring of each connection's byte streams through reassembly ([`crate::tcp`]),
//! the cleartext sniffers ([`crate::cleartext`]) and the TLS state machine ([`crate::tls`]).
//!
//! A flow is finished on RST, on the second FIN, on idle timeout (capture time), when the
//! table is full (oldest idle first), or at the end of the capture. A finished flow is
//! turned into a [`FlowRecord`]: the complete, owned set of facts the rules read.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use foldhash::fast::FixedState;

/// The flow table's hasher: foldhash, fast on short keys and of good quality, with a fixed
/// seed so runs are reproducible (no HashDoS concern: an attacker who controls the
/// capture can already fill the table, which `max_flows` bounds).
type FlowMap<V> = HashMap<FlowKey, V, FixedState>;

mod reset;
mod streams;
use streams::{ConvKey, Segment, Stream, StreamNumbers};

use serde::Serialize;

use crate::capture::Packet;
use crate::cleartext::{Preamble, PreambleFacts};
use crate::community_id::community_id_v1;
use crate::decode::defrag::Offer;
use crate::decode::{decode, tcp_flags, Decoded, IcmpError, TcpPacket};
use crate::model::{Dir, FrameNo, Side, TimestampUs};
use crate::tcp::{DirStream, ReassemblyLimits, StreamChunk, StreamStats};
use crate::tls::cert::CertCache;
use crate::tls::types::CertInfo;
use crate::tls::TlsConn;

/// Ports where a client is expected to speak TLS first.
pub const DEFAULT_TLS_PORTS: &[u16] = &[
    443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 2376, 3269, 4433, 5061, 5223, 6443,
    6697, 8443, 9443,
];

/// How many bytes of each direction's first payload are kept as evidence.
pub const FIRST_BYTES_KEPT: usize = 64;

#[derive(Debug, Clone)]
pub struct AnalyzerConfig {
    tls_port_bitmap: Vec<u64>,
    /// A flow with no packet for this long (capture time) is finished as timed out.
    pub idle_timeout_us: i64,
    /// At most this many flows are tracked at once; the oldest idle one is evicted first.
    pub max_flows: usize,
    pub reassembly: ReassemblyLimits,
    /// Bytes buffered over all flows (out-of-order segments, partial TLS records and
    /// handshake messages). Above it the flows holding the most are finished as evicted.
    pub max_total_buffered_bytes: usize,
    /// What the rules read besides the flow, shared by every shard.
    pub rules: std::sync::Arc<crate::config::RuleEnv>,
    /// `--filter`: TCP packets it does not match are counted and skipped.
    pub filter: Option<std::sync::Arc<crate::filter::Filter>>,
    /// TLS secrets (`--keylog`, and the capture's Decryption Secrets Blocks as they are
    /// read), shared by every shard.
    pub keys: std::sync::Arc<crate::keylog::KeyStore>,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        let mut config = AnalyzerConfig {
            tls_port_bitmap: vec![0; 1024],
            idle_timeout_us: 120_000_000,
            max_flows: 200_000,
            reassembly: ReassemblyLimits::default(),
            max_total_buffered_bytes: 256 << 20,
            rules: Default::default(),
            filter: None,
            keys: Default::default(),
        };
        config.set_tls_ports(DEFAULT_TLS_PORTS);
        config
    }
}

impl AnalyzerConfig {
    pub fn set_tls_ports(&mut self, ports: &[u16]) {
        self.tls_port_bitmap.iter_mut().for_each(|w| *w = 0);
        for &p in ports {
            self.tls_port_bitmap[usize::from(p) / 64] |= 1 << (p % 64);
        }
    }

    pub fn is_tls_port(&self, port: u16) -> bool {
        self.tls_port_bitmap[usize::from(port) / 64] & (1 << (port % 64)) != 0
    }
}

/// Why a flow was finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// RST or FIN from both sides.
    Closed,
    /// No packet for the idle timeout.
    Timeout,
    /// The capture ended with the flow still open.
    CaptureEnd,
    /// The flow table was full.
    Evicted,
}

/// A TCP control event (FIN or RST) with the facts the rules need about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TcpEvent {
    pub frame: FrameNo,
    pub ts_us: TimestampUs,
    pub ttl: u8,
}

/// An ICMP/ICMPv6 error quoting one of the flow's segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IcmpEvent {
    pub frame: FrameNo,
    pub ts_us: TimestampUs,
    /// The router, firewall or host that sent the error.
    pub sender: IpAddr,
    /// Of the quoted segment: `ToServer` when it was the client's.
    pub about: Dir,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// See [`IcmpError::name`].
    pub name: &'static str,
    pub mtu: Option<u32>,
}

/// ICMP errors kept per flow; a flow quoted more often only counts the rest.
pub const ICMP_KEPT: usize = 8;

/// One endpoint of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// Counters over the whole capture, reported as the `capture_stats` record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaptureStats {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_packets: u64,
    pub non_tcp_packets: u64,
    /// ICMP/ICMPv6 errors (unreachable, time exceeded, packet too big), also counted in
    /// `non_tcp_packets`.
    pub icmp_errors: u64,
    /// Of those, the ones that quote no connection open at the time (another protocol, a
    /// connection not in the capture or already finished): they raise nothing.
    pub icmp_errors_no_flow: u64,
    /// Wireshark conversations forgotten to bound memory (see `flow::streams`): a pair of
    /// endpoints seen again after that gets a new `tcp_stream` where Wireshark reuses one.
    pub tcp_streams_forgotten: u64,
    /// TCP packets found inside each kind of tunnel (by [`crate::decode::Tunnel::index`]).
    pub tunneled: [u64; crate::decode::Tunnel::ALL.len()],
    /// Packets inside tunnels recognised but not opened (by
    /// [`crate::decode::Unopened::index`]).
    pub tunnels_not_decoded: [u64; crate::decode::Unopened::ALL.len()],
    /// IP fragments of TCP that did not make a datagram whole (held, timed out, or with
    /// reassembly done before this analyzer, as in a `--threads` run's dispatcher).
    pub ip_fragments: u64,
    /// IP fragment reassembly (see [`crate::decode::defrag`]).
    pub ip_defrag: crate::decode::defrag::DefragStats,
    pub decode_errors: u64,
    pub bad_checksums: u64,
    pub flows: u64,
    pub tls_flows: u64,
    /// TLS flows whose handshake was decrypted with a key log's secrets.
    pub tls_flows_decrypted: u64,
    /// TLS flows whose decryption stopped or could not start (`decryption_error`).
    pub tls_flows_decryption_failed: u64,
    /// Sessions in the key logs and the capture's secrets blocks; `None` without any.
    pub keylog_sessions: Option<u64>,
    pub flows_timed_out: u64,
    pub flows_evicted: u64,
    /// Flows finished early because all flows together buffered too much.
    pub flows_evicted_memory: u64,
    pub reassembly_gaps: u64,
    pub reassembly_gap_bytes: u64,
    pub retransmissions: u64,
    pub out_of_order: u64,
    /// TCP packets a `--filter` left out; `None` without a filter.
    pub filtered_out: Option<u64>,
    pub first_ts_us: Option<TimestampUs>,
    pub last_ts_us: Option<TimestampUs>,
}

impl CaptureStats {
    /// One warning per kind of tunnel whose packets were not looked into.
    pub fn tunnel_warnings(&self) -> Vec<String> {
        crate::decode::Unopened::ALL
            .iter()
            .filter_map(|u| {
                let n = self.tunnels_not_decoded[u.index()];
                (n > 0).then(|| {
                    format!(
                        "{n} packet{} inside {} not decoded ({})",
                        if n == 1 { "" } else { "s" },
                        u.describe(),
                        u.as_str()
                    )
                })
            })
            .collect()
    }
}

/// Everything known about one finished connection. Owned: outlives the packet buffers.
#[derive(Debug, Clone)]
pub struct FlowRecord {
    pub client: Endpoint,
    pub server: Endpoint,
    pub vlan: Vec<u16>,
    pub community_id: String,
    /// Wireshark's `tcp.stream` index of this connection in the same file.
    pub tcp_stream: u64,
    /// The frame that started that Wireshark conversation (a multi-threaded run numbers
    /// `tcp_stream` over all its shards from it).
    pub stream_created: FrameNo,
    pub first_frame: FrameNo,
    pub last_frame: FrameNo,
    pub first_ts_us: TimestampUs,
    pub last_ts_us: TimestampUs,
    /// Packets and payload bytes per direction, indexed by [`Dir::index`].
    pub packets: [u64; 2],
    pub payload_bytes: [u64; 2],
    /// First TTL (hop limit) seen per direction.
    pub ttl: [Option<u8>; 2],
    /// Lowest and highest TTL of the packets without RST per direction, to tell a RST
    /// injected by a middlebox from the peer's own packets.
    pub ttl_range: [Option<(u8, u8)>; 2],
    /// Packets (not SYN, not RST) advertising a zero receive window, per sending direction.
    pub zero_window: [u64; 2],
    pub syn: Option<FrameNo>,
    pub syn_ack: Option<FrameNo>,
    /// Capture time of the first SYN-ACK (the report's ladder draws it at its time).
    pub syn_ack_ts_us: Option<TimestampUs>,
    /// SYNs (without ACK) from the client, retransmissions included, and the capture times
    /// of the first and the last.
    pub syns: u32,
    pub syn_times: Option<(TimestampUs, TimestampUs)>,
    /// The first [`ICMP_KEPT`] ICMP errors quoting this flow, and how many there were.
    pub icmp: Vec<IcmpEvent>,
    pub icmp_count: u64,
    /// For a flow finished at the end of the capture: the start of the capture's last
    /// second (the same in every `--threads` shard), to tell how long the capture went on
    /// after the flow's last packet.
    pub capture_end_floor_us: Option<TimestampUs>,
    /// True when the connection's start (SYN) was not in the capture.
    pub midstream: bool,
    pub fin: [Option<TcpEvent>; 2],
    pub rst: [Option<TcpEvent>; 2],
    pub end: EndReason,
    pub server_port_is_tls: bool,
    /// The first payload bytes (at most [`FIRST_BYTES_KEPT`]) per direction and their frame.
    pub first_bytes: [Option<(Vec<u8>, FrameNo)>; 2],
    /// Capture times of the frames that carried cleartext (bounded).
    pub cleartext_times: Vec<(FrameNo, TimestampUs)>,
    pub preamble: PreambleFacts,
    pub tls: Option<TlsConn>,
    pub server_certs: Vec<Result<CertInfo, String>>,
    pub client_certs: Vec<Result<CertInfo, String>>,
    pub stream_stats: [StreamStats; 2],
    /// Per sending direction: bytes of the other direction's stream its ACK numbers
    /// acknowledged. In a one-sided capture they are the only trace of what the unseen side
    /// sent.
    pub acked: [AckedBytes; 2],
}

/// How far one direction's ACK numbers moved past the first one it sent (a FIN counts one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckedBytes {
    pub total: u64,
    /// The advance at each of this direction's first [`ACK_MARKS_KEPT`] segments with
    /// payload, by frame: what the peer had sent when this side sent that segment.
    pub at_payload: Vec<(FrameNo, u64)>,
}

impl AckedBytes {
    /// Bytes the peer sent after this direction's segment in `frame` (as ACKed later), if
    /// that segment is among those kept.
    pub fn after(&self, frame: FrameNo) -> Option<u64> {
        let (_, at) = self.at_payload.iter().find(|(f, _)| *f == frame)?;
        Some(self.total.saturating_sub(*at))
    }
}

/// Payload segments per direction whose ACK advance is kept: a handshake's flights.
pub const ACK_MARKS_KEPT: usize = 16;

/// What a finding needs to name its flow after the flow itself is gone: a capture rule
/// keeps these for the flows it may flag at the end of the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRef {
    pub client: Endpoint,
    pub server: Endpoint,
    pub community_id: String,
    pub vlan: Vec<u16>,
    pub tcp_stream: u64,
    /// `connect_proxy`, `socks_proxy` or `starttls` when TLS ran inside another protocol.
    pub via: Option<&'static str>,
    /// [`capture_quality_label`] of the flow.
    pub capture_quality: &'static str,
}

impl FlowRecord {
    /// The flow's identity, owned.
    pub fn flow_ref(&self) -> FlowRef {
        FlowRef {
            client: self.client,
            server: self.server,
            community_id: self.community_id.clone(),
            vlan: self.vlan.clone(),
            tcp_stream: self.tcp_stream,
            via: self.via(),
            capture_quality: capture_quality_label(self),
        }
    }

    /// How TLS was reached: `connect_proxy`, `socks_proxy`, `starttls`, or directly (`None`).
    pub fn via(&self) -> Option<&'static str> {
        self.preamble.via.map(crate::cleartext::Via::as_str)
    }

    pub fn endpoint(&self, side: Side) -> Endpoint {
        match side {
            Side::Client => self.client,
            Side::Server => self.server,
        }
    }

    /// The earliest FIN or RST of the connection: (who, how, event).
    pub fn first_close(&self) -> Option<(Side, &'static str, TcpEvent)> {
        let mut best: Option<(Side, &'static str, TcpEvent)> = None;
        for dir in [Dir::ToServer, Dir::ToClient] {
            for (how, ev) in [
                ("rst", self.rst[dir.index()]),
                ("fin", self.fin[dir.index()]),
            ] {
                if let Some(ev) = ev {
                    if best.is_none_or(|(_, _, b)| ev.frame < b.frame) {
                        best = Some((dir.sender(), how, ev));
                    }
                }
            }
        }
        best
    }

    /// Capture time of a frame that carried cleartext or TLS; the flow's start otherwise.
    pub fn ts_of(&self, frame: FrameNo) -> TimestampUs {
        self.cleartext_times
            .iter()
            .find(|(f, _)| *f == frame)
            .map(|(_, ts)| *ts)
            .or_else(|| {
                let tls = self.tls.as_ref()?;
                tls.events
                    .iter()
                    .find(|e| e.frame == frame)
                    .map(|e| e.ts_us)
            })
            .or_else(|| {
                self.fin
                    .iter()
                    .chain(&self.rst)
                    .flatten()
                    .find(|e| e.frame == frame)
                    .map(|e| e.ts_us)
            })
            .unwrap_or(self.first_ts_us)
    }

    /// Parsed leaf certificate of the server, if any.
    pub fn server_leaf(&self) -> Option<&CertInfo> {
        self.server_certs.first().and_then(|c| c.as_ref().ok())
    }

    pub fn sni(&self) -> Option<&str> {
        self.tls
            .as_ref()
            .and_then(|t| t.client_hello.as_ref())
            .and_then(|ch| ch.sni.as_deref())
    }
}

/// A connection's identity, the same for both directions: the two endpoints in a fixed
/// order and the VLAN tags. Kept to 40 bytes of plain integers (IPv4 addresses as
/// IPv4-mapped IPv6, a flag telling them from real IPv6) so hashing and comparing it,
/// once or twice per packet, is a few word operations rather than enum matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct FlowKey {
    lo_ip: [u64; 2],
    hi_ip: [u64; 2],
    /// Bits 48..64: the port of `lo_ip`; 32..48: the port of `hi_ip`; 31: IPv6; 13..26 and
    /// 0..13: the outer and inner VLAN id, each with bit 12 set when present.
    rest: u64,
}

fn ip_words(ip: IpAddr) -> ([u64; 2], bool) {
    let (bits, v6) = match ip {
        IpAddr::V4(a) => (u128::from(a.to_ipv6_mapped()), false),
        IpAddr::V6(a) => (u128::from(a), true),
    };
    ([(bits >> 64) as u64, bits as u64], v6)
}

fn vlan_bits(v: Option<u16>) -> u64 {
    v.map_or(0, |id| 0x1000 | u64::from(id & 0x0fff))
}

impl FlowKey {
    #[cfg(test)]
    fn new(pkt: &TcpPacket<'_>) -> Self {
        FlowKey::of((pkt.src, pkt.sport), (pkt.dst, pkt.dport), pkt.vlan)
    }

    fn of(src: (IpAddr, u16), dst: (IpAddr, u16), vlan: [Option<u16>; 2]) -> Self {
        Self::oriented(src, dst, vlan).0
    }

    /// The key, and 0 when `src` is its first endpoint (1 otherwise).
    fn oriented(src: (IpAddr, u16), dst: (IpAddr, u16), vlan: [Option<u16>; 2]) -> (Self, usize) {
        let (src_ip, sport) = src;
        let (dst_ip, dport) = dst;
        let (src, v6) = ip_words(src_ip);
        let (dst, _) = ip_words(dst_ip);
        let a = (src, sport);
        let b = (dst, dport);
        let dir = usize::from(a > b);
        let ((lo_ip, lo_port), (hi_ip, hi_port)) = if a <= b { (a, b) } else { (b, a) };
        let key = FlowKey {
            lo_ip,
            hi_ip,
            rest: u64::from(lo_port) << 48
                | u64::from(hi_port) << 32
                | u64::from(v6) << 31
                | vlan_bits(vlan[0]) << 13
                | vlan_bits(vlan[1]),
        };
        (key, dir)
    }

    /// Its Wireshark conversation: a hash of the endpoints without the VLAN tags.
    fn conversation(&self) -> ConvKey {
        use std::hash::BuildHasher;
        let key = FlowKey {
            rest: self.rest & !((1 << 31) - 1),
            ..*self
        };
        FixedState::with_seed(0x5eed).hash_one(key)
    }
}

/// The Wireshark conversation of a segment from `src` to `dst`: a hash of its endpoints
/// in a fixed order (without VLAN tags, which Wireshark's conversations ignore), and 0 when
/// `src` is the first of the two, 1 otherwise.
fn conversation(src: (IpAddr, u16), dst: (IpAddr, u16)) -> (ConvKey, usize) {
    let (key, dir) = FlowKey::oriented(src, dst, [None, None]);
    (key.conversation(), dir)
}

/// A hash of the packet's connection, the same for both directions: what a `--threads N`
/// run shards connections by. Its Wireshark conversation's, so that one shard numbers all
/// of a conversation's flows (the same ports on two VLANs included).
pub fn connection_hash(pkt: &TcpPacket<'_>) -> u64 {
    conversation((pkt.src, pkt.sport), (pkt.dst, pkt.dport)).0
}

/// [`connection_hash`] of the connection an ICMP error quotes, so that the error goes to
/// the shard that holds the connection; `None` when it quotes none.
pub fn icmp_connection_hash(e: &IcmpError) -> Option<u64> {
    let q = e.quoted?;
    Some(conversation((q.src, q.sport), (q.dst, q.dport)).0)
}

/// Where a direction's reassembled bytes go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Cleartext phase: plaintext protocols, STARTTLS, CONNECT.
    Preamble,
    Tls,
}

/// The application-layer side of a flow, kept apart from the reassemblers so both can be
/// borrowed mutably at once. Each direction switches to TLS on its own: after a pipelined
/// CONNECT the proxy's "200" still arrives in cleartext after the client's ClientHello.
struct AppState {
    mode: [Mode; 2],
    preamble: Preamble,
    tls: Option<TlsConn>,
    /// The run's TLS secrets, handed to the connection's TLS state when it starts if the
    /// run has any by then (a pcapng's Decryption Secrets Block is read after the SYN that
    /// opened the first flow), so that most runs look nothing up.
    keys: std::sync::Arc<crate::keylog::KeyStore>,
    first_bytes: [Option<(Vec<u8>, FrameNo)>; 2],
    /// Capture times of the frames that carried cleartext, so findings about the
    /// cleartext phase are stamped with their decisive packet's time.
    cleartext_times: Vec<(FrameNo, TimestampUs)>,
}

/// Cleartext frames whose time is remembered per flow (the phase is short; bound it anyway).
const MAX_CLEARTEXT_TIMES: usize = 256;

impl AppState {
    fn on_chunk(&mut self, dir: Dir, chunk: StreamChunk<'_>, frame: FrameNo, ts_us: TimestampUs) {
        let d = dir.index();
        match chunk {
            StreamChunk::Gap { .. } => {
                if let (Mode::Tls, Some(tls)) = (self.mode[d], self.tls.as_mut()) {
                    tls.gap(dir, frame, ts_us);
                }
            }
            StreamChunk::Data(data) => {
                if data.is_empty() {
                    return;
                }
                if self.first_bytes[d].is_none() {
                    let kept = data.get(..FIRST_BYTES_KEPT).unwrap_or(data);
                    self.first_bytes[d] = Some((kept.to_vec(), frame));
                }
                if (self.mode[d] == Mode::Preamble
                    || self.first_bytes[d].as_ref().is_some_and(|f| f.1 == frame))
                    && self.cleartext_times.len() < MAX_CLEARTEXT_TIMES
                    && self.cleartext_times.last().is_none_or(|(f, _)| *f != frame)
                {
                    self.cleartext_times.push((frame, ts_us));
                }
                let tls_part = match self.mode[d] {
                    Mode::Tls => data,
                    Mode::Preamble => {
                        let fed = self.preamble.feed(dir, data, frame, ts_us);
                        if !fed.tls_starts {
                            return;
                        }
                        self.mode[d] = Mode::Tls;
                        data.get(fed.consumed..).unwrap_or_default()
                    }
                };
                let keys = &self.keys;
                let tls = self.tls.get_or_insert_with(|| {
                    if keys.in_use() {
                        TlsConn::with_keys(keys.clone())
                    } else {
                        TlsConn::new()
                    }
                });
                if !tls_part.is_empty() {
                    tls.feed(dir, tls_part, frame, ts_us);
                }
            }
        }
    }
}

/// The cheap, copyable part of a flow: identity, counters, SYNs. What only a flow that is
/// more than SYNs needs is in [`Extra`], boxed: the header's size is what a SYN flood costs.
struct FlowHeader {
    client: Endpoint,
    server: Endpoint,
    vlan: [Option<u16>; 2],
    stream: Stream,
    first_frame: FrameNo,
    last_frame: FrameNo,
    first_ts_us: TimestampUs,
    last_ts_us: TimestampUs,
    packets: [u64; 2],
    ttl: [Option<u8>; 2],
    ttl_range: [Option<(u8, u8)>; 2],
    syn: Option<FrameNo>,
    syns: u32,
    /// The first and last SYN's times, when `syns > 0` (no `Option`: the eight bytes that
    /// make the flow fit mimalloc's 192-byte size class).
    syn_times: [TimestampUs; 2],
    server_port_is_tls: bool,
    /// The ISN of each direction's last SYN while the flow has no [`Live`] state yet (it
    /// is applied when the state is made).
    isn: [u32; 2],
    /// Which of `isn` is set (two flags beside the other small fields, not two `Option`s:
    /// eight bytes less per flow).
    isn_set: [bool; 2],
    /// Made by the first packet that is not a SYN without ACK (see [`FlowHeader::x_mut`]).
    extra: Option<Box<Extra>>,
}

/// The counters and TCP control events of a flow that got more than SYNs: a SYN-ACK, an
/// ACK, data, a FIN or RST, a zero window or an ICMP error: 216 bytes a SYN-only flow
/// does not carry.
#[derive(Clone, Copy)]
struct Extra {
    payload_bytes: [u64; 2],
    /// Saturating (the record widens it): four bytes less per open flow.
    zero_window: [u32; 2],
    syn_ack: Option<FrameNo>,
    syn_ack_ts_us: Option<TimestampUs>,
    /// Saturating (the record widens it).
    icmp_count: u32,
    fin: [Option<TcpEvent>; 2],
    rst: [Option<TcpEvent>; 2],
    /// Bytes this flow buffered after its last packet (counted in the analyzer's total).
    buffered: usize,
    /// Per sending direction: the first ACK number and how far later ones moved past it.
    acks: [AckSpan; 2],
}

impl Extra {
    const NONE: Extra = Extra {
        payload_bytes: [0; 2],
        zero_window: [0; 2],
        syn_ack: None,
        syn_ack_ts_us: None,
        icmp_count: 0,
        fin: [None; 2],
        rst: [None; 2],
        buffered: 0,
        acks: [AckSpan::NONE; 2],
    };

    fn swap_dirs(&mut self) {
        self.payload_bytes.swap(0, 1);
        self.zero_window.swap(0, 1);
        self.fin.swap(0, 1);
        self.rst.swap(0, 1);
        self.acks.swap(0, 1);
    }
}

impl FlowHeader {
    /// The flow's [`Extra`], all zero and none while it is SYNs only.
    fn x(&self) -> &Extra {
        self.extra.as_deref().unwrap_or(&Extra::NONE)
    }

    fn x_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(|| Box::new(Extra::NONE))
    }
}

/// The acknowledgment numbers one direction sent: the first, and the furthest advance past
/// it (sequence arithmetic, so wrap-around and old duplicate ACKs are harmless). Eight
/// bytes, no `Option`: the flow header's size is what a SYN flood costs.
#[derive(Clone, Copy)]
struct AckSpan {
    first: u32,
    /// [`AckSpan::NONE`] until the first ACK; never 2^31 or more after it.
    advance: u32,
}

impl AckSpan {
    const NONE: AckSpan = AckSpan {
        first: 0,
        advance: u32::MAX,
    };

    fn on_ack(&mut self, ack: u32) {
        if self.advance == u32::MAX {
            *self = AckSpan {
                first: ack,
                advance: 0,
            };
            return;
        }
        let delta = ack.wrapping_sub(self.first);
        // Past half the sequence space it is an ACK from before the first one.
        if delta < 1 << 31 && delta > self.advance {
            self.advance = delta;
        }
    }

    /// Bytes acknowledged past the first ACK (0 before any).
    fn acked(self) -> u64 {
        if self.advance == u32::MAX {
            0
        } else {
            u64::from(self.advance)
        }
    }
}

/// The heavy part of an open flow: reassembly buffers and protocol state.
struct Live {
    streams: [DirStream; 2],
    app: AppState,
    icmp: Vec<IcmpEvent>,
    /// Per direction: (frame, ACK advance) of its first payload segments (see
    /// [`AckedBytes::at_payload`]).
    ack_marks: [Vec<(FrameNo, u64)>; 2],
}

impl Live {
    fn buffered_bytes(&self) -> usize {
        self.streams[0].buffered_bytes()
            + self.streams[1].buffered_bytes()
            + self.app.tls.as_ref().map_or(0, TlsConn::buffered_bytes)
    }
}

impl Live {
    /// The state of a flow that had no payload (nor ICMP error) until now: what it would
    /// be had it been made with the flow, since a SYN only sets its direction's ISN.
    fn new(config: &AnalyzerConfig, h: &FlowHeader) -> Box<Live> {
        let limits = &config.reassembly;
        let mut streams = [
            DirStream::new(limits.clone()),
            DirStream::new(limits.clone()),
        ];
        for ((stream, isn), set) in streams.iter_mut().zip(h.isn).zip(h.isn_set) {
            if set {
                stream.set_isn(isn);
            }
        }
        Box::new(Live {
            streams,
            app: AppState {
                mode: [Mode::Preamble; 2],
                preamble: Preamble::new(h.server.port),
                tls: None,
                keys: config.keys.clone(),
                first_bytes: [None, None],
                cleartext_times: Vec::new(),
            },
            icmp: Vec::new(),
            ack_marks: [Vec::new(), Vec::new()],
        })
    }
}

/// An open flow. A finished one leaves the table of open flows (see [`Finished`]).
struct Flow {
    h: FlowHeader,
    /// Made on the first payload or ICMP error: a SYN flood's flows never have one, and
    /// cost only their header (the state is 20 times its size).
    live: Option<Box<Live>>,
}

impl Flow {
    fn live(&mut self, config: &AnalyzerConfig) -> &mut Live {
        let h = &self.h;
        self.live.get_or_insert_with(|| Live::new(config, h))
    }
}

/// Both FINs (the last ACK not captured), or a RST: a flow that ended, not one cut off.
fn closed(h: &FlowHeader) -> bool {
    h.x().fin.iter().all(Option::is_some) || h.x().rst.iter().any(Option::is_some)
}

/// What is kept of a finished flow until its idle timeout, so that late ACKs and
/// retransmissions of a finished connection are not taken for a new flow picked up
/// mid-stream: two numbers, in a table of their own. Most of a run's tracked connections
/// are finished ones waiting out the timeout; as whole flows in the table of open ones they
/// were a third of the memory, and they made every packet's lookup miss the cache.
#[derive(Clone, Copy)]
struct Finished {
    first_frame: FrameNo,
    last_ts_us: TimestampUs,
}

/// A table entry taken out of either table.
enum Slot {
    Open(Box<Flow>),
    Finished,
}

impl Flow {
    fn into_record(
        self,
        end: EndReason,
        capture_end_floor_us: Option<TimestampUs>,
        certs: &mut CertCache,
        config: &AnalyzerConfig,
    ) -> FlowRecord {
        let h = self.h;
        let x = *h.x();
        let mut live = self.live.unwrap_or_else(|| Live::new(config, &h));
        let (last_frame, last_ts) = (h.last_frame, h.last_ts_us);
        for dir in [Dir::ToServer, Dir::ToClient] {
            let Live { streams, app, .. } = &mut *live;
            streams[dir.index()].flush(&mut |chunk| {
                app.on_chunk(dir, chunk, last_frame, last_ts);
            });
        }
        let mut tls = live.app.tls.take();
        if let Some(t) = tls.as_mut() {
            // A handshake message still incomplete now never will be: say so.
            t.finish(last_frame, last_ts);
        }
        let (server_certs, client_certs) = match &tls {
            Some(t) => (
                t.server_cert_der.iter().map(|d| certs.parse(d)).collect(),
                t.client_cert_der.iter().map(|d| certs.parse(d)).collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let community_id =
            community_id_v1(h.client.ip, h.server.ip, h.client.port, h.server.port, 6, 0);
        FlowRecord {
            client: h.client,
            server: h.server,
            vlan: h.vlan.iter().flatten().copied().collect(),
            community_id,
            tcp_stream: h.stream.number,
            stream_created: h.stream.created,
            first_frame: h.first_frame,
            last_frame: h.last_frame,
            first_ts_us: h.first_ts_us,
            last_ts_us: h.last_ts_us,
            packets: h.packets,
            payload_bytes: x.payload_bytes,
            ttl: h.ttl,
            ttl_range: h.ttl_range,
            zero_window: x.zero_window.map(u64::from),
            syn: h.syn,
            syn_ack: x.syn_ack,
            syn_ack_ts_us: x.syn_ack_ts_us,
            syns: h.syns,
            syn_times: (h.syns > 0).then_some((h.syn_times[0], h.syn_times[1])),
            icmp: std::mem::take(&mut live.icmp),
            icmp_count: u64::from(x.icmp_count),
            capture_end_floor_us: capture_end_floor_us.filter(|_| end == EndReason::CaptureEnd),
            midstream: h.syn.is_none() && x.syn_ack.is_none(),
            fin: x.fin,
            rst: x.rst,
            end,
            server_port_is_tls: h.server_port_is_tls,
            first_bytes: std::mem::take(&mut live.app.first_bytes),
            cleartext_times: std::mem::take(&mut live.app.cleartext_times),
            preamble: live.app.preamble.facts().clone(),
            tls,
            server_certs,
            client_certs,
            stream_stats: [
                live.streams[0].stats().clone(),
                live.streams[1].stats().clone(),
            ],
            acked: [0, 1].map(|d| AckedBytes {
                total: x.acks[d].acked(),
                at_payload: std::mem::take(&mut live.ack_marks[d]),
            }),
        }
    }
}

/// The per-capture analysis state: feed packets in capture order, collect finished flows.
pub struct Analyzer {
    config: AnalyzerConfig,
    /// Boxed so the table's buckets stay small: growing it moves 48-byte entries, and a
    /// lookup's probe walks a dense array (it moved whole flow headers before, a sixth of
    /// a run in rehashing and page faults on the benchmark capture).
    flows: FlowMap<Box<Flow>>,
    /// Finished flows waiting out the idle timeout (never the key of an open flow).
    finished_flows: FlowMap<Finished>,
    /// Idle-timeout queue: (last activity when queued, first frame, key), in buckets by the
    /// capture second of that activity. An entry is checked against its flow's real last
    /// activity when it comes due, and queued again if the flow was active since, so a
    /// sweep only looks at the flows that may have expired instead of the whole table.
    /// Entries of flows that finished otherwise are dropped when they come due (the first
    /// frame tells generations apart). Buckets rather than a heap: every flow gets an
    /// entry, and a heap's sifting through 56-byte entries was 5% of a run.
    idle_queue: BTreeMap<i64, Vec<(TimestampUs, FrameNo, FlowKey)>>,
    /// Wireshark's stream numbers, which our flows take (see [`streams`]).
    streams: StreamNumbers,
    stats: CaptureStats,
    finished: Vec<FlowRecord>,
    /// Capture second (µs / 10^6, floored) of the last sweep.
    last_sweep_sec: i64,
    /// Multi-threaded runs: how many open flows belong to the conversation created at each
    /// frame (see [`Analyzer::oldest_stream_needed`]).
    track_streams: bool,
    open_streams: BTreeMap<FrameNo, u32>,
    /// Sum of every open flow's `FlowHeader::buffered`.
    buffered_total: usize,
    /// Parsed certificates, shared by the flows of this analyzer.
    certs: CertCache,
    /// End of capture: the open flows not finished yet, latest first (the table's boxes,
    /// moved rather than copied out).
    #[allow(clippy::vec_box)]
    closing: Vec<Box<Flow>>,
    /// `None` when fragments are reassembled before this analyzer (by the dispatcher of a
    /// `--threads` run, which routes whole datagrams to their connection's shard).
    defrag: Option<Box<crate::decode::defrag::Defrag>>,
}

impl Analyzer {
    pub fn new(config: AnalyzerConfig) -> Self {
        let stats = CaptureStats {
            filtered_out: config.filter.is_some().then_some(0),
            ..CaptureStats::default()
        };
        // Twice the flow table: a connection's pair is remembered well after its flow ends
        // (a late RST, a retried connect), at 40 bytes or so a conversation.
        let streams = StreamNumbers::new(config.max_flows.saturating_mul(2).max(1024));
        Analyzer {
            config,
            flows: FlowMap::default(),
            finished_flows: FlowMap::default(),
            idle_queue: BTreeMap::new(),
            streams,
            stats,
            finished: Vec::new(),
            last_sweep_sec: i64::MIN,
            track_streams: false,
            open_streams: BTreeMap::new(),
            buffered_total: 0,
            certs: CertCache::default(),
            closing: Vec::new(),
            defrag: Some(Box::default()),
        }
    }

    /// Fragments reach this analyzer already reassembled (see [`Analyzer::defrag`]'s field).
    pub fn defrag_upstream(&mut self) {
        self.defrag = None;
    }

    /// Record the frame that created every Wireshark conversation (see
    /// [`Analyzer::take_created`]) and which of them open flows belong to (see
    /// [`Analyzer::oldest_stream_needed`]): what a multi-threaded run needs to number
    /// `tcp_stream` over all its shards.
    pub fn track_streams(&mut self) {
        self.track_streams = true;
        self.streams.track_created();
    }

    /// Creation frames of the conversations created since the last call, in order.
    pub fn take_created(&mut self, into: &mut Vec<FrameNo>) {
        self.streams.take_created(into);
    }

    /// No flow still to finish here belongs to a conversation created before this frame
    /// (with [`Analyzer::track_streams`]): the oldest of the open flows' and of the
    /// remembered conversations', which a later flow may join.
    pub fn oldest_stream_needed(&self) -> Option<FrameNo> {
        let open = self.open_streams.keys().next().copied();
        match (open, self.streams.oldest_remembered()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when finished flows are waiting for [`Analyzer::take_finished`].
    pub fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// Move the finished flows into `into` (keeps both allocations).
    pub fn drain_finished(&mut self, into: &mut Vec<FlowRecord>) {
        into.append(&mut self.finished);
    }

    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    /// Flows open right now (finished ones waiting out the idle timeout excluded).
    pub fn open_flows(&self) -> usize {
        self.flows.len()
    }

    /// Finished flows since the last call, in the order they finished.
    pub fn take_finished(&mut self) -> Vec<FlowRecord> {
        std::mem::take(&mut self.finished)
    }

    pub fn packet(&mut self, pkt: &Packet<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(pkt.orig_len);
        if self.stats.first_ts_us.is_none() {
            self.stats.first_ts_us = Some(pkt.ts_us);
        }
        self.stats.last_ts_us = Some(pkt.ts_us);
        self.sweep(pkt.ts_us);
        self.decoded(pkt, true);
    }

    /// The frame after its counting: `reassemble` is false for a datagram just made whole
    /// (its payload cannot be a fragment of another one worth holding).
    fn decoded(&mut self, pkt: &Packet<'_>, reassemble: bool) {
        match decode(pkt.linktype, pkt.data) {
            Ok(Decoded::Tcp(tcp)) => {
                // Numbered before the filter: Wireshark numbers the whole capture.
                let (key, dir) =
                    FlowKey::oriented((tcp.src, tcp.sport), (tcp.dst, tcp.dport), tcp.vlan);
                let stream = self.stream_of(&tcp, key.conversation(), dir, pkt.frame);
                if let Some(filter) = &self.config.filter {
                    if !filter.matches(&tcp) {
                        *self.stats.filtered_out.get_or_insert(0) += 1;
                        return;
                    }
                }
                self.stats.tcp_packets += 1;
                if let Some(t) = tcp.tunnel {
                    self.stats.tunneled[t.index()] += 1;
                }
                if tcp.checksum_ok == Some(false) {
                    self.stats.bad_checksums += 1;
                }
                self.tcp_packet(&tcp, key, stream, pkt.frame, pkt.ts_us);
            }
            Ok(Decoded::NotTcp) => self.stats.non_tcp_packets += 1,
            Ok(Decoded::IcmpError(e)) => {
                self.stats.non_tcp_packets += 1;
                self.stats.icmp_errors += 1;
                self.icmp_error(&e, pkt.frame, pkt.ts_us);
            }
            Ok(Decoded::IpFragment { ip_at }) => {
                let Some(defrag) = self.defrag.as_mut().filter(|_| reassemble) else {
                    self.stats.ip_fragments += 1;
                    return;
                };
                let offer = defrag.offer(pkt.data, ip_at, pkt.ts_us);
                self.stats.ip_defrag = *defrag.stats();
                match offer {
                    Offer::Whole(data) => {
                        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
                        let whole = Packet {
                            data: &data,
                            orig_len,
                            ..*pkt
                        };
                        self.decoded(&whole, false);
                    }
                    Offer::Held => self.stats.ip_fragments += 1,
                }
            }
            Ok(Decoded::NotDecoded(why)) => {
                self.stats.non_tcp_packets += 1;
                self.stats.tunnels_not_decoded[why.index()] += 1;
            }
            Err(_) => self.stats.decode_errors += 1,
        }
    }

    /// Attach an ICMP error to the open flow whose segment it quotes. It never creates a
    /// flow, and does not count as the flow's activity (a router answering every
    /// retransmission must not keep a dead connection from timing out).
    fn icmp_error(&mut self, e: &IcmpError, frame: FrameNo, ts_us: TimestampUs) {
        if let Some(q) = e.quoted {
            if let Some(flags) = q.flags {
                let (key, dir) = conversation((q.src, q.sport), (q.dst, q.dport));
                let syn = flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
                let stream = self.streams.quoted(key, dir, q.seq.filter(|_| syn), frame);
                // A quoted SYN with another ISN restarted the conversation: the open flow
                // belongs to the old one, its next packets to the new one.
                if stream.created == frame {
                    let quoted = FlowKey::of((q.src, q.sport), (q.dst, q.dport), e.vlan);
                    if let Some(old) = self.flows.remove(&quoted) {
                        self.finish_flow(*old, EndReason::Closed);
                    }
                }
            }
        }
        let flow = e.quoted.and_then(|q| {
            let key = FlowKey::of((q.src, q.sport), (q.dst, q.dport), e.vlan);
            Some((q, self.flows.get_mut(&key)?))
        });
        let Some((q, flow)) = flow else {
            self.stats.icmp_errors_no_flow += 1;
            return;
        };
        let h = &mut flow.h;
        let x = h.x_mut();
        x.icmp_count = x.icmp_count.saturating_add(1);
        let about = if q.src == h.client.ip && q.sport == h.client.port {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let live = flow.live(&self.config);
        if live.icmp.len() < ICMP_KEPT {
            live.icmp.push(IcmpEvent {
                frame,
                ts_us,
                sender: e.sender,
                about,
                v6: e.v6,
                icmp_type: e.icmp_type,
                code: e.code,
                name: e.name,
                mtu: e.mtu,
            });
        }
    }

    /// Finish every open flow (end of capture), in the order they started.
    pub fn finish(&mut self) {
        while self.finish_some(usize::MAX) {}
    }

    /// [`Analyzer::finish`] at most `max` flows at a time: true while open flows remain
    /// (call again, after taking the finished ones). A SYN flood leaves the whole table
    /// open at the end, and its records made at once were most of the run's peak memory.
    pub fn finish_some(&mut self, max: usize) -> bool {
        if self.closing.is_empty() {
            self.closing = self.flows.drain().map(|(_, f)| f).collect();
            self.finished_flows.clear();
            self.idle_queue.clear();
            // Latest first: they are taken from the end.
            self.closing
                .sort_by_key(|f| std::cmp::Reverse(f.h.first_frame));
        }
        for _ in 0..max {
            let Some(flow) = self.closing.pop() else {
                break;
            };
            // Both FINs seen, the last ACK not captured (yet): closed all the same.
            let end = if closed(&flow.h) {
                EndReason::Closed
            } else {
                EndReason::CaptureEnd
            };
            self.finish_flow(*flow, end);
        }
        !self.closing.is_empty()
    }

    /// Run the idle-timeout sweep at `now_us` without a packet: live capture calls this on a
    /// wall-clock tick so quiet flows still time out when the link is silent.
    pub fn tick(&mut self, now_us: TimestampUs) {
        self.sweep(now_us);
    }

    /// Finish flows idle for longer than the timeout. Runs once per capture second, at the
    /// first packet (or tick) of that second, and measures idleness from the start of the
    /// second: so which flows time out does not depend on which packets this analyzer sees
    /// besides the flow's own (the flows of a `--threads N` shard time out exactly as in
    /// one analyzer over the whole capture).
    fn sweep(&mut self, now: TimestampUs) {
        let sec = now.div_euclid(1_000_000);
        if sec <= self.last_sweep_sec {
            return;
        }
        self.last_sweep_sec = sec;
        let now = sec.saturating_mul(1_000_000);
        let timeout = self.config.idle_timeout_us;
        let mut expired: Vec<(FrameNo, FlowKey)> = Vec::new();
        // Due: queued more than `timeout` before `now`.
        let due = |queued_ts: TimestampUs| now.saturating_sub(queued_ts) > timeout;
        while let Some(first_bucket) = self.idle_queue.first_entry() {
            let bucket_sec = *first_bucket.key();
            if !due(bucket_sec.saturating_mul(1_000_000)) {
                break; // not even the bucket's earliest possible entry is due
            }
            // A bucket whose latest possible entry is due too is taken whole; otherwise
            // its due entries are, and no later bucket has any.
            let whole = due(bucket_sec.saturating_add(1).saturating_mul(1_000_000) - 1);
            let mut bucket = first_bucket.remove();
            let mut waiting = Vec::new();
            if !whole {
                (bucket, waiting) = bucket.into_iter().partition(|e| due(e.0));
            }
            for (_, first, key) in bucket {
                self.check_idle(first, key, now, &mut expired);
            }
            if !whole {
                self.idle_queue
                    .entry(bucket_sec)
                    .or_default()
                    .extend(waiting);
                break;
            }
        }
        expired.sort_unstable_by_key(|(first, _)| *first);
        for (_, key) in expired {
            // A reset flow at the end of its grace period: closed, and its key kept for the
            // late segments still to come.
            if let Some(last_ts) = self
                .flows
                .get(&key)
                .filter(|f| f.h.x().rst.iter().any(Option::is_some))
                .map(|f| f.h.last_ts_us)
            {
                self.close_flow(key, last_ts);
                continue;
            }
            if let Some(slot) = self.remove(&key) {
                let end = match &slot {
                    Slot::Open(f) if closed(&f.h) => EndReason::Closed,
                    Slot::Open(_) => {
                        self.stats.flows_timed_out += 1;
                        EndReason::Timeout
                    }
                    Slot::Finished => EndReason::Timeout,
                };
                self.finish_slot(slot, end);
            }
        }
    }

    /// Queues a flow's idle-timeout check from its activity at `ts_us`.
    fn queue_idle(&mut self, ts_us: TimestampUs, first: FrameNo, key: FlowKey) {
        self.idle_queue
            .entry(ts_us.div_euclid(1_000_000))
            .or_default()
            .push((ts_us, first, key));
    }

    /// A due idle-queue entry: the flow (if still the same generation) has expired, or
    /// was active since and is queued again.
    fn check_idle(
        &mut self,
        first: FrameNo,
        key: FlowKey,
        now: TimestampUs,
        expired: &mut Vec<(FrameNo, FlowKey)>,
    ) {
        let entry = match self.flows.get(&key) {
            // A reset flow whose grace period is over is due whatever its last activity.
            Some(f)
                if reset::first_reset(&f.h.x().rst)
                    .is_some_and(|(_, e)| reset::grace_over(e, now)) =>
            {
                Some((f.h.first_frame, TimestampUs::MIN))
            }
            Some(f) => Some((f.h.first_frame, f.h.last_ts_us)),
            None => self
                .finished_flows
                .get(&key)
                .map(|f| (f.first_frame, f.last_ts_us)),
        };
        match entry {
            Some((f_first, last_ts)) if f_first == first => {
                if now.saturating_sub(last_ts) > self.config.idle_timeout_us {
                    expired.push((first, key));
                } else {
                    self.queue_idle(last_ts, first, key);
                }
            }
            _ => {} // gone otherwise; a newer flow on the key has its own entry
        }
    }

    /// Make room in a full table: finish the oldest idle sixteenth of it at once (finished
    /// flows waiting out the timeout first), so a flood of new flows costs O(log n) each
    /// instead of a full scan per packet.
    fn evict_oldest(&mut self) {
        let batch = (self.config.max_flows / 16).max(1);
        let open = self
            .flows
            .iter()
            .map(|(k, f)| ((true, f.h.last_ts_us, f.h.first_frame), *k));
        let finished = self
            .finished_flows
            .iter()
            .map(|(k, f)| ((false, f.last_ts_us, f.first_frame), *k));
        let mut ages: Vec<((bool, TimestampUs, FrameNo), FlowKey)> = open.chain(finished).collect();
        if ages.len() > batch {
            ages.select_nth_unstable_by_key(batch - 1, |(age, _)| *age);
            ages.truncate(batch);
        }
        ages.sort_unstable_by_key(|(age, _)| *age);
        for (_, key) in ages {
            if let Some(slot) = self.remove(&key) {
                if matches!(slot, Slot::Open(_)) {
                    self.stats.flows_evicted += 1;
                }
                self.finish_slot(slot, EndReason::Evicted);
            }
        }
        self.drop_stale_idle_entries();
    }

    /// Evicted flows leave their idle-queue entries behind until they come due (then
    /// ignored): under a flood of new flows within the idle timeout that is one entry per
    /// flow ever seen (56 MiB for a million SYNs). Once stale entries outnumber the tracked
    /// flows, they are dropped; an entry is stale for good once its flow generation (key
    /// and first frame) is in neither table, as a new flow on the key has a new first frame.
    fn drop_stale_idle_entries(&mut self) {
        let tracked = self.flows.len() + self.finished_flows.len();
        let queued: usize = self.idle_queue.values().map(Vec::len).sum();
        if queued <= 2 * tracked + 1024 {
            return;
        }
        let (flows, finished) = (&self.flows, &self.finished_flows);
        let current = |first: FrameNo, key: &FlowKey| match flows.get(key) {
            Some(f) => f.h.first_frame == first,
            None => finished.get(key).is_some_and(|f| f.first_frame == first),
        };
        for bucket in self.idle_queue.values_mut() {
            bucket.retain(|(_, first, key)| current(*first, key));
        }
        self.idle_queue.retain(|_, bucket| !bucket.is_empty());
    }

    /// Takes the key's entry out of whichever table holds it.
    fn remove(&mut self, key: &FlowKey) -> Option<Slot> {
        match self.flows.remove(key) {
            Some(flow) => Some(Slot::Open(flow)),
            None => self.finished_flows.remove(key).map(|_| Slot::Finished),
        }
    }

    /// Finish a table entry removed from the table (what is kept of a finished flow
    /// produces nothing).
    fn finish_slot(&mut self, slot: Slot, end: EndReason) {
        if let Slot::Open(flow) = slot {
            self.finish_flow(*flow, end);
        }
    }

    /// Turn a flow into its record and queue it.
    fn finish_flow(&mut self, flow: Flow, end: EndReason) {
        self.buffered_total = self.buffered_total.saturating_sub(flow.h.x().buffered);
        if self.track_streams {
            let created = flow.h.stream.created;
            if let Some(n) = self.open_streams.get_mut(&created) {
                *n -= 1;
                if *n == 0 {
                    self.open_streams.remove(&created);
                }
            }
        }
        let capture_end =
            (self.last_sweep_sec > i64::MIN).then(|| self.last_sweep_sec.saturating_mul(1_000_000));
        let record = flow.into_record(end, capture_end, &mut self.certs, &self.config);
        for s in &record.stream_stats {
            self.stats.reassembly_gaps += s.gaps;
            self.stats.reassembly_gap_bytes += s.gap_bytes;
            self.stats.retransmissions += s.retransmitted;
            self.stats.out_of_order += s.out_of_order;
        }
        if let Some(tls) = &record.tls {
            self.stats.tls_flows += 1;
            if tls.decrypted() {
                self.stats.tls_flows_decrypted += 1;
            }
            if tls.decryption_error.is_some() {
                self.stats.tls_flows_decryption_failed += 1;
            }
        }
        self.finished.push(record);
    }

    /// Decide who is the client of a connection whose first packet we see.
    fn roles(&self, pkt: &TcpPacket<'_>) -> (Endpoint, Endpoint) {
        let src = Endpoint {
            ip: pkt.src,
            port: pkt.sport,
        };
        let dst = Endpoint {
            ip: pkt.dst,
            port: pkt.dport,
        };
        if pkt.flags & tcp_flags::SYN != 0 {
            return if pkt.flags & tcp_flags::ACK != 0 {
                (dst, src)
            } else {
                (src, dst)
            };
        }
        // Picked up mid-stream (the SYN was not captured, or was dropped): a hello says who
        // is who, else the side on a TLS port serves, else the well-known port.
        match hello_sender(pkt.payload) {
            Some(Side::Client) => return (src, dst),
            Some(Side::Server) => return (dst, src),
            None => {}
        }
        let src_tls = self.config.is_tls_port(pkt.sport);
        let dst_tls = self.config.is_tls_port(pkt.dport);
        if src_tls != dst_tls {
            return if src_tls { (dst, src) } else { (src, dst) };
        }
        if pkt.sport < 1024 && pkt.dport >= 1024 {
            return (dst, src);
        }
        (src, dst)
    }

    /// The Wireshark stream of a segment (see [`streams`]).
    fn stream_of(
        &mut self,
        pkt: &TcpPacket<'_>,
        key: ConvKey,
        dir: usize,
        frame: FrameNo,
    ) -> Stream {
        let segment = Segment {
            dir,
            syn: pkt.flags & tcp_flags::SYN != 0,
            ack_flag: pkt.flags & tcp_flags::ACK != 0,
            seq: pkt.seq,
            ack: pkt.ack,
        };
        let stream = self.streams.segment(key, segment, frame);
        self.stats.tcp_streams_forgotten = self.streams.forgotten;
        stream
    }

    fn new_flow(
        &mut self,
        pkt: &TcpPacket<'_>,
        stream: Stream,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) -> Flow {
        let (client, server) = self.roles(pkt);
        self.stats.flows += 1;
        if self.track_streams {
            *self.open_streams.entry(stream.created).or_insert(0) += 1;
        }
        Flow {
            h: FlowHeader {
                client,
                server,
                vlan: pkt.vlan,
                stream,
                first_frame: frame,
                last_frame: frame,
                first_ts_us: ts_us,
                last_ts_us: ts_us,
                packets: [0; 2],
                ttl: [None; 2],
                ttl_range: [None; 2],
                syn: None,
                syns: 0,
                syn_times: [0; 2],
                server_port_is_tls: self.config.is_tls_port(server.port),
                isn: [0; 2],
                isn_set: [false; 2],
                extra: None,
            },
            live: None,
        }
    }

    fn tcp_packet(
        &mut self,
        pkt: &TcpPacket<'_>,
        key: FlowKey,
        stream: Stream,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let is_syn = pkt.flags & tcp_flags::SYN != 0 && pkt.flags & tcp_flags::ACK == 0;

        // A flow never spans two Wireshark streams: a SYN with another ISN started a new one
        // (only a packet that created its conversation can find an older flow on its key).
        if stream.created == frame
            && self
                .flows
                .get(&key)
                .is_some_and(|f| f.h.stream.created != stream.created)
        {
            if let Some(old) = self.remove(&key) {
                self.finish_slot(old, EndReason::Closed);
            }
        }
        // A new SYN on a finished or closing connection's tuple starts a new connection
        // (in the same Wireshark stream when it repeats the ISN: a refused connect retried).
        if is_syn {
            let reused = match self.flows.get(&key) {
                Some(f) => {
                    let x = f.h.x();
                    x.fin.iter().chain(&x.rst).any(Option::is_some)
                }
                None => self.finished_flows.contains_key(&key),
            };
            if reused {
                if let Some(old) = self.remove(&key) {
                    self.finish_slot(old, EndReason::Closed);
                }
            }
        }
        if self.flows.get(&key).is_some_and(|f| {
            reset::first_reset(&f.h.x().rst).is_some_and(|(_, e)| reset::grace_over(e, ts_us))
        }) {
            self.close_flow(key, ts_us);
        }
        if !self.flows.contains_key(&key) {
            if let Some(late) = self.finished_flows.get_mut(&key) {
                late.last_ts_us = ts_us;
                return;
            }
            if self.flows.len() + self.finished_flows.len() >= self.config.max_flows {
                self.evict_oldest();
            }
            let flow = self.new_flow(pkt, stream, frame, ts_us);
            self.queue_idle(ts_us, frame, key);
            self.flows.insert(key, Box::new(flow));
        }
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        if !pkt.payload.is_empty() {
            settle_roles(&self.config, flow, pkt);
        }
        flow.h.last_ts_us = ts_us;
        let Flow { h, live } = &mut **flow;
        h.last_frame = frame;
        let dir = if pkt.src == h.client.ip && pkt.sport == h.client.port {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let d = dir.index();
        h.packets[d] += 1;
        h.ttl[d].get_or_insert(pkt.ttl);
        if pkt.flags & tcp_flags::RST == 0 {
            let r = h.ttl_range[d].get_or_insert((pkt.ttl, pkt.ttl));
            *r = (r.0.min(pkt.ttl), r.1.max(pkt.ttl));
            if pkt.window == 0 && pkt.flags & tcp_flags::SYN == 0 {
                let x = h.x_mut();
                x.zero_window[d] = x.zero_window[d].saturating_add(1);
            }
        }

        if pkt.flags & tcp_flags::ACK != 0 && pkt.flags & tcp_flags::RST == 0 {
            h.x_mut().acks[d].on_ack(pkt.ack);
        }
        if pkt.flags & tcp_flags::SYN != 0 {
            if dir == Dir::ToServer {
                h.syn.get_or_insert(frame);
                if pkt.flags & tcp_flags::ACK == 0 {
                    if h.syns == 0 {
                        h.syn_times[0] = ts_us;
                    }
                    h.syns = h.syns.saturating_add(1);
                    h.syn_times[1] = ts_us;
                }
            } else {
                let x = h.x_mut();
                if x.syn_ack.is_none() {
                    x.syn_ack = Some(frame);
                    x.syn_ack_ts_us = Some(ts_us);
                }
            }
            match live {
                Some(live) => live.streams[d].set_isn(pkt.seq),
                None => {
                    h.isn[d] = pkt.seq;
                    h.isn_set[d] = true;
                }
            }
        }
        if !pkt.payload.is_empty() && reset::reads(&h.x().rst, d) {
            h.x_mut().payload_bytes[d] += pkt.payload.len() as u64;
            // Data on a SYN (TCP Fast Open) starts after the SYN's own sequence number.
            let seq = if pkt.flags & tcp_flags::SYN != 0 {
                pkt.seq.wrapping_add(1)
            } else {
                pkt.seq
            };
            let live = live.get_or_insert_with(|| Live::new(&self.config, h));
            if live.ack_marks[d].len() < ACK_MARKS_KEPT {
                live.ack_marks[d].push((frame, h.x().acks[d].acked()));
            }
            let Live { streams, app, .. } = &mut **live;
            let conflicts = streams[d].stats().overlap_conflicts;
            streams[d].segment(seq, pkt.payload, &mut |chunk| {
                app.on_chunk(dir, chunk, frame, ts_us);
            });
            if streams[d].stats().overlap_conflicts != conflicts {
                streams[d].conflict_frame(frame);
            }
            let now_buffered = live.buffered_bytes();
            let x = h.x_mut();
            self.buffered_total = self.buffered_total.saturating_sub(x.buffered) + now_buffered;
            x.buffered = now_buffered;
        }
        let event = TcpEvent {
            frame,
            ts_us,
            ttl: pkt.ttl,
        };
        // The first RST: finished at the end of its grace period if the other side stays
        // silent.
        let reset_due = (pkt.flags & tcp_flags::RST != 0 && h.x().rst.iter().all(Option::is_none))
            .then(|| {
                (
                    reset::due_at(event, self.config.idle_timeout_us),
                    h.first_frame,
                )
            });
        if pkt.flags & tcp_flags::RST != 0 {
            h.x_mut().rst[d].get_or_insert(event);
        }
        if pkt.flags & tcp_flags::FIN != 0 {
            h.x_mut().fin[d].get_or_insert(event);
        }
        // After both FINs the flow waits for the ACK of the last one, so that its frame
        // range is the one `tcp.stream eq N` selects in Wireshark (the last ACK included).
        let x = h.x();
        let fins = x.fin.iter().all(Option::is_some);
        let last_ack = fins && pkt.flags & tcp_flags::FIN == 0 && pkt.payload.is_empty();
        let over = last_ack || reset::reset_over(&h.x().rst, &h.x().fin, ts_us);
        if let Some((due, first)) = reset_due {
            self.queue_idle(due, first, key);
        }
        if over {
            self.close_flow(key, ts_us);
        }
        if self.buffered_total > self.config.max_total_buffered_bytes {
            self.shed_buffers();
        }
    }

    /// Finish a closed flow, keeping its key as finished until the idle timeout (late ACKs
    /// and retransmissions are no new flow).
    fn close_flow(&mut self, key: FlowKey, ts_us: TimestampUs) {
        if let Some(flow) = self.flows.remove(&key) {
            self.finished_flows.insert(
                key,
                Finished {
                    first_frame: flow.h.first_frame,
                    last_ts_us: ts_us,
                },
            );
            self.finish_flow(*flow, EndReason::Closed);
        }
    }

    /// Bytes buffered over all open flows right now.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_total
    }

    /// Over the total buffer budget: finish the flows holding the most until a quarter of
    /// the budget is free again, so a burst of holes cannot grow memory without limit.
    fn shed_buffers(&mut self) {
        let target = self.config.max_total_buffered_bytes / 4 * 3;
        let mut holders: Vec<(usize, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, f)| f.h.x().buffered > 0)
            .map(|(k, f)| (f.h.x().buffered, *k))
            .collect();
        holders.sort_unstable_by_key(|(b, _)| std::cmp::Reverse(*b));
        for (_, key) in holders {
            if self.buffered_total <= target {
                break;
            }
            if let Some(flow) = self.flows.remove(&key) {
                self.stats.flows_evicted_memory += 1;
                self.finish_flow(*flow, EndReason::Evicted);
            }
        }
    }
}

/// The label alone of [`capture_quality`], without building the words (per output record).
pub fn capture_quality_label(flow: &FlowRecord) -> &'static str {
    let (c, s) = (Dir::ToServer.index(), Dir::ToClient.index());
    if (flow.packets[s] == 0 && flow.payload_bytes[c] > 0)
        || (flow.packets[c] == 0 && flow.payload_bytes[s] > 0)
    {
        "one_sided"
    } else if flow.midstream {
        "midstream"
    } else if flow.stream_stats.iter().any(|st| st.overlap_conflicts > 0) {
        "overlap_conflict"
    } else if flow.stream_stats.iter().any(|st| st.gaps > 0) {
        "gaps"
    } else {
        "ok"
    }
}

/// Capture quality of a flow: (ok/one_sided/midstream/overlap_conflict/gaps, the problems in
/// words).
pub fn capture_quality(flow: &FlowRecord) -> (&'static str, Vec<String>) {
    let mut issues = Vec::new();
    let mut label = "ok";
    let (c, s) = (Dir::ToServer.index(), Dir::ToClient.index());
    for (dir, other, name) in [(s, c, "server"), (c, s, "client")] {
        if flow.packets[dir] == 0 && flow.payload_bytes[other] > 0 {
            label = "one_sided";
            issues.push(format!(
                "one-sided capture: no packet from the {name}, though the other side sent data"
            ));
        }
    }
    if flow.midstream {
        if label == "ok" {
            label = "midstream";
        }
        issues.push(format!(
            "the capture starts mid-stream (no SYN; first frame {})",
            flow.first_frame
        ));
    }
    // Before gaps: two versions of the same bytes mean the analysed stream may not be the
    // one the receiver read (an evasion splice, or a broken middlebox), a worse doubt.
    for (dir, name) in [(c, "client"), (s, "server")] {
        let st = &flow.stream_stats[dir];
        if st.overlap_conflicts > 0 {
            if label == "ok" {
                label = "overlap_conflict";
            }
            let frames: Vec<String> = st.conflict_frames.iter().map(u64::to_string).collect();
            issues.push(format!(
                "{} of the {name}'s segments overlap bytes already received with different bytes \
                 (frames {}); the first copy received is the one analysed",
                st.overlap_conflicts,
                frames.join(", ")
            ));
        }
    }
    for (dir, name) in [(c, "client"), (s, "server")] {
        let st = &flow.stream_stats[dir];
        if st.gaps > 0 {
            if label == "ok" {
                label = "gaps";
            }
            issues.push(format!(
                "{} bytes missing from the {name}'s stream ({} gaps)",
                st.gap_bytes, st.gaps
            ));
        }
    }
    (label, issues)
}

/// A flow picked up mid-stream got its roles from a packet without payload (ports or
/// direction, a guess); its first payload, if a TLS hello, decides them for good.
fn settle_roles(config: &AnalyzerConfig, flow: &mut Flow, pkt: &TcpPacket<'_>) {
    let h = &mut flow.h;
    if h.syn.is_some() || h.x().syn_ack.is_some() || h.x().payload_bytes != [0, 0] {
        return;
    }
    let Some(sender) = hello_sender(pkt.payload) else {
        return;
    };
    let from_client = pkt.src == h.client.ip && pkt.sport == h.client.port;
    if from_client == (sender == Side::Client) {
        return;
    }
    std::mem::swap(&mut h.client, &mut h.server);
    h.packets.swap(0, 1);
    h.ttl.swap(0, 1);
    h.ttl_range.swap(0, 1);
    if let Some(x) = h.extra.as_deref_mut() {
        x.swap_dirs();
    }
    h.server_port_is_tls = config.is_tls_port(h.server.port);
    h.isn.swap(0, 1);
    h.isn_set.swap(0, 1);
    // No payload yet: both streams and the preamble are still empty (or not made yet).
    if let Some(live) = flow.live.as_deref_mut() {
        live.streams.swap(0, 1);
        live.app.preamble = Preamble::new(h.server.port);
    }
}

/// Who sent this payload, if it starts with a TLS ClientHello or ServerHello record
/// (handshake record, version 3.x, message type 1 or 2).
fn hello_sender(payload: &[u8]) -> Option<Side> {
    match payload {
        [0x16, 3, _, _, _, 1, ..] => Some(Side::Client),
        [0x16, 3, _, _, _, 2, ..] => Some(Side::Server),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcp_flags::{ACK, FIN, PSH, RST, SYN};

    /// A raw-IP (LINKTYPE_RAW) IPv4/TCP packet; checksums left zero as offloading hosts do.
    fn raw(
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport: u16,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let total = 40 + payload.len();
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    }

    struct Feeder {
        a: Analyzer,
        frame: FrameNo,
        ts: TimestampUs,
    }

    impl Feeder {
        fn new(config: AnalyzerConfig) -> Self {
            Feeder {
                a: Analyzer::new(config),
                frame: 0,
                ts: 1_000_000_000,
            }
        }
        fn send(&mut self, bytes: Vec<u8>, advance_us: i64) {
            self.frame += 1;
            self.ts += advance_us;
            let pkt = Packet {
                frame: self.frame,
                ts_us: self.ts,
                linktype: 101,
                data: &bytes,
                orig_len: bytes.len() as u32,
            };
            self.a.packet(&pkt);
        }
    }

    const C: [u8; 4] = [10, 0, 0, 1];
    const S: [u8; 4] = [10, 0, 0, 2];

    /// An ICMP error from `router` to `to`, quoting the first 28 bytes of `quoted`.
    fn icmp(router: [u8; 4], to: [u8; 4], icmp_type: u8, code: u8, quoted: &[u8]) -> Vec<u8> {
        let q = &quoted[..28.min(quoted.len())];
        let total = 20 + 8 + q.len();
        let mut p = vec![0x45, 0, 0, total as u8, 0, 0, 0, 0, 64, 1, 0, 0];
        p.extend_from_slice(&router);
        p.extend_from_slice(&to);
        p.extend_from_slice(&[icmp_type, code, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(q);
        p
    }

    #[test]
    fn icmp_errors_attach_to_the_quoted_flow_and_never_make_one() {
        const R: [u8; 4] = [10, 0, 0, 254];
        let mut f = Feeder::new(AnalyzerConfig::default());
        let syn = raw(C, S, 40000, 443, 100, SYN, b"");
        // An error about a connection never seen: counted, no flow.
        f.send(icmp(R, C, 3, 3, &raw(C, S, 40001, 443, 7, SYN, b"")), 0);
        f.send(syn.clone(), 10);
        f.send(icmp(R, C, 3, 13, &syn), 10);
        f.send(syn.clone(), 1_000_000);
        f.send(icmp(R, C, 3, 13, &syn), 10);
        f.a.finish();
        let done = f.a.take_finished();
        assert_eq!(done.len(), 1, "the ICMP errors made no flow of their own");
        let r = &done[0];
        assert_eq!((r.syns, r.icmp_count, r.icmp.len()), (2, 2, 2));
        let e = r.icmp[0];
        assert_eq!(
            (e.frame, e.name, e.about),
            (3, "admin_prohibited", Dir::ToServer)
        );
        assert_eq!(e.sender, IpAddr::from(R));
        assert_eq!(
            r.last_frame, 4,
            "an ICMP error is not the flow's own packet"
        );
        assert_eq!(r.syn_times.map(|(a, b)| b - a), Some(1_000_010));
        let st = f.a.stats();
        assert_eq!(
            (st.icmp_errors, st.icmp_errors_no_flow, st.flows),
            (3, 1, 1)
        );
    }

    #[test]
    fn syn_decides_roles_and_rst_finishes_the_flow() {
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 0);
        f.send(raw(S, C, 443, 40000, 900, SYN | ACK, b""), 10);
        f.send(raw(C, S, 40000, 443, 101, RST, b""), 10);
        // The server may still be sending: its RST (or FIN) finishes the flow.
        assert!(f.a.take_finished().is_empty());
        f.send(raw(S, C, 443, 40000, 901, RST, b""), 10);
        let done = f.a.take_finished();
        assert_eq!(done.len(), 1);
        let r = &done[0];
        assert_eq!(r.client.port, 40000);
        assert_eq!(r.server.port, 443);
        assert_eq!((r.syn, r.syn_ack), (Some(1), Some(2)));
        assert_eq!(
            r.first_close().map(|(side, how, ev)| (side, how, ev.frame)),
            Some((Side::Client, "rst", 3))
        );
        assert_eq!(r.end, EndReason::Closed);
        assert!(!r.midstream);
    }

    #[test]
    fn midstream_flow_takes_the_tls_port_as_server() {
        let mut f = Feeder::new(AnalyzerConfig::default());
        // First packet seen goes from the server (443) to the client.
        f.send(
            raw(S, C, 443, 40000, 5000, ACK | PSH, &[0x17, 3, 3, 0, 1, 0]),
            0,
        );
        f.a.finish();
        let done = f.a.take_finished();
        assert_eq!(done[0].server.port, 443);
        assert!(done[0].midstream);
        assert_eq!(done[0].end, EndReason::CaptureEnd);
    }

    /// A handshake record holding the start of a hello of `msg_type` (1 client, 2 server).
    fn hello(msg_type: u8) -> Vec<u8> {
        vec![0x16, 3, 1, 0, 8, msg_type, 0, 0, 4, 3, 3, 0, 0]
    }

    #[test]
    fn midstream_hellos_decide_roles_whatever_the_ports_or_first_packet() {
        // Both ports ephemeral, SYN not captured: the ServerHello's sender serves.
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.send(raw(S, C, 41000, 52000, 5000, ACK | PSH, &hello(2)), 0);
        // The ClientHello's sender is the client even from a well-known port.
        f.send(raw(C, S, 993, 8000, 7000, ACK | PSH, &hello(1)), 0);
        f.a.finish();
        let done = f.a.take_finished();
        assert_eq!((done[0].client.port, done[0].server.port), (52000, 41000));
        assert_eq!((done[1].client.port, done[1].server.port), (993, 8000));
        assert!(done.iter().all(|r| r.midstream));
    }

    #[test]
    fn midstream_roles_guessed_from_a_bare_ack_are_settled_by_the_first_hello() {
        let mut f = Feeder::new(AnalyzerConfig::default());
        // The server's bare ACK comes first (the SYN/ACK was dropped): a wrong guess...
        f.send(raw(S, C, 41000, 52000, 900, ACK, b""), 0);
        // ...which the client's ClientHello corrects, with the ACK counted as the server's.
        f.send(raw(C, S, 52000, 41000, 100, ACK | PSH, &hello(1)), 10);
        f.send(raw(S, C, 41000, 52000, 900, ACK | PSH, &hello(2)), 10);
        f.a.finish();
        let done = f.a.take_finished();
        assert_eq!(done.len(), 1);
        let r = &done[0];
        assert_eq!((r.client.port, r.server.port), (52000, 41000));
        assert_eq!(r.packets, [1, 2]);
        assert_eq!(r.payload_bytes, [13, 13]);
        // Once data flowed the roles stay: a later hello does not swap them back.
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.send(
            raw(C, S, 52000, 41000, 100, ACK | PSH, &[0x17, 3, 3, 0, 1, 0]),
            0,
        );
        f.send(raw(S, C, 41000, 52000, 900, ACK | PSH, &hello(1)), 10);
        f.a.finish();
        let done = f.a.take_finished();
        assert_eq!(done[0].client.port, 52000);
    }

    #[test]
    fn port_reuse_after_close_starts_a_new_tcp_stream_and_late_acks_do_not() {
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 0);
        f.send(raw(C, S, 40000, 443, 101, FIN | ACK, b""), 10);
        f.send(raw(S, C, 443, 40000, 900, FIN | ACK, b""), 10);
        f.send(raw(C, S, 40000, 443, 102, ACK, b""), 10); // final ACK: same connection
        f.send(raw(C, S, 40000, 443, 7000, SYN, b""), 10); // reuse: a new connection
        f.a.finish();
        let streams: Vec<u64> = f.a.take_finished().iter().map(|r| r.tcp_stream).collect();
        assert_eq!(streams, vec![0, 1]);
        assert_eq!(f.a.stats().flows, 2);
    }

    #[test]
    fn idle_flows_time_out_on_capture_time() {
        let mut f = Feeder::new(AnalyzerConfig {
            idle_timeout_us: 5_000_000,
            ..AnalyzerConfig::default()
        });
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 0);
        f.send(raw(C, S, 40001, 443, 100, SYN, b""), 10_000_000);
        let done = f.a.take_finished();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].end, EndReason::Timeout);
        assert_eq!(f.a.stats().flows_timed_out, 1);
    }

    #[test]
    fn idle_timeouts_within_one_second_fire_in_their_own_sweep() {
        // Timeout 2.5 s. Two flows last active in the same second (10.1 s and 10.9 s after
        // the start): at the sweep of second 13 only the first is idle for more than 2.5 s,
        // at second 14 the second one is too. A third flow, first seen at 10.0 s and active
        // again at 12.0 s, is queued again at 13 s rather than expired.
        let mut f = Feeder::new(AnalyzerConfig {
            idle_timeout_us: 2_500_000,
            ..AnalyzerConfig::default()
        });
        f.send(raw(C, S, 40002, 443, 100, SYN, b""), 10_000_000);
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 100_000);
        f.send(raw(C, S, 40001, 443, 100, SYN, b""), 800_000);
        f.send(raw(C, S, 40002, 443, 101, ACK, b""), 1_100_000); // 12.0 s
        assert!(f.a.take_finished().is_empty());
        f.send(raw(C, S, 50000, 443, 100, SYN, b""), 1_000_000); // 13.0 s
        let ports =
            |done: Vec<FlowRecord>| -> Vec<u16> { done.iter().map(|r| r.client.port).collect() };
        assert_eq!(ports(f.a.take_finished()), [40000]);
        f.send(raw(C, S, 50001, 443, 100, SYN, b""), 1_000_000); // 14.0 s
        assert_eq!(ports(f.a.take_finished()), [40001]);
        f.send(raw(C, S, 50002, 443, 100, SYN, b""), 1_000_000); // 15.0 s
        assert_eq!(ports(f.a.take_finished()), [40002]);
        assert_eq!(f.a.stats().flows_timed_out, 3);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_flows_in_batches() {
        let mut f = Feeder::new(AnalyzerConfig {
            max_flows: 64,
            ..AnalyzerConfig::default()
        });
        for port in 0..1000u16 {
            f.send(raw(C, S, 10000 + port, 443, 1, SYN, b""), 1);
        }
        assert!(f.a.open_flows() <= 64);
        let evicted = f.a.take_finished();
        assert_eq!(f.a.stats().flows_evicted as usize, evicted.len());
        assert!(evicted.len() >= 1000 - 64);
        // Oldest first: the very first flow went first.
        assert_eq!(evicted[0].client.port, 10000);
        assert!(evicted.iter().all(|r| r.end == EndReason::Evicted));
    }

    #[test]
    fn ttl_range_and_zero_window_leave_rsts_out() {
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 0);
        let mut syn_ack = raw(S, C, 443, 40000, 900, SYN | ACK, b"");
        syn_ack[8] = 52;
        f.send(syn_ack, 10);
        let mut zero = raw(C, S, 40000, 443, 101, ACK, b"");
        zero[34..36].copy_from_slice(&[0, 0]);
        f.send(zero, 10);
        let mut rst = raw(S, C, 443, 40000, 901, RST, b"");
        rst[8] = 250;
        rst[34..36].copy_from_slice(&[0, 0]);
        f.send(rst, 10);
        f.a.finish();
        let done = f.a.take_finished();
        let r = &done[0];
        assert_eq!(r.ttl_range, [Some((64, 64)), Some((52, 52))]);
        assert_eq!(r.rst[1].map(|e| e.ttl), Some(250));
        assert_eq!(r.zero_window, [1, 0]);
    }

    #[test]
    fn after_a_rst_the_other_side_is_read_until_it_closes_or_the_grace_ends() {
        let alert = [0x15, 3, 3, 0, 2, 2, 40];
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 0);
        f.send(raw(S, C, 443, 40000, 900, SYN | ACK, b""), 10);
        f.send(raw(C, S, 40000, 443, 101, RST, b""), 10);
        // The server's alert crossed the RST; the client's stack answers it with a RST.
        f.send(raw(S, C, 443, 40000, 901, ACK, &alert), 70_000);
        f.send(raw(C, S, 40000, 443, 101, RST, b""), 10);
        f.send(raw(C, S, 40000, 443, 101, ACK, b"late"), 10);
        assert!(f.a.take_finished().is_empty());
        f.send(raw(S, C, 443, 40000, 908, FIN | ACK, b""), 10);
        let done = f.a.take_finished();
        assert_eq!(done.len(), 1);
        let r = &done[0];
        assert_eq!((r.end, r.last_frame), (EndReason::Closed, 7));
        assert_eq!(
            r.first_bytes[1].as_ref().map(|b| (b.0.len(), b.1)),
            Some((7, 4))
        );
        // The resetting side's bytes after its RST are no message.
        assert_eq!(r.payload_bytes, [0, 7]);

        // A silent peer: finished by the sweep once the grace period is over...
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 0);
        f.send(raw(S, C, 443, 40000, 900, SYN | ACK, b""), 10);
        f.send(raw(C, S, 40000, 443, 101, RST, b""), 10);
        f.a.tick(f.ts + reset::RESET_GRACE_US - 1_000_000);
        assert!(f.a.take_finished().is_empty());
        f.a.tick(f.ts + reset::RESET_GRACE_US + 1_000_000);
        let done = f.a.take_finished();
        assert_eq!(done.len(), 1);
        assert_eq!(
            (done[0].end, f.a.stats().flows_timed_out),
            (EndReason::Closed, 0)
        );
        // ...and a packet after it is a late one of the finished flow, not a new flow.
        f.send(
            raw(S, C, 443, 40000, 901, ACK, &alert),
            reset::RESET_GRACE_US + 2_000_000,
        );
        f.a.finish();
        assert!(f.a.take_finished().is_empty());
    }

    #[test]
    fn data_on_a_syn_is_not_lost() {
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.send(
            raw(C, S, 40000, 443, 100, SYN, b"GET / HTTP/1.1\r\n\r\n"),
            0,
        );
        f.a.finish();
        let done = f.a.take_finished();
        assert_eq!(
            done[0].first_bytes[0].as_ref().map(|(b, _)| b.as_slice()),
            Some(&b"GET / HTTP/1.1\r\n\r\n"[..])
        );
    }

    /// What a SYN-only flow costs in its box: the header and the two pointers (to the
    /// state made by its first payload and to the [`Extra`] made by its first packet that
    /// is not a bare SYN). 400 bytes when the control events were inline.
    #[test]
    fn a_syn_only_flow_fits_in_192_bytes() {
        let (flow, extra) = (std::mem::size_of::<Flow>(), std::mem::size_of::<Extra>());
        eprintln!("Flow {flow} bytes, Extra {extra} bytes");
        assert!(flow <= 192, "Flow is {flow} bytes");
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 0);
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 1_000_000);
        assert!(f
            .a
            .flows
            .values()
            .all(|fl| fl.live.is_none() && fl.h.extra.is_none()));
        f.a.finish();
        let done = f.a.take_finished();
        assert_eq!((done.len(), done[0].syns, done[0].packets), (1, 2, [2, 0]));
        assert_eq!(done[0].syn_ack, None);
    }

    /// A SYN flood's flows cost their header alone: the reassembly, sniffer and TLS state
    /// is made on the first payload, with the ISNs its SYNs set (so the data after a
    /// SYN/SYN-ACK pair is in order, and the SYN-ACK's retransmission changes nothing).
    #[test]
    fn flow_state_is_made_on_the_first_payload_with_the_syns_isns() {
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 0);
        f.send(raw(S, C, 443, 40000, 900, SYN | ACK, b""), 10);
        f.send(raw(S, C, 443, 40000, 900, SYN | ACK, b""), 20);
        assert!(f.a.flows.values().all(|fl| fl.live.is_none()));
        // The client's request in two segments, the second first: only the SYN's ISN
        // tells that bytes are missing before it.
        f.send(
            raw(C, S, 40000, 443, 106, PSH | ACK, b" HTTP/1.1\r\n\r\n"),
            30,
        );
        f.send(raw(C, S, 40000, 443, 101, PSH | ACK, b"GET /"), 35);
        f.send(
            raw(S, C, 443, 40000, 901, PSH | ACK, b"HTTP/1.1 200 OK\r\n\r\n"),
            40,
        );
        assert!(f.a.flows.values().all(|fl| fl.live.is_some()));
        f.a.finish();
        let done = f.a.take_finished();
        for (d, text, reordered) in [(0, &b"GET /"[..], 1), (1, &b"HTTP/1.1 200"[..], 0)] {
            let st = &done[0].stream_stats[d];
            assert_eq!((st.gaps, st.out_of_order), (0, reordered), "direction {d}");
            let first = done[0].first_bytes[d].as_ref().map(|(b, _)| b.as_slice());
            assert!(first.is_some_and(|b| b.starts_with(text)), "direction {d}");
        }
    }

    fn tcp_to(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, vlan: [Option<u16>; 2]) -> FlowKey {
        FlowKey::new(&TcpPacket {
            src,
            dst,
            sport,
            dport,
            seq: 0,
            ack: 0,
            flags: 0,
            window: 0,
            ttl: 64,
            vlan,
            payload: &[],
            tunnel: None,
            checksum_ok: None,
        })
    }

    #[test]
    fn flow_key_is_symmetric_and_tells_families_ports_and_vlans_apart() {
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let none = [None, None];
        let key = tcp_to(a, b, 40000, 443, none);
        assert_eq!(key, tcp_to(b, a, 443, 40000, none));
        assert_ne!(key, tcp_to(a, b, 40001, 443, none));
        assert_ne!(
            key,
            tcp_to(a, b, 443, 40000, none),
            "ports belong to their address"
        );
        assert_ne!(key, tcp_to(a, b, 40000, 443, [Some(0), None]));
        assert_ne!(
            tcp_to(a, b, 40000, 443, [Some(7), None]),
            tcp_to(a, b, 40000, 443, [None, Some(7)])
        );
        let mapped = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            v6 => v6,
        };
        assert_ne!(
            key,
            tcp_to(mapped(a), mapped(b), 40000, 443, none),
            "an IPv4 flow is not the IPv6 flow between the mapped addresses"
        );
    }

    #[test]
    fn flows_of_one_conversation_share_its_stream_and_the_oldest_needed_is_known() {
        let mut f = Feeder::new(AnalyzerConfig::default());
        f.a.track_streams();
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 0); // frame 1
        f.send(raw(S, C, 443, 40000, 0, RST | ACK, b""), 10); // refused
        f.send(raw(C, S, 40001, 443, 100, SYN, b""), 10); // frame 3: another connection
        f.send(raw(C, S, 40000, 443, 100, SYN, b""), 10); // the first one retried
        let mut created = Vec::new();
        f.a.take_created(&mut created);
        assert_eq!(created, vec![1, 3], "the retry is the same conversation");
        // Open: the retry (conversation of frame 1) and frame 3's.
        assert_eq!(f.a.oldest_stream_needed(), Some(1));
        f.a.finish();
        let flows = f.a.take_finished();
        let streams: Vec<(u64, u64)> = flows
            .iter()
            .map(|r| (r.first_frame, r.stream_created))
            .collect();
        assert_eq!(streams, vec![(1, 1), (3, 3), (4, 1)]);
        let numbers: Vec<u64> = flows.iter().map(|r| r.tcp_stream).collect();
        assert_eq!(numbers, vec![0, 1, 0]);
    }
}

#[cfg(test)]
mod buffer_budget_tests {
    use super::*;
    use crate::decode::tcp_flags::{ACK, SYN};

    fn raw(sport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let total = 40 + payload.len();
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&443u16.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn the_total_buffer_budget_evicts_the_biggest_holders() {
        let mut a = Analyzer::new(AnalyzerConfig {
            max_total_buffered_bytes: 100_000,
            ..AnalyzerConfig::default()
        });
        let hole_data = vec![0x17u8; 20_000];
        let mut frame = 0;
        for port in 0..20u16 {
            for (seq, flags, payload) in [(1000u32, SYN, &b""[..]), (5001, ACK, &hole_data[..])] {
                frame += 1;
                let bytes = raw(40000 + port, seq, flags, payload);
                let pkt = Packet {
                    frame,
                    ts_us: 1_000_000 + frame as i64,
                    linktype: 101,
                    data: &bytes,
                    orig_len: bytes.len() as u32,
                };
                a.packet(&pkt);
                assert!(
                    a.buffered_bytes() <= 100_000,
                    "budget exceeded: {}",
                    a.buffered_bytes()
                );
            }
        }
        // 20 flows x 20 KB of out-of-order data is 400 KB: most had to go.
        let evicted = a.stats().flows_evicted_memory;
        assert!(evicted >= 15, "evicted {evicted}");
        let done = a.take_finished();
        assert_eq!(done.len() as u64, evicted);
        assert!(done.iter().all(|r| r.end == EndReason::Evicted));
        a.finish();
        assert_eq!(
            a.buffered_bytes(),
            0,
            "every byte accounted for once flows finish"
        );
    }
}
