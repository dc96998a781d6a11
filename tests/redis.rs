//! `--redis`: records reach a real redis-server that each test starts on 127.0.0.1 on a
//! free port, as a list, a channel and a stream; and a server restart in the middle of a
//! run loses nothing silently: every record is delivered or counted as dropped. Skipped
//! with a notice when redis-server is not installed, except under CI=true (`.ci/run`
//! installs it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tlstriage");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// redis-server, or None (test skipped) when absent; under CI=true its absence fails.
fn redis_server_or_skip(test: &str) -> Option<PathBuf> {
    let found = find("redis-server");
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: redis-server not found, and CI=true: .ci/run must install it");
        }
        eprintln!("SKIPPED {test}: redis-server not found (apt-get install redis-server)");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server of the test's own; killed (by its own pid) on drop.
struct Server {
    bin: PathBuf,
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// Keep the data across a restart (append-only file, fsync on every write), so that
    /// what was delivered before a restart can still be counted after it.
    persistent: bool,
}

impl Server {
    fn start(bin: &Path, persistent: bool) -> Server {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tlstriage-redis-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Server {
            bin: bin.to_path_buf(),
            child: None,
            port: free_port(),
            dir,
            persistent,
        };
        s.run();
        s
    }

    fn run(&mut self) {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .arg("--dir")
            .arg(&self.dir);
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let child = cmd
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(mut c) = TcpStream::connect(("127.0.0.1", self.port)) {
                // PING answers +PONG once the data set is loaded (-LOADING before).
                let mut buf = [0u8; 64];
                if c.write_all(b"PING\r\n").is_ok() {
                    let n = c.read(&mut buf).unwrap_or(0);
                    if buf[..n].starts_with(b"+PONG") {
                        return;
                    }
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM (redis shuts down cleanly, writing its append-only file), and wait.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/3", self.port)
    }

    fn conn(&self) -> redis::Connection {
        let c = redis::Client::open(self.url()).unwrap();
        c.get_connection_with_timeout(Duration::from_secs(5))
            .unwrap()
    }

    fn list(&self, key: &str) -> Vec<String> {
        redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query(&mut self.conn())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn tlstriage(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .output()
        .expect("run tlstriage")
}

fn samples() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn lines(out: &[u8]) -> Vec<String> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn redis_counts(stats_line: &str) -> Value {
    let v: Value = serde_json::from_str(stats_line).unwrap();
    assert_eq!(v["type"], "capture_stats", "{stats_line}");
    v["outputs"]["redis"].clone()
}

#[test]
fn a_list_gets_exactly_the_ndjson_records() {
    let Some(bin) = redis_server_or_skip("a_list_gets_exactly_the_ndjson_records") else {
        return;
    };
    let server = Server::start(&bin, false);
    let url = server.url();
    let mut args = vec![
        "read",
        "--flows",
        "--redis",
        &url,
        "--redis-key",
        "tls:events",
    ];
    let files = samples();
    args.extend(files.iter().map(String::as_str));
    let out = tlstriage(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = lines(&out.stdout);
    let stored = server.list("tls:events");
    assert!(stdout.len() > 100, "{}", stdout.len());
    assert_eq!(
        stored, stdout,
        "Redis holds the NDJSON output, record for record"
    );
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/tlstriage.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let stats: Value = serde_json::from_str(stdout.last().unwrap()).unwrap();
    if let Err(e) = validator.validate(&stats) {
        panic!("capture_stats with outputs does not match the schema: {e}\n{stats}");
    }
    let counts = redis_counts(stdout.last().unwrap());
    // The capture_stats record counts every record before it.
    assert_eq!(counts["delivered"], stdout.len() as u64 - 1, "{counts}");
    assert_eq!(
        (counts["dropped"].as_u64(), counts["queued"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn a_stream_is_capped_and_ecs_documents_go_through_it() {
    let Some(bin) = redis_server_or_skip("a_stream_is_capped") else {
        return;
    };
    let server = Server::start(&bin, false);
    let url = server.url();
    let files = samples();
    let mut args = vec![
        "read",
        "--format",
        "ecs",
        "--redis",
        &url,
        "--redis-mode",
        "stream",
        "--redis-maxlen",
        "1000",
    ];
    args.extend(files.iter().map(String::as_str));
    let out = tlstriage(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = lines(&out.stdout);
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("tlstriage")
        .arg("-")
        .arg("+")
        .query(&mut server.conn())
        .unwrap();
    let docs: Vec<String> = entries
        .into_iter()
        .map(|(_, fields)| {
            assert_eq!(fields.len(), 1);
            assert_eq!(fields[0].0, "record");
            fields[0].1.clone()
        })
        .collect();
    assert_eq!(docs, stdout, "the stream holds the ECS documents");
    let first: Value = serde_json::from_str(&docs[0]).unwrap();
    assert!(first["ecs"]["version"].is_string(), "{first}");

    // MAXLEN ~ 10: Redis trims whole nodes, so the stream stays near the cap, not at it.
    let mut args = vec![
        "read",
        "--each-file",
        "--redis",
        &url,
        "--redis-mode",
        "stream",
        "--redis-key",
        "capped",
        "--redis-maxlen",
        "10",
    ];
    for _ in 0..20 {
        args.extend(files.iter().map(String::as_str));
    }
    let out = tlstriage(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = lines(&out.stdout).len();
    let len: usize = redis::cmd("XLEN")
        .arg("capped")
        .query(&mut server.conn())
        .unwrap();
    assert!(sent > 1000 && len < 200, "sent {sent}, stream length {len}");
}

#[test]
fn a_channel_reaches_its_subscribers() {
    let Some(bin) = redis_server_or_skip("a_channel_reaches_its_subscribers") else {
        return;
    };
    let server = Server::start(&bin, false);
    let url = server.url();
    let mut sub_conn = server.conn();
    sub_conn
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sub = sub_conn.as_pubsub();
    sub.subscribe("findings").unwrap();
    let out = tlstriage(&[
        "read",
        "--redis",
        &url,
        "--redis-mode",
        "channel",
        "--redis-key",
        "findings",
        "samples/version-mismatch.pcap",
        "samples/cert-expired.pcap",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = lines(&out.stdout);
    let mut got = Vec::new();
    while got.len() < stdout.len() {
        let msg = sub.get_message().expect("a message within 10 s");
        assert_eq!(msg.get_channel_name(), "findings");
        got.push(msg.get_payload::<String>().unwrap());
    }
    assert_eq!(got, stdout);
}

#[test]
fn an_absent_server_is_an_error_before_the_analysis() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/0");
    let out = tlstriage(&["read", "--redis", &url, "samples/version-mismatch.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(out.stdout.is_empty(), "nothing analysed");
}

/// The sample's pcap records `copies` times, each copy 10 s of capture time after the one
/// before: with `--idle-timeout 1` each copy is a connection of its own, with the same
/// findings.
fn repeated_capture(sample: &str, copies: u32) -> (Vec<u8>, Vec<Vec<u8>>) {
    let data = std::fs::read(root().join(sample)).unwrap();
    assert_eq!(
        &data[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "a little-endian µs pcap"
    );
    let header = data[..24].to_vec();
    let mut records = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let u32_at = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
        let incl = u32_at(at + 8) as usize;
        records.push((u32_at(at), data[at + 4..at + 16 + incl].to_vec()));
        at += 16 + incl;
    }
    let copies = (0..copies)
        .map(|k| {
            let mut out = Vec::new();
            for (secs, rest) in &records {
                out.extend_from_slice(&(secs + 10 * k).to_le_bytes());
                out.extend_from_slice(rest);
            }
            out
        })
        .collect();
    (header, copies)
}

fn llen(server: &Server, key: &str) -> u64 {
    redis::cmd("LLEN")
        .arg(key)
        .query(&mut server.conn())
        .unwrap()
}

/// Until the list stops growing for a second.
fn wait_quiet(server: &Server, key: &str) -> u64 {
    let mut last = llen(server, key);
    let mut since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    while since.elapsed() < Duration::from_secs(1) {
        assert!(Instant::now() < deadline, "the list never stopped growing");
        std::thread::sleep(Duration::from_millis(100));
        let n = llen(server, key);
        if n != last {
            (last, since) = (n, Instant::now());
        }
    }
    last
}

#[test]
fn a_server_restart_mid_run_loses_nothing_silently() {
    let Some(bin) = redis_server_or_skip("a_server_restart_mid_run") else {
        return;
    };
    let mut server = Server::start(&bin, true);
    let url = server.url();
    // The reader takes its input a megabyte at a time: each phase writes three.
    let (header, copies) = repeated_capture("samples/version-mismatch.pcap", 9_000);
    let phase = copies.len() / 3;
    let mut child = Command::new(BIN)
        .args([
            "read",
            "--threads",
            "1",
            "--idle-timeout",
            "1",
            "--redis",
            &url,
        ])
        .args(["--redis-queue", "500", "--redis-drain-timeout", "30", "-"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        stdout.read_to_end(&mut s).unwrap();
        s
    });
    stdin.write_all(&header).unwrap();
    for c in &copies[..phase] {
        stdin.write_all(c).unwrap();
    }
    stdin.flush().unwrap();
    let before = wait_quiet(&server, "tlstriage");
    assert!(before > 1000, "{before} records before the restart");

    server.stop();
    for c in &copies[phase..2 * phase] {
        stdin.write_all(c).unwrap();
    }
    stdin.flush().unwrap();
    // Records of the outage pile up in the queue (500) and the rest are dropped.
    std::thread::sleep(Duration::from_secs(2));
    server.run();
    // The queued records of the outage arrive once the sender has reconnected.
    let deadline = Instant::now() + Duration::from_secs(30);
    while llen(&server, "tlstriage") <= before {
        assert!(Instant::now() < deadline, "never reconnected");
        std::thread::sleep(Duration::from_millis(100));
    }
    for c in &copies[2 * phase..] {
        stdin.write_all(c).unwrap();
    }
    drop(stdin);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let out = lines(&reader.join().unwrap());
    // Records were dropped, so the run says so in its exit code and on stderr.
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("reconnected after"), "{stderr}");
    assert!(stderr.contains("queue full"), "{stderr}");

    let counts = redis_counts(out.last().unwrap());
    let (delivered, dropped) = (
        counts["delivered"].as_u64().unwrap(),
        counts["dropped"].as_u64().unwrap(),
    );
    assert_eq!(counts["queued"], 0, "{counts}");
    let total = out.len() as u64 - 1;
    eprintln!("restart: {before} records stored before it; after the run: {counts}");
    assert_eq!(
        delivered + dropped,
        total,
        "{counts}: every record is accounted for"
    );
    assert!(dropped > 0 && delivered > before, "{counts}");
    assert!(
        stderr.contains(&format!("{dropped} of {} records not delivered", total + 1)),
        "{stderr}"
    );
    // What Redis holds (kept across the restart) is what was counted as delivered, plus the
    // capture_stats record sent after the count, in the output's order.
    let stored = server.list("tlstriage");
    assert_eq!(stored.len() as u64, delivered + 1);
    let mut rest = out.iter();
    for rec in &stored {
        assert!(
            rest.any(|l| l == rec),
            "a stored record that is not in the output, or out of order: {rec}"
        );
    }
}

/// Logstash is not packaged in Debian, so the shipped pipeline cannot be run here; at least
/// it reads the list that tlstriage writes by default.
#[test]
fn the_logstash_example_reads_the_default_list() {
    let conf = std::fs::read_to_string(root().join("contrib/logstash.conf")).unwrap();
    let setting = |name: &str| {
        conf.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(name)?.trim().strip_prefix("=>"))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    assert_eq!(setting("data_type").as_deref(), Some("list"));
    assert_eq!(setting("key").as_deref(), Some("tlstriage"));
    assert_eq!(setting("codec").as_deref(), Some("json"));
    let help = tlstriage(&["read", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[default: tlstriage]"), "{help}");
    assert!(help.contains("[default: list]"), "{help}");
}

/// `live --redis`: findings of a live capture on loopback (refused connections) and its final
/// capture_stats reach the list, counted in capture_stats.outputs.redis. Needs the `live`
/// feature and root (skipped with a notice otherwise, except under CI=true).
#[cfg(feature = "live")]
#[test]
fn live_sends_its_records_to_redis() {
    let Some(bin) = redis_server_or_skip("live_sends_its_records_to_redis") else {
        return;
    };
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root_user {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "live_sends_its_records_to_redis: CI=true but not root");
        eprintln!("SKIPPED live_sends_its_records_to_redis: not root");
        return;
    }
    let server = Server::start(&bin, false);
    let url = server.url();
    let closed = free_port();
    let filter = format!("tcp port {closed}");
    let mut child = Command::new(BIN)
        .args([
            "live",
            "-i",
            "lo",
            "--bpf",
            &filter,
            "--redis",
            &url,
            "--redis-key",
            "live",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it captures: its first stderr line says so.
    let mut stderr = child.stderr.take().unwrap();
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while !first.ends_with(b"\n") && stderr.read(&mut byte).unwrap_or(0) == 1 {
        first.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&first).contains("capturing on lo"));
    for _ in 0..3 {
        assert!(TcpStream::connect(("127.0.0.1", closed)).is_err());
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while llen(&server, "live") < 3 {
        assert!(
            Instant::now() < deadline,
            "the findings never reached Redis"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let stdout = lines(&out);
    let stored = server.list("live");
    let n = stored.len();
    assert_eq!(n, stdout.len());
    assert_eq!(
        stored[..n - 1],
        stdout[..n - 1],
        "Redis holds the live output, record for record"
    );
    // A live capture_stats is stamped with the wall clock when each output writes it.
    let unstamped = |l: &str| {
        let mut v: Value = serde_json::from_str(l).unwrap();
        v.as_object_mut().unwrap().remove("ts");
        v
    };
    assert_eq!(unstamped(&stored[n - 1]), unstamped(&stdout[n - 1]));
    let stats: Value = serde_json::from_str(stored.last().unwrap()).unwrap();
    assert_eq!(stats["live"]["final"], true, "{stats}");
    assert_eq!(
        stats["outputs"]["redis"]["delivered"],
        stored.len() as u64 - 1
    );
    let refused = stored
        .iter()
        .filter(|l| l.contains("\"kind\":\"connection_failed\""))
        .count();
    assert_eq!(refused, 3);
}
