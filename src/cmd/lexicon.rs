//! `unspin lexicon`: look up, inspect and build phrase lexicons.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use unspin::lexicon::import::{import_file, Format};
use unspin::lexicon::{LexiconBuilder, MAX_CANDIDATES};
use unspin::Lexicon;

use super::{Global, EXIT_NEGATIVE};

/// The lexicon subcommands.
#[derive(Debug, Subcommand)]
pub enum LexiconCommand {
    /// Print the candidate originals of a spun phrase, best first, as
    /// `original<TAB>weight`. The weight estimates P(spun | original), the
    /// chance a spinner turns that original into this phrase; "best first"
    /// also weighs how common the original is (P(spun | original) ·
    /// P(original)), which is how the shipped lexicon is ranked.
    ///
    /// Exits 1 when the phrase is not in the lexicon.
    ///
    /// Example: unspin lexicon lookup "discontinuance of threats"
    Lookup {
        /// The spun phrase (any case, any spacing).
        phrase: String,
        /// Also print where each pair came from (a third column).
        #[arg(long)]
        sources: bool,
        /// Print at most this many candidates.
        #[arg(long, short = 'n')]
        limit: Option<usize>,
    },
    /// Print the lexicon's size, per-source counts and content hash.
    ///
    /// Example: unspin lexicon stats
    Stats,
    /// Compile user lexicons into one file for --lexicon.
    ///
    /// Reads TSV (`spun<TAB>original[<TAB>weight]`, `#` comments), the
    /// Problematic Paper Screener's CSV export (columns "Fingerprint -
    /// Tortured Phrase" and "Expected Text"; search queries with AND/OR/NOT
    /// are reported and skipped) or JSON (`{"phrases":[{"tortured":..,
    /// "correct":..}]}`). The format follows the extension (.tsv/.txt, .csv,
    /// .json) unless --format is given.
    ///
    /// Example: unspin lexicon build my-spins.tsv pps-export.csv -o my.lex
    Build {
        /// Source files.
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        /// The compiled lexicon to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Read every source in this format instead of guessing.
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Fail on the first malformed line instead of skipping it.
        #[arg(long)]
        strict: bool,
        /// Keep at most this many candidates per spun phrase.
        #[arg(long, default_value_t = MAX_CANDIDATES)]
        max_per_key: usize,
        /// The name recorded in the file (default: the output's file name).
        #[arg(long)]
        name: Option<String>,
        /// A provenance note recorded in the file (repeatable).
        #[arg(long = "note")]
        notes: Vec<String>,
        /// Keep each phrase's candidates in input order (already ranked)
        /// instead of sorting them by weight.
        #[arg(long)]
        keep_order: bool,
    },
}

/// Source formats for `lexicon build`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// Tab-separated pairs.
    Tsv,
    /// The PPS CSV export.
    Csv,
    /// JSON tortured-phrase list.
    Json,
}

/// The lexicon the global flags ask for: the embedded one, plus or instead
/// of user files.
pub fn load(global: &Global) -> anyhow::Result<Lexicon> {
    let mut layers = Vec::new();
    for path in &global.lexicons {
        layers.push(
            Lexicon::open(path).with_context(|| format!("loading lexicon {}", path.display()))?,
        );
    }
    if !global.lexicon_only {
        layers.push(Lexicon::embedded());
    }
    Ok(Lexicon::stack(layers))
}

/// Runs a lexicon subcommand.
pub fn run(global: &Global, cmd: LexiconCommand) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match cmd {
        LexiconCommand::Lookup { phrase, sources, limit } => {
            let lex = load(global)?;
            let cands = lex.lookup(&phrase);
            if cands.is_empty() {
                eprintln!("unspin: {phrase:?} is not in the lexicon");
                return Ok(ExitCode::from(EXIT_NEGATIVE));
            }
            for c in cands.iter().take(limit.unwrap_or(usize::MAX)) {
                if sources {
                    writeln!(out, "{}\t{:.6}\t{}", c.original, c.weight, c.sources)?;
                } else {
                    writeln!(out, "{}\t{:.6}", c.original, c.weight)?;
                }
            }
        }
        LexiconCommand::Stats => {
            let lex = load(global)?;
            for layer in lex.stats() {
                writeln!(out, "layer\t{}", layer.name)?;
                writeln!(out, "pairs\t{}", layer.meta.pairs)?;
                writeln!(out, "keys\t{}", layer.meta.keys)?;
                for (source, n) in &layer.meta.sources {
                    writeln!(out, "source\t{source}\t{n}")?;
                }
                writeln!(out, "bytes\t{}", layer.bytes)?;
                writeln!(out, "sha256\t{}", layer.sha256)?;
                for note in &layer.meta.built_from {
                    writeln!(out, "built_from\t{note}")?;
                }
            }
            writeln!(out, "content_hash\t{}", lex.content_hash())?;
        }
        LexiconCommand::Build {
            sources,
            output,
            format,
            strict,
            max_per_key,
            name,
            notes,
            keep_order,
        } => {
            let name = name.unwrap_or_else(|| {
                output
                    .file_name()
                    .map_or_else(|| "user".into(), |n| n.to_string_lossy().into_owned())
            });
            let mut builder =
                LexiconBuilder::new(&name).max_per_key(max_per_key).keep_order(keep_order);
            for n in &notes {
                builder.built_from(n);
            }
            let (mut pairs, mut skipped, mut malformed) = (0usize, 0usize, 0usize);
            for src in &sources {
                let format = format.map(|f| match f {
                    FormatArg::Tsv => Format::Tsv,
                    FormatArg::Csv => Format::PpsCsv,
                    FormatArg::Json => Format::Json,
                });
                let imported = import_file(src, format)?;
                for s in &imported.skipped {
                    if strict && s.malformed {
                        anyhow::bail!("{s} (--strict)");
                    }
                    eprintln!("unspin: skipped {s}");
                    malformed += s.malformed as usize;
                }
                skipped += imported.skipped.len();
                for e in &imported.entries {
                    pairs += builder.add(e) as usize;
                }
                builder.built_from(&format!("{}", src.display()));
            }
            let keys = builder.len();
            let bytes = builder.finish()?;
            write_atomically(&output, &bytes)?;
            eprintln!(
                "unspin: wrote {} ({keys} phrases, {pairs} pairs read, {skipped} lines skipped, {malformed} malformed, {} bytes)",
                output.display(),
                bytes.len()
            );
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a temporary file beside `path` and renames it, so a
/// crash never leaves a partial file under the final name.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir =
        path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}
