//! Certificate path: DER -> CertInfo, then the host-name checks the rules run on it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlstriage::tls::cert::{cert_matches_host, parse_certificate};

fuzz_target!(|data: &[u8]| {
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
