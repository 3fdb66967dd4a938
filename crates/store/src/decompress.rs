//! The one place that tells a compressed stream by its first bytes and
//! decompresses it in-process: gzip, bzip2, xz and zstd, as Docker's
//! `archive.DecompressStream` accepts. Used by `import`/`load` here and by
//! the builder (context intake, ADD of local archives).

use std::io::{self, BufRead, Read};

/// A compression format, told from a stream's magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed (or a format not recognised).
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// bzip2 (`BZh`).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

impl Compression {
    /// Tell the format from `head`, the first bytes of a stream (a few
    /// bytes suffice; fewer than a magic number means `None`).
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b, 0x08]) {
            Compression::Gzip
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The format's usual name ("gzip", ...; "none" for [`Compression::None`]).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

/// A decompressing reader over `R` (or `R` itself for uncompressed input).
/// Concatenated members/streams/frames are all read, as the command-line
/// tools do; a corrupt or truncated stream is a read error, not a short read.
pub enum Decoder<R: BufRead> {
    /// Passed through.
    Plain(R),
    /// gzip, all members.
    Gzip(flate2::bufread::MultiGzDecoder<R>),
    /// bzip2, all streams.
    Bzip2(bzip2::bufread::MultiBzDecoder<R>),
    /// xz, all streams.
    Xz(liblzma::bufread::XzDecoder<R>),
    /// zstd, all frames.
    Zstd(zstd::stream::read::Decoder<'static, R>),
}

impl<R: BufRead> Decoder<R> {
    /// Decompress `r` as `kind`.
    pub fn new(kind: Compression, r: R) -> io::Result<Decoder<R>> {
        Ok(match kind {
            Compression::None => Decoder::Plain(r),
            Compression::Gzip => Decoder::Gzip(flate2::bufread::MultiGzDecoder::new(r)),
            Compression::Bzip2 => Decoder::Bzip2(bzip2::bufread::MultiBzDecoder::new(r)),
            Compression::Xz => Decoder::Xz(liblzma::bufread::XzDecoder::new_multi_decoder(r)),
            Compression::Zstd => Decoder::Zstd(zstd::stream::read::Decoder::with_buffer(r)?),
        })
    }

    /// Look at the first bytes of `r` (without consuming them) and
    /// decompress it accordingly.
    pub fn sniffed(mut r: R) -> io::Result<Decoder<R>> {
        let kind = Compression::sniff(r.fill_buf()?);
        Decoder::new(kind, r)
    }

    /// The format being decompressed.
    pub fn compression(&self) -> Compression {
        match self {
            Decoder::Plain(_) => Compression::None,
            Decoder::Gzip(_) => Compression::Gzip,
            Decoder::Bzip2(_) => Compression::Bzip2,
            Decoder::Xz(_) => Compression::Xz,
            Decoder::Zstd(_) => Compression::Zstd,
        }
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Bzip2(r) => r.read(buf),
            Decoder::Xz(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor, Write};

    fn packed(kind: Compression, data: &[u8]) -> Vec<u8> {
        match kind {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
            Compression::Xz => {
                let mut w = liblzma::write::XzEncoder::new(Vec::new(), 1);
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
        }
    }

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Zstd,
    ];

    #[test]
    fn sniffs_and_round_trips_every_format() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 7919).to_le_bytes())
            .collect();
        for kind in ALL {
            let p = packed(kind, &data);
            assert_eq!(Compression::sniff(&p), kind, "{}", kind.name());
            let mut d = Decoder::sniffed(BufReader::new(Cursor::new(p))).unwrap();
            assert_eq!(d.compression(), kind);
            let mut out = Vec::new();
            d.read_to_end(&mut out).unwrap();
            assert_eq!(out, data, "{}", kind.name());
        }
    }

    #[test]
    fn concatenated_streams_are_all_read() {
        for kind in ALL {
            let mut p = packed(kind, b"hello ");
            p.extend(packed(kind, b"world"));
            let mut out = String::new();
            Decoder::sniffed(BufReader::new(Cursor::new(p)))
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, "hello world", "{}", kind.name());
        }
    }

    #[test]
    fn corrupt_or_truncated_input_is_an_error() {
        let data = vec![7u8; 100_000];
        for kind in ALL.into_iter().skip(1) {
            let p = packed(kind, &data);
            let cut = p[..p.len() / 2].to_vec();
            let res = Decoder::sniffed(BufReader::new(Cursor::new(cut)))
                .and_then(|mut d| d.read_to_end(&mut Vec::new()));
            assert!(res.is_err(), "truncated {}", kind.name());
        }
    }
}
