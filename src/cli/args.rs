//! Options shared by `read`, `report` and `live`, flattened into each subcommand, and their
//! translation into the analysis configuration and the outputs (written once, here).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::{RuleEnv, DEFAULT_EXPIRY_WARNING_DAYS};
use crate::flow::{AnalyzerConfig, DEFAULT_TLS_PORTS};
use crate::keylog::KeyStore;
use crate::output::{
    Detail, EcsSink, Fanout, HumanLinesSink, HumanSink, NdjsonSink, RedisConfig, RedisMode,
    RedisSender, RedisSink, RollupBy, SyslogSender, SyslogSink, SyslogTarget,
    DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_MESSAGE, DEFAULT_QUEUE, DEFAULT_STREAM_MAXLEN,
    MIN_MAX_MESSAGE,
};
use crate::rules::Severity;
use crate::trust::{StoreOptions, TrustStore, Validator};

/// Default idle timeout (seconds) after which a quiet flow is finished.
pub const DEFAULT_IDLE_TIMEOUT: u64 = 120;

/// How the analysis runs: the same for every subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct AnalysisArgs {
    /// Ports where clients speak TLS first (comma separated): `8444,9443` replaces the
    /// default list, `+8444,+9443` adds to it.
    #[arg(long, value_delimiter = ',', value_name = "[+]PORT,...", value_parser = parse_port)]
    pub tls_ports: Option<Vec<PortArg>>,
    /// Idle timeout in seconds of capture time after which an open flow is finished.
    #[arg(long, default_value_t = DEFAULT_IDLE_TIMEOUT)]
    pub idle_timeout: u64,
    /// Drop findings below this severity everywhere (output, syslog, roll-ups, exit code):
    /// `low` leaves out the informational ones, such as the close_notify alert ending every
    /// healthy session.
    #[arg(long, value_enum, default_value = "info")]
    pub min_severity: SeverityArg,
    /// Also trust the roots in this PEM bundle (repeatable): a private PKI's root, so that
    /// chains ending there are not reported as untrusted.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,
    /// Trust only Mozilla's roots (built in) and --ca-file, not the system's bundle
    /// (/etc/ssl/certs/ca-certificates.crt and the like).
    #[arg(long)]
    pub no_system_roots: bool,
    /// Raise certificate_expires_soon for a certificate expiring within this many days of
    /// the capture time.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_EXPIRY_WARNING_DAYS)]
    pub expiry_warning_days: u32,
    /// Decrypt TLS handshakes and alerts with this NSS key log (SSLKEYLOGFILE; repeatable).
    /// Secrets in a pcapng's Decryption Secrets Blocks are used without it.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,
}

/// One `--tls-ports` value: `+PORT` adds to the default list, `PORT` is part of a list of
/// its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortArg {
    Add(u16),
    Only(u16),
}

fn parse_port(s: &str) -> Result<PortArg, String> {
    let (add, digits) = match s.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let port: u16 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a port (1-65535, or +PORT to add one)"))?;
    if port == 0 {
        return Err("port 0 is not a port".into());
    }
    Ok(if add {
        PortArg::Add(port)
    } else {
        PortArg::Only(port)
    })
}

impl AnalysisArgs {
    /// The TLS ports: the default list unless a plain port is given, plus every `+PORT`.
    pub fn tls_ports(&self) -> Vec<u16> {
        let given = self.tls_ports.as_deref().unwrap_or_default();
        let replaces = given.iter().any(|p| matches!(p, PortArg::Only(_)));
        let mut ports: Vec<u16> = if replaces {
            Vec::new()
        } else {
            DEFAULT_TLS_PORTS.to_vec()
        };
        ports.extend(given.iter().map(|&(PortArg::Add(p) | PortArg::Only(p))| p));
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The analysis configuration; fails when a `--ca-file` or `--keylog` cannot be read.
    pub fn config(&self) -> Result<AnalyzerConfig> {
        self.config_following(false)
    }

    /// [`Self::config`]; with `follow_keylogs` (`live`), lines appended to the key logs
    /// later are used too.
    pub fn config_following(&self, follow_keylogs: bool) -> Result<AnalyzerConfig> {
        let mut config = AnalyzerConfig::default();
        config.keys = Arc::new(KeyStore::from_files(&self.keylog, follow_keylogs)?);
        config.set_tls_ports(&self.tls_ports());
        config.idle_timeout_us =
            i64::try_from(self.idle_timeout.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
        config.rules = Arc::new(self.rule_env()?);
        Ok(config)
    }

    /// The rules' options. Loads the trust store: call once per run and share the result
    /// (through [`AnalyzerConfig::rules`]).
    pub fn rule_env(&self) -> Result<RuleEnv> {
        let store = TrustStore::load(&StoreOptions {
            no_system_roots: self.no_system_roots,
            ca_files: self.ca_file.clone(),
        })?;
        Ok(RuleEnv {
            trust: Arc::new(Validator::new(store)),
            expiry_warning_days: self.expiry_warning_days,
        })
    }

    pub fn min_severity(&self) -> Severity {
        self.min_severity.severity()
    }
}

/// Where and how findings are reported: shared by `read` and `live`.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format; default for `read`: human on a terminal, ndjson otherwise; for
    /// `live`: ndjson (human is then one line per finding as it is decided).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Also emit one tls_flow record per TLS flow (like Zeek's ssl.log).
    #[arg(long)]
    pub flows: bool,
    /// Also send each finding to syslog as RFC 5424 with the JSON record as message:
    /// udp://HOST[:514], tcp://HOST[:601] (octet-counted framing) or tls://HOST[:6514]
    /// (RFC 5425, the certificate checked against the trust store and --syslog-ca).
    #[arg(long, value_name = "URL")]
    pub syslog: Option<SyslogTarget>,
    /// The longest syslog message in bytes (rsyslog's maxMessageSize, 8k by default): a
    /// longer finding is shortened into valid JSON ("record_truncated": true), never split.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_MESSAGE,
          value_parser = parse_max_message, requires = "syslog")]
    pub syslog_max_message: usize,
    /// `--syslog tls://`: also trust the roots in this PEM file for the collector's
    /// certificate (besides Mozilla's roots and the system bundle); repeatable.
    #[arg(long, value_name = "FILE", requires = "syslog")]
    pub syslog_ca: Vec<PathBuf>,
    /// Also send every record to Redis, redis://[:PASSWORD@]HOST[:6379][/DB]: the NDJSON
    /// records (or the ECS documents with --format ecs), through a bounded queue; drops
    /// are counted in capture_stats.outputs.redis.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// The Redis list, channel or stream the records go to.
    #[arg(
        long,
        value_name = "KEY",
        default_value = "tlstriage",
        requires = "redis"
    )]
    pub redis_key: String,
    /// list: RPUSH; channel: PUBLISH; stream: XADD with MAXLEN ~ --redis-maxlen.
    #[arg(long, value_enum, default_value = "list", requires = "redis")]
    pub redis_mode: RedisMode,
    /// Records held in memory while Redis is slow or away; beyond, records are dropped
    /// (and counted).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_QUEUE, requires = "redis")]
    pub redis_queue: usize,
    /// With --redis-mode stream: the approximate length the stream is capped at.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_STREAM_MAXLEN, requires = "redis")]
    pub redis_maxlen: u64,
    /// Seconds the queue gets to empty at the end of the run before what is left is
    /// counted as dropped.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_DRAIN_TIMEOUT.as_secs(), requires = "redis")]
    pub redis_drain_timeout: u64,
    /// In human output, list every flow after the summary (worst first, then by time),
    /// including flows with only informational findings.
    #[arg(short, long)]
    pub verbose: bool,
    /// In human output, list every flow with a problem after the summary (worst first, then
    /// by time).
    #[arg(long)]
    pub flows_detail: bool,
    /// Aggregate findings per server, client, SNI and/or cause (comma separated): "rollup" records
    /// at the end of each capture in NDJSON; the human summary leads with them.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub summary_by: Vec<RollupBy>,
}

fn parse_max_message(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of bytes"))?;
    if n < MIN_MAX_MESSAGE {
        return Err(format!("at least {MIN_MAX_MESSAGE} bytes"));
    }
    Ok(n)
}

impl OutputArgs {
    /// How much of every flow the human summary lists.
    pub fn detail(&self) -> Detail {
        match (self.verbose, self.flows_detail) {
            (true, _) => Detail::All,
            (false, true) => Detail::Flows,
            (false, false) => Detail::Summary,
        }
    }
}

/// Output formats.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Ndjson,
    /// One Elastic Common Schema document per finding (and per flow with --flows).
    Ecs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeverityArg {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl SeverityArg {
    pub fn severity(self) -> Severity {
        match self {
            SeverityArg::Info => Severity::Info,
            SeverityArg::Low => Severity::Low,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::High => Severity::High,
            SeverityArg::Critical => Severity::Critical,
        }
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Info,
    Low,
    Medium,
    High,
    Critical,
    Never,
}

impl FailOn {
    pub fn threshold(self) -> Option<Severity> {
        Some(match self {
            FailOn::Info => Severity::Info,
            FailOn::Low => Severity::Low,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
            FailOn::Critical => Severity::Critical,
            FailOn::Never => return None,
        })
    }
}

/// Whether the run streams (`live`: findings as they are decided) or summarizes at the end
/// of each capture (`read`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Read,
    Live,
}

/// The network outputs of a run, connected before the analysis starts (an unreachable
/// collector is an error then, not a silent loss later).
pub struct NetworkOutputs {
    syslog: Option<SyslogSender>,
    redis: Option<RedisSender>,
}

impl NetworkOutputs {
    pub fn connect(out: &OutputArgs) -> Result<Self> {
        let syslog = match &out.syslog {
            Some(t) => Some(
                SyslogSender::connect_with(t, out.syslog_max_message, &out.syslog_ca)
                    .with_context(|| format!("syslog {t}"))?,
            ),
            None => None,
        };
        let redis = match &out.redis {
            Some(url) => Some(RedisSender::connect(RedisConfig {
                url: url.clone(),
                key: out.redis_key.clone(),
                mode: out.redis_mode,
                queue: out.redis_queue,
                stream_maxlen: out.redis_maxlen,
                drain_timeout: std::time::Duration::from_secs(out.redis_drain_timeout),
            })?),
            None => None,
        };
        Ok(NetworkOutputs { syslog, redis })
    }
}

/// The fan-out of the outputs chosen by `out`, writing to `w` and to the network outputs,
/// for a run with `config` (its rules and its TLS secrets).
pub fn fanout<'a>(
    analysis: &AnalysisArgs,
    config: &AnalyzerConfig,
    out: &OutputArgs,
    format: Format,
    mode: Mode,
    w: &'a mut dyn Write,
    net: NetworkOutputs,
) -> Fanout<'a> {
    let mut fan = Fanout::new(analysis.min_severity(), &out.summary_by, &config.rules);
    fan.set_keys(config.keys.clone());
    match (format, mode) {
        (Format::Ndjson, _) => fan.add(NdjsonSink::new(w, out.flows)),
        (Format::Ecs, _) => fan.add(EcsSink::new(w, out.flows)),
        (Format::Human, Mode::Read) => fan.add(HumanSink::new(w, out.detail())),
        (Format::Human, Mode::Live) => fan.add(HumanLinesSink::new(w)),
    }
    if let Some(s) = net.syslog {
        fan.add(SyslogSink::new(s));
    }
    if let Some(r) = net.redis {
        fan.add(RedisSink::new(r, format == Format::Ecs, out.flows));
    }
    fan
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        analysis: AnalysisArgs,
    }

    fn ports(args: &[&str]) -> Result<Vec<u16>, String> {
        let argv = std::iter::once("t").chain(args.iter().copied());
        Wrap::try_parse_from(argv)
            .map(|w| w.analysis.tls_ports())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn tls_ports_replace_the_default_list_or_add_to_it() {
        assert_eq!(ports(&[]).unwrap(), DEFAULT_TLS_PORTS);
        assert_eq!(ports(&["--tls-ports", "8444,443"]).unwrap(), [443, 8444]);
        let added = ports(&["--tls-ports", "+8444,+9443"]).unwrap();
        assert!(added.contains(&8444) && added.contains(&443));
        assert_eq!(
            added.len(),
            DEFAULT_TLS_PORTS.len() + 1,
            "9443 is a default"
        );
        // A plain port anywhere makes the list its own; `+` ones join it.
        assert_eq!(ports(&["--tls-ports", "+8444,5000"]).unwrap(), [5000, 8444]);
        for bad in [
            "--tls-ports=0",
            "--tls-ports=+",
            "--tls-ports=65536",
            "--tls-ports=-443",
        ] {
            let err = ports(&[bad]).unwrap_err();
            assert!(err.contains("port"), "{bad}: {err}");
        }
    }
}
