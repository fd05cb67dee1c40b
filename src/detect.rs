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

use serde::Serialize;

use crate::decode::{Analysis, Decoder, Params};

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
}

impl Label {
    /// The label's name as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Clean => "clean",
            Label::Light => "light",
            Label::Heavy => "heavy",
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
    /// Confidence that it was spun, 0..1.
    pub confidence: f32,
    /// How much better the original fits, in log10 probability.
    pub gain: f32,
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
#[derive(Clone, Debug, PartialEq)]
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
    /// Slope of the logistic score around the threshold.
    pub score_slope: f32,
    /// Spin rate from which a spun document is `heavy`.
    pub heavy_rate: f32,
}

impl Default for Calibration {
    /// Fitted by `unspin eval` (scripts/eval) on the calibration split, the
    /// 1,113 even-numbered BBC documents, with the detector's settings
    /// ([`Params::detect`]): a least-squares line from raw evidence to the
    /// true swap rate, and the threshold 0.005 above the 99.5th percentile
    /// of clean documents.
    fn default() -> Calibration {
        Calibration {
            rate_slope: 1.1267,
            rate_intercept: -0.0524,
            threshold: 0.0535,
            short_doc_margin: 0.1,
            score_slope: 300.0,
            heavy_rate: 0.2,
        }
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
        let analysis = self.decoder.analyze(text, exclude);
        self.report(text, &analysis)
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
        let c = &self.calibration;
        let raw = Scorer::raw_rate(analysis);
        let spin_rate = if analysis.words == 0 {
            0.0
        } else {
            (c.rate_slope * raw + c.rate_intercept).clamp(0.0, 1.0)
        };
        let score = if analysis.words == 0 {
            0.0
        } else {
            let t = c.threshold + c.short_doc_margin / (analysis.words as f32).sqrt();
            1.0 / (1.0 + (-c.score_slope * (spin_rate - t)).exp())
        };
        let label = if score < 0.5 {
            Label::Clean
        } else if spin_rate >= c.heavy_rate {
            Label::Heavy
        } else {
            Label::Light
        };
        let spans = analysis
            .chosen()
            .map(|s| FlaggedSpan {
                start: s.start,
                end: s.end,
                text: text[s.start..s.end].to_string(),
                original: s.original.clone(),
                confidence: s.confidence,
                gain: s.gain,
            })
            .collect();
        Report { words: analysis.words, spans, spin_rate, score, label }
    }
}
