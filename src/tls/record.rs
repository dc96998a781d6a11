//! Record layer: framing of records (TLS and SSLv2-format) out of one direction's byte
//! stream, per-direction reassembly of split records, resynchronisation after a gap, and
//! the records that are not handshake messages (ChangeCipherSpec, alerts, heartbeats).

use std::mem;

use super::conn::{HandshakeStage, Mode, TlsConn, TlsEventKind, MAX_RECORD_LEN};
use super::handshake::plausible_handshake_header;
use super::names;
use super::wire::{be16, ct, hex, sslv2};
use crate::model::{Dir, FrameNo, TimestampUs};

/// Result of looking at the start of a record.
pub(super) enum Framing {
    /// Not enough bytes yet to decide.
    NeedMore,
    /// A record of this total size (header included).
    Record {
        total: usize,
        sslv2: bool,
    },
    NotTls(String),
}

/// Record header of a (resynchronisation) candidate that could plausibly be TLS.
pub(super) fn plausible_header(h: &[u8]) -> bool {
    match (h.first(), be16(h, 1), be16(h, 3)) {
        (Some(&content_type), Some(ver), Some(len)) => {
            (ct::CHANGE_CIPHER_SPEC..=ct::HEARTBEAT).contains(&content_type)
                && (0x0300..=0x0304).contains(&ver)
                && usize::from(len) <= MAX_RECORD_LEN
        }
        _ => false,
    }
}

impl TlsConn {
    /// Feed the next bytes of one direction, in stream order.
    pub fn feed(&mut self, dir: Dir, data: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        let i = dir.index();
        let mut input = data;
        loop {
            match self.dirs[i].mode {
                Mode::Stopped => return,
                Mode::Ignore => return self.sslv2_session(dir, input, frame, ts_us),
                Mode::Resync => {
                    input = self.resync(i, input);
                    if self.dirs[i].mode == Mode::Resync {
                        return;
                    }
                }
                Mode::Records => {}
            }
            if self.dirs[i].skip > 0 {
                let n = self.dirs[i].skip.min(input.len());
                self.dirs[i].skip -= n;
                input = &input[n..];
                if self.dirs[i].skip > 0 {
                    return;
                }
                let len = self.dirs[i].skip_len;
                self.skipped_app_data(dir, len, frame, ts_us);
                continue;
            }
            if !self.dirs[i].rec_buf.is_empty() {
                // Complete the buffered record with as few bytes as it needs.
                let total = loop {
                    match self.framing(dir, &self.dirs[i].rec_buf) {
                        Framing::NeedMore => {
                            let have = self.dirs[i].rec_buf.len();
                            let take = 5usize.saturating_sub(have).min(input.len());
                            if take == 0 {
                                return;
                            }
                            self.dirs[i].rec_buf.extend_from_slice(&input[..take]);
                            input = &input[take..];
                        }
                        Framing::NotTls(reason) => {
                            self.stop(dir, frame, ts_us, reason);
                            return;
                        }
                        Framing::Record { total, sslv2 } => break (total, sslv2),
                    }
                };
                let (total, sslv2) = total;
                let have = self.dirs[i].rec_buf.len();
                if !sslv2
                    && self.dirs[i].rec_buf.first() == Some(&ct::APPLICATION_DATA)
                    && !self.decrypt_wants(dir, total.saturating_sub(5))
                {
                    // Application data: only the length is needed; pass over the body.
                    let d = &mut self.dirs[i];
                    d.rec_buf.clear();
                    d.skip = total.saturating_sub(have);
                    d.skip_len = total.saturating_sub(5);
                    if d.skip == 0 {
                        // An empty record whose header was split: nothing left to skip,
                        // so the skip path above would never count it.
                        self.skipped_app_data(dir, 0, frame, ts_us);
                    }
                    continue;
                }
                let take = total.saturating_sub(have).min(input.len());
                self.dirs[i].rec_buf.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.dirs[i].rec_buf.len() < total {
                    return;
                }
                let mut rec = mem::take(&mut self.dirs[i].rec_buf);
                self.record(dir, &rec, sslv2, frame, ts_us);
                // Keep the buffer's allocation for the next split record.
                let d = &mut self.dirs[i];
                if d.mode == Mode::Records && d.rec_buf.is_empty() {
                    rec.clear();
                    d.rec_buf = rec;
                }
                continue;
            }
            if input.is_empty() {
                return;
            }
            match self.framing(dir, input) {
                Framing::NeedMore => {
                    self.dirs[i].rec_buf.extend_from_slice(input);
                    return;
                }
                Framing::NotTls(reason) => {
                    self.stop(dir, frame, ts_us, reason);
                    return;
                }
                Framing::Record { total, sslv2 } => {
                    if input.len() < total
                        && !sslv2
                        && input[0] == ct::APPLICATION_DATA
                        && !self.decrypt_wants(dir, total - 5)
                    {
                        // Application data split over segments: skip its body.
                        let d = &mut self.dirs[i];
                        d.skip = total - input.len();
                        d.skip_len = total - 5;
                        return;
                    }
                    if input.len() < total {
                        self.dirs[i].rec_buf.extend_from_slice(input);
                        return;
                    }
                    let (rec, rest) = input.split_at(total);
                    self.record(dir, rec, sslv2, frame, ts_us);
                    input = rest;
                }
            }
        }
    }

    /// Bytes were lost in this direction: forget partial state and resynchronise on
    /// the next plausible record header.
    pub fn gap(&mut self, dir: Dir, _frame: FrameNo, _ts_us: TimestampUs) {
        // The sender's ChangeCipherSpec is due once it sent its key exchange (or, when
        // resuming, once the ServerHello is out). The ServerHello may not have been
        // processed yet if the server's stream is itself held up by a gap.
        let ccs_due = (self.server_hello.is_some() || self.dirs[dir.index()].full_handshake)
            && !self.tls13_context();
        let d = &mut self.dirs[dir.index()];
        if ccs_due && !d.encrypted {
            d.ccs_maybe_lost = true;
        }
        d.rec_buf.clear();
        d.hs_buf.clear();
        d.skip = 0;
        if d.mode == Mode::Records {
            d.mode = Mode::Resync;
        }
    }

    /// Skip to the next plausible record header. `rec_buf` carries at most 4 bytes
    /// between calls so a header split across chunks is still found.
    pub(super) fn resync<'a>(&mut self, i: usize, input: &'a [u8]) -> &'a [u8] {
        let d = &mut self.dirs[i];
        let carry = mem::take(&mut d.rec_buf);
        for start in 0..carry.len() {
            let mut cand = carry[start..].to_vec();
            let need = 5usize.saturating_sub(cand.len()).min(input.len());
            cand.extend_from_slice(&input[..need]);
            if cand.len() < 5 {
                d.rec_buf = cand;
                return &[];
            }
            if plausible_header(&cand) {
                d.mode = Mode::Records;
                d.rec_buf = carry[start..].to_vec();
                return input;
            }
        }
        for start in 0..input.len() {
            let cand = &input[start..];
            if cand.len() < 5 {
                d.rec_buf = cand.to_vec();
                return &[];
            }
            if plausible_header(cand) {
                d.mode = Mode::Records;
                return cand;
            }
        }
        &[]
    }

    pub(super) fn framing(&self, dir: Dir, b: &[u8]) -> Framing {
        if b.len() < 5 {
            return Framing::NeedMore;
        }
        let d = &self.dirs[dir.index()];
        let content_type = b[0];
        // SSLv2-format hellos only open a stream: a 2-byte header with the high bit set.
        if d.records == 0 && content_type & 0x80 != 0 {
            let msg_type = b[2];
            let v2_version = be16(b, 3).unwrap_or(0);
            let ok = match dir {
                Dir::ToServer => {
                    msg_type == sslv2::CLIENT_HELLO
                        && (v2_version == 0x0002 || (v2_version >> 8) == 0x03)
                }
                Dir::ToClient => msg_type == sslv2::SERVER_HELLO,
            };
            let len = (usize::from(content_type & 0x7f) << 8) | usize::from(b[1]);
            if ok && len >= 3 {
                let len = (usize::from(content_type & 0x7f) << 8) | usize::from(b[1]);
                return Framing::Record {
                    total: 2 + len,
                    sslv2: true,
                };
            }
        }
        let hdr = match tls_parser::parse_tls_record_header(b) {
            Ok((_, h)) => h,
            Err(_) => return Framing::NeedMore,
        };
        let version = hdr.version.0;
        let len = usize::from(hdr.len);
        // Only built for a header that is refused: this runs on every record.
        let head = || hex(&b[..5], " ");
        if !(ct::CHANGE_CIPHER_SPEC..=ct::HEARTBEAT).contains(&content_type) {
            return Framing::NotTls(format!(
                "record header {} is not TLS (content type 0x{content_type:02x})",
                head()
            ));
        }
        if (version >> 8) != 0x03 && (version >> 8) != 0x7f {
            return Framing::NotTls(format!(
                "record header {} is not TLS (version 0x{version:04x})",
                head()
            ));
        }
        if len > MAX_RECORD_LEN {
            return Framing::NotTls(format!(
                "record header {} claims {len} bytes, more than the {MAX_RECORD_LEN} TLS allows",
                head()
            ));
        }
        Framing::Record {
            total: 5 + len,
            sslv2: false,
        }
    }

    pub(super) fn record(
        &mut self,
        dir: Dir,
        rec: &[u8],
        sslv2: bool,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let i = dir.index();
        self.dirs[i].records += 1;
        if sslv2 {
            self.sslv2_record(dir, rec.get(2..).unwrap_or_default(), frame, ts_us);
            return;
        }
        let (Some(&content_type), Some(body)) = (rec.first(), rec.get(5..)) else {
            return;
        };
        if self.decrypt_record(dir, rec, frame, ts_us) {
            return;
        }
        let version = be16(rec, 1).unwrap_or(0);
        let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
        self.pending_handshake_check(dir, content_type, frame, ts_us);
        match content_type {
            ct::CHANGE_CIPHER_SPEC => self.change_cipher_spec(dir, body, frame, ts_us),
            ct::ALERT => self.alert(dir, body, frame, ts_us),
            ct::HANDSHAKE => {
                if self.dirs[i].ccs_maybe_lost
                    && !self.dirs[i].encrypted
                    && self.dirs[i].hs_buf.is_empty()
                    && !plausible_handshake_header(body)
                {
                    // The ChangeCipherSpec was in the gap: this record is the encrypted
                    // Finished, not a plaintext message with a nonsensical header.
                    self.dirs[i].ccs = true;
                    self.dirs[i].encrypted = true;
                }
                if self.dirs[i].encrypted {
                    self.push_event(dir, frame, ts_us, TlsEventKind::EncryptedHandshake { len });
                    self.dirs[i].finished = true;
                    self.set_stage(HandshakeStage::Finished);
                    self.check_established_tls12(frame, ts_us);
                } else {
                    self.handshake_bytes(dir, body, version, frame, ts_us);
                }
            }
            ct::APPLICATION_DATA => self.application_data(dir, len, frame, ts_us),
            _ => self.heartbeat(dir, body, frame, ts_us),
        }
    }

    /// An application-data record whose body was skipped (see `DirState::skip`): the same
    /// as [`TlsConn::record`] does for one, from its length alone.
    pub(super) fn skipped_app_data(
        &mut self,
        dir: Dir,
        body_len: usize,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        self.dirs[dir.index()].records += 1;
        self.decrypt_skipped(dir);
        self.pending_handshake_check(dir, ct::APPLICATION_DATA, frame, ts_us);
        let len = u16::try_from(body_len).unwrap_or(u16::MAX);
        self.application_data(dir, len, frame, ts_us);
    }

    pub(super) fn change_cipher_spec(
        &mut self,
        dir: Dir,
        body: &[u8],
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        self.push_event(dir, frame, ts_us, TlsEventKind::ChangeCipherSpec);
        self.push_history(dir, 'I');
        // In TLS 1.3 the ChangeCipherSpec is a middlebox-compatibility no-op, not a step.
        if !self.tls13_context() {
            self.set_stage(HandshakeStage::ChangeCipherSpec);
        }
        if body != [1] {
            self.malformed(
                dir,
                frame,
                ts_us,
                format!(
                    "ChangeCipherSpec record is {} bytes, expected the single byte 01",
                    body.len()
                ),
            );
        }
        if !self.tls13_context() {
            // An abbreviated (resumed) handshake is the one where the server changes
            // keys first, with no full-handshake message from either side in between.
            if dir == Dir::ToClient
                && self.server_hello.is_some()
                && !self.dirs.iter().any(|d| d.ccs || d.full_handshake)
            {
                self.resumed = true;
            }
            self.dirs[dir.index()].encrypted = true;
        }
        self.dirs[dir.index()].ccs = true;
    }

    pub(super) fn check_established_tls12(&mut self, frame: FrameNo, ts_us: TimestampUs) {
        let both = self.dirs.iter().all(|d| d.ccs && d.finished);
        if both {
            self.mark_established(frame, ts_us);
        }
    }

    /// The negotiated suite encrypts nothing (`TLS_*_WITH_NULL_*`): after ChangeCipherSpec a
    /// record is its plaintext followed by the MAC.
    fn null_cipher_mac_len(&self) -> Option<usize> {
        let cipher = self.server_hello.as_ref()?.cipher;
        let name = names::cipher_name(cipher);
        if !name.contains("_WITH_NULL_") {
            return None;
        }
        [("_MD5", 16), ("_SHA", 20), ("_SHA256", 32), ("_SHA384", 48)]
            .into_iter()
            .find(|(suffix, _)| name.ends_with(suffix))
            .map(|(_, len)| len)
    }

    pub(super) fn alert(&mut self, dir: Dir, body: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        let encrypted = self.dirs[dir.index()].encrypted;
        // Under a NULL cipher the alert is in the clear before its MAC (tshark reads it).
        let body = match (encrypted, self.null_cipher_mac_len()) {
            (true, Some(mac)) if body.len() == 2 + mac => &body[..2],
            _ => body,
        };
        let readable = !encrypted || body.len() == 2 && self.null_cipher_mac_len().is_some();
        match body {
            [level, description] if readable => {
                self.push_history(dir, 'L');
                let kind = TlsEventKind::Alert {
                    level: *level,
                    description: *description,
                };
                self.push_event(dir, frame, ts_us, kind);
            }
            _ => {
                // Zeek cannot see encrypted alerts after the handshake (its history of a
                // normal session ends "...Ii"), so only handshake-time ones get a letter.
                if !self.established {
                    self.push_history(dir, 'L');
                }
                let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
                self.push_event(dir, frame, ts_us, TlsEventKind::EncryptedAlert { len });
            }
        }
    }

    pub(super) fn heartbeat(&mut self, dir: Dir, body: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        self.push_history(dir, 'B');
        let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
        let encrypted = self.dirs[dir.index()].encrypted || self.established;
        let payload_len_claimed = if encrypted {
            0
        } else {
            be16(body, 1).unwrap_or(0)
        };
        self.push_event(
            dir,
            frame,
            ts_us,
            TlsEventKind::Heartbeat {
                len,
                payload_len_claimed,
            },
        );
    }
}
