//! Building a trigram model from clean text: interpolated modified
//! Kneser-Ney smoothing (Chen & Goodman 1998), written out in back-off form
//! so that [`super::LanguageModel`] answers it exactly as it answers the
//! Sphinx model.
//!
//! * Counts: every sentence is padded as `<s> words… </s>`. Trigrams keep
//!   their counts; lower orders use continuation counts (how many distinct
//!   words precede them), except n-grams that start with `<s>`, which have
//!   no left context and keep their counts.
//! * Three discounts per order, D1, D2 and D3+, from the count-of-counts
//!   (clamped to sane values when a small corpus makes them degenerate).
//! * Interpolation: p(w | h) = max(c − D(c), 0) / c(h) + γ(h) p(w | h'), and
//!   unigrams are interpolated with the uniform distribution over the
//!   vocabulary and `<unk>`, whose share is the model's unknown-word floor.
//! * Pruning (`min_count`): bigrams and trigrams seen fewer times are
//!   dropped, and each context's back-off weight is recomputed so that its
//!   distribution still sums to one. Unigrams are never pruned.
//! * Storage: probabilities and back-off weights go in bin tables of at
//!   most 256 values, as the Sphinx model's do: exact values when there are
//!   at most 256 distinct ones, else the optimal 1-D k-means of the values,
//!   one weight per n-gram ([`super::quant`]).

use std::collections::HashMap;
use std::io::Write;

use crate::error::Result;

use super::format::{BigramRecord, ModelData, ModelParts, TrigramRecord, MAX_BINS};
use super::quant::Quantizer;
use super::{words, WordId};

const BOS: &str = "<s>";
const EOS: &str = "</s>";
/// Marks a sentence end in the token stream.
const SEP: u32 = u32::MAX;

/// Accumulates sentences and builds a model from them.
///
/// ```
/// use unspin::lm::{LanguageModel, LmBuilder};
///
/// let mut b = LmBuilder::new();
/// b.add_text("The cat sat on the mat. The cat sat on the hat.");
/// let lm = LanguageModel::from_bytes("cats", b.build("example").unwrap()).unwrap();
/// let sat = lm.log10_prob(lm.id("the"), lm.id("cat"), lm.id("sat"));
/// let mat = lm.log10_prob(lm.id("the"), lm.id("cat"), lm.id("mat"));
/// assert!(sat > mat);
/// ```
#[derive(Debug, Clone)]
pub struct LmBuilder {
    min_count: u32,
    ids: HashMap<String, u32>,
    words: Vec<String>,
    /// Word ids (in order of first appearance), sentences ended by `SEP`.
    tokens: Vec<u32>,
    sentences: u64,
}

impl Default for LmBuilder {
    fn default() -> Self {
        LmBuilder::new()
    }
}

/// Modified Kneser-Ney discounts of one order: D(1), D(2), D(3+).
#[derive(Debug, Clone, Copy)]
struct Discounts([f64; 3]);

impl Discounts {
    /// From count-of-counts n[0..4] = how many n-grams were seen 1..4 times.
    fn estimate(n: [u64; 4]) -> Discounts {
        let n = n.map(|x| x as f64);
        let defaults = [0.5, 1.0, 1.5];
        if n[0] == 0.0 || n[1] == 0.0 {
            return Discounts(defaults);
        }
        let y = n[0] / (n[0] + 2.0 * n[1]);
        let mut d = [1.0 - 2.0 * y * n[1] / n[0], 2.0 - 3.0 * y * n[2] / n[1], 0.0];
        d[2] = if n[2] > 0.0 { 3.0 - 4.0 * y * n[3] / n[2] } else { defaults[2] };
        // Small corpora can give discounts outside (0, k); keep each one
        // strictly inside so that every seen n-gram keeps some mass and
        // every context some back-off mass.
        for (k, x) in d.iter_mut().enumerate() {
            let hi = k as f64 + 0.95;
            *x = if x.is_finite() { x.clamp(0.05, hi) } else { defaults[k] };
        }
        Discounts(d)
    }

    fn of(&self, count: u64) -> f64 {
        match count {
            0 => 0.0,
            1 => self.0[0],
            2 => self.0[1],
            _ => self.0[2],
        }
    }

    fn count_of_counts<'a>(counts: impl Iterator<Item = &'a u64>) -> [u64; 4] {
        let mut n = [0; 4];
        for &c in counts {
            if (1..=4).contains(&c) {
                n[c as usize - 1] += 1;
            }
        }
        n
    }
}

/// One n-gram's counts and estimate.
#[derive(Debug, Clone, Copy)]
struct Entry<const N: usize> {
    ids: [u32; N],
    /// The count the estimate uses (raw or continuation).
    count: u64,
    /// How often it was seen, for pruning.
    raw: u64,
    /// Interpolated probability (not log).
    prob: f64,
    /// Back-off weight as a context (not log), for lower orders.
    backoff: f64,
    kept: bool,
}

impl<const N: usize> Entry<N> {
    fn new(ids: [u32; N], raw: u64) -> Self {
        Entry { ids, count: 0, raw, prob: 0.0, backoff: 1.0, kept: true }
    }
}

/// Sorts `items` and turns runs of equal items into (item, count).
fn count_runs<T: Ord + Copy>(mut items: Vec<T>) -> Vec<(T, u64)> {
    items.sort_unstable();
    let mut out: Vec<(T, u64)> = Vec::new();
    for x in items {
        match out.last_mut() {
            Some((y, c)) if *y == x => *c += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

impl LmBuilder {
    /// An empty builder keeping every n-gram.
    pub fn new() -> LmBuilder {
        let mut b = LmBuilder {
            min_count: 1,
            ids: HashMap::new(),
            words: Vec::new(),
            tokens: Vec::new(),
            sentences: 0,
        };
        b.intern(BOS);
        b.intern(EOS);
        b
    }

    /// Drops bigrams and trigrams seen fewer than `n` times (1 keeps all).
    pub fn min_count(&mut self, n: u32) -> &mut LmBuilder {
        self.min_count = n.max(1);
        self
    }

    fn intern(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = self.words.len() as u32;
        self.ids.insert(word.to_string(), id);
        self.words.push(word.to_string());
        id
    }

    /// Adds text: split into sentences and words by [`words::sentences`].
    pub fn add_text(&mut self, text: &str) {
        for sentence in words::Sentences::new(text) {
            self.add_sentence(&sentence);
        }
    }

    /// Adds one sentence of words (folded as [`words::fold`] folds; the
    /// markers `<s>` and `</s>` are added here and must not be in it).
    pub fn add_sentence<S: AsRef<str>>(&mut self, sentence: &[S]) {
        if sentence.is_empty() {
            return;
        }
        for w in sentence {
            let w = w.as_ref();
            if w == BOS || w == EOS {
                continue;
            }
            let id = self.intern(w);
            self.tokens.push(id);
        }
        self.tokens.push(SEP);
        self.sentences += 1;
    }

    /// Words added so far (not counting sentence markers).
    pub fn tokens(&self) -> u64 {
        self.tokens.len() as u64 - self.sentences
    }

    /// Sentences added so far.
    pub fn sentences(&self) -> u64 {
        self.sentences
    }

    /// Estimates the model and returns the bytes of a model file.
    pub fn build(&self, source: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write(source, &mut out)?;
        Ok(out)
    }

    /// Estimates the model and writes a model file to `out`; `source` is
    /// stored as the model's description. Returns the bytes written.
    pub fn write<W: Write>(&self, source: &str, out: W) -> Result<u64> {
        self.estimate(source)?.write(out)
    }

    /// Estimates the model, with its n-grams listed (for
    /// [`super::mix::mix`]); `source` is stored as its description.
    pub fn estimate(&self, source: &str) -> Result<ModelData> {
        // Final ids: by falling frequency (the unigrams of common words then
        // share cache lines, see `format::write`), ties in byte order, so
        // that ids do not depend on the order the files were read in.
        let mut freq = vec![0u64; self.words.len()];
        for &t in &self.tokens {
            if t != SEP {
                freq[t as usize] += 1;
            }
        }
        freq[self.ids[EOS] as usize] = self.sentences;
        let mut order: Vec<u32> = (0..self.words.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            freq[b].cmp(&freq[a]).then_with(|| self.words[a].cmp(&self.words[b]))
        });
        let mut remap = vec![0u32; self.words.len()];
        for (new, &old) in order.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        let words: Vec<String> = order.iter().map(|&i| self.words[i as usize].clone()).collect();
        let bos = remap[self.ids[BOS] as usize];
        let eos = remap[self.ids[EOS] as usize];
        let v = words.len();

        // Raw counts from the padded sentences.
        let mut tri = Vec::with_capacity(self.tokens.len());
        let mut bi = Vec::with_capacity(self.tokens.len());
        let (mut a, mut b) = (SEP, bos);
        for &t in &self.tokens {
            let c = if t == SEP { eos } else { remap[t as usize] };
            bi.push([b, c]);
            if a != SEP {
                tri.push([a, b, c]);
            }
            (a, b) = if t == SEP { (SEP, bos) } else { (b, c) };
        }
        let mut trigrams: Vec<Entry<3>> =
            count_runs(tri).into_iter().map(|(ids, raw)| Entry::new(ids, raw)).collect();
        let mut bigrams: Vec<Entry<2>> =
            count_runs(bi).into_iter().map(|(ids, raw)| Entry::new(ids, raw)).collect();

        // Counts for the estimates: raw for trigrams and for n-grams after
        // <s>, else continuation counts.
        for t in &mut trigrams {
            t.count = t.raw;
        }
        for (suffix, n) in count_runs(trigrams.iter().map(|t| [t.ids[1], t.ids[2]]).collect()) {
            if let Ok(i) = bigrams.binary_search_by_key(&suffix, |b| b.ids) {
                bigrams[i].count = n;
            }
        }
        for b in &mut bigrams {
            if b.ids[0] == bos {
                b.count = b.raw;
            }
        }
        let mut unigram_counts = vec![0u64; v];
        for b in &bigrams {
            unigram_counts[b.ids[1] as usize] += 1;
        }

        // Unigrams: interpolated with the uniform distribution over the
        // vocabulary without <s>, plus <unk>.
        let d1 = Discounts::estimate(Discounts::count_of_counts(unigram_counts.iter()));
        let total: u64 = unigram_counts.iter().sum();
        let mut gamma = 0.0;
        for &c in &unigram_counts {
            gamma += d1.of(c);
        }
        let gamma = gamma / total as f64;
        let uniform = 1.0 / v as f64; // (v − 1 words without <s>) + <unk>
        let unigram_probs: Vec<f64> = unigram_counts
            .iter()
            .map(|&c| (c as f64 - d1.of(c)).max(0.0) / total as f64 + gamma * uniform)
            .collect();
        let unk = gamma * uniform;

        // Bigrams.
        let d2 = Discounts::estimate(Discounts::count_of_counts(bigrams.iter().map(|b| &b.count)));
        let mut bigram_gamma = vec![0.0f64; v];
        for group in bigrams.chunk_by_mut(|x, y| x.ids[0] == y.ids[0]) {
            let total: u64 = group.iter().map(|b| b.count).sum();
            let g = group.iter().map(|b| d2.of(b.count)).sum::<f64>() / total as f64;
            bigram_gamma[group[0].ids[0] as usize] = g;
            for b in group.iter_mut() {
                b.prob = (b.count as f64 - d2.of(b.count)).max(0.0) / total as f64
                    + g * unigram_probs[b.ids[1] as usize];
                b.kept = b.raw >= self.min_count as u64;
            }
        }

        // Trigrams.
        let d3 = Discounts::estimate(Discounts::count_of_counts(trigrams.iter().map(|t| &t.count)));
        let bigram_prob = |v: u32, w: u32| {
            bigrams.binary_search_by_key(&[v, w], |b| b.ids).map(|i| bigrams[i].prob).unwrap_or(0.0)
        };
        let mut trigram_gamma = HashMap::new();
        for group in trigrams.chunk_by_mut(|x, y| x.ids[..2] == y.ids[..2]) {
            let total: u64 = group.iter().map(|t| t.count).sum();
            let g = group.iter().map(|t| d3.of(t.count)).sum::<f64>() / total as f64;
            let mut pruned_mass = 0.0;
            let mut kept_lower = 0.0;
            for t in group.iter_mut() {
                let discounted = (t.count as f64 - d3.of(t.count)).max(0.0) / total as f64;
                t.prob = discounted + g * bigram_prob(t.ids[1], t.ids[2]);
                t.kept = t.raw >= self.min_count as u64;
                if t.kept {
                    kept_lower += bigram_prob(t.ids[1], t.ids[2]);
                } else {
                    pruned_mass += discounted;
                }
            }
            trigram_gamma.insert([group[0].ids[0], group[0].ids[1]], (g, pruned_mass, kept_lower));
        }

        // Back-off weights: γ(h), plus the mass of pruned n-grams spread
        // over what the lower order gives the words h no longer predicts.
        let spread = |g: f64, pruned: f64, kept_lower: f64| {
            let rest = (1.0 - kept_lower).max(1e-9);
            g + pruned / rest
        };
        for b in &mut bigrams {
            if let Some(&(g, pruned, kept_lower)) = trigram_gamma.get(&b.ids) {
                b.backoff = spread(g, pruned, kept_lower);
            }
        }
        let mut unigram_backoffs = vec![1.0f64; v];
        for group in bigrams.chunk_by(|x, y| x.ids[0] == y.ids[0]) {
            let (mut pruned, mut kept_lower) = (0.0, 0.0);
            let total: u64 = group.iter().map(|b| b.count).sum();
            for b in group {
                if b.kept {
                    kept_lower += unigram_probs[b.ids[1] as usize];
                } else {
                    pruned += (b.count as f64 - d2.of(b.count)).max(0.0) / total as f64;
                }
            }
            let h = group[0].ids[0] as usize;
            unigram_backoffs[h] = spread(bigram_gamma[h], pruned, kept_lower);
        }

        // Quantize and write.
        let log = log10_or_floor;
        let unigrams: Vec<(f32, f32)> = (0..v)
            .map(|w| {
                let p = if w as u32 == bos { -99.0 } else { log(unigram_probs[w]) };
                (p, log(unigram_backoffs[w]))
            })
            .collect();
        let kept_bigrams: Vec<&Entry<2>> = bigrams.iter().filter(|b| b.kept).collect();
        let kept_trigrams: Vec<&Entry<3>> = trigrams.iter().filter(|t| t.kept).collect();
        let p2 = Bins::new(kept_bigrams.iter().map(|b| log(b.prob)));
        let b2 = Bins::new(kept_bigrams.iter().map(|b| log(b.backoff)));
        let p3 = Bins::new(kept_trigrams.iter().map(|t| log(t.prob)));
        let bigram_records: Vec<BigramRecord> = kept_bigrams
            .iter()
            .map(|b| BigramRecord {
                ids: b.ids,
                prob_bin: p2.bin(log(b.prob)),
                backoff_bin: b2.bin(log(b.backoff)),
            })
            .collect();
        let trigram_records: Vec<TrigramRecord> = kept_trigrams
            .iter()
            .map(|t| TrigramRecord { ids: t.ids, prob_bin: p3.bin(log(t.prob)) })
            .collect();
        let parts = ModelParts {
            source: source.to_string(),
            words,
            bos: bos as WordId,
            eos: eos as WordId,
            unk_log10: log(unk),
            unigrams,
            bigram_probs: p2.values,
            bigram_backoffs: b2.values,
            trigram_probs: p3.values,
        };
        Ok(ModelData { parts, bigrams: bigram_records, trigrams: trigram_records })
    }
}

/// log10 of a probability, with -99 (the format's "never") for 0.
pub(super) fn log10_or_floor(p: f64) -> f32 {
    if p > 0.0 {
        p.log10() as f32
    } else {
        -99.0
    }
}

/// A quantizer table for one kind of value: every n-gram's value weighs 1.
pub(super) struct Bins {
    pub(super) values: Vec<f32>,
    quantizer: Quantizer,
}

impl Bins {
    pub(super) fn new(xs: impl Iterator<Item = f32>) -> Bins {
        let quantizer = Quantizer::new(xs.map(|x| (x, 1.0)), MAX_BINS);
        Bins { values: quantizer.values.clone(), quantizer }
    }

    pub(super) fn bin(&self, x: f32) -> u8 {
        self.quantizer.bin(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discounts_stay_in_range() {
        let d = Discounts::estimate([100, 40, 20, 10]);
        assert!(d.0[0] > 0.0 && d.0[0] < 1.0, "{d:?}");
        assert!(d.0[1] > 0.0 && d.0[1] < 2.0, "{d:?}");
        assert!(d.0[2] > 0.0 && d.0[2] < 3.0, "{d:?}");
        let degenerate = Discounts::estimate([3, 0, 0, 0]);
        assert_eq!(degenerate.0, [0.5, 1.0, 1.5]);
    }

    #[test]
    fn bins_exact_or_quantized() {
        let b = Bins::new([-1.0f32, -2.0, -1.0].into_iter());
        assert_eq!(b.values, vec![-2.0, -1.0]);
        assert_eq!(b.bin(-1.0), 1);
        // 100,000 values spread evenly over 100 log10 units: 256 bins
        // about 0.39 apart.
        let many = Bins::new((0..100_000).map(|i| -(i as f32) / 1000.0));
        assert_eq!(many.values.len(), MAX_BINS);
        let x = -12.3456;
        assert!((many.values[many.bin(x) as usize] - x).abs() < 0.25);
    }
}
