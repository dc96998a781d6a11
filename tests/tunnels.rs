//! Encapsulated traffic says what the same traffic says bare: every frame of real samples
//! wrapped in VXLAN, Geneve, GTP-U, GRE, ERSPAN II and III, IP in IP, MPLS (plain and as an
//! Ethernet pseudowire) and PPPoE gives the very same findings line for line, the tunnel is
//! counted in capture_stats, and tshark (the oracle) numbers the inner connections as we do.
//! Tunnels recognised but not opened are counted and named, never a silent zero.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use tlstriage::flow::AnalyzerConfig;
use tlstriage::output::{finding_record, tls_flow_record};
use tlstriage::pipeline::analyze_path;

const SAMPLES: &[&str] = &[
    "cert-expired.pcap",
    "tls13-ok.pcap",
    "version-mismatch.pcap",
    "refused-ipv6.pcap",
    "smtp-starttls.pcap",
];

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// (timestamp header bytes, Ethernet frame) of every record of a little-endian pcap.
fn records(path: &Path) -> Vec<([u8; 8], Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "{}", path.display());
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 1);
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let ts: [u8; 8] = bytes[at..at + 8].try_into().unwrap();
        out.push((ts, bytes[at + 16..at + 16 + len].to_vec()));
        at += 16 + len;
    }
    out
}

fn write_pcap(path: &Path, frames: &[([u8; 8], Vec<u8>)]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (ts, f) in frames {
        out.extend_from_slice(ts);
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An outer IPv4 packet between two tunnel endpoints (checksum left 0: never checked).
fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    p.extend_from_slice(payload);
    p
}

fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = 49152u16.to_be_bytes().to_vec();
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The inner Ethernet frame's ethertype and payload (the samples carry no VLAN tags).
fn inner(frame: &[u8]) -> (u16, &[u8]) {
    (u16::from_be_bytes([frame[12], frame[13]]), &frame[14..])
}

/// Each encapsulation: (name in capture_stats.tunnels, wrap one inner Ethernet frame).
type Wrap = Box<dyn Fn(&[u8]) -> Vec<u8>>;

fn encapsulations() -> Vec<(&'static str, Wrap)> {
    vec![
        (
            "vxlan",
            Box::new(|f: &[u8]| {
                ether(
                    0x0800,
                    &ipv4(17, &udp(4789, &cat(&[&[8, 0, 0, 0, 0, 0, 42, 0], f]))),
                )
            }),
        ),
        (
            "geneve",
            Box::new(|f: &[u8]| {
                let header = [
                    0x02, 0, 0x65, 0x58, 0, 0, 42, 0, 0x01, 0x02, 0x80, 0, 0, 0, 0, 0,
                ];
                ether(0x0800, &ipv4(17, &udp(6081, &cat(&[&header, f]))))
            }),
        ),
        (
            "gtp_u",
            Box::new(|f: &[u8]| {
                let (_, ip) = inner(f);
                let mut g = vec![0x34, 0xff];
                g.extend_from_slice(&((8 + ip.len()) as u16).to_be_bytes());
                g.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 0x85, 1, 0x10, 0x01, 0x00]);
                g.extend_from_slice(ip);
                ether(0x0800, &ipv4(17, &udp(2152, &g)))
            }),
        ),
        (
            "gre",
            Box::new(|f: &[u8]| {
                let (ethertype, ip) = inner(f);
                let mut g = vec![0x20, 0x00];
                g.extend_from_slice(&ethertype.to_be_bytes());
                g.extend_from_slice(&[0, 0, 0, 9]);
                g.extend_from_slice(ip);
                ether(0x0800, &ipv4(47, &g))
            }),
        ),
        (
            "erspan",
            Box::new(|f: &[u8]| {
                let g = [
                    0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0, 0, 1, 0, 0, 0, 0,
                ];
                ether(0x0800, &ipv4(47, &cat(&[&g, f])))
            }),
        ),
        (
            "erspan",
            Box::new(|f: &[u8]| {
                let g = [0x00, 0x00, 0x22, 0xeb];
                let e3 = [0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
                ether(0x0800, &ipv4(47, &cat(&[&g, &e3, f])))
            }),
        ),
        (
            "ip_in_ip",
            Box::new(|f: &[u8]| {
                let (ethertype, ip) = inner(f);
                ether(0x0800, &ipv4(if ethertype == 0x86dd { 41 } else { 4 }, ip))
            }),
        ),
        (
            "mpls",
            Box::new(|f: &[u8]| {
                let (_, ip) = inner(f);
                ether(0x8847, &cat(&[&[0, 0x01, 0x00, 64, 0, 0x02, 0x01, 64], ip]))
            }),
        ),
        (
            "mpls",
            Box::new(|f: &[u8]| ether(0x8847, &cat(&[&[0, 0x01, 0x01, 64], &[0, 0, 0, 0], f]))),
        ),
        (
            "pppoe",
            Box::new(|f: &[u8]| {
                let (ethertype, ip) = inner(f);
                let mut p = vec![0x11, 0, 0x12, 0x34];
                p.extend_from_slice(&((2 + ip.len()) as u16).to_be_bytes());
                let ppp: u16 = if ethertype == 0x86dd { 0x0057 } else { 0x0021 };
                p.extend_from_slice(&ppp.to_be_bytes());
                p.extend_from_slice(ip);
                ether(0x8864, &p)
            }),
        ),
    ]
}

/// Every finding and TLS flow record as its NDJSON line.
fn finding_lines(path: &Path) -> (Vec<String>, tlstriage::pipeline::Analysis) {
    let a = analyze_path(path, &AnalyzerConfig::default()).unwrap();
    let mut lines: Vec<String> = a
        .findings()
        .map(|(flow, f)| finding_record("capture", flow, f).to_string())
        .collect();
    lines.extend(
        a.flows
            .iter()
            .filter(|(flow, _)| flow.tls.is_some())
            .map(|(flow, fs)| tls_flow_record("capture", flow, fs).to_string()),
    );
    (lines, a)
}

#[test]
fn wrapped_samples_give_the_bare_samples_findings() {
    let dir = std::env::temp_dir().join(format!("tlstriage-tunnels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tshark = common::tshark_found();
    if !tshark {
        assert!(std::env::var_os("CI").is_none(), "CI must have tshark");
        eprintln!("tshark not found: the stream numbers are not cross-checked");
    }
    for name in SAMPLES {
        let bare = sample(name);
        let (want, bare_analysis) = finding_lines(&bare);
        assert!(
            !want.is_empty(),
            "{name} has findings or TLS flows to compare"
        );
        let frames = records(&bare);
        for (i, (tunnel, wrap)) in encapsulations().iter().enumerate() {
            let wrapped: Vec<_> = frames.iter().map(|(ts, f)| (*ts, wrap(f))).collect();
            let path = dir.join(format!("{i}-{tunnel}-{name}"));
            write_pcap(&path, &wrapped);
            let (got, a) = finding_lines(&path);
            assert_eq!(got, want, "{name} in {tunnel} (#{i})");
            assert_eq!(
                a.stats.flows, bare_analysis.stats.flows,
                "{name} in {tunnel}"
            );
            let tcp = a.stats.tcp_packets;
            assert_eq!(tcp, bare_analysis.stats.tcp_packets, "{name} in {tunnel}");
            let tunnels = a.stats.tunneled.iter().sum::<u64>();
            assert_eq!(tunnels, tcp, "every TCP packet counted as tunneled");
            // tshark opens an MPLS Ethernet pseudowire only when told to (Decode As).
            let pseudowire = i == 8;
            if tshark && !pseudowire {
                let theirs = common::tshark_streams(&path);
                for (flow, _) in &a.flows {
                    for frame in [flow.first_frame, flow.last_frame] {
                        let stream = theirs.iter().find(|(f, _)| *f == frame).map(|s| s.1);
                        assert_eq!(
                            stream,
                            Some(flow.tcp_stream),
                            "{name} in {tunnel}: frame {frame}"
                        );
                    }
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tunnels_not_opened_are_counted_and_named() {
    let dir = std::env::temp_dir().join(format!("tlstriage-unopened-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ts = [0, 0, 0x5f, 0x65, 0, 0, 0, 0];
    let pptp = ether(
        0x0800,
        &ipv4(47, &[0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 1]),
    );
    let esp = ether(0x0800, &ipv4(50, &[0, 0, 1, 0, 0, 0, 0, 1, 0xde, 0xad]));
    let l2tp = ether(0x0800, &ipv4(17, &udp(1701, &[0xc8, 0x02, 0, 12])));
    // Six VXLAN layers, one more than is opened.
    let mut deep = ether(0x0800, &ipv4(6, &[0; 20]));
    for _ in 0..6 {
        deep = ether(
            0x0800,
            &ipv4(17, &udp(4789, &cat(&[&[8, 0, 0, 0, 0, 0, 1, 0], &deep]))),
        );
    }
    let frames = vec![
        (ts, pptp.clone()),
        (ts, pptp),
        (ts, esp),
        (ts, l2tp),
        (ts, deep),
    ];
    let path = dir.join("unopened.pcap");
    write_pcap(&path, &frames);
    let out = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["read", "--format", "ndjson"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stats: serde_json::Value = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["type"] == "capture_stats")
        .expect("capture_stats line");
    assert_eq!(
        stats["tunnels_not_decoded"],
        serde_json::json!({"gre_v1_pptp": 2, "ipsec_esp": 1, "l2tp": 1, "nested_too_deep": 1})
    );
    let warnings = stats["warnings"].to_string();
    assert!(
        warnings.contains("2 packets inside GRE version 1 (PPTP) tunnels not decoded"),
        "{warnings}"
    );
    assert!(warnings.contains("IPsec ESP (encrypted)"), "{warnings}");
    std::fs::remove_dir_all(&dir).unwrap();
}
