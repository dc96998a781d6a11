//! Certificate path: DER -> CertInfo, then the host-name checks the rules run on it; and
//! the same bytes as a stapled OCSP response (first byte splits them into a response and
//! the leaf/issuer it is read against, so CertID matching and signature checks run too).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlstriage::tls::cert::{cert_matches_host, parse_certificate};
use tlstriage::trust::ocsp::read_staple;

fuzz_target!(|data: &[u8]| {
    let _ = read_staple(data, data, [data]);
    if let Some((&split, rest)) = data.split_first() {
        let at = usize::from(split).min(rest.len());
        let (staple, cert) = rest.split_at(at);
        let _ = read_staple(staple, cert, [cert]);
    }
    if let Ok(info) = parse_certificate(data) {
        let _ = info.is_self_issued();
        for host in [
            "example.com",
            "a.b.example.com",
            "[::1]",
            "127.0.0.1",
            "xn--e1afmkfd.xn--p1ai",
        ] {
            let _ = cert_matches_host(&info, host);
        }
        if let Some(san) = info.san.first() {
            let _ = cert_matches_host(&info, san);
        }
    }
});
