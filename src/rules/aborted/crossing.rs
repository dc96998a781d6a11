//! A fatal alert captured after the other side's FIN or RST is not always a reaction to it:
//! the alert may have been on its way already, crossing the close. An answer to the close
//! cannot reach the capture point sooner than one round trip from there to the alert's
//! sender and back; the TCP handshake measured that round trip. So an alert closer to the
//! close than that was sent before its sender could have seen the close.

use crate::flow::FlowRecord;
use crate::model::{Side, TimestampUs};

/// How far the alert came after the close, and the round trip it is compared with (µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Crossing {
    pub after_close_us: TimestampUs,
    pub round_trip_us: TimestampUs,
}

/// `Some` when the alert `sender` sent at `alert_ts` (after the other side's close at
/// `close_ts`) arrived sooner than any answer to the close could have. Only the server's
/// round trip is measured (the last SYN to the first SYN-ACK); a client's alert is left a
/// reaction, as is any alert when the handshake was not captured.
pub(super) fn crossed(
    flow: &FlowRecord,
    sender: Side,
    close_ts: TimestampUs,
    alert_ts: TimestampUs,
) -> Option<Crossing> {
    if sender != Side::Server {
        return None;
    }
    let round_trip_us = flow.syn_ack_ts_us?.checked_sub(flow.syn_times?.1)?;
    let after_close_us = alert_ts.checked_sub(close_ts)?;
    (round_trip_us > 0 && (0..round_trip_us).contains(&after_close_us)).then_some(Crossing {
        after_close_us,
        round_trip_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testutil::flow;

    #[test]
    fn only_an_alert_sooner_than_a_round_trip_crossed_the_close() {
        let mut f = flow();
        // SYN at 0, SYN-ACK 100 ms later.
        f.syn_times = Some((0, 0));
        f.syn_ack_ts_us = Some(100_000);
        let c = crossed(&f, Side::Server, 1_000_000, 1_073_000);
        assert_eq!(
            c,
            Some(Crossing {
                after_close_us: 73_000,
                round_trip_us: 100_000
            })
        );
        // A round trip or more later it may answer the close.
        assert_eq!(crossed(&f, Side::Server, 1_000_000, 1_100_000), None);
        // The client's round trip is not measured; an alert before the close is no crossing.
        assert_eq!(crossed(&f, Side::Client, 1_000_000, 1_001_000), None);
        assert_eq!(crossed(&f, Side::Server, 1_000_000, 999_000), None);
        // A SYN retransmitted after the SYN-ACK, or no handshake: nothing measured.
        f.syn_times = Some((0, 200_000));
        assert_eq!(crossed(&f, Side::Server, 1_000_000, 1_001_000), None);
        f.syn_times = None;
        assert_eq!(crossed(&f, Side::Server, 1_000_000, 1_001_000), None);
    }
}
