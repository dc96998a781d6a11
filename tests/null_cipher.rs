//! `null-cipher.pcap` (openssl s_server/s_client -tls1_2 -cipher 'NULL-SHA256:@SECLEVEL=0'):
//! after ChangeCipherSpec a NULL-cipher record is plaintext plus its MAC, so the
//! close_notify alerts are read in the clear, as tshark shows them (frames 10 and 12).

use std::path::Path;

use tlstriage::flow::{AnalyzerConfig, DEFAULT_TLS_PORTS};
use tlstriage::pipeline::analyze_path;

#[test]
fn null_cipher_close_notify_is_read_in_the_clear() {
    let mut c = AnalyzerConfig::default();
    let mut ports = DEFAULT_TLS_PORTS.to_vec();
    ports.push(4459);
    c.set_tls_ports(&ports);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/null-cipher.pcap");
    let a = analyze_path(&path, &c).expect("sample");
    let mut got: Vec<(&str, &str, Vec<u64>, String)> = a
        .findings()
        .map(|(_, f)| {
            (
                f.kind.as_str(),
                f.severity.as_str(),
                f.frames.clone(),
                f.summary.clone(),
            )
        })
        .filter(|(k, ..)| *k == "tls_alert" || *k == "weak_cipher")
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "tls_alert",
                "info",
                vec![10],
                "The client sent a warning close_notify alert.".to_string()
            ),
            (
                "tls_alert",
                "info",
                vec![12],
                "The server sent a warning close_notify alert.".to_string()
            ),
            (
                "weak_cipher",
                "high",
                vec![6],
                "The weak cipher suite TLS_RSA_WITH_NULL_SHA256 (NULL) was negotiated.".to_string()
            ),
        ]
    );
    assert!(a.flows[0].0.tls.as_ref().unwrap().established);
}
