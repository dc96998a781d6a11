//! The whole offline pipeline over one capture: read -> analyze -> rules, handing each
//! finished flow and its findings to the caller as soon as it is decided.

use std::path::Path;

use crate::capture::{CaptureError, CaptureReader, PacketSource};
use crate::flow::{Analyzer, AnalyzerConfig, CaptureStats, FlowRecord};
use crate::output::Rendered;
use crate::rules::{evaluate_with, Finding};

/// How a capture run ended.
pub struct Outcome {
    pub stats: CaptureStats,
    /// A read error that stopped the run part-way; everything before it was analyzed.
    pub error: Option<CaptureError>,
}

/// What becomes of a finished flow where it finished (on its worker with `--threads N`):
/// it may append output bytes (with holes for the flow's `tcp_stream`, which a worker does
/// not know yet: see [`Rendered`]) and returns what the reading thread needs of the flow,
/// the digest `D`. Handing over a small digest instead of the whole record keeps
/// formatting and freeing on the cores that did the analysis.
pub type Prepare<'r, D> = &'r (dyn Fn(FlowRecord, Vec<Finding>, &mut Rendered) -> D + Sync);

/// Gets every finished flow, in order: its digest, its `tcp_stream` over the whole capture
/// (the digest may hold a record still numbered within its worker), and the prepared bytes
/// with the holes filled.
pub type OnFlow<'f, D, E> = &'f mut dyn FnMut(D, u64, &[u8]) -> Result<(), E>;

/// Analyze every packet of `reader`; `on_flow` gets each finished flow with its findings,
/// `progress` the bytes read so far (called every few thousand packets).
pub fn run<E>(
    reader: &mut dyn PacketSource,
    config: &AnalyzerConfig,
    on_flow: &mut dyn FnMut(FlowRecord, Vec<Finding>) -> Result<(), E>,
    progress: &mut dyn FnMut(u64),
) -> Result<Outcome, E> {
    run_threads(
        reader,
        config,
        1,
        &|flow, findings, _| (flow, findings),
        &mut |(flow, findings), _, _| on_flow(flow, findings),
        progress,
    )
}

/// Flows finished at a time at the end of a capture: their records are turned into output
/// (or, with threads, into rendered lines) before the next are made.
const FINISH_BATCH: usize = 4096;

fn run_one<D, E>(
    reader: &mut dyn PacketSource,
    config: &AnalyzerConfig,
    prepare: Prepare<'_, D>,
    on_flow: OnFlow<'_, D, E>,
    progress: &mut dyn FnMut(u64),
) -> Result<Outcome, E> {
    let mut analyzer = Analyzer::new(config.clone());
    let mut error = None;
    let mut n = 0u64;
    let (mut rendered, mut bytes) = (Rendered::default(), Vec::new());
    // Reused: records are large, and a vector grown afresh every few thousand packets
    // spent 3% of a run reallocating and faulting in new pages.
    let mut finished = Vec::new();
    let mut emit = |analyzer: &mut Analyzer| -> Result<(), E> {
        analyzer.drain_finished(&mut finished);
        for flow in finished.drain(..) {
            let findings = evaluate_with(&flow, &config.rules);
            let tcp_stream = flow.tcp_stream;
            rendered.clear();
            let digest = prepare(flow, findings, &mut rendered);
            bytes.clear();
            rendered.fill(tcp_stream, &mut bytes);
            on_flow(digest, tcp_stream, &bytes)?;
        }
        Ok(())
    };
    loop {
        if let Some(text) = reader.take_secrets() {
            config.keys.add_block(&text);
        }
        match reader.next_packet() {
            Ok(Some(pkt)) => analyzer.packet(&pkt),
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        n += 1;
        if n % 4096 == 0 {
            emit(&mut analyzer)?;
            progress(reader.bytes_read());
        }
    }
    while analyzer.finish_some(FINISH_BATCH) {
        emit(&mut analyzer)?;
    }
    emit(&mut analyzer)?;
    progress(reader.bytes_read());
    Ok(Outcome {
        stats: analyzer.stats().clone(),
        error,
    })
}

/// Like [`run`], over `threads` threads when `threads > 1`: the reading thread and
/// `threads - 1` workers, with `prepare` applied to every finished flow where it finished.
///
/// The reading thread decodes each frame just far enough to hash its connection
/// ([`crate::flow::connection_hash`], the same for both directions). It analyzes a share
/// of the connections itself (`threaded::reader_share_permille`: the reading and copying
/// it does for the others make up the rest of its load) and hands the frames of the others,
/// in batches, to the worker owning the connection; each shard runs its own [`Analyzer`]
/// (with `max_flows / threads` of the table), the rules and `prepare`. The reading thread
/// merges what the workers finish back into one deterministic stream: flows are passed to
/// `on_flow` in the order of the frame that finished them (at each new capture second every
/// worker gets a tick at that frame, so idle timeouts fire where one analyzer fires them),
/// then of their first frame (end-of-capture flows last, by first frame), and `tcp_stream`
/// is numbered over all workers from the frames that created each Wireshark conversation
/// (a shard holds all of a conversation's flows). The output is
/// identical to a one-thread run as long as neither the flow table nor the buffer budget
/// overflows (which connections get evicted then differs).
pub fn run_threads<D: Send, E>(
    reader: &mut dyn PacketSource,
    config: &AnalyzerConfig,
    threads: usize,
    prepare: Prepare<'_, D>,
    on_flow: OnFlow<'_, D, E>,
    progress: &mut dyn FnMut(u64),
) -> Result<Outcome, E> {
    if threads <= 1 {
        return run_one(reader, config, prepare, on_flow, progress);
    }
    threaded::run(reader, config, threads, prepare, on_flow, progress)
}

mod threaded {
    use std::cmp::{Ordering, Reverse};
    use std::collections::{BinaryHeap, VecDeque};
    use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

    use super::{OnFlow, Outcome, Prepare, FINISH_BATCH};
    use crate::capture::{Packet, PacketSource};
    use crate::config::RuleEnv;
    use crate::decode::{decode_addresses, Decoded};
    use crate::flow::{
        connection_hash, icmp_connection_hash, Analyzer, AnalyzerConfig, CaptureStats,
    };
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
    const QUEUE: usize = 4;

    struct Meta {
        frame: FrameNo,
        ts_us: TimestampUs,
        linktype: u32,
        orig_len: u32,
        start: usize,
        len: usize,
        /// Not a frame of this worker: the capture clock entered a new second at `frame`,
        /// run the idle sweep there, as one analyzer over the whole capture would.
        tick: bool,
    }

    #[derive(Default)]
    struct Batch {
        data: Vec<u8>,
        pkts: Vec<Meta>,
        /// Every frame up to here that belongs to this worker is in this batch or an
        /// earlier one.
        upto: FrameNo,
        last: bool,
        /// Output buffers already passed on, going back to their worker for reuse.
        spent: Vec<Rendered>,
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
    struct Report<D> {
        worker: usize,
        upto: FrameNo,
        created: Vec<FrameNo>,
        oldest_needed: Option<FrameNo>,
        done: Vec<Done<D>>,
        /// The worker's counters, with its last report.
        stats: Option<CaptureStats>,
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
                stats: last.then(|| self.analyzer.stats().clone()),
                batch,
            }
        }
    }

    fn worker<D>(
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
                if m.tick {
                    local.analyzer.tick(m.ts_us);
                    local.collect((m.frame, 0), prepare);
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
                local.collect((m.frame, 1), prepare);
            }
            let last = batch.last;
            if last {
                while local.analyzer.finish_some(FINISH_BATCH) {
                    local.collect((FrameNo::MAX, 1), prepare);
                }
                local.collect((FrameNo::MAX, 1), prepare);
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
    struct Shard {
        tx: Option<SyncSender<Batch>>,
        batch: Batch,
        spare: Vec<Batch>,
        upto: FrameNo,
        /// Frames that created this worker's Wireshark conversations, those that may still
        /// number a flow, and how many earlier ones were dropped.
        created: VecDeque<FrameNo>,
        dropped: u64,
        oldest_needed: Option<FrameNo>,
        stats: Option<CaptureStats>,
    }

    struct Merge<'a, D, E> {
        shards: Vec<Shard>,
        pending: BinaryHeap<Reverse<Done<D>>>,
        on_flow: OnFlow<'a, D, E>,
        bytes: Vec<u8>,
    }

    impl<D, E> Merge<'_, D, E> {
        fn apply(&mut self, r: Report<D>) -> Result<(), E> {
            let s = &mut self.shards[r.worker];
            s.upto = r.upto;
            s.created.extend(r.created);
            s.oldest_needed = r.oldest_needed;
            if r.stats.is_some() {
                s.stats = r.stats;
            }
            s.spare.extend(r.batch);
            self.pending.extend(r.done.into_iter().map(Reverse));
            self.emit()
        }

        /// Pass on every flow no worker can precede any more, numbered over all workers.
        fn emit(&mut self) -> Result<(), E> {
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
                (self.on_flow)(d.digest, tcp_stream, &self.bytes)?;
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
                shards.push(Shard {
                    tx,
                    batch: Batch::default(),
                    spare: Vec::new(),
                    upto: 0,
                    created: VecDeque::new(),
                    dropped: 0,
                    oldest_needed: None,
                    stats: None,
                });
            }
            drop(report_tx);
            let mut merge = Merge {
                shards,
                pending: BinaryHeap::new(),
                on_flow,
                bytes: Vec::new(),
            };
            let mut local = Local::new(0, shard_config.clone());
            let result = dispatch(
                reader, &mut merge, &mut local, prepare, &report_rx, progress,
            );
            // Stop the workers whatever happened (on an error they may still hold batches).
            for s in &mut merge.shards {
                s.tx = None;
            }
            let (error, mut stats) = result?;
            let mut total = CaptureStats::default();
            for s in &mut merge.shards {
                if let Some(w) = s.stats.take() {
                    add_stats(&mut total, &w);
                }
            }
            total.packets = stats.packets;
            total.bytes = stats.bytes;
            total.first_ts_us = stats.first_ts_us.take();
            total.last_ts_us = stats.last_ts_us.take();
            Ok(Outcome {
                stats: total,
                error,
            })
        })
    }

    fn send<D, E>(
        merge: &mut Merge<'_, D, E>,
        reports: &Receiver<Report<D>>,
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
                        Ok(r) => merge.apply(r)?,
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
        merge: &mut Merge<'_, D, E>,
        local: &mut Local<D>,
        prepare: Prepare<'_, D>,
        reports: &Receiver<Report<D>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Dispatched, E> {
        let n = merge.shards.len();
        let share = reader_share_permille(n);
        let mut stats = CaptureStats::default();
        let mut error = None;
        let mut clock_sec = i64::MIN;
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
                local.collect((frame, 0), prepare);
                for s in merge.shards.iter_mut().skip(1) {
                    s.batch.pkts.push(Meta {
                        frame,
                        ts_us: pkt.ts_us,
                        linktype: 0,
                        orig_len: 0,
                        start: 0,
                        len: 0,
                        tick: true,
                    });
                }
            }
            let w = match decode_addresses(pkt.linktype, pkt.data) {
                Ok(Decoded::Tcp(tcp)) => owner(connection_hash(&tcp), n, share),
                Ok(Decoded::IcmpError(e)) => {
                    icmp_connection_hash(&e).map_or(0, |h| owner(h, n, share))
                }
                _ => 0,
            };
            if w == 0 {
                local.analyzer.packet(&pkt);
                local.collect((frame, 1), prepare);
            } else {
                let b = &mut merge.shards[w].batch;
                let start = b.data.len();
                b.data.extend_from_slice(pkt.data);
                b.pkts.push(Meta {
                    frame: pkt.frame,
                    ts_us: pkt.ts_us,
                    linktype: pkt.linktype,
                    orig_len: pkt.orig_len,
                    start,
                    len: pkt.data.len(),
                    tick: false,
                });
                if b.pkts.len() >= BATCH_PACKETS || b.data.len() >= BATCH_BYTES {
                    send(merge, reports, w, frame, false)?;
                }
            }
            if stats.packets % HEARTBEAT == 0 {
                for w in 1..n {
                    send(merge, reports, w, frame, false)?;
                }
                merge.apply(local.report(frame, false, None))?;
                local.recycle(&mut merge.shards[0].batch.spent);
                while let Ok(r) = reports.try_recv() {
                    merge.apply(r)?;
                }
                progress(reader.bytes_read());
            }
        }
        while local.analyzer.finish_some(FINISH_BATCH) {
            local.collect((FrameNo::MAX, 1), prepare);
        }
        local.collect((FrameNo::MAX, 1), prepare);
        merge.apply(local.report(FrameNo::MAX, true, None))?;
        for w in 1..n {
            send(merge, reports, w, FrameNo::MAX, true)?;
            merge.shards[w].tx = None;
        }
        // Every worker ends with a report carrying its counters.
        while merge.shards.iter().any(|s| s.stats.is_none()) {
            match reports.recv() {
                Ok(r) => merge.apply(r)?,
                Err(_) => break,
            }
        }
        merge.emit()?;
        progress(reader.bytes_read());
        Ok((error, stats))
    }

    fn add_stats(t: &mut CaptureStats, w: &CaptureStats) {
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
}

/// Everything found in one capture, collected (for tests and tools; the CLI streams).
pub struct Analysis {
    pub flows: Vec<(FlowRecord, Vec<Finding>)>,
    pub stats: CaptureStats,
    pub warnings: Vec<String>,
    pub truncated: bool,
    pub error: Option<CaptureError>,
}

impl Analysis {
    /// All findings of the capture, in flow order.
    pub fn findings(&self) -> impl Iterator<Item = (&FlowRecord, &Finding)> {
        self.flows
            .iter()
            .flat_map(|(flow, fs)| fs.iter().map(move |f| (flow, f)))
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.findings().map(|(_, f)| f.kind.as_str()).collect()
    }
}

pub fn analyze_path(path: &Path, config: &AnalyzerConfig) -> Result<Analysis, CaptureError> {
    analyze_path_threads(path, config, 1)
}

/// [`analyze_path`] over `threads` threads (see [`run_threads`]).
pub fn analyze_path_threads(
    path: &Path,
    config: &AnalyzerConfig,
    threads: usize,
) -> Result<Analysis, CaptureError> {
    let mut reader = CaptureReader::open(path)?;
    let (flows, outcome) = analyze_source(&mut reader, config, threads);
    Ok(Analysis {
        flows,
        stats: outcome.stats,
        warnings: reader.warnings().to_vec(),
        truncated: reader.truncated(),
        error: outcome.error,
    })
}

/// Every finished flow of `source` with its findings (`tcp_stream` filled in).
pub fn analyze_source(
    source: &mut dyn PacketSource,
    config: &AnalyzerConfig,
    threads: usize,
) -> (Vec<(FlowRecord, Vec<Finding>)>, Outcome) {
    let mut flows = Vec::new();
    let outcome = run_threads::<_, std::convert::Infallible>(
        source,
        config,
        threads,
        &|flow, findings, _| Box::new((flow, findings)),
        &mut |record, tcp_stream, _| {
            let (mut flow, findings) = *record;
            flow.tcp_stream = tcp_stream;
            flows.push((flow, findings));
            Ok(())
        },
        &mut |_| {},
    );
    let outcome = match outcome {
        Ok(o) => o,
        Err(never) => match never {},
    };
    (flows, outcome)
}

#[cfg(test)]
mod tests {
    use super::threaded::{owner, reader_share_permille};

    #[test]
    fn the_reading_thread_takes_a_smaller_share_as_threads_grow() {
        let shares: Vec<u64> = (1..=7).map(reader_share_permille).collect();
        assert_eq!(shares, [1000, 312, 83, 0, 0, 0, 0]);
    }

    #[test]
    fn connections_spread_over_every_shard_in_those_shares() {
        for threads in [2usize, 3, 8] {
            let share = reader_share_permille(threads);
            let mut counts = vec![0u64; threads];
            // Well-mixed 64-bit values, as the connection hash gives.
            for i in 0..100_000u64 {
                let hash = i.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17);
                counts[owner(hash, threads, share)] += 1;
            }
            let reader = counts[0] as f64 / 100_000.0;
            assert!(
                (reader - share as f64 / 1000.0).abs() < 0.01,
                "{threads}: {counts:?}"
            );
            let per_worker = (1.0 - share as f64 / 1000.0) / (threads - 1) as f64;
            for c in &counts[1..] {
                let got = *c as f64 / 100_000.0;
                assert!((got - per_worker).abs() < 0.01, "{threads}: {counts:?}");
            }
        }
    }
}
