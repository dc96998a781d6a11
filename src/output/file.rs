//! Where output bytes go: whole lines only, and files that appear complete or not at all.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A buffered writer that hands its inner writer whole lines only: when the buffer fills,
/// everything up to its last newline goes out in one write and the unfinished line waits.
/// A reader of a pipe or of a file being written (`tail -f`, a log shipper) sees no half
/// record, which `BufWriter`, cutting wherever its buffer ends, hands it once per buffer.
/// `flush` writes everything, so callers flush only after a whole record.
pub struct WholeLines<W: Write> {
    inner: W,
    buf: Vec<u8>,
    capacity: usize,
}

impl<W: Write> WholeLines<W> {
    pub fn with_capacity(capacity: usize, inner: W) -> Self {
        WholeLines {
            inner,
            buf: Vec::with_capacity(capacity),
            capacity,
        }
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    fn write_complete_lines(&mut self) -> io::Result<()> {
        if let Some(last) = self.buf.iter().rposition(|&b| b == b'\n') {
            let (lines, _) = self.buf.split_at(last + 1);
            self.inner.write_all(lines)?;
            self.buf.drain(..=last);
        }
        Ok(())
    }
}

impl<W: Write> Write for WholeLines<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.capacity {
            self.write_complete_lines()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        self.inner.flush()
    }
}

/// A file written under a temporary name beside its destination and renamed over it by
/// [`AtomicFile::commit`]: a reader finds the old file or the whole new one, never a part.
/// Dropped without a commit (an error, a panic), the temporary file is removed; killed, the
/// process leaves it behind under a name that says what it is.
pub struct AtomicFile {
    file: File,
    temp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl AtomicFile {
    pub fn create(dest: &Path) -> io::Result<Self> {
        let name = dest
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let temp = dest.with_file_name(format!(
            ".{}.tlstriage-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        Ok(AtomicFile {
            file,
            temp,
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    /// Makes the file durable and puts it in place.
    pub fn commit(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_all()?;
        std::fs::rename(&self.temp, &self.dest)?;
        self.committed = true;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.file.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every write it is handed.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.push(data.to_vec());
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_write_before_the_final_flush_ends_with_a_newline() {
        let mut w = WholeLines::with_capacity(64, Writes::default());
        let mut all = Vec::new();
        for i in 0..500 {
            // Lines longer and shorter than the buffer, written in pieces.
            let line = format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 150));
            for piece in line.as_bytes().chunks(7) {
                w.write_all(piece).unwrap();
            }
            all.extend_from_slice(line.as_bytes());
        }
        let before_flush = w.get_mut().0.len();
        assert!(before_flush > 100, "{before_flush} writes");
        assert!(w.get_mut().0.iter().all(|b| b.ends_with(b"\n")));
        w.flush().unwrap();
        assert_eq!(w.get_mut().0.concat(), all);
    }

    #[test]
    fn an_atomic_file_appears_only_on_commit_and_its_temporary_goes_on_drop() {
        let dir = std::env::temp_dir().join(format!("tlstriage-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("out.ndjson");
        std::fs::write(&dest, b"old\n").unwrap();
        {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.write_all(b"half").unwrap();
            assert_eq!(std::fs::read(&dest).unwrap(), b"old\n");
        }
        assert_eq!(std::fs::read(&dest).unwrap(), b"old\n");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "temporary removed"
        );
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"new\n").unwrap();
        f.commit().unwrap();
        drop(f);
        assert_eq!(std::fs::read(&dest).unwrap(), b"new\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
