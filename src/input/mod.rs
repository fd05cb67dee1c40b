//! The input layer: whatever the user names becomes a stream of
//! [`Document`]s.
//!
//! [`open_inputs`] takes files, directories (walked recursively in sorted
//! order, optionally filtered by a glob), `-` for stdin and a list of paths
//! from a file, and returns [`Inputs`], a lazy iterator that yields the
//! documents in input order. Each input is recognised by its content, never
//! by its name:
//!
//! 1. `compress.rs`: gzip (`1f 8b`, including Common Crawl's one member per
//!    record) and zstd (`28 b5 2f fd`) are undone transparently;
//! 2. a stream starting `WARC/1.` is a web archive (`warc.rs`): one document
//!    per text (WET) or HTML (WARC) record;
//! 3. with [`InputOptions::jsonl`], one document per line (`jsonl.rs`);
//! 4. anything else is one document: binary data is refused (`decode.rs`),
//!    HTML has its article extracted (`html.rs`, whose docs say which
//!    extractor was chosen and why, after `nesting.rs` has capped its
//!    depth), text is decoded as UTF-8.
//!
//! Failure is per document, never per run: an unreadable file, a malformed
//! JSONL line, a truncated WARC record or a page without an article each
//! yield a document whose [`Document::error`] names the input and the
//! problem, so a report can show one row for every input and move on. The
//! iterator never panics and every input yields at least one document.
//!
//! Containers (JSONL, WARC) are streamed: only one record is in memory at a
//! time, so `--jsonl -` processes records as they arrive on stdin and a
//! multi-gigabyte WARC file is fine. [`InputOptions::max_bytes`] caps each
//! document (and each record), which is also what stops a decompression
//! bomb; the other caps against hostile input are an HTML page's size and
//! nesting depth (`nesting.rs` flattens what is deeper) and the longest
//! token and line of a document's text.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use unspin::input::{open_inputs, InputOptions};
//!
//! let opts = InputOptions { glob: Some("*.html".into()), ..InputOptions::default() };
//! for doc in open_inputs(&[PathBuf::from("pages/")], None, &opts)? {
//!     match &doc.error {
//!         Some(error) => eprintln!("{error}"),
//!         None => println!("{}: {} words", doc.source, doc.text.split_whitespace().count()),
//!     }
//! }
//! # Ok::<(), unspin::Error>(())
//! ```

mod boilerplate;
mod compress;
mod decode;
mod html;
mod jsonl;
mod lines;
mod nesting;
mod warc;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};

pub use boilerplate::{boilerplate_ranges, is_boilerplate, page_furniture_ranges};
pub(crate) use decode::decode_text;

use crate::error::{Error, Result};
use compress::{decompress, peek, Compression, DynRead};

/// One document to score or restore, or the record of an input that failed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    /// Where the document came from: a path, `-` for stdin, `path:N` for
    /// line N of a JSONL input, or the `WARC-Target-URI` of a WARC record.
    pub source: String,
    /// The JSONL id field or the `WARC-Record-ID`.
    pub id: Option<String>,
    /// The canonical URL: `<link rel=canonical>`, `og:url`, or the
    /// `WARC-Target-URI`.
    pub url: Option<String>,
    /// The page's title (`og:title`, `<title>`, `<h1>`), for HTML input.
    pub title: Option<String>,
    /// The text to score and restore. For HTML, the extracted article,
    /// paragraphs separated by a blank line, boilerplate lines removed.
    pub text: String,
    /// The page as decoded to UTF-8, when the input was HTML; restoring to
    /// HTML needs it. Its `<meta charset>` may still name the original
    /// encoding.
    pub html: Option<String>,
    /// The whole JSON object of a JSONL line, so that every field can be
    /// written back.
    pub record: Option<serde_json::Map<String, serde_json::Value>>,
    /// Why this input could not be read; `text` is then empty (or partial).
    pub error: Option<String>,
    /// Problems that did not stop the document, e.g. "invalid UTF-8
    /// decoded lossily".
    pub warnings: Vec<String>,
    /// Byte ranges of `text` that are article furniture ("READ MORE: …",
    /// "Advertisement"), see [`boilerplate_ranges`]: the scorer should skip
    /// them and the restorer leave them alone.
    pub boilerplate: Vec<Range<usize>>,
}

impl Document {
    /// A document for an input that failed; `error` should name the input.
    pub fn failed(source: impl Into<String>, error: impl Into<String>) -> Document {
        Document { source: source.into(), error: Some(error.into()), ..Document::default() }
    }

    /// Did this input read successfully?
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// How to read inputs. Build with struct update syntax over
/// [`InputOptions::default`].
#[derive(Clone, Debug)]
pub struct InputOptions {
    /// Only files whose name or path below the walked directory matches
    /// this glob are read from directories (e.g. `*.html`, `**/*.jsonl.gz`).
    /// Files named explicitly are always read.
    pub glob: Option<String>,
    /// Read every input as JSON Lines, one document per line.
    pub jsonl: bool,
    /// The JSONL field holding the text (default `text`).
    pub text_field: String,
    /// The JSONL field holding the document id (default `id`).
    pub id_field: String,
    /// `Some(true)`: every document is HTML; `Some(false)`: none is;
    /// `None`: decide by content.
    pub html: Option<bool>,
    /// Largest document, JSONL line or WARC record, in bytes after
    /// decompression (default 256 MiB). Larger ones become an error.
    pub max_bytes: u64,
    /// Largest HTML page handed to the extractor (default 16 MiB); longer
    /// pages are cut with a warning, since a DOM costs several times the
    /// page's size in memory.
    pub max_html_bytes: u64,
    /// Deepest element nesting handed to the extractor (default 256).
    /// Parsing costs O(depth²), so tags that would open elements deeper
    /// than this are dropped (their text is kept), with a warning.
    pub max_html_depth: usize,
    /// Longest token (a word, number or run of symbols, as the tokenizer
    /// cuts them) in a document's text (default 1 MiB). A document with a
    /// longer one is an error: it is not prose (a base64 blob, a
    /// megabyte of one character), and every later stage would copy it.
    pub max_token_bytes: u64,
    /// Longest line in a document's text (default 16 MiB); a document
    /// with a longer one is an error. JSONL lines are capped by
    /// `max_bytes`, WARC header lines at 64 KiB.
    pub max_line_bytes: u64,
}

impl Default for InputOptions {
    fn default() -> InputOptions {
        InputOptions {
            glob: None,
            jsonl: false,
            text_field: "text".to_string(),
            id_field: "id".to_string(),
            html: None,
            max_bytes: 256 << 20,
            max_html_bytes: 16 << 20,
            max_html_depth: 256,
            max_token_bytes: 1 << 20,
            max_line_bytes: 16 << 20,
        }
    }
}

/// Opens `paths` (files, directories, or `-` for stdin), then the paths
/// listed one per line in `files_from` (a file, or `-` for stdin), and
/// returns the documents they hold, lazily and in that order.
///
/// Nothing is read before the first call to `next`, except that a
/// `files_from` file is opened here. Errors here are about the request, not
/// the inputs: an invalid glob or an unreadable `files_from`. Problems with
/// an input become a [`Document`] with [`Document::error`] set.
pub fn open_inputs(
    paths: &[PathBuf],
    files_from: Option<&Path>,
    opts: &InputOptions,
) -> Result<Inputs> {
    let glob = match &opts.glob {
        None => None,
        Some(pattern) => Some(
            GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|err| Error::Input {
                    input: pattern.clone(),
                    message: format!("invalid glob: {err}"),
                })?
                .compile_matcher(),
        ),
    };
    let files_from = match files_from {
        None => None,
        Some(path) if path == Path::new("-") => {
            Some(FilesFrom { name: "-".into(), reader: Box::new(BufReader::new(io::stdin())) })
        }
        Some(path) => {
            let file = File::open(path).map_err(|err| Error::io(path, err))?;
            Some(FilesFrom {
                name: path.display().to_string(),
                reader: Box::new(BufReader::new(file)),
            })
        }
    };
    let stdin_taken = files_from.as_ref().is_some_and(|f| f.name == "-");
    Ok(Inputs {
        settings: Settings { opts: Arc::new(opts.clone()) },
        glob,
        paths: paths.iter().cloned().collect(),
        files_from,
        walk: None,
        current: None,
        reader: None,
        stdin_taken,
    })
}

/// Reads documents from one already open reader, named `name` in sources
/// and messages: for input that is neither a file nor stdin, and for tests.
/// As with [`open_inputs`], nothing is read before the first `next`.
pub fn read_input(name: &str, reader: impl Read + Send + 'static, opts: &InputOptions) -> Inputs {
    Inputs {
        settings: Settings { opts: Arc::new(opts.clone()) },
        glob: None,
        paths: VecDeque::new(),
        files_from: None,
        walk: None,
        current: None,
        reader: Some((name.to_string(), Box::new(reader))),
        stdin_taken: false,
    }
}

/// The documents of a set of inputs, in input order; see [`open_inputs`].
///
/// `Inputs` is `Send`, so it can feed a pool of workers (e.g. through
/// `rayon`'s `par_bridge`, keeping each document's position if order
/// matters).
pub struct Inputs {
    settings: Settings,
    glob: Option<GlobMatcher>,
    paths: VecDeque<PathBuf>,
    files_from: Option<FilesFrom>,
    walk: Option<DirWalk>,
    current: Option<Box<dyn Iterator<Item = Document> + Send>>,
    /// The reader given to [`read_input`], until the first `next`.
    reader: Option<(String, DynRead)>,
    /// Stdin feeds `files_from`, so a `-` path cannot read documents from it.
    stdin_taken: bool,
}

impl std::fmt::Debug for Inputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inputs").field("paths", &self.paths).finish_non_exhaustive()
    }
}

struct FilesFrom {
    name: String,
    reader: Box<dyn BufRead + Send>,
}

/// A directory being walked.
struct DirWalk {
    root: PathBuf,
    entries: walkdir::IntoIter,
    /// Files found so far: a directory with none still yields a document.
    found: usize,
}

impl Iterator for Inputs {
    type Item = Document;

    fn next(&mut self) -> Option<Document> {
        if let Some((name, reader)) = self.reader.take() {
            self.current = Some(self.settings.open_stream(name, reader, None));
        }
        loop {
            if let Some(current) = self.current.as_mut() {
                if let Some(doc) = current.next() {
                    return Some(doc);
                }
                self.current = None;
            }
            if self.walk.is_some() {
                match self.next_walked() {
                    Ok(Some(path)) => {
                        let name = path.display().to_string();
                        self.current = Some(self.open_file(name, &path));
                    }
                    Ok(None) => {}
                    Err(doc) => return Some(*doc),
                }
                continue;
            }
            let path = match self.paths.pop_front() {
                Some(path) => path,
                None => match self.next_listed() {
                    Ok(Some(path)) => path,
                    Ok(None) => return None,
                    Err(doc) => return Some(*doc),
                },
            };
            if let Some(doc) = self.start(path) {
                return Some(doc);
            }
        }
    }
}

impl Inputs {
    /// Begins reading `path`; returns a document at once only for failures.
    fn start(&mut self, path: PathBuf) -> Option<Document> {
        let name = path.display().to_string();
        if path == Path::new("-") {
            if self.stdin_taken {
                return Some(Document::failed(
                    "-",
                    "-: stdin already holds the list of files (--files-from -)",
                ));
            }
            // A second `-` reads an exhausted stdin and yields an empty text.
            self.current = Some(self.settings.open_stream(name, Box::new(io::stdin()), None));
            return None;
        }
        match std::fs::metadata(&path) {
            Err(err) => Some(Document::failed(name, Error::io(&path, err).to_string())),
            Ok(meta) if meta.is_dir() => {
                // Siblings share their parent's path, so comparing whole
                // paths orders them by name, without parsing each path for
                // its name at every comparison (`sort_by_file_name` does).
                let entries = walkdir::WalkDir::new(&path)
                    .follow_links(true)
                    .sort_by(|a, b| a.path().as_os_str().cmp(b.path().as_os_str()))
                    .into_iter();
                self.walk = Some(DirWalk { root: path, entries, found: 0 });
                None
            }
            Ok(_) => {
                self.current = Some(self.open_file(name, &path));
                None
            }
        }
    }

    fn open_file(&self, name: String, path: &Path) -> Box<dyn Iterator<Item = Document> + Send> {
        match File::open(path) {
            Ok(file) => {
                let size = file.metadata().ok().map(|meta| meta.len());
                self.settings.open_stream(name, Box::new(file), size)
            }
            Err(err) => one(Document::failed(name, Error::io(path, err).to_string())),
        }
    }

    /// The next file of the directory walk that passes the glob.
    fn next_walked(&mut self) -> std::result::Result<Option<PathBuf>, Box<Document>> {
        let walk = self.walk.as_mut().expect("walk in progress");
        loop {
            let entry = match walk.entries.next() {
                None => {
                    let walk = self.walk.take().expect("walk in progress");
                    if walk.found > 0 {
                        return Ok(None);
                    }
                    let name = walk.root.display().to_string();
                    let message = match &self.settings.opts.glob {
                        Some(glob) => format!("{name}: no files match {glob:?} in this directory"),
                        None => format!("{name}: no files in this directory"),
                    };
                    return Err(Box::new(Document::failed(name, message)));
                }
                Some(Err(err)) => {
                    walk.found += 1;
                    let name = err.path().map_or_else(
                        || walk.root.display().to_string(),
                        |p| p.display().to_string(),
                    );
                    let message = match err.io_error() {
                        Some(io) => format!("{name}: {io}"),
                        None => format!("{name}: {err}"),
                    };
                    return Err(Box::new(Document::failed(name, message)));
                }
                Some(Ok(entry)) => entry,
            };
            // Hidden files and directories (.git, .DS_Store) are not
            // corpus; skip them as ripgrep does, except an explicit root.
            if entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.') {
                if entry.file_type().is_dir() {
                    walk.entries.skip_current_dir();
                }
                continue;
            }
            if !entry.file_type().is_file() {
                continue;
            }
            if let Some(glob) = &self.glob {
                let relative = entry.path().strip_prefix(&walk.root).unwrap_or(entry.path());
                if !glob.is_match(relative) && !glob.is_match(entry.file_name()) {
                    continue;
                }
            }
            walk.found += 1;
            return Ok(Some(entry.into_path()));
        }
    }

    /// The next path from `files_from`, skipping blank lines.
    fn next_listed(&mut self) -> std::result::Result<Option<PathBuf>, Box<Document>> {
        let Some(list) = self.files_from.as_mut() else { return Ok(None) };
        let mut line = String::new();
        loop {
            line.clear();
            match list.reader.read_line(&mut line) {
                Ok(0) => {
                    self.files_from = None;
                    return Ok(None);
                }
                Ok(_) => {
                    let path = line.trim_end_matches(['\n', '\r']);
                    if !path.trim().is_empty() {
                        return Ok(Some(PathBuf::from(path)));
                    }
                }
                Err(err) => {
                    let name = list.name.clone();
                    self.files_from = None;
                    return Err(Box::new(Document::failed(name.clone(), format!("{name}: {err}"))));
                }
            }
        }
    }
}

fn one(doc: Document) -> Box<dyn Iterator<Item = Document> + Send> {
    Box::new(std::iter::once(doc))
}

/// What the container says about a body (a WARC record's HTTP headers).
#[derive(Clone, Debug, Default)]
pub(crate) struct Hint {
    /// Whether the body is HTML, if the container says.
    pub html: Option<bool>,
    /// The HTTP `charset` parameter.
    pub http_charset: Option<String>,
}

/// The options, shared by the iterator and the record readers it creates.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub opts: Arc<InputOptions>,
}

impl Settings {
    /// The documents of one input: decompress, then sniff the format.
    /// `size` is the input's size in bytes, when it is a file.
    fn open_stream(
        &self,
        name: String,
        reader: DynRead,
        size: Option<u64>,
    ) -> Box<dyn Iterator<Item = Document> + Send> {
        match self.try_open_stream(&name, reader, size) {
            Ok(docs) => docs,
            Err(err) => one(Document::failed(name.clone(), format!("{name}: {err}"))),
        }
    }

    fn try_open_stream(
        &self,
        name: &str,
        reader: DynRead,
        size: Option<u64>,
    ) -> io::Result<Box<dyn Iterator<Item = Document> + Send>> {
        let (compression, reader) = decompress(reader)?;
        if self.opts.jsonl {
            return Ok(Box::new(jsonl::JsonlRecords::new(name.to_string(), reader, self.clone())));
        }
        let (head, reader) = peek(reader, 8)?;
        if head.starts_with(b"WARC/1.") {
            return Ok(Box::new(warc::WarcRecords::new(name.to_string(), reader, self.clone())));
        }
        let max = self.opts.max_bytes;
        // A plain file is read into a buffer of its size: grown from empty,
        // the buffer would be copied at every doubling.
        let capacity = match (compression, size) {
            (Compression::None, Some(size)) => size.min(max),
            _ => 0,
        };
        let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        reader.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max {
            let message = match compression {
                Compression::None => format!("{name}: larger than {max} bytes; raise --max-bytes"),
                _ => format!("{name}: decompressed past {max} bytes; raise --max-bytes"),
            };
            return Ok(one(Document::failed(name, message)));
        }
        Ok(one(self.bytes_document(name.to_string(), bytes, Hint::default())))
    }

    /// One document from raw bytes: refuse binary, extract HTML, decode text.
    pub(crate) fn bytes_document(&self, source: String, bytes: Vec<u8>, hint: Hint) -> Document {
        if decode::looks_binary(&bytes) {
            let message = format!("{source}: {}", decode::BINARY);
            return Document::failed(source, message);
        }
        let is_html = self.opts.html.or(hint.html).unwrap_or_else(|| html::looks_like_html(&bytes));
        if is_html {
            let (page, warning) = html::decode_page(&bytes, hint.http_charset.as_deref());
            let mut doc = self.page_document(source, page);
            doc.warnings.splice(0..0, warning);
            doc
        } else {
            let (text, warning) = decode::decode_text(bytes);
            let mut doc = self.plain_document(source, text);
            doc.warnings.splice(0..0, warning);
            doc
        }
    }

    /// One document from text that is already decoded (a JSONL field).
    pub(crate) fn text_document(&self, source: String, text: String) -> Document {
        if self.opts.html.unwrap_or_else(|| html::looks_like_html(text.as_bytes())) {
            self.page_document(source, text)
        } else {
            self.plain_document(source, text)
        }
    }

    fn plain_document(&self, source: String, text: String) -> Document {
        if let Err(message) = self.check_lengths(&source, &text) {
            return Document::failed(source, message);
        }
        let warnings = if text.is_empty() { vec!["empty input".to_string()] } else { Vec::new() };
        let boilerplate = boilerplate_ranges(&text);
        Document { source, text, warnings, boilerplate, ..Document::default() }
    }

    fn page_document(&self, source: String, page: String) -> Document {
        let found =
            html::extract(&source, &page, self.opts.max_html_bytes, self.opts.max_html_depth)
                .and_then(|found| match self.check_lengths(&source, &found.text) {
                    Ok(()) => Ok(found),
                    Err(message) => Err((message, found.warnings)),
                });
        match found {
            Ok(found) => Document {
                // Code is kept in the text but, like boilerplate, neither
                // scored nor restored.
                boilerplate: {
                    let mut ranges = boilerplate_ranges(&found.text);
                    ranges.extend(found.code);
                    ranges.sort_by_key(|r| r.start);
                    ranges
                },
                source,
                url: found.url,
                title: found.title,
                text: found.text,
                html: Some(page),
                warnings: found.warnings,
                ..Document::default()
            },
            Err((message, warnings)) => {
                Document { html: Some(page), warnings, ..Document::failed(source, message) }
            }
        }
    }

    /// Refuses a text with a line or a token longer than the caps.
    fn check_lengths(&self, source: &str, text: &str) -> std::result::Result<(), String> {
        let max_line = usize::try_from(self.opts.max_line_bytes).unwrap_or(usize::MAX);
        let max_token = usize::try_from(self.opts.max_token_bytes).unwrap_or(usize::MAX);
        match lines::longest(text, max_line, max_token) {
            None => Ok(()),
            Some(lines::TooLong::Line { number, len }) => Err(format!(
                "{source}: line {number} is {len} bytes long, longer than {max_line}; \
                 raise --max-line-bytes"
            )),
            Some(lines::TooLong::Token { start, len }) => Err(format!(
                "{source}: a token of {len} bytes at byte {start} of the text is longer than \
                 {max_token}; raise --max-token-bytes"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], opts: &InputOptions) -> Vec<Document> {
        read_input("mem", io::Cursor::new(bytes.to_vec()), opts).collect()
    }

    #[test]
    fn inputs_are_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Inputs>();
        assert_send::<Document>();
    }

    #[test]
    fn empty_input_is_one_document() {
        let docs = read(b"", &InputOptions::default());
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].warnings, ["empty input"]);
        let docs = read(b"", &InputOptions { jsonl: true, ..InputOptions::default() });
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].error.as_deref(), Some("mem: no JSON records"));
    }

    #[test]
    fn plain_text_has_boilerplate_ranges() {
        let text = "A line of prose.\nAdvertisement\nMore prose.\n";
        let docs = read(text.as_bytes(), &InputOptions::default());
        assert_eq!(docs[0].text, text, "plain text is kept byte for byte");
        let ranges = &docs[0].boilerplate;
        assert_eq!(ranges.len(), 1);
        assert_eq!(&text[ranges[0].clone()], "Advertisement");
    }

    #[test]
    fn forced_html_off_keeps_markup() {
        let page = b"<!doctype html><html><body><p>hi</p></body></html>";
        let docs = read(page, &InputOptions { html: Some(false), ..InputOptions::default() });
        assert!(docs[0].is_ok());
        assert!(docs[0].text.starts_with("<!doctype"));
        assert_eq!(docs[0].html, None);
    }

    #[test]
    fn bad_glob_is_an_error() {
        let opts = InputOptions { glob: Some("a[".into()), ..InputOptions::default() };
        let err = open_inputs(&[], None, &opts).unwrap_err();
        assert!(err.to_string().contains("invalid glob"), "{err}");
    }
}
