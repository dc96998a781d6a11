//! `--threads N`: the reading thread shards connections over workers and merges their
//! flows back in one analyzer's order (see [`super::run_threads`]).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

use super::{OnFlow, Outcome, Prepare, FINISH_BATCH};
use crate::capture::{Packet, PacketSource};
use crate::config::RuleEnv;
use crate::decode::defrag::{Defrag, Offer};
use crate::decode::{decode_addresses, Decoded};
use crate::flow::{connection_hash, icmp_connection_hash, Analyzer, AnalyzerConfig, CaptureStats};
use crate::model::{FrameNo, TimestampUs};
use crate::output::Rendered;
use crate::rules::evaluate_with;
use std::sync::Arc;

/// Frames handed to a worker at once.
const BATCH_PACKETS: usize = 1024;
const BATCH_BYTES: usize = 1 << 20;
/// Every this many frames each worker gets a (possibly empty) batch, so the merge can
/// move on even when a worker sees no traffic.
const HEARTBEAT: u64 = 16_384;
/// Batches queued per worker.
pub(super) const QUEUE: usize = 4;

/// Merge order of flows finished by the idle sweep before a frame, by the frame itself,
/// and by a sweep after it.
pub(super) const TICK_BEFORE: u8 = 0;
const BY_FRAME: u8 = 1;
pub(super) const TICK_AFTER: u8 = 2;

pub(super) struct Meta {
    pub(super) frame: FrameNo,
    pub(super) ts_us: TimestampUs,
    pub(super) linktype: u32,
    pub(super) orig_len: u32,
    pub(super) start: usize,
    pub(super) len: usize,
    /// Not a frame of this worker but the idle sweep, at `frame` with this order among
    /// what that frame finishes: `TICK_BEFORE` when the capture clock entered a new second
    /// at `frame` (one analyzer over the whole capture sweeps there), `TICK_AFTER` for
    /// `live`'s wall-clock sweep after `frame`.
    pub(super) tick: Option<u8>,
}

#[derive(Default)]
pub(super) struct Batch {
    pub(super) data: Vec<u8>,
    pub(super) pkts: Vec<Meta>,
    /// Every frame up to here that belongs to this worker is in this batch or an
    /// earlier one.
    upto: FrameNo,
    last: bool,
    /// Output buffers already passed on, going back to their worker for reuse.
    spent: Vec<Rendered>,
}

impl Batch {
    /// Queue a frame for this batch's worker; true once the batch is full enough to send.
    pub(super) fn push(&mut self, pkt: &Packet<'_>) -> bool {
        let start = self.data.len();
        self.data.extend_from_slice(pkt.data);
        self.pkts.push(Meta {
            frame: pkt.frame,
            ts_us: pkt.ts_us,
            linktype: pkt.linktype,
            orig_len: pkt.orig_len,
            start,
            len: pkt.data.len(),
            tick: None,
        });
        self.pkts.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }
}

struct Done<D> {
    /// (frame that finished it, 0 if by that frame's idle sweep and 1 if by the frame
    /// itself, its first frame): the merge order, which is one analyzer's order.
    key: (FrameNo, u8, FrameNo),
    /// The frame that created its Wireshark conversation: what numbers it.
    stream_created: FrameNo,
    worker: usize,
    digest: D,
    rendered: Rendered,
}

impl<D> PartialEq for Done<D> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<D> Eq for Done<D> {}
impl<D> PartialOrd for Done<D> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<D> Ord for Done<D> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// What a worker sends back after each batch.
pub(super) struct Report<D> {
    worker: usize,
    upto: FrameNo,
    created: Vec<FrameNo>,
    oldest_needed: Option<FrameNo>,
    done: Vec<Done<D>>,
    /// The worker's counters and open flows (`live` shows them as it goes).
    stats: CaptureStats,
    open_flows: usize,
    last: bool,
    /// The batch going back to the reading thread for reuse.
    batch: Option<Batch>,
}

/// An analyzer and what it finished, formatted where it finished: each worker's, and
/// the reading thread's own share.
struct Local<D> {
    id: usize,
    analyzer: Analyzer,
    rules: Arc<RuleEnv>,
    finished: Vec<crate::flow::FlowRecord>,
    spare_rendered: Vec<Rendered>,
    done: Vec<Done<D>>,
}

impl<D> Local<D> {
    fn new(id: usize, config: AnalyzerConfig) -> Self {
        let rules = config.rules.clone();
        let mut analyzer = Analyzer::new(config);
        analyzer.track_streams();
        analyzer.defrag_upstream();
        Local {
            id,
            analyzer,
            rules,
            finished: Vec::new(),
            spare_rendered: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Rules and `prepare` for the flows finished at `at` (frame; 0 if by that frame's
    /// idle sweep, 1 if by the frame itself).
    fn collect(&mut self, at: (FrameNo, u8), prepare: Prepare<'_, D>) {
        if !self.analyzer.has_finished() {
            return;
        }
        self.analyzer.drain_finished(&mut self.finished);
        for flow in self.finished.drain(..) {
            let findings = evaluate_with(&flow, &self.rules);
            let mut rendered = self.spare_rendered.pop().unwrap_or_default();
            let key = (at.0, at.1, flow.first_frame);
            let stream_created = flow.stream_created;
            let digest = prepare(flow, findings, &mut rendered);
            self.done.push(Done {
                key,
                stream_created,
                worker: self.id,
                digest,
                rendered,
            });
        }
    }

    fn recycle(&mut self, spent: &mut Vec<Rendered>) {
        for mut r in spent.drain(..) {
            r.clear();
            self.spare_rendered.push(r);
        }
    }

    /// Every frame up to `upto` was given to the analyzer: what the merge needs.
    fn report(&mut self, upto: FrameNo, last: bool, batch: Option<Batch>) -> Report<D> {
        let mut created = Vec::new();
        self.analyzer.take_created(&mut created);
        Report {
            worker: self.id,
            upto,
            created,
            oldest_needed: self.analyzer.oldest_stream_needed(),
            done: std::mem::take(&mut self.done),
            stats: self.analyzer.stats().clone(),
            open_flows: self.analyzer.open_flows(),
            last,
            batch,
        }
    }
}

pub(super) fn worker<D>(
    id: usize,
    config: AnalyzerConfig,
    prepare: Prepare<'_, D>,
    batches: Receiver<Batch>,
    reports: Sender<Report<D>>,
) {
    let mut local = Local::new(id, config);
    for mut batch in batches {
        local.recycle(&mut batch.spent);
        for m in &batch.pkts {
            if let Some(order) = m.tick {
                local.analyzer.tick(m.ts_us);
                local.collect((m.frame, order), prepare);
                continue;
            }
            let pkt = Packet {
                frame: m.frame,
                ts_us: m.ts_us,
                linktype: m.linktype,
                data: &batch.data[m.start..m.start + m.len],
                orig_len: m.orig_len,
            };
            local.analyzer.packet(&pkt);
            local.collect((m.frame, BY_FRAME), prepare);
        }
        let last = batch.last;
        if last {
            while local.analyzer.finish_some(FINISH_BATCH) {
                local.collect((FrameNo::MAX, BY_FRAME), prepare);
            }
            local.collect((FrameNo::MAX, BY_FRAME), prepare);
        }
        batch.data.clear();
        batch.pkts.clear();
        let upto = batch.upto;
        let report = local.report(upto, last, Some(batch));
        if reports.send(report).is_err() || last {
            return;
        }
    }
}

/// The reading thread's view of one worker.
pub(super) struct Shard {
    pub(super) tx: Option<SyncSender<Batch>>,
    pub(super) batch: Batch,
    spare: Vec<Batch>,
    upto: FrameNo,
    /// Frames that created this worker's Wireshark conversations, those that may still
    /// number a flow, and how many earlier ones were dropped.
    created: VecDeque<FrameNo>,
    dropped: u64,
    oldest_needed: Option<FrameNo>,
    pub(super) stats: CaptureStats,
    pub(super) open_flows: usize,
    /// Its last report is in (with its final counters).
    pub(super) ended: bool,
}

impl Shard {
    /// A shard whose frames go to `tx` (none: the reading thread's own).
    pub(super) fn new(tx: Option<SyncSender<Batch>>) -> Shard {
        Shard {
            tx,
            batch: Batch::default(),
            spare: Vec::new(),
            upto: 0,
            created: VecDeque::new(),
            dropped: 0,
            oldest_needed: None,
            stats: CaptureStats::default(),
            open_flows: 0,
            ended: false,
        }
    }

    /// A shard that owns no connection (`live`'s reading thread analyzes none): it never
    /// holds the merge back.
    pub(super) fn idle() -> Shard {
        let mut s = Shard::new(None);
        s.upto = FrameNo::MAX;
        s.ended = true;
        s
    }
}

pub(super) struct Merge<D> {
    pub(super) shards: Vec<Shard>,
    pending: BinaryHeap<Reverse<Done<D>>>,
    bytes: Vec<u8>,
}

impl<D> Merge<D> {
    pub(super) fn new(shards: Vec<Shard>) -> Self {
        Merge {
            shards,
            pending: BinaryHeap::new(),
            bytes: Vec::new(),
        }
    }

    pub(super) fn apply<E>(&mut self, r: Report<D>, on_flow: OnFlow<'_, D, E>) -> Result<(), E> {
        let s = &mut self.shards[r.worker];
        s.upto = r.upto;
        s.created.extend(r.created);
        s.oldest_needed = r.oldest_needed;
        s.stats = r.stats;
        s.open_flows = r.open_flows;
        s.ended |= r.last;
        s.spare.extend(r.batch);
        self.pending.extend(r.done.into_iter().map(Reverse));
        self.emit(on_flow)
    }

    /// Pass on every flow no worker can precede any more, numbered over all workers.
    pub(super) fn emit<E>(&mut self, on_flow: OnFlow<'_, D, E>) -> Result<(), E> {
        let safe = self.shards.iter().map(|s| s.upto).min().unwrap_or(0);
        while self.pending.peek().is_some_and(|d| d.0.key.0 <= safe) {
            let Some(Reverse(d)) = self.pending.pop() else {
                break;
            };
            let first = d.stream_created;
            let tcp_stream = self
                .shards
                .iter()
                .map(|s| s.dropped + s.created.partition_point(|&f| f < first) as u64)
                .sum();
            self.bytes.clear();
            d.rendered.fill(tcp_stream, &mut self.bytes);
            on_flow(d.digest, tcp_stream, &self.bytes)?;
            self.shards[d.worker].batch.spent.push(d.rendered);
        }
        // Drop first frames no flow still to come can start before.
        let mut floor = self
            .shards
            .iter()
            .map(|s| s.oldest_needed.unwrap_or(s.upto.saturating_add(1)))
            .min()
            .unwrap_or(0);
        for d in &self.pending {
            floor = floor.min(d.0.stream_created);
        }
        for s in &mut self.shards {
            while s.created.front().is_some_and(|&f| f < floor) {
                s.created.pop_front();
                s.dropped += 1;
            }
        }
        Ok(())
    }
}

/// Thousandths of the connections the reading thread analyzes itself with `threads`
/// shards (itself and `threads - 1` workers). Reading and decoding every frame, copying
/// the workers' frames to them and merging and writing everyone's output cost it about
/// 3/8 of what analyzing all connections costs (measured with perf on the benchmark
/// capture: with 2 threads and a 40% share it was busy 57% of the run to the worker's
/// 43%), so it takes a share that leaves it as busy as each worker:
/// (1 - 3/8 (threads - 1)) / threads, none from four threads on.
pub(super) fn reader_share_permille(threads: usize) -> u64 {
    let n = threads.max(1) as u64;
    1000u64.saturating_sub((n - 1) * 375) / n
}

/// Which shard analyzes a connection: 0 is the reading thread, 1.. the workers.
/// (`live` gives its reading thread a share of 0: it only reads and dispatches.)
pub(super) fn owner(hash: u64, threads: usize, share: u64) -> usize {
    let workers = threads.saturating_sub(1).max(1) as u64;
    if hash % 1000 < share {
        0
    } else {
        1 + ((hash / 1000) % workers) as usize
    }
}

pub(super) fn run<D: Send, E>(
    reader: &mut dyn PacketSource,
    config: &AnalyzerConfig,
    threads: usize,
    prepare: Prepare<'_, D>,
    on_flow: OnFlow<'_, D, E>,
    progress: &mut dyn FnMut(u64),
) -> Result<Outcome, E> {
    let mut shard_config = config.clone();
    shard_config.max_flows = (config.max_flows / threads).max(1);
    shard_config.max_total_buffered_bytes = config.max_total_buffered_bytes / threads;
    let (report_tx, report_rx) = channel::<Report<D>>();
    std::thread::scope(|scope| {
        let mut shards = Vec::with_capacity(threads);
        for id in 0..threads {
            let tx = (id > 0).then(|| {
                let (tx, rx) = sync_channel::<Batch>(QUEUE);
                let cfg = shard_config.clone();
                let reports = report_tx.clone();
                scope.spawn(move || worker(id, cfg, prepare, rx, reports));
                tx
            });
            shards.push(Shard::new(tx));
        }
        drop(report_tx);
        let mut merge = Merge::new(shards);
        let mut local = Local::new(0, shard_config.clone());
        let result = dispatch(
            reader, &mut merge, &mut local, prepare, &report_rx, on_flow, progress,
        );
        // Stop the workers whatever happened (on an error they may still hold batches).
        for s in &mut merge.shards {
            s.tx = None;
        }
        let (error, mut stats) = result?;
        let mut total = CaptureStats::default();
        for s in &merge.shards {
            add_stats(&mut total, &s.stats);
        }
        total.packets = stats.packets;
        total.bytes = stats.bytes;
        total.ip_defrag = stats.ip_defrag;
        total.first_ts_us = stats.first_ts_us.take();
        total.last_ts_us = stats.last_ts_us.take();
        Ok(Outcome {
            stats: total,
            error,
        })
    })
}

/// Hand worker `w` its batch, with every one of its frames up to `upto` in it.
pub(super) fn send<D, E>(
    merge: &mut Merge<D>,
    reports: &Receiver<Report<D>>,
    on_flow: OnFlow<'_, D, E>,
    w: usize,
    upto: FrameNo,
    last: bool,
) -> Result<(), E> {
    let spare = merge.shards[w].spare.pop().unwrap_or_default();
    let mut batch = std::mem::replace(&mut merge.shards[w].batch, spare);
    batch.upto = upto;
    batch.last = last;
    let Some(tx) = merge.shards[w].tx.clone() else {
        return Ok(());
    };
    let mut batch = Some(batch);
    // Never block on a full queue while reports wait: the workers would stall too.
    while let Some(b) = batch.take() {
        match tx.try_send(b) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(b)) => {
                batch = Some(b);
                match reports.recv() {
                    Ok(r) => merge.apply(r, on_flow)?,
                    Err(_) => return Ok(()),
                }
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Ok(()),
        }
    }
    Ok(())
}

type Dispatched = (Option<crate::capture::CaptureError>, CaptureStats);

fn dispatch<D, E>(
    reader: &mut dyn PacketSource,
    merge: &mut Merge<D>,
    local: &mut Local<D>,
    prepare: Prepare<'_, D>,
    reports: &Receiver<Report<D>>,
    on_flow: OnFlow<'_, D, E>,
    progress: &mut dyn FnMut(u64),
) -> Result<Dispatched, E> {
    let n = merge.shards.len();
    let share = reader_share_permille(n);
    let mut stats = CaptureStats::default();
    let mut error = None;
    let mut clock_sec = i64::MIN;
    let mut defrag = Defrag::default();
    loop {
        if let Some(text) = reader.take_secrets() {
            local.analyzer.config().keys.add_block(&text);
        }
        let pkt = match reader.next_packet() {
            Ok(Some(pkt)) => pkt,
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let frame = pkt.frame;
        stats.packets += 1;
        stats.bytes += u64::from(pkt.orig_len);
        stats.first_ts_us.get_or_insert(pkt.ts_us);
        stats.last_ts_us = Some(pkt.ts_us);
        let sec = pkt.ts_us.div_euclid(1_000_000);
        if sec > clock_sec {
            clock_sec = sec;
            local.analyzer.tick(pkt.ts_us);
            local.collect((frame, TICK_BEFORE), prepare);
            for s in merge.shards.iter_mut().skip(1) {
                s.batch.pkts.push(Meta {
                    frame,
                    ts_us: pkt.ts_us,
                    linktype: 0,
                    orig_len: 0,
                    start: 0,
                    len: 0,
                    tick: Some(TICK_BEFORE),
                });
            }
        }
        // Fragments are reassembled here, before routing: only the whole datagram names its
        // connection (later fragments carry no ports), so only it can go to the right shard.
        let mut decoded = decode_addresses(pkt.linktype, pkt.data);
        let whole_frame;
        let mut pkt = pkt;
        if let Ok(Decoded::IpFragment { ip_at }) = decoded {
            if let Offer::Whole(data) = defrag.offer(pkt.data, ip_at, pkt.ts_us) {
                whole_frame = data;
                pkt = whole_packet(&pkt, &whole_frame);
                decoded = decode_addresses(pkt.linktype, pkt.data);
            }
        }
        let w = match decoded {
            Ok(Decoded::Tcp(tcp)) => owner(connection_hash(&tcp), n, share),
            Ok(Decoded::IcmpError(e)) => icmp_connection_hash(&e).map_or(0, |h| owner(h, n, share)),
            _ => 0,
        };
        if w == 0 {
            local.analyzer.packet(&pkt);
            local.collect((frame, BY_FRAME), prepare);
        } else {
            if merge.shards[w].batch.push(&pkt) {
                send(merge, reports, on_flow, w, frame, false)?;
            }
        }
        if stats.packets % HEARTBEAT == 0 {
            for w in 1..n {
                send(merge, reports, on_flow, w, frame, false)?;
            }
            merge.apply(local.report(frame, false, None), on_flow)?;
            local.recycle(&mut merge.shards[0].batch.spent);
            while let Ok(r) = reports.try_recv() {
                merge.apply(r, on_flow)?;
            }
            progress(reader.bytes_read());
        }
    }
    while local.analyzer.finish_some(FINISH_BATCH) {
        local.collect((FrameNo::MAX, BY_FRAME), prepare);
    }
    local.collect((FrameNo::MAX, BY_FRAME), prepare);
    merge.apply(local.report(FrameNo::MAX, true, None), on_flow)?;
    for w in 1..n {
        send(merge, reports, on_flow, w, FrameNo::MAX, true)?;
        merge.shards[w].tx = None;
    }
    // Every worker ends with a report carrying its counters.
    while merge.shards.iter().any(|s| !s.ended) {
        match reports.recv() {
            Ok(r) => merge.apply(r, on_flow)?,
            Err(_) => break,
        }
    }
    merge.emit(on_flow)?;
    progress(reader.bytes_read());
    stats.ip_defrag = *defrag.stats();
    Ok((error, stats))
}

/// The frame of a datagram [`Defrag`] made whole, in place of its last fragment's (same
/// frame number and time; its length is the reassembled one).
pub(super) fn whole_packet<'a>(last: &Packet<'_>, data: &'a [u8]) -> Packet<'a> {
    Packet {
        frame: last.frame,
        ts_us: last.ts_us,
        linktype: last.linktype,
        data,
        orig_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
    }
}

pub(super) fn add_stats(t: &mut CaptureStats, w: &CaptureStats) {
    t.tcp_packets += w.tcp_packets;
    t.non_tcp_packets += w.non_tcp_packets;
    t.icmp_errors += w.icmp_errors;
    t.icmp_errors_no_flow += w.icmp_errors_no_flow;
    t.tcp_streams_forgotten += w.tcp_streams_forgotten;
    for (t, w) in t.tunneled.iter_mut().zip(w.tunneled) {
        *t += w;
    }
    for (t, w) in t.tunnels_not_decoded.iter_mut().zip(w.tunnels_not_decoded) {
        *t += w;
    }
    t.ip_fragments += w.ip_fragments;
    t.decode_errors += w.decode_errors;
    t.bad_checksums += w.bad_checksums;
    t.flows += w.flows;
    t.tls_flows += w.tls_flows;
    t.tls_flows_decrypted += w.tls_flows_decrypted;
    t.tls_flows_decryption_failed += w.tls_flows_decryption_failed;
    t.flows_timed_out += w.flows_timed_out;
    t.flows_evicted += w.flows_evicted;
    t.flows_evicted_memory += w.flows_evicted_memory;
    t.reassembly_gaps += w.reassembly_gaps;
    t.reassembly_gap_bytes += w.reassembly_gap_bytes;
    t.retransmissions += w.retransmissions;
    t.out_of_order += w.out_of_order;
    if let Some(n) = w.filtered_out {
        *t.filtered_out.get_or_insert(0) += n;
    }
}
