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
//! writes it as JSON for `unspin score --calibration`. The restorer gets
//! the lowest change cost that keeps it from changing more than 0.8% of
//! the clean documents' words and of the untouched words of their spun
//! copies, counted as `restore` runs: documents the detector finds under
//! its default `--min-rate` are left as written
//! (`unspin restore --calibration`). With the embedded model a lower cost
//! than the shipped one is seldom taken;
//! with a model that knows the kind of text better (`lm build --mix-with`)
//! it can be. The restorer's confidence and the weights of a flagged span's
//! confidence are refitted on the same documents, and the threshold's extra
//! for short texts on the documents cut short, as `eval` fits the shipped
//! ones.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use unspin::decode::{Decoder, Params};
use unspin::detect::{restore_params, Calibration, CalibrationFile, CALIBRATION_FORMAT};
use unspin::eval::{self, Spinner};
use unspin::restore::DEFAULT_MIN_RATE;

use super::{Global, EXIT_ERROR};
use crate::cmd::common::{self, InputArgs, Progress};

/// Share of the clean documents the shipped calibration calls spun above
/// which `calibrate` suggests a model of the user's kind of text.
const HINT_CLEAN_FLAGGED: f32 = 0.1;

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
stderr), then fits again on all of them and writes the result. It also
picks the restorer's change cost: the lowest that changes at most 0.8%
of the words of half of the clean documents and of the untouched words
of their spun copies (as `restore` runs, leaving the documents under its
default --min-rate as written), and shows what it costs in restorations
on the other half; and it refits the restorer's confidence
(the chance that an edit is right) to the edits it makes in them.

  unspin restore --calibration forum.cal.json post.txt

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
    /// Use at most this many documents (the first ones of that length):
    /// each is kept in memory with a spun copy per rate.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub max_documents: usize,
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
    if args.max_documents < MIN_DOCUMENTS {
        anyhow::bail!(
            "--max-documents: {} is fewer than the {MIN_DOCUMENTS} needed",
            args.max_documents
        );
    }
    let inputs = args.input.open()?;
    let pool = args.input.pool()?;
    let decoder = common::decoder(global)?;
    let mut progress = Progress::new(&args.input);
    // The documents' text without boilerplate lines, and their word counts.
    let mut docs: Vec<(String, String)> = Vec::new();
    let mut short = 0usize;
    let mut foreign = 0usize;
    for doc in inputs {
        progress.document(&doc);
        if !doc.is_ok() {
            continue;
        }
        let mut text = String::with_capacity(doc.text.len());
        let mut at = 0;
        for r in &doc.boilerplate {
            text.push_str(&doc.text[at..r.start]);
            at = r.end;
        }
        text.push_str(&doc.text[at..]);
        let counts = unspin::language::WordCounts::of(&text);
        if counts.words < args.min_words {
            short += 1;
            continue;
        }
        // The lexicon and the model know only English (`unspin score`
        // leaves other languages alone too).
        if !counts.is_english() {
            foreign += 1;
            continue;
        }
        docs.push((doc.source, text));
        if docs.len() == args.max_documents {
            break;
        }
    }
    let failed = progress.errors;
    let mut usable =
        format!("{} usable, {short} shorter than {} words", docs.len(), args.min_words);
    if foreign > 0 {
        usable.push_str(&format!(", {foreign} not English"));
    }
    if docs.len() < MIN_DOCUMENTS {
        progress.finish(&usable);
        let foreign = if foreign > 0 {
            format!("; {foreign} not English were left out")
        } else {
            String::new()
        };
        eprintln!(
            "unspin: calibrate: {} usable documents (of {} words or more{foreign}); at least {MIN_DOCUMENTS} are needed",
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
    let (fit_cases, fit_out) = half(&cases, &outcomes, 0);
    let (test_cases, test_out) = half(&cases, &outcomes, 1);
    let held = eval::fit_calibration(&fit_cases, &fit_out, args.clean_quantile);
    let summary = eval::summarize(&test_cases, &test_out, &test_out, &held, &args.rates);
    let shipped =
        eval::summarize(&test_cases, &test_out, &test_out, &Calibration::default(), &args.rates);
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
    let short_fit = eval::short_flagged(&test_out, &held);
    let short_shipped = eval::short_flagged(&test_out, &Calibration::default());
    let shares = |v: &[(usize, f32)]| {
        v.iter().map(|(_, f)| format!("{:.1}%", 100.0 * f)).collect::<Vec<_>>().join(" / ")
    };
    let lengths: Vec<String> = short_fit.iter().map(|(n, _)| n.to_string()).collect();
    eprintln!(
        "  the same cut to their first {} words: {} with this fit, {} with the shipped calibration",
        lengths.join(" / "),
        shares(&short_fit),
        shares(&short_shipped)
    );
    for (rate, auc) in &summary.auc {
        eprintln!("  ROC AUC, clean vs spun at {:.0}%: {auc:.4}", 100.0 * rate);
    }
    eprintln!(
        "  spin_rate mean absolute error: {:.4} with this fit, {:.4} with the shipped calibration",
        summary.rate_mae, shipped.rate_mae
    );
    if shipped.clean_flagged > HINT_CLEAN_FLAGGED && decoder.lm().name() == "embedded" {
        // A calibration moves the threshold past such text; a model of it
        // lets the detector and the restorer read it (README, "Other
        // kinds of writing": scientific prose, 41.3% -> 1.4%).
        eprintln!(
            "calibrate: note: the embedded model reads much of this text as spun; a model mixed \
             from clean text of this kind (`unspin lm build CORPUS --mix-with en-us.lm.bin \
             --mix-with language-model.lm.bin`, then `unspin --lm`) can fit it better than a \
             calibration alone (README, \
             \"Other kinds of writing\")"
        );
    }

    let restore_cost = fit_restore_cost(&pool, &decoder, &cases, &outcomes, &held, &args.rates);
    let restore_confidence = fit_edit_confidence(
        &pool,
        &decoder.clone().with_params(restore_params(restore_cost)),
        &cases,
    );

    let cal = eval::fit_calibration(&cases, &outcomes, args.clean_quantile);
    let file = CalibrationFile {
        format: CALIBRATION_FORMAT.to_string(),
        calibration: cal.clone(),
        documents: cases.len(),
        rates: args.rates.clone(),
        clean_quantile: args.clean_quantile,
        restore_change_cost: restore_cost,
        restore_edit_confidence: restore_confidence,
        lexicon: decoder.lexicon().content_hash(),
        lm: decoder.lm().name().to_string(),
    };
    eprintln!(
        "calibrate: rate = {:.4}·raw {:+.4}, threshold {:.4} (shipped: {:.4}·raw {:+.4}, threshold {:.4})",
        cal.rate_slope,
        cal.rate_intercept,
        cal.threshold,
        Calibration::default().rate_slope,
        Calibration::default().rate_intercept,
        Calibration::default().threshold
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

/// The restorer's confidence weights for these documents
/// ([`Params::edit_confidence`]), fitted on the edits it makes in them and
/// their spun copies (an edit is right when it restores a swap exactly).
/// Fitted first on the even-numbered documents and checked on the others
/// against the shipped weights (on stderr), then fitted on all. `None`
/// (the shipped weights) when there are too few edits, right and wrong,
/// for a fit ([`MIN_FIT_EDITS`] of each) or the fit is out of bounds.
fn fit_edit_confidence(
    pool: &rayon::ThreadPool,
    decoder: &Decoder,
    cases: &[eval::Case],
) -> Option<[f32; 2]> {
    let out = pool.install(|| eval::run(decoder, cases));
    let all = eval::edit_outcomes(cases, &out);
    let right = all.iter().filter(|e| e.right).count();
    if right < MIN_FIT_EDITS || all.len() - right < MIN_FIT_EDITS {
        eprintln!(
            "calibrate: the restorer made {} edits ({right} right) in these documents and their \
             spun copies, too few to fit its confidence; keeping the shipped one",
            all.len()
        );
        return None;
    }
    let ((fit_c, fit_o), (test_c, test_o)) = (half(cases, &out, 0), half(cases, &out, 1));
    let short = Params::restore().edit_confidence_short;
    let held = eval::fit_confidence(&eval::edit_outcomes(&fit_c, &fit_o), short);
    let test = eval::edit_outcomes(&test_c, &test_o);
    // Of the held-out edits at least 0.9 sure by these weights, how many
    // are right: the figure a user of `--min-confidence 0.9` gets.
    let sure = |w: [f32; 2]| {
        let kept: Vec<_> = test
            .iter()
            .filter(|e| unspin::decode::edit_confidence(w, short, e.share, e.words) >= 0.9)
            .collect();
        let right = kept.iter().filter(|e| e.right).count();
        format!(
            "{} edits, {:.1}% right",
            kept.len(),
            100.0 * right as f32 / kept.len().max(1) as f32
        )
    };
    eprintln!(
        "calibrate: restorer edits at confidence 0.9 or more on the other {} documents: \
         {} with confidence fitted on these, {} with the shipped confidence",
        test_c.len(),
        sure(held),
        sure(Params::restore().edit_confidence)
    );
    let [slope, bias] = eval::fit_confidence(&all, short);
    let usable = slope.is_finite() && slope > 0.0 && slope <= 100.0 && bias.abs() <= 100.0;
    if !usable {
        eprintln!(
            "calibrate: the restorer's confidence fitted to slope {slope}, bias {bias}, out of \
             bounds; keeping the shipped one"
        );
    }
    usable.then_some([slope, bias])
}

/// The documents of `cases` whose index has `parity` (0 or 1), with their
/// outcomes: the halves of a held-out check.
fn half(
    cases: &[eval::Case],
    outcomes: &[eval::CaseOutcome],
    parity: usize,
) -> (Vec<eval::Case>, Vec<eval::CaseOutcome>) {
    cases
        .iter()
        .zip(outcomes)
        .enumerate()
        .filter(|(i, _)| i % 2 == parity)
        .map(|(_, (c, o))| (c.clone(), o.clone()))
        .unzip()
}

/// Edits of each kind (right and wrong) that fitting the restorer's
/// confidence needs.
const MIN_FIT_EDITS: usize = 20;

/// Change costs tried for the restorer above the shipped one.
const CHANGE_COSTS: &[f32] = &[1.1, 1.3, 1.6, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0];

/// Change costs tried for the restorer below the shipped one, from the
/// highest down.
const LOWER_CHANGE_COSTS: &[f32] = &[1.1, 1.0, 0.9, 0.8, 0.7, 0.6];

/// The share of a clean text's words the restorer may change: under the
/// 1% the issue sets, with room for the held-out half.
const FALSE_EDIT_TARGET: f32 = 0.008;

/// The change cost [`fit_restore_cost`] settles on, given whether a cost
/// `passes`: the first that passes of the shipped one and then
/// [`CHANGE_COSTS`] upwards (the last of them if none does); when that is
/// the shipped one, the lowest of [`LOWER_CHANGE_COSTS`], tried from the
/// highest down while they pass.
fn search_cost(mut passes: impl FnMut(f32) -> bool) -> f32 {
    let shipped = Params::restore().change_cost;
    let higher = CHANGE_COSTS.iter().copied().filter(|&c| c > shipped);
    let mut chosen = *CHANGE_COSTS.last().expect("costs");
    for cost in std::iter::once(shipped).chain(higher) {
        if passes(cost) {
            chosen = cost;
            break;
        }
    }
    if chosen == shipped {
        for &cost in LOWER_CHANGE_COSTS.iter().filter(|&&c| c < shipped) {
            if !passes(cost) {
                break;
            }
            chosen = cost;
        }
    }
    chosen
}

/// The restorer's change cost for these documents, as `restore` runs
/// (documents the detector finds under the default `--min-rate` left as
/// written; the detector's outcomes in `detected`, read with `cal`): a
/// cost passes when it changes at most [`FALSE_EDIT_TARGET`] of the words
/// of the even-numbered clean documents and of the untouched words of
/// their spun copies at each rate, and [`search_cost`] picks among those
/// that pass. Checked (on stderr) on the odd-numbered documents with their
/// spun versions; `None` when the shipped cost is the one.
fn fit_restore_cost(
    pool: &rayon::ThreadPool,
    decoder: &Decoder,
    cases: &[eval::Case],
    detected: &[eval::CaseOutcome],
    cal: &Calibration,
    rates: &[f32],
) -> Option<f32> {
    let (fit, fit_detected) = half(cases, detected, 0);
    let (test, test_detected) = half(cases, detected, 1);
    let with_cost = |cost: f32| decoder.clone().with_params(restore_params(Some(cost)));
    // The evaluation's summary of the restorer at `cost` on `cases`, with
    // the documents under the default `--min-rate` left as written.
    let restore_summary = |cost: f32, cases: &[eval::Case], detected: &[eval::CaseOutcome]| {
        let mut out = pool.install(|| eval::run(&with_cost(cost), cases));
        eval::gate_by_rate(&mut out, detected, cal, DEFAULT_MIN_RATE);
        eval::summarize(cases, detected, &out, cal, rates)
    };
    let passes = |cost: f32| {
        let s = restore_summary(cost, &fit, &fit_detected);
        let clean = s.clean_restore.false_edit_share();
        let spun: Vec<(f32, f32)> =
            s.restore.iter().map(|(r, c)| (*r, c.false_edit_share())).collect();
        let per_rate: Vec<String> =
            spun.iter().map(|(r, s)| format!("{:.2}% at {:.0}%", 100.0 * s, 100.0 * r)).collect();
        eprintln!(
            "calibrate: restorer change cost {cost}: {:.2}% of clean words changed; \
             of the untouched words of spun copies {}",
            100.0 * clean,
            per_rate.join(", ")
        );
        clean <= FALSE_EDIT_TARGET && spun.iter().all(|&(_, s)| s <= FALSE_EDIT_TARGET)
    };
    let chosen = search_cost(passes);
    let shipped = Params::restore().change_cost;
    let report = |label: &str, cost: f32| {
        let s = restore_summary(cost, &test, &test_detected);
        let pct = |c: &eval::RestoreCounts, x: usize| 100.0 * x as f32 / c.swaps.max(1) as f32;
        let per_rate: Vec<String> = s
            .restore
            .iter()
            .map(|(r, c)| {
                format!(
                    "{:.0}%: {:.1}% exact, {:.2}% of untouched words changed",
                    100.0 * r,
                    pct(c, c.exact),
                    100.0 * c.false_edit_share()
                )
            })
            .collect();
        eprintln!(
            "  {label}: clean words changed {:.2}%; {}",
            100.0 * s.clean_restore.false_edit_share(),
            per_rate.join("; ")
        );
    };
    eprintln!(
        "calibrate: the restorer on the other {} documents (those under --min-rate {} left as written):",
        test.len(),
        DEFAULT_MIN_RATE
    );
    report(&format!("shipped change cost {shipped}"), shipped);
    if chosen != shipped {
        report(&format!("change cost {chosen}"), chosen);
    }
    (chosen != shipped).then_some(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_search_takes_the_lowest_cost_that_passes() {
        let shipped = Params::restore().change_cost;
        // Only high costs pass: the first of them going up.
        assert_eq!(search_cost(|c| c >= 3.2), 3.5);
        // Nothing passes: the highest there is.
        assert_eq!(search_cost(|_| false), *CHANGE_COSTS.last().unwrap());
        // The shipped cost passes and a lower one does not: the shipped.
        assert_eq!(search_cost(|c| c >= shipped), shipped);
        // Lower costs pass down to 0.9, then one fails: the search stops
        // there even if a still lower one would pass again.
        assert_eq!(search_cost(|c| !(0.75..0.85).contains(&c)), 0.9);
        // Every cost asked about, in order, for a text that fails from 0.9
        // down, and for one that fails at the shipped cost and passes above.
        let mut asked = Vec::new();
        search_cost(|c| {
            asked.push(c);
            c > 0.9
        });
        assert_eq!(asked, [shipped, 0.9]);
        asked.clear();
        assert_eq!(
            search_cost(|c| {
                asked.push(c);
                c > shipped
            }),
            1.1
        );
        assert_eq!(asked, [shipped, 1.1]);
    }
}
