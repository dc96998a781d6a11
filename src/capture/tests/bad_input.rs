use super::*;

// ---- bad input -------------------------------------------------------

#[test]
fn empty_input() {
    let err = reader(Vec::new()).unwrap_err();
    assert_eq!(err.to_string(), "empty file");
}

#[test]
fn png_is_not_a_capture() {
    let err = reader(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a pcap or pcapng file: starts with 89 50 4e 47 (PNG image?)"
    );
}

#[test]
fn other_non_captures_get_hints() {
    let gz = reader(vec![0x1f, 0x8b, 8, 0, 0, 0])
        .unwrap_err()
        .to_string();
    assert!(gz.starts_with("gzip-compressed file: read error"), "{gz}");
    let bz = reader(b"BZh91AY&SY".to_vec()).unwrap_err().to_string();
    assert!(
        bz.contains("bzip2-compressed; decompress it first?"),
        "{bz}"
    );
    let text = reader(b"hello world\n".to_vec()).unwrap_err().to_string();
    assert!(text.contains("68 65 6c 6c (text file?)"), "{text}");
    let junk = reader(vec![0, 1]).unwrap_err().to_string();
    assert_eq!(junk, "not a pcap or pcapng file: starts with 00 01");
}

#[test]
fn truncated_global_header() {
    let bytes = pcap(false, false, 1, &[]);
    for len in [2, 4, 10, 23] {
        let err = reader(bytes[..len].to_vec()).unwrap_err();
        assert!(
            matches!(err, CaptureError::TruncatedHeader { got, need: 24, .. } if got == len),
            "{len}: {err}"
        );
    }
    // Header only: a valid, empty capture.
    assert!(read_all(bytes).unwrap().is_empty());
}

#[test]
fn truncated_or_bad_section_header() {
    let s = shb(false);
    for len in [4, 11, 20, s.len() - 1] {
        let err = reader(s[..len].to_vec()).unwrap_err();
        assert!(
            matches!(err, CaptureError::TruncatedHeader { .. }),
            "{len}: {err}"
        );
    }
    let mut bad_bom = s.clone();
    bad_bom[8..12].copy_from_slice(&[1, 2, 3, 4]);
    let msg = reader(bad_bom).unwrap_err().to_string();
    assert!(msg.contains("byte-order magic is 01 02 03 04"), "{msg}");
    let mut bad_len = s;
    bad_len[4..8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    assert!(matches!(
        reader(bad_len).unwrap_err(),
        CaptureError::BadHeader { .. }
    ));
}

#[test]
fn open_missing_file_and_read_errors() {
    let err = CaptureReader::open(Path::new("/nonexistent/x.pcap")).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("cannot open /nonexistent/x.pcap: "));

    struct Failing(Vec<u8>, usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }
    let bytes = pcap(false, false, 1, &[rec(1, 0, b"abc")]);
    let mut r = CaptureReader::from_reader(Box::new(Failing(bytes, 0))).unwrap();
    let mut seen = 0;
    let err = loop {
        match r.next_packet() {
            Ok(Some(_)) => seen += 1,
            Ok(None) => panic!("read error swallowed"),
            Err(e) => break e,
        }
    };
    assert!(seen <= 1);
    assert!(err.to_string().contains("disk on fire"), "{err}");
}
