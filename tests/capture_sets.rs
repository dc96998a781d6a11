//! Several files as one capture: rotated pieces give the findings of the whole file,
//! interleaved captures the analysis of their mergecap merge, directories their files.

use std::path::{Path, PathBuf};
use std::process::Command;

use tlstriage::capture::{CaptureSet, PacketSource};
use tlstriage::flow::{AnalyzerConfig, FlowRecord};
use tlstriage::pipeline::{analyze_path, analyze_source};
use tlstriage::rules::Finding;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tlstriage-sets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A classic little-endian pcap split into its file header and records.
fn records(pcap: &[u8]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    if pcap.get(..4)? != b"\xd4\xc3\xb2\xa1" {
        return None;
    }
    let (header, mut rest) = pcap.split_at(24);
    let mut out = Vec::new();
    while rest.len() >= 16 {
        let incl = u32::from_le_bytes(rest[8..12].try_into().ok()?) as usize;
        let (rec, tail) = rest.split_at((16 + incl).min(rest.len()));
        out.push(rec.to_vec());
        rest = tail;
    }
    Some((header.to_vec(), out))
}

fn config() -> AnalyzerConfig {
    let mut c = AnalyzerConfig::default();
    // The samples' servers listen on ports 4431-4449.
    let mut ports: Vec<u16> = tlstriage::flow::DEFAULT_TLS_PORTS.to_vec();
    ports.extend(4430..4450);
    c.set_tls_ports(&ports);
    c
}

type Flows = Vec<(FlowRecord, Vec<Finding>)>;

fn analyse_set(paths: &[PathBuf]) -> Flows {
    let mut set = CaptureSet::open(paths);
    let (flows, outcome) = analyze_source(&mut set as &mut dyn PacketSource, &config(), 1);
    assert!(outcome.error.is_none());
    for m in set.members() {
        assert!(m.error.is_none(), "{}: {:?}", m.path.display(), m.error);
    }
    flows
}

fn same(a: &Flows, b: &Flows) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// Every classic pcap sample split in two at every frame boundary, the pieces given in
/// reverse order: the analysis (flows, findings, frame numbers, stream numbers) is that of
/// the whole file.
#[test]
fn a_capture_split_at_any_frame_reads_as_the_whole() {
    let dir = temp_dir("split");
    let mut checked = 0;
    let mut samples: Vec<PathBuf> = std::fs::read_dir(manifest().join("samples"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    samples.sort();
    for sample in samples {
        let bytes = std::fs::read(&sample).unwrap();
        let Some((header, recs)) = records(&bytes) else {
            continue;
        };
        let whole = analyze_path(&sample, &config()).unwrap().flows;
        let (a, b) = (dir.join("a.pcap"), dir.join("b.pcap"));
        // Between frames of different times only (see below).
        let ts = |r: &Vec<u8>| r[..8].to_vec();
        for cut in (1..recs.len()).filter(|&c| ts(&recs[c - 1]) != ts(&recs[c])) {
            std::fs::write(&a, [header.clone(), recs[..cut].concat()].concat()).unwrap();
            std::fs::write(&b, [header.clone(), recs[cut..].concat()].concat()).unwrap();
            let split = analyse_set(&[b.clone(), a.clone()]);
            assert!(
                same(&split, &whole),
                "{} cut before record {cut}:\n{split:#?}\nwhole:\n{whole:#?}",
                sample.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} splits");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same over the public corpus (Zeek, Suricata and Wireshark test captures), at up to
/// 8 cut points per file. Captures whose timestamps go backwards are left out: merged by
/// time, as mergecap merges, their pieces cannot give the file's own order.
#[test]
fn corpus_captures_split_read_as_the_whole() {
    let corpus = manifest().join("../shared/captures");
    if !corpus.join("MANIFEST.tsv").exists() {
        assert!(
            std::env::var_os("TLSTRIAGE_REQUIRE_CORPUS").is_none(),
            "TLSTRIAGE_REQUIRE_CORPUS is set but the corpus is missing"
        );
        eprintln!("skipped: no ../shared/captures");
        return;
    }
    let dir = temp_dir("corpus");
    let mut files = Vec::new();
    let mut stack = vec![corpus];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().contains(".pcap") {
                files.push(p);
            }
        }
    }
    files.sort();
    let (mut checked, mut unordered) = (0, 0);
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let Some((header, recs)) = records(&bytes) else {
            continue;
        };
        let ts = |r: &Vec<u8>| {
            (
                u32::from_le_bytes(r[0..4].try_into().unwrap()),
                u32::from_le_bytes(r[4..8].try_into().unwrap()),
            )
        };
        if recs.len() < 2 || recs.windows(2).any(|w| ts(&w[1]) < ts(&w[0])) {
            unordered += usize::from(recs.len() >= 2);
            continue;
        }
        let whole = analyze_path(file, &config()).unwrap();
        if whole.error.is_some() || whole.truncated {
            continue;
        }
        let (a, b) = (dir.join("a.pcap"), dir.join("b.pcap"));
        let step = (recs.len() / 8).max(1);
        // Only between frames of different times: pieces that start at the same instant
        // keep the order given, which here is reversed on purpose.
        for cut in (1..recs.len())
            .step_by(step)
            .filter(|&c| ts(&recs[c - 1]) < ts(&recs[c]))
        {
            std::fs::write(&a, [header.clone(), recs[..cut].concat()].concat()).unwrap();
            std::fs::write(&b, [header.clone(), recs[cut..].concat()].concat()).unwrap();
            let split = analyse_set(&[b.clone(), a.clone()]);
            assert!(
                same(&split, &whole.flows),
                "{} cut before record {cut} differs from the whole file",
                file.display()
            );
            checked += 1;
        }
    }
    eprintln!("{checked} splits checked; {unordered} captures with timestamps going back");
    assert!(checked > 150, "only {checked} splits");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Shifts every record's timestamp by `us` microseconds.
fn shifted(header: &[u8], recs: &[Vec<u8>], us: i64) -> Vec<u8> {
    let mut out = header.to_vec();
    for r in recs {
        let sec = u32::from_le_bytes(r[0..4].try_into().unwrap()) as i64;
        let usec = u32::from_le_bytes(r[4..8].try_into().unwrap()) as i64;
        let t = sec * 1_000_000 + usec + us;
        out.extend_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&r[8..]);
    }
    out
}

/// Two captures of the same minutes (two interfaces): frames are interleaved by time, and
/// the analysis is that of `mergecap`'s merge of the two, frame numbers included.
#[test]
fn overlapping_captures_are_merged_by_time_as_mergecap_does() {
    let have_mergecap = Command::new("mergecap").arg("-h").output().is_ok();
    if !have_mergecap {
        assert!(std::env::var_os("CI").is_none(), "CI must install mergecap");
        eprintln!("skipped: no mergecap");
        return;
    }
    let dir = temp_dir("overlap");
    let read = |name: &str| records(&std::fs::read(manifest().join("samples").join(name)).unwrap());
    let (h1, r1) = read("tls12-ok.pcap").unwrap();
    let (h2, r2) = read("cert-expired.pcap").unwrap();
    let ts = |r: &Vec<u8>| {
        u32::from_le_bytes(r[0..4].try_into().unwrap()) as i64 * 1_000_000
            + u32::from_le_bytes(r[4..8].try_into().unwrap()) as i64
    };
    // The second starts 1.5 ms into the first (an odd offset: no two frames at one time).
    let offset = ts(&r1[0]) - ts(&r2[0]) + 1_501;
    let (x, y) = (dir.join("x.pcap"), dir.join("y.pcap"));
    std::fs::write(&x, shifted(&h1, &r1, 0)).unwrap();
    std::fs::write(&y, shifted(&h2, &r2, offset)).unwrap();
    let merged = dir.join("merged.pcap");
    let status = Command::new("mergecap")
        .args(["-F", "pcap", "-w"])
        .args([&merged, &y, &x])
        .status()
        .unwrap();
    assert!(status.success());
    let ours = analyse_set(&[y, x]);
    let theirs = analyze_path(&merged, &config()).unwrap().flows;
    assert_eq!(ours.len(), 2);
    assert!(same(&ours, &theirs), "{ours:#?}\nmergecap:\n{theirs:#?}");
    // Interleaved, not concatenated: the second flow's frames fall among the first's.
    let frames = |f: &FlowRecord| (f.first_frame, f.last_frame);
    let (f1, f2) = (frames(&ours[0].0), frames(&ours[1].0));
    assert!(f2.0 < f1.1 || f1.0 < f2.1, "{f1:?} {f2:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tlstriage(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tlstriage"))
        .args(args)
        .current_dir(manifest())
        .output()
        .unwrap()
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_directory_is_one_capture_and_each_file_keeps_them_apart() {
    let dir = temp_dir("dir");
    let bytes = std::fs::read(manifest().join("samples/cert-expired.pcap")).unwrap();
    let (header, recs) = records(&bytes).unwrap();
    std::fs::write(
        dir.join("rot_1.pcap"),
        [header.clone(), recs[..5].concat()].concat(),
    )
    .unwrap();
    std::fs::write(
        dir.join("rot_2.pcap"),
        [header.clone(), recs[5..].concat()].concat(),
    )
    .unwrap();
    std::fs::write(dir.join("README.txt"), b"captures of the outage\n").unwrap();
    std::fs::write(dir.join(".rot_3.pcap.part"), b"hidden: skipped unread").unwrap();
    let d = dir.to_str().unwrap();

    let out = tlstriage(&["read", "--format", "ndjson", d]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("README.txt: skipped: not a pcap or pcapng file"),
        "{err}"
    );
    let recs_out = json_lines(&out.stdout);
    let kinds: Vec<&str> = recs_out.iter().filter_map(|r| r["kind"].as_str()).collect();
    assert!(kinds.contains(&"certificate_expired"), "{kinds:?}");
    let stats = recs_out.last().unwrap();
    assert_eq!(stats["type"], "capture_stats");
    assert_eq!(stats["capture"], d);
    let files = stats["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0]["first_frame"], 1);
    assert_eq!(files[1]["first_frame"], 6);
    assert_eq!(files[1]["frames"], recs.len() - 5);

    // The same files given one by one, --each-file: two captures, the finding lost in the
    // split (what `read` did before sets).
    let a = dir.join("rot_1.pcap");
    let b = dir.join("rot_2.pcap");
    let each = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        "--each-file",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let each = json_lines(&each.stdout);
    assert_eq!(
        each.iter().filter(|r| r["type"] == "capture_stats").count(),
        2
    );
    assert!(each.iter().all(|r| r["files"].is_null()));

    // A file that cannot be read is an error (exit 2); the others are still one capture.
    let missing = dir.join("missing.pcap");
    let out = tlstriage(&[
        "read",
        "--format",
        "ndjson",
        b.to_str().unwrap(),
        missing.to_str().unwrap(),
        a.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.pcap: cannot open"), "{err}");
    let recs_out = json_lines(&out.stdout);
    assert!(recs_out.iter().any(|r| r["kind"] == "certificate_expired"));
    std::fs::remove_dir_all(&dir).unwrap();
}
