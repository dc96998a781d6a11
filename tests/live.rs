//! Live capture: the flow cap and the wall-clock tick at library level (always run), the
//! message of a build without the `live` feature, and real captures on the loopback
//! interface with openssl (feature `live`, Linux, root; skipped with a reason elsewhere,
//! never when CI=true).

mod common;

use etherparse::PacketBuilder;
use tlstriage::capture::Packet;
use tlstriage::flow::{Analyzer, AnalyzerConfig, EndReason};

/// An Ethernet/IPv4/TCP SYN from 10.0.0.1:`sport` to 10.0.0.2:443.
fn syn(sport: u16) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(sport, 443, 1000, 64240)
        .syn()
        .write(&mut frame, &[])
        .expect("build SYN");
    frame
}

fn feed(an: &mut Analyzer, frame: u64, ts_us: i64, data: &[u8]) {
    an.packet(&Packet {
        frame,
        ts_us,
        linktype: 1,
        data,
        orig_len: data.len() as u32,
    });
}

#[test]
fn flow_cap_evicts_oldest_and_counts_evictions() {
    let mut config = AnalyzerConfig::default();
    config.max_flows = 100;
    let mut an = Analyzer::new(config);
    let t0 = 1_700_000_000_000_000i64;
    let mut finished = Vec::new();
    for i in 0..1000u16 {
        feed(
            &mut an,
            u64::from(i) + 1,
            t0 + i64::from(i) * 1000,
            &syn(10_000 + i),
        );
        assert!(an.open_flows() <= 100, "open flows above the cap");
        finished.extend(an.take_finished());
    }
    let s = an.stats();
    assert_eq!(s.flows, 1000);
    // The table may evict a batch at once when full: never above the cap, never far below.
    let open = an.open_flows();
    assert!(
        (90..=100).contains(&open),
        "open flows after the run: {open}"
    );
    assert_eq!(s.flows_evicted, 1000 - open as u64);
    assert_eq!(finished.len(), 1000 - open);
    assert!(finished.iter().all(|f| f.end == EndReason::Evicted));
    // Oldest first: the evicted are the oldest connections, in order; the newest survive.
    let evicted_ports: Vec<u16> = finished.iter().map(|f| f.client.port).collect();
    let first_kept = 10_000 + evicted_ports.len() as u16;
    assert_eq!(evicted_ports, (10_000..first_kept).collect::<Vec<_>>());
    an.finish();
    let rest = an.take_finished();
    assert_eq!(rest.len(), open);
    assert!(rest.iter().all(|f| f.client.port >= first_kept));
}

#[test]
fn tick_times_out_quiet_flows_without_packets() {
    let mut config = AnalyzerConfig::default();
    config.idle_timeout_us = 5_000_000;
    let mut an = Analyzer::new(config);
    let t0 = 1_700_000_000_000_000i64;
    for i in 0..10u16 {
        feed(&mut an, u64::from(i) + 1, t0, &syn(20_000 + i));
    }
    an.tick(t0 + 2_000_000);
    assert!(an.take_finished().is_empty(), "timed out too early");
    an.tick(t0 + 6_000_000);
    let done = an.take_finished();
    assert_eq!(done.len(), 10);
    assert!(done.iter().all(|f| f.end == EndReason::Timeout));
    assert_eq!(an.stats().flows_timed_out, 10);
    assert_eq!(an.open_flows(), 0);
}

#[cfg(not(feature = "live"))]
#[test]
fn live_without_the_feature_says_how_to_rebuild() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(["live", "-i", "lo"])
        .output()
        .expect("run tlstriage");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "tlstriage was built without live capture; rebuild with --features live (needs libpcap-dev)"
        ),
        "{err}"
    );
}

#[cfg(feature = "live")]
mod loopback {
    use std::net::{TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::sync::mpsc::{channel, Receiver};
    use std::time::{Duration, Instant};

    use serde_json::Value;

    use super::common::{self, bin, free_port, line_reader, make_cert, s_server, Guard};

    fn can_run(test: &str) -> bool {
        common::can_run_live(test, false)
    }

    fn tempdir(name: &str) -> PathBuf {
        common::tempdir(&format!("live-{name}"))
    }

    /// tlstriage live, started and ready (it has said it is capturing).
    struct Tlstriage {
        child: Guard,
        lines: Receiver<String>,
        /// Its stderr after the "capturing" line.
        errors: Receiver<String>,
    }

    fn start_tlstriage(args: &[&str]) -> Tlstriage {
        let mut child = Command::new(bin())
            .arg("live")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tlstriage live");
        let lines = line_reader(child.stdout.take().expect("stdout"), None);
        let erx = line_reader(child.stderr.take().expect("stderr"), Some("[tlstriage] "));
        let child = Guard(child);
        let line = erx
            .recv_timeout(Duration::from_secs(10))
            .expect("tlstriage live never said it was capturing");
        assert!(line.contains("capturing on lo"), "{line}");
        Tlstriage {
            child,
            lines,
            errors: erx,
        }
    }

    impl Tlstriage {
        /// Wait for a record matching `pred`, collecting everything seen.
        fn wait_for(&self, seen: &mut Vec<Value>, within: Duration, pred: impl Fn(&Value) -> bool) {
            let until = Instant::now() + within;
            while Instant::now() < until {
                if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                    let v: Value = serde_json::from_str(&line).expect("NDJSON line");
                    let hit = pred(&v);
                    seen.push(v);
                    if hit {
                        return;
                    }
                }
            }
            panic!("expected record not seen within {within:?}; saw {seen:#?}");
        }

        /// SIGTERM, then the exit code and every remaining record.
        fn terminate(self, seen: &mut Vec<Value>) -> i32 {
            self.terminate_with(seen, "kill -TERM $0")
        }

        /// Signal with `script` (sh, `$0` is the pid), then the exit code and every
        /// remaining record.
        fn terminate_with(mut self, seen: &mut Vec<Value>, script: &str) -> i32 {
            let pid = self.child.0.id().to_string();
            let st = Command::new("sh")
                .args(["-c", script, &pid])
                .status()
                .expect("kill");
            assert!(st.success());
            let until = Instant::now() + Duration::from_secs(10);
            let code = loop {
                if let Some(s) = self.child.0.try_wait().expect("wait") {
                    break s.code().expect("exited, not killed");
                }
                assert!(
                    Instant::now() < until,
                    "tlstriage did not exit after SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
                seen.push(serde_json::from_str(&line).expect("NDJSON line"));
            }
            code
        }
    }

    fn is_final_stats(v: &Value) -> bool {
        v["type"] == "capture_stats" && v["live"]["final"] == true
    }

    #[test]
    fn tls13_server_and_tls12_client_is_a_version_mismatch() {
        if !can_run("tls13_server_and_tls12_client_is_a_version_mismatch") {
            return;
        }
        let dir = tempdir("vm");
        make_cert(&dir);
        let port = free_port();
        let server = s_server(&dir, port, &["-tls1_3"]);
        let filter = format!("tcp port {port}");
        let pcap = dir.join("failures.pcap");
        let pcap_s = pcap.to_string_lossy().to_string();
        let tt = start_tlstriage(&[
            "-i",
            "lo",
            "--bpf",
            &filter,
            "--format",
            "ndjson",
            "--write-pcap",
            &pcap_s,
        ]);
        let client = Command::new("openssl")
            .args([
                "s_client",
                "-tls1_2",
                "-connect",
                &format!("127.0.0.1:{port}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl s_client");
        assert!(
            !client.success(),
            "a TLS 1.2-only client must fail against -tls1_3"
        );

        // Emitted as soon as decided (the alert and the close), before any signal.
        let mut seen = Vec::new();
        tt.wait_for(&mut seen, Duration::from_secs(10), |v| {
            v["kind"] == "handshake_aborted"
        });
        let code = tt.terminate(&mut seen);
        drop(server);
        assert_eq!(code, 0);
        let aborted = seen
            .iter()
            .find(|v| v["kind"] == "handshake_aborted")
            .expect("handshake_aborted");
        assert_eq!(
            aborted["evidence"]["likely_cause"], "version_mismatch",
            "{aborted:#}"
        );
        assert_eq!(aborted["evidence"]["aborted_by"], "server", "{aborted:#}");
        assert_eq!(aborted["flow"]["server"]["port"], u64::from(port));
        assert_eq!(aborted["capture"], "live:lo");
        assert!(
            seen.iter().any(|v| v["kind"] == "version_mismatch"),
            "{seen:#?}"
        );
        let last = seen.last().expect("records");
        assert!(
            is_final_stats(last),
            "last record is the final capture_stats: {last:#}"
        );
        assert_eq!(last["flows"], 1, "{last:#}");
        assert_eq!(last["live"]["interface"], "lo");
        assert!(last["live"]["pcap_dropped"].is_u64(), "{last:#}");
        assert_eq!(last["live"]["pcap_written_flows"], 1, "{last:#}");

        // --write-pcap kept the failing flow: reading it back tells the same story.
        let read = Command::new(bin())
            .args(["read", "--format", "ndjson", &pcap_s])
            .output()
            .expect("tlstriage read");
        assert_eq!(read.status.code(), Some(0));
        let records: Vec<Value> = String::from_utf8_lossy(&read.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        let again = records
            .iter()
            .find(|v| v["kind"] == "handshake_aborted")
            .unwrap_or_else(|| panic!("the written pcap holds the failure: {records:#?}"));
        assert_eq!(again["evidence"]["likely_cause"], "version_mismatch");
        assert_eq!(again["evidence"]["how"], aborted["evidence"]["how"]);
        assert_eq!(
            again["frames"], aborted["frames"],
            "same frames when one flow is kept"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A server that accepts and never answers: the client's ClientHello stays pending.
    fn silent_server() -> (TcpListener, u16) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        (l, port)
    }

    fn pending_client(port: u16) -> Guard {
        Guard(
            Command::new("openssl")
                .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl s_client"),
        )
    }

    /// GET /metrics over loopback, the body.
    fn scrape(port: u16) -> String {
        use std::io::{Read, Write};
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("metrics endpoint");
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        c.read_to_string(&mut text).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        text.split_once("\r\n\r\n").unwrap().1.to_string()
    }

    fn sample(body: &str, name: &str) -> Option<f64> {
        body.lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn metrics_are_scraped_over_loopback() {
        if !can_run("metrics_are_scraped_over_loopback") {
            return;
        }
        // Nothing listens on `closed`: each connect is refused (connection_failed).
        let closed = free_port();
        let metrics = free_port();
        let filter = format!("tcp port {closed}");
        let addr = format!("127.0.0.1:{metrics}");
        let tt = start_tlstriage(&["-i", "lo", "--bpf", &filter, "--metrics", &addr]);
        for _ in 0..3 {
            assert!(TcpStream::connect(("127.0.0.1", closed)).is_err());
        }
        let until = Instant::now() + Duration::from_secs(15);
        let body = loop {
            let body = scrape(metrics);
            let refused = sample(
                &body,
                "tlstriage_findings_total{interface=\"lo\",kind=\"connection_failed\"}",
            );
            if refused.is_some_and(|n| n >= 3.0) {
                break body;
            }
            assert!(
                Instant::now() < until,
                "no 3 connection_failed findings in\n{body}"
            );
            std::thread::sleep(Duration::from_millis(300));
        };
        assert!(
            sample(&body, "tlstriage_packets_total").is_some_and(|n| n >= 6.0),
            "{body}"
        );
        assert_eq!(
            sample(&body, "tlstriage_pcap_dropped_total"),
            Some(0.0),
            "{body}"
        );
        assert!(sample(&body, "tlstriage_resident_memory_bytes").is_some_and(|n| n > 0.0));
        assert!(sample(&body, "tlstriage_open_flows").is_some(), "{body}");
        let mut seen = Vec::new();
        assert_eq!(tt.terminate(&mut seen), 0);
    }

    #[test]
    fn sigterm_flushes_pending_flows() {
        if !can_run("sigterm_flushes_pending_flows") {
            return;
        }
        let (listener, port) = silent_server();
        let filter = format!("tcp port {port}");
        let tt = start_tlstriage(&["-i", "lo", "--bpf", &filter]);
        let _client = pending_client(port);
        let (_conn, _) = listener.accept().expect("accept");
        std::thread::sleep(Duration::from_millis(700));
        let mut seen = Vec::new();
        let code = tt.terminate(&mut seen);
        assert_eq!(code, 0);
        let aborted = seen
            .iter()
            .find(|v| v["kind"] == "handshake_aborted")
            .unwrap_or_else(|| panic!("pending flow flushed on SIGTERM: {seen:#?}"));
        assert_eq!(aborted["evidence"]["how"], "capture_end", "{aborted:#}");
        assert_eq!(aborted["evidence"]["stage"], "client_hello", "{aborted:#}");
        assert!(is_final_stats(seen.last().expect("records")), "{seen:#?}");
    }

    #[test]
    fn quiet_link_times_out_flows_on_the_wall_clock() {
        if !can_run("quiet_link_times_out_flows_on_the_wall_clock") {
            return;
        }
        let (listener, port) = silent_server();
        let filter = format!("tcp port {port}");
        let tt = start_tlstriage(&[
            "-i",
            "lo",
            "--bpf",
            &filter,
            "--idle-timeout",
            "1",
            "--stats-every",
            "1",
        ]);
        let _client = pending_client(port);
        let (_conn, _) = listener.accept().expect("accept");
        // No packet follows the ClientHello: only the wall-clock tick can finish the flow.
        let mut seen = Vec::new();
        tt.wait_for(&mut seen, Duration::from_secs(10), |v| {
            v["kind"] == "handshake_aborted"
        });
        let aborted = seen.last().expect("record");
        assert_eq!(aborted["evidence"]["how"], "timeout", "{aborted:#}");
        tt.wait_for(&mut seen, Duration::from_secs(5), |v| {
            v["type"] == "capture_stats" && v["flows_timed_out"] == 1
        });
        let code = tt.terminate(&mut seen);
        assert_eq!(code, 0);
        assert!(
            seen.iter()
                .any(|v| v["type"] == "capture_stats" && v["live"]["final"] == false),
            "periodic capture_stats: {seen:#?}"
        );
    }

    #[test]
    fn output_file_is_reopened_on_sighup() {
        if !can_run("output_file_is_reopened_on_sighup") {
            return;
        }
        let dir = tempdir("hup");
        let out = dir.join("findings.ndjson");
        let rotated = dir.join("findings.ndjson.1");
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(&rotated);
        let port = free_port();
        let filter = format!("tcp port {port}");
        let out_s = out.to_string_lossy().to_string();
        let tt = start_tlstriage(&["-i", "lo", "--bpf", &filter, "--output", &out_s]);
        std::fs::rename(&out, &rotated).expect("rotate");
        let pid = tt.child.0.id().to_string();
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill")
            .success());
        let until = Instant::now() + Duration::from_secs(5);
        while !out.exists() {
            assert!(Instant::now() < until, "output not reopened after SIGHUP");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut seen = Vec::new();
        assert_eq!(tt.terminate(&mut seen), 0);
        assert!(
            seen.is_empty(),
            "nothing on stdout with --output: {seen:#?}"
        );
        let text = std::fs::read_to_string(&out).expect("read output");
        let last: Value = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
        assert!(is_final_stats(&last), "{text}");
        assert!(text.ends_with('\n'));
        assert_eq!(std::fs::read_to_string(&rotated).expect("rotated"), "");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Python ssl clients: `N` connections, `PAR` at a time, each a handshake and one GET
    /// read to the end; prints the local (client) port of each.
    const BURST_CLIENT: &str = r#"
import concurrent.futures, socket, ssl, sys
port, n, par = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def one(_):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        local = s.getsockname()[1]
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while t.recv(65536):
                pass
    return local
with concurrent.futures.ThreadPoolExecutor(par) as ex:
    for p in ex.map(one, range(n)):
        print(p)
"#;

    /// Issue #21: a burst of real handshakes with the defaults, then SIGTERM twice within
    /// milliseconds (as `timeout` sends it to the child and then to its process group):
    /// exit 0, nothing dropped, every connection once with the right roles, final stats.
    #[test]
    fn burst_then_double_sigterm_flushes_every_connection() {
        if !can_run("burst_then_double_sigterm_flushes_every_connection") {
            return;
        }
        if Command::new("python3").arg("--version").output().is_err() {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "python3 not installed"
            );
            eprintln!("SKIPPED burst_then_double_sigterm_flushes_every_connection: no python3");
            return;
        }
        const CONNECTIONS: usize = 200;
        let dir = tempdir("burst");
        make_cert(&dir);
        std::fs::write(dir.join("client.py"), BURST_CLIENT).expect("write client");
        let port = free_port();
        let _server = s_server(&dir, port, &["-www"]);
        let filter = format!("tcp port {port}");
        let mut tt = start_tlstriage(&[
            "-i", "lo", "--bpf", &filter, "--flows", "--format", "ndjson",
        ]);
        let started = Instant::now();
        let clients = Command::new("python3")
            .arg("client.py")
            .args([&port.to_string(), &CONNECTIONS.to_string(), "8"])
            .current_dir(&dir)
            .output()
            .expect("python3 client.py");
        assert!(
            clients.status.success(),
            "{}",
            String::from_utf8_lossy(&clients.stderr)
        );
        let mut client_ports: Vec<u64> = String::from_utf8_lossy(&clients.stdout)
            .lines()
            .map(|l| l.parse().expect("a port"))
            .collect();
        assert_eq!(client_ports.len(), CONNECTIONS);
        eprintln!(
            "burst of {CONNECTIONS} connections took {:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(500));

        let mut seen = Vec::new();
        let errors = std::mem::replace(&mut tt.errors, channel().1);
        let code = tt.terminate_with(&mut seen, "kill -TERM $0 && kill -TERM $0");
        assert_eq!(code, 0, "exit code after a doubled SIGTERM");
        let last = seen.last().expect("records");
        assert!(is_final_stats(last), "last record: {last:#}");
        let dropped = &last["live"]["pcap_dropped"];
        assert_eq!(dropped, 0, "libpcap drops: {last:#}");
        assert_eq!(last["live"]["pcap_if_dropped"], 0, "{last:#}");
        // The stats were libpcap's own: it counted every packet the burst made (more than
        // 10 per connection: handshake, GET, response, teardown).
        let received = last["live"]["pcap_received"].as_u64().expect("received");
        assert!(received > 10 * CONNECTIONS as u64, "{last:#}");
        // Drops are loud on stderr; none were reported.
        let warnings: Vec<String> = errors
            .try_iter()
            .filter(|l| l.contains("dropped"))
            .collect();
        assert!(warnings.is_empty(), "{warnings:?}");

        let mut flow_ports: Vec<u64> = seen
            .iter()
            .filter(|v| v["type"] == "tls_flow")
            .map(|v| {
                let f = &v["flow"];
                assert_eq!(f["server"]["port"], u64::from(port), "roles: {v:#}");
                assert_eq!(v["established"], true, "{v:#}");
                f["client"]["port"].as_u64().expect("client port")
            })
            .collect();
        flow_ports.sort_unstable();
        client_ports.sort_unstable();
        assert_eq!(flow_ports, client_ports, "every connection exactly once");
        assert_eq!(last["flows"], CONNECTIONS as u64, "{last:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Issue #14: `live --keylog` follows a key log the client writes during the capture.
    /// The file is empty when tlstriage starts; openssl s_client appends its TLS 1.3
    /// secrets after the ClientHello is on the wire, and the server's encrypted flight and
    /// its certificate_required alert (the client has no certificate) are read with them.
    #[test]
    fn keylog_written_during_the_capture_decrypts_tls13() {
        if !can_run("keylog_written_during_the_capture_decrypts_tls13") {
            return;
        }
        let dir = tempdir("keylog");
        make_cert(&dir);
        let keys = dir.join("keys.log");
        std::fs::write(&keys, "").expect("empty key log");
        let port = free_port();
        let _server = s_server(&dir, port, &["-tls1_3", "-Verify", "1", "-www"]);
        let filter = format!("tcp port {port}");
        let keys_s = keys.to_string_lossy().to_string();
        let tt = start_tlstriage(&[
            "-i", "lo", "--bpf", &filter, "--format", "ndjson", "--flows", "--keylog", &keys_s,
        ]);
        // Two sessions back to back: the second one's secrets arrive moments after the
        // first lookup (a timer between re-reads of the file would miss them).
        for _ in 0..2 {
            let mut client = Command::new("openssl")
                .args(["s_client", "-tls1_3", "-ign_eof", "-keylogfile", &keys_s])
                .args(["-connect", &format!("127.0.0.1:{port}")])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl s_client");
            {
                use std::io::Write;
                let mut stdin = client.stdin.take().expect("stdin");
                let _ = stdin.write_all(b"GET / HTTP/1.0\r\n\r\n");
            }
            let _ = client.wait();
            let logged = std::fs::read_to_string(&keys).expect("key log");
            assert!(
                logged.contains("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
                "the client wrote its secrets: {} bytes",
                logged.len()
            );
        }
        let mut seen = Vec::new();
        let flows = |seen: &[Value]| seen.iter().filter(|v| v["type"] == "tls_flow").count();
        tt.wait_for(&mut seen, Duration::from_secs(10), |v| {
            v["type"] == "tls_flow"
        });
        if flows(&seen) < 2 {
            tt.wait_for(&mut seen, Duration::from_secs(10), |v| {
                v["type"] == "tls_flow"
            });
        }
        let code = tt.terminate(&mut seen);
        assert_eq!(code, 0);
        assert_eq!(flows(&seen), 2, "{seen:#?}");
        for flow in seen.iter().filter(|v| v["type"] == "tls_flow") {
            assert_eq!(flow["decrypted"], true, "{flow:#}");
            // The leaf came out of the encrypted Certificate message.
            let chain = flow["cert_chain"].as_array().expect("cert_chain");
            assert_eq!(chain.len(), 1, "{flow:#}");
            assert_eq!(chain[0]["subject"], "CN=localhost", "{flow:#}");
        }
        let alerts: Vec<&Value> = seen.iter().filter(|v| v["kind"] == "tls_alert").collect();
        assert_eq!(alerts.len(), 2, "a decrypted alert per session: {seen:#?}");
        for alert in alerts {
            let ev = &alert["evidence"];
            assert_eq!(ev["decrypted"], true, "{alert:#}");
            assert_eq!(ev["description"], "certificate_required", "{alert:#}");
            assert_eq!(ev["sent_by"], "server", "{alert:#}");
        }
        let last = seen.last().expect("records");
        assert!(is_final_stats(last), "{last:#}");
        assert_eq!(last["keylog_sessions"], 2, "{last:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_filter_and_unknown_interface_exit_2() {
        let out = Command::new(bin())
            .args(["live", "-i", "no-such-if0"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("unknown interface") && err.contains("lo"),
            "{err}"
        );

        if !can_run("bad_filter_and_unknown_interface_exit_2") {
            return;
        }
        let out = Command::new(bin())
            .args(["live", "-i", "lo", "--bpf", "tcp prot 443"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("bad --bpf filter") && err.contains("syntax error"),
            "{err}"
        );
    }
}
