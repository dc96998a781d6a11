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
use crate::tls::names::{alert_description_name, is_tls13, version_name};
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
        Kind::CertificateRevoked,
        Kind::OcspStapleInvalid,
    ],
    check,
};

mod crossing;
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
    /// frame. The close ended the handshake; the alert was the reaction to it, unless it
    /// crossed the close (sent before its sender could have seen it).
    reaction: Option<(Side, &'static str, FrameNo)>,
    crossed: Option<crossing::Crossing>,
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
                    crossed: crossing::crossed(flow, sender, ev.ts_us, e.ts_us),
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
                    crossed: None,
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
            crossed: None,
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
        crossed: None,
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
    /// The stage in words: "after the server's certificate".
    stage_words: &'static str,
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
        name: "stapled_status_rejected",
        check: trust::stapled_status_rejected,
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
        stage_words: tls.stage.words(),
        by_client: end.by == Some(Side::Client),
        by_server: end.by == Some(Side::Server),
        tls13: tls.negotiated_version().is_some_and(is_tls13),
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
         Check the certificate with `openssl s_client -connect HOST:PORT -servername NAME`, or give \
         tlstriage the session's key log (--keylog) to read the certificate and the alert.",
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
            "The client sent a Heartbleed-style heartbeat request {} and the connection ended there ({}): \
             a vulnerability scanner or an attack (CVE-2014-0160), not a client that failed to connect. See \
             the heartbeat finding for whether the server leaked memory.",
            x.stage_words, x.end.how
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
                "The {who} aborted the handshake {} with a fatal {a} alert. {}",
                x.stage_words,
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
         (firewall, proxy or IPS), which blocked the connection {stage}. Check the firewall/IPS logs \
         (often an SNI or destination block), or capture on the other side of it.",
        side = side.as_str(), stage = x.stage_words))
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
    // Missing bytes alone are what a capture that dropped or cut packets shows too.
    let st = &x.flow.stream_stats[Dir::ToClient.index()];
    if frames.is_empty() && st.retransmitted < 2 && x.flow.zero_window[Dir::ToServer.index()] == 0 {
        confidence = "low";
        facts.push("only bytes missing from the capture point to the network: a capture that dropped or cut packets looks the same".into());
    }
    let mut d = diag(Cause::Network, confidence, format!(
        "The server started its flight but the client never answered it: the server's segments were \
         retransmitted, lost or held back by a zero window, and the handshake stalled {} until the \
         connection {}. A large certificate flight that never arrives is the classic symptom of a path MTU \
         black hole (ICMP 'fragmentation needed' filtered, MSS too large on a tunnel/VPN) or a lossy link. \
         Check the MTU/MSS along the path (e.g. `ping -M do -s 1472`), or clamp the MSS.",
        x.stage_words,
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
    // Heartbeats after the server's flight: the client was doing something else than
    // judging the certificate (a scanner, a keep-alive probe), whatever the chain holds.
    let heartbeats = x
        .tls
        .events
        .iter()
        .any(|e| e.dir == Dir::ToServer && matches!(e.kind, TlsEventKind::Heartbeat { .. }));
    if heartbeats {
        return None;
    }
    let (cause, f) = match (x.name_problem, objective) {
        (Some(f), _) => (Cause::NameMismatch, f),
        (None, Some(f)) => (Cause::CertificateRejected, f),
        (None, None) => return None,
    };
    // A weak signature or key is a policy a client may or may not enforce: with no alert,
    // only the timing of the close ties it to the certificate.
    let (confidence, timing) = if f.kind == Kind::CertificateWeak {
        (
            "low",
            Some(format!(
                "only timing ties the close to the certificate: the client closed after the server's flight, without an alert, and {} is a policy not every client enforces",
                f.kind
            )),
        )
    } else {
        ("medium", None)
    };
    Some(diag(cause, confidence, format!(
        "The client closed the connection ({}) right after receiving the server's certificate, without an \
         alert. {}", x.end.how, f.summary))
    .because(x.leaf.clone().into_iter().chain([finding_fact(f)]).chain(timing)))
}

fn server_closed(x: &Facts<'_>) -> Option<Diag> {
    if !x.by_server {
        return None;
    }
    Some(diag(Cause::ServerClosedWithoutAlert, "medium", format!(
        "The server closed the connection ({}) {} without sending an alert. Servers do this when TLS is \
         not configured for the name or port (no certificate, SNI not mapped), when a load balancer or firewall \
         in front of them refuses the client, or when the server process crashed or hit a limit. Check the \
         server's error log at this time.", x.end.how, x.stage_words))
    .because(
        last_message_fact(x.tls, Side::Server)
            .or_else(|| Some("no TLS message from the server before it closed".into())),
    ))
}

fn client_gave_up(x: &Facts<'_>) -> Option<Diag> {
    if !x.by_client {
        return None;
    }
    let last = x
        .tls
        .events
        .iter()
        .rev()
        .find(|e| e.dir.sender() == Side::Server);
    let waited = last.map(|e| {
        format!(
            "the client closed {} ms after the server's last TLS message (frame {})",
            (x.end.ts_us - e.ts_us) / 1000,
            e.frame
        )
    });
    // A close without an alert says who ended it, not why: only a wait as long as a
    // client's timeout makes "gave up" more than a guess.
    let waited_us = x.end.ts_us
        - last
            .or(x.tls.events.first())
            .map_or(x.end.ts_us, |e| e.ts_us);
    let (confidence, timing) = if waited_us >= GAVE_UP_WAIT_US {
        (
            "medium",
            format!(
                "the client waited {} ms: as long as a client timeout",
                waited_us / 1000
            ),
        )
    } else {
        ("low", format!(
            "only the close points to it: {} ms is too soon for a timeout, and without an alert the capture cannot tell a cancel from a silent rejection",
            waited_us / 1000
        ))
    };
    Some(diag(Cause::ClientGaveUp, confidence, format!(
        "The client closed the connection ({}) {} without sending an alert: the client application \
         gave up (timeout, user cancel, or its TLS library rejected something without saying so).", x.end.how, x.stage_words))
    .because(waited.or_else(|| Some("no TLS message from the server before the client closed".into())).into_iter().chain([timing])))
}

/// A client that closes this long after the server's last message (or its own ClientHello,
/// unanswered) most likely hit a timeout.
const GAVE_UP_WAIT_US: TimestampUs = 1_000_000;

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
            "The handshake stopped {} and the connection went quiet ({}).",
            x.stage_words, x.end.how
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
    // Seen from one side, a session whose peer demonstrably went on is no abort (the
    // tls_flow record says `established_inferred`).
    if super::one_sided::inferred_established(flow).is_some() {
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
        match end.by {
            Some(sender) => because.push(format!(
                "{how_text} from the {} at frame {f}",
                sender.as_str()
            )),
            None => because.push(format!(
                "{how_text} at frame {f}; the capture does not show who"
            )),
        }
    }
    match (end.reaction, end.crossed) {
        (Some((side, alert, f)), Some(c)) => because.push(format!(
            "the {}'s fatal {alert} alert at frame {f} crossed that {}: it came {} ms after it, \
             sooner than the {} ms round trip an answer to it takes, so it was sent before the {} saw it",
            side.as_str(),
            end.how,
            c.after_close_us / 1000,
            c.round_trip_us / 1000,
            side.as_str()
        )),
        (Some((side, alert, f)), None) => because.push(format!(
            "the {}'s fatal {alert} alert at frame {f} came after that {}: a reaction to the close, not its cause",
            side.as_str(),
            end.how
        )),
        _ => {}
    }
    because.extend(d.because);
    if let Some(o) = &offer {
        because.extend(o.verdicts.iter().cloned());
    }
    let (quality, mut issues) = crate::flow::capture_quality(flow);
    let cut = super::truncated::cut_short(flow);
    if let Some((_, fact)) = &cut {
        issues.push(fact.clone());
    }
    let mut confidence = d.confidence;
    let mut explanation = d.explanation;
    // A neutral verdict (nothing contradicts) said on every flow is noise, except where
    // the negotiation is what failed.
    let negotiation = matches!(d.cause, Cause::VersionMismatch | Cause::CipherMismatch);
    if let Some(o) = offer
        .as_ref()
        .filter(|o| !o.verdicts.is_empty() && (!o.neutral || negotiation))
    {
        let mut first = o.verdicts.join("; ");
        if let Some(c) = first.get(..1) {
            first.replace_range(..1, &c.to_uppercase());
        }
        explanation = format!("{explanation} Offer vs choice: {first}.");
    }
    if quality != "ok" || cut.is_some() {
        confidence = lower(confidence);
        explanation = format!(
            "{explanation} Capture quality: {} — this diagnosis rests on an incomplete view of the flow, so its \
             confidence is lowered; capture closer to the endpoints or on both sides.",
            issues.join("; ")
        );
        because.extend(issues.iter().map(|i| format!("capture: {i}")));
        if cut.is_some() {
            explanation.push_str(
                " The capture, not the handshake, stops here: capture without a filter on record types, with a \
                 full snaplen (-s 0), until the connections close.",
            );
        }
    }
    let via = flow.preamble.via.map(crate::cleartext::Via::as_str);
    let who = if by == "unknown" {
        " (the capture does not show who)".to_string()
    } else {
        format!(" by the {by}")
    };
    let summary = format!(
        "TLS handshake aborted{who} {} ({how_text}): {}.",
        tls.stage.words(),
        d.cause.as_str().replace('_', " ")
    );
    // Half the conversation is not in the capture: what ended it may be in the other half.
    // A capture that stops at the handshake shows no failure at all.
    let severity = if cut.is_some() {
        confidence = "low";
        Severity::Low
    } else if quality == "one_sided" {
        severity.min(Severity::Medium)
    } else {
        severity
    };
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
        match (end.reaction, end.crossed) {
            (Some((side, alert, frame)), Some(c)) => {
                m.insert(
                    "crossed_alert".into(),
                    json!({ "sent_by": side.as_str(), "description": alert, "frame": frame,
                            "after_close_ms": c.after_close_us as f64 / 1000.0,
                            "round_trip_ms": c.round_trip_us as f64 / 1000.0 }),
                );
            }
            (Some((side, alert, frame)), None) => {
                m.insert(
                    "reaction_alert".into(),
                    json!({ "sent_by": side.as_str(), "description": alert, "frame": frame }),
                );
            }
            _ => {}
        }
    }
    ctx.push(finding);
}

#[cfg(test)]
mod tests;
