//! The detector: how heavily a document was spun, where, with evidence.
//!
//! From the decoder's [`Analysis`], a document gets its flagged spans (the
//! spans the best decoding replaces, with the suggested original and a
//! confidence), an estimated spin rate (the share of its words a spinner
//! swapped), a score in 0..1 whose decision boundary is 0.5, and a label.
//! The mapping from raw evidence to rate and score is a small calibration
//! ([`Calibration`]) fitted on one split of synthetic spins and reported on
//! another (`scripts/eval`).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::decode::{Analysis, Decoder, Params, Span};

/// The document's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Score below 0.5.
    Clean,
    /// Spun, at an estimated rate below the heavy threshold.
    Light,
    /// Spun at or above the heavy threshold.
    Heavy,
    /// Not English ([`crate::language`]): not scored; the rate and score
    /// are 0 and no span is flagged.
    #[serde(rename = "not-english")]
    NotEnglish,
}

impl Label {
    /// The label's name as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Clean => "clean",
            Label::Light => "light",
            Label::Heavy => "heavy",
            Label::NotEnglish => "not-english",
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A span the detector flags as spun.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlaggedSpan {
    /// Byte offset of the span in the input.
    pub start: usize,
    /// Byte offset one past the span.
    pub end: usize,
    /// The input's text there.
    pub text: String,
    /// The most likely original.
    pub original: String,
    /// The chance that the span was spun (all or part of it), 0..1, given
    /// its gain and the document's spin rate
    /// ([`Calibration::span_confidence`]).
    pub confidence: f32,
    /// How much better the original fits, in log10 probability.
    pub gain: f32,
}

impl FlaggedSpan {
    /// The flagged span for the decoder's span `s` of `text`, whose
    /// original is `original`, in a document whose rate's part of the
    /// confidence is `doc_term` ([`Calibration::span_confidence`]; the sum
    /// in the order it always had, so reports do not change in the last
    /// digit).
    fn new(text: &str, s: &Span, original: String, c: &Calibration, doc_term: f32) -> FlaggedSpan {
        FlaggedSpan {
            start: s.start,
            end: s.end,
            text: text[s.start..s.end].to_string(),
            original,
            confidence: c.span_confidence_in(s.gain, doc_term),
            gain: s.gain,
        }
    }
}

/// The detector's result for one document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Word count (boilerplate excluded).
    pub words: usize,
    /// Flagged spans, in input order.
    pub spans: Vec<FlaggedSpan>,
    /// Estimated share of the document's words that were swapped, 0..1.
    pub spin_rate: f32,
    /// 0..1; 0.5 is the boundary between clean and spun.
    pub score: f32,
    /// clean, light or heavy.
    pub label: Label,
}

/// Maps raw evidence to a spin rate and a score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// spin_rate = max(0, rate_slope · raw + rate_intercept), where raw is
    /// the confidence-weighted share of words in flagged spans.
    pub rate_slope: f32,
    /// See `rate_slope`.
    pub rate_intercept: f32,
    /// The spin rate at which the score is 0.5 for a long document.
    pub threshold: f32,
    /// How much the threshold rises for short documents: + this / sqrt(words).
    pub short_doc_margin: f32,
    /// And how much more below [`SHORT_DOC_WORDS`] words: + this ×
    /// (1 / words − 1 / SHORT_DOC_WORDS). Fitted on clean texts cut short
    /// (25 to 200 words), whose rates scatter more than the 1 / sqrt(words)
    /// margin allows for; a file from before it was fitted has 0.
    #[serde(default)]
    pub short_doc_extra: f32,
    /// Slope of the logistic score around the threshold.
    pub score_slope: f32,
    /// Spin rate from which a spun document is `heavy`.
    pub heavy_rate: f32,
    /// Weights of a flagged span's confidence (the chance that it was
    /// spun): logistic(`[0]` · gain + `[1]` · log10 odds(the document's
    /// spin rate) + `[2]`). The detector weighs a span as if spinning
    /// were about even odds, so its gain alone overstates the case in a lightly
    /// spun text and understates it in a heavily spun one. A file from
    /// before they were fitted gets the shipped ones.
    #[serde(default = "shipped_span_confidence")]
    pub span_confidence: [f32; 3],
}

/// The shipped [`Calibration::span_confidence`].
fn shipped_span_confidence() -> [f32; 3] {
    Calibration::default().span_confidence
}

impl Calibration {
    /// The spin rate of raw evidence `raw` ([`Scorer::raw_rate`]) in a
    /// document of `words` words (0 for none).
    pub fn spin_rate(&self, raw: f32, words: usize) -> f32 {
        if words == 0 {
            return 0.0;
        }
        (self.rate_slope * raw + self.rate_intercept).clamp(0.0, 1.0)
    }

    /// The spin rate, score and label of raw evidence `raw` in a document
    /// of `words` words.
    pub fn verdict(&self, raw: f32, words: usize) -> (f32, f32, Label) {
        let spin_rate = self.spin_rate(raw, words);
        let score = if words == 0 {
            0.0
        } else {
            let t = self.threshold_at(words);
            1.0 / (1.0 + (-self.score_slope * (spin_rate - t)).exp())
        };
        let label = if score < 0.5 {
            Label::Clean
        } else if spin_rate >= self.heavy_rate {
            Label::Heavy
        } else {
            Label::Light
        };
        (spin_rate, score, label)
    }

    /// The spin rate at which a document of `words` words scores 0.5:
    /// the threshold, raised for short documents.
    pub fn threshold_at(&self, words: usize) -> f32 {
        let n = words.max(1) as f32;
        self.threshold
            + self.short_doc_margin / n.sqrt()
            + self.short_doc_extra * crate::decode::shortness(words)
    }

    /// The confidence of a flagged span of gain `gain` (log10) in a
    /// document of spin rate `rate` ([`Calibration::span_confidence`]; the
    /// rate is read as at least 0.5% and at most 90%).
    pub fn span_confidence(&self, gain: f32, rate: f32) -> f32 {
        self.span_confidence_in(gain, self.span_doc_term(rate))
    }

    /// [`span_confidence`](Calibration::span_confidence) with the rate's
    /// part already worked out ([`Calibration::span_doc_term`]).
    fn span_confidence_in(&self, gain: f32, doc_term: f32) -> f32 {
        let [g, _, b] = self.span_confidence;
        crate::decode::logistic(g * gain + doc_term + b)
    }

    /// The rate's part of a span's confidence, the same for every span of
    /// a document of spin rate `rate` (computed once per document).
    fn span_doc_term(&self, rate: f32) -> f32 {
        self.span_confidence[1] * crate::decode::log10_odds(rate.clamp(0.005, 0.9))
    }
}

impl Default for Calibration {
    /// Fitted by `unspin eval` (scripts/eval) on the calibration split, the
    /// 1,113 even-numbered BBC documents, with the detector's settings
    /// ([`Params::detect`]): a least-squares line from raw evidence to the
    /// true swap rate, the extra threshold of short documents that keeps
    /// 99% of the clean texts cut to 25, 50, 100 and 200 words clean, and
    /// the threshold 0.005 above the 99.5th percentile
    /// of clean documents (refitted in round 15 for the mixed language
    /// model and the detector's prior of 0.62).
    fn default() -> Calibration {
        Calibration {
            rate_slope: 1.1293,
            rate_intercept: -0.0515,
            threshold: 0.0564,
            short_doc_margin: 0.1,
            short_doc_extra: 3.7,
            score_slope: 300.0,
            heavy_rate: 0.2,
            span_confidence: [0.457, 1.323, 0.708],
        }
    }
}

/// Documents shorter than this (words) get a higher threshold than the
/// 1 / sqrt(words) margin gives ([`Calibration::short_doc_extra`]).
pub const SHORT_DOC_WORDS: f32 = 200.0;

/// The calibrations built into the binary: (name, JSON).
pub const BUILT_IN: &[(&str, &str)] =
    &[("science", include_str!("../lexicon/calibration/science.cal.json"))];

/// The `format` field of a saved calibration.
pub const CALIBRATION_FORMAT: &str = "unspin-calibration/1";

/// A calibration as `unspin calibrate` saves it (JSON): the numbers, and
/// what they were fitted with, so that a file made for another lexicon or
/// language model can be recognised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationFile {
    /// Always [`CALIBRATION_FORMAT`].
    pub format: String,
    /// The numbers, saved as fields of this object.
    #[serde(flatten)]
    pub calibration: Calibration,
    /// Clean documents it was fitted on.
    pub documents: usize,
    /// Synthetic spin rates it was fitted on.
    pub rates: Vec<f32>,
    /// The share of the clean documents kept under the threshold.
    pub clean_quantile: f32,
    /// The restorer's change cost for this kind of text (log10), when the
    /// shipped one (`Params::restore`) changed more than `calibrate`'s
    /// target share of the clean documents' words; `None`: the shipped one.
    #[serde(default)]
    pub restore_change_cost: Option<f32>,
    /// The restorer's confidence weights for this kind of text
    /// ([`Params::edit_confidence`]), fitted so that an edit's confidence
    /// reads as its chance of restoring the original; `None`: the shipped
    /// ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_edit_confidence: Option<[f32; 2]>,
    /// Content hash of the lexicon in use (`unspin lexicon stats`).
    pub lexicon: String,
    /// The language model in use (`embedded` or its path).
    pub lm: String,
}

impl CalibrationFile {
    /// The restorer's settings for this kind of text (see
    /// [`restore_params`]).
    pub fn restore_params(&self) -> Params {
        let p = restore_params(self.restore_change_cost);
        Params { edit_confidence: self.restore_edit_confidence.unwrap_or(p.edit_confidence), ..p }
    }

    /// A calibration built into the binary, by name (None for another
    /// name): `science`, fitted by `scripts/calibration/science` on the
    /// prose of scientific software manuals (see `lexicon/README.md`).
    pub fn built_in(name: &str) -> Option<crate::Result<CalibrationFile>> {
        BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| CalibrationFile::parse(&format!("built-in calibration {n}"), text))
    }

    /// Parses and checks a saved calibration; `name` is used in messages.
    pub fn parse(name: &str, text: &str) -> crate::Result<CalibrationFile> {
        let bad = |message: String| crate::Error::Input { input: name.to_string(), message };
        let f: CalibrationFile = serde_json::from_str(text)
            .map_err(|e| bad(format!("not a calibration file from `unspin calibrate` ({e})")))?;
        if f.format != CALIBRATION_FORMAT {
            return Err(bad(format!(
                "calibration format {:?}; this unspin reads {CALIBRATION_FORMAT:?}",
                f.format
            )));
        }
        let c = &f.calibration;
        let checks = [
            ("rate_slope", c.rate_slope, 0.0, 100.0),
            ("rate_intercept", c.rate_intercept, -10.0, 10.0),
            ("threshold", c.threshold, 0.0, 1.0),
            ("short_doc_margin", c.short_doc_margin, 0.0, 10.0),
            ("short_doc_extra", c.short_doc_extra, 0.0, 1000.0),
            ("score_slope", c.score_slope, 0.001, 1e6),
            ("heavy_rate", c.heavy_rate, 0.0, 1.0),
            ("span_confidence", c.span_confidence[0], -100.0, 100.0),
            ("span_confidence", c.span_confidence[1], -100.0, 100.0),
            ("span_confidence", c.span_confidence[2], -100.0, 100.0),
        ];
        for (field, v, lo, hi) in checks {
            if !v.is_finite() || v < lo || v > hi {
                return Err(bad(format!("{field} is {v}, outside {lo}..={hi}")));
            }
        }
        if let Some(v) = f.restore_change_cost {
            if !v.is_finite() || !(0.0..=20.0).contains(&v) {
                return Err(bad(format!("restore_change_cost is {v}, outside 0..=20")));
            }
        }
        if let Some([slope, bias]) = f.restore_edit_confidence {
            if !slope.is_finite() || !(0.0..=100.0).contains(&slope) || slope == 0.0 {
                return Err(bad(format!(
                    "restore_edit_confidence's slope is {slope}, outside 0..=100 or 0"
                )));
            }
            if !bias.is_finite() || !(-100.0..=100.0).contains(&bias) {
                return Err(bad(format!(
                    "restore_edit_confidence's bias is {bias}, outside -100..=100"
                )));
            }
        }
        if c.rate_slope == 0.0 {
            return Err(bad("rate_slope is 0: every document would get the same rate".into()));
        }
        Ok(f)
    }
}

/// The restorer's settings ([`Params::restore`]) with change cost `cost`
/// (`None`: the shipped one). The second pass's lower cost for heavily spun
/// documents rises by as much as `cost` is above the shipped cost, and
/// stays as shipped when `cost` is below it: that pass's cost is already
/// low, and lowering it with the first pass's pushed false edits on
/// heavily spun text up fastest (docs/evaluation-rounds.md, round 8).
pub fn restore_params(cost: Option<f32>) -> Params {
    let shipped = Params::restore();
    let Some(cost) = cost else { return shipped };
    let delta = (cost - shipped.change_cost).max(0.0);
    Params {
        change_cost: cost,
        heavy_change_cost: shipped.heavy_change_cost.map(|(rate, c)| (rate, c + delta)),
        ..shipped
    }
}

/// Scores documents. Immutable and shareable between threads.
#[derive(Clone, Debug)]
pub struct Scorer {
    decoder: Decoder,
    calibration: Calibration,
}

impl Scorer {
    /// A scorer over `decoder`'s lexicon and language model, with the
    /// detector's settings ([`Params::detect`]) and the calibration fitted
    /// for them.
    pub fn new(decoder: Decoder) -> Scorer {
        Scorer {
            decoder: decoder.with_params(Params::detect()),
            calibration: Calibration::default(),
        }
    }

    /// A scorer that decodes with `decoder`'s own settings; `calibration`
    /// should have been fitted for them (`unspin eval`).
    pub fn with_decoder(decoder: Decoder, calibration: Calibration) -> Scorer {
        Scorer { decoder, calibration }
    }

    /// Replaces the calibration.
    pub fn with_calibration(mut self, c: Calibration) -> Scorer {
        self.calibration = c;
        self
    }

    /// The decoder in use.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The calibration in use.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Scores `text`, leaving out the byte ranges in `exclude`.
    pub fn score(&self, text: &str, exclude: &[Range<usize>]) -> Report {
        let mut analysis = self.decoder.analyze_chosen(text, exclude);
        let (spin_rate, score, label) = self.verdict(&analysis);
        // The analysis goes away: its originals are moved into the report,
        // not copied (about 44,000 flagged spans over the BBC corpus).
        // Counted first: collected from a filter, the vector would grow.
        let mut spans = Vec::with_capacity(analysis.chosen().count());
        let c = &self.calibration;
        let doc_term = c.span_doc_term(spin_rate);
        spans.extend(analysis.spans.iter_mut().filter(|s| s.chosen).map(|s| {
            let original = std::mem::take(&mut s.original);
            FlaggedSpan::new(text, s, original, c, doc_term)
        }));
        crate::decode::recycle_spans(analysis.spans);
        Report { words: analysis.words, spans, spin_rate, score, label }
    }

    /// The raw evidence: the confidence-weighted share of words in flagged spans.
    pub fn raw_rate(analysis: &Analysis) -> f32 {
        if analysis.words == 0 {
            return 0.0;
        }
        let flagged: f32 = analysis.chosen().map(|s| s.confidence * s.words as f32).sum();
        flagged / analysis.words as f32
    }

    /// The report for an analysis of `text`.
    pub fn report(&self, text: &str, analysis: &Analysis) -> Report {
        let (spin_rate, score, label) = self.verdict(analysis);
        let c = &self.calibration;
        let doc_term = c.span_doc_term(spin_rate);
        let spans = analysis
            .chosen()
            .map(|s| FlaggedSpan::new(text, s, s.original.clone(), c, doc_term))
            .collect();
        Report { words: analysis.words, spans, spin_rate, score, label }
    }

    /// The label of `text` alone: the question `restore --only-spun` asks
    /// of each document (which answers it from the document it prepares
    /// for the restorer too, `Scorer::label_of`).
    pub fn label(&self, text: &str, exclude: &[Range<usize>]) -> Label {
        let analysis = self.decoder.analyze_chosen(text, exclude);
        let label = self.label_of(&analysis);
        crate::decode::recycle_spans(analysis.spans);
        label
    }

    /// The label of an analysis made by this scorer's decoder.
    pub(crate) fn label_of(&self, analysis: &Analysis) -> Label {
        self.verdict(analysis).2
    }

    /// The spin rate and label of an analysis made by this scorer's
    /// decoder.
    pub(crate) fn rate_and_label_of(&self, analysis: &Analysis) -> (f32, Label) {
        let (rate, _, label) = self.verdict(analysis);
        (rate, label)
    }

    /// The spin rate, score and label of an analysis.
    fn verdict(&self, analysis: &Analysis) -> (f32, f32, Label) {
        if analysis.not_english {
            return (0.0, 0.0, Label::NotEnglish);
        }
        self.calibration.verdict(Scorer::raw_rate(analysis), analysis.words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> CalibrationFile {
        CalibrationFile {
            format: CALIBRATION_FORMAT.to_string(),
            calibration: Calibration {
                rate_slope: 1.5,
                rate_intercept: -0.2,
                threshold: 0.1,
                ..Calibration::default()
            },
            documents: 40,
            rates: vec![0.05, 0.1],
            clean_quantile: 0.995,
            restore_change_cost: Some(2.0),
            restore_edit_confidence: Some([0.5, -0.3]),
            lexicon: "abc".into(),
            lm: "embedded".into(),
        }
    }

    #[test]
    fn a_saved_calibration_reads_back_as_itself() {
        let f = file();
        let text = serde_json::to_string(&f).unwrap();
        let back = CalibrationFile::parse("x.json", &text).unwrap();
        assert_eq!(back, f);
        let c = &back.calibration;
        assert_eq!((c.rate_slope, c.rate_intercept, c.threshold), (1.5, -0.2, 0.1));
        let p = back.restore_params();
        let shipped = Params::restore();
        assert_eq!(p.change_cost, 2.0);
        let (r, c) = p.heavy_change_cost.unwrap();
        let (r0, c0) = shipped.heavy_change_cost.unwrap();
        assert_eq!(r, r0);
        assert!((c - (c0 + 2.0 - shipped.change_cost)).abs() < 1e-6);
        assert_eq!(p.edit_confidence, [0.5, -0.3]);
        let none = CalibrationFile {
            restore_change_cost: None,
            restore_edit_confidence: None,
            ..f.clone()
        };
        assert_eq!(none.restore_params().change_cost, shipped.change_cost);
        assert_eq!(none.restore_params().edit_confidence, shipped.edit_confidence);
        // A file from before the confidence was fitted reads as shipped.
        let mut old = serde_json::to_value(&none).unwrap();
        old.as_object_mut().unwrap().remove("restore_edit_confidence");
        let old = CalibrationFile::parse("old.json", &old.to_string()).unwrap();
        assert_eq!(old.restore_edit_confidence, None);
        // A cost below the shipped one leaves the second pass's as shipped.
        let low = CalibrationFile { restore_change_cost: Some(0.1), ..f };
        assert_eq!(low.restore_params().change_cost, 0.1);
        assert_eq!(low.restore_params().heavy_change_cost, Some((r0, c0)));
    }

    #[test]
    fn a_calibration_out_of_range_is_refused_with_the_field() {
        for (field, v) in [
            ("rate_slope", 0.0f32),
            ("threshold", -0.1),
            ("heavy_rate", 2.0),
            ("restore_change_cost", -1.0),
        ] {
            let mut value = serde_json::to_value(file()).unwrap();
            value[field] = serde_json::json!(v);
            let e = CalibrationFile::parse("x.json", &value.to_string()).unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
            assert!(e.to_string().starts_with("x.json: "), "{e}");
        }
        let mut value = serde_json::to_value(file()).unwrap();
        value["span_confidence"] = serde_json::json!([1.0, 1.0, 500.0]);
        let e = CalibrationFile::parse("x.json", &value.to_string()).unwrap_err();
        assert!(e.to_string().contains("span_confidence"), "{e}");
        for w in [[0.0f32, 0.0], [-1.0, 0.0], [1.0, 1000.0]] {
            let mut value = serde_json::to_value(file()).unwrap();
            value["restore_edit_confidence"] = serde_json::json!(w);
            let e = CalibrationFile::parse("x.json", &value.to_string()).unwrap_err();
            assert!(e.to_string().contains("restore_edit_confidence"), "{e}");
        }
    }

    #[test]
    fn the_built_in_science_calibration_parses_and_others_are_unknown() {
        let f = CalibrationFile::built_in("science").expect("built in").expect("parses");
        assert_eq!(f.lm, "embedded");
        assert_eq!(f.lexicon, crate::Lexicon::embedded().content_hash());
        // Scientific prose reads as more spun to the model than news.
        assert!(f.calibration.threshold > Calibration::default().threshold, "{f:?}");
        assert!(CalibrationFile::built_in("news.cal.json").is_none());
    }

    #[test]
    fn short_documents_have_a_higher_threshold_and_long_ones_only_the_margin() {
        let c = Calibration { short_doc_extra: 4.0, ..Calibration::default() };
        let plain = |n: f32| c.threshold + c.short_doc_margin / n.sqrt();
        assert!((c.threshold_at(25) - plain(25.0) - 4.0 * (1.0 / 25.0 - 1.0 / 200.0)).abs() < 1e-6);
        assert!(
            c.threshold_at(25) > c.threshold_at(50) && c.threshold_at(50) > c.threshold_at(100)
        );
        for n in [200, 400, 5000] {
            assert!((c.threshold_at(n) - plain(n as f32)).abs() < 1e-6, "{n}");
        }
        // A file from before the extra was fitted has none.
        let mut old = serde_json::to_value(file()).unwrap();
        old.as_object_mut().unwrap().remove("short_doc_extra");
        let old = CalibrationFile::parse("old.json", &old.to_string()).unwrap();
        assert_eq!(old.calibration.short_doc_extra, 0.0);
    }

    #[test]
    fn a_span_is_surer_with_more_gain_and_in_a_more_spun_document() {
        let c = Calibration::default();
        let at = |gain: f32, rate: f32| c.span_confidence(gain, rate);
        assert!(at(1.0, 0.1) < at(3.0, 0.1));
        assert!(at(2.0, 0.01) < at(2.0, 0.1) && at(2.0, 0.1) < at(2.0, 0.3));
        // A rate of 0 reads as 0.5%, not as certainty of "clean".
        assert!(at(20.0, 0.0) > 0.5, "{}", at(20.0, 0.0));
        assert_eq!(at(2.0, 0.0), at(2.0, 0.005));
        // A file from before span confidences were fitted gets the shipped
        // weights.
        let mut old = serde_json::to_value(file()).unwrap();
        old.as_object_mut().unwrap().remove("span_confidence");
        let old = CalibrationFile::parse("old.json", &old.to_string()).unwrap();
        assert_eq!(old.calibration.span_confidence, c.span_confidence);
    }

    #[test]
    fn the_calibration_moves_the_label() {
        // One flagged span of 15 words in a 100-word text: raw rate 0.15,
        // a rate of 0.117 by the shipped line (threshold 0.064 at 100
        // words) and 0.025 by the lenient one (threshold 0.11).
        let a = Analysis {
            words: 100,
            spans: vec![crate::decode::Span {
                start: 0,
                end: 4,
                first_token: 0,
                last_token: 15,
                words: 15,
                original: "x".into(),
                sources: crate::lexicon::Sources::MOBY,
                weight: 1.0,
                gain: 2.0,
                chosen: true,
                confidence: 1.0,
                share: 1.0,
                alternatives: Vec::new(),
            }],
            ..Default::default()
        };
        let text = "text";
        let scorer = Scorer::new(crate::decode::Decoder::new(
            crate::Lexicon::embedded(),
            crate::decode::Model::Static(crate::LanguageModel::embedded()),
        ));
        assert_eq!(scorer.report(text, &a).label, Label::Light);
        let lenient = scorer.with_calibration(file().calibration);
        assert_eq!(lenient.report(text, &a).label, Label::Clean);
    }
}
