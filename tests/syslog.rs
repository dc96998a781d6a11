//! `--syslog`: findings reach a real rsyslogd (tests/rsyslog/rsyslog.conf, unprivileged,
//! 127.0.0.1 only) over UDP and TCP, and come out of its omfile as the same JSON records
//! with the RFC 5424 header fields parsed by rsyslog. Skipped with a notice when rsyslogd is
//! not installed, except under CI=true (`.ci/run` installs it).

mod common;

use std::io::Read;
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::tlstriage;

fn find_rsyslogd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join("rsyslogd"))
        .find(|p| p.is_file())
}

/// rsyslogd, or None (test skipped) when absent; under CI=true its absence fails the test.
fn rsyslogd_or_skip(test: &str) -> Option<PathBuf> {
    let found = find_rsyslogd();
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: rsyslogd not found, and CI=true: .ci/run must install rsyslog");
        }
        eprintln!("SKIPPED {test}: rsyslogd not found (apt-get install rsyslog to run it)");
    }
    found
}

use common::{free_port as free_port_tcp, free_port_udp};

/// A running rsyslogd; killed (by its own pid) and reaped on drop.
struct Rsyslogd {
    child: Child,
    dir: PathBuf,
    out: PathBuf,
    udp: u16,
    tcp: u16,
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("rsyslogd work dir kept: {}", self.dir.display());
        }
    }
}

impl Rsyslogd {
    fn start(bin: &Path) -> Rsyslogd {
        Self::start_with(bin, "64k")
    }

    /// With `maxMessageSize` set to `max_message` (rsyslog's default is 8k).
    fn start_with(bin: &Path, max_message: &str) -> Rsyslogd {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tlstriage-rsyslog-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("messages.log");
        let (udp, tcp) = (free_port_udp(), free_port_tcp());
        let template = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/rsyslog/rsyslog.conf"
        ))
        .unwrap();
        let conf = template
            .replace("@WORKDIR@", dir.to_str().unwrap())
            .replace("@UDP_PORT@", &udp.to_string())
            .replace("@TCP_PORT@", &tcp.to_string())
            .replace("@OUTFILE@", out.to_str().unwrap())
            .replace("@MAX_MESSAGE@", max_message);
        assert!(!conf.contains('@'), "unreplaced placeholder in\n{conf}");
        let conf_path = dir.join("rsyslog.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(bin)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rsyslogd");
        let mut r = Rsyslogd {
            child,
            dir,
            out,
            udp,
            tcp,
        };
        r.wait_ready();
        r
    }

    fn died(&mut self) -> Option<String> {
        let status = self.child.try_wait().unwrap()?;
        let mut err = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut err);
        }
        Some(format!("rsyslogd exited ({status}): {err}"))
    }

    /// TCP accepting, and a UDP probe written to the output file.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.tcp)).is_err() {
            if let Some(e) = self.died() {
                panic!("{e}");
            }
            assert!(Instant::now() < deadline, "rsyslogd never listened on TCP");
            std::thread::sleep(Duration::from_millis(50));
        }
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        loop {
            sock.send_to(b"<14>1 - - probe - probe - ready", ("127.0.0.1", self.udp))
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            if self.lines().iter().any(|l| l.contains("|probe|")) {
                return;
            }
            if let Some(e) = self.died() {
                panic!("{e}");
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd never wrote the UDP probe"
            );
        }
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// The tlstriage lines of the output file once `n` have arrived (or the deadline passed).
    fn wait_for(&self, n: usize) -> Vec<Line> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got: Vec<Line> = self
                .lines()
                .iter()
                .filter(|l| l.contains("|tlstriage|"))
                .map(|l| Line::parse(l))
                .collect();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One line of the omfile template: the header fields rsyslog parsed, and MSG.
#[derive(Debug)]
struct Line {
    facility: u8,
    severity: u8,
    timestamp: String,
    app: String,
    procid: String,
    msgid: String,
    sd: String,
    msg: Value,
}

impl Line {
    fn parse(l: &str) -> Line {
        let f: Vec<&str> = l.splitn(9, '|').collect();
        assert_eq!(f.len(), 9, "{l}");
        Line {
            facility: f[0].parse().unwrap(),
            severity: f[1].parse().unwrap(),
            timestamp: f[2].to_string(),
            app: f[4].to_string(),
            procid: f[5].to_string(),
            msgid: f[6].to_string(),
            sd: f[7].to_string(),
            msg: serde_json::from_str(f[8].trim())
                .unwrap_or_else(|e| panic!("MSG is not JSON ({e}): {}", f[8])),
        }
    }
}

fn sample(name: &str) -> String {
    format!("samples/{name}")
}

fn all_samples() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap"))
        .map(|n| sample(&n))
        .collect();
    v.sort();
    v
}

/// Run tlstriage with `--syslog URL` over `files`; the findings it printed on stdout.
fn run_with_syslog(url: &str, files: &[String]) -> Vec<Value> {
    let mut args = vec!["read", "--format", "ndjson", "--syslog", url];
    args.extend(files.iter().map(String::as_str));
    let out = tlstriage(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "finding")
        .collect()
}

fn expected_severity(sev: &str) -> u8 {
    match sev {
        "critical" => 2,
        "high" => 3,
        "medium" => 4,
        "low" => 5,
        "info" => 6,
        other => panic!("severity {other}"),
    }
}

fn check_line(line: &Line, rec: &Value) {
    assert_eq!(&line.msg, rec, "MSG is the finding's NDJSON record");
    assert_eq!(line.facility, 16, "local0");
    assert_eq!(
        line.severity,
        expected_severity(rec["severity"].as_str().unwrap())
    );
    assert_eq!(line.app, "tlstriage");
    assert!(line.procid.parse::<u32>().is_ok(), "{}", line.procid);
    assert_eq!(line.msgid, rec["kind"].as_str().unwrap());
    assert_eq!(line.timestamp, rec["ts"].as_str().unwrap());
    assert!(
        line.sd.starts_with("[tlstriage@32473 kind=\""),
        "{}",
        line.sd
    );
    assert!(line
        .sd
        .contains(rec["flow"]["community_id"].as_str().unwrap()));
}

#[test]
fn findings_reach_rsyslog_over_udp() {
    let Some(bin) = rsyslogd_or_skip("findings_reach_rsyslog_over_udp") else {
        return;
    };
    let rs = Rsyslogd::start(&bin);
    let files = [sample("version-mismatch.pcap"), sample("cert-expired.pcap")];
    let url = format!("udp://127.0.0.1:{}", rs.udp);
    let printed = run_with_syslog(&url, &files);
    assert!(printed.len() >= 6, "{printed:?}");
    let got = rs.wait_for(printed.len());
    assert_eq!(got.len(), printed.len(), "every finding arrives once");
    // UDP keeps order on loopback in practice, but only the set is guaranteed.
    for rec in &printed {
        let line = got
            .iter()
            .find(|l| &l.msg == rec)
            .unwrap_or_else(|| panic!("not received: {rec}"));
        check_line(line, rec);
    }
}

#[test]
fn findings_reach_rsyslog_over_tcp_in_order() {
    let Some(bin) = rsyslogd_or_skip("findings_reach_rsyslog_over_tcp_in_order") else {
        return;
    };
    let rs = Rsyslogd::start(&bin);
    let url = format!("tcp://127.0.0.1:{}", rs.tcp);
    let printed = run_with_syslog(&url, &all_samples());
    assert!(printed.len() > 30, "{}", printed.len());
    let got = rs.wait_for(printed.len());
    assert_eq!(got.len(), printed.len(), "every finding arrives once");
    for (line, rec) in got.iter().zip(&printed) {
        check_line(line, rec);
    }
    // Human output on stdout does not change what is sent.
    let out = tlstriage(&[
        "read",
        "--format",
        "human",
        "--syslog",
        &url,
        &sample("tls13-cert-rejected.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("handshake_aborted"));
    let got = rs.wait_for(printed.len() + 2);
    let last: Vec<&str> = got[printed.len()..]
        .iter()
        .map(|l| l.msgid.as_str())
        .collect();
    assert_eq!(last, ["tls_alert", "handshake_aborted"]);
}

#[test]
fn an_unreachable_tcp_collector_is_an_error() {
    let port = free_port_tcp(); // nothing listens there any more
    let out = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--syslog",
        &format!("tcp://127.0.0.1:{port}"),
        &sample("tls12-ok.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("syslog tcp://127.0.0.1:"), "{err}");
    assert!(out.stdout.is_empty());

    let out = tlstriage(&[
        "read",
        "--syslog",
        "http://127.0.0.1:514",
        &sample("tls12-ok.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("udp://HOST"));
}

/// The certificate with 10,000 SANs (tests/data, made by scripts/make-big-san-capture.sh)
/// through an rsyslogd with its default 8k maxMessageSize: exactly one message per finding,
/// each valid JSON, none over the limit; with a smaller --syslog-max-message the findings
/// are shortened ("record_truncated": true) and still one message each.
#[test]
fn thousands_of_sans_give_one_valid_message_per_finding() {
    let Some(bin) = rsyslogd_or_skip("thousands_of_sans_give_one_valid_message_per_finding") else {
        return;
    };
    for max in ["8192", "1500"] {
        let rs = Rsyslogd::start_with(&bin, "8k");
        let url = format!("tcp://127.0.0.1:{}", rs.tcp);
        let out = tlstriage(&[
            "read",
            "--format",
            "ndjson",
            "--syslog",
            &url,
            "--syslog-max-message",
            max,
            "tests/data/cert-10000-sans.pcap",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let records: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let printed: Vec<&Value> = records.iter().filter(|r| r["type"] == "finding").collect();
        assert!(printed.len() >= 3, "{printed:?}");
        let got = rs.wait_for(printed.len());
        // Anything split would arrive as more lines, not valid JSON (Line::parse panics).
        std::thread::sleep(Duration::from_millis(500));
        let all: Vec<String> = rs
            .lines()
            .into_iter()
            .filter(|l| !l.contains("|probe|"))
            .collect();
        assert_eq!(
            all.len(),
            printed.len(),
            "one message per finding (max {max})"
        );
        let limit: usize = max.parse().unwrap();
        let mut truncated = 0;
        for (line, rec) in got.iter().zip(&printed) {
            assert_eq!(line.msgid, rec["kind"].as_str().unwrap());
            assert!(line.msg.to_string().len() < limit, "{}", line.msg);
            if line.msg["record_truncated"] == true {
                truncated += 1;
                assert_eq!(line.msg["flow"], rec["flow"]);
            } else {
                assert_eq!(&line.msg, *rec);
            }
        }
        let stats = records.last().unwrap();
        assert_eq!(
            stats["outputs"]["syslog"]["delivered"],
            printed.len() as u64
        );
        assert_eq!(stats["outputs"]["syslog"]["dropped"], 0);
        let counted = stats["outputs"]["syslog"]["truncated"]
            .as_u64()
            .unwrap_or(0);
        assert_eq!(counted, truncated, "{stats}");
        if max == "1500" {
            assert!(
                truncated >= 1,
                "the certificate findings do not fit in 1500 bytes"
            );
        }
    }
}
