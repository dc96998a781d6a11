//! The upgrades of real captures from the corpus, when it is present.

use super::*;
use crate::cleartext::looks_like_tls;
use etherparse::{SlicedPacket, TransportSlice};
use std::path::Path;

const ROOT: &str = "/work/shared/captures";

/// Payloads of the first TCP connection to `server_port`, as
/// (dir, payload, frame), in capture order; plain retransmissions dropped.
fn tcp_payloads(rel: &str, server_port: u16) -> Option<Vec<(Dir, Vec<u8>, FrameNo)>> {
    let path = Path::new(ROOT).join(rel);
    let bytes = std::fs::read(&path).ok()?;
    let (_, cap) = pcap_parser::parse_pcap(&bytes).ok()?;
    let linktype = cap.header.network.0;
    let mut client_port = None;
    let mut next_seq: [Option<u32>; 2] = [None; 2];
    let mut out = Vec::new();
    for (i, block) in cap.blocks.iter().enumerate() {
        let data = block.data;
        let sliced = match linktype {
            1 => SlicedPacket::from_ethernet(data),
            0 => SlicedPacket::from_ip(data.get(4..)?),
            113 => SlicedPacket::from_linux_sll(data),
            101 => SlicedPacket::from_ip(data),
            _ => return None,
        };
        let Ok(pkt) = sliced else { continue };
        let Some(TransportSlice::Tcp(tcp)) = pkt.transport else {
            continue;
        };
        let (sp, dp) = (tcp.source_port(), tcp.destination_port());
        let dir = if dp == server_port && client_port.is_none_or(|c| c == sp) {
            client_port = Some(sp);
            Dir::ToServer
        } else if sp == server_port && client_port == Some(dp) {
            Dir::ToClient
        } else {
            continue;
        };
        let payload = tcp.payload();
        if payload.is_empty() {
            continue;
        }
        let seq = tcp.sequence_number();
        let d = dir.index();
        if let Some(n) = next_seq[d] {
            if (seq.wrapping_sub(n) as i32) < 0 {
                continue;
            }
        }
        next_seq[d] = Some(seq.wrapping_add(payload.len() as u32));
        out.push((dir, payload.to_vec(), i as FrameNo + 1));
    }
    Some(out)
}

struct Run {
    facts: PreambleFacts,
    streams: [Vec<u8>; 2],
    switch_at: [Option<usize>; 2],
}

fn run(rel: &str, port: u16) -> Option<Run> {
    let Some(pkts) = tcp_payloads(rel, port) else {
        eprintln!("skipping {rel}: capture not available");
        return None;
    };
    let script: Vec<(Dir, &[u8], FrameNo)> =
        pkts.iter().map(|(d, b, f)| (*d, &b[..], *f)).collect();
    let o = check(port, &script);
    let mut streams = [Vec::new(), Vec::new()];
    for (d, b, _) in &pkts {
        streams[d.index()].extend_from_slice(b);
    }
    Some(Run {
        facts: o.facts,
        streams,
        switch_at: o.switch_at,
    })
}

/// Offset of the first TLS handshake record in a stream.
fn first_tls_record(s: &[u8]) -> Option<usize> {
    (0..s.len()).find(|&i| s[i] == 0x16 && looks_like_tls(&s[i..]))
}

fn assert_upgrade(rel: &str, port: u16, proto: AppProtocol) -> Option<Run> {
    let r = run(rel, port)?;
    let s = r.facts.starttls.as_ref().expect("starttls");
    assert_eq!((s.protocol, s.result), (proto, StartTlsResult::Ok), "{rel}");
    assert!(s.response_frame.unwrap() > s.command_frame);
    assert_eq!(r.facts.via, Some(Via::StartTls(proto)));
    for d in [C, S] {
        let st = &r.streams[d.index()];
        assert_eq!(r.switch_at[d.index()], first_tls_record(st), "{rel} {d:?}");
        assert!(r.switch_at[d.index()].is_some(), "{rel} {d:?}");
    }
    Some(r)
}

#[test]
fn smtp() {
    let Some(r) = assert_upgrade(
        "suricata-verify/smtp-starttls-then-tls12.pcap",
        25,
        AppProtocol::Smtp,
    ) else {
        return;
    };
    assert_eq!(r.facts.client_protocol, Some(AppProtocol::Smtp));
    assert_eq!(r.facts.server_protocol, Some(AppProtocol::Smtp));
    assert!(r.facts.credentials.is_empty());
}

#[test]
fn ldap() {
    assert_upgrade(
        "suricata-verify/ldap-starttls-ipv6.pcap",
        389,
        AppProtocol::Ldap,
    );
}

#[test]
fn postgres() {
    let Some(r) = assert_upgrade(
        "suricata-verify/pgsql-sslrequest-then-tls12.pcap",
        5432,
        AppProtocol::Postgres,
    ) else {
        return;
    };
    assert_eq!(r.switch_at, [Some(8), Some(1)]);
}

#[test]
fn imap() {
    assert_upgrade("zeek/imap-starttls.pcap", 143, AppProtocol::Imap);
}

#[test]
fn pop3() {
    assert_upgrade(
        "zeek/pop3-stls-loopback-nulllink.pcap",
        110,
        AppProtocol::Pop3,
    );
}

#[test]
fn ftp() {
    assert_upgrade("zeek/ftp-auth-tls.pcap", 21, AppProtocol::Ftp);
}

#[test]
fn xmpp() {
    assert_upgrade("zeek/xmpp-starttls.pcap", 5222, AppProtocol::Xmpp);
}

#[test]
fn irc() {
    assert_upgrade("zeek/irc-starttls-linux-sll.pcap", 6667, AppProtocol::Irc);
}

#[test]
fn http_connect() {
    let Some(r) = run(
        "suricata-verify/http-connect-proxy8080-then-tls12.pcap",
        8080,
    ) else {
        return;
    };
    let c = r.facts.connect.as_ref().expect("connect");
    assert_eq!(c.target, "qagpublic.qg1.apps.qualys.com:443");
    assert_eq!(c.status, Some(200));
    assert_eq!(r.facts.via, Some(Via::HttpConnect));
    for d in [C, S] {
        let st = &r.streams[d.index()];
        assert_eq!(r.switch_at[d.index()], first_tls_record(st));
        assert!(r.switch_at[d.index()].is_some());
    }
}

#[test]
fn smtp_banner_answers_client_hello() {
    let Some(r) = run(
        "suricata-verify/smtps-465-clienthello-answered-by-plaintext-smtp-banner.pcap",
        465,
    ) else {
        return;
    };
    assert_eq!(r.switch_at[0], Some(0));
    assert_eq!(r.switch_at[1], None);
    assert_eq!(r.facts.server_protocol, Some(AppProtocol::Smtp));
    assert!(r.facts.server_first_bytes.unwrap().0.starts_with("220 "));
}

#[test]
fn ssh_and_http_on_443() {
    if let Some(r) = run("suricata-verify/ssh-on-port-443.pcap", 443) {
        assert_eq!(r.facts.client_protocol, Some(AppProtocol::Ssh));
        assert_eq!(r.facts.server_protocol, Some(AppProtocol::Ssh));
        assert_eq!(r.switch_at, [None, None]);
    }
    if let Some(r) = run("suricata-verify/plaintext-http-on-port-443.pcap", 443) {
        assert_eq!(r.facts.client_protocol, Some(AppProtocol::Http));
        assert_eq!(r.switch_at, [None, None]);
    }
}
