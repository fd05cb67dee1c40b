//! Transparent decompression, chosen by magic bytes rather than file names.
//!
//! Corpora arrive as `.gz`, `.zst`, `.warc.gz`, `.jsonl.zst`, or with no
//! suffix at all on stdin, so the first bytes decide: `1f 8b` is gzip,
//! `28 b5 2f fd` is zstd, anything else is read as is.
//!
//! Gzip is read member by member. Common Crawl compresses every WARC record
//! as its own gzip member, so one damaged member should cost one record, not
//! the rest of a gigabyte file: after a member fails to decode, the reader
//! reports the failure once (as an [`io::Error`] wrapping [`BrokenMember`])
//! and then resumes at the next gzip header in the file. Callers that cannot
//! resynchronise simply stop at the first error.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

/// A boxed reader that can move to another thread with the iterator.
pub(crate) type DynRead = Box<dyn Read + Send>;

/// How an input was compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Reads up to `n` bytes from `reader` without losing them: returns the
/// bytes and a reader that yields them again followed by the rest.
///
/// A pipe may deliver fewer bytes per `read` than asked, so this loops; it
/// blocks only until `n` bytes or end of input, which keeps `--jsonl -`
/// streaming (it needs eight bytes, not a buffer's worth).
pub(crate) fn peek(mut reader: DynRead, n: usize) -> io::Result<(Vec<u8>, DynRead)> {
    let mut prefix = Vec::with_capacity(n);
    (&mut reader).take(n as u64).read_to_end(&mut prefix)?;
    let rest: DynRead = Box::new(io::Cursor::new(prefix.clone()).chain(reader));
    Ok((prefix, rest))
}

/// Looks at the first bytes of `reader` and wraps it in the matching
/// decompressor.
pub(crate) fn decompress(reader: DynRead) -> io::Result<(Compression, DynRead)> {
    let (magic, reader) = peek(reader, 4)?;
    if magic.starts_with(&GZIP_MAGIC) {
        let members = GzipMembers::new(BufReader::with_capacity(64 * 1024, reader));
        Ok((Compression::Gzip, Box::new(members)))
    } else if magic.starts_with(&ZSTD_MAGIC) {
        Ok((Compression::Zstd, Box::new(zstd::stream::read::Decoder::new(reader)?)))
    } else {
        Ok((Compression::None, reader))
    }
}

/// Decompresses `bytes` if they start with a gzip or zstd magic number,
/// reading at most `max + 1` bytes of output so the caller can tell that the
/// cap was passed. Used for HTTP bodies inside WARC records.
pub(crate) fn decompress_bytes(bytes: Vec<u8>, max: u64) -> io::Result<(Compression, Vec<u8>)> {
    if !bytes.starts_with(&GZIP_MAGIC) && !bytes.starts_with(&ZSTD_MAGIC) {
        return Ok((Compression::None, bytes));
    }
    let (kind, reader) = decompress(Box::new(io::Cursor::new(bytes)))?;
    let mut out = Vec::new();
    reader.take(max.saturating_add(1)).read_to_end(&mut out)?;
    Ok((kind, out))
}

/// The error inside an [`io::Error`] when a gzip member could not be
/// decoded; the stream resumes at the next member.
#[derive(Debug)]
pub(crate) struct BrokenMember(String);

impl fmt::Display for BrokenMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broken gzip member: {}", self.0)
    }
}

impl std::error::Error for BrokenMember {}

/// Is `err` a recoverable [`BrokenMember`] (more data may follow)?
pub(crate) fn is_broken_member(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<BrokenMember>())
}

/// A multi-member gzip reader that skips damaged members.
///
/// `flate2::bufread::MultiGzDecoder` stops for good at the first bad member;
/// this one reports it and carries on from the next gzip header.
struct GzipMembers<R: BufRead> {
    /// `None` only transiently while moving the inner reader to a new
    /// decoder, or after an I/O error from the inner reader itself.
    decoder: Option<flate2::bufread::GzDecoder<R>>,
}

impl<R: BufRead> GzipMembers<R> {
    fn new(inner: R) -> GzipMembers<R> {
        GzipMembers { decoder: Some(flate2::bufread::GzDecoder::new(inner)) }
    }
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(decoder) = self.decoder.as_mut() else {
                return Ok(0);
            };
            match decoder.read(buf) {
                Ok(0) => {
                    // End of a member. The bufread decoder leaves whatever
                    // follows unconsumed in the inner reader.
                    let mut inner = self.decoder.take().expect("decoder present").into_inner();
                    // Zero padding after the last member (tape blocks, some
                    // uploaders) is ignored, as gzip(1) does.
                    skip_zeros(&mut inner)?;
                    if inner.fill_buf()?.is_empty() {
                        return Ok(0);
                    }
                    self.decoder = Some(flate2::bufread::GzDecoder::new(inner));
                }
                Ok(n) => return Ok(n),
                Err(err) => {
                    let mut inner = self.decoder.take().expect("decoder present").into_inner();
                    // Step past at least one byte so a header that fails at
                    // once cannot be found again at the same offset.
                    skip_to_next_member(&mut inner, 1)?;
                    if !inner.fill_buf()?.is_empty() {
                        self.decoder = Some(flate2::bufread::GzDecoder::new(inner));
                    }
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        BrokenMember(err.to_string()),
                    ));
                }
            }
        }
    }
}

/// Discards NUL bytes at the current position of `inner`.
fn skip_zeros<R: BufRead>(inner: &mut R) -> io::Result<()> {
    loop {
        let buf = inner.fill_buf()?;
        let zeros = buf.iter().take_while(|&&b| b == 0).count();
        if zeros == 0 {
            return Ok(());
        }
        inner.consume(zeros);
    }
}

/// Discards bytes from `inner` until it is positioned at a gzip header
/// (`1f 8b 08`, deflate being the only method in use) or at end of input.
fn skip_to_next_member<R: BufRead>(inner: &mut R, mut skip: usize) -> io::Result<()> {
    const HEADER: [u8; 3] = [0x1f, 0x8b, 0x08];
    loop {
        let buf = inner.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        let n = skip.min(buf.len());
        inner.consume(n);
        skip -= n;
        if skip > 0 {
            continue;
        }
        let buf = inner.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.windows(HEADER.len()).position(|w| w == HEADER) {
            Some(pos) => {
                inner.consume(pos);
                return Ok(());
            }
            // Keep the last two bytes: a header may straddle buffer refills.
            None if buf.len() > 2 => skip = buf.len() - 2,
            None => {
                // Fewer than three bytes left in the buffer; they cannot be
                // a full header unless more data follows. Drop one and retry
                // so the loop always makes progress.
                skip = 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn plain_passes_through() {
        let (kind, mut r) = decompress(Box::new(io::Cursor::new(b"hi".to_vec()))).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((kind, s.as_str()), (Compression::None, "hi"));
    }

    #[test]
    fn short_input_passes_through() {
        let (kind, mut r) = decompress(Box::new(io::Cursor::new(vec![0x1f]))).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!((kind, out), (Compression::None, vec![0x1f]));
    }

    #[test]
    fn multi_member_gzip() {
        let mut data = gz(b"one ");
        data.extend(gz(b"two"));
        let (kind, mut r) = decompress(Box::new(io::Cursor::new(data))).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((kind, s.as_str()), (Compression::Gzip, "one two"));
    }

    #[test]
    fn broken_member_is_reported_once_then_skipped() {
        let mut data = gz(b"first ");
        let mut bad = gz(b"second member that will be damaged in the middle");
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        bad[mid + 1] ^= 0xff;
        data.extend(bad);
        data.extend(gz(b"third"));
        let (_, mut r) = decompress(Box::new(io::Cursor::new(data))).unwrap();
        let mut out = Vec::new();
        let mut errors = 0;
        let mut buf = [0u8; 7];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    assert!(is_broken_member(&e), "{e}");
                    errors += 1;
                }
            }
        }
        let out = String::from_utf8_lossy(&out);
        assert_eq!(errors, 1);
        assert!(out.starts_with("first "), "{out}");
        assert!(out.ends_with("third"), "{out}");
    }

    #[test]
    fn zero_padding_after_the_last_member_is_ignored() {
        let mut data = gz(b"padded");
        data.extend([0u8; 10_000]);
        let (_, mut r) = decompress(Box::new(io::Cursor::new(data))).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "padded");
    }

    #[test]
    fn garbage_after_a_member_is_reported() {
        let mut data = gz(b"kept");
        data.extend(b"not gzip at all");
        let (_, mut r) = decompress(Box::new(io::Cursor::new(data))).unwrap();
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert!(is_broken_member(&err), "{err}");
        assert_eq!(out, b"kept");
    }

    #[test]
    fn zstd_round_trip() {
        let data = zstd::stream::encode_all(&b"zstd text"[..], 3).unwrap();
        let (kind, mut r) = decompress(Box::new(io::Cursor::new(data))).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((kind, s.as_str()), (Compression::Zstd, "zstd text"));
    }
}
