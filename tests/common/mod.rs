//! Helpers shared by the integration tests: running the binary, skipping (or failing under
//! CI) when a tool or privilege is missing, servers on free loopback ports, and tshark as
//! the oracle. Each test crate includes this with `mod common;` and uses only a part of it,
//! so items unused by one crate are not dead code.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tlstriage")
}

/// The binary run to its end from the crate's root (sample paths are relative to it).
pub fn tlstriage(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run tlstriage")
}

/// Under CI a missing tool or privilege fails the test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Says why `test` does not run here and returns false; panics under CI.
pub fn skip(test: &str, why: &str) -> bool {
    assert!(!in_ci(), "{test}: cannot run under CI: {why}");
    eprintln!("SKIPPED {test}: {why}");
    false
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

pub fn has(tool: &str, version_arg: &str) -> bool {
    Command::new(tool).arg(version_arg).output().is_ok()
}

/// True when live captures with openssl (and python3 when `python`) can run here;
/// otherwise says why (and fails under CI).
pub fn can_run_live(test: &str, python: bool) -> bool {
    let reason = if !cfg!(target_os = "linux") {
        Some("not Linux")
    } else if !is_root() {
        Some("not root (live capture needs CAP_NET_RAW)")
    } else if !has("openssl", "version") {
        Some("openssl not installed")
    } else if python && !has("python3", "--version") {
        Some("python3 not installed")
    } else {
        None
    };
    match reason {
        None => true,
        Some(r) => skip(test, r),
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn free_port_udp() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free UDP port")
}

/// Waits until something accepts on 127.0.0.1:`port`.
pub fn wait_listening(port: u16) {
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "server on {port} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tlstriage-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A self-signed P-256 certificate for CN=localhost: `dir`/c.pem and its key `dir`/k.pem.
pub fn make_cert(dir: &Path) {
    let st = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "k.pem"])
        .args(["-out", "c.pem", "-days", "1", "-subj", "/CN=localhost"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl req");
    assert!(st.success());
}

/// `openssl s_server -quiet ARGS` with `dir`'s c.pem and k.pem on 127.0.0.1:`port`,
/// listening when returned. Its stdin stays open: at end of input a server without `-www`
/// would close its connection.
pub fn s_server(dir: &Path, port: u16, args: &[&str]) -> Guard {
    let server = Guard(
        Command::new("openssl")
            .args(["s_server", "-quiet", "-cert", "c.pem", "-key", "k.pem"])
            .args(args)
            .args(["-accept", &port.to_string()])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    wait_listening(port);
    server
}

/// Kills the child on drop so a failing test leaves nothing running.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines of `input`, read on a thread; each one also echoed to stderr after `echo`
/// when given (a child's stderr, shown in the test's output).
pub fn line_reader(
    input: impl Read + Send + 'static,
    echo: Option<&'static str>,
) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(input).lines().map_while(Result::ok) {
            if let Some(prefix) = echo {
                eprintln!("{prefix}{line}");
            }
            if tx.send(line).is_err() && echo.is_none() {
                break;
            }
        }
    });
    rx
}

/// tshark is installed.
pub fn tshark_found() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// tshark is installed; otherwise says so and returns false (fails under CI).
pub fn tshark_available() -> bool {
    let found = tshark_found();
    if !found {
        assert!(
            !in_ci(),
            "CI=true but tshark is not installed (.ci/run installs it)"
        );
        eprintln!(
            "SKIPPED: tshark not found; install it (apt-get install tshark) to run this test"
        );
    }
    found
}

/// `tshark -n -r CAPTURE OPTIONS -T fields -e FIELD...`: the fields of each packet line.
pub fn tshark_fields(capture: &Path, options: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(capture).args(options);
    cmd.args(["-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark -r {} {options:?}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// tshark's `tcp.stream` of every frame that has one; of several (an ICMP error quoting a
/// TCP header lists the quoted stream too), the first. tshark's exit status is not checked:
/// it fails on captures cut short, whose frames it still lists.
pub fn tshark_streams(capture: &Path) -> Vec<(u64, u64)> {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(capture)
        .args(["-T", "fields", "-e", "frame.number", "-e", "tcp.stream"])
        .output()
        .expect("run tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (frame, stream) = l.split_once('\t')?;
            Some((frame.parse().ok()?, stream.split(',').next()?.parse().ok()?))
        })
        .collect()
}
