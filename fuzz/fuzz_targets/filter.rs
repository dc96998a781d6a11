//! `--filter` expressions: any text parses to a filter or a one-line error, never a panic
//! or a stack overflow, and a parsed filter matches any packet without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlstriage::decode::{decode, linktype, Decoded};
use tlstriage::filter::Filter;

fuzz_target!(|data: &[u8]| {
    // The expression up to the first NUL, the rest a raw IPv4 frame to match.
    let (expr, frame) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    match Filter::parse(expr) {
        Ok(f) => {
            if let Ok(Decoded::Tcp(tcp)) = decode(linktype::RAW, frame) {
                let _ = f.matches(&tcp);
            }
        }
        Err(e) => assert!(!e.to_string().contains('\n') || expr.contains('\n')),
    }
});
