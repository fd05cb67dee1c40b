//! Plumbing shared by the commands: loading the engine, colour, and bulk
//! processing of inputs.
//!
//! Bulk processing, shared by `score` and `restore`: the input flags (which
//! become [`InputOptions`] for the input layer), a parallel pipeline that
//! keeps input order with memory bounded by a window of documents, and the
//! progress bar and end-of-run summary on stderr.
//!
//! The pipeline reads documents on their own thread into a bounded channel.
//! The main thread takes a window of them (whatever has arrived, at least
//! one, at most `64 × threads`), scores or restores the window on a rayon
//! pool and hands the results back in input order, so output can be written
//! and flushed window by window. That is what a streaming consumer (`--jsonl
//! -` under Spark's `RDD.pipe`) needs: one record out per record in, in
//! order, without waiting for the end of the input, and memory that never
//! depends on the size of the corpus.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use unspin::input::{open_inputs, Document, InputOptions, Inputs};

use unspin::decode::{Decoder, Model};
use unspin::detect::Scorer;

use super::Global;

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl Color {
    /// Whether to colour standard output.
    pub fn enabled(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
            }
        }
    }
}

/// The decoder the global flags ask for.
pub fn decoder(global: &Global) -> anyhow::Result<Decoder> {
    let lexicon = super::lexicon::load(global)?;
    let lm = super::lm::load(global.lm.as_deref())?;
    Ok(Decoder::new(lexicon, Model::Static(lm)))
}

/// `decoder` with the English check off (`--any-language`).
pub fn any_language(decoder: Decoder) -> Decoder {
    let params = unspin::decode::Params { english_only: false, ..decoder.params().clone() };
    decoder.with_params(params)
}

/// `scorer` with the English check off (`--any-language`), its
/// calibration kept.
pub fn any_language_scorer(scorer: Scorer) -> Scorer {
    let decoder = any_language(scorer.decoder().clone());
    Scorer::with_decoder(decoder, scorer.calibration().clone())
}

/// The scorer the global flags ask for.
pub fn scorer(global: &Global) -> anyhow::Result<Scorer> {
    Ok(Scorer::new(decoder(global)?))
}

/// Reads a calibration saved by `unspin calibrate`, or a built-in one by
/// name ([`unspin::detect::CalibrationFile::built_in`]) when no file of
/// that name exists, warning when it was fitted with another lexicon or
/// language model.
pub fn load_calibration(
    path: &std::path::Path,
    lexicon_hash: &str,
    lm: &str,
) -> anyhow::Result<unspin::detect::CalibrationFile> {
    let built_in = path
        .to_str()
        .filter(|_| !path.exists())
        .and_then(unspin::detect::CalibrationFile::built_in);
    let file = match built_in {
        Some(file) => file?,
        None => {
            let text = std::fs::read_to_string(path).map_err(|e| unspin::Error::io(path, e))?;
            unspin::detect::CalibrationFile::parse(&path.display().to_string(), &text)?
        }
    };
    if file.lexicon != lexicon_hash || file.lm != lm {
        eprintln!(
            "unspin: warning: {} was fitted with lexicon {} and language model {}, not {} and {}; its rates may be off (run `unspin calibrate` again)",
            path.display(),
            file.lexicon,
            file.lm,
            lexicon_hash,
            lm
        );
    }
    Ok(file)
}

/// Documents per worker thread in one window.
const WINDOW_PER_THREAD: usize = 64;

/// Which inputs to read and how: the flags `score` and `restore` share.
#[derive(Clone, Debug, Args)]
pub struct InputArgs {
    /// Files or directories (read recursively) to process; `-` reads
    /// standard input. Gzip and zstd files, WARC/WET archives and HTML
    /// pages are recognised by their content. Text is read as UTF-8 (or
    /// UTF-16 after a byte-order mark); a page's declared charset is
    /// honoured, and the encoding of text that is neither is guessed, with
    /// a warning.
    #[arg(value_name = "PATH|-", required_unless_present_any = ["files_from", "jsonl"])]
    pub paths: Vec<PathBuf>,
    /// Only read files from directories whose name or relative path matches
    /// this glob, e.g. '*.html' or '**/*.jsonl.gz'.
    #[arg(long, value_name = "GLOB")]
    pub glob: Option<String>,
    /// Also read the files listed in FILE, one path per line (`-`: stdin).
    #[arg(long, value_name = "FILE|-")]
    pub files_from: Option<PathBuf>,
    /// Read PATH as JSON Lines, one document per line (`-`: stdin). Once
    /// given, every input is read as JSON Lines. May be repeated.
    #[arg(long, value_name = "PATH|-")]
    pub jsonl: Vec<PathBuf>,
    /// The JSONL field holding the text.
    #[arg(long, default_value = "text", value_name = "FIELD")]
    pub text_field: String,
    /// The JSONL field holding the document id.
    #[arg(long, default_value = "id", value_name = "FIELD")]
    pub id_field: String,
    /// Treat every input as HTML and extract its article (default: decide
    /// by content).
    #[arg(long, overrides_with = "no_html")]
    pub html: bool,
    /// Never treat input as HTML.
    #[arg(long, overrides_with = "html")]
    pub no_html: bool,
    /// Largest document, JSONL line or WARC record after decompression;
    /// larger ones are reported as errors. Takes K, M and G suffixes.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_bytes: Option<u64>,
    /// Longer HTML pages are cut to this size before extraction.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_html_bytes: Option<u64>,
    /// HTML tags that would nest elements deeper than this are ignored
    /// before extraction (their text is kept) [default: 256].
    #[arg(long, value_name = "N")]
    pub max_html_depth: Option<usize>,
    /// A document whose text has a token (a word, number or run of
    /// symbols) longer than this is reported as an error [default: 1M].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_token_bytes: Option<u64>,
    /// A document whose text has a line longer than this is reported as an
    /// error [default: 16M].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_line_bytes: Option<u64>,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar, no summary, no warnings; errors are still printed.
    #[arg(short, long)]
    pub quiet: bool,
}

impl InputArgs {
    /// Whether inputs are read as JSON Lines.
    pub fn is_jsonl(&self) -> bool {
        !self.jsonl.is_empty()
    }

    /// The options for the input layer.
    pub fn options(&self) -> InputOptions {
        let defaults = InputOptions::default();
        InputOptions {
            glob: self.glob.clone(),
            jsonl: self.is_jsonl(),
            text_field: self.text_field.clone(),
            id_field: self.id_field.clone(),
            html: if self.html {
                Some(true)
            } else if self.no_html {
                Some(false)
            } else {
                None
            },
            max_bytes: self.max_bytes.unwrap_or(defaults.max_bytes),
            max_html_bytes: self.max_html_bytes.unwrap_or(defaults.max_html_bytes),
            max_html_depth: self.max_html_depth.unwrap_or(defaults.max_html_depth),
            max_token_bytes: self.max_token_bytes.unwrap_or(defaults.max_token_bytes),
            max_line_bytes: self.max_line_bytes.unwrap_or(defaults.max_line_bytes),
        }
    }

    /// Every path to read, positional ones first, then `--jsonl` ones.
    pub fn all_paths(&self) -> Vec<PathBuf> {
        self.paths.iter().chain(&self.jsonl).cloned().collect()
    }

    /// Opens the inputs: the documents, lazily and in order.
    pub fn open(&self) -> anyhow::Result<Inputs> {
        let stdin_uses = self.all_paths().iter().filter(|p| p.as_os_str() == "-").count();
        if stdin_uses > 1 {
            anyhow::bail!("standard input (`-`) can only be read once");
        }
        Ok(open_inputs(&self.all_paths(), self.files_from.as_deref(), &self.options())?)
    }

    /// The rayon pool to work on.
    pub fn pool(&self) -> anyhow::Result<rayon::ThreadPool> {
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(n) = self.threads {
            if n == 0 {
                anyhow::bail!("-j must be at least 1");
            }
            builder = builder.num_threads(n);
        }
        builder.build().context("starting worker threads")
    }
}

/// Parses `4096`, `64K`, `16M`, `1G` (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 =
        digits.trim().parse().map_err(|_| format!("not a size: {s:?} (e.g. 512K, 16M)"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("size too large: {s}"))
}

/// Runs `work` on every document on `pool`, and calls `emit` once per
/// window with the documents and their results in input order.
///
/// Reading happens on its own thread, at most one window ahead, so memory
/// is bounded by two windows whatever the size of the corpus. `emit` should
/// flush what it writes: a window is as much as a streaming consumer waits.
pub fn for_each_window<T, W, E>(
    inputs: Inputs,
    pool: &rayon::ThreadPool,
    work: W,
    mut emit: E,
) -> anyhow::Result<()>
where
    T: Send,
    W: Fn(&Document) -> T + Sync,
    E: FnMut(Vec<(Document, T)>) -> anyhow::Result<()>,
{
    let window = WINDOW_PER_THREAD * pool.current_num_threads().max(1);
    let (tx, rx) = mpsc::sync_channel::<Document>(window);
    // The reader thread ends when the inputs do, or when the receiver is
    // gone because writing failed; it is not joined, so that a reader
    // blocked on stdin cannot keep a failed run alive.
    let reader = std::thread::Builder::new()
        .name("unspin-reader".into())
        .spawn(move || {
            for doc in inputs {
                if is_empty_stdin(&doc) {
                    continue;
                }
                if tx.send(doc).is_err() {
                    break;
                }
            }
        })
        .context("starting the reader thread")?;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < window {
            match rx.try_recv() {
                Ok(doc) => batch.push(doc),
                Err(_) => break,
            }
        }
        let results: Vec<T> = pool.install(|| batch.par_iter().map(&work).collect());
        emit(batch.into_iter().zip(results).collect())?;
    }
    // The channel is closed, so the reader is done: a panic there must not
    // pass for the end of the input.
    if reader.join().is_err() {
        anyhow::bail!("reading the inputs failed unexpectedly; the output is incomplete");
    }
    Ok(())
}

/// Whether `doc` stands for JSONL on stdin that held no records. That is
/// not a failure when streaming: Spark's `RDD.pipe` runs the command on
/// empty partitions too, and expects no lines back and a zero exit.
fn is_empty_stdin(doc: &Document) -> bool {
    doc.source == "-" && doc.record.is_none() && doc.error.as_deref() == Some("-: no JSON records")
}

/// Progress on stderr (only on a terminal), messages, and the summary.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    jsonl: bool,
    started: Instant,
    /// The input files and their sizes, once counted, for the ETA.
    plan: Option<Arc<OnceLock<Plan>>>,
    /// Whether the bar shows the plan yet.
    planned: bool,
    /// Documents seen.
    pub docs: u64,
    /// Documents that failed.
    pub errors: u64,
    /// Documents skipped (`--resume`).
    pub skipped: u64,
    /// Bytes of text (or HTML) processed.
    pub bytes: u64,
}

/// The input files in reading order with their sizes, so that progress can
/// be measured in input bytes and an ETA given.
struct Plan {
    /// Input file → bytes in the files before it.
    before: HashMap<String, u64>,
    total: u64,
}

/// Beyond this many files the plan is dropped: progress must not cost
/// memory in proportion to the corpus.
const PLAN_MAX_FILES: usize = 200_000;

impl Plan {
    /// Lists the files the input layer will read, as it will: directories
    /// walked in sorted order, hidden entries skipped, the glob applied.
    /// None when that cannot be known (stdin, a list of files) or the
    /// corpus is too large to list.
    fn new(args: &InputArgs) -> Option<Plan> {
        if args.files_from.is_some() {
            return None;
        }
        let glob = match &args.glob {
            Some(g) => Some(
                globset::GlobBuilder::new(g)
                    .literal_separator(true)
                    .build()
                    .ok()?
                    .compile_matcher(),
            ),
            None => None,
        };
        let mut plan = Plan { before: HashMap::new(), total: 0 };
        let mut add = |path: &Path, size: u64| {
            plan.before.insert(path.display().to_string(), plan.total);
            plan.total += size;
            plan.before.len() <= PLAN_MAX_FILES
        };
        for root in args.all_paths() {
            if root.as_os_str() == "-" {
                return None;
            }
            let Ok(meta) = std::fs::metadata(&root) else { continue };
            if !meta.is_dir() {
                if !add(&root, meta.len()) {
                    return None;
                }
                continue;
            }
            let mut walk =
                walkdir::WalkDir::new(&root).follow_links(true).sort_by_file_name().into_iter();
            while let Some(entry) = walk.next() {
                let Ok(entry) = entry else { continue };
                if entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.') {
                    if entry.file_type().is_dir() {
                        walk.skip_current_dir();
                    }
                    continue;
                }
                if !entry.file_type().is_file() {
                    continue;
                }
                if let Some(glob) = &glob {
                    let relative = entry.path().strip_prefix(&root).unwrap_or(entry.path());
                    if !glob.is_match(relative) && !glob.is_match(entry.file_name()) {
                        continue;
                    }
                }
                let size = entry.metadata().map_or(0, |m| m.len());
                if !add(entry.path(), size) {
                    return None;
                }
            }
        }
        (plan.total > 0).then_some(plan)
    }
}

impl Progress {
    /// A progress display; silent with `--quiet` or when stderr is not a
    /// terminal. The input files are counted on a thread of their own, so
    /// that work starts at once; the bar shows an ETA when they are.
    pub fn new(args: &InputArgs) -> Progress {
        let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}  [{elapsed_precise}]")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let plan = bar.as_ref().map(|_| {
            let cell = Arc::new(OnceLock::new());
            let (fill, paths) = (Arc::clone(&cell), args.clone());
            std::thread::spawn(move || {
                if let Some(plan) = Plan::new(&paths) {
                    let _ = fill.set(plan);
                }
            });
            cell
        });
        Progress {
            bar,
            quiet: args.quiet,
            jsonl: args.is_jsonl(),
            started: Instant::now(),
            plan,
            planned: false,
            docs: 0,
            errors: 0,
            skipped: 0,
            bytes: 0,
        }
    }

    /// Counts one document and prints its error and warnings.
    pub fn document(&mut self, doc: &Document) {
        self.docs += 1;
        self.bytes += doc.html.as_ref().map_or(doc.text.len(), String::len) as u64;
        if let Some(error) = &doc.error {
            self.errors += 1;
            self.print(&format!("unspin: {error}"));
        }
        if !self.quiet {
            for w in &doc.warnings {
                self.print(&format!("unspin: {}: {w}", doc.source));
            }
        }
        let Some(bar) = &self.bar else { return };
        if let Some(plan) = self.plan.as_ref().and_then(|p| p.get()) {
            if !self.planned {
                self.planned = true;
                bar.set_length(plan.total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:30} {percent:>3}%  {msg}  [{elapsed_precise}, ETA {eta}]",
                    )
                    .expect("valid template"),
                );
            }
            // The files before this document's are done.
            if let Some(&done) = plan.before.get(input_path(doc, self.jsonl)) {
                bar.set_position(done.max(bar.position()));
            }
        }
        let mb = self.bytes as f64 / 1e6;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.docs as f64 / secs;
        bar.set_message(format!(
            "{} documents  {mb:.1} MB  {rate:.0} documents/s  {:.2} MB/s",
            self.docs,
            mb / secs
        ));
    }

    /// Counts a failure that happened after reading (e.g. writing a file).
    pub fn error(&mut self, message: &str) {
        self.errors += 1;
        self.print(&format!("unspin: {message}"));
    }

    /// Prints a line on stderr without tearing the progress bar.
    pub fn print(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Clears the bar and, for runs of more than one document, prints the
    /// summary: `details` are command-specific ("clean 80%, …").
    pub fn finish(self, details: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.quiet || self.docs + self.skipped <= 1 {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64().max(1e-6);
        let mb = self.bytes as f64 / 1e6;
        let size = human_size(self.bytes);
        let skipped =
            if self.skipped > 0 { format!(", {} skipped", self.skipped) } else { String::new() };
        let details = if details.is_empty() { String::new() } else { format!("; {details}") };
        let noun = plural(self.docs, "document");
        eprintln!(
            "unspin: {} {noun}, {} failed{skipped}{details}; {size} in {secs:.2} s ({:.2} MB/s)",
            self.docs,
            self.errors,
            mb / secs
        );
    }
}

/// A number of bytes as a person reads it: "512 bytes", "48.3 kB",
/// "5.1 MB", "2.40 GB" (decimal units, as the MB/s of the summary).
pub fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..=999 => format!("{bytes} {}", plural(bytes, "byte")),
        1_000..=999_999 => format!("{:.1} kB", b / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.2} GB", b / 1e9),
    }
}

/// `noun` for a count of `n`: as it is for one, with an "s" otherwise.
pub fn plural<N: PartialEq + From<u8>>(n: N, noun: &str) -> String {
    if n == N::from(1) {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}

/// The path of a document's input file, without the `:N` line suffix of a
/// JSONL record.
pub fn input_path(doc: &Document, jsonl: bool) -> &str {
    if jsonl && (doc.record.is_some() || doc.source.rsplit_once(':').is_some_and(is_line)) {
        return doc.source.rsplit_once(':').map_or(&doc.source, |(path, _)| path);
    }
    &doc.source
}

fn is_line((_, n): (&str, &str)) -> bool {
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
}

/// Where, relative to an output directory, the output for input `path`
/// goes: the path below the directory it was found in, or the file name of
/// a file named directly. None when it is not a file (stdin, a WARC record).
pub fn mirrored(path: &str, roots: &[PathBuf]) -> Option<PathBuf> {
    let path = Path::new(path);
    if path.as_os_str() == "-" {
        return None;
    }
    for root in roots {
        if root == path {
            return path.file_name().map(PathBuf::from);
        }
        if root.is_dir() {
            if let Ok(rel) = path.strip_prefix(root) {
                return Some(rel.to_path_buf());
            }
        }
    }
    // From --files-from: keep a plain relative path, else the file name.
    let plain = path.is_relative()
        && path.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if plain && path.is_file() {
        return Some(path.to_path_buf());
    }
    if path.is_file() {
        return path.file_name().map(PathBuf::from);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_is_written_in_the_unit_it_reads_best_in() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(1), "1 byte");
        assert_eq!(human_size(999), "999 bytes");
        assert_eq!(human_size(4_830), "4.8 kB");
        assert_eq!(human_size(5_123_456), "5.1 MB");
        assert_eq!(human_size(2_400_000_000), "2.40 GB");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert!(parse_size("lots").is_err());
    }
}
