//! `tlstriage report`: one self-contained HTML file (inline CSS and SVG, no script, nothing
//! fetched) that reads well at 100,000 flows: per capture a one-line verdict, a timeline of
//! failures by cause, the failure groups (same kind, likely cause and target) each with its
//! counts, one example flow's time-scaled handshake ladder beside its diagnosis and the fix,
//! roll-up tables by cause and by target, the findings by kind and severity, and the failing
//! flows worst first (capped at [`MAX_FLOW_ROWS`], the rest counted). Its size depends on
//! the number of groups shown, not on the number of flows.
//!
//! Everything that comes from the capture (SNI, certificate names, first bytes, summaries
//! quoting them) is attacker-controlled and goes through [`esc`].

mod data;
mod ladder;
mod timeline;

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

pub use data::{CaptureReport, FlowRow, MAX_FLOW_ROWS};
pub use ladder::{ladder_steps, ladder_svg, Step};
pub use timeline::timeline_svg;

use super::groups::{thousands, Group};
use crate::model::format_ts_us;
use crate::rules::{Finding, Kind, Severity};

/// Failure groups drawn with a ladder per capture; the rest are rows of a table.
pub const GROUPS_DRAWN: usize = 30;
/// Rows of the table of further groups, and of the roll-up by target.
const TABLE_ROWS: usize = 200;

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
            c if crate::output::is_unsafe(c) && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
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
.verdict { font-size: 16px; font-weight: 600; background: #fff; border-left: 5px solid var(--hi); padding: 10px 14px; box-shadow: 0 1px 2px #0002; }
.verdict.ok { border-color: var(--ok); }
.group { background: #fff; box-shadow: 0 1px 2px #0002; margin: 18px 0; padding: 14px 16px; }
.group .grid { display: grid; grid-template-columns: 700px 1fr; gap: 18px; align-items: start; }
.fix { background: #eef6ee; border-left: 4px solid var(--ok); padding: 6px 10px; margin: 8px 0; }
svg.ladder text.gap { text-anchor: middle; font-style: italic; fill: #9aa3b0; }
svg.ladder text.note { fill: #5f6b7a; }
svg.timeline { background: #fff; box-shadow: 0 1px 2px #0002; }
svg.timeline text { font: 11px system-ui, sans-serif; fill: #5f6b7a; }
svg.timeline line.axis { stroke: #9aa3b0; }
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

/// "2026-11-25 03:45:05.502".
fn when(ts: crate::model::TimestampUs) -> String {
    let full = format_ts_us(ts);
    full.get(..23).unwrap_or(&full).replace('T', " ")
}

fn flows_words(n: u64) -> String {
    if n == 1 {
        "1 flow".into()
    } else {
        format!("{} flows", thousands(n))
    }
}

/// The group's title: "certificate rejected (handshake_aborted) at localhost".
fn group_title(g: &Group) -> String {
    let kind = if g.key.cause.is_empty() {
        String::new()
    } else {
        format!(
            " <span class=\"meta\">({})</span>",
            esc(g.key.kind.as_str())
        )
    };
    format!(
        "{} {}{kind} at <span class=\"mono\">{}</span>",
        sev_badge(g.severity),
        esc(&g.key.cause_words()),
        esc(&g.key.target)
    )
}

fn render_group(s: &mut String, ci: usize, gi: usize, g: &Group) {
    let e = &g.example;
    let servers = if g.servers.count() == 1 {
        format!("server {}", endpoint(e.server))
    } else {
        format!("{} servers", g.servers.text())
    };
    let span = if g.first_ts == g.last_ts {
        when(g.first_ts)
    } else {
        format!("{} .. {}", when(g.first_ts), when(g.last_ts))
    };
    let _ = write!(
        s,
        "<section class=\"group\" id=\"group-{ci}-{gi}\"><h3>{}</h3><p class=\"meta\"><b>{}</b> from {} client(s) to {servers} &middot; {span}</p>",
        group_title(g),
        flows_words(g.flows),
        esc(&g.clients.text()),
    );
    let _ = write!(
        s,
        "<p class=\"meta\">example: tcp.stream {st} &middot; <span class=\"mono\">{} &rarr; {}</span> &middot; frames {}-{} &middot; Wireshark filter <code>tcp.stream eq {st}</code>",
        endpoint(e.client),
        endpoint(e.server),
        e.first_frame,
        e.last_frame,
        st = e.tcp_stream,
    );
    if g.streams.len() > 1 {
        let list: Vec<String> = g.streams.iter().map(u64::to_string).collect();
        let _ = write!(
            s,
            " &middot; {} of the group: <code>tcp.stream in {{{}}}</code>",
            if g.flows as usize > g.streams.len() {
                "the first"
            } else {
                "all"
            },
            list.join(" ")
        );
    }
    s.push_str("</p>");
    let _ = write!(s, "<p class=\"fix\"><b>fix:</b> {}</p>", esc(g.fix));
    if !g.also.is_empty() {
        let also: Vec<String> = g.also.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = write!(
            s,
            "<p class=\"meta\">also on these flows: {}</p>",
            esc(&also.join(", "))
        );
    }
    match &g.example_flow {
        Some(kept) => {
            let (flow, findings) = &**kept;
            let _ = write!(
                s,
                "<div class=\"grid\">{}{}</div>",
                ladder_svg(flow, findings),
                diagnosis(findings)
            );
        }
        // A cross-flow finding: no flow of its own to draw.
        None => {
            let _ = write!(
                s,
                "<div class=\"diag cross\"><p>{}</p><p class=\"expl\">{}</p></div>",
                esc(&e.summary),
                esc(&e.explanation)
            );
        }
    }
    s.push_str("</section>");
}

/// The groups past those drawn: one row each.
fn render_more_groups(s: &mut String, groups: &[&Group]) {
    if groups.is_empty() {
        return;
    }
    let _ = write!(
        s,
        "<h3>{} more group(s)</h3><table><tr><th>severity</th><th>cause</th><th>target</th><th>flows</th><th>clients</th><th>first</th><th>example</th></tr>",
        groups.len()
    );
    for g in groups.iter().take(TABLE_ROWS) {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{} <span class=\"meta\">{}</span></td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>tcp.stream {}</td></tr>",
            sev_badge(g.severity),
            esc(&g.key.cause_words()),
            esc(g.key.kind.as_str()),
            esc(&g.key.target),
            thousands(g.flows),
            esc(&g.clients.text()),
            esc(&when(g.first_ts)),
            g.example.tcp_stream
        );
    }
    s.push_str("</table>");
    if groups.len() > TABLE_ROWS {
        let flows: u64 = groups.iter().skip(TABLE_ROWS).map(|g| g.flows).sum();
        let _ = write!(
            s,
            "<p class=\"meta\">… and {} more group(s) with {} (the NDJSON output has every finding)</p>",
            groups.len() - TABLE_ROWS,
            flows_words(flows)
        );
    }
}

/// Roll-ups: failed connections by cause, and problem flows by target.
fn render_rollups(s: &mut String, c: &CaptureReport, groups: &[&Group]) {
    let causes = c.triage.ranked_causes();
    if !causes.is_empty() {
        s.push_str("<h3>Failed connections by cause</h3><table><tr><th>cause</th><th>failed connections</th><th>share</th><th>servers</th><th>clients</th></tr>");
        for (words, t) in &causes {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td></tr>",
                esc(words),
                thousands(t.flows),
                t.flows as f64 * 100.0 / c.triage.failed.max(1) as f64,
                esc(&t.servers.text()),
                esc(&t.clients.text())
            );
        }
        s.push_str("</table>");
    }
    let mut targets: BTreeMap<&str, (Severity, u64, BTreeMap<String, u64>)> = BTreeMap::new();
    for g in groups {
        let t = targets
            .entry(g.key.target.as_str())
            .or_insert((g.severity, 0, BTreeMap::new()));
        t.0 = t.0.max(g.severity);
        t.1 += g.flows;
        *t.2.entry(g.key.cause_words()).or_default() += g.flows;
    }
    let mut targets: Vec<_> = targets.into_iter().collect();
    targets.sort_by(|a, b| (b.1 .0, b.1 .1).cmp(&(a.1 .0, a.1 .1)).then(a.0.cmp(b.0)));
    if targets.is_empty() {
        return;
    }
    s.push_str("<h3>Problems by target (SNI, else server)</h3><table><tr><th>target</th><th>worst</th><th>flows with a problem</th><th>causes</th></tr>");
    for (target, (sev, n, causes)) in targets.iter().take(TABLE_ROWS) {
        let mut causes: Vec<(&String, &u64)> = causes.iter().collect();
        causes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let causes: Vec<String> = causes.iter().map(|(c, n)| format!("{n} {c}")).collect();
        let _ = write!(
            s,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(target),
            sev_badge(*sev),
            thousands(*n),
            esc(&causes.join(", "))
        );
    }
    s.push_str("</table>");
    if targets.len() > TABLE_ROWS {
        let _ = write!(
            s,
            "<p class=\"meta\">… and {} more target(s)</p>",
            targets.len() - TABLE_ROWS
        );
    }
}

fn render_flow_table(s: &mut String, ci: usize, c: &mut CaptureReport, many: bool) {
    let total = c.failing_flows;
    let name = c.name.clone();
    let rows = c.rows();
    let _ = write!(
        s,
        "<h2 id=\"failing-{ci}\">Failing flows ({})</h2>",
        thousands(total)
    );
    if rows.is_empty() {
        s.push_str("<p>No flow has a finding above info.</p>");
        return;
    }
    if (rows.len() as u64) < total {
        let _ = write!(
            s,
            "<p class=\"meta\">the {} worst, earliest first; {} more not listed (<code>tlstriage read --flows-detail</code> or the NDJSON output lists them all)</p>",
            thousands(rows.len() as u64),
            thousands(total - rows.len() as u64)
        );
    }
    s.push_str("<table><tr>");
    if many {
        s.push_str("<th>capture</th>");
    }
    s.push_str("<th>tcp.stream</th><th>client</th><th>server</th><th>SNI</th><th>worst</th><th>findings</th><th>likely cause</th><th>frames</th></tr>");
    for r in rows {
        s.push_str("<tr>");
        if many {
            let _ = write!(s, "<td class=\"mono\">{}</td>", esc(&name));
        }
        let _ = write!(
            s,
            "<td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}-{}</td></tr>",
            r.tcp_stream,
            endpoint(r.client),
            endpoint(r.server),
            esc(r.sni.as_deref().unwrap_or("")),
            sev_badge(r.worst),
            esc(&r.kinds.join(", ")),
            esc(r.cause.as_deref().unwrap_or("")),
            r.first_frame,
            r.last_frame,
        );
    }
    s.push_str("</table>");
}

fn render_cross(s: &mut String, c: &CaptureReport) {
    if c.cross.is_empty() {
        return;
    }
    let _ = write!(
        s,
        "<h3 id=\"cross\">Across flows ({})</h3><table><tr><th>tcp.stream</th><th>client</th><th>server</th><th>severity</th><th>kind</th><th>summary</th><th>frames</th></tr>",
        thousands(c.cross_total)
    );
    for (at, f) in &c.cross {
        let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
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
    if c.cross_total > c.cross.len() as u64 {
        let _ = write!(
            s,
            "<p class=\"meta\">… and {} more</p>",
            thousands(c.cross_total - c.cross.len() as u64)
        );
    }
}

/// The whole report.
pub fn render_report(captures: &mut [CaptureReport]) -> String {
    let names: Vec<String> = captures.iter().map(|c| c.name.clone()).collect();
    let names = names.join(", ");
    let many = captures.len() > 1;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><title>tlstriage report: {}</title><style>{CSS}</style></head><body>"#,
        esc(&names)
    );
    let _ = write!(
        s,
        "<header><h1>tlstriage report</h1><p>{} &middot; tlstriage {}</p></header><main>",
        esc(&names),
        env!("CARGO_PKG_VERSION")
    );

    s.push_str("<h2>Captures</h2><table><tr><th>capture</th><th>packets</th><th>TCP flows</th><th>TLS flows</th><th>first packet</th><th>duration</th><th>notes</th></tr>");
    for c in captures.iter() {
        let st = &c.stats;
        let dur = match (st.first_ts_us, st.last_ts_us) {
            (Some(a), Some(b)) => format!("{:.3} s", (b - a) as f64 / 1e6),
            _ => "-".into(),
        };
        let mut notes: Vec<String> = c.warnings.clone();
        if let Some(e) = &c.error {
            notes.push(format!("read error: {e}"));
        }
        let _ = write!(
            s,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.name),
            st.packets,
            st.flows,
            st.tls_flows,
            st.first_ts_us.map(format_ts_us).unwrap_or_default(),
            dur,
            esc(&notes.join("; "))
        );
    }
    s.push_str("</table>");
    for c in captures.iter() {
        let class = if c.triage.failed == 0 { " ok" } else { "" };
        let _ = write!(
            s,
            "<p class=\"verdict{class}\">{}{}</p>",
            if many {
                format!("{}: ", esc(&c.name))
            } else {
                String::new()
            },
            esc(&c.triage.verdict(c.stats.flows))
        );
    }

    // Summary by kind and severity, over every capture.
    let mut counts: BTreeMap<(Reverse<Severity>, &str), u64> = BTreeMap::new();
    let mut per_sev: BTreeMap<Reverse<Severity>, u64> = BTreeMap::new();
    for c in captures.iter() {
        for (k, n) in &c.counts {
            *counts.entry(*k).or_default() += n;
            *per_sev.entry(k.0).or_default() += n;
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

    for (ci, c) in captures.iter_mut().enumerate() {
        let title = if many {
            format!(" in {}", esc(&c.name))
        } else {
            String::new()
        };
        if let Some(svg) = timeline_svg(&c.triage.timeline) {
            let _ = write!(
                s,
                "<h2 id=\"timeline-{ci}\">Failed connections over time{title}</h2>{svg}"
            );
        }
        let groups: Vec<&Group> = c.triage.ranked();
        if !groups.is_empty() {
            let _ = write!(
                s,
                "<h2 id=\"groups-{ci}\">Problems, worst first{title} ({} group(s), {})</h2>",
                groups.len(),
                flows_words(c.triage.problem_flows)
            );
            for (gi, g) in groups.iter().take(GROUPS_DRAWN).enumerate() {
                render_group(&mut s, ci, gi, g);
            }
            render_more_groups(&mut s, &groups[groups.len().min(GROUPS_DRAWN)..]);
            if c.triage.untracked_flows > 0 {
                let _ = write!(
                    s,
                    "<p class=\"meta\">… and {} past the {} groups tracked</p>",
                    flows_words(c.triage.untracked_flows),
                    super::groups::MAX_GROUPS
                );
            }
            s.push_str("<h2>Roll-ups</h2>");
            render_rollups(&mut s, c, &groups);
        }
        render_cross(&mut s, c);
        render_flow_table(&mut s, ci, c, many);
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
    fn a_thousand_identical_failures_are_one_group_one_ladder_and_capped_rows() {
        let mut c = CaptureReport::new("x.pcap");
        let base = crate::rules::testutil::flow();
        let failed = Finding::new(Kind::HandshakeAborted, Severity::High, base.first_ts_us)
            .frames([4, 6])
            .summary("TLS handshake aborted by the server: version mismatch.")
            .evidence(
                serde_json::json!({ "likely_cause": "version_mismatch", "aborted_by": "server" }),
            );
        for i in 0..1000 {
            let mut f = base.clone();
            f.tcp_stream = i;
            f.client.port = 20_000 + i as u16;
            c.add(&f, std::slice::from_ref(&failed));
        }
        c.stats.flows = 1000;
        let html = render_report(std::slice::from_mut(&mut c));
        assert_eq!(html.matches("<svg class=\"ladder\"").count(), 1);
        assert_eq!(html.matches("<section class=\"group\"").count(), 1);
        assert!(
            html.contains("<b>1,000 flows</b> from 1 client(s)"),
            "{html}"
        );
        assert!(
            html.contains("1,000 of 1,000 connections failed: 100% version mismatch at 1 server.")
        );
        assert!(html.contains("Failing flows (1,000)"));
        assert!(html.contains("500 more not listed"));
        assert_eq!(
            html.matches("<tr><td>").count(),
            1 + MAX_FLOW_ROWS + 1,
            "summary, flows, cause"
        );
        assert!(html.contains("<svg class=\"timeline\""));
    }
}
