//! IP fragment reassembly end to end: a ClientHello sent in IPv4 fragments (out of order)
//! yields the same tls_flow as the unfragmented one, with --threads 1 and 2, and tshark
//! (which reassembles IP by default) reads the same server name.

mod pcapgen;

use pcapgen::*;
use tlstriage::flow::AnalyzerConfig;
use tlstriage::output::tls_flow_record;
use tlstriage::pipeline::analyze_path_threads;

/// The handshake's ClientHello packet as IPv4 fragments of 64 payload bytes, last first.
fn capture(fragmented: bool) -> Vec<u8> {
    let (ch, _) = client_hello("frag.example");
    let (c, s) = (1000u32, 5000u32);
    let d = c + 1;
    let end = d + ch.len() as u32;
    let mut frames = vec![
        frame(true, c, 0, SYN, &[]),
        frame(false, s, d, SYN | ACK, &[]),
        frame(true, d, s + 1, ACK, &[]),
    ];
    if fragmented {
        let seg = tcp((CLIENT, 50000), (SERVER, 443), d, s + 1, PSH_ACK, &ch);
        let pieces: Vec<Vec<u8>> = seg
            .chunks(64)
            .enumerate()
            .map(|(i, p)| {
                let more = (i + 1) * 64 < seg.len();
                let field = (i * 8) as u16 | if more { 0x2000 } else { 0 };
                ether(0x0800, &ipv4(CLIENT, SERVER, 6, 77, field, p))
            })
            .collect();
        frames.extend(pieces.into_iter().rev());
    } else {
        frames.push(frame(true, d, s + 1, PSH_ACK, &ch));
    }
    frames.extend([
        frame(false, s + 1, end, ACK, &[]),
        frame(false, s + 1, end, FIN_ACK, &[]),
        frame(true, end, s + 2, FIN_ACK, &[]),
        frame(false, s + 2, end + 1, ACK, &[]),
    ]);
    pcap(&frames)
}

fn tls_flow(
    path: &std::path::Path,
    threads: usize,
) -> (serde_json::Value, tlstriage::flow::CaptureStats) {
    let a = analyze_path_threads(path, &AnalyzerConfig::default(), threads).expect("read");
    assert_eq!(a.flows.len(), 1);
    let (flow, findings) = &a.flows[0];
    (tls_flow_record("x", flow, findings), a.stats)
}

#[test]
fn a_fragmented_client_hello_is_read_like_a_whole_one() {
    let plain = temp("frag-plain");
    std::fs::write(&plain, capture(false)).unwrap();
    let frag = temp("frag-frag");
    std::fs::write(&frag, capture(true)).unwrap();
    let (want, _) = tls_flow(&plain, 1);
    assert_eq!(want["sni"], "frag.example");
    for threads in [1, 2] {
        let (got, stats) = tls_flow(&frag, threads);
        for field in ["sni", "client_versions", "client_ciphers", "ja3", "ja4"] {
            assert_eq!(got[field], want[field], "{field} with --threads {threads}");
        }
        let n = stats.ip_defrag.fragments;
        assert!(n >= 2, "{n}");
        assert_eq!(stats.ip_defrag.reassembled, 1, "--threads {threads}");
        assert_eq!(stats.ip_fragments, n - 1, "--threads {threads}");
        assert_eq!((stats.ip_defrag.timeouts, stats.ip_defrag.evicted), (0, 0));
    }
    if tshark_available() {
        let sni = tshark_fields(
            &frag,
            &[],
            "tls.handshake.type == 1",
            &["tls.handshake.extensions_server_name"],
        );
        assert_eq!(sni, vec!["frag.example".to_string()]);
    }
}
