//! `tlstriage rules` and `tlstriage explain`.

use std::fmt::Write as _;

use super::{error, print, EXIT_ERROR};
use crate::rules::capture::CAPTURE_RULES;
use crate::rules::RULES;

/// `tlstriage rules`: every flow rule with the kinds it raises (and their usual severity),
/// then the capture rules.
pub fn rules_listing() -> String {
    let mut out = String::from("flow rules (run on every finished flow, in this order):\n");
    for r in RULES {
        line(&mut out, r.name, r.kinds, r.doc);
    }
    out.push_str("\ncapture rules (run at the end of each capture, over all its flows):\n");
    for r in CAPTURE_RULES {
        line(&mut out, r.name, r.kinds, r.doc);
    }
    out
}

fn line(out: &mut String, name: &str, kinds: &[crate::rules::Kind], doc: &str) {
    let kinds: Vec<String> = kinds
        .iter()
        .map(|k| format!("{} ({})", k.as_str(), k.spec().severity))
        .collect();
    let _ = writeln!(out, "  {name:<26} raises {}", kinds.join(", "));
    let _ = writeln!(out, "  {:<26} {doc}", "");
}

/// `tlstriage explain [KIND]`: 0 when explained or listed, 2 for an unknown kind.
pub fn explain(kind: Option<&str>) -> anyhow::Result<i32> {
    match kind.map(crate::explain::explain) {
        Some(Some(text)) => print(&text).map(|()| 0),
        None => print(&crate::explain::known_list()).map(|()| 0),
        Some(None) => {
            error(&format!(
                "unknown kind {:?}; known ones:\n\n{}",
                kind.unwrap_or_default(),
                crate::explain::known_list()
            ));
            Ok(EXIT_ERROR)
        }
    }
}
