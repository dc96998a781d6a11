//! `--syslog tls://` (RFC 5425): findings reach a real rsyslogd through its gtls stream
//! driver (tests/rsyslog/rsyslog-tls.conf, unprivileged, 127.0.0.1 only) intact, the
//! collector's certificate checked against `--syslog-ca`; without that CA the connection is
//! refused with the reason. Skipped with a notice when rsyslogd or its gtls driver is not
//! installed, except under CI=true (`.ci/run` installs rsyslog and rsyslog-gnutls).

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::tlstriage;

/// rsyslogd with the gtls driver, or None (skipped; a failure under CI=true).
fn rsyslogd_or_skip(test: &str) -> Option<PathBuf> {
    let bin = [
        "/usr/sbin/rsyslogd",
        "/sbin/rsyslogd",
        "/usr/local/sbin/rsyslogd",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file());
    let gtls = [
        "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so",
        "/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so",
        "/usr/lib/rsyslog/lmnsd_gtls.so",
    ]
    .iter()
    .any(|p| Path::new(p).is_file());
    let missing = match (&bin, gtls) {
        (None, _) => Some("rsyslogd not found (apt-get install rsyslog)"),
        (Some(_), false) => {
            Some("rsyslog's gtls driver not found (apt-get install rsyslog-gnutls)")
        }
        _ => None,
    };
    if let Some(why) = missing {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{test}: {why}, and CI=true: .ci/run must install it"
        );
        eprintln!("SKIPPED {test}: {why}");
        return None;
    }
    bin
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for IP 127.0.0.1 signed by it.
fn make_pki(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=tlstriage test syslog CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext.cnf");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

struct Rsyslogd {
    child: Child,
    dir: PathBuf,
    out: PathBuf,
    port: u16,
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Rsyslogd {
    /// `name`: the test's, so that tests running at once have work dirs of their own.
    fn start(bin: &Path, name: &str) -> Rsyslogd {
        let dir = std::env::temp_dir().join(format!(
            "tlstriage-rsyslog-tls-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("work dir");
        make_pki(&dir);
        let out = dir.join("messages.log");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let conf = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/rsyslog/rsyslog-tls.conf"
        ))
        .expect("config template")
        .replace("@WORKDIR@", dir.to_str().expect("utf-8 temp dir"))
        .replace("@TLS_PORT@", &port.to_string())
        .replace("@OUTFILE@", out.to_str().expect("utf-8 temp dir"));
        assert!(!conf.contains('@'), "unreplaced placeholder in\n{conf}");
        std::fs::write(dir.join("rsyslog.conf"), conf).expect("write config");
        let child = Command::new(bin)
            .arg("-n")
            .arg("-f")
            .arg(dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        let mut r = Rsyslogd {
            child,
            dir,
            out,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = r.child.try_wait().expect("wait") {
                panic!("rsyslogd exited ({st}); config in {}", r.dir.display());
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// The messages rsyslogd wrote once `n` have arrived (or 15 s passed).
    fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got: Vec<String> = std::fs::read_to_string(&self.out)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("|tlstriage|"))
                .map(String::from)
                .collect();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn findings_reach_rsyslog_over_tls_intact() {
    let Some(bin) = rsyslogd_or_skip("findings_reach_rsyslog_over_tls_intact") else {
        return;
    };
    let server = Rsyslogd::start(&bin, "intact");
    let url = format!("tls://127.0.0.1:{}", server.port);
    let ca = server.dir.join("ca.pem");
    let out = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--syslog",
        &url,
        "--syslog-ca",
        ca.to_str().expect("utf-8"),
        "samples/cert-expired.pcap",
        "samples/version-mismatch.pcap",
        "samples/no-answer.pcap",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();
    let findings: Vec<&Value> = records.iter().filter(|r| r["type"] == "finding").collect();
    assert!(findings.len() >= 3, "{records:#?}");
    let stats = records.last().expect("capture_stats");
    assert_eq!(
        stats["outputs"]["syslog"]["delivered"],
        findings.len() as u64,
        "{stats:#}"
    );
    assert_eq!(stats["outputs"]["syslog"]["dropped"], 0, "{stats:#}");
    let lines = server.wait_for(findings.len());
    assert_eq!(lines.len(), findings.len(), "{lines:#?}");
    // In order, each message the very record printed on stdout.
    for (line, finding) in lines.iter().zip(&findings) {
        let msg = line.splitn(4, '|').nth(3).expect("MSG field");
        let got: Value = serde_json::from_str(msg.trim())
            .unwrap_or_else(|e| panic!("MSG is not JSON ({e}): {msg}"));
        assert_eq!(&got, *finding);
        assert!(line.contains("[tlstriage@32473 kind="), "{line}");
    }
}

#[test]
fn a_collector_certificate_outside_the_trust_store_is_refused() {
    let Some(bin) = rsyslogd_or_skip("a_collector_certificate_outside_the_trust_store_is_refused")
    else {
        return;
    };
    let server = Rsyslogd::start(&bin, "refused");
    let url = format!("tls://127.0.0.1:{}", server.port);
    let out = tlstriage(&["read", "--syslog", &url, "samples/cert-expired.pcap"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("syslog {url}")), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    assert!(server.wait_for(0).is_empty());
}
