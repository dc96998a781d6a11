//! X.509 reduction: one DER certificate in, the few facts troubleshooting needs out.
//!
//! x509-parser does the ASN.1 work. A few things are done here instead of with its
//! helpers, on purpose:
//! * Names are formatted the way x509-parser's `Display` does ("C=FR, O=Stamus, CN=SELKS",
//!   RDNs in certificate order, which is also what Suricata logs), but values that are not
//!   clean UTF-8 are escaped (`\x00`, `\xe9`) instead of failing the whole name: a NUL in
//!   a subject is exactly what an analyst must see.
//! * The RSA size is counted from the modulus' significant bits (x509-parser's `key_size`
//!   counts bytes after a sign byte).
//! * The outer DER header is checked by hand first, so a truncated record gives a precise
//!   reason and an oversized one is refused before any parsing work.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sha2::{Digest, Sha256};
use x509_parser::der_parser::asn1_rs::{Any, Tag};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::objects::{oid2abbrev, oid2sn, oid_registry};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use crate::tls::types::CertInfo;
use crate::tls::wire::{be16s, hex};

/// Largest certificate accepted. Typical certificates are a few KiB; the cap bounds the
/// work a crafted one can cause. It is the TLS stage's cap (one Certificate message), not
/// less: real certificates over 64 KiB exist (Zeek's fragmented-handshake trace has a
/// 340 KB leaf, CN=Bro, that Zeek parses and logs).
pub const MAX_CERT_SIZE: usize = crate::tls::MAX_CERT_LEN;

/// Certificates already parsed, by their DER bytes. A server presents the same chain on
/// every connection (Zeek caches its X.509 files the same way), so a busy capture parses
/// each distinct certificate once instead of once per connection.
#[derive(Default)]
pub struct CertCache {
    entries: HashMap<Box<[u8]>, Result<CertInfo, String>, foldhash::fast::RandomState>,
    bytes: usize,
}

impl CertCache {
    /// DER bytes kept before the cache starts over (a bound, not a tuning knob: the chains of
    /// a few hundred servers).
    const MAX_BYTES: usize = 4 << 20;

    /// [`parse_certificate`], from the cache when the same bytes were seen before.
    pub fn parse(&mut self, der: &[u8]) -> Result<CertInfo, String> {
        if let Some(hit) = self.entries.get(der) {
            return hit.clone();
        }
        let parsed = parse_certificate(der);
        if der.len() <= Self::MAX_BYTES / 16 {
            if self.bytes + der.len() > Self::MAX_BYTES {
                self.entries.clear();
                self.bytes = 0;
            }
            self.bytes += der.len();
            self.entries.insert(der.into(), parsed.clone());
        }
        parsed
    }
}

/// Parses one DER certificate. Bytes after the certificate are ignored; `sha256` covers the
/// certificate's own encoding only.
///
/// `serial` is the hex of the DER INTEGER content bytes, as Suricata prints it (so a serial
/// with its high bit set keeps the leading `00` sign byte).
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, String> {
    let total = outer_length(der)?;
    let der = &der[..total];
    let cert = match X509Certificate::from_der(der) {
        Ok((_, cert)) => cert,
        Err(x509_parser::nom::Err::Incomplete(_)) => {
            return Err("truncated DER content".to_owned());
        }
        Err(x509_parser::nom::Err::Error(e)) | Err(x509_parser::nom::Err::Failure(e)) => {
            return Err(format!("invalid certificate: {e}"));
        }
    };

    let mut san = Vec::new();
    let mut is_ca = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(names) => {
                san.extend(names.general_names.iter().filter_map(san_to_string));
            }
            ParsedExtension::BasicConstraints(bc) => is_ca = bc.ca,
            _ => {}
        }
    }

    let common_names = cert
        .subject()
        .iter_common_name()
        .map(|attr| attr_value_to_string(attr.attr_value()))
        .collect();
    let (key_type, key_bits) = public_key_summary(&cert);
    let validity = cert.validity();

    Ok(CertInfo {
        subject: name_to_string(cert.subject()),
        issuer: name_to_string(cert.issuer()),
        serial: hex(cert.raw_serial(), ""),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        san,
        common_names,
        key_type: key_type.to_owned(),
        key_bits,
        signature_algorithm: signature_algorithm_name(&cert),
        sha256: hex(&Sha256::digest(der), ""),
        is_ca,
    })
}

/// Validates the outer SEQUENCE header, and the tbsCertificate header inside it, and
/// returns the certificate's total encoded length.
pub(crate) fn outer_length(der: &[u8]) -> Result<usize, String> {
    if der.is_empty() {
        return Err("empty certificate".to_owned());
    }
    let (header_len, content_len) = der_header(der)?;
    let total = header_len.saturating_add(content_len);
    if total > MAX_CERT_SIZE {
        return Err(format!(
            "certificate of {total} bytes exceeds the {MAX_CERT_SIZE}-byte limit"
        ));
    }
    if der.len() < total {
        return Err(format!(
            "truncated DER content ({} of {total} bytes)",
            der.len()
        ));
    }
    // Checking the first inner element too lets a crafted or cut certificate say which
    // part is broken instead of a generic parser error.
    let content = &der[header_len..total];
    let (tbs_header, tbs_len) = der_header(content).map_err(|e| format!("{e} (tbsCertificate)"))?;
    if content.len() - tbs_header < tbs_len {
        return Err(format!(
            "truncated DER content (tbsCertificate claims {tbs_len} bytes, {} left)",
            content.len() - tbs_header
        ));
    }
    Ok(total)
}

/// (header length, content length) of a definite-length DER SEQUENCE header.
fn der_header(der: &[u8]) -> Result<(usize, usize), String> {
    let (&tag, rest) = der
        .split_first()
        .ok_or_else(|| "truncated DER header".to_owned())?;
    if tag != 0x30 {
        return Err(format!("not a DER SEQUENCE (tag 0x{tag:02x})"));
    }
    let (&first_len, rest) = rest
        .split_first()
        .ok_or_else(|| "truncated DER header".to_owned())?;
    match first_len {
        l if l < 0x80 => Ok((2, usize::from(l))),
        0x80 => Err("indefinite length is not DER".to_owned()),
        l => {
            let n = usize::from(l & 0x7f);
            if n > 4 {
                return Err(format!("DER length of {n} bytes is too large"));
            }
            let len_bytes = rest
                .get(..n)
                .ok_or_else(|| "truncated DER header".to_owned())?;
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            Ok((2 + n, len))
        }
    }
}

/// x509-parser's `Display` layout (", " between RDNs, " + " inside a multi-valued RDN,
/// registry abbreviations, Debug form for unknown OIDs) with escaping instead of failure.
/// A name as RFC 4514-like text, the form every `subject`/`issuer` field of the output uses.
pub fn name_to_string(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for (i, rdn) in name.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push_str(" + ");
            }
            match oid2abbrev(attr.attr_type(), oid_registry()) {
                Ok(abbrev) => out.push_str(abbrev),
                Err(_) => {
                    let _ = write!(out, "{:?}", attr.attr_type());
                }
            }
            out.push('=');
            out.push_str(&attr_value_to_string(attr.attr_value()));
        }
    }
    out
}

fn attr_value_to_string(value: &Any<'_>) -> String {
    match value.tag() {
        Tag::NumericString
        | Tag::VisibleString
        | Tag::PrintableString
        | Tag::GeneralString
        | Tag::ObjectDescriptor
        | Tag::GraphicString
        | Tag::T61String
        | Tag::VideotexString
        | Tag::Utf8String
        | Tag::Ia5String => escape_bytes(value.data),
        Tag::BmpString => decode_bmp(value.data).unwrap_or_else(|| escape_bytes(value.data)),
        // Same as x509-parser: non-string values are shown as uppercase hex.
        _ => hex(value.data, "").to_ascii_uppercase(),
    }
}

fn decode_bmp(data: &[u8]) -> Option<String> {
    if data.len() % 2 != 0 {
        return None;
    }
    let units = be16s(data);
    let s: String = char::decode_utf16(units).collect::<Result<_, _>>().ok()?;
    Some(escape_bytes(s.as_bytes()))
}

/// Valid UTF-8 stays as is, except control characters; those and any byte that is not
/// part of valid UTF-8 become `\xNN`. Backslashes are left alone, as x509-parser does.
fn escape_bytes(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len());
    for chunk in data.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

fn san_to_string(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(s) => Some(escape_bytes(s.as_bytes())),
        // x509-parser keeps a dNSName that is not valid text as Invalid; keep it visible.
        GeneralName::Invalid(tag, data) if tag.0 == 2 => Some(escape_bytes(data)),
        GeneralName::IPAddress(b) => Some(if let Ok(v4) = <[u8; 4]>::try_from(*b) {
            Ipv4Addr::from(v4).to_string()
        } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
            Ipv6Addr::from(v6).to_string()
        } else {
            hex(b, "")
        }),
        _ => None,
    }
}

fn public_key_summary(cert: &X509Certificate<'_>) -> (&'static str, Option<u32>) {
    let spki = cert.public_key();
    let oid = spki.algorithm.algorithm.to_id_string();
    let key = &spki.subject_public_key.data;
    match oid.as_str() {
        // rsaEncryption, RSASSA-PSS, X.500 rsa
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" | "2.5.8.1.1" => {
            // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
            ("rsa", first_integer_in_sequence(key).and_then(integer_bits))
        }
        // id-ecPublicKey, id-ecDH
        "1.2.840.10045.2.1" | "1.3.132.1.12" => {
            let bits = spki
                .algorithm
                .parameters
                .as_ref()
                .filter(|p| p.tag() == Tag::Oid)
                .and_then(|p| p.as_oid().ok())
                .and_then(|curve| curve_bits(&curve.to_id_string()));
            ("ec", bits)
        }
        // EVP_PKEY_bits() values, so the numbers match what OpenSSL reports.
        "1.3.101.112" => ("ed25519", Some(253)),
        "1.3.101.113" => ("ed448", Some(456)),
        // id-dsa, OIW dsa
        "1.2.840.10040.4.1" | "1.3.14.3.2.12" => ("dsa", first_param_integer_bits(cert)),
        // dhpublicnumber (X9.42), dhKeyAgreement (PKCS #3): p is the first parameter too.
        "1.2.840.10046.2.1" | "1.2.840.113549.1.3.1" => ("dh", first_param_integer_bits(cert)),
        _ => ("unknown", None),
    }
}

/// Bit length of the first INTEGER of the algorithm parameters (DSA/DH prime p).
fn first_param_integer_bits(cert: &X509Certificate<'_>) -> Option<u32> {
    let params = cert.public_key().algorithm.parameters.as_ref()?;
    if params.tag() != Tag::Sequence {
        return None;
    }
    tlv_content(params.data, 0x02).and_then(integer_bits)
}

/// Content of the first INTEGER inside a SEQUENCE. Hand-rolled rather than x509-parser's
/// strict DER integer parser so that non-minimal integers (seen in old keys) still count.
fn first_integer_in_sequence(der: &[u8]) -> Option<&[u8]> {
    tlv_content(der, 0x30).and_then(|seq| tlv_content(seq, 0x02))
}

/// Content of the TLV at the start of `der` when its tag is `tag`; bounds-checked.
fn tlv_content(der: &[u8], tag: u8) -> Option<&[u8]> {
    if *der.first()? != tag {
        return None;
    }
    let first = *der.get(1)?;
    let (header_len, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len = der
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (2 + n, len)
    };
    der.get(header_len..header_len.checked_add(len)?)
}

/// Significant bits of a big-endian unsigned integer (sign-padding zeros skipped).
fn integer_bits(bytes: &[u8]) -> Option<u32> {
    let start = bytes.iter().position(|&b| b != 0)?;
    let significant = &bytes[start..];
    let bits = (significant.len() - 1) * 8 + (8 - significant[0].leading_zeros() as usize);
    u32::try_from(bits).ok()
}

fn curve_bits(oid: &str) -> Option<u32> {
    Some(match oid {
        "1.2.840.10045.3.1.1" => 192,                  // prime192v1
        "1.3.132.0.33" => 224,                         // secp224r1
        "1.2.840.10045.3.1.7" | "1.3.132.0.10" => 256, // prime256v1, secp256k1
        "1.3.132.0.34" => 384,                         // secp384r1
        "1.3.132.0.35" => 521,                         // secp521r1
        "1.3.36.3.3.2.8.1.1.7" => 256,                 // brainpoolP256r1
        "1.3.36.3.3.2.8.1.1.11" => 384,                // brainpoolP384r1
        "1.3.36.3.3.2.8.1.1.13" => 512,                // brainpoolP512r1
        "1.2.156.10197.1.301" => 256,                  // SM2
        _ => return None,
    })
}

fn signature_algorithm_name(cert: &X509Certificate<'_>) -> String {
    let oid = &cert.signature_algorithm.algorithm;
    if let Ok(sn) = oid2sn(oid, oid_registry()) {
        return sn.to_owned();
    }
    let dotted = oid.to_id_string();
    // OpenSSL short names for algorithms the registry does not carry.
    let known = match dotted.as_str() {
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "2.16.840.1.101.3.4.3.1" => "dsa_with_SHA224",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        "1.2.840.113549.1.1.3" => "md4WithRSAEncryption",
        _ => return dotted,
    };
    known.to_owned()
}

/// RFC 6125 section 6.4 matching of one presented DNS identifier against a host name.
///
/// * Case-insensitive (ASCII); one trailing dot on either side is ignored.
/// * A wildcard is honoured only as the entire left-most label (`*.example.com`) and
///   matches exactly one non-empty label: `*.example.com` matches `a.example.com`, not
///   `example.com` nor `a.b.example.com`.
/// * Partial-label wildcards (`f*o.example.com`, `*oo.example.com`), which RFC 6125 6.4.3
///   leaves optional, are not supported: browsers reject them and the CA/Browser Forum
///   forbids issuing them, so a certificate relying on one is a finding, not a match.
/// * The wildcard must be followed by at least two labels (`*.com` never matches); without
///   a public-suffix list this is the usual approximation.
/// * A wildcard never matches an IP literal.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    let host = host.strip_suffix('.').unwrap_or(host);
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    if !pattern.contains('*') {
        return pattern.eq_ignore_ascii_case(host);
    }
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return false;
    };
    if suffix.contains('*') || suffix.split('.').count() < 2 || suffix.split('.').any(str::is_empty)
    {
        return false;
    }
    if host.parse::<IpAddr>().is_ok() {
        return false;
    }
    match host.split_once('.') {
        Some((first, rest)) => !first.is_empty() && rest.eq_ignore_ascii_case(suffix),
        None => false,
    }
}

/// Whether the certificate is valid for `host` by name (RFC 6125): an IP literal (IPv6
/// optionally in brackets) is compared with the IP subjectAltNames only; a host name with
/// the DNS subjectAltNames when the certificate has any, else with the subject CNs.
///
/// [`CertInfo::san`] holds DNS and IP entries as text, so a SAN entry that parses as an IP
/// address is taken to be an IP SAN.
pub fn cert_matches_host(cert: &CertInfo, host: &str) -> bool {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return cert
            .san
            .iter()
            .filter_map(|s| s.parse::<IpAddr>().ok())
            .any(|san_ip| san_ip == ip);
    }
    let mut dns_sans = cert
        .san
        .iter()
        .filter(|s| s.parse::<IpAddr>().is_err())
        .peekable();
    if dns_sans.peek().is_some() {
        dns_sans.any(|s| name_matches(s, host))
    } else {
        cert.common_names.iter().any(|cn| name_matches(cn, host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::tests::capture;
    use sha1::Sha1;

    // ---- a tiny DER writer for synthetic certificates (signatures are never checked) ----

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .iter()
                .copied()
                .skip_while(|&b| b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }

    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }

    fn oid(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
        let mut body = Vec::new();
        let mut push = |mut v: u64| {
            let mut tmp = vec![(v & 0x7f) as u8];
            v >>= 7;
            while v > 0 {
                tmp.push(0x80 | (v & 0x7f) as u8);
                v >>= 7;
            }
            tmp.reverse();
            body.extend(tmp);
        };
        push(arcs[0] * 40 + arcs[1]);
        for &a in &arcs[2..] {
            push(a);
        }
        tlv(0x06, &body)
    }

    fn int(bytes: &[u8]) -> Vec<u8> {
        tlv(0x02, bytes)
    }

    fn bits(bytes: &[u8]) -> Vec<u8> {
        tlv(0x03, &[&[0u8][..], bytes].concat())
    }

    const CN: &str = "2.5.4.3";
    const O: &str = "2.5.4.10";
    const C: &str = "2.5.4.6";
    const UTF8: u8 = 0x0c;
    const PRINTABLE: u8 = 0x13;
    const T61: u8 = 0x14;
    const BMP: u8 = 0x1e;

    /// Name from RDNs; each RDN is a list of (attribute OID, string tag, value bytes).
    fn name(rdns: &[&[(&str, u8, &[u8])]]) -> Vec<u8> {
        let sets: Vec<Vec<u8>> = rdns
            .iter()
            .map(|rdn| {
                let attrs: Vec<Vec<u8>> = rdn
                    .iter()
                    .map(|(o, tag, v)| seq(&[oid(o), tlv(*tag, v)]))
                    .collect();
                tlv(0x31, &attrs.concat())
            })
            .collect();
        seq(&sets)
    }

    fn simple_name(cn: &str) -> Vec<u8> {
        name(&[&[(C, PRINTABLE, b"FR")], &[(CN, UTF8, cn.as_bytes())]])
    }

    fn rsa_spki(modulus: &[u8]) -> Vec<u8> {
        seq(&[
            seq(&[oid("1.2.840.113549.1.1.1"), tlv(0x05, &[])]),
            bits(&seq(&[int(modulus), int(&[1, 0, 1])])),
        ])
    }

    fn rsa_modulus(bits: usize) -> Vec<u8> {
        // Sign byte when the top bit is set, as DER requires.
        let len = bits.div_ceil(8);
        let mut m = vec![0x5a; len];
        let top_bits = bits - (len - 1) * 8;
        m[0] = 1 << (top_bits - 1);
        if top_bits == 8 {
            m.insert(0, 0);
        }
        m
    }

    fn ec_spki(curve: &str) -> Vec<u8> {
        let mut point = vec![0x04];
        point.extend([0x11; 64]);
        seq(&[seq(&[oid("1.2.840.10045.2.1"), oid(curve)]), bits(&point)])
    }

    fn alg_only_spki(alg: &str, key: &[u8]) -> Vec<u8> {
        seq(&[seq(&[oid(alg)]), bits(key)])
    }

    fn params_spki(alg: &str, p: &[u8]) -> Vec<u8> {
        seq(&[
            seq(&[oid(alg), seq(&[int(p), int(&[0x33; 20]), int(&[2])])]),
            bits(&int(&[0x44; 128])),
        ])
    }

    fn ext(o: &str, value: Vec<u8>) -> Vec<u8> {
        seq(&[oid(o), tlv(0x04, &value)])
    }

    fn san_ext(entries: &[(u8, &[u8])]) -> Vec<u8> {
        let names: Vec<Vec<u8>> = entries.iter().map(|(t, v)| tlv(*t, v)).collect();
        ext("2.5.29.17", seq(&names))
    }

    fn basic_constraints(ca: bool) -> Vec<u8> {
        let body = if ca { vec![tlv(0x01, &[0xff])] } else { vec![] };
        ext("2.5.29.19", seq(&body))
    }

    struct Tbs {
        serial: Vec<u8>,
        sig_alg: &'static str,
        issuer: Vec<u8>,
        subject: Vec<u8>,
        not_before: Vec<u8>,
        not_after: Vec<u8>,
        spki: Vec<u8>,
        extensions: Vec<Vec<u8>>,
    }

    impl Default for Tbs {
        fn default() -> Self {
            Tbs {
                serial: vec![0x01, 0x02, 0x03],
                sig_alg: "1.2.840.113549.1.1.11",
                issuer: simple_name("Test CA"),
                subject: simple_name("www.example.com"),
                not_before: tlv(0x17, b"240101000000Z"),
                not_after: tlv(0x17, b"250101000000Z"),
                spki: rsa_spki(&rsa_modulus(2048)),
                extensions: vec![],
            }
        }
    }

    impl Tbs {
        fn der(&self) -> Vec<u8> {
            let alg = seq(&[oid(self.sig_alg), tlv(0x05, &[])]);
            let mut tbs = vec![
                tlv(0xa0, &int(&[2])),
                int(&self.serial),
                alg.clone(),
                self.issuer.clone(),
                seq(&[self.not_before.clone(), self.not_after.clone()]),
                self.subject.clone(),
                self.spki.clone(),
            ];
            if !self.extensions.is_empty() {
                tbs.push(tlv(0xa3, &seq(&self.extensions)));
            }
            seq(&[seq(&tbs), alg, bits(&[0x55; 64])])
        }

        fn parse(&self) -> CertInfo {
            parse_certificate(&self.der()).expect("synthetic certificate parses")
        }
    }

    // ---- synthetic certificates ----

    #[test]
    fn basic_fields() {
        let t = Tbs {
            extensions: vec![
                san_ext(&[
                    (0x82, b"www.example.com"),
                    (0x82, b"*.example.net"),
                    (0x87, &[192, 0, 2, 7]),
                    (
                        0x87,
                        &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                    ),
                    (0x81, b"admin@example.com"),
                    (0x86, b"https://example.com/"),
                ]),
                basic_constraints(false),
            ],
            ..Tbs::default()
        };
        let der = t.der();
        let c = t.parse();
        assert_eq!(c.subject, "C=FR, CN=www.example.com");
        assert_eq!(c.issuer, "C=FR, CN=Test CA");
        assert!(!c.is_self_issued());
        assert_eq!(c.serial, "010203");
        assert_eq!(c.not_before, 1_704_067_200);
        assert_eq!(c.not_after, 1_735_689_600);
        assert_eq!(
            c.san,
            [
                "www.example.com",
                "*.example.net",
                "192.0.2.7",
                "2001:db8::1"
            ]
        );
        assert_eq!(c.common_names, ["www.example.com"]);
        assert_eq!(c.key_type, "rsa");
        assert_eq!(c.key_bits, Some(2048));
        assert_eq!(c.signature_algorithm, "sha256WithRSAEncryption");
        assert_eq!(c.sha256, hex(&Sha256::digest(&der), ""));
        assert!(!c.is_ca);
    }

    #[test]
    fn cache_answers_like_the_parser_and_stays_bounded() {
        let mut cache = CertCache::default();
        let a = Tbs::default().der();
        let b = Tbs {
            subject: simple_name("www.example.org"),
            ..Tbs::default()
        }
        .der();
        for _ in 0..3 {
            assert_eq!(cache.parse(&a), parse_certificate(&a));
            assert_eq!(cache.parse(&b), parse_certificate(&b));
        }
        // Same length, different bytes: never mistaken for one another.
        assert_eq!(a.len(), b.len());
        assert_eq!(cache.entries.len(), 2);
        let garbage = [0x30, 0x03, 0x02, 0x01];
        assert_eq!(cache.parse(&garbage), parse_certificate(&garbage));
        assert!(cache.parse(&garbage).is_err());
        // Many distinct certificates: the cache starts over instead of growing.
        for i in 0..4000u32 {
            let t = Tbs {
                serial: i.to_be_bytes().to_vec(),
                subject: simple_name(&"x".repeat(1000)),
                ..Tbs::default()
            };
            cache.parse(&t.der()).expect("parses");
            assert!(cache.bytes <= CertCache::MAX_BYTES);
        }
    }

    #[test]
    fn names_are_formatted_like_x509_parser_display() {
        let subject = name(&[
            &[(C, PRINTABLE, b"US")],
            &[(O, UTF8, b"Example, Inc."), (CN, UTF8, b"multi")],
            &[("2.5.4.11", UTF8, b"Ops")],
            &[("1.2.3.4.5", UTF8, b"custom")],
            &[("1.2.840.113549.1.9.1", 0x16, b"a@example.com")],
        ]);
        let t = Tbs {
            subject,
            ..Tbs::default()
        };
        let der = t.der();
        let (_, x) = X509Certificate::from_der(&der).unwrap();
        let c = t.parse();
        assert_eq!(c.subject, x.subject().to_string());
        assert!(c
            .subject
            .starts_with("C=US, O=Example, Inc. + CN=multi, OU=Ops, "));
        assert_eq!(c.common_names, ["multi"]);
    }

    #[test]
    fn names_with_nul_and_non_utf8_are_escaped_not_fatal() {
        let t = Tbs {
            subject: name(&[
                &[(O, UTF8, b"Evil\0Corp")],
                &[(CN, T61, b"caf\xe9")],
                &[("2.5.4.11", UTF8, b"line\nbreak \xff\xfe")],
            ]),
            issuer: name(&[&[(CN, BMP, &[0, b'Z', 0, b'o', 0, 0xeb])]]),
            ..Tbs::default()
        };
        let c = t.parse();
        assert_eq!(
            c.subject,
            "O=Evil\\x00Corp, CN=caf\\xe9, OU=line\\x0abreak \\xff\\xfe"
        );
        assert_eq!(c.common_names, ["caf\\xe9"]);
        assert_eq!(c.issuer, "CN=Zo\u{eb}");
        // A broken BMPString (odd length) is shown byte by byte.
        let t = Tbs {
            issuer: name(&[&[(CN, BMP, &[0, b'A', 0])]]),
            ..Tbs::default()
        };
        assert_eq!(t.parse().issuer, "CN=\\x00A\\x00");
    }

    #[test]
    fn san_with_nul_or_invalid_bytes_is_kept_escaped() {
        let t = Tbs {
            extensions: vec![san_ext(&[
                (0x82, b"www.paypal.com\0.evil.example"),
                (0x82, b"bad\xff.example"),
                (0x87, &[1, 2, 3]),
            ])],
            ..Tbs::default()
        };
        let c = t.parse();
        assert_eq!(
            c.san,
            [
                "www.paypal.com\\x00.evil.example",
                "bad\\xff.example",
                "010203"
            ]
        );
        assert!(!cert_matches_host(&c, "www.paypal.com"));
    }

    #[test]
    fn validity_century_rules_and_pre_epoch() {
        let cases: &[(Vec<u8>, i64)] = &[
            // UTCTime: YY >= 50 is 19YY, YY < 50 is 20YY (RFC 5280 4.1.2.5.1).
            (tlv(0x17, b"491231235959Z"), 2_524_607_999),
            (tlv(0x17, b"500101000000Z"), -631_152_000),
            (tlv(0x17, b"991231235959Z"), 946_684_799),
            (tlv(0x17, b"000101000000Z"), 946_684_800),
            (tlv(0x17, b"691231000000Z"), -86_400),
            // GeneralizedTime, before the epoch and after 2049.
            (tlv(0x18, b"19690720201800Z"), -14_182_920),
            (tlv(0x18, b"20500101000000Z"), 2_524_608_000),
            (tlv(0x18, b"19000101000000Z"), -2_208_988_800),
        ];
        for (enc, want) in cases {
            let t = Tbs {
                not_before: enc.clone(),
                not_after: enc.clone(),
                ..Tbs::default()
            };
            let c = t.parse();
            assert_eq!(
                c.not_before,
                *want,
                "{:?}",
                String::from_utf8_lossy(&enc[2..])
            );
            assert_eq!(c.not_after, *want);
        }
    }

    #[test]
    fn key_types_and_sizes() {
        let cases: Vec<(Vec<u8>, &str, Option<u32>)> = vec![
            (rsa_spki(&rsa_modulus(2048)), "rsa", Some(2048)),
            (rsa_spki(&rsa_modulus(2047)), "rsa", Some(2047)),
            (rsa_spki(&rsa_modulus(1024)), "rsa", Some(1024)),
            (rsa_spki(&rsa_modulus(4096)), "rsa", Some(4096)),
            (
                // Non-minimal modulus with extra leading zeros still counts its real bits.
                rsa_spki(&[&[0u8, 0, 0][..], &rsa_modulus(512)[1..]].concat()),
                "rsa",
                Some(512),
            ),
            (ec_spki("1.2.840.10045.3.1.7"), "ec", Some(256)),
            (ec_spki("1.3.132.0.34"), "ec", Some(384)),
            (ec_spki("1.3.132.0.35"), "ec", Some(521)),
            (ec_spki("1.3.132.0.10"), "ec", Some(256)),
            (ec_spki("1.3.36.3.3.2.8.1.1.7"), "ec", Some(256)),
            (ec_spki("1.2.3.4"), "ec", None),
            (alg_only_spki("1.3.101.112", &[7; 32]), "ed25519", Some(253)),
            (alg_only_spki("1.3.101.113", &[7; 57]), "ed448", Some(456)),
            (
                params_spki("1.2.840.10040.4.1", &rsa_modulus(2048)),
                "dsa",
                Some(2048),
            ),
            (
                params_spki("1.2.840.10040.4.1", &rsa_modulus(1024)),
                "dsa",
                Some(1024),
            ),
            (
                params_spki("1.2.840.10046.2.1", &rsa_modulus(2048)),
                "dh",
                Some(2048),
            ),
            (alg_only_spki("1.2.840.10040.4.1", &[1; 8]), "dsa", None),
            (alg_only_spki("1.2.3.4.5", &[1; 8]), "unknown", None),
        ];
        for (spki, kind, bits) in cases {
            let t = Tbs {
                spki,
                ..Tbs::default()
            };
            let c = t.parse();
            assert_eq!((c.key_type.as_str(), c.key_bits), (kind, bits));
        }
    }

    #[test]
    fn signature_algorithm_names() {
        let cases = [
            ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
            ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
            ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
            ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
            ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
            ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
            ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
            ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
            ("1.3.101.112", "ed25519"),
            ("1.2.840.10040.4.3", "dsa-with-sha1"),
            ("2.16.840.1.101.3.4.3.2", "dsa_with_SHA256"),
            ("1.2.3.4.5.6", "1.2.3.4.5.6"),
        ];
        for (o, want) in cases {
            let t = Tbs {
                sig_alg: o,
                ..Tbs::default()
            };
            assert_eq!(t.parse().signature_algorithm, want, "{o}");
        }
    }

    #[test]
    fn basic_constraints_ca_flag() {
        let ca = Tbs {
            extensions: vec![basic_constraints(true)],
            ..Tbs::default()
        };
        assert!(ca.parse().is_ca);
        let leaf = Tbs {
            extensions: vec![basic_constraints(false)],
            ..Tbs::default()
        };
        assert!(!leaf.parse().is_ca);
        assert!(!Tbs::default().parse().is_ca);
    }

    #[test]
    fn serial_keeps_der_bytes() {
        let t = Tbs {
            serial: vec![0x00, 0x97, 0xe6, 0x47],
            ..Tbs::default()
        };
        assert_eq!(t.parse().serial, "0097e647");
    }

    #[test]
    fn trailing_bytes_are_not_hashed() {
        let der = Tbs::default().der();
        let mut longer = der.clone();
        longer.extend_from_slice(b"trailing junk");
        let a = parse_certificate(&der).unwrap();
        let b = parse_certificate(&longer).unwrap();
        assert_eq!(a, b);
    }

    // ---- malformed input ----

    #[test]
    fn malformed_headers_give_reasons() {
        let err = |b: &[u8]| parse_certificate(b).unwrap_err();
        assert_eq!(err(&[]), "empty certificate");
        assert_eq!(err(&[0x30]), "truncated DER header");
        assert_eq!(err(&[0x30, 0x82, 0x01]), "truncated DER header");
        assert!(err(&[0x04, 0x00]).starts_with("not a DER SEQUENCE"));
        assert_eq!(err(&[0x30, 0x80, 0, 0]), "indefinite length is not DER");
        assert!(err(&[0x30, 0x85, 1, 0, 0, 0, 0]).contains("too large"));
        assert!(err(&[0x30, 0x82, 0x01, 0x00, 0x30]).starts_with("truncated DER content"));
        // Oversized certificates are refused from the header alone.
        assert!(err(&[0x30, 0x83, 0x10, 0x00, 0x01]).contains("exceeds"));
        // Well-formed outer header around garbage.
        assert!(err(&[0x30, 0x03, 0x02, 0x01, 0x00]).starts_with("not a DER SEQUENCE"));
        assert!(err(&[0x30, 0x02, 0x30, 0x00]).starts_with("invalid certificate"));
    }

    #[test]
    fn oversized_certificate_is_refused() {
        let names: Vec<(u8, Vec<u8>)> = (0..24000)
            .map(|i| (0x82, format!("host{i:05}.example.com").into_bytes()))
            .collect();
        let refs: Vec<(u8, &[u8])> = names.iter().map(|(t, v)| (*t, v.as_slice())).collect();
        let t = Tbs {
            extensions: vec![san_ext(&refs)],
            ..Tbs::default()
        };
        let der = t.der();
        assert!(der.len() > MAX_CERT_SIZE);
        assert!(parse_certificate(&der).unwrap_err().contains("exceeds"));
        // Just under the limit still works.
        let t = Tbs {
            extensions: vec![san_ext(&refs[..2500])],
            ..Tbs::default()
        };
        assert_eq!(t.parse().san.len(), 2500);
        // Over 64 KiB, as real certificates can be, is accepted too.
        let t = Tbs {
            extensions: vec![san_ext(&refs[..4000])],
            ..Tbs::default()
        };
        assert!(t.der().len() > 64 * 1024);
        assert_eq!(t.parse().san.len(), 4000);
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let der = Tbs {
            extensions: vec![san_ext(&[(0x82, b"a.example")]), basic_constraints(true)],
            ..Tbs::default()
        }
        .der();
        for n in 0..der.len() {
            assert!(parse_certificate(&der[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        let der = Tbs {
            extensions: vec![san_ext(&[(0x82, b"a.example"), (0x87, &[10, 0, 0, 1])])],
            ..Tbs::default()
        }
        .der();
        for i in 0..der.len() {
            for v in [0x00, 0x7f, 0x80, 0xff, der[i] ^ 0x01] {
                let mut d = der.clone();
                d[i] = v;
                let _ = parse_certificate(&d);
            }
        }
    }

    // ---- real certificates from the suricata-verify captures ----

    /// DER certificates of every plaintext Certificate message in a capture.
    fn capture_certs(name: &str) -> Option<Vec<Vec<u8>>> {
        let mut certs = Vec::new();
        for (ty, body, _) in capture::handshake_messages(name)? {
            if ty != 11 || body.len() < 3 {
                continue;
            }
            let mut rest = &body[3..];
            while rest.len() >= 3 {
                let len = (usize::from(rest[0]) << 16)
                    | (usize::from(rest[1]) << 8)
                    | usize::from(rest[2]);
                let end = (3 + len).min(rest.len());
                certs.push(rest[3..end].to_vec());
                rest = &rest[end..];
            }
        }
        Some(certs)
    }

    macro_rules! certs_or_skip {
        ($name:expr) => {
            match capture_certs($name) {
                Some(c) => c,
                None => return,
            }
        };
    }

    fn sha1_colons(der: &[u8]) -> String {
        let h = hex(&Sha1::digest(der), "");
        h.as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Expected values are Suricata's eve output in the matching .suricata-test.yaml
    /// (tls.fingerprint is SHA-1 with colons; serial is uppercase with colons there).
    #[test]
    fn suricata_san_with_nul_byte() {
        let certs = certs_or_skip!("tls10-cert-san-with-nul-byte.pcap");
        let der = &certs[0];
        assert_eq!(
            sha1_colons(der),
            "8d:97:4b:41:04:3f:55:37:d0:58:90:a4:13:3b:7b:85:c6:46:81:cb"
        );
        let c = parse_certificate(der).unwrap();
        assert_eq!(c.subject, "CN=xn--j1ahhq.xn--p1ai");
        assert_eq!(c.issuer, "C=US, O=Let's Encrypt, CN=R3");
        assert_eq!(c.serial, "03de23897e97fb868e7cc55309feaed0ae20");
        assert_eq!(c.not_before, 1_669_877_251); // 2022-12-01T06:47:31
        assert_eq!(c.not_after, 1_677_653_250); // 2023-03-01T06:47:30
        assert_eq!(c.san.len(), 17);
        assert_eq!(c.san[6], "server15.xn--j1ahhq.xn\\x00-p1ai");
        assert_eq!(c.key_type, "rsa");
        assert!(cert_matches_host(&c, "server9.xn--j1ahhq.xn--p1ai"));
        assert!(!cert_matches_host(&c, "server15.xn--j1ahhq.xn--p1ai"));
    }

    #[test]
    fn suricata_many_sans() {
        let certs = certs_or_skip!("tls10-cert-many-sans-letsencrypt.pcap");
        let der = &certs[0];
        assert_eq!(
            sha1_colons(der),
            "e9:a0:69:50:ba:18:dc:ac:d3:a7:fe:58:22:4a:1f:42:5b:bc:96:b0"
        );
        let c = parse_certificate(der).unwrap();
        let mut want: Vec<String> = (1..=16)
            .map(|i| format!("server{i}.xn--j1ahhq.xn--p1ai"))
            .collect();
        want.sort();
        want.push("xn--j1ahhq.xn--p1ai".to_owned());
        assert_eq!(c.san, want);
    }

    #[test]
    fn suricata_notbefore_1969() {
        let certs = certs_or_skip!("tls10-cert-notbefore-1969-rawip.pcap");
        let der = &certs[0];
        assert_eq!(
            sha1_colons(der),
            "71:cd:fe:08:7f:3d:2a:18:32:69:38:fa:bd:64:7b:c6:cf:cc:44:8e"
        );
        let c = parse_certificate(der).unwrap();
        assert_eq!(c.subject, "OU=vd, CN=fkp.samsungcloudsolution.com");
        assert_eq!(
            c.issuer,
            "C=KR, ST=Kyunggido, L=Suwon, O=Samsung Electronics, OU=SW2 SISC, \
             CN=ROOT CA SISC FKP2_PLUS"
        );
        assert_eq!(c.serial, "32");
        assert_eq!(c.not_before, -86_400); // 1969-12-31T00:00:00
        assert_eq!(c.not_after, 2_177_367_003); // 2038-12-31T00:10:03
        assert!(c.san.is_empty());
        assert!(cert_matches_host(&c, "FKP.samsungcloudsolution.com"));
    }

    #[test]
    fn suricata_self_signed_selks() {
        let certs = certs_or_skip!("tls12-self-signed-cert-5-flows-with-resumption.pcap");
        let c = parse_certificate(&certs[0]).unwrap();
        assert_eq!(c.serial, "0097e647098eeac9b4");
        assert_eq!(c.issuer, "C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS");
        assert!(c.is_self_issued());
        assert!(c.is_ca);
        assert_eq!(c.signature_algorithm, "sha1WithRSAEncryption");
        assert_eq!(c.common_names, ["SELKS"]);
    }

    #[test]
    fn capture_subject_and_issuer_with_nul() {
        let certs = certs_or_skip!("tls12-cert-subject-with-nul-byte-nulllink.pcap");
        let c = parse_certificate(&certs[0]).unwrap();
        assert_eq!(
            c.subject,
            "C=US, ST=WA, L=Redmond, O=Microsoft Corporat\\x00on, OU=Microsoft Corporation, \
             CN=go.microsoft.com"
        );
        let certs = certs_or_skip!("tls12-cert-issuer-with-nul-byte-nulllink.pcap");
        let c = parse_certificate(&certs[0]).unwrap();
        assert_eq!(
            c.issuer,
            "C=US, O=Microsoft Corporation, CN=Microsoft RSA TL\\x00 CA 01"
        );
        assert!(cert_matches_host(&c, "aka.ms"));
    }

    #[test]
    fn capture_cert_without_issuer_still_parses() {
        let certs = certs_or_skip!("tls12-cert-without-issuer.pcap");
        let c = parse_certificate(&certs[0]).unwrap();
        assert_eq!(c.issuer, "");
        assert!(!c.is_self_issued());
        assert_eq!(c.common_names, ["localhost"]);
    }

    #[test]
    fn capture_truncated_der() {
        let certs = certs_or_skip!("tls12-cert-der-incomplete-header.pcap");
        let e = parse_certificate(&certs[0]).unwrap_err();
        assert_eq!(e, "truncated DER header (tbsCertificate)");
        let certs = certs_or_skip!("tls12-cert-der-incomplete-content.pcap");
        let e = parse_certificate(&certs[0]).unwrap_err();
        assert!(
            e.starts_with("truncated DER content (tbsCertificate"),
            "{e}"
        );
    }

    #[test]
    fn capture_chain_of_three() {
        let certs = certs_or_skip!("tls12-cert-chain-3-certs-ipv6.pcap");
        assert_eq!(certs.len(), 3);
        let infos: Vec<CertInfo> = certs
            .iter()
            .map(|d| parse_certificate(d).unwrap())
            .collect();
        // Each certificate is issued by the next one.
        assert_eq!(infos[0].issuer, infos[1].subject);
        assert_eq!(infos[1].issuer, infos[2].subject);
        assert!(!infos[0].is_ca && infos[1].is_ca);
        assert!(cert_matches_host(&infos[0], "www.example.com"));
        assert!(!cert_matches_host(&infos[0], "example.co"));
    }

    // ---- host name matching ----

    #[test]
    fn name_matching_rfc6125() {
        let yes = [
            ("example.com", "example.com"),
            ("Example.COM", "example.com"),
            ("example.com.", "example.com"),
            ("example.com", "EXAMPLE.com."),
            ("*.example.com", "www.example.com"),
            ("*.Example.com", "WWW.example.COM"),
            ("*.example.com", "xn--caf-dma.example.com"),
        ];
        let no = [
            ("example.com", "www.example.com"),
            ("www.example.com", "example.com"),
            ("*.example.com", "example.com"),
            ("*.example.com", ".example.com"),
            ("*.example.com", "a.b.example.com"),
            ("*.com", "example.com"),
            ("*", "example"),
            ("*.", "example."),
            ("f*o.example.com", "foo.example.com"),
            ("*oo.example.com", "foo.example.com"),
            ("www*.example.com", "www1.example.com"),
            ("www.*.example.com", "www.a.example.com"),
            ("*.*.example.com", "a.b.example.com"),
            ("*.example..com", "a.example..com"),
            ("*.0.0.1", "127.0.0.1"),
            ("", ""),
            ("example.com", ""),
            ("www.example.com\\x00.evil.com", "www.example.com"),
        ];
        for (p, h) in yes {
            assert!(name_matches(p, h), "{p} vs {h}");
        }
        for (p, h) in no {
            assert!(!name_matches(p, h), "{p} vs {h}");
        }
    }

    #[test]
    fn cert_host_matching_rules() {
        let cert = CertInfo {
            san: vec![
                "www.example.com".into(),
                "*.example.net".into(),
                "192.0.2.7".into(),
                "2001:db8::1".into(),
            ],
            common_names: vec!["cn-only.example.org".into()],
            ..CertInfo::default()
        };
        assert!(cert_matches_host(&cert, "www.example.com"));
        assert!(cert_matches_host(&cert, "api.example.net"));
        assert!(cert_matches_host(&cert, "192.0.2.7"));
        assert!(cert_matches_host(&cert, "2001:0db8:0:0::1"));
        assert!(cert_matches_host(&cert, "[2001:db8::1]"));
        assert!(!cert_matches_host(&cert, "192.0.2.8"));
        // DNS SANs present: the CN is not consulted.
        assert!(!cert_matches_host(&cert, "cn-only.example.org"));

        let cn_only = CertInfo {
            common_names: vec!["*.example.org".into()],
            ..CertInfo::default()
        };
        assert!(cert_matches_host(&cn_only, "a.example.org"));
        assert!(!cert_matches_host(&cn_only, "example.org"));

        // Only IP SANs: host names fall back to the CN; IPs never use the CN.
        let ip_only = CertInfo {
            san: vec!["10.0.0.1".into()],
            common_names: vec!["host.example".into(), "10.0.0.2".into()],
            ..CertInfo::default()
        };
        assert!(cert_matches_host(&ip_only, "host.example"));
        assert!(cert_matches_host(&ip_only, "10.0.0.1"));
        assert!(!cert_matches_host(&ip_only, "10.0.0.2"));
        assert!(!cert_matches_host(&CertInfo::default(), "example.com"));
    }
}
