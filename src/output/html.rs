//! `tlstriage report`: one self-contained HTML file (inline CSS and SVG, no script, nothing
//! fetched): a summary by kind and severity, a table of failing flows, and for each failing
//! flow a handshake ladder (client and server columns, one arrow per TCP control packet,
//! cleartext start and TLS record, with time offsets and frame numbers) beside its diagnosis.
//!
//! Everything that comes from the capture (SNI, certificate names, first bytes, summaries
//! quoting them) is attacker-controlled and goes through [`esc`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::sink::Collected;
use crate::cleartext::{escape_bytes, looks_like_tls};
use crate::flow::{FlowRecord, FlowRef};
use crate::model::{format_ts_us, Dir, FrameNo, TimestampUs};
use crate::rules::{Finding, Kind, Severity};
use crate::tls::names::{alert_description_name, alert_level_name, handshake_type_name};
use crate::tls::TlsEventKind;

/// Arrows drawn per flow at most; the rest are counted.
pub const MAX_LADDER_STEPS: usize = 80;

/// One capture to put in the report.
pub struct ReportCapture<'a> {
    pub name: &'a str,
    pub capture: &'a Collected,
    /// A read error that stopped the capture part-way.
    pub error: Option<String>,
}

/// HTML-escape text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if super::is_unsafe(c) && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// One arrow of the ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub frame: FrameNo,
    /// Capture time, when known (the SYN-ACK's is not recorded).
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
        steps.push(step(frame, None, Dir::ToClient, "SYN, ACK".into(), "tcp"));
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
const ROW: i64 = 30;
const TOP: i64 = 58;

/// The ladder as inline SVG. Frames cited by a finding are drawn bold.
pub fn ladder_svg(flow: &FlowRecord, findings: &[Finding]) -> String {
    let steps = ladder_steps(flow);
    let shown = &steps[..steps.len().min(MAX_LADDER_STEPS)];
    let cited: Vec<FrameNo> = findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .flat_map(|f| f.frames.iter().copied())
        .collect();
    let extra = if steps.len() > shown.len() { ROW } else { 0 };
    let h = TOP + ROW * shown.len() as i64 + 16 + extra;
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
            h - 8
        );
    }
    let _ = write!(
        s,
        r#"<text x="4" y="50" class="hdr">frame</text><text x="{}" y="50" class="hdr" text-anchor="end">time</text>"#,
        X_CLIENT - 12
    );
    for (i, st) in shown.iter().enumerate() {
        let y = TOP + ROW * i as i64 + 18;
        let (x1, x2) = match st.dir {
            Dir::ToServer => (X_CLIENT, X_SERVER),
            Dir::ToClient => (X_SERVER, X_CLIENT),
        };
        let bold = if cited.contains(&st.frame) {
            " cited"
        } else {
            ""
        };
        let time = st.ts_us.map_or_else(String::new, |t| {
            format!("+{:.3} ms", (t - flow.first_ts_us) as f64 / 1000.0)
        });
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
            TOP + ROW * shown.len() as i64 + 18,
            steps.len() - shown.len()
        );
    }
    s.push_str("</svg>");
    s
}

const CSS: &str = r#"
:root { --hi:#b3261e; --me:#c26a00; --lo:#6b6b00; --in:#5f6b7a; --ok:#1e7a34; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 16px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c8ced8; }
main { padding: 8px 28px 40px; max-width: 1500px; }
h2 { font-size: 18px; margin: 26px 0 10px; }
h3 { font-size: 15px; margin: 0 0 8px; }
table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0002; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #e3e6eb; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.sev { display: inline-block; min-width: 62px; text-align: center; padding: 1px 6px; border-radius: 3px; color: #fff; font-size: 12px; font-weight: 600; }
.sev-critical, .sev-high { background: var(--hi); } .sev-medium { background: var(--me); }
.sev-low { background: var(--lo); } .sev-info { background: var(--in); }
.totals span { margin-right: 10px; }
.flow { background: #fff; box-shadow: 0 1px 2px #0002; margin: 18px 0; padding: 14px 16px; }
.flow .grid { display: grid; grid-template-columns: 700px 1fr; gap: 18px; align-items: start; }
.diag .finding { border-left: 4px solid var(--in); padding: 4px 10px; margin: 0 0 10px; }
.diag .finding.sev-b-critical, .diag .finding.sev-b-high { border-color: var(--hi); }
.diag .finding.sev-b-medium { border-color: var(--me); } .diag .finding.sev-b-low { border-color: var(--lo); }
.diag dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 6px 0; }
.diag dt { color: #5f6b7a; } .diag dd { margin: 0; }
.expl { color: #333b48; margin: 4px 0; }
.meta { color: #5f6b7a; font-size: 12.5px; }
svg.ladder { background: #fbfcfd; border: 1px solid #e3e6eb; }
svg.ladder text { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 11px; fill: #5f6b7a; }
svg.ladder text.col { font: 600 13px system-ui, sans-serif; fill: #1d2330; text-anchor: middle; }
svg.ladder text.colsub { text-anchor: middle; }
svg.ladder text.hdr { font-style: italic; }
svg.ladder text.label { font: 12px system-ui, sans-serif; fill: #1d2330; text-anchor: middle; }
svg.ladder text.more { text-anchor: middle; }
svg.ladder line.life { stroke: #9aa3b0; stroke-width: 1.5; stroke-dasharray: 4 3; }
svg.ladder .step line { stroke-width: 1.6; }
svg.ladder .cited text.label { font-weight: 700; } svg.ladder .cited text.frame { fill: var(--hi); font-weight: 700; }
.s-tcp line, .m-tcp { stroke: #7a8494; fill: #7a8494; } .s-fin line, .m-fin { stroke: #7a8494; fill: #7a8494; }
.s-rst line, .m-rst { stroke: var(--hi); fill: var(--hi); } .s-alert line, .m-alert { stroke: var(--hi); fill: var(--hi); }
.s-plain line, .m-plain { stroke: var(--me); fill: var(--me); } .s-bad line, .m-bad { stroke: var(--me); fill: var(--me); }
.s-hs line, .m-hs { stroke: #2456a6; fill: #2456a6; } .s-ccs line, .m-ccs { stroke: #6a4fb3; fill: #6a4fb3; }
.s-data line, .m-data { stroke: var(--ok); fill: var(--ok); }
.s-fin line { stroke-dasharray: 5 3; }
a { color: #2456a6; }
"#;

fn sev_badge(s: Severity) -> String {
    format!(r#"<span class="sev sev-{0}">{0}</span>"#, s.as_str())
}

fn endpoint(ep: crate::flow::Endpoint) -> String {
    esc(&if ep.ip.is_ipv6() {
        format!("[{}]:{}", ep.ip, ep.port)
    } else {
        format!("{}:{}", ep.ip, ep.port)
    })
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn failing(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity >= Severity::Low)
}

fn diagnosis(findings: &[Finding]) -> String {
    let mut fs: Vec<&Finding> = findings.iter().collect();
    fs.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut s = String::from(r#"<div class="diag">"#);
    for f in fs {
        let _ = write!(
            s,
            r#"<div class="finding sev-b-{}"><h3>{} <code>{}</code></h3><p>{}</p>"#,
            f.severity.as_str(),
            sev_badge(f.severity),
            esc(f.kind.as_str()),
            esc(&f.summary)
        );
        if f.kind == Kind::HandshakeAborted {
            s.push_str("<dl>");
            for key in ["aborted_by", "stage", "how", "likely_cause", "confidence"] {
                if let Some(v) = f.evidence.get(key).filter(|v| !v.is_null()) {
                    let _ = write!(s, "<dt>{key}</dt><dd><b>{}</b></dd>", esc(&value_text(v)));
                }
            }
            s.push_str("</dl>");
            if let Some(because) = f.evidence.get("because").and_then(Value::as_array) {
                s.push_str("<ul class=\"because\">");
                for b in because {
                    let _ = write!(s, "<li>{}</li>", esc(&value_text(b)));
                }
                s.push_str("</ul>");
            }
        }
        if !f.explanation.is_empty() {
            let _ = write!(s, r#"<p class="expl">{}</p>"#, esc(&f.explanation));
        }
        let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
        let _ = write!(
            s,
            r#"<p class="meta">frames {}</p></div>"#,
            esc(&frames.join(", "))
        );
    }
    s.push_str("</div>");
    s
}

/// The whole report.
pub fn render_report(captures: &[ReportCapture<'_>]) -> String {
    let names: Vec<&str> = captures.iter().map(|c| c.name).collect();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><title>tlstriage report: {}</title><style>{CSS}</style></head><body>"#,
        esc(&names.join(", "))
    );
    let _ = write!(
        s,
        "<header><h1>tlstriage report</h1><p>{} &middot; tlstriage {}</p></header><main>",
        esc(&names.join(", ")),
        env!("CARGO_PKG_VERSION")
    );

    // Capture overview.
    s.push_str("<h2>Captures</h2><table><tr><th>capture</th><th>packets</th><th>TCP flows</th><th>TLS flows</th><th>first packet</th><th>duration</th><th>notes</th></tr>");
    for c in captures {
        let st = &c.capture.stats;
        let dur = match (st.first_ts_us, st.last_ts_us) {
            (Some(a), Some(b)) => format!("{:.3} s", (b - a) as f64 / 1e6),
            _ => "-".into(),
        };
        let mut notes: Vec<String> = c.capture.warnings.clone();
        if let Some(e) = &c.error {
            notes.push(format!("read error: {e}"));
        }
        let _ = write!(
            s,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(c.name),
            st.packets,
            st.flows,
            st.tls_flows,
            st.first_ts_us.map(format_ts_us).unwrap_or_default(),
            dur,
            esc(&notes.join("; "))
        );
    }
    s.push_str("</table>");

    // Summary by kind and severity.
    let mut counts: BTreeMap<(std::cmp::Reverse<Severity>, &str), usize> = BTreeMap::new();
    let mut per_sev: BTreeMap<std::cmp::Reverse<Severity>, usize> = BTreeMap::new();
    for c in captures {
        let flow_findings = c.capture.flows.iter().flat_map(|(_, fs)| fs);
        for f in flow_findings.chain(c.capture.cross.iter().map(|(_, f)| f)) {
            *counts
                .entry((std::cmp::Reverse(f.severity), f.kind.as_str()))
                .or_default() += 1;
            *per_sev.entry(std::cmp::Reverse(f.severity)).or_default() += 1;
        }
    }
    s.push_str("<h2 id=\"summary\">Summary by kind and severity</h2>");
    if counts.is_empty() {
        s.push_str("<p>No findings.</p>");
    } else {
        s.push_str("<p class=\"totals\">");
        for (sev, n) in &per_sev {
            let _ = write!(s, "<span>{} {n}</span>", sev_badge(sev.0));
        }
        s.push_str("</p><table><tr><th>severity</th><th>kind</th><th>findings</th></tr>");
        for ((sev, kind), n) in &counts {
            let _ = write!(
                s,
                "<tr><td>{}</td><td><code>{}</code></td><td>{n}</td></tr>",
                sev_badge(sev.0),
                esc(kind)
            );
        }
        s.push_str("</table>");
    }

    // Failing flows table.
    let failing_flows: Vec<(usize, &FlowRecord, &Vec<Finding>)> = captures
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| {
            c.capture
                .flows
                .iter()
                .filter(|(_, fs)| failing(fs))
                .map(move |(fl, fs)| (ci, fl, fs))
        })
        .collect();
    let _ = write!(
        s,
        "<h2 id=\"failing\">Failing flows ({})</h2>",
        failing_flows.len()
    );
    if failing_flows.is_empty() {
        s.push_str("<p>No flow has a finding above info.</p>");
    } else {
        s.push_str("<table><tr>");
        if captures.len() > 1 {
            s.push_str("<th>capture</th>");
        }
        s.push_str("<th>tcp.stream</th><th>client</th><th>server</th><th>SNI</th><th>worst</th><th>findings</th><th>likely cause</th><th>frames</th></tr>");
        for (ci, fl, fs) in &failing_flows {
            let worst = fs
                .iter()
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Info);
            let mut kinds: Vec<&str> = fs
                .iter()
                .filter(|f| f.severity > Severity::Info)
                .map(|f| f.kind.as_str())
                .collect();
            kinds.dedup();
            let cause = fs
                .iter()
                .find_map(|f| f.evidence_str("likely_cause"))
                .unwrap_or("");
            s.push_str("<tr>");
            if captures.len() > 1 {
                let _ = write!(s, "<td class=\"mono\">{}</td>", esc(captures[*ci].name));
            }
            let _ = write!(
                s,
                "<td><a href=\"#flow-{ci}-{st}\">{st}</a></td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}-{}</td></tr>",
                endpoint(fl.client),
                endpoint(fl.server),
                esc(fl.sni().unwrap_or("")),
                sev_badge(worst),
                esc(&kinds.join(", ")),
                esc(cause),
                fl.first_frame,
                fl.last_frame,
                st = fl.tcp_stream,
            );
        }
        s.push_str("</table>");
    }

    // Findings of the capture rules, made over many flows.
    let cross: Vec<(usize, &FlowRef, &Finding)> = captures
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| c.capture.cross.iter().map(move |(at, f)| (ci, at, f)))
        .collect();
    if !cross.is_empty() {
        let _ = write!(
            s,
            "<h2 id=\"cross\">Across flows ({})</h2><table><tr>",
            cross.len()
        );
        if captures.len() > 1 {
            s.push_str("<th>capture</th>");
        }
        s.push_str("<th>tcp.stream</th><th>client</th><th>server</th><th>severity</th><th>kind</th><th>summary</th><th>frames</th></tr>");
        for (ci, at, f) in &cross {
            s.push_str("<tr>");
            if captures.len() > 1 {
                let _ = write!(s, "<td class=\"mono\">{}</td>", esc(captures[*ci].name));
            }
            let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
            let _ = write!(
                s,
                "<td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                at.tcp_stream,
                endpoint(at.client),
                endpoint(at.server),
                sev_badge(f.severity),
                esc(f.kind.as_str()),
                esc(&f.summary),
                esc(&frames.join(", ")),
            );
        }
        s.push_str("</table>");
    }

    // One section per failing flow: ladder and diagnosis.
    for (ci, fl, fs) in &failing_flows {
        let sni = fl
            .sni()
            .map(|n| format!(" &middot; SNI <code>{}</code>", esc(n)))
            .unwrap_or_default();
        let _ = write!(
            s,
            "<section class=\"flow\" id=\"flow-{ci}-{st}\"><h3>tcp.stream {st} &middot; <span class=\"mono\">{} &rarr; {}</span>{sni}</h3><p class=\"meta\">{} &middot; frames {}-{} &middot; Wireshark filter <code>tcp.stream eq {st}</code> &middot; community_id <code>{}</code></p><div class=\"grid\">{}{}</div></section>",
            endpoint(fl.client),
            endpoint(fl.server),
            esc(captures[*ci].name),
            fl.first_frame,
            fl.last_frame,
            esc(&fl.community_id),
            ladder_svg(fl, fs),
            diagnosis(fs),
            st = fl.tcp_stream,
        );
    }
    s.push_str("</main></body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_neutralises_markup() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(esc("a\u{0}b"), "a\\u{0}b");
    }

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
}
