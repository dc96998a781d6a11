//! TLS stage: record layer and handshake state machine for one connection
//! (built on tls-parser), plus the parsed facts and names shared with later stages.

pub mod cert;
mod conn;
mod decrypt;
mod decrypted;
mod handshake;
mod hello;
pub mod names;
mod record;
mod sslv2;
mod tls13;
pub mod types;
pub(crate) mod wire;

pub use conn::{
    HandshakeStage, HandshakeType, Malformed, StapledOcsp, TlsConn, TlsEvent, TlsEventKind,
    HRR_RANDOM, MAX_APP_DATA_EVENTS_PER_DIR, MAX_CERTS, MAX_CERT_LEN, MAX_EVENTS,
    MAX_HANDSHAKE_LEN, MAX_RECORD_LEN, MAX_STAPLE_LEN,
};

#[cfg(test)]
mod tests;
