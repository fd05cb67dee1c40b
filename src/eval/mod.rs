//! The evaluation harness: spin clean news synthetically, then measure
//! detection and restoration; set tortured phrases from science in neutral
//! sentences and measure how many are flagged and restored.
//!
//! Documents are split in two by their index (even: calibration, odd:
//! test). Parameters are chosen on the calibration split and every figure
//! is reported on the test split. `unspin eval` prints the table that the
//! README carries (`scripts/eval` regenerates it).

pub mod spinner;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::decode::{Decoder, Params};
use crate::detect::{Calibration, Label, Scorer, SHORT_DOC_WORDS};
use crate::lexicon::import::{import, Format};
use crate::restore::{Edit, Restorer};
use crate::tokenize::{tokenize, TokenKind};
pub use spinner::{Rng, Spinner, SpunDoc, Swap};

/// A clean document and its spun versions.
#[derive(Clone, Debug)]
pub struct Case {
    /// The file it came from.
    pub name: String,
    /// The clean text.
    pub clean: String,
    /// (rate asked for, spun document).
    pub spun: Vec<(f32, SpunDoc)>,
}

/// Reads the BBC corpus (`DIR/*/*.txt`), sorted by path, decoded as
/// `score` and `restore` decode text (one file of the corpus has a Latin-1
/// "£", which they read as windows-1252).
pub fn load_corpus(dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let sub = entry?.path();
        if sub.is_dir() {
            for f in std::fs::read_dir(&sub)? {
                let f = f?.path();
                if f.extension().is_some_and(|e| e == "txt") {
                    paths.push(f);
                }
            }
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p)?;
            Ok((p.display().to_string(), crate::input::decode_text(bytes).0))
        })
        .collect()
}

/// Spins every document at every rate (deterministically from `seed`).
pub fn prepare(
    docs: &[(String, String)],
    spinner: &Spinner,
    rates: &[f32],
    seed: u64,
) -> Vec<Case> {
    docs.par_iter()
        .enumerate()
        .map(|(i, (name, text))| {
            let spun = rates
                .iter()
                .enumerate()
                .map(|(k, &r)| {
                    (r, spinner.spin(text, r, &mut Rng::new(seed ^ ((i as u64) << 8) ^ k as u64)))
                })
                .collect();
            Case { name: name.clone(), clean: text.clone(), spun }
        })
        .collect()
}

/// The start of `text` up to the end of the sentence (or line) in which
/// its `n`th word falls: a short document cut from a long one. The whole
/// text if it has fewer words.
pub fn first_words(text: &str, n: usize) -> &str {
    let tokens = tokenize(text);
    let Some(nth) = tokens.iter().filter(|t| t.kind == TokenKind::Word).nth(n.saturating_sub(1))
    else {
        return text;
    };
    let after = &tokens[tokens.iter().position(|t| t.start == nth.start).unwrap_or(0)..];
    for (k, t) in after.iter().enumerate() {
        let ends_sentence = matches!(t.text(text), "." | "!" | "?");
        let ends_line = after.get(k + 1).is_some_and(|next| text[t.end..next.start].contains('\n'));
        if ends_sentence || ends_line {
            return &text[..t.end];
        }
    }
    text
}

/// What the decoder did with one text.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Raw detector evidence (see [`Scorer::raw_rate`]).
    pub raw_rate: f32,
    /// Words counted.
    pub words: usize,
    /// The restorer's edits (byte offsets into the scored text).
    pub edits: Vec<Edit>,
    /// Each edit's span's share ([`crate::decode::Span::share`]), in
    /// `edits` order: what its confidence is made from.
    pub shares: Vec<f32>,
    /// The detector's flagged spans as (start, end, gain) (from
    /// [`run_detect`]; empty from [`run`]).
    pub flagged: Vec<(usize, usize, f32)>,
    /// The detector's [`crate::restore::strong_spans`] (from
    /// [`run_detect`]).
    pub strong: Vec<std::ops::Range<usize>>,
}

/// Outcomes of a case: the clean text, then each spun version.
#[derive(Clone, Debug)]
pub struct CaseOutcome {
    /// The clean text's outcome.
    pub clean: Outcome,
    /// Each spun version's outcome, in `Case::spun` order.
    pub spun: Vec<Outcome>,
    /// The detector's outcomes on the clean text cut short
    /// ([`first_words`]) at each of [`SHORT_LENGTHS`] (from [`run_detect`];
    /// empty from [`run`]).
    pub short: Vec<Outcome>,
}

/// How many alternatives `unspin eval` asks of the restorer for each edit
/// by default ([`RestoreCounts::offered`]).
pub const ALTERNATIVES: usize = 2;

/// The lengths (words) at which [`run_detect`] also reads each clean text
/// cut short, to fit how much higher a short document's threshold is
/// ([`fit_calibration`]).
pub const SHORT_LENGTHS: [usize; 4] = [25, 50, 100, 200];

/// Runs the decoder over all cases (in parallel).
pub fn run(decoder: &Decoder, cases: &[Case]) -> Vec<CaseOutcome> {
    let restorer = Restorer::new(decoder.clone());
    let one = |text: &str| {
        let a = decoder.analyze(text, &[]);
        let r = restorer.apply(text, &a);
        let shares = r
            .edits
            .iter()
            .map(|e| a.chosen().find(|s| s.start == e.start).map_or(0.0, |s| s.share))
            .collect();
        Outcome {
            raw_rate: Scorer::raw_rate(&a),
            words: a.words,
            edits: r.edits,
            shares,
            ..Default::default()
        }
    };
    cases
        .par_iter()
        .map(|c| CaseOutcome {
            clean: one(&c.clean),
            spun: c.spun.iter().map(|(_, d)| one(&d.text)).collect(),
            short: Vec::new(),
        })
        .collect()
}

/// Runs the detector only over all cases (in parallel): raw rates and word
/// counts, no edits.
pub fn run_detect(detector: &Decoder, cases: &[Case]) -> Vec<CaseOutcome> {
    let one = |text: &str| {
        let a = detector.analyze(text, &[]);
        let flagged = a.chosen().map(|s| (s.start, s.end, s.gain)).collect();
        let strong = crate::restore::strong_spans(&a);
        Outcome {
            raw_rate: Scorer::raw_rate(&a),
            words: a.words,
            flagged,
            strong,
            ..Default::default()
        }
    };
    cases
        .par_iter()
        .map(|c| CaseOutcome {
            clean: one(&c.clean),
            spun: c.spun.iter().map(|(_, d)| one(&d.text)).collect(),
            short: SHORT_LENGTHS.iter().map(|&n| one(first_words(&c.clean, n))).collect(),
        })
        .collect()
}

/// Restoration counts for one spun document.
#[derive(Clone, Copy, Debug, Default)]
pub struct RestoreCounts {
    /// Swaps made by the spinner.
    pub swaps: usize,
    /// Swaps restored exactly (same span, same original, case-insensitive;
    /// see [`swaps_restored`]).
    pub exact: usize,
    /// Swaps whose original an edit writes or lists among its
    /// alternatives ([`Edit::alternatives`]; as many as the decoder was
    /// asked for, [`ALTERNATIVES`] by default in `unspin eval`).
    pub offered: usize,
    /// Words the spinner did not touch.
    pub untouched_words: usize,
    /// Of those, words the restorer changed.
    pub false_edited_words: usize,
    /// Edits the restorer made.
    pub edits: usize,
    /// Words of the original text.
    pub words: usize,
    /// Of those, words the spinner swapped (its true rate is their share).
    pub swapped_words: usize,
}

impl RestoreCounts {
    /// Share of the untouched words the restorer changed (0 when there
    /// were none).
    pub fn false_edit_share(&self) -> f32 {
        self.false_edited_words as f32 / self.untouched_words.max(1) as f32
    }
}

impl std::ops::AddAssign for RestoreCounts {
    fn add_assign(&mut self, o: RestoreCounts) {
        self.swaps += o.swaps;
        self.exact += o.exact;
        self.offered += o.offered;
        self.untouched_words += o.untouched_words;
        self.false_edited_words += o.false_edited_words;
        self.edits += o.edits;
        self.words += o.words;
        self.swapped_words += o.swapped_words;
    }
}

/// Compares a restoration of `doc` with its ground truth.
pub fn restore_counts(doc: &SpunDoc, outcome: &Outcome) -> RestoreCounts {
    restore_counts_at(doc, outcome, 0.0)
}

/// [`restore_counts`] of only the edits at least `min_confidence` sure:
/// what `restore --min-confidence` would have done (the decoder's chosen
/// spans never overlap, so leaving one out changes no other).
pub fn restore_counts_at(doc: &SpunDoc, outcome: &Outcome, min_confidence: f32) -> RestoreCounts {
    let edits = || outcome.edits.iter().filter(|e| e.confidence >= min_confidence);
    let mut c = RestoreCounts {
        swaps: doc.swaps.len(),
        words: doc.words,
        swapped_words: doc.swapped_words(),
        ..Default::default()
    };
    // The decoder's edits never overlap, so no swap is counted twice.
    for e in edits() {
        let exact = swaps_restored(doc, e);
        let alts = e.alternatives.iter().map(|a| swaps_restored_as(doc, e, &a.new));
        c.exact += exact;
        c.offered += alts.fold(exact, usize::max);
    }
    let in_swap = |a: usize, b: usize| doc.swaps.iter().any(|s| a < s.end && s.start < b);
    for t in tokenize(&doc.text) {
        if t.kind != TokenKind::Word || in_swap(t.start, t.end) {
            continue;
        }
        c.untouched_words += 1;
        if edits().any(|e| t.start < e.end && e.start < t.end) {
            c.false_edited_words += 1;
        }
    }
    c.edits = edits().count();
    c
}

/// How many of `doc`'s swaps `edit` restores exactly: the one whose
/// bounds it has, if it writes that swap's original; or a run of
/// neighbouring swaps (only spaces between them) that it covers from the
/// first one's start to the last one's end, if it writes their originals
/// with the spaces between (one edit of a two-word phrase whose words
/// were both swapped, [`Spinner::with_neighbours`]). Case is not compared.
pub fn swaps_restored(doc: &SpunDoc, edit: &Edit) -> usize {
    swaps_restored_as(doc, edit, &edit.new)
}

/// [`swaps_restored`] by `edit` had it written `new`.
pub fn swaps_restored_as(doc: &SpunDoc, edit: &Edit, new: &str) -> usize {
    let first = doc.swaps.partition_point(|s| s.start < edit.start);
    let mut expected = String::new();
    let mut at = edit.start;
    let mut n = 0;
    for s in &doc.swaps[first..] {
        if s.start != at || s.end > edit.end {
            break;
        }
        expected.push_str(&s.original);
        n += 1;
        at = s.end;
        // The spaces to the next swap, if the edit goes on.
        let rest = &doc.text[at..edit.end];
        let gap = rest.len() - rest.trim_start().len();
        if at == edit.end || gap == 0 {
            break;
        }
        expected.push_str(&rest[..gap]);
        at += gap;
    }
    if n > 0 && at == edit.end && new.to_lowercase() == expected.to_lowercase() {
        n
    } else {
        0
    }
}

/// Restoration counts of a clean text (every word is untouched).
pub fn clean_counts(text: &str, outcome: &Outcome) -> RestoreCounts {
    restore_counts(&SpunDoc { text: text.to_string(), swaps: vec![], words: 0 }, outcome)
}

/// One edit of the restorer in the evaluation: its confidence, its span's
/// share, and whether it restores a swap exactly.
#[derive(Clone, Copy, Debug)]
pub struct EditOutcome {
    /// The confidence the restorer gave it.
    pub confidence: f32,
    /// Its span's share ([`crate::decode::Span::share`]).
    pub share: f32,
    /// It restores a swap exactly (an edit of clean text never does).
    pub right: bool,
    /// Words of its document.
    pub words: usize,
}

/// Every edit of the restorer's `outcomes` over `cases` (each spun version
/// and the clean text): what [`fit_confidence`] fits.
pub fn edit_outcomes(cases: &[Case], outcomes: &[CaseOutcome]) -> Vec<EditOutcome> {
    let mut out = Vec::new();
    let mut add = |o: &Outcome, doc: Option<&SpunDoc>| {
        for (e, &share) in o.edits.iter().zip(&o.shares) {
            let right = doc.is_some_and(|d| swaps_restored(d, e) > 0);
            out.push(EditOutcome { confidence: e.confidence, share, right, words: o.words });
        }
    };
    for (c, o) in cases.iter().zip(outcomes) {
        add(&o.clean, None);
        for ((_, doc), o) in c.spun.iter().zip(&o.spun) {
            add(o, Some(doc));
        }
    }
    out
}

/// Every alternative of the restorer's edits at each rate of `cases`
/// ([`Edit::alternatives`]), as [`EditOutcome`]s: right when it writes
/// the original of the swaps its edit covers.
pub fn alternative_outcomes(cases: &[Case], outcomes: &[CaseOutcome]) -> Vec<EditOutcome> {
    let mut out = Vec::new();
    for (c, o) in cases.iter().zip(outcomes) {
        for ((_, doc), o) in c.spun.iter().zip(&o.spun) {
            for e in &o.edits {
                out.extend(e.alternatives.iter().map(|a| EditOutcome {
                    confidence: a.confidence,
                    share: a.share,
                    right: swaps_restored_as(doc, e, &a.new) > 0,
                    words: o.words,
                }));
            }
        }
    }
    out
}

/// Platt scaling (base 10): the (slope, bias) of logistic(slope · log10
/// odds(share) + bias + `short` · shortness(words)) that best predicts
/// (maximum likelihood) whether an edit is right: the weights of
/// [`crate::decode::Params::edit_confidence`], with the short-document
/// weight given ([`crate::decode::Params::edit_confidence_short`]).
pub fn fit_confidence(edits: &[EditOutcome], short: f32) -> [f32; 2] {
    let rows: Vec<([f64; 2], f64, bool)> = edits
        .iter()
        .map(|e| {
            let x = [crate::decode::log10_odds(e.share) as f64, 1.0];
            (x, (short * crate::decode::shortness(e.words)) as f64, e.right)
        })
        .collect();
    fit_logistic_offset(&rows, [1.0, 0.0]).map(|w| w as f32)
}

/// All three weights of the restorer's confidence at once: (slope,
/// short-document weight, bias), for edits of documents of every length.
pub fn fit_confidence_with_length(edits: &[EditOutcome]) -> [f32; 3] {
    let rows: Vec<([f64; 3], bool)> = edits
        .iter()
        .map(|e| {
            let x = [
                crate::decode::log10_odds(e.share) as f64,
                crate::decode::shortness(e.words) as f64,
                1.0,
            ];
            (x, e.right)
        })
        .collect();
    fit_logistic(&rows, [1.0, 0.0, 0.0]).map(|w| w as f32)
}

/// Logistic regression, base 10: the weights w of P(y) = logistic(w · x)
/// of maximum likelihood over `rows` of (x, y). Newton's method from
/// `start`, each step halved until the likelihood rises; where the data
/// do not bound the weights (say, no row is true), they stop where the
/// gain in likelihood runs out, finite.
pub fn fit_logistic<const N: usize>(rows: &[([f64; N], bool)], start: [f64; N]) -> [f64; N] {
    let rows: Vec<([f64; N], f64, bool)> = rows.iter().map(|&(x, y)| (x, 0.0, y)).collect();
    fit_logistic_offset(&rows, start)
}

/// [`fit_logistic`] with a fixed offset added to each row's w · x: rows
/// of (x, offset, y).
pub fn fit_logistic_offset<const N: usize>(
    rows: &[([f64; N], f64, bool)],
    start: [f64; N],
) -> [f64; N] {
    let ln10 = std::f64::consts::LN_10;
    let z = |w: &[f64; N], x: &[f64; N], offset: f64| {
        ln10 * ((0..N).map(|i| w[i] * x[i]).sum::<f64>() + offset)
    };
    // The log-likelihood, in a form that neither overflows nor takes the
    // logarithm of 0: log p = −log(1 + e^−z), log(1 − p) = −log(1 + e^z).
    let softplus = |z: f64| if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() };
    let likelihood = |w: &[f64; N]| -> f64 {
        rows.iter()
            .map(|(x, offset, y)| {
                let z = z(w, x, *offset);
                -(if *y { softplus(-z) } else { softplus(z) })
            })
            .sum()
    };
    let mut w = start;
    let mut current = likelihood(&w);
    for _ in 0..100 {
        let mut g = [0.0f64; N];
        let mut h = [[0.0f64; N]; N];
        for (x, offset, y) in rows {
            let p = 1.0 / (1.0 + (-z(&w, x, *offset)).exp());
            let r = if *y { 1.0 } else { 0.0 } - p;
            for i in 0..N {
                g[i] += r * ln10 * x[i];
                for j in 0..N {
                    h[i][j] += p * (1.0 - p) * ln10 * ln10 * x[i] * x[j];
                }
            }
        }
        let Some(mut step) = solve(h, g) else { break };
        let mut moved = false;
        for _ in 0..40 {
            let next: [f64; N] = std::array::from_fn(|i| w[i] + step[i]);
            let l = likelihood(&next);
            if l >= current {
                (w, current, moved) = (next, l, true);
                break;
            }
            step.iter_mut().for_each(|d| *d /= 2.0);
        }
        if !moved || step.iter().all(|d| d.abs() < 1e-9) {
            break;
        }
    }
    w
}

/// Solves h · x = g (Gaussian elimination with partial pivoting); None
/// if h is singular.
fn solve<const N: usize>(mut h: [[f64; N]; N], mut g: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&a, &b| h[a][col].abs().total_cmp(&h[b][col].abs()))?;
        if h[pivot][col].abs() < 1e-12 {
            return None;
        }
        h.swap(col, pivot);
        g.swap(col, pivot);
        for row in col + 1..N {
            let f = h[row][col] / h[col][col];
            let pivot_row = h[col];
            for (a, b) in h[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *a -= f * b;
            }
            g[row] -= f * g[col];
        }
    }
    let mut x = [0.0f64; N];
    for row in (0..N).rev() {
        let tail: f64 = (row + 1..N).map(|k| h[row][k] * x[k]).sum();
        x[row] = (g[row] - tail) / h[row][row];
    }
    Some(x)
}

/// The detector's flagged spans over `cases` (each spun version and the
/// clean text) as rows for [`Calibration::span_confidence`]: (gain,
/// log10 odds of the document's spin rate by `cal`, 1) and whether the
/// span overlaps a swap.
pub fn span_rows(
    cases: &[Case],
    detected: &[CaseOutcome],
    cal: &Calibration,
) -> Vec<([f64; 3], bool)> {
    let mut rows = Vec::new();
    let mut add = |o: &Outcome, doc: Option<&SpunDoc>| {
        let rate = cal.spin_rate(o.raw_rate, o.words);
        let odds = crate::decode::log10_odds(rate.clamp(0.005, 0.9)) as f64;
        for &(start, end, gain) in &o.flagged {
            let spun = doc.is_some_and(|d| d.swaps.iter().any(|s| s.start < end && start < s.end));
            rows.push(([gain as f64, odds, 1.0], spun));
        }
    };
    for (c, o) in cases.iter().zip(detected) {
        add(&o.clean, None);
        for ((_, doc), o) in c.spun.iter().zip(&o.spun) {
            add(o, Some(doc));
        }
    }
    rows
}

/// Area under the ROC curve of `pos` scores against `neg` scores.
pub fn auc(pos: &[f32], neg: &[f32]) -> f32 {
    if pos.is_empty() || neg.is_empty() {
        return f32::NAN;
    }
    let mut wins = 0.0f64;
    for &p in pos {
        for &n in neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    (wins / (pos.len() * neg.len()) as f64) as f32
}

/// Fits the detector's calibration on a split's outcomes: a least-squares
/// line from raw evidence to the true rate, and a threshold just above the
/// clean documents' rates.
pub fn fit_calibration(
    cases: &[Case],
    outcomes: &[CaseOutcome],
    clean_quantile: f32,
) -> Calibration {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for (c, o) in cases.iter().zip(outcomes) {
        xs.push(o.clean.raw_rate);
        ys.push(0.0);
        for ((_, d), so) in c.spun.iter().zip(&o.spun) {
            xs.push(so.raw_rate);
            ys.push(d.true_rate());
        }
    }
    let n = xs.len() as f32;
    let (mx, my) = (xs.iter().sum::<f32>() / n, ys.iter().sum::<f32>() / n);
    let sxy: f32 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f32 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 1.0 };
    let intercept = my - slope * mx;
    let mut cal =
        Calibration { rate_slope: slope, rate_intercept: intercept, ..Default::default() };
    // The threshold: t keeps the `clean_quantile` of the clean texts under
    // t + m / sqrt(n) (m as shipped, n words). Short texts (the clean
    // texts cut at each of SHORT_LENGTHS, when the outcomes have them)
    // scatter more: e, the extra below SHORT_DOC_WORDS words, is the
    // smallest on a grid that keeps all but twice the share of each
    // length's clean cuts clean (1% for the shipped 99.5%: the target).
    // Documents of SHORT_DOC_WORDS and more are not moved, so the ranking
    // of whole documents by score barely changes (keeping all but 0.5% of
    // the cuts, or moving documents up to 300 words, cost the AUC at 5%
    // 0.01 to 0.014 on the calibration split; this costs 0.002).
    let line = cal.clone();
    let rate = |o: &Outcome| line.spin_rate(o.raw_rate, o.words);
    let quantile = |mut v: Vec<f32>| -> f32 {
        v.sort_by(f32::total_cmp);
        let k = ((v.len() as f32 * clean_quantile) as usize).min(v.len().saturating_sub(1));
        v.get(k).copied().unwrap_or(0.0)
    };
    let m = cal.short_doc_margin;
    let n = |o: &Outcome| o.words.max(1) as f32;
    let t = quantile(outcomes.iter().map(|o| rate(&o.clean) - m / n(&o.clean).sqrt()).collect());
    cal.threshold = t + 0.005;
    let classes: Vec<Vec<&Outcome>> = (0..SHORT_LENGTHS.len())
        .map(|k| outcomes.iter().filter_map(|o| o.short.get(k)).collect())
        .filter(|c: &Vec<&Outcome>| !c.is_empty())
        .collect();
    // Per class, the cuts over the threshold beyond those it may have;
    // only cuts under SHORT_DOC_WORDS count, since e moves no other. When
    // no e on the grid brings every class within its share (a handful of
    // documents, or a cut just under 200 words that reads as spun), the
    // smallest e that does as well as any.
    let excess = |e: f32| -> usize {
        let c = Calibration { short_doc_extra: e, ..cal.clone() };
        classes
            .iter()
            .map(|class| {
                let short: Vec<_> =
                    class.iter().filter(|o| (o.words as f32) < SHORT_DOC_WORDS).collect();
                let over = short.iter().filter(|o| rate(o) >= c.threshold_at(o.words)).count();
                let allowed = (2.0 * (1.0 - clean_quantile) * class.len() as f32) as usize;
                over.saturating_sub(allowed)
            })
            .sum()
    };
    let grid: Vec<(f32, usize)> =
        (0..=1000).map(|i| i as f32 * 0.1).map(|e| (e, excess(e))).collect();
    let least = grid.iter().map(|g| g.1).min().unwrap_or(0);
    cal.short_doc_extra = grid.iter().find(|g| g.1 == least).map_or(0.0, |g| g.0);
    let rows = span_rows(cases, outcomes, &cal);
    let start = Calibration::default().span_confidence.map(|w| w as f64);
    let w = fit_logistic(&rows, start).map(|w| w as f32);
    // Too few spans of either kind to fit (a handful of documents): the
    // shipped weights.
    let spun = rows.iter().filter(|r| r.1).count();
    if spun >= 20 && rows.len() - spun >= 20 && w.iter().all(|v| v.is_finite() && v.abs() <= 100.0)
    {
        cal.span_confidence = w;
    }
    cal
}

/// For each of [`SHORT_LENGTHS`], the share of the clean texts cut to that
/// length ([`CaseOutcome::short`]) that `cal` does not label clean: (length,
/// share). Empty when the outcomes have no cuts.
pub fn short_flagged(outcomes: &[CaseOutcome], cal: &Calibration) -> Vec<(usize, f32)> {
    SHORT_LENGTHS
        .iter()
        .enumerate()
        .filter_map(|(k, &n)| {
            let cuts: Vec<&Outcome> = outcomes.iter().filter_map(|o| o.short.get(k)).collect();
            let over = cuts.iter().filter(|o| {
                o.words > 0 && cal.spin_rate(o.raw_rate, o.words) >= cal.threshold_at(o.words)
            });
            (!cuts.is_empty()).then(|| (n, over.count() as f32 / cuts.len() as f32))
        })
        .collect()
}

/// The tortured-phrase test: pairs set in neutral sentences.
#[derive(Clone, Debug)]
pub struct TorturedCase {
    /// The sentence with the tortured phrase in it.
    pub sentence: String,
    /// Byte range of the phrase in the sentence.
    pub span: (usize, usize),
    /// Acceptable restorations (lower case).
    pub expected: Vec<String>,
}

/// Neutral sentences written by us; `{}` is the phrase.
pub const TEMPLATES: &[&str] = &[
    "In this paper we study {} in detail.",
    "The results show that {} improves over the baseline.",
    "Recent work has focused on {} for several tasks.",
    "We describe {} and discuss its limitations.",
];

/// Reads the tortured-phrase list through the lexicon import path and sets
/// each usable pair in a template. Returns the cases and how many pairs were
/// skipped (uncertain targets).
pub fn tortured_cases(path: &Path) -> crate::Result<(Vec<TorturedCase>, usize)> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    let imported = import(&path.display().to_string(), &text, Format::Json)?;
    let mut by_spun: Vec<(String, Vec<String>)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for e in imported.entries {
        let spun = e.spun.trim().to_lowercase();
        let k = *index.entry(spun.clone()).or_insert_with(|| {
            by_spun.push((spun.clone(), vec![]));
            by_spun.len() - 1
        });
        by_spun[k].1.push(e.original.to_lowercase());
    }
    let cases = by_spun
        .into_iter()
        .enumerate()
        .map(|(i, (spun, expected))| {
            // Pairs 2k and 2k + 1 share a template, so that the even and
            // the odd half (calibration and test) both see all four.
            let t = TEMPLATES[(i / 2) % TEMPLATES.len()];
            let at = t.find("{}").expect("template has a slot");
            let sentence = t.replacen("{}", &spun, 1);
            TorturedCase { sentence, span: (at, at + spun.len()), expected }
        })
        .collect();
    Ok((cases, imported.skipped.len()))
}

/// Tortured phrases flagged by `detector` and restored exactly by `decoder`.
pub fn tortured_scores(
    detector: &Decoder,
    decoder: &Decoder,
    gate: (&Calibration, f32),
    cases: &[TorturedCase],
) -> (usize, usize, usize) {
    let (cal, min_rate) = gate;
    let restorer = Restorer::new(decoder.clone());
    cases
        .par_iter()
        .map(|c| {
            let d = detector.analyze(&c.sentence, &[]);
            let flagged = d.chosen().any(|s| s.start < c.span.1 && c.span.0 < s.end) as usize;
            // The detector's suggestions inside the phrase, put in place.
            let mut suggested = String::new();
            let mut at = c.span.0;
            for s in d.chosen().filter(|s| c.span.0 <= s.start && s.end <= c.span.1) {
                suggested.push_str(&c.sentence[at..s.start]);
                suggested.push_str(&s.original);
                at = s.end;
            }
            suggested.push_str(&c.sentence[at..c.span.1]);
            let suggested = suggested.to_lowercase();
            let suggests = c.expected.contains(&suggested) as usize;
            // `restore` restores a text under its minimum rate only within
            // its strong spans, and leaves it as it is without any.
            let rate = cal.verdict(Scorer::raw_rate(&d), d.words).0;
            let strong = crate::restore::strong_spans(&d);
            let only = (!crate::restore::passes_min_rate(min_rate, rate)).then_some(&strong[..]);
            let r = if only.is_some_and(<[_]>::is_empty) {
                crate::restore::Restored { text: c.sentence.clone(), ..Default::default() }
            } else {
                restorer.apply_within(&c.sentence, &decoder.analyze(&c.sentence, &[]), only)
            };
            let (head, tail) = (&c.sentence[..c.span.0], &c.sentence[c.span.1..]);
            let restored = r.text.to_lowercase();
            let exact = c.expected.iter().any(|e| {
                restored == format!("{}{}{}", head.to_lowercase(), e, tail.to_lowercase())
            });
            (flagged, exact as usize, suggests)
        })
        .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
}

/// What `restore --min-rate` does to the restorer's `outcomes`: a document
/// whose spin rate the detector (its outcome in `detected`, read with
/// `cal`) estimates under `min_rate` keeps its words but within the spans
/// it flags as [`crate::restore::strong_spans`], if any (0: every
/// document is restored).
pub fn gate_by_rate(
    outcomes: &mut [CaseOutcome],
    detected: &[CaseOutcome],
    cal: &Calibration,
    min_rate: f32,
) {
    let below = |d: &Outcome| {
        !crate::restore::passes_min_rate(min_rate, cal.verdict(d.raw_rate, d.words).0)
    };
    for (o, d) in outcomes.iter_mut().zip(detected) {
        let pairs = std::iter::once((&mut o.clean, &d.clean)).chain(o.spun.iter_mut().zip(&d.spun));
        for (o, d) in pairs {
            if below(d) {
                // Only the edits within the strong spans, if any, are made.
                let keep: Vec<bool> = o
                    .edits
                    .iter()
                    .map(|e| crate::restore::overlaps_any(&d.strong, e.start, e.end))
                    .collect();
                let mut k = keep.iter();
                o.edits.retain(|_| *k.next().expect("one flag per edit"));
                let mut k = keep.iter();
                o.shares.retain(|_| *k.next().expect("one flag per share"));
            }
        }
    }
}

/// Everything the README's table reports.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Documents in the test split.
    pub test_docs: usize,
    /// The restorer's minimum estimated rate ([`gate_by_rate`]), as
    /// applied to the outcomes summarized.
    pub min_rate: f32,
    /// Whether the spinner could swap words next to each other
    /// ([`Spinner::with_neighbours`]).
    pub neighbours: bool,
    /// (rate, AUC clean vs spun).
    pub auc: Vec<(f32, f32)>,
    /// Share of clean test documents not labelled clean.
    pub clean_flagged: f32,
    /// Mean absolute error of spin_rate (clean and all spun versions).
    pub rate_mae: f32,
    /// (rate, restoration counts).
    pub restore: Vec<(f32, RestoreCounts)>,
    /// Counts on clean documents.
    pub clean_restore: RestoreCounts,
    /// Tortured phrases: (cases, flagged, restored exactly, skipped, the
    /// detector's suggestions within the phrase give the expected one).
    pub tortured: Option<(usize, usize, usize, usize, usize)>,
    /// What `--min-confidence` buys: (threshold, counts at each rate in
    /// `restore`'s order, counts on the clean documents).
    pub by_confidence: Vec<(f32, Vec<RestoreCounts>, RestoreCounts)>,
    /// The restorer's edits at every rate and on clean text, by confidence:
    /// (from, to, edits, their mean confidence, edits that restore a swap
    /// exactly).
    pub reliability: Vec<(f32, f32, usize, f32, usize)>,
    /// The detector's flagged spans, likewise: (from, to, spans, their
    /// mean confidence, spans that overlap a swap).
    pub span_reliability: Vec<(f32, f32, usize, f32, usize)>,
    /// What `restore --only-spun` does (a document the detector labels
    /// clean is left as written): counts at each rate in `restore`'s
    /// order, then on the clean documents.
    pub only_spun: (Vec<RestoreCounts>, RestoreCounts),
    /// How many alternatives the restorer listed per edit at most
    /// ([`crate::decode::Params::alternatives`]).
    pub alternatives_asked: usize,
    /// The edits' alternatives at every rate: (how many, the sum of their
    /// confidences, how many restore a swap exactly).
    pub alternatives: (usize, f64, usize),
}

/// The confidence bins of [`Summary::reliability`].
const RELIABILITY_BINS: [f32; 9] = [0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

/// The `--min-confidence` thresholds [`summarize`] reports.
pub const CONFIDENCE_STEPS: [f32; 7] = [0.0, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

/// Scores the test split with a fitted calibration: detection figures from
/// the detector's outcomes, restoration figures from the restorer's.
pub fn summarize(
    cases: &[Case],
    detected: &[CaseOutcome],
    outcomes: &[CaseOutcome],
    cal: &Calibration,
    rates: &[f32],
) -> Summary {
    let mut s = Summary { test_docs: cases.len(), ..Default::default() };
    let report = |o: &Outcome| cal.verdict(o.raw_rate, o.words);
    let clean: Vec<(f32, f32, Label)> = detected.iter().map(|o| report(&o.clean)).collect();
    let clean_scores: Vec<f32> = clean.iter().map(|c| c.1).collect();
    s.clean_flagged =
        clean.iter().filter(|c| c.2 != Label::Clean).count() as f32 / clean.len().max(1) as f32;
    let mut abs_err = clean.iter().map(|c| c.0).sum::<f32>();
    let mut n_err = clean.len();
    for (k, &rate) in rates.iter().enumerate() {
        let mut scores = Vec::new();
        let mut counts = RestoreCounts::default();
        for ((c, o), d) in cases.iter().zip(outcomes).zip(detected) {
            let (_, doc) = &c.spun[k];
            let r = report(&d.spun[k]);
            scores.push(r.1);
            abs_err += (r.0 - doc.true_rate()).abs();
            n_err += 1;
            counts += restore_counts(doc, &o.spun[k]);
        }
        s.auc.push((rate, auc(&scores, &clean_scores)));
        s.restore.push((rate, counts));
    }
    for (c, o) in cases.iter().zip(outcomes) {
        s.clean_restore += clean_counts(&c.clean, &o.clean);
    }
    // A document labelled clean keeps its words: none of its edits count.
    let gated = |doc: &SpunDoc, o: &Outcome, d: &Outcome| {
        let clean = report(d).2 == Label::Clean;
        restore_counts_at(doc, o, if clean { f32::INFINITY } else { 0.0 })
    };
    let only_spun = &mut s.only_spun;
    only_spun.0 = vec![RestoreCounts::default(); rates.len()];
    for ((c, o), d) in cases.iter().zip(outcomes).zip(detected) {
        for (k, counts) in only_spun.0.iter_mut().enumerate() {
            *counts += gated(&c.spun[k].1, &o.spun[k], &d.spun[k]);
        }
        let doc = SpunDoc { text: c.clean.clone(), swaps: vec![], words: 0 };
        only_spun.1 += gated(&doc, &o.clean, &d.clean);
    }
    for min in CONFIDENCE_STEPS {
        let mut spun = vec![RestoreCounts::default(); rates.len()];
        let mut clean = RestoreCounts::default();
        for (c, o) in cases.iter().zip(outcomes) {
            for (k, counts) in spun.iter_mut().enumerate() {
                *counts += restore_counts_at(&c.spun[k].1, &o.spun[k], min);
            }
            let doc = SpunDoc { text: c.clean.clone(), swaps: vec![], words: 0 };
            clean += restore_counts_at(&doc, &o.clean, min);
        }
        s.by_confidence.push((min, spun, clean));
    }
    let edits: Vec<(f32, bool)> =
        edit_outcomes(cases, outcomes).iter().map(|e| (e.confidence, e.right)).collect();
    s.reliability = reliability(&edits);
    for a in alternative_outcomes(cases, outcomes) {
        s.alternatives.0 += 1;
        s.alternatives.1 += a.confidence as f64;
        s.alternatives.2 += a.right as usize;
    }
    let spans: Vec<(f32, bool)> = span_rows(cases, detected, cal)
        .iter()
        .map(|(x, spun)| {
            let w = cal.span_confidence;
            let z = w[0] * x[0] as f32 + w[1] * x[1] as f32 + w[2];
            (crate::decode::logistic(z), *spun)
        })
        .collect();
    s.span_reliability = reliability(&spans);
    s.rate_mae = abs_err / n_err.max(1) as f32;
    s
}

/// What `restore --min-confidence` buys, as a markdown table: at each
/// threshold, exact restoration and false edits at each rate and on clean
/// text, and the share of edits at each rate that restore a swap exactly;
/// then the edits by confidence, against how many were right. None
/// when the summary has no such figures.
pub fn confidence_markdown(s: &Summary) -> Option<String> {
    if s.by_confidence.is_empty() || s.restore.is_empty() {
        return None;
    }
    let rates: Vec<String> = s.restore.iter().map(|r| format!("{:.0}", r.0 * 100.0)).collect();
    let pct = |n: usize, d: usize| 100.0 * n as f32 / d.max(1) as f32;
    let mut out =
        String::from("\n`restore --min-confidence`, same test split:\n\n| min confidence |");
    for r in &rates {
        out.push_str(&format!(" exact at {r}% | false edits at {r}% |"));
    }
    out.push_str(&format!(
        " false edits, clean | edits that restore a swap exactly at {}% |\n|---|",
        rates.join(" / ")
    ));
    out.push_str(&"---|".repeat(2 * rates.len() + 2));
    out.push('\n');
    for (min, spun, clean) in &s.by_confidence {
        out.push_str(&format!("| {min} |"));
        for c in spun {
            out.push_str(&format!(
                " {:.1}% | {:.2}% |",
                pct(c.exact, c.swaps),
                100.0 * c.false_edit_share()
            ));
        }
        let right: Vec<String> =
            spun.iter().map(|c| format!("{:.1}", pct(c.exact, c.edits))).collect();
        out.push_str(&format!(
            " {:.2}% | {}% |\n",
            100.0 * clean.false_edit_share(),
            right.join(" / ")
        ));
    }
    let table = |rows: &[(f32, f32, usize, f32, usize)], what: &str, right: &str| {
        let mut out = format!(
            "\n{what}\n\n| confidence | count | mean confidence | {right} |\n|---|---|---|---|\n"
        );
        for &(from, to, n, mean, right) in rows {
            let close = if to >= 1.0 { ']' } else { ')' };
            out.push_str(&format!(
                "| [{from}, {to}{close} | {n} | {mean:.3} | {:.1}% |\n",
                pct(right, n)
            ));
        }
        out
    };
    if !s.reliability.is_empty() {
        out.push_str(&table(
            &s.reliability,
            "The same edits by confidence (every rate and the clean text together):",
            "restore a swap exactly",
        ));
    }
    if !s.span_reliability.is_empty() {
        out.push_str(&table(
            &s.span_reliability,
            "`score`'s flagged spans by confidence, same documents:",
            "overlap a swap",
        ));
    }
    Some(out)
}

/// (confidence, right) pairs by [`RELIABILITY_BINS`]: (from, to, pairs,
/// their mean confidence, pairs right).
fn reliability(pairs: &[(f32, bool)]) -> Vec<(f32, f32, usize, f32, usize)> {
    let mut out = Vec::new();
    for (k, &from) in RELIABILITY_BINS.iter().enumerate() {
        let to = RELIABILITY_BINS.get(k + 1).copied().unwrap_or(1.0);
        let last = k + 1 == RELIABILITY_BINS.len();
        let bin: Vec<_> = pairs.iter().filter(|e| e.0 >= from && (e.0 < to || last)).collect();
        let mean = bin.iter().map(|e| e.0).sum::<f32>() / bin.len().max(1) as f32;
        let right = bin.iter().filter(|e| e.1).count();
        out.push((from, to, bin.len(), mean, right));
    }
    out
}

/// The summary as the README's markdown table.
pub fn markdown(s: &Summary, params: &Params, detect: &Params, cal: &Calibration) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Test split: {} BBC documents (calibration on the other {}){}.\n\n",
        s.test_docs,
        s.test_docs,
        if s.neighbours {
            "; the spinner may swap words next to each other (`--neighbours`)"
        } else {
            "; the spinner never swaps two words next to each other"
        }
    ));
    out.push_str("| measure | value | target |\n|---|---|---|\n");
    for (rate, auc) in &s.auc {
        let target = match (*rate * 100.0).round() as u32 {
            5 => "≥ 0.95",
            10 => "≥ 0.99",
            _ => "",
        };
        out.push_str(&format!(
            "| ROC AUC, clean vs spun at {:.0}% | {:.4} | {} |\n",
            rate * 100.0,
            auc,
            target
        ));
    }
    out.push_str(&format!(
        "| clean documents not labelled clean | {:.2}% | ≤ 1% |\n",
        s.clean_flagged * 100.0
    ));
    out.push_str(&format!("| spin_rate mean absolute error | {:.4} | ≤ 0.03 |\n", s.rate_mae));
    let n = s.alternatives_asked;
    for (rate, c) in &s.restore {
        let target = if (*rate * 100.0).round() as u32 == 30 { "≥ 70%" } else { "" };
        out.push_str(&format!(
            "| words swapped at {:.0}% (the spinner's true rate) | {:.1}% |  |\n",
            rate * 100.0,
            100.0 * c.swapped_words as f32 / c.words.max(1) as f32
        ));
        out.push_str(&format!(
            "| swaps restored exactly at {:.0}% | {} | {target} |\n",
            rate * 100.0,
            share_of(c.exact, c.swaps)
        ));
        if n > 0 {
            out.push_str(&format!(
                "| swaps whose original an edit writes or lists among its {n} alternatives at {:.0}% (`restore --alternatives {n}`) | {} |  |\n",
                rate * 100.0,
                share_of(c.offered, c.swaps)
            ));
        }
        out.push_str(&format!(
            "| false edits at {:.0}% (share of untouched words changed) | {:.2}% | ≤ 1% |\n",
            rate * 100.0,
            100.0 * c.false_edit_share()
        ));
    }
    let c = &s.clean_restore;
    out.push_str(&format!(
        "| false edits on clean documents | {:.2}% | ≤ 1% |\n",
        100.0 * c.false_edit_share()
    ));
    if let Some((n, flagged, exact, skipped, suggested)) = s.tortured {
        out.push_str(&format!(
            "| tortured phrases flagged (PPS list, never in the lexicon; half of it) | {} | ≥ 70% |\n",
            share_of(flagged, n)
        ));
        let restored = share_of(exact, n);
        out.push_str(&format!(
            "| tortured phrases restored exactly | {}; {skipped} uncertain pairs of the whole list skipped) | ≥ 40% |\n",
            restored.trim_end_matches(')')
        ));
        out.push_str(&format!(
            "| tortured phrases whose expected phrase `score` suggests (its flagged spans within the phrase, put in place) | {} |  |\n",
            share_of(suggested, n)
        ));
    }
    out.push_str(&format!(
        "\nRestorer: prior rate {}, channel scale {}, change cost {}, beam {}, candidates {}/{}/{} ({} in the second pass, which fast-accepts n-grams of order {} and up), adaptive prior {:?}, second-pass change cost {}, document cache {}, weak links ×{}, {}, change cost + {}·(1/words − 1/200) under 200 words, {}. Detector: prior rate {}, change cost {}, candidates {}/{}, {}, adaptive prior {:?}{}. Calibration: rate = {:.3}·raw + {:.4}, threshold {:.4} + {}/√words + {}·(1/words − 1/200) under 200 words, span confidence {:?}.\n",
        params.prior_rate,
        params.channel_scale,
        params.change_cost,
        params.beam,
        params.precheck_candidates,
        params.window_candidates,
        params.lattice_candidates,
        params.adaptive_candidates,
        params.adaptive_fast_accept_order,
        params.adaptive_rate,
        params
            .heavy_change_cost
            .map_or("unchanged".to_string(), |(r, c)| format!("{c} from an estimated rate of {r}")),
        params.cache_weight,
        params.weak_link_scale,
        embedding(params),
        params.short_doc_cost,
        if s.min_rate > 0.0 {
            format!("documents the detector estimates under {} spun left as written", s.min_rate)
        } else {
            "every document restored".to_string()
        },
        detect.prior_rate,
        detect.change_cost,
        detect.precheck_candidates,
        detect.window_candidates,
        if detect.joint { "spans decided jointly" } else { "spans decided each on its own" },
        detect.adaptive_rate,
        if detect.embed_weight > 0.0 { format!(", {}", embedding(detect)) } else { String::new() },
        cal.rate_slope,
        cal.rate_intercept,
        cal.threshold,
        cal.short_doc_margin,
        cal.short_doc_extra,
        cal.span_confidence.map(|w| (w * 1000.0).round() / 1000.0)
    ));
    let (listed, sum, right) = s.alternatives;
    if listed > 0 {
        out.push_str(&format!(
            "\nThe edits' alternatives (`restore --alternatives {}`), every rate: {listed} listed, mean confidence {:.3}, {:.1}% of them the original.\n",
            s.alternatives_asked,
            sum / listed as f64,
            100.0 * right as f64 / listed as f64
        ));
    }
    if let Some(table) = confidence_markdown(s) {
        out.push_str(&table);
    }
    let (spun, clean) = &s.only_spun;
    if !spun.is_empty() {
        out.push_str(
            "\n`restore --only-spun` (a document the detector labels clean is left as written), same test split:\n\n| | ",
        );
        let rates: Vec<f32> = s.restore.iter().map(|r| r.0).collect();
        for r in &rates {
            out.push_str(&format!("exact at {0:.0}% | false edits at {0:.0}% | ", r * 100.0));
        }
        out.push_str("false edits, clean |\n|---|");
        out.push_str(&"---|".repeat(2 * rates.len() + 1));
        let row = |label: &str, spun: &[RestoreCounts], clean: &RestoreCounts| {
            let mut line = format!("\n| {label} | ");
            for c in spun {
                line.push_str(&format!(
                    "{:.1}% | {:.2}% | ",
                    100.0 * c.exact as f32 / c.swaps.max(1) as f32,
                    100.0 * c.false_edit_share()
                ));
            }
            line.push_str(&format!("{:.2}% |", 100.0 * clean.false_edit_share()));
            line
        };
        let all: Vec<RestoreCounts> = s.restore.iter().map(|r| r.1).collect();
        out.push_str(&row("`restore`", &all, &s.clean_restore));
        out.push_str(&row("`--only-spun`", spun, clean));
        out.push('\n');
    }

    out
}

/// "12.5% (1 of 8)".
fn share_of(part: usize, whole: usize) -> String {
    format!("{:.1}% ({part} of {whole})", 100.0 * part as f32 / whole.max(1) as f32)
}

/// The embedding-context settings, in words.
fn embedding(p: &Params) -> String {
    if p.embed_weight > 0.0 {
        format!(
            "embedding context λ {} (own sentence ×{}, generic direction ×{} out{})",
            p.embed_weight,
            p.embed_sentence,
            p.embed_center,
            if p.embed_refine { ", refined in the second pass" } else { "" }
        )
    } else {
        "no embedding context".to_string()
    }
}

/// Where the true originals of a spun split's swaps rank among the
/// lexicon's candidates for the spun phrase: counts for rank 1, 2–4, 5–16,
/// 17–64 and absent. Tells how much of a restoration failure the lexicon
/// explains and how much the decoder does.
pub fn candidate_ranks(lexicon: &crate::Lexicon, docs: &[&SpunDoc]) -> [usize; 5] {
    let mut counts = [0usize; 5];
    for d in docs {
        for s in &d.swaps {
            let cands = lexicon.lookup(&d.text[s.start..s.end]);
            let want = crate::tokenize::normalize_phrase(&s.original);
            let rank =
                cands.iter().position(|c| crate::tokenize::normalize_phrase(c.original) == want);
            let bucket = match rank {
                Some(0) => 0,
                Some(1..=3) => 1,
                Some(4..=15) => 2,
                Some(_) => 3,
                None => 4,
            };
            counts[bucket] += 1;
        }
    }
    counts
}

/// The same ranks for tortured phrases, word by word: for each phrase with
/// as many words as its expected reading, the share of words whose expected
/// word is among the spun word's candidates (rank buckets as above).
pub fn tortured_word_ranks(lexicon: &crate::Lexicon, cases: &[TorturedCase]) -> [usize; 5] {
    let mut counts = [0usize; 5];
    for c in cases {
        let spun: Vec<&str> = c.sentence[c.span.0..c.span.1].split(' ').collect();
        let Some(exp) = c.expected.iter().find(|e| e.split(' ').count() == spun.len()) else {
            continue;
        };
        for (s, o) in spun.iter().zip(exp.split(' ')) {
            if *s == o {
                continue;
            }
            let cands = lexicon.lookup(s);
            let rank = cands.iter().position(|c| c.original == o);
            counts[match rank {
                Some(0) => 0,
                Some(1..=3) => 1,
                Some(4..=15) => 2,
                Some(_) => 3,
                None => 4,
            }] += 1;
        }
    }
    counts
}

/// What happened to each swap of the spun version `k` of `cases`: [restored
/// exactly, replaced by another candidate, kept though the right candidate
/// was the best, kept with another best candidate, never weighed (filtered
/// before the lattice, protected, or not a lexicon span)].
pub fn failure_breakdown(decoder: &Decoder, cases: &[Case], k: usize) -> [usize; 5] {
    cases
        .par_iter()
        .map(|c| {
            let doc = &c.spun[k].1;
            let a = decoder.analyze(&doc.text, &[]);
            let mut out = [0usize; 5];
            for s in &doc.swaps {
                let want = crate::tokenize::normalize_phrase(&s.original);
                let span = a.spans.iter().find(|sp| sp.start == s.start && sp.end == s.end);
                let bucket = match span {
                    None => 4,
                    Some(sp) => {
                        let right = crate::tokenize::normalize_phrase(&sp.original) == want;
                        match (sp.chosen, right) {
                            (true, true) => 0,
                            (true, false) => 1,
                            (false, true) => 2,
                            (false, false) => 3,
                        }
                    }
                };
                out[bucket] += 1;
            }
            out
        })
        .reduce(|| [0; 5], |a, b| std::array::from_fn(|i| a[i] + b[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_gate_keeps_only_the_edits_within_strong_spans() {
        let edit = |start: usize, end: usize| Edit {
            start,
            end,
            old: "x".into(),
            new: "y".into(),
            confidence: 0.5,
            alternatives: Vec::new(),
        };
        let restored = |n: usize| Outcome {
            edits: (0..n).map(|k| edit(10 * k, 10 * k + 5)).collect(),
            shares: (0..n).map(|k| k as f32).collect(),
            ..Default::default()
        };
        // Raw evidence 0 reads under any positive minimum rate; 1 over it.
        let detected = |raw_rate: f32, strong: Vec<std::ops::Range<usize>>| Outcome {
            raw_rate,
            words: 100,
            strong,
            ..Default::default()
        };
        let mut outcomes = vec![CaseOutcome {
            clean: restored(3),
            spun: vec![restored(3), restored(3)],
            short: Vec::new(),
        }];
        let det = vec![CaseOutcome {
            // Under the rate, a strong span over the second edit and one
            // over none.
            clean: detected(0.0, vec![12..14, 40..45]),
            // Under the rate, nothing strong.
            spun: vec![detected(0.0, Vec::new()), detected(1.0, Vec::new())],
            short: Vec::new(),
        }];
        gate_by_rate(&mut outcomes, &det, &Calibration::default(), 0.01);
        let o = &outcomes[0];
        assert_eq!(o.clean.edits.iter().map(|e| e.start).collect::<Vec<_>>(), [10]);
        assert_eq!(o.clean.shares, [1.0]);
        assert!(o.spun[0].edits.is_empty() && o.spun[0].shares.is_empty());
        assert_eq!(o.spun[1].edits.len(), 3);
    }

    /// Edits whose chance of being right is exactly logistic(slope · log10
    /// odds(share) + bias): at each share, right in that proportion.
    fn edits_from(slope: f32, bias: f32) -> Vec<EditOutcome> {
        let mut out = Vec::new();
        for k in 1..40 {
            let share = k as f32 / 40.0;
            let p = crate::decode::edit_confidence([slope, bias], 0.0, share, 400);
            let right = (p * 1000.0).round() as usize;
            for i in 0..1000 {
                out.push(EditOutcome { confidence: share, share, right: i < right, words: 400 });
            }
        }
        out
    }

    #[test]
    fn the_confidence_fit_recovers_the_weights_that_made_the_edits() {
        for (slope, bias) in [(0.58f32, -0.22f32), (1.0, 0.0), (2.5, 0.7)] {
            let [a, b] = fit_confidence(&edits_from(slope, bias), -5.0);
            assert!((a - slope).abs() < 0.01 && (b - bias).abs() < 0.01, "{a} {b}");
        }
    }

    #[test]
    fn logistic_regression_recovers_three_weights() {
        // y is true in exactly the share logistic(w · x) of the rows at
        // each point of a grid.
        let w = [0.43f64, 1.36, 0.76];
        let mut rows = Vec::new();
        for gain in 0..12 {
            for odds in [-2.0, -1.0, -0.3, 0.0] {
                let x = [gain as f64 * 0.5, odds, 1.0];
                let z: f64 = (0..3).map(|i| w[i] * x[i]).sum();
                let p = 1.0 / (1.0 + 10f64.powf(-z));
                let right = (p * 1000.0).round() as usize;
                rows.extend((0..1000).map(|i| (x, i < right)));
            }
        }
        let got = fit_logistic(&rows, [1.0, 1.0, 0.0]);
        for i in 0..3 {
            assert!((got[i] - w[i]).abs() < 0.01, "{got:?}");
        }
    }

    #[test]
    fn gaussian_elimination_solves_and_refuses_a_singular_system() {
        let h = [[0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [3.0, 0.0, 1.0]];
        let x = solve(h, [5.0, 3.0, 4.0]).unwrap();
        for (got, want) in x.iter().zip([1.0, 2.0, 1.0]) {
            assert!((got - want).abs() < 1e-9, "{x:?}");
        }
        assert!(solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0]).is_none());
    }

    /// "one two three four" with "two" swapped for "dos".
    fn one_swap() -> SpunDoc {
        SpunDoc {
            text: "one dos three four".into(),
            swaps: vec![Swap { start: 4, end: 7, original: "two".into(), original_words: 1 }],
            words: 4,
        }
    }

    /// An edit of `doc`'s text from `start` to `end` that writes `new`.
    fn edit(doc: &SpunDoc, start: usize, end: usize, new: &str) -> Edit {
        let old = doc.text[start..end].to_string();
        Edit { start, end, old, new: new.into(), confidence: 1.0, alternatives: Vec::new() }
    }

    #[test]
    fn a_swap_is_offered_when_the_edit_or_an_alternative_writes_its_original() {
        let doc = one_swap();
        let alt = |new: &str| crate::restore::Alternative {
            new: new.into(),
            confidence: 0.1,
            share: 0.1,
        };
        let counts = |new: &str, alts: &[&str]| {
            let e = Edit {
                alternatives: alts.iter().map(|a| alt(a)).collect(),
                ..edit(&doc, 4, 7, new)
            };
            let c = restore_counts(&doc, &Outcome { edits: vec![e], ..Default::default() });
            (c.exact, c.offered)
        };
        assert_eq!(counts("two", &[]), (1, 1));
        assert_eq!(counts("two", &["deux"]), (1, 1));
        assert_eq!(counts("deux", &["zwei", "Two"]), (0, 1));
        assert_eq!(counts("deux", &["zwei"]), (0, 0));
        assert_eq!(counts("deux", &[]), (0, 0));
    }

    #[test]
    fn an_edit_restores_a_swap_or_a_run_of_neighbouring_swaps() {
        let doc = one_swap();
        assert_eq!(swaps_restored(&doc, &edit(&doc, 4, 7, "Two")), 1);
        assert_eq!(swaps_restored(&doc, &edit(&doc, 4, 7, "deux")), 0);
        // More than the swap: the untouched word was changed too.
        assert_eq!(swaps_restored(&doc, &edit(&doc, 4, 13, "two three")), 0);
        assert_eq!(swaps_restored(&doc, &edit(&doc, 0, 7, "one two")), 0);
        // "one two three four" with "two three" swapped word by word.
        let sw = |start, end, original: &str| Swap {
            start,
            end,
            original: original.into(),
            original_words: 1,
        };
        let doc = SpunDoc {
            text: "one dos  tres four".into(),
            swaps: vec![sw(4, 7, "two"), sw(9, 13, "three")],
            words: 4,
        };
        assert_eq!(swaps_restored(&doc, &edit(&doc, 4, 13, "two  three")), 2);
        assert_eq!(swaps_restored(&doc, &edit(&doc, 4, 13, "two three")), 0);
        assert_eq!(swaps_restored(&doc, &edit(&doc, 4, 13, "deux trois")), 0);
        assert_eq!(swaps_restored(&doc, &edit(&doc, 9, 13, "three")), 1);
        // Across a comma the swaps are not one phrase.
        let doc = SpunDoc {
            text: "one dos, tres four".into(),
            swaps: vec![sw(4, 7, "two"), sw(9, 13, "three")],
            words: 4,
        };
        assert_eq!(swaps_restored(&doc, &edit(&doc, 4, 13, "two, three")), 0);
        let counts = restore_counts(
            &doc,
            &Outcome {
                edits: vec![edit(&doc, 4, 7, "two"), edit(&doc, 9, 13, "three")],
                ..Default::default()
            },
        );
        assert_eq!((counts.swaps, counts.exact), (2, 2));
    }

    #[test]
    fn a_flagged_span_is_spun_when_it_overlaps_a_swap() {
        let doc = one_swap();
        let flagged = vec![(0, 7, 2.0), (14, 18, 1.0)];
        let o = Outcome { words: 4, raw_rate: 0.3, flagged: flagged.clone(), ..Default::default() };
        let clean = Outcome { words: 4, flagged, ..Default::default() };
        let case =
            Case { name: "t".into(), clean: "one two three four".into(), spun: vec![(0.25, doc)] };
        let rows = span_rows(
            &[case],
            &[CaseOutcome { clean, spun: vec![o], short: vec![] }],
            &Calibration::default(),
        );
        let spun: Vec<bool> = rows.iter().map(|r| r.1).collect();
        // The clean text's two spans, then the spun text's.
        assert_eq!(spun, [false, false, true, false]);
        assert_eq!(rows[2].0[0], 2.0);
        // The spun document reads as more spun than the clean one.
        assert!(rows[2].0[1] > rows[0].0[1]);
    }

    #[test]
    fn first_words_cuts_at_the_end_of_the_sentence_or_line() {
        let text = "Title here\n\nOne two three. Four five six! Seven.";
        assert_eq!(first_words(text, 1), "Title here");
        assert_eq!(first_words(text, 3), "Title here\n\nOne two three.");
        assert_eq!(first_words(text, 5), "Title here\n\nOne two three.");
        assert_eq!(first_words(text, 6), "Title here\n\nOne two three. Four five six!");
        assert_eq!(first_words(text, 9), text);
        assert_eq!(first_words(text, 50), text);
        assert_eq!(first_words("no end in sight", 2), "no end in sight");
    }

    #[test]
    fn short_texts_get_the_extra_threshold_that_keeps_them_clean() {
        // 200 clean documents of 400 words with raw rates spread over
        // 0..0.04; cut to 25 words, the same documents scatter far more
        // (up to 0.2), and every twentieth cut reads as spun.
        let outcome =
            |raw_rate: f32, words: usize| Outcome { raw_rate, words, ..Default::default() };
        // Each also spun at 10% (40 one-word swaps), read at a raw rate of
        // 0.1, so that the line from raw rate to rate is the identity.
        let outcomes: Vec<CaseOutcome> = (0..200)
            .map(|i| CaseOutcome {
                clean: outcome(0.0002 * i as f32, 400),
                spun: vec![outcome(0.1, 400)],
                short: vec![outcome(0.001 * i as f32, 25)],
            })
            .collect();
        let swap = Swap { start: 0, end: 0, original: String::new(), original_words: 1 };
        let spun = SpunDoc { text: String::new(), swaps: vec![swap; 40], words: 400 };
        let cases: Vec<Case> = (0..200)
            .map(|i| Case {
                name: i.to_string(),
                clean: String::new(),
                spun: vec![(0.1, spun.clone())],
            })
            .collect();
        let cal = fit_calibration(&cases, &outcomes, 0.995);
        assert!(cal.short_doc_extra > 0.0, "{cal:?}");
        let rate = |o: &Outcome| cal.spin_rate(o.raw_rate, o.words);
        let flagged = |pick: &dyn Fn(&CaseOutcome) -> &Outcome| {
            outcomes.iter().map(pick).filter(|o| rate(o) >= cal.threshold_at(o.words)).count()
        };
        // At most 1% of the cuts (2 of 200) and 0.5% of the whole
        // documents (1) read as spun.
        assert!(flagged(&|o| &o.short[0]) <= 2, "{cal:?}");
        assert!(flagged(&|o| &o.clean) <= 1, "{cal:?}");
        // The smallest such extra: a tenth less lets more cuts through.
        let less = Calibration { short_doc_extra: cal.short_doc_extra - 0.1, ..cal.clone() };
        let over = outcomes.iter().filter(|o| rate(&o.short[0]) >= less.threshold_at(25)).count();
        assert!(over > 2, "{cal:?}");
        // A cut just under 200 words that reads as spun whatever the extra
        // (it moves such a cut by next to nothing) does not push the extra
        // to the end of its grid: the smallest that does as well as any.
        // Three such cuts, more than the 1% (2 of 200) a length may have.
        let mut odd = outcomes.clone();
        for (i, o) in odd.iter_mut().enumerate() {
            let rate = if (7..=9).contains(&i) { 0.5 } else { 0.0 };
            o.short.push(outcome(rate, 199));
        }
        let with_odd = fit_calibration(&cases, &odd, 0.995);
        assert_eq!(with_odd.short_doc_extra, cal.short_doc_extra, "{with_odd:?}");
        // Without cuts there is nothing to fit.
        let whole: Vec<CaseOutcome> =
            outcomes.iter().map(|o| CaseOutcome { short: vec![], ..o.clone() }).collect();
        assert_eq!(fit_calibration(&cases, &whole, 0.995).short_doc_extra, 0.0);
    }

    #[test]
    fn the_confidence_fit_stays_finite_when_every_edit_is_wrong() {
        // No right edit: the likelihood rises without bound as the bias
        // falls, so the weights only have to stay finite and say "unsure".
        let edits: Vec<EditOutcome> = (1..100)
            .map(|k| EditOutcome {
                confidence: 0.5,
                share: k as f32 / 100.0,
                right: false,
                words: 400,
            })
            .collect();
        let w = fit_confidence(&edits, 0.0);
        assert!(w.iter().all(|v| v.is_finite()), "{w:?}");
        assert!(crate::decode::edit_confidence(w, 0.0, 0.9, 400) < 0.1, "{w:?}");
    }

    #[test]
    fn counts_at_a_confidence_leave_out_the_unsure_edits() {
        // "one two three four": "two" was swapped for "dos", restored
        // at 0.9; "four" was never swapped, changed at 0.4.
        let doc = one_swap();
        let edit = |start: usize, end: usize, new: &str, confidence: f32| Edit {
            start,
            end,
            old: doc.text[start..end].into(),
            new: new.into(),
            confidence,
            alternatives: Vec::new(),
        };
        let outcome = Outcome {
            edits: vec![edit(4, 7, "two", 0.9), edit(14, 18, "five", 0.4)],
            shares: vec![0.9, 0.4],
            ..Default::default()
        };
        let all = restore_counts_at(&doc, &outcome, 0.0);
        assert_eq!(
            (all.exact, all.false_edited_words, all.edits, all.untouched_words),
            (1, 1, 2, 3)
        );
        let sure = restore_counts_at(&doc, &outcome, 0.5);
        assert_eq!((sure.exact, sure.false_edited_words, sure.edits), (1, 0, 1));
        let none = restore_counts_at(&doc, &outcome, 0.95);
        assert_eq!((none.exact, none.false_edited_words, none.edits), (0, 0, 0));
    }
}
