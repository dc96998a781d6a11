//! `read --filter` against libpcap's own compiler: for each expression and sample, the TCP
//! packets we analyse are exactly those `tcpdump -r FILE 'tcp and (EXPR)'` prints.

use std::process::Command;

const EXPRESSIONS: &[&str] = &[
    "port 4435",
    "tcp port 4433 or 4435",
    "dst port 4431",
    "src portrange 4430-4440",
    "host 127.0.0.1 and not port 4432",
    "net 127.0.0.0/8 and (port 25 or port 4439)",
    "ip6",
    "src host 127.0.0.1 and dst portrange 40000-65535",
    "not (port 4431 or port 4432) and tcp",
];

fn tcpdump_count(file: &str, expr: &str) -> Option<u64> {
    let out = Command::new("tcpdump")
        .args(["-nn", "-r", file, &format!("tcp and ({expr})")])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "tcpdump {expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).lines().count() as u64)
}

fn ours(file: &str, expr: &str) -> (u64, u64) {
    let out = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["read", "--format", "ndjson", "--filter", expr, file])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let stats: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    (
        stats["tcp_packets"].as_u64().unwrap(),
        stats["filtered_out"].as_u64().unwrap(),
    )
}

#[test]
fn filters_select_the_packets_libpcap_selects() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path().display().to_string())
        .filter(|p| p.ends_with(".pcap"))
        .collect();
    files.sort();
    if tcpdump_count(&files[0], "port 1").is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must install tcpdump");
        eprintln!("skipped: no tcpdump");
        return;
    }
    let mut nonzero = 0;
    for file in &files {
        for expr in EXPRESSIONS {
            let want = tcpdump_count(file, expr).unwrap();
            let (kept, dropped) = ours(file, expr);
            assert_eq!(kept, want, "{file}: {expr} (we left out {dropped})");
            nonzero += usize::from(kept > 0 && dropped > 0);
        }
    }
    assert!(
        nonzero > 5,
        "expressions that both keep and drop: {nonzero}"
    );
}
