//! Bounded records: lists cut to a number of items with a count of the rest beside them
//! (`names` keeps its first items and `names_not_shown` says how many were left out), long
//! strings ended with "…", and a whole record cut to a byte budget (a syslog message, an
//! NDJSON line) while staying valid JSON, marked `"record_truncated": true`.
//!
//! Rules and outputs both use it: findings are bounded where they are made
//! ([`bound_finding_text`] on every finding the rules return), records where they are written.

use serde_json::Value;

/// Items a list in a record keeps (evidence lists, a certificate's SANs, offered suites...).
pub const MAX_LIST_ITEMS: usize = 100;
/// Characters a string of a finding's evidence keeps.
pub const MAX_EVIDENCE_STRING: usize = 1024;
/// Bytes of a finding's evidence as compact JSON.
pub const MAX_EVIDENCE_BYTES: usize = 32 * 1024;
/// Characters of a finding's summary.
pub const MAX_SUMMARY: usize = 2048;
/// Characters of a finding's explanation.
pub const MAX_EXPLANATION: usize = 8192;
/// Bytes of any NDJSON line (a record cut to fit is marked `record_truncated`).
pub const MAX_LINE: usize = 64 * 1024;
/// The marker of a record shortened to fit a size limit.
pub const TRUNCATED_MARKER: &str = "record_truncated";

/// Bound a finding's parts in place: every list of the evidence at [`MAX_LIST_ITEMS`] (with
/// `<field>_not_shown`), every string at [`MAX_EVIDENCE_STRING`] characters, the whole
/// evidence at [`MAX_EVIDENCE_BYTES`] (shortened further, with `record_truncated`), the
/// summary and explanation at their lengths. Frames beyond [`MAX_LIST_ITEMS`] are cut and
/// counted in `evidence.frames_not_shown`. Returns whether anything was cut.
pub fn bound_finding_text(
    evidence: &mut Value,
    summary: &mut String,
    explanation: &mut String,
    frames: &mut Vec<u64>,
) -> bool {
    let mut cut_any = cut(evidence, MAX_LIST_ITEMS, Some(MAX_EVIDENCE_STRING));
    if json_len(evidence) > MAX_EVIDENCE_BYTES {
        cut_any = true;
        if !fit(evidence, MAX_EVIDENCE_BYTES) {
            *evidence = Value::Object(Default::default());
            evidence[TRUNCATED_MARKER] = Value::Bool(true);
        }
    }
    if frames.len() > MAX_LIST_ITEMS {
        let rest = (frames.len() - MAX_LIST_ITEMS) as u64;
        frames.truncate(MAX_LIST_ITEMS);
        if let Value::Object(map) = evidence {
            map.insert("frames_not_shown".into(), Value::from(rest));
        }
        cut_any = true;
    }
    cut_any |= cut_string(summary, MAX_SUMMARY);
    cut_any |= cut_string(explanation, MAX_EXPLANATION);
    cut_any
}

/// `items` cut to [`MAX_LIST_ITEMS`], and how many were left out (None when none).
pub fn capped<T: Clone>(items: &[T]) -> (Vec<T>, Option<u64>) {
    if items.len() <= MAX_LIST_ITEMS {
        return (items.to_vec(), None);
    }
    (
        items[..MAX_LIST_ITEMS].to_vec(),
        Some((items.len() - MAX_LIST_ITEMS) as u64),
    )
}

/// `s` cut to `max` characters, ending with "…".
pub fn capped_str(s: &str, max: usize) -> String {
    let mut s = s.to_string();
    cut_string(&mut s, max);
    s
}

/// A list in prose: the first `max` items, then "and N more".
pub fn listed(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!(
        "{}, and {} more",
        items[..max].join(", "),
        items.len() - max
    )
}

/// The key that counts what was cut from the list `key`.
pub fn not_shown_key(key: &str) -> String {
    format!("{key}_not_shown")
}

/// Cut every list in `v` (at any depth) to `max_items`, and every string to `max_chars`
/// characters (with "…" at the end) when given. A list that is a field of an object gets a
/// sibling `<field>_not_shown` with the count of the items cut (added to one already
/// there); a list inside a list is cut without one. Returns whether anything was cut.
pub fn cut(v: &mut Value, max_items: usize, max_chars: Option<usize>) -> bool {
    match v {
        Value::Object(map) => {
            let mut cut_any = false;
            let mut counts = Vec::new();
            for (k, child) in map.iter_mut() {
                if let Value::Array(items) = child {
                    if items.len() > max_items {
                        counts.push((not_shown_key(k), (items.len() - max_items) as u64));
                        items.truncate(max_items);
                        cut_any = true;
                    }
                }
                cut_any |= cut(child, max_items, max_chars);
            }
            for (k, n) in counts {
                let before = map.get(&k).and_then(Value::as_u64).unwrap_or(0);
                map.insert(k, Value::from(before + n));
            }
            cut_any
        }
        Value::Array(items) => {
            let mut cut_any = false;
            if items.len() > max_items {
                items.truncate(max_items);
                cut_any = true;
            }
            for child in items {
                cut_any |= cut(child, max_items, max_chars);
            }
            cut_any
        }
        Value::String(s) => match max_chars {
            Some(max) => cut_string(s, max),
            None => false,
        },
        _ => false,
    }
}

/// Cut `s` to `max_chars` characters, ending with "…"; whether it was longer.
pub fn cut_string(s: &mut String, max_chars: usize) -> bool {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => {
            s.truncate(at);
            s.push('…');
            true
        }
        None => false,
    }
}

/// Top-level fields that identify a record: never shortened.
const KEEP_WHOLE: &[&str] = &[
    "type",
    "schema",
    "ts",
    "kind",
    "severity",
    "flow",
    "tcp_stream",
];

/// Steps of [`fit`]: items per list, characters per string.
const STEPS: &[(usize, usize)] = &[(100, 4096), (20, 1024), (5, 256), (1, 128), (0, 64)];

/// The length of `v` as compact JSON.
pub fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing a Value into a counter cannot fail.
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// Shorten the record `rec` (an object) until its compact JSON is at most `budget` bytes:
/// lists and strings outside the identifying fields are cut in steps, and
/// `record_truncated: true` is set; last, nested objects and lists inside the other fields are removed. Returns
/// false when even that does not fit (the record is then left cut as far as it goes).
pub fn fit(rec: &mut Value, budget: usize) -> bool {
    if json_len(rec) <= budget {
        return true;
    }
    for &(items, chars) in STEPS {
        let Value::Object(map) = &mut *rec else {
            return false;
        };
        map.insert(TRUNCATED_MARKER.into(), Value::Bool(true));
        let mut counts = Vec::new();
        for (k, child) in map.iter_mut() {
            if KEEP_WHOLE.contains(&k.as_str()) {
                continue;
            }
            if let Value::Array(list) = child {
                if list.len() > items {
                    counts.push((not_shown_key(k), (list.len() - items) as u64));
                    list.truncate(items);
                }
            }
            cut(child, items, Some(chars));
        }
        for (k, n) in counts {
            let before = map.get(&k).and_then(Value::as_u64).unwrap_or(0);
            map.insert(k, Value::from(before + n));
        }
        if json_len(rec) <= budget {
            return true;
        }
    }
    // Last: only the scalars of each field are left (the evidence's nested offers and
    // choices go); the kind, flow, summary start and the marker remain.
    if let Value::Object(map) = &mut *rec {
        for (k, child) in map.iter_mut() {
            if let Value::Object(fields) = child {
                if !KEEP_WHOLE.contains(&k.as_str()) {
                    fields.retain(|_, v| !v.is_object() && !v.is_array());
                }
            }
        }
    }
    json_len(rec) <= budget
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_keep_their_first_items_and_count_the_rest() {
        let names: Vec<String> = (0..250).map(|i| format!("n{i}.example")).collect();
        let mut v = json!({"evidence": {"names": names, "chain": [{"san": names}], "sni": "x"}});
        assert!(cut(&mut v, 100, None));
        let ev = &v["evidence"];
        assert_eq!(ev["names"].as_array().unwrap().len(), 100);
        assert_eq!(ev["names"][99], "n99.example");
        assert_eq!(ev["names_not_shown"], 150);
        assert_eq!(ev["chain"][0]["san"].as_array().unwrap().len(), 100);
        assert_eq!(ev["chain"][0]["san_not_shown"], 150);
        assert_eq!(ev["sni"], "x");
        // Cutting again adds to the count.
        assert!(cut(&mut v, 10, None));
        assert_eq!(v["evidence"]["names_not_shown"], 240);
        assert!(!cut(&mut v, 10, None), "nothing left to cut");
    }

    #[test]
    fn a_record_fits_its_budget_and_stays_valid_json() {
        let names: Vec<String> = (0..10_000).map(|i| format!("{i:04}.ex")).collect();
        let mut rec = json!({
            "type": "finding", "kind": "certificate_name_mismatch", "ts": "2026-01-01T00:00:00Z",
            "flow": {"community_id": "1:x"}, "summary": "é".repeat(5000),
            "evidence": {"names": names, "sni": "www.other.example"},
        });
        assert!(json_len(&rec) > 100_000);
        assert!(fit(&mut rec, 8000));
        let text = serde_json::to_string(&rec).unwrap();
        assert!(text.len() <= 8000, "{}", text.len());
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back[TRUNCATED_MARKER], true);
        assert_eq!(back["kind"], "certificate_name_mismatch");
        assert_eq!(back["evidence"]["sni"], "www.other.example");
        let shown = back["evidence"]["names"].as_array().unwrap().len() as u64;
        assert_eq!(
            shown + back["evidence"]["names_not_shown"].as_u64().unwrap(),
            10_000
        );
        assert!(back["summary"].as_str().unwrap().ends_with('…'));
        // A budget below the identifying fields cannot be met.
        assert!(!fit(&mut rec, 20));
    }
}
