//! `unspin score`: how heavily each input was spun, where, and what it said.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;
use unspin::detect::{Label, Report};

use super::{Global, EXIT_ERROR, EXIT_NEGATIVE};
use crate::cmd::common::{self, Color, Doc};

/// Arguments of `unspin score`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unspin score examples/spun-news.txt
  cat page.txt | unspin score - --format json
  unspin score a.txt b.txt --format csv > report.csv
  unspin score draft.txt --fail-on light   # exit 1 if it reads as spun")]
pub struct ScoreArgs {
    /// Files to score; `-` reads standard input.
    #[arg(required = true, value_name = "PATH|-")]
    pub paths: Vec<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ScoreFormat::Text)]
    pub format: ScoreFormat,
    /// Exit 1 when any document reaches this label.
    #[arg(long, value_enum, value_name = "LABEL")]
    pub fail_on: Option<FailOn>,
    /// How many spans the text summary and the CSV's top_spans show.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Colour in the text summary.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
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

/// One row of the report: the document's report plus where it came from.
#[derive(Debug, Serialize)]
pub struct Row {
    /// The input's name.
    pub source: String,
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
    /// The lexicon's content hash.
    pub lexicon: String,
    /// Why this input could not be scored.
    pub error: Option<String>,
}

impl Row {
    fn new(source: String, report: Option<Report>, lexicon: &str, error: Option<String>) -> Row {
        let r = report.unwrap_or(Report { words: 0, spans: vec![], spin_rate: 0.0, score: 0.0, label: Label::Clean });
        Row {
            source,
            words: r.words,
            spans: r.spans,
            spin_rate: r.spin_rate,
            score: r.score,
            label: if error.is_some() { None } else { Some(r.label) },
            lexicon: lexicon.to_string(),
            error,
        }
    }
}

/// Runs `unspin score`.
pub fn run(global: &Global, args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let scorer = common::scorer(global)?;
    let hash = scorer.decoder().lexicon().content_hash();
    let color = args.color.enabled();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut csv_writer = (args.format == ScoreFormat::Csv).then(|| csv::Writer::from_writer(std::io::stdout()));
    if let Some(w) = csv_writer.as_mut() {
        w.write_record(["source", "words", "spans", "spin_rate", "score", "label", "top_spans", "lexicon", "error"])?;
    }
    let mut rows = Vec::new();
    let (mut failed, mut reached) = (false, false);
    for doc in common::read_docs(&args.paths) {
        let row = match doc {
            Doc { source, text: Ok(text), warnings } => {
                for w in warnings {
                    eprintln!("unspin: {source}: {w}");
                }
                let report = scorer.score(&text, &[]);
                Row::new(source, Some(report), &hash, None)
            }
            Doc { source, text: Err(e), .. } => {
                eprintln!("unspin: {e}");
                failed = true;
                Row::new(source, None, &hash, Some(e))
            }
        };
        reached |= match (args.fail_on, row.label) {
            (Some(FailOn::Light), Some(Label::Light | Label::Heavy)) => true,
            (Some(FailOn::Heavy), Some(Label::Heavy)) => true,
            _ => false,
        };
        match args.format {
            ScoreFormat::Text => write_text(&mut out, &row, args.top, color)?,
            ScoreFormat::Jsonl => {
                serde_json::to_writer(&mut out, &row)?;
                writeln!(out)?;
            }
            ScoreFormat::Json => rows.push(row),
            ScoreFormat::Csv => {
                let w = csv_writer.as_mut().expect("csv writer");
                w.write_record(csv_record(&row, args.top))?;
                w.flush()?;
            }
        }
    }
    if let Some(mut w) = csv_writer {
        w.flush()?;
    }
    if args.format == ScoreFormat::Json {
        if rows.len() == 1 {
            serde_json::to_writer_pretty(&mut out, &rows[0])?;
        } else {
            serde_json::to_writer_pretty(&mut out, &rows)?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(EXIT_ERROR)
    } else if reached {
        ExitCode::from(EXIT_NEGATIVE)
    } else {
        ExitCode::SUCCESS
    })
}

fn top_spans(row: &Row, n: usize) -> Vec<&unspin::detect::FlaggedSpan> {
    let mut spans: Vec<_> = row.spans.iter().collect();
    spans.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(a.start.cmp(&b.start)));
    spans.truncate(n);
    spans
}

fn csv_record(row: &Row, top: usize) -> Vec<String> {
    let tops: Vec<String> = top_spans(row, top).iter().map(|s| format!("{} -> {}", s.text, s.original)).collect();
    vec![
        row.source.clone(),
        row.words.to_string(),
        row.spans.len().to_string(),
        format!("{:.4}", row.spin_rate),
        format!("{:.4}", row.score),
        row.label.map_or(String::new(), |l| l.to_string()),
        tops.join("; "),
        row.lexicon.clone(),
        row.error.clone().unwrap_or_default(),
    ]
}

fn write_text(out: &mut impl Write, row: &Row, top: usize, color: bool) -> std::io::Result<()> {
    let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
    if let Some(e) = &row.error {
        return writeln!(out, "{}: {}", row.source, paint("31", &format!("error: {e}")));
    }
    let label = row.label.unwrap_or(Label::Clean);
    let label_text = match label {
        Label::Clean => paint("32", "clean"),
        Label::Light => paint("33", "light"),
        Label::Heavy => paint("1;31", "heavy"),
    };
    let flagged_words: usize = row.spans.iter().map(|s| s.text.split_whitespace().count()).sum();
    writeln!(
        out,
        "{}: {label_text} (score {:.2}, spin rate {:.1}%, {} of {} words in {} flagged spans)",
        row.source,
        row.score,
        row.spin_rate * 100.0,
        flagged_words,
        row.words,
        row.spans.len()
    )?;
    for s in top_spans(row, top) {
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
