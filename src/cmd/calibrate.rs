//! `unspin calibrate`: fit the detector's calibration to your own clean
//! text, for writing that is not modern news.
//!
//! The shipped calibration maps the detector's raw evidence to a spin rate
//! and a clean/spun threshold fitted on BBC news. Other writing reads
//! differently to the language model: measured on clean text from registry
//! packages, 19th-century speeches and novels come out at a median
//! estimated spin rate of 7–11% and are mostly labelled `light`, though
//! nothing in them was spun (README, "Other kinds of writing"). This command
//! spins the user's clean documents with the same synthetic spinner that
//! `unspin eval` uses, fits the rate line and the threshold on them exactly
//! as `eval` fits the shipped one, checks the fit on held-out documents and
//! writes it as JSON for `unspin score --calibration`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use unspin::decode::Params;
use unspin::detect::{CalibrationFile, CALIBRATION_FORMAT};
use unspin::eval::{self, Spinner};

use super::{Global, EXIT_ERROR};
use crate::cmd::common::{self, InputArgs, Progress};

/// Fewest usable documents: below this the threshold (a high quantile of
/// the clean documents' rates) would rest on one or two of them.
const MIN_DOCUMENTS: usize = 20;

/// Arguments of `unspin calibrate`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unspin calibrate clean-forum-posts/ -o forum.cal.json
  unspin score --calibration forum.cal.json scraped/ --format csv > report.csv
  unspin calibrate --jsonl clean.jsonl.gz --text-field body -o mine.cal.json

Give it text you know is not spun and that is like what you will score
(same kind of writing, similar length): at least 20 documents of 50 words
or more, better a few hundred. It spins them synthetically at --rates,
fits the line from raw evidence to spin rate and the clean/spun threshold
on half of them, reports how well that separates the other half (on
stderr), then fits again on all of them and writes the result.

Exit status: 0 written; 2 an error (too few usable documents, the output
cannot be written), or some input could not be read (it is reported and
left out; the calibration is still written).")]
pub struct CalibrateArgs {
    /// What to read (the same inputs as `unspin score`).
    #[command(flatten)]
    pub input: InputArgs,
    /// Write the calibration here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Synthetic spin rates to fit the rate line on.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.05f32, 0.1, 0.3])]
    pub rates: Vec<f32>,
    /// Share of the clean documents to keep below the threshold (the
    /// shipped calibration uses 0.995).
    #[arg(long, default_value_t = 0.995)]
    pub clean_quantile: f32,
    /// Documents shorter than this many words are left out.
    #[arg(long, default_value_t = 50)]
    pub min_words: usize,
    /// Seed of the synthetic spinner.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

/// Runs `unspin calibrate`.
pub fn run(global: &Global, args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    if let Some(r) = args.rates.iter().find(|r| !(r.is_finite() && **r > 0.0 && **r < 1.0)) {
        anyhow::bail!("--rates: {r} is not a rate between 0 and 1");
    }
    if !(args.clean_quantile > 0.0 && args.clean_quantile <= 1.0) {
        anyhow::bail!("--clean-quantile: {} is not in (0, 1]", args.clean_quantile);
    }
    let inputs = args.input.open()?;
    let pool = args.input.pool()?;
    let decoder = common::decoder(global)?;
    let mut progress = Progress::new(&args.input);
    // The documents' text without boilerplate lines, and their word counts.
    let mut docs: Vec<(String, String)> = Vec::new();
    let mut short = 0usize;
    let words = |text: &str| {
        unspin::tokenize(text).iter().filter(|t| t.kind == unspin::TokenKind::Word).count()
    };
    common::for_each_window(
        inputs,
        &pool,
        |doc| {
            if !doc.is_ok() {
                return None;
            }
            let mut text = String::with_capacity(doc.text.len());
            let mut at = 0;
            for r in &doc.boilerplate {
                text.push_str(&doc.text[at..r.start]);
                at = r.end;
            }
            text.push_str(&doc.text[at..]);
            let n = words(&text);
            Some((text, n))
        },
        |window| {
            for (doc, kept) in window {
                progress.document(&doc);
                match kept {
                    Some((text, n)) if n >= args.min_words => docs.push((doc.source, text)),
                    Some(_) => short += 1,
                    None => {}
                }
            }
            Ok(())
        },
    )?;
    let failed = progress.errors;
    let usable = format!("{} usable, {short} shorter than {} words", docs.len(), args.min_words);
    if docs.len() < MIN_DOCUMENTS {
        progress.finish(&usable);
        eprintln!(
            "unspin: calibrate: {} usable documents (of {} words or more); at least {MIN_DOCUMENTS} are needed",
            docs.len(),
            args.min_words
        );
        return Ok(ExitCode::from(EXIT_ERROR));
    }

    let spinner = Spinner::from_lexicon(decoder.lexicon());
    let detector = decoder.clone().with_params(Params::detect());
    let cases = pool.install(|| eval::prepare(&docs, &spinner, &args.rates, args.seed));
    let outcomes = pool.install(|| eval::run_detect(&detector, &cases));

    // Held-out check: fit on the even-numbered documents, measure on the
    // odd-numbered ones, as `unspin eval` does with the news corpus.
    let half = |parity: usize| {
        let keep = |i: usize| i % 2 == parity;
        let c: Vec<_> =
            cases.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, c)| c.clone()).collect();
        let o: Vec<_> =
            outcomes.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, o)| o.clone()).collect();
        (c, o)
    };
    let (fit_cases, fit_out) = half(0);
    let (test_cases, test_out) = half(1);
    let held = eval::fit_calibration(&fit_cases, &fit_out, args.clean_quantile);
    let summary = eval::summarize(&test_cases, &test_out, &test_out, &held, &args.rates);
    let shipped = eval::summarize(
        &test_cases,
        &test_out,
        &test_out,
        &unspin::detect::Calibration::default(),
        &args.rates,
    );
    eprintln!(
        "calibrate: held-out check on {} of {} documents (fitted on the others):",
        test_cases.len(),
        cases.len()
    );
    eprintln!(
        "  clean documents not labelled clean: {:.1}% with this fit, {:.1}% with the shipped calibration",
        100.0 * summary.clean_flagged,
        100.0 * shipped.clean_flagged
    );
    for (rate, auc) in &summary.auc {
        eprintln!("  ROC AUC, clean vs spun at {:.0}%: {auc:.4}", 100.0 * rate);
    }
    eprintln!(
        "  spin_rate mean absolute error: {:.4} with this fit, {:.4} with the shipped calibration",
        summary.rate_mae, shipped.rate_mae
    );

    let cal = eval::fit_calibration(&cases, &outcomes, args.clean_quantile);
    let file = CalibrationFile {
        format: CALIBRATION_FORMAT.to_string(),
        rate_slope: cal.rate_slope,
        rate_intercept: cal.rate_intercept,
        threshold: cal.threshold,
        short_doc_margin: cal.short_doc_margin,
        score_slope: cal.score_slope,
        heavy_rate: cal.heavy_rate,
        documents: cases.len(),
        rates: args.rates.clone(),
        clean_quantile: args.clean_quantile,
        lexicon: decoder.lexicon().content_hash(),
        lm: decoder.lm().name().to_string(),
    };
    eprintln!(
        "calibrate: rate = {:.4}·raw {:+.4}, threshold {:.4} (shipped: {:.4}·raw {:+.4}, threshold {:.4})",
        cal.rate_slope,
        cal.rate_intercept,
        cal.threshold,
        unspin::detect::Calibration::default().rate_slope,
        unspin::detect::Calibration::default().rate_intercept,
        unspin::detect::Calibration::default().threshold
    );
    progress.finish(&usable);
    let mut json = serde_json::to_string_pretty(&file)?;
    json.push('\n');
    match &args.output {
        Some(path) => {
            super::lexicon::write_atomically(path, json.as_bytes())?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(json.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(if failed > 0 { ExitCode::from(EXIT_ERROR) } else { ExitCode::SUCCESS })
}
