//! `unspin score`: how heavily each input was spun, where, and what it said.

use std::borrow::Cow;
use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;
use unspin::detect::{FlaggedSpan, Label, Report};
use unspin::input::Document;

use super::{Global, EXIT_ERROR, EXIT_NEGATIVE};
use crate::cmd::common::{self, Color};
use crate::cmd::common::{InputArgs, Progress};

/// Arguments of `unspin score`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unspin score examples/spun-news.txt
  cat page.txt | unspin score - --format json
  unspin score a.txt b.txt --format csv > report.csv
  unspin score pages/ --glob '*.html' --format csv > report.csv
  unspin score --jsonl corpus.jsonl.gz --text-field body --format jsonl
  unspin score crawl.warc.wet.gz -j 8 --format jsonl
  unspin score draft.txt --fail-on light   # exit 1 if it reads as spun
  unspin score --calibration forum.cal.json posts/   # fitted by `unspin calibrate`
  unspin score --calibration science papers/         # built in, for scientific prose

A flagged span's percentage is the chance that it was spun, given how
much better its original reads and how spun the whole document reads
(fitted on spun news: spans at 90-95% overlapped a swap 95% of the time).
Texts under 200 words need more evidence to be called spun.

Exit status: 2 if any input failed (its row has an error), else 1 if a
document reached --fail-on, else 0. There is one row per input document.")]
pub struct ScoreArgs {
    /// What to read.
    #[command(flatten)]
    pub input: InputArgs,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ScoreFormat::Text)]
    pub format: ScoreFormat,
    /// Exit 1 when any document reaches this label.
    #[arg(long, value_enum, value_name = "LABEL")]
    pub fail_on: Option<FailOn>,
    /// Use this calibration (from `unspin calibrate`) instead of the
    /// shipped one, which is fitted on modern news: other writing, such as
    /// older or literary English, can read as spun to it. `science` (when
    /// no such file exists) is a built-in one for scientific prose.
    #[arg(long, value_name = "FILE|science")]
    pub calibration: Option<std::path::PathBuf>,
    /// How many spans the text summary and top_spans show.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Colour in the text summary.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Score documents that do not read as English too. By default they
    /// get the label `not-english` and are not scored: the lexicon and the
    /// language model know only English, and what they flag in French or
    /// in code is noise.
    #[arg(long)]
    pub any_language: bool,
}

/// Report formats of `unspin score`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScoreFormat {
    /// A short human summary with the worst spans.
    Text,
    /// One JSON object (an array of them for several inputs).
    Json,
    /// One JSON object per line, per document.
    Jsonl,
    /// One CSV row per document.
    Csv,
}

/// Labels for `--fail-on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Light or heavy.
    Light,
    /// Heavy only.
    Heavy,
}

/// One of the strongest spans, for `top_spans`.
#[derive(Debug, Serialize)]
pub struct TopSpan {
    /// The input's text.
    pub text: String,
    /// The most likely original.
    pub original: String,
    /// Confidence that it was spun, 0..1.
    pub confidence: f32,
}

/// One row of the report: the document's report plus where it came from.
#[derive(Debug, Serialize)]
pub struct Row {
    /// The input's name (`path:N` for a JSONL line).
    pub source: String,
    /// The JSONL id field or WARC record id.
    pub id: Option<String>,
    /// The page's canonical URL.
    pub url: Option<String>,
    /// The page's title.
    pub title: Option<String>,
    /// Word count.
    pub words: usize,
    /// Flagged spans.
    pub spans: Vec<unspin::detect::FlaggedSpan>,
    /// Estimated share of swapped words.
    pub spin_rate: f32,
    /// 0..1, 0.5 the boundary.
    pub score: f32,
    /// clean, light or heavy.
    pub label: Option<Label>,
    /// The most confident spans (at most `--top`).
    pub top_spans: Vec<TopSpan>,
    /// The lexicon's content hash.
    pub lexicon: String,
    /// Why this input could not be scored.
    pub error: Option<String>,
}

impl Row {
    fn new(doc: Document, report: Option<Report>, lexicon: &str, top: usize) -> Row {
        let r = report.unwrap_or(Report {
            words: 0,
            spans: vec![],
            spin_rate: 0.0,
            score: 0.0,
            label: Label::Clean,
        });
        let top_spans = top_spans(&r.spans, top)
            .into_iter()
            .map(|s| TopSpan {
                text: s.text.clone(),
                original: s.original.clone(),
                confidence: s.confidence,
            })
            .collect();
        Row {
            source: doc.source,
            id: doc.id,
            url: doc.url,
            title: doc.title,
            words: r.words,
            spin_rate: r.spin_rate,
            score: r.score,
            label: if doc.error.is_some() { None } else { Some(r.label) },
            spans: r.spans,
            top_spans,
            lexicon: lexicon.to_string(),
            error: doc.error,
        }
    }
}

/// Counts of labels, for the summary.
#[derive(Default)]
struct Tally {
    clean: u64,
    light: u64,
    heavy: u64,
    not_english: u64,
}

impl Tally {
    fn add(&mut self, label: Option<Label>) {
        match label {
            Some(Label::Clean) => self.clean += 1,
            Some(Label::Light) => self.light += 1,
            Some(Label::Heavy) => self.heavy += 1,
            Some(Label::NotEnglish) => self.not_english += 1,
            None => {}
        }
    }

    fn summary(&self) -> String {
        let n = (self.clean + self.light + self.heavy + self.not_english).max(1) as f64;
        let pct = |k: u64| 100.0 * k as f64 / n;
        let mut s = format!(
            "clean {:.1}%, light {:.1}%, heavy {:.1}%",
            pct(self.clean),
            pct(self.light),
            pct(self.heavy)
        );
        if self.not_english > 0 {
            s.push_str(&format!(", not English {:.1}% (not scored)", pct(self.not_english)));
        }
        s
    }
}

/// Writes `--format json`: one object for one document, else an array,
/// streamed so that memory does not grow with the corpus.
#[derive(Default)]
struct JsonArray {
    first: Option<Vec<u8>>,
    count: usize,
}

impl JsonArray {
    fn push(&mut self, out: &mut impl Write, row: &Row) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(row)?;
        self.count += 1;
        match self.count {
            1 => self.first = Some(json),
            2 => {
                out.write_all(b"[\n")?;
                out.write_all(&self.first.take().unwrap_or_default())?;
                out.write_all(b",\n")?;
                out.write_all(&json)?;
            }
            _ => {
                out.write_all(b",\n")?;
                out.write_all(&json)?;
            }
        }
        Ok(())
    }

    fn finish(self, out: &mut impl Write) -> anyhow::Result<()> {
        match self.first {
            Some(json) => out.write_all(&json)?,
            None if self.count == 0 => out.write_all(b"[]")?,
            None => out.write_all(b"\n]")?,
        }
        writeln!(out)?;
        Ok(())
    }
}

/// Runs `unspin score`.
pub fn run(global: &Global, args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let inputs = args.input.open()?;
    let pool = args.input.pool()?;
    let mut scorer = common::scorer(global)?;
    if args.any_language {
        scorer = common::any_language_scorer(scorer);
    }
    let hash = scorer.decoder().lexicon().content_hash();
    if let Some(path) = &args.calibration {
        let file = common::load_calibration(path, &hash, scorer.decoder().lm().name())?;
        scorer = scorer.with_calibration(file.calibration);
    }
    let color = args.color.enabled();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut csv = CsvLines::new();
    if args.format == ScoreFormat::Csv {
        csv.write(
            &mut out,
            &[
                "source",
                "id",
                "url",
                "title",
                "words",
                "spans",
                "spin_rate",
                "score",
                "label",
                "top_spans",
                "lexicon",
                "error",
            ],
        )?;
    }
    let mut progress = Progress::new(&args.input);
    let mut tally = Tally::default();
    let mut json = JsonArray::default();
    let mut reached = false;
    let work = |doc: &Document| doc.is_ok().then(|| scorer.score(&doc.text, &doc.boilerplate));
    common::for_each_window(inputs, &pool, work, |window| {
        for (doc, report) in window {
            progress.document(&doc);
            let row = Row::new(doc, report, &hash, args.top);
            tally.add(row.label);
            reached |= matches!(
                (args.fail_on, row.label),
                (Some(FailOn::Light), Some(Label::Light | Label::Heavy))
                    | (Some(FailOn::Heavy), Some(Label::Heavy))
            );
            match args.format {
                ScoreFormat::Text => write_text(&mut out, &row, color)?,
                ScoreFormat::Jsonl => {
                    serde_json::to_writer(&mut out, &row)?;
                    writeln!(out)?;
                }
                ScoreFormat::Json => json.push(&mut out, &row)?,
                ScoreFormat::Csv => csv.write(&mut out, &csv_record(&row))?,
            }
        }
        out.flush()?;
        Ok(())
    })?;
    if args.format == ScoreFormat::Json {
        json.finish(&mut out)?;
    }
    out.flush()?;
    let failed = progress.errors > 0;
    progress.finish(&tally.summary());
    Ok(if failed {
        ExitCode::from(EXIT_ERROR)
    } else if reached {
        ExitCode::from(EXIT_NEGATIVE)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes CSV records through one `csv::Writer` for the whole run: making
/// a writer (its buffer and quoting tables) cost more than the record it
/// wrote, about 9,000 instructions a row (callgrind).
struct CsvLines {
    writer: csv::Writer<SharedBuf>,
    buf: SharedBuf,
}

/// The bytes a [`CsvLines`] writer has written, shared with the writer so
/// that they can be taken after each record.
#[derive(Clone, Default)]
struct SharedBuf(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CsvLines {
    fn new() -> CsvLines {
        let buf = SharedBuf::default();
        CsvLines { writer: csv::Writer::from_writer(buf.clone()), buf }
    }

    /// Writes one record, terminated, to `out`.
    fn write<S: AsRef<str>>(&mut self, out: &mut impl Write, fields: &[S]) -> anyhow::Result<()> {
        self.writer.write_record(fields.iter().map(|f| f.as_ref().as_bytes()))?;
        self.writer.flush()?;
        let mut bytes = self.buf.0.borrow_mut();
        out.write_all(&bytes)?;
        bytes.clear();
        Ok(())
    }
}

fn top_spans(spans: &[FlaggedSpan], n: usize) -> Vec<&FlaggedSpan> {
    let mut spans: Vec<_> = spans.iter().collect();
    spans.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(a.start.cmp(&b.start)));
    spans.truncate(n);
    spans
}

/// The CSV fields of a row: its strings borrowed, not copied.
fn csv_record(row: &Row) -> [Cow<'_, str>; 12] {
    let tops: Vec<String> =
        row.top_spans.iter().map(|s| format!("{} -> {}", s.text, s.original)).collect();
    fn or_empty(s: &Option<String>) -> Cow<'_, str> {
        Cow::Borrowed(s.as_deref().unwrap_or_default())
    }
    [
        Cow::Borrowed(&row.source),
        or_empty(&row.id),
        or_empty(&row.url),
        or_empty(&row.title),
        Cow::Owned(row.words.to_string()),
        Cow::Owned(row.spans.len().to_string()),
        Cow::Owned(format!("{:.4}", row.spin_rate)),
        Cow::Owned(format!("{:.4}", row.score)),
        Cow::Borrowed(row.label.map_or("", Label::as_str)),
        Cow::Owned(tops.join("; ")),
        Cow::Borrowed(&row.lexicon),
        or_empty(&row.error),
    ]
}

fn write_text(out: &mut impl Write, row: &Row, color: bool) -> std::io::Result<()> {
    let paint =
        |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
    if let Some(e) = &row.error {
        // The message names its input for the CSV and JSON reports; the
        // line already starts with it.
        let e = e.strip_prefix(row.source.as_str()).and_then(|e| e.strip_prefix(": ")).unwrap_or(e);
        return writeln!(out, "{}: {}", row.source, paint("31", &format!("error: {e}")));
    }
    let label = row.label.unwrap_or(Label::Clean);
    let label_text = match label {
        Label::Clean => paint("32", "clean"),
        Label::Light => paint("33", "light"),
        Label::Heavy => paint("1;31", "heavy"),
        Label::NotEnglish => {
            return writeln!(
                out,
                "{}: {} ({} words; too few common English words to read as English; --any-language scores it anyway)",
                row.source,
                paint("36", "not English, not scored"),
                row.words
            );
        }
    };
    let flagged_words: usize = row.spans.iter().map(|s| s.text.split_whitespace().count()).sum();
    writeln!(
        out,
        "{}: {label_text} (score {:.2}, spin rate {:.1}%, {} of {} words in {} flagged {})",
        row.source,
        row.score,
        row.spin_rate * 100.0,
        flagged_words,
        row.words,
        row.spans.len(),
        common::plural(row.spans.len(), "span")
    )?;
    for s in top_spans(&row.spans, row.top_spans.len()) {
        writeln!(
            out,
            "  {} -> {}  ({:.0}%, bytes {}..{})",
            paint("31", &format!("{:?}", s.text)),
            paint("32", &format!("{:?}", s.original)),
            s.confidence * 100.0,
            s.start,
            s.end
        )?;
    }
    Ok(())
}
