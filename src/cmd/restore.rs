//! `unspin restore`: the most likely original text.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;
use unspin::restore::{Edit, Restored};

use super::{Global, EXIT_ERROR};
use crate::cmd::common::{self, Color, Doc};

/// Arguments of `unspin restore`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unspin restore examples/spun-news.txt
  unspin restore spun.txt --format diff
  cat spun.txt | unspin restore - --format json --min-confidence 0.8")]
pub struct RestoreArgs {
    /// Files to restore; `-` reads standard input.
    #[arg(required = true, value_name = "PATH|-")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RestoreFormat::Text)]
    pub format: RestoreFormat,
    /// Only make edits at least this sure (0..1).
    #[arg(long, default_value_t = 0.0, value_name = "X")]
    pub min_confidence: f32,
    /// Colour in the diff view.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// Output formats of `unspin restore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RestoreFormat {
    /// The restored text.
    Text,
    /// The restored text and its edits (byte offsets into the input).
    Json,
    /// The input with each edit shown inline as [-old-]{+new+}.
    Diff,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    source: &'a str,
    text: &'a str,
    edits: &'a [Edit],
    error: Option<&'a str>,
}

/// Runs `unspin restore`.
pub fn run(global: &Global, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.min_confidence) {
        anyhow::bail!("--min-confidence must be between 0 and 1, not {}", args.min_confidence);
    }
    let restorer = common::restorer(global)?.min_confidence(args.min_confidence);
    let color = args.color.enabled();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for doc in common::read_docs(&args.paths) {
        let Doc { source, text, warnings } = doc;
        for w in warnings {
            eprintln!("unspin: {source}: {w}");
        }
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                eprintln!("unspin: {e}");
                failed = true;
                if args.format == RestoreFormat::Json {
                    let j = JsonOut { source: &source, text: "", edits: &[], error: Some(&e) };
                    serde_json::to_writer(&mut out, &j)?;
                    writeln!(out)?;
                }
                continue;
            }
        };
        let restored = restorer.restore(&text, &[]);
        match args.format {
            RestoreFormat::Text => out.write_all(restored.text.as_bytes())?,
            RestoreFormat::Json => {
                let j = JsonOut { source: &source, text: &restored.text, edits: &restored.edits, error: None };
                serde_json::to_writer(&mut out, &j)?;
                writeln!(out)?;
            }
            RestoreFormat::Diff => out.write_all(diff(&text, &restored, color).as_bytes())?,
        }
    }
    out.flush()?;
    Ok(if failed { ExitCode::from(EXIT_ERROR) } else { ExitCode::SUCCESS })
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
