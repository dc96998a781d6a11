//! TLS client and server fingerprints: JA3/JA3S (Salesforce) and JA4/JA4S (FoxIO).
//!
//! JA3 (<https://github.com/salesforce/ja3>): decimal fields
//! `version,ciphers,extensions,groups,point_formats`, values joined with `-`, GREASE values
//! (RFC 8701, `0x?a?a` with equal bytes) removed from ciphers, extensions and groups, then
//! MD5. JA3S is `version,cipher,extensions` of the ServerHello.
//!
//! JA4/JA4S follow FoxIO's technical_details/JA4.md and JA4S.md. Choices where the
//! reference implementations disagree with each other or with the spec text:
//! * The first character is always `t`: this analyzer only sees TLS over TCP.
//! * ALPN: spec rule. A one-character value gives that character twice; a value whose
//!   first or last byte is not ASCII alphanumeric gives the first hex digit of the first
//!   byte and the last hex digit of the last byte. A two-byte GREASE-looking first value
//!   counts as no ALPN (as Suricata does). Because [`ClientHello::alpn`] holds `String`s,
//!   a value that was not UTF-8 is seen as whatever the TLS parser turned it into.
//! * An empty cipher or extension list hashes to `000000000000` (spec), not SHA-256 of "".
//! * No signature algorithms: JA4_c is the extension list with no trailing `_` (spec).
//! * JA4S keeps the server's extensions exactly as sent (FoxIO's implementations do not
//!   filter GREASE there).

use std::fmt::Write as _;

use md5::Md5;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::tls::types::{ClientHello, ServerHello};
use crate::tls::wire::hex;

/// A JA3 or JA3S fingerprint: the text that was hashed and its MD5, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fingerprint {
    pub text: String,
    pub hash: String,
}

pub use crate::tls::names::is_grease;

/// JA3 of a ClientHello.
pub fn ja3(ch: &ClientHello) -> Fingerprint {
    let mut text = String::with_capacity(256);
    let _ = write!(text, "{},", ch.version);
    push_decimal_list(
        &mut text,
        ch.ciphers.iter().copied().filter(|&v| !is_grease(v)),
    );
    text.push(',');
    push_decimal_list(
        &mut text,
        ch.extensions.iter().copied().filter(|&v| !is_grease(v)),
    );
    text.push(',');
    push_decimal_list(
        &mut text,
        ch.groups.iter().copied().filter(|&v| !is_grease(v)),
    );
    text.push(',');
    push_decimal_list(&mut text, ch.ec_point_formats.iter().map(|&v| u16::from(v)));
    let hash = hex(&Md5::digest(text.as_bytes()), "");
    Fingerprint { text, hash }
}

/// JA3S of a ServerHello. The version is the legacy `version` field, as JA3S defines it
/// (a TLS 1.3 ServerHello therefore shows 771).
pub fn ja3s(sh: &ServerHello) -> Fingerprint {
    let mut text = String::with_capacity(64);
    let _ = write!(text, "{},{},", sh.version, sh.cipher);
    push_decimal_list(
        &mut text,
        sh.extensions.iter().copied().filter(|&v| !is_grease(v)),
    );
    let hash = hex(&Md5::digest(text.as_bytes()), "");
    Fingerprint { text, hash }
}

/// JA4 of a ClientHello, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub fn ja4(ch: &ClientHello) -> String {
    let parts = Ja4Parts::new(ch);
    format!(
        "{}_{}_{}",
        parts.a,
        hash12(&parts.ciphers),
        hash12(&parts.exts_sigs)
    )
}

/// JA4_r: JA4 with the sorted lists in clear instead of hashed, for debugging a mismatch.
pub fn ja4_raw(ch: &ClientHello) -> String {
    let parts = Ja4Parts::new(ch);
    format!("{}_{}_{}", parts.a, parts.ciphers, parts.exts_sigs)
}

/// JA4S of a ServerHello, e.g. `t120400_c030_4e8089b08790`.
pub fn ja4s(sh: &ServerHello) -> String {
    let (head, exts) = ja4s_parts(sh);
    format!("{head}_{}", hash12(&exts))
}

/// JA4S_r: JA4S with the extension list in clear.
pub fn ja4s_raw(sh: &ServerHello) -> String {
    let (head, exts) = ja4s_parts(sh);
    format!("{head}_{exts}")
}

struct Ja4Parts {
    a: String,
    ciphers: String,
    exts_sigs: String,
}

const EXT_SNI: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;

impl Ja4Parts {
    fn new(ch: &ClientHello) -> Self {
        let version = ch
            .supported_versions
            .iter()
            .copied()
            .filter(|&v| !is_grease(v))
            .max()
            .unwrap_or(ch.version);
        let mut ciphers: Vec<u16> = ch
            .ciphers
            .iter()
            .copied()
            .filter(|&v| !is_grease(v))
            .collect();
        let exts: Vec<u16> = ch
            .extensions
            .iter()
            .copied()
            .filter(|&v| !is_grease(v))
            .collect();
        let sni = if exts.contains(&EXT_SNI) { 'd' } else { 'i' };
        let alpn = alpn_chars(raw_or(
            &ch.alpn_first_raw,
            ch.alpn.first().map(String::as_str),
        ));
        let a = format!(
            "t{}{}{:02}{:02}{}{}",
            version_code(version),
            sni,
            ciphers.len().min(99),
            exts.len().min(99),
            alpn[0],
            alpn[1]
        );

        ciphers.sort_unstable();
        let mut sorted_exts: Vec<u16> = exts
            .into_iter()
            .filter(|&v| v != EXT_SNI && v != EXT_ALPN)
            .collect();
        sorted_exts.sort_unstable();

        let mut exts_sigs = hex_list(&sorted_exts);
        let sigs: Vec<u16> = ch
            .signature_algorithms
            .iter()
            .copied()
            .filter(|&v| !is_grease(v))
            .collect();
        if !sigs.is_empty() {
            exts_sigs.push('_');
            exts_sigs.push_str(&hex_list(&sigs));
        }
        Ja4Parts {
            a,
            ciphers: hex_list(&ciphers),
            exts_sigs,
        }
    }
}

fn ja4s_parts(sh: &ServerHello) -> (String, String) {
    let alpn = alpn_chars(raw_or(&sh.alpn_raw, sh.alpn.as_deref()));
    let head = format!(
        "t{}{:02}{}{}_{:04x}",
        version_code(sh.negotiated_version()),
        sh.extensions.len().min(99),
        alpn[0],
        alpn[1],
        sh.cipher
    );
    (head, hex_list(&sh.extensions))
}

fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The ALPN bytes as sent, or the name's when they were not kept (hellos built in code).
fn raw_or<'a>(raw: &'a [u8], name: Option<&'a str>) -> Option<&'a [u8]> {
    if raw.is_empty() {
        name.map(str::as_bytes)
    } else {
        Some(raw)
    }
}

fn alpn_chars(first: Option<&[u8]>) -> [char; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = match first {
        Some(b) if !b.is_empty() => b,
        _ => return ['0', '0'],
    };
    let (first, last) = (b[0], b[b.len() - 1]);
    if b.len() == 2 && is_grease(u16::from_be_bytes([first, last])) {
        return ['0', '0'];
    }
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        [char::from(first), char::from(last)]
    } else {
        [
            char::from(HEX[usize::from(first >> 4)]),
            char::from(HEX[usize::from(last & 0x0f)]),
        ]
    }
}

/// First 12 hex digits of SHA-256; an empty list is shown as zeros so "nothing offered"
/// is visible rather than hashing the empty string.
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_owned();
    }
    let mut h = hex(&Sha256::digest(s.as_bytes()), "");
    h.truncate(12);
    h
}

fn hex_list(values: &[u16]) -> String {
    let mut out = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v:04x}");
    }
    out
}

fn push_decimal_list(out: &mut String, values: impl Iterator<Item = u16>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push('-');
        }
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The example ClientHello of FoxIO technical_details/JA4.md (also used by FoxIO's
    /// rust/ja4/src/tls.rs unit test), with GREASE sprinkled in that must be ignored.
    fn foxio_example() -> ClientHello {
        ClientHello {
            version: 0x0303,
            supported_versions: vec![0x2a2a, 0x0304, 0x0303],
            ciphers: vec![
                0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
                0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x1a1a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005,
                0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0xfafa,
            ],
            sni: Some("example.com".into()),
            alpn: vec!["h2".into(), "http/1.1".into()],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            ..Default::default()
        }
    }

    #[test]
    fn grease_values() {
        for v in [
            0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a, 0x8a8a, 0x9a9a, 0xaaaa,
            0xbaba, 0xcaca, 0xdada, 0xeaea, 0xfafa,
        ] {
            assert!(is_grease(v), "{v:04x}");
        }
        for v in [0x0a1a, 0x0000, 0x000a, 0x0a00, 0xaaab, 0x1301, 0xfefe] {
            assert!(!is_grease(v), "{v:04x}");
        }
    }

    #[test]
    fn ja4_foxio_spec_example() {
        let ch = foxio_example();
        assert_eq!(ja4(&ch), "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(
            ja4_raw(&ch),
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,\
             cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,\
             ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
    }

    #[test]
    fn ja4_without_signature_algorithms_has_no_underscore() {
        // JA4.md: "0005,...,ff01 = 6d807ffa2a79" when no signature algorithms are sent.
        let ch = ClientHello {
            signature_algorithms: vec![],
            ..foxio_example()
        };
        assert!(ja4(&ch).ends_with("_6d807ffa2a79"));
        assert!(ja4_raw(&ch).ends_with(",4469,ff01"));
    }

    #[test]
    fn ja4_empty_lists_are_zeros() {
        let ch = ClientHello {
            version: 0x0303,
            ..Default::default()
        };
        assert_eq!(ja4(&ch), "t12i000000_000000000000_000000000000");
    }

    #[test]
    fn ja4_hash_parts_match_suricata_unit_test() {
        // Suricata rust/src/ja4.rs test_get_hash: ciphers 1111,0a20,bada and extensions
        // face,0121,1234 (+ SNI, ALPN) with signature algorithm 6666.
        let ch = ClientHello {
            version: 0x0303,
            ciphers: vec![0x1111, 0x0a20, 0xbada],
            extensions: vec![0x0a0a, 0x0000, 0x0010, 0xface, 0x0121, 0x1234],
            alpn: vec!["h3-16".into()],
            signature_algorithms: vec![0x6666],
            ..Default::default()
        };
        assert_eq!(ja4(&ch), "t12d0305h6_f500716053f9_2debc8880bae");
    }

    #[test]
    fn ja4_counts_cap_at_99() {
        let ch = ClientHello {
            version: 0x0303,
            ciphers: (1..200).collect(),
            extensions: (1..200).collect(),
            ..Default::default()
        };
        assert!(ja4(&ch).starts_with("t12i999900_"));
    }

    #[test]
    fn ja4_version_selection() {
        let mut ch = ClientHello {
            version: 0x0301,
            ..Default::default()
        };
        assert!(ja4(&ch).starts_with("t10"));
        ch.version = 0x0300;
        assert!(ja4(&ch).starts_with("ts3"));
        ch.version = 0x0002;
        assert!(ja4(&ch).starts_with("ts2"));
        ch.version = 0x0305;
        assert!(ja4(&ch).starts_with("t00"));
        // supported_versions wins over legacy_version; GREASE is skipped.
        ch.version = 0x0303;
        ch.supported_versions = vec![0xfafa, 0x0303, 0x0304];
        assert!(ja4(&ch).starts_with("t13"));
        // Only GREASE in supported_versions: fall back to legacy_version.
        ch.supported_versions = vec![0xfafa];
        assert!(ja4(&ch).starts_with("t12"));
    }

    #[test]
    fn ja4_alpn_rules() {
        let a = |s: &str| {
            let c = alpn_chars(Some(s.as_bytes()));
            format!("{}{}", c[0], c[1])
        };
        assert_eq!(a("h2"), "h2");
        assert_eq!(a("http/1.1"), "h1");
        assert_eq!(a("spdy/3.1"), "s1");
        assert_eq!(a("h3-16"), "h6");
        assert_eq!(a("x"), "xx");
        assert_eq!(a(""), "00");
        assert_eq!(alpn_chars(None), ['0', '0']);
        // Not UTF-8: the bytes as sent (ff .. 61), not the replacement character's.
        assert_eq!(alpn_chars(Some(&[0xff, 0x61])), ['f', '1']);
        // Non-alphanumeric first or last byte: hex of first and last byte.
        assert_eq!(a("\u{e9}"), "c9"); // c3 a9
        assert_eq!(a("0\u{e9}"), "39"); // 30 c3 a9
        assert_eq!(a("/h2"), "22"); // 2f .. 32
        assert_eq!(a("0\u{e9}1"), "01");
        // A GREASE-looking two-byte value is not a protocol name.
        assert_eq!(a("\u{a}\u{a}"), "00");
    }

    #[test]
    fn ja4s_foxio_spec_example() {
        // technical_details/JA4S.md.
        let sh = ServerHello {
            version: 0x0303,
            cipher: 0xc030,
            extensions: vec![0x0005, 0x0017, 0xff01, 0x0000],
            ..Default::default()
        };
        assert_eq!(ja4s(&sh), "t120400_c030_4e8089b08790");
        assert_eq!(ja4s_raw(&sh), "t120400_c030_0005,0017,ff01,0000");
    }

    #[test]
    fn ja4s_tls13_uses_selected_version_and_alpn() {
        let sh = ServerHello {
            version: 0x0303,
            selected_version: Some(0x0304),
            cipher: 0x1301,
            extensions: vec![0x002b, 0x0033],
            alpn: Some("h2".into()),
            ..Default::default()
        };
        let s = ja4s(&sh);
        assert!(s.starts_with("t1302h2_1301_"), "{s}");
        assert_eq!(ja4s_raw(&sh), "t1302h2_1301_002b,0033");
        let empty = ServerHello::default();
        assert_eq!(ja4s(&empty), "t000000_0000_000000000000");
    }

    #[test]
    fn ja3_salesforce_readme_vectors() {
        let ch = ClientHello {
            version: 769,
            ciphers: vec![47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
            extensions: vec![0, 10, 11],
            groups: vec![23, 24, 25],
            ec_point_formats: vec![0],
            ..Default::default()
        };
        let fp = ja3(&ch);
        assert_eq!(
            fp.text,
            "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
        );
        assert_eq!(fp.hash, "ada70206e40642a3e4461f35503241d5");

        let ch = ClientHello {
            version: 769,
            ciphers: vec![4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99],
            ..Default::default()
        };
        let fp = ja3(&ch);
        assert_eq!(fp.text, "769,4-5-10-9-100-98-3-6-19-18-99,,,");
        assert_eq!(fp.hash, "de350869b8c85de67a350c8d186f11e6");
    }

    #[test]
    fn ja3_removes_grease_but_keeps_point_formats() {
        let ch = ClientHello {
            version: 771,
            ciphers: vec![0x0a0a, 4865],
            extensions: vec![0x2a2a, 0, 10, 0x3a3a],
            groups: vec![0x4a4a, 29],
            ec_point_formats: vec![0, 1, 2],
            ..Default::default()
        };
        assert_eq!(ja3(&ch).text, "771,4865,0-10,29,0-1-2");
    }

    #[test]
    fn ja3s_salesforce_vector() {
        // salesforce/ja3 README: "769,47,65281-0-11-35-5-16".
        let sh = ServerHello {
            version: 769,
            cipher: 47,
            extensions: vec![65281, 0, 11, 35, 5, 16],
            ..Default::default()
        };
        let fp = ja3s(&sh);
        assert_eq!(fp.text, "769,47,65281-0-11-35-5-16");
        assert_eq!(fp.hash, "836ce314215654b5b1f85f97c73e506f");
        assert_eq!(ja3s(&ServerHello::default()).text, "0,0,");
    }

    /// Test-only extraction of hellos from the suricata-verify captures: pcap-parser for
    /// the file, etherparse for link/IP/TCP, a naive per-direction concatenation of TCP
    /// payloads (these captures have no loss), and a small hand parser for the handshake.
    /// `tls::cert` tests reuse [`capture::handshake_messages`] for Certificate messages.
    pub(crate) mod capture {
        use std::collections::HashMap;
        use std::net::IpAddr;

        use etherparse::{NetSlice, SlicedPacket, TransportSlice};
        use pcap_parser::parse_pcap;

        use crate::tls::types::{ClientHello, ServerHello};

        /// Where the corpus is looked for: beside the checkout (CI), one level further up
        /// (a scratch crate), or the shared workspace.
        pub const ROOTS: [&str; 3] = [
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/captures/suricata-verify"
            ),
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/captures/suricata-verify"
            ),
            "/work/shared/captures/suricata-verify",
        ];

        /// The capture's bytes; None (test skipped) when the corpus is absent, unless
        /// TLSTRIAGE_REQUIRE_CORPUS is set, as CI does, where a missing file fails.
        pub fn read(name: &str) -> Option<Vec<u8>> {
            for root in ROOTS {
                if let Ok(b) = std::fs::read(format!("{root}/{name}")) {
                    return Some(b);
                }
            }
            assert!(
                std::env::var_os("TLSTRIAGE_REQUIRE_CORPUS").is_none(),
                "capture {name} not found under {ROOTS:?}"
            );
            eprintln!("capture {name} not found; skipping");
            None
        }

        pub struct Hellos {
            pub clients: Vec<ClientHello>,
            pub servers: Vec<ServerHello>,
        }

        type Key = (IpAddr, u16, IpAddr, u16);

        /// Plaintext handshake messages (type, body, record version) of every TCP
        /// direction in the capture, directions in order of first payload. None when the
        /// capture is not available (e.g. a checkout without shared/).
        pub fn handshake_messages(name: &str) -> Option<Vec<(u8, Vec<u8>, u16)>> {
            let data = read(name)?;
            let (_, cap) = parse_pcap(&data).expect("pcap");
            let linktype = cap.header.network.0;
            let mut order: Vec<Key> = Vec::new();
            let mut streams: HashMap<Key, (Option<u32>, Vec<u8>)> = HashMap::new();
            for block in &cap.blocks {
                let frame = block.data;
                let sliced = match linktype {
                    1 => SlicedPacket::from_ethernet(frame),
                    0 => SlicedPacket::from_ip(frame.get(4..).unwrap_or_default()),
                    _ => SlicedPacket::from_ip(frame),
                };
                let Ok(p) = sliced else { continue };
                let (src, dst): (IpAddr, IpAddr) = match &p.net {
                    Some(NetSlice::Ipv4(v4)) => (
                        v4.header().source_addr().into(),
                        v4.header().destination_addr().into(),
                    ),
                    Some(NetSlice::Ipv6(v6)) => (
                        v6.header().source_addr().into(),
                        v6.header().destination_addr().into(),
                    ),
                    _ => continue,
                };
                let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
                    continue;
                };
                let payload = tcp.payload();
                if payload.is_empty() {
                    continue;
                }
                let key = (src, tcp.source_port(), dst, tcp.destination_port());
                let entry = streams.entry(key).or_insert_with(|| {
                    order.push(key);
                    (None, Vec::new())
                });
                let seq = tcp.sequence_number();
                // Skip plain retransmissions; take the new tail of overlapping ones.
                let skip = match entry.0 {
                    Some(next) => next.wrapping_sub(seq) as usize,
                    None => 0,
                };
                if skip >= payload.len() && entry.0.is_some() {
                    continue;
                }
                let skip = if skip > payload.len() { 0 } else { skip };
                entry.1.extend_from_slice(&payload[skip..]);
                entry.0 = Some(seq.wrapping_add(payload.len() as u32));
            }
            Some(
                order
                    .iter()
                    .flat_map(|key| handshakes(&streams[key].1))
                    .collect(),
            )
        }

        pub fn hellos(name: &str) -> Option<Hellos> {
            let mut out = Hellos {
                clients: Vec::new(),
                servers: Vec::new(),
            };
            for (ty, body, record_version) in handshake_messages(name)? {
                match ty {
                    1 => out.clients.extend(client_hello(&body, record_version)),
                    2 => out.servers.extend(server_hello(&body)),
                    _ => {}
                }
            }
            Some(out)
        }

        /// Handshake messages (type, body, record version) of the plaintext handshake
        /// records of a stream. ChangeCipherSpec and alerts are skipped (TLS 1.3 drafts
        /// put a compatibility CCS between a HelloRetryRequest and the ServerHello);
        /// application data ends the plaintext part.
        fn handshakes(stream: &[u8]) -> Vec<(u8, Vec<u8>, u16)> {
            let mut hs = Vec::new();
            let mut rec_version = 0;
            let mut rest = stream;
            while rest.len() >= 5 && (0x14..=0x16).contains(&rest[0]) {
                let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
                if rest.len() < 5 + len {
                    break;
                }
                if rest[0] == 0x16 {
                    if rec_version == 0 {
                        rec_version = u16::from_be_bytes([rest[1], rest[2]]);
                    }
                    hs.extend_from_slice(&rest[5..5 + len]);
                }
                rest = &rest[5 + len..];
            }
            let mut out = Vec::new();
            let mut r = &hs[..];
            while r.len() >= 4 {
                let len = (usize::from(r[1]) << 16) | (usize::from(r[2]) << 8) | usize::from(r[3]);
                if r.len() < 4 + len {
                    break;
                }
                out.push((r[0], r[4..4 + len].to_vec(), rec_version));
                r = &r[4 + len..];
            }
            out
        }

        struct Reader<'a>(&'a [u8]);

        impl<'a> Reader<'a> {
            fn take(&mut self, n: usize) -> Option<&'a [u8]> {
                if self.0.len() < n {
                    return None;
                }
                let (a, b) = self.0.split_at(n);
                self.0 = b;
                Some(a)
            }
            fn u8(&mut self) -> Option<u8> {
                self.take(1).map(|b| b[0])
            }
            fn u16(&mut self) -> Option<u16> {
                self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
            }
            fn vec8(&mut self) -> Option<&'a [u8]> {
                let n = self.u8()?;
                self.take(usize::from(n))
            }
            fn vec16(&mut self) -> Option<&'a [u8]> {
                let n = self.u16()?;
                self.take(usize::from(n))
            }
        }

        fn u16s(b: &[u8]) -> Vec<u16> {
            b.chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect()
        }

        fn extensions(r: &mut Reader<'_>) -> Vec<(u16, Vec<u8>)> {
            let mut out = Vec::new();
            let Some(block) = r.vec16() else { return out };
            let mut e = Reader(block);
            while let (Some(ty), Some(data)) = (e.u16(), e.vec16()) {
                out.push((ty, data.to_vec()));
            }
            out
        }

        fn alpn_names(data: &[u8]) -> Vec<String> {
            let mut names = Vec::new();
            let mut r = Reader(data);
            if let Some(list) = r.vec16() {
                let mut l = Reader(list);
                while let Some(name) = l.vec8() {
                    names.push(String::from_utf8_lossy(name).into_owned());
                }
            }
            names
        }

        fn client_hello(body: &[u8], record_version: u16) -> Option<ClientHello> {
            let mut r = Reader(body);
            let mut ch = ClientHello {
                record_version,
                version: r.u16()?,
                random: r.take(32)?.to_vec(),
                session_id: r.vec8()?.to_vec(),
                ciphers: u16s(r.vec16()?),
                compression: r.vec8()?.to_vec(),
                ..Default::default()
            };
            for (ty, data) in extensions(&mut r) {
                ch.extensions.push(ty);
                let mut d = Reader(&data);
                match ty {
                    0x0000 => {
                        let mut l = Reader(d.vec16().unwrap_or_default());
                        if let (Some(0), Some(name)) = (l.u8(), l.vec16()) {
                            ch.sni = Some(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                    0x000a => ch.groups = u16s(d.vec16().unwrap_or_default()),
                    0x000b => ch.ec_point_formats = d.vec8().unwrap_or_default().to_vec(),
                    0x000d => ch.signature_algorithms = u16s(d.vec16().unwrap_or_default()),
                    0x0010 => ch.alpn = alpn_names(&data),
                    0x002b => ch.supported_versions = u16s(d.vec8().unwrap_or_default()),
                    0x0029 => ch.has_psk = true,
                    0x0023 => ch.has_session_ticket = !data.is_empty(),
                    _ => {}
                }
            }
            Some(ch)
        }

        fn server_hello(body: &[u8]) -> Option<ServerHello> {
            let mut r = Reader(body);
            let version = r.u16()?;
            // TLS 1.3 drafts (0x7fxx) dropped session_id and compression.
            let draft = version >> 8 == 0x7f;
            let mut sh = ServerHello {
                version,
                random: r.take(32)?.to_vec(),
                ..Default::default()
            };
            if !draft {
                sh.session_id = r.vec8()?.to_vec();
            }
            sh.cipher = r.u16()?;
            if !draft {
                sh.compression = r.u8()?;
            }
            for (ty, data) in extensions(&mut r) {
                sh.extensions.push(ty);
                let mut d = Reader(&data);
                match ty {
                    0x002b => sh.selected_version = d.u16(),
                    0x0010 => sh.alpn = alpn_names(&data).into_iter().next(),
                    0x0033 => sh.group = d.u16(),
                    _ => {}
                }
            }
            Some(sh)
        }
    }

    /// Loads a capture's hellos, or skips the test (with a note) when shared/ is absent.
    macro_rules! hellos_or_skip {
        ($name:expr) => {
            match capture::hellos($name) {
                Some(h) => h,
                None => return,
            }
        };
    }

    #[test]
    fn suricata_ja4_tls12_capture() {
        // tls12-ja4-fingerprint.suricata-test.yaml expects exactly this value.
        let h = hellos_or_skip!("tls12-ja4-fingerprint.pcap");
        assert_eq!(h.clients.len(), 1);
        let ch = &h.clients[0];
        assert_eq!(ja4(ch), "t12i1810s1_27d4652c4487_06a4338d0495");
        // JA3 and JA3S as tshark 4.0.17 (tls.handshake.ja3 / ja3s) computes them.
        assert_eq!(ja3(ch).hash, "308b0bd904abbef5e0034a1ff7a78920");
        assert_eq!(h.servers.len(), 1);
        let s = ja3s(&h.servers[0]);
        assert_eq!(s.text, "771,49199,65281-11-35");
        assert_eq!(s.hash, "ccc514751b175866924439bdbb5bba34");
    }

    #[test]
    fn suricata_ja3_capture_vectors() {
        // (capture, hello index, ja3.string, ja3.hash) from the suricata-verify yaml files.
        let cases: &[(&str, usize, &str, &str)] = &[
            (
                "tls13-draft14.pcap",
                0,
                "772,49195-49199-52393-52392-49196-49200-49162-49161-49171-49172-51-57-47-53-10,\
                 0-23-65281-10-11-35-13172-16-5-65282-40-13,23-24-25-256-257-258-259-260,0",
                "65825469c473e48f3ee2571129256ab0",
            ),
            (
                "tls13-draft18.pcap",
                0,
                "771,4865-4866-4867-49195-49199-158-49196-49200-159-52393-52392-52244-52243-\
                 49161-49187-49171-49191-51-103-49162-49188-49172-49192-57-107-156-157-47-60-\
                 53-61-10,65281-23-35-13-11-40-45-43-10,29-23-24,0",
                "23d254f72096d25c350e4a4a792f4948",
            ),
            (
                "tls13-draft22-hello-retry-request-port4433.pcap",
                0,
                "771,4865-4867,0-43-13-10-40,23,",
                "786468211b4d23f9b725987b0de9d090",
            ),
            (
                "tls13-draft28-ipv6.pcap",
                1,
                "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-\
                 52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-\
                 49310-51,5-10-11-13-22-23-35-51-43-65281-0-45-41,23,0",
                "d00857e0c8e7a7f35e446508c6233460",
            ),
            (
                "tls13-draft28-ipv6.pcap",
                0,
                "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-\
                 52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-\
                 49310-51,5-10-11-13-22-23-35-51-43-65281-0-45,23,0",
                "43202faa1c8c1760d6f7f4bd9adde4ab",
            ),
            (
                "tls-duplicate-clienthello-nulllink.pcap",
                0,
                "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-\
                 52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-\
                 49310-51,5-10-11-13-22-23-35-51-43-65281-0-45,23,0",
                "43202faa1c8c1760d6f7f4bd9adde4ab",
            ),
        ];
        for &(name, idx, text, hash) in cases {
            let h = hellos_or_skip!(name);
            let fp = ja3(&h.clients[idx]);
            assert_eq!(fp.text, text, "{name}");
            assert_eq!(fp.hash, hash, "{name}");
        }
    }

    #[test]
    fn tshark_ja3s_capture_vectors() {
        // (capture, server hello index, JA3S text, hash) from tshark 4.0.17's
        // tls.handshake.ja3s_full / ja3s fields on the same files.
        let cases: &[(&str, usize, &str, &str)] = &[
            (
                "tls13-draft18.pcap",
                0,
                "32530,4865,40",
                "b8a8031b301aef7618403061e9f33065",
            ),
            (
                "tls13-draft22-hello-retry-request-port4433.pcap",
                0,
                "771,4865,43-40",
                "45877694de44dca6cdff383fa40984e9",
            ),
            (
                "tls13-draft22-hello-retry-request-port4433.pcap",
                1,
                "771,4865,40-43",
                "d9f520f64c0731564298ee69133d59d2",
            ),
            (
                "tls13-ipv6-google.pcap",
                0,
                "771,4865,51-43",
                "eb1d94daa7e0344597e756a1fb6e7054",
            ),
            (
                "tls13-ipv6-google.pcap",
                1,
                "771,4866,51-43",
                "907bf3ecef1c987c889946b737b43de8",
            ),
        ];
        for &(name, idx, text, hash) in cases {
            let h = hellos_or_skip!(name);
            let fp = ja3s(&h.servers[idx]);
            assert_eq!(fp.text, text, "{name} #{idx}");
            assert_eq!(fp.hash, hash, "{name} #{idx}");
        }
    }

    #[test]
    fn tshark_ja3_google_capture() {
        let h = hellos_or_skip!("tls13-ipv6-google.pcap");
        assert_eq!(ja3(&h.clients[0]).hash, "7a15285d4efc355608b304698cd7f9ab");
        assert_eq!(ja3(&h.clients[1]).hash, "e690df036922288311144cc96acf6515");
        // TLS 1.3 ServerHello: JA4S takes the version from supported_versions.
        let s = ja4s(&h.servers[0]);
        assert!(s.starts_with("t130200_1301_"), "{s}");
    }
}
