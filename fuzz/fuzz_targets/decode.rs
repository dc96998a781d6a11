//! Link/IP/TCP decoder: the first byte picks a link type, the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlstriage::decode::{decode, linktype, Decoded};

const LINKTYPES: [u32; 12] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::RAW_BSD_12,
    linktype::RAW_BSD_14,
    linktype::RAW,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL2,
    // unsupported ones must be an error, not a panic
    105,
    147,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let lt = LINKTYPES[usize::from(pick) % LINKTYPES.len()];
    match decode(lt, frame) {
        Ok(Decoded::Tcp(tcp)) => {
            // The payload borrows the frame: it can never be longer.
            assert!(tcp.payload.len() <= frame.len());
        }
        Ok(_) => {}
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
});
