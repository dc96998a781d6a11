use super::*;

// ---- real captures ---------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum Walk {
    Complete(u64),
    /// file ends inside record n+1
    CutAfter(u64),
    /// record n+1 claims an absurd length
    CorruptAfter(u64, u32),
}

/// Walks a classic pcap by hand, independently of pcap-parser.
fn walk_pcap(b: &[u8]) -> Walk {
    let be = b[..4] == [0xa1, 0xb2, 0xc3, 0xd4] || b[..4] == [0xa1, 0xb2, 0x3c, 0x4d];
    let mut off = 24;
    let mut n = 0;
    while off < b.len() {
        if off + 16 > b.len() {
            return Walk::CutAfter(n);
        }
        let raw: [u8; 4] = b[off + 8..off + 12].try_into().unwrap();
        let caplen = if be {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        };
        if caplen > MAX_CAPLEN {
            return Walk::CorruptAfter(n, caplen);
        }
        if off + 16 + caplen as usize > b.len() {
            return Walk::CutAfter(n);
        }
        off += 16 + caplen as usize;
        n += 1;
    }
    Walk::Complete(n)
}

fn read_counting(path: &Path) -> (Walk, CaptureReader) {
    let mut r = CaptureReader::open(path).unwrap();
    let mut frames = 0;
    loop {
        let end = match r.next_packet() {
            Ok(Some(p)) => {
                frames += 1;
                assert_eq!(p.frame, frames);
                assert!(p.ts_us > 0);
                continue;
            }
            Ok(None) => frames,
            Err(CaptureError::CaplenTooLarge { frame, caplen, .. }) => {
                assert_eq!(frame, frames + 1);
                return (Walk::CorruptAfter(frames, caplen as u32), r);
            }
            Err(e) => panic!("{}: {e}", path.display()),
        };
        return if r.truncated() {
            (Walk::CutAfter(end), r)
        } else {
            (Walk::Complete(end), r)
        };
    }
}

#[test]
fn shared_captures_read_completely() {
    let root = Path::new("/work/shared/captures");
    if !root.is_dir() {
        println!("skipping: {} not found", root.display());
        return;
    }
    let mut files = Vec::new();
    for sub in std::fs::read_dir(root).unwrap() {
        let sub = sub.unwrap().path();
        if sub.is_dir() {
            for f in std::fs::read_dir(&sub).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "pcap") {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    assert!(files.len() >= 50, "only {} captures found", files.len());
    let mut total_frames = 0;
    let mut corrupt = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let expected = walk_pcap(&bytes);
        let (got, r) = read_counting(path);
        assert_eq!(got, expected, "{}", path.display());
        match got {
            Walk::Complete(n) => {
                assert_eq!(r.bytes_read(), bytes.len() as u64, "{}", path.display());
                assert!(r.warnings().is_empty());
                total_frames += n;
            }
            Walk::CutAfter(n) => {
                assert_eq!(r.warnings().len(), 1);
                total_frames += n;
            }
            Walk::CorruptAfter(n, _) => {
                corrupt.push(path.file_name().unwrap().to_string_lossy().to_string());
                total_frames += n;
            }
        }
    }
    // These crafted files have a broken record in the middle; libpcap and
    // Wireshark stop there too.
    assert_eq!(
        corrupt,
        [
            "tls12-cert-der-incomplete-content.pcap",
            "tls12-cert-der-incomplete-header.pcap"
        ]
    );
    assert!(total_frames > 1000, "{total_frames}");
}

#[test]
fn known_frame_counts_in_shared_captures() {
    let root = Path::new("/work/shared/captures");
    if !root.is_dir() {
        println!("skipping: {} not found", root.display());
        return;
    }
    for name in [
        "suricata-verify/tls12-linktype228-ipv4.pcap",
        "zeek/irc-starttls-linux-sll.pcap",
        "zeek/tls12-normal-handshake.pcap",
    ] {
        let path = root.join(name);
        let bytes = std::fs::read(&path).unwrap();
        let Walk::Complete(expected) = walk_pcap(&bytes) else {
            panic!("{name} is damaged");
        };
        let linktype = u32::from_le_bytes(bytes[20..24].try_into().unwrap());
        let mut r = CaptureReader::open(&path).unwrap();
        let mut n = 0;
        while let Some(p) = r.next_packet().unwrap() {
            assert_eq!(p.linktype, linktype);
            n += 1;
        }
        assert_eq!(n, expected, "{name}");
        assert!(n > 0);
    }
}
