//! The JSON writer of the NDJSON hot path. serde_json checks every byte of every string
//! against its escape table one at a time: on the benchmark capture that was a sixth of
//! all instructions, and the `Value` walk around it a tenth. Nearly every string written
//! needs no escaping, so each is scanned once without branches and copied whole; the rare
//! one with a quote, backslash or control character, and every number, still goes through
//! serde_json, so the bytes are the same as serde_json's (tested against it).

use serde_json::Value;

/// Appends `s` as a JSON string, exactly as serde_json writes it.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// True when `bytes` holds a byte JSON escapes: a control character, `"` or `\\`.
/// Eight bytes at a time with the classic SWAR tests (exact for "is there such a byte").
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte below `n` (n <= 128) in `w`; `n = 1` finds a zero byte.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut le = [0u8; 8];
        le.copy_from_slice(word);
        let w = u64::from_le_bytes(le);
        let hit = below(w, 0x20)
            | below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1);
        if hit != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `v` as compact JSON, exactly as `serde_json::to_writer` writes it (objects in
/// their map's order).
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Appends `n` in decimal.
pub fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    out.extend_from_slice(format_u64(n, &mut digits));
}

/// The decimal digits of `n`, written at the end of `buf`.
pub(super) fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn serde(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).expect("serializes")
    }

    #[test]
    fn values_are_written_byte_for_byte_as_serde_json_writes_them() {
        let v = json!({
            "plain": "TLS handshake aborted by the client at server_hello",
            "quote": "a \"quoted\" name",
            "backslash": "C:\\path",
            "controls": "tab\there\nnewline\u{0}nul\u{1f}unit\u{7f}del",
            "unicode": "caf\u{e9} \u{1F512} \u{2028}",
            "numbers": [0, 1, -1, u64::MAX, i64::MIN, 1.5, 1e300, 0.1],
            "nested": {"a": [null, true, false, [], {}], "": ""},
            "empty": [],
        });
        let mut out = Vec::new();
        write_value(&mut out, &v);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&serde(&v))
        );
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in ".*") {
            let mut out = Vec::new();
            write_str(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_vec(&s).expect("serializes"));
        }

        #[test]
        fn any_ascii_string_with_controls_is_written_as_serde_json_writes_it(
            bytes in proptest::collection::vec(0u8..0x80, 0..200)
        ) {
            let s = String::from_utf8(bytes).expect("ASCII");
            let mut out = Vec::new();
            write_str(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_vec(&s).expect("serializes"));
        }
    }
}
