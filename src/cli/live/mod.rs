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
    /// Analysis workers: connections are spread over them by a hash of their endpoints
    /// (as `read --threads`) and the capture thread only reads and dispatches; 1 analyses
    /// in the capture thread. Default: as `read`, one per core not busy with other work.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=crate::cli::read::MAX_THREADS))]
    pub threads: Option<u16>,
    /// When the output (-o file or stdout) fails (full disk, closed pipe), keep analysing
    /// and retry it every second for this many seconds before giving up, dropping (and
    /// counting) records beyond 8 MiB pending.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_OUTPUT_RETRY)]
    pub output_retry: u64,
}

/// `--output-retry` default: a minute of failed writes ends the run.
pub const DEFAULT_OUTPUT_RETRY: u64 = 60;

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
mod imp;
#[cfg(feature = "live")]
mod out;
#[cfg(feature = "live")]
mod rings;

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
