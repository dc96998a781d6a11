//! What the first bytes of an input say it is.

use super::{CaptureError, CaptureFormat, PCAP_HEADER_LEN};

/// Decides the container format from the first bytes, or explains what the
/// file looks like instead.
pub(super) fn sniff(prefix: &[u8]) -> Result<CaptureFormat, CaptureError> {
    if prefix.is_empty() {
        return Err(CaptureError::Empty);
    }
    const PCAP_MAGICS: [[u8; 4]; 5] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        // Kuznetzov's modified pcap; pcap-parser reads only this byte order
        [0x34, 0xcd, 0xb2, 0xa1],
    ];
    const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
    let head = prefix.get(..4);
    if head == Some(&PCAPNG_MAGIC[..]) {
        return Ok(CaptureFormat::PcapNg);
    }
    if let Some(h) = head {
        if PCAP_MAGICS.iter().any(|m| m[..] == *h) {
            return Ok(CaptureFormat::Pcap);
        }
    } else {
        let short = prefix;
        let is_start_of_magic = PCAP_MAGICS
            .iter()
            .chain(std::iter::once(&PCAPNG_MAGIC))
            .any(|m| m.starts_with(short));
        if is_start_of_magic {
            return Err(CaptureError::TruncatedHeader {
                what: "capture file header",
                got: prefix.len(),
                need: PCAP_HEADER_LEN,
            });
        }
    }
    let shown = &prefix[..prefix.len().min(4)];
    let first_bytes = shown
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    let hint = guess_file_type(prefix)
        .map(|g| format!(" ({g})"))
        .unwrap_or_default();
    Err(CaptureError::NotACapture { first_bytes, hint })
}

pub(super) fn guess_file_type(p: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG", "PNG image?"),
        (b"\x1f\x8b", "compressed twice?"),
        (b"\x28\xb5\x2f\xfd", "compressed twice?"),
        (b"\xfd7zXZ", "compressed twice?"),
        (b"\x04\x22\x4d\x18", "compressed twice?"),
        (b"BZh", "bzip2-compressed; decompress it first?"),
        (b"PK\x03\x04", "zip archive?"),
        (b"%PDF", "PDF document?"),
        (b"\x7fELF", "ELF executable?"),
        (b"\xff\xd8\xff", "JPEG image?"),
        (
            b"snoop\0",
            "Solaris snoop capture, convert it with editcap?",
        ),
        (
            b"GMBU",
            "Microsoft Network Monitor capture, convert it with editcap?",
        ),
        (
            b"\xa1\xb2\xcd\x34",
            "big-endian modified pcap, not supported",
        ),
    ];
    if let Some((_, name)) = SIGNATURES.iter().find(|(sig, _)| p.starts_with(sig)) {
        return Some(name);
    }
    let text = p
        .iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    text.then_some("text file?")
}
