use super::*;

/// Everything a reader says about an input: its frames, then how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    frames: Vec<Owned>,
    end: String,
    warnings: Vec<String>,
    truncated: bool,
    stats: CaptureStats,
    bytes_read: u64,
}

fn outcome(opened: Result<CaptureReader, CaptureError>) -> Outcome {
    let mut r = match opened {
        Ok(r) => r,
        Err(e) => {
            return Outcome {
                frames: Vec::new(),
                end: format!("open: {e}"),
                warnings: Vec::new(),
                truncated: false,
                stats: CaptureStats::default(),
                bytes_read: 0,
            }
        }
    };
    let mut frames = Vec::new();
    let end = loop {
        match r.next_packet() {
            Ok(Some(p)) => frames.push(Owned {
                frame: p.frame,
                ts_us: p.ts_us,
                linktype: p.linktype,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
            }),
            Ok(None) => break "end".to_string(),
            Err(e) => break format!("error: {e}"),
        }
        assert!(frames.len() < 1000);
    };
    Outcome {
        frames,
        end,
        warnings: r.warnings().to_vec(),
        truncated: r.truncated(),
        stats: r.stats(),
        bytes_read: r.bytes_read(),
    }
}

/// `bytes` read from a file (mapped when it is a capture) and as a stream.
fn both(dir: &Path, n: usize, bytes: &[u8]) -> (Outcome, Outcome, bool) {
    let path = dir.join(format!("{n}.pcap"));
    std::fs::write(&path, bytes).unwrap();
    let opened = CaptureReader::open(&path);
    let mapped = opened.as_ref().is_ok_and(CaptureReader::is_mapped);
    let from_file = outcome(opened);
    let streamed = outcome(CaptureReader::with_buffer(
        Box::new(Cursor::new(bytes.to_vec())),
        4096,
    ));
    std::fs::remove_file(&path).unwrap();
    (from_file, streamed, mapped)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tlstriage-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn mapped_files_read_exactly_as_streams_even_when_damaged() {
    let dir = scratch("mapped");
    let mut ng = shb(false);
    ng.extend(idb(false, 1, 0, &[(9, &[9])]));
    ng.extend(epb(false, 0, 1, b"abcdefgh", 8));
    ng.extend(spb(false, b"xyz", 3));
    ng.extend(obsolete_pb(false, 0, 1, b"pb"));
    ng.extend(block(false, 5, &[0; 12]));
    ng.extend(shb(true));
    ng.extend(idb(true, 1, 0, &[]));
    ng.extend(epb(true, 0, 7, b"big-endian", 10));
    let classic = pcap(true, false, 1, &[rec(1, 2, b"abcd"), rec(3, 4, b"efgh")]);
    let nanos = pcap(false, true, 1, &[rec(1, 2_000, b"abcd")]);
    let big: Vec<u8> = (0..60_000u32).map(|i| i as u8).collect();
    let large = pcap(false, false, 1, &[rec(1, 1, &big), rec(2, 2, &big)]);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut n, mut mapped_ok) = (0, 0);
    for base in [ng, classic, nanos, large] {
        let (f, s, mapped) = both(&dir, n, &base);
        assert!(mapped, "an intact capture file is mapped");
        assert_eq!(f, s);
        assert_eq!(f.end, "end");
        for _ in 0..600 {
            n += 1;
            let mut m = base.clone();
            for _ in 0..(rnd() % 4 + 1) {
                let i = (rnd() % m.len() as u64) as usize;
                m[i] = rnd() as u8;
            }
            if rnd() % 3 == 0 {
                m.truncate((rnd() % m.len() as u64) as usize);
            }
            let (f, s, mapped) = both(&dir, n, &m);
            assert_eq!(f, s, "input {n}: {m:02x?}");
            mapped_ok += usize::from(mapped);
        }
    }
    assert!(mapped_ok > 1000, "{mapped_ok}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compressed_empty_and_named_pipes_are_streamed() {
    let dir = scratch("streamed");
    let classic = pcap(false, false, 1, &[rec(1, 2, b"abcd")]);
    let gz = dir.join("c.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &classic).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let r = CaptureReader::open(&gz).unwrap();
    assert!(!r.is_mapped());
    assert_eq!(r.input_format().compression, Some(Compression::Gzip));
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        CaptureReader::open(&empty),
        Err(CaptureError::Empty)
    ));
    let plain = dir.join("plain.pcap");
    std::fs::write(&plain, &classic).unwrap();
    assert!(CaptureReader::open(&plain).unwrap().is_mapped());
    assert!(!CaptureReader::open_streaming(&plain).unwrap().is_mapped());
    std::fs::remove_dir_all(&dir).unwrap();
}
