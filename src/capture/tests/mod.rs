//! The capture readers' unit tests: builders of pcap and pcapng bytes here, the tests by
//! topic in the files beside.

use super::*;
use std::io::{Cursor, Read};
use std::path::Path;

use super::pcapng::{ng_ts_us, MAX_LINKTYPE_WARNINGS, PB_MAGIC};
use super::state::Interface;
use pcap_parser::{EPB_MAGIC, SHB_MAGIC, SPB_MAGIC};

mod bad_input;
mod corpus;
mod legacy;
mod mapped;
mod pcapng;
mod robustness;

// ---- builders -------------------------------------------------------

fn u32b(v: u32, be: bool) -> [u8; 4] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn u16b(v: u16, be: bool) -> [u8; 2] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

struct Rec<'a> {
    sec: u32,
    frac: u32,
    data: &'a [u8],
    orig: u32,
}

fn rec(sec: u32, frac: u32, data: &[u8]) -> Rec<'_> {
    Rec {
        sec,
        frac,
        data,
        orig: data.len() as u32,
    }
}

fn pcap(be: bool, nanos: bool, linktype: u32, recs: &[Rec<'_>]) -> Vec<u8> {
    let magic = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut v = Vec::new();
    v.extend(u32b(magic, be));
    v.extend(u16b(2, be));
    v.extend(u16b(4, be));
    v.extend(u32b(0, be));
    v.extend(u32b(0, be));
    v.extend(u32b(65535, be));
    v.extend(u32b(linktype, be));
    for r in recs {
        v.extend(u32b(r.sec, be));
        v.extend(u32b(r.frac, be));
        v.extend(u32b(r.data.len() as u32, be));
        v.extend(u32b(r.orig, be));
        v.extend(r.data);
    }
    v
}

fn block(be: bool, block_type: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let len = body.len() as u32 + 12;
    let mut v = Vec::new();
    v.extend(u32b(block_type, be));
    v.extend(u32b(len, be));
    v.extend(body);
    v.extend(u32b(len, be));
    v
}

fn options(be: bool, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    if opts.is_empty() {
        return v;
    }
    for (code, val) in opts {
        v.extend(u16b(*code, be));
        v.extend(u16b(val.len() as u16, be));
        v.extend(*val);
        while v.len() % 4 != 0 {
            v.push(0);
        }
    }
    v.extend([0, 0, 0, 0]);
    v
}

fn shb(be: bool) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(0x1a2b_3c4d, be));
    body.extend(u16b(1, be));
    body.extend(u16b(0, be));
    body.extend([0xff; 8]);
    body.extend(options(be, &[(4, b"tlstriage-test")]));
    block(be, SHB_MAGIC, &body)
}

fn idb(be: bool, linktype: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u16b(linktype, be));
    body.extend(u16b(0, be));
    body.extend(u32b(snaplen, be));
    body.extend(options(be, opts));
    block(be, 1, &body)
}

fn epb(be: bool, if_id: u32, ts: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(if_id, be));
    body.extend(u32b((ts >> 32) as u32, be));
    body.extend(u32b(ts as u32, be));
    body.extend(u32b(data.len() as u32, be));
    body.extend(u32b(orig, be));
    body.extend(data);
    while body.len() % 4 != 0 {
        body.push(0);
    }
    body.extend(options(be, &[(1, b"a comment")]));
    block(be, EPB_MAGIC, &body)
}

fn spb(be: bool, data: &[u8], orig: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(orig, be));
    body.extend(data);
    block(be, SPB_MAGIC, &body)
}

fn obsolete_pb(be: bool, if_id: u16, ts: u64, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u16b(if_id, be));
    body.extend(u16b(0, be));
    body.extend(u32b((ts >> 32) as u32, be));
    body.extend(u32b(ts as u32, be));
    body.extend(u32b(data.len() as u32, be));
    body.extend(u32b(data.len() as u32, be));
    body.extend(data);
    block(be, PB_MAGIC, &body)
}

fn reader(bytes: Vec<u8>) -> Result<CaptureReader, CaptureError> {
    CaptureReader::from_reader(Box::new(Cursor::new(bytes)))
}

#[derive(Debug, PartialEq, Eq)]
struct Owned {
    frame: u64,
    ts_us: i64,
    linktype: u32,
    data: Vec<u8>,
    orig_len: u32,
}

fn collect(r: &mut CaptureReader) -> Result<Vec<Owned>, CaptureError> {
    let mut out = Vec::new();
    while let Some(p) = r.next_packet()? {
        out.push(Owned {
            frame: p.frame,
            ts_us: p.ts_us,
            linktype: p.linktype,
            data: p.data.to_vec(),
            orig_len: p.orig_len,
        });
    }
    Ok(out)
}

fn read_all(bytes: Vec<u8>) -> Result<Vec<Owned>, CaptureError> {
    collect(&mut reader(bytes)?)
}

/// Returns at most a few bytes per read, like a pipe under load.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step = self.step % 7 + 1;
        let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
