//! `tlstriage live`: capture from a network interface with libpcap (cargo feature `live`)
//! and emit findings as soon as each flow is decided.
//!
//! The loop reads non-blocking and naps briefly when nothing is buffered: every wakeup
//! checks the SIGINT/SIGTERM/SIGHUP flags, runs the idle-timeout sweep on the wall clock
//! ([`crate::flow::Analyzer::tick`]) and writes periodic `capture_stats`. On SIGINT/SIGTERM
//! every open flow is finished (`how: capture_end`), its findings written, and a final
//! `capture_stats` printed; the exit code is 0.
//!
//! Memory is bounded by the analyzer's limits: at most `--max-flows` tracked connections
//! (the oldest idle one is evicted first, counted in `flows_evicted`) and at most
//! `--max-flow-buffer` out-of-order bytes per direction of a flow.
//!
//! Without the `live` feature the subcommand exists but exits 2 with [`NOT_BUILT`].

use std::path::PathBuf;

use super::args::{AnalysisArgs, OutputArgs};
use super::EXIT_ERROR;

/// The message printed when the binary was built without the `live` feature.
pub const NOT_BUILT: &str =
    "tlstriage was built without live capture; rebuild with --features live (needs libpcap-dev)";

/// Default capture filter: TCP only (the analyzer ignores everything else).
pub const DEFAULT_BPF: &str = "tcp";
/// Default snapshot length (tcpdump's): whole frames, so certificates are complete.
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// Default kernel capture buffer (libpcap's own default is 2 MiB): headroom for bursts
/// and for the analysis falling behind for a moment (README, "Keeping up").
pub const DEFAULT_BUFFER_SIZE: u32 = 64 << 20;
/// Default cap on tracked connections in live mode.
pub const DEFAULT_MAX_FLOWS: usize = 50_000;
/// Default cap on out-of-order bytes buffered per direction of a flow in live mode.
pub const DEFAULT_MAX_FLOW_BUFFER: usize = 256 * 1024;

#[derive(clap::Args, Debug)]
pub struct LiveArgs {
    /// Interface to capture on (as tcpdump -i; "any" for all interfaces on Linux).
    #[arg(short, long, required_unless_present = "list_interfaces")]
    pub interface: Option<String>,
    /// List the interfaces libpcap can capture on, and exit.
    #[arg(long)]
    pub list_interfaces: bool,
    /// Capture filter in libpcap (tcpdump) syntax.
    #[arg(long, default_value = DEFAULT_BPF)]
    pub bpf: String,
    /// Bytes kept of each frame.
    #[arg(long, default_value_t = DEFAULT_SNAPLEN)]
    pub snaplen: u32,
    /// Kernel capture buffer in bytes (pcap_set_buffer_size); too small a buffer drops
    /// packets under bursts (counted in capture_stats `live.pcap_dropped`).
    #[arg(long, default_value_t = DEFAULT_BUFFER_SIZE)]
    pub buffer_size: u32,
    /// Put the interface in promiscuous mode (the default).
    #[arg(long, overrides_with = "no_promisc")]
    pub promisc: bool,
    /// Do not put the interface in promiscuous mode.
    #[arg(long, overrides_with = "promisc")]
    pub no_promisc: bool,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    /// Append the output to this file (reopened on SIGHUP, for logrotate) instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Write a capture_stats record every this many seconds (0: only the final one).
    #[arg(long, default_value_t = 0)]
    pub stats_every: u64,
    /// At most this many connections are tracked; the oldest idle one is evicted first.
    #[arg(long, default_value_t = DEFAULT_MAX_FLOWS)]
    pub max_flows: usize,
    /// At most this many out-of-order bytes are buffered per direction of a flow.
    #[arg(long, default_value_t = DEFAULT_MAX_FLOW_BUFFER)]
    pub max_flow_buffer: usize,
    /// At most this many bytes are buffered over all flows together (out-of-order data and
    /// partial TLS records); above it the flows holding the most are evicted.
    #[arg(long, default_value_t = DEFAULT_MAX_TOTAL_BUFFER)]
    pub max_total_buffer: usize,
    /// Stop after this many seconds, as if interrupted (like tshark -a duration:N).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Write the packets of every flow with a finding (info excluded) to this pcap file:
    /// the last packets of each flow are kept in a ring until the flow is decided.
    #[arg(long)]
    pub write_pcap: Option<PathBuf>,
    /// Serve the sensor's counters (packets, drops, open flows, findings by kind, RSS,
    /// output queues) in the Prometheus text format at http://ADDR/metrics, refreshed
    /// every second, e.g. 127.0.0.1:9108.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
}

/// `--write-pcap`: packets kept per flow (the most recent ones).
pub const RING_PACKETS_PER_FLOW: usize = 256;
/// `--write-pcap`: bytes kept in all flow rings together; the least recently active flow's
/// ring is dropped first beyond this.
pub const RING_MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;

/// Run `tlstriage live`; returns the process exit code.
#[cfg(not(feature = "live"))]
pub fn run(_args: &LiveArgs) -> i32 {
    super::error(NOT_BUILT);
    EXIT_ERROR
}

/// Run `tlstriage live`; returns the process exit code.
#[cfg(feature = "live")]
pub fn run(args: &LiveArgs) -> i32 {
    match imp::run(args) {
        Ok(code) => code,
        Err(e) => {
            super::error(&format!("{e:#}"));
            EXIT_ERROR
        }
    }
}

/// The analyzer configuration a live run uses.
pub fn analyzer_config(args: &LiveArgs) -> anyhow::Result<crate::flow::AnalyzerConfig> {
    let mut config = args.analysis.config_following(true)?;
    config.max_flows = args.max_flows.max(1);
    config.reassembly.max_buffered_bytes = args.max_flow_buffer;
    config.max_total_buffered_bytes = args.max_total_buffer;
    Ok(config)
}

/// `--max-total-buffer` default: 64 MiB over all flows.
pub const DEFAULT_MAX_TOTAL_BUFFER: usize = 64 << 20;

/// Resident memory of this process in bytes (Linux), for capture_stats.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Turn a libpcap open error into the message a user can act on.
pub fn explain_open_error(iface: &str, msg: &str, known: &[String]) -> String {
    let lower = msg.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        format!(
            "no permission to capture on {iface}: {msg}; run as root (sudo), or grant the \
             binary CAP_NET_RAW and CAP_NET_ADMIN: \
             sudo setcap cap_net_raw,cap_net_admin=eip $(command -v tlstriage)"
        )
    } else if lower.contains("no such device") || lower.contains("doesn't exist") {
        unknown_interface(iface, known)
    } else {
        format!("cannot capture on {iface}: {msg}")
    }
}

/// The error for an interface libpcap does not know, listing the real ones.
pub fn unknown_interface(iface: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("unknown interface {iface:?} (libpcap lists no interface)")
    } else {
        format!(
            "unknown interface {iface:?}; available: {} (see tlstriage live --list-interfaces)",
            known.join(", ")
        )
    }
}

#[cfg(feature = "live")]
mod imp {
    use std::cell::RefCell;
    use std::collections::{HashMap, VecDeque};
    use std::fs::{File, OpenOptions};
    use std::io::{self, Write};
    use std::path::PathBuf;
    use std::rc::Rc;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use anyhow::{anyhow, Context, Result};
    use serde_json::json;

    use super::{
        analyzer_config, explain_open_error, rss_bytes, unknown_interface, LiveArgs,
        RING_MAX_TOTAL_BYTES, RING_PACKETS_PER_FLOW,
    };
    use crate::capture::Packet;
    use crate::cli::args::{fanout, Format, Mode, NetworkOutputs};
    use crate::cli::metrics::{render, MetricsServer, Snapshot};
    use crate::cli::EXIT_ERROR;
    use crate::decode::{decode, Decoded};
    use crate::flow::{Analyzer, Endpoint, FlowRecord};
    use crate::model::{now_us, TimestampUs};
    use crate::output::{Fanout, Prepare, Rendered};
    use crate::rules::evaluate_with;
    use crate::rules::Severity;

    /// libpcap read timeout: a partly filled block of the ring is handed over after this
    /// long, which bounds how late a finding on a quiet link is written. Immediate mode is
    /// not used: on Linux it makes libpcap fall back to TPACKET_V2, one slot of the ring per
    /// frame sized for the largest frame (64 KiB on loopback), so even a 64 MiB ring holds
    /// only ~1,000 packets and dropped some in a 400-handshake burst; TPACKET_V3 packs
    /// frames into blocks and dropped none even with 2 MiB (README, "Keeping up").
    const READ_TIMEOUT_MS: i32 = 200;
    /// The capture is non-blocking (a blocking read on Linux can sleep through signals and
    /// read timeouts on a quiet link): when nothing is buffered the loop sleeps this long,
    /// then checks signals and timers again.
    const IDLE_SLEEP: Duration = Duration::from_millis(10);

    /// Where records go: stdout, or a file opened for append and reopened on SIGHUP.
    /// Records are collected whole and written out at every wakeup of the capture loop (or
    /// when [`OUT_FLUSH_BYTES`] are pending): a write and a flush per record made the loop
    /// fall behind libpcap during bursts.
    struct Out {
        path: Option<PathBuf>,
        file: Option<File>,
        pending: Vec<u8>,
    }

    /// Pending output written out at once beyond this, however busy the capture is.
    const OUT_FLUSH_BYTES: usize = 256 * 1024;

    impl Out {
        fn open(path: Option<PathBuf>) -> Result<Out> {
            let file = match &path {
                Some(p) => Some(Self::open_file(p)?),
                None => None,
            };
            Ok(Out {
                path,
                file,
                pending: Vec::new(),
            })
        }

        fn open_file(p: &PathBuf) -> Result<File> {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening {}", p.display()))
        }

        fn reopen(&mut self) -> Result<()> {
            // What was written before the rotation belongs to the old file.
            self.flush().context("writing output before reopening it")?;
            if let Some(p) = &self.path {
                let f = Self::open_file(p)?;
                self.file = Some(f);
            }
            Ok(())
        }

        fn line(&mut self, text: &[u8]) -> io::Result<()> {
            self.pending.extend_from_slice(text);
            if self.pending.len() >= OUT_FLUSH_BYTES {
                self.flush()?;
            }
            Ok(())
        }

        /// Write out every pending record (whole records only, so a reader never sees half
        /// a line between wakeups).
        fn flush(&mut self) -> io::Result<()> {
            if self.pending.is_empty() {
                return Ok(());
            }
            let r = match &mut self.file {
                Some(f) => f.write_all(&self.pending),
                None => {
                    let mut o = io::stdout().lock();
                    o.write_all(&self.pending).and_then(|()| o.flush())
                }
            };
            self.pending.clear();
            r
        }
    }

    /// [`Out`] shared between the sinks writing to it and the loop that flushes it and
    /// reopens it on SIGHUP. Each sink writes a whole record with one `write_all`.
    #[derive(Clone)]
    struct SharedOut(Rc<RefCell<Out>>);

    impl Write for SharedOut {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().line(buf)?;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    type RingKey = ((std::net::IpAddr, u16), (std::net::IpAddr, u16));

    fn ring_key(a: (std::net::IpAddr, u16), b: (std::net::IpAddr, u16)) -> RingKey {
        if a <= b {
            (a, b)
        } else {
            (b, a)
        }
    }

    #[derive(Default)]
    struct Ring {
        packets: VecDeque<(pcap::PacketHeader, Vec<u8>)>,
        bytes: usize,
        last_us: TimestampUs,
    }

    /// `--write-pcap`: the recent packets of each open flow, written out when the flow
    /// finishes with a finding.
    struct FlowRings {
        linktype: u32,
        rings: HashMap<RingKey, Ring>,
        total_bytes: usize,
        file: pcap::Savefile,
        written_flows: u64,
    }

    impl FlowRings {
        fn record(&mut self, header: &pcap::PacketHeader, data: &[u8], ts_us: TimestampUs) {
            let Ok(Decoded::Tcp(t)) = decode(self.linktype, data) else {
                return;
            };
            let ring = self
                .rings
                .entry(ring_key((t.src, t.sport), (t.dst, t.dport)))
                .or_default();
            ring.last_us = ts_us;
            ring.bytes += data.len();
            self.total_bytes += data.len();
            ring.packets.push_back((*header, data.to_vec()));
            if ring.packets.len() > RING_PACKETS_PER_FLOW {
                if let Some((_, old)) = ring.packets.pop_front() {
                    ring.bytes -= old.len();
                    self.total_bytes -= old.len();
                }
            }
            while self.total_bytes > RING_MAX_TOTAL_BYTES {
                let Some(key) = self
                    .rings
                    .iter()
                    .min_by_key(|(_, r)| r.last_us)
                    .map(|(k, _)| *k)
                else {
                    break;
                };
                self.drop_ring(&key);
            }
        }

        fn drop_ring(&mut self, key: &RingKey) -> Option<Ring> {
            let ring = self.rings.remove(key)?;
            self.total_bytes -= ring.bytes;
            Some(ring)
        }

        /// A flow finished: write its packets if it has a finding worth opening.
        fn finished(&mut self, flow: &FlowRecord, keep: bool) -> Result<()> {
            let ep = |e: &Endpoint| (e.ip, e.port);
            let key = ring_key(ep(&flow.client), ep(&flow.server));
            let Some(ring) = self.drop_ring(&key) else {
                return Ok(());
            };
            if keep {
                for (header, data) in &ring.packets {
                    self.file.write(&pcap::Packet {
                        header,
                        data: data.as_slice(),
                    });
                }
                self.file.flush().context("writing --write-pcap file")?;
                self.written_flows += 1;
            }
            Ok(())
        }

        /// Forget rings of flows quiet for longer than `idle_us` (late packets of
        /// finished connections).
        fn expire(&mut self, now_us: TimestampUs, idle_us: i64) {
            let stale: Vec<RingKey> = self
                .rings
                .iter()
                .filter(|(_, r)| now_us.saturating_sub(r.last_us) > idle_us)
                .map(|(k, _)| *k)
                .collect();
            for k in stale {
                self.drop_ring(&k);
            }
        }
    }

    struct Live<'a> {
        metrics: Option<MetricsServer>,
        rings: Option<FlowRings>,
        iface: String,
        started: Instant,
        fan: Fanout<'a>,
        prepare: Prepare,
        rendered: Rendered,
        bytes: Vec<u8>,
    }

    impl Live<'_> {
        /// Evaluate and report every flow the analyzer finished since the last call.
        fn drain(&mut self, analyzer: &mut Analyzer) -> Result<()> {
            for flow in analyzer.take_finished() {
                let findings = evaluate_with(&flow, &analyzer.config().rules);
                if let Some(rings) = &mut self.rings {
                    let keep = findings.iter().any(|f| f.severity > Severity::Info);
                    rings.finished(&flow, keep)?;
                }
                let tcp_stream = flow.tcp_stream;
                self.rendered.clear();
                let digest = self.prepare.flow(flow, findings, &mut self.rendered);
                self.bytes.clear();
                self.rendered.fill(tcp_stream, &mut self.bytes);
                self.fan.flow(digest, tcp_stream, &self.bytes)?;
            }
            Ok(())
        }

        /// The metrics page, when served.
        fn publish(&self, analyzer: &Analyzer, pcap: Option<pcap::Stat>) {
            let Some(m) = &self.metrics else { return };
            let outputs = self.fan.deliveries();
            m.set(render(&Snapshot {
                interface: &self.iface,
                uptime_s: self.started.elapsed().as_secs_f64(),
                stats: analyzer.stats(),
                pcap_received: pcap.map(|p| u64::from(p.received)),
                pcap_dropped: pcap.map(|p| u64::from(p.dropped)),
                pcap_if_dropped: pcap.map(|p| u64::from(p.if_dropped)),
                open_flows: analyzer.open_flows(),
                max_flows: analyzer.config().max_flows,
                rss_bytes: rss_bytes(),
                findings: self.fan.findings_by_kind(),
                outputs: &outputs,
            }));
        }

        /// Statistics to every output; `last` ends the capture (capture rules, roll-ups).
        fn stats(
            &mut self,
            analyzer: &Analyzer,
            pcap: Option<pcap::Stat>,
            last: bool,
        ) -> Result<()> {
            let live = json!({
                "interface": self.iface,
                "final": last,
                "uptime_s": self.started.elapsed().as_secs_f64(),
                "pcap_received": pcap.map(|p| p.received),
                "pcap_dropped": pcap.map(|p| p.dropped),
                "pcap_if_dropped": pcap.map(|p| p.if_dropped),
                "open_flows": analyzer.open_flows(),
                "max_flows": analyzer.config().max_flows,
                "rss_bytes": rss_bytes(),
                "pcap_written_flows": self.rings.as_ref().map(|r| r.written_flows),
                "ring_bytes": self.rings.as_ref().map(|r| r.total_bytes),
            });
            let s = analyzer.stats();
            if last {
                self.fan.end(s, None, &[], false, Some(&live))?;
                // What the network outputs dropped is said on stderr and in capture_stats.
                self.fan.close()?;
            } else {
                self.fan.stats(false, s, None, &[], false, Some(&live))?;
            }
            Ok(())
        }
    }

    /// Makes libpcap's drop counters loud: a line on stderr whenever they grow (checked
    /// once a second and at the end), besides the counts in capture_stats.
    #[derive(Default)]
    struct DropWarning {
        reported: u64,
    }

    impl DropWarning {
        fn check(&mut self, st: Option<pcap::Stat>) {
            let Some(st) = st else { return };
            let dropped = u64::from(st.dropped) + u64::from(st.if_dropped);
            if dropped > self.reported {
                eprintln!(
                    "tlstriage: warning: libpcap dropped {} packets ({dropped} in total, of \
                     {} received): flows may be missing or incomplete; raise --buffer-size \
                     or narrow --bpf",
                    dropped - self.reported,
                    st.received
                );
                self.reported = dropped;
            }
        }
    }

    fn interface_names() -> Vec<String> {
        pcap::Device::list()
            .map(|ds| ds.into_iter().map(|d| d.name).collect())
            .unwrap_or_default()
    }

    fn list_interfaces() -> Result<i32> {
        let devices = pcap::Device::list().map_err(|e| anyhow!("listing interfaces: {e}"))?;
        for d in devices {
            let mut flags = Vec::new();
            if d.flags.is_up() {
                flags.push("up");
            }
            if d.flags.is_running() {
                flags.push("running");
            }
            if d.flags.is_loopback() {
                flags.push("loopback");
            }
            let addrs: Vec<String> = d.addresses.iter().map(|a| a.addr.to_string()).collect();
            println!(
                "{:<16} [{}] {} {}",
                d.name,
                flags.join(","),
                addrs.join(" "),
                d.desc.unwrap_or_default()
            );
        }
        Ok(0)
    }

    pub fn run(args: &LiveArgs) -> Result<i32> {
        if args.list_interfaces {
            return list_interfaces();
        }
        let Some(iface) = args.interface.clone() else {
            return Err(anyhow!("-i/--interface is required"));
        };
        let known = interface_names();
        if !known.is_empty() && !known.contains(&iface) {
            return Err(anyhow!(unknown_interface(&iface, &known)));
        }

        let signals = crate::cli::signals::install(args.output.is_some())?;
        let (term, hup) = (signals.term, signals.hup);

        let snaplen = i32::try_from(args.snaplen).unwrap_or(i32::MAX);
        let promisc = !args.no_promisc;
        let mut cap = pcap::Capture::from_device(iface.as_str())
            .and_then(|c| {
                c.promisc(promisc)
                    .snaplen(snaplen)
                    .buffer_size(i32::try_from(args.buffer_size).unwrap_or(i32::MAX))
                    .timeout(READ_TIMEOUT_MS)
                    .open()
            })
            .and_then(|c| c.setnonblock())
            .map_err(|e| anyhow!(explain_open_error(&iface, &e.to_string(), &known)))?;
        cap.filter(&args.bpf, true)
            .map_err(|e| anyhow!("bad --bpf filter {:?}: {e}", args.bpf))?;
        let linktype = u32::try_from(cap.get_datalink().0).unwrap_or(0);

        let rings = match &args.write_pcap {
            Some(path) => {
                let dead = pcap::Capture::dead(pcap::Linktype(cap.get_datalink().0))
                    .map_err(|e| anyhow!("--write-pcap: {e}"))?;
                let file = dead
                    .savefile(path)
                    .map_err(|e| anyhow!("--write-pcap {}: {e}", path.display()))?;
                Some(FlowRings {
                    linktype,
                    rings: HashMap::new(),
                    total_bytes: 0,
                    file,
                    written_flows: 0,
                })
            }
            None => None,
        };
        let out = SharedOut(Rc::new(RefCell::new(Out::open(args.output.clone())?)));
        let mut writer = out.clone();
        let net = NetworkOutputs::connect(&args.out)?;
        let format = args.out.format.unwrap_or(Format::Ndjson);
        let config = analyzer_config(args)?;
        let mut fan = fanout(
            &args.analysis,
            &config,
            &args.out,
            format,
            Mode::Live,
            &mut writer,
            net,
        );
        fan.begin(&format!("live:{iface}"));
        let metrics = match args.metrics {
            Some(addr) => {
                Some(MetricsServer::start(addr).with_context(|| format!("--metrics {addr}"))?)
            }
            None => None,
        };
        let mut live = Live {
            metrics,
            rings,
            iface: iface.clone(),
            started: Instant::now(),
            prepare: fan.prepare(),
            fan,
            rendered: Rendered::default(),
            bytes: Vec::new(),
        };
        eprintln!(
            "tlstriage: capturing on {iface} (linktype {linktype}, snaplen {}, buffer {} bytes, \
             filter {:?}); Ctrl-C or SIGTERM to stop",
            args.snaplen, args.buffer_size, args.bpf
        );
        if let Some(m) = &live.metrics {
            eprintln!("tlstriage: metrics at http://{}/metrics", m.local_addr());
        }

        let mut analyzer = Analyzer::new(config);
        let deadline = args
            .duration
            .map(|s| Instant::now() + Duration::from_secs(s));
        let stats_every = (args.stats_every > 0).then(|| Duration::from_secs(args.stats_every));
        let mut next_stats = stats_every.map(|d| Instant::now() + d);
        let mut last_tick = Instant::now();
        let mut frame = 0u64;
        let mut failure = None;
        let mut drops = DropWarning::default();

        while !term.load(Ordering::Relaxed) {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            if hup.swap(false, Ordering::Relaxed) {
                out.0.borrow_mut().reopen()?;
            }
            match cap.next_packet() {
                Ok(p) => {
                    frame += 1;
                    #[allow(clippy::unnecessary_cast)]
                    let ts_us = (p.header.ts.tv_sec as i64)
                        .saturating_mul(1_000_000)
                        .saturating_add(p.header.ts.tv_usec as i64);
                    let pkt = Packet {
                        frame,
                        ts_us,
                        linktype,
                        data: p.data,
                        orig_len: p.header.len,
                    };
                    if let Some(rings) = &mut live.rings {
                        rings.record(p.header, p.data, ts_us);
                    }
                    analyzer.packet(&pkt);
                    live.drain(&mut analyzer)?;
                }
                // Non-blocking: nothing buffered right now, so a good moment to write.
                Err(pcap::Error::TimeoutExpired) => {
                    out.0.borrow_mut().flush()?;
                    std::thread::sleep(IDLE_SLEEP);
                }
                Err(e) => {
                    failure = Some(anyhow!("capture on {iface} failed: {e}"));
                    break;
                }
            }
            if last_tick.elapsed() >= Duration::from_secs(1) {
                last_tick = Instant::now();
                let st = cap.stats().ok();
                drops.check(st);
                live.publish(&analyzer, st);
                let now = now_us();
                analyzer.tick(now);
                live.drain(&mut analyzer)?;
                if let Some(rings) = &mut live.rings {
                    rings.expire(now, analyzer.config().idle_timeout_us);
                }
            }
            if let (Some(at), Some(every)) = (next_stats, stats_every) {
                if Instant::now() >= at {
                    next_stats = Some(Instant::now() + every);
                    let st = cap.stats().ok();
                    live.stats(&analyzer, st, false)?;
                }
            }
        }

        analyzer.finish();
        live.drain(&mut analyzer)?;
        let st = cap.stats().ok();
        drops.check(st);
        live.stats(&analyzer, st, true)?;
        drop(live);
        out.0.borrow_mut().flush()?;
        match failure {
            Some(e) => {
                crate::cli::error(&format!("{e:#}"));
                Ok(EXIT_ERROR)
            }
            None => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_say_how_to_fix() {
        let m = explain_open_error(
            "eth0",
            "libpcap error: eth0: You don't have permission to capture on that device \
             (socket: Operation not permitted)",
            &[],
        );
        assert!(m.contains("run as root"), "{m}");
        assert!(
            m.contains("CAP_NET_RAW") && m.contains("CAP_NET_ADMIN"),
            "{m}"
        );
    }

    #[test]
    fn unknown_interfaces_list_the_real_ones() {
        let known = vec!["lo".to_string(), "eth0".to_string()];
        let m = explain_open_error("eth9", "libpcap error: No such device exists", &known);
        assert!(m.contains("unknown interface \"eth9\""), "{m}");
        assert!(m.contains("lo, eth0"), "{m}");
    }

    #[test]
    fn rss_is_reported_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(rss_bytes().is_some_and(|b| b > 0));
        }
    }
}
