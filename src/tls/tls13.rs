//! TLS 1.3 inference: everything after the ServerHello is encrypted, so what a record
//! is follows from its position and length (the server's encrypted flight, the client's
//! Finished that completes the handshake, 19-byte encrypted alerts).

use super::conn::{HandshakeStage, TlsConn, TlsEventKind, MAX_APP_DATA_EVENTS_PER_DIR};
use super::names::is_tls13;
use crate::model::{Dir, FrameNo, TimestampUs};

/// A TLS 1.3 encrypted alert: 2-byte alert, inner content type, 16-byte AEAD tag.
const ENCRYPTED_ALERT_LEN: u16 = 2 + 1 + 16;

impl TlsConn {
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
        if !self.established && self.tls13_negotiated() {
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
        self.app_data_records[i] += 1;
        self.app_data_bytes[i] += u64::from(len);
        if self.dirs[i].app_data_events < MAX_APP_DATA_EVENTS_PER_DIR {
            self.dirs[i].app_data_events += 1;
            self.push_event(dir, frame, ts_us, TlsEventKind::ApplicationData { len });
        }
    }
}
