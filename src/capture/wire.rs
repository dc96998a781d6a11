//! Byte-order helpers and pcap-parser error texts shared by the readers.

use pcap_parser::PcapError;

use super::CaptureError;

pub(super) fn header_error(what: &'static str, e: &PcapError<&[u8]>) -> CaptureError {
    CaptureError::BadHeader {
        what,
        detail: describe_pcap_error(e),
    }
}

pub(super) fn describe_pcap_error(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("block does not parse ({kind:?})")
        }
        PcapError::HeaderNotRecognized => "header not recognized".to_string(),
        PcapError::Incomplete(n) => format!("incomplete, {n} more bytes needed"),
        other => format!("{other:?}"),
    }
}

pub(super) fn native_u32(raw_le: u32, big_endian: bool) -> u32 {
    if big_endian {
        raw_le.swap_bytes()
    } else {
        raw_le
    }
}

pub(super) fn read_u32(p: &[u8], off: usize, be: bool) -> Option<u32> {
    let b: [u8; 4] = p.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

pub(super) fn read_u16(p: &[u8], off: usize, be: bool) -> Option<u16> {
    let b: [u8; 2] = p.get(off..off.checked_add(2)?)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    })
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
