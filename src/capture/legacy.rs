//! Classic (libpcap) capture records.

use pcap_parser::LegacyPcapBlock;

use super::state::{Found, State, Step};

/// A record of a classic pcap: the next frame.
pub(super) fn record(rec: &LegacyPcapBlock<'_>, len: usize, st: &mut State) -> Step {
    let frame = st.next_frame();
    let frac = if st.nanos {
        rec.ts_usec / 1000
    } else {
        rec.ts_usec
    };
    let ts_us = i64::from(rec.ts_sec)
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(frac));
    let start = st.record_header_len;
    Step::Packet(
        len,
        Found {
            frame,
            ts_us,
            linktype: st.linktype,
            orig_len: rec.origlen,
            start,
            end: start.saturating_add(rec.data.len()),
        },
    )
}
