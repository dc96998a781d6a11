//! `--threads N` gives the same findings as one thread: over every sample and over a
//! generated capture with thousands of interleaved flows (the benchmark generator of
//! `examples/bench_gen.rs`, at a small size). The samples come out in the very same order;
//! in the generated capture, flows finished by the idle timeout may come out later with
//! several threads (at their worker's next packet), so there findings are compared per
//! flow, ordered by the flow's first frame (`tcp_stream`).

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

fn assert_same(path: &Path, config: &AnalyzerConfig, per_flow: bool) -> usize {
    let sorted = |(mut l, s): (Vec<String>, String)| {
        if per_flow {
            // tcp_stream numbers flows by first frame; the sort is stable within a flow.
            l.sort_by_key(|line| {
                let v: serde_json::Value = serde_json::from_str(line).expect("json");
                v["tcp_stream"].as_u64().expect("tcp_stream")
            });
        }
        (l, s)
    };
    let (one, one_stats) = sorted(lines(path, config, 1));
    for threads in [2, 3, 8] {
        let (many, many_stats) = sorted(lines(path, config, threads));
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
            assert_same(&path, &config, false);
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
    config.idle_timeout_us = 5_000_000;
    let findings = assert_same(&path, &config, true);
    assert!(findings > 1000, "{findings} findings; {summary}");
    std::fs::remove_file(&path).ok();
}
