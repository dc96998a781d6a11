//! TLS ports learned from the capture: a server port that answered a ClientHello with a
//! ServerHello on some flow is a TLS port for every flow of the capture, so plaintext sent
//! to a TLS service on a port outside `--tls-ports` (an HTTPS admin console on 9000, a
//! gateway on 8444) is found as `plaintext_to_tls_port`, as on a configured port.
//!
//! The port alone is learned, not the server's address: the same service on many hosts
//! (a farm behind one VIP, a cluster) listens on the same port. STARTTLS and CONNECT flows
//! teach nothing: their port carries plaintext first by design.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{CaptureRule, CaptureState, SightingData};
use crate::config::RuleEnv;
use crate::flow::{FlowRecord, FlowRef};
use crate::rules::plaintext::plaintext_finding;
use crate::rules::{Finding, Kind};

pub const LEARNED_TLS_PORTS: CaptureRule = CaptureRule {
    name: "learned_tls_ports",
    doc: "Plaintext to a port outside --tls-ports that answered a ClientHello with a ServerHello on another flow of the capture.",
    kinds: &[Kind::PlaintextToTlsPort],
    sight: |flow, _| sight(flow).map(|s| Box::new(s) as SightingData),
    new: |_: &RuleEnv| Box::<LearnedPorts>::default(),
};

/// Flows held while waiting to learn whether their port is a TLS port (beyond it they are
/// counted and dropped: a capture of a plaintext service sees many such flows).
const MAX_CANDIDATES: usize = 10_000;

enum PortSighting {
    /// A flow whose server answered a ClientHello with a ServerHello on this port.
    Tls { port: u16, server: String },
    /// A flow whose client spoke plaintext first to a port not known as a TLS port.
    Plaintext {
        port: u16,
        flow: FlowRef,
        finding: Box<Finding>,
    },
}

fn sight(flow: &FlowRecord) -> Option<PortSighting> {
    if flow.server_port_is_tls || flow.preamble.via.is_some() {
        return None;
    }
    let port = flow.server.port;
    let answered = flow
        .tls
        .as_ref()
        .is_some_and(|t| t.client_hello.is_some() && t.server_hello.is_some());
    if answered && !flow.midstream {
        return Some(PortSighting::Tls {
            port,
            server: std::net::SocketAddr::new(flow.server.ip, port).to_string(),
        });
    }
    let finding = plaintext_finding(flow)?;
    Some(PortSighting::Plaintext {
        port,
        flow: flow.flow_ref(),
        finding: Box::new(finding),
    })
}

/// Where a port was learned.
struct Learned {
    tcp_stream: u64,
    server: String,
}

#[derive(Default)]
struct LearnedPorts {
    learned: BTreeMap<u16, Learned>,
    candidates: Vec<(u16, FlowRef, Box<Finding>)>,
    dropped: u64,
}

impl CaptureState for LearnedPorts {
    fn add(&mut self, sighting: SightingData, tcp_stream: u64) {
        let Ok(s) = sighting.downcast::<PortSighting>() else {
            return;
        };
        match *s {
            PortSighting::Tls { port, server } => {
                self.learned
                    .entry(port)
                    .or_insert(Learned { tcp_stream, server });
            }
            PortSighting::Plaintext {
                port,
                mut flow,
                finding,
            } => {
                if self.candidates.len() >= MAX_CANDIDATES {
                    self.dropped += 1;
                    return;
                }
                flow.tcp_stream = tcp_stream;
                self.candidates.push((port, flow, finding));
            }
        }
    }

    fn finish(&mut self) -> Vec<(FlowRef, Finding)> {
        let mut out = Vec::new();
        for (port, flow, finding) in self.candidates.drain(..) {
            let Some(learned) = self.learned.get(&port) else {
                continue;
            };
            let mut finding = *finding;
            finding.summary = format!(
                "{} (Port {port} is a TLS port: the server {} answered a ClientHello on it in tcp.stream {}.)",
                finding.summary, learned.server, learned.tcp_stream
            );
            if let Value::Object(ev) = &mut finding.evidence {
                ev.insert(
                    "tls_port_learned_from".into(),
                    serde_json::json!({
                        "tcp_stream": learned.tcp_stream,
                        "server": learned.server,
                    }),
                );
            }
            out.push((flow, finding));
        }
        out
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.learned.is_empty() {
            let ports: Vec<String> = self
                .learned
                .iter()
                .map(|(port, l)| format!("{port} (tcp.stream {})", l.tcp_stream))
                .collect();
            notes.push(format!(
                "TLS ports learned from ServerHellos outside --tls-ports: {}",
                ports.join(", ")
            ));
        }
        if self.dropped > 0 {
            notes.push(format!(
                "{} plaintext flows to ports outside --tls-ports were not checked against the TLS ports learned (more than {MAX_CANDIDATES})",
                self.dropped
            ));
        }
        notes
    }
}
