//! The restorer: the decoder's chosen spans spliced back into the input.
//!
//! Everything not restored is kept byte for byte. A replacement takes the
//! case of what it replaces (sentence start, ALL CAPS, Title Case); the
//! lexicon already pairs inflected forms ("endeavors" → "efforts"), so the
//! candidate arrives in the observed word's form.

use std::ops::Range;

use serde::Serialize;

use crate::decode::{Analysis, Decoder};
use crate::detect::{Label, Scorer};
use crate::lexicon::Sources;

/// One change the restorer made.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Edit {
    /// Byte offset of the replaced text in the input.
    pub start: usize,
    /// Byte offset one past the replaced text in the input.
    pub end: usize,
    /// The input's text there (`input[start..end]`).
    pub old: String,
    /// What the restorer put instead.
    pub new: String,
    /// How sure the decoder is, 0..1.
    pub confidence: f32,
    /// The next likeliest originals, best first, with
    /// [`Restorer::alternatives`] (none by default).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Alternative>,
}

/// Another original the decoder weighed for an edit's span
/// ([`Edit::alternatives`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alternative {
    /// The text it would put instead, in the case of `old`.
    pub new: String,
    /// The chance that it is the original, on the scale of
    /// [`Edit::confidence`].
    pub confidence: f32,
    /// Its share of the span's readings ([`crate::decode::Alternative`]),
    /// which the confidence is made from.
    #[serde(skip)]
    pub share: f32,
}

/// The restored text and the edits that made it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Restored {
    /// The restored text.
    pub text: String,
    /// The edits, in input order, never overlapping.
    pub edits: Vec<Edit>,
    /// The input does not read as English ([`crate::language`]) and was
    /// left as it was.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_english: bool,
    /// The detector labels the input clean and the restorer was asked to
    /// restore only spun text ([`Restorer::only_spun`]): left as it was.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub labelled_clean: bool,
    /// The detector's estimate of the input's spin rate is below the
    /// restorer's [`Restorer::min_rate`]: left as it was.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub below_min_rate: bool,
}

/// The estimated spin rate under which `unspin restore` leaves a document
/// as it is ([`Restorer::min_rate`]) but for its [`strong_spans`].
/// Chosen on the calibration split (README, Evaluation): at 0.01,
/// documents spun at 5% are restored as before but for 1 in 100, and most
/// clean documents are left as written.
pub const DEFAULT_MIN_RATE: f32 = 0.01;

/// A flagged span whose original reads this much likelier than the words
/// as written (log10, in the detector's reading) is reason enough to
/// restore it whatever the document's estimated rate: one stock phrase of
/// a paraphrasing tool ("on the off chance that") in a long article is
/// spinning, though too little of it to raise the rate. Chosen on the
/// calibration split in round 13 (README, Evaluation), when such a span
/// let the whole document be restored: without it, 70.0% of the phrase
/// swaps of `scripts/idioms` were restored, against 74.5% with every
/// document restored; with it, 73.7%, while clean text's words changed
/// went from 0.59% to 0.40% (0.27% without it). Since round 15 only the
/// strong spans of such a document are restored ([`strong_spans`]).
pub const STRONG_GAIN: f32 = 4.0;

/// The byte ranges of the flagged spans of a detector's reading that are
/// evidence of spinning strong enough on their own: a gain of
/// [`STRONG_GAIN`] or more, or an original from a user lexicon
/// (`--lexicon`: a list of known spins, such as tortured phrases, which a
/// paper may hold one of in thousands of words). A text under the minimum
/// rate that holds some is restored only there: one stock phrase in a long
/// clean article is the one thing worth changing in it, and the rest is as
/// likely to get false edits as any clean text.
pub fn strong_spans(analysis: &Analysis) -> Vec<Range<usize>> {
    analysis
        .chosen()
        .filter(|s| s.gain >= STRONG_GAIN || s.sources.contains(Sources::USER))
        .map(|s| s.start..s.end)
        .collect()
}

/// Whether the byte range `start..end` overlaps one of `ranges`.
pub fn overlaps_any(ranges: &[Range<usize>], start: usize, end: usize) -> bool {
    ranges.iter().any(|r| start < r.end && r.start < end)
}

/// Whether a restorer with minimum rate `min_rate` restores the whole of a
/// text whose spin rate the detector estimates at `rate`
/// ([`Restorer::min_rate`]; a `min_rate` of 0 or less restores every
/// text). One that does not is restored only within its
/// [`strong_spans`].
pub fn passes_min_rate(min_rate: f32, rate: f32) -> bool {
    min_rate <= 0.0 || rate >= min_rate
}

/// Which documents a gated restorer restores, by the detector's reading.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Gate {
    /// Those it does not label clean.
    Spun,
    /// Those whose estimated spin rate is at least this.
    Rate(f32),
}

/// Restores spun text. Immutable and shareable between threads.
#[derive(Clone, Debug)]
pub struct Restorer {
    decoder: Decoder,
    min_confidence: f32,
    /// With [`only_spun`](Restorer::only_spun) or
    /// [`min_rate`](Restorer::min_rate): the detector that decides which
    /// texts to restore, and how.
    gate: Option<(Box<Scorer>, Gate)>,
}

impl Restorer {
    /// A restorer that makes every edit the decoder chooses.
    pub fn new(decoder: Decoder) -> Restorer {
        Restorer { decoder, min_confidence: 0.0, gate: None }
    }

    /// Restores only texts that `scorer` does not label clean; the others
    /// come back as they are, with [`Restored::labelled_clean`] set. On
    /// clean text this costs a detector pass instead of a restoration and
    /// makes no false edits; lightly spun text that reads as clean is left
    /// too (README, Evaluation).
    pub fn only_spun(mut self, scorer: Scorer) -> Restorer {
        self.gate = Some((Box::new(scorer), Gate::Spun));
        self
    }

    /// Restores only texts whose spin rate `scorer` estimates at `rate` or
    /// more, and within the others only the [`strong_spans`] it flags; a
    /// text with none comes back as it is, with
    /// [`Restored::below_min_rate`] set. A text the
    /// detector finds nothing in is clean or nearly so, and most of what
    /// the restorer would change there is a false edit
    /// ([`DEFAULT_MIN_RATE`]). A `rate` of 0 or less restores every text,
    /// without a detector pass. Replaces [`only_spun`](Restorer::only_spun),
    /// and the other way round.
    pub fn min_rate(mut self, scorer: Scorer, rate: f32) -> Restorer {
        self.gate = (rate > 0.0).then(|| (Box::new(scorer), Gate::Rate(rate)));
        self
    }

    /// Only make edits at least this sure (0..1).
    pub fn min_confidence(mut self, c: f32) -> Restorer {
        self.min_confidence = c;
        self
    }

    /// List up to `n` other originals with each edit
    /// ([`Edit::alternatives`]): the candidates the decoder weighed next
    /// in the chosen context. The edits themselves do not change.
    pub fn alternatives(mut self, n: usize) -> Restorer {
        let params = crate::decode::Params { alternatives: n, ..self.decoder.params().clone() };
        self.decoder = self.decoder.with_params(params);
        self
    }

    /// The decoder in use.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Restores `text`, leaving the byte ranges in `exclude` untouched.
    pub fn restore(&self, text: &str, exclude: &[Range<usize>]) -> Restored {
        // Under the minimum rate, the strong spans that let the text in.
        let mut only: Option<Vec<Range<usize>>> = None;
        let analysis = match &self.gate {
            None => self.decoder.analyze_chosen(text, exclude),
            Some((scorer, gate)) => {
                let mut label = Label::Clean;
                let go_on = |detected: &Analysis| {
                    let rate;
                    (rate, label) = scorer.rate_and_label_of(detected);
                    match *gate {
                        Gate::Spun => matches!(label, Label::Light | Label::Heavy),
                        Gate::Rate(_) if label == Label::NotEnglish => false,
                        Gate::Rate(min) if passes_min_rate(min, rate) => true,
                        Gate::Rate(_) => {
                            let strong = strong_spans(detected);
                            let go = !strong.is_empty();
                            only = go.then_some(strong);
                            go
                        }
                    }
                };
                match self.decoder.analyze_chosen_gated(scorer.decoder(), text, exclude, go_on) {
                    Some(analysis) => analysis,
                    None => {
                        let not_english = label == Label::NotEnglish;
                        return Restored {
                            text: text.to_string(),
                            labelled_clean: *gate == Gate::Spun && label == Label::Clean,
                            below_min_rate: matches!(gate, Gate::Rate(_)) && !not_english,
                            not_english,
                            ..Default::default()
                        };
                    }
                }
            }
        };
        let restored = self.apply_within(text, &analysis, only.as_deref());
        crate::decode::recycle_spans(analysis.spans);
        restored
    }

    /// Applies an analysis of `text` (from this restorer's decoder).
    pub fn apply(&self, text: &str, analysis: &Analysis) -> Restored {
        self.apply_within(text, analysis, None)
    }

    /// [`apply`](Restorer::apply), making only the edits that overlap one
    /// of `only`'s byte ranges when it is given.
    pub fn apply_within(
        &self,
        text: &str,
        analysis: &Analysis,
        only: Option<&[Range<usize>]>,
    ) -> Restored {
        let mut edits = Vec::new();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for span in analysis.chosen() {
            if span.confidence < self.min_confidence || span.start < at {
                continue;
            }
            if only.is_some_and(|r| !overlaps_any(r, span.start, span.end)) {
                continue;
            }
            let old = &text[span.start..span.end];
            let new = match_case(old, &span.original);
            if new == old {
                continue;
            }
            out.push_str(&text[at..span.start]);
            out.push_str(&new);
            at = span.end;
            let alternatives = span
                .alternatives
                .iter()
                .map(|a| Alternative {
                    new: match_case(old, &a.original),
                    confidence: a.confidence,
                    share: a.share,
                })
                .filter(|a| a.new != old && a.new != new)
                .collect();
            edits.push(Edit {
                start: span.start,
                end: span.end,
                old: old.to_string(),
                new,
                confidence: span.confidence,
                alternatives,
            });
        }
        out.push_str(&text[at..]);
        Restored { text: out, edits, not_english: analysis.not_english, ..Default::default() }
    }
}

/// Gives `new` the case pattern of `old`: ALL CAPS, Title Case (every word
/// capitalized, several words), or a capital first letter.
pub fn match_case(old: &str, new: &str) -> String {
    // Counted as they are checked, not collected: two vectors per edit
    // were an eighth of the allocations of a restore of spun text. (`all`
    // stops at the first failure, and then the count no longer matters.)
    let mut letters = 0;
    if old.chars().filter(|c| c.is_alphabetic()).all(|c| {
        letters += 1;
        c.is_uppercase()
    }) && letters >= 2
    {
        return new.to_uppercase();
    }
    let capitalized = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    let mut words = 0;
    if old.split_whitespace().all(|w| {
        words += 1;
        capitalized(w)
    }) && words >= 2
    {
        return new.split(' ').map(capitalize).collect::<Vec<_>>().join(" ");
    }
    if old.chars().next().is_some_and(char::is_uppercase) {
        return capitalize(new);
    }
    new.to_string()
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_carries_over() {
        assert_eq!(match_case("streams", "jets"), "jets");
        assert_eq!(match_case("Streams", "jets"), "Jets");
        assert_eq!(match_case("STREAMS", "jets"), "JETS");
        assert_eq!(
            match_case("Discontinuance Of Threats", "cessation of hostilities"),
            "Cessation Of Hostilities"
        );
        assert_eq!(
            match_case("Discontinuance of threats", "cessation of hostilities"),
            "Cessation of hostilities"
        );
        assert_eq!(match_case("Éclat", "ébène"), "Ébène");
    }
}
