//! Protected records opened with a key log's secrets, fed to the same handshake and alert
//! paths as records in the clear: TLS 1.3's encrypted flights (so its certificates reach
//! every certificate rule), and alerts and Finished of either version.
//!
//! The decryptor is created at the connection's first protected record (not at the
//! ServerHello: a TLS 1.2 client logs its CLIENT_RANDOM line only once it has the master
//! secret, which matters when `live` follows a key log being written). A record the
//! decryptor does not want, or that fails, goes down the inference path as without keys.

use std::mem;
use std::sync::Arc;

use super::conn::{HandshakeStage, TlsConn, TlsEventKind};
use super::decrypt::{Active, DecryptState, Decryptor, OpenError};
use super::wire::{be16, be24, ct, ext, hs};
use crate::keylog::KeyStore;
use crate::model::{Dir, FrameNo, TimestampUs};
use crate::tls::conn::{MAX_CERTS, MAX_CERT_LEN};
use crate::tls::names;

impl TlsConn {
    /// A connection that decrypts with `keys` whatever they hold for its session.
    pub fn with_keys(keys: Arc<KeyStore>) -> Self {
        TlsConn {
            keys: Some(keys),
            ..TlsConn::default()
        }
    }

    /// True when at least one record was opened with the key log's secrets.
    pub fn decrypted(&self) -> bool {
        self.decrypted
    }

    /// Keys are not kept past the connection (called from [`TlsConn::finish`]).
    pub(super) fn drop_keys(&mut self) {
        self.decrypt = DecryptState::Unavailable;
        self.keys = None;
    }

    /// Is a record of this content type protected with the traffic keys?
    fn protected(&self, dir: Dir, content_type: u8) -> bool {
        if self.tls13_negotiated() {
            return content_type == ct::APPLICATION_DATA;
        }
        self.dirs[dir.index()].encrypted
            && matches!(
                content_type,
                ct::HANDSHAKE | ct::ALERT | ct::APPLICATION_DATA | ct::HEARTBEAT
            )
    }

    fn decryptor(&mut self) -> Option<&mut Active> {
        if matches!(self.decrypt, DecryptState::Pending) {
            self.decrypt = match self.new_decryptor() {
                Some(decryptor) => DecryptState::Active(Box::new(Active::new(decryptor))),
                None => DecryptState::Unavailable,
            };
        }
        match &mut self.decrypt {
            DecryptState::Active(a) => Some(a),
            _ => None,
        }
    }

    fn new_decryptor(&mut self) -> Option<Decryptor> {
        let keys = self.keys.as_ref()?;
        let (ch, sh) = (self.client_hello.as_ref()?, self.server_hello.as_ref()?);
        let secrets = keys.lookup(&ch.random)?;
        let decryptor = if self.tls13_negotiated() {
            Decryptor::tls13(sh.cipher, &secrets)
        } else if sh.negotiated_version() == 0x0303 {
            let etm = sh.extensions.contains(&ext::ENCRYPT_THEN_MAC);
            Decryptor::tls12(sh.cipher, &ch.random, &sh.random, etm, &secrets)
        } else {
            None
        };
        if decryptor.is_none() {
            self.decryption_error = Some(format!(
                "the key log has secrets for this session, but not the ones {} with {} needs, or that suite is not decrypted",
                names::version_name(sh.negotiated_version()),
                names::cipher_name(sh.cipher)
            ));
        }
        decryptor
    }

    /// Should an application-data record of `body_len` bytes be buffered whole to be
    /// opened, instead of passed over?
    pub(super) fn decrypt_wants(&mut self, dir: Dir, body_len: usize) -> bool {
        if self.keys.is_none() || !self.protected(dir, ct::APPLICATION_DATA) {
            return false;
        }
        self.decryptor()
            .is_some_and(|a| a.decryptor.wants(dir, ct::APPLICATION_DATA, body_len))
    }

    /// An application-data record passed over still takes its sequence number.
    pub(super) fn decrypt_skipped(&mut self, dir: Dir) {
        if self.keys.is_none() || !self.protected(dir, ct::APPLICATION_DATA) {
            return;
        }
        if let Some(a) = self.decryptor() {
            if a.decryptor.active(dir) {
                a.decryptor.skip(dir);
            }
        }
    }

    /// Opens a complete protected record and processes its plaintext; `false` when the
    /// record is left to the inference path (not wanted, no keys, or it failed).
    pub(super) fn decrypt_record(
        &mut self,
        dir: Dir,
        rec: &[u8],
        frame: FrameNo,
        ts_us: TimestampUs,
    ) -> bool {
        if self.keys.is_none() {
            return false;
        }
        let (Some(&content_type), Some(header), Some(body)) =
            (rec.first(), rec.get(..5), rec.get(5..))
        else {
            return false;
        };
        if !self.protected(dir, content_type) {
            return false;
        }
        let Some(active) = self.decryptor() else {
            return false;
        };
        if !active.decryptor.active(dir) {
            return false;
        }
        if !active.decryptor.wants(dir, content_type, body.len()) {
            active.decryptor.skip(dir);
            return false;
        }
        let header: [u8; 5] = header.try_into().unwrap_or_default();
        let mut buf = mem::take(&mut active.buf);
        let opened = active.decryptor.open(dir, &header, body, &mut buf);
        let tls13 = active.decryptor.is_tls13();
        let opened = match opened {
            Ok(o) => o,
            Err(e) => {
                self.put_back(buf);
                self.decryption_failed(dir, frame, &e);
                return false;
            }
        };
        self.decrypted = true;
        self.set_in_record(true);
        let version = be16(rec, 1).unwrap_or(0);
        let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
        self.plaintext(
            dir,
            opened.content_type,
            &buf[..opened.len],
            version,
            len,
            frame,
            ts_us,
        );
        self.set_in_record(false);
        buf.fill(0);
        buf.clear();
        self.put_back(buf);
        self.after_record(dir, tls13, frame, ts_us);
        true
    }

    fn set_in_record(&mut self, on: bool) {
        if let DecryptState::Active(a) = &mut self.decrypt {
            a.in_record = on;
        }
    }

    fn put_back(&mut self, buf: Vec<u8>) {
        if let DecryptState::Active(a) = &mut self.decrypt {
            a.buf = buf;
        }
    }

    fn decryption_failed(&mut self, dir: Dir, frame: FrameNo, e: &OpenError) {
        if self.decryption_error.is_some() {
            return;
        }
        let why = match e {
            OpenError::Authentication => {
                "did not authenticate with the key log's secrets (other secrets, or records missing from the capture)"
            }
            OpenError::Malformed(what) => what,
        };
        self.decryption_error = Some(format!(
            "the {}'s record at frame {frame} {why}; its later records are not decrypted",
            dir.sender().as_str()
        ));
    }

    /// Key changes a record's handshake messages announced.
    fn after_record(&mut self, dir: Dir, tls13: bool, frame: FrameNo, ts_us: TimestampUs) {
        let DecryptState::Active(a) = &mut self.decrypt else {
            return;
        };
        let (finished, key_update) = (mem::take(&mut a.finished), mem::take(&mut a.key_update));
        if key_update {
            a.decryptor.key_update(dir);
        }
        if !finished {
            return;
        }
        a.decryptor.handshake_done(dir);
        self.dirs[dir.index()].finished = true;
        if !tls13 {
            self.check_established_tls12(frame, ts_us);
        } else if dir == Dir::ToServer {
            self.mark_established(frame, ts_us);
        }
    }

    /// A handshake message read from a decrypted record changes the keys after it.
    pub(super) fn decrypted_handshake_message(&mut self, typ: u8) {
        if let DecryptState::Active(a) = &mut self.decrypt {
            if !a.in_record {
                return;
            }
            match typ {
                hs::FINISHED => a.finished = true,
                hs::KEY_UPDATE => a.key_update = true,
                _ => {}
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn plaintext(
        &mut self,
        dir: Dir,
        content_type: u8,
        data: &[u8],
        version: u16,
        record_len: u16,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        self.pending_handshake_check(dir, content_type, frame, ts_us);
        match content_type {
            ct::HANDSHAKE => self.handshake_bytes(dir, data, version, frame, ts_us),
            ct::ALERT => self.decrypted_alert(dir, data, frame, ts_us),
            // Counted by its record's size, as without keys; the bytes are wiped unread.
            ct::APPLICATION_DATA => self.count_application_data(dir, record_len, frame, ts_us),
            ct::HEARTBEAT => self.heartbeat(dir, data, frame, ts_us),
            other => self.malformed(
                dir,
                frame,
                ts_us,
                format!("a decrypted record has content type {other}, which cannot be protected"),
            ),
        }
    }

    fn decrypted_alert(&mut self, dir: Dir, data: &[u8], frame: FrameNo, ts_us: TimestampUs) {
        let &[level, description] = data else {
            let reason = format!("a decrypted alert is {} bytes, not 2", data.len());
            self.malformed(dir, frame, ts_us, reason);
            return;
        };
        self.push_history(dir, 'L');
        self.push_decrypted_event(
            dir,
            frame,
            ts_us,
            TlsEventKind::Alert { level, description },
        );
        // TLS 1.3: a fatal alert after the client's Finished and before any data (the server
        // refusing the client's certificate) means the handshake did not complete after all.
        if level == 2
            && self.established
            && self.tls13_negotiated()
            && self.app_data_records == [0, 0]
        {
            self.established = false;
            self.established_frame = None;
            self.established_ts = None;
            self.stage = HandshakeStage::Finished;
        }
    }

    /// A TLS 1.3 Certificate (RFC 8446 4.4.2): request context, then entries of a DER and
    /// its extensions.
    pub(super) fn tls13_certificate(
        &mut self,
        dir: Dir,
        body: &[u8],
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let context_len = body.first().map_or(0, |&n| usize::from(n));
        let list_at = 1 + context_len;
        let (Some(list_len), Some(list)) = (be24(body, list_at), body.get(list_at + 3..)) else {
            self.malformed(dir, frame, ts_us, "TLS 1.3 Certificate is too short".into());
            return;
        };
        if list.len() != list_len {
            self.malformed(
                dir,
                frame,
                ts_us,
                format!(
                    "TLS 1.3 Certificate list claims {list_len} bytes, the message holds {}",
                    list.len()
                ),
            );
        }
        let mut chain = Vec::new();
        let mut rest = list.get(..list_len).unwrap_or(list);
        while !rest.is_empty() {
            let Some(der) = be24(rest, 0).and_then(|n| rest.get(3..3 + n)) else {
                self.malformed(
                    dir,
                    frame,
                    ts_us,
                    "TLS 1.3 Certificate entry overruns its list".into(),
                );
                break;
            };
            let ext_at = 3 + der.len();
            let Some(ext_len) = be16(rest, ext_at).map(usize::from) else {
                self.malformed(
                    dir,
                    frame,
                    ts_us,
                    "TLS 1.3 Certificate entry has no extensions field".into(),
                );
                break;
            };
            if chain.is_empty() && dir == Dir::ToClient {
                let exts = rest
                    .get(ext_at + 2..ext_at + 2 + ext_len)
                    .unwrap_or_default();
                if let Some(status) = extension(exts, ext::STATUS_REQUEST) {
                    self.keep_staple(status, frame, ts_us);
                }
            }
            chain.push(der);
            rest = rest.get(ext_at + 2 + ext_len..).unwrap_or_default();
        }
        let target = match dir {
            Dir::ToClient => &mut self.server_cert_der,
            Dir::ToServer => &mut self.client_cert_der,
        };
        if !target.is_empty() {
            return;
        }
        target.extend(
            chain
                .iter()
                .take(MAX_CERTS)
                .take_while(|c| c.len() <= MAX_CERT_LEN)
                .map(|c| c.to_vec()),
        );
    }
}

/// The body of extension `typ` in a list of TLS extensions (type, 16-bit length, body).
fn extension(mut exts: &[u8], typ: u16) -> Option<&[u8]> {
    while let (Some(t), Some(n)) = (be16(exts, 0), be16(exts, 2)) {
        let body = exts.get(4..4 + usize::from(n))?;
        if t == typ {
            return Some(body);
        }
        exts = &exts[4 + usize::from(n)..];
    }
    None
}
