//! Line reading with a length cap.
//!
//! `BufRead::read_until` keeps growing its buffer until it finds a newline,
//! so one corrupt multi-gigabyte "line" would exhaust memory. These readers
//! keep at most `max` bytes and discard the rest of an oversized line.

use std::io::{self, BufRead};

/// What one capped line read produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// End of input before any byte.
    Eof,
    /// A line (its terminator removed) is in the buffer.
    Complete,
    /// The line was longer than the cap; it was consumed and the buffer is
    /// empty.
    TooLong,
}

/// Reads the next line into `buf` (without its `\n`; a `\r` before it is
/// kept), never holding more than `max` bytes of it.
pub(crate) fn read_line_capped<R: BufRead + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (take, found) = match chunk.iter().position(|&b| b == b'\n') {
            Some(pos) => (pos, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        reader.consume(take + usize::from(found));
        if found {
            break;
        }
    }
    Ok(match (any, too_long) {
        (false, _) => Line::Eof,
        (true, true) => Line::TooLong,
        (true, false) => Line::Complete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_recovers() {
        let mut input = &b"short\nthis line is too long\nok\r\nlast"[..];
        let mut buf = Vec::new();
        let mut got = Vec::new();
        loop {
            match read_line_capped(&mut input, &mut buf, 10).unwrap() {
                Line::Eof => break,
                Line::TooLong => got.push("<too long>".to_string()),
                Line::Complete => got.push(String::from_utf8(buf.clone()).unwrap()),
            }
        }
        assert_eq!(got, ["short", "<too long>", "ok\r", "last"]);
    }
}
