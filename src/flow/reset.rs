//! A flow one side reset is not over yet for the other side: what it had already sent when
//! the RST left (a fatal alert, its FIN) crosses the RST on the wire and is captured after
//! it. So the other direction is read on until it closes too (FIN or RST) or for a grace
//! period of capture time, and only then is the flow finished.

use super::TcpEvent;
use crate::model::TimestampUs;

/// How long after a RST the other side's segments still belong to the flow. A few round
/// trips of a slow path; bounded, so a reset flow whose peer stays silent does not stay open
/// until the idle timeout.
pub(super) const RESET_GRACE_US: TimestampUs = 3_000_000;

/// The first RST of the flow: its sender's direction index and the event.
pub(super) fn first_reset(rst: &[Option<TcpEvent>; 2]) -> Option<(usize, TcpEvent)> {
    (0..2)
        .filter_map(|d| rst[d].map(|e| (d, e)))
        .min_by_key(|(_, e)| e.frame)
}

/// True when a reset flow has nothing more to come: the other side closed too (FIN or RST),
/// or the grace period after the RST is over at `now`.
pub(super) fn reset_over(
    rst: &[Option<TcpEvent>; 2],
    fin: &[Option<TcpEvent>; 2],
    now: TimestampUs,
) -> bool {
    first_reset(rst).is_some_and(|(d, e)| {
        let other = 1 - d;
        rst[other].is_some() || fin[other].is_some() || grace_over(e, now)
    })
}

/// True when `now` is past the grace period that followed the RST `e`.
pub(super) fn grace_over(e: TcpEvent, now: TimestampUs) -> bool {
    now.saturating_sub(e.ts_us) > RESET_GRACE_US
}

/// The idle-queue time that makes a reset flow come due when its grace period ends (the
/// queue finishes entries older than the idle timeout).
pub(super) fn due_at(e: TcpEvent, idle_timeout_us: TimestampUs) -> TimestampUs {
    e.ts_us
        .saturating_add(RESET_GRACE_US)
        .saturating_sub(idle_timeout_us)
}

/// True when payload from direction `d` is to be read: not once that side reset the flow
/// (a stack that sent a RST has forgotten the connection; later bytes are no message).
pub(super) fn reads(rst: &[Option<TcpEvent>; 2], d: usize) -> bool {
    rst[d].is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(frame: u64, ts_us: i64) -> Option<TcpEvent> {
        Some(TcpEvent {
            frame,
            ts_us,
            ttl: 64,
        })
    }

    #[test]
    fn a_reset_flow_waits_for_the_other_side_or_the_grace_period() {
        let none = [None, None];
        // Client (0) reset at 1 s: open while the server may still send.
        let rst = [ev(5, 1_000_000), None];
        assert!(!reset_over(&rst, &none, 1_500_000));
        assert!(!reset_over(&rst, &none, 1_000_000 + RESET_GRACE_US));
        assert!(reset_over(&rst, &none, 1_000_001 + RESET_GRACE_US));
        // The server's FIN or RST ends it at once.
        assert!(reset_over(&rst, &[None, ev(10, 1_200_000)], 1_200_000));
        assert!(reset_over(
            &[ev(5, 1_000_000), ev(9, 1_100_000)],
            &none,
            1_100_000
        ));
        // A FIN of the resetting side itself does not.
        assert!(!reset_over(&rst, &[ev(4, 900_000), None], 1_200_000));
        assert!(!reset_over(&none, &none, i64::MAX));
    }

    #[test]
    fn the_first_reset_decides_and_its_side_is_no_longer_read() {
        let rst = [ev(9, 2_000), ev(5, 1_000)];
        assert_eq!(first_reset(&rst).map(|(d, e)| (d, e.frame)), Some((1, 5)));
        assert!(!reads(&rst, 0) && !reads(&rst, 1));
        assert!(reads(&[None, ev(5, 1_000)], 0));
        let e = rst[1].unwrap();
        assert_eq!(due_at(e, 120_000_000), 1_000 + RESET_GRACE_US - 120_000_000);
        assert!(grace_over(e, 1_001 + RESET_GRACE_US) && !grace_over(e, 1_000 + RESET_GRACE_US));
    }
}
