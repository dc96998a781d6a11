//! TLS session secrets: the NSS key log format (`SSLKEYLOGFILE`) that curl, browsers,
//! Python, Go, Java agents and `openssl s_client -keylogfile` write, from `--keylog` files
//! and from pcapng Decryption Secrets Blocks, kept in one store shared by every thread and
//! looked up by the ClientHello's random.
//!
//! Nothing here ever formats a secret: [`Secret`]'s `Debug` is redacted, and warnings name
//! a line by its number only (a malformed line may still hold a real secret).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

/// Sessions kept; lines for further sessions are counted and dropped. Each session holds
/// at most five 48-byte secrets, so the store stays under ~40 MiB.
pub const MAX_SESSIONS: usize = 100_000;
/// Longest line accepted: a label, 64 hex digits of random and 96 of a SHA-384 secret fit
/// with a wide margin; a longer line is malformed and skipped without being buffered.
pub const MAX_LINE_LEN: usize = 512;
/// Longest secret (SHA-512-sized; TLS uses 48 bytes at most).
pub const MAX_SECRET_LEN: usize = 64;

/// Errors of a `--keylog` file that cannot be read at all (a bad line is never one).
#[derive(Debug, thiserror::Error)]
pub enum KeyLogError {
    #[error("key log {path}: {error}")]
    Read { path: String, error: io::Error },
}

/// One secret, held inline. Its `Debug` never shows the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    bytes: [u8; MAX_SECRET_LEN],
    len: u8,
}

impl Secret {
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > MAX_SECRET_LEN {
            return None;
        }
        let mut s = Secret {
            bytes: [0; MAX_SECRET_LEN],
            len: u8::try_from(bytes.len()).ok()?,
        };
        s.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(s)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes, redacted)", self.len)
    }
}

/// The secrets logged for one session (one client_random).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionSecrets {
    /// `CLIENT_RANDOM`: the TLS <= 1.2 master secret.
    pub master_secret: Option<Secret>,
    pub client_handshake: Option<Secret>,
    pub server_handshake: Option<Secret>,
    pub client_traffic_0: Option<Secret>,
    pub server_traffic_0: Option<Secret>,
}

/// What one key log line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    ClientRandom,
    ClientHandshake,
    ServerHandshake,
    ClientTraffic0,
    ServerTraffic0,
}

impl Label {
    fn parse(word: &[u8]) -> Option<Option<Label>> {
        Some(match word {
            b"CLIENT_RANDOM" => Some(Label::ClientRandom),
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Some(Label::ClientHandshake),
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Some(Label::ServerHandshake),
            b"CLIENT_TRAFFIC_SECRET_0" => Some(Label::ClientTraffic0),
            b"SERVER_TRAFFIC_SECRET_0" => Some(Label::ServerTraffic0),
            // Well-formed lines we have no use for: 0-RTT and exporter secrets, and
            // `RSA` lines (keyed by the encrypted premaster secret, not the random).
            b"CLIENT_EARLY_TRAFFIC_SECRET"
            | b"EARLY_EXPORTER_SECRET"
            | b"EXPORTER_SECRET"
            | b"RSA" => None,
            _ => return None,
        })
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex into `out`, returning the byte count; `None` on odd length, a non-hex
/// digit, or more than `out` holds.
fn unhex(text: &[u8], out: &mut [u8]) -> Option<usize> {
    if text.len() % 2 != 0 || text.len() / 2 > out.len() {
        return None;
    }
    for (i, pair) in text.chunks_exact(2).enumerate() {
        out[i] = hex_value(pair[0])? << 4 | hex_value(pair[1])?;
    }
    Some(text.len() / 2)
}

/// One line of a key log, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// Blank, a comment, or a well-formed line of a label we do not use.
    Skip,
    Secret {
        label: Label,
        client_random: [u8; 32],
        secret: Secret,
    },
    Malformed,
}

/// Parses one line (without its newline; a trailing `\r` is allowed).
pub fn parse_line(line: &[u8]) -> Line {
    let line = line.trim_ascii();
    if line.is_empty() || line.first() == Some(&b'#') {
        return Line::Skip;
    }
    let mut words = line
        .split(|c| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let (Some(label), Some(random), Some(secret), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Line::Malformed;
    };
    let label = match Label::parse(label) {
        Some(Some(l)) => l,
        Some(None) => return Line::Skip,
        None => return Line::Malformed,
    };
    let mut client_random = [0u8; 32];
    if unhex(random, &mut client_random) != Some(32) {
        return Line::Malformed;
    }
    let mut buf = [0u8; MAX_SECRET_LEN];
    let Some(secret) = unhex(secret, &mut buf).and_then(|n| Secret::new(&buf[..n])) else {
        return Line::Malformed;
    };
    Line::Secret {
        label,
        client_random,
        secret,
    }
}

/// A line out of [`Lines`]: whole, or too long to have been kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Line(&'a [u8]),
    Overlong,
}

/// What [`Lines`] calls with each line.
type OnLine<'f> = &'f mut dyn FnMut(Piece<'_>);

/// Splits a byte stream into lines across reads, holding at most [`MAX_LINE_LEN`] bytes
/// of an unfinished line; a longer line is reported as too long and skipped.
#[derive(Debug, Default)]
struct Lines {
    partial: Vec<u8>,
    overlong: bool,
}

impl Lines {
    /// Calls `each` with every complete line of `data`.
    fn feed(&mut self, mut data: &[u8], each: OnLine<'_>) {
        while !data.is_empty() {
            let (piece, complete) = match data.iter().position(|&c| c == b'\n') {
                Some(n) => (&data[..n], Some(n + 1)),
                None => (data, None),
            };
            if !self.overlong {
                if self.partial.len() + piece.len() > MAX_LINE_LEN {
                    self.overlong = true;
                    self.partial.clear();
                } else {
                    self.partial.extend_from_slice(piece);
                }
            }
            let Some(consumed) = complete else {
                return;
            };
            if self.overlong {
                each(Piece::Overlong);
            } else {
                each(Piece::Line(&self.partial));
            }
            self.partial.clear();
            self.overlong = false;
            data = &data[consumed..];
        }
    }

    /// The end of the input: a last line without a newline still counts.
    fn finish(&mut self, each: OnLine<'_>) {
        if self.overlong {
            each(Piece::Overlong);
        } else if !self.partial.is_empty() {
            each(Piece::Line(&self.partial));
        }
        self.partial.clear();
        self.overlong = false;
    }
}

/// What tells one file from another at the same path.
#[cfg(unix)]
fn file_identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_identity(_meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Per-source counts, for the one warning each source gets.
#[derive(Debug, Default, Clone)]
struct SourceCounts {
    lines: u64,
    malformed: u64,
    first_malformed_line: u64,
}

/// The parsed secrets of every source, keyed by client_random.
#[derive(Debug, Default)]
pub struct KeyLog {
    sessions: HashMap<[u8; 32], SessionSecrets>,
    /// Lines for sessions beyond [`MAX_SESSIONS`].
    dropped: u64,
    sources: Vec<(String, SourceCounts)>,
}

impl KeyLog {
    pub fn new() -> Self {
        Self::default()
    }

    fn source(&mut self, name: &str) -> usize {
        match self.sources.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.sources
                    .push((name.to_string(), SourceCounts::default()));
                self.sources.len() - 1
            }
        }
    }

    /// Adds the lines of `text` (a whole key log, or a Decryption Secrets Block's data).
    pub fn add_text(&mut self, source: &str, text: &[u8]) {
        let mut lines = Lines::default();
        let i = self.source(source);
        let mut each = |l: Piece<'_>| self.add_line(i, l);
        lines.feed(text, &mut each);
        lines.finish(&mut each);
    }

    fn add_line(&mut self, source: usize, line: Piece<'_>) {
        let counts = &mut self.sources[source].1;
        counts.lines += 1;
        let parsed = match line {
            Piece::Line(l) => parse_line(l),
            Piece::Overlong => Line::Malformed,
        };
        match parsed {
            Line::Skip => {}
            Line::Malformed => {
                if counts.malformed == 0 {
                    counts.first_malformed_line = counts.lines;
                }
                counts.malformed += 1;
            }
            Line::Secret {
                label,
                client_random,
                secret,
            } => self.insert(label, client_random, secret),
        }
    }

    pub fn insert(&mut self, label: Label, client_random: [u8; 32], secret: Secret) {
        let full = self.sessions.len() >= MAX_SESSIONS;
        let entry = match self.sessions.get_mut(&client_random) {
            Some(e) => e,
            None if full => {
                self.dropped += 1;
                return;
            }
            None => self.sessions.entry(client_random).or_default(),
        };
        let slot = match label {
            Label::ClientRandom => &mut entry.master_secret,
            Label::ClientHandshake => &mut entry.client_handshake,
            Label::ServerHandshake => &mut entry.server_handshake,
            Label::ClientTraffic0 => &mut entry.client_traffic_0,
            Label::ServerTraffic0 => &mut entry.server_traffic_0,
        };
        *slot = Some(secret);
    }

    pub fn get(&self, client_random: &[u8]) -> Option<&SessionSecrets> {
        let key: [u8; 32] = client_random.try_into().ok()?;
        self.sessions.get(&key)
    }

    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// One line per source with malformed lines, and one for the sessions dropped.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .sources
            .iter()
            .filter(|(_, c)| c.malformed > 0)
            .map(|(name, c)| {
                format!(
                    "key log {name}: {} of {} lines malformed and skipped (the first: line {})",
                    c.malformed, c.lines, c.first_malformed_line
                )
            })
            .collect();
        if self.dropped > 0 {
            out.push(format!(
                "key log: more than {MAX_SESSIONS} sessions; {} lines for further sessions ignored",
                self.dropped
            ));
        }
        out
    }
}

/// A `--keylog` file, followed for lines appended while `live` runs.
#[derive(Debug)]
struct Tail {
    path: PathBuf,
    offset: u64,
    lines: Lines,
    /// The file read last (device, inode): another one at the path is a rotated log.
    identity: Option<(u64, u64)>,
}

/// The secrets of a run, shared by every thread: `--keylog` files read at the start (and
/// followed in `live`) plus the capture's Decryption Secrets Blocks as they are read.
#[derive(Debug, Default)]
pub struct KeyStore {
    log: RwLock<KeyLog>,
    /// Bumped at every addition, so a connection that found no secrets can tell cheaply
    /// whether it is worth looking again.
    generation: AtomicU64,
    follow: Option<Mutex<Vec<Tail>>>,
    /// A `--keylog` was given (the summary then says how many flows were decrypted).
    files_given: bool,
}

impl KeyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads every file; `follow` keeps them open for lines appended later ([`Self::refresh`]).
    pub fn from_files(paths: &[PathBuf], follow: bool) -> Result<Self, KeyLogError> {
        let store = KeyStore::new();
        let mut tails = Vec::new();
        for path in paths {
            let mut tail = Tail {
                path: path.clone(),
                offset: 0,
                lines: Lines::default(),
                identity: None,
            };
            store.read_tail(&mut tail, !follow)?;
            tails.push(tail);
        }
        let store = KeyStore {
            follow: follow.then(|| Mutex::new(tails)),
            files_given: !paths.is_empty(),
            ..store
        };
        Ok(store)
    }

    /// Reads what was appended to a file since the last time; `at_end` also takes a last
    /// line without its newline (a followed file may be in the middle of writing one).
    fn read_tail(&self, tail: &mut Tail, at_end: bool) -> Result<(), KeyLogError> {
        let err = |error| KeyLogError::Read {
            path: tail.path.display().to_string(),
            error,
        };
        let mut file = File::open(&tail.path).map_err(err)?;
        let meta = file.metadata().map_err(err)?;
        let len = meta.len();
        let identity = file_identity(&meta);
        if len < tail.offset || identity != tail.identity {
            // Truncated and rewritten, or replaced by a new file (rotated): start again
            // from the top. Secrets already read stay in the store.
            tail.offset = 0;
            tail.lines = Lines::default();
            tail.identity = identity;
        }
        if len == tail.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(tail.offset)).map_err(err)?;
        let name = tail.path.display().to_string();
        let mut buf = vec![0u8; 64 * 1024];
        let mut log = self.log.write().unwrap_or_else(|p| p.into_inner());
        let i = log.source(&name);
        loop {
            let n = file.read(&mut buf).map_err(err)?;
            if n == 0 {
                break;
            }
            tail.offset += n as u64;
            tail.lines.feed(&buf[..n], &mut |l| log.add_line(i, l));
        }
        if at_end {
            tail.lines.finish(&mut |l| log.add_line(i, l));
        }
        drop(log);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Secrets from a pcapng Decryption Secrets Block (TLS key log type).
    pub fn add_block(&self, data: &[u8]) {
        let mut log = self.log.write().unwrap_or_else(|p| p.into_inner());
        log.add_text("in the capture (Decryption Secrets Block)", data);
        drop(log);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Re-reads followed files for appended lines; unreadable files are left for the next
    /// time (a key log is often created after the capture starts).
    ///
    /// Called on every miss, not on a timer: the client writes its line moments before
    /// the records that need it, so a rate limit would lose exactly the sessions `live`
    /// is following the file for. A miss costs one `stat` per file when nothing was
    /// appended, once per connection (a connection looks its secrets up once). The lock
    /// is waited for: the thread holding it is reading what this lookup may need.
    pub fn refresh(&self) {
        let Some(follow) = &self.follow else {
            return;
        };
        let mut tails = follow.lock().unwrap_or_else(|p| p.into_inner());
        for tail in tails.iter_mut() {
            let _ = self.read_tail(tail, false);
        }
    }

    /// Changes whenever secrets were added.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn lookup(&self, client_random: &[u8]) -> Option<SessionSecrets> {
        let get = || {
            self.log
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(client_random)
                .copied()
        };
        let before = self.generation();
        let found = if before == 0 { None } else { get() };
        if found.is_some() || self.follow.is_none() {
            return found;
        }
        self.refresh();
        if self.generation() == before {
            return None;
        }
        get()
    }

    pub fn sessions(&self) -> usize {
        self.log
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .sessions()
    }

    /// True when a `--keylog` was given or the capture carried secrets, even none usable.
    pub fn in_use(&self) -> bool {
        self.files_given || self.generation() > 0
    }

    pub fn warnings(&self) -> Vec<String> {
        self.log
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .warnings()
    }
}

#[cfg(test)]
mod tests;
