//! The registry of finding kinds is the one place a kind is declared: the schema's `kind`
//! and `likely_cause` enums and the README's kind table are generated from it (run with
//! `TLSTRIAGE_BLESS=1` to rewrite them), `explain` and `rules` are checked against it, every
//! output reports the same findings, and the modules have no import cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tlstriage::explain::{lookup, TopicType, TOPICS};
use tlstriage::rules::capture::CAPTURE_RULES;
use tlstriage::rules::{Cause, Kind, Scope, KINDS, RULES};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var_os("TLSTRIAGE_BLESS").is_some()
}

fn tlstriage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run tlstriage")
}

/// Replaces the JSON array of `"enum"` right after the line `"<key>": {` (at any indent)
/// with `values`, in the schema's one-space-indented layout.
fn with_enum(text: &str, key: &str, values: &[&str]) -> String {
    let open = format!("\"{key}\": {{");
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        out.push(line.to_string());
        if line.trim() != open || lines.peek().is_none_or(|l| l.trim() != "\"enum\": [") {
            continue;
        }
        let enum_line = lines.next().unwrap_or_default();
        let indent = &enum_line[..enum_line.len() - enum_line.trim_start().len()];
        out.push(enum_line.to_string());
        for l in lines.by_ref() {
            if l.trim() == "]" {
                break;
            }
        }
        for (i, v) in values.iter().enumerate() {
            let comma = if i + 1 < values.len() { "," } else { "" };
            out.push(format!("{indent} \"{v}\"{comma}"));
        }
        out.push(format!("{indent}]"));
    }
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn check_or_bless(path: &Path, want: &str) {
    let have = std::fs::read_to_string(path).expect("read");
    if have == want {
        return;
    }
    if bless() {
        std::fs::write(path, want).expect("write");
        return;
    }
    panic!(
        "{} is out of date with src/rules/kind.rs; run TLSTRIAGE_BLESS=1 cargo test --test registry",
        path.display()
    );
}

#[test]
fn the_schema_enums_are_the_registry() {
    let path = root().join("schema/tlstriage.schema.json");
    let text = std::fs::read_to_string(&path).expect("schema");
    let mut kinds: Vec<&str> = KINDS.iter().map(|s| s.name).collect();
    kinds.sort_unstable();
    let causes: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
    let want = with_enum(&with_enum(&text, "kind", &kinds), "likely_cause", &causes);
    serde_json::from_str::<Value>(&want).expect("the schema stays JSON");
    check_or_bless(&path, &want);
}

fn readme_table() -> String {
    let mut s = String::from("| kind | severity | raised when |\n|---|---|---|\n");
    for k in KINDS {
        s.push_str(&format!("| `{}` | {} | {} |\n", k.name, k.severity, k.when));
    }
    s
}

#[test]
fn the_readme_kind_table_is_the_registry() {
    let path = root().join("README.md");
    let text = std::fs::read_to_string(&path).expect("README");
    let begin = text.find("<!-- kinds:begin").expect("kinds:begin marker");
    let body = begin + text[begin..].find('\n').expect("marker line") + 1;
    let end = text.find("<!-- kinds:end -->").expect("kinds:end marker");
    let want = format!("{}{}{}", &text[..body], readme_table(), &text[end..]);
    check_or_bless(&path, &want);
}

#[test]
fn every_kind_and_cause_has_its_explain_topic_and_every_topic_a_name() {
    for k in KINDS {
        let t = lookup(k.name).unwrap_or_else(|| panic!("no explain topic for {}", k.name));
        assert_ne!(t.topic_type, TopicType::Cause, "{} is a kind", k.name);
    }
    for c in Cause::ALL {
        let t = lookup(c.as_str()).unwrap_or_else(|| panic!("no explain topic for {c}"));
        assert_ne!(t.topic_type, TopicType::Kind, "{c} is a cause");
    }
    for t in TOPICS {
        let kind = Kind::parse(t.name).is_some();
        let cause = Cause::parse(t.name).is_some();
        let want = match (kind, cause) {
            (true, true) => TopicType::KindAndCause,
            (true, false) => TopicType::Kind,
            (false, true) => TopicType::Cause,
            (false, false) => panic!("explain topic {} is neither a kind nor a cause", t.name),
        };
        assert_eq!(t.topic_type, want, "{}", t.name);
    }
}

#[test]
fn every_kind_is_raised_by_one_rule_and_read_only_after_it() {
    for k in KINDS {
        let flow = RULES.iter().filter(|r| r.kinds.contains(&k.kind)).count();
        let capture = CAPTURE_RULES
            .iter()
            .filter(|r| r.kinds.contains(&k.kind))
            .count();
        match k.scope {
            // A capture rule may also raise a flow kind that only the end of the capture
            // can decide (learned_tls_ports: plaintext_to_tls_port on a port another flow
            // showed to be TLS); the flow rule stays the one that defines it.
            Scope::Flow => assert_eq!(flow, 1, "{}", k.name),
            Scope::Capture => assert_eq!((flow, capture), (0, 1), "{}", k.name),
        }
    }
    for (i, r) in RULES.iter().enumerate() {
        for k in r.after {
            assert!(
                RULES[..i].iter().any(|e| e.kinds.contains(k)),
                "rule {} reads {k}, which no rule before it raises",
                r.name
            );
        }
    }
    let aborted = RULES
        .iter()
        .find(|r| r.kinds.contains(&Kind::HandshakeAborted))
        .expect("handshake_aborted rule");
    for k in KINDS.iter().filter(|k| k.rejects_certificate) {
        assert!(
            aborted.after.contains(&k.kind),
            "{} rejects certificates: handshake_aborted must read it",
            k.name
        );
    }
}

#[test]
fn the_rules_listing_names_every_rule_and_kind() {
    let out = tlstriage(&["rules"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    for r in RULES {
        assert!(text.contains(r.name) && text.contains(r.doc), "{}", r.name);
    }
    for r in CAPTURE_RULES {
        assert!(text.contains(r.name), "{}", r.name);
    }
    for k in KINDS {
        assert!(text.contains(k.name), "{}", k.name);
    }
}

/// Merges pcap files (same link type, microsecond) by timestamp into one, as `mergecap`.
fn merge_pcaps(files: &[&str], out: &Path) {
    let mut header = None;
    let mut records: Vec<((u32, u32), Vec<u8>)> = Vec::new();
    for f in files {
        let data = std::fs::read(root().join(f)).expect("sample");
        assert_eq!(
            &data[..4],
            &[0xd4, 0xc3, 0xb2, 0xa1],
            "{f}: little-endian µs pcap"
        );
        header.get_or_insert_with(|| data[..24].to_vec());
        let mut at = 24;
        while at + 16 <= data.len() {
            let le = |o: usize| u32::from_le_bytes(data[at + o..at + o + 4].try_into().unwrap());
            let len = le(8) as usize;
            records.push(((le(0), le(4)), data[at..at + 16 + len].to_vec()));
            at += 16 + len;
        }
    }
    records.sort_by_key(|r| r.0);
    let mut bytes = header.expect("some file");
    for (_, r) in records {
        bytes.extend(r);
    }
    std::fs::write(out, bytes).expect("write merged capture");
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tlstriage-registry-{}-{name}", std::process::id()))
}

/// (kind, tcp_stream) of every NDJSON finding line.
fn ndjson_findings(text: &str) -> BTreeSet<(String, u64)> {
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("NDJSON line"))
        .filter(|v| v["type"] == "finding")
        .map(|v| {
            (
                v["kind"].as_str().unwrap().to_string(),
                v["tcp_stream"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_output_reports_the_same_findings_and_the_exit_code_agrees() {
    let merged = temp("merged.pcap");
    merge_pcaps(
        &[
            "samples/tls12-ok.pcap",
            "samples/cert-expired.pcap",
            "samples/cert-self-signed.pcap",
        ],
        &merged,
    );
    let m = merged.to_str().unwrap();
    let mut inputs = vec![m.to_string()];
    for e in std::fs::read_dir(root().join("samples")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pcap") {
            inputs.push(p.to_str().unwrap().to_string());
        }
    }
    let mut interception = false;
    for input in &inputs {
        let run = |args: &[&str]| {
            let mut a = args.to_vec();
            a.push(input);
            let out = tlstriage(&a);
            assert_eq!(out.status.code(), Some(0), "{a:?}");
            String::from_utf8(out.stdout).expect("utf-8")
        };
        let ndjson = ndjson_findings(&run(&["read", "--format", "ndjson"]));
        interception |= ndjson
            .iter()
            .any(|(k, _)| k == "tls_interception_suspected");
        let threaded = ndjson_findings(&run(&["read", "--format", "ndjson", "--threads", "3"]));
        assert_eq!(threaded, ndjson, "{input}: --threads 3");

        let ecs: BTreeSet<(String, u64)> = run(&["read", "--format", "ecs"])
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("ECS line"))
            .map(|v| {
                let kind = v["event"]["action"].as_str().unwrap().to_string();
                (kind, v["tlstriage"]["tcp_stream"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(ecs, ndjson, "{input}: ECS");

        // Human (verbose: every flow): "tcp.stream N ..." titles, then "[sev] kind: ..." lines.
        let mut human = BTreeSet::new();
        let mut stream = None;
        for line in run(&["read", "--format", "human", "-v"]).lines() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("tcp.stream ") {
                stream = rest
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok());
            } else if let (Some(rest), Some(s)) = (t.strip_prefix('['), stream) {
                if let Some(kind) = rest.split_once("] ").and_then(|(_, r)| r.split_once(':')) {
                    human.insert((kind.0.to_string(), s));
                }
            }
        }
        assert_eq!(human, ndjson, "{input}: human");

        // The HTML report counts the same findings per kind.
        let html_path = temp("report.html");
        let out = tlstriage(&["report", "-o", html_path.to_str().unwrap(), input]);
        assert_eq!(out.status.code(), Some(0));
        let html = std::fs::read_to_string(&html_path).expect("report");
        let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
        for l in run(&["read", "--format", "ndjson"]).lines() {
            let v: Value = serde_json::from_str(l).expect("NDJSON line");
            if v["type"] == "finding" {
                *per_kind
                    .entry(v["kind"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
        }
        let mut in_report: BTreeMap<String, usize> = BTreeMap::new();
        for row in html.split("<tr><td>").skip(1) {
            // Summary rows: severity badge, then <code>kind</code></td><td>count</td>.
            let Some((_, rest)) = row.split_once("</td><td><code>") else {
                continue;
            };
            let Some((kind, rest)) = rest.split_once("</code></td><td>") else {
                continue;
            };
            if let Some(n) = rest
                .split_once("</td>")
                .and_then(|(n, _)| n.parse::<usize>().ok())
            {
                *in_report.entry(kind.to_string()).or_default() += n;
            }
        }
        assert_eq!(in_report, per_kind, "{input}: report summary");

        // --fail-on agrees with what was printed, also once --min-severity drops some.
        for (min, fail) in [("info", "medium"), ("high", "medium"), ("low", "high")] {
            let args = [
                "read",
                "--format",
                "ndjson",
                "--min-severity",
                min,
                "--fail-on",
                fail,
                input,
            ];
            let out = tlstriage(&args);
            let rank = |s: &str| {
                ["info", "low", "medium", "high", "critical"]
                    .iter()
                    .position(|x| *x == s)
            };
            let printed_worst = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["type"] == "finding")
                .filter_map(|v| rank(v["severity"].as_str()?))
                .max();
            let want = if printed_worst >= rank(fail) { 1 } else { 0 };
            assert_eq!(out.status.code(), Some(want), "{args:?}");
        }
    }
    assert!(
        interception,
        "the merged capture shows tls_interception_suspected"
    );
    std::fs::remove_file(merged).ok();
}

/// The crate's modules (top level, and the files of `output`, `rules`, `tls`) and which
/// ones each file names, from its `use` lines and `crate::`/`super::` paths outside tests
/// and comments.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = root().join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let split = ["output", "rules", "tls"];
    // "output/records" for src/output/records.rs, "flow" for src/flow.rs.
    let node = |parts: &[&str]| -> String {
        match parts {
            [top, sub, ..] if split.contains(top) && *sub != "mod" => format!("{top}/{sub}"),
            [top, ..] => top.to_string(),
            [] => String::new(),
        }
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in all {
        let rel = f.strip_prefix(&src).unwrap().with_extension("");
        let parts: Vec<&str> = rel.iter().map(|s| s.to_str().unwrap()).collect();
        if parts == ["main"]
            || parts == ["lib"]
            || parts.contains(&"tests")
            || parts.contains(&"testutil")
        {
            continue;
        }
        let me = node(&parts);
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        // What `super::` names: the parent of this file's module (of its folder for mod.rs).
        let up = if parts.last() == Some(&"mod") { 2 } else { 1 };
        let dir: Vec<&str> = parts[..parts.len().saturating_sub(up)].to_vec();
        for line in code.lines() {
            let l = line.trim_start();
            if l.starts_with("//") {
                continue;
            }
            for (prefix, base) in [("crate::", Vec::new()), ("super::", dir.clone())] {
                let mut rest = l;
                while let Some(i) = rest.find(prefix) {
                    rest = &rest[i + prefix.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    let after = &rest[name.len()..];
                    let mut path = base.clone();
                    path.push(name.as_str());
                    if let Some(sub) = after.strip_prefix("::") {
                        let sub: String = sub
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !sub.is_empty() && sub.chars().next().is_some_and(char::is_lowercase) {
                            path.push(Box::leak(sub.into_boxed_str()));
                        }
                    }
                    let target = node(&path);
                    if !target.is_empty() && target != me && !me.starts_with(&format!("{target}/"))
                    {
                        graph.entry(me.clone()).or_default().insert(target);
                    }
                }
            }
        }
        graph.entry(me).or_default();
    }
    graph
}

/// Panics with the cycle when `g` has one.
fn assert_acyclic(g: &BTreeMap<String, BTreeSet<String>>, what: &str) {
    fn visit<'a>(
        n: &'a str,
        g: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
        what: &str,
    ) {
        match state.get(n) {
            Some(2) => return,
            Some(1) => {
                let from = stack.iter().position(|s| *s == n).unwrap_or(0);
                panic!("{what} import cycle: {} -> {n}", stack[from..].join(" -> "));
            }
            _ => {}
        }
        state.insert(n, 1);
        stack.push(n);
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, state, stack, what);
        }
        stack.pop();
        state.insert(n, 2);
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        visit(n, g, &mut state, &mut Vec::new(), what);
    }
}

#[test]
fn no_module_imports_form_a_cycle() {
    let graph = module_graph();
    let top = |n: &str| n.split('/').next().unwrap_or_default().to_string();
    // Between top-level modules (a folder is one module).
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &graph {
        let set = modules.entry(top(from)).or_default();
        set.extend(tos.iter().map(|t| top(t)).filter(|t| *t != top(from)));
    }
    assert!(modules["pipeline"].contains("flow") && modules["output"].contains("rules"));
    assert_acyclic(&modules, "module");
    // Between the files of one folder (its mod.rs re-exports them and is left out).
    let mut files: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in graph.iter().filter(|(f, _)| f.contains('/')) {
        let same: BTreeSet<String> = tos
            .iter()
            .filter(|t| t.contains('/') && top(t) == top(from))
            .cloned()
            .collect();
        files.insert(from.clone(), same);
    }
    assert!(files["output/records"].contains("output/fastjson"));
    assert_acyclic(&files, "file");
}
