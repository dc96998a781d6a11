//! The network-fault samples, made by `scripts/make-network-samples.sh` with real programs
//! over a real (namespaced) Linux path: a firewall forging a RST, and a path-MTU black hole.

use std::path::Path;

use tlstriage::flow::AnalyzerConfig;
use tlstriage::pipeline::{analyze_path, Analysis};
use tlstriage::rules::Finding;

fn analyze(name: &str) -> Analysis {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name);
    let mut config = AnalyzerConfig::default();
    config.set_tls_ports(&[4448, 4449, 4455, 4456, 4457, 4458, 4459, 4460]);
    let a = analyze_path(&path, &config).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(a.error.is_none() && !a.truncated, "{name}");
    assert_eq!(a.flows.len(), 1, "{name}: one connection");
    a
}

/// The abort, when the flow's kinds are exactly `kinds` (which include it).
fn aborted<'a>(a: &'a Analysis, kinds: &[&str]) -> &'a Finding {
    assert_eq!(a.kinds(), kinds);
    a.findings()
        .map(|(_, f)| f)
        .find(|f| f.kind.as_str() == "handshake_aborted")
        .expect("handshake_aborted")
}

fn ev<'a>(f: &'a Finding, k: &str) -> &'a str {
    f.evidence[k].as_str().unwrap_or_default()
}

#[test]
fn firewall_forged_rst_is_attributed_to_a_middlebox() {
    let a = analyze("middlebox-rst.pcap");
    let f = aborted(&a, &["handshake_aborted"]);
    assert_eq!(ev(f, "aborted_by"), "middlebox");
    assert_eq!(ev(f, "how"), "rst");
    assert_eq!(ev(f, "stage"), "client_hello");
    assert_eq!(ev(f, "likely_cause"), "network");
    assert_eq!(ev(f, "confidence"), "high");
    assert_eq!(ev(f, "capture_quality"), "ok");
    assert_eq!(f.frames, vec![4, 5]);
    assert_eq!(f.evidence["ttl"]["rst"], 64);
    assert_eq!(f.evidence["ttl"]["server"], serde_json::json!([127, 127]));
    assert_eq!(ev(f, "sni"), "blocked.example");
    assert!(f.evidence["because"]
        .to_string()
        .contains("RST at frame 5 has TTL 64; the server's other packets have TTL 127"));
}

#[test]
fn pmtu_black_hole_is_a_network_problem() {
    let a = analyze("pmtu-blackhole.pcap");
    // Captured at the server, whose chain ends at the namespace scenario's private root
    // (sent): unknown to Mozilla's store, so certificate_untrusted, which the client never
    // got to judge. The abort is still the network's.
    let f = aborted(&a, &["certificate_untrusted", "handshake_aborted"]);
    let u = a
        .findings()
        .map(|(_, f)| f)
        .find(|f| f.kind.as_str() == "certificate_untrusted")
        .expect("certificate_untrusted");
    assert_eq!(ev(u, "reason"), "unknown_root");
    assert_eq!(ev(u, "root_subject"), "CN=tlstriage Network Sample Root CA");
    assert_eq!(ev(f, "aborted_by"), "client");
    assert_eq!(ev(f, "how"), "fin");
    assert_eq!(ev(f, "stage"), "server_hello_done");
    assert_eq!(ev(f, "likely_cause"), "network");
    assert_eq!(ev(f, "confidence"), "medium");
    assert_eq!(f.frames, vec![4, 14]);
    assert!(f.explanation.contains("path MTU black hole"));
    let flow = &a.flows[0].0;
    assert!(
        flow.stream_stats[1].retransmitted >= 2,
        "{:?}",
        flow.stream_stats[1]
    );
    assert!(f.evidence["because"]
        .to_string()
        .contains("the server retransmitted"));
}

/// The one `connection_failed` finding of a sample (its only finding), with these frames.
fn failed<'a>(a: &'a Analysis, frames: &[u64]) -> &'a Finding {
    assert_eq!(a.kinds(), vec!["connection_failed"]);
    let f = a.findings().next().unwrap().1;
    assert_eq!(f.frames, frames);
    assert_eq!(f.severity.as_str(), "medium", "a configured TLS port");
    assert!(
        a.flows[0].0.tls.is_none(),
        "an ICMP error makes no TLS flow"
    );
    f
}

#[test]
fn dropped_syns_are_no_answer_and_the_client_gave_up() {
    let a = analyze("no-answer.pcap");
    let f = failed(&a, &[1, 4]);
    assert_eq!(ev(f, "reason"), "no_answer");
    assert_eq!(f.evidence["attempts"], 4);
    assert_eq!(ev(f, "ended_by"), "client_gave_up");
    assert!(f.evidence["answered_by"].is_null());
    let waited = f.evidence["waited_ms"].as_u64().unwrap();
    assert!((3000..3200).contains(&waited), "{waited}");
    assert!(f.summary.contains("gave up after 3 retransmission(s)"));
    // The later ICMP error quotes a UDP datagram: counted, no flow.
    assert_eq!((a.stats.icmp_errors, a.stats.icmp_errors_no_flow), (1, 1));
}

#[test]
fn firewall_reject_with_icmp_names_the_firewall() {
    for (name, reason, sender, attempts) in [
        (
            "reject-port-unreachable.pcap",
            "icmp_port_unreachable",
            "10.9.1.1",
            1,
        ),
        (
            "reject-admin-prohibited.pcap",
            "icmp_admin_prohibited",
            "10.9.1.1",
            1,
        ),
        (
            "reject6-adm-prohibited.pcap",
            "icmp_admin_prohibited",
            "fd00:9:1::1",
            2,
        ),
    ] {
        let a = analyze(name);
        let f = failed(&a, &[1, 2]);
        assert_eq!(ev(f, "reason"), reason, "{name}");
        assert_eq!(ev(f, "answered_by"), sender, "{name}");
        assert_eq!(ev(f, "confidence"), "high", "{name}");
        assert_eq!(f.evidence["attempts"], attempts, "{name}");
        assert_eq!(f.evidence["icmp"]["frame"], 2, "{name}");
        assert_eq!(
            f.evidence["icmp"]["v6"],
            name.starts_with("reject6"),
            "{name}"
        );
        assert!(f.explanation.contains("iptables -L"), "{name}");
        assert_eq!(a.stats.icmp_errors_no_flow, 0, "{name}");
    }
}

#[test]
fn frag_needed_is_evidence_for_the_stalled_handshake() {
    let a = analyze("pmtu-frag-needed.pcap");
    let f = aborted(&a, &["certificate_untrusted", "handshake_aborted"]);
    assert_eq!(ev(f, "aborted_by"), "client");
    assert_eq!(ev(f, "how"), "fin");
    assert_eq!(ev(f, "stage"), "server_hello_done");
    assert_eq!(ev(f, "likely_cause"), "network");
    assert_eq!(ev(f, "confidence"), "high");
    assert_eq!(f.frames, vec![4, 7, 18]);
    assert_eq!(
        f.evidence["path_mtu"],
        serde_json::json!({"mtu": 1000, "icmp_frame": 7})
    );
    assert!(f.evidence["because"].to_string().contains(
        "ICMP frag needed from 10.9.2.1 at frame 7 (MTU 1000) about the server's segment (6 ICMP errors"
    ));
    let flow = &a.flows[0].0;
    assert_eq!((flow.icmp_count, flow.icmp.len()), (6, 6));
    assert_eq!((a.stats.icmp_errors, a.stats.icmp_errors_no_flow), (6, 0));
}

#[test]
fn an_alert_crossing_the_clients_rst_is_read_and_named_the_cause() {
    // Client RST at frame 5, the server's handshake_failure (sent before the RST reached
    // it) at frame 8, as tshark shows: `tshark -r samples/alert-after-rst.pcap`.
    let a = analyze("alert-after-rst.pcap");
    let alert = a
        .findings()
        .map(|(_, f)| f)
        .find(|f| f.kind.as_str() == "tls_alert")
        .expect("the alert after the RST is read");
    assert_eq!(alert.frames, vec![8]);
    assert_eq!(ev(alert, "sent_by"), "server");
    assert_eq!(ev(alert, "description"), "handshake_failure");
    assert_eq!(ev(alert, "level"), "fatal");
    let f = aborted(&a, &["tls_alert", "cipher_mismatch", "handshake_aborted"]);
    assert_eq!(ev(f, "aborted_by"), "client");
    assert_eq!(ev(f, "how"), "rst");
    assert_eq!(ev(f, "stage"), "client_hello");
    assert_eq!(ev(f, "likely_cause"), "cipher_mismatch");
    assert_eq!(f.frames, vec![4, 5, 8]);
    assert!(f.evidence.get("reaction_alert").is_none());
    let c = &f.evidence["crossed_alert"];
    assert_eq!(c["sent_by"], "server");
    assert_eq!(c["frame"], 8);
    // 50 ms each way through the delaying bridge: the alert came ~73 ms after the RST, an
    // answer to the RST could not come before ~100 ms.
    let (after, rtt) = (
        c["after_close_ms"].as_f64().unwrap_or(f64::NAN),
        c["round_trip_ms"].as_f64().unwrap_or(f64::NAN),
    );
    assert!(after < rtt && rtt >= 100.0, "{after} {rtt}");
    // Stream numbering is untouched: one connection, Wireshark's stream 0, which now holds
    // the frames after the RST too (the server's ACK, alert and FIN).
    let flow = &a.flows[0].0;
    assert_eq!(
        (flow.tcp_stream, flow.first_frame, flow.last_frame),
        (0, 1, 10)
    );
}
