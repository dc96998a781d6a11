//! Unit scenarios of the handshake_aborted diagnosis, and the check that every named cause
//! decides some flow.

use crate::flow::EndReason;
use crate::model::Dir;
use crate::rules::testutil::*;
use crate::rules::{evaluate, Finding, Severity};
use crate::tls::types::ClientHello;
use crate::tls::{HandshakeStage, TlsEventKind};

const C: Dir = Dir::ToServer;
const S: Dir = Dir::ToClient;

/// Named causes that decide some flow below, by name.
static DECIDED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

fn aborted(f: &crate::flow::FlowRecord) -> (Finding, Vec<&'static str>) {
    let all = evaluate(f);
    let earlier: Vec<Finding> = all
        .iter()
        .filter(|x| x.kind != crate::rules::Kind::HandshakeAborted)
        .cloned()
        .collect();
    if let Some(name) = super::decided_by(f, earlier) {
        DECIDED.lock().unwrap_or_else(|e| e.into_inner()).push(name);
    }
    (one(&all, "handshake_aborted").clone(), kinds(&all))
}

/// Every named cause decides at least one flow: the unit scenarios of this module and
/// the aborted flows of every sample.
#[test]
fn every_named_cause_decides_some_flow() {
    let mut seen: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let dirs = [
        concat!(env!("CARGO_MANIFEST_DIR"), "/samples"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/samples/ocsp"),
    ];
    let files = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path());
    for p in files {
        if p.extension().is_none_or(|x| x != "pcap") {
            continue;
        }
        let a = crate::pipeline::analyze_path(&p, &Default::default()).unwrap();
        for (flow, fs) in &a.flows {
            let earlier = fs
                .iter()
                .filter(|x| x.kind != crate::rules::Kind::HandshakeAborted)
                .cloned()
                .collect();
            seen.extend(super::decided_by(flow, earlier));
        }
    }
    // The scenarios of this module, run here too (tests run in any order).
    for t in SCENARIOS {
        t();
    }
    seen.extend(DECIDED.lock().unwrap_or_else(|e| e.into_inner()).iter());
    let mut names: Vec<&str> = super::CAUSES.iter().map(|c| c.name).collect();
    names.push("went_quiet");
    let missing: Vec<&&str> = names.iter().filter(|n| !seen.contains(**n)).collect();
    assert!(missing.is_empty(), "no flow decided by {missing:?}");
}

const SCENARIOS: &[fn()] = &[
    heartbleed_probe_is_the_cause_whatever_the_certificate,
    version_mismatch_from_protocol_version_alert,
    cipher_mismatch_from_handshake_failure_before_server_hello,
    certificate_rejected_by_clear_client_alert,
    name_mismatch_with_bad_certificate_alert,
    name_mismatch_when_client_closes_silently_after_certificate,
    plaintext_mismatch_when_server_answers_http,
    client_certificate_required,
    server_alert_without_certificate_request_is_unknown,
    server_closes_without_alert,
    client_gives_up_with_rst,
    silent_server_on_timeout_or_capture_end,
    quiet_after_server_answer_is_unknown_low,
    refused_pipelined_connect_is_a_proxy_problem,
    rst_with_a_foreign_ttl_was_injected_by_a_middlebox,
    stalled_certificate_flight_is_a_network_problem,
    frag_needed_about_the_stalled_flight_is_evidence_with_its_mtu,
    the_first_closer_ended_it_and_the_later_alert_is_a_reaction,
    tls13_server_alert_after_the_client_flight_is_a_client_certificate_problem,
    unknown_ca_after_a_missing_intermediate_names_it,
    unknown_ca_after_an_untrusted_private_root_names_it,
];

/// (aborted_by, stage, how, likely_cause, confidence)
fn diag(a: &Finding) -> (&str, &str, &str, &str, &str) {
    (
        ev(a, "aborted_by"),
        ev(a, "stage"),
        ev(a, "how"),
        ev(a, "likely_cause"),
        ev(a, "confidence"),
    )
}

/// A TLS 1.2 handshake stopped after the server's first flight (frame 5), then `then`.
fn after_server_flight(then: Vec<crate::tls::TlsEvent>) -> crate::flow::FlowRecord {
    let mut events = server_flight12(5);
    events.extend(then);
    let mut f = tls_flow(
        client_hello(),
        Some(server_hello(0x0303, 0xc02f)),
        events,
        HandshakeStage::ServerHelloDone,
    );
    f.server_certs = vec![Ok(leaf("www.example.com"))];
    f
}

#[test]
fn version_mismatch_from_protocol_version_alert() {
    let ch = ClientHello {
        version: 0x0301,
        ..client_hello()
    };
    let mut f = tls_flow(
        ch,
        None,
        vec![alert(S, 5, 2, 70)],
        HandshakeStage::ClientHello,
    );
    close(&mut f, S, false, 6);
    let (a, all) = aborted(&f);
    assert!(all.contains(&"version_mismatch"), "{all:?}");
    assert_eq!(
        diag(&a),
        (
            "server",
            "client_hello",
            "alert",
            "version_mismatch",
            "high"
        )
    );
    assert_eq!(ev(&a, "alert"), "protocol_version");
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.frames, vec![4, 5]);
    assert_eq!(a.ts_us, ts(5));
    assert_eq!(a.evidence["client_offer"]["versions"], "at most TLSv1.0");
    assert!(a.evidence["server_version"].is_null());
    assert_eq!(
        a.summary,
        "TLS handshake aborted by the server after the client's ClientHello (alert protocol_version): version mismatch."
    );
    // handshake_aborted runs last.
    assert_eq!(all.last(), Some(&"handshake_aborted"));
}

#[test]
fn cipher_mismatch_from_handshake_failure_before_server_hello() {
    let mut f = tls_flow(
        client_hello(),
        None,
        vec![alert(S, 5, 2, 40)],
        HandshakeStage::ClientHello,
    );
    close(&mut f, S, true, 6);
    let (a, all) = aborted(&f);
    assert!(all.contains(&"cipher_mismatch"), "{all:?}");
    assert_eq!(
        diag(&a),
        ("server", "client_hello", "alert", "cipher_mismatch", "high")
    );
    assert_eq!(ev(&a, "alert"), "handshake_failure");
    assert_eq!(a.evidence["client_offer"]["ciphers"], 3);
    assert_eq!(a.frames, vec![4, 5]);
}

#[test]
fn certificate_rejected_by_clear_client_alert() {
    let mut f = after_server_flight(vec![alert(C, 6, 2, 45)]);
    f.server_certs = vec![Ok(cert(
        "CN=www.example.com",
        "CN=CA",
        NOW - 400 * 86_400,
        NOW - 30 * 86_400,
    ))];
    close(&mut f, C, false, 7);
    let (a, all) = aborted(&f);
    assert!(all.contains(&"certificate_expired"), "{all:?}");
    assert_eq!(
        diag(&a),
        (
            "client",
            "server_hello_done",
            "alert",
            "certificate_rejected",
            "high"
        )
    );
    assert_eq!(ev(&a, "alert"), "certificate_expired");
    assert_eq!(ev(&a, "server_version"), "TLSv1.2");
    assert_eq!(a.frames, vec![4, 6]);
    assert_eq!(a.severity, Severity::High);
    // The explanation names the certificate problem found on the chain.
    assert!(a.explanation.contains("expired"), "{}", a.explanation);
}

#[test]
fn unknown_ca_with_a_name_problem_is_still_a_trust_problem() {
    // unknown_ca says "untrusted", not "wrong name", even if the name is wrong too.
    let mut f = after_server_flight(vec![alert(C, 6, 2, 48)]);
    f.server_certs = vec![Ok(leaf("other.example.net"))];
    let (a, all) = aborted(&f);
    assert!(all.contains(&"certificate_name_mismatch"), "{all:?}");
    assert_eq!(ev(&a, "likely_cause"), "certificate_rejected");
    assert_eq!(ev(&a, "confidence"), "high");
}

#[test]
fn unknown_ca_for_a_private_root() {
    let mut f = after_server_flight(vec![alert(C, 6, 2, 48)]);
    f.server_certs = vec![
        Ok(leaf("www.example.com")),
        Ok(ca("CN=Example Intermediate CA", "CN=Corp Root CA")),
        Ok(ca("CN=Corp Root CA", "CN=Corp Root CA")),
    ];
    let (a, all) = aborted(&f);
    assert!(all.contains(&"certificate_self_signed"), "{all:?}");
    assert_eq!(
        diag(&a),
        (
            "client",
            "server_hello_done",
            "alert",
            "certificate_rejected",
            "high"
        )
    );
    assert_eq!(ev(&a, "alert"), "unknown_ca");
    assert!(
        a.explanation.contains("CN=Corp Root CA"),
        "{}",
        a.explanation
    );
}

#[test]
fn unknown_ca_after_a_missing_intermediate_names_it() {
    let mut f = after_server_flight(vec![alert(C, 6, 2, 48)]);
    with_server_chain(&mut f, "leaf-only.pem");
    close(&mut f, C, false, 7);
    let (a, all) = aborted(&f);
    assert!(all.contains(&"certificate_chain_incomplete"), "{all:?}");
    assert_eq!(ev(&a, "likely_cause"), "certificate_rejected");
    assert_eq!(ev(&a, "confidence"), "high");
    assert!(
        a.explanation.contains(
            "the server does not send its intermediate 'O=tlstriage test, CN=Test Intermediate'"
        ) && a
            .explanation
            .contains("nginx ssl_certificate must hold leaf + intermediates"),
        "{}",
        a.explanation
    );
}

#[test]
fn unknown_ca_after_an_untrusted_private_root_names_it() {
    let mut f = after_server_flight(vec![alert(C, 6, 2, 48)]);
    with_server_chain(&mut f, "complete-with-root.pem");
    close(&mut f, C, false, 7);
    let (a, all) = aborted(&f);
    assert!(all.contains(&"certificate_untrusted"), "{all:?}");
    assert_eq!(ev(&a, "likely_cause"), "certificate_rejected");
    assert_eq!(ev(&a, "confidence"), "high");
    assert!(
        a.explanation
            .contains("The client must trust 'O=tlstriage test, CN=Test Root'"),
        "{}",
        a.explanation
    );
}

#[test]
fn tls13_encrypted_client_alert_is_a_probable_certificate_rejection() {
    let events = vec![
        hs(S, 5, 2),
        event(S, 5, TlsEventKind::ChangeCipherSpec),
        event(S, 5, TlsEventKind::EncryptedHandshake { len: 2000 }),
        event(C, 6, TlsEventKind::ChangeCipherSpec),
        event(C, 6, TlsEventKind::EncryptedAlert { len: 19 }),
    ];
    let mut f = tls_flow(
        client_hello13(),
        Some(server_hello13()),
        events,
        HandshakeStage::ServerHello,
    );
    close(&mut f, C, false, 7);
    let (a, all) = aborted(&f);
    assert_eq!(
        diag(&a),
        (
            "client",
            "server_hello",
            "alert",
            "certificate_rejected",
            "medium"
        )
    );
    assert_eq!(ev(&a, "alert"), "encrypted");
    assert_eq!(ev(&a, "server_version"), "TLSv1.3");
    assert_eq!(a.frames, vec![4, 6]);
    assert!(a.explanation.contains("www.example.com"));
    assert!(all.contains(&"tls_alert"));
    assert!(!all.contains(&"certificate_expired"));
}

#[test]
fn tls12_encrypted_alert_is_not_guessed_as_certificate() {
    // After the client's CCS in TLS 1.2 the certificate was in clear and fine: the
    // encrypted alert says nothing about the certificate.
    let mut f = after_server_flight(vec![
        hs(C, 6, 16),
        event(C, 6, TlsEventKind::ChangeCipherSpec),
        event(C, 6, TlsEventKind::EncryptedHandshake { len: 40 }),
        event(C, 7, TlsEventKind::EncryptedAlert { len: 26 }),
    ]);
    f.tls.as_mut().unwrap().stage = HandshakeStage::ChangeCipherSpec;
    let (a, _) = aborted(&f);
    assert_eq!(
        diag(&a),
        ("client", "change_cipher_spec", "alert", "unknown", "medium")
    );
}

#[test]
fn name_mismatch_with_bad_certificate_alert() {
    let mut f = after_server_flight(vec![alert(C, 6, 2, 42)]);
    f.server_certs = vec![Ok(leaf("other.example.net"))];
    let (a, all) = aborted(&f);
    assert!(all.contains(&"certificate_name_mismatch"), "{all:?}");
    assert_eq!(
        diag(&a),
        (
            "client",
            "server_hello_done",
            "alert",
            "name_mismatch",
            "high"
        )
    );
    assert!(a.explanation.contains("www.example.com"));
}

#[test]
fn name_mismatch_when_client_closes_silently_after_certificate() {
    let mut f = after_server_flight(vec![]);
    f.server_certs = vec![Ok(leaf("other.example.net"))];
    close(&mut f, C, false, 6);
    let (a, _) = aborted(&f);
    assert_eq!(
        diag(&a),
        (
            "client",
            "server_hello_done",
            "fin",
            "name_mismatch",
            "medium"
        )
    );
    assert!(a.evidence["alert"].is_null());
    assert_eq!(a.frames, vec![4, 6]);
}

#[test]
fn certificate_problem_when_client_resets_silently_after_certificate() {
    let mut f = after_server_flight(vec![]);
    f.server_certs = vec![Ok(cert(
        "CN=www.example.com",
        "CN=www.example.com",
        NOW - 10,
        NOW + 10,
    ))];
    f.server_certs[0].as_mut().unwrap().san = vec!["www.example.com".into()];
    close(&mut f, C, true, 6);
    let (a, all) = aborted(&f);
    assert!(all.contains(&"certificate_self_signed"), "{all:?}");
    assert_eq!(
        diag(&a),
        (
            "client",
            "server_hello_done",
            "rst",
            "certificate_rejected",
            "medium"
        )
    );
}

#[test]
fn plaintext_mismatch_when_server_answers_http() {
    let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
    f.first_bytes[S.index()] = Some((b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), 5));
    close(&mut f, S, false, 6);
    let (a, all) = aborted(&f);
    assert!(all.contains(&"tls_to_plaintext_port"), "{all:?}");
    assert_eq!(
        diag(&a),
        (
            "server",
            "client_hello",
            "fin",
            "plaintext_mismatch",
            "high"
        )
    );
    assert!(a.explanation.contains("HTTP/1.1 400 Bad Request"));
}

#[test]
fn client_certificate_required() {
    // The server asked for a certificate (R), the client sent an empty one, the server
    // refused with handshake_failure.
    let mut f = tls_flow(
        client_hello(),
        Some(server_hello(0x0303, 0xc02f)),
        vec![
            hs(S, 5, 2),
            hs(S, 5, 11),
            hs(S, 5, 12),
            hs(S, 5, 13),
            hs(S, 5, 14),
            hs(C, 6, 11),
            hs(C, 6, 16),
            event(C, 6, TlsEventKind::ChangeCipherSpec),
            event(C, 6, TlsEventKind::EncryptedHandshake { len: 40 }),
            alert(S, 7, 2, 40),
        ],
        HandshakeStage::ChangeCipherSpec,
    );
    f.server_certs = vec![Ok(leaf("www.example.com"))];
    let (a, all) = aborted(&f);
    // A ServerHello was seen: this is not a cipher mismatch.
    assert!(!all.contains(&"cipher_mismatch"), "{all:?}");
    assert_eq!(
        diag(&a),
        (
            "server",
            "change_cipher_spec",
            "alert",
            "client_certificate",
            "medium"
        )
    );
    assert!(a.explanation.contains("client certificate"));
    assert_eq!(a.frames, vec![4, 7]);
}

#[test]
fn server_alert_without_certificate_request_is_unknown() {
    let f = after_server_flight(vec![hs(C, 6, 16), alert(S, 7, 2, 40)]);
    let (a, _) = aborted(&f);
    assert_eq!(
        diag(&a),
        ("server", "server_hello_done", "alert", "unknown", "medium")
    );
    assert_eq!(ev(&a, "alert"), "handshake_failure");
}

#[test]
fn server_closes_without_alert() {
    for (rst, how) in [(false, "fin"), (true, "rst")] {
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        close(&mut f, S, rst, 5);
        let (a, all) = aborted(&f);
        assert_eq!(
            diag(&a),
            (
                "server",
                "client_hello",
                how,
                "server_closed_without_alert",
                "medium"
            )
        );
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.frames, vec![4, 5]);
        assert_eq!(a.ts_us, ts(5));
        assert_eq!(all, vec!["handshake_aborted"]);
    }
}

#[test]
fn client_gives_up_with_rst() {
    let mut f = after_server_flight(vec![]);
    close(&mut f, C, true, 6);
    // The server's later FIN does not change who ended it.
    close(&mut f, S, false, 8);
    let (a, all) = aborted(&f);
    assert_eq!(
        diag(&a),
        (
            "client",
            "server_hello_done",
            "rst",
            "client_gave_up",
            "low"
        )
    );
    assert_eq!(a.frames, vec![4, 6]);
    assert_eq!(all, vec!["handshake_aborted"]);
    assert!(a.evidence["because"]
        .to_string()
        .contains("only the close points to it: 1 ms is too soon for a timeout"));
    // A RST two seconds after the server's flight: a timeout, more than a guess.
    let mut f = after_server_flight(vec![]);
    close(&mut f, C, true, 2005);
    let (a, _) = aborted(&f);
    assert_eq!(
        (ev(&a, "likely_cause"), ev(&a, "confidence")),
        ("client_gave_up", "medium")
    );
    assert!(a.evidence["because"]
        .to_string()
        .contains("the client waited 2000 ms: as long as a client timeout"));
}

#[test]
fn silent_server_on_timeout_or_capture_end() {
    for (end, how) in [
        (EndReason::Timeout, "timeout"),
        (EndReason::Evicted, "timeout"),
        (EndReason::CaptureEnd, "capture_end"),
    ] {
        let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
        f.end = end;
        let (a, all) = aborted(&f);
        assert_eq!(
            diag(&a),
            ("unknown", "client_hello", how, "unknown", "low"),
            "{end:?}"
        );
        assert_eq!(a.severity, Severity::Medium);
        assert_eq!(a.frames, vec![4]);
        assert_eq!(a.ts_us, f.last_ts_us);
        assert!(a.explanation.contains("never answered"));
        assert_eq!(all, vec!["handshake_aborted"]);
    }
}

#[test]
fn quiet_after_server_answer_is_unknown_low() {
    let mut f = after_server_flight(vec![]);
    f.end = EndReason::CaptureEnd;
    let (a, _) = aborted(&f);
    assert_eq!(
        diag(&a),
        (
            "unknown",
            "server_hello_done",
            "capture_end",
            "unknown",
            "low"
        )
    );
    assert!(a.explanation.contains("went quiet"));
}

#[test]
fn via_is_reported() {
    let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
    f.preamble.via = Some(crate::cleartext::Via::StartTls(
        crate::cleartext::AppProtocol::Smtp,
    ));
    close(&mut f, S, false, 5);
    let (a, _) = aborted(&f);
    assert_eq!(ev(&a, "via"), "starttls");
    assert!(aborted(&tls_flow(
        client_hello(),
        None,
        vec![],
        HandshakeStage::ClientHello
    ))
    .0
    .evidence["via"]
        .is_null());
}

#[test]
fn established_flows_and_flows_without_client_hello_raise_nothing() {
    let f = healthy12();
    assert!(evaluate(&f).is_empty(), "{:?}", kinds(&evaluate(&f)));
    assert!(run(&super::HANDSHAKE_ABORTED, &f).is_empty());

    // Established even though the client reset at the end.
    let mut f = healthy12();
    f.fin = [None, None];
    close(&mut f, C, true, 9);
    assert!(run(&super::HANDSHAKE_ABORTED, &f).is_empty());

    // No TLS at all, and TLS bytes without a ClientHello (server side only).
    assert!(run(&super::HANDSHAKE_ABORTED, &flow()).is_empty());
    let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::None);
    f.tls.as_mut().unwrap().client_hello = None;
    assert!(run(&super::HANDSHAKE_ABORTED, &f).is_empty());
}

/// Minimal TLS 1.2 ClientHello record (only its first bytes matter to the sniffer).
const CH: &[u8] = &[
    0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00,
];

#[test]
fn refused_pipelined_connect_is_a_proxy_problem() {
    // The client pipelines its ClientHello behind CONNECT; the proxy says 403 and closes.
    let mut request =
        b"CONNECT blocked.example:443 HTTP/1.1\r\nHost: blocked.example:443\r\n\r\n".to_vec();
    request.extend_from_slice(CH);
    let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
    on_port(&mut f, 3128);
    cleartext(
        &mut f,
        &[
            (Dir::ToServer, &request, 4),
            (
                Dir::ToClient,
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
                5,
            ),
        ],
    );
    close(&mut f, Dir::ToClient, false, 6);
    aborted(&f); // records the cause that decided
    let all = evaluate(&f);
    let p = one(&all, "proxy_connect_failed");
    assert_eq!(p.evidence["status"], 403);
    let a = one(&all, "handshake_aborted");
    assert_eq!(ev(a, "likely_cause"), "proxy", "{}", a.explanation);
    assert_eq!(ev(a, "confidence"), "high");
    assert_eq!(ev(a, "via"), "connect_proxy");
    assert_eq!(ev(a, "aborted_by"), "server");
    assert!(a.explanation.contains("403"), "{}", a.explanation);
    assert!(!kinds(&all).contains(&"tls_to_plaintext_port"));
}

#[test]
fn every_branch_lists_decisive_facts_with_frames() {
    // Version mismatch: the offer-vs-choice verdict names versions and frames.
    let ch = ClientHello {
        supported_versions: vec![0x0301, 0x0302],
        ..client_hello()
    };
    let mut f = tls_flow(
        ch,
        None,
        vec![alert(S, 5, 2, 70)],
        HandshakeStage::ClientHello,
    );
    close(&mut f, S, false, 6);
    let (a, _) = aborted(&f);
    let because: Vec<&str> = a.evidence["because"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        because[0],
        "ClientHello at frame 4 offers TLS 1.0-1.1 with 3 cipher suite(s)"
    );
    assert_eq!(
        because[1],
        "alert protocol_version from the server at frame 5"
    );
    assert!(
        because
            .iter()
            .any(|b| b.starts_with("version_mismatch (frames 4, 5)")),
        "{because:?}"
    );
    assert!(because.contains(
        &"client offers TLS 1.0-1.1 only (frame 4); server answered protocol_version (frame 5): it requires TLS 1.2 or newer"
    ));
    assert!(
        a.explanation
            .contains("Offer vs choice: Client offers TLS 1.0-1.1 only"),
        "{}",
        a.explanation
    );
    assert_eq!(a.evidence["offer_vs_choice"].as_array().unwrap().len(), 1);
    assert_eq!(
        a.evidence["server_choice"]["rejected_with"],
        "protocol_version"
    );
    assert_eq!(ev(&a, "capture_quality"), "ok");

    // Certificate rejected: the leaf and the certificate finding, with frames.
    let mut f = after_server_flight(vec![alert(C, 6, 2, 45)]);
    f.server_certs = vec![Ok(cert(
        "CN=www.example.com",
        "CN=CA",
        NOW - 400 * 86_400,
        NOW - 30 * 86_400,
    ))];
    let (a, _) = aborted(&f);
    let b = a.evidence["because"].to_string();
    assert!(
        b.contains("server Certificate at frame 5: CN=www.example.com issued by CN=CA"),
        "{b}"
    );
    assert!(b.contains("certificate_expired (frame 5)"), "{b}");
    assert!(b.contains("offer and choice agree: the server chose TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), "{b}");

    // Client gave up: how long after the server's last message.
    let mut f = after_server_flight(vec![]);
    close(&mut f, C, true, 6);
    let (a, _) = aborted(&f);
    assert!(
        a.evidence["because"]
            .to_string()
            .contains("the client closed 1 ms after the server's last TLS message (frame 5)"),
        "{}",
        a.evidence["because"]
    );

    // Server closed without alert, silent server: what the server did (not) send.
    let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
    close(&mut f, S, false, 5);
    let (a, _) = aborted(&f);
    assert!(a.evidence["because"]
        .to_string()
        .contains("no TLS message from the server before it closed"));
    assert!(a.evidence["because"]
        .to_string()
        .contains("the server chose nothing: no ServerHello"));
}

#[test]
fn client_certificate_not_sent_is_named() {
    let mut f = tls_flow(
        client_hello(),
        Some(server_hello(0x0303, 0xc02f)),
        vec![
            hs(S, 5, 2),
            hs(S, 5, 11),
            hs(S, 5, 13),
            hs(S, 5, 14),
            hs(C, 6, 11),
            hs(C, 6, 16),
            alert(S, 7, 2, 40),
        ],
        HandshakeStage::ClientKeyExchange,
    );
    f.server_certs = vec![Ok(leaf("www.example.com"))];
    let (a, _) = aborted(&f);
    assert_eq!(ev(&a, "likely_cause"), "client_certificate");
    assert!(
        a.explanation
            .contains("the client sent none (an empty Certificate message)"),
        "{}",
        a.explanation
    );
    assert!(
        a.explanation.contains(
            "The server asked for a client certificate (frame 5) and the client sent none"
        ),
        "{}",
        a.explanation
    );
    let b = a.evidence["because"].to_string();
    assert!(
        b.contains("CertificateRequest from the server at frame 5"),
        "{b}"
    );
    assert!(b.contains("client Certificate at frame 6 is empty"), "{b}");
}

#[test]
fn damaged_captures_say_so_and_lower_confidence() {
    // Midstream.
    let mut f = after_server_flight(vec![alert(C, 6, 2, 45)]);
    f.midstream = true;
    f.syn = None;
    f.syn_ack = None;
    let (a, _) = aborted(&f);
    assert_eq!(ev(&a, "capture_quality"), "midstream");
    assert_eq!(ev(&a, "confidence"), "medium");
    assert!(a
        .explanation
        .contains("Capture quality: the capture starts mid-stream"));

    // Gaps in the client's stream.
    let mut f = after_server_flight(vec![alert(C, 6, 2, 45)]);
    f.stream_stats[C.index()].gaps = 1;
    f.stream_stats[C.index()].gap_bytes = 1200;
    let (a, _) = aborted(&f);
    assert_eq!(ev(&a, "capture_quality"), "gaps");
    assert_eq!(ev(&a, "confidence"), "medium");
    assert!(a.evidence["capture_issues"][0]
        .as_str()
        .unwrap()
        .contains("1200 bytes missing from the client's stream"));

    // One-sided: the server's direction was never captured.
    let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
    f.packets = [4, 0];
    f.payload_bytes = [300, 0];
    f.ttl_range[S.index()] = None;
    f.end = EndReason::CaptureEnd;
    let (a, _) = aborted(&f);
    assert_eq!(ev(&a, "capture_quality"), "one_sided");
    assert_eq!(ev(&a, "confidence"), "low");
    assert!(
        a.evidence["because"]
            .to_string()
            .contains("capture: one-sided capture: no packet from the server"),
        "{}",
        a.evidence["because"]
    );
}

#[test]
fn rst_with_a_foreign_ttl_was_injected_by_a_middlebox() {
    let mut f = tls_flow(client_hello(), None, vec![], HandshakeStage::ClientHello);
    f.ttl_range[S.index()] = Some((52, 52));
    close(&mut f, S, true, 5);
    f.rst[S.index()].as_mut().unwrap().ttl = 250;
    let (a, _) = aborted(&f);
    assert_eq!(
        diag(&a),
        ("middlebox", "client_hello", "rst", "network", "high")
    );
    assert_eq!(a.evidence["ttl"]["rst"], 250);
    assert_eq!(a.evidence["ttl"]["server"][0], 52);
    assert!(a.evidence["because"]
        .to_string()
        .contains("RST at frame 5 has TTL 250; the server's other packets have TTL 52"));
    assert!(a.explanation.contains("injected by a middlebox"));
    assert!(a.summary.contains("aborted by the middlebox"));

    // A few hops apart: medium. Within the margin: the server's own RST.
    f.rst[S.index()].as_mut().unwrap().ttl = 60;
    assert_eq!(diag(&aborted(&f).0).4, "medium");
    f.rst[S.index()].as_mut().unwrap().ttl = 54;
    assert_eq!(
        diag(&aborted(&f).0),
        (
            "server",
            "client_hello",
            "rst",
            "server_closed_without_alert",
            "medium"
        )
    );
    // A client-side injected RST toward the server.
    let mut f = after_server_flight(vec![]);
    close(&mut f, C, true, 6);
    f.rst[C.index()].as_mut().unwrap().ttl = 128;
    assert_eq!(ev(&aborted(&f).0, "aborted_by"), "middlebox");
}

/// TLS 1.3, no keys: the client's flight (an empty Certificate of 25 bytes, Finished),
/// then the server's alert-sized record and FIN.
fn tls13_refused(client_flight: &[u16]) -> crate::flow::FlowRecord {
    let mut events = vec![hs(S, 5, 2), event(S, 5, TlsEventKind::ChangeCipherSpec)];
    for len in [23, 60, 2000, 280, 53] {
        events.push(event(S, 5, TlsEventKind::EncryptedHandshake { len }));
    }
    events.push(event(C, 6, TlsEventKind::ChangeCipherSpec));
    events.push(event(
        C,
        6,
        TlsEventKind::EncryptedHandshake {
            len: client_flight[0],
        },
    ));
    for &len in &client_flight[1..] {
        events.push(event(C, 6, TlsEventKind::ApplicationData { len }));
    }
    events.push(event(S, 7, TlsEventKind::EncryptedAlert { len: 19 }));
    let mut f = tls_flow(
        client_hello13(),
        Some(server_hello13()),
        events,
        HandshakeStage::Finished,
    );
    close(&mut f, S, false, 8);
    f
}

#[test]
fn tls13_server_alert_after_the_client_flight_is_a_client_certificate_problem() {
    let (a, all) = aborted(&tls13_refused(&[25, 69]));
    assert_eq!(all, vec!["tls_alert", "handshake_aborted"]);
    assert_eq!(
        diag(&a),
        ("server", "finished", "alert", "client_certificate", "high")
    );
    let because = a.evidence["because"].to_string();
    assert!(
        because.contains("2 encrypted records (25, 69 bytes): a Certificate before its Finished")
    );
    assert!(because.contains("the size of an empty Certificate"));
    assert!(because.contains("the server's encrypted flight has 5 records"));
    // A certificate sent (Certificate, CertificateVerify, Finished) and refused.
    let (a, _) = aborted(&tls13_refused(&[900, 280, 69]));
    assert_eq!(ev(&a, "confidence"), "high");
    assert!(a
        .explanation
        .contains("did not accept the certificate the client sent"));
    // A single record (Finished only): no CertificateRequest shows, so low.
    let (a, _) = aborted(&tls13_refused(&[69]));
    assert_eq!(
        (ev(&a, "likely_cause"), ev(&a, "confidence")),
        ("client_certificate", "low")
    );
}

#[test]
fn frag_needed_about_the_stalled_flight_is_evidence_with_its_mtu() {
    let mut f = tls_flow(
        client_hello(),
        Some(server_hello(0x0303, 0xc02f)),
        vec![hs(S, 5, 2)],
        HandshakeStage::ServerHello,
    );
    f.payload_bytes = [300, 4000];
    f.stream_stats[S.index()].retransmitted = 4;
    f.icmp.push(crate::flow::IcmpEvent {
        frame: 7,
        ts_us: ts(7),
        sender: "10.0.0.254".parse().unwrap(),
        about: S,
        v6: false,
        icmp_type: 3,
        code: 4,
        name: "frag_needed",
        mtu: Some(1400),
    });
    f.icmp_count = 3;
    close(&mut f, C, false, 20);
    let (a, all) = aborted(&f);
    assert_eq!(
        all,
        vec!["handshake_aborted"],
        "a path-MTU signal refuses nothing"
    );
    assert_eq!(
        diag(&a),
        ("client", "server_hello", "fin", "network", "high")
    );
    assert_eq!(a.frames, vec![4, 7, 20]);
    assert_eq!(a.evidence["path_mtu"]["mtu"], 1400);
    assert!(a.evidence["because"].to_string().contains(
        "ICMP frag needed from 10.0.0.254 at frame 7 (MTU 1400) about the server's segment (3 ICMP errors"
    ));
    assert!(a.explanation.contains("a router did report it"));
}

#[test]
fn the_first_closer_ended_it_and_the_later_alert_is_a_reaction() {
    // The server's FIN at frame 5, then the client's decode_error (50) at frame 6.
    let mut f = tls_flow(
        client_hello(),
        None,
        vec![alert(C, 6, 2, 50)],
        HandshakeStage::ClientHello,
    );
    close(&mut f, S, false, 5);
    close(&mut f, C, false, 7);
    let (a, all) = aborted(&f);
    assert_eq!(all, vec!["tls_alert", "handshake_aborted"]);
    assert_eq!(
        diag(&a),
        (
            "server",
            "client_hello",
            "fin",
            "server_closed_without_alert",
            "medium"
        )
    );
    assert!(a.evidence["alert"].is_null());
    assert_eq!(a.evidence["reaction_alert"]["description"], "decode_error");
    assert_eq!(a.frames, vec![4, 5, 6]);
    assert!(a.evidence["because"].to_string().contains(
        "the client's fatal decode_error alert at frame 6 came after that fin: a reaction to the close"
    ));

    // The same alert before the server's FIN ended the handshake itself.
    let mut f = tls_flow(
        client_hello(),
        None,
        vec![alert(C, 5, 2, 50)],
        HandshakeStage::ClientHello,
    );
    close(&mut f, S, false, 6);
    let (a, _) = aborted(&f);
    assert_eq!((ev(&a, "aborted_by"), ev(&a, "how")), ("client", "alert"));
    assert!(a.evidence.get("reaction_alert").is_none());
    // A side's own close after its own alert changes nothing either.
    let mut f = tls_flow(
        client_hello(),
        None,
        vec![alert(C, 6, 2, 50)],
        HandshakeStage::ClientHello,
    );
    close(&mut f, C, true, 5);
    let (a, _) = aborted(&f);
    assert_eq!((ev(&a, "aborted_by"), ev(&a, "how")), ("client", "alert"));
}

#[test]
fn heartbleed_probe_is_the_cause_whatever_the_certificate() {
    // Zeek's heartbleed trace: server flight, then the client's oversized heartbeat
    // request and its FIN; a certificate problem on the flow does not take over.
    let mut f = tls_flow(
        client_hello(),
        Some(server_hello(0x0303, 0xc02f)),
        vec![
            hs(S, 5, 2),
            hs(S, 6, 11),
            hs(S, 7, 14),
            event(
                C,
                9,
                TlsEventKind::Heartbeat {
                    len: 16368,
                    payload_len_claimed: 16365,
                },
            ),
        ],
        HandshakeStage::ServerHelloDone,
    );
    f.server_certs = vec![Ok(cert("CN=localhost", "CN=localhost", 0, 1))];
    close(&mut f, C, false, 10);
    let (a, _) = aborted(&f);
    assert_eq!(
        diag(&a),
        (
            "client",
            "server_hello_done",
            "fin",
            "heartbleed_probe",
            "high"
        )
    );
    assert_eq!(a.frames, vec![4, 9, 10]);
    assert!(a.evidence["because"]
        .to_string()
        .contains("claiming 16365 bytes of payload in a 16368-byte record (frame 9)"));
}

#[test]
fn stalled_certificate_flight_is_a_network_problem() {
    // The server sent ServerHello and part of a large certificate flight, retransmitted
    // it, the client never answered and gave up.
    let mut f = tls_flow(
        client_hello(),
        Some(server_hello(0x0303, 0xc02f)),
        vec![hs(S, 5, 2)],
        HandshakeStage::ServerHello,
    );
    f.payload_bytes = [300, 4000];
    f.stream_stats[S.index()].retransmitted = 4;
    close(&mut f, C, true, 20);
    let (a, _) = aborted(&f);
    assert_eq!(
        diag(&a),
        ("client", "server_hello", "rst", "network", "medium")
    );
    assert!(a.explanation.contains("path MTU"), "{}", a.explanation);
    assert!(a.evidence["because"]
        .to_string()
        .contains("the server retransmitted 4 segments"));

    // Only bytes missing from the capture, nothing retransmitted: a lossy capture looks
    // the same, so the network is a low-confidence guess.
    f.stream_stats[S.index()].retransmitted = 0;
    f.stream_stats[S.index()].gaps = 1;
    f.stream_stats[S.index()].gap_bytes = 1400;
    let (a, _) = aborted(&f);
    assert_eq!(
        (ev(&a, "likely_cause"), ev(&a, "confidence")),
        ("network", "low")
    );
    assert!(a.evidence["because"]
        .to_string()
        .contains("only bytes missing from the capture point to the network"));

    // Zero window from the client, capture ends.
    let mut f = tls_flow(
        client_hello(),
        Some(server_hello(0x0303, 0xc02f)),
        vec![hs(S, 5, 2)],
        HandshakeStage::ServerHello,
    );
    f.payload_bytes = [300, 4000];
    f.zero_window[C.index()] = 3;
    f.end = EndReason::CaptureEnd;
    let (a, _) = aborted(&f);
    assert_eq!(ev(&a, "likely_cause"), "network");
    assert!(a.evidence["because"]
        .to_string()
        .contains("zero receive window 3 times"));

    // A single retransmission is normal: not blamed on the network.
    let mut f = after_server_flight(vec![]);
    f.payload_bytes = [300, 4000];
    f.stream_stats[S.index()].retransmitted = 1;
    close(&mut f, C, true, 6);
    assert_eq!(ev(&aborted(&f).0, "likely_cause"), "client_gave_up");
}

/// The cause, confidence and `because` of an aborted flow, with the given earlier findings.
fn diagnosed(
    f: &crate::flow::FlowRecord,
    earlier: Vec<Finding>,
) -> (&'static str, &'static str, Vec<String>) {
    let tls = f.tls.as_ref().unwrap();
    let env = crate::config::RuleEnv::default();
    let mut ctx = crate::rules::RuleCtx::new(f, &env);
    ctx.findings = earlier;
    ctx.enter(&super::HANDSHAKE_ABORTED);
    let (name, d) = super::diagnose_named(&ctx, tls, &super::ending(f, tls));
    (name, d.confidence, d.because)
}

fn weak_chain_finding() -> Finding {
    Finding::new(
        crate::rules::Kind::CertificateWeak,
        crate::rules::Severity::Medium,
        ts(5),
    )
    .frames([5])
    .summary("The intermediate CN=Old CA is signed with SHA-1.")
}

#[test]
fn a_weak_intermediate_and_a_fin_is_a_low_confidence_guess() {
    let mut f = after_server_flight(vec![]);
    close(&mut f, C, false, 6);
    let (name, confidence, because) = diagnosed(&f, vec![weak_chain_finding()]);
    assert_eq!((name, confidence), ("client_left_after_certificate", "low"));
    assert!(
        because
            .iter()
            .any(|b| b.starts_with("only timing ties the close")),
        "{because:?}"
    );
    assert!(
        because
            .iter()
            .any(|b| b.starts_with("certificate_weak (frame 5)")),
        "{because:?}"
    );
}

#[test]
fn heartbeats_before_the_close_are_no_certificate_rejection() {
    let mut f = after_server_flight(vec![event(
        C,
        6,
        TlsEventKind::Heartbeat {
            len: 19,
            payload_len_claimed: 0,
        },
    )]);
    close(&mut f, C, false, 7);
    let (name, _, because) = diagnosed(&f, vec![weak_chain_finding()]);
    assert_eq!(name, "client_gave_up", "{because:?}");
}

#[test]
fn a_handshake_under_way_when_the_capture_stopped_is_low() {
    let mut f = after_server_flight(vec![]);
    f.end = EndReason::CaptureEnd;
    f.syn = Some(1);
    f.last_frame = 5;
    f.last_ts_us = ts(5);
    f.capture_end_floor_us = Some(ts(5) - 500_000);
    let (a, _) = aborted(&f);
    assert_eq!((a.severity.as_str(), ev(&a, "confidence")), ("low", "low"));
    assert!(a.evidence["because"]
        .to_string()
        .contains("the flow's last packet (frame 5) is in the capture's last second"));
    // The capture went on for a minute after it: the handshake did stall.
    f.capture_end_floor_us = Some(ts(5) + 60_000_000);
    assert_eq!(aborted(&f).0.severity.as_str(), "medium");
}
