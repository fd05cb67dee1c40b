//! Argument parsing shared by every subcommand, and dispatch.
//!
//! Exit codes: 0 success; 1 a negative answer (no lexicon entry, a document
//! reached `--fail-on`); 2 an input or usage error.

pub mod calibrate;
pub mod common;
pub mod eval;
pub mod lexicon;
pub mod lm;
pub mod restore;
pub mod score;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit code for a negative answer (nothing found, a threshold reached).
pub const EXIT_NEGATIVE: u8 = 1;
/// Exit code for errors: bad usage, unreadable input, failed inputs in a run.
pub const EXIT_ERROR: u8 = 2;

/// Find text run through an article spinner and restore the likely original.
///
/// unspin looks up every phrase of a text in a lexicon of thesaurus swaps
/// (spun phrase → candidate originals) and asks a language model of clean
/// English which reading fits the context. The lexicon and the model are
/// embedded: no set-up is needed.
#[derive(Debug, Parser)]
#[command(
    name = "unspin",
    version,
    propagate_version = true,
    after_help = "Examples:
  unspin score article.txt                      how heavily was it spun, and where
  unspin restore article.txt --format diff      what it most likely said
  unspin score corpus/ --format csv > report.csv
  unspin restore --jsonl pages.jsonl.gz > restored.jsonl
  unspin lexicon lookup \"discontinuance of threats\"
  unspin calibrate my-clean-texts/ -o mine.cal.json   fit the detector to other writing

Exit codes: 0 success; 1 a negative answer (no lexicon entry, --fail-on reached);
2 an error (bad usage, or an input that could not be read; the others are still processed)."
)]
pub struct Cli {
    /// Options that every subcommand takes.
    #[command(flatten)]
    pub global: Global,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by all subcommands.
#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// Add a user lexicon (built with `unspin lexicon build`) to the embedded
    /// one. May be given more than once.
    #[arg(long = "lexicon", global = true, value_name = "FILE")]
    pub lexicons: Vec<PathBuf>,
    /// Use only the lexicons given with --lexicon, not the embedded one.
    #[arg(long, global = true, requires = "lexicons")]
    pub lexicon_only: bool,
    /// Use this language model (built with `unspin lm build`) instead of the
    /// embedded CMU Sphinx model.
    #[arg(long = "lm", global = true, value_name = "FILE")]
    pub lm: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Look up, inspect and build phrase lexicons.
    #[command(subcommand)]
    Lexicon(lexicon::LexiconCommand),
    /// Score text with, inspect and build n-gram language models.
    #[command(subcommand)]
    Lm(lm::LmCommand),
    /// Say how heavily each input was spun, where, and what it likely said.
    Score(score::ScoreArgs),
    /// Print the most likely original text.
    Restore(restore::RestoreArgs),
    /// Fit the detector's calibration to your own clean text (for writing
    /// that is not modern news), for `score --calibration`.
    Calibrate(calibrate::CalibrateArgs),
    /// Measure detection and restoration on synthetic spins of clean news.
    Eval(eval::EvalArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Lexicon(cmd) => lexicon::run(&cli.global, cmd),
        Command::Lm(cmd) => lm::run(&cli.global, cmd),
        Command::Score(args) => score::run(&cli.global, args),
        Command::Restore(args) => restore::run(&cli.global, args),
        Command::Calibrate(args) => calibrate::run(&cli.global, args),
        Command::Eval(args) => eval::run(&cli.global, args),
    }
}
