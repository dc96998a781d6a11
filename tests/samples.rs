//! Exact findings for every bundled sample (see samples/README.md for how each was made and
//! what tshark shows in it; the frame numbers below are Wireshark's).

use std::path::Path;

use serde_json::Value;
use tlstriage::flow::{AnalyzerConfig, DEFAULT_TLS_PORTS};
use tlstriage::pipeline::{analyze_path, Analysis};
use tlstriage::tls::names::{cipher_name, version_name};

/// The samples run their TLS servers on 4431-4457 and 4490, as a user would pass with
/// --tls-ports.
fn config() -> AnalyzerConfig {
    let mut ports: Vec<u16> = DEFAULT_TLS_PORTS.to_vec();
    ports.extend(4431..=4457);
    ports.push(4490);
    let mut c = AnalyzerConfig::default();
    c.set_tls_ports(&ports);
    c
}

fn analyze(name: &str) -> Analysis {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name);
    let a = analyze_path(&path, &config()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(a.error.is_none(), "{name}: {:?}", a.error);
    assert!(!a.truncated, "{name} truncated");
    a
}

/// (kind, severity, frames) of every finding, sorted.
fn findings(a: &Analysis) -> Vec<(&'static str, &'static str, Vec<u64>)> {
    let mut v: Vec<_> = a
        .findings()
        .map(|(_, f)| (f.kind.as_str(), f.severity.as_str(), f.frames.clone()))
        .collect();
    v.sort();
    v
}

struct Aborted {
    by: &'static str,
    stage: &'static str,
    how: &'static str,
    cause: &'static str,
    confidence: &'static str,
    frames: &'static [u64],
}

fn assert_aborted(a: &Analysis, want: Aborted) {
    let f = a
        .findings()
        .map(|(_, f)| f)
        .find(|f| f.kind.as_str() == "handshake_aborted")
        .expect("handshake_aborted");
    let e = &f.evidence;
    let got = |k: &str| e[k].as_str().unwrap_or("").to_string();
    assert_eq!(got("aborted_by"), want.by, "{e}");
    assert_eq!(got("stage"), want.stage, "{e}");
    assert_eq!(got("how"), want.how, "{e}");
    assert_eq!(got("likely_cause"), want.cause, "{e}");
    assert_eq!(got("confidence"), want.confidence, "{e}");
    assert_eq!(f.frames, want.frames, "{e}");
    assert!(
        f.explanation.len() > 40,
        "explanation too thin: {}",
        f.explanation
    );
    assert!(e["because"].as_array().is_some_and(|b| !b.is_empty()));
}

fn single_tls(a: &Analysis) -> &tlstriage::tls::TlsConn {
    assert_eq!(a.flows.len(), 1, "one connection per sample");
    a.flows[0].0.tls.as_ref().expect("TLS seen")
}

#[test]
fn tls12_ok_is_clean() {
    let a = analyze("tls12-ok.pcap");
    // The two encrypted close_notify alerts at the end, as information, and the private
    // sample CA that the analysis was not given (see `sample_ca_unknown`).
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_chain_incomplete", "medium", vec![6]),
            ("tls_alert", "info", vec![12]),
            ("tls_alert", "info", vec![14])
        ]
    );
    let tls = single_tls(&a);
    assert!(tls.established);
    assert_eq!(tls.history, "CsxknGIi");
    assert_eq!(
        tls.negotiated_version().map(version_name).as_deref(),
        Some("TLSv1.2")
    );
    let sh = tls.server_hello.as_ref().unwrap();
    assert_eq!(
        cipher_name(sh.cipher),
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    );
    let flow = &a.flows[0].0;
    assert_eq!(flow.sni(), Some("localhost"));
    let leaf = flow.server_leaf().expect("leaf certificate parsed");
    assert_eq!(leaf.subject, "CN=localhost");
    assert!(leaf.san.iter().any(|s| s == "localhost"));
    assert_eq!(
        a.stats.bad_checksums, a.stats.tcp_packets,
        "loopback capture: offloaded checksums kept"
    );
}

#[test]
fn tls13_ok_is_clean() {
    let a = analyze("tls13-ok.pcap");
    assert_eq!(findings(&a), vec![]);
    let tls = single_tls(&a);
    assert!(tls.established);
    assert_eq!(tls.history, "CsiI");
    assert_eq!(
        tls.negotiated_version().map(version_name).as_deref(),
        Some("TLSv1.3")
    );
}

#[test]
fn version_mismatch() {
    let a = analyze("version-mismatch.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("handshake_aborted", "high", vec![4, 6]),
            ("obsolete_version", "medium", vec![4]),
            ("tls_alert", "medium", vec![6]),
            ("version_mismatch", "high", vec![4, 6]),
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "server",
            stage: "client_hello",
            how: "alert",
            cause: "version_mismatch",
            confidence: "high",
            frames: &[4, 6],
        },
    );
    let vm = a
        .findings()
        .find(|(_, f)| f.kind.as_str() == "version_mismatch")
        .unwrap()
        .1;
    assert_eq!(
        vm.evidence["client_versions"],
        serde_json::json!(["TLSv1.0"])
    );
    assert_eq!(vm.evidence["server_version"], Value::Null);
    let alert = a
        .findings()
        .find(|(_, f)| f.kind.as_str() == "tls_alert")
        .unwrap()
        .1;
    assert_eq!(alert.evidence["description"], "protocol_version");
    assert_eq!(alert.evidence["sent_by"], "server");
    assert_eq!(alert.evidence["level"], "fatal");
}

#[test]
fn cipher_mismatch() {
    let a = analyze("cipher-mismatch.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("cipher_mismatch", "high", vec![4, 6]),
            ("handshake_aborted", "high", vec![4, 6]),
            ("tls_alert", "medium", vec![6]),
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "server",
            stage: "client_hello",
            how: "alert",
            cause: "cipher_mismatch",
            confidence: "high",
            frames: &[4, 6],
        },
    );
    let cm = a
        .findings()
        .find(|(_, f)| f.kind.as_str() == "cipher_mismatch")
        .unwrap()
        .1;
    let offered: Vec<&str> = cm.evidence["offered_ciphers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        offered.contains(&"TLS_RSA_WITH_AES_128_CBC_SHA"),
        "{offered:?}"
    );
}

#[test]
fn expired_certificate_rejected_by_client() {
    let a = analyze("cert-expired.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_chain_incomplete", "high", vec![6]),
            ("certificate_expired", "high", vec![6]),
            ("handshake_aborted", "high", vec![4, 8]),
            ("tls_alert", "medium", vec![8]),
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "client",
            stage: "server_hello_done",
            how: "alert",
            cause: "certificate_rejected",
            confidence: "high",
            frames: &[4, 8],
        },
    );
    let ce = a
        .findings()
        .find(|(_, f)| f.kind.as_str() == "certificate_expired")
        .unwrap()
        .1;
    assert_eq!(ce.evidence["not_after"], "2021-01-01T00:00:00Z");
    assert_eq!(ce.evidence["subject"], "CN=localhost");
}

#[test]
fn self_signed_certificate_rejected_by_client() {
    let a = analyze("cert-self-signed.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_self_signed", "medium", vec![6]),
            ("handshake_aborted", "high", vec![4, 8]),
            ("tls_alert", "medium", vec![8]),
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "client",
            stage: "server_hello_done",
            how: "alert",
            cause: "certificate_rejected",
            confidence: "high",
            frames: &[4, 8],
        },
    );
    let alert = a
        .findings()
        .find(|(_, f)| f.kind.as_str() == "tls_alert")
        .unwrap()
        .1;
    assert_eq!(alert.evidence["description"], "unknown_ca");
}

#[test]
fn wrong_name_certificate_rejected_by_client() {
    let a = analyze("cert-wrong-name.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_chain_incomplete", "high", vec![6]),
            ("certificate_name_mismatch", "high", vec![6]),
            ("handshake_aborted", "high", vec![4, 8]),
            ("tls_alert", "medium", vec![8]),
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "client",
            stage: "server_hello_done",
            how: "alert",
            cause: "name_mismatch",
            confidence: "high",
            frames: &[4, 8],
        },
    );
    let nm = a
        .findings()
        .find(|(_, f)| f.kind.as_str() == "certificate_name_mismatch")
        .unwrap()
        .1;
    assert_eq!(nm.evidence["sni"], "localhost");
    assert_eq!(
        nm.evidence["names"],
        serde_json::json!(["wrong-host.example"])
    );
}

#[test]
fn tls13_certificate_rejected_with_encrypted_alert() {
    let a = analyze("tls13-cert-rejected.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("handshake_aborted", "high", vec![4, 9]),
            ("tls_alert", "medium", vec![9])
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "client",
            stage: "server_encrypted_flight",
            how: "alert",
            cause: "certificate_rejected",
            confidence: "medium",
            frames: &[4, 9],
        },
    );
    let alert = a
        .findings()
        .find(|(_, f)| f.kind.as_str() == "tls_alert")
        .unwrap()
        .1;
    assert_eq!(alert.evidence["encrypted"], true);
    assert_eq!(alert.evidence["record_length"], 19);
    assert!(!single_tls(&a).established);
}

#[test]
fn tls13_certificate_rejected_with_clear_alert() {
    let a = analyze("tls13-cert-rejected-openssl.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("handshake_aborted", "high", vec![4, 8]),
            ("tls_alert", "medium", vec![8])
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "client",
            stage: "server_encrypted_flight",
            how: "alert",
            cause: "certificate_rejected",
            confidence: "high",
            frames: &[4, 8],
        },
    );
}

#[test]
fn plaintext_http_to_tls_port() {
    let a = analyze("plaintext-http-to-tls-port.pcap");
    assert_eq!(
        findings(&a),
        vec![("plaintext_to_tls_port", "medium", vec![4, 6, 7])]
    );
    let f = a.findings().next().unwrap().1;
    assert_eq!(f.evidence["detected_protocol"], "http");
    assert_eq!(f.evidence["server_reaction"], "close");
    assert!(f.evidence["first_bytes"]
        .as_str()
        .unwrap()
        .starts_with("GET / HTTP/1.1\\r\\n"));
}

#[test]
fn plaintext_to_a_port_not_known_as_tls_is_not_flagged() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/plaintext-http-to-tls-port.pcap");
    let a = analyze_path(&path, &AnalyzerConfig::default()).unwrap();
    assert!(
        findings(&a).is_empty(),
        "port 4439 is not a TLS port by default"
    );
}

#[test]
fn tls_client_to_plain_http_server() {
    let a = analyze("tls-to-http-server.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("handshake_aborted", "high", vec![4, 10]),
            ("tls_to_plaintext_port", "medium", vec![4, 6])
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "server",
            stage: "client_hello",
            how: "fin",
            cause: "plaintext_mismatch",
            confidence: "high",
            frames: &[4, 10],
        },
    );
    let f = a
        .findings()
        .find(|(_, f)| f.kind.as_str() == "tls_to_plaintext_port")
        .unwrap()
        .1;
    assert!(f.evidence["server_first_bytes"]
        .as_str()
        .unwrap()
        .starts_with("HTTP/1.0 400"));
}

#[test]
fn client_reset_mid_handshake() {
    let a = analyze("client-rst-mid-handshake.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_chain_incomplete", "high", vec![6]),
            ("handshake_aborted", "high", vec![4, 8])
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "client",
            stage: "server_hello_done",
            how: "rst",
            // The RST came 0.1 ms after the server's flight: no timeout, and no alert says why.
            cause: "client_gave_up",
            confidence: "low",
            frames: &[4, 8],
        },
    );
}

#[test]
fn server_closes_without_alert() {
    let a = analyze("server-close-no-alert.pcap");
    assert_eq!(
        findings(&a),
        vec![("handshake_aborted", "high", vec![4, 6])]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "server",
            stage: "client_hello",
            how: "fin",
            cause: "server_closed_without_alert",
            confidence: "medium",
            frames: &[4, 6],
        },
    );
}

#[test]
fn smtp_starttls_then_tls13() {
    let a = analyze("smtp-starttls.pcap");
    assert_eq!(findings(&a), vec![("starttls", "info", vec![12, 13, 14])]);
    let f = a.findings().next().unwrap().1;
    assert_eq!(f.evidence["protocol"], "smtp");
    assert_eq!(f.evidence["result"], "ok");
    let tls = single_tls(&a);
    assert!(tls.established);
    assert_eq!(
        tls.negotiated_version().map(version_name).as_deref(),
        Some("TLSv1.3")
    );
}

#[test]
fn smtp_auth_before_tls() {
    let a = analyze("smtp-auth-cleartext.pcap");
    assert_eq!(
        findings(&a),
        vec![("cleartext_credentials", "high", vec![12])]
    );
    let f = a.findings().next().unwrap().1;
    assert_eq!(f.evidence["protocol"], "smtp");
    assert_eq!(f.evidence["mechanism"], "AUTH PLAIN");
    assert!(
        f.ts_us > a.flows[0].0.first_ts_us,
        "stamped with the AUTH packet's time"
    );
}

#[test]
fn connect_proxy_then_tls() {
    let a = analyze("connect-proxy-ok.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_chain_incomplete", "medium", vec![9]),
            ("tls_alert", "info", vec![13]),
            ("tls_alert", "info", vec![14])
        ]
    );
    let flow = &a.flows[0].0;
    let connect = flow.preamble.connect.as_ref().expect("CONNECT seen");
    assert_eq!(connect.status, Some(200));
    assert_eq!(connect.target, "localhost:4443");
    assert!(flow.tls.as_ref().unwrap().established);
}

#[test]
fn connect_proxy_refused() {
    let a = analyze("connect-proxy-403.pcap");
    assert_eq!(
        findings(&a),
        vec![("proxy_connect_failed", "medium", vec![4, 6])]
    );
    let f = a.findings().next().unwrap().1;
    assert_eq!(f.evidence["status"], 403);
    assert_eq!(f.evidence["target"], "localhost:4444");
}

#[test]
fn mysql_ssl_request_then_tls() {
    let a = analyze("mysql-ssl.pcap");
    assert_eq!(findings(&a), vec![("starttls", "info", vec![4, 6, 8])]);
    let f = a.findings().next().unwrap().1;
    assert_eq!(f.evidence["protocol"], "mysql");
    assert_eq!(f.evidence["result"], "ok");
    let flow = &a.flows[0].0;
    assert_eq!(flow.via(), Some("starttls"));
    let tls = flow.tls.as_ref().expect("TLS after the SSL request");
    assert!(tls.established);
    assert_eq!(
        tls.negotiated_version().map(version_name).as_deref(),
        Some("TLSv1.3")
    );
}

#[test]
fn mysql_server_without_tls() {
    let a = analyze("mysql-ssl-not-offered.pcap");
    assert_eq!(findings(&a), vec![("starttls", "medium", vec![4])]);
    let f = a.findings().next().unwrap().1;
    assert_eq!(f.evidence["result"], "not_offered");
    assert_eq!(f.summary, "The mysql server does not offer TLS.");
    assert!(a.flows[0].0.tls.is_none());
}

#[test]
fn http_upgrade_to_tls() {
    let a = analyze("http-upgrade-tls.pcap");
    assert_eq!(findings(&a), vec![("starttls", "info", vec![4, 6, 8])]);
    let f = a.findings().next().unwrap().1;
    assert_eq!(f.evidence["protocol"], "http");
    assert_eq!(
        f.evidence["server_response"],
        "HTTP/1.1 101 Switching Protocols"
    );
    assert_eq!(
        f.summary,
        "The http session upgraded to TLS with Upgrade: TLS/1.0 (RFC 2817)."
    );
    let flow = &a.flows[0].0;
    assert_eq!(flow.via(), Some("starttls"));
    let tls = flow.tls.as_ref().expect("TLS after the 101");
    assert!(tls.established);
    assert_eq!(
        tls.client_hello.as_ref().unwrap().sni.as_deref(),
        Some("localhost")
    );
}

#[test]
fn rdp_negotiation_then_tls() {
    let a = analyze("rdp-tls.pcap");
    assert_eq!(findings(&a), vec![("starttls", "info", vec![4, 6, 8])]);
    let f = a.findings().next().unwrap().1;
    assert_eq!(f.evidence["protocol"], "rdp");
    assert_eq!(f.evidence["server_response"], "selected PROTOCOL_SSL");
    let flow = &a.flows[0].0;
    assert_eq!(flow.via(), Some("starttls"));
    assert!(
        flow.tls
            .as_ref()
            .expect("TLS after the X.224 Confirm")
            .established
    );
}

#[test]
fn socks5_and_socks4a_tunnels_carry_tls() {
    for (name, target, status, alerts) in [
        ("socks5-tls.pcap", "localhost:4470", 0, [20, 22]),
        ("socks4a-tls.pcap", "localhost:4471", 90, [13, 14]),
    ] {
        let a = analyze(name);
        let cert = if name.starts_with("socks5") { 11 } else { 9 };
        assert_eq!(
            findings(&a),
            vec![
                ("certificate_chain_incomplete", "medium", vec![cert]),
                ("tls_alert", "info", vec![alerts[0]]),
                ("tls_alert", "info", vec![alerts[1]])
            ],
            "{name}"
        );
        let flow = &a.flows[0].0;
        assert_eq!(flow.via(), Some("socks_proxy"));
        let connect = flow.preamble.connect.as_ref().expect("SOCKS CONNECT seen");
        assert_eq!(
            (connect.target.as_str(), connect.status),
            (target, Some(status))
        );
        let tls = flow.tls.as_ref().unwrap();
        assert!(tls.established);
        assert_eq!(
            tls.client_hello.as_ref().unwrap().sni.as_deref(),
            Some("localhost")
        );
    }
}

#[test]
fn socks5_connect_refused() {
    let a = analyze("socks5-refused.pcap");
    assert_eq!(
        findings(&a),
        vec![("proxy_connect_failed", "medium", vec![8, 9])]
    );
    let f = a.findings().next().unwrap().1;
    assert_eq!(f.evidence["status"], 5);
    assert_eq!(f.evidence["proxy"], "socks5");
    assert_eq!(f.evidence["reason"], "connection refused");
    assert_eq!(f.evidence["target"], "127.0.0.1:4472");
}

#[test]
fn session_resumption() {
    let a = analyze("tls12-resumed.pcap");
    assert_eq!(a.flows.len(), 2);
    let first = a.flows[0].0.tls.as_ref().unwrap();
    let second = a.flows[1].0.tls.as_ref().unwrap();
    assert!(first.established && !first.resumed);
    assert!(second.established && second.resumed);
    assert_eq!(second.history, "CsiI");
    assert_eq!(a.flows[1].0.tcp_stream, 1);
}

#[test]
fn missing_sni() {
    let a = analyze("missing-sni.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_chain_incomplete", "medium", vec![6]),
            ("missing_sni", "low", vec![4]),
            ("tls_alert", "info", vec![10]),
            ("tls_alert", "info", vec![12])
        ]
    );
}

/// The TLS 1.2 samples' servers send only their leaf, issued by the private "tlstriage
/// Sample CA" that the clients were given (`--cacert ca.pem`) and this analysis was not.
/// From the capture alone, that issuer is a certificate neither sent nor trusted, which is
/// certificate_chain_incomplete as the contract defines it; its explanation tells to pass
/// a private root with --ca-file. (TLS 1.3 samples hide the chain, so they do not say it.)
#[test]
fn sample_ca_unknown() {
    for name in [
        "tls12-ok.pcap",
        "cert-expired.pcap",
        "cert-wrong-name.pcap",
        "client-rst-mid-handshake.pcap",
        "connect-proxy-ok.pcap",
        "missing-sni.pcap",
    ] {
        let a = analyze(name);
        let f = a
            .findings()
            .map(|(_, f)| f)
            .find(|f| f.kind.as_str() == "certificate_chain_incomplete")
            .unwrap_or_else(|| panic!("{name}: no certificate_chain_incomplete"));
        assert_eq!(
            f.evidence["missing_issuer"], "CN=tlstriage Sample CA",
            "{name}"
        );
        let leaf = &a.flows[0].0.server_certs[0].as_ref().unwrap().subject;
        assert_eq!(f.evidence["last_sent"], leaf.as_str(), "{name}");
        assert_eq!(
            f.evidence["trust_store"],
            serde_json::json!(["mozilla"]),
            "{name}"
        );
        assert!(f.explanation.contains("--ca-file"), "{name}");
    }
}

/// [`analyze`] with the trust samples' root added, as `--no-system-roots --ca-file
/// samples/trust-root.pem` gives.
fn analyze_trusting_root(name: &str) -> Analysis {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/trust-root.pem");
    let store = tlstriage::trust::TrustStore::load(&tlstriage::trust::StoreOptions {
        no_system_roots: true,
        ca_files: vec![root],
    })
    .expect("trust-root.pem");
    let mut c = config();
    c.rules = std::sync::Arc::new(tlstriage::config::RuleEnv {
        trust: std::sync::Arc::new(tlstriage::trust::Validator::new(store)),
        ..Default::default()
    });
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name);
    let a = analyze_path(&path, &c).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(a.error.is_none(), "{name}: {:?}", a.error);
    a
}

fn finding<'a>(a: &'a Analysis, kind: &str) -> &'a tlstriage::rules::Finding {
    a.findings()
        .map(|(_, f)| f)
        .find(|f| f.kind.as_str() == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", findings(a)))
}

const TRUST_ROOT: &str = "O=tlstriage, CN=tlstriage Trust Root";
const TRUST_INT: &str = "O=tlstriage, CN=tlstriage Trust Intermediate";

#[test]
fn trust_missing_intermediate_names_it_even_with_the_root_trusted() {
    for a in [
        analyze("trust-missing-intermediate.pcap"),
        analyze_trusting_root("trust-missing-intermediate.pcap"),
    ] {
        assert_eq!(
            findings(&a),
            vec![
                ("certificate_chain_incomplete", "high", vec![6]),
                ("handshake_aborted", "high", vec![4, 8]),
                ("tls_alert", "medium", vec![8]),
            ]
        );
        let f = finding(&a, "certificate_chain_incomplete");
        assert_eq!(f.evidence["missing_issuer"], TRUST_INT);
        assert_eq!(f.evidence["last_sent"], "CN=localhost");
        assert_eq!(f.evidence["aia_ca_issuers"], Value::Null);
        assert_aborted(
            &a,
            Aborted {
                by: "client",
                stage: "server_hello_done",
                how: "alert",
                cause: "certificate_rejected",
                confidence: "high",
                frames: &[4, 8],
            },
        );
        let ab = finding(&a, "handshake_aborted");
        assert!(
            ab.explanation.contains(&format!(
                "the server does not send its intermediate '{TRUST_INT}'; add it to the server's chain file \
                 (e.g. nginx ssl_certificate must hold leaf + intermediates)"
            )),
            "{}",
            ab.explanation
        );
    }
}

#[test]
fn trust_private_chain_is_clean_only_with_ca_file() {
    let a = analyze_trusting_root("trust-private-chain.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("tls_alert", "info", vec![12]),
            ("tls_alert", "info", vec![14])
        ]
    );
    // Without it, the root the client was given is unknown here: the chain stops short.
    let a = analyze("trust-private-chain.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_chain_incomplete", "medium", vec![6]),
            ("tls_alert", "info", vec![12]),
            ("tls_alert", "info", vec![14])
        ]
    );
    let f = finding(&a, "certificate_chain_incomplete");
    assert_eq!(f.evidence["missing_issuer"], TRUST_ROOT);
    assert_eq!(f.evidence["last_sent"], TRUST_INT);
}

#[test]
fn trust_expired_intermediate_is_certificate_expired_at_position_1() {
    let a = analyze_trusting_root("trust-expired-intermediate.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_expired", "medium", vec![6]),
            ("handshake_aborted", "high", vec![4, 8]),
            ("tls_alert", "medium", vec![8]),
        ]
    );
    let f = finding(&a, "certificate_expired");
    assert_eq!(f.evidence["chain_position"], 1);
    assert_eq!(f.evidence["not_after"], "2021-01-01T00:00:00Z");
    assert_eq!(
        finding(&a, "handshake_aborted").evidence["likely_cause"],
        "certificate_rejected"
    );
    // Without the root, trust is decided on 2021-01-01, when every certificate was valid.
    let a = analyze("trust-expired-intermediate.pcap");
    let f = finding(&a, "certificate_chain_incomplete");
    assert_eq!(f.evidence["missing_issuer"], TRUST_ROOT);
    assert_eq!(f.evidence["decided_at"], "2021-01-01T00:00:00Z");
}

#[test]
fn trust_expires_soon_counts_days_from_the_capture() {
    let a = analyze_trusting_root("trust-expires-soon.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_expires_soon", "medium", vec![6]),
            ("tls_alert", "info", vec![12]),
            ("tls_alert", "info", vec![14])
        ]
    );
    let f = finding(&a, "certificate_expires_soon");
    assert_eq!(f.evidence["days_left"], 4);
    assert_eq!(f.evidence["chain_position"], 0);
    assert_eq!(f.evidence["subject"], "CN=localhost");
}

#[test]
fn trust_wrong_order_is_noted_on_the_trust_finding() {
    // With the root trusted, OpenSSL's client (and webpki) reorder: nothing fails, and the
    // contract has no kind for the order alone.
    let a = analyze_trusting_root("trust-wrong-order.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("tls_alert", "info", vec![12]),
            ("tls_alert", "info", vec![14])
        ]
    );
    let a = analyze("trust-wrong-order.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("certificate_untrusted", "low", vec![6]),
            ("tls_alert", "info", vec![12]),
            ("tls_alert", "info", vec![14])
        ]
    );
    let f = finding(&a, "certificate_untrusted");
    assert_eq!(f.evidence["reason"], "unknown_root");
    assert_eq!(f.evidence["root_subject"], TRUST_ROOT);
    assert_eq!(
        f.evidence["chain_order"],
        serde_json::json!(["out_of_order", "root_sent"])
    );
    let chain: Vec<&str> = a.flows[0]
        .0
        .server_certs
        .iter()
        .map(|c| c.as_ref().unwrap().subject.as_str())
        .collect();
    assert_eq!(chain, ["CN=localhost", TRUST_ROOT, TRUST_INT]);
}

/// The evidence of the one `connection_failed` finding of a sample, which must be its only
/// finding, with these frames.
fn connection_failed(a: &Analysis, frames: &[u64]) -> Value {
    assert_eq!(a.flows.len(), 1, "one connection per sample");
    assert_eq!(
        findings(a),
        vec![("connection_failed", "medium", frames.to_vec())]
    );
    let f = a.findings().next().unwrap().1;
    assert!(f.explanation.contains("nc -vz"), "{}", f.explanation);
    assert!(a.flows[0].0.tls.is_none(), "no TLS flow");
    f.evidence.clone()
}

#[test]
fn refused_ipv4_and_ipv6() {
    for (name, port) in [("refused-ipv4.pcap", 4450), ("refused-ipv6.pcap", 4451)] {
        let a = analyze(name);
        let e = connection_failed(&a, &[1, 2]);
        assert_eq!(e["reason"], "refused", "{name}");
        assert_eq!(e["answered_by"], "server", "{name}");
        // The RST is the server's only packet: its TTL has nothing to be compared with.
        assert_eq!(e["confidence"], "medium", "{name}");
        assert_eq!(e["attempts"], 1, "{name}");
        assert_eq!(e["ttl"]["rst"], 64, "{name}");
        assert_eq!(e["server_port"], port, "{name}");
        assert!(e["because"][1].as_str().unwrap().contains("only packet"));
        assert_eq!(a.stats.icmp_errors, 0);
    }
}

#[test]
fn accepted_then_closed_or_reset_before_any_byte() {
    let a = analyze("accept-then-close.pcap");
    let e = connection_failed(&a, &[1, 4]);
    assert_eq!(
        (&e["reason"], &e["answered_by"], &e["confidence"]),
        (&"server_closed".into(), &"server".into(), &"high".into())
    );
    let a = analyze("accept-then-reset.pcap");
    let e = connection_failed(&a, &[1, 4]);
    assert_eq!(
        (&e["reason"], &e["answered_by"], &e["confidence"]),
        (&"server_reset".into(), &"server".into(), &"high".into())
    );
    assert_eq!(e["ttl"]["rst"], 64);
}

#[test]
fn server_fin_then_client_alert_is_the_server_closing() {
    let a = analyze("server-fin-client-alert.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("handshake_aborted", "high", vec![4, 6, 7]),
            ("tls_alert", "medium", vec![7]),
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "server",
            stage: "client_hello",
            how: "fin",
            cause: "server_closed_without_alert",
            confidence: "medium",
            frames: &[4, 6, 7],
        },
    );
    let f = a
        .findings()
        .map(|(_, f)| f)
        .find(|f| f.kind.as_str() == "handshake_aborted")
        .unwrap();
    assert_eq!(
        f.evidence["reaction_alert"],
        serde_json::json!({"sent_by": "client", "description": "decode_error", "frame": 7})
    );
    assert!(f.evidence["because"].to_string().contains(
        "the client's fatal decode_error alert at frame 7 came after that fin: a reaction to the close"
    ));
}

#[test]
fn port_scan_is_thirty_refusals_of_low_severity_off_the_tls_ports() {
    let a = analyze("port-scan.pcap");
    assert_eq!(a.flows.len(), 30);
    let got = findings(&a);
    assert_eq!(got.len(), 30);
    assert!(got.iter().all(|(k, s, fr)| (*k, *s, fr.as_slice())
        == ("connection_failed", "low", &[fr[0], fr[0] + 1][..])));
    assert!(a
        .findings()
        .all(|(_, f)| f.evidence["reason"] == "refused" && f.evidence["answered_by"] == "server"));
    let ports: std::collections::BTreeSet<u16> =
        a.flows.iter().map(|(f, _)| f.server.port).collect();
    assert_eq!(ports, (4460..=4489).collect());
}

#[test]
fn tls13_mutual_tls_refused_without_keys() {
    let a = analyze("tls13-mtls-rejected.pcap");
    assert_eq!(
        findings(&a),
        vec![
            ("handshake_aborted", "high", vec![4, 9]),
            ("tls_alert", "medium", vec![9]),
        ]
    );
    assert_aborted(
        &a,
        Aborted {
            by: "server",
            stage: "finished",
            how: "alert",
            cause: "client_certificate",
            confidence: "high",
            frames: &[4, 9],
        },
    );
    let tls = single_tls(&a);
    assert!(!tls.established, "the server refused the client's flight");
    let f = a
        .findings()
        .map(|(_, f)| f)
        .find(|f| f.kind.as_str() == "handshake_aborted")
        .unwrap();
    let because = f.evidence["because"].to_string();
    assert!(
        because.contains("the client's flight at frame 8 has 2 encrypted records (25, 69 bytes)")
    );
    assert!(because.contains("the size of an empty Certificate"));
}
