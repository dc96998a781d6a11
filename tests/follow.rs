//! `read --follow DIR` against a writer that rotates files while it runs: files are read
//! once superseded, flows span them, SIGTERM flushes, and a restart goes on where it stopped.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(name),
    )
    .unwrap()
}

/// The records of a classic pcap after its 24-byte header.
fn records(pcap: &[u8]) -> Vec<Vec<u8>> {
    let mut rest = &pcap[24..];
    let mut out = Vec::new();
    while rest.len() >= 16 {
        let incl = u32::from_le_bytes(rest[8..12].try_into().unwrap()) as usize;
        let (rec, tail) = rest.split_at(16 + incl);
        out.push(rec.to_vec());
        rest = tail;
    }
    out
}

/// Writes a file as a rotating writer finishes it: under a hidden name, then renamed, with
/// a modification time `age` seconds after a fixed start (so the order is certain).
fn rotate(dir: &Path, name: &str, bytes: &[u8], age: u64) {
    let temp = dir.join(format!(".{name}.part"));
    std::fs::write(&temp, bytes).unwrap();
    let f = std::fs::File::options().write(true).open(&temp).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + age))
        .unwrap();
    drop(f);
    std::fs::rename(&temp, dir.join(name)).unwrap();
}

fn start(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["read", "--format", "ndjson", "--flows", "--follow"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) -> (Option<i32>, Vec<serde_json::Value>, String) {
    std::thread::sleep(Duration::from_millis(1500));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let recs = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (code, recs, err)
}

fn file_names(stats: &serde_json::Value) -> Vec<String> {
    stats["files"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    let p = PathBuf::from(f["name"].as_str().unwrap());
                    p.file_name().unwrap().to_string_lossy().into_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_rotating_directory_is_followed_across_files_and_restarts() {
    let dir = std::env::temp_dir().join(format!("tlstriage-follow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let expired = sample("cert-expired.pcap");
    let (header, recs) = (&expired[..24], records(&expired));
    rotate(
        &dir,
        "cap_1.pcap",
        &[header, &recs[..5].concat()].concat(),
        1,
    );

    let child = start(&dir);
    std::thread::sleep(Duration::from_millis(500));
    // cap_1 is the newest file: still being written, not read yet. The writer moves on.
    rotate(
        &dir,
        "cap_2.pcap",
        &[header, &recs[5..].concat()].concat(),
        2,
    );
    std::thread::sleep(Duration::from_millis(500));
    rotate(&dir, "cap_3.pcap", &sample("tls12-ok.pcap"), 3);
    let (code, recs_out, err) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    // The handshake cut by the rotation is one flow, with its finding.
    let kinds: Vec<&str> = recs_out.iter().filter_map(|r| r["kind"].as_str()).collect();
    assert!(kinds.contains(&"certificate_expired"), "{kinds:?}");
    let flows = recs_out.iter().filter(|r| r["type"] == "tls_flow").count();
    assert_eq!(flows, 1, "cap_3 (the newest) is not read yet");
    let stats = recs_out.last().unwrap();
    assert_eq!(stats["type"], "capture_stats");
    assert_eq!(file_names(stats), ["cap_1.pcap", "cap_2.pcap"]);
    let state = std::fs::read_to_string(dir.join(".tlstriage-follow.state")).unwrap();
    assert_eq!(state, "cap_1.pcap\ncap_2.pcap\n");

    // Restarted, it reads neither file again and goes on with cap_3 once cap_4 appears.
    rotate(&dir, "cap_4.pcap", &sample("version-mismatch.pcap"), 4);
    let (code, recs_out, err) = stop(start(&dir));
    assert_eq!(code, Some(0), "{err}");
    let stats = recs_out.last().unwrap();
    assert_eq!(file_names(stats), ["cap_3.pcap"]);
    assert!(recs_out.iter().all(|r| r["kind"] != "certificate_expired"));
    assert_eq!(
        recs_out.iter().filter(|r| r["type"] == "tls_flow").count(),
        1
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_read_are_moved_or_deleted_when_asked() {
    let base = std::env::temp_dir().join(format!("tlstriage-follow-mv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (dir, done) = (base.join("in"), base.join("done"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&done).unwrap();
    rotate(&dir, "a.pcap", &sample("tls12-ok.pcap"), 1);
    rotate(&dir, "b.pcap", &sample("tls13-ok.pcap"), 2);
    let child = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["read", "--format", "ndjson", "--follow"])
        .arg(&dir)
        .arg("--move-after")
        .arg(&done)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, _, err) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    assert!(done.join("a.pcap").exists() && !dir.join("a.pcap").exists());
    assert!(dir.join("b.pcap").exists(), "the newest file stays");

    let bad = Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["read", "--follow"])
        .arg(base.join("missing"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a directory"));
    std::fs::remove_dir_all(&base).unwrap();
}
