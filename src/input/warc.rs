//! WARC and WET files (web archives, as published by Common Crawl).
//!
//! A WARC file is a sequence of records, each a `WARC/1.x` version line,
//! `Name: value` headers, a blank line and `Content-Length` bytes of
//! content. Two kinds of record carry text worth checking:
//!
//! * `conversion` records, which make up WET files: the plain text that the
//!   crawler extracted from a page;
//! * `response` (and `resource`) records whose HTTP `Content-Type` is HTML:
//!   the page itself, after the HTTP status line and headers, which goes
//!   through main-text extraction like any other page.
//!
//! `warcinfo`, `request`, `metadata` and `revisit` records, non-HTML
//! responses and non-2xx responses (redirects, errors) are skipped without
//! a document. Records are read one at a time, so memory use is bounded by
//! the largest record kept, which is capped by `max_bytes`.
//!
//! Damage is contained: a record with unusable headers or a damaged gzip
//! member becomes a document with an error naming the file and the record
//! number, then reading resumes at the next `WARC/1.` line; a record cut
//! short by the end of the file ends the file with such a document.

use std::io::{self, BufReader, Read};

use super::compress::{decompress_bytes, is_broken_member, Compression, DynRead};
use super::lines::{read_line_capped, Line};
use super::{Document, Hint, Settings};

/// Longest header line accepted, WARC or HTTP.
const MAX_HEADER_LINE: usize = 64 * 1024;
/// Most header lines accepted in one block, WARC or HTTP.
const MAX_HEADER_LINES: usize = 1000;

/// A lazy iterator over the documents in one WARC or WET input.
pub(crate) struct WarcRecords {
    name: String,
    reader: BufReader<DynRead>,
    settings: Settings,
    /// 1-based number of the record being read.
    record_no: usize,
    /// True after damage: skip lines until the next version line.
    resync: bool,
    yielded: bool,
    done: bool,
    line: Vec<u8>,
}

/// Why reading a record stopped.
enum Failure {
    /// The record is unusable but the next one may be fine.
    Record(String),
    /// Nothing more can be read from this input.
    Fatal(String),
}

/// A record's WARC headers, the ones we use.
#[derive(Default)]
struct WarcHeaders {
    kind: String,
    target_uri: Option<String>,
    record_id: Option<String>,
    content_type: Option<String>,
    content_length: Option<u64>,
    truncated: Option<String>,
}

impl WarcRecords {
    pub(crate) fn new(name: String, reader: DynRead, settings: Settings) -> WarcRecords {
        WarcRecords {
            name,
            reader: BufReader::with_capacity(64 * 1024, reader),
            settings,
            record_no: 0,
            resync: false,
            yielded: false,
            done: false,
            line: Vec::new(),
        }
    }

    fn at(&self) -> String {
        format!("{}: record {}", self.name, self.record_no)
    }

    /// Turns an I/O error into a failure: a damaged gzip member costs the
    /// current record only.
    fn io_failure(&self, err: io::Error) -> Failure {
        if is_broken_member(&err) {
            Failure::Record(format!("{}: {err}", self.at()))
        } else {
            Failure::Fatal(format!("{}: {err}", self.at()))
        }
    }

    /// Finds the next version line. Returns false at end of input.
    fn next_version_line(&mut self) -> Result<bool, Failure> {
        loop {
            let line = read_line_capped(&mut self.reader, &mut self.line, MAX_HEADER_LINE);
            match line {
                Ok(Line::Eof) => return Ok(false),
                Ok(Line::TooLong) if self.resync => continue,
                Ok(Line::Complete) if self.line.starts_with(b"WARC/") => {
                    self.resync = false;
                    self.record_no += 1;
                    return Ok(true);
                }
                Ok(Line::Complete) if trim(&self.line).is_empty() || self.resync => continue,
                Ok(_) => {
                    self.record_no += 1;
                    let found =
                        String::from_utf8_lossy(&self.line[..self.line.len().min(40)]).into_owned();
                    return Err(Failure::Record(format!(
                        "{}: expected a WARC/1.x version line, found {found:?}",
                        self.at()
                    )));
                }
                Err(err) if is_broken_member(&err) && self.resync => continue,
                Err(err) => {
                    self.record_no += 1;
                    return Err(self.io_failure(err));
                }
            }
        }
    }

    /// Reads the `Name: value` lines up to the blank line.
    fn headers(&mut self) -> Result<WarcHeaders, Failure> {
        let mut headers = WarcHeaders::default();
        for _ in 0..MAX_HEADER_LINES {
            match read_line_capped(&mut self.reader, &mut self.line, MAX_HEADER_LINE) {
                Ok(Line::Eof) => {
                    return Err(Failure::Fatal(format!(
                        "{}: truncated: the file ends inside the record's headers",
                        self.at()
                    )))
                }
                Ok(Line::TooLong) => {
                    return Err(Failure::Record(format!(
                        "{}: header line longer than {MAX_HEADER_LINE} bytes",
                        self.at()
                    )))
                }
                Ok(Line::Complete) => {}
                Err(err) => return Err(self.io_failure(err)),
            }
            let line = trim(&self.line);
            if line.is_empty() {
                return Ok(headers);
            }
            let Some((name, value)) = split_header(line) else { continue };
            let value = value.to_string();
            match name.to_ascii_lowercase().as_str() {
                "warc-type" => headers.kind = value.to_ascii_lowercase(),
                "warc-target-uri" => {
                    // WARC/1.0 allowed angle brackets around the URI. An
                    // empty one (`<>`, or lost to bad bytes in `trim`) is
                    // none: the record number names the document instead.
                    let uri = value.trim_start_matches('<').trim_end_matches('>');
                    headers.target_uri = (!uri.is_empty()).then(|| uri.to_string());
                }
                "warc-record-id" => headers.record_id = Some(value),
                "content-type" => headers.content_type = Some(value),
                "content-length" => headers.content_length = value.parse().ok(),
                "warc-truncated" => headers.truncated = Some(value),
                _ => {}
            }
        }
        Err(Failure::Record(format!("{}: more than {MAX_HEADER_LINES} header lines", self.at())))
    }

    /// Reads exactly `len` bytes of content, or fails naming how many were
    /// there.
    fn content(&mut self, len: u64) -> Result<Vec<u8>, Failure> {
        let mut buf = Vec::with_capacity(usize::try_from(len.min(1 << 20)).unwrap_or(0));
        match (&mut self.reader).take(len).read_to_end(&mut buf) {
            Ok(n) if (n as u64) < len => Err(self.truncated(len, n as u64)),
            Ok(_) => Ok(buf),
            Err(err) => Err(self.io_failure(err)),
        }
    }

    /// Discards `len` bytes of content.
    fn skip(&mut self, len: u64) -> Result<(), Failure> {
        match io::copy(&mut (&mut self.reader).take(len), &mut io::sink()) {
            Ok(n) if n < len => Err(self.truncated(len, n)),
            Ok(_) => Ok(()),
            Err(err) => Err(self.io_failure(err)),
        }
    }

    fn truncated(&self, len: u64, got: u64) -> Failure {
        Failure::Fatal(format!(
            "{}: truncated: Content-Length is {len} bytes but the file ends after {got}",
            self.at()
        ))
    }

    /// Reads one record; `Ok(None)` for a record that yields no document.
    fn record(&mut self) -> Result<Option<Document>, Failure> {
        let headers = self.headers()?;
        let Some(len) = headers.content_length else {
            return Err(Failure::Record(format!(
                "{}: missing or invalid Content-Length header",
                self.at()
            )));
        };
        let max = self.settings.opts.max_bytes;
        let wanted = matches!(headers.kind.as_str(), "conversion" | "response" | "resource");
        if !wanted {
            self.skip(len)?;
            return Ok(None);
        }
        if len > max {
            self.skip(len)?;
            return Err(Failure::Record(format!(
                "{}: record of {len} bytes is larger than {max} bytes; raise --max-bytes",
                self.at()
            )));
        }
        let content = self.content(len)?;
        let source = headers.target_uri.clone().unwrap_or_else(|| self.at());
        let mut doc = match headers.kind.as_str() {
            "conversion" => {
                let mut doc = self.settings.bytes_document(source, content, Hint::default());
                // The text of a whole page, menus and footers included.
                if doc.error.is_none() && doc.html.is_none() {
                    doc.boilerplate.extend(super::page_furniture_ranges(&doc.text));
                    doc.boilerplate.sort_by_key(|r| (r.start, r.end));
                    doc.boilerplate.dedup();
                }
                doc
            }
            "response" => match self.http_response(&source, &content)? {
                Some(doc) => doc,
                None => return Ok(None),
            },
            _ => {
                let media = headers.content_type.as_deref().unwrap_or("");
                let Some(hint) = media_hint(media) else { return Ok(None) };
                self.settings.bytes_document(source, content, hint)
            }
        };
        doc.id = headers.record_id;
        if doc.url.is_none() {
            doc.url = headers.target_uri;
        }
        if let Some(reason) = headers.truncated {
            doc.warnings
                .push(format!("record truncated by the crawler (WARC-Truncated: {reason})"));
        }
        Ok(Some(doc))
    }

    /// The document for an HTTP response record, `None` when it is not a
    /// successful text or HTML response.
    fn http_response(&self, source: &str, content: &[u8]) -> Result<Option<Document>, Failure> {
        let mut reader = content;
        let mut line = Vec::new();
        let mut status_ok = false;
        let mut media = None;
        let mut chunked = false;
        for i in 0..MAX_HEADER_LINES {
            match read_line_capped(&mut reader, &mut line, MAX_HEADER_LINE) {
                Ok(Line::Complete) => {}
                _ => {
                    return Err(Failure::Record(format!(
                        "{}: HTTP headers are not terminated by a blank line",
                        self.at()
                    )))
                }
            }
            let text = trim(&line);
            if i == 0 {
                // "HTTP/1.1 200 OK"
                let code = text.split_whitespace().nth(1).unwrap_or("");
                status_ok = code.starts_with('2');
                continue;
            }
            if text.is_empty() {
                break;
            }
            if let Some((name, value)) = split_header(text) {
                match name.to_ascii_lowercase().as_str() {
                    "content-type" => media = Some(value.to_string()),
                    "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                    _ => {}
                }
            }
        }
        let Some(mut hint) = media.as_deref().and_then(media_hint) else { return Ok(None) };
        if !status_ok {
            return Ok(None);
        }
        let mut body = reader.to_vec();
        let mut warnings = Vec::new();
        if chunked {
            match dechunk(&body) {
                Some(joined) => body = joined,
                None => {
                    warnings.push("malformed chunked transfer encoding; body used as is".into())
                }
            }
        }
        // Some archives keep the body exactly as sent, compressed.
        let max = self.settings.opts.max_bytes;
        match decompress_bytes(body, max) {
            Ok((kind, bytes)) => {
                if kind != Compression::None && bytes.len() as u64 > max {
                    return Err(Failure::Record(format!(
                        "{}: HTTP body decompressed past {max} bytes; raise --max-bytes",
                        self.at()
                    )));
                }
                body = bytes;
            }
            Err(err) => {
                return Err(Failure::Record(format!("{}: HTTP body: {err}", self.at())));
            }
        }
        hint.http_charset = media.as_deref().and_then(charset_param);
        let mut doc = self.settings.bytes_document(source.to_string(), body, hint);
        doc.warnings.extend(warnings);
        Ok(Some(doc))
    }
}

impl Iterator for WarcRecords {
    type Item = Document;

    fn next(&mut self) -> Option<Document> {
        while !self.done {
            let result = match self.next_version_line() {
                Ok(false) => {
                    self.done = true;
                    if self.yielded {
                        return None;
                    }
                    self.yielded = true;
                    return Some(Document::failed(
                        self.name.clone(),
                        format!("{}: no text or HTML records in this WARC file", self.name),
                    ));
                }
                Ok(true) => self.record(),
                Err(failure) => Err(failure),
            };
            match result {
                Ok(Some(doc)) => {
                    self.yielded = true;
                    return Some(doc);
                }
                Ok(None) => {}
                Err(Failure::Record(message)) => {
                    self.resync = true;
                    self.yielded = true;
                    return Some(Document::failed(self.name.clone(), message));
                }
                Err(Failure::Fatal(message)) => {
                    self.done = true;
                    self.yielded = true;
                    return Some(Document::failed(self.name.clone(), message));
                }
            }
        }
        None
    }
}

/// What a media type says about a body: HTML, text, or neither (`None`).
fn media_hint(media: &str) -> Option<Hint> {
    let essence = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "text/html" | "application/xhtml+xml" => {
            Some(Hint { html: Some(true), http_charset: charset_param(media) })
        }
        "text/plain" => Some(Hint { html: Some(false), http_charset: None }),
        _ => None,
    }
}

/// The `charset` parameter of a media type.
fn charset_param(media: &str) -> Option<String> {
    media.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

/// Joins the chunks of an HTTP/1.1 chunked body; `None` if malformed.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let end = body.iter().position(|&b| b == b'\n')?;
        let size_line = std::str::from_utf8(&body[..end]).ok()?;
        let size_hex = size_line.split(';').next()?.trim();
        let size = usize::from_str_radix(size_hex, 16).ok()?;
        body = &body[end + 1..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size..)?;
        body = body.strip_prefix(b"\r\n").or_else(|| body.strip_prefix(b"\n")).unwrap_or(body);
    }
}

fn trim(line: &[u8]) -> &str {
    // Header names and the values we use are ASCII; a stray non-UTF-8 byte
    // elsewhere in a header must not make the whole line unreadable.
    std::str::from_utf8(line)
        .map(str::trim)
        .unwrap_or_else(|e| std::str::from_utf8(&line[..e.valid_up_to()]).unwrap_or("").trim())
}

fn split_header(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    Some((name.trim(), value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks() {
        assert_eq!(dechunk(b"4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\n\r\n").unwrap(), b"Wikipedia");
        assert_eq!(dechunk(b"zz\r\n"), None);
        assert_eq!(dechunk(b"10\r\nshort"), None);
    }

    #[test]
    fn media_types() {
        let hint = media_hint("text/html; charset=\"ISO-8859-1\"").unwrap();
        assert_eq!(hint.html, Some(true));
        assert_eq!(hint.http_charset.as_deref(), Some("ISO-8859-1"));
        assert_eq!(media_hint("TEXT/PLAIN").unwrap().html, Some(false));
        assert!(media_hint("image/png").is_none());
        assert!(media_hint("").is_none());
    }
}
