//! `handshake_aborted`: a handshake began (ClientHello seen) and never completed. Runs last:
//! the diagnosis (`likely_cause`) is built from the alert, the step reached, how the
//! connection ended, and the other findings already raised on the flow.

use serde_json::{json, Value};

use super::alert::alert_explanation;
use super::cipher::offered_cipher_names;
use super::offer::{compare, handshake_frame, strings, version_range};
use super::version::offered_versions;
use super::{Cause, Finding, Kind, Rule, RuleCtx, Severity, KINDS};
use crate::flow::{EndReason, FlowRecord};
use crate::model::{Dir, FrameNo, Side, TimestampUs};
use crate::tls::names::{alert_description_name, version_name};
use crate::tls::wire::hs;
use crate::tls::{TlsConn, TlsEventKind};

pub const HANDSHAKE_ABORTED: Rule = Rule {
    name: "handshake_aborted",
    doc: "A handshake began and never completed: who gave up, at which step, how, and the most likely cause.",
    kinds: &[Kind::HandshakeAborted],
    // What the diagnosis builds on; every kind that `rejects_certificate` belongs here.
    after: &[
        Kind::ProxyConnectFailed,
        Kind::TlsToPlaintextPort,
        Kind::VersionMismatch,
        Kind::CipherMismatch,
        Kind::CertificateExpired,
        Kind::CertificateNotYetValid,
        Kind::CertificateSelfSigned,
        Kind::CertificateNameMismatch,
        Kind::CertificateWeak,
        Kind::CertificateChainIncomplete,
        Kind::CertificateUntrusted,
    ],
    check,
};

mod trust;

/// How the handshake ended, and who ended it.
struct Ending {
    by: Option<Side>,
    how: &'static str,
    frame: Option<FrameNo>,
    ts_us: TimestampUs,
    /// The alert description, when an alert ended it ("encrypted" when not visible).
    alert: Option<&'static str>,
    /// A fatal alert sent after the other side had closed: its sender, description and
    /// frame. The close ended the handshake; the alert was the reaction to it.
    reaction: Option<(Side, &'static str, FrameNo)>,
}

fn ending(flow: &FlowRecord, tls: &TlsConn) -> Ending {
    let alert = tls.events.iter().find_map(|e| match e.kind {
        TlsEventKind::Alert {
            level: 2,
            description,
        } => Some((e, alert_description_name(description))),
        TlsEventKind::EncryptedAlert { .. } => Some((e, "encrypted")),
        _ => None,
    });
    let close = flow.first_close();
    if let Some((e, name)) = alert {
        let sender = e.dir.sender();
        // Order decides: the other side's FIN/RST before the alert ended the handshake (an
        // OpenSSL client answers a server's bare FIN with decode_error, for one).
        match close.filter(|(side, _, ev)| *side != sender && ev.frame < e.frame) {
            Some((side, how, ev)) => {
                return Ending {
                    by: Some(side),
                    how,
                    frame: Some(ev.frame),
                    ts_us: ev.ts_us,
                    alert: None,
                    reaction: Some((sender, name, e.frame)),
                }
            }
            None => {
                return Ending {
                    by: Some(sender),
                    how: "alert",
                    frame: Some(e.frame),
                    ts_us: e.ts_us,
                    alert: Some(name),
                    reaction: None,
                }
            }
        }
    }
    if let Some((side, how, ev)) = close {
        return Ending {
            by: Some(side),
            how,
            frame: Some(ev.frame),
            ts_us: ev.ts_us,
            alert: None,
            reaction: None,
        };
    }
    let how = match flow.end {
        EndReason::Timeout | EndReason::Evicted => "timeout",
        _ => "capture_end",
    };
    Ending {
        by: None,
        how,
        frame: None,
        ts_us: flow.last_ts_us,
        alert: None,
        reaction: None,
    }
}

const CERT_ALERTS: &[&str] = &[
    "bad_certificate",
    "unsupported_certificate",
    "certificate_revoked",
    "certificate_expired",
    "certificate_unknown",
    "unknown_ca",
];

/// The diagnosis of one aborted handshake.
struct Diag {
    cause: Cause,
    confidence: &'static str,
    explanation: String,
    /// The decisive facts, each with its frame(s), beyond the ClientHello and the ending.
    because: Vec<String>,
    /// A RST injected on the path: `aborted_by` becomes `middlebox`.
    middlebox: bool,
    /// Frames of the decisive facts besides the ClientHello and the ending.
    frames: Vec<FrameNo>,
}

fn diag(cause: Cause, confidence: &'static str, explanation: String) -> Diag {
    Diag {
        cause,
        confidence,
        explanation,
        because: Vec::new(),
        middlebox: false,
        frames: Vec::new(),
    }
}

impl Diag {
    fn because(mut self, facts: impl IntoIterator<Item = String>) -> Self {
        self.because.extend(facts);
        self
    }
}

/// "frame 5" / "frames 4, 6" for a finding's frames.
fn frames_text(frames: &[FrameNo]) -> String {
    let list: Vec<String> = frames.iter().map(u64::to_string).collect();
    match list.len() {
        0 => "no frame".into(),
        1 => format!("frame {}", list[0]),
        _ => format!("frames {}", list.join(", ")),
    }
}

/// An earlier finding as a `because` fact: "certificate_expired (frame 5): ...".
fn finding_fact(f: &Finding) -> String {
    format!("{} ({}): {}", f.kind, frames_text(&f.frames), f.summary)
}

/// The server's leaf certificate as a fact, with the frame of its Certificate message.
fn leaf_fact(flow: &FlowRecord, tls: &TlsConn) -> Option<String> {
    let leaf = flow.server_leaf()?;
    let frame = handshake_frame(tls, Side::Server, 11)?;
    Some(format!(
        "server Certificate at frame {frame}: {} issued by {}",
        leaf.subject, leaf.issuer
    ))
}

/// The last TLS message the given side sent: "ServerHelloDone from the server at frame 5".
fn last_message_fact(tls: &TlsConn, side: Side) -> Option<String> {
    let e = tls.events.iter().rev().find(|e| e.dir.sender() == side)?;
    let what = match e.kind {
        TlsEventKind::Handshake(t) => crate::tls::names::handshake_type_name(t.0).to_string(),
        TlsEventKind::ChangeCipherSpec => "change_cipher_spec".into(),
        TlsEventKind::EncryptedHandshake { len } => {
            format!("an encrypted handshake record ({len} bytes)")
        }
        TlsEventKind::EncryptedAlert { len } => format!("an encrypted alert ({len} bytes)"),
        TlsEventKind::ApplicationData { len } => format!("application data ({len} bytes)"),
        _ => "a TLS record".into(),
    };
    Some(format!(
        "last TLS message from the {}: {what} at frame {}",
        side.as_str(),
        e.frame
    ))
}

/// How far (in hops) a TTL lies outside a range.
pub(super) fn ttl_distance(ttl: u8, (lo, hi): (u8, u8)) -> u8 {
    if ttl < lo {
        lo - ttl
    } else {
        ttl.saturating_sub(hi)
    }
}

/// A RST whose TTL differs from every other packet of its direction by at least this many
/// hops was most likely injected by a middlebox.
pub const MIDDLEBOX_TTL_HOPS: u8 = 3;

/// The RST that ended the flow was injected on the path: (sender it claims, RST TTL,
/// the direction's TTL range, frame).
fn injected_rst(flow: &FlowRecord, end: &Ending) -> Option<(Side, u8, (u8, u8), FrameNo)> {
    if end.how != "rst" {
        return None;
    }
    let side = end.by?;
    let d = match side {
        Side::Client => Dir::ToServer.index(),
        Side::Server => Dir::ToClient.index(),
    };
    let rst = flow.rst[d]?;
    let range = flow.ttl_range[d]?;
    (ttl_distance(rst.ttl, range) >= MIDDLEBOX_TTL_HOPS)
        .then_some((side, rst.ttl, range, rst.frame))
}

/// Is the server's flight stalled on the network: the server answered, its direction shows
/// retransmissions, lost segments or a zero window from the client, and the client never
/// got to send its next flight? Returns the facts.
fn stalled_flight(flow: &FlowRecord, tls: &TlsConn) -> Option<Vec<String>> {
    let s = Dir::ToClient.index();
    let c = Dir::ToServer.index();
    let server_sent = flow.payload_bytes[s] > 0;
    let client_continued = tls
        .events
        .iter()
        .skip(1)
        .any(|e| e.dir.sender() == Side::Client);
    if !server_sent || client_continued {
        return None;
    }
    let st = &flow.stream_stats[s];
    let mut facts = Vec::new();
    if st.retransmitted >= 2 {
        facts.push(format!(
            "the server retransmitted {} segments of its flight ({} payload bytes sent)",
            st.retransmitted, flow.payload_bytes[s]
        ));
    }
    if st.gaps > 0 {
        facts.push(format!(
            "{} bytes of the server's flight never appeared in the capture ({} gaps)",
            st.gap_bytes, st.gaps
        ));
    }
    if flow.zero_window[c] > 0 {
        facts.push(format!(
            "the client advertised a zero receive window {} times",
            flow.zero_window[c]
        ));
    }
    (!facts.is_empty()).then_some(facts)
}

fn lower(confidence: &'static str) -> &'static str {
    match confidence {
        "high" => "medium",
        _ => "low",
    }
}

/// What every cause looks at.
struct Facts<'a> {
    ctx: &'a RuleCtx<'a>,
    flow: &'a FlowRecord,
    tls: &'a TlsConn,
    end: &'a Ending,
    stage: &'static str,
    by_client: bool,
    by_server: bool,
    tls13: bool,
    /// The first finding a client may reject the certificate for, in registry order.
    cert_problem: Option<&'a Finding>,
    name_problem: Option<&'a Finding>,
    /// The leaf certificate as a `because` fact.
    leaf: Option<String>,
}

/// One named cause: it explains the abort, or passes.
struct CauseCheck {
    name: &'static str,
    check: fn(&Facts<'_>) -> Option<Diag>,
}

/// The causes, most specific first: the first that explains the abort wins; the handshake
/// that merely went quiet is the last resort ([`went_quiet`]).
const CAUSES: &[CauseCheck] = &[
    CauseCheck {
        name: "heartbleed_probe",
        check: heartbleed_probe,
    },
    CauseCheck {
        name: "proxy_refused_tunnel",
        check: proxy_refused_tunnel,
    },
    CauseCheck {
        name: "plaintext_answer",
        check: plaintext_answer,
    },
    CauseCheck {
        name: "no_common_version",
        check: no_common_version,
    },
    CauseCheck {
        name: "no_common_cipher",
        check: no_common_cipher,
    },
    CauseCheck {
        name: "missing_intermediate",
        check: trust::missing_intermediate,
    },
    CauseCheck {
        name: "untrusted_root",
        check: trust::untrusted_root,
    },
    CauseCheck {
        name: "certificate_alert_from_client",
        check: certificate_alert_from_client,
    },
    CauseCheck {
        name: "tls13_alert_sized_answer",
        check: tls13_alert_sized_answer,
    },
    CauseCheck {
        name: "client_certificate_refused",
        check: client_certificate_refused,
    },
    CauseCheck {
        name: "tls13_refused_after_client_finished",
        check: tls13_refused_after_client_finished,
    },
    CauseCheck {
        name: "other_fatal_alert",
        check: other_fatal_alert,
    },
    CauseCheck {
        name: "injected_rst",
        check: injected_rst_cause,
    },
    CauseCheck {
        name: "stalled_server_flight",
        check: stalled_server_flight,
    },
    CauseCheck {
        name: "client_left_after_certificate",
        check: client_left_after_certificate,
    },
    CauseCheck {
        name: "server_closed",
        check: server_closed,
    },
    CauseCheck {
        name: "client_gave_up",
        check: client_gave_up,
    },
    CauseCheck {
        name: "silent_server",
        check: silent_server,
    },
];

/// The diagnosis: the first cause of [`CAUSES`] that explains the abort.
fn diagnose(ctx: &RuleCtx<'_>, tls: &TlsConn, end: &Ending) -> Diag {
    diagnose_named(ctx, tls, end).1
}

/// The name of the cause that decides an aborted flow's diagnosis, with the findings the
/// rules before `handshake_aborted` raised on it.
#[cfg(test)]
fn decided_by(flow: &FlowRecord, earlier: Vec<Finding>) -> Option<&'static str> {
    let tls = flow.tls.as_ref()?;
    if tls.client_hello.is_none() || tls.established {
        return None;
    }
    let env = crate::config::RuleEnv::default();
    let mut ctx = RuleCtx::new(flow, &env);
    ctx.findings = earlier;
    ctx.enter(&HANDSHAKE_ABORTED);
    Some(diagnose_named(&ctx, tls, &ending(flow, tls)).0)
}

/// [`diagnose`], with the name of the cause that decided.
fn diagnose_named(ctx: &RuleCtx<'_>, tls: &TlsConn, end: &Ending) -> (&'static str, Diag) {
    let flow = ctx.flow;
    let facts = Facts {
        ctx,
        flow,
        tls,
        end,
        stage: tls.stage.as_str(),
        by_client: end.by == Some(Side::Client),
        by_server: end.by == Some(Side::Server),
        tls13: tls
            .negotiated_version()
            .is_some_and(|v| v == 0x0304 || v & 0xff00 == 0x7f00),
        // In the order of the registry: an expired certificate explains more than a weak one.
        cert_problem: KINDS
            .iter()
            .filter(|s| s.rejects_certificate)
            .find_map(|s| ctx.first(s.kind)),
        name_problem: ctx.first(Kind::CertificateNameMismatch),
        leaf: leaf_fact(flow, tls),
    };
    CAUSES
        .iter()
        .find_map(|c| (c.check)(&facts).map(|d| (c.name, d)))
        .unwrap_or_else(|| ("went_quiet", went_quiet(&facts)))
}

fn proxy_refused_tunnel(x: &Facts<'_>) -> Option<Diag> {
    let f = x.ctx.first(Kind::ProxyConnectFailed)?;
    Some(diag(Cause::Proxy, "high", format!(
        "The client sent its ClientHello right behind an HTTP CONNECT to {}, and the proxy refused the tunnel \
         with {}: the handshake never reached the target server. See the proxy_connect_failed finding.",
        f.evidence_str("target").unwrap_or("the target"), f.evidence["status"]))
    .because([finding_fact(f)]))
}

fn plaintext_answer(x: &Facts<'_>) -> Option<Diag> {
    let f = x.ctx.first(Kind::TlsToPlaintextPort)?;
    Some(diag(Cause::PlaintextMismatch, "high", format!(
        "The server does not speak TLS on this port: it answered the ClientHello with plaintext ({}). Use the \
         server's TLS port or the plaintext scheme.", f.evidence_str("server_first_bytes").unwrap_or("")))
    .because([finding_fact(f)]))
}

fn no_common_version(x: &Facts<'_>) -> Option<Diag> {
    let f = x.ctx.first(Kind::VersionMismatch)?;
    Some(diag(Cause::VersionMismatch, "high", f.explanation.clone()).because([finding_fact(f)]))
}

fn no_common_cipher(x: &Facts<'_>) -> Option<Diag> {
    let f = x.ctx.first(Kind::CipherMismatch)?;
    Some(diag(Cause::CipherMismatch, "high", f.explanation.clone()).because([finding_fact(f)]))
}

fn certificate_alert_from_client(x: &Facts<'_>) -> Option<Diag> {
    let a = x
        .end
        .alert
        .filter(|a| x.by_client && CERT_ALERTS.contains(a))?;
    let leaf = x.leaf.clone();
    if let Some(f) = x
        .name_problem
        .filter(|_| a != "certificate_expired" && a != "unknown_ca")
    {
        return Some(
            diag(
                Cause::NameMismatch,
                "high",
                format!(
                    "The client rejected the server certificate with {a}: {}",
                    f.summary
                ),
            )
            .because(leaf.into_iter().chain([finding_fact(f)])),
        );
    }
    let detail = x
        .cert_problem
        .map(|f| format!(" {}", f.summary))
        .unwrap_or_default();
    Some(
        diag(
            Cause::CertificateRejected,
            "high",
            format!(
                "The client rejected the server's certificate with a fatal {a} alert.{detail} {}",
                alert_explanation(a)
            ),
        )
        .because(leaf.into_iter().chain(x.cert_problem.map(finding_fact))),
    )
}

fn tls13_alert_sized_answer(x: &Facts<'_>) -> Option<Diag> {
    if !(x.end.alert == Some("encrypted") && x.by_client && x.tls13) {
        return None;
    }
    let flight = x.tls.events.iter().find_map(|e| match e.kind {
        TlsEventKind::EncryptedHandshake { len } if e.dir.sender() == Side::Server => {
            Some(format!(
                "the server's encrypted flight (certificate included) at frame {} ({len} bytes)",
                e.frame
            ))
        }
        _ => None,
    });
    let short = x.tls.events.iter().find_map(|e| match e.kind {
        TlsEventKind::EncryptedAlert { len } if e.dir.sender() == Side::Client => Some(format!(
            "the client's answer at frame {} is a single {len}-byte encrypted record (alert-sized), not a Finished",
            e.frame
        )),
        _ => None,
    });
    Some(diag(Cause::CertificateRejected, "medium", format!(
        "In TLS 1.3 the server's certificate is encrypted, and the client answered the server's flight with a \
         single short encrypted record (the size of an alert) instead of its Finished, then closed: the client \
         most likely rejected the server certificate (untrusted CA, expired, or name mismatch for SNI {}). \
         Check the certificate with `openssl s_client -connect HOST:PORT -servername NAME`.",
        x.flow.sni().unwrap_or("(none)")))
    .because(flight.into_iter().chain(short)))
}

fn client_certificate_refused(x: &Facts<'_>) -> Option<Diag> {
    let a = x.end.alert.filter(|a| {
        x.by_server
            && matches!(
                *a,
                "certificate_required" | "handshake_failure" | "bad_certificate"
            )
    })?;
    let req = handshake_frame(x.tls, Side::Server, hs::CERTIFICATE_REQUEST)?;
    let sent = x.flow.client_certs.iter().flatten().next();
    let (what, fact) = match (handshake_frame(x.tls, Side::Client, hs::CERTIFICATE), sent) {
        (Some(f), Some(c)) => (
            format!(
                "the client sent a certificate ({}, issued by {}) that the server does not accept",
                c.subject, c.issuer
            ),
            format!(
                "client Certificate at frame {f}: {} issued by {}",
                c.subject, c.issuer
            ),
        ),
        (Some(f), None) => (
            "the client sent none (an empty Certificate message)".to_string(),
            format!("client Certificate at frame {f} is empty"),
        ),
        (None, _) => (
            "the client sent none".to_string(),
            "no client Certificate message".to_string(),
        ),
    };
    Some(diag(Cause::ClientCertificate, "medium", format!(
        "The server asked for a client certificate (CertificateRequest) and then aborted with {a}: {what}. \
         Configure the client certificate and key, and check that the server trusts its issuing CA."))
    .because([format!("CertificateRequest from the server at frame {req}"), fact]))
}

/// A TLS 1.3 empty client Certificate record: handshake header 4, context 1, list length 3,
/// inner content type 1, AEAD tag 16.
const TLS13_EMPTY_CERTIFICATE_RECORD: u16 = 4 + 1 + 3 + 1 + 16;

/// TLS 1.3 without keys: the client sent its flight (Finished included), and the server's
/// only answer was an alert-sized record (see `TlsConn`'s TLS 1.3 inference). The server
/// refused the client after its Finished: in practice a client certificate it required and
/// did not get, or did not accept. How sure depends on what the record sizes show.
fn tls13_refused_after_client_finished(x: &Facts<'_>) -> Option<Diag> {
    let server_closed = x.flow.fin[Dir::ToClient.index()]
        .or(x.flow.rst[Dir::ToClient.index()])
        .is_some();
    if !(x.tls13
        && x.by_server
        && server_closed
        && x.end.alert == Some("encrypted")
        && x.stage == "finished")
    {
        return None;
    }
    let alert_frame = x.end.frame?;
    // The client's flight: its encrypted records in the frame of the first one.
    let first = x.tls.events.iter().find(|e| {
        e.dir == Dir::ToServer && matches!(e.kind, TlsEventKind::EncryptedHandshake { .. })
    })?;
    let flight: Vec<u16> =
        x.tls
            .events
            .iter()
            .filter(|e| e.dir == Dir::ToServer && e.frame == first.frame)
            .filter_map(|e| match e.kind {
                TlsEventKind::EncryptedHandshake { len }
                | TlsEventKind::ApplicationData { len } => Some(len),
                _ => None,
            })
            .collect();
    let server_flight = x
        .tls
        .events
        .iter()
        .filter(|e| {
            e.dir == Dir::ToClient && matches!(e.kind, TlsEventKind::EncryptedHandshake { .. })
        })
        .count();
    let mut because = vec![format!(
        "the server's first record after the client's flight (frame {}) is alert-sized, at frame {alert_frame}, and the server then closed without answering",
        first.frame
    )];
    // With a CertificateRequest the client answers Certificate (+ CertificateVerify) before
    // Finished: more than one record in its flight, the first one 25 bytes when empty.
    let (confidence, what) = if flight.len() >= 2 {
        because.push(format!(
            "the client's flight at frame {} has {} encrypted records ({} bytes): a Certificate{} before its Finished, so the server had sent a CertificateRequest",
            first.frame,
            flight.len(),
            flight.iter().map(u16::to_string).collect::<Vec<_>>().join(", "),
            if flight.len() >= 3 { " and CertificateVerify" } else { "" }
        ));
        if flight[0] == TLS13_EMPTY_CERTIFICATE_RECORD {
            because.push(format!(
                "its first record is {TLS13_EMPTY_CERTIFICATE_RECORD} bytes, the size of an empty Certificate: the client has no certificate configured"
            ));
            (
                "high",
                "the client sent no certificate (an empty Certificate)",
            )
        } else if flight.len() >= 3 {
            (
                "high",
                "the server did not accept the certificate the client sent",
            )
        } else {
            (
                "medium",
                "the client's certificate was missing or not accepted",
            )
        }
    } else {
        ("low", "most likely a client certificate it required (the record sizes do not show a CertificateRequest)")
    };
    if server_flight >= 5 {
        because.push(format!(
            "the server's encrypted flight has {server_flight} records, room for a CertificateRequest besides EncryptedExtensions, Certificate, CertificateVerify and Finished"
        ));
    }
    Some(
        diag(
            Cause::ClientCertificate,
            confidence,
            format!(
                "TLS 1.3 without keys: the client completed its side of the handshake, and the server answered only \
                 with an encrypted alert and closed. A TLS 1.3 server verifies the client's certificate after the \
                 client's Finished, so this is mutual TLS failing: {what}. Configure the client certificate and key \
                 (curl --cert/--key, openssl s_client -cert/-key) and check that the server trusts its issuing CA; \
                 the server's log names the alert (certificate_required, unknown_ca, bad_certificate)."
            ),
        )
        .because(because),
    )
}

/// A client that sent a Heartbleed-style heartbeat never meant to finish the handshake:
/// whatever ended it, the scan is the cause (not the certificate it was shown).
fn heartbleed_probe(x: &Facts<'_>) -> Option<Diag> {
    let probe = x
        .tls
        .events
        .iter()
        .find(|e| e.dir.sender() == Side::Client && e.kind.is_heartbleed())?;
    let TlsEventKind::Heartbeat {
        len,
        payload_len_claimed,
    } = probe.kind
    else {
        return None;
    };
    let mut d = diag(
        Cause::HeartbleedProbe,
        "high",
        format!(
            "The client sent a Heartbleed-style heartbeat request at {} and the connection ended there ({}): \
             a vulnerability scanner or an attack (CVE-2014-0160), not a client that failed to connect. See \
             the heartbeat finding for whether the server leaked memory.",
            x.stage, x.end.how
        ),
    )
    .because([format!(
        "a heartbeat request claiming {payload_len_claimed} bytes of payload in a {len}-byte record (frame {})",
        probe.frame
    )]);
    d.frames = vec![probe.frame];
    Some(d)
}

fn other_fatal_alert(x: &Facts<'_>) -> Option<Diag> {
    let a = x.end.alert?;
    let who = x.end.by.map_or("a side", Side::as_str);
    let last = x.end.by.and_then(|s| {
        let other = match s {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        };
        last_message_fact(x.tls, other)
    });
    Some(
        diag(
            Cause::Unknown,
            "medium",
            format!(
                "The {who} aborted the handshake at {} with a fatal {a} alert. {}",
                x.stage,
                alert_explanation(a)
            ),
        )
        .because(last),
    )
}

fn injected_rst_cause(x: &Facts<'_>) -> Option<Diag> {
    let (side, ttl, (lo, hi), frame) = injected_rst(x.flow, x.end)?;
    let range = if lo == hi {
        format!("TTL {lo}")
    } else {
        format!("TTLs {lo}-{hi}")
    };
    let n = x.flow.packets[match side {
        Side::Client => 0,
        Side::Server => 1,
    }]
    .saturating_sub(1);
    let confidence = if ttl_distance(ttl, (lo, hi)) >= 16 {
        "high"
    } else {
        "medium"
    };
    let mut d = diag(Cause::Network, confidence, format!(
        "The RST at frame {frame} claims to come from the {side} but carries TTL {ttl}, while the {side}'s \
         other {n} packet(s) of this flow carry {range}: it was most likely injected by a middlebox on the path \
         (firewall, proxy or IPS), which blocked the connection at {stage}. Check the firewall/IPS logs \
         (often an SNI or destination block), or capture on the other side of it.",
        side = side.as_str(), stage = x.stage))
    .because([format!("RST at frame {frame} has TTL {ttl}; the {}'s other packets have {range}", side.as_str())]);
    d.middlebox = true;
    Some(d)
}

/// The first path-MTU signal (ICMP fragmentation needed, ICMPv6 packet too big) about the
/// flow's segments, as a fact, with its frame and the MTU it announces.
fn mtu_signal(flow: &FlowRecord) -> Option<(String, FrameNo, Option<u32>)> {
    let e = flow
        .icmp
        .iter()
        .find(|e| matches!(e.name, "frag_needed" | "packet_too_big"))?;
    let of = match e.about {
        Dir::ToServer => "client",
        Dir::ToClient => "server",
    };
    let mtu = e
        .mtu
        .map_or("no MTU given".to_string(), |m| format!("MTU {m}"));
    let more = match flow.icmp_count {
        0 | 1 => String::new(),
        n => format!(" ({n} ICMP errors about this flow in all)"),
    };
    Some((
        format!(
            "{} {} from {} at frame {} ({mtu}) about the {of}'s segment{more}: the path MTU is smaller than that side's segments",
            if e.v6 { "ICMPv6" } else { "ICMP" },
            e.name.replace('_', " "),
            e.sender,
            e.frame
        ),
        e.frame,
        e.mtu,
    ))
}

fn stalled_server_flight(x: &Facts<'_>) -> Option<Diag> {
    if x.by_server {
        return None;
    }
    let mut facts = stalled_flight(x.flow, x.tls)?;
    let mtu = mtu_signal(x.flow);
    let mut frames = Vec::new();
    let mut confidence = "medium";
    let mut seen = String::new();
    if let Some((fact, frame, m)) = mtu {
        // The router said why the segments do not get through: the black hole is after it
        // (the ICMP does not reach, or is ignored by, the sender's TCP).
        facts.push(fact);
        frames.push(frame);
        confidence = "high";
        seen = format!(
            " Here a router did report it (ICMP at frame {frame}{}), yet the sender kept retransmitting full-size \
             segments: the ICMP is filtered or ignored before it reaches the sender's TCP.",
            m.map(|m| format!(", MTU {m}")).unwrap_or_default()
        );
    }
    let mut d = diag(Cause::Network, confidence, format!(
        "The server started its flight but the client never answered it: the server's segments were \
         retransmitted, lost or held back by a zero window, and the handshake stalled at {} until the \
         connection {}. A large certificate flight that never arrives is the classic symptom of a path MTU \
         black hole (ICMP 'fragmentation needed' filtered, MSS too large on a tunnel/VPN) or a lossy link. \
         Check the MTU/MSS along the path (e.g. `ping -M do -s 1472`), or clamp the MSS.",
        x.stage,
        match x.end.how { "timeout" => "timed out", "capture_end" => "was still open at the end of the capture", h => if h == "rst" { "was reset" } else { "was closed" } }))
    .because(facts);
    d.explanation.push_str(&seen);
    d.frames = frames;
    Some(d)
}

fn client_left_after_certificate(x: &Facts<'_>) -> Option<Diag> {
    let after_server_flight = matches!(
        x.stage,
        "certificate" | "server_key_exchange" | "certificate_request" | "server_hello_done"
    );
    if !(x.by_client && after_server_flight) {
        return None;
    }
    // Whether the client's store holds the chain's issuer is exactly what a capture does
    // not show: without an alert, a trust finding alone is no sign the client objected
    // (a private CA the client was given looks the same).
    let objective = x.cert_problem.filter(|f| {
        !matches!(
            f.kind,
            Kind::CertificateChainIncomplete | Kind::CertificateUntrusted
        )
    });
    let (cause, f) = match (x.name_problem, objective) {
        (Some(f), _) => (Cause::NameMismatch, f),
        (None, Some(f)) => (Cause::CertificateRejected, f),
        (None, None) => return None,
    };
    Some(diag(cause, "medium", format!(
        "The client closed the connection ({}) right after receiving the server's certificate, without an \
         alert. {}", x.end.how, f.summary))
    .because(x.leaf.clone().into_iter().chain([finding_fact(f)])))
}

fn server_closed(x: &Facts<'_>) -> Option<Diag> {
    if !x.by_server {
        return None;
    }
    Some(diag(Cause::ServerClosedWithoutAlert, "medium", format!(
        "The server closed the connection ({}) at {} without sending an alert. Servers do this when TLS is \
         not configured for the name or port (no certificate, SNI not mapped), when a load balancer or firewall \
         in front of them refuses the client, or when the server process crashed or hit a limit. Check the \
         server's error log at this time.", x.end.how, x.stage))
    .because(
        last_message_fact(x.tls, Side::Server)
            .or_else(|| Some("no TLS message from the server before it closed".into())),
    ))
}

fn client_gave_up(x: &Facts<'_>) -> Option<Diag> {
    if !x.by_client {
        return None;
    }
    let waited = x
        .tls
        .events
        .iter()
        .rev()
        .find(|e| e.dir.sender() == Side::Server)
        .map(|e| {
            format!(
                "the client closed {} ms after the server's last TLS message (frame {})",
                (x.end.ts_us - e.ts_us) / 1000,
                e.frame
            )
        });
    Some(diag(Cause::ClientGaveUp, "medium", format!(
        "The client closed the connection ({}) at {} without sending an alert: the client application \
         gave up (timeout, user cancel, or its TLS library rejected something without saying so).", x.end.how, x.stage))
    .because(waited.or_else(|| Some("no TLS message from the server before the client closed".into()))))
}

fn silent_server(x: &Facts<'_>) -> Option<Diag> {
    let silent = x.tls.server_hello.is_none()
        && !x.tls.events.iter().any(|e| e.dir.sender() == Side::Server);
    if !silent {
        return None;
    }
    let server_packets = x.flow.packets[Dir::ToClient.index()];
    Some(diag(Cause::Unknown, "low", format!(
        "The server never answered the ClientHello ({} with no reply): a server that does not speak TLS on \
         this port, a firewall dropping the flow, or a capture missing the server's direction.",
        if x.end.how == "timeout" { "idle timeout" } else { "capture ended" }))
    .because([format!(
        "{server_packets} packets from the server, no TLS record from it; last frame of the flow {}",
        x.flow.last_frame
    )]))
}

/// The last resort: nobody closed, nobody sent an alert, the server had answered.
fn went_quiet(x: &Facts<'_>) -> Diag {
    diag(
        Cause::Unknown,
        "low",
        format!(
            "The handshake stopped at {} and the connection went quiet ({}).",
            x.stage, x.end.how
        ),
    )
    .because(
        last_message_fact(x.tls, Side::Server)
            .into_iter()
            .chain([format!("last frame of the flow {}", x.flow.last_frame)]),
    )
}

fn check(ctx: &mut RuleCtx<'_>) {
    let flow = ctx.flow;
    let Some(tls) = flow.tls.as_ref() else {
        return;
    };
    if tls.client_hello.is_none() || tls.established {
        return;
    }
    let end = ending(flow, tls);
    let d = diagnose(ctx, tls, &end);
    let stage = tls.stage.as_str();
    let by = if d.middlebox {
        "middlebox"
    } else {
        end.by.map_or("unknown", Side::as_str)
    };
    let severity = match end.how {
        "timeout" | "capture_end" => Severity::Medium,
        _ => Severity::High,
    };
    let how_text = match (end.how, end.alert) {
        ("alert", Some(a)) => format!("alert {a}"),
        (h, _) => h.to_string(),
    };
    let client_hello_frame = tls.events.first().map(|e| e.frame);
    let ch = tls.client_hello.as_ref();
    let offer = compare(flow, tls);
    let mut because = vec![format!(
        "ClientHello at frame {}{}",
        client_hello_frame.unwrap_or(flow.first_frame),
        ch.map(|c| format!(
            " offers {} with {} cipher suite(s)",
            version_range(&offered_versions(c)),
            offered_cipher_names(c).len()
        ))
        .unwrap_or_default()
    )];
    if let Some(f) = end.frame {
        let sender = end.by.map_or("unknown", Side::as_str);
        because.push(format!("{how_text} from the {sender} at frame {f}"));
    }
    if let Some((side, alert, f)) = end.reaction {
        because.push(format!(
            "the {}'s fatal {alert} alert at frame {f} came after that {}: a reaction to the close, not its cause",
            side.as_str(),
            end.how
        ));
    }
    because.extend(d.because);
    if let Some(o) = &offer {
        because.extend(o.verdicts.iter().cloned());
    }
    let (quality, issues) = crate::flow::capture_quality(flow);
    let mut confidence = d.confidence;
    let mut explanation = d.explanation;
    if let Some(o) = offer.as_ref().filter(|o| !o.verdicts.is_empty()) {
        let mut first = o.verdicts.join("; ");
        if let Some(c) = first.get(..1) {
            first.replace_range(..1, &c.to_uppercase());
        }
        explanation = format!("{explanation} Offer vs choice: {first}.");
    }
    if quality != "ok" {
        confidence = lower(confidence);
        explanation = format!(
            "{explanation} Capture quality: {} — this diagnosis rests on an incomplete view of the flow, so its \
             confidence is lowered; capture closer to the endpoints or on both sides.",
            issues.join("; ")
        );
        because.extend(issues.iter().map(|i| format!("capture: {i}")));
    }
    let via = flow.preamble.via.map(crate::cleartext::Via::as_str);
    let summary = format!(
        "TLS handshake aborted by the {by} at {stage} ({how_text}): {}.",
        d.cause.as_str().replace('_', " ")
    );
    let mut finding = Finding::new(Kind::HandshakeAborted, severity, end.ts_us)
        .frames(
            client_hello_frame
                .into_iter()
                .chain(end.frame)
                .chain(end.reaction.map(|r| r.2))
                .chain(d.frames),
        )
        .summary(summary)
        .explanation(explanation)
        .evidence(json!({
            "aborted_by": by,
            "stage": stage,
            "how": end.how,
            "alert": end.alert,
            "likely_cause": d.cause,
            "confidence": confidence,
            "capture_quality": quality,
            "history": tls.history,
            "sni": flow.sni(),
            "server_version": tls.negotiated_version().map(version_name),
            "via": via,
            "ttl": {
                "client": flow.ttl_range[Dir::ToServer.index()].map(|(a, b)| [a, b]),
                "server": flow.ttl_range[Dir::ToClient.index()].map(|(a, b)| [a, b]),
                "rst": end.frame.filter(|_| end.how == "rst").and_then(|_| {
                    flow.rst.iter().flatten().min_by_key(|e| e.frame).map(|e| e.ttl)
                }),
            },
        }));
    // The big parts are moved in (json! would copy them once more).
    let (client_offer, server_choice, verdicts) = match offer {
        Some(o) => (o.client_offer, o.server_choice, o.verdicts),
        None => (Value::Null, Value::Null, Vec::new()),
    };
    if let Value::Object(m) = &mut finding.evidence {
        m.insert("because".into(), strings(because));
        m.insert("capture_issues".into(), strings(issues));
        m.insert("client_offer".into(), client_offer);
        m.insert("server_choice".into(), server_choice);
        m.insert("offer_vs_choice".into(), strings(verdicts));
        // Only when the cause rests on it: older records keep their exact shape.
        if let Some((_, frame, mtu)) = mtu_signal(flow).filter(|_| d.cause == Cause::Network) {
            m.insert(
                "path_mtu".into(),
                json!({ "mtu": mtu, "icmp_frame": frame }),
            );
        }
        if let Some((side, alert, frame)) = end.reaction {
            m.insert(
                "reaction_alert".into(),
                json!({ "sent_by": side.as_str(), "description": alert, "frame": frame }),
            );
        }
    }
    ctx.push(finding);
}

#[cfg(test)]
mod tests {
    use crate::flow::EndReason;
    use crate::model::Dir;
    use crate::rules::testutil::*;
    use crate::rules::{evaluate, Finding, Severity};
    use crate::tls::types::ClientHello;
    use crate::tls::{HandshakeStage, TlsEventKind};

    const C: Dir = Dir::ToServer;
    const S: Dir = Dir::ToClient;

    /// Named causes that decide some flow below, by name.
    static DECIDED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

    fn aborted(f: &crate::flow::FlowRecord) -> (Finding, Vec<&'static str>) {
        let all = evaluate(f);
        let earlier: Vec<Finding> = all
            .iter()
            .filter(|x| x.kind != crate::rules::Kind::HandshakeAborted)
            .cloned()
            .collect();
        if let Some(name) = super::decided_by(f, earlier) {
            DECIDED.lock().unwrap_or_else(|e| e.into_inner()).push(name);
        }
        (one(&all, "handshake_aborted").clone(), kinds(&all))
    }

    /// Every named cause decides at least one flow: the unit scenarios of this module and
    /// the aborted flows of every sample.
    #[test]
    fn every_named_cause_decides_some_flow() {
        let mut seen: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "pcap") {
                continue;
            }
            let a = crate::pipeline::analyze_path(&p, &Default::default()).unwrap();
            for (flow, fs) in &a.flows {
                let earlier = fs
                    .iter()
                    .filter(|x| x.kind != crate::rules::Kind::HandshakeAborted)
                    .cloned()
                    .collect();
                seen.extend(super::decided_by(flow, earlier));
            }
        }
        // The scenarios of this module, run here too (tests run in any order).
        for t in SCENARIOS {
            t();
        }
        seen.extend(DECIDED.lock().unwrap_or_else(|e| e.into_inner()).iter());
        let mut names: Vec<&str> = super::CAUSES.iter().map(|c| c.name).collect();
        names.push("went_quiet");
        let missing: Vec<&&str> = names.iter().filter(|n| !seen.contains(**n)).collect();
        assert!(missing.is_empty(), "no flow decided by {missing:?}");
    }

    const SCENARIOS: &[fn()] = &[
        heartbleed_probe_is_the_cause_whatever_the_certificate,
        version_mismatch_from_protocol_version_alert,
        cipher_mismatch_from_handshake_failure_before_server_hello,
        certificate_rejected_by_clear_client_alert,
        name_mismatch_with_bad_certificate_alert,
        name_mismatch_when_client_closes_silently_after_certificate,
        plaintext_mismatch_when_server_answers_http,
        client_certificate_required,
        server_alert_without_certificate_request_is_unknown,
        server_closes_without_alert,
        client_gives_up_with_rst,
        silent_server_on_timeout_or_capture_end,
        quiet_after_server_answer_is_unknown_low,
        refused_pipelined_connect_is_a_proxy_problem,
        rst_with_a_foreign_ttl_was_injected_by_a_middlebox,
        stalled_certificate_flight_is_a_network_problem,
        frag_needed_about_the_stalled_flight_is_evidence_with_its_mtu,
        the_first_closer_ended_it_and_the_later_alert_is_a_reaction,
        tls13_server_alert_after_the_client_flight_is_a_client_certificate_problem,
        unknown_ca_after_a_missing_intermediate_names_it,
        unknown_ca_after_an_untrusted_private_root_names_it,
    ];

    /// (aborted_by, stage, how, likely_cause, confidence)
    fn diag(a: &Finding) -> (&str, &str, &str, &str, &str) {
        (
            ev(a, "aborted_by"),
            ev(a, "stage"),
            ev(a, "how"),
            ev(a, "likely_cause"),
            ev(a, "confidence"),
        )
    }

    /// A TLS 1.2 handshake stopped after the server's first flight (frame 5), then `then`.
    fn after_server_flight(then: Vec<crate::tls::TlsEvent>) -> crate::flow::FlowRecord {
        let mut events = server_flight12(5);
        events.extend(then);
        let mut f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            events,
            HandshakeStage::ServerHelloDone,
        );
        f.server_certs = vec![Ok(leaf("www.example.com"))];
        f
    }

    #[test]
    fn version_mismatch_from_protocol_version_alert() {
        let ch = ClientHello {
            version: 0x0301,
            ..client_hello()
        };
        let mut f = tls_flow(
            ch,
            None,
            vec![alert(S, 5, 2, 70)],
            HandshakeStage::ClientHello,
        );
        close(&mut f, S, false, 6);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"version_mismatch"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "server",
                "client_hello",
                "alert",
                "version_mismatch",
                "high"
            )
        );
        assert_eq!(ev(&a, "alert"), "protocol_version");
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.frames, vec![4, 5]);
        assert_eq!(a.ts_us, ts(5));
        assert_eq!(a.evidence["client_offer"]["versions"], "at most TLSv1.0");
        assert!(a.evidence["server_version"].is_null());
        assert_eq!(
            a.summary,
            "TLS handshake aborted by the server at client_hello (alert protocol_version): version mismatch."
        );
        // handshake_aborted runs last.
        assert_eq!(all.last(), Some(&"handshake_aborted"));
    }

    #[test]
    fn cipher_mismatch_from_handshake_failure_before_server_hello() {
        let mut f = tls_flow(
            client_hello(),
            None,
            vec![alert(S, 5, 2, 40)],
            HandshakeStage::ClientHello,
        );
        close(&mut f, S, true, 6);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"cipher_mismatch"), "{all:?}");
        assert_eq!(
            diag(&a),
            ("server", "client_hello", "alert", "cipher_mismatch", "high")
        );
        assert_eq!(ev(&a, "alert"), "handshake_failure");
        assert_eq!(a.evidence["client_offer"]["ciphers"], 3);
        assert_eq!(a.frames, vec![4, 5]);
    }

    #[test]
    fn certificate_rejected_by_clear_client_alert() {
        let mut f = after_server_flight(vec![alert(C, 6, 2, 45)]);
        f.server_certs = vec![Ok(cert(
            "CN=www.example.com",
            "CN=CA",
            NOW - 400 * 86_400,
            NOW - 30 * 86_400,
        ))];
        close(&mut f, C, false, 7);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_expired"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "alert",
                "certificate_rejected",
                "high"
            )
        );
        assert_eq!(ev(&a, "alert"), "certificate_expired");
        assert_eq!(ev(&a, "server_version"), "TLSv1.2");
        assert_eq!(a.frames, vec![4, 6]);
        assert_eq!(a.severity, Severity::High);
        // The explanation names the certificate problem found on the chain.
        assert!(a.explanation.contains("expired"), "{}", a.explanation);
    }

    #[test]
    fn unknown_ca_with_a_name_problem_is_still_a_trust_problem() {
        // unknown_ca says "untrusted", not "wrong name", even if the name is wrong too.
        let mut f = after_server_flight(vec![alert(C, 6, 2, 48)]);
        f.server_certs = vec![Ok(leaf("other.example.net"))];
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_name_mismatch"), "{all:?}");
        assert_eq!(ev(&a, "likely_cause"), "certificate_rejected");
        assert_eq!(ev(&a, "confidence"), "high");
    }

    #[test]
    fn unknown_ca_for_a_private_root() {
        let mut f = after_server_flight(vec![alert(C, 6, 2, 48)]);
        f.server_certs = vec![
            Ok(leaf("www.example.com")),
            Ok(ca("CN=Example Intermediate CA", "CN=Corp Root CA")),
            Ok(ca("CN=Corp Root CA", "CN=Corp Root CA")),
        ];
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_self_signed"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "alert",
                "certificate_rejected",
                "high"
            )
        );
        assert_eq!(ev(&a, "alert"), "unknown_ca");
        assert!(
            a.explanation.contains("CN=Corp Root CA"),
            "{}",
            a.explanation
        );
    }

    #[test]
    fn unknown_ca_after_a_missing_intermediate_names_it() {
        let mut f = after_server_flight(vec![alert(C, 6, 2, 48)]);
        with_server_chain(&mut f, "leaf-only.pem");
        close(&mut f, C, false, 7);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_chain_incomplete"), "{all:?}");
        assert_eq!(ev(&a, "likely_cause"), "certificate_rejected");
        assert_eq!(ev(&a, "confidence"), "high");
        assert!(
            a.explanation.contains(
                "the server does not send its intermediate 'O=tlstriage test, CN=Test Intermediate'"
            ) && a.explanation.contains("nginx ssl_certificate must hold leaf + intermediates"),
            "{}",
            a.explanation
        );
    }

    #[test]
    fn unknown_ca_after_an_untrusted_private_root_names_it() {
        let mut f = after_server_flight(vec![alert(C, 6, 2, 48)]);
        with_server_chain(&mut f, "complete-with-root.pem");
        close(&mut f, C, false, 7);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_untrusted"), "{all:?}");
        assert_eq!(ev(&a, "likely_cause"), "certificate_rejected");
        assert_eq!(ev(&a, "confidence"), "high");
        assert!(
            a.explanation
                .contains("The client must trust 'O=tlstriage test, CN=Test Root'"),
            "{}",
            a.explanation
        );
    }

    #[test]
    fn tls13_encrypted_client_alert_is_a_probable_certificate_rejection() {
        let events = vec![
            hs(S, 5, 2),
            event(S, 5, TlsEventKind::ChangeCipherSpec),
            event(S, 5, TlsEventKind::EncryptedHandshake { len: 2000 }),
            event(C, 6, TlsEventKind::ChangeCipherSpec),
            event(C, 6, TlsEventKind::EncryptedAlert { len: 19 }),
        ];
        let mut f = tls_flow(
            client_hello13(),
            Some(server_hello13()),
            events,
            HandshakeStage::ServerHello,
        );
        close(&mut f, C, false, 7);
        let (a, all) = aborted(&f);
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello",
                "alert",
                "certificate_rejected",
                "medium"
            )
        );
        assert_eq!(ev(&a, "alert"), "encrypted");
        assert_eq!(ev(&a, "server_version"), "TLSv1.3");
        assert_eq!(a.frames, vec![4, 6]);
        assert!(a.explanation.contains("www.example.com"));
        assert!(all.contains(&"tls_alert"));
        assert!(!all.contains(&"certificate_expired"));
    }

    #[test]
    fn tls12_encrypted_alert_is_not_guessed_as_certificate() {
        // After the client's CCS in TLS 1.2 the certificate was in clear and fine: the
        // encrypted alert says nothing about the certificate.
        let mut f = after_server_flight(vec![
            hs(C, 6, 16),
            event(C, 6, TlsEventKind::ChangeCipherSpec),
            event(C, 6, TlsEventKind::EncryptedHandshake { len: 40 }),
            event(C, 7, TlsEventKind::EncryptedAlert { len: 26 }),
        ]);
        f.tls.as_mut().unwrap().stage = HandshakeStage::ChangeCipherSpec;
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            ("client", "change_cipher_spec", "alert", "unknown", "medium")
        );
    }

    #[test]
    fn name_mismatch_with_bad_certificate_alert() {
        let mut f = after_server_flight(vec![alert(C, 6, 2, 42)]);
        f.server_certs = vec![Ok(leaf("other.example.net"))];
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_name_mismatch"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "alert",
                "name_mismatch",
                "high"
            )
        );
        assert!(a.explanation.contains("www.example.com"));
    }

    #[test]
    fn name_mismatch_when_client_closes_silently_after_certificate() {
        let mut f = after_server_flight(vec![]);
        f.server_certs = vec![Ok(leaf("other.example.net"))];
        close(&mut f, C, false, 6);
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "fin",
                "name_mismatch",
                "medium"
            )
        );
        assert!(a.evidence["alert"].is_null());
        assert_eq!(a.frames, vec![4, 6]);
    }

    #[test]
    fn certificate_problem_when_client_resets_silently_after_certificate() {
        let mut f = after_server_flight(vec![]);
        f.server_certs = vec![Ok(cert(
            "CN=www.example.com",
            "CN=www.example.com",
            NOW - 10,
            NOW + 10,
        ))];
        f.server_certs[0].as_mut().unwrap().san = vec!["www.example.com".into()];
        close(&mut f, C, true, 6);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"certificate_self_signed"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "rst",
                "certificate_rejected",
                "medium"
            )
        );
    }

    #[test]
    fn plaintext_mismatch_when_server_answers_http() {
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        f.first_bytes[S.index()] = Some((b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), 5));
        close(&mut f, S, false, 6);
        let (a, all) = aborted(&f);
        assert!(all.contains(&"tls_to_plaintext_port"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "server",
                "client_hello",
                "fin",
                "plaintext_mismatch",
                "high"
            )
        );
        assert!(a.explanation.contains("HTTP/1.1 400 Bad Request"));
    }

    #[test]
    fn client_certificate_required() {
        // The server asked for a certificate (R), the client sent an empty one, the server
        // refused with handshake_failure.
        let mut f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            vec![
                hs(S, 5, 2),
                hs(S, 5, 11),
                hs(S, 5, 12),
                hs(S, 5, 13),
                hs(S, 5, 14),
                hs(C, 6, 11),
                hs(C, 6, 16),
                event(C, 6, TlsEventKind::ChangeCipherSpec),
                event(C, 6, TlsEventKind::EncryptedHandshake { len: 40 }),
                alert(S, 7, 2, 40),
            ],
            HandshakeStage::ChangeCipherSpec,
        );
        f.server_certs = vec![Ok(leaf("www.example.com"))];
        let (a, all) = aborted(&f);
        // A ServerHello was seen: this is not a cipher mismatch.
        assert!(!all.contains(&"cipher_mismatch"), "{all:?}");
        assert_eq!(
            diag(&a),
            (
                "server",
                "change_cipher_spec",
                "alert",
                "client_certificate",
                "medium"
            )
        );
        assert!(a.explanation.contains("client certificate"));
        assert_eq!(a.frames, vec![4, 7]);
    }

    #[test]
    fn server_alert_without_certificate_request_is_unknown() {
        let f = after_server_flight(vec![hs(C, 6, 16), alert(S, 7, 2, 40)]);
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            ("server", "server_hello_done", "alert", "unknown", "medium")
        );
        assert_eq!(ev(&a, "alert"), "handshake_failure");
    }

    #[test]
    fn server_closes_without_alert() {
        for (rst, how) in [(false, "fin"), (true, "rst")] {
            let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
            close(&mut f, S, rst, 5);
            let (a, all) = aborted(&f);
            assert_eq!(
                diag(&a),
                (
                    "server",
                    "client_hello",
                    how,
                    "server_closed_without_alert",
                    "medium"
                )
            );
            assert_eq!(a.severity, Severity::High);
            assert_eq!(a.frames, vec![4, 5]);
            assert_eq!(a.ts_us, ts(5));
            assert_eq!(all, vec!["handshake_aborted"]);
        }
    }

    #[test]
    fn client_gives_up_with_rst() {
        let mut f = after_server_flight(vec![]);
        close(&mut f, C, true, 6);
        // The server's later FIN does not change who ended it.
        close(&mut f, S, false, 8);
        let (a, all) = aborted(&f);
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "rst",
                "client_gave_up",
                "medium"
            )
        );
        assert_eq!(a.frames, vec![4, 6]);
        assert_eq!(all, vec!["handshake_aborted"]);
    }

    #[test]
    fn silent_server_on_timeout_or_capture_end() {
        for (end, how) in [
            (EndReason::Timeout, "timeout"),
            (EndReason::Evicted, "timeout"),
            (EndReason::CaptureEnd, "capture_end"),
        ] {
            let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
            f.end = end;
            let (a, all) = aborted(&f);
            assert_eq!(
                diag(&a),
                ("unknown", "client_hello", how, "unknown", "low"),
                "{end:?}"
            );
            assert_eq!(a.severity, Severity::Medium);
            assert_eq!(a.frames, vec![4]);
            assert_eq!(a.ts_us, f.last_ts_us);
            assert!(a.explanation.contains("never answered"));
            assert_eq!(all, vec!["handshake_aborted"]);
        }
    }

    #[test]
    fn quiet_after_server_answer_is_unknown_low() {
        let mut f = after_server_flight(vec![]);
        f.end = EndReason::CaptureEnd;
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            (
                "unknown",
                "server_hello_done",
                "capture_end",
                "unknown",
                "low"
            )
        );
        assert!(a.explanation.contains("went quiet"));
    }

    #[test]
    fn via_is_reported() {
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        f.preamble.via = Some(crate::cleartext::Via::StartTls(
            crate::cleartext::AppProtocol::Smtp,
        ));
        close(&mut f, S, false, 5);
        let (a, _) = aborted(&f);
        assert_eq!(ev(&a, "via"), "starttls");
        assert!(aborted(&tls_flow(
            client_hello(),
            None,
            vec![],
            HandshakeStage::ClientHello
        ))
        .0
        .evidence["via"]
            .is_null());
    }

    #[test]
    fn established_flows_and_flows_without_client_hello_raise_nothing() {
        let f = healthy12();
        assert!(evaluate(&f).is_empty(), "{:?}", kinds(&evaluate(&f)));
        assert!(run(&super::HANDSHAKE_ABORTED, &f).is_empty());

        // Established even though the client reset at the end.
        let mut f = healthy12();
        f.fin = [None, None];
        close(&mut f, C, true, 9);
        assert!(run(&super::HANDSHAKE_ABORTED, &f).is_empty());

        // No TLS at all, and TLS bytes without a ClientHello (server side only).
        assert!(run(&super::HANDSHAKE_ABORTED, &flow()).is_empty());
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::None);
        f.tls.as_mut().unwrap().client_hello = None;
        assert!(run(&super::HANDSHAKE_ABORTED, &f).is_empty());
    }

    /// Minimal TLS 1.2 ClientHello record (only its first bytes matter to the sniffer).
    const CH: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8,
        9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
        32, 0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00,
    ];

    #[test]
    fn refused_pipelined_connect_is_a_proxy_problem() {
        // The client pipelines its ClientHello behind CONNECT; the proxy says 403 and closes.
        let mut request =
            b"CONNECT blocked.example:443 HTTP/1.1\r\nHost: blocked.example:443\r\n\r\n".to_vec();
        request.extend_from_slice(CH);
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        on_port(&mut f, 3128);
        cleartext(
            &mut f,
            &[
                (Dir::ToServer, &request, 4),
                (
                    Dir::ToClient,
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
                    5,
                ),
            ],
        );
        close(&mut f, Dir::ToClient, false, 6);
        aborted(&f); // records the cause that decided
        let all = evaluate(&f);
        let p = one(&all, "proxy_connect_failed");
        assert_eq!(p.evidence["status"], 403);
        let a = one(&all, "handshake_aborted");
        assert_eq!(ev(a, "likely_cause"), "proxy", "{}", a.explanation);
        assert_eq!(ev(a, "confidence"), "high");
        assert_eq!(ev(a, "via"), "connect_proxy");
        assert_eq!(ev(a, "aborted_by"), "server");
        assert!(a.explanation.contains("403"), "{}", a.explanation);
        assert!(!kinds(&all).contains(&"tls_to_plaintext_port"));
    }

    #[test]
    fn every_branch_lists_decisive_facts_with_frames() {
        // Version mismatch: the offer-vs-choice verdict names versions and frames.
        let ch = ClientHello {
            supported_versions: vec![0x0301, 0x0302],
            ..client_hello()
        };
        let mut f = tls_flow(
            ch,
            None,
            vec![alert(S, 5, 2, 70)],
            HandshakeStage::ClientHello,
        );
        close(&mut f, S, false, 6);
        let (a, _) = aborted(&f);
        let because: Vec<&str> = a.evidence["because"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(
            because[0],
            "ClientHello at frame 4 offers TLS 1.0-1.1 with 3 cipher suite(s)"
        );
        assert_eq!(
            because[1],
            "alert protocol_version from the server at frame 5"
        );
        assert!(
            because
                .iter()
                .any(|b| b.starts_with("version_mismatch (frames 4, 5)")),
            "{because:?}"
        );
        assert!(because.contains(
            &"client offers TLS 1.0-1.1 only (frame 4); server answered protocol_version (frame 5): it requires TLS 1.2 or newer"
        ));
        assert!(
            a.explanation
                .contains("Offer vs choice: Client offers TLS 1.0-1.1 only"),
            "{}",
            a.explanation
        );
        assert_eq!(a.evidence["offer_vs_choice"].as_array().unwrap().len(), 1);
        assert_eq!(
            a.evidence["server_choice"]["rejected_with"],
            "protocol_version"
        );
        assert_eq!(ev(&a, "capture_quality"), "ok");

        // Certificate rejected: the leaf and the certificate finding, with frames.
        let mut f = after_server_flight(vec![alert(C, 6, 2, 45)]);
        f.server_certs = vec![Ok(cert(
            "CN=www.example.com",
            "CN=CA",
            NOW - 400 * 86_400,
            NOW - 30 * 86_400,
        ))];
        let (a, _) = aborted(&f);
        let b = a.evidence["because"].to_string();
        assert!(
            b.contains("server Certificate at frame 5: CN=www.example.com issued by CN=CA"),
            "{b}"
        );
        assert!(b.contains("certificate_expired (frame 5)"), "{b}");
        assert!(b.contains("offer and choice agree: the server chose TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), "{b}");

        // Client gave up: how long after the server's last message.
        let mut f = after_server_flight(vec![]);
        close(&mut f, C, true, 6);
        let (a, _) = aborted(&f);
        assert!(
            a.evidence["because"]
                .to_string()
                .contains("the client closed 1 ms after the server's last TLS message (frame 5)"),
            "{}",
            a.evidence["because"]
        );

        // Server closed without alert, silent server: what the server did (not) send.
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        close(&mut f, S, false, 5);
        let (a, _) = aborted(&f);
        assert!(a.evidence["because"]
            .to_string()
            .contains("no TLS message from the server before it closed"));
        assert!(a.evidence["because"]
            .to_string()
            .contains("the server chose nothing: no ServerHello"));
    }

    #[test]
    fn client_certificate_not_sent_is_named() {
        let mut f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            vec![
                hs(S, 5, 2),
                hs(S, 5, 11),
                hs(S, 5, 13),
                hs(S, 5, 14),
                hs(C, 6, 11),
                hs(C, 6, 16),
                alert(S, 7, 2, 40),
            ],
            HandshakeStage::ClientKeyExchange,
        );
        f.server_certs = vec![Ok(leaf("www.example.com"))];
        let (a, _) = aborted(&f);
        assert_eq!(ev(&a, "likely_cause"), "client_certificate");
        assert!(
            a.explanation
                .contains("the client sent none (an empty Certificate message)"),
            "{}",
            a.explanation
        );
        assert!(
            a.explanation.contains(
                "The server asked for a client certificate (frame 5) and the client sent none"
            ),
            "{}",
            a.explanation
        );
        let b = a.evidence["because"].to_string();
        assert!(
            b.contains("CertificateRequest from the server at frame 5"),
            "{b}"
        );
        assert!(b.contains("client Certificate at frame 6 is empty"), "{b}");
    }

    #[test]
    fn damaged_captures_say_so_and_lower_confidence() {
        // Midstream.
        let mut f = after_server_flight(vec![alert(C, 6, 2, 45)]);
        f.midstream = true;
        f.syn = None;
        f.syn_ack = None;
        let (a, _) = aborted(&f);
        assert_eq!(ev(&a, "capture_quality"), "midstream");
        assert_eq!(ev(&a, "confidence"), "medium");
        assert!(a
            .explanation
            .contains("Capture quality: the capture starts mid-stream"));

        // Gaps in the client's stream.
        let mut f = after_server_flight(vec![alert(C, 6, 2, 45)]);
        f.stream_stats[C.index()].gaps = 1;
        f.stream_stats[C.index()].gap_bytes = 1200;
        let (a, _) = aborted(&f);
        assert_eq!(ev(&a, "capture_quality"), "gaps");
        assert_eq!(ev(&a, "confidence"), "medium");
        assert!(a.evidence["capture_issues"][0]
            .as_str()
            .unwrap()
            .contains("1200 bytes missing from the client's stream"));

        // One-sided: the server's direction was never captured.
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        f.packets = [4, 0];
        f.payload_bytes = [300, 0];
        f.ttl_range[S.index()] = None;
        f.end = EndReason::CaptureEnd;
        let (a, _) = aborted(&f);
        assert_eq!(ev(&a, "capture_quality"), "one_sided");
        assert_eq!(ev(&a, "confidence"), "low");
        assert!(
            a.evidence["because"]
                .to_string()
                .contains("capture: one-sided capture: no packet from the server"),
            "{}",
            a.evidence["because"]
        );
    }

    #[test]
    fn rst_with_a_foreign_ttl_was_injected_by_a_middlebox() {
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        f.ttl_range[S.index()] = Some((52, 52));
        close(&mut f, S, true, 5);
        f.rst[S.index()].as_mut().unwrap().ttl = 250;
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            ("middlebox", "client_hello", "rst", "network", "high")
        );
        assert_eq!(a.evidence["ttl"]["rst"], 250);
        assert_eq!(a.evidence["ttl"]["server"][0], 52);
        assert!(a.evidence["because"]
            .to_string()
            .contains("RST at frame 5 has TTL 250; the server's other packets have TTL 52"));
        assert!(a.explanation.contains("injected by a middlebox"));
        assert!(a.summary.contains("aborted by the middlebox"));

        // A few hops apart: medium. Within the margin: the server's own RST.
        f.rst[S.index()].as_mut().unwrap().ttl = 60;
        assert_eq!(diag(&aborted(&f).0).4, "medium");
        f.rst[S.index()].as_mut().unwrap().ttl = 54;
        assert_eq!(
            diag(&aborted(&f).0),
            (
                "server",
                "client_hello",
                "rst",
                "server_closed_without_alert",
                "medium"
            )
        );
        // A client-side injected RST toward the server.
        let mut f = after_server_flight(vec![]);
        close(&mut f, C, true, 6);
        f.rst[C.index()].as_mut().unwrap().ttl = 128;
        assert_eq!(ev(&aborted(&f).0, "aborted_by"), "middlebox");
    }

    /// TLS 1.3, no keys: the client's flight (an empty Certificate of 25 bytes, Finished),
    /// then the server's alert-sized record and FIN.
    fn tls13_refused(client_flight: &[u16]) -> crate::flow::FlowRecord {
        let mut events = vec![hs(S, 5, 2), event(S, 5, TlsEventKind::ChangeCipherSpec)];
        for len in [23, 60, 2000, 280, 53] {
            events.push(event(S, 5, TlsEventKind::EncryptedHandshake { len }));
        }
        events.push(event(C, 6, TlsEventKind::ChangeCipherSpec));
        events.push(event(
            C,
            6,
            TlsEventKind::EncryptedHandshake {
                len: client_flight[0],
            },
        ));
        for &len in &client_flight[1..] {
            events.push(event(C, 6, TlsEventKind::ApplicationData { len }));
        }
        events.push(event(S, 7, TlsEventKind::EncryptedAlert { len: 19 }));
        let mut f = tls_flow(
            client_hello13(),
            Some(server_hello13()),
            events,
            HandshakeStage::Finished,
        );
        close(&mut f, S, false, 8);
        f
    }

    #[test]
    fn tls13_server_alert_after_the_client_flight_is_a_client_certificate_problem() {
        let (a, all) = aborted(&tls13_refused(&[25, 69]));
        assert_eq!(all, vec!["tls_alert", "handshake_aborted"]);
        assert_eq!(
            diag(&a),
            ("server", "finished", "alert", "client_certificate", "high")
        );
        let because = a.evidence["because"].to_string();
        assert!(because
            .contains("2 encrypted records (25, 69 bytes): a Certificate before its Finished"));
        assert!(because.contains("the size of an empty Certificate"));
        assert!(because.contains("the server's encrypted flight has 5 records"));
        // A certificate sent (Certificate, CertificateVerify, Finished) and refused.
        let (a, _) = aborted(&tls13_refused(&[900, 280, 69]));
        assert_eq!(ev(&a, "confidence"), "high");
        assert!(a
            .explanation
            .contains("did not accept the certificate the client sent"));
        // A single record (Finished only): no CertificateRequest shows, so low.
        let (a, _) = aborted(&tls13_refused(&[69]));
        assert_eq!(
            (ev(&a, "likely_cause"), ev(&a, "confidence")),
            ("client_certificate", "low")
        );
    }

    #[test]
    fn frag_needed_about_the_stalled_flight_is_evidence_with_its_mtu() {
        let mut f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            vec![hs(S, 5, 2)],
            HandshakeStage::ServerHello,
        );
        f.payload_bytes = [300, 4000];
        f.stream_stats[S.index()].retransmitted = 4;
        f.icmp.push(crate::flow::IcmpEvent {
            frame: 7,
            ts_us: ts(7),
            sender: "10.0.0.254".parse().unwrap(),
            about: S,
            v6: false,
            icmp_type: 3,
            code: 4,
            name: "frag_needed",
            mtu: Some(1400),
        });
        f.icmp_count = 3;
        close(&mut f, C, false, 20);
        let (a, all) = aborted(&f);
        assert_eq!(
            all,
            vec!["handshake_aborted"],
            "a path-MTU signal refuses nothing"
        );
        assert_eq!(
            diag(&a),
            ("client", "server_hello", "fin", "network", "high")
        );
        assert_eq!(a.frames, vec![4, 7, 20]);
        assert_eq!(a.evidence["path_mtu"]["mtu"], 1400);
        assert!(a.evidence["because"].to_string().contains(
            "ICMP frag needed from 10.0.0.254 at frame 7 (MTU 1400) about the server's segment (3 ICMP errors"
        ));
        assert!(a.explanation.contains("a router did report it"));
    }

    #[test]
    fn the_first_closer_ended_it_and_the_later_alert_is_a_reaction() {
        // The server's FIN at frame 5, then the client's decode_error (50) at frame 6.
        let mut f = tls_flow(
            client_hello(),
            None,
            vec![alert(C, 6, 2, 50)],
            HandshakeStage::ClientHello,
        );
        close(&mut f, S, false, 5);
        close(&mut f, C, false, 7);
        let (a, all) = aborted(&f);
        assert_eq!(all, vec!["tls_alert", "handshake_aborted"]);
        assert_eq!(
            diag(&a),
            (
                "server",
                "client_hello",
                "fin",
                "server_closed_without_alert",
                "medium"
            )
        );
        assert!(a.evidence["alert"].is_null());
        assert_eq!(a.evidence["reaction_alert"]["description"], "decode_error");
        assert_eq!(a.frames, vec![4, 5, 6]);
        assert!(a.evidence["because"].to_string().contains(
            "the client's fatal decode_error alert at frame 6 came after that fin: a reaction to the close"
        ));

        // The same alert before the server's FIN ended the handshake itself.
        let mut f = tls_flow(
            client_hello(),
            None,
            vec![alert(C, 5, 2, 50)],
            HandshakeStage::ClientHello,
        );
        close(&mut f, S, false, 6);
        let (a, _) = aborted(&f);
        assert_eq!((ev(&a, "aborted_by"), ev(&a, "how")), ("client", "alert"));
        assert!(a.evidence.get("reaction_alert").is_none());
        // A side's own close after its own alert changes nothing either.
        let mut f = tls_flow(
            client_hello(),
            None,
            vec![alert(C, 6, 2, 50)],
            HandshakeStage::ClientHello,
        );
        close(&mut f, C, true, 5);
        let (a, _) = aborted(&f);
        assert_eq!((ev(&a, "aborted_by"), ev(&a, "how")), ("client", "alert"));
    }

    #[test]
    fn heartbleed_probe_is_the_cause_whatever_the_certificate() {
        // Zeek's heartbleed trace: server flight, then the client's oversized heartbeat
        // request and its FIN; a certificate problem on the flow does not take over.
        let mut f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            vec![
                hs(S, 5, 2),
                hs(S, 6, 11),
                hs(S, 7, 14),
                event(
                    C,
                    9,
                    TlsEventKind::Heartbeat {
                        len: 16368,
                        payload_len_claimed: 16365,
                    },
                ),
            ],
            HandshakeStage::ServerHelloDone,
        );
        f.server_certs = vec![Ok(cert("CN=localhost", "CN=localhost", 0, 1))];
        close(&mut f, C, false, 10);
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            (
                "client",
                "server_hello_done",
                "fin",
                "heartbleed_probe",
                "high"
            )
        );
        assert_eq!(a.frames, vec![4, 9, 10]);
        assert!(a.evidence["because"]
            .to_string()
            .contains("claiming 16365 bytes of payload in a 16368-byte record (frame 9)"));
    }

    #[test]
    fn stalled_certificate_flight_is_a_network_problem() {
        // The server sent ServerHello and part of a large certificate flight, retransmitted
        // it, the client never answered and gave up.
        let mut f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            vec![hs(S, 5, 2)],
            HandshakeStage::ServerHello,
        );
        f.payload_bytes = [300, 4000];
        f.stream_stats[S.index()].retransmitted = 4;
        close(&mut f, C, true, 20);
        let (a, _) = aborted(&f);
        assert_eq!(
            diag(&a),
            ("client", "server_hello", "rst", "network", "medium")
        );
        assert!(a.explanation.contains("path MTU"), "{}", a.explanation);
        assert!(a.evidence["because"]
            .to_string()
            .contains("the server retransmitted 4 segments"));

        // Zero window from the client, capture ends.
        let mut f = tls_flow(
            client_hello(),
            Some(server_hello(0x0303, 0xc02f)),
            vec![hs(S, 5, 2)],
            HandshakeStage::ServerHello,
        );
        f.payload_bytes = [300, 4000];
        f.zero_window[C.index()] = 3;
        f.end = EndReason::CaptureEnd;
        let (a, _) = aborted(&f);
        assert_eq!(ev(&a, "likely_cause"), "network");
        assert!(a.evidence["because"]
            .to_string()
            .contains("zero receive window 3 times"));

        // A single retransmission is normal: not blamed on the network.
        let mut f = after_server_flight(vec![]);
        f.payload_bytes = [300, 4000];
        f.stream_stats[S.index()].retransmitted = 1;
        close(&mut f, C, true, 6);
        assert_eq!(ev(&aborted(&f).0, "likely_cause"), "client_gave_up");
    }
}
