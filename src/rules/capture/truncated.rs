//! A capture that shows most TLS flows cut short (filtered to handshake packets, or stopped
//! mid-handshake) says so once, in `capture_stats.warnings` and at the top of the human
//! summary and the HTML report, instead of leaving dozens of aborts to tell it.

use super::{CaptureRule, CaptureState, SightingData};
use crate::config::RuleEnv;
use crate::flow::FlowRef;
use crate::rules::truncated::{cut_short, CutShort};
use crate::rules::Finding;

pub const TRUNCATED_CAPTURE: CaptureRule = CaptureRule {
    name: "truncated_capture",
    doc: "Most TLS flows of the capture hold only handshake packets, or were mid-handshake when it stopped: one capture_stats warning.",
    kinds: &[],
    sight: |flow, _| {
        flow.tls
            .as_ref()
            .map(|_| Box::new(cut_short(flow).map(|c| c.0)) as SightingData)
    },
    new: |_: &RuleEnv| Box::<TruncatedCapture>::default(),
};

/// A warning needs at least this many flows cut short, and more than half of the TLS flows.
const MIN_FLOWS: u64 = 2;

#[derive(Default)]
struct TruncatedCapture {
    tls_flows: u64,
    handshake_only: u64,
    capture_ended: u64,
}

impl CaptureState for TruncatedCapture {
    fn add(&mut self, sighting: SightingData, _tcp_stream: u64) {
        let Ok(cut) = sighting.downcast::<Option<CutShort>>() else {
            return;
        };
        self.tls_flows += 1;
        match *cut {
            Some(CutShort::HandshakeOnly) => self.handshake_only += 1,
            Some(CutShort::CaptureEnded) => self.capture_ended += 1,
            None => {}
        }
    }

    fn finish(&mut self) -> Vec<(FlowRef, Finding)> {
        Vec::new()
    }

    fn notes(&self) -> Vec<String> {
        let most = |n: u64| n >= MIN_FLOWS && 2 * n > self.tls_flows;
        let mut out = Vec::new();
        if most(self.handshake_only) {
            out.push(format!(
                "{} of {} TLS flows hold only handshake packets (no SYN, FIN, RST or bare ACK): the capture was filtered to handshake records (e.g. tcp[((tcp[12]&0xf0)>>2)]=0x16), so handshakes cannot be seen to complete; their handshake_aborted findings are low severity",
                self.handshake_only, self.tls_flows
            ));
        }
        if most(self.capture_ended) {
            out.push(format!(
                "{} of {} TLS flows were mid-handshake in the capture's last second: the capture stopped before they could complete; their handshake_aborted findings are low severity",
                self.capture_ended, self.tls_flows
            ));
        }
        out
    }
}
