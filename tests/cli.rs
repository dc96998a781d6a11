//! The binary as a script sees it: exit codes, formats, stdin, one-line errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn tlstriage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run tlstriage")
}

fn ndjson(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tlstriage-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn fail_on_sets_exit_code_1_only_at_or_above_the_threshold() {
    let bad = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--fail-on",
        "high",
        "samples/version-mismatch.pcap",
    ]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let good = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--fail-on",
        "medium",
        "samples/tls13-ok.pcap",
    ]);
    assert_eq!(good.status.code(), Some(0));
    let never = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "samples/version-mismatch.pcap",
    ]);
    assert_eq!(never.status.code(), Some(0));
}

#[test]
fn ndjson_has_findings_flows_and_stats() {
    let out = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--flows",
        "samples/version-mismatch.pcap",
    ]);
    assert!(out.status.success());
    let recs = ndjson(&out);
    let types: Vec<&str> = recs.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"finding"));
    assert_eq!(types.iter().filter(|t| **t == "tls_flow").count(), 1);
    assert_eq!(types.last(), Some(&"capture_stats"));
    let aborted = recs
        .iter()
        .find(|r| r["kind"] == "handshake_aborted")
        .expect("aborted finding");
    assert_eq!(aborted["evidence"]["likely_cause"], "version_mismatch");
    assert_eq!(aborted["wireshark_filter"], "tcp.stream eq 0");
    assert!(recs.iter().all(|r| r["schema"] == 1));
}

#[test]
fn reads_standard_input() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/version-mismatch.pcap"
    ))
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["read", "--format", "ndjson", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(ndjson(&out).iter().any(|r| r["kind"] == "version_mismatch"));
}

#[test]
fn human_summary_is_verdict_then_groups_then_counts() {
    let out = tlstriage(&["read", "--format", "human", "samples/version-mismatch.pcap"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = "\
== samples/version-mismatch.pcap: 10 packets, 1 TCP flows (1 TLS), 0.002 s of traffic

1 of 1 connection failed: 100% version mismatch at 1 server.

Problems, worst first (1 group):

  [high] version mismatch (handshake_aborted) at localhost (127.0.0.1:4433): 1 flow, 1 client
    when: 2026-11-25 03:05:15.345
    what: TLS handshake aborted by the server after the client's ClientHello (alert protocol_version): version mismatch.
    example: tcp.stream 0  127.0.0.1:35340 -> 127.0.0.1:4433  frames 1-10, cited 4, 6  (Wireshark: tcp.stream eq 0)
    why: The server answered the ClientHello with a fatal protocol_version alert: the client offered at most TLSv1.0 and the server accepts none of them: it requires a version newer than TLS 1.0 (in practice TLS 1.2 or newer). Upgrade or reconfigure the client (e.g. enable TLS 1.2/1.3), or, if you must, enable the version on the server. Offer vs choice: Client offers TLS 1.0 only (frame 4); server answered protocol_version (frame 6): it requires a version newer than TLS 1.0 (in practice TLS 1.2 or newer).
    fix: enable a TLS version both ends share: TLS 1.2 or 1.3 on the client, or the client's version on the server
    also on these flows: 1 obsolete_version, 1 tls_alert, 1 version_mismatch

Findings: 4
  high         1  handshake_aborted
  high         1  version_mismatch
  medium       1  obsolete_version
  medium       1  tls_alert
";
    assert_eq!(text, expected);

    // --flows-detail adds every flow with a problem after the summary, worst first.
    let out = tlstriage(&[
        "read",
        "--format",
        "human",
        "--flows-detail",
        "samples/version-mismatch.pcap",
    ]);
    let detail = String::from_utf8_lossy(&out.stdout);
    let tail = detail.strip_prefix(expected).expect(&detail);
    assert_eq!(
        tail.lines().take(5).collect::<Vec<_>>(),
        [
            "",
            "Every flow, worst first, then by time:",
            "",
            "  tcp.stream 0  127.0.0.1:35340 -> 127.0.0.1:4433  sni=localhost  (frames 1-10)",
            "    [high] version_mismatch: The server rejected the client's TLS versions (at most TLSv1.0) with a protocol_version alert.  (frames 4, 6)",
        ]
    );
}

fn assert_one_line_error(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
}

#[test]
fn bad_files_get_a_one_line_error_and_exit_2() {
    let out = tlstriage(&["read", "--format", "ndjson", "/nonexistent/x.pcap"]);
    assert_one_line_error(&out, "/nonexistent/x.pcap");
    for sub in [&["read"][..], &["report", "-o", "/nonexistent/r.html"]] {
        let out = tlstriage(&[sub, &["/nonexistent/x.pcap"]].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches("No such file").count(), 1, "said once: {err}");
    }

    let empty = temp_file("empty.pcap", b"");
    let out = tlstriage(&["read", "--format", "ndjson", empty.to_str().unwrap()]);
    assert_one_line_error(&out, "empty");

    let png = temp_file("picture.pcap", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    let out = tlstriage(&["read", "--format", "ndjson", png.to_str().unwrap()]);
    assert_one_line_error(&out, "PNG");
}

fn pcap_header(linktype: u32) -> Vec<u8> {
    let mut h = Vec::new();
    for field in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, linktype] {
        h.extend_from_slice(&field.to_le_bytes());
    }
    h
}

fn pcapng_block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(12 + body.len()).unwrap();
    let mut b = block_type.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// Section header + one interface of `linktype`.
fn pcapng_start(linktype: u16) -> Vec<u8> {
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut f = pcapng_block(0x0a0d_0d0a, &shb);
    let mut idb = linktype.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&65_535u32.to_le_bytes());
    f.extend(pcapng_block(1, &idb));
    f
}

/// An Enhanced Packet Block on interface 0.
fn pcapng_epb(data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).unwrap();
    let mut body = Vec::new();
    for field in [0u32, 0, 1_000_000, len, len] {
        body.extend_from_slice(&field.to_le_bytes());
    }
    body.extend_from_slice(data);
    body.resize(body.len().next_multiple_of(4), 0);
    pcapng_block(6, &body)
}

#[test]
fn broken_headers_get_a_one_line_error_and_exit_2() {
    // A pcap file header cut short.
    let short = temp_file("short-header.pcap", &pcap_header(1)[..13]);
    let out = tlstriage(&["read", "--format", "ndjson", short.to_str().unwrap()]);
    assert_one_line_error(
        &out,
        "truncated pcap file header: file has 13 of the 24 bytes",
    );

    // A pcapng section header cut short.
    let start = pcapng_start(1);
    let short = temp_file("short-header.pcapng", &start[..20]);
    let out = tlstriage(&["read", "--format", "ndjson", short.to_str().unwrap()]);
    assert_one_line_error(&out, "truncated pcapng section header block");

    // A link type nothing here can decode: named, with the supported list.
    let mut wifi = pcap_header(105);
    wifi.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4]);
    let wifi = temp_file("wifi.pcap", &wifi);
    let out = tlstriage(&["read", "--format", "ndjson", wifi.to_str().unwrap()]);
    assert_one_line_error(&out, "unsupported link type 105 (IEEE 802.11");

    // A record claiming a 4 GiB captured length: the frame is named.
    let mut huge = pcap_header(1);
    huge.extend_from_slice(&[
        1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    huge.extend_from_slice(&[0; 64]);
    let huge = temp_file("huge-caplen.pcap", &huge);
    let out = tlstriage(&["read", "--format", "ndjson", huge.to_str().unwrap()]);
    assert_one_line_error(
        &out,
        "frame 1 (byte offset 24): record claims a captured length of 4294967295 bytes",
    );

    // A pcapng block whose length is not a multiple of 4.
    let mut bad = pcapng_start(1);
    bad.extend_from_slice(&0x0bad_0001u32.to_le_bytes());
    bad.extend_from_slice(&13u32.to_le_bytes());
    bad.extend_from_slice(&[0; 8]);
    let bad = temp_file("bad-block.pcapng", &bad);
    let out = tlstriage(&["read", "--format", "ndjson", bad.to_str().unwrap()]);
    assert_one_line_error(&out, "invalid length 13");
}

/// pcapng readers must skip block types they do not know (the format's rule), and an
/// interface with a link type we cannot decode is a warning naming it, its frames counted
/// as decode errors in `capture_stats`, not a failure.
#[test]
fn pcapng_unknown_blocks_are_skipped_and_unknown_link_types_are_counted() {
    let syn = [
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x9c, 0x40, 1, 0xbb,
        0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];
    let mut f = pcapng_start(228);
    f.extend(pcapng_block(0x0bad_0001, b"not a known block type.."));
    f.extend(pcapng_epb(&syn));
    f.extend(pcapng_block(0x0000_0f0f, &[]));
    let mut idb = 147u16.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0, 0, 0, 1, 0]);
    f.extend(pcapng_block(1, &idb));
    let mut on_if1 = pcapng_epb(&syn);
    on_if1[8] = 1; // interface 1
    f.extend(on_if1);
    let path = temp_file("unknown-blocks.pcapng", &f);
    let out = tlstriage(&["read", "--format", "ndjson", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = ndjson(&out).pop().unwrap();
    assert_eq!(stats["type"], "capture_stats");
    assert_eq!(stats["packets"], 2);
    assert_eq!(stats["tcp_packets"], 1);
    assert_eq!(stats["decode_errors"], 1);
    let warning = stats["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains("interface 1 has unsupported link type 147"),
        "{stats}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("unsupported link type 147"), "{err}");
}

/// Regression: pcapng interfaces whose `if_tsoffset` puts frames at the ends of time used to
/// overflow duration arithmetic (a panic in debug builds). Timestamps are clamped on read.
#[test]
fn extreme_pcapng_timestamps_do_not_overflow() {
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut f = pcapng_block(0x0a0d_0d0a, &shb);
    for offset in [i64::MAX, i64::MIN] {
        let mut idb = 228u16.to_le_bytes().to_vec();
        idb.extend_from_slice(&[0, 0, 0, 0, 1, 0]);
        idb.extend_from_slice(&14u16.to_le_bytes()); // if_tsoffset
        idb.extend_from_slice(&8u16.to_le_bytes());
        idb.extend_from_slice(&offset.to_le_bytes());
        idb.extend_from_slice(&[0, 0, 0, 0]);
        f.extend(pcapng_block(1, &idb));
    }
    let syn = [
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x9c, 0x40, 1, 0xbb,
        0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];
    let mut syn_ack = syn;
    syn_ack[12..16].copy_from_slice(&[10, 0, 0, 2]);
    syn_ack[16..20].copy_from_slice(&[10, 0, 0, 1]);
    syn_ack[20..24].copy_from_slice(&[1, 0xbb, 0x9c, 0x40]);
    syn_ack[33] = 0x12;
    f.extend(pcapng_epb(&syn));
    let mut second = pcapng_epb(&syn_ack);
    second[8] = 1; // interface 1
    f.extend(second);
    let path = temp_file("extreme-ts.pcapng", &f);
    for format in ["ndjson", "human"] {
        let out = tlstriage(&[
            "read",
            "--format",
            format,
            "-v",
            "--flows",
            path.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        if format == "ndjson" {
            // Clamped to dates every output can write, never a negative duration, and said.
            let recs = ndjson(&out);
            for r in &recs {
                for key in ["ts", "first_ts", "last_ts"] {
                    if let Some(ts) = r[key].as_str() {
                        assert!(ts.len() == 27 && !ts.starts_with('@'), "{key}: {ts}");
                    }
                }
            }
            let stats = recs.last().unwrap();
            assert!(stats["duration_s"].as_f64().unwrap() >= 0.0, "{stats}");
            let warnings = stats["warnings"].to_string();
            assert!(
                warnings.contains("2 frame(s) with a timestamp before 1970 or after 9999"),
                "{warnings}"
            );
            assert!(
                warnings.contains("earlier than the frame before"),
                "{warnings}"
            );
        }
    }
}

#[test]
fn a_truncated_capture_is_analyzed_up_to_the_cut_with_a_warning() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/version-mismatch.pcap"
    ))
    .unwrap();
    let cut = temp_file("cut.pcap", &bytes[..bytes.len() - 10]);
    let out = tlstriage(&["read", "--format", "ndjson", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let recs = ndjson(&out);
    assert!(recs.iter().any(|r| r["kind"] == "version_mismatch"));
    let stats = recs.last().unwrap();
    assert_eq!(stats["truncated"], true);
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
}

#[test]
fn rules_lists_every_rule() {
    let out = tlstriage(&["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "handshake_aborted",
        "tls_alert",
        "certificate_name_mismatch",
        "malformed_tls",
    ] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn tls_ports_takes_one_comma_separated_value_before_the_files() {
    let out = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--tls-ports",
        "443,4439",
        "samples/plaintext-http-to-tls-port.pcap",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ndjson(&out)
        .iter()
        .any(|r| r["kind"] == "plaintext_to_tls_port"));
}

#[test]
fn min_severity_drops_findings_below_it_everywhere() {
    // A healthy session: its only findings are the informational closing alerts, once the
    // private root its client trusted is given.
    let trusting = ["--no-system-roots", "--ca-file", "samples/trust-root.pem"];
    let healthy = "samples/trust-private-chain.pcap";
    let all = tlstriage(&[&["read", "--format", "ndjson"][..], &trusting, &[healthy]].concat());
    let kinds: Vec<_> = ndjson(&all)
        .iter()
        .filter(|r| r["type"] == "finding")
        .map(|r| (r["kind"].clone(), r["severity"].clone()))
        .collect();
    assert!(!kinds.is_empty());
    assert!(kinds.iter().all(|(_, s)| s == "info"), "{kinds:?}");
    let quiet = tlstriage(
        &[
            &[
                "read",
                "--format",
                "ndjson",
                "--min-severity",
                "low",
                "--fail-on",
                "info",
            ][..],
            &trusting,
            &[healthy],
        ]
        .concat(),
    );
    let records = ndjson(&quiet);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["type"], "capture_stats");
    assert_eq!(quiet.status.code(), Some(0), "nothing left to fail on");

    // A failing one keeps what is at or above the threshold, with any thread count.
    for threads in ["1", "2"] {
        let high = tlstriage(&[
            "read",
            "--format",
            "ndjson",
            "--min-severity",
            "high",
            "--threads",
            threads,
            "samples/version-mismatch.pcap",
        ]);
        let sev: Vec<_> = ndjson(&high)
            .iter()
            .filter(|r| r["type"] == "finding")
            .map(|r| r["severity"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(!sev.is_empty());
        assert!(
            sev.iter().all(|s| s == "high" || s == "critical"),
            "{sev:?}"
        );
    }
}

#[test]
fn a_closed_stdout_is_a_quiet_exit_and_threads_are_capped() {
    // `tlstriage rules | head -0`: the reader is gone before anything is written.
    for args in [&["rules"][..], &["explain", "handshake_aborted"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tlstriage");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["read", "--threads", "65535", "samples/tls12-ok.pcap"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run tlstriage");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1..=256"));
}

#[test]
fn a_ca_file_that_cannot_be_used_is_an_error_not_ignored() {
    // A typo must not silently leave a private root out of the trust store.
    for (file, says) in [
        (
            "samples/no-such-root.pem",
            "reading CA file samples/no-such-root.pem: No such file",
        ),
        ("README.md", "CA file README.md holds no PEM certificate"),
    ] {
        let out = tlstriage(&["read", "--ca-file", file, "samples/tls12-ok.pcap"]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{file}: {err}");
        assert!(out.stdout.is_empty(), "{file}: nothing analyzed");
    }
}
