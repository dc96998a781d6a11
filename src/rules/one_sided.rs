//! One-sided captures (asymmetric routing, a SPAN port mirroring one direction): the
//! handshake of the side not captured is invisible, but the captured side's ACK numbers and
//! its own next records show whether the peer carried on. A flow whose peer demonstrably
//! continued is an established session seen from one side, not an aborted handshake.

use crate::flow::{capture_quality_label, FlowRecord};
use crate::model::{Dir, FrameNo, Side};
use crate::tls::wire::hs;
use crate::tls::{TlsConn, TlsEventKind};

/// Why a one-sided flow is taken for an established session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferredEstablished {
    /// The side whose packets are in the capture.
    pub seen: Side,
    /// The facts, each with its frame(s) or byte count.
    pub because: Vec<String>,
}

/// More bytes than an alert (a TLS 1.2 GCM alert record is 31 bytes, a TLS 1.3 one 24,
/// each followed by a FIN that counts one): what the peer sent after the seen side's flight
/// must be at least this to be an answer rather than a refusal.
const MIN_ANSWER_BYTES: u64 = 40;

/// The handshake of a one-sided flow that the seen side's ACKs and records show went on
/// past the point the capture can see, or `None` (a two-sided flow, a handshake seen to
/// complete, or no such evidence).
pub fn inferred_established(flow: &FlowRecord) -> Option<InferredEstablished> {
    let tls = flow.tls.as_ref()?;
    if tls.established || capture_quality_label(flow) != "one_sided" {
        return None;
    }
    let seen = if flow.packets[Dir::ToClient.index()] == 0 {
        Side::Client
    } else {
        Side::Server
    };
    let dir = match seen {
        Side::Client => Dir::ToServer,
        Side::Server => Dir::ToClient,
    };
    // A side that said why it stopped did not carry on.
    let fatal_alert = tls.events.iter().any(|e| {
        e.dir == dir
            && matches!(
                e.kind,
                TlsEventKind::Alert { level: 2, .. } | TlsEventKind::Malformed
            )
    });
    if fatal_alert {
        return None;
    }
    let (flight, what) = match seen {
        Side::Client => client_finished(tls)?,
        Side::Server => server_flight(tls)?,
    };
    let peer = match seen {
        Side::Client => "server",
        Side::Server => "client",
    };
    let acked = &flow.acked[dir.index()];
    if seen == Side::Client && abbreviated(tls) {
        // Resuming, the server's Finished comes first: the client's answers it.
        let before = acked.at_payload.iter().find(|(f, _)| *f == flight)?.1;
        if before < MIN_ANSWER_BYTES {
            return None;
        }
        return Some(InferredEstablished {
            seen,
            because: vec![
                format!("no packet from the {peer} is in the capture (one-sided capture)"),
                format!("the client sent ChangeCipherSpec and its Finished (frame {flight}) right after its ClientHello, with no ClientKeyExchange: an abbreviated (resumed) handshake, in which the client's Finished answers the server's"),
                format!("its ACK number at that frame acknowledges {before} bytes from the server (its ServerHello, ChangeCipherSpec and Finished)"),
            ],
        });
    }
    let answer = acked.after(flight)?;
    if answer < MIN_ANSWER_BYTES {
        return None;
    }
    Some(InferredEstablished {
        seen,
        because: vec![
            format!("no packet from the {peer} is in the capture (one-sided capture)"),
            format!("the {} sent {what} at frame {flight}", seen.as_str()),
            format!(
                "its later ACK numbers acknowledge {answer} more bytes from the {peer}: the {peer} answered that flight (more than an alert)"
            ),
        ],
    })
}

/// The client changed keys with no handshake message after its ClientHello: resuming.
fn abbreviated(tls: &TlsConn) -> bool {
    let from_client = || tls.events.iter().filter(|e| e.dir == Dir::ToServer);
    let handshakes = from_client()
        .filter(|e| matches!(e.kind, TlsEventKind::Handshake(_)))
        .count();
    handshakes == 1
        && from_client().any(|e| matches!(e.kind, TlsEventKind::ChangeCipherSpec))
        && from_client().any(|e| matches!(e.kind, TlsEventKind::EncryptedHandshake { .. }))
}

/// The frame of the client's Finished: its first encrypted record after the ClientHello
/// (without the server's hello the TLS 1.3 Finished reads as application data).
fn client_finished(tls: &TlsConn) -> Option<(FrameNo, &'static str)> {
    tls.client_hello.as_ref()?;
    tls.events
        .iter()
        .find(|e| {
            e.dir == Dir::ToServer
                && matches!(
                    e.kind,
                    TlsEventKind::EncryptedHandshake { .. } | TlsEventKind::ApplicationData { .. }
                )
        })
        .map(|e| (e.frame, "its Finished (first encrypted record)"))
}

/// The frame of the server's flight that the client must answer: ServerHelloDone (TLS 1.2
/// full handshake), else its first encrypted handshake record (the TLS 1.3 flight, or the
/// Finished of a resumed TLS 1.2 session).
fn server_flight(tls: &TlsConn) -> Option<(FrameNo, &'static str)> {
    tls.server_hello.as_ref()?;
    let from_server = || tls.events.iter().filter(|e| e.dir == Dir::ToClient);
    from_server()
        .find(|e| matches!(e.kind, TlsEventKind::Handshake(t) if t.0 == hs::SERVER_HELLO_DONE))
        .map(|e| (e.frame, "its ServerHelloDone"))
        .or_else(|| {
            from_server()
                .find(|e| matches!(e.kind, TlsEventKind::EncryptedHandshake { .. }))
                .map(|e| (e.frame, "its encrypted handshake flight"))
        })
}
