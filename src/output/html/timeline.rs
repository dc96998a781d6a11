//! The failure timeline: failed connections per time bucket (a minute, or as wide as it takes
//! to draw at most [`BARS`] bars; a second or more for a short capture), stacked by cause, as
//! inline SVG with a legend. No script: the counts are in each bar's `<title>`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::esc;
use crate::model::format_ts_us;
use crate::output::groups::Timeline;

/// Bars drawn at most.
pub const BARS: usize = 120;
/// Causes with a colour of their own; the rest are "other causes".
const COLOURS: &[&str] = &[
    "#b3261e", "#2456a6", "#c26a00", "#6a4fb3", "#1e7a34", "#a1286a", "#00838f", "#6b6b00",
];
const OTHER: &str = "#9aa3b0";

const W: i64 = 900;
const H: i64 = 150;
const LEFT: i64 = 48;
const TOP: i64 = 10;
/// The widest a bar is drawn.
const MAX_BAR_W: f64 = 24.0;

fn width_words(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} day(s)", s / 86_400),
        s if s % 3600 == 0 => format!("{} hour(s)", s / 3600),
        s if s % 60 == 0 => format!("{} minute(s)", s / 60),
        s => format!("{s} second(s)"),
    }
}

/// "2026-11-25 03:45:05" for a bucket start in unix seconds.
fn clock(secs: i64) -> String {
    let full = format_ts_us(secs.saturating_mul(1_000_000));
    full.get(..19).unwrap_or(&full).replace('T', " ")
}

/// The chart, or `None` when nothing failed.
pub fn timeline_svg(t: &Timeline) -> Option<String> {
    if t.is_empty() {
        return None;
    }
    let (width, buckets) = t.bars(BARS);
    let first = *buckets.keys().next()?;
    let last = *buckets.keys().next_back()?;
    let n_bars = (last - first) / width + 1;
    // Causes by total, the biggest get the colours.
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for per in buckets.values() {
        for (c, n) in per {
            *totals.entry(c.as_str()).or_default() += n;
        }
    }
    let mut causes: Vec<(&str, u64)> = totals.into_iter().collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let colour = |cause: &str| -> &'static str {
        causes
            .iter()
            .take(COLOURS.len())
            .position(|(c, _)| *c == cause)
            .map_or(OTHER, |i| COLOURS[i])
    };
    let peak = buckets
        .values()
        .map(|per| per.values().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let plot_w = W - LEFT - 10;
    // A few bars stay bars, not a wall of colour.
    let bar_w = (plot_w as f64 / n_bars as f64).clamp(1.0, MAX_BAR_W);
    let legend_rows = causes.len().min(COLOURS.len() + 1).div_ceil(3) as i64;
    let total_h = TOP + H + 34 + 18 * legend_rows;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="timeline" width="{W}" height="{total_h}" viewBox="0 0 {W} {total_h}" role="img" aria-label="failed connections per {} by cause">"#,
        esc(&width_words(width))
    );
    let _ = write!(
        s,
        r#"<line x1="{LEFT}" y1="{y}" x2="{x2}" y2="{y}" class="axis"/><text x="{tx}" y="{ty}" class="tick" text-anchor="end">{peak}</text><text x="{tx}" y="{y}" class="tick" text-anchor="end">0</text>"#,
        y = TOP + H,
        x2 = W - 10,
        tx = LEFT - 6,
        ty = TOP + 10,
    );
    for (start, per) in &buckets {
        let i = (start - first) / width;
        let x = LEFT as f64 + bar_w * i as f64;
        let mut y = (TOP + H) as f64;
        let mut rows: Vec<(&String, &u64)> = per.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let title: Vec<String> = rows.iter().map(|(c, n)| format!("{n} {c}")).collect();
        let _ = write!(
            s,
            "<g><title>{}: {}</title>",
            esc(&clock(*start)),
            esc(&title.join(", "))
        );
        for (cause, n) in rows {
            let h = H as f64 * *n as f64 / peak as f64;
            y -= h;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{}"/>"#,
                colour(cause),
                w = (bar_w - 1.0).max(0.6),
            );
        }
        s.push_str("</g>");
    }
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="{y}" class="tick">{} .. {}, one bar per {}</text>"#,
        esc(&clock(first)),
        esc(&clock(last + width)),
        esc(&width_words(width)),
        y = TOP + H + 16,
    );
    let mut legend: Vec<(String, &str, u64)> = causes
        .iter()
        .take(COLOURS.len())
        .map(|(c, n)| (c.to_string(), colour(c), *n))
        .collect();
    let others: u64 = causes.iter().skip(COLOURS.len()).map(|(_, n)| n).sum();
    if others > 0 {
        legend.push(("other causes".into(), OTHER, others));
    }
    for (i, (cause, fill, n)) in legend.iter().enumerate() {
        let x = LEFT + (i as i64 % 3) * 290;
        let y = TOP + H + 34 + 18 * (i as i64 / 3);
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{}" width="12" height="12" fill="{fill}"/><text x="{}" y="{y}" class="legend">{} ({n})</text>"#,
            y - 10,
            x + 18,
            esc(cause)
        );
    }
    s.push_str("</svg>");
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stack_by_cause_with_a_legend() {
        let mut t = Timeline::default();
        for i in 0..30 {
            t.add(
                1_700_000_000_000_000 + i * 1_000_000,
                "certificate rejected",
            );
        }
        for i in 0..10 {
            t.add(1_700_000_000_000_000 + i * 3_000_000, "<version> mismatch");
        }
        let svg = timeline_svg(&t).expect("a chart");
        assert!(svg.starts_with("<svg class=\"timeline\""));
        assert_eq!(svg.matches("<title>").count(), 30, "one bar per second");
        assert!(svg.contains("certificate rejected (30)"));
        assert!(svg.contains("&lt;version&gt; mismatch (10)"), "escaped");
        assert!(svg.contains("one bar per 1 second(s)"));
        assert!(timeline_svg(&Timeline::default()).is_none());
    }
}
