//! The handshake ladder of one flow: client and server columns, one arrow per TCP control
//! packet, cleartext start, TLS message or record and ICMP error, spaced by time (a fixed
//! step plus a share of the height proportional to the time since the flow began), so a
//! 3-second wait before a reset shows as a gap.

use std::fmt::Write as _;

use super::esc;
use crate::cleartext::{escape_bytes, looks_like_tls};
use crate::flow::FlowRecord;
use crate::model::{Dir, FrameNo, TimestampUs};
use crate::rules::{Finding, Kind, Severity};
use crate::tls::names::{alert_description_name, alert_level_name, handshake_type_name};
use crate::tls::TlsEventKind;

/// Arrows drawn per flow at most; the rest are counted.
pub const MAX_LADDER_STEPS: usize = 80;

/// One arrow of the ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub frame: FrameNo,
    /// Capture time, when known.
    pub ts_us: Option<TimestampUs>,
    pub dir: Dir,
    pub label: String,
    /// CSS class / colour: tcp, fin, rst, plain, hs, ccs, alert, data, bad.
    pub class: &'static str,
}

/// "client_hello" -> "ClientHello".
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The ladder of a flow, in frame order.
pub fn ladder_steps(flow: &FlowRecord) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(frame) = flow.syn {
        let ts = (frame == flow.first_frame).then_some(flow.first_ts_us);
        steps.push(step(frame, ts, Dir::ToServer, "SYN".into(), "tcp"));
    }
    if let Some(frame) = flow.syn_ack {
        steps.push(step(
            frame,
            flow.syn_ack_ts_us,
            Dir::ToClient,
            "SYN, ACK".into(),
            "tcp",
        ));
    }
    for dir in [Dir::ToServer, Dir::ToClient] {
        if let Some((bytes, frame)) = &flow.first_bytes[dir.index()] {
            if !looks_like_tls(bytes) {
                let text = format!("cleartext \u{201c}{}\u{201d}", escape_bytes(bytes, 28));
                steps.push(step(*frame, Some(flow.ts_of(*frame)), dir, text, "plain"));
            }
        }
    }
    if let Some(tls) = &flow.tls {
        for e in &tls.events {
            let (label, class) = match e.kind {
                TlsEventKind::Handshake(t) => (camel(handshake_type_name(t.0)), "hs"),
                TlsEventKind::ChangeCipherSpec => ("ChangeCipherSpec".to_string(), "ccs"),
                TlsEventKind::Alert { level, description } => (
                    format!(
                        "Alert {} {}",
                        alert_level_name(level),
                        alert_description_name(description)
                    ),
                    if description == 0 { "fin" } else { "alert" },
                ),
                TlsEventKind::EncryptedAlert { len } => {
                    (format!("encrypted Alert ({len} B)"), "alert")
                }
                TlsEventKind::ApplicationData { len } => {
                    (format!("Application data ({len} B)"), "data")
                }
                TlsEventKind::EncryptedHandshake { len } => {
                    (format!("encrypted handshake ({len} B)"), "hs")
                }
                TlsEventKind::Heartbeat { len, .. } => (format!("Heartbeat ({len} B)"), "bad"),
                TlsEventKind::Malformed => ("malformed record".to_string(), "bad"),
            };
            steps.push(step(e.frame, Some(e.ts_us), e.dir, label, class));
        }
    }
    for dir in [Dir::ToServer, Dir::ToClient] {
        if let Some(ev) = flow.fin[dir.index()] {
            steps.push(step(ev.frame, Some(ev.ts_us), dir, "FIN".into(), "fin"));
        }
        if let Some(ev) = flow.rst[dir.index()] {
            steps.push(step(ev.frame, Some(ev.ts_us), dir, "RST".into(), "rst"));
        }
    }
    for e in &flow.icmp {
        // The error travels back to whoever sent the quoted segment.
        let to = match e.about {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        };
        let mtu = e.mtu.map(|m| format!(", MTU {m}")).unwrap_or_default();
        let label = format!(
            "{} {} from {}{mtu}",
            if e.v6 { "ICMPv6" } else { "ICMP" },
            e.name.replace('_', " "),
            e.sender
        );
        steps.push(step(e.frame, Some(e.ts_us), to, label, "bad"));
    }
    steps.sort_by_key(|s| s.frame);
    steps
}

fn step(
    frame: FrameNo,
    ts_us: Option<TimestampUs>,
    dir: Dir,
    label: String,
    class: &'static str,
) -> Step {
    Step {
        frame,
        ts_us,
        dir,
        label,
        class,
    }
}

const SVG_W: i64 = 690;
const X_CLIENT: i64 = 170;
const X_SERVER: i64 = 590;
/// The least space between two arrows.
const ROW: i64 = 30;
const TOP: i64 = 58;
/// Height spread over the flow's duration, on top of the fixed steps.
const TIME_H: f64 = 300.0;

/// The y of each step: a fixed row each, plus the time since the first step scaled to
/// [`TIME_H`] (a step without a time is drawn at the time of the one before).
fn step_ys(steps: &[Step], t0: TimestampUs) -> Vec<i64> {
    let mut t = t0;
    let times: Vec<TimestampUs> = steps
        .iter()
        .map(|s| {
            t = s.ts_us.unwrap_or(t).max(t);
            t
        })
        .collect();
    let span = times.last().map_or(0, |l| l - t0).max(1) as f64;
    times
        .iter()
        .enumerate()
        .map(|(i, t)| TOP + 18 + ROW * i as i64 + (TIME_H * (t - t0) as f64 / span) as i64)
        .collect()
}

fn ms(us: i64) -> String {
    if us.abs() >= 1_000_000 {
        format!("{:.3} s", us as f64 / 1e6)
    } else {
        format!("{:.3} ms", us as f64 / 1000.0)
    }
}

/// The ladder as inline SVG. Frames cited by a finding are drawn bold; a reset that a
/// finding blames on a middlebox carries its TTL; long waits are labelled.
pub fn ladder_svg(flow: &FlowRecord, findings: &[Finding]) -> String {
    let mut steps = ladder_steps(flow);
    let middlebox = findings.iter().any(|f| {
        f.kind == Kind::HandshakeAborted && f.evidence_str("aborted_by") == Some("middlebox")
    });
    if middlebox {
        for st in steps.iter_mut().filter(|s| s.class == "rst") {
            if let Some(ev) = flow.rst[st.dir.index()] {
                st.label = format!("RST (TTL {}: a middlebox)", ev.ttl);
            }
        }
    }
    let shown = &steps[..steps.len().min(MAX_LADDER_STEPS)];
    let cited: Vec<FrameNo> = findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .flat_map(|f| f.frames.iter().copied())
        .collect();
    let t0 = flow.first_ts_us;
    let ys = step_ys(shown, t0);
    let notes = tcp_notes(flow);
    let extra = if steps.len() > shown.len() { ROW } else { 0 };
    let last_y = ys.last().copied().unwrap_or(TOP);
    let h = last_y + 16 + extra + 18 * notes.len() as i64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="ladder" width="{SVG_W}" height="{h}" viewBox="0 0 {SVG_W} {h}" role="img" aria-label="handshake ladder">"#
    );
    s.push_str("<defs>");
    for class in [
        "tcp", "fin", "rst", "plain", "hs", "ccs", "alert", "data", "bad",
    ] {
        let _ = write!(
            s,
            r#"<marker id="ah-{class}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="m-{class}"/></marker>"#
        );
    }
    s.push_str("</defs>");
    for (x, who, ep) in [
        (X_CLIENT, "client", flow.client),
        (X_SERVER, "server", flow.server),
    ] {
        let _ = write!(
            s,
            r#"<text x="{x}" y="16" class="col">{who}</text><text x="{x}" y="32" class="colsub">{}</text><line x1="{x}" y1="40" x2="{x}" y2="{}" class="life"/>"#,
            esc(&format!("{}:{}", ep.ip, ep.port)),
            last_y + 8 + extra
        );
    }
    let _ = write!(
        s,
        r#"<text x="4" y="50" class="hdr">frame</text><text x="{}" y="50" class="hdr" text-anchor="end">time</text>"#,
        X_CLIENT - 12
    );
    let mut prev: Option<(i64, TimestampUs)> = None;
    for (st, &y) in shown.iter().zip(&ys) {
        let (x1, x2) = match st.dir {
            Dir::ToServer => (X_CLIENT, X_SERVER),
            Dir::ToClient => (X_SERVER, X_CLIENT),
        };
        // A wait longer than two rows' worth of the scale is labelled on the gap.
        if let (Some((py, pt)), Some(t)) = (prev, st.ts_us) {
            if y - py > 2 * ROW && t > pt {
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{}" class="gap">{} later</text>"#,
                    (X_CLIENT + X_SERVER) / 2,
                    (py + y) / 2 + 4,
                    ms(t - pt)
                );
            }
        }
        if let Some(t) = st.ts_us {
            prev = Some((y, t));
        }
        let bold = if cited.contains(&st.frame) {
            " cited"
        } else {
            ""
        };
        let time = st
            .ts_us
            .map_or_else(String::new, |t| format!("+{}", ms(t - t0)));
        let _ = write!(
            s,
            r#"<g class="step s-{c}{bold}"><title>frame {f}: {label}</title><text x="4" y="{ty}" class="frame">#{f}</text><text x="{tx}" y="{ty}" class="time" text-anchor="end">{time}</text><line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" marker-end="url(#ah-{c})"/><text x="{mx}" y="{ly}" class="label">{label}</text></g>"#,
            c = st.class,
            f = st.frame,
            ty = y + 4,
            tx = X_CLIENT - 12,
            mx = (X_CLIENT + X_SERVER) / 2,
            ly = y - 6,
            label = esc(&st.label),
        );
    }
    if extra > 0 {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="more">… {} more events not drawn</text>"#,
            (X_CLIENT + X_SERVER) / 2,
            last_y + ROW,
            steps.len() - shown.len()
        );
    }
    for (i, note) in notes.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="4" y="{}" class="note">{}</text>"#,
            last_y + extra + 30 + 18 * i as i64,
            esc(note)
        );
    }
    s.push_str("</svg>");
    s
}

/// What the arrows do not show: retransmissions, out-of-order segments, zero windows.
fn tcp_notes(flow: &FlowRecord) -> Vec<String> {
    let mut notes = Vec::new();
    for (dir, who) in [(Dir::ToServer, "client"), (Dir::ToClient, "server")] {
        let st = &flow.stream_stats[dir.index()];
        let mut parts = Vec::new();
        if st.retransmitted > 0 {
            parts.push(format!("{} retransmitted segment(s)", st.retransmitted));
        }
        if st.out_of_order > 0 {
            parts.push(format!("{} out of order", st.out_of_order));
        }
        if flow.zero_window[dir.index()] > 0 {
            parts.push(format!(
                "{} zero-window packet(s)",
                flow.zero_window[dir.index()]
            ));
        }
        if !parts.is_empty() {
            notes.push(format!("from the {who}: {}", parts.join(", ")));
        }
    }
    if flow.syns > 1 {
        notes.push(format!("{} SYNs from the client", flow.syns));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_errors_are_steps_back_to_the_sender_of_the_quoted_segment() {
        let mut f = crate::rules::testutil::flow();
        f.syn_ack = None;
        f.icmp.push(crate::flow::IcmpEvent {
            frame: 2,
            ts_us: f.first_ts_us + 80,
            sender: "10.9.1.1".parse().unwrap(),
            about: Dir::ToServer,
            v6: false,
            icmp_type: 3,
            code: 13,
            name: "admin_prohibited",
            mtu: None,
        });
        let steps = ladder_steps(&f);
        let labels: Vec<(&str, Dir)> = steps.iter().map(|s| (s.label.as_str(), s.dir)).collect();
        assert_eq!(
            labels,
            vec![
                ("SYN", Dir::ToServer),
                ("ICMP admin prohibited from 10.9.1.1", Dir::ToClient)
            ]
        );
    }

    #[test]
    fn camel_case_names() {
        assert_eq!(camel("client_hello"), "ClientHello");
        assert_eq!(camel("server_hello_done"), "ServerHelloDone");
    }

    #[test]
    fn arrows_are_spaced_by_time_and_long_waits_labelled() {
        let step = |frame, us: Option<i64>| Step {
            frame,
            ts_us: us.map(|u| 1_000_000 + u),
            dir: Dir::ToServer,
            label: String::new(),
            class: "tcp",
        };
        // Three arrows within a millisecond, then one 3 s later.
        let steps = [
            step(1, Some(0)),
            step(2, None),
            step(3, Some(1000)),
            step(4, Some(3_001_000)),
        ];
        let ys = step_ys(&steps, 1_000_000);
        assert_eq!(ys[0], TOP + 18);
        assert_eq!(ys[1] - ys[0], ROW, "no time: the next row");
        assert_eq!(ys[2] - ys[1], ROW, "a millisecond of 3 s is nothing");
        assert_eq!(ys[3] - ys[2], ROW + 300);
        let mut f = crate::rules::testutil::flow();
        f.rst[1] = Some(crate::flow::TcpEvent {
            frame: 3,
            ts_us: f.first_ts_us + 3_000_000,
            ttl: 61,
        });
        let svg = ladder_svg(&f, &[]);
        assert!(svg.contains(">RST<"), "{svg}");
        assert!(svg.contains(r#"class="gap">3.000 s later<"#), "{svg}");
        let aborted = Finding::new(Kind::HandshakeAborted, Severity::High, 0)
            .evidence(serde_json::json!({ "aborted_by": "middlebox" }));
        assert!(ladder_svg(&f, &[aborted]).contains(">RST (TTL 61: a middlebox)<"));
    }
}
