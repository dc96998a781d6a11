//! `live --threads N` and `live` surviving write errors, on the loopback interface with
//! real TLS handshakes (openssl s_server, Python ssl clients). Feature `live`, Linux, root;
//! skipped with a reason elsewhere, never when CI=true.

mod common;

#[cfg(feature = "live")]
pub(crate) mod loopback {
    use super::common::{self, bin, free_port, line_reader, make_cert, s_server, Guard};
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::mpsc::Receiver;
    use std::time::{Duration, Instant};

    use serde_json::Value;

    const BURST_CLIENT: &str = r#"
import concurrent.futures, socket, ssl, sys
port, n, par = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
# Every other connection TLS 1.2, whose certificate is in the clear (a finding: self-signed).
ctx12 = ssl.create_default_context()
ctx12.check_hostname = False
ctx12.verify_mode = ssl.CERT_NONE
ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
def one(i):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        local = s.getsockname()[1]
        with (ctx12 if i % 2 else ctx).wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while t.recv(65536):
                pass
    return local
with concurrent.futures.ThreadPoolExecutor(par) as ex:
    for p in ex.map(one, range(n)):
        print(p)
"#;

    pub(crate) fn can_run_here(test: &str) -> bool {
        can_run(test)
    }

    fn can_run(test: &str) -> bool {
        common::can_run_live(test, true)
    }

    /// A TLS server on a free loopback port, with the burst client beside it.
    pub(crate) struct Server {
        dir: PathBuf,
        pub(crate) port: u16,
        _server: Guard,
    }

    impl Server {
        pub(crate) fn start(name: &str) -> Server {
            let dir = std::env::temp_dir().join(format!(
                "tlstriage-live-threads-{name}-{}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            make_cert(&dir);
            std::fs::write(dir.join("client.py"), BURST_CLIENT).expect("write client");
            let port = free_port();
            let server = s_server(&dir, port, &["-www"]);
            Server {
                dir,
                port,
                _server: server,
            }
        }

        /// `n` handshakes, 8 at a time: the client ports.
        pub(crate) fn burst(&self, n: usize) -> Vec<u64> {
            let out = Command::new("python3")
                .arg("client.py")
                .args([&self.port.to_string(), &n.to_string(), "8"])
                .current_dir(&self.dir)
                .output()
                .expect("python3 client.py");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let ports: Vec<u64> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.parse().expect("a port"))
                .collect();
            assert_eq!(ports.len(), n);
            ports
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// tlstriage live on lo for the server's port, started and ready.
    pub(crate) struct Live {
        child: Guard,
        lines: Option<Receiver<String>>,
        errors: Receiver<String>,
    }

    #[derive(PartialEq)]
    enum Stdout {
        /// Read line by line.
        Read,
        Discard,
        /// A pipe whose reader has gone.
        Closed,
    }

    /// Live with its output going to a file (`-o` in `args`).
    pub(crate) fn start_live_to(port: u16, args: &[&str]) -> Live {
        start_live(port, args, Stdout::Discard)
    }

    fn start_live(port: u16, args: &[&str], how: Stdout) -> Live {
        let stdout = match how {
            Stdout::Discard => Stdio::null(),
            _ => Stdio::piped(),
        };
        let filter = format!("tcp port {port}");
        let mut child = Command::new(bin())
            .args(["live", "-i", "lo", "--bpf", &filter, "--flows"])
            .args(args)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tlstriage live");
        if how == Stdout::Closed {
            drop(child.stdout.take());
        }
        let lines =
            (how == Stdout::Read).then(|| line_reader(child.stdout.take().expect("stdout"), None));
        let errors = line_reader(child.stderr.take().expect("stderr"), Some("[tlstriage] "));
        let line = errors
            .recv_timeout(Duration::from_secs(10))
            .expect("tlstriage live never said it was capturing");
        assert!(line.contains("capturing on lo"), "{line}");
        Live {
            child: Guard(child),
            lines,
            errors,
        }
    }

    impl Live {
        fn signal(&self, sig: &str) {
            let st = Command::new("kill")
                .args([sig, &self.child.0.id().to_string()])
                .status()
                .expect("kill");
            assert!(st.success());
        }

        fn wait_exit(&mut self, within: Duration) -> i32 {
            let until = Instant::now() + within;
            loop {
                if let Some(s) = self.child.0.try_wait().expect("wait") {
                    return s.code().expect("exited, not killed");
                }
                assert!(
                    Instant::now() < until,
                    "tlstriage did not exit in {within:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }

        /// SIGTERM, then the exit code and every record.
        pub(crate) fn stop(mut self) -> (i32, Vec<Value>) {
            self.signal("-TERM");
            let code = self.wait_exit(Duration::from_secs(20));
            let mut seen = Vec::new();
            if let Some(lines) = &self.lines {
                while let Ok(line) = lines.recv_timeout(Duration::from_secs(2)) {
                    seen.push(serde_json::from_str(&line).expect("NDJSON line"));
                }
            }
            (code, seen)
        }

        pub(crate) fn stderr_until(&self, within: Duration, pred: impl Fn(&str) -> bool) -> String {
            let until = Instant::now() + within;
            while Instant::now() < until {
                if let Ok(l) = self.errors.recv_timeout(Duration::from_millis(100)) {
                    if pred(&l) {
                        return l;
                    }
                }
            }
            panic!("expected stderr line not seen within {within:?}");
        }
    }

    /// A burst seen by `live --threads N`: the client ports of its flows, how many flows
    /// had each (version, cipher, history, end, finding kinds), and the final stats.
    fn burst_run(
        server: &Server,
        threads: &str,
        n: usize,
    ) -> (Vec<u64>, Vec<u64>, BTreeMap<String, u64>, Value) {
        let tt = start_live(server.port, &["--threads", threads], Stdout::Read);
        let mut client_ports = server.burst(n);
        std::thread::sleep(Duration::from_millis(500));
        let (code, seen) = tt.stop();
        assert_eq!(code, 0);
        let last = seen.last().expect("records").clone();
        assert_eq!(last["type"], "capture_stats", "{last:#}");
        assert_eq!(last["live"]["final"], true, "{last:#}");
        let mut flow_ports: Vec<u64> = seen
            .iter()
            .filter(|v| v["type"] == "tls_flow")
            .map(|v| {
                assert_eq!(v["flow"]["server"]["port"], u64::from(server.port), "{v:#}");
                assert_eq!(v["established"], true, "{v:#}");
                v["flow"]["client"]["port"].as_u64().expect("client port")
            })
            .collect();
        let mut kinds = BTreeMap::new();
        for v in seen.iter().filter(|v| v["type"] == "tls_flow") {
            let mut found: Vec<String> = v["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .map(|f| f.as_str().or(f["kind"].as_str()).expect("kind").to_string())
                .collect();
            found.sort();
            let key = format!(
                "{} {} {} {} {}",
                v["version"],
                v["cipher"],
                v["history"],
                v["end"],
                found.join(",")
            );
            *kinds.entry(key).or_insert(0u64) += 1;
        }
        flow_ports.sort_unstable();
        client_ports.sort_unstable();
        (flow_ports, client_ports, kinds, last)
    }

    #[test]
    fn two_workers_see_a_burst_in_full_with_the_findings_of_one_thread() {
        if !can_run("two_workers_see_a_burst_in_full_with_the_findings_of_one_thread") {
            return;
        }
        const CONNECTIONS: usize = 400;
        let server = Server::start("burst");
        let mut kinds_by_threads = Vec::new();
        for (threads, workers) in [("2", 2u64), ("1", 0)] {
            let started = Instant::now();
            let (flows, clients, kinds, last) = burst_run(&server, threads, CONNECTIONS);
            eprintln!(
                "--threads {threads}: {CONNECTIONS} handshakes in {:?}: {kinds:#?}",
                started.elapsed()
            );
            assert_eq!(flows, clients, "--threads {threads}: every connection once");
            assert_eq!(last["flows"], CONNECTIONS as u64, "{last:#}");
            assert_eq!(last["live"]["pcap_dropped"], 0, "{last:#}");
            assert_eq!(last["live"]["pcap_if_dropped"], 0, "{last:#}");
            assert_eq!(last["live"]["workers"], workers, "{last:#}");
            assert_eq!(last["live"]["open_flows"], 0, "{last:#}");
            let received = last["live"]["pcap_received"].as_u64().expect("received");
            assert!(received > 10 * CONNECTIONS as u64, "{last:#}");
            kinds_by_threads.push(kinds);
        }
        // The TLS 1.2 half shows its self-signed certificate, in both runs.
        let self_signed: u64 = kinds_by_threads[0]
            .iter()
            .filter(|(k, _)| k.contains("certificate_self_signed"))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(self_signed, CONNECTIONS as u64 / 2, "{kinds_by_threads:#?}");
        assert_eq!(kinds_by_threads[0], kinds_by_threads[1], "same findings");
    }

    /// ENOSPC on every write (/dev/full, as a full disk): live keeps capturing, says so,
    /// and gives up only after --output-retry seconds of failures, with a clear message.
    #[test]
    fn a_full_disk_is_retried_then_given_up_with_a_message() {
        if !can_run("a_full_disk_is_retried_then_given_up_with_a_message") {
            return;
        }
        let server = Server::start("full");
        let mut tt = start_live(
            server.port,
            &["--threads", "2", "-o", "/dev/full", "--output-retry", "3"],
            Stdout::Discard,
        );
        let started = Instant::now();
        server.burst(20);
        let warning = tt.stderr_until(Duration::from_secs(10), |l| l.contains("failed"));
        assert!(warning.contains("writing to /dev/full failed"), "{warning}");
        assert!(warning.contains("No space left"), "{warning}");
        // Still capturing within the retry window.
        std::thread::sleep(Duration::from_millis(1000));
        assert!(
            tt.child.0.try_wait().expect("wait").is_none(),
            "exited early"
        );
        server.burst(5);
        let code = tt.wait_exit(Duration::from_secs(15));
        assert_eq!(code, 2, "a persistent failure exits 2");
        assert!(started.elapsed() >= Duration::from_secs(3));
        let msg = tt.stderr_until(Duration::from_secs(5), |l| l.contains("giving up"));
        assert!(msg.contains("giving up on /dev/full"), "{msg}");
        assert!(msg.contains("writes failed for"), "{msg}");
    }

    /// EPIPE (a collector that closed its end of the pipe): live keeps analysing until
    /// stopped; at the stop its last records are retried for the window, then it exits 2
    /// saying how many records were lost.
    #[test]
    fn a_closed_pipe_does_not_stop_the_capture() {
        if !can_run("a_closed_pipe_does_not_stop_the_capture") {
            return;
        }
        let server = Server::start("pipe");
        let mut tt = start_live(
            server.port,
            &["--threads", "1", "--output-retry", "2"],
            Stdout::Closed,
        );
        server.burst(10);
        let warning = tt.stderr_until(Duration::from_secs(10), |l| l.contains("failed"));
        assert!(
            warning.contains("writing to standard output failed"),
            "{warning}"
        );
        assert!(warning.contains("Broken pipe"), "{warning}");
        server.burst(10);
        assert!(
            tt.child.0.try_wait().expect("wait").is_none(),
            "exited on EPIPE"
        );
        tt.signal("-TERM");
        let code = tt.wait_exit(Duration::from_secs(15));
        assert_eq!(code, 2);
        let msg = tt.stderr_until(Duration::from_secs(5), |l| l.contains("giving up"));
        assert!(msg.contains("giving up on standard output"), "{msg}");
        let _ = Path::new(&server.dir);
    }
}

#[cfg(feature = "live")]
mod full_tmpfs {
    use std::process::Command;
    use std::time::Duration;

    use super::loopback::{can_run_here, start_live_to, Server};

    /// A 256 KiB tmpfs, unmounted on drop.
    struct Tmpfs(std::path::PathBuf);
    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
            let _ = std::fs::remove_dir(&self.0);
        }
    }

    /// A full file system that gets room again: nothing is lost (the records wait, whole,
    /// while the disk is full), the recovery is said on stderr, and the write errors are
    /// counted in the final capture_stats.
    #[test]
    fn records_wait_out_a_full_disk_and_none_is_lost() {
        if !can_run_here("records_wait_out_a_full_disk_and_none_is_lost") {
            return;
        }
        let mnt = std::env::temp_dir().join(format!("tlstriage-full-{}", std::process::id()));
        std::fs::create_dir_all(&mnt).expect("mount point");
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(&mnt)
            .status()
            .expect("mount");
        assert!(st.success(), "mount tmpfs");
        let mnt = Tmpfs(mnt);
        let out = mnt.0.join("findings.ndjson");
        let filler = mnt.0.join("filler");
        let server = Server::start("tmpfs");
        let tt = start_live_to(
            server.port,
            &[
                "--threads",
                "2",
                "-o",
                out.to_str().expect("utf-8"),
                "--stats-every",
                "1",
            ],
        );
        // Fill the file system: dd stops at ENOSPC.
        let _ = Command::new("dd")
            .arg("if=/dev/zero")
            .arg(format!("of={}", filler.display()))
            .arg("bs=4096")
            .stderr(std::process::Stdio::null())
            .status()
            .expect("dd");
        let mut ports = server.burst(20);
        let warning = tt.stderr_until(Duration::from_secs(10), |l| l.contains("failed"));
        assert!(warning.contains("No space left"), "{warning}");
        std::fs::remove_file(&filler).expect("free the disk");
        let again = tt.stderr_until(Duration::from_secs(10), |l| l.contains("writing again"));
        assert!(again.contains("0 records dropped"), "{again}");
        let (code, _) = tt.stop();
        assert_eq!(code, 0);
        let text = std::fs::read_to_string(&out).expect("output file");
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("half line? {e}: {l}")))
            .collect();
        let mut seen: Vec<u64> = records
            .iter()
            .filter(|v| v["type"] == "tls_flow")
            .map(|v| v["flow"]["client"]["port"].as_u64().expect("port"))
            .collect();
        seen.sort_unstable();
        ports.sort_unstable();
        assert_eq!(
            seen, ports,
            "every connection written once the disk had room"
        );
        let last = records.last().expect("records");
        assert_eq!(last["live"]["final"], true, "{last:#}");
        assert_eq!(last["live"]["output_dropped"], 0, "{last:#}");
        assert!(
            last["live"]["output_write_errors"].as_u64() >= Some(1),
            "{last:#}"
        );
    }
}
