//! Compressed captures: recognised by magic bytes whatever the file is called, streamed
//! from files and stdin, and analysed exactly as the uncompressed capture.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SAMPLES: [&str; 3] = ["cert-expired.pcap", "smtp-starttls.pcap", "tls13-ok.pcap"];
const FORMATS: [&str; 4] = ["gzip", "zstd", "xz", "lz4"];

/// Compressed as the command-line tools do by default, with a checksum of the content
/// (`gzip` and `xz` always have one; `zstd` and `lz4` add one unless told not to).
fn compress(format: &str, data: &[u8]) -> Vec<u8> {
    match format {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "zstd" => {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
            e.include_checksum(true).unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "lz4" => {
            // 64 KiB blocks (`lz4 -B4`) so that a cut file still holds whole blocks.
            let info = lz4_flex::frame::FrameInfo::new()
                .content_checksum(true)
                .block_size(lz4_flex::frame::BlockSize::Max64KB);
            let mut e = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        other => unreachable!("{other}"),
    }
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tlstriage-compressed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn read(path: &Path, stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tlstriage"));
    cmd.args(["read", "--format", "ndjson", "--flows"]);
    if stdin.is_some() {
        cmd.arg("-");
    } else {
        cmd.arg(path);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// The records with the capture's name taken out, and the capture_stats'
/// `compression` returned apart.
fn records(out: &Output) -> (Vec<serde_json::Value>, Option<String>) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut compression = None;
    let recs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(o) = v.as_object_mut() {
                o.remove("capture");
                if let Some(c) = o.remove("compression") {
                    compression = c.as_str().map(str::to_owned);
                }
            }
            v
        })
        .collect();
    (recs, compression)
}

#[test]
fn every_format_gives_the_output_of_the_plain_capture_from_a_file_and_from_stdin() {
    for name in SAMPLES {
        let plain = std::fs::read(sample(name)).unwrap();
        let (expected, none) = records(&read(&sample(name), None));
        assert_eq!(
            none, None,
            "{name}: a plain capture has no compression field"
        );
        assert!(expected.len() >= 2, "{name}: flows and stats expected");
        for format in FORMATS {
            let packed = compress(format, &plain);
            // Named .pcap on purpose: the magic bytes decide, not the extension.
            let path = temp_file(&format!("{format}-{name}"), &packed);
            for stdin in [None, Some(packed.as_slice())] {
                let (got, compression) = records(&read(&path, stdin));
                assert_eq!(compression.as_deref(), Some(format), "{name} {format}");
                assert_eq!(
                    got,
                    expected,
                    "{name} as {format}, stdin: {}",
                    stdin.is_some()
                );
            }
        }
    }
}

#[test]
fn a_cut_or_corrupt_compressed_file_is_a_one_line_error_after_what_it_held() {
    // Large enough for several compressed blocks, so that something comes out before the
    // damage: the sample's packet records over and over behind its pcap header, each time
    // followed by a frame of incompressible noise.
    let one = std::fs::read(sample("cert-expired.pcap")).unwrap();
    let mut plain = one[..24].to_vec();
    let mut noise = 0x9e37_79b9_7f4a_7c15u64;
    let mut records = Vec::new();
    let mut rest = &one[24..];
    while rest.len() >= 16 {
        let incl = u32::from_le_bytes(rest[8..12].try_into().unwrap()) as usize;
        records.push(&rest[..16 + incl]);
        rest = &rest[16 + incl..];
    }
    for copy in 0..400u32 {
        // Each copy 10 s after the one before, so timestamps keep going forward.
        let mut sec = 0;
        for r in &records {
            sec = u32::from_le_bytes(r[0..4].try_into().unwrap()) + copy * 10;
            plain.extend_from_slice(&sec.to_le_bytes());
            plain.extend_from_slice(&r[4..]);
        }
        let len: u32 = 2000;
        for field in [sec, 999_999, len, len] {
            plain.extend_from_slice(&u32::to_le_bytes(field));
        }
        for _ in 0..len {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            plain.push(noise as u8);
        }
    }
    for format in FORMATS {
        let packed = compress(format, &plain);
        let cut = temp_file(&format!("cut.{format}"), &packed[..packed.len() * 2 / 3]);
        let mut corrupt = packed.clone();
        let mid = corrupt.len() / 2;
        for b in &mut corrupt[mid..mid + 16] {
            *b ^= 0xa5;
        }
        let corrupt = temp_file(&format!("corrupt.{format}"), &corrupt);
        for path in [cut, corrupt] {
            let out = read(&path, None);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{}: {err}", path.display());
            assert!(!err.contains("panicked"), "{err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
            let stdout = String::from_utf8_lossy(&out.stdout);
            // What was decompressed before the damage is still analysed and reported.
            let last = stdout.lines().last().unwrap_or_default();
            assert!(
                last.contains(r#""type":"capture_stats""#),
                "{format}: {stdout}"
            );
        }
    }
}

#[test]
fn a_compressed_file_that_holds_no_capture_says_so() {
    let text = temp_file("notes.txt.gz", &compress("gzip", b"hello world\n"));
    let out = read(&text, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("gzip-compressed file: not a pcap or pcapng file: starts with 68 65 6c 6c"),
        "{err}"
    );
}
