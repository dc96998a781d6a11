//! Parsers of the hello messages (ClientHello, ServerHello, the draft HelloRetryRequest):
//! tls-parser for the fixed parts, our own framing of the extensions block.

use tls_parser::nom;
use tls_parser::{SNIType, TlsExtension, TlsMessageHandshake};

use super::conn::HRR_RANDOM;
use super::names;
use super::wire::{be16, be16s, ext};
use crate::tls::types::{ClientHello, ServerHello};

pub(super) fn nom_reason(e: &nom::Err<nom::error::Error<&[u8]>>) -> String {
    match e {
        nom::Err::Incomplete(_) => "a length field exceeds the message".to_string(),
        nom::Err::Error(e) | nom::Err::Failure(e) => format!("parse error {:?}", e.code),
    }
}

/// One extension as framed on the wire.
pub(super) struct RawExt<'a> {
    typ: u16,
    /// Type, length and data, as tls-parser's per-extension parsers want it.
    whole: &'a [u8],
    data: &'a [u8],
}

/// Frame an extensions block ourselves: tls-parser's list parsers stop silently at the
/// first bad length, and we need both the exact wire order and a reason when it breaks.
pub(super) fn walk_extensions<'a>(
    msg: &str,
    mut data: &'a [u8],
    errs: &mut Vec<String>,
) -> Vec<RawExt<'a>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (Some(typ), Some(len)) = (be16(data, 0), be16(data, 2)) else {
            errs.push(format!(
                "{msg} extension header truncated ({} bytes left)",
                data.len()
            ));
            break;
        };
        let len = usize::from(len);
        let avail = data.len().saturating_sub(4);
        if len > avail {
            errs.push(format!(
                "{msg} extension 0x{typ:04x} ({}) claims {len} bytes but only {avail} remain",
                names::extension_name(typ)
            ));
            break;
        }
        let (whole, rest) = data.split_at(4 + len);
        out.push(RawExt {
            typ,
            whole,
            data: &whole[4..],
        });
        data = rest;
    }
    out
}

pub(super) fn u16_list(data: &[u8]) -> Option<Vec<u16>> {
    if data.len() % 2 != 0 {
        return None;
    }
    Some(be16s(data).collect())
}

/// Groups of a ClientHello key_share (0x0033, or 0x0028 in early TLS 1.3 drafts).
pub(super) fn client_key_share_groups(data: &[u8]) -> Option<Vec<u16>> {
    let list_len = usize::from(be16(data, 0)?);
    let mut list = data.get(2..2usize.checked_add(list_len)?)?;
    let mut groups = Vec::new();
    while !list.is_empty() {
        let g = be16(list, 0)?;
        let kx_len = usize::from(be16(list, 2)?);
        list = list.get(4usize.checked_add(kx_len)?..)?;
        groups.push(g);
    }
    Some(groups)
}

/// Parse a ClientHello body. Returns the hello (if the fixed part parsed) and the
/// problems found, each naming the message.
pub(crate) fn parse_client_hello(
    body: &[u8],
    record_version: u16,
) -> (Option<ClientHello>, Vec<String>) {
    let mut errs = Vec::new();
    let (rest, ch) = match tls_parser::parse_tls_handshake_client_hello(body) {
        Ok(v) => v,
        Err(e) => {
            errs.push(format!("ClientHello does not parse: {}", nom_reason(&e)));
            return (None, errs);
        }
    };
    let mut out = ClientHello {
        version: ch.version.0,
        record_version,
        sslv2_format: false,
        random: ch.random.to_vec(),
        session_id: ch.session_id.unwrap_or_default().to_vec(),
        ciphers: ch.ciphers.iter().map(|c| c.0).collect(),
        compression: ch.comp.iter().map(|c| c.0).collect(),
        ..Default::default()
    };
    if !rest.is_empty() {
        if ch.ext.is_none() {
            errs.push(format!(
                "ClientHello extensions length exceeds the message ({} bytes left)",
                rest.len()
            ));
        } else {
            errs.push(format!(
                "ClientHello has {} trailing bytes after its extensions",
                rest.len()
            ));
        }
    }
    let exts = walk_extensions("ClientHello", ch.ext.unwrap_or_default(), &mut errs);
    for e in &exts {
        out.extensions.push(e.typ);
        let bad = |what: &str| format!("ClientHello {what} extension does not parse");
        match e.typ {
            ext::SERVER_NAME => match tls_parser::parse_tls_client_hello_extension(e.whole) {
                Ok((_, TlsExtension::SNI(list))) => {
                    if out.sni.is_none() {
                        out.sni = list
                            .iter()
                            .find(|(t, _)| *t == SNIType::HostName)
                            .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                    }
                }
                _ => errs.push(bad("server_name")),
            },
            ext::SUPPORTED_GROUPS => match tls_parser::parse_tls_client_hello_extension(e.whole) {
                Ok((_, TlsExtension::EllipticCurves(g))) => {
                    out.groups = g.iter().map(|g| g.0).collect()
                }
                _ => errs.push(bad("supported_groups")),
            },
            ext::EC_POINT_FORMATS => match tls_parser::parse_tls_client_hello_extension(e.whole) {
                Ok((_, TlsExtension::EcPointFormats(f))) => out.ec_point_formats = f.to_vec(),
                _ => errs.push(bad("ec_point_formats")),
            },
            ext::SIGNATURE_ALGORITHMS => {
                match tls_parser::parse_tls_client_hello_extension(e.whole) {
                    Ok((_, TlsExtension::SignatureAlgorithms(s))) => out.signature_algorithms = s,
                    _ => errs.push(bad("signature_algorithms")),
                }
            }
            ext::ALPN => match tls_parser::parse_tls_client_hello_extension(e.whole) {
                Ok((_, TlsExtension::ALPN(p))) => {
                    out.alpn_first_raw = p.first().map(|p| p.to_vec()).unwrap_or_default();
                    out.alpn = p
                        .iter()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect()
                }
                _ => errs.push(bad("application_layer_protocol_negotiation")),
            },
            // tls-parser would read a 2-byte list as the ServerHello form; do it exactly.
            ext::SUPPORTED_VERSIONS => {
                let parsed = e.data.split_first().and_then(|(&n, list)| {
                    (usize::from(n) == list.len())
                        .then(|| u16_list(list))
                        .flatten()
                });
                match parsed {
                    Some(v) => out.supported_versions = v,
                    None => errs.push(bad("supported_versions")),
                }
            }
            ext::KEY_SHARE_OLD | ext::KEY_SHARE => match client_key_share_groups(e.data) {
                Some(g) => out.key_share_groups = g,
                None => errs.push(bad("key_share")),
            },
            ext::PRE_SHARED_KEY => out.has_psk = true,
            ext::SESSION_TICKET => out.has_session_ticket = !e.data.is_empty(),
            _ => {}
        }
    }
    (Some(out), errs)
}

/// The draft number of NSS's draft-version extension (0xff02) in a ClientHello body.
pub(super) fn nss_draft_version(body: &[u8]) -> Option<u8> {
    let (_, ch) = tls_parser::parse_tls_handshake_client_hello(body).ok()?;
    let mut errs = Vec::new();
    walk_extensions("ClientHello", ch.ext?, &mut errs)
        .iter()
        .find(|e| e.typ == ext::NSS_DRAFT_VERSION)
        .and_then(|e| match e.data {
            [0, draft] => Some(*draft),
            _ => None,
        })
}

/// Parse a ServerHello (or HelloRetryRequest in ServerHello form) body.
pub(crate) fn parse_server_hello(body: &[u8]) -> (Option<ServerHello>, Vec<String>) {
    let mut errs = Vec::new();
    let Some(version) = be16(body, 0) else {
        errs.push("ServerHello is truncated".to_string());
        return (None, errs);
    };
    let mut out = ServerHello {
        version,
        ..Default::default()
    };
    let ext_block: &[u8];
    if (version & 0xff00) == 0x7f00 || version == 0x0304 {
        // TLS 1.3 drafts before 22: version, random, cipher_suite, extensions
        // (tls-parser only knows draft 18's layout, which is the same). Early draft
        // servers wrote 0x0304 there; final TLS 1.3 never does (legacy_version 0x0303).
        let (Some(random), Some(cipher)) = (body.get(2..34), be16(body, 34)) else {
            errs.push("ServerHello is truncated".to_string());
            return (None, errs);
        };
        out.random = random.to_vec();
        out.cipher = cipher;
        let rest = body.get(36..).unwrap_or_default();
        ext_block = match be16(rest, 0) {
            Some(n) if rest.len() == usize::from(n) + 2 => &rest[2..],
            None if rest.is_empty() => &[],
            _ => {
                errs.push("ServerHello extensions length does not match the message".into());
                &[]
            }
        };
    } else {
        let (rest, sh) = match tls_parser::parse_tls_handshake_server_hello(body) {
            Ok(v) => v,
            Err(e) => {
                let why = if matches!(version, 0x0300..=0x0303) {
                    nom_reason(&e)
                } else {
                    format!("unsupported version 0x{version:04x}")
                };
                errs.push(format!("ServerHello does not parse: {why}"));
                return (None, errs);
            }
        };
        out.random = sh.random.to_vec();
        out.session_id = sh.session_id.unwrap_or_default().to_vec();
        out.cipher = sh.cipher.0;
        out.compression = sh.compression.0;
        // tls-parser reads SSLv3 ServerHellos without extensions; servers that send some
        // anyway (renegotiation_info, mostly) leave them in `rest`, and JA3S counts them as
        // Zeek, Suricata and Wireshark do.
        let sslv3_exts = match be16(rest, 0) {
            Some(n) if version == 0x0300 && rest.len() == usize::from(n) + 2 => Some(&rest[2..]),
            _ => None,
        };
        if !rest.is_empty() && version != 0x0300 {
            errs.push(format!(
                "ServerHello extensions length does not match the message ({} bytes left)",
                rest.len()
            ));
        }
        ext_block = sh.ext.or(sslv3_exts).unwrap_or_default();
    }
    out.is_hello_retry_request = out.random == HRR_RANDOM;
    for e in walk_extensions("ServerHello", ext_block, &mut errs) {
        out.extensions.push(e.typ);
        match e.typ {
            ext::SUPPORTED_VERSIONS => match be16(e.data, 0) {
                Some(v) if e.data.len() == 2 => out.selected_version = Some(v),
                _ => errs.push("ServerHello supported_versions extension does not parse".into()),
            },
            ext::ALPN => match tls_parser::parse_tls_server_hello_extension(e.whole) {
                Ok((_, TlsExtension::ALPN(p))) => {
                    out.alpn_raw = p.first().map(|p| p.to_vec()).unwrap_or_default();
                    out.alpn = p.first().map(|p| String::from_utf8_lossy(p).into_owned())
                }
                _ => errs.push(
                    "ServerHello application_layer_protocol_negotiation extension does not parse"
                        .into(),
                ),
            },
            ext::KEY_SHARE_OLD | ext::KEY_SHARE => match be16(e.data, 0) {
                Some(g) => out.group = Some(g),
                None => errs.push("ServerHello key_share extension does not parse".into()),
            },
            _ => {}
        }
    }
    (Some(out), errs)
}

/// Pre-draft-22 TLS 1.3 HelloRetryRequest (handshake type 6).
pub(super) fn draft_hello_retry_request(body: &[u8]) -> (Option<ServerHello>, Vec<String>) {
    match tls_parser::parse_tls_handshake_msg_hello_retry_request(body) {
        Ok((_, TlsMessageHandshake::HelloRetryRequest(h))) => {
            let mut errs = Vec::new();
            let mut sh = ServerHello {
                version: h.version.0,
                cipher: h.cipher.0,
                is_hello_retry_request: true,
                ..Default::default()
            };
            for e in walk_extensions("HelloRetryRequest", h.ext.unwrap_or_default(), &mut errs) {
                sh.extensions.push(e.typ);
                if matches!(e.typ, ext::KEY_SHARE_OLD | ext::KEY_SHARE) {
                    sh.group = be16(e.data, 0);
                }
            }
            (Some(sh), errs)
        }
        Ok(_) => (None, Vec::new()),
        Err(e) => (
            None,
            vec![format!(
                "HelloRetryRequest does not parse: {}",
                nom_reason(&e)
            )],
        ),
    }
}
