//! tlstriage: a passive TLS troubleshooting analyzer.
//!
//! Data flows one way through the pipeline stages:
//! [`capture`] (pcap/pcapng frames) -> [`decode`] (link/IP/TCP) ->
//! [`flow`] (per-connection state, using [`tcp`] reassembly and the [`cleartext`]
//! protocol sniffers) -> [`tls`] (record/handshake state machine) ->
//! [`rules`] (findings, with [`trust`] deciding certificate chains) -> [`output`] (NDJSON,
//! human summary).
// No unsafe code, except in one place allowed by name: `capture/mapped.rs`, which maps
// capture files (memmap2's `Mmap::map` is unsafe because another process could change the
// file under the map).
#![deny(unsafe_code)]

pub mod bounded;
pub mod capture;
pub mod cleartext;
pub mod cli;
pub mod community_id;
pub mod config;
pub mod decode;
pub mod explain;
pub mod filter;
pub mod fingerprint;
pub mod flow;
pub mod keylog;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod rules;
pub mod tcp;
pub mod tls;
pub mod trust;
