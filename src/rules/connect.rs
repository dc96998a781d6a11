//! `connection_failed`: a TCP connection that never carried a byte. The client's SYN was
//! refused (RST), drew an ICMP error, or went unanswered (Zeek's conn_state `REJ` and `S0`);
//! or the server accepted the connection and closed or reset it before either side sent
//! anything (`SF`/`RSTR` with no bytes: a tcpwrappers deny, an overloaded or misconfigured
//! terminator). The spec's `connection_failed` names the first three; the last is reported
//! under the same kind (reasons `server_closed`, `server_reset`) because it is what the
//! client sees as a failure to connect, and `handshake_aborted` needs a ClientHello.

use serde_json::json;

use super::aborted::{ttl_distance, MIDDLEBOX_TTL_HOPS};
use super::offer::strings;
use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::flow::{EndReason, FlowRecord, IcmpEvent, TcpEvent};
use crate::model::{Dir, FrameNo, TimestampUs};

pub const CONNECTION_FAILED: Rule = Rule {
    name: "connection_failed",
    doc: "A TCP connection attempt that never established (refused, unanswered, ICMP error), or one the server ended before any byte.",
    kinds: &[Kind::ConnectionFailed],
    after: &[],
    check,
};

/// The capture must go on at least this long after the last SYN to say the client gave up
/// rather than the capture ended (a Windows client retransmits its first SYN after 3 s).
const FIRST_RTO_US: i64 = 3_000_000;

/// The initial TTLs stacks use; the hop count of a packet is the distance to the next one up.
const INITIAL_TTLS: [u8; 4] = [32, 64, 128, 255];

fn hops(ttl: u8) -> u8 {
    let initial = INITIAL_TTLS.into_iter().find(|&i| i >= ttl).unwrap_or(255);
    initial - ttl
}

/// Why the connection failed, with the packets that show it.
struct Failure {
    reason: String,
    answered_by: Option<String>,
    confidence: &'static str,
    frames: Vec<FrameNo>,
    ts_us: TimestampUs,
    because: Vec<String>,
    ended_by: Option<&'static str>,
    icmp: Option<IcmpEvent>,
    rst_ttl: Option<u8>,
    summary: String,
    explanation: String,
}

fn ms(us: i64) -> i64 {
    us.max(0) / 1000
}

fn endpoint(flow: &FlowRecord) -> String {
    match flow.server.ip {
        std::net::IpAddr::V6(a) => format!("[{a}]:{}", flow.server.port),
        a => format!("{a}:{}", flow.server.port),
    }
}

/// Server (or middlebox in its name) for a RST from the server side: compared with the
/// server's other packets when there are any; alone, judged by its hop count only.
fn rst_sender(flow: &FlowRecord, rst: TcpEvent) -> (&'static str, &'static str, String) {
    match flow.ttl_range[Dir::ToClient.index()] {
        Some(range) if ttl_distance(rst.ttl, range) >= MIDDLEBOX_TTL_HOPS => (
            "middlebox",
            "medium",
            format!(
                "RST at frame {} has TTL {}; the server's other packets have TTL {}-{}",
                rst.frame, rst.ttl, range.0, range.1
            ),
        ),
        Some(range) => (
            "server",
            "high",
            format!(
                "RST at frame {} has TTL {}, as the server's other packets ({}-{})",
                rst.frame, rst.ttl, range.0, range.1
            ),
        ),
        None => (
            "server",
            "medium",
            format!(
                "the RST at frame {} (TTL {}, {} hop(s) from its sender) is the server side's only packet: \
                 nothing to compare its TTL with, so a firewall answering in the server's name cannot be ruled out",
                rst.frame,
                rst.ttl,
                hops(rst.ttl)
            ),
        ),
    }
}

fn refused(flow: &FlowRecord, syn: FrameNo, first_syn: TimestampUs, rst: TcpEvent) -> Failure {
    let (by, confidence, fact) = rst_sender(flow, rst);
    let at = endpoint(flow);
    let who = if by == "server" {
        "the server's host: nothing listens on the port (or a host firewall rejects with a RST)"
    } else {
        "a middlebox on the path (its TTL does not fit the server's packets): a firewall rejecting with tcp-reset"
    };
    Failure {
        reason: "refused".into(),
        answered_by: Some(by.into()),
        confidence,
        frames: vec![syn, rst.frame],
        ts_us: rst.ts_us,
        because: vec![format!("SYN at frame {syn} answered by a RST"), fact],
        ended_by: None,
        icmp: None,
        rst_ttl: Some(rst.ttl),
        summary: format!("Connection to {at} refused (RST to the SYN, from the {by}): no TLS was attempted."),
        explanation: format!(
            "The client's SYN was answered by a RST {} ms later: what the client reports as 'connection refused' \
             (Zeek: REJ). It came from {who}. Check that the service runs and listens on this address and port \
             (`ss -ltn` on the server), and test from the client with `nc -vz HOST PORT`.",
            ms(rst.ts_us - first_syn)
        ),
    }
}

fn icmp_failure(flow: &FlowRecord, syn: FrameNo, first_syn: TimestampUs, e: IcmpEvent) -> Failure {
    let at = endpoint(flow);
    let sender = e.sender.to_string();
    let (is_server, what) = (e.sender == flow.server.ip, e.name.replace('_', " "));
    let v = if e.v6 { "ICMPv6" } else { "ICMP" };
    let advice = match e.name {
        "admin_prohibited" | "host_prohibited" | "net_prohibited" => {
            "administratively prohibited: a firewall REJECT rule (`iptables -L -n -v` / `nft list ruleset` on the sender)"
        }
        "port_unreachable" => {
            "port unreachable: a firewall REJECT rule (iptables' default reject-with) or, from the server itself, nothing listening"
        }
        "host_unreachable" | "net_unreachable" => {
            "no route to the host or network from the sender: routing, a down host (no ARP/ND answer), or a reject route"
        }
        "ttl_exceeded" | "hop_limit_exceeded" => "the packet's TTL ran out: a routing loop or a path too long",
        _ => "the sender could not or would not deliver the SYN",
    };
    Failure {
        reason: format!("icmp_{}", e.name),
        answered_by: Some(sender.clone()),
        confidence: "high",
        frames: vec![syn, e.frame],
        ts_us: e.ts_us,
        because: vec![format!(
            "{v} {what} (type {}, code {}) from {sender} at frame {}, quoting the client's SYN",
            e.icmp_type, e.code, e.frame
        )],
        ended_by: None,
        icmp: Some(e),
        rst_ttl: None,
        summary: format!(
            "Connection to {at} failed: {v} {what} from {}.",
            if is_server { "the server".to_string() } else { sender.clone() }
        ),
        explanation: format!(
            "The client's SYN drew an {v} error {} ms later from {sender}{}: {advice}. The client reports \
             'connection refused', 'no route to host' or 'permission denied' depending on the code. Trace the \
             path to the port with `traceroute -T -p PORT HOST` (or tcptraceroute) and list the rules of the \
             sending firewall with `iptables -L -n -v`.",
            ms(e.ts_us - first_syn),
            if is_server { " (the server's own address)" } else { " (a router or firewall on the path)" }
        ),
    }
}

fn no_answer(
    flow: &FlowRecord,
    syn: FrameNo,
    (first, last): (TimestampUs, TimestampUs),
) -> Failure {
    let at = endpoint(flow);
    let n = flow.syns.max(1);
    // A SYN retransmission comes at most twice the time spent so far after the last one
    // (exponential backoff); a capture that went on longer than that saw the client stop.
    let patience = (2 * (last - first)).max(FIRST_RTO_US);
    let (ended_by, how) = match (flow.end, flow.capture_end_floor_us) {
        (EndReason::CaptureEnd, Some(end)) if end - last > patience => (
            "client_gave_up",
            format!("the client gave up after {} retransmission(s)", n - 1),
        ),
        (EndReason::CaptureEnd, _) => (
            "capture_end",
            "the capture ended before the client gave up or got an answer".to_string(),
        ),
        (EndReason::Evicted, _) => (
            "evicted",
            "the flow table was full before the client gave up or got an answer".to_string(),
        ),
        _ => (
            "client_gave_up",
            format!("the client gave up after {} retransmission(s)", n - 1),
        ),
    };
    let mut because = vec![format!(
        "{n} SYN(s) from frame {syn} over {} ms, no SYN-ACK, RST or ICMP error",
        ms(last - first)
    )];
    because.push(match ended_by {
        "client_gave_up" => format!(
            "the capture went on more than {} ms after the last SYN without another one",
            ms(patience)
        ),
        "evicted" => "the flow was evicted from a full flow table (see capture_stats)".into(),
        _ => "the last SYN is close to the end of the capture".into(),
    });
    Failure {
        reason: "no_answer".into(),
        answered_by: None,
        confidence: if ended_by == "client_gave_up" { "high" } else { "medium" },
        frames: vec![syn, flow.last_frame],
        ts_us: last,
        because,
        ended_by: Some(ended_by),
        icmp: None,
        rst_ttl: None,
        summary: format!("Connection to {at} got no answer: {n} SYN(s), {how}."),
        explanation: format!(
            "The client sent {n} SYN(s) over {} ms and nothing came back (Zeek: S0): what the client reports as \
             'connection timed out'. Usually a firewall DROPs the SYN (`iptables -L -n -v` on the hosts and \
             firewalls on the path: look for DROP rules and their counters), the host is down, or the route back \
             is broken. Test with `nc -vz -w 5 HOST PORT` and find where the SYN stops with `traceroute -T -p PORT \
             HOST`; a capture on the server tells whether the SYN arrives at all.",
            ms(last - first)
        ),
    }
}

fn closed_before_data(flow: &FlowRecord, syn: FrameNo, close: TcpEvent, rst: bool) -> Failure {
    let at = endpoint(flow);
    let how = if rst { "reset" } else { "closed" };
    let (by, confidence, fact) = if rst {
        rst_sender(flow, close)
    } else {
        (
            "server",
            "high",
            format!("FIN from the server at frame {}", close.frame),
        )
    };
    Failure {
        reason: format!("server_{how}"),
        answered_by: Some(by.into()),
        confidence,
        frames: vec![syn, close.frame],
        ts_us: close.ts_us,
        because: vec![
            format!("the TCP handshake completed (SYN at frame {syn}), then no byte in either direction"),
            fact,
        ],
        ended_by: None,
        icmp: None,
        rst_ttl: rst.then_some(close.ttl),
        summary: format!(
            "The server at {at} accepted the connection and {how} it before any byte ({}): no TLS was attempted.",
            if rst { "RST" } else { "FIN" }
        ),
        explanation: format!(
            "The server's kernel accepted the connection, then the {by} {how} it {} ms after the SYN, before the \
             client sent its ClientHello. The client reports 'connection reset by peer' or an unexpected EOF. \
             Typical causes: an access rule of the server or a proxy in front of it (tcpwrappers hosts.deny, a \
             load balancer without healthy backends, a connection limit), or a crashing worker. Check the server's \
             log and its listen queue (`ss -ltn`: Recv-Q against the backlog), and try `nc -vz HOST PORT`.",
            ms(close.ts_us - flow.first_ts_us)
        ),
    }
}

fn failure(flow: &FlowRecord) -> Option<Failure> {
    let syn = flow.syn?;
    let (s, c) = (Dir::ToClient.index(), Dir::ToServer.index());
    if flow.syn_ack.is_some() {
        // Established: a failure only when the server ended it before any byte.
        let any_byte = flow.payload_bytes != [0, 0]
            || flow.first_bytes.iter().any(Option::is_some)
            || flow.tls.is_some();
        if any_byte
            || flow.rst[c].is_some()
            || flow.fin[c].is_some_and(|f| flow.fin[s].is_none_or(|sf| f.frame < sf.frame))
        {
            return None;
        }
        return match (flow.rst[s], flow.fin[s]) {
            (Some(r), f) if f.is_none_or(|f| r.frame < f.frame) => {
                Some(closed_before_data(flow, syn, r, true))
            }
            (_, Some(f)) => Some(closed_before_data(flow, syn, f, false)),
            _ => None,
        };
    }
    // A client that sent more than SYNs (and perhaps a RST) completed a handshake this
    // capture did not see the other half of (asymmetric routing, one-sided capture).
    let client_rst = u64::from(flow.rst[c].is_some());
    if flow.packets[c] > u64::from(flow.syns) + client_rst {
        return None;
    }
    let times = flow
        .syn_times
        .unwrap_or((flow.first_ts_us, flow.first_ts_us));
    let icmp = flow
        .icmp
        .iter()
        .find(|e| e.about == Dir::ToServer && !matches!(e.name, "frag_needed" | "packet_too_big"))
        .copied();
    match (icmp, flow.rst[s]) {
        (Some(e), Some(r)) if r.frame < e.frame => Some(refused(flow, syn, times.0, r)),
        (Some(e), _) => Some(icmp_failure(flow, syn, times.0, e)),
        (None, Some(r)) => Some(refused(flow, syn, times.0, r)),
        // A lone SYN just before the capture ended is an answer not yet captured, not a
        // failure: without a retransmission there is no sign the client waited.
        (None, None) if flow.end == EndReason::CaptureEnd && flow.syns < 2 => None,
        (None, None) => Some(no_answer(flow, syn, times)),
    }
}

fn check(ctx: &mut RuleCtx<'_>) {
    let flow = ctx.flow;
    let Some(f) = failure(flow) else {
        return;
    };
    let severity = if flow.server_port_is_tls {
        Severity::Medium
    } else {
        Severity::Low
    };
    let times = flow
        .syn_times
        .unwrap_or((flow.first_ts_us, flow.first_ts_us));
    let waited = match f.reason.as_str() {
        "no_answer" => times.1 - times.0,
        _ => f.ts_us - times.0,
    };
    let (quality, issues) = crate::flow::capture_quality(flow);
    ctx.push(
        Finding::new(Kind::ConnectionFailed, severity, f.ts_us)
            .frames(f.frames)
            .summary(f.summary)
            .explanation(f.explanation)
            .evidence(json!({
                "reason": f.reason,
                "attempts": flow.syns.max(1),
                "waited_ms": ms(waited),
                "answered_by": f.answered_by,
                "ended_by": f.ended_by,
                "confidence": f.confidence,
                "server_port": flow.server.port,
                "icmp": f.icmp.map(|e| json!({
                    "type": e.icmp_type,
                    "code": e.code,
                    "v6": e.v6,
                    "sender": e.sender.to_string(),
                    "frame": e.frame,
                })),
                "ttl": {
                    "client": flow.ttl[Dir::ToServer.index()],
                    "rst": f.rst_ttl,
                },
                "because": strings(f.because),
                "capture_quality": quality,
                "capture_issues": strings(issues),
            })),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::IcmpEvent;
    use crate::rules::testutil::*;
    use crate::rules::{evaluate, Finding};
    use std::net::{IpAddr, Ipv4Addr};

    const T0: i64 = 1_700_000_000_000_000;

    /// A SYN-only flow: `syns` SYNs one second apart from frame 1.
    fn attempt(syns: u32) -> FlowRecord {
        let mut f = flow();
        f.syn_ack = None;
        f.packets = [u64::from(syns), 0];
        f.ttl = [Some(64), None];
        f.ttl_range = [Some((64, 64)), None];
        f.syns = syns;
        f.syn_times = Some((T0, T0 + i64::from(syns - 1) * 1_000_000));
        f.first_ts_us = T0;
        f.last_frame = u64::from(syns);
        f.last_ts_us = T0 + i64::from(syns - 1) * 1_000_000;
        f.end = EndReason::CaptureEnd;
        f
    }

    fn failed(f: &FlowRecord) -> Finding {
        let all = evaluate(f);
        let kinds: Vec<_> = all.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![Kind::ConnectionFailed]);
        all.into_iter().next().unwrap()
    }

    fn rst(frame: FrameNo, ttl: u8) -> Option<TcpEvent> {
        Some(TcpEvent {
            frame,
            ts_us: T0 + 50,
            ttl,
        })
    }

    #[test]
    fn rst_to_the_syn_is_refused_by_the_server_with_one_packet_to_judge() {
        let mut f = attempt(1);
        f.rst[1] = rst(2, 64);
        f.packets[1] = 1;
        let x = failed(&f);
        assert_eq!(x.evidence_str("reason"), Some("refused"));
        assert_eq!(x.evidence_str("answered_by"), Some("server"));
        assert_eq!(x.evidence_str("confidence"), Some("medium"));
        assert_eq!(x.severity, Severity::Medium, "443 is a TLS port");
        assert_eq!(x.frames, vec![1, 2]);
        assert!(x.evidence["because"][1]
            .as_str()
            .unwrap()
            .contains("only packet"));
        f.server_port_is_tls = false;
        assert_eq!(failed(&f).severity, Severity::Low);
    }

    #[test]
    fn rst_whose_ttl_does_not_fit_the_server_is_a_middlebox() {
        let mut f = attempt(1);
        f.ttl_range[1] = Some((50, 50));
        f.rst[1] = rst(3, 64);
        let x = failed(&f);
        assert_eq!(x.evidence_str("answered_by"), Some("middlebox"));
        assert_eq!(x.evidence["ttl"]["rst"], 64);
    }

    #[test]
    fn unanswered_syns_tell_giving_up_from_the_capture_ending() {
        let mut f = attempt(3);
        f.capture_end_floor_us = Some(T0 + 2_000_000 + 1_000_000);
        let x = failed(&f);
        assert_eq!(x.evidence_str("reason"), Some("no_answer"));
        assert_eq!(x.evidence_str("ended_by"), Some("capture_end"));
        assert_eq!(
            (
                x.evidence["attempts"].as_u64(),
                x.evidence["waited_ms"].as_u64()
            ),
            (Some(3), Some(2000))
        );
        assert!(x.evidence["answered_by"].is_null());
        f.capture_end_floor_us = Some(T0 + 2_000_000 + 4_000_001);
        assert_eq!(failed(&f).evidence_str("ended_by"), Some("client_gave_up"));
        f.end = EndReason::Timeout;
        f.capture_end_floor_us = None;
        assert!(failed(&f)
            .summary
            .contains("gave up after 2 retransmission(s)"));
        f.end = EndReason::Evicted;
        assert_eq!(failed(&f).evidence_str("ended_by"), Some("evicted"));
    }

    #[test]
    fn a_lone_syn_at_the_end_of_the_capture_is_no_failure() {
        let mut f = attempt(1);
        f.capture_end_floor_us = Some(T0 + 10_000_000);
        assert!(evaluate(&f).is_empty());
        f.end = EndReason::Timeout;
        assert_eq!(failed(&f).evidence_str("ended_by"), Some("client_gave_up"));
    }

    #[test]
    fn a_one_sided_capture_of_a_working_connection_is_no_failure() {
        // The client's SYN, ACK and data, none of the server's packets.
        let mut f = attempt(1);
        f.packets = [6, 0];
        f.payload_bytes = [517, 0];
        assert!(!evaluate(&f)
            .iter()
            .any(|x| x.kind == Kind::ConnectionFailed));
        // A client that resets its own unanswered attempt still failed to connect.
        let mut f = attempt(2);
        f.packets = [3, 0];
        f.rst[0] = rst(3, 64);
        assert_eq!(failed(&f).evidence_str("reason"), Some("no_answer"));
    }

    #[test]
    fn icmp_error_quoting_the_syn_names_its_sender() {
        let mut f = attempt(1);
        let router = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254));
        f.icmp.push(IcmpEvent {
            frame: 2,
            ts_us: T0 + 100,
            sender: router,
            about: Dir::ToServer,
            v6: false,
            icmp_type: 3,
            code: 13,
            name: "admin_prohibited",
            mtu: None,
        });
        f.icmp_count = 1;
        let x = failed(&f);
        assert_eq!(x.evidence_str("reason"), Some("icmp_admin_prohibited"));
        assert_eq!(x.evidence_str("answered_by"), Some("10.0.0.254"));
        assert_eq!(x.frames, vec![1, 2]);
        assert!(x.explanation.contains("iptables -L"));
        // A path-MTU signal is no refusal.
        f.icmp[0].name = "frag_needed";
        assert!(
            evaluate(&f).is_empty(),
            "a lone SYN at capture end, no refusal"
        );
        f.end = EndReason::Timeout;
        assert_eq!(failed(&f).evidence_str("reason"), Some("no_answer"));
    }

    #[test]
    fn accepted_then_closed_or_reset_before_any_byte() {
        let mut f = flow();
        f.fin[1] = Some(TcpEvent {
            frame: 4,
            ts_us: T0 + 300,
            ttl: 64,
        });
        f.fin[0] = Some(TcpEvent {
            frame: 5,
            ts_us: T0 + 400,
            ttl: 64,
        });
        let x = failed(&f);
        assert_eq!(x.evidence_str("reason"), Some("server_closed"));
        assert_eq!(x.evidence_str("answered_by"), Some("server"));
        f.fin = [None, None];
        f.rst[1] = rst(4, 64);
        assert_eq!(failed(&f).evidence_str("reason"), Some("server_reset"));
        // The client closing first (a port check) or any byte: nothing.
        f.rst = [rst(4, 64), None];
        assert!(evaluate(&f).is_empty());
        f.rst = [None, rst(6, 64)];
        f.payload_bytes = [300, 0];
        assert!(!evaluate(&f)
            .iter()
            .any(|x| x.kind == Kind::ConnectionFailed));
    }

    #[test]
    fn hop_counts_from_the_usual_initial_ttls() {
        assert_eq!(
            (hops(64), hops(60), hops(127), hops(250), hops(255)),
            (0, 4, 1, 5, 0)
        );
    }
}
