//! Compressed captures (gzip, zstd, xz, lz4), recognised by their magic bytes and
//! decompressed as a stream: the capture is never inflated whole into memory or onto disk,
//! so a multi-gigabyte `.pcap.zst` costs the decoder's window and the reader's buffer.
//!
//! Every backend is pure Rust or a C library vendored into its crate (zstd, liblzma with
//! `static`), so the default build needs no system library.

use std::io::{self, Cursor, Read};

/// A compression format of the whole capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
    Lz4,
}

impl Compression {
    /// The name users know it by (also the usual file suffix without the dot).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Lz4 => "lz4",
        }
    }

    /// The format whose magic number starts `prefix`, if any.
    pub fn sniff(prefix: &[u8]) -> Option<Self> {
        const MAGICS: &[(&[u8], Compression)] = &[
            (b"\x1f\x8b", Compression::Gzip),
            (b"\x28\xb5\x2f\xfd", Compression::Zstd),
            (b"\xfd7zXZ\x00", Compression::Xz),
            // LZ4 frame format; the legacy format (0x184c2102) is what `lz4 -l` writes and
            // no capture tool does.
            (b"\x04\x22\x4d\x18", Compression::Lz4),
        ];
        MAGICS
            .iter()
            .find(|(magic, _)| prefix.starts_with(magic))
            .map(|&(_, c)| c)
    }

    /// Bytes needed to recognise every format.
    pub const SNIFF_LEN: usize = 6;

    /// A reader of the decompressed bytes of `prefix` followed by the rest of `input`.
    /// Concatenated members/frames/streams (what `cat a.gz b.gz` or `pigz`/`zstd -T`
    /// produce) are read as one.
    pub fn decoder(
        self,
        prefix: Vec<u8>,
        input: Box<dyn Read + Send>,
    ) -> io::Result<Box<dyn Read + Send>> {
        let raw = Cursor::new(prefix).chain(input);
        let decoder: Box<dyn Read + Send> = match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(raw)?),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(raw)),
            Compression::Lz4 => Box::new(Lz4Frames(Some(lz4_flex::frame::FrameDecoder::new(raw)))),
        };
        Ok(Box::new(Named {
            compression: self,
            inner: decoder,
        }))
    }
}

/// Says which decoder failed ("decompressing zstd: Data corruption detected") rather than
/// the decoder's bare message.
struct Named {
    compression: Compression,
    inner: Box<dyn Read + Send>,
}

impl Read for Named {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::Interrupted => e,
            io::ErrorKind::UnexpectedEof => io::Error::new(
                e.kind(),
                format!("{} data cut short: {e}", self.compression.name()),
            ),
            kind => io::Error::new(
                kind,
                format!("decompressing {}: {e}", self.compression.name()),
            ),
        })
    }
}

/// lz4_flex's decoder reports end-of-file at the end of every frame, and is not meant to be
/// reused for a next frame with other block sizes: each frame gets a fresh decoder. The
/// decoder reads its input with exact lengths, so handing the input on loses nothing.
struct Lz4Frames<R: Read>(Option<lz4_flex::frame::FrameDecoder<R>>);

impl<R: Read> Read for Lz4Frames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(decoder) = self.0.as_mut() else {
            return Ok(0);
        };
        match decoder.read(buf)? {
            0 if !buf.is_empty() => {
                let input = self.0.take().map(lz4_flex::frame::FrameDecoder::into_inner);
                let Some(input) = input else { return Ok(0) };
                let next = self.0.insert(lz4_flex::frame::FrameDecoder::new(input));
                let n = next.read(buf)?;
                if n == 0 {
                    self.0 = None;
                }
                Ok(n)
            }
            n => Ok(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn compress(c: Compression, data: &[u8]) -> Vec<u8> {
        match c {
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::stream::encode_all(data, 1).unwrap(),
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    const ALL: [Compression; 4] = [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Xz,
        Compression::Lz4,
    ];

    fn decode_all(packed: Vec<u8>) -> io::Result<Vec<u8>> {
        let c = Compression::sniff(&packed).expect("magic recognised");
        let split = Compression::SNIFF_LEN.min(packed.len());
        let (head, tail) = packed.split_at(split);
        let mut r = c.decoder(head.to_vec(), Box::new(Cursor::new(tail.to_vec())))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn every_format_round_trips_and_concatenations_read_as_one() {
        let a: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let b = b"second member".to_vec();
        for c in ALL {
            let mut packed = compress(c, &a);
            assert_eq!(Compression::sniff(&packed), Some(c));
            packed.extend(compress(c, &b));
            let out = decode_all(packed).unwrap();
            assert_eq!(out.len(), a.len() + b.len(), "{c:?}");
            assert!(out.starts_with(&a) && out.ends_with(&b), "{c:?}");
        }
    }

    #[test]
    fn truncated_or_corrupt_streams_are_errors_not_panics() {
        let data = vec![7u8; 100_000];
        for c in ALL {
            let packed = compress(c, &data);
            let cut = packed[..packed.len() / 2].to_vec();
            assert!(decode_all(cut).is_err(), "{c:?}: truncated stream");
            let mut bad = packed.clone();
            for b in bad.iter_mut().skip(Compression::SNIFF_LEN + 8) {
                *b ^= 0x5a;
            }
            match decode_all(bad) {
                Err(_) => {}
                Ok(out) => assert_ne!(out, data, "{c:?}: garbage decoded as the original"),
            }
        }
    }

    #[test]
    fn captures_and_other_files_are_not_taken_for_compressed() {
        for prefix in [
            &b"\xd4\xc3\xb2\xa1"[..],
            b"\x0a\x0d\x0d\x0a",
            b"\x1f",
            b"",
            b"\xfd7zX",
        ] {
            assert_eq!(Compression::sniff(prefix), None, "{prefix:?}");
        }
    }
}
