//! NDJSON records. Every object has `type` and `schema`; field names are the stable contract.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::delivery::Delivery;
use super::fastjson::format_u64;
use crate::bounded::{capped, capped_str, MAX_EVIDENCE_STRING};
use crate::capture::InputFormat;
use crate::decode::{Tunnel, Unopened};
use crate::fingerprint::{ja3, ja3s, ja4, ja4s};
use crate::flow::{CaptureStats, FlowRecord, FlowRef};
use crate::model::{format_secs, format_ts_us, Dir, Side};
use crate::rules::Finding;
use crate::tls::names::{
    alert_description_name, cipher_name, group_name, is_grease, is_tls13, version_name,
};
use crate::tls::TlsEventKind;

pub const SCHEMA_VERSION: u32 = 1;

/// The `flow` object shared by findings and flow records. Fields are declared in sorted
/// order, as the `Value` objects around them (serde_json's map) serialize theirs.
#[derive(Serialize, Debug, Clone)]
pub struct FlowJson<'a> {
    client: EndpointJson,
    community_id: &'a str,
    server: EndpointJson,
    transport: &'static str,
    vlan: &'a [u16],
}

#[derive(Serialize, Clone, Debug)]
struct EndpointJson {
    #[serde(serialize_with = "serialize_ip")]
    ip: std::net::IpAddr,
    port: u16,
}

/// An IP address as its usual text; IPv4, the common case, without the formatting
/// machinery (it is in every record).
fn serialize_ip<S: Serializer>(ip: &std::net::IpAddr, s: S) -> Result<S::Ok, S::Error> {
    match ip {
        std::net::IpAddr::V4(v4) => s.serialize_str(ipv4_text(*v4, &mut [0u8; 15])),
        std::net::IpAddr::V6(v6) => s.collect_str(v6),
    }
}

/// Dotted-quad text of `v4`, written into `buf`.
fn ipv4_text(v4: std::net::Ipv4Addr, buf: &mut [u8; 15]) -> &str {
    let mut n = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        let mut digits = [0u8; 20];
        for &d in format_u64(u64::from(octet), &mut digits) {
            buf[n] = d;
            n += 1;
        }
    }
    // Only ASCII digits and dots were written.
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

impl<'a> FlowJson<'a> {
    pub fn new(flow: &'a FlowRecord) -> Self {
        FlowJson {
            client: EndpointJson {
                ip: flow.client.ip,
                port: flow.client.port,
            },
            community_id: &flow.community_id,
            server: EndpointJson {
                ip: flow.server.ip,
                port: flow.server.port,
            },
            transport: "tcp",
            vlan: &flow.vlan,
        }
    }
}

impl<'a> FlowJson<'a> {
    pub fn from_ref(at: &'a FlowRef) -> Self {
        FlowJson {
            client: EndpointJson {
                ip: at.client.ip,
                port: at.client.port,
            },
            community_id: &at.community_id,
            server: EndpointJson {
                ip: at.server.ip,
                port: at.server.port,
            },
            transport: "tcp",
            vlan: &at.vlan,
        }
    }
}

pub fn flow_json(flow: &FlowRecord) -> Value {
    serde_json::to_value(FlowJson::new(flow)).unwrap_or(Value::Null)
}

/// [`format_ts_us`] as a `Display`, for serializing without an intermediate `String`.
struct Ts(crate::model::TimestampUs);

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&crate::model::DisplayTs(self.0))
    }
}

struct StreamFilter(u64);

impl Serialize for StreamFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("tcp.stream eq {}", self.0))
    }
}

/// One `finding` record, borrowing everything; fields in sorted order (see [`FlowJson`]).
/// Split around `tcp_stream`, which a `--threads` run learns only after the rest is
/// written (see [`write_finding_parts`]).
#[derive(Serialize)]
pub struct FindingRecord<'a> {
    #[serde(flatten)]
    head: FindingHead<'a>,
    tcp_stream: u64,
    #[serde(flatten)]
    tail: FindingTail,
    wireshark_filter: StreamFilter,
}

#[derive(Serialize)]
struct FindingHead<'a> {
    capture: &'a str,
    /// Whether the flow was captured whole (see rules::capture_quality).
    capture_quality: &'static str,
    evidence: &'a Value,
    explanation: &'a str,
    flow: FlowJson<'a>,
    frames: &'a [crate::model::FrameNo],
    kind: &'static str,
    schema: u32,
    severity: &'static str,
    summary: &'a str,
}

#[derive(Serialize)]
struct FindingTail {
    ts: Ts,
    #[serde(rename = "type")]
    record_type: &'static str,
    via: Option<&'static str>,
}

impl<'a> FindingHead<'a> {
    fn new(
        capture: &'a str,
        flow: FlowJson<'a>,
        capture_quality: &'static str,
        f: &'a Finding,
    ) -> Self {
        FindingHead {
            capture,
            capture_quality,
            evidence: &f.evidence,
            explanation: &f.explanation,
            flow,
            frames: &f.frames,
            kind: f.kind.as_str(),
            schema: SCHEMA_VERSION,
            severity: f.severity.as_str(),
            summary: &f.summary,
        }
    }
}

impl FindingTail {
    fn new(via: Option<&'static str>, f: &Finding) -> Self {
        FindingTail {
            ts: Ts(f.ts_us),
            record_type: "finding",
            via,
        }
    }
}

impl<'a> FindingRecord<'a> {
    pub fn new(capture: &'a str, flow: &'a FlowRecord, f: &'a Finding) -> Self {
        let quality = crate::flow::capture_quality_label(flow);
        FindingRecord {
            head: FindingHead::new(capture, FlowJson::new(flow), quality, f),
            tcp_stream: flow.tcp_stream,
            tail: FindingTail::new(flow.via(), f),
            wireshark_filter: StreamFilter(flow.tcp_stream),
        }
    }

    /// A finding about a flow that is gone: a capture rule's.
    pub fn at(capture: &'a str, at: &'a FlowRef, f: &'a Finding) -> Self {
        FindingRecord {
            head: FindingHead::new(capture, FlowJson::from_ref(at), at.capture_quality, f),
            tcp_stream: at.tcp_stream,
            tail: FindingTail::new(at.via, f),
            wireshark_filter: StreamFilter(at.tcp_stream),
        }
    }
}

/// Output bytes made for a flow before its `tcp_stream` number is known, and the places
/// where that number (in decimal) goes: a `--threads` worker formats the records of the
/// flows it finished, the merge fills in the number it assigns over all workers.
#[derive(Default)]
pub struct Rendered {
    bytes: Vec<u8>,
    stream_holes: Vec<usize>,
}

impl Rendered {
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.stream_holes.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends the bytes with every hole filled with `tcp_stream`.
    pub fn fill(&self, tcp_stream: u64, out: &mut Vec<u8>) {
        let mut number = [0u8; 20];
        let digits = format_u64(tcp_stream, &mut number);
        let mut at = 0;
        for &hole in &self.stream_holes {
            out.extend_from_slice(&self.bytes[at..hole]);
            out.extend_from_slice(digits);
            at = hole;
        }
        out.extend_from_slice(&self.bytes[at..]);
    }
}

/// Appends one finding as an NDJSON line whose `tcp_stream` and `wireshark_filter` number
/// is left as a hole: the same bytes as [`write_finding`] once filled (tested over every
/// sample), written field by field with [`fastjson`] (fields in [`FindingRecord`]'s
/// order) because this is the hot path of a run.
pub fn write_finding_parts(
    out: &mut Rendered,
    capture: &str,
    flow: &FlowRecord,
    f: &Finding,
) -> serde_json::Result<()> {
    use super::fastjson::{write_str, write_u64, write_value};
    let b = &mut out.bytes;
    b.extend_from_slice(br#"{"capture":"#);
    write_str(b, capture);
    b.extend_from_slice(br#","capture_quality":""#);
    b.extend_from_slice(crate::flow::capture_quality_label(flow).as_bytes());
    b.extend_from_slice(br#"","evidence":"#);
    write_value(b, &f.evidence);
    b.extend_from_slice(br#","explanation":"#);
    write_str(b, &f.explanation);
    b.extend_from_slice(br#","flow":"#);
    write_flow(b, flow);
    b.extend_from_slice(br#","frames":["#);
    for (i, frame) in f.frames.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        write_u64(b, *frame);
    }
    b.extend_from_slice(br#"],"kind":""#);
    b.extend_from_slice(f.kind.as_str().as_bytes());
    b.extend_from_slice(br#"","schema":"#);
    write_u64(b, u64::from(SCHEMA_VERSION));
    b.extend_from_slice(br#","severity":""#);
    b.extend_from_slice(f.severity.as_str().as_bytes());
    b.extend_from_slice(br#"","summary":"#);
    write_str(b, &f.summary);
    b.extend_from_slice(br#","tcp_stream":"#);
    out.stream_holes.push(b.len());
    b.extend_from_slice(br#","ts":""#);
    std::io::Write::write_fmt(
        &mut *b,
        format_args!("{}", crate::model::DisplayTs(f.ts_us)),
    )
    .map_err(serde_json::Error::io)?;
    b.extend_from_slice(br#"","type":"finding","via":"#);
    match flow.via() {
        Some(v) => {
            b.push(b'"');
            b.extend_from_slice(v.as_bytes());
            b.push(b'"');
        }
        None => b.extend_from_slice(b"null"),
    }
    b.extend_from_slice(br#","wireshark_filter":"tcp.stream eq "#);
    out.stream_holes.push(b.len());
    b.extend_from_slice(b"\"}\n");
    Ok(())
}

/// [`FlowJson`], written field by field.
fn write_flow(b: &mut Vec<u8>, flow: &FlowRecord) {
    use super::fastjson::{write_str, write_u64};
    let endpoint = |b: &mut Vec<u8>, e: &crate::flow::Endpoint| {
        b.extend_from_slice(br#"{"ip":""#);
        match e.ip {
            std::net::IpAddr::V4(v4) => {
                b.extend_from_slice(ipv4_text(v4, &mut [0u8; 15]).as_bytes());
            }
            std::net::IpAddr::V6(v6) => {
                let _ = std::io::Write::write_fmt(&mut *b, format_args!("{v6}"));
            }
        }
        b.extend_from_slice(br#"","port":"#);
        write_u64(b, u64::from(e.port));
        b.push(b'}');
    };
    b.extend_from_slice(br#"{"client":"#);
    endpoint(b, &flow.client);
    b.extend_from_slice(br#","community_id":"#);
    write_str(b, &flow.community_id);
    b.extend_from_slice(br#","server":"#);
    endpoint(b, &flow.server);
    b.extend_from_slice(br#","transport":"tcp","vlan":["#);
    for (i, id) in flow.vlan.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        write_u64(b, u64::from(*id));
    }
    b.extend_from_slice(b"]}");
}

/// A finding record as a JSON value (tests, ECS and syslog build on it); the NDJSON writer
/// serializes [`FindingRecord`] directly.
pub fn finding_record(capture: &str, flow: &FlowRecord, f: &Finding) -> Value {
    serde_json::to_value(FindingRecord::new(capture, flow, f)).unwrap_or(Value::Null)
}

/// Appends one finding as an NDJSON line.
pub fn write_finding(
    out: &mut impl std::io::Write,
    capture: &str,
    flow: &FlowRecord,
    f: &Finding,
) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, &FindingRecord::new(capture, flow, f))?;
    out.write_all(b"\n").map_err(serde_json::Error::io)
}

/// Milliseconds from the ClientHello to the end of the handshake, when it completed.
fn handshake_ms(flow: &FlowRecord) -> Option<f64> {
    let tls = flow.tls.as_ref()?;
    if !tls.established {
        return None;
    }
    let start = tls
        .events
        .iter()
        .find(|e| matches!(e.kind, TlsEventKind::Handshake(t) if t.0 == 1))?;
    let tls13 = tls.negotiated_version().is_some_and(is_tls13);
    let end = if tls13 {
        tls.events.iter().find(|e| {
            e.dir == Dir::ToServer
                && e.frame > start.frame
                && matches!(e.kind, TlsEventKind::ApplicationData { .. })
        })
    } else {
        tls.events
            .iter()
            .rev()
            .find(|e| matches!(e.kind, TlsEventKind::EncryptedHandshake { .. }))
    }?;
    Some((end.ts_us - start.ts_us) as f64 / 1000.0)
}

/// One certificate of a chain in a `tls_flow` record (fields in serialized order).
// A chain holds at most 10 and lives for one record: boxing the common variant would buy
// nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum CertRecord {
    Parsed {
        issuer: String,
        key_bits: Option<u32>,
        key_type: String,
        not_after: String,
        not_before: String,
        san: Vec<String>,
        /// SANs beyond the first 100.
        #[serde(skip_serializing_if = "Option::is_none")]
        san_not_shown: Option<u64>,
        serial: String,
        sha256: String,
        signature_algorithm: String,
        subject: String,
    },
    /// A certificate that did not parse.
    Broken { error: String },
}

impl CertRecord {
    fn new(c: &Result<crate::tls::types::CertInfo, String>) -> Self {
        match c {
            Ok(c) => {
                let (san, san_not_shown) = capped(&c.san);
                CertRecord::Parsed {
                    issuer: capped_str(&c.issuer, MAX_EVIDENCE_STRING),
                    key_bits: c.key_bits,
                    key_type: c.key_type.clone(),
                    not_after: format_secs(c.not_after),
                    not_before: format_secs(c.not_before),
                    san,
                    san_not_shown,
                    serial: c.serial.clone(),
                    sha256: c.sha256.clone(),
                    signature_algorithm: c.signature_algorithm.clone(),
                    subject: capped_str(&c.subject, MAX_EVIDENCE_STRING),
                }
            }
            Err(e) => CertRecord::Broken { error: e.clone() },
        }
    }
}

/// The `tls_flow` record of one flow, like a line of Zeek's ssl.log. Fields are declared in
/// sorted order, the order every other record of the output has.
#[derive(Serialize, Debug, Clone)]
pub struct TlsFlowRecord<'a> {
    pub alpn: Option<String>,
    pub alpn_offered: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_offered_not_shown: Option<u64>,
    pub bytes_client: u64,
    pub bytes_server: u64,
    pub capture: &'a str,
    /// What [`capture_quality`](crate::flow::capture_quality) found wrong; absent when `ok`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capture_issues: Vec<String>,
    /// Whether the flow was captured whole, as on its findings.
    pub capture_quality: &'static str,
    pub cert_chain: Vec<CertRecord>,
    pub cipher: Option<String>,
    pub client_cert_chain: Vec<CertRecord>,
    pub client_ciphers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ciphers_not_shown: Option<u64>,
    pub client_versions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_versions_not_shown: Option<u64>,
    pub closed_by: Option<String>,
    /// True when a key log's secrets decrypted the handshake; absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decrypted: bool,
    /// Why decryption with the key log stopped or could not start; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption_error: Option<String>,
    pub duration_ms: f64,
    pub end: crate::flow::EndReason,
    pub established: bool,
    /// A one-sided capture whose seen side's ACKs and records show the unseen peer went
    /// on: `established` is inferred, not seen. Present only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub established_inferred: bool,
    /// The facts `established_inferred` rests on; absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub established_because: Vec<String>,
    pub findings: Vec<&'static str>,
    pub first_frame: crate::model::FrameNo,
    pub flow: FlowJson<'a>,
    pub group: Option<String>,
    pub handshake_ms: Option<f64>,
    pub history: String,
    pub ja3: Option<String>,
    pub ja3s: Option<String>,
    pub ja4: Option<String>,
    pub ja4s: Option<String>,
    pub last_alert: Option<String>,
    pub last_frame: crate::model::FrameNo,
    pub midstream: bool,
    /// The stapled OCSP response's nextUpdate, when the server stapled one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocsp_next_update: Option<String>,
    /// What the stapled OCSP response says (good, revoked, unknown), the responder's
    /// refusal (try_later, ...) or `unparseable`; absent without a staple.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocsp_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocsp_this_update: Option<String>,
    pub packets_client: u64,
    pub packets_server: u64,
    pub resumed: bool,
    pub schema: u32,
    pub sni: Option<&'a str>,
    pub stage: Option<&'static str>,
    pub tcp_stream: u64,
    pub ts: String,
    #[serde(rename = "type")]
    pub record_type: &'static str,
    pub version: Option<String>,
    pub via: Option<&'static str>,
    pub wireshark_filter: String,
}

impl<'a> TlsFlowRecord<'a> {
    pub fn new(capture: &'a str, flow: &'a FlowRecord, findings: &[Finding]) -> Self {
        let tls = flow.tls.as_ref();
        let ch = tls.and_then(|t| t.client_hello.as_ref());
        let sh = tls.and_then(|t| t.server_hello.as_ref());
        // The last alert whose description is visible, as Zeek's last_alert; "encrypted" only
        // when every alert was encrypted.
        let last_alert = tls.and_then(|t| {
            let visible = t.events.iter().rev().find_map(|e| match e.kind {
                TlsEventKind::Alert { description, .. } => {
                    Some(alert_description_name(description).to_string())
                }
                _ => None,
            });
            let encrypted = || {
                t.events
                    .iter()
                    .any(|e| matches!(e.kind, TlsEventKind::EncryptedAlert { .. }))
                    .then(|| "encrypted".to_string())
            };
            visible.or_else(encrypted)
        });
        let mut kinds: Vec<&'static str> = findings.iter().map(|f| f.kind.as_str()).collect();
        kinds.dedup();
        let client_versions: Option<Vec<String>> = ch.map(|c| {
            let mut v: Vec<u16> = c
                .supported_versions
                .iter()
                .copied()
                .filter(|v| !is_grease(*v))
                .collect();
            if v.is_empty() {
                v.push(c.version);
            }
            v.into_iter().map(version_name).collect()
        });
        let client_ciphers: Option<Vec<String>> = ch.map(|c| {
            c.ciphers
                .iter()
                .filter(|x| !is_grease(**x))
                .map(|x| cipher_name(*x))
                .collect()
        });
        let (alpn_offered, alpn_offered_not_shown) =
            capped(ch.map(|c| c.alpn.as_slice()).unwrap_or_default());
        let (client_ciphers, client_ciphers_not_shown) =
            capped(&client_ciphers.unwrap_or_default());
        let (client_versions, client_versions_not_shown) =
            capped(&client_versions.unwrap_or_default());
        let (ocsp_status, ocsp) = ocsp_fields(tls);
        let inferred = crate::rules::one_sided::inferred_established(flow);
        let (capture_quality, capture_issues) = crate::flow::capture_quality(flow);
        TlsFlowRecord {
            alpn: sh.and_then(|s| s.alpn.clone()),
            alpn_offered,
            alpn_offered_not_shown,
            bytes_client: flow.payload_bytes[Dir::ToServer.index()],
            bytes_server: flow.payload_bytes[Dir::ToClient.index()],
            capture,
            capture_issues,
            capture_quality,
            cert_chain: flow.server_certs.iter().map(CertRecord::new).collect(),
            cipher: sh
                .filter(|s| s.version != 0x0002)
                .map(|s| cipher_name(s.cipher)),
            client_cert_chain: flow.client_certs.iter().map(CertRecord::new).collect(),
            client_ciphers,
            client_ciphers_not_shown,
            client_versions,
            client_versions_not_shown,
            closed_by: flow
                .first_close()
                .map(|(side, how, _)| format!("{}:{}", Side::as_str(side), how)),
            decrypted: tls.is_some_and(|t| t.decrypted()),
            decryption_error: tls.and_then(|t| t.decryption_error.clone()),
            duration_ms: (flow.last_ts_us - flow.first_ts_us) as f64 / 1000.0,
            end: flow.end,
            established: tls.is_some_and(|t| t.established) || inferred.is_some(),
            established_inferred: inferred.is_some(),
            established_because: inferred.map(|i| i.because).unwrap_or_default(),
            findings: kinds,
            first_frame: flow.first_frame,
            flow: FlowJson::new(flow),
            group: sh.and_then(|s| s.group).map(group_name),
            handshake_ms: handshake_ms(flow),
            history: tls.map(|t| t.history.clone()).unwrap_or_default(),
            ja3: ch.map(|c| ja3(c).hash),
            ja3s: sh.map(|s| ja3s(s).hash),
            ja4: ch.map(ja4),
            ja4s: sh.map(ja4s),
            last_alert,
            last_frame: flow.last_frame,
            midstream: flow.midstream,
            ocsp_next_update: ocsp.as_ref().and_then(|a| a.next_update).map(format_secs),
            ocsp_status,
            ocsp_this_update: ocsp.as_ref().map(|a| format_secs(a.this_update)),
            packets_client: flow.packets[Dir::ToServer.index()],
            packets_server: flow.packets[Dir::ToClient.index()],
            resumed: tls.is_some_and(|t| t.resumed),
            schema: SCHEMA_VERSION,
            sni: flow.sni(),
            stage: tls.map(|t| t.stage.as_str()),
            tcp_stream: flow.tcp_stream,
            ts: format_ts_us(flow.first_ts_us),
            record_type: "tls_flow",
            version: tls.and_then(|t| t.negotiated_version()).map(version_name),
            via: flow.via(),
            wireshark_filter: format!("tcp.stream eq {}", flow.tcp_stream),
        }
    }
}

/// The stapled OCSP response's status and dates (read without its signature: that is the
/// `ocsp_staple` rule's business).
fn ocsp_fields(
    tls: Option<&crate::tls::TlsConn>,
) -> (Option<String>, Option<crate::trust::ocsp::Answer>) {
    let Some((staple, leaf)) =
        tls.and_then(|t| Some((t.ocsp_staple.as_ref()?, t.server_cert_der.first()?)))
    else {
        return (None, None);
    };
    match crate::trust::ocsp::read_staple(&staple.der, leaf, []) {
        Ok(s) => match s.answer {
            Some(a) => (Some(a.state.as_str().to_string()), Some(a)),
            None => (Some(s.response_status.to_string()), None),
        },
        Err(_) => (Some("unparseable".to_string()), None),
    }
}

/// [`TlsFlowRecord`] as a JSON value.
pub fn tls_flow_record(capture: &str, flow: &FlowRecord, findings: &[Finding]) -> Value {
    serde_json::to_value(TlsFlowRecord::new(capture, flow, findings)).unwrap_or(Value::Null)
}

/// One file of a capture read from several (`capture_stats.files`): frames are numbered
/// over the merged capture, as `mergecap` would number them.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct CaptureFileRecord {
    /// Read up to this error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Number of this file's first frame in the merged capture.
    pub first_frame: Option<u64>,
    pub frames: u64,
    pub name: String,
}

/// The `capture_stats` record at the end of a capture (fields in serialized order).
#[derive(Serialize, Debug, Clone)]
pub struct CaptureStatsRecord<'a> {
    pub bad_checksums: u64,
    pub bytes: u64,
    pub capture: &'a str,
    /// Only for a compressed input: `gzip`, `zstd`, `xz`, `lz4`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<&'static str>,
    pub decode_errors: u64,
    pub duration_s: f64,
    pub first_ts: Option<String>,
    pub flows: u64,
    pub flows_evicted: u64,
    pub flows_evicted_memory: u64,
    pub flows_timed_out: u64,
    /// Only for a capture read from several files.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub files: &'a [CaptureFileRecord],
    /// Only with `--filter`: TCP packets it left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filtered_out: Option<u64>,
    pub format: Option<&'static str>,
    pub icmp_errors: u64,
    pub icmp_errors_no_flow: u64,
    pub ip_defrag: crate::decode::defrag::DefragStats,
    pub ip_fragments: u64,
    /// Only with a key log or secrets blocks: the sessions they hold secrets for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keylog_sessions: Option<u64>,
    pub last_ts: Option<String>,
    /// `live` only: interface, drops, uptime, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
    pub non_tcp_packets: u64,
    pub out_of_order: u64,
    /// Only with a network output (`--redis`, `--syslog`): what each delivered and dropped.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<&'static str, Delivery>,
    pub packets: u64,
    pub reassembly_gap_bytes: u64,
    pub reassembly_gaps: u64,
    pub retransmissions: u64,
    pub schema: u32,
    pub tcp_packets: u64,
    /// Only when some were: Wireshark conversations forgotten to bound memory.
    #[serde(skip_serializing_if = "is_zero")]
    pub tcp_streams_forgotten: u64,
    pub tls_flows: u64,
    /// Only when some were: TCP packets found inside each kind of tunnel.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tunnels: BTreeMap<&'static str, u64>,
    /// Only when some were: packets inside tunnels recognised but not opened.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tunnels_not_decoded: BTreeMap<&'static str, u64>,
    /// Only with a key log or secrets blocks: the TLS flows decrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_flows_decrypted: Option<u64>,
    /// Only with a key log or secrets blocks: TLS flows whose decryption failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_flows_decryption_failed: Option<u64>,
    pub truncated: bool,
    pub ts: String,
    #[serde(rename = "type")]
    pub record_type: &'static str,
    pub warnings: &'a [String],
}

impl<'a> CaptureStatsRecord<'a> {
    pub fn new(
        capture: &'a str,
        format: Option<InputFormat>,
        stats: &CaptureStats,
        warnings: &'a [String],
        truncated: bool,
    ) -> Self {
        let duration_s = match (stats.first_ts_us, stats.last_ts_us) {
            // Never negative, also when the file's timestamps go back in time.
            (Some(a), Some(b)) => b.saturating_sub(a).max(0) as f64 / 1e6,
            _ => 0.0,
        };
        CaptureStatsRecord {
            bad_checksums: stats.bad_checksums,
            bytes: stats.bytes,
            capture,
            compression: format.and_then(|f| f.compression).map(|c| c.name()),
            decode_errors: stats.decode_errors,
            duration_s,
            first_ts: stats.first_ts_us.map(format_ts_us),
            flows: stats.flows,
            flows_evicted: stats.flows_evicted,
            flows_evicted_memory: stats.flows_evicted_memory,
            flows_timed_out: stats.flows_timed_out,
            files: &[],
            filtered_out: stats.filtered_out,
            format: format.map(|f| f.container.name()),
            icmp_errors: stats.icmp_errors,
            icmp_errors_no_flow: stats.icmp_errors_no_flow,
            ip_defrag: stats.ip_defrag,
            ip_fragments: stats.ip_fragments,
            keylog_sessions: stats.keylog_sessions,
            last_ts: stats.last_ts_us.map(format_ts_us),
            live: None,
            non_tcp_packets: stats.non_tcp_packets,
            out_of_order: stats.out_of_order,
            outputs: BTreeMap::new(),
            packets: stats.packets,
            reassembly_gap_bytes: stats.reassembly_gap_bytes,
            reassembly_gaps: stats.reassembly_gaps,
            retransmissions: stats.retransmissions,
            schema: SCHEMA_VERSION,
            tcp_packets: stats.tcp_packets,
            tcp_streams_forgotten: stats.tcp_streams_forgotten,
            tls_flows: stats.tls_flows,
            tunnels: Tunnel::ALL
                .iter()
                .map(|t| (t.as_str(), stats.tunneled[t.index()]))
                .filter(|&(_, n)| n > 0)
                .collect(),
            tunnels_not_decoded: Unopened::ALL
                .iter()
                .map(|u| (u.as_str(), stats.tunnels_not_decoded[u.index()]))
                .filter(|&(_, n)| n > 0)
                .collect(),
            tls_flows_decrypted: stats.keylog_sessions.map(|_| stats.tls_flows_decrypted),
            tls_flows_decryption_failed: stats
                .keylog_sessions
                .map(|_| stats.tls_flows_decryption_failed),
            truncated,
            ts: format_ts_us(stats.last_ts_us.unwrap_or(0)),
            record_type: "capture_stats",
            warnings,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// [`CaptureStatsRecord`] as a JSON value.
pub fn capture_stats_record(
    capture: &str,
    format: Option<InputFormat>,
    stats: &CaptureStats,
    warnings: &[String],
    truncated: bool,
) -> Value {
    serde_json::to_value(CaptureStatsRecord::new(
        capture, format, stats, warnings, truncated,
    ))
    .unwrap_or(Value::Null)
}
