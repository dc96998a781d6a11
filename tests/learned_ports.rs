//! TLS ports learned from the capture: plaintext to a port outside `--tls-ports` is
//! `plaintext_to_tls_port` when another flow of the capture showed a TLS server there.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `samples/NAME` with every TCP port `from` turned into `to` (Ethernet + IPv4 frames; the
/// TCP checksum goes stale, which loopback captures have anyway and the analysis ignores).
fn with_port(name: &str, from: u16, to: u16, out: &Path) {
    let mut d = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(name),
    )
    .unwrap();
    let mut at = 24;
    while at + 16 <= d.len() {
        let incl = u32::from_le_bytes(d[at + 8..at + 12].try_into().unwrap()) as usize;
        let frame = at + 16;
        let ihl = usize::from(d[frame + 14] & 0x0f) * 4;
        let tcp = frame + 14 + ihl;
        for p in [tcp, tcp + 2] {
            if u16::from_be_bytes([d[p], d[p + 1]]) == from {
                d[p..p + 2].copy_from_slice(&to.to_be_bytes());
            }
        }
        at = frame + incl;
    }
    std::fs::write(out, d).unwrap();
}

fn kinds(args: &[&str]) -> (Vec<serde_json::Value>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stats = recs.last().unwrap().clone();
    (
        recs.into_iter()
            .filter(|r| r["type"] == "finding")
            .collect(),
        stats,
    )
}

#[test]
fn plaintext_to_a_port_another_flow_showed_to_be_tls_is_found() {
    let dir = std::env::temp_dir().join(format!("tlstriage-learned-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The HTTP request goes to 4431, where tls12-ok's server completed a TLS handshake;
    // neither port is a default TLS port.
    let plain: PathBuf = dir.join("plain.pcap");
    with_port("plaintext-http-to-tls-port.pcap", 4439, 4431, &plain);
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/tls12-ok.pcap");
    let (p, t) = (plain.to_str().unwrap(), tls.to_str().unwrap());

    let (findings, stats) = kinds(&["read", "--format", "ndjson", p, t]);
    let hit: Vec<_> = findings
        .iter()
        .filter(|f| f["kind"] == "plaintext_to_tls_port")
        .collect();
    assert_eq!(hit.len(), 1, "{findings:#?}");
    let f = hit[0];
    assert_eq!(f["evidence"]["server_port"], 4431);
    assert_eq!(f["evidence"]["detected_protocol"], "http");
    let tls_stream = findings
        .iter()
        .find(|f| f["kind"] != "plaintext_to_tls_port")
        .map(|f| f["tcp_stream"].clone())
        .unwrap();
    assert_eq!(
        f["evidence"]["tls_port_learned_from"]["tcp_stream"],
        tls_stream
    );
    assert!(f["summary"]
        .as_str()
        .unwrap()
        .contains("Port 4431 is a TLS port"));
    let warnings = stats["warnings"].to_string();
    assert!(
        warnings.contains("TLS ports learned from ServerHellos outside --tls-ports: 4431"),
        "{warnings}"
    );

    // Alone, the plaintext flow teaches nothing; each file on its own neither.
    let (alone, _) = kinds(&["read", "--format", "ndjson", p]);
    assert!(alone.iter().all(|f| f["kind"] != "plaintext_to_tls_port"));
    let (each, _) = kinds(&["read", "--format", "ndjson", "--each-file", p, t]);
    assert!(each.iter().all(|f| f["kind"] != "plaintext_to_tls_port"));
    // On a configured TLS port the flow rule reports it once, not the capture rule again.
    let (configured, stats) = kinds(&["read", "--format", "ndjson", "--tls-ports", "+4431", p, t]);
    let n = configured
        .iter()
        .filter(|f| f["kind"] == "plaintext_to_tls_port")
        .count();
    assert_eq!(n, 1);
    assert!(!stats["warnings"].to_string().contains("learned"));
    std::fs::remove_dir_all(&dir).unwrap();
}
