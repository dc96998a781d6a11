//! A pcap (Ethernet, IPv4) of one TCP connection with correct framing: whatever bytes a
//! side sends go out as segments whose seq / ack / checksums a real stack would write, so
//! the analyzer reassembles them instead of stopping at the TCP layer.

use libfuzzer_sys::arbitrary::{Result, Unstructured};

pub const SYN: u8 = 0x02;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// Keeps a generated capture bounded whatever the input asks for.
const MAX_PACKETS: usize = 4096;

pub struct Wire {
    pub out: Vec<u8>,
    ts_us: u64,
    ip_id: u16,
    packets: usize,
    /// [client, server]: address, port, next sequence number to send.
    addr: [[u8; 4]; 2],
    port: [u16; 2],
    next: [u32; 2],
    /// Whether each side has seen the other's SYN (only then does it ACK).
    acking: [bool; 2],
}

impl Wire {
    pub fn new(u: &mut Unstructured<'_>) -> Result<Self> {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        let server_port = *u.choose(&[443u16, 443, 8443, 993, 465, 853, 5061, 4433])?;
        let server_port = if u.ratio(1, 16)? {
            u.arbitrary()?
        } else {
            server_port
        };
        Ok(Wire {
            out,
            ts_us: 1_700_000_000_000_000 + u64::from(u.arbitrary::<u16>()?),
            ip_id: 1,
            packets: 0,
            addr: [[127, 0, 0, 1], [127, 0, 0, u.int_in_range(1..=254)?]],
            port: [u.int_in_range(1024..=65535)?, server_port],
            next: [u.arbitrary()?, u.arbitrary()?],
            acking: [false; 2],
        })
    }

    pub fn full(&self) -> bool {
        self.packets >= MAX_PACKETS
    }

    /// Time passes: a little, usually; now and then long enough for a timeout rule.
    pub fn wait(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let step = if u.ratio(1, 32)? {
            u.int_in_range(1_000_000..=120_000_000)?
        } else {
            u.int_in_range(0..=50_000)?
        };
        self.ts_us += step;
        Ok(())
    }

    /// One segment from `side` (0 = client) with the sequence number it has reached.
    pub fn send(&mut self, side: usize, flags: u8, payload: &[u8]) {
        let seq = self.next[side];
        self.segment(side, seq, flags, payload);
        let len = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        self.next[side] = seq.wrapping_add(len);
        if flags & SYN != 0 {
            self.acking[1 - side] = true;
        }
    }

    /// The same bytes again (a retransmission) from an earlier sequence number.
    pub fn resend(&mut self, side: usize, seq: u32, payload: &[u8]) {
        self.segment(side, seq, ACK | PSH, payload);
    }

    /// `bytes` from `side`, cut into segments of sizes the input picks; sometimes one is
    /// sent twice or two arrive swapped, and the peer ACKs what it got.
    pub fn stream(&mut self, u: &mut Unstructured<'_>, side: usize, bytes: &[u8]) -> Result<()> {
        let mss = if u.ratio(1, 8)? { 16_384 } else { 1460 };
        let mut rest = bytes;
        while !rest.is_empty() && !self.full() {
            let want = if u.is_empty() {
                mss
            } else {
                u.int_in_range(1..=mss)?
            };
            let (seg, tail) = rest.split_at(want.min(rest.len()));
            rest = tail;
            if !tail.is_empty() && u.ratio(1, 32)? {
                // The next segment overtakes this one.
                let (seg2, tail2) = tail.split_at(want.min(tail.len()));
                rest = tail2;
                let seq = self.next[side];
                let seq2 = seq.wrapping_add(seg.len() as u32);
                self.segment(side, seq2, ACK | PSH, seg2);
                self.segment(side, seq, ACK | PSH, seg);
                self.next[side] = seq2.wrapping_add(seg2.len() as u32);
            } else {
                let seq = self.next[side];
                self.send(side, ACK | PSH, seg);
                if u.ratio(1, 32)? {
                    self.resend(side, seq, seg);
                }
            }
            self.wait(u)?;
            if u.ratio(1, 3)? {
                self.send(1 - side, ACK, &[]);
            }
        }
        Ok(())
    }

    fn segment(&mut self, side: usize, seq: u32, flags: u8, payload: &[u8]) {
        if self.full() {
            return;
        }
        self.packets += 1;
        let (src, dst) = (self.addr[side], self.addr[1 - side]);
        let ack = if self.acking[side] {
            self.next[1 - side]
        } else {
            0
        };
        let flags = if self.acking[side] {
            flags | ACK
        } else {
            flags & !ACK
        };
        let mut tcp = Vec::with_capacity(24 + payload.len());
        tcp.extend_from_slice(&self.port[side].to_be_bytes());
        tcp.extend_from_slice(&self.port[1 - side].to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        let syn = flags & SYN != 0;
        tcp.push(if syn { 0x60 } else { 0x50 });
        tcp.push(flags);
        tcp.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        if syn {
            tcp.extend_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
        }
        tcp.extend_from_slice(payload);
        let tcp_len = tcp.len();
        let mut pseudo = Vec::with_capacity(12);
        pseudo.extend_from_slice(&src);
        pseudo.extend_from_slice(&dst);
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&(tcp_len as u16).to_be_bytes());
        let sum = !fold(sum16(&tcp, sum16(&pseudo, 0)));
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());

        let total = (20 + tcp_len) as u16;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&self.ip_id.to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let sum = !fold(sum16(&ip, 0));
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        self.ip_id = self.ip_id.wrapping_add(1);

        let frame_len = 14 + ip.len() + tcp_len;
        let (sec, usec) = (self.ts_us / 1_000_000, self.ts_us % 1_000_000);
        self.out.extend_from_slice(&(sec as u32).to_le_bytes());
        self.out.extend_from_slice(&(usec as u32).to_le_bytes());
        self.out
            .extend_from_slice(&(frame_len as u32).to_le_bytes());
        self.out
            .extend_from_slice(&(frame_len as u32).to_le_bytes());
        let mac = |s: usize| [2, 0, 0, 0, 0, s as u8 + 1];
        self.out.extend_from_slice(&mac(1 - side));
        self.out.extend_from_slice(&mac(side));
        self.out.extend_from_slice(&[0x08, 0x00]);
        self.out.extend_from_slice(&ip);
        self.out.extend_from_slice(&tcp);
    }
}

fn sum16(bytes: &[u8], mut acc: u32) -> u32 {
    for pair in bytes.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        acc += hi | pair.get(1).map_or(0, |&b| u32::from(b));
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}
