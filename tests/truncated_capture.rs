//! Captures cut short (issue #19 item 7): `handshake-only-filter.pcap` is five working HTTPS
//! connections captured through `tcp[((tcp[12]&0xf0)>>2)]=0x16` (see
//! scripts/make-samples.sh). The capture says so once; the flows' aborts are low.

use std::path::Path;
use std::process::Command;

use tlstriage::flow::{AnalyzerConfig, DEFAULT_TLS_PORTS};
use tlstriage::pipeline::analyze_path;
use tlstriage::rules::truncated::{cut_short, CutShort};

const SAMPLE: &str = "handshake-only-filter.pcap";

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(SAMPLE)
}

#[test]
fn every_flow_of_a_handshake_only_capture_is_cut_short_and_low() {
    let mut c = AnalyzerConfig::default();
    let mut ports = DEFAULT_TLS_PORTS.to_vec();
    ports.push(4458);
    c.set_tls_ports(&ports);
    let a = analyze_path(&sample(), &c).expect("sample");
    assert_eq!(a.flows.len(), 5);
    for (flow, _) in &a.flows {
        assert_eq!(cut_short(flow).map(|c| c.0), Some(CutShort::HandshakeOnly));
    }
    let mut aborted: Vec<(&str, &str, Vec<u64>)> = a
        .findings()
        .filter(|(_, f)| f.kind.as_str() == "handshake_aborted")
        .map(|(_, f)| {
            (
                f.severity.as_str(),
                f.evidence["confidence"].as_str().unwrap_or(""),
                f.frames.clone(),
            )
        })
        .collect();
    aborted.sort();
    // tshark: ClientHellos at frames 1, 4, 7 (TLS 1.2) and 10, 12 (TLS 1.3).
    assert_eq!(
        aborted,
        vec![
            ("low", "low", vec![1]),
            ("low", "low", vec![4]),
            ("low", "low", vec![7]),
            ("low", "low", vec![10]),
            ("low", "low", vec![12]),
        ]
    );
    let (_, f) = a
        .findings()
        .find(|(_, f)| f.kind.as_str() == "handshake_aborted")
        .unwrap();
    assert!(f.evidence["because"]
        .to_string()
        .contains("no SYN, FIN, RST or bare ACK is in the capture"));
}

#[test]
fn the_capture_says_it_once_in_stats_and_at_the_top_of_the_summary() {
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
            .args(["read", "--tls-ports", "+4458"])
            .args(extra)
            .arg(sample())
            .output()
            .expect("tlstriage");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let want = "5 of 5 TLS flows hold only handshake packets (no SYN, FIN, RST or bare ACK): the capture was filtered to handshake records (e.g. tcp[((tcp[12]&0xf0)>>2)]=0x16), so handshakes cannot be seen to complete; their handshake_aborted findings are low severity";
    let ndjson = run(&[]);
    let stats: serde_json::Value = ndjson
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["type"] == "capture_stats")
        .expect("capture_stats");
    assert_eq!(stats["warnings"], serde_json::json!([want]));
    let human = run(&["--format", "human"]);
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines[1], format!("   warning: {want}"), "{human}");
}
