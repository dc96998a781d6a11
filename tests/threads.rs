//! `--threads N` gives the same findings as one thread: over every sample and over a
//! generated capture with thousands of interleaved flows (the benchmark generator of
//! `examples/bench_gen.rs`, at a small size, where many flows end by the idle timeout).
//! Everything comes out in the very same order, line for line.

use std::path::{Path, PathBuf};

use tlstriage::flow::AnalyzerConfig;
use tlstriage::output::finding_record;
use tlstriage::pipeline::{analyze_path_threads, Analysis};

#[path = "../examples/bench_gen.rs"]
#[allow(dead_code)]
mod bench_gen;

/// Every finding as its NDJSON line, and the capture counters, in output order.
fn lines(path: &Path, config: &AnalyzerConfig, threads: usize) -> (Vec<String>, String) {
    let a: Analysis = analyze_path_threads(path, config, threads).expect("capture opens");
    let name = path.display().to_string();
    let findings = a
        .findings()
        .map(|(flow, f)| finding_record(&name, flow, f).to_string())
        .collect();
    (findings, format!("{:?}", a.stats))
}

fn assert_same(path: &Path, config: &AnalyzerConfig) -> usize {
    let (one, one_stats) = lines(path, config, 1);
    for threads in [2, 3, 8] {
        let (many, many_stats) = lines(path, config, threads);
        assert_eq!(
            one.len(),
            many.len(),
            "{}: --threads {threads}",
            path.display()
        );
        for (a, b) in one.iter().zip(&many) {
            assert_eq!(a, b, "{}: --threads {threads}", path.display());
        }
        assert_eq!(
            one_stats,
            many_stats,
            "{}: --threads {threads}",
            path.display()
        );
    }
    one.len()
}

#[test]
fn every_sample_gives_the_same_findings_with_any_thread_count() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("samples") {
        let path = entry.expect("entry").path();
        if path
            .extension()
            .is_some_and(|e| e == "pcap" || e == "pcapng")
        {
            let mut config = AnalyzerConfig::default();
            if path.ends_with("plaintext-http-to-tls-port.pcap") {
                config.set_tls_ports(&[4439]);
            }
            assert_same(&path, &config);
            n += 1;
        }
    }
    assert!(n >= 20, "only {n} samples");
}

#[test]
fn a_generated_capture_gives_the_same_findings_with_any_thread_count() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("threads");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("gen-4mib.pcap");
    let mut o = bench_gen::Options::new(4, path.clone());
    o.active = 300;
    // 1 ms between packets: the capture spans minutes, so flows also time out.
    o.gap_us = 1000;
    let summary = bench_gen::generate(&o);
    let mut config = AnalyzerConfig::default();
    config.idle_timeout_us = 1_000_000;
    let findings = assert_same(&path, &config);
    assert!(findings > 1000, "{findings} findings; {summary}");
    let timed_out = analyze_path_threads(&path, &config, 1)
        .expect("capture opens")
        .stats
        .flows_timed_out;
    assert!(
        timed_out > 50,
        "only {timed_out} flows timed out; {summary}"
    );
    std::fs::remove_file(&path).ok();
}

/// The CLI's NDJSON, whose finding lines the workers format before the merge numbers the
/// flows, is byte for byte the finding records of the library (plus the closing
/// capture_stats line), with any thread count.
#[test]
fn cli_ndjson_is_the_library_records_byte_for_byte_with_any_thread_count() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("threads-cli");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("gen-2mib.pcap");
    let mut o = bench_gen::Options::new(2, path.clone());
    o.active = 200;
    o.gap_us = 1000;
    bench_gen::generate(&o);
    let config = AnalyzerConfig::default();
    let (expected, _) = lines(&path, &config, 1);
    assert!(expected.len() > 500, "{} findings", expected.len());
    for threads in ["1", "2", "3"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tlstriage"))
            // The library's default store is Mozilla's alone; so is the CLI's with this.
            .args([
                "read",
                "--format",
                "ndjson",
                "--no-system-roots",
                "--threads",
                threads,
            ])
            .arg(&path)
            .output()
            .expect("run tlstriage");
        let stdout = String::from_utf8(out.stdout).expect("utf-8");
        let got: Vec<&str> = stdout.lines().collect();
        assert!(got.len() > expected.len(), "--threads {threads}");
        let (per_flow, capture_level) = got.split_at(expected.len());
        for (g, e) in per_flow.iter().zip(&expected) {
            assert_eq!(g, e, "--threads {threads}");
        }
        // After the flows: the cross-flow findings (the generator reuses certificates of
        // different issuers for one name), then capture_stats.
        let (stats, cross) = capture_level.split_last().expect("capture_stats");
        assert!(stats.contains(r#""type":"capture_stats""#), "{stats}");
        for line in cross {
            assert!(
                line.contains(r#""kind":"tls_interception_suspected""#),
                "{line}"
            );
        }
    }
    std::fs::remove_file(&path).ok();
}
