use std::sync::Arc;

use super::*;
use crate::config::RuleEnv;
use crate::flow::FlowRecord;
use crate::rules::testutil::*;
use crate::rules::{evaluate_with, Finding};
use crate::trust::{TrustStore, Validator};

const C: Dir = Dir::ToServer;

/// RuleEnv with Mozilla's roots plus the fixtures' private root (what `--ca-file root.pem`
/// gives).
fn with_private_root() -> RuleEnv {
    let mut store = TrustStore::mozilla();
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/trust/testdata/root.pem"
    ))
    .unwrap();
    store.add_pem(&pem).unwrap();
    RuleEnv {
        trust: Arc::new(Validator::new(store)),
        ..RuleEnv::default()
    }
}

fn established_with(chain: &str) -> FlowRecord {
    let mut f = healthy12();
    with_server_chain(&mut f, chain);
    f
}

fn rejected_with(chain: &str) -> FlowRecord {
    let mut events = server_flight12(5);
    events.push(alert(C, 6, 2, 48));
    let mut f = tls_flow(
        client_hello(),
        Some(server_hello(0x0303, 0xc02f)),
        events,
        crate::tls::HandshakeStage::ServerHelloDone,
    );
    with_server_chain(&mut f, chain);
    f
}

fn all(f: &FlowRecord, env: &RuleEnv) -> Vec<Finding> {
    evaluate_with(f, env)
}

#[test]
fn a_missing_intermediate_is_high_when_the_client_refused_medium_when_it_went_on() {
    let env = with_private_root();
    let fs = all(&rejected_with("leaf-only.pem"), &env);
    let f = one(&fs, "certificate_chain_incomplete");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(
        ev(f, "missing_issuer"),
        "O=tlstriage test, CN=Test Intermediate"
    );
    assert_eq!(ev(f, "last_sent"), "CN=www.example.test");
    assert_eq!(ev(f, "aia_ca_issuers"), "http://pki.test/int.crt");
    assert_eq!(ev(f, "side"), "server");
    assert_eq!(f.evidence["trust_store"], serde_json::json!(["mozilla"]));
    assert_eq!(f.frames, vec![5]);

    let fs = all(&established_with("leaf-only.pem"), &env);
    assert_eq!(
        one(&fs, "certificate_chain_incomplete").severity,
        Severity::Medium
    );
}

#[test]
fn a_complete_private_chain_is_clean_with_its_root_and_untrusted_without() {
    let fs = all(&established_with("complete.pem"), &with_private_root());
    assert!(
        !kinds(&fs)
            .iter()
            .any(|k| k.contains("chain") || k.contains("untrusted")),
        "{:?}",
        kinds(&fs)
    );
    // Without --ca-file the root is not sent and not known: as the store sees it, an
    // intermediate (the root) is missing. The client went on, so it had it.
    let fs = all(&established_with("complete.pem"), &RuleEnv::default());
    let f = one(&fs, "certificate_chain_incomplete");
    assert_eq!(ev(f, "missing_issuer"), "O=tlstriage test, CN=Test Root");
    assert_eq!(f.severity, Severity::Medium);
}

#[test]
fn a_sent_unknown_root_is_untrusted_and_the_order_is_evidence() {
    let fs = all(
        &established_with("complete-with-root.pem"),
        &RuleEnv::default(),
    );
    let f = one(&fs, "certificate_untrusted");
    assert_eq!(ev(f, "reason"), "unknown_root");
    assert_eq!(ev(f, "root_subject"), "O=tlstriage test, CN=Test Root");
    assert_eq!(f.severity, Severity::Low, "the client trusted it");
    assert_eq!(f.evidence["chain_order"], serde_json::json!(["root_sent"]));

    let fs = all(&rejected_with("bad-signature.pem"), &with_private_root());
    let f = one(&fs, "certificate_untrusted");
    assert_eq!(ev(f, "reason"), "bad_signature");
    assert_eq!(f.severity, Severity::High);
}

#[test]
fn a_lone_self_signed_leaf_is_only_certificate_self_signed() {
    let fs = all(&rejected_with("self-signed.pem"), &RuleEnv::default());
    assert!(
        kinds(&fs).contains(&"certificate_self_signed"),
        "{:?}",
        kinds(&fs)
    );
    assert!(
        !kinds(&fs).contains(&"certificate_untrusted"),
        "{:?}",
        kinds(&fs)
    );
}

#[test]
fn an_expired_intermediate_leaves_trust_to_another_moment() {
    let mut f = established_with("expired-intermediate.pem");
    // Move the capture past the intermediate's end (a 30-day certificate).
    let shift = 40 * 86_400 * 1_000_000;
    f.first_ts_us += shift;
    for e in &mut f.tls.as_mut().unwrap().events {
        e.ts_us += shift;
    }
    let fs = all(&f, &RuleEnv::default());
    let expired = one(&fs, "certificate_expired");
    assert_eq!(expired.evidence["chain_position"], 1);
    let inc = one(&fs, "certificate_chain_incomplete");
    let int_end = f.server_certs[1].as_ref().unwrap().not_after;
    assert_eq!(ev(inc, "decided_at"), format_secs(int_end));
    // With the root trusted, only the dates are wrong.
    let fs = all(&f, &with_private_root());
    assert!(
        !kinds(&fs).contains(&"certificate_chain_incomplete"),
        "{:?}",
        kinds(&fs)
    );
    assert!(
        !kinds(&fs).contains(&"certificate_untrusted"),
        "{:?}",
        kinds(&fs)
    );
}

#[test]
fn a_client_chain_is_validated_for_client_auth() {
    let mut f = established_with("complete.pem");
    let tls = f.tls.as_mut().unwrap();
    tls.client_cert_der = std::mem::take(&mut tls.server_cert_der);
    f.client_certs = std::mem::take(&mut f.server_certs);
    let fs = all(&f, &with_private_root());
    let u = one(&fs, "certificate_untrusted");
    assert_eq!(ev(u, "side"), "client");
    assert_eq!(ev(u, "reason"), "wrong_usage");
}

#[test]
fn expires_soon_follows_the_warning_days() {
    let mut f = healthy12();
    let (_, ts) = {
        let env = RuleEnv::default();
        let ctx = RuleCtx::new(&f, &env);
        certificate_event(&ctx)
    };
    let now = ts.div_euclid(1_000_000);
    f.server_certs = vec![
        Ok(cert(
            "CN=soon.example",
            "CN=Int",
            now - 80 * 86_400,
            now + 10 * 86_400 + 5,
        )),
        Ok(ca("CN=Int", "CN=Root")),
    ];
    let fs = run(&CERTIFICATE_EXPIRES_SOON, &f);
    let s = one(&fs, "certificate_expires_soon");
    assert_eq!(s.evidence["days_left"], 10);
    assert_eq!(s.evidence["chain_position"], 0);
    assert_eq!(s.severity, Severity::Low);

    let env = RuleEnv {
        expiry_warning_days: 7,
        ..RuleEnv::default()
    };
    let mut ctx = RuleCtx::new(&f, &env);
    ctx.enter(&CERTIFICATE_EXPIRES_SOON);
    check_expires_soon(&mut ctx);
    assert!(ctx.findings.is_empty(), "{:?}", ctx.findings);
}
