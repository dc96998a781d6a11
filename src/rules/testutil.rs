//! Builders for rule unit tests: a finished flow with hand-picked TLS facts.

use std::net::{IpAddr, Ipv4Addr};

use crate::cleartext::{Preamble, PreambleFacts};
use crate::flow::{EndReason, Endpoint, FlowRecord, TcpEvent, DEFAULT_TLS_PORTS, FIRST_BYTES_KEPT};
use crate::model::{Dir, FrameNo, TimestampUs};
use crate::rules::{Finding, Rule, RuleCtx};
use crate::tls::types::{CertInfo, ClientHello, ServerHello};
use crate::tls::{HandshakeStage, HandshakeType, TlsConn, TlsEvent, TlsEventKind};

/// A closed TCP flow 10.0.0.1:50000 -> 10.0.0.2:443 with no payload seen.
pub fn flow() -> FlowRecord {
    FlowRecord {
        client: Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            port: 50000,
        },
        server: Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            port: 443,
        },
        vlan: Vec::new(),
        community_id: "1:AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
        tcp_stream: 0,
        stream_created: 1,
        first_frame: 1,
        last_frame: 10,
        first_ts_us: 1_700_000_000_000_000,
        last_ts_us: 1_700_000_001_000_000,
        packets: [5, 5],
        payload_bytes: [0, 0],
        ttl: [Some(64), Some(64)],
        ttl_range: [Some((64, 64)), Some((64, 64))],
        zero_window: [0, 0],
        syn: Some(1),
        syn_ack: Some(2),
        syn_ack_ts_us: Some(1_700_000_000_000_100),
        syns: 1,
        syn_times: Some((1_700_000_000_000_000, 1_700_000_000_000_000)),
        icmp: Vec::new(),
        icmp_count: 0,
        capture_end_floor_us: None,
        midstream: false,
        fin: [None, None],
        rst: [None, None],
        end: EndReason::Closed,
        server_port_is_tls: true,
        first_bytes: [None, None],
        cleartext_times: Vec::new(),
        preamble: PreambleFacts::default(),
        tls: None,
        server_certs: Vec::new(),
        client_certs: Vec::new(),
        stream_stats: Default::default(),
        acked: Default::default(),
    }
}

pub fn client_hello() -> ClientHello {
    ClientHello {
        version: 0x0303,
        record_version: 0x0301,
        ciphers: vec![0xc02f, 0xc030, 0x009c],
        extensions: vec![0, 10, 11, 13],
        sni: Some("www.example.com".into()),
        ..Default::default()
    }
}

pub fn server_hello(version: u16, cipher: u16) -> ServerHello {
    ServerHello {
        version,
        cipher,
        ..Default::default()
    }
}

pub fn event(dir: Dir, frame: FrameNo, kind: TlsEventKind) -> TlsEvent {
    TlsEvent {
        dir,
        frame,
        ts_us: 1_700_000_000_000_000 + frame as i64 * 1000,
        kind,
        decrypted: false,
    }
}

pub fn hs(dir: Dir, frame: FrameNo, t: u8) -> TlsEvent {
    event(dir, frame, TlsEventKind::Handshake(HandshakeType(t)))
}

pub fn alert(dir: Dir, frame: FrameNo, level: u8, description: u8) -> TlsEvent {
    event(dir, frame, TlsEventKind::Alert { level, description })
}

/// A flow whose TLS saw the given ClientHello (frame 4) and then `events`.
pub fn tls_flow(
    ch: ClientHello,
    sh: Option<ServerHello>,
    events: Vec<TlsEvent>,
    stage: HandshakeStage,
) -> FlowRecord {
    let mut tls = TlsConn::new();
    tls.client_hello = Some(ch);
    tls.server_hello = sh;
    tls.events = std::iter::once(hs(Dir::ToServer, 4, 1))
        .chain(events)
        .collect();
    tls.stage = stage;
    let mut f = flow();
    f.tls = Some(tls);
    f
}

pub fn close(f: &mut FlowRecord, dir: Dir, rst: bool, frame: FrameNo) {
    let ev = Some(TcpEvent {
        frame,
        ts_us: 1_700_000_000_000_000 + frame as i64 * 1000,
        ttl: 64,
    });
    if rst {
        f.rst[dir.index()] = ev;
    } else {
        f.fin[dir.index()] = ev;
    }
}

pub fn cert(subject: &str, issuer: &str, not_before: i64, not_after: i64) -> CertInfo {
    CertInfo {
        subject: subject.into(),
        issuer: issuer.into(),
        serial: "01".into(),
        not_before,
        not_after,
        key_type: "rsa".into(),
        key_bits: Some(2048),
        signature_algorithm: "sha256WithRSAEncryption".into(),
        sha256: "00".repeat(32),
        ..Default::default()
    }
}

pub fn kinds(findings: &[crate::rules::Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.kind.as_str()).collect()
}

/// Capture time of the TLS events built here, in Unix seconds (2023-11-14T22:13:20Z).
pub const NOW: i64 = 1_700_000_000;

/// Capture time of `frame` as the builders here stamp it.
pub fn ts(frame: FrameNo) -> TimestampUs {
    1_700_000_000_000_000 + frame as i64 * 1000
}

/// Moves the server to `port`; `server_port_is_tls` follows the default TLS port list.
pub fn on_port(f: &mut FlowRecord, port: u16) {
    f.server.port = port;
    f.server_port_is_tls = DEFAULT_TLS_PORTS.contains(&port);
}

/// Runs `script` through the real cleartext sniffer as the flow table does (a direction is
/// no longer fed once it switched to TLS), and stores its facts and each direction's first
/// payload bytes in `f`.
pub fn cleartext(f: &mut FlowRecord, script: &[(Dir, &[u8], FrameNo)]) {
    let mut p = Preamble::new(f.server.port);
    let mut tls = [false; 2];
    for &(dir, data, frame) in script {
        let d = dir.index();
        if data.is_empty() {
            continue;
        }
        if f.first_bytes[d].is_none() {
            let kept = &data[..data.len().min(FIRST_BYTES_KEPT)];
            f.first_bytes[d] = Some((kept.to_vec(), frame));
        }
        if !tls[d] {
            tls[d] = p.feed(dir, data, frame, ts(frame)).tls_starts;
        }
    }
    f.preamble = p.facts().clone();
}

/// A ClientHello offering TLS 1.3 and 1.2 through supported_versions.
pub fn client_hello13() -> ClientHello {
    ClientHello {
        ciphers: vec![0x1301, 0x1302, 0xc02f],
        extensions: vec![0, 10, 13, 43, 51],
        supported_versions: vec![0x0304, 0x0303],
        ..client_hello()
    }
}

/// A TLS 1.3 ServerHello (legacy version 1.2, supported_versions 1.3).
pub fn server_hello13() -> ServerHello {
    ServerHello {
        selected_version: Some(0x0304),
        ..server_hello(0x0303, 0x1301)
    }
}

/// The server's TLS 1.2 first flight in `frame`: ServerHello, Certificate,
/// ServerKeyExchange, ServerHelloDone.
pub fn server_flight12(frame: FrameNo) -> Vec<TlsEvent> {
    [2, 11, 12, 14]
        .into_iter()
        .map(|t| hs(Dir::ToClient, frame, t))
        .collect()
}

/// A complete, healthy TLS 1.2 handshake (ECDHE-RSA-AES128-GCM, SNI www.example.com) with
/// a valid certificate for the name, closed by FINs from both sides.
pub fn healthy12() -> FlowRecord {
    let mut events = server_flight12(5);
    events.extend([
        hs(Dir::ToServer, 6, 16),
        event(Dir::ToServer, 6, TlsEventKind::ChangeCipherSpec),
        event(
            Dir::ToServer,
            6,
            TlsEventKind::EncryptedHandshake { len: 40 },
        ),
        event(Dir::ToClient, 7, TlsEventKind::ChangeCipherSpec),
        event(
            Dir::ToClient,
            7,
            TlsEventKind::EncryptedHandshake { len: 40 },
        ),
        event(Dir::ToServer, 8, TlsEventKind::ApplicationData { len: 100 }),
    ]);
    let mut f = tls_flow(
        client_hello(),
        Some(server_hello(0x0303, 0xc02f)),
        events,
        HandshakeStage::Established,
    );
    established(&mut f);
    f.server_certs = vec![Ok(leaf("www.example.com"))];
    close(&mut f, Dir::ToServer, false, 9);
    close(&mut f, Dir::ToClient, false, 10);
    f
}

pub fn established(f: &mut FlowRecord) {
    let tls = f.tls.as_mut().expect("tls flow");
    tls.established = true;
    tls.stage = HandshakeStage::Established;
    tls.established_frame = Some(7);
    tls.established_ts = Some(ts(7));
}

/// A valid (one year around [`NOW`]) leaf for `name` issued by an intermediate CA.
pub fn leaf(name: &str) -> CertInfo {
    CertInfo {
        san: vec![name.to_string()],
        common_names: vec![name.to_string()],
        ..cert(
            &format!("CN={name}"),
            "CN=Example Intermediate CA",
            NOW - 180 * 86_400,
            NOW + 180 * 86_400,
        )
    }
}

/// A valid CA certificate (`issuer == subject` makes it a self-signed root).
pub fn ca(subject: &str, issuer: &str) -> CertInfo {
    CertInfo {
        is_ca: true,
        ..cert(subject, issuer, NOW - 3650 * 86_400, NOW + 3650 * 86_400)
    }
}

/// Runs one rule on `f` with no earlier findings.
pub fn run(rule: &Rule, f: &FlowRecord) -> Vec<Finding> {
    let env = crate::config::RuleEnv::default();
    let mut ctx = RuleCtx::new(f, &env);
    ctx.enter(rule);
    (rule.check)(&mut ctx);
    ctx.findings
}

/// The only finding of `kind`; panics (listing what was raised) when absent or repeated.
pub fn one<'a>(findings: &'a [Finding], kind: &str) -> &'a Finding {
    let mut it = findings.iter().filter(|f| f.kind.as_str() == kind);
    let found = it
        .next()
        .unwrap_or_else(|| panic!("no {kind} among {:?}", kinds(findings)));
    assert!(
        it.next().is_none(),
        "several {kind} among {:?}",
        kinds(findings)
    );
    found
}

/// A string field of a finding's evidence; panics when missing or not a string.
pub fn ev<'a>(f: &'a Finding, field: &str) -> &'a str {
    f.evidence_str(field)
        .unwrap_or_else(|| panic!("{} evidence has no string {field}: {}", f.kind, f.evidence))
}

/// Puts the fixture chain `name` of `src/trust/testdata` (made by
/// scripts/make-trust-fixtures.sh) on the server side of `f`, DER and parsed, and moves
/// every time of the flow to a day after the chain's latest notBefore (the fixtures are
/// newer than [`NOW`]).
pub fn with_server_chain(f: &mut FlowRecord, name: &str) {
    use rustls_pki_types::pem::PemObject;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/trust/testdata")
        .join(name);
    let pem = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ders: Vec<Vec<u8>> = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.expect("fixture PEM").to_vec())
        .collect();
    f.server_certs = ders
        .iter()
        .map(|d| crate::tls::cert::parse_certificate(d))
        .collect();
    let start = f
        .server_certs
        .iter()
        .flatten()
        .map(|c| c.not_before)
        .max()
        .expect("a chain")
        + 86_400;
    let delta = start * 1_000_000 - f.first_ts_us;
    f.first_ts_us += delta;
    f.last_ts_us += delta;
    if let Some(tls) = f.tls.as_mut() {
        tls.server_cert_der = ders;
        for e in &mut tls.events {
            e.ts_us += delta;
        }
    }
}
