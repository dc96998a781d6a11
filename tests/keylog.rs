//! Decryption with key logs, on the samples in samples/keylog/ (real sessions and the key
//! logs their clients wrote): every decrypted alert and every certificate agrees with
//! tshark's dissection with the same key log, no secret reaches any output, a key log for
//! other sessions changes nothing, and a pcapng's own Decryption Secrets Block is used
//! without an option. Every line printed matches the schema.
//!
//! The tshark cross-checks need `tshark` (`.ci/run` installs it); they are skipped with a
//! printed reason when it is absent, except under `CI=true`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/keylog")
}

/// The decrypting samples: (capture, key log).
const SAMPLES: &[&str] = &[
    "tls13-expired",
    "tls13-wrong-name",
    "tls13-mtls-required",
    "tls13-chacha-ok",
    "tls13-ccm-ok",
    "tls13-ccm8-ok",
    "tls12-gcm-ok",
    "tls12-cbc-etm",
    "tls12-cbc-sha384",
];

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .output()
        .expect("run tlstriage");
    assert!(
        out.status.success(),
        "tlstriage {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn ndjson(capture: &Path, keylogs: &[PathBuf]) -> Vec<Value> {
    let mut args = vec!["read", "--format", "ndjson", "--flows"];
    let keylogs: Vec<String> = keylogs.iter().map(|k| k.display().to_string()).collect();
    for k in &keylogs {
        args.extend(["--keylog", k.as_str()]);
    }
    let capture = capture.display().to_string();
    args.push(&capture);
    let text = run(&args);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/tlstriage.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{l}\n{errors:#?}");
            v
        })
        .collect()
}

fn of_type<'a>(records: &'a [Value], t: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

/// (frame, description code) of every tls_alert finding with a visible description.
fn our_alerts(records: &[Value]) -> BTreeSet<(u64, u64)> {
    of_type(records, "finding")
        .into_iter()
        .filter(|f| f["kind"] == "tls_alert" && f["evidence"]["description_code"].is_u64())
        .map(|f| {
            (
                f["frames"][0].as_u64().unwrap(),
                f["evidence"]["description_code"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// tshark's fields for the packets matching `filter`, decrypting with `keylog`.
fn tshark(capture: &Path, keylog: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let keylog = format!("tls.keylog_file:{}", keylog.display());
    // Every sample's port is outside tshark's defaults.
    let options = ["-o", &keylog, "-d", "tcp.port==4601-4608,tls", "-Y", filter];
    common::tshark_fields(capture, &options, fields)
}

#[test]
fn decrypted_alerts_and_certificates_agree_with_tshark() {
    if !common::tshark_available() {
        return;
    }
    for name in SAMPLES {
        let capture = dir().join(format!("{name}.pcap"));
        let keylog = dir().join(format!("{name}.keys"));
        let records = ndjson(&capture, std::slice::from_ref(&keylog));
        let theirs: BTreeSet<(u64, u64)> = tshark(
            &capture,
            &keylog,
            "tls.alert_message.desc",
            &["frame.number", "tls.alert_message.desc"],
        )
        .into_iter()
        .flat_map(|row| {
            let frame: u64 = row[0].parse().unwrap();
            row[1]
                .split(',')
                .map(move |d| (frame, d.parse::<u64>().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
        assert!(!theirs.is_empty(), "{name}: tshark decrypted no alert");
        assert_eq!(our_alerts(&records), theirs, "{name}: alerts (frame, code)");
        // The certificates, by SHA-256 of their DER, in order.
        let der_hex = tshark(
            &capture,
            &keylog,
            "tls.handshake.type == 11",
            &["tls.handshake.certificate"],
        );
        let theirs: Vec<String> = der_hex
            .iter()
            .flat_map(|row| row[0].split(','))
            .filter(|h| !h.is_empty())
            .map(|h| sha256_hex(&unhex(h)))
            .collect();
        let flows = of_type(&records, "tls_flow");
        assert_eq!(flows.len(), 1, "{name}");
        let flow = flows[0];
        assert_eq!(flow["decrypted"], true, "{name}");
        let ours: Vec<String> = flow["cert_chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["sha256"]
                    .as_str()
                    .unwrap()
                    .replace(':', "")
                    .to_lowercase()
            })
            .collect();
        assert_eq!(ours, theirs, "{name}: certificate chain");
        let stats = of_type(&records, "capture_stats");
        assert_eq!(stats[0]["tls_flows_decrypted"], 1, "{name}");
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(char::is_ascii_hexdigit).collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_diagnosis_reads_the_decrypted_alert_and_certificates() {
    let aborted = |name: &str| -> Value {
        let records = ndjson(
            &dir().join(format!("{name}.pcap")),
            &[dir().join(format!("{name}.keys"))],
        );
        of_type(&records, "finding")
            .into_iter()
            .find(|f| f["kind"] == "handshake_aborted")
            .cloned()
            .unwrap_or_else(|| panic!("{name}: no handshake_aborted"))
    };
    let mtls = aborted("tls13-mtls-required");
    assert_eq!(mtls["evidence"]["likely_cause"], "client_certificate");
    assert_eq!(mtls["evidence"]["aborted_by"], "server");
    assert!(mtls["summary"]
        .as_str()
        .unwrap()
        .contains("certificate_required"));
    let expired = aborted("tls13-expired");
    assert_eq!(expired["evidence"]["likely_cause"], "certificate_rejected");
    assert!(expired["explanation"]
        .as_str()
        .unwrap()
        .contains("expired on 2021-01-01"));
    let wrong = aborted("tls13-wrong-name");
    assert_eq!(wrong["evidence"]["likely_cause"], "name_mismatch");
    // Without keys the same captures are only inferred from record sizes.
    let blind = ndjson(&dir().join("tls13-mtls-required.pcap"), &[]);
    assert!(of_type(&blind, "tls_flow")[0].get("decrypted").is_none());
    assert!(of_type(&blind, "finding")
        .iter()
        .any(|f| f["kind"] == "tls_alert" && f["evidence"]["encrypted"] == true));
}

#[test]
fn a_key_log_for_other_sessions_changes_nothing() {
    for name in SAMPLES {
        let capture = dir().join(format!("{name}.pcap"));
        let findings = |records: &[Value]| -> Vec<String> {
            of_type(records, "finding")
                .iter()
                .map(|f| format!("{} {}", f["kind"], f["summary"]))
                .collect()
        };
        let with = ndjson(&capture, &[dir().join("unrelated.keys")]);
        let without = ndjson(&capture, &[]);
        assert_eq!(findings(&with), findings(&without), "{name}");
        assert!(of_type(&with, "tls_flow")[0].get("decrypted").is_none());
        let stats = of_type(&with, "capture_stats")[0];
        assert_eq!(stats["tls_flows_decrypted"], 0);
        assert_eq!(stats["keylog_sessions"], 1);
        assert!(of_type(&without, "capture_stats")[0]
            .get("tls_flows_decrypted")
            .is_none());
    }
}

#[test]
fn a_pcapng_decryption_secrets_block_is_used_without_an_option() {
    let records = ndjson(&dir().join("tls12-gcm-dsb.pcapng"), &[]);
    assert_eq!(of_type(&records, "tls_flow")[0]["decrypted"], true);
    let closing: Vec<&Value> = of_type(&records, "finding")
        .into_iter()
        .filter(|f| f["kind"] == "tls_alert")
        .collect();
    assert_eq!(closing.len(), 2);
    for f in closing {
        assert_eq!(f["evidence"]["description"], "close_notify");
        assert_eq!(f["evidence"]["decrypted"], true);
    }
}

/// Every secret of a key log (its lines' third field), lower case.
fn key_log_secrets(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_lowercase))
        .collect()
}

#[test]
fn no_secret_appears_in_any_output() {
    for name in SAMPLES {
        let capture = dir().join(format!("{name}.pcap")).display().to_string();
        let keylog = dir().join(format!("{name}.keys"));
        let k = keylog.display().to_string();
        let secrets = key_log_secrets(&keylog);
        assert!(!secrets.is_empty());
        for format in ["ndjson", "human", "ecs"] {
            let out = run(&[
                "read", "--format", format, "--flows", "-v", "--keylog", &k, &capture,
            ])
            .to_lowercase();
            // Hex digits only, so that a secret split by separators is found too.
            let digits: String = out.chars().filter(char::is_ascii_hexdigit).collect();
            for s in &secrets {
                assert!(
                    !digits.contains(&s[..24]),
                    "{name} {format}: a secret from the key log is printed"
                );
            }
        }
    }
}

#[test]
fn an_unreadable_key_log_is_an_error_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["read", "--keylog", "/nonexistent/keys.log"])
        .arg(dir().join("tls12-gcm-ok.pcap"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/keys.log"));
}

#[test]
fn secrets_that_do_not_fit_are_reported_and_the_flow_analysed_as_without_keys() {
    // The session's own key log with every secret's first byte changed: same client_random.
    let real = std::fs::read_to_string(dir().join("tls13-mtls-required.keys")).unwrap();
    let wrong: String = real
        .lines()
        .map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [label, random, secret] => {
                let flipped = if secret.starts_with('0') { "1" } else { "0" };
                format!("{label} {random} {flipped}{}\n", &secret[1..])
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let path = std::env::temp_dir().join(format!("tlstriage-wrong-{}.keys", std::process::id()));
    std::fs::write(&path, wrong).unwrap();
    let records = ndjson(
        &dir().join("tls13-mtls-required.pcap"),
        std::slice::from_ref(&path),
    );
    std::fs::remove_file(&path).unwrap();
    let flow = of_type(&records, "tls_flow")[0];
    assert!(flow.get("decrypted").is_none());
    let error = flow["decryption_error"].as_str().unwrap();
    assert!(error.contains("did not authenticate"), "{error}");
    let stats = of_type(&records, "capture_stats")[0];
    assert_eq!(stats["tls_flows_decryption_failed"], 1);
    assert_eq!(stats["tls_flows_decrypted"], 0);
    // Still the diagnosis from record sizes, as without keys.
    let blind = ndjson(&dir().join("tls13-mtls-required.pcap"), &[]);
    let kinds = |r: &[Value]| -> Vec<String> {
        of_type(r, "finding")
            .iter()
            .map(|f| f["kind"].to_string())
            .collect()
    };
    assert_eq!(kinds(&records), kinds(&blind));
}
