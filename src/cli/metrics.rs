//! `live --metrics 127.0.0.1:9108`: the sensor's counters in the Prometheus text exposition
//! format at `GET /metrics`, for a Prometheus server or `curl`. A thread of its own answers
//! (std `TcpListener`, one request per connection, bounded reads with a timeout); the
//! capture loop renders the page once a second and hands it over, so a scrape never touches
//! the analysis.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::flow::CaptureStats;
use crate::output::NamedDelivery;

/// The most of a request read: the request line and headers of any scraper fit.
const MAX_REQUEST: usize = 8 * 1024;
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves the latest page.
pub struct MetricsServer {
    page: Arc<Mutex<String>>,
    addr: SocketAddr,
}

impl MetricsServer {
    /// Bind `addr` and start answering (the page is empty until the first `set`).
    pub fn start(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let page = Arc::new(Mutex::new(String::new()));
        let shared = Arc::clone(&page);
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    // A scraper that misbehaves only loses its own answer.
                    let _ = answer(conn, &shared);
                }
            })?;
        Ok(MetricsServer { page, addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set(&self, page: String) {
        *self.page.lock().unwrap_or_else(|p| p.into_inner()) = page;
    }
}

fn answer(mut conn: TcpStream, page: &Mutex<String>) -> io::Result<()> {
    conn.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    conn.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < MAX_REQUEST {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let line = req.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (status, kind, body) = if method != b"GET" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        )
    } else if path == b"/metrics" || path.starts_with(b"/metrics?") {
        let body = page.lock().unwrap_or_else(|p| p.into_inner()).clone();
        ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body)
    } else {
        ("404 Not Found", "text/plain", "see /metrics\n".to_string())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}

/// What one page reports.
pub struct Snapshot<'a> {
    pub interface: &'a str,
    pub uptime_s: f64,
    pub stats: &'a CaptureStats,
    pub pcap_received: Option<u64>,
    pub pcap_dropped: Option<u64>,
    pub pcap_if_dropped: Option<u64>,
    pub open_flows: usize,
    pub max_flows: usize,
    pub rss_bytes: Option<u64>,
    pub findings: &'a BTreeMap<&'static str, u64>,
    pub outputs: &'a [NamedDelivery],
}

/// Label values: `\`, `"` and newlines escaped, as the format asks.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The page in the Prometheus text format.
pub fn render(s: &Snapshot<'_>) -> String {
    let mut out = String::new();
    let iface = label(s.interface);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP tlstriage_{name} {help}");
        let _ = writeln!(out, "# TYPE tlstriage_{name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "tlstriage_{name}{{interface=\"{iface}\"{labels}}} {v}");
        }
    };
    let one = |v: f64| vec![(String::new(), v)];
    let st = s.stats;
    metric(
        "uptime_seconds",
        "gauge",
        "Seconds since the capture started.",
        &one(s.uptime_s),
    );
    metric(
        "packets_total",
        "counter",
        "Packets analysed.",
        &one(st.packets as f64),
    );
    metric(
        "bytes_total",
        "counter",
        "Bytes of the packets analysed.",
        &one(st.bytes as f64),
    );
    if let Some(r) = s.pcap_received {
        metric(
            "pcap_received_total",
            "counter",
            "Packets libpcap received.",
            &one(r as f64),
        );
    }
    if let Some(d) = s.pcap_dropped {
        metric(
            "pcap_dropped_total",
            "counter",
            "Packets libpcap dropped for lack of buffer space (raise --buffer-size).",
            &one(d as f64),
        );
    }
    if let Some(d) = s.pcap_if_dropped {
        metric(
            "pcap_if_dropped_total",
            "counter",
            "Packets the interface or its driver dropped.",
            &one(d as f64),
        );
    }
    metric(
        "open_flows",
        "gauge",
        "Connections tracked now.",
        &one(s.open_flows as f64),
    );
    metric(
        "max_flows",
        "gauge",
        "The flow table's cap (--max-flows).",
        &one(s.max_flows as f64),
    );
    metric(
        "flows_total",
        "counter",
        "Connections seen.",
        &one(st.flows as f64),
    );
    metric(
        "flows_evicted_total",
        "counter",
        "Connections pushed out by the flow cap or the memory budget.",
        &one((st.flows_evicted + st.flows_evicted_memory) as f64),
    );
    metric(
        "reassembly_gaps_total",
        "counter",
        "Holes in TCP streams (missed packets).",
        &one(st.reassembly_gaps as f64),
    );
    let by_kind: Vec<(String, f64)> = s
        .findings
        .iter()
        .map(|(k, n)| (format!(",kind=\"{}\"", label(k)), *n as f64))
        .collect();
    metric(
        "findings_total",
        "counter",
        "Findings reported, by kind.",
        &by_kind,
    );
    if let Some(rss) = s.rss_bytes {
        metric(
            "resident_memory_bytes",
            "gauge",
            "Resident set size.",
            &one(rss as f64),
        );
    }
    for (name, what, help) in [
        (
            "output_delivered_total",
            0,
            "Records a network output delivered.",
        ),
        (
            "output_dropped_total",
            1,
            "Records a network output dropped (queue full, server away).",
        ),
        (
            "output_queue_depth",
            2,
            "Records waiting in a network output's queue.",
        ),
    ] {
        if s.outputs.is_empty() {
            break;
        }
        let samples: Vec<(String, f64)> = s
            .outputs
            .iter()
            .map(|(o, d)| {
                let v = [d.delivered, d.dropped, d.queued][what];
                (format!(",output=\"{o}\""), v as f64)
            })
            .collect();
        let kind = if what == 2 { "gauge" } else { "counter" };
        metric(name, kind, help, &samples);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Delivery;

    #[test]
    fn the_page_is_served_and_follows_the_text_format() {
        let server = MetricsServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let stats = CaptureStats {
            packets: 12,
            flows: 3,
            ..CaptureStats::default()
        };
        let mut findings = BTreeMap::new();
        findings.insert("tls_alert", 2);
        let outputs = [(
            "redis",
            Delivery {
                delivered: 5,
                dropped: 1,
                queued: 0,
                truncated: 0,
            },
        )];
        server.set(render(&Snapshot {
            interface: "lo\"x",
            uptime_s: 1.5,
            stats: &stats,
            pcap_received: Some(12),
            pcap_dropped: Some(0),
            pcap_if_dropped: None,
            open_flows: 1,
            max_flows: 50_000,
            rss_bytes: Some(4096),
            findings: &findings,
            outputs: &outputs,
        }));
        let get = |req: &str| {
            let mut c = TcpStream::connect(server.local_addr()).unwrap();
            c.write_all(req.as_bytes()).unwrap();
            let mut text = String::new();
            c.read_to_string(&mut text).unwrap();
            text
        };
        let page = get("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        let body = page.split("\r\n\r\n").nth(1).unwrap();
        assert!(
            body.contains("tlstriage_packets_total{interface=\"lo\\\"x\"} 12\n"),
            "{body}"
        );
        assert!(
            body.contains("tlstriage_findings_total{interface=\"lo\\\"x\",kind=\"tls_alert\"} 2\n")
        );
        assert!(body.contains(
            "tlstriage_output_dropped_total{interface=\"lo\\\"x\",output=\"redis\"} 1\n"
        ));
        for line in body.lines() {
            assert!(
                line.starts_with("# HELP ")
                    || line.starts_with("# TYPE ")
                    || line.starts_with("tlstriage_"),
                "{line}"
            );
        }
        assert!(get("GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(get("POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
    }
}
