//! Stapled OCSP on the samples in samples/ocsp/ (scripts/make-ocsp-samples.sh: responses
//! made by `openssl ocsp`, served by `openssl s_server -status_file`): the status and dates
//! in `tls_flow`, `certificate_revoked`, `ocsp_staple_invalid` per reason, the responder's
//! signature checked against the issuer from --ca-file, the TLS 1.3 staple read from the
//! decrypted leaf entry, and the diagnosis of the client that refused a stale staple. The
//! status agrees with tshark's OCSP dissector when tshark is there. Every line printed
//! matches the schema.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/ocsp")
}

fn records(name: &str, with_ca: bool) -> Vec<Value> {
    let capture = dir().join(format!("{name}.pcap"));
    let keys = dir().join(format!("{name}.keys"));
    let ca = dir().join("ca.pem");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tlstriage"));
    cmd.args(["read", "--format", "ndjson", "--flows", "--no-system-roots"]);
    if with_ca {
        cmd.arg("--ca-file").arg(&ca);
    }
    if keys.exists() {
        cmd.arg("--keylog").arg(&keys);
    }
    let out = cmd.arg(&capture).output().expect("run tlstriage");
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/tlstriage.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{l}\n{errors:#?}");
            v
        })
        .collect()
}

fn flow(records: &[Value]) -> &Value {
    let flows: Vec<&Value> = records.iter().filter(|r| r["type"] == "tls_flow").collect();
    assert_eq!(flows.len(), 1);
    flows[0]
}

fn kinds(records: &[Value], kind: &str) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["type"] == "finding" && r["kind"] == kind)
        .cloned()
        .collect()
}

#[test]
fn good_staple_is_clean_and_verified() {
    let r = records("good", true);
    let f = flow(&r);
    assert_eq!(f["ocsp_status"], "good");
    assert!(f["ocsp_this_update"].as_str().unwrap() < f["ocsp_next_update"].as_str().unwrap());
    assert!(kinds(&r, "certificate_revoked").is_empty());
    assert!(kinds(&r, "ocsp_staple_invalid").is_empty());
}

#[test]
fn revoked_staple() {
    let r = records("revoked", true);
    assert_eq!(flow(&r)["ocsp_status"], "revoked");
    let f = kinds(&r, "certificate_revoked");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["severity"], "critical");
    assert_eq!(f[0]["evidence"]["revocation_reason"], "keyCompromise");
    assert_eq!(f[0]["evidence"]["subject"], "CN=localhost");
    assert_eq!(
        f[0]["evidence"]["responder_signature"],
        "verified_by_issuer"
    );
    // The CertificateStatus message's frame.
    assert_eq!(f[0]["frames"], serde_json::json!([6]));
    // Without the CA the signature cannot be checked, and the finding says so.
    let r = records("revoked", false);
    let f = kinds(&r, "certificate_revoked");
    assert!(f[0]["evidence"]["responder_signature"]
        .as_str()
        .unwrap()
        .starts_with("not_checked"));
}

#[test]
fn staple_for_another_certificate() {
    let r = records("other-cert", true);
    let f = kinds(&r, "ocsp_staple_invalid");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["evidence"]["reason"], "wrong_certificate");
    assert_eq!(f[0]["evidence"]["status"], "good");
    let leaf_serial = flow(&r)["cert_chain"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let staple_serial = f[0]["evidence"]["staple_serial"].as_str().unwrap();
    assert_ne!(staple_serial, leaf_serial);
    // Same CA, so the signature is the issuer's and verifies.
    assert_eq!(
        f[0]["evidence"]["responder_signature"],
        "verified_by_issuer"
    );
    // The handshake completed: s_client does not refuse it.
    assert_eq!(f[0]["severity"], "medium");
}

#[test]
fn expired_staple_refused_by_gnutls() {
    let r = records("expired", true);
    let f = kinds(&r, "ocsp_staple_invalid");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["evidence"]["reason"], "expired");
    assert_eq!(f[0]["severity"], "high");
    let next = f[0]["evidence"]["next_update"].as_str().unwrap();
    assert!(next < flow(&r)["ts"].as_str().unwrap().get(..20).unwrap());
    let aborted = kinds(&r, "handshake_aborted");
    assert_eq!(aborted.len(), 1);
    let e = &aborted[0]["evidence"];
    assert_eq!(e["likely_cause"], "certificate_rejected");
    assert_eq!(e["alert"], "bad_certificate");
    assert!(
        aborted[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("stale OCSP response"),
        "{}",
        aborted[0]["explanation"]
    );
}

#[test]
fn tls13_staple_in_the_decrypted_leaf_entry() {
    let r = records("tls13-revoked", true);
    let f = flow(&r);
    assert_eq!(f["decrypted"], true);
    assert_eq!(f["ocsp_status"], "revoked");
    let revoked = kinds(&r, "certificate_revoked");
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        revoked[0]["evidence"]["responder_signature"],
        "verified_by_issuer"
    );
}

/// tshark's OCSP dissector on the TLS 1.2 samples: certStatus 0 good, 1 revoked.
#[test]
fn status_agrees_with_tshark() {
    if Command::new("tshark").arg("-v").output().is_err() {
        assert!(std::env::var("CI").is_err(), "tshark is needed under CI");
        eprintln!("skipped: no tshark");
        return;
    }
    for (name, want) in [
        ("good", "good"),
        ("revoked", "revoked"),
        ("expired", "good"),
    ] {
        let out = Command::new("tshark")
            .args(["-r"])
            .arg(dir().join(format!("{name}.pcap")))
            .args(["-Y", "ocsp", "-T", "fields", "-e", "ocsp.certStatus"])
            .output()
            .expect("tshark");
        let theirs = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let theirs = match theirs.as_str() {
            "0" => "good",
            "1" => "revoked",
            other => panic!("{name}: tshark says {other:?}"),
        };
        assert_eq!(theirs, want, "{name}");
        assert_eq!(flow(&records(name, true))["ocsp_status"], want, "{name}");
    }
}
