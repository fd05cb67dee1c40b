//! Line reading with a length cap, and the longest line and token of a
//! text.
//!
//! `BufRead::read_until` keeps growing its buffer until it finds a newline,
//! so one corrupt multi-gigabyte "line" would exhaust memory. These readers
//! keep at most `max` bytes and discard the rest of an oversized line.
//!
//! [`longest`] finds the first line or token of a decoded text over a cap,
//! in one pass: a document is refused rather than handed on with a
//! megabyte-long token (every later stage copies tokens: the scanner's
//! normalized text, its per-thread memo, the language model's lookups).

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

/// The first line or token of a text that is over its cap.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TooLong {
    /// Line `number` (1-based) is `len` bytes long.
    Line { number: usize, len: usize },
    /// A token of `len` bytes starts at byte `start`.
    Token { start: usize, len: usize },
}

/// The first line longer than `max_line` bytes or token longer than
/// `max_token` bytes in `text`, if any. Linear in the text.
pub(crate) fn longest(text: &str, max_line: usize, max_token: usize) -> Option<TooLong> {
    // No line or token is longer than the whole text, and nearly every
    // document is far under both caps.
    if text.len() <= max_line.min(max_token) {
        return None;
    }
    let mut line_start = 0;
    // `str::split` finds the newlines with a `memchr`.
    for (i, line) in text.split('\n').map(str::as_bytes).enumerate() {
        if line.len() > max_line {
            return Some(TooLong::Line { number: i + 1, len: line.len() });
        }
        if line.len() > max_token {
            // A token never spans ASCII whitespace, so only a run without
            // any can hold one that long; the tokenizer decides (a run of
            // CJK text is many short tokens).
            let mut run_start = line_start;
            for run in line.split(|b| b.is_ascii_whitespace()) {
                if run.len() > max_token {
                    // Runs end at ASCII bytes: `text` slices there.
                    let run_text = &text[run_start..run_start + run.len()];
                    let long = crate::tokenize::tokenize(run_text)
                        .into_iter()
                        .find(|t| t.end - t.start > max_token);
                    if let Some(t) = long {
                        return Some(TooLong::Token {
                            start: run_start + t.start,
                            len: t.end - t.start,
                        });
                    }
                }
                run_start += run.len() + 1;
            }
        }
        line_start += line.len() + 1;
    }
    None
}

/// The position of the first `needle` in `haystack`.
///
/// Every byte of every document passes through here (line ends, the HTML
/// sniffer's `<`), so whole blocks are tested with a branch-free fold,
/// which the compiler vectorizes, and only the block that holds the byte
/// is searched one byte at a time. On lines of a few hundred bytes this
/// takes half the instructions of the `memchr` behind `str::find`.
pub(crate) fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    const BLOCK: usize = 32;
    let mut start = 0;
    for block in haystack.chunks_exact(BLOCK) {
        if block.iter().fold(false, |found, &b| found | (b == needle)) {
            break;
        }
        start += BLOCK;
    }
    haystack[start..].iter().position(|&b| b == needle).map(|i| start + i)
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

    #[test]
    fn find_byte_in_and_after_blocks() {
        let text = format!("{}<{}<", "a".repeat(70), "b".repeat(5));
        assert_eq!(find_byte(text.as_bytes(), b'<'), Some(70));
        assert_eq!(find_byte(&text.as_bytes()[71..], b'<'), Some(5));
        assert_eq!(find_byte(&text.as_bytes()[..70], b'<'), None);
        assert_eq!(find_byte(b"", b'<'), None);
        for len in 0..100 {
            let mut bytes = vec![b'x'; len];
            assert_eq!(find_byte(&bytes, b'\n'), None);
            bytes.push(b'\n');
            assert_eq!(find_byte(&bytes, b'\n'), Some(len));
        }
    }

    /// `longest` as first written: every line split off and measured.
    fn previous_longest(text: &str, max_line: usize, max_token: usize) -> Option<TooLong> {
        let bytes = text.as_bytes();
        let mut line_start = 0;
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.len() > max_line {
                return Some(TooLong::Line { number: i + 1, len: line.len() });
            }
            if line.len() > max_token {
                let mut run_start = line_start;
                for run in line.split(|b| b.is_ascii_whitespace()) {
                    if run.len() > max_token {
                        let run_text = &text[run_start..run_start + run.len()];
                        let long = crate::tokenize::tokenize(run_text)
                            .into_iter()
                            .find(|t| t.end - t.start > max_token);
                        if let Some(t) = long {
                            return Some(TooLong::Token {
                                start: run_start + t.start,
                                len: t.end - t.start,
                            });
                        }
                    }
                    run_start += run.len() + 1;
                }
            }
            line_start += line.len() + 1;
        }
        None
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

        #[test]
        fn longest_matches_the_previous_scan(
            text in r"([a-z]{1,30}|[ \t\n\x0b]|é|漢|\.){0,60}",
            max_line in 0..200usize,
            max_token in 0..40usize,
        ) {
            proptest::prop_assert_eq!(
                longest(&text, max_line, max_token),
                previous_longest(&text, max_line, max_token)
            );
        }
    }

    #[test]
    fn longest_line_and_token() {
        assert_eq!(longest("short\nlines", 5, 5), None);
        assert_eq!(longest("ok\ntoo long\n", 5, 100), Some(TooLong::Line { number: 2, len: 8 }));
        assert_eq!(longest("a bb cccccc d", 100, 5), Some(TooLong::Token { start: 5, len: 6 }));
        // A long run of CJK is many one-character tokens.
        assert_eq!(longest(&"漢".repeat(100), 1000, 10), None);
        // Punctuation runs split into tokens too.
        assert_eq!(longest(&"\"".repeat(100), 1000, 10), None);
        assert_eq!(
            longest(&format!("x\n{}", "ab".repeat(50)), 1000, 10),
            Some(TooLong::Token { start: 2, len: 100 })
        );
    }
}
