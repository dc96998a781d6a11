//! The capture loop of `tlstriage live` (feature `live`).

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use serde_json::json;

use super::out::Out;
use super::rings::{FlowRings, RingKey};
use super::{analyzer_config, explain_open_error, rss_bytes, unknown_interface, LiveArgs};
use crate::capture::Packet;
use crate::cli::args::{fanout, Format, Mode, NetworkOutputs};
use crate::cli::metrics::{render, MetricsServer, Snapshot};
use crate::cli::EXIT_ERROR;
use crate::flow::{Analyzer, CaptureStats};
use crate::model::now_us;
use crate::output::{Fanout, FlowDigest, Prepare, Rendered};
use crate::pipeline::live::{LiveShards, SharedPrepare};
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

/// [`Out`] shared between the sinks writing to it and the loop that flushes it and
/// reopens it on SIGHUP. Each sink writes a whole record with one `write_all`.
#[derive(Clone)]
struct SharedOut(Rc<RefCell<Out>>);

impl Write for SharedOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().line(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the capture loop gets back of each flow: its digest for the outputs, and for
/// `--write-pcap` its ring and whether to write it.
type Digest = (FlowDigest, Option<(RingKey, bool)>);

/// The analysis: in the capture thread (`--threads 1`), or on workers fed by it.
enum Engine {
    One(Box<Analyzer>),
    Sharded(Box<LiveShards<Digest>>),
}

impl Engine {
    fn stats(&self) -> CaptureStats {
        match self {
            Engine::One(a) => a.stats().clone(),
            Engine::Sharded(s) => s.stats(),
        }
    }

    fn open_flows(&self) -> usize {
        match self {
            Engine::One(a) => a.open_flows(),
            Engine::Sharded(s) => s.open_flows(),
        }
    }

    fn max_flows(&self) -> usize {
        match self {
            Engine::One(a) => a.config().max_flows,
            Engine::Sharded(s) => s.max_flows(),
        }
    }

    fn workers(&self) -> usize {
        match self {
            Engine::One(_) => 0,
            Engine::Sharded(s) => s.workers(),
        }
    }

    fn packet(&mut self, pkt: &Packet<'_>, live: &mut Live<'_>) -> Result<()> {
        match self {
            Engine::One(a) => {
                a.packet(pkt);
                live.drain(a)
            }
            Engine::Sharded(s) => s.packet(pkt, &mut |d, ts, b| live.flow(d, ts, b)),
        }
    }

    /// Nothing buffered by libpcap: hand the workers what they have.
    fn quiet(&mut self, live: &mut Live<'_>) -> Result<()> {
        match self {
            Engine::One(_) => Ok(()),
            Engine::Sharded(s) => s.flush(&mut |d, ts, b| live.flow(d, ts, b)),
        }
    }

    fn tick(&mut self, now: i64, live: &mut Live<'_>) -> Result<()> {
        match self {
            Engine::One(a) => {
                a.tick(now);
                live.drain(a)
            }
            Engine::Sharded(s) => s.tick(now, &mut |d, ts, b| live.flow(d, ts, b)),
        }
    }

    fn finish(&mut self, live: &mut Live<'_>) -> Result<()> {
        match self {
            Engine::One(a) => {
                a.finish();
                live.drain(a)
            }
            Engine::Sharded(s) => s.finish(&mut |d, ts, b| live.flow(d, ts, b)),
        }
    }
}

/// Whether a flow's packets are worth writing with `--write-pcap`.
fn ring_verdict(
    wanted: bool,
    flow: &crate::flow::FlowRecord,
    findings: &[crate::rules::Finding],
) -> Option<(RingKey, bool)> {
    wanted.then(|| {
        let keep = findings.iter().any(|f| f.severity > Severity::Info);
        (FlowRings::key(flow), keep)
    })
}

struct Live<'a> {
    out: SharedOut,
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
            let ring = ring_verdict(self.rings.is_some(), &flow, &findings);
            let tcp_stream = flow.tcp_stream;
            self.rendered.clear();
            let digest = self.prepare.flow(flow, findings, &mut self.rendered);
            let mut bytes = std::mem::take(&mut self.bytes);
            bytes.clear();
            self.rendered.fill(tcp_stream, &mut bytes);
            let r = self.flow((digest, ring), tcp_stream, &bytes);
            self.bytes = bytes;
            r?;
        }
        Ok(())
    }

    /// A finished flow, prepared where it finished.
    fn flow(&mut self, (digest, ring): Digest, tcp_stream: u64, bytes: &[u8]) -> Result<()> {
        if let (Some(rings), Some((key, keep))) = (&mut self.rings, ring) {
            rings.finished(key, keep)?;
        }
        self.fan.flow(digest, tcp_stream, bytes)?;
        Ok(())
    }

    /// The metrics page, when served.
    fn publish(&self, engine: &Engine, pcap: Option<pcap::Stat>) {
        let Some(m) = &self.metrics else { return };
        let outputs = self.fan.deliveries();
        let stats = engine.stats();
        m.set(render(&Snapshot {
            interface: &self.iface,
            uptime_s: self.started.elapsed().as_secs_f64(),
            stats: &stats,
            pcap_received: pcap.map(|p| u64::from(p.received)),
            pcap_dropped: pcap.map(|p| u64::from(p.dropped)),
            pcap_if_dropped: pcap.map(|p| u64::from(p.if_dropped)),
            open_flows: engine.open_flows(),
            max_flows: engine.max_flows(),
            rss_bytes: rss_bytes(),
            findings: self.fan.findings_by_kind(),
            outputs: &outputs,
        }));
    }

    /// Statistics to every output; `last` ends the capture (capture rules, roll-ups).
    fn stats(&mut self, engine: &Engine, pcap: Option<pcap::Stat>, last: bool) -> Result<()> {
        let (output_dropped, output_write_errors) = {
            let o = self.out.0.borrow();
            (o.dropped, o.write_errors)
        };
        let live = json!({
            "interface": self.iface,
            "final": last,
            "uptime_s": self.started.elapsed().as_secs_f64(),
            "pcap_received": pcap.map(|p| p.received),
            "pcap_dropped": pcap.map(|p| p.dropped),
            "pcap_if_dropped": pcap.map(|p| p.if_dropped),
            "open_flows": engine.open_flows(),
            "max_flows": engine.max_flows(),
            "workers": engine.workers(),
            "output_dropped": output_dropped,
            "output_write_errors": output_write_errors,
            "rss_bytes": rss_bytes(),
            "pcap_written_flows": self.rings.as_ref().map(|r| r.written_flows),
            "ring_bytes": self.rings.as_ref().map(|r| r.total_bytes),
        });
        let s = &engine.stats();
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
    let mut failure = None;

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
            Some(FlowRings::new(linktype, file))
        }
        None => None,
    };
    let retry_for = Duration::from_secs(args.output_retry);
    let out = SharedOut(Rc::new(RefCell::new(Out::open(
        args.output.clone(),
        retry_for,
    )?)));
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
    let threads = args
        .threads
        .map_or_else(crate::cli::read::default_threads, usize::from);
    let idle_timeout_us = config.idle_timeout_us;
    let mut engine = if threads > 1 {
        let prepare = fan.prepare();
        let wanted = rings.is_some();
        let shared: SharedPrepare<Digest> = Arc::new(move |flow, findings, rendered| {
            let ring = ring_verdict(wanted, &flow, &findings);
            (prepare.flow(flow, findings, rendered), ring)
        });
        Engine::Sharded(Box::new(
            LiveShards::start(&config, threads, shared).context("starting analysis workers")?,
        ))
    } else {
        Engine::One(Box::new(Analyzer::new(config)))
    };
    let mut live = Live {
        out: out.clone(),
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
         filter {:?}, {}); Ctrl-C or SIGTERM to stop",
        args.snaplen,
        args.buffer_size,
        args.bpf,
        match engine.workers() {
            0 => "analysing in the capture thread".to_string(),
            n => format!("{n} analysis workers"),
        }
    );
    if let Some(m) = &live.metrics {
        eprintln!("tlstriage: metrics at http://{}/metrics", m.local_addr());
    }

    let deadline = args
        .duration
        .map(|s| Instant::now() + Duration::from_secs(s));
    let stats_every = (args.stats_every > 0).then(|| Duration::from_secs(args.stats_every));
    let mut next_stats = stats_every.map(|d| Instant::now() + d);
    let mut last_tick = Instant::now();
    let mut frame = 0u64;
    let mut drops = DropWarning::default();

    while !term.load(Ordering::Relaxed) {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if hup.swap(false, Ordering::Relaxed) {
            if let Err(e) = out.0.borrow_mut().reopen() {
                failure = Some(e);
                break;
            }
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
                engine.packet(&pkt, &mut live)?;
            }
            // Non-blocking: nothing buffered right now, so a good moment to write.
            Err(pcap::Error::TimeoutExpired) => {
                engine.quiet(&mut live)?;
                if let Err(e) = out.0.borrow_mut().flush() {
                    failure = Some(e);
                    break;
                }
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
            live.publish(&engine, st);
            let now = now_us();
            engine.tick(now, &mut live)?;
            if let Some(rings) = &mut live.rings {
                rings.expire(now, idle_timeout_us);
            }
            // A busy link never leaves the loop idle: the output is also tried here.
            if let Err(e) = out.0.borrow_mut().flush() {
                failure = Some(e);
                break;
            }
        }
        if let (Some(at), Some(every)) = (next_stats, stats_every) {
            if Instant::now() >= at {
                next_stats = Some(Instant::now() + every);
                let st = cap.stats().ok();
                live.stats(&engine, st, false)?;
            }
        }
    }

    engine.finish(&mut live)?;
    let st = cap.stats().ok();
    drops.check(st);
    live.stats(&engine, st, true)?;
    drop(live);
    drop(engine);
    if failure.is_none() {
        // Every open flow's records are pending: retried like any write (a second stop
        // signal exits at once) until written or the output has failed for --output-retry.
        failure = flush_at_exit(&mut out.0.borrow_mut()).err();
    }
    match failure {
        Some(e) => {
            crate::cli::error(&format!("{e:#}"));
            Ok(EXIT_ERROR)
        }
        None => Ok(0),
    }
}

/// The last write: retried once a second while the output fails, within its retry window.
fn flush_at_exit(out: &mut Out) -> Result<()> {
    loop {
        out.flush()?;
        if !out.is_failing() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
