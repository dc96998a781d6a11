//! `tcp_overlap_conflict`: a TCP segment that overlaps bytes already received with other
//! bytes. The receiver's stack keeps one copy and the analysis another only if they choose
//! differently, which is exactly what an evasion splice (Ptacek & Newsham, 1998) counts on:
//! a ClientHello whose SNI bytes come twice, once as the censor should read them and once
//! as the server will. Reassembly keeps the first copy received (tcp.rs); this rule says
//! that a choice had to be made at all, with the frames, so that the flow's other findings
//! (whose `capture_quality` is `overlap_conflict`) are read with that doubt.

use serde_json::json;

use super::{Finding, Kind, Rule, RuleCtx, Severity};
use crate::model::Dir;

pub const TCP_OVERLAP_CONFLICT: Rule = Rule {
    name: "tcp_overlap_conflict",
    doc: "TCP segments overlapping already received bytes with different bytes: an evasion splice or a broken middlebox.",
    kinds: &[Kind::TcpOverlapConflict],
    after: &[],
    check,
};

fn check(ctx: &mut RuleCtx<'_>) {
    let flow = ctx.flow;
    let (c, s) = (
        &flow.stream_stats[Dir::ToServer.index()],
        &flow.stream_stats[Dir::ToClient.index()],
    );
    let total = c.overlap_conflicts.saturating_add(s.overlap_conflicts);
    if total == 0 {
        return;
    }
    let sides: Vec<String> = [("client", c), ("server", s)]
        .iter()
        .filter(|(_, st)| st.overlap_conflicts > 0)
        .map(|(name, st)| format!("{} from the {name}", st.overlap_conflicts))
        .collect();
    let frames = c.conflict_frames.iter().chain(&s.conflict_frames).copied();
    // The time of the flow's start is all a finished flow keeps; the frames pin the splice.
    ctx.push(
        Finding::new(Kind::TcpOverlapConflict, Severity::Medium, flow.first_ts_us)
            .frames(frames)
            .summary(format!(
                "{total} TCP segment(s) ({}) overlap already received bytes with different bytes; \
                 the first copy received is the one analysed.",
                sides.join(", ")
            ))
            .explanation(
                "Two segments carried different bytes for the same stream positions. A receiver keeps \
                 one of them (which one depends on its operating system and on timing), and anything \
                 analysing the traffic may keep the other: this is how an evasion splice shows a \
                 censor, IDS or this tool one server name while the server reads another. A broken \
                 middlebox or NIC offload can do it too. tlstriage analyses the first copy received \
                 (the frames listed carried the other bytes); compare both copies in Wireshark \
                 (tcp.analysis.retransmission and the segments' payload) before trusting the \
                 flow's SNI, certificate or other findings."
                    .to_string(),
            )
            .evidence(json!({
                "conflicts": {"client": c.overlap_conflicts, "server": s.overlap_conflicts},
                "frames": {"client": c.conflict_frames, "server": s.conflict_frames},
                "kept": "first_received",
            })),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testutil::{flow, run};

    #[test]
    fn silent_without_conflicts() {
        let mut f = flow();
        f.stream_stats[0].overlaps = 3;
        f.stream_stats[0].retransmitted = 2;
        assert!(run(&TCP_OVERLAP_CONFLICT, &f).is_empty());
    }

    #[test]
    fn names_the_direction_count_and_frames() {
        let mut f = flow();
        f.stream_stats[Dir::ToServer.index()].overlap_conflicts = 2;
        f.stream_stats[Dir::ToServer.index()].conflict_frames = vec![7, 5];
        let got = run(&TCP_OVERLAP_CONFLICT, &f);
        assert_eq!(got.len(), 1);
        let x = &got[0];
        assert_eq!(
            (x.kind, x.severity),
            (Kind::TcpOverlapConflict, Severity::Medium)
        );
        assert_eq!(x.frames, vec![5, 7]);
        assert_eq!(x.evidence["conflicts"]["client"], 2);
        assert_eq!(x.evidence["conflicts"]["server"], 0);
        assert_eq!(x.evidence["frames"]["client"], json!([7, 5]));
        assert!(x.summary.contains("2 from the client"), "{}", x.summary);
        assert_eq!(crate::flow::capture_quality_label(&f), "overlap_conflict");
        let (label, issues) = crate::flow::capture_quality(&f);
        assert_eq!(label, "overlap_conflict");
        assert!(issues[0].contains("frames 7, 5"), "{issues:?}");
    }
}
