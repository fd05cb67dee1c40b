//! What a document says about its own words: the counts of the cache
//! model ([`Params::cache_weight`]) and the word vectors of the embedding
//! context ([`Params::embed_weight`]), gathered once per document.

use super::*;

/// Word counts of one document, for the cache model
/// ([`Params::cache_weight`]).
#[derive(Debug)]
pub(super) struct DocCache {
    counts: rustc_hash::FxHashMap<WordId, u32>,
    total: f32,
    lambda: f32,
    /// log10(1 − λ): the mix for a word the cache has not seen.
    log_rest: f32,
}

impl DocCache {
    pub(super) fn count(sentences: &[&Sentence], lambda: f32) -> DocCache {
        let mut counts = rustc_hash::FxHashMap::default();
        let mut total = 0u32;
        for s in sentences {
            for &w in &s.ids {
                *counts.entry(w).or_insert(0u32) += 1;
                total += 1;
            }
        }
        let lambda = lambda.clamp(0.0, 0.99);
        DocCache { counts, total: total.max(1) as f32, lambda, log_rest: (1.0 - lambda).log10() }
    }
}

/// The content words of a document that have a vector, and the sums of
/// their vectors, per sentence and in all: a sentence's embedding context is
/// the document without it ([`Params::embed_weight`]).
#[derive(Debug)]
pub(super) struct DocEmbed {
    /// (token index, LM id) of each content word, in text order.
    pub(super) units: Vec<(u32, WordId)>,
    /// Per sentence: its first token and the sum of its words' vectors, in
    /// text order.
    pub(super) sentences: Vec<(u32, crate::embed::Sum)>,
    /// The sum over the whole document.
    pub(super) total: crate::embed::Sum,
}

impl DocEmbed {
    /// Over the single-id word units that have a vector of `sentences`,
    /// the document's, whose token ranges are `bounds`.
    pub(super) fn new(
        sentences: &[&Sentence],
        bounds: &[Range<usize>],
        index: &EmbedIndex,
    ) -> DocEmbed {
        let mut units = Vec::new();
        let mut sums = Vec::with_capacity(sentences.len());
        let mut total = [0; crate::embed::LANES];
        for (s, range) in sentences.iter().zip(bounds) {
            let mut sum = [0; crate::embed::LANES];
            for u in s.units.iter().filter(|u| u.hi == u.lo + 1) {
                let id = s.ids[u.lo];
                if let Some(v) = index.vector(id) {
                    crate::embed::add(&mut sum, v);
                    units.push((u.token as u32, id));
                }
            }
            crate::embed::add_sum(&mut total, &sum);
            sums.push((range.start as u32, sum));
        }
        DocEmbed { units, sentences: sums, total }
    }

    /// The document as the first pass restored it: each chosen span's
    /// words replaced by its original's (`ids` gives a word's LM ids).
    pub(super) fn refined(
        &self,
        analysis: &Analysis,
        index: &EmbedIndex,
        ids: impl Fn(&str, &mut Vec<WordId>),
    ) -> DocEmbed {
        let mut units = Vec::with_capacity(self.units.len());
        let (mut sentences, mut total) = (self.sentences.clone(), self.total);
        let mut buf = Vec::new();
        let mut rest = &self.units[..];
        for span in analysis.chosen() {
            // The sentence the span is in.
            let k = sentences.partition_point(|&(t, _)| t as usize <= span.first_token);
            let Some((_, sum)) = k.checked_sub(1).and_then(|k| sentences.get_mut(k)) else {
                continue;
            };
            let before = rest.partition_point(|&(t, _)| (t as usize) < span.first_token);
            units.extend_from_slice(&rest[..before]);
            rest = &rest[before..];
            let inside = rest.partition_point(|&(t, _)| (t as usize) < span.last_token);
            for v in rest[..inside].iter().filter_map(|&(_, id)| index.vector(id)) {
                crate::embed::sub(sum, v);
                crate::embed::sub(&mut total, v);
            }
            rest = &rest[inside..];
            buf.clear();
            for w in span.original.split_whitespace() {
                ids(w, &mut buf);
            }
            for &id in &buf {
                if let Some(v) = index.vector(id) {
                    crate::embed::add(sum, v);
                    crate::embed::add(&mut total, v);
                    units.push((span.first_token as u32, id));
                }
            }
        }
        units.extend_from_slice(rest);
        DocEmbed { units, sentences, total }
    }

    /// The sum of the vectors of every content word outside sentence `k`.
    pub(super) fn context_sum(&self, k: usize) -> crate::embed::Sum {
        let mut out = self.total;
        if let Some((_, sum)) = self.sentences.get(k) {
            crate::embed::sub_sum(&mut out, sum);
        }
        out
    }

    /// The part of [`span_context_sum`](DocEmbed::span_context_sum) that
    /// every span of sentence `k` shares: the content words outside the
    /// sentence once, and all of the sentence's `weight` times.
    pub(super) fn sentence_context_sum(&self, k: usize, weight: u32) -> crate::embed::Sum {
        let mut out = self.total;
        if let Some((_, sentence)) = self.sentences.get(k) {
            crate::embed::sub_sum(&mut out, sentence);
            crate::embed::add_scaled(&mut out, sentence, weight as i32);
        }
        out
    }

    /// The context of a span of sentence `k` whose words are `observed`:
    /// the content words outside the sentence once, and the sentence's
    /// other content words `weight` times ([`Params::embed_sentence`]).
    /// `shared` is the sentence's
    /// [`sentence_context_sum`](DocEmbed::sentence_context_sum); taking
    /// the span's words out of it gives the same integers as summing the
    /// others (integer sums are exact), for a fraction of the work.
    pub(super) fn span_context_sum(
        &self,
        shared: &crate::embed::Sum,
        k: usize,
        observed: &[WordId],
        weight: u32,
        index: &EmbedIndex,
    ) -> crate::embed::Sum {
        let mut out = *shared;
        if k < self.sentences.len() {
            // A span's words are single-id units, as the sums count them.
            for v in observed.iter().filter_map(|&w| index.vector(w)) {
                crate::embed::sub_scaled(&mut out, v, weight as i32);
            }
        }
        out
    }
}

/// The document cache for a span's words, and whether they are the
/// observed words (which get only the (1 − λ) share; see
/// [`Params::cache_weight`]).
pub(super) type Cache<'a> = Option<(&'a DocCache, bool)>;

/// Mixes the document cache into a word's log10 probability.
pub(super) fn mix(cache: Cache<'_>, w: WordId, log10: f32) -> f32 {
    let Some((c, observed)) = cache else { return log10 };
    if observed {
        return log10 + c.log_rest;
    }
    let n = c.counts.get(&w).copied().unwrap_or(0);
    if n == 0 {
        return log10 + c.log_rest;
    }
    ((1.0 - c.lambda) * 10f32.powf(log10) + c.lambda * n as f32 / c.total).log10()
}
