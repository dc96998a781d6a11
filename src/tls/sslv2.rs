//! SSLv2-format records: the SSLv2 CLIENT-HELLO that old clients open with, and an
//! SSLv2 SERVER-HELLO, after which the rest of the session is SSLv2 and not analysed.

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
