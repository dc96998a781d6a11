//! Key logs: any bytes parse into sessions and counted malformed lines, never a panic, and
//! no warning quotes a line (a malformed line may still hold a real secret).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlstriage::keylog::{parse_line, KeyLog, Line};

fuzz_target!(|data: &[u8]| {
    let mut log = KeyLog::new();
    log.add_text("fuzz", data);
    for w in log.warnings() {
        assert!(!w.contains('\n'));
        if data.len() >= 16 {
            if let Ok(text) = std::str::from_utf8(data) {
                for word in text.split_whitespace().filter(|w| w.len() >= 16) {
                    assert!(!w.contains(word), "a warning quotes the input");
                }
            }
        }
    }
    for line in data.split(|&b| b == b'\n') {
        if let Line::Secret { client_random, .. } = parse_line(line) {
            assert!(log.get(&client_random).is_some() || log.sessions() > 0);
        }
    }
});
