//! The whole offline pipeline over one capture: read -> analyze -> rules, handing each
//! finished flow and its findings to the caller as soon as it is decided.

use std::path::Path;

use crate::capture::{CaptureError, CaptureReader};
use crate::flow::{Analyzer, AnalyzerConfig, CaptureStats, FlowRecord};
use crate::rules::{evaluate, Finding};

/// How a capture run ended.
pub struct Outcome {
    pub stats: CaptureStats,
    /// A read error that stopped the run part-way; everything before it was analyzed.
    pub error: Option<CaptureError>,
}

/// Analyze every packet of `reader`; `on_flow` gets each finished flow with its findings,
/// `progress` the bytes read so far (called every few thousand packets).
pub fn run<E>(
    reader: &mut CaptureReader,
    config: &AnalyzerConfig,
    on_flow: &mut dyn FnMut(FlowRecord, Vec<Finding>) -> Result<(), E>,
    progress: &mut dyn FnMut(u64),
) -> Result<Outcome, E> {
    let mut analyzer = Analyzer::new(config.clone());
    let mut error = None;
    let mut n = 0u64;
    loop {
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
            for flow in analyzer.take_finished() {
                let findings = evaluate(&flow);
                on_flow(flow, findings)?;
            }
            progress(reader.bytes_read());
        }
    }
    analyzer.finish();
    for flow in analyzer.take_finished() {
        let findings = evaluate(&flow);
        on_flow(flow, findings)?;
    }
    progress(reader.bytes_read());
    Ok(Outcome {
        stats: analyzer.stats().clone(),
        error,
    })
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
        self.findings().map(|(_, f)| f.kind).collect()
    }
}

pub fn analyze_path(path: &Path, config: &AnalyzerConfig) -> Result<Analysis, CaptureError> {
    let mut reader = CaptureReader::open(path)?;
    let mut flows = Vec::new();
    let outcome = run::<std::convert::Infallible>(
        &mut reader,
        config,
        &mut |flow, findings| {
            flows.push((flow, findings));
            Ok(())
        },
        &mut |_| {},
    );
    let outcome = match outcome {
        Ok(o) => o,
        Err(never) => match never {},
    };
    Ok(Analysis {
        flows,
        stats: outcome.stats,
        warnings: reader.warnings().to_vec(),
        truncated: reader.truncated(),
        error: outcome.error,
    })
}
