//! `unspin restore`: the most likely original text.
//!
//! Output goes to stdout, or with `--out DIR` to a tree that mirrors the
//! inputs (one file per input file, written atomically, so `--resume` can
//! trust that an existing file is complete). JSONL input gives JSONL output
//! with every input field kept and exactly one line per input line, so that
//! a pipe (Spark's `RDD.pipe`) stays aligned even past a malformed line.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::Value;
use unspin::detect::Scorer;
use unspin::input::Document;
use unspin::restore::{Edit, Restored, Restorer};

use super::{Global, EXIT_ERROR};
use crate::cmd::common::{self, input_path, mirrored, Color, InputArgs, Progress};

/// Arguments of `unspin restore`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unspin restore examples/spun-news.txt
  unspin restore spun.txt --format diff
  cat spun.txt | unspin restore - --format json --min-confidence 0.8
  unspin restore spun.txt --format json --alternatives 2   # runners-up per edit
  unspin restore --jsonl corpus.jsonl --out-field restored --edits > out.jsonl
  unspin restore --only-spun crawl/ --out restored/   # clean pages come back as they were
  unspin restore pages/ --glob '*.html' --format html --out restored/ --resume

Several documents written to stdout as text or diff each get a heading,
\"==> SOURCE <==\"; a single document is written exactly as restored.

Exit status: 2 if any input failed, else 0. With --jsonl every input line
gives one output line; a line that could not be read gives
{\"error\": ..., \"source\": \"file:N\"}.")]
pub struct RestoreArgs {
    /// What to read.
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format (default: text; JSONL input always gives JSONL records).
    #[arg(long, value_enum)]
    pub format: Option<RestoreFormat>,
    /// Only make edits at least this sure (0..1). A confidence is the
    /// chance that the edit restores the original exactly, as measured on
    /// spun news: at 0.9, 96% of the edits were right and a fifth of the
    /// swaps restored (README, Evaluation).
    #[arg(long, default_value_t = 0.0, value_name = "X")]
    pub min_confidence: f32,
    /// List up to N other originals with each edit, the next likeliest in
    /// the same context, each with its confidence (on the scale of the
    /// edit's): in the JSON edits (`--format json`, `--jsonl --edits`) as
    /// `alternatives`, and in the tooltips of `--format html`. The edits
    /// do not change. On news spun at 30%, an edit or its 2 alternatives
    /// hold the original of 68.6% of the swaps, the edit alone 56.7%
    /// (README, `restore`).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub alternatives: usize,
    /// Use the restorer's change cost and confidence from this calibration
    /// (from `unspin calibrate`), fitted so that clean text of that kind
    /// keeps its words and a confidence stays the chance of being right:
    /// the shipped ones are set for modern news. `science` (when no such
    /// file exists) is a built-in one for scientific prose.
    #[arg(long, value_name = "FILE|science")]
    pub calibration: Option<PathBuf>,
    /// Colour in the diff view.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Write one file per input file into DIR, mirroring the inputs' paths
    /// below the directories they were found in, instead of to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out: skip inputs whose output file already exists.
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// With --jsonl: the field that receives the restored text (default:
    /// replace the text field).
    #[arg(long, value_name = "FIELD")]
    pub out_field: Option<String>,
    /// With --jsonl: add an `edits` field listing the changes (and
    /// `"not_english": true`, `"below_min_rate": true` or, with
    /// --only-spun, `"labelled_clean": true` to a record left as it was
    /// for that).
    #[arg(long)]
    pub edits: bool,
    /// Restore documents that do not read as English too (by default
    /// they are left as they are: the lexicon and the language model know
    /// only English).
    #[arg(long)]
    pub any_language: bool,
    /// Restore only documents that `unspin score` does not label clean
    /// (with --calibration, by that calibration); the others are written
    /// as they are. A clean text then costs a detector pass instead of a
    /// restoration and keeps its words: on clean news, 0.01% of words
    /// changed instead of 0.31%. Text spun at 10% or more is restored
    /// nearly as without it (51.3% of swaps at 10% instead of 52.0%); at
    /// 5%, most documents read as clean and are left (17.2% instead of
    /// 49.2%; README, Evaluation).
    #[arg(long)]
    pub only_spun: bool,
    /// Leave a document as it is when the detector estimates its spin
    /// rate (the share of its words a spinner changed, as `unspin score`
    /// reports it) under RATE, but for the spans it flags with strong
    /// evidence (an original 10^4 times likelier than the words as
    /// written, or one from a user lexicon given with --lexicon), which
    /// are restored: most of what the restorer would change in such a text
    /// is a false edit. At the default, on news, the restorer leaves about
    /// half the clean documents and none spun at 10% or more, changing
    /// 0.31% of clean text's words, and restores as many swaps at 5%
    /// (README, Evaluation). 0 restores every document, without the
    /// detector's pass. With --only-spun the label decides instead.
    #[arg(long, value_name = "RATE", default_value_t = unspin::restore::DEFAULT_MIN_RATE)]
    pub min_rate: f32,
}

/// Output formats of `unspin restore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RestoreFormat {
    /// The restored text.
    Text,
    /// One JSON object per document: the restored text and its edits (byte
    /// offsets into the input).
    Json,
    /// The input with each edit shown inline as [-old-]{+new+}.
    Diff,
    /// An HTML page written back with each edit marked as
    /// <mark title="spun: OLD">NEW</mark> (plain text is escaped and marked).
    Html,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    source: &'a str,
    id: Option<&'a str>,
    url: Option<&'a str>,
    title: Option<&'a str>,
    text: &'a str,
    edits: &'a [Edit],
    /// Left as it was: not English.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    not_english: bool,
    /// Left as it was: `--only-spun` and the detector labels it clean.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    labelled_clean: bool,
    /// Left as it was: the detector's estimated spin rate is under
    /// `--min-rate`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    below_min_rate: bool,
    error: Option<&'a str>,
}

/// What the workers did with one document.
enum Outcome {
    /// Restored; `target` is the output file under `--out`.
    Restored { restored: Restored, target: Option<PathBuf> },
    /// The input failed; with JSONL it still gets a line.
    Failed { target: Option<PathBuf> },
    /// `--resume` and the output exists.
    Skipped,
    /// `--out` cannot place this document.
    Unplaced(String),
}

/// Runs `unspin restore`.
pub fn run(global: &Global, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.min_confidence) {
        anyhow::bail!("--min-confidence must be between 0 and 1, not {}", args.min_confidence);
    }
    let jsonl = args.input.is_jsonl();
    if jsonl && matches!(args.format, Some(f) if f != RestoreFormat::Json) {
        anyhow::bail!("--jsonl input is written back as JSONL records; drop --format");
    }
    if !jsonl && (args.out_field.is_some() || args.edits) {
        anyhow::bail!("--out-field and --edits apply to --jsonl input");
    }
    if args.alternatives > 0 {
        let shown = if jsonl {
            args.edits
        } else {
            matches!(args.format, Some(RestoreFormat::Json | RestoreFormat::Html))
        };
        if !shown {
            anyhow::bail!(
                "--alternatives are shown in the edits of --format json or html, or of --jsonl with --edits"
            );
        }
    }
    let roots = args.input.all_paths();
    if args.out.is_some() && roots.iter().any(|p| p.as_os_str() == "-") {
        anyhow::bail!("--out mirrors input files; standard input has no path to mirror");
    }
    if let Some(out) = &args.out {
        check_out_dir(out, &roots)?;
    }
    let format = args.format.unwrap_or(RestoreFormat::Text);
    let inputs = args.input.open()?;
    let pool = args.input.pool()?;
    let mut decoder = common::decoder(global)?;
    // The detector shares the restorer's lexicon, model and word-id cache.
    if !(0.0..=1.0).contains(&args.min_rate) {
        anyhow::bail!("--min-rate must be between 0 and 1, not {}", args.min_rate);
    }
    let gated = args.only_spun || args.min_rate > 0.0;
    let mut gate = gated.then(|| Scorer::new(decoder.clone()));
    if let Some(path) = &args.calibration {
        let hash = decoder.lexicon().content_hash();
        let file = common::load_calibration(path, &hash, decoder.lm().name())?;
        decoder = decoder.with_params(file.restore_params());
        gate = gate.map(|g| g.with_calibration(file.calibration));
    }
    if args.any_language {
        decoder = common::any_language(decoder);
        gate = gate.map(common::any_language_scorer);
    }
    let mut restorer =
        Restorer::new(decoder).min_confidence(args.min_confidence).alternatives(args.alternatives);
    match gate {
        Some(gate) if args.only_spun => restorer = restorer.only_spun(gate),
        Some(gate) => restorer = restorer.min_rate(gate, args.min_rate),
        None => {}
    }
    let color = args.out.is_none() && args.color.enabled();
    let out_field = args.out_field.clone().unwrap_or_else(|| args.input.text_field.clone());
    let render = Render { jsonl, format, color, out_field, edits: args.edits };

    let target = |doc: &Document| -> Result<Option<PathBuf>, String> {
        let Some(dir) = &args.out else { return Ok(None) };
        let path = input_path(doc, jsonl);
        match mirrored(path, &roots) {
            Some(rel) => Ok(Some(dir.join(output_name(&rel, doc, format, jsonl)))),
            None => Err(format!(
                "{}: --out cannot mirror this input (not a file); write to stdout instead",
                doc.source
            )),
        }
    };
    let work = |doc: &Document| {
        let target = match target(doc) {
            Ok(t) => t,
            // A failed document has nothing to write unless it is a JSONL
            // line, so it needs no place.
            Err(_) if !doc.is_ok() && !jsonl => None,
            Err(message) => return Outcome::Unplaced(message),
        };
        if args.resume && target.as_ref().is_some_and(|t| t.exists()) {
            return Outcome::Skipped;
        }
        if !doc.is_ok() {
            return Outcome::Failed { target };
        }
        Outcome::Restored { restored: restorer.restore(&doc.text, &doc.boilerplate), target }
    };

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut tree = Tree::default();
    let mut progress = Progress::new(&args.input);
    let mut edits = 0usize;
    let mut not_english = 0usize;
    let mut labelled_clean = 0usize;
    let mut below_min_rate = 0usize;
    // The one document of a run that turned out not English (a run of
    // several says how many in its summary).
    let mut foreign: Option<String> = None;
    let mut documents = 0usize;
    // Text and diff output of several documents on stdout give each a
    // heading ("==> SOURCE <==", as `head` does), so that one can tell
    // where a document ends; a run of one document is written exactly as
    // restored. So the first document waits until a second one comes (or
    // the run ends).
    let headings = !jsonl && matches!(format, RestoreFormat::Text | RestoreFormat::Diff);
    let mut stream = Stream { color, ..Stream::default() };
    let mut first: Option<(String, Vec<u8>)> = None;
    common::for_each_window(inputs, &pool, work, |window| {
        for (doc, outcome) in window {
            let (bytes, target) = match outcome {
                Outcome::Skipped => {
                    progress.skipped += 1;
                    continue;
                }
                Outcome::Unplaced(message) => {
                    progress.document(&doc);
                    if doc.is_ok() {
                        progress.error(&message);
                    }
                    continue;
                }
                Outcome::Failed { target } => {
                    progress.document(&doc);
                    (render.failed(&doc)?, target)
                }
                Outcome::Restored { restored, target } => {
                    progress.document(&doc);
                    edits += restored.edits.len();
                    not_english += restored.not_english as usize;
                    labelled_clean += restored.labelled_clean as usize;
                    below_min_rate += restored.below_min_rate as usize;
                    documents += 1;
                    if restored.not_english {
                        foreign = Some(doc.source.clone());
                    }
                    (render.restored(&doc, &restored)?, target)
                }
            };
            match target {
                Some(path) => tree.write(&path, &bytes)?,
                None if bytes.is_empty() => {}
                None if !headings => stream.write(&mut out, None, &bytes)?,
                None if stream.written == 0 && first.is_none() => {
                    first = Some((doc.source.clone(), bytes));
                }
                None => {
                    if let Some((source, bytes)) = first.take() {
                        stream.write(&mut out, Some(&source), &bytes)?;
                    }
                    stream.write(&mut out, Some(&doc.source), &bytes)?;
                }
            }
        }
        out.flush()?;
        Ok(())
    })?;
    if let Some((_, bytes)) = first.take() {
        stream.write(&mut out, None, &bytes)?;
    }
    tree.finish()?;
    out.flush()?;
    let failed = progress.errors > 0;
    let mut summary = format!("{edits} {}", common::plural(edits, "edit"));
    if args.only_spun {
        let noun = common::plural(labelled_clean, "document");
        summary.push_str(&format!("; {labelled_clean} {noun} labelled clean, left as written"));
    } else if below_min_rate > 0 {
        let noun = common::plural(below_min_rate, "document");
        summary.push_str(&format!(
            "; {below_min_rate} {noun} under --min-rate {}, left as written",
            args.min_rate
        ));
    }
    if not_english > 0 {
        let noun = common::plural(not_english, "document");
        let was = if not_english == 1 { "it was" } else { "they were" };
        summary.push_str(&format!(
            "; {not_english} {noun} not English, left as {was} (--any-language restores them)"
        ));
    }
    progress.finish(&summary);
    if let (Some(source), 1, false) = (foreign, documents, args.input.quiet) {
        eprintln!("unspin: {source}: not English; left as it was (--any-language restores it)");
    }
    Ok(if failed { ExitCode::from(EXIT_ERROR) } else { ExitCode::SUCCESS })
}

/// Documents written to stdout one after another.
#[derive(Default)]
struct Stream {
    /// Documents written so far.
    written: usize,
    /// The last document did not end its last line.
    line_open: bool,
    /// Headings in bold.
    color: bool,
}

impl Stream {
    /// Writes one document's output, under a heading naming `source` if
    /// given. Each document starts on a line of its own, and a heading
    /// after the first document follows a blank line.
    fn write(
        &mut self,
        out: &mut impl Write,
        source: Option<&str>,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        if self.line_open {
            out.write_all(b"\n")?;
        }
        if let Some(source) = source {
            if self.written > 0 {
                out.write_all(b"\n")?;
            }
            if self.color {
                writeln!(out, "\x1b[1m==> {source} <==\x1b[0m")?;
            } else {
                writeln!(out, "==> {source} <==")?;
            }
        }
        out.write_all(bytes)?;
        self.line_open = !bytes.ends_with(b"\n");
        self.written += 1;
        Ok(())
    }
}

/// Refuses an output directory inside an input directory: the walk would
/// read the outputs back as inputs.
fn check_out_dir(out: &Path, roots: &[PathBuf]) -> anyhow::Result<()> {
    // The output directory may not exist yet: resolve its nearest ancestor.
    let mut probe = out.to_path_buf();
    let mut rest = Vec::new();
    let base = loop {
        if let Ok(real) = probe.canonicalize() {
            break real;
        }
        match (probe.file_name().map(|n| n.to_os_string()), probe.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                probe =
                    if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent.into() };
            }
            _ => return Ok(()),
        }
    };
    let out_real = rest.iter().rev().fold(base, |p, name| p.join(name));
    for root in roots.iter().filter(|r| r.is_dir()) {
        if let Ok(root_real) = root.canonicalize() {
            if out_real.starts_with(&root_real) {
                anyhow::bail!(
                    "--out {} is inside the input directory {}; its files would be read back",
                    out.display(),
                    root.display()
                );
            }
        }
    }
    Ok(())
}

/// The file name under `--out` for input `rel`: compression suffixes go,
/// and text extracted from a page gets `.txt` so it is not taken for HTML.
fn output_name(rel: &Path, doc: &Document, format: RestoreFormat, jsonl: bool) -> PathBuf {
    let mut name = rel.to_path_buf();
    if matches!(name.extension().and_then(|e| e.to_str()), Some("gz" | "zst" | "zstd")) {
        name.set_extension("");
    }
    let suffix = match format {
        _ if jsonl => None,
        RestoreFormat::Text if doc.html.is_some() => Some("txt"),
        RestoreFormat::Json => Some("json"),
        RestoreFormat::Diff => Some("diff"),
        _ => None,
    };
    if let Some(suffix) = suffix {
        let mut s = name.into_os_string();
        s.push(".");
        s.push(suffix);
        name = PathBuf::from(s);
    }
    name
}

/// How documents become output bytes.
struct Render {
    jsonl: bool,
    format: RestoreFormat,
    color: bool,
    out_field: String,
    edits: bool,
}

impl Render {
    fn restored(&self, doc: &Document, restored: &Restored) -> anyhow::Result<Vec<u8>> {
        if self.jsonl {
            let mut record = doc.record.clone().unwrap_or_default();
            record.insert(self.out_field.clone(), Value::String(restored.text.clone()));
            if self.edits {
                record.insert("edits".into(), serde_json::to_value(&restored.edits)?);
                if restored.not_english {
                    record.insert("not_english".into(), Value::Bool(true));
                }
                if restored.labelled_clean {
                    record.insert("labelled_clean".into(), Value::Bool(true));
                }
                if restored.below_min_rate {
                    record.insert("below_min_rate".into(), Value::Bool(true));
                }
            }
            return json_line(&record);
        }
        Ok(match self.format {
            RestoreFormat::Text => restored.text.clone().into_bytes(),
            RestoreFormat::Json => json_line(&JsonOut {
                source: &doc.source,
                id: doc.id.as_deref(),
                url: doc.url.as_deref(),
                title: doc.title.as_deref(),
                text: &restored.text,
                edits: &restored.edits,
                not_english: restored.not_english,
                labelled_clean: restored.labelled_clean,
                below_min_rate: restored.below_min_rate,
                error: None,
            })?,
            RestoreFormat::Diff => diff(&doc.text, restored, self.color).into_bytes(),
            RestoreFormat::Html => match &doc.html {
                Some(page) => mark_html(page, &doc.text, &restored.edits).into_bytes(),
                None => mark_text(&doc.text, &restored.edits).into_bytes(),
            },
        })
    }

    /// The output for an input that failed: a JSON line, so that JSONL and
    /// JSON output keep one line per input; nothing for text formats.
    fn failed(&self, doc: &Document) -> anyhow::Result<Vec<u8>> {
        let error = doc.error.as_deref().unwrap_or("failed");
        if self.jsonl {
            // A line that parsed keeps its fields; one that did not says
            // where it was.
            let mut record = match &doc.record {
                Some(record) => record.clone(),
                None => {
                    let mut m = serde_json::Map::new();
                    m.insert("source".into(), Value::String(doc.source.clone()));
                    m
                }
            };
            record.insert("error".into(), Value::String(error.to_string()));
            return json_line(&record);
        }
        if self.format == RestoreFormat::Json {
            return json_line(&JsonOut {
                source: &doc.source,
                id: doc.id.as_deref(),
                url: doc.url.as_deref(),
                title: doc.title.as_deref(),
                text: "",
                edits: &[],
                not_english: false,
                labelled_clean: false,
                below_min_rate: false,
                error: Some(error),
            });
        }
        Ok(Vec::new())
    }
}

fn json_line(value: &impl Serialize) -> anyhow::Result<Vec<u8>> {
    let mut v = serde_json::to_vec(value)?;
    v.push(b'\n');
    Ok(v)
}

/// The `--out` tree: the file being written, finished (renamed into place)
/// when output moves on to another file. Documents of one input arrive
/// together, so a JSONL or WARC input becomes one output file.
#[derive(Default)]
struct Tree {
    current: Option<(PathBuf, PathBuf, BufWriter<File>)>,
}

impl Tree {
    fn write(&mut self, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        if self.current.as_ref().is_none_or(|(p, _, _)| p != path) {
            self.finish()?;
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            // In the same directory, so that the rename is atomic.
            let tmp = dir.join(format!(".{name}.unspin-{}.tmp", std::process::id()));
            let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            self.current = Some((path.to_path_buf(), tmp, BufWriter::new(file)));
        }
        let (_, tmp, w) = self.current.as_mut().expect("file open");
        w.write_all(bytes).with_context(|| format!("writing {}", tmp.display()))?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if let Some((path, tmp, w)) = self.current.take() {
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all().with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        }
        Ok(())
    }
}

impl Drop for Tree {
    /// A run that stops early leaves no temporary file behind.
    fn drop(&mut self) {
        if let Some((_, tmp, _)) = self.current.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// The input with each edit inline: `[-old-]{+new+}`, coloured on a terminal.
pub fn diff(input: &str, restored: &Restored, color: bool) -> String {
    let mut out = String::with_capacity(input.len() + restored.edits.len() * 16);
    let mut at = 0;
    for e in &restored.edits {
        out.push_str(&input[at..e.start]);
        if color {
            out.push_str(&format!("\x1b[9;31m{}\x1b[0m\x1b[1;32m{}\x1b[0m", e.old, e.new));
        } else {
            out.push_str(&format!("[-{}-]{{+{}+}}", e.old, e.new));
        }
        at = e.end;
    }
    out.push_str(&input[at..]);
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn mark(edit: &Edit) -> String {
    // Alternatives on a line of their own in the tooltip (`&#10;`).
    let also: Vec<String> = edit
        .alternatives
        .iter()
        .map(|a| format!("{} ({:.0}%)", escape(&a.new), 100.0 * a.confidence))
        .collect();
    let also =
        if also.is_empty() { String::new() } else { format!("&#10;or: {}", also.join(", ")) };
    format!("<mark title=\"spun: {}{also}\">{}</mark>", escape(&edit.old), escape(&edit.new))
}

/// Plain text as HTML, with each edit marked.
fn mark_text(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len() + edits.len() * 40);
    let mut at = 0;
    for e in edits {
        out.push_str(&escape(&text[at..e.start]));
        out.push_str(&mark(e));
        at = e.end;
    }
    out.push_str(&escape(&text[at..]));
    out
}

/// The page with each edit marked in its text nodes.
///
/// The edits' offsets point into the extracted `text`, not the page, so
/// each edit's old text is looked for in the page's body text (outside tags,
/// comments, scripts and styles; character references such as `&#8217;`
/// read as the characters they stand for), as whole words with any run of
/// whitespace between them, after the previous edit's place. The search
/// starts where the article's first words are found (its headline's, or
/// its first paragraph's when the page shows the headline only in its
/// `<title>`), so that menus before the article are not marked. An edit
/// that is not found (its words split by a tag), or that is in a headline
/// the body does not show, is left out. Markup is copied unchanged.
pub fn mark_html(page: &str, text: &str, edits: &[Edit]) -> String {
    let segments: Vec<Decoded> =
        text_segments(page).into_iter().map(|s| Decoded::new(page, s)).collect();
    // The first match of `words` at or after (segment, page byte), as a
    // range of the page.
    let find = |seg: usize, from: usize, words: &[String]| {
        (seg..segments.len()).find_map(|i| {
            let s = &segments[i];
            let start = if i == seg { s.at.partition_point(|&p| p < from) } else { 0 };
            let found = find_words(&s.text, start.min(s.text.len()), words)?;
            Some((i, s.at[found.start]..s.at[found.end]))
        })
    };
    let start = segments.first().map_or(0, |s| s.at[0]);
    let words_of = |s: &str| -> Vec<String> { s.split_whitespace().map(String::from).collect() };
    // The text's first line is the headline, which a page may show only in
    // its <title>; then the article starts at the second.
    // Each with where it ends in `text`.
    let mut end = 0;
    let lines: Vec<(usize, Vec<String>)> = text
        .split_inclusive('\n')
        .map(|l| {
            end += l.len();
            (end, l)
        })
        .filter(|(_, l)| !l.trim().is_empty())
        .take(2)
        .map(|(end, l)| (end, words_of(l)))
        .collect();
    let anchor = lines.iter().enumerate().find_map(|(k, (_, line))| {
        [6, 3]
            .iter()
            .map(|&n| &line[..line.len().min(n)])
            .filter(|words| !words.is_empty())
            .find_map(|words| find(0, start, words))
            .map(|found| (k, found))
    });
    // Edits of a first line the body does not show (a headline only in
    // the <title>) have nowhere to go: looked for further on, they would
    // take a word of the article and pass the edits before it.
    let unshown = match (&anchor, lines.first()) {
        (Some((1, _)), Some(&(end, _))) => end,
        _ => 0,
    };
    let (mut seg, mut from) = anchor.map_or((0, start), |(_, (i, found))| (i, found.start));
    let mut marks: Vec<(Range<usize>, String)> = Vec::new();
    for edit in edits {
        let words = words_of(&edit.old);
        if words.is_empty() || edit.start < unshown {
            continue;
        }
        if let Some((i, found)) = find(seg, from, &words) {
            (seg, from) = (i, found.end);
            marks.push((found, mark(edit)));
        }
    }
    let mut out = String::with_capacity(page.len() + marks.len() * 40);
    let mut at = 0;
    for (range, replacement) in marks {
        out.push_str(&page[at..range.start]);
        out.push_str(&replacement);
        at = range.end;
    }
    out.push_str(&page[at..]);
    out
}

/// A run of a page's text with its character references decoded.
struct Decoded {
    text: String,
    /// For each byte of `text`, the page offset of the character (or
    /// reference) it came from; one more entry, the run's end.
    at: Vec<usize>,
}

impl Decoded {
    /// The longest character reference looked for (`&CounterClockwiseContourIntegral;` is 33 bytes).
    const MAX_REFERENCE: usize = 40;

    fn new(page: &str, run: Range<usize>) -> Decoded {
        let raw = &page[run.clone()];
        let mut text = String::with_capacity(raw.len());
        let mut at = Vec::with_capacity(raw.len() + 1);
        let mut i = 0;
        while let Some(c) = raw[i..].chars().next() {
            let mut len = c.len_utf8();
            let mut piece = std::borrow::Cow::Borrowed(&raw[i..i + len]);
            if c == '&' {
                let window = &raw.as_bytes()[i..raw.len().min(i + Self::MAX_REFERENCE)];
                if let Some(semi) = window.iter().position(|&b| b == b';') {
                    // `;` is ASCII, so the reference ends on a boundary.
                    let reference = &raw[i..=i + semi];
                    let decoded = html_escape::decode_html_entities(reference);
                    if decoded != reference {
                        len = semi + 1;
                        piece = std::borrow::Cow::Owned(decoded.into_owned());
                    }
                }
            }
            text.push_str(&piece);
            at.extend(std::iter::repeat_n(run.start + i, piece.len()));
            i += len;
        }
        at.push(run.end);
        Decoded { text, at }
    }
}

/// `words` from byte `from` of `hay`: whole words, whitespace between.
fn find_words(hay: &str, from: usize, words: &[String]) -> Option<Range<usize>> {
    let word_char = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    let mut start = from;
    while let Some(rel) = hay[start..].find(words[0].as_str()) {
        let s = start + rel;
        let mut e = s + words[0].len();
        let mut ok = !word_char(hay[..s].chars().next_back());
        for w in &words[1..] {
            let rest = &hay[e..];
            let ws = rest.len() - rest.trim_start().len();
            if !ok || ws == 0 || !rest[ws..].starts_with(w.as_str()) {
                ok = false;
                break;
            }
            e += ws + w.len();
        }
        if ok && !word_char(hay[e..].chars().next()) {
            return Some(s..e);
        }
        start = s + words[0].chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// Byte ranges of the page's body text: outside tags, comments and the
/// elements whose content is not prose.
fn text_segments(page: &str) -> Vec<Range<usize>> {
    let lower = page.to_ascii_lowercase();
    let mut i = lower.find("<body").unwrap_or(0);
    let bytes = page.as_bytes();
    let mut segments = Vec::new();
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let end = page[i..].find('<').map_or(page.len(), |n| i + n);
            segments.push(i..end);
            i = end;
            continue;
        }
        if lower[i..].starts_with("<!--") {
            i = lower[i..].find("-->").map_or(page.len(), |n| i + n + 3);
            continue;
        }
        // The tag's end, minding quoted attribute values.
        let mut j = i + 1;
        let mut quote = None;
        while j < bytes.len() {
            match (quote, bytes[j]) {
                (None, b'"' | b'\'') => quote = Some(bytes[j]),
                (Some(q), c) if c == q => quote = None,
                (None, b'>') => break,
                _ => {}
            }
            j += 1;
        }
        let name: String = lower[i + 1..j.min(lower.len())]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        i = (j + 1).min(page.len());
        if matches!(
            name.as_str(),
            "script" | "style" | "noscript" | "textarea" | "title" | "template"
        ) {
            let close = format!("</{name}");
            i = lower[i..].find(&close).map_or(page.len(), |n| i + n);
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(old: &str, new: &str) -> Edit {
        Edit {
            start: 0,
            end: 0,
            old: old.into(),
            new: new.into(),
            confidence: 1.0,
            alternatives: Vec::new(),
        }
    }

    #[test]
    fn marks_text_nodes_only() {
        let page = "<html><head><title>streams</title></head><body>\
                    <a href=\"streams\">streams</a><p>U.S. streams &amp; the\n common war</p>\
                    <script>var war = 1;</script></body></html>";
        let edits = [edit("streams", "forces"), edit("common war", "civil war")];
        let out = mark_html(page, "streams\n\nU.S. streams & the common war", &edits);
        assert!(out.contains("<title>streams</title>"), "{out}");
        assert!(out.contains("href=\"streams\""), "{out}");
        assert!(out.contains("<a href=\"streams\"><mark title=\"spun: streams\">forces</mark></a>"));
        assert!(out.contains("<mark title=\"spun: common war\">civil war</mark>"), "{out}");
        assert!(out.contains("var war = 1;"));
    }

    #[test]
    fn starts_at_the_article() {
        let page = "<body><nav>Home News</nav><article><h1>News today</h1>\
                    <p>News of the day</p></article></body>";
        let out = mark_html(page, "News today\n\nNews of the day", &[edit("News", "Word")]);
        assert!(out.contains("<nav>Home News</nav>"), "{out}");
        assert!(out.contains("<h1><mark title=\"spun: News\">Word</mark> today</h1>"), "{out}");
    }

    #[test]
    fn a_headline_only_in_the_title_does_not_lose_the_article() {
        // The text opens with the headline, which the page's body lacks:
        // the article's first paragraph anchors the search instead.
        let page = "<html><head><title>Rail news</title></head><body><nav>rail timetable</nav>\
                    <p>The rail timetable changes in May.</p></body></html>";
        let text = "Rail news\n\nThe rail timetable changes in May.";
        let rail = Edit { start: 15, end: 19, ..edit("rail", "bus") };
        assert_eq!(&text[rail.start..rail.end], "rail");
        let out = mark_html(page, text, &[rail]);
        assert!(out.contains("<nav>rail timetable</nav>"), "{out}");
        assert!(out.contains("The <mark title=\"spun: rail\">bus</mark> timetable"), "{out}");
    }

    #[test]
    fn an_edit_of_a_headline_the_body_lacks_is_not_marked_in_the_article() {
        let page = "<html><head><title>Rail news</title></head><body>\
                    <p>The rail timetable changes in May. Rail fares rise.</p></body></html>";
        let text = "Rail news\n\nThe rail timetable changes in May. Rail fares rise.";
        let headline = Edit { start: 0, end: 4, ..edit("Rail", "Bus") };
        let fares = Edit { start: 46, end: 50, ..edit("Rail", "Train") };
        assert_eq!(&text[fares.start..fares.end], "Rail");
        let out = mark_html(page, text, &[headline, fares]);
        assert_eq!(out.matches("<mark").count(), 1, "{out}");
        assert!(out.contains("<mark title=\"spun: Rail\">Train</mark> fares"), "{out}");
    }

    #[test]
    fn character_references_read_as_their_characters() {
        // WordPress writes apostrophes and quotes as references.
        let page = "<body><h1>Britain&#8217;s streams</h1><p>Britain&rsquo;s streams &amp; \
                    the&nbsp;common war</p></body>";
        let text = "Britain\u{2019}s streams\n\nBritain\u{2019}s streams & the\u{a0}common war";
        let edits = [
            edit("Britain\u{2019}s streams", "Britain\u{2019}s jets"),
            edit("streams & the", "jets and the"),
            edit("common war", "civil war"),
        ];
        let out = mark_html(page, text, &edits);
        assert!(
            out.contains("<h1><mark title=\"spun: Britain’s streams\">Britain’s jets</mark></h1>"),
            "{out}"
        );
        assert!(
            out.contains(
                "Britain&rsquo;s <mark title=\"spun: streams &amp; the\">jets and the</mark>&nbsp;"
            ),
            "{out}"
        );
        assert!(out.contains("<mark title=\"spun: common war\">civil war</mark></p>"), "{out}");
        // A lone ampersand, or one that starts no reference, is itself.
        let out =
            mark_html("<p>R&D war; A &B war</p>", "R&D war; A &B war", &[edit("A &B war", "x")]);
        assert_eq!(out, "<p>R&D war; <mark title=\"spun: A &amp;B war\">x</mark></p>");
    }

    proptest::proptest! {
        /// Any page, references cut short or not, any edits: marking never
        /// panics, marks each edit at most once, and leaves the page as it
        /// was outside the marks.
        #[test]
        fn marking_any_page_is_safe(
            page in proptest::string::string_regex(
                "(<p>|</p>|<b>|&amp;|&#8217;|&#x27;|&rsquo;|&nbsp;|&#;|&x|&|;|é|war|common|streams| |\\n){0,40}"
            ).unwrap(),
            olds in proptest::collection::vec(
                proptest::string::string_regex("(war|common|streams|é|&|’)( (war|streams|&))?").unwrap(),
                0..4,
            ),
        ) {
            let edits: Vec<Edit> = olds.iter().map(|o| edit(o, "x")).collect();
            let out = mark_html(&page, &page, &edits);
            let marks = out.matches("<mark title=").count();
            proptest::prop_assert!(marks <= edits.len());
            // What lies between the marks is the page's own text, in order:
            // the first piece opens the page, the last ends it.
            let mut pieces = Vec::new();
            let mut rest = out.as_str();
            while let Some(at) = rest.find("<mark title=\"spun: ") {
                pieces.push(&rest[..at]);
                let end = rest[at..].find("</mark>").unwrap() + at + "</mark>".len();
                rest = &rest[end..];
            }
            pieces.push(rest);
            proptest::prop_assert!(page.starts_with(pieces[0]));
            proptest::prop_assert!(page.ends_with(pieces[pieces.len() - 1]));
            let mut at = pieces[0].len();
            for piece in &pieces[1..] {
                let found = page[at..].find(piece);
                proptest::prop_assert!(found.is_some(), "{piece:?} after byte {at} of {page:?}");
                at += found.unwrap() + piece.len();
            }
        }
    }

    #[test]
    fn whole_words_and_escaping() {
        let out = mark_html("<body><p>toward war</p></body>", "toward war", &[edit("war", "a<b")]);
        assert_eq!(out, "<body><p>toward <mark title=\"spun: war\">a&lt;b</mark></p></body>");
    }
}
