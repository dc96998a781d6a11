//! Builders for rule unit tests: a finished flow with hand-picked TLS facts.

use std::net::{IpAddr, Ipv4Addr};

use crate::app::PreambleFacts;
use crate::flow::{EndReason, Endpoint, FlowRecord, TcpEvent};
use crate::model::{Dir, FrameNo};
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
        first_frame: 1,
        last_frame: 10,
        first_ts_us: 1_700_000_000_000_000,
        last_ts_us: 1_700_000_001_000_000,
        packets: [5, 5],
        payload_bytes: [0, 0],
        ttl: [Some(64), Some(64)],
        syn: Some(1),
        syn_ack: Some(2),
        midstream: false,
        fin: [None, None],
        rst: [None, None],
        end: EndReason::Closed,
        server_port_is_tls: true,
        first_bytes: [None, None],
        preamble: PreambleFacts::default(),
        tls: None,
        server_certs: Vec::new(),
        client_certs: Vec::new(),
        stream_stats: Default::default(),
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
    findings.iter().map(|f| f.kind).collect()
}
