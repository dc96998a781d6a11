//! `live --write-pcap`: the recent packets of each open flow, written out when the flow
//! finishes with a finding.

use std::collections::{HashMap, VecDeque};

use anyhow::{Context, Result};

use super::{RING_MAX_TOTAL_BYTES, RING_PACKETS_PER_FLOW};
use crate::decode::{decode, Decoded};
use crate::flow::{Endpoint, FlowRecord};
use crate::model::TimestampUs;

pub type RingKey = ((std::net::IpAddr, u16), (std::net::IpAddr, u16));

pub fn ring_key(a: (std::net::IpAddr, u16), b: (std::net::IpAddr, u16)) -> RingKey {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

#[derive(Default)]
struct Ring {
    packets: VecDeque<(pcap::PacketHeader, Vec<u8>)>,
    bytes: usize,
    last_us: TimestampUs,
}

/// `--write-pcap`: the recent packets of each open flow, written out when the flow
/// finishes with a finding.
pub struct FlowRings {
    linktype: u32,
    rings: HashMap<RingKey, Ring>,
    pub total_bytes: usize,
    file: pcap::Savefile,
    pub written_flows: u64,
}

impl FlowRings {
    pub fn record(&mut self, header: &pcap::PacketHeader, data: &[u8], ts_us: TimestampUs) {
        let Ok(Decoded::Tcp(t)) = decode(self.linktype, data) else {
            return;
        };
        let ring = self
            .rings
            .entry(ring_key((t.src, t.sport), (t.dst, t.dport)))
            .or_default();
        ring.last_us = ts_us;
        ring.bytes += data.len();
        self.total_bytes += data.len();
        ring.packets.push_back((*header, data.to_vec()));
        if ring.packets.len() > RING_PACKETS_PER_FLOW {
            if let Some((_, old)) = ring.packets.pop_front() {
                ring.bytes -= old.len();
                self.total_bytes -= old.len();
            }
        }
        while self.total_bytes > RING_MAX_TOTAL_BYTES {
            let Some(key) = self
                .rings
                .iter()
                .min_by_key(|(_, r)| r.last_us)
                .map(|(k, _)| *k)
            else {
                break;
            };
            self.drop_ring(&key);
        }
    }

    fn drop_ring(&mut self, key: &RingKey) -> Option<Ring> {
        let ring = self.rings.remove(key)?;
        self.total_bytes -= ring.bytes;
        Some(ring)
    }

    pub fn new(linktype: u32, file: pcap::Savefile) -> Self {
        FlowRings {
            linktype,
            rings: HashMap::new(),
            total_bytes: 0,
            file,
            written_flows: 0,
        }
    }

    /// The ring of a flow.
    pub fn key(flow: &FlowRecord) -> RingKey {
        let ep = |e: &Endpoint| (e.ip, e.port);
        ring_key(ep(&flow.client), ep(&flow.server))
    }

    /// A flow finished: write its packets if it has a finding worth opening.
    pub fn finished(&mut self, key: RingKey, keep: bool) -> Result<()> {
        let Some(ring) = self.drop_ring(&key) else {
            return Ok(());
        };
        if keep {
            for (header, data) in &ring.packets {
                self.file.write(&pcap::Packet {
                    header,
                    data: data.as_slice(),
                });
            }
            self.file.flush().context("writing --write-pcap file")?;
            self.written_flows += 1;
        }
        Ok(())
    }

    /// Forget rings of flows quiet for longer than `idle_us` (late packets of
    /// finished connections).
    pub fn expire(&mut self, now_us: TimestampUs, idle_us: i64) {
        let stale: Vec<RingKey> = self
            .rings
            .iter()
            .filter(|(_, r)| now_us.saturating_sub(r.last_us) > idle_us)
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            self.drop_ring(&k);
        }
    }
}
