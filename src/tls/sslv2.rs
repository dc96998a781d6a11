//! SSLv2-format records: the SSLv2 CLIENT-HELLO that old clients open with, and an
//! SSLv2 SERVER-HELLO, after which the rest of the session is SSLv2: its records are framed
//! and counted (CLIENT-MASTER-KEY, then encrypted SERVER-VERIFY, CLIENT-FINISHED,
//! SERVER-FINISHED), so a session that got through its handshake reads as established.

use super::conn::{HandshakeStage, HandshakeType, Mode, TlsConn, TlsEventKind, MAX_CERT_LEN};
use super::wire::{be16, hs};
use crate::model::{Dir, FrameNo, TimestampUs};
use crate::tls::types::{ClientHello, ServerHello};

impl TlsConn {
    pub(super) fn sslv2_record(
        &mut self,
        dir: Dir,
        body: &[u8],
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        match dir {
            Dir::ToServer => {
                self.push_history(dir, 'C');
                self.push_event(
                    dir,
                    frame,
                    ts_us,
                    TlsEventKind::Handshake(HandshakeType(hs::CLIENT_HELLO)),
                );
                self.set_stage(HandshakeStage::ClientHello);
                self.client_hello_count = self.client_hello_count.saturating_add(1);
                match parse_sslv2_client_hello(body) {
                    Ok(ch) => {
                        if self.client_hello.is_none() {
                            self.client_hello = Some(ch);
                        }
                    }
                    Err(e) => self.malformed(dir, frame, ts_us, e),
                }
            }
            Dir::ToClient => {
                self.push_history(dir, 'S');
                self.push_event(
                    dir,
                    frame,
                    ts_us,
                    TlsEventKind::Handshake(HandshakeType(hs::SERVER_HELLO)),
                );
                self.set_stage(HandshakeStage::ServerHello);
                match parse_sslv2_server_hello(body) {
                    Ok((sh, cert)) => {
                        if self.server_hello.is_none() {
                            self.server_hello = Some(sh);
                        }
                        if !cert.is_empty() {
                            // SSLv2 has no Certificate message: the SERVER-HELLO carries the
                            // certificate. Say where it arrived, as a Certificate event (no
                            // history letter: nothing else was on the wire).
                            self.push_event(
                                dir,
                                frame,
                                ts_us,
                                TlsEventKind::Handshake(HandshakeType(hs::CERTIFICATE)),
                            );
                        }
                        if self.server_cert_der.is_empty()
                            && !cert.is_empty()
                            && cert.len() <= MAX_CERT_LEN
                        {
                            self.server_cert_der.push(cert);
                        }
                        // SSLv2 was negotiated; the rest of the session is SSLv2.
                        for d in &mut self.dirs {
                            if d.mode != Mode::Stopped {
                                d.mode = Mode::Ignore;
                                d.rec_buf = Vec::new();
                                d.hs_buf = Vec::new();
                            }
                        }
                    }
                    Err(e) => self.malformed(dir, frame, ts_us, e),
                }
            }
        }
    }
}

/// SSLv2 CLIENT-MASTER-KEY message type (the client's only cleartext record after the hello).
const SSLV2_CLIENT_MASTER_KEY: u8 = 2;

impl TlsConn {
    /// An SSLv2 session's records after the SERVER-HELLO: framed by their 2-byte (high bit
    /// set) or 3-byte (padded) headers, counted, their bodies passed over. The handshake is
    /// through when the server sent SERVER-VERIFY and SERVER-FINISHED and the client its
    /// CLIENT-FINISHED between them: two encrypted records from the server, one from the
    /// client (besides its CLIENT-MASTER-KEY, absent when the session id was a hit).
    pub(super) fn sslv2_session(
        &mut self,
        dir: Dir,
        mut input: &[u8],
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let i = dir.index();
        while !input.is_empty() {
            let d = &mut self.dirs[i];
            if d.skip > 0 {
                let n = d.skip.min(input.len());
                d.skip -= n;
                input = &input[n..];
                continue;
            }
            // The header: at most 3 bytes buffered across segments.
            let need: usize = match d.rec_buf.first().or(input.first()) {
                Some(b) if b & 0x80 != 0 => 2,
                _ => 3,
            };
            let take = need.saturating_sub(d.rec_buf.len()).min(input.len());
            d.rec_buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            if d.rec_buf.len() < need {
                return;
            }
            let h = std::mem::take(&mut d.rec_buf);
            let mask = if need == 2 { 0x7f } else { 0x3f };
            let len = usize::from(h[0] & mask) << 8 | usize::from(h[1]);
            // CLIENT-MASTER-KEY: the client's first record, in the clear, its type first.
            let cleartext = dir == Dir::ToServer
                && d.sslv2_records == 0
                && input.first() == Some(&SSLV2_CLIENT_MASTER_KEY);
            d.skip = len;
            if !cleartext {
                d.sslv2_records = d.sslv2_records.saturating_add(1);
            }
            let len16 = u16::try_from(len).unwrap_or(u16::MAX);
            let kind = if cleartext {
                TlsEventKind::Handshake(HandshakeType(hs::CLIENT_KEY_EXCHANGE))
            } else if self.established {
                TlsEventKind::ApplicationData { len: len16 }
            } else {
                TlsEventKind::EncryptedHandshake { len: len16 }
            };
            self.push_event(dir, frame, ts_us, kind);
            let (c, s) = (
                self.dirs[Dir::ToServer.index()].sslv2_records,
                self.dirs[Dir::ToClient.index()].sslv2_records,
            );
            if !self.established && s >= 2 && c >= 1 {
                self.mark_established(frame, ts_us);
            }
        }
    }
}

/// SSLv2 CLIENT-HELLO (body after the 2-byte record header), as sent by clients that
/// still offer SSLv2 compatibility. Only 3-byte cipher specs with a zero first byte
/// map to TLS suites.
pub(super) fn parse_sslv2_client_hello(b: &[u8]) -> Result<ClientHello, String> {
    let (Some(version), Some(cs_len), Some(sid_len), Some(ch_len)) =
        (be16(b, 1), be16(b, 3), be16(b, 5), be16(b, 7))
    else {
        return Err("SSLv2 ClientHello is truncated".into());
    };
    let (cs_len, sid_len, ch_len) = (
        usize::from(cs_len),
        usize::from(sid_len),
        usize::from(ch_len),
    );
    let need = 9 + cs_len + sid_len + ch_len;
    if need > b.len() {
        return Err(format!(
            "SSLv2 ClientHello lengths ({cs_len}+{sid_len}+{ch_len}) exceed the {}-byte record",
            b.len()
        ));
    }
    if cs_len % 3 != 0 {
        return Err(format!(
            "SSLv2 ClientHello cipher spec length {cs_len} is not a multiple of 3"
        ));
    }
    let specs = &b[9..9 + cs_len];
    let sid = &b[9 + cs_len..9 + cs_len + sid_len];
    let challenge = &b[9 + cs_len + sid_len..need];
    Ok(ClientHello {
        version,
        record_version: 0x0002,
        sslv2_format: true,
        random: challenge.to_vec(),
        session_id: sid.to_vec(),
        ciphers: specs
            .chunks_exact(3)
            .filter(|c| c[0] == 0)
            .map(|c| u16::from_be_bytes([c[1], c[2]]))
            .collect(),
        ..Default::default()
    })
}

/// SSLv2 SERVER-HELLO: returns the hello and the certificate it carries.
pub(super) fn parse_sslv2_server_hello(b: &[u8]) -> Result<(ServerHello, Vec<u8>), String> {
    let (Some(version), Some(cert_len), Some(cs_len), Some(cid_len)) =
        (be16(b, 3), be16(b, 5), be16(b, 7), be16(b, 9))
    else {
        return Err("SSLv2 ServerHello is truncated".into());
    };
    let (cert_len, cs_len, cid_len) = (
        usize::from(cert_len),
        usize::from(cs_len),
        usize::from(cid_len),
    );
    if 11 + cert_len + cs_len + cid_len > b.len() {
        return Err(format!(
            "SSLv2 ServerHello lengths ({cert_len}+{cs_len}+{cid_len}) exceed the {}-byte record",
            b.len()
        ));
    }
    let cert = b[11..11 + cert_len].to_vec();
    // The message layout itself says SSLv2, whatever the version field holds
    // (some servers write 0x0200).
    let _ = version;
    let sh = ServerHello {
        version: 0x0002,
        ..Default::default()
    };
    Ok((sh, cert))
}
