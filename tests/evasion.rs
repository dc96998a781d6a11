//! Evasion by overlapping TCP segments: a ClientHello whose server name comes twice with
//! different bytes must be reported (`tcp_overlap_conflict`, `capture_quality:
//! overlap_conflict`), and the copy analysed must be the one Wireshark shows.

mod pcapgen;

use pcapgen::*;
use tlstriage::flow::AnalyzerConfig;
use tlstriage::output::tls_flow_record;
use tlstriage::pipeline::analyze_path;

/// SYN, SYN-ACK, ACK, then the ClientHello's tail (from the server name on) twice, first
/// naming `first`, then `second`, and only then its head: both tails are buffered ahead of
/// the hole, so the second one conflicts with buffered bytes. The server ACKs and closes.
fn spliced(first: &str, second: &str) -> Vec<u8> {
    assert_eq!(first.len(), second.len());
    let (a, at) = client_hello(first);
    let (b, _) = client_hello(second);
    let (c, s) = (1000u32, 5000u32);
    let d = c + 1;
    let tail = |rec: &[u8]| rec[at..].to_vec();
    let end = d + a.len() as u32;
    pcap(&[
        frame(true, c, 0, SYN, &[]),
        frame(false, s, d, SYN | ACK, &[]),
        frame(true, d, s + 1, ACK, &[]),
        frame(true, d + at as u32, s + 1, PSH_ACK, &tail(&a)),
        frame(true, d + at as u32, s + 1, PSH_ACK, &tail(&b)),
        frame(true, d, s + 1, PSH_ACK, &a[..at]),
        frame(false, s + 1, end, ACK, &[]),
        frame(false, s + 1, end, FIN_ACK, &[]),
        frame(true, end, s + 2, FIN_ACK, &[]),
        frame(false, s + 2, end + 1, ACK, &[]),
    ])
}

#[test]
fn a_spliced_server_name_is_reported_with_its_frames() {
    let path = temp("evasion-splice");
    std::fs::write(&path, spliced("good.example", "evil.example")).unwrap();
    let a = analyze_path(&path, &AnalyzerConfig::default()).expect("read");
    assert_eq!(a.flows.len(), 1);
    let (flow, findings) = &a.flows[0];
    // First received wins: frame 4's bytes are the ones analysed.
    assert_eq!(flow.sni(), Some("good.example"));
    let f = findings
        .iter()
        .find(|f| f.kind.as_str() == "tcp_overlap_conflict")
        .expect("tcp_overlap_conflict raised");
    assert_eq!(f.severity.as_str(), "medium");
    assert_eq!(f.frames, vec![5], "the conflicting copy is frame 5");
    assert_eq!(f.evidence["conflicts"]["client"], 1);
    assert_eq!(f.evidence["conflicts"]["server"], 0);
    assert_eq!(f.evidence["frames"]["client"], serde_json::json!([5]));
    let rec = tls_flow_record("x", flow, findings);
    assert_eq!(rec["capture_quality"], "overlap_conflict");
    let issues = rec["capture_issues"][0].as_str().unwrap();
    assert!(issues.contains("frames 5"), "{issues}");
    // Every finding of the flow says its capture is in doubt, and a diagnosis drops its
    // confidence.
    for f in findings {
        let line = tlstriage::output::finding_record("x", flow, f);
        assert_eq!(line["capture_quality"], "overlap_conflict", "{}", f.kind);
    }
    if let Some(ab) = findings
        .iter()
        .find(|f| f.kind.as_str() == "handshake_aborted")
    {
        assert_eq!(ab.evidence["capture_quality"], "overlap_conflict");
        assert_ne!(ab.evidence["confidence"], "high");
    }

    if !tshark_available() {
        return;
    }
    let sni = tshark_fields(
        &path,
        &["tcp.reassemble_out_of_order:TRUE"],
        "tls.handshake.type == 1",
        &["frame.number", "tls.handshake.extensions_server_name"],
    );
    assert_eq!(
        sni,
        vec!["6|good.example".to_string()],
        "tshark keeps the same copy"
    );
}

#[test]
fn identical_retransmissions_are_no_conflict() {
    let path = temp("evasion-same");
    std::fs::write(&path, spliced("good.example", "good.example")).unwrap();
    let a = analyze_path(&path, &AnalyzerConfig::default()).expect("read");
    let (flow, findings) = &a.flows[0];
    assert_eq!(flow.sni(), Some("good.example"));
    assert!(findings
        .iter()
        .all(|f| f.kind.as_str() != "tcp_overlap_conflict"));
    assert_eq!(
        tls_flow_record("x", flow, findings)["capture_quality"],
        "ok"
    );
}

/// A handshake with `lead` sent in front of the ClientHello: in its own segment (`apart`)
/// or in the ClientHello's.
fn with_lead(lead: &[u8], apart: bool) -> Vec<u8> {
    let (ch, _) = client_hello("zero.example");
    let (c, s) = (1000u32, 5000u32);
    let d = c + 1;
    let mut frames = vec![
        frame(true, c, 0, SYN, &[]),
        frame(false, s, d, SYN | ACK, &[]),
        frame(true, d, s + 1, ACK, &[]),
    ];
    if apart {
        frames.push(frame(true, d, s + 1, PSH_ACK, lead));
        frames.push(frame(true, d + lead.len() as u32, s + 1, PSH_ACK, &ch));
    } else {
        frames.push(frame(true, d, s + 1, PSH_ACK, &[lead, &ch].concat()));
    }
    let end = d + (lead.len() + ch.len()) as u32;
    frames.extend([
        frame(false, s + 1, end, ACK, &[]),
        frame(false, s + 1, end, FIN_ACK, &[]),
        frame(true, end, s + 2, FIN_ACK, &[]),
        frame(false, s + 2, end + 1, ACK, &[]),
    ]);
    pcap(&frames)
}

#[test]
fn zero_length_records_before_the_client_hello_are_still_tls() {
    let empty_hs = [0x16, 0x03, 0x01, 0x00, 0x00];
    let empty_app = [0x17, 0x03, 0x03, 0x00, 0x00];
    let cases: [(&str, Vec<u8>, bool); 4] = [
        ("one-apart", empty_hs.to_vec(), true),
        ("one-joined", empty_hs.to_vec(), false),
        ("many-apart", empty_hs.repeat(40), true),
        (
            "mixed-joined",
            [&empty_app[..], &empty_hs, &empty_app].concat(),
            false,
        ),
    ];
    for (name, lead, apart) in cases {
        let path = temp(&format!("zero-{name}"));
        std::fs::write(&path, with_lead(&lead, apart)).unwrap();
        let a = analyze_path(&path, &AnalyzerConfig::default()).expect("read");
        assert_eq!(a.flows.len(), 1, "{name}");
        let (flow, findings) = &a.flows[0];
        let kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
        assert!(
            !kinds.contains(&"plaintext_to_tls_port"),
            "{name}: {kinds:?}"
        );
        assert_eq!(flow.sni(), Some("zero.example"), "{name}: {kinds:?}");
        if tshark_available() {
            let sni = tshark_fields(
                &path,
                &[],
                "tls.handshake.type == 1",
                &["tls.handshake.extensions_server_name"],
            );
            assert_eq!(sni, vec!["zero.example".to_string()], "{name}: tshark");
        }
    }
}
