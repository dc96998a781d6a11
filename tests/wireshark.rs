//! Wireshark-ready evidence: for every bundled sample, the `wireshark_filter` of each flow
//! (`tcp.stream eq N`) selects in tshark exactly that connection's packets, starting at the
//! flow's first frame, and every frame a finding cites is among them.
//!
//! Needs `tshark` (`.ci/run` installs it). Skipped with a printed reason when it is absent,
//! except under `CI=true`, where its absence fails the test.

mod common;

use std::path::{Path, PathBuf};

use tlstriage::flow::{AnalyzerConfig, DEFAULT_TLS_PORTS};
use tlstriage::output::finding_record;
use tlstriage::pipeline::analyze_path;

/// One selected packet: (frame, src port, dst port, TCP payload length, flags).
type Row = (u64, u16, u16, u64, u16);

fn tshark(sample: &Path, filter: &str) -> Vec<Row> {
    let fields = [
        "frame.number",
        "tcp.srcport",
        "tcp.dstport",
        "tcp.len",
        "tcp.flags",
    ];
    common::tshark_fields(sample, &["-Y", filter], &fields)
        .into_iter()
        .map(|f| {
            let num = |i: usize| f.get(i).and_then(|x| x.trim().parse::<u64>().ok());
            let flags = f
                .get(4)
                .and_then(|x| u16::from_str_radix(x.trim().trim_start_matches("0x"), 16).ok())
                .unwrap_or(0);
            (
                num(0).expect("frame number"),
                num(1).unwrap_or(0) as u16,
                num(2).unwrap_or(0) as u16,
                num(3).unwrap_or(0),
                flags,
            )
        })
        .collect()
}

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("samples dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

#[test]
fn wireshark_filter_selects_exactly_the_flows_packets() {
    if !common::tshark_available() {
        return;
    }
    let mut config = AnalyzerConfig::default();
    let mut ports = DEFAULT_TLS_PORTS.to_vec();
    ports.extend(4431..=4459);
    ports.push(4490);
    config.set_tls_ports(&ports);
    let mut checked = 0;
    for sample in samples() {
        let a = analyze_path(&sample, &config).expect("sample reads");
        let name = sample.display().to_string();
        for (flow, findings) in &a.flows {
            let filter = format!("tcp.stream eq {}", flow.tcp_stream);
            // The filter the records carry is the one tested here.
            for f in findings {
                assert_eq!(
                    finding_record(&name, flow, f)["wireshark_filter"],
                    filter.as_str()
                );
            }
            // Wireshark's tcp.stream also holds the ICMP errors that quote the connection,
            // which the analyzer keeps apart as the flow's `icmp` (not its packets).
            let rows = tshark(&sample, &format!("{filter} and not (icmp or icmpv6)"));
            assert!(!rows.is_empty(), "{name}: {filter} selects nothing");
            let icmp: Vec<u64> = tshark(&sample, &format!("{filter} and (icmp or icmpv6)"))
                .iter()
                .map(|r| r.0)
                .collect();
            let kept: Vec<u64> = flow.icmp.iter().map(|e| e.frame).collect();
            assert_eq!(
                icmp.len() as u64,
                flow.icmp_count,
                "{name}: ICMP errors of {filter}"
            );
            assert_eq!(
                icmp[..kept.len()],
                kept[..],
                "{name}: ICMP errors of {filter}"
            );
            // Only this connection's packets.
            for &(frame, sp, dp, _, _) in &rows {
                let mut got = [sp, dp];
                got.sort_unstable();
                let mut want = [flow.client.port, flow.server.port];
                want.sort_unstable();
                assert_eq!(
                    got, want,
                    "{name}: frame {frame} of {filter} is another connection"
                );
            }
            // All of it: the same first frame, and every packet the analyzer counted up to
            // the flow's last frame. A flow closed by two FINs ends with the ACK of the last
            // one, as `tcp.stream eq N` shows it (issue #20); only what follows a close by
            // RST, or a stray packet after that last ACK, is not the flow's.
            let last_fin = flow.fin.iter().flatten().map(|e| e.frame).max();
            if let (Some(last_fin), true) = (last_fin, flow.fin.iter().all(Option::is_some)) {
                let ack = rows.iter().find(|r| r.0 > last_fin && r.4 & 0x01 == 0);
                if let Some(&(ack, ..)) = ack {
                    assert!(
                        ack <= flow.last_frame,
                        "{name}: {filter}: the ACK of the last FIN (frame {ack}) is past the flow's last frame {}",
                        flow.last_frame
                    );
                }
            }
            assert_eq!(
                rows[0].0, flow.first_frame,
                "{name}: first frame of {filter}"
            );
            let within: Vec<u64> = rows
                .iter()
                .map(|r| r.0)
                .filter(|f| *f <= flow.last_frame)
                .collect();
            assert_eq!(
                within.len() as u64,
                flow.packets[0] + flow.packets[1],
                "{name}: {filter} selects {within:?}, the analyzer counted {:?} packets in frames {}-{}",
                flow.packets,
                flow.first_frame,
                flow.last_frame
            );
            for &(frame, _, _, len, flags) in rows.iter().filter(|r| r.0 > flow.last_frame) {
                let syn = flags & 0x02 != 0;
                assert!(
                    len == 0 && !syn,
                    "{name}: frame {frame} of {filter} carries data or a SYN after the flow ended"
                );
            }
            // Every frame a finding cites is in the selection.
            let selected: Vec<u64> = rows.iter().map(|r| r.0).chain(icmp).collect();
            for f in findings {
                for fr in &f.frames {
                    assert!(
                        selected.contains(fr),
                        "{name}: {} cites frame {fr}, not selected by {filter}",
                        f.kind
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} flows checked");
}

/// Every frame's `tcp.stream` in tshark, for the frames that have one.
fn tshark_streams(capture: &Path) -> std::collections::HashMap<u64, u64> {
    common::tshark_streams(capture).into_iter().collect()
}

/// Stream numbers as Wireshark gives them, over the public corpus (captures no one here
/// wrote, from Zeek, Suricata and Wireshark): every flow's first and last frame, and every
/// frame a finding cites, are in the flow's `tcp.stream` in tshark.
#[test]
fn tcp_stream_numbers_match_tshark_over_the_corpus() {
    if !common::tshark_available() {
        return;
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    if !corpus.join("MANIFEST.tsv").exists() {
        assert!(
            std::env::var_os("TLSTRIAGE_REQUIRE_CORPUS").is_none(),
            "TLSTRIAGE_REQUIRE_CORPUS is set but the corpus is missing"
        );
        eprintln!("SKIPPED: no ../shared/captures");
        return;
    }
    let mut files = Vec::new();
    let mut dirs = vec![corpus];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.to_string_lossy().contains(".pcap") {
                files.push(p);
            }
        }
    }
    files.sort();
    let (mut flows, mut frames) = (0, 0);
    for file in &files {
        let Ok(a) = analyze_path(file, &AnalyzerConfig::default()) else {
            continue;
        };
        let theirs = tshark_streams(file);
        for (flow, findings) in &a.flows {
            for frame in [flow.first_frame, flow.last_frame] {
                assert_eq!(
                    theirs.get(&frame),
                    Some(&flow.tcp_stream),
                    "{}: frame {frame} of our tcp.stream {}",
                    file.display(),
                    flow.tcp_stream
                );
            }
            flows += 1;
            for f in findings {
                for frame in &f.frames {
                    if let Some(s) = theirs.get(frame) {
                        assert_eq!(
                            *s,
                            flow.tcp_stream,
                            "{}: {} cites frame {frame}",
                            file.display(),
                            f.kind.as_str()
                        );
                        frames += 1;
                    }
                }
            }
        }
    }
    assert!(flows > 90 && frames > 200, "{flows} flows, {frames} frames");
}

/// `frame` as a pcap record (header and bytes) at `t_us`.
fn pcap_record(t_us: u64, frame: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
    r.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
    r.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    r.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    r.extend_from_slice(frame);
    r
}

/// One Ethernet/IPv4/TCP frame as a pcap record at `t_us`.
fn record(
    t_us: u64,
    c2s: bool,
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let (src, dst) = if c2s {
        ([10, 0, 0, 1], [10, 0, 0, 2])
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1])
    };
    let (sport, dport) = if c2s { ports } else { (ports.1, ports.0) };
    let ip_len = 40 + payload.len();
    let mut f = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0];
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    pcap_record(t_us, &f)
}

/// An ICMP port unreachable from a router (10.0.0.254) to the client, quoting the IP header
/// and the first `tcp_bytes` of the TCP header of `quoted` (a [`record`] of the client's).
fn icmp_record(t_us: u64, quoted: &[u8], tcp_bytes: usize) -> Vec<u8> {
    let quote = &quoted[16 + 14..16 + 14 + 20 + tcp_bytes];
    let ip_len = 20 + 8 + quote.len();
    let mut f = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 9, 0x08, 0x00, 0x45, 0];
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 1, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 254, 10, 0, 0, 1]);
    f.extend_from_slice(&[3, 3, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(quote);
    pcap_record(t_us, &f)
}

const SYN: u8 = 0x02;
const RST_ACK: u8 = 0x14;
const SYN_ACK: u8 = 0x12;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;
const RST: u8 = 0x04;

/// The edge cases where stream numbers drifted from Wireshark's on real captures (issue
/// #19): a refused connection retried with the same ports and ISN, a RST arriving after the
/// idle timeout, a connection quiet for longer than the idle timeout, a port reused by a new
/// connection after a clean close; and the rules of Wireshark's numbering that decide them:
/// ICMP errors quoting connections (seen or not, quotes long enough or not), SYNs with
/// another ISN on an open connection, and where each direction's start is taken from when
/// the SYN was not first, as (name, records).
fn stream_edge_cases() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let t0 = 1_700_000_000_000_000u64;
    let p = (40000, 443);
    let hello = [0x16, 3, 1, 0, 4, 1, 0, 0, 0];
    let unseen = record(t0, true, (1, 443), 1000, 0, SYN, &[]);
    let refused = |t: u64| {
        [
            record(t, true, p, 1000, 0, SYN, &[]),
            record(t + 100, false, p, 5000, 1001, RST_ACK, &[]),
        ]
    };
    let icmp_then_refused = |tcp_bytes: usize| {
        let mut v = vec![icmp_record(t0, &unseen, tcp_bytes)];
        v.extend(refused(t0 + 1_000_000));
        v
    };
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("icmp-quotes-an-unseen-connection", icmp_then_refused(20)),
        ("icmp-quote-reaching-the-window", icmp_then_refused(16)),
        ("icmp-quote-short-of-the-window", icmp_then_refused(14)),
        (
            "icmp-quoted-syn-with-another-isn",
            vec![
                record(t0, true, p, 1000, 0, SYN, &[]),
                icmp_record(t0 + 100, &record(t0, true, p, 3000, 0, SYN, &[]), 20),
                record(t0 + 200, true, p, 1000, 0, SYN, &[]),
                record(t0 + 300, false, p, 5000, 1001, RST_ACK, &[]),
            ],
        ),
        (
            "syn-with-another-isn-on-an-open-connection",
            vec![
                record(t0, true, p, 1000, 0, SYN, &[]),
                record(t0 + 1_000_000, true, p, 2000, 0, SYN, &[]),
                record(t0 + 1_000_100, false, p, 5000, 2001, SYN_ACK, &[]),
                record(t0 + 1_000_200, true, p, 2001, 5001, ACK, &[]),
            ],
        ),
        (
            "mid-stream-start-then-syns",
            vec![
                record(t0, true, p, 100, 7, PSH_ACK, &hello),
                record(t0 + 1_000_000, true, p, 99, 0, SYN, &[]),
                record(t0 + 2_000_000, true, p, 100, 0, SYN, &[]),
            ],
        ),
        (
            "server-first-then-syns",
            vec![
                record(t0, false, p, 7000, 500, ACK, &[]),
                record(t0 + 1_000_000, true, p, 499, 0, SYN, &[]),
                record(t0 + 2_000_000, true, p, 500, 0, SYN, &[]),
                record(t0 + 3_000_000, true, p, 501, 0, SYN, &[]),
            ],
        ),
        (
            "refused-retried-same-isn",
            (0..3)
                .flat_map(|i| {
                    let t = t0 + i * 1_000_000;
                    [
                        record(t, true, p, 1000, 0, SYN, &[]),
                        record(t + 100, false, p, 0, 1001, RST_ACK, &[]),
                    ]
                })
                .collect(),
        ),
        (
            "late-rst-after-idle-timeout",
            vec![
                record(t0, true, p, 1000, 0, SYN, &[]),
                record(t0 + 100, false, p, 5000, 1001, SYN_ACK, &[]),
                record(t0 + 200, true, p, 1001, 5001, ACK, &[]),
                record(t0 + 300, true, p, 1001, 5001, PSH_ACK, &hello),
                record(t0 + 200_000_000, false, p, 5001, 1010, RST, &[]),
            ],
        ),
        (
            "quiet-longer-than-idle-timeout",
            vec![
                record(t0, true, p, 1000, 0, SYN, &[]),
                record(t0 + 100, false, p, 5000, 1001, SYN_ACK, &[]),
                record(t0 + 200, true, p, 1001, 5001, ACK, &[]),
                record(t0 + 300, true, p, 1001, 5001, PSH_ACK, &hello),
                record(t0 + 300_000_000, true, p, 1010, 5001, FIN_ACK, &[]),
                record(t0 + 300_000_100, false, p, 5001, 1011, FIN_ACK, &[]),
                record(t0 + 300_000_200, true, p, 1011, 5002, ACK, &[]),
            ],
        ),
        (
            "port-reused-after-close",
            [1000u32, 90_000]
                .iter()
                .enumerate()
                .flat_map(|(i, &isn)| {
                    let t = t0 + i as u64 * 5_000_000;
                    vec![
                        record(t, true, p, isn, 0, SYN, &[]),
                        record(t + 100, false, p, 5000, isn + 1, SYN_ACK, &[]),
                        record(t + 200, true, p, isn + 1, 5001, ACK, &[]),
                        record(t + 300, true, p, isn + 1, 5001, FIN_ACK, &[]),
                        record(t + 400, false, p, 5001, isn + 2, FIN_ACK, &[]),
                        record(t + 500, true, p, isn + 2, 5002, ACK, &[]),
                    ]
                })
                .collect(),
        ),
    ];
    cases
}

/// Each case's flows carry tshark's stream numbers; the list of case names that do not.
fn stream_mismatches(names: &[&str]) -> Vec<String> {
    let cases: Vec<_> = stream_edge_cases()
        .into_iter()
        .filter(|(n, _)| names.contains(n))
        .collect();
    assert_eq!(cases.len(), names.len());
    let dir = std::env::temp_dir().join(format!(
        "tlstriage-streams-{}-{}",
        std::process::id(),
        names.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for (name, records) in cases {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&65_535u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend(records.concat());
        let path = dir.join(format!("{name}.pcap"));
        std::fs::write(&path, bytes).unwrap();
        let theirs = tshark_streams(&path);
        let a = analyze_path(&path, &AnalyzerConfig::default()).unwrap();
        let ours: Vec<(u64, u64, u64)> = a
            .flows
            .iter()
            .map(|(f, _)| (f.tcp_stream, f.first_frame, f.last_frame))
            .collect();
        // ICMP errors get the stream they quote in tshark, and are no flow of ours.
        let tcp_frames: Vec<u64> = (1..)
            .zip(&records)
            .filter(|(_, r)| r[16 + 14 + 9] == 6)
            .map(|(n, _)| n)
            .collect();
        let mut want: Vec<u64> = tcp_frames
            .iter()
            .filter_map(|f| theirs.get(f))
            .copied()
            .collect();
        want.sort_unstable();
        want.dedup();
        let mut got: Vec<u64> = ours.iter().map(|o| o.0).collect();
        got.sort_unstable();
        got.dedup();
        let frames_agree = ours.iter().all(|&(s, first, last)| {
            theirs.get(&first) == Some(&s) && theirs.get(&last) == Some(&s)
        });
        if got != want || !frames_agree {
            failures.push(format!(
                "{name}: tshark streams {want:?}, ours (stream, first, last) {ours:?}"
            ));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    failures
}

#[test]
fn tcp_stream_numbers_match_tshark_on_port_reuse() {
    if !common::tshark_available() {
        return;
    }
    let failures = stream_mismatches(&["port-reused-after-close"]);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Our flows end on RST and on the idle timeout; Wireshark keeps one stream for a pair of
/// endpoints until a SYN with another ISN, and numbers what ICMP errors quote.
#[test]
fn tcp_stream_numbers_match_tshark_after_retries_idle_timeouts_and_icmp() {
    if !common::tshark_available() {
        return;
    }
    let failures = stream_mismatches(&[
        "refused-retried-same-isn",
        "late-rst-after-idle-timeout",
        "quiet-longer-than-idle-timeout",
        "icmp-quotes-an-unseen-connection",
        "icmp-quote-reaching-the-window",
        "icmp-quote-short-of-the-window",
        "icmp-quoted-syn-with-another-isn",
        "syn-with-another-isn-on-an-open-connection",
        "mid-stream-start-then-syns",
        "server-first-then-syns",
    ]);
    assert!(failures.is_empty(), "{failures:#?}");
}
