//! Per-connection TLS state: [`TlsConn`] and the facts it keeps, the caps on what it
//! keeps, and the bookkeeping every layer shares (events, history, stage, malformed).
//!
//! The flow stage hands us reassembled TCP bytes per direction; `record` frames records,
//! `handshake` reassembles handshake messages, `hello` parses the hellos, `tls13` infers
//! what TLS 1.3's encrypted records are, `sslv2` handles SSLv2-format hellos. Nothing
//! trusts a length field: every claimed length is checked against caps and against the
//! bytes that are actually there.

use std::mem;
use std::sync::Arc;

use serde::Serialize;

use super::decrypt::DecryptState;
use super::wire::be24;
use crate::keylog::KeyStore;
use crate::model::{Dir, FrameNo, TimestampUs};
use crate::tls::names;
use crate::tls::types::{ClientHello, ServerHello};

/// Largest record we accept: 2^14 plaintext plus the 2048 bytes of expansion
/// RFC 5246 allows for ciphertext. Anything claiming more is not a sane TLS stream.
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Cap on one handshake message (and so on the per-direction reassembly buffer).
/// Real Certificate messages of over 300 KB exist (Zeek's fragmented-handshake trace).
pub const MAX_HANDSHAKE_LEN: usize = 512 * 1024;
/// How many certificates of a chain we keep, and the size cap of each.
pub const MAX_CERTS: usize = 10;
/// A certificate always sits inside one Certificate message, which is already capped at
/// `MAX_HANDSHAKE_LEN`, so a smaller per-certificate cap would only drop real certificates
/// (Zeek's fragmented-handshake trace has a single 340 KB leaf, subject CN=Bro).
pub const MAX_CERT_LEN: usize = MAX_HANDSHAKE_LEN;
/// Heartbeat message type, payload_length and the minimum 16 bytes of padding (RFC 6520).
const HEARTBEAT_MIN_OVERHEAD: usize = 1 + 2 + 16;
/// Bound on `events`; long sessions would otherwise grow it without limit.
pub const MAX_EVENTS: usize = 4096;
/// ApplicationData events recorded per direction; later ones are only counted.
pub const MAX_APP_DATA_EVENTS_PER_DIR: u64 = 16;
const MAX_MALFORMED: usize = 64;
const MAX_HISTORY: usize = 100;

/// ServerHello.random of a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3): SHA-256("HelloRetryRequest").
pub const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// Last handshake step seen on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeStage {
    #[default]
    None,
    ClientHello,
    HelloRetryRequest,
    ServerHello,
    EncryptedExtensions,
    /// TLS 1.3: the server's encrypted flight (EncryptedExtensions..Finished) was sent.
    ServerEncryptedFlight,
    Certificate,
    ServerKeyExchange,
    CertificateRequest,
    ServerHelloDone,
    ClientCertificate,
    ClientKeyExchange,
    CertificateVerify,
    ChangeCipherSpec,
    Finished,
    Established,
}

impl HandshakeStage {
    /// Where the handshake stood, in words: "after the server's certificate".
    pub fn words(self) -> &'static str {
        match self {
            HandshakeStage::None => "before any handshake message",
            HandshakeStage::ClientHello => "after the client's ClientHello",
            HandshakeStage::HelloRetryRequest => "after the server's HelloRetryRequest",
            HandshakeStage::ServerHello => "after the server's ServerHello",
            HandshakeStage::EncryptedExtensions => "after the server's EncryptedExtensions",
            HandshakeStage::ServerEncryptedFlight => "after the server's encrypted flight",
            HandshakeStage::Certificate => "after the server's certificate",
            HandshakeStage::ServerKeyExchange => "after the server's key exchange",
            HandshakeStage::CertificateRequest => "after the server's certificate request",
            HandshakeStage::ServerHelloDone => "after the server's ServerHelloDone",
            HandshakeStage::ClientCertificate => "after the client's certificate",
            HandshakeStage::ClientKeyExchange => "after the client's key exchange",
            HandshakeStage::CertificateVerify => "after the client's CertificateVerify",
            HandshakeStage::ChangeCipherSpec => "after a ChangeCipherSpec",
            HandshakeStage::Finished => "after a Finished",
            HandshakeStage::Established => "after the handshake completed",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeStage::None => "none",
            HandshakeStage::ClientHello => "client_hello",
            HandshakeStage::HelloRetryRequest => "hello_retry_request",
            HandshakeStage::ServerHello => "server_hello",
            HandshakeStage::EncryptedExtensions => "encrypted_extensions",
            HandshakeStage::ServerEncryptedFlight => "server_encrypted_flight",
            HandshakeStage::Certificate => "certificate",
            HandshakeStage::ServerKeyExchange => "server_key_exchange",
            HandshakeStage::CertificateRequest => "certificate_request",
            HandshakeStage::ServerHelloDone => "server_hello_done",
            HandshakeStage::ClientCertificate => "client_certificate",
            HandshakeStage::ClientKeyExchange => "client_key_exchange",
            HandshakeStage::CertificateVerify => "certificate_verify",
            HandshakeStage::ChangeCipherSpec => "change_cipher_spec",
            HandshakeStage::Finished => "finished",
            HandshakeStage::Established => "established",
        }
    }
}

/// A handshake message type as on the wire (see `names::handshake_type_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct HandshakeType(pub u8);

impl HandshakeType {
    pub fn name(self) -> &'static str {
        names::handshake_type_name(self.0)
    }
}

/// What a record (or a plaintext handshake message) was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsEventKind {
    /// A plaintext handshake message; the value is the handshake type
    /// (see `names::handshake_type_name`). A TLS 1.3 HelloRetryRequest, which is a
    /// ServerHello on the wire, is reported as 6 (hello_retry_request).
    Handshake(HandshakeType),
    ChangeCipherSpec,
    Alert {
        level: u8,
        description: u8,
    },
    /// An alert whose content we cannot see: TLS <= 1.2 after the sender's
    /// ChangeCipherSpec (or not 2 bytes long), or a 19-byte TLS 1.3 record before
    /// the handshake completed.
    EncryptedAlert {
        len: u16,
    },
    ApplicationData {
        len: u16,
    },
    /// An encrypted handshake record: the Finished after a ChangeCipherSpec (TLS <= 1.2),
    /// or the encrypted flights of TLS 1.3.
    EncryptedHandshake {
        len: u16,
    },
    /// A heartbeat record. `payload_len_claimed` is 0 when the record is encrypted.
    Heartbeat {
        len: u16,
        payload_len_claimed: u16,
    },
    Malformed,
}

impl TlsEventKind {
    /// A plaintext heartbeat whose claimed payload does not fit in its record (Heartbleed).
    /// RFC 6520 section 4: type (1) + payload_length (2) + payload + at least 16 bytes of
    /// padding, so a request claiming more than `len - 19` bytes reads past its data. This is
    /// the test Zeek's heartbleed detection applies (its trace: record 16368, payload 16365).
    pub fn is_heartbleed(&self) -> bool {
        match *self {
            TlsEventKind::Heartbeat {
                len,
                payload_len_claimed,
            } => {
                payload_len_claimed > 0
                    && usize::from(payload_len_claimed) + HEARTBEAT_MIN_OVERHEAD > usize::from(len)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsEvent {
    pub dir: Dir,
    pub frame: FrameNo,
    pub ts_us: TimestampUs,
    pub kind: TlsEventKind,
    /// Read from a record decrypted with a key log's secrets.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decrypted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Malformed {
    pub dir: Dir,
    pub frame: FrameNo,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Mode {
    #[default]
    Records,
    /// After a gap: skip bytes until something looks like a record header.
    Resync,
    /// Broken stream: nothing more is parsed in this direction.
    Stopped,
    /// SSLv2 was negotiated; its records carry nothing we analyse.
    Ignore,
}

#[derive(Debug, Default, Clone)]
pub(super) struct DirState {
    pub(super) mode: Mode,
    /// A gap hit this direction after the ServerHello of a TLS <= 1.2 handshake and
    /// before its ChangeCipherSpec was seen: the ChangeCipherSpec may have been lost.
    pub(super) ccs_maybe_lost: bool,
    /// Bytes of an incomplete record (or, in Resync, up to 4 bytes of a possible header).
    pub(super) rec_buf: Vec<u8>,
    /// Body bytes of an application-data record still to pass over: only its length
    /// matters, so its body is skipped instead of buffered.
    pub(super) skip: usize,
    /// SSLv2 records after the SERVER-HELLO (see `TlsConn::sslv2_session`).
    pub(super) sslv2_records: u32,
    /// Body length of the application-data record being skipped.
    pub(super) skip_len: usize,
    /// Bytes of an incomplete handshake message.
    pub(super) hs_buf: Vec<u8>,
    /// Record version of the record in which the buffered handshake message started.
    pub(super) hs_record_version: u16,
    pub(super) records: u64,
    /// Sent ChangeCipherSpec.
    pub(super) ccs: bool,
    /// Its handshake/alert records are encrypted from here on (TLS <= 1.2 after CCS).
    pub(super) encrypted: bool,
    /// Sent its (encrypted) Finished.
    pub(super) finished: bool,
    /// Sent a message that only a full handshake has (Certificate, ServerKeyExchange,
    /// ServerHelloDone, ClientKeyExchange).
    pub(super) full_handshake: bool,
    pub(super) app_data_events: u64,
}

/// Largest stapled OCSP response kept: real ones are 1-4 KiB (a few signed responses and
/// perhaps a responder certificate); a bigger one is not kept, so a flow's memory stays small.
pub const MAX_STAPLE_LEN: usize = 64 * 1024;

/// A stapled OCSP response (DER OCSPResponse) and where it was seen.
#[derive(Debug, Clone)]
pub struct StapledOcsp {
    pub der: Vec<u8>,
    pub frame: FrameNo,
    pub ts_us: TimestampUs,
}

/// Everything learned about the TLS layer of one connection.
#[derive(Debug, Clone, Default)]
pub struct TlsConn {
    /// The first ClientHello (fingerprints use the first one, as Suricata does).
    pub client_hello: Option<ClientHello>,
    pub server_hello: Option<ServerHello>,
    pub hello_retry_request: Option<ServerHello>,
    /// DER certificates of the server's first Certificate message (at most
    /// `MAX_CERTS`, each at most `MAX_CERT_LEN`; the chain is cut at the first oversized one).
    pub server_cert_der: Vec<Vec<u8>>,
    pub client_cert_der: Vec<Vec<u8>>,
    /// The server's stapled OCSP response (TLS 1.2 CertificateStatus, or the status_request
    /// extension of a TLS 1.3 leaf's CertificateEntry), at most `MAX_STAPLE_LEN` bytes.
    pub ocsp_staple: Option<StapledOcsp>,
    pub events: Vec<TlsEvent>,
    /// Zeek `ssl_history` letters (upper case client, lower case server).
    pub history: String,
    pub stage: HandshakeStage,
    pub established: bool,
    pub established_frame: Option<FrameNo>,
    pub established_ts: Option<TimestampUs>,
    pub resumed: bool,
    pub malformed: Vec<Malformed>,
    pub client_hello_count: u32,
    /// Application data records and bytes per direction, indexed by `Dir::index()`
    /// (counted even when no event is recorded for them).
    pub app_data_records: [u64; 2],
    pub app_data_bytes: [u64; 2],
    /// Events not recorded because `events` reached `MAX_EVENTS`.
    pub events_dropped: u64,
    pub(super) dirs: [DirState; 2],
    /// Draft number from the first ClientHello's NSS draft-version extension (0xff02).
    pub(super) nss_draft: Option<u8>,
    /// The run's TLS secrets, when it has any (`--keylog`, Decryption Secrets Blocks).
    pub(super) keys: Option<Arc<KeyStore>>,
    pub(super) decrypt: DecryptState,
    /// A record was opened with the key log's secrets.
    pub(super) decrypted: bool,
    /// Why decryption stopped (the first record that failed to authenticate), or why the
    /// session's secrets could not be used. Never holds a secret.
    pub decryption_error: Option<String>,
}

impl TlsConn {
    pub fn new() -> Self {
        Self::default()
    }

    /// TLS records the given direction sent.
    pub fn records(&self, dir: Dir) -> u64 {
        self.dirs[dir.index()].records
    }

    /// The version the server selected (0x0002 when an SSLv2 ServerHello was seen).
    /// Bytes held for partial records and handshake messages, both directions.
    pub fn buffered_bytes(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| d.rec_buf.len() + d.hs_buf.len())
            .sum()
    }

    pub fn negotiated_version(&self) -> Option<u16> {
        self.server_hello.as_ref().map(|s| s.negotiated_version())
    }

    /// Alerts in the clear and encrypted alerts, in capture order.
    pub fn alerts(&self) -> impl Iterator<Item = &TlsEvent> {
        self.events.iter().filter(|e| {
            matches!(
                e.kind,
                TlsEventKind::Alert { .. } | TlsEventKind::EncryptedAlert { .. }
            )
        })
    }

    /// The connection ended (`frame` and `ts_us` are its last packet's): a handshake
    /// message still incomplete is reported as malformed, since nothing else would show
    /// it, and the reassembly buffers are released. Calling it again does nothing.
    pub fn finish(&mut self, frame: FrameNo, ts_us: TimestampUs) {
        self.drop_keys();
        for dir in [Dir::ToServer, Dir::ToClient] {
            let d = &mut self.dirs[dir.index()];
            let pending = mem::take(&mut d.hs_buf);
            d.rec_buf = Vec::new();
            if let Some(&typ) = pending.first() {
                let claimed = be24(&pending, 1).map_or(0, |n| n + 4);
                let reason = format!(
                    "handshake message {} is incomplete ({} of {} bytes) when the connection ends",
                    names::handshake_type_name(typ),
                    pending.len(),
                    claimed
                );
                self.malformed(dir, frame, ts_us, reason);
            }
        }
    }

    pub(super) fn push_event(
        &mut self,
        dir: Dir,
        frame: FrameNo,
        ts_us: TimestampUs,
        kind: TlsEventKind,
    ) {
        self.push_event_from(dir, frame, ts_us, kind, false);
    }

    /// An event read from a decrypted record (see [`TlsEvent::decrypted`]).
    pub(super) fn push_decrypted_event(
        &mut self,
        dir: Dir,
        frame: FrameNo,
        ts_us: TimestampUs,
        kind: TlsEventKind,
    ) {
        self.push_event_from(dir, frame, ts_us, kind, true);
    }

    fn push_event_from(
        &mut self,
        dir: Dir,
        frame: FrameNo,
        ts_us: TimestampUs,
        kind: TlsEventKind,
        decrypted: bool,
    ) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(TlsEvent {
                dir,
                frame,
                ts_us,
                kind,
                decrypted,
            });
        } else {
            // Said once, so that the cut-off is visible where the events are read (the
            // malformed_tls rule); the count alone reached no finding.
            if self.events_dropped == 0 && self.malformed.len() < MAX_MALFORMED {
                self.malformed.push(Malformed {
                    dir,
                    frame,
                    reason: format!(
                        "the connection has more than {MAX_EVENTS} TLS records and handshake messages; later ones are only counted"
                    ),
                });
            }
            self.events_dropped += 1;
        }
    }

    pub(super) fn push_history(&mut self, dir: Dir, upper: char) {
        if self.history.len() < MAX_HISTORY {
            let c = match dir {
                Dir::ToServer => upper.to_ascii_uppercase(),
                Dir::ToClient => upper.to_ascii_lowercase(),
            };
            self.history.push(c);
        }
    }

    pub(super) fn set_stage(&mut self, s: HandshakeStage) {
        if !self.established {
            self.stage = s;
        }
    }

    pub(super) fn malformed(
        &mut self,
        dir: Dir,
        frame: FrameNo,
        ts_us: TimestampUs,
        reason: String,
    ) {
        if self.malformed.len() < MAX_MALFORMED {
            self.malformed.push(Malformed { dir, frame, reason });
        }
        self.push_event(dir, frame, ts_us, TlsEventKind::Malformed);
    }

    /// Report and stop parsing this direction.
    pub(super) fn stop(&mut self, dir: Dir, frame: FrameNo, ts_us: TimestampUs, reason: String) {
        self.malformed(dir, frame, ts_us, reason);
        let d = &mut self.dirs[dir.index()];
        d.mode = Mode::Stopped;
        d.rec_buf = Vec::new();
        d.hs_buf = Vec::new();
        d.skip = 0;
    }

    pub(super) fn mark_established(&mut self, frame: FrameNo, ts_us: TimestampUs) {
        if !self.established {
            self.stage = HandshakeStage::Established;
            self.established = true;
            self.established_frame = Some(frame);
            self.established_ts = Some(ts_us);
        }
    }
}
