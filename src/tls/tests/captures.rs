//! Real captures from the shared corpus (Zeek and Suricata test traces), skipped when it is absent.

use super::*;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

fn capture(rel: &str) -> Option<Vec<u8>> {
    let roots = [
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures"),
        PathBuf::from("/work/shared/captures"),
    ];
    for r in roots {
        if let Ok(b) = std::fs::read(r.join(rel)) {
            return Some(b);
        }
    }
    eprintln!("capture {rel} not found; skipping");
    None
}

#[derive(Default)]
struct Half {
    next: Option<u32>,
    pending: BTreeMap<u32, Vec<u8>>,
}

struct Flow {
    client: (Vec<u8>, u16),
    halves: [Half; 2],
    tls: TlsConn,
}

fn deliver(tls: &mut TlsConn, h: &mut Half, dir: Dir, seq: u32, data: &[u8], frame: u64) {
    let Some(next) = h.next else {
        h.next = Some(seq.wrapping_add(data.len() as u32));
        tls.feed(dir, data, frame, 0);
        return;
    };
    let off = seq.wrapping_sub(next) as i32;
    if off > 0 {
        h.pending.insert(seq, data.to_vec());
        return;
    }
    let skip = (-off) as usize;
    if skip < data.len() {
        tls.feed(dir, &data[skip..], frame, 0);
        h.next = Some(next.wrapping_add((data.len() - skip) as u32));
    }
    while let Some((&s, _)) = h.pending.iter().next() {
        let n = h.next.unwrap();
        if (s.wrapping_sub(n) as i32) > 0 {
            break;
        }
        let d = h.pending.remove(&s).unwrap();
        deliver(tls, h, dir, s, &d, frame);
    }
}

/// TLS state of each TCP flow of a capture, in order of appearance.
fn run(rel: &str) -> Option<Vec<TlsConn>> {
    let bytes = capture(rel)?;
    let (_, cap) = pcap_parser::parse_pcap(&bytes).expect("pcap");
    let link = cap.header.network.0;
    let mut flows: Vec<Flow> = Vec::new();
    let mut index: HashMap<(Vec<u8>, u16, Vec<u8>, u16), usize> = HashMap::new();
    for (n, b) in cap.blocks.iter().enumerate() {
        let frame = n as u64 + 1;
        let p = match link {
            1 => SlicedPacket::from_ethernet(b.data),
            113 => SlicedPacket::from_linux_sll(b.data),
            0 => SlicedPacket::from_ip(b.data.get(4..).unwrap_or_default()),
            _ => SlicedPacket::from_ip(b.data),
        };
        let Ok(p) = p else { continue };
        let (src, dst) = match &p.net {
            Some(NetSlice::Ipv4(s)) => (
                s.header().source().to_vec(),
                s.header().destination().to_vec(),
            ),
            Some(NetSlice::Ipv6(s)) => (
                s.header().source().to_vec(),
                s.header().destination().to_vec(),
            ),
            _ => continue,
        };
        let Some(TransportSlice::Tcp(t)) = &p.transport else {
            continue;
        };
        let (sp, dp) = (t.source_port(), t.destination_port());
        let key = (src.clone(), sp, dst.clone(), dp);
        let rkey = (dst.clone(), dp, src.clone(), sp);
        let idx = match (index.get(&key), index.get(&rkey)) {
            (Some(&i), _) | (_, Some(&i)) => i,
            _ => {
                // The initiator is the sender of a bare SYN, else of the first packet.
                let client = if t.syn() && t.ack() {
                    (dst.clone(), dp)
                } else {
                    (src.clone(), sp)
                };
                flows.push(Flow {
                    client,
                    halves: Default::default(),
                    tls: TlsConn::new(),
                });
                index.insert(key.clone(), flows.len() - 1);
                flows.len() - 1
            }
        };
        let f = &mut flows[idx];
        let dir = if (src.clone(), sp) == f.client {
            ToServer
        } else {
            ToClient
        };
        let h = &mut f.halves[dir.index()];
        if t.syn() {
            h.next = Some(t.sequence_number().wrapping_add(1));
            continue;
        }
        if t.payload().is_empty() {
            continue;
        }
        deliver(&mut f.tls, h, dir, t.sequence_number(), t.payload(), frame);
    }
    Some(flows.into_iter().map(|f| f.tls).collect())
}

fn cipher(c: &TlsConn) -> String {
    names::cipher_name(c.server_hello.as_ref().unwrap().cipher)
}

#[test]
fn zeek_tls12_normal_handshake() {
    let Some(flows) = run("zeek/tls12-normal-handshake.pcap") else {
        return;
    };
    let c = &flows[0];
    assert_eq!(c.history, "CsxnGIi");
    assert!(c.established);
    assert_eq!(c.negotiated_version(), Some(0x0303));
    assert_eq!(cipher(c), "TLS_RSA_WITH_RC4_128_MD5");
    assert_eq!(
        names::cipher_is_weak(c.server_hello.as_ref().unwrap().cipher),
        Some("RC4")
    );
    assert_eq!(c.server_cert_der.len(), 3);
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
}

#[test]
fn zeek_tls12_handshake_failure_alert() {
    let Some(flows) = run("zeek/tls12-handshake-failure-alert.pcap") else {
        return;
    };
    let c = &flows[0];
    assert_eq!(c.history, "Cl");
    assert!(!c.established);
    let a: Vec<_> = c.alerts().collect();
    assert_eq!(
        a[0].kind,
        TlsEventKind::Alert {
            level: 2,
            description: 40
        }
    );
    assert_eq!(c.stage.as_str(), "client_hello");
}

#[test]
fn zeek_tls12_protocol_error_invalid_version() {
    let Some(flows) = run("zeek/tls12-protocol-error-invalid-version.pcap") else {
        return;
    };
    let c = &flows[0];
    assert!(
        c.malformed.iter().any(|m| m.reason.contains("is not TLS")),
        "{:?}",
        c.malformed
    );
}

#[test]
fn zeek_tls13_hello_retry_request() {
    let Some(flows) = run("zeek/tls13-hello-retry-request.pcap") else {
        return;
    };
    let c = &flows[0];
    assert_eq!(c.history, "CjiICs");
    assert!(c.established);
    assert_eq!(c.negotiated_version(), Some(0x0304));
    assert_eq!(cipher(c), "TLS_AES_256_GCM_SHA384");
    assert_eq!(
        names::group_name(c.server_hello.as_ref().unwrap().group.unwrap()),
        "secp256r1"
    );
    assert_eq!(c.client_hello_count, 2);
    assert!(c.hello_retry_request.is_some());
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
}

#[test]
fn zeek_tls13_psk_resumption() {
    let Some(flows) = run("zeek/tls13-psk-resumption.pcap") else {
        return;
    };
    let c = &flows[0];
    assert!(c.resumed);
    assert!(c.established);
    assert_eq!(c.history, "CsiI");
    assert_eq!(cipher(c), "TLS_CHACHA20_POLY1305_SHA256");
    assert_eq!(c.server_hello.as_ref().unwrap().group, Some(29));
}

#[test]
fn zeek_tls13_draft23() {
    let Some(flows) = run("zeek/tls13-draft23-chrome.pcap") else {
        return;
    };
    let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
    assert_eq!(
        names::version_name(c.negotiated_version().unwrap()),
        "TLSv1.3-draft23"
    );
    assert_eq!(c.history, "CsiI");
    assert!(c.established);
    assert_eq!(
        c.client_hello.as_ref().unwrap().sni.as_deref(),
        Some("tls13.crypto.mozilla.org")
    );
}

#[test]
fn zeek_tls13_kyber() {
    let Some(flows) = run("zeek/tls13-chrome-x25519-kyber.pcap") else {
        return;
    };
    let c = flows.iter().find(|c| c.server_hello.is_some()).unwrap();
    assert_eq!(c.history, "CsiI");
    assert_eq!(
        names::group_name(c.server_hello.as_ref().unwrap().group.unwrap()),
        "X25519Kyber768Draft00"
    );
    assert_eq!(
        c.client_hello.as_ref().unwrap().sni.as_deref(),
        Some("lh3.google.com")
    );
}

#[test]
fn zeek_fragmented_handshake() {
    let Some(flows) = run("zeek/tls12-fragmented-handshake-port4433.pcap") else {
        return;
    };
    let c = &flows[0];
    assert_eq!(c.history, "Csxkn");
    assert!(!c.established);
    assert_eq!(
        names::group_name(c.server_hello.as_ref().unwrap().group.unwrap()),
        "secp256r1"
    );
    assert_eq!(cipher(c), "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384");
}

#[test]
fn zeek_client_cert_requested_failed() {
    let Some(flows) = run("zeek/tls-client-cert-requested-failed.pcap") else {
        return;
    };
    let c = &flows[0];
    assert_eq!(c.history, "CsxkrnXGIl");
    assert!(!c.established);
    assert_eq!(
        names::group_name(c.server_hello.as_ref().unwrap().group.unwrap()),
        "x25519"
    );
}

#[test]
fn zeek_sslv2_client_hello() {
    let Some(flows) = run("zeek/sslv2-clienthello.pcap") else {
        return;
    };
    let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
    assert!(c.client_hello.as_ref().unwrap().sslv2_format);
    assert!(c.malformed.is_empty(), "{:?}", c.malformed);
}

#[test]
fn zeek_heartbleed() {
    let Some(flows) = run("zeek/tls-heartbleed-attempt.pcap") else {
        return;
    };
    let hb = flows
        .iter()
        .flat_map(|c| c.events.iter())
        .filter(|e| matches!(e.kind, TlsEventKind::Heartbeat { .. }))
        .count();
    assert!(hb > 0);
}

#[test]
fn suricata_clienthello_split_across_segments() {
    let Some(flows) =
        run("suricata-verify/tls12-clienthello-split-across-tcp-segments-mtu300.pcap")
    else {
        return;
    };
    let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
    assert_eq!(
        c.client_hello.as_ref().unwrap().sni.as_deref(),
        Some("www.google.com")
    );
}

#[test]
fn suricata_sslv2_upgrade() {
    let Some(flows) = run("suricata-verify/sslv2-compat-clienthello-upgrade-to-tlsv1.pcap") else {
        return;
    };
    let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
    assert!(c.client_hello.as_ref().unwrap().sslv2_format);
    assert_eq!(c.negotiated_version(), Some(0x0301));
    assert!(!c.server_cert_der.is_empty());
}

#[test]
fn suricata_tls13_draft22_hrr() {
    let Some(flows) = run("suricata-verify/tls13-draft22-hello-retry-request-port4433.pcap") else {
        return;
    };
    let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
    assert_eq!(c.client_hello_count, 2);
    assert_eq!(
        c.client_hello.as_ref().unwrap().sni.as_deref(),
        Some("localhost")
    );
    assert_eq!(
        names::version_name(c.negotiated_version().unwrap()),
        "TLSv1.3-draft22"
    );
}

#[test]
fn suricata_duplicate_client_hello() {
    let Some(flows) = run("suricata-verify/tls-duplicate-clienthello-nulllink.pcap") else {
        return;
    };
    let c = flows.iter().find(|c| c.client_hello.is_some()).unwrap();
    assert_eq!(c.client_hello_count, 2);
}

/// Every capture of the corpus: no panic, and a summary to eyeball with --nocapture.
#[test]
fn whole_corpus_does_not_panic() {
    for sub in ["zeek", "suricata-verify"] {
        let Some(root) = [
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures"),
            PathBuf::from("/work/shared/captures"),
        ]
        .into_iter()
        .find(|p| p.exists()) else {
            return;
        };
        let Ok(dir) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        {
            let rel = format!("{sub}/{}", p.file_name().unwrap().to_string_lossy());
            let Some(flows) = run(&rel) else { continue };
            for c in flows.iter().filter(|c| !c.events.is_empty()) {
                eprintln!(
                    "{rel}: {} v={:?} est={} res={} mal={:?}",
                    c.history,
                    c.negotiated_version().map(names::version_name),
                    c.established,
                    c.resumed,
                    c.malformed.iter().map(|m| &m.reason).collect::<Vec<_>>()
                );
            }
        }
    }
}
