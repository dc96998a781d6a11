//! Capture reader: arbitrary pcap / pcapng bytes. Every frame handed out is
//! also run through the link/IP/TCP decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlstriage::capture::CaptureReader;
use tlstriage::decode::decode;

fuzz_target!(|data: &[u8]| {
    let input = std::io::Cursor::new(data.to_vec());
    let Ok(mut reader) = CaptureReader::with_buffer(Box::new(input), 4096) else {
        return;
    };
    let mut frames = 0u64;
    loop {
        match reader.next_packet() {
            Ok(Some(pkt)) => {
                assert!(pkt.data.len() <= tlstriage::capture::MAX_CAPLEN as usize);
                assert!(pkt.frame > frames, "frame numbers must increase");
                frames = pkt.frame;
                let _ = decode(pkt.linktype, pkt.data);
            }
            Ok(None) => break,
            Err(e) => {
                // Errors are one line.
                assert!(!e.to_string().contains('\n'), "{e}");
                break;
            }
        }
    }
    // Finished readers stay finished.
    assert!(matches!(reader.next_packet(), Ok(None)));
    let _ = reader.stats();
    let _ = reader.warnings();
});
