//! Wireshark-ready evidence: for every bundled sample, the `wireshark_filter` of each flow
//! (`tcp.stream eq N`) selects in tshark exactly that connection's packets, starting at the
//! flow's first frame, and every frame a finding cites is among them.
//!
//! Needs `tshark` (`.ci/run` installs it). Skipped with a printed reason when it is absent,
//! except under `CI=true`, where its absence fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use tlstriage::flow::{AnalyzerConfig, DEFAULT_TLS_PORTS};
use tlstriage::output::finding_record;
use tlstriage::pipeline::analyze_path;

fn tshark_available() -> bool {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CI=true but tshark is not installed (.ci/run installs it)"
        );
        eprintln!(
            "SKIPPED: tshark not found; install it (apt-get install tshark) to run this test"
        );
    }
    found
}

/// One selected packet: (frame, src port, dst port, TCP payload length, flags).
type Row = (u64, u16, u16, u64, u16);

fn tshark(sample: &Path, filter: &str) -> Vec<Row> {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(sample)
        .args(["-Y", filter, "-T", "fields", "-E", "separator=,"])
        .args([
            "-e",
            "frame.number",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
        ])
        .args(["-e", "tcp.len", "-e", "tcp.flags"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark -r {} -Y {filter:?}: {}",
        sample.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
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
    if !tshark_available() {
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
            // the flow's last frame. Wireshark also counts the bare ACK/RST that follow the
            // close, which the analyzer does not attribute to the finished flow.
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
