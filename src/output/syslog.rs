//! `--syslog udp://host:514` / `tcp://host:601`: each finding as an RFC 5424 message whose
//! MSG is the finding's NDJSON record. UDP sends one datagram per message (RFC 5426); TCP
//! uses octet-counting framing (RFC 6587 3.4.1), which rsyslog's imtcp and syslog-ng accept.
//!
//! A message is never longer than `max_message` bytes (default 8192, rsyslog's default
//! `maxMessageSize`): a collector splits or cuts a longer one into pieces that are not
//! JSON. A finding that does not fit is shortened into valid JSON instead (lists cut with
//! `<field>_not_shown` counts, long strings ended with "…", `"record_truncated": true`), and sent
//! as one message; counted in `capture_stats.outputs.syslog.truncated`.

use std::fmt;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;

use super::syslog_tls::{TlsStream, TlsTarget};
use std::time::Duration;

use serde_json::Value;

use super::delivery::{Delivery, NamedDelivery};
use super::records::FindingRecord;
use super::sink::{Event, Sink, SinkError};
use super::warn;
use crate::bounded::{fit, json_len};
use crate::rules::Severity;

/// Facility of every message: local0 (16).
pub const FACILITY_LOCAL0: u8 = 16;
const APP_NAME: &str = "tlstriage";
/// Private enterprise number reserved for documentation (RFC 5612), as SD-ID suffix.
const SD_ID: &str = "tlstriage@32473";
const TCP_TIMEOUT: Duration = Duration::from_secs(5);
/// rsyslog's default `maxMessageSize`.
pub const DEFAULT_MAX_MESSAGE: usize = 8192;
/// The smallest `--syslog-max-message`: room for the header and a finding's identifying
/// fields.
pub const MIN_MAX_MESSAGE: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    /// RFC 5425: octet-counted frames over TLS.
    Tls,
}

/// A parsed `udp://host:port` or `tcp://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogTarget {
    pub transport: Transport,
    /// `host:port` as given (port defaulted: 514 for UDP, 601 for TCP).
    pub authority: String,
}

impl fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        };
        write!(f, "{scheme}://{}", self.authority)
    }
}

impl std::str::FromStr for SyslogTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (transport, rest, port) = if let Some(r) = s.strip_prefix("udp://") {
            (Transport::Udp, r, 514)
        } else if let Some(r) = s.strip_prefix("tcp://") {
            (Transport::Tcp, r, 601)
        } else if let Some(r) = s.strip_prefix("tls://") {
            (Transport::Tls, r, 6514)
        } else {
            return Err(format!(
                "{s:?}: expected udp://HOST[:PORT], tcp://HOST[:PORT] or tls://HOST[:PORT]"
            ));
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "{s:?}: expected udp://HOST[:PORT], tcp://HOST[:PORT] or tls://HOST[:PORT]"
            ));
        }
        // A port is present after the last ':' unless that ':' is inside an IPv6 literal.
        let has_port = match rest.rfind(':') {
            Some(i) => !rest[..i].contains(':') || rest[..i].ends_with(']'),
            None => false,
        };
        let authority = if has_port {
            let (_, p) = rest.rsplit_once(':').unwrap_or_default();
            p.parse::<u16>()
                .map_err(|_| format!("{s:?}: bad port {p:?}"))?;
            rest.to_string()
        } else if rest.contains(':') && !rest.starts_with('[') {
            format!("[{rest}]:{port}")
        } else {
            format!("{rest}:{port}")
        };
        Ok(SyslogTarget {
            transport,
            authority,
        })
    }
}

/// Syslog severity of a finding: critical 2 (crit), high 3 (err), medium 4 (warning),
/// low 5 (notice), info 6 (informational).
pub fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// PRINTUSASCII, no spaces, at most `max` characters; "-" when empty (RFC 5424 NILVALUE).
fn header_field(s: &str, max: usize) -> String {
    let v: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() {
        "-".to_string()
    } else {
        v
    }
}

/// PARAM-VALUE escaping: `"`, `\` and `]` get a backslash.
fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The machine's host name, or "-" when it cannot be read.
pub fn local_hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    header_field(raw.trim(), 255)
}

/// One RFC 5424 message for a finding record (`type: finding` NDJSON object).
pub fn format_rfc5424(record: &Value, severity: Severity, hostname: &str, procid: u32) -> String {
    let pri = u16::from(FACILITY_LOCAL0) * 8 + u16::from(syslog_severity(severity));
    let ts = header_field(record["ts"].as_str().unwrap_or_default(), 64);
    let kind = record["kind"].as_str().unwrap_or_default();
    let msgid = header_field(kind, 32);
    let mut sd = format!("[{SD_ID}");
    for (name, v) in [
        ("kind", record["kind"].clone()),
        ("severity", record["severity"].clone()),
        ("community_id", record["flow"]["community_id"].clone()),
        ("tcp_stream", record["tcp_stream"].clone()),
    ] {
        let text = match v {
            Value::String(s) => s,
            Value::Null => continue,
            other => other.to_string(),
        };
        sd.push_str(&format!(" {name}=\"{}\"", sd_escape(&text)));
    }
    sd.push(']');
    format!(
        "<{pri}>1 {ts} {host} {APP_NAME} {procid} {msgid} {sd} {record}",
        host = header_field(hostname, 255)
    )
}

enum Conn {
    Udp(UdpSocket),
    Tcp(Option<TcpStream>),
    Tls(TlsTarget, Option<Box<TlsStream>>),
}

/// Sends findings to one syslog collector. TCP reconnects once after a failed write.
pub struct SyslogSender {
    target: SyslogTarget,
    addr: SocketAddr,
    conn: Conn,
    hostname: String,
    procid: u32,
    max_message: usize,
    /// Messages that could not be sent.
    pub failed: u64,
    pub sent: u64,
    /// Messages shortened to fit `max_message` (counted in `sent` too).
    pub truncated: u64,
}

impl SyslogSender {
    /// Resolve the target and open the socket (a TCP connect must succeed now).
    pub fn connect(target: &SyslogTarget, max_message: usize) -> io::Result<Self> {
        Self::connect_with(target, max_message, &[])
    }

    /// [`Self::connect`], trusting also the roots in `ca_files` for `tls://`.
    pub fn connect_with(
        target: &SyslogTarget,
        max_message: usize,
        ca_files: &[PathBuf],
    ) -> io::Result<Self> {
        let addr = target
            .authority
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::other(format!("{target}: no address")))?;
        let conn = match target.transport {
            Transport::Udp => {
                let bind: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let sock = UdpSocket::bind(bind)?;
                sock.connect(addr)?;
                Conn::Udp(sock)
            }
            Transport::Tcp => Conn::Tcp(Some(tcp_connect(addr)?)),
            Transport::Tls => {
                let host = target
                    .authority
                    .rsplit_once(':')
                    .map_or(target.authority.as_str(), |(h, _)| h);
                let tls = TlsTarget::new(host, ca_files)?;
                let stream = tls.connect(addr, TCP_TIMEOUT)?;
                Conn::Tls(tls, Some(Box::new(stream)))
            }
        };
        Ok(SyslogSender {
            target: target.clone(),
            addr,
            conn,
            hostname: local_hostname(),
            procid: std::process::id(),
            max_message: max_message.max(MIN_MAX_MESSAGE),
            failed: 0,
            sent: 0,
            truncated: 0,
        })
    }

    pub fn target(&self) -> &SyslogTarget {
        &self.target
    }

    pub fn delivery(&self) -> Delivery {
        Delivery {
            delivered: self.sent,
            dropped: self.failed,
            queued: 0,
            truncated: self.truncated,
        }
    }

    /// Send one finding record; an error is returned (and counted) but the sender stays usable.
    pub fn send(&mut self, record: &Value, severity: Severity) -> io::Result<()> {
        let mut msg = format_rfc5424(record, severity, &self.hostname, self.procid);
        if msg.len() > self.max_message {
            // The header does not change when the record is shortened.
            let header = msg.len() - json_len(record);
            let mut short = record.clone();
            if !fit(&mut short, self.max_message.saturating_sub(header)) {
                self.failed += 1;
                return Err(io::Error::other(format!(
                    "a {} finding does not fit in {} bytes even shortened",
                    record["kind"].as_str().unwrap_or("?"),
                    self.max_message
                )));
            }
            msg = format_rfc5424(&short, severity, &self.hostname, self.procid);
            self.truncated += 1;
        }
        let r = self.send_raw(msg.as_bytes());
        match &r {
            Ok(()) => self.sent += 1,
            Err(_) => self.failed += 1,
        }
        r
    }

    fn send_raw(&mut self, msg: &[u8]) -> io::Result<()> {
        match &mut self.conn {
            Conn::Udp(sock) => sock.send(msg).map(|_| ()),
            Conn::Tcp(stream) => {
                let frame = [format!("{} ", msg.len()).as_bytes(), msg].concat();
                for attempt in 0..2 {
                    if stream.is_none() {
                        *stream = Some(tcp_connect(self.addr)?);
                    }
                    let s = stream.as_mut().expect("connected above");
                    match s.write_all(&frame).and_then(|()| s.flush()) {
                        Ok(()) => return Ok(()),
                        Err(e) if attempt == 1 => return Err(e),
                        Err(_) => *stream = None,
                    }
                }
                unreachable!("the second attempt returns")
            }
            Conn::Tls(tls, stream) => {
                let frame = [format!("{} ", msg.len()).as_bytes(), msg].concat();
                for attempt in 0..2 {
                    if stream.is_none() {
                        *stream = Some(Box::new(tls.connect(self.addr, TCP_TIMEOUT)?));
                    }
                    let s = stream.as_mut().expect("connected above");
                    match s.write_all(&frame).and_then(|()| s.flush()) {
                        Ok(()) => return Ok(()),
                        Err(e) if attempt == 1 => return Err(e),
                        Err(_) => *stream = None,
                    }
                }
                unreachable!("the second attempt returns")
            }
        }
    }

    /// Close the connection cleanly (TCP: shut down writes so the collector sees the end).
    pub fn close(&mut self) {
        match &mut self.conn {
            Conn::Tcp(Some(s)) => {
                let _ = s.flush();
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
            Conn::Tls(_, Some(s)) => {
                // close_notify first, so the collector knows no record was cut off.
                s.conn.send_close_notify();
                let _ = s.flush();
                let _ = s.sock.shutdown(std::net::Shutdown::Write);
            }
            _ => {}
        }
    }
}

fn tcp_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, TCP_TIMEOUT)?;
    s.set_write_timeout(Some(TCP_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Each finding (the capture rules' too) to syslog, RFC 5424 with the finding record as
/// message. A failed send is reported once on stderr and counted; `close` reports the count.
pub struct SyslogSink {
    sender: SyslogSender,
}

impl SyslogSink {
    pub fn new(sender: SyslogSender) -> Self {
        SyslogSink { sender }
    }

    fn send(&mut self, rec: &serde_json::Value, sev: Severity) {
        if let Err(e) = self.sender.send(rec, sev) {
            if self.sender.failed == 1 {
                warn(&format!("syslog {}: {e}", self.sender.target()));
            }
        }
    }
}

impl Sink for SyslogSink {
    fn delivery(&self) -> Option<NamedDelivery> {
        Some(("syslog", self.sender.delivery()))
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.sender.close();
        let d = self.sender.delivery();
        if d.dropped > 0 {
            warn(&format!(
                "syslog {}: {} of {} findings not sent",
                self.sender.target(),
                d.dropped,
                d.total()
            ));
        }
        Ok(())
    }

    fn event(&mut self, capture: &str, ev: &Event<'_>) -> Result<(), SinkError> {
        match ev {
            Event::Flow(done) => {
                if let Some((flow, findings)) = done.full {
                    for f in findings {
                        let rec = serde_json::to_value(FindingRecord::new(capture, flow, f))?;
                        self.send(&rec, f.severity);
                    }
                }
            }
            Event::CrossFlow { at, finding } => {
                let rec = serde_json::to_value(FindingRecord::at(capture, at, finding))?;
                self.send(&rec, finding.severity);
            }
            Event::Stats(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Read;
    use std::net::TcpListener;

    fn record() -> Value {
        json!({
            "type": "finding", "ts": "2024-05-01T10:02:03.123456Z", "kind": "handshake_aborted",
            "severity": "high", "tcp_stream": 3,
            "flow": {"community_id": "1:abc]\"="}, "summary": "x"
        })
    }

    #[test]
    fn urls_parse_with_default_ports() {
        let t: SyslogTarget = "udp://127.0.0.1".parse().unwrap();
        assert_eq!(
            (t.transport, t.authority.as_str()),
            (Transport::Udp, "127.0.0.1:514")
        );
        let t: SyslogTarget = "tcp://logs.example:6514".parse().unwrap();
        assert_eq!(
            (t.transport, t.authority.as_str()),
            (Transport::Tcp, "logs.example:6514")
        );
        let t: SyslogTarget = "tcp://[::1]".parse().unwrap();
        assert_eq!(t.authority, "[::1]:601");
        let t: SyslogTarget = "udp://[::1]:5514".parse().unwrap();
        assert_eq!(t.authority, "[::1]:5514");
        let t: SyslogTarget = "tls://logs.example".parse().unwrap();
        assert_eq!(
            (t.transport, t.authority.as_str(), t.to_string().as_str()),
            (
                Transport::Tls,
                "logs.example:6514",
                "tls://logs.example:6514"
            )
        );
        assert!("http://x:1".parse::<SyslogTarget>().is_err());
        assert!("udp://x:port".parse::<SyslogTarget>().is_err());
        assert!("udp://".parse::<SyslogTarget>().is_err());
    }

    #[test]
    fn the_message_is_rfc5424_with_the_json_as_msg() {
        let m = format_rfc5424(&record(), Severity::High, "host a", 42);
        let expected_head = "<131>1 2024-05-01T10:02:03.123456Z hosta tlstriage 42 handshake_aborted \
             [tlstriage@32473 kind=\"handshake_aborted\" severity=\"high\" community_id=\"1:abc\\]\\\"=\" tcp_stream=\"3\"] ";
        assert!(m.starts_with(expected_head), "{m}");
        let json: Value = serde_json::from_str(&m[expected_head.len()..]).unwrap();
        assert_eq!(json, record());
        assert_eq!(syslog_severity(Severity::Info), 6);
        assert!(format_rfc5424(&record(), Severity::Info, "", 1).contains(" - tlstriage 1 "));
    }

    #[test]
    fn tcp_uses_octet_counting_and_udp_one_datagram() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let t: SyslogTarget = format!("tcp://127.0.0.1:{port}").parse().unwrap();
        let mut s = SyslogSender::connect(&t, DEFAULT_MAX_MESSAGE).unwrap();
        let (mut conn, _) = listener.accept().unwrap();
        s.send(&record(), Severity::High).unwrap();
        s.send(&record(), Severity::Low).unwrap();
        s.close();
        let mut got = String::new();
        conn.read_to_string(&mut got).unwrap();
        let (len, rest) = got.split_once(' ').unwrap();
        let len: usize = len.parse().unwrap();
        assert!(rest[..len].starts_with("<131>1 "));
        assert!(rest[len..]
            .split_once(' ')
            .unwrap()
            .1
            .starts_with("<133>1 "));
        assert_eq!(s.sent, 2);

        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let t: SyslogTarget = format!("udp://{}", rx.local_addr().unwrap())
            .parse()
            .unwrap();
        let mut s = SyslogSender::connect(&t, DEFAULT_MAX_MESSAGE).unwrap();
        s.send(&record(), Severity::Medium).unwrap();
        let mut buf = [0u8; 4096];
        let n = rx.recv(&mut buf).unwrap();
        assert!(std::str::from_utf8(&buf[..n])
            .unwrap()
            .starts_with("<132>1 "));
    }
}
