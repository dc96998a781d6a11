//! One-sided captures (issue #19 item 2): the samples `*-client-only` / `*-server-only` are
//! the packets of one direction of tls12-ok, tls13-ok and tls12-resumed (tcpdump -r with a
//! port filter, see scripts/make-samples.sh). The seen side's ACK numbers show the unseen
//! side answered: each is an established session, inferred, never an aborted handshake.

use std::path::Path;

use tlstriage::flow::{AnalyzerConfig, DEFAULT_TLS_PORTS};
use tlstriage::model::Side;
use tlstriage::pipeline::{analyze_path, Analysis};
use tlstriage::rules::one_sided::inferred_established;

fn analyze(name: &str) -> Analysis {
    let mut ports: Vec<u16> = DEFAULT_TLS_PORTS.to_vec();
    ports.extend(4431..=4457);
    let mut c = AnalyzerConfig::default();
    c.set_tls_ports(&ports);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name);
    let a = analyze_path(&path, &c).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(a.error.is_none(), "{name}: {:?}", a.error);
    a
}

/// (kind, severity, frames) of every finding of every flow, in flow order.
fn findings(a: &Analysis) -> Vec<(&'static str, &'static str, Vec<u64>)> {
    a.findings()
        .map(|(_, f)| (f.kind.as_str(), f.severity.as_str(), f.frames.clone()))
        .collect()
}

/// The inference of every flow: (seen side, the `because` facts).
fn inferred(a: &Analysis) -> Vec<(Side, Vec<String>)> {
    a.flows
        .iter()
        .map(|(flow, _)| {
            let i = inferred_established(flow).expect("established, inferred");
            assert_eq!(
                tlstriage::flow::capture_quality_label(flow),
                "one_sided",
                "{:?}",
                flow.tcp_stream
            );
            (i.seen, i.because)
        })
        .collect()
}

#[test]
fn tls12_client_side_only() {
    let a = analyze("tls12-ok-client-only.pcap");
    // The client's close_notify after its data, not a mid-handshake alert.
    assert_eq!(findings(&a), vec![("tls_alert", "info", vec![8])]);
    let i = inferred(&a);
    assert_eq!(i[0].0, Side::Client);
    assert_eq!(
        i[0].1[1],
        "the client sent its Finished (first encrypted record) at frame 5"
    );
    // tshark: the client's ACK moves from 1237 (frame 5) to 6451 (frame 10, FIN included).
    assert_eq!(
        i[0].1[2],
        "its later ACK numbers acknowledge 5214 more bytes from the server: the server answered that flight (more than an alert)"
    );
}

#[test]
fn tls12_server_side_only() {
    let a = analyze("tls12-ok-server-only.pcap");
    // The chain finding stands on the certificate alone; the trust store lacks the sample CA.
    assert_eq!(
        findings(&a),
        vec![
            ("tls_alert", "info", vec![6]),
            ("certificate_chain_incomplete", "high", vec![3]),
        ]
    );
    let i = inferred(&a);
    assert_eq!(i[0].0, Side::Server);
    assert_eq!(i[0].1[1], "the server sent its ServerHelloDone at frame 3");
    assert!(
        i[0].1[2].starts_with("its later ACK numbers acknowledge 232 more bytes from the client")
    );
}

#[test]
fn tls13_client_side_only() {
    let a = analyze("tls13-ok-client-only.pcap");
    assert_eq!(findings(&a), vec![]);
    let i = inferred(&a);
    assert_eq!(i[0].0, Side::Client);
    // tshark: ACK 2057165398 at the Finished (frame 5), 2057170390 at the end.
    assert!(i[0].1[2].starts_with("its later ACK numbers acknowledge 4992 more bytes"));
}

#[test]
fn tls13_server_side_only() {
    let a = analyze("tls13-ok-server-only.pcap");
    assert_eq!(findings(&a), vec![("tls_alert", "info", vec![7])]);
    let i = inferred(&a);
    assert_eq!(i[0].0, Side::Server);
    assert_eq!(
        i[0].1[1],
        "the server sent its encrypted handshake flight at frame 3"
    );
    // tshark: ACK 518 at frame 3, 723 at the FIN: CCS 6 + Finished 58 + request 140 + FIN.
    assert!(i[0].1[2].starts_with("its later ACK numbers acknowledge 205 more bytes"));
}

#[test]
fn resumed_session_client_side_only() {
    let a = analyze("tls12-resumed-client-only.pcap");
    assert_eq!(a.flows.len(), 2);
    // No malformed_tls: the encrypted Finished after the ChangeCipherSpec is not read as a
    // plaintext handshake message.
    assert_eq!(
        findings(&a),
        vec![
            ("tls_alert", "info", vec![6]),
            ("tls_alert", "info", vec![14])
        ]
    );
    let i = inferred(&a);
    assert!(
        i[1].1[1].contains("an abbreviated (resumed) handshake"),
        "{:?}",
        i[1]
    );
    // tshark: ACK 142 at the client's Finished (frame 13) = 141 bytes past the first ACK.
    assert!(i[1].1[2].starts_with("its ACK number at that frame acknowledges 141 bytes"));
}

#[test]
fn resumed_session_server_side_only() {
    let a = analyze("tls12-resumed-server-only.pcap");
    assert_eq!(a.flows.len(), 2);
    let i = inferred(&a);
    assert_eq!(
        i[1].1[1],
        "the server sent its encrypted handshake flight at frame 9"
    );
    assert!(a
        .findings()
        .all(|(_, f)| f.kind.as_str() != "malformed_tls"));
    assert!(a.flows[1].0.tls.as_ref().unwrap().resumed);
}

/// Two-sided captures keep their seen handshake: nothing is inferred.
#[test]
fn two_sided_captures_infer_nothing() {
    for name in [
        "tls12-ok.pcap",
        "tls13-ok.pcap",
        "client-rst-mid-handshake.pcap",
    ] {
        let a = analyze(name);
        assert!(
            a.flows
                .iter()
                .all(|(f, _)| inferred_established(f).is_none()),
            "{name}"
        );
    }
}
