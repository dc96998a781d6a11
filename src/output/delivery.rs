//! What a network output did with the records given to it, for `capture_stats.outputs` and
//! the closing message on stderr: every record is either delivered or counted as dropped.

use serde::Serialize;

/// One output's counters since the start of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Records the server acknowledged (Redis) or the socket accepted (syslog).
    pub delivered: u64,
    /// Records given up: queue full, server unreachable until the end, or refused by it.
    pub dropped: u64,
    /// Records still waiting in the queue when the counters were read.
    pub queued: u64,
    /// Records sent shortened to fit the output's message size limit (syslog).
    #[serde(skip_serializing_if = "is_zero")]
    pub truncated: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Delivery {
    /// Every record handed to the output.
    pub fn total(&self) -> u64 {
        self.delivered + self.dropped + self.queued
    }
}

/// The name of an output (`redis`, `syslog`) with its counters.
pub type NamedDelivery = (&'static str, Delivery);
