//! Decryption of the records triage needs, with the secrets of a key log: TLS 1.3
//! handshake records and alerts, TLS 1.2 Finished and alerts. Application data is never
//! decrypted in TLS 1.2, and in TLS 1.3 only the few records that could be an alert or a
//! post-handshake message (see [`Decryptor::wants`]) are opened, then wiped.
//!
//! `keys` derives traffic keys (HKDF-Expand-Label, the TLS 1.2 PRF), `aead` seals the
//! per-direction record protection, `tls13` and `tls12` hold each version's key schedule
//! and record format. Every tag is verified (ring's AEADs); a record that fails stops the
//! direction, and the reason is kept for the flow's record. Keys live in the connection's
//! state and are dropped with it.

mod aead;
mod cbc;
pub mod keys;
mod tls12;
mod tls13;

use crate::keylog::SessionSecrets;
use crate::model::Dir;

pub use aead::Aead;
pub use cbc::Cbc;

/// A direction's record protection. Not boxed: it sits in the connection's already boxed
/// decryptor, two per connection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Keys {
    Aead(Aead),
    Cbc(Cbc),
}

/// TLS 1.3 records after the handshake that are opened when small (up to
/// [`SMALL_RECORD`]): the NewSessionTicket, a KeyUpdate or an alert padded to look like data
/// come first. Larger ones are data: opening the first 16 KiB records of every bulk
/// transfer cost 40% more CPU on the benchmark for nothing triage reads.
const FIRST_APPLICATION_RECORDS: u32 = 4;
const SMALL_RECORD: usize = 1024;
/// TLS 1.3 records after the handshake up to this body length are always opened: an alert
/// is 19 bytes (2, the inner type, a 16-byte tag), with room for some padding.
const ALERT_SIZED: usize = 64;

/// Why a record could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// The AEAD tag or MAC did not verify: wrong secrets, or records missing.
    Authentication,
    /// Too short to hold what its cipher adds, or no content after the padding.
    Malformed(&'static str),
}

/// A record the decryptor opened: its real content type and plaintext (in the caller's
/// buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    pub content_type: u8,
    pub len: usize,
}

#[derive(Debug, Clone)]
enum Version {
    Tls13(tls13::Schedule),
    Tls12(tls12::Params),
}

/// One direction's record protection and its place in the sequence.
#[derive(Debug, Default, Clone)]
struct DirState {
    keys: Option<Keys>,
    seq: u64,
    /// TLS 1.3: application keys are in use (the sender's Finished was decrypted).
    application: bool,
    application_records: u32,
    /// A record failed: nothing more is decrypted in this direction.
    stopped: bool,
}

/// Record decryption of one connection.
#[derive(Debug, Clone)]
pub struct Decryptor {
    version: Version,
    dirs: [DirState; 2],
}

impl Decryptor {
    /// Keys for a TLS 1.3 connection with suite `cipher`; `None` when the key log has no
    /// handshake secrets for it or the suite is not one we decrypt.
    pub fn tls13(cipher: u16, secrets: &SessionSecrets) -> Option<Self> {
        let (schedule, client, server) = tls13::Schedule::new(cipher, secrets)?;
        Some(Decryptor {
            version: Version::Tls13(schedule),
            dirs: [
                DirState::with(client.map(Keys::Aead)),
                DirState::with(server.map(Keys::Aead)),
            ],
        })
    }

    /// Keys for a TLS 1.2 connection from its master secret and both randoms;
    /// `encrypt_then_mac` when the ServerHello accepted RFC 7366 (CBC suites).
    pub fn tls12(
        cipher: u16,
        client_random: &[u8],
        server_random: &[u8],
        encrypt_then_mac: bool,
        secrets: &SessionSecrets,
    ) -> Option<Self> {
        let master = secrets.master_secret?;
        let randoms = tls12::Randoms {
            client: client_random,
            server: server_random,
        };
        let (params, client, server) =
            tls12::Params::new(cipher, master.as_bytes(), randoms, encrypt_then_mac)?;
        Some(Decryptor {
            version: Version::Tls12(params),
            dirs: [DirState::with(Some(client)), DirState::with(Some(server))],
        })
    }

    /// True when records of this direction can still be decrypted.
    pub fn active(&self, dir: Dir) -> bool {
        let d = &self.dirs[dir.index()];
        d.keys.is_some() && !d.stopped
    }

    /// Is this protected record (outer content type, body length) one to open? Those not
    /// opened must be passed to [`Self::skip`] to keep the sequence.
    pub fn wants(&self, dir: Dir, content_type: u8, body_len: usize) -> bool {
        use crate::tls::wire::ct;
        if !self.active(dir) {
            return false;
        }
        let d = &self.dirs[dir.index()];
        match self.version {
            Version::Tls13(_) => {
                content_type == ct::APPLICATION_DATA
                    && (!d.application
                        || body_len <= ALERT_SIZED
                        || (d.application_records < FIRST_APPLICATION_RECORDS
                            && body_len <= SMALL_RECORD))
            }
            Version::Tls12(_) => matches!(content_type, ct::HANDSHAKE | ct::ALERT),
        }
    }

    /// A protected record that is not opened still takes a sequence number.
    pub fn skip(&mut self, dir: Dir) {
        let d = &mut self.dirs[dir.index()];
        d.seq = d.seq.wrapping_add(1);
        if d.application {
            d.application_records = d.application_records.saturating_add(1);
        }
    }

    /// Opens one record (`header` is its 5-byte header) into `out`. A failure stops the
    /// direction.
    pub fn open(
        &mut self,
        dir: Dir,
        header: &[u8; 5],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Opened, OpenError> {
        let i = dir.index();
        let d = &mut self.dirs[i];
        let Some(keys) = d.keys.as_ref().filter(|_| !d.stopped) else {
            return Err(OpenError::Malformed("no keys for this direction"));
        };
        let seq = d.seq;
        d.seq = d.seq.wrapping_add(1);
        if d.application {
            d.application_records = d.application_records.saturating_add(1);
        }
        let result = match (&self.version, keys) {
            (Version::Tls13(_), Keys::Aead(aead)) => tls13::open(aead, seq, header, body, out),
            (Version::Tls12(p), keys) => tls12::open(p, keys, seq, header, body, out),
            (Version::Tls13(_), Keys::Cbc(_)) => Err(OpenError::Malformed("no CBC in TLS 1.3")),
        };
        if result.is_err() {
            d.stopped = true;
            out.fill(0);
            out.clear();
        }
        result
    }

    /// TLS 1.3: the sender's Finished was decrypted; its next records use the application
    /// traffic secret (or are not decrypted when the key log lacks it).
    pub fn handshake_done(&mut self, dir: Dir) {
        if let Version::Tls13(schedule) = &mut self.version {
            let d = &mut self.dirs[dir.index()];
            if d.application {
                return;
            }
            d.keys = schedule.application(dir).map(Keys::Aead);
            d.seq = 0;
            d.application = true;
        }
    }

    /// TLS 1.3 KeyUpdate from `dir`'s sender: the next generation of its traffic secret.
    pub fn key_update(&mut self, dir: Dir) {
        if let Version::Tls13(schedule) = &mut self.version {
            let d = &mut self.dirs[dir.index()];
            if d.application {
                d.keys = schedule.update(dir).map(Keys::Aead);
                d.seq = 0;
            }
        }
    }

    pub fn is_tls13(&self) -> bool {
        matches!(self.version, Version::Tls13(_))
    }
}

impl DirState {
    fn with(keys: Option<Keys>) -> Self {
        DirState {
            keys,
            ..DirState::default()
        }
    }
}

/// Where a connection stands with decryption.
#[derive(Debug, Clone, Default)]
pub enum DecryptState {
    /// No protected record yet: secrets are looked up at the first one.
    #[default]
    Pending,
    /// No secrets for this session, a suite we do not decrypt, or the flow ended.
    Unavailable,
    Active(Box<Active>),
}

#[derive(Debug, Clone)]
pub struct Active {
    pub decryptor: Decryptor,
    /// Plaintext of the record being processed, wiped after each one.
    pub buf: Vec<u8>,
    /// Set while a record's plaintext is processed: the sender's Finished / KeyUpdate was
    /// in it, so its keys change after the record (RFC 8446 5.1: at a record boundary).
    pub finished: bool,
    pub key_update: bool,
    /// A decrypted record's plaintext is being processed.
    pub in_record: bool,
}

impl Active {
    pub fn new(decryptor: Decryptor) -> Self {
        Active {
            decryptor,
            buf: Vec::new(),
            finished: false,
            key_update: false,
            in_record: false,
        }
    }
}

#[cfg(test)]
mod tests;
