//! TLS 1.3 inference: everything after the ServerHello is encrypted, so what a record
//! is follows from its position and length (the server's encrypted flight, the client's
//! Finished that completes the handshake, 19-byte encrypted alerts).

use super::conn::{HandshakeStage, TlsConn, TlsEventKind, MAX_APP_DATA_EVENTS_PER_DIR};
use super::names::is_tls13;
use crate::model::{Dir, FrameNo, TimestampUs};

/// A TLS 1.3 encrypted alert: 2-byte alert, inner content type, 16-byte AEAD tag.
const ENCRYPTED_ALERT_LEN: u16 = 2 + 1 + 16;

impl TlsConn {
    /// A TLS 1.3 server's record of `len` bytes, right after the handshake looked complete,
    /// is its refusal of the client's flight: the server's first record since the client's
    /// Finished is alert-sized, and the client had not sent an alert of its own first.
    fn tls13_refusal(&self, len: u16) -> bool {
        let (c, s) = (Dir::ToServer.index(), Dir::ToClient.index());
        self.established
            && self.tls13_negotiated()
            && len == ENCRYPTED_ALERT_LEN
            && self.app_data_records[s] == 0
            && !self.events.iter().any(|e| {
                e.dir == Dir::ToServer && matches!(e.kind, TlsEventKind::ApplicationData { len } if len == ENCRYPTED_ALERT_LEN)
            })
            && self.dirs[c].finished
    }

    /// TLS 1.3 was negotiated (final or draft).
    pub(super) fn tls13_negotiated(&self) -> bool {
        self.negotiated_version().is_some_and(is_tls13)
    }

    /// A ChangeCipherSpec here would be TLS 1.3 middlebox compatibility, not a key change.
    pub(super) fn tls13_context(&self) -> bool {
        if let Some(sh) = &self.server_hello {
            return is_tls13(sh.negotiated_version());
        }
        if self.hello_retry_request.is_some() {
            return true;
        }
        self.client_hello
            .as_ref()
            .is_some_and(|c| c.supported_versions.iter().any(|&v| is_tls13(v)))
    }

    pub(super) fn application_data(
        &mut self,
        dir: Dir,
        len: u16,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let i = dir.index();
        // After a refusal (see tls13_refusal) the client's later records are its data.
        let refused = self.dirs[i].finished && dir == Dir::ToServer;
        if !self.established && self.tls13_negotiated() && !refused {
            // Nothing else in a TLS 1.3 handshake is that small.
            if len == ENCRYPTED_ALERT_LEN {
                self.push_history(dir, 'L');
                self.push_event(dir, frame, ts_us, TlsEventKind::EncryptedAlert { len });
                return;
            }
            self.push_event(dir, frame, ts_us, TlsEventKind::EncryptedHandshake { len });
            if dir == Dir::ToClient {
                self.set_stage(HandshakeStage::ServerEncryptedFlight);
            }
            if dir == Dir::ToServer {
                // The client's first encrypted record after the ServerHello is its Finished.
                self.dirs[i].finished = true;
                self.mark_established(frame, ts_us);
            }
            return;
        }
        if dir == Dir::ToClient && self.tls13_refusal(len) {
            // The server's first record after the client's Finished is alert-sized (nothing
            // else it sends then is that small: tickets and answers are longer): the server
            // refused the client's flight, typically a missing or rejected client
            // certificate. The handshake did not complete after all.
            self.push_history(dir, 'L');
            self.push_event(dir, frame, ts_us, TlsEventKind::EncryptedAlert { len });
            self.established = false;
            self.established_frame = None;
            self.established_ts = None;
            self.stage = HandshakeStage::Finished;
            return;
        }
        self.count_application_data(dir, len, frame, ts_us);
    }

    /// An application-data record of `len` bytes: counted, and an event for the first few.
    pub(super) fn count_application_data(
        &mut self,
        dir: Dir,
        len: u16,
        frame: FrameNo,
        ts_us: TimestampUs,
    ) {
        let i = dir.index();
        self.app_data_records[i] += 1;
        self.app_data_bytes[i] += u64::from(len);
        if self.dirs[i].app_data_events < MAX_APP_DATA_EVENTS_PER_DIR {
            self.dirs[i].app_data_events += 1;
            self.push_event(dir, frame, ts_us, TlsEventKind::ApplicationData { len });
        }
    }
}
