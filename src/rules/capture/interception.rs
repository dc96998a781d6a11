//! `tls_interception_suspected`: a leaf certificate whose issuer differs from the issuer the
//! same SNI presents on most other flows of the capture suggests TLS interception (a proxy
//! or security product re-signing certificates). Each such flow gets the finding at the end
//! of the capture. State is bounded: per SNI and issuer, a count and a few example flows.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use super::{CaptureRule, CaptureState, SightingData};
use crate::config::RuleEnv;
use crate::flow::{FlowRecord, FlowRef};
use crate::model::{FrameNo, Side, TimestampUs};
use crate::rules::{Finding, Kind, Severity};
use crate::tls::wire::hs;
use crate::tls::{HandshakeType, TlsEventKind};

pub const TLS_INTERCEPTION: CaptureRule = CaptureRule {
    name: "tls_interception",
    doc: "The same SNI is served with leaf certificates from different issuers across the flows of a capture.",
    kinds: &[Kind::TlsInterceptionSuspected],
    sight: |flow, _| sight(flow).map(|s| Box::new(s) as SightingData),
    new: |_: &RuleEnv| Box::<IssuerWatch>::default(),
};

/// One flow that presented a certificate for an SNI.
#[derive(Clone)]
struct Presented {
    flow: FlowRef,
    frame: FrameNo,
    ts_us: TimestampUs,
    subject: String,
}

/// What the rule takes of one flow: taken where the flow finished (a `--threads` worker).
struct IssuerSighting {
    sni: String,
    issuer: String,
    presented: Presented,
}

#[derive(Default)]
struct IssuerSeen {
    flows: u64,
    first_stream: u64,
    examples: Vec<Presented>,
}

/// Per SNI, the issuers of the leaf certificates presented for it.
#[derive(Default)]
struct IssuerWatch {
    by_sni: HashMap<String, BTreeMap<String, IssuerSeen>>,
}

/// Flows flagged per unusual issuer (the rest are counted in the finding).
const MAX_FLAGGED: usize = 10;
/// SNIs tracked (a capture of a busy proxy could see very many).
const MAX_SNIS: usize = 100_000;

/// The SNI and leaf certificate a flow presented, if it did.
fn sight(flow: &FlowRecord) -> Option<IssuerSighting> {
    let (Some(sni), Some(leaf)) = (flow.sni(), flow.server_leaf()) else {
        return None;
    };
    let tls = flow.tls.as_ref()?;
    let frame = tls
        .events
        .iter()
        .find(|e| {
            e.dir.sender() == Side::Server
                && e.kind == TlsEventKind::Handshake(HandshakeType(hs::CERTIFICATE))
        })
        .map_or(flow.first_frame, |e| e.frame);
    Some(IssuerSighting {
        sni: sni.to_string(),
        issuer: leaf.issuer.clone(),
        presented: Presented {
            flow: flow.flow_ref(),
            frame,
            ts_us: flow.ts_of(frame),
            subject: leaf.subject.clone(),
        },
    })
}

impl CaptureState for IssuerWatch {
    fn add(&mut self, sighting: SightingData, tcp_stream: u64) {
        if let Ok(s) = sighting.downcast::<IssuerSighting>() {
            self.add_sighting(*s, tcp_stream);
        }
    }

    fn finish(&mut self) -> Vec<(FlowRef, Finding)> {
        self.findings()
    }
}

impl IssuerWatch {
    fn add_sighting(&mut self, s: IssuerSighting, tcp_stream: u64) {
        if !self.by_sni.contains_key(&s.sni) && self.by_sni.len() >= MAX_SNIS {
            return;
        }
        let seen = self
            .by_sni
            .entry(s.sni)
            .or_default()
            .entry(s.issuer)
            .or_insert_with(|| IssuerSeen {
                first_stream: tcp_stream,
                ..Default::default()
            });
        seen.flows += 1;
        if seen.examples.len() < MAX_FLAGGED {
            let mut p = s.presented;
            p.flow.tcp_stream = tcp_stream;
            seen.examples.push(p);
        }
    }

    /// A finding for each flow whose issuer is not the one most flows of the same SNI
    /// present, SNIs in name order.
    fn findings(&self) -> Vec<(FlowRef, Finding)> {
        let mut out = Vec::new();
        let mut snis: Vec<_> = self.by_sni.iter().filter(|(_, m)| m.len() > 1).collect();
        snis.sort_by(|a, b| a.0.cmp(b.0));
        for (sni, issuers) in snis {
            // The usual issuer: most flows, then seen first.
            let Some((usual, usual_seen)) = issuers.iter().max_by(|a, b| {
                a.1.flows
                    .cmp(&b.1.flows)
                    .then(b.1.first_stream.cmp(&a.1.first_stream))
            }) else {
                continue;
            };
            for (issuer, seen) in issuers.iter().filter(|(i, _)| *i != usual) {
                for p in &seen.examples {
                    let summary = format!(
                        "The certificate for {sni} on this flow is issued by {issuer}, while {} other flow(s) of the capture get one issued by {usual}: possible TLS interception.",
                        usual_seen.flows
                    );
                    let explanation = format!(
                        "The same name presents certificates from different issuers within one capture. A proxy, \
                         antivirus or security appliance that intercepts TLS re-signs the server's certificate with its \
                         own CA; clients that do not trust that CA then fail (unknown_ca, bad_certificate). It can also \
                         be a legitimate certificate rollover or several backends with different CAs: compare the issuer \
                         ({issuer}, seen on {} flow(s)) with the server's real chain ({usual}, seen on {} flow(s), e.g. \
                         tcp.stream {}).",
                        seen.flows, usual_seen.flows, usual_seen.first_stream
                    );
                    let finding =
                        Finding::new(Kind::TlsInterceptionSuspected, Severity::Medium, p.ts_us)
                            .frames([p.frame])
                            .summary(summary)
                            .explanation(explanation)
                            .evidence(json!({
                                "sni": sni,
                                "subject": p.subject,
                                "issuer": issuer,
                                "usual_issuer": usual,
                                "flows_with_issuer": seen.flows,
                                "flows_with_usual_issuer": usual_seen.flows,
                                "usual_issuer_example_stream": usual_seen.first_stream,
                            }));
                    out.push((p.flow.clone(), finding));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::CaptureRules;
    use crate::config::RuleEnv;
    use crate::rules::testutil::*;
    use crate::rules::{Kind, Severity};

    #[test]
    fn a_different_issuer_for_the_same_sni_is_flagged() {
        let mut w = CaptureRules::new(&RuleEnv::default());
        for stream in 0..3 {
            let mut f = healthy12();
            f.tcp_stream = stream;
            w.add_flow(&f, &[]);
        }
        let mut odd = healthy12();
        odd.tcp_stream = 3;
        odd.server_certs = vec![Ok(crate::tls::types::CertInfo {
            issuer: "CN=Corp Inspection CA".into(),
            ..leaf("www.example.com")
        })];
        w.add_flow(&odd, &[]);
        let found = w.finish();
        assert_eq!(found.len(), 1);
        let (at, f) = &found[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.kind, Kind::TlsInterceptionSuspected);
        assert_eq!(at.tcp_stream, 3);
        assert_eq!(f.frames, [5]);
        assert_eq!(f.evidence["issuer"], "CN=Corp Inspection CA");
        assert_eq!(f.evidence["usual_issuer"], "CN=Example Intermediate CA");
        assert_eq!(f.evidence["flows_with_usual_issuer"], 3);

        // One issuer only: nothing.
        let mut w = CaptureRules::new(&RuleEnv::default());
        w.add_flow(&healthy12(), &[]);
        assert!(w.finish().is_empty());
    }
}
