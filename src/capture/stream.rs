//! The streaming side of the reader: stdin, pipes and decompressors.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// Reads until `buf` holds `want` bytes or the input ends.
pub(super) fn read_up_to(input: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    while buf.len() < want {
        let n = chunk.len().min(want - buf.len());
        match input.read(&mut chunk[..n]) {
            Ok(0) => break,
            Ok(got) => buf.extend_from_slice(chunk.get(..got).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Replays the sniffed prefix, then the rest of the input, filling every
/// read completely. pcap-parser treats a short read as "no more room" and a
/// zero read as end of file, which pipes (stdin) would otherwise trip over.
/// I/O errors are parked in `error` because pcap-parser drops them.
pub(super) struct FillReader {
    pub(super) prefix: Vec<u8>,
    pub(super) prefix_pos: usize,
    pub(super) inner: Box<dyn Read + Send>,
    pub(super) pending: Option<io::Error>,
    pub(super) error: Arc<Mutex<Option<io::Error>>>,
}

impl Read for FillReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            return Err(self.park(e));
        }
        let mut filled = 0;
        if let Some(rest) = self.prefix.get(self.prefix_pos..) {
            let n = rest.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
                dst.copy_from_slice(src);
                filled = n;
                self.prefix_pos = self.prefix_pos.saturating_add(n);
            }
        }
        while let Some(dst) = buf.get_mut(filled..).filter(|d| !d.is_empty()) {
            match self.inner.read(dst) {
                Ok(0) => break,
                Ok(n) => filled = filled.saturating_add(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if filled > 0 => {
                    // Hand over what we have; fail on the next call.
                    self.pending = Some(e);
                    break;
                }
                Err(e) => return Err(self.park(e)),
            }
        }
        Ok(filled)
    }
}

impl FillReader {
    /// Keeps a copy of the error for `CaptureReader::read_error`.
    fn park(&self, e: io::Error) -> io::Error {
        if let Ok(mut slot) = self.error.lock() {
            *slot = Some(io::Error::new(e.kind(), e.to_string()));
        }
        e
    }
}
