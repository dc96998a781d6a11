//! `live --threads N`: the capture thread only reads and dispatches; N workers analyze.
//!
//! The same machinery as `read --threads` ([`super::threaded`]): connections sharded by
//! [`crate::flow::connection_hash`] through the same `owner` function (with a reading-thread
//! share of 0), the same workers, batches and merge, so each flow's records and their order
//! are those of one analyzer. What differs is who drives it: the capture loop pushes
//! packets as libpcap hands them over ([`LiveShards::packet`]), hands every worker what it
//! has when the link is quiet ([`LiveShards::flush`], which bounds how late a finding is),
//! and sweeps idle flows on the wall clock ([`LiveShards::tick`]) after the last frame.

use std::sync::mpsc::{channel, sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::threaded::{
    add_stats, owner, send, whole_packet, worker, Batch, Merge, Meta, Report, Shard, QUEUE,
    TICK_AFTER,
};
use super::OnFlow;
use crate::capture::Packet;
use crate::decode::defrag::{Defrag, Offer};
use crate::decode::{decode_addresses, Decoded};
use crate::flow::{
    connection_hash, icmp_connection_hash, AnalyzerConfig, CaptureStats, FlowRecord,
};
use crate::model::{FrameNo, TimestampUs};
use crate::output::Rendered;
use crate::rules::Finding;

/// [`super::Prepare`] owned by the workers (they outlive any one call).
pub type SharedPrepare<D> = Arc<dyn Fn(FlowRecord, Vec<Finding>, &mut Rendered) -> D + Send + Sync>;

/// The workers of a live capture and the merge of what they finish.
pub struct LiveShards<D: Send + 'static> {
    merge: Merge<D>,
    reports: Receiver<Report<D>>,
    workers: Vec<JoinHandle<()>>,
    max_flows: usize,
    /// The last frame dispatched, and the last one every worker was told about.
    frame: FrameNo,
    flushed: FrameNo,
    /// Counted here: frames, bytes and the capture's first and last time.
    read: CaptureStats,
    /// Fragments are reassembled before routing, as in a `--threads` read.
    defrag: Defrag,
}

impl<D: Send + 'static> LiveShards<D> {
    /// Start `workers` (at least 1) analysis threads, each with its share of the flow
    /// table and buffer budget.
    pub fn start(
        config: &AnalyzerConfig,
        workers: usize,
        prepare: SharedPrepare<D>,
    ) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let mut shard_config = config.clone();
        shard_config.max_flows = (config.max_flows / workers).max(1);
        shard_config.max_total_buffered_bytes = config.max_total_buffered_bytes / workers;
        let (report_tx, reports) = channel::<Report<D>>();
        // Shard 0 is the reading thread's, which analyzes nothing here.
        let mut shards = vec![Shard::idle()];
        let mut handles = Vec::with_capacity(workers);
        for id in 1..=workers {
            let (tx, rx) = sync_channel::<Batch>(QUEUE);
            let cfg = shard_config.clone();
            let reports = report_tx.clone();
            let prepare = Arc::clone(&prepare);
            let handle = std::thread::Builder::new()
                .name(format!("tlstriage-worker-{id}"))
                .spawn(move || worker(id, cfg, &*prepare, rx, reports))?;
            handles.push(handle);
            shards.push(Shard::new(Some(tx)));
        }
        Ok(LiveShards {
            merge: Merge::new(shards),
            reports,
            workers: handles,
            max_flows: config.max_flows,
            frame: 0,
            flushed: 0,
            read: CaptureStats::default(),
            defrag: Defrag::default(),
        })
    }

    fn shard_count(&self) -> usize {
        self.merge.shards.len()
    }

    /// Dispatch one frame to the worker owning its connection.
    pub fn packet<E>(&mut self, pkt: &Packet<'_>, on_flow: OnFlow<'_, D, E>) -> Result<(), E> {
        self.frame = pkt.frame;
        self.read.packets += 1;
        self.read.bytes += u64::from(pkt.orig_len);
        self.read.first_ts_us.get_or_insert(pkt.ts_us);
        self.read.last_ts_us = Some(pkt.ts_us);
        let n = self.shard_count();
        // Frames of no connection are only counted: the first worker does it.
        let mut decoded = decode_addresses(pkt.linktype, pkt.data);
        let whole_frame;
        let mut pkt = *pkt;
        if let Ok(Decoded::IpFragment { ip_at }) = decoded {
            if let Offer::Whole(data) = self.defrag.offer(pkt.data, ip_at, pkt.ts_us) {
                whole_frame = data;
                pkt = whole_packet(&pkt, &whole_frame);
                decoded = decode_addresses(pkt.linktype, pkt.data);
            }
        }
        let w = match decoded {
            Ok(Decoded::Tcp(tcp)) => owner(connection_hash(&tcp), n, 0),
            Ok(Decoded::IcmpError(e)) => icmp_connection_hash(&e).map_or(1, |h| owner(h, n, 0)),
            _ => 1,
        };
        if self.merge.shards[w].batch.push(&pkt) {
            send(&mut self.merge, &self.reports, on_flow, w, pkt.frame, false)?;
        }
        Ok(())
    }

    /// Hand every worker its frames so far (when anything came since the last time) and
    /// pass on what the workers have finished.
    pub fn flush<E>(&mut self, on_flow: OnFlow<'_, D, E>) -> Result<(), E> {
        if self.frame > self.flushed {
            self.send_all(on_flow)?;
        }
        self.collect(on_flow)
    }

    /// The idle-timeout sweep at `now_us` (wall clock), after every frame so far.
    pub fn tick<E>(&mut self, now_us: TimestampUs, on_flow: OnFlow<'_, D, E>) -> Result<(), E> {
        for s in self.merge.shards.iter_mut().skip(1) {
            s.batch.pkts.push(Meta {
                frame: self.frame,
                ts_us: now_us,
                linktype: 0,
                orig_len: 0,
                start: 0,
                len: 0,
                tick: Some(TICK_AFTER),
            });
        }
        self.send_all(on_flow)?;
        self.collect(on_flow)
    }

    fn send_all<E>(&mut self, on_flow: OnFlow<'_, D, E>) -> Result<(), E> {
        for w in 1..self.shard_count() {
            send(
                &mut self.merge,
                &self.reports,
                on_flow,
                w,
                self.frame,
                false,
            )?;
        }
        self.flushed = self.frame;
        Ok(())
    }

    fn collect<E>(&mut self, on_flow: OnFlow<'_, D, E>) -> Result<(), E> {
        while let Ok(r) = self.reports.try_recv() {
            self.merge.apply(r, on_flow)?;
        }
        Ok(())
    }

    /// End of capture: every worker finishes its open flows; returns when all of them are
    /// passed on.
    pub fn finish<E>(&mut self, on_flow: OnFlow<'_, D, E>) -> Result<(), E> {
        for w in 1..self.shard_count() {
            send(
                &mut self.merge,
                &self.reports,
                on_flow,
                w,
                FrameNo::MAX,
                true,
            )?;
            self.merge.shards[w].tx = None;
        }
        while self.merge.shards.iter().any(|s| !s.ended) {
            match self.reports.recv() {
                Ok(r) => self.merge.apply(r, on_flow)?,
                Err(_) => break,
            }
        }
        self.merge.emit(on_flow)
    }

    /// Counters over every worker, as of its last report.
    pub fn stats(&self) -> CaptureStats {
        let mut total = CaptureStats::default();
        for s in &self.merge.shards {
            add_stats(&mut total, &s.stats);
        }
        total.keylog_sessions = self
            .merge
            .shards
            .iter()
            .find_map(|s| s.stats.keylog_sessions);
        total.packets = self.read.packets;
        total.bytes = self.read.bytes;
        total.ip_defrag = *self.defrag.stats();
        total.first_ts_us = self.read.first_ts_us;
        total.last_ts_us = self.read.last_ts_us;
        total
    }

    /// Connections open over every worker, as of its last report.
    pub fn open_flows(&self) -> usize {
        self.merge.shards.iter().map(|s| s.open_flows).sum()
    }

    /// The flow table's size over every worker.
    pub fn max_flows(&self) -> usize {
        self.max_flows
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }
}

impl<D: Send + 'static> Drop for LiveShards<D> {
    fn drop(&mut self) {
        // Closing the queues ends the workers (after the batch in hand, if any).
        for s in &mut self.merge.shards {
            s.tx = None;
        }
        while self.reports.try_recv().is_ok() {}
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{LiveShards, SharedPrepare};
    use crate::capture::CaptureReader;
    use crate::flow::AnalyzerConfig;
    use crate::pipeline::analyze_path;

    /// Every flow of `sample` fed packet by packet (flushing now and then, as a quiet link
    /// does) over `workers` workers: (tcp_stream, client port, kinds) in emitted order.
    fn live_flows(sample: &str, workers: usize) -> Vec<(u64, u16, Vec<&'static str>)> {
        let config = AnalyzerConfig::default();
        let prepare: SharedPrepare<(u16, Vec<&'static str>)> =
            std::sync::Arc::new(|flow, findings, _| {
                (
                    flow.client.port,
                    findings.iter().map(|f| f.kind.as_str()).collect(),
                )
            });
        let mut shards = LiveShards::start(&config, workers, prepare).expect("start workers");
        let mut out = Vec::new();
        let mut on_flow = |(port, kinds), tcp_stream, _: &[u8]| -> Result<(), ()> {
            out.push((tcp_stream, port, kinds));
            Ok(())
        };
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(sample);
        let mut reader = CaptureReader::open(&path).expect("open sample");
        let mut n = 0;
        while let Some(pkt) = reader.next_packet().expect("read sample") {
            shards.packet(&pkt, &mut on_flow).expect("dispatch");
            n += 1;
            if n % 3 == 0 {
                shards.flush(&mut on_flow).expect("flush");
            }
        }
        shards.finish(&mut on_flow).expect("finish");
        assert_eq!(shards.stats().packets, n);
        drop(shards);
        out
    }

    #[test]
    fn workers_give_the_flows_of_one_analyzer_in_its_order() {
        for sample in [
            "port-scan.pcap",
            "tls12-ok.pcap",
            "refused-ipv4.pcap",
            "smtp-starttls.pcap",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("samples")
                .join(sample);
            let one = analyze_path(&path, &AnalyzerConfig::default()).expect("analyze");
            let expected: Vec<_> = one
                .flows
                .iter()
                .map(|(f, fs)| {
                    (
                        f.tcp_stream,
                        f.client.port,
                        fs.iter().map(|x| x.kind.as_str()).collect::<Vec<_>>(),
                    )
                })
                .collect();
            assert!(!expected.is_empty(), "{sample}");
            for workers in [1, 2, 3] {
                assert_eq!(
                    live_flows(sample, workers),
                    expected,
                    "{sample} over {workers}"
                );
            }
        }
    }
}
