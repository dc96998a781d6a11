//! Flows a capture cut short: a capture filtered to handshake packets (a filter such as
//! `tcp[((tcp[12]&0xf0)>>2)]=0x16` keeps the segments that start a handshake record and
//! nothing else: no SYN, FIN, RST, bare ACK or application data), or one that stopped while
//! the handshake was under way. Such a flow's handshake did not fail; the capture ends
//! before it could be seen to complete.

use crate::flow::{EndReason, FlowRecord};
use crate::model::Dir;
use crate::tls::wire::ct;

/// How the capture cut the flow short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutShort {
    /// Every packet starts a TLS handshake record; no TCP control packet is in the capture.
    HandshakeOnly,
    /// The capture stopped within a second of the flow's last packet, mid-handshake.
    CaptureEnded,
}

/// Whether the capture cut the flow short, and the fact that shows it.
pub fn cut_short(flow: &FlowRecord) -> Option<(CutShort, String)> {
    let tls = flow.tls.as_ref()?;
    let control = flow.syn.is_some()
        || flow.syn_ack.is_some()
        || flow.fin.iter().chain(&flow.rst).any(Option::is_some);
    let every_packet_a_record = [Dir::ToServer, Dir::ToClient].iter().all(|&d| {
        let starts_handshake = flow.first_bytes[d.index()]
            .as_ref()
            .is_none_or(|(b, _)| b.first() == Some(&ct::HANDSHAKE));
        flow.packets[d.index()] <= tls.records(d) && starts_handshake
    });
    let packets = flow.packets[0] + flow.packets[1];
    if !control && every_packet_a_record && packets > 0 {
        return Some((
            CutShort::HandshakeOnly,
            format!(
                "each of the flow's {packets} packets starts a TLS handshake record, and no SYN, FIN, RST or bare ACK is in the capture: it holds only handshake packets (a capture filter such as tcp[((tcp[12]&0xf0)>>2)]=0x16)"
            ),
        ));
    }
    // A side that closed (FIN or RST) gave up on a handshake the capture did see: that is an
    // abort to explain, not a capture that stopped too early.
    let closed = flow.fin.iter().chain(&flow.rst).any(Option::is_some);
    let open = matches!(flow.end, EndReason::CaptureEnd) && !tls.established && !closed;
    if let Some(floor) = flow.capture_end_floor_us.filter(|_| open) {
        if flow.last_ts_us >= floor {
            return Some((
                CutShort::CaptureEnded,
                format!(
                    "the flow's last packet (frame {}) is in the capture's last second: the capture stopped while the handshake was under way",
                    flow.last_frame
                ),
            ));
        }
    }
    None
}
