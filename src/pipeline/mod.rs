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

pub mod live;
mod threaded;

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
