//! Mixing two trigram models into one: linear interpolation, written out
//! in back-off form (as SRILM's `ngram -mix-lm -write-lm` does).
//!
//! For every n-gram that either model lists,
//! p(w | h) = λ·p_a(w | h) + (1 − λ)·p_b(w | h), each side computed with
//! its own back-off; unigrams likewise over the union of the vocabularies
//! (a word one model does not know gets that model's unknown-word floor).
//! Each context's back-off weight is then recomputed so that its
//! distribution sums as the unigrams do:
//! bow(h) = (1 − Σ p(w | h)) / (1 − Σ p(w | h')), both sums over the words
//! listed after h. An n-gram neither model lists is answered by that
//! back-off, which only approximates the true mixture there.
//!
//! The use: a user's clean text, estimated by [`super::LmBuilder`], mixed
//! with a small weight into the general model the shipped one comes from
//! (`unspin lm build --mix-with`), so that the model knows the corpus's
//! names and phrases without forgetting general English.

use std::collections::HashMap;

use crate::error::Result;

use super::build::{log10_or_floor as log10, Bins};
use super::format::{BigramRecord, ModelData, ModelParts, TrigramRecord};
use super::{LanguageModel, WordId};

/// No context word: cuts the context, as an unknown word does.
const NONE: u32 = u32::MAX;

/// A model of the mix, opened for queries, with each word of the union
/// vocabulary's id in it.
struct Side {
    lm: LanguageModel,
    ids: Vec<WordId>,
    /// Words of the union this model does not know, plus one for the words
    /// neither knows: they share its unknown-word probability.
    unknown_shares: f64,
}

impl Side {
    fn new(name: &str, m: &ModelData, union: &[&str]) -> Result<Side> {
        let lm = LanguageModel::from_bytes(name, m.to_bytes()?)?;
        let local: HashMap<&str, WordId> =
            m.parts.words.iter().enumerate().map(|(i, w)| (w.as_str(), i as WordId)).collect();
        let ids: Vec<WordId> =
            union.iter().map(|w| local.get(w).copied().unwrap_or(lm.unk())).collect();
        let unknown_shares = 1.0 + ids.iter().filter(|&&id| id == lm.unk()).count() as f64;
        Ok(Side { lm, ids, unknown_shares })
    }

    fn id(&self, w: u32) -> WordId {
        if w == NONE {
            self.lm.unk()
        } else {
            self.ids[w as usize]
        }
    }

    /// p(w | w2 w1), union ids; `NONE` for no context word. A word the
    /// model does not know gets its share of the unknown-word probability,
    /// so that the words of the union do not count it many times over.
    fn prob(&self, w2: u32, w1: u32, w: u32) -> f64 {
        let w = self.id(w);
        let p = 10f64.powf(self.lm.log10_prob(self.id(w2), self.id(w1), w) as f64);
        if self.lm.is_known(w) {
            p
        } else {
            p / self.unknown_shares
        }
    }
}

/// `(1 − listed) / (1 − lower)`: the back-off weight that gives the words
/// a context does not list what is left of its probability.
fn backoff(listed: f64, lower: f64) -> f64 {
    (1.0 - listed).max(1e-12) / (1.0 - lower).max(1e-12)
}

/// Mixes `a` (weight `weight`) with `b` (weight 1 − `weight`); `source`
/// describes the result. `weight` must be in 0..=1.
pub fn mix(a: &ModelData, b: &ModelData, weight: f64, source: &str) -> Result<ModelData> {
    assert!((0.0..=1.0).contains(&weight), "mix weight {weight} outside 0..=1");
    // The union vocabulary, a's words first.
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut words: Vec<&str> = Vec::new();
    for w in a.parts.words.iter().chain(&b.parts.words) {
        index.entry(w.as_str()).or_insert_with(|| {
            words.push(w.as_str());
            (words.len() - 1) as u32
        });
    }
    let (sa, sb) = (Side::new("(mix: a)", a, &words)?, Side::new("(mix: b)", b, &words)?);
    let p = |w2: u32, w1: u32, w: u32| {
        weight * sa.prob(w2, w1, w) + (1.0 - weight) * sb.prob(w2, w1, w)
    };
    let union_id = |m: &ModelData, id: WordId| index[m.parts.words[id as usize].as_str()];
    let bos = index[a.parts.words[a.parts.bos as usize].as_str()];
    let v = words.len();

    let unigram: Vec<f64> =
        (0..v as u32).map(|w| if w == bos { 0.0 } else { p(NONE, NONE, w) }).collect();

    // Bigrams, sorted by context, and each context's back-off weight.
    let mut bigrams: Vec<[u32; 2]> = [a, b]
        .iter()
        .flat_map(|m| m.bigrams.iter().map(|r| [union_id(m, r.ids[0]), union_id(m, r.ids[1])]))
        .collect();
    bigrams.sort_unstable();
    bigrams.dedup();
    let bigram_p: Vec<f64> = bigrams.iter().map(|&[x, y]| p(NONE, x, y)).collect();
    let mut unigram_bow = vec![1.0f64; v];
    let mut at = 0;
    for group in bigrams.chunk_by(|x, y| x[0] == y[0]) {
        let listed: f64 = bigram_p[at..at + group.len()].iter().sum();
        let lower: f64 = group.iter().map(|g| unigram[g[1] as usize]).sum();
        unigram_bow[group[0][0] as usize] = backoff(listed, lower);
        at += group.len();
    }
    // p(w | w1) in the mixed model, listed or backed off.
    let bigram_prob = |w1: u32, w: u32| match bigrams.binary_search(&[w1, w]) {
        Ok(i) => bigram_p[i],
        Err(_) => unigram_bow[w1 as usize] * unigram[w as usize],
    };

    // Trigrams, and the back-off weights of their contexts (bigrams).
    let mut trigrams: Vec<[u32; 3]> = [a, b]
        .iter()
        .flat_map(|m| {
            m.trigrams
                .iter()
                .map(|r| [union_id(m, r.ids[0]), union_id(m, r.ids[1]), union_id(m, r.ids[2])])
        })
        .collect();
    trigrams.sort_unstable();
    trigrams.dedup();
    let trigram_p: Vec<f64> = trigrams.iter().map(|&[x, y, z]| p(x, y, z)).collect();
    let mut bigram_bow = vec![1.0f64; bigrams.len()];
    let mut at = 0;
    for group in trigrams.chunk_by(|x, y| x[..2] == y[..2]) {
        let listed: f64 = trigram_p[at..at + group.len()].iter().sum();
        let lower: f64 = group.iter().map(|t| bigram_prob(t[1], t[2])).sum();
        at += group.len();
        // A trigram's context is a bigram of the model that lists it (both
        // our builder and the Sphinx converter make sure of it); were it
        // not, the trigram could not be reached and its context keeps 1.
        if let Ok(i) = bigrams.binary_search(&[group[0][0], group[0][1]]) {
            bigram_bow[i] = backoff(listed, lower);
        }
    }

    // Words renumbered by falling probability (see `format::write`), and
    // the values quantized as `LmBuilder` quantizes its own.
    let mut order: Vec<u32> = (0..v as u32).collect();
    order.sort_by(|&x, &y| unigram[y as usize].total_cmp(&unigram[x as usize]).then(x.cmp(&y)));
    let mut remap = vec![0u32; v];
    for (new, &old) in order.iter().enumerate() {
        remap[old as usize] = new as u32;
    }
    let bins = |xs: &[f64]| Bins::new(xs.iter().map(|&x| log10(x)));
    let (p2, b2, p3) = (bins(&bigram_p), bins(&bigram_bow), bins(&trigram_p));
    let bigram_records = bigrams
        .iter()
        .zip(bigram_p.iter().zip(&bigram_bow))
        .map(|(&[x, y], (&pr, &bo))| BigramRecord {
            ids: [remap[x as usize], remap[y as usize]],
            prob_bin: p2.bin(log10(pr)),
            backoff_bin: b2.bin(log10(bo)),
        })
        .collect();
    let trigram_records = trigrams
        .iter()
        .zip(&trigram_p)
        .map(|(&[x, y, z], &pr)| TrigramRecord {
            ids: [remap[x as usize], remap[y as usize], remap[z as usize]],
            prob_bin: p3.bin(log10(pr)),
        })
        .collect();
    let unk = weight * 10f64.powf(a.parts.unk_log10 as f64) / sa.unknown_shares
        + (1.0 - weight) * 10f64.powf(b.parts.unk_log10 as f64) / sb.unknown_shares;
    let eos = index[a.parts.words[a.parts.eos as usize].as_str()];
    let parts = ModelParts {
        source: source.to_string(),
        words: order.iter().map(|&i| words[i as usize].to_string()).collect(),
        bos: remap[bos as usize],
        eos: remap[eos as usize],
        unk_log10: log10(unk),
        unigrams: order
            .iter()
            .map(|&i| {
                let pu = if i == bos { -99.0 } else { log10(unigram[i as usize]) };
                (pu, log10(unigram_bow[i as usize]))
            })
            .collect(),
        bigram_probs: p2.values,
        bigram_backoffs: b2.values,
        trigram_probs: p3.values,
    };
    Ok(ModelData { parts, bigrams: bigram_records, trigrams: trigram_records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::LmBuilder;

    fn model(text: &str) -> ModelData {
        let mut b = LmBuilder::new();
        b.add_text(text);
        b.estimate("test").unwrap()
    }

    const BOATS: &str = "The boat sailed into the harbour at dawn. The old boat sailed \
        past the lighthouse. Fishermen mended their nets on the quay. The harbour master \
        counted the boats.";
    const TOWN: &str = "The market opened at dawn. The old town hall stood on the square. \
        Traders sold bread and cheese on the square. The town council met on Monday.";

    fn open(m: &ModelData) -> LanguageModel {
        LanguageModel::from_bytes("m", m.to_bytes().unwrap()).unwrap()
    }

    /// log10 p(w | w2 w1) of `lm`, by words ("" for no context word).
    fn lp(lm: &LanguageModel, w2: &str, w1: &str, w: &str) -> f32 {
        let id = |s: &str| if s.is_empty() { lm.unk() } else { lm.id(s) };
        lm.log10_prob(id(w2), id(w1), id(w))
    }

    #[test]
    fn weight_one_keeps_the_first_model_on_its_ngrams() {
        let (a, b) = (model(BOATS), model(TOWN));
        let (la, lm) = (open(&a), open(&mix(&a, &b, 1.0, "mixed").unwrap()));
        for (w2, w1, w) in [
            ("", "", "boat"),
            ("", "the", "boat"),
            ("the", "boat", "sailed"),
            ("the", "old", "boat"),
            ("at", "dawn", "</s>"),
        ] {
            let (x, y) = (lp(&la, w2, w1, w), lp(&lm, w2, w1, w));
            assert!((x - y).abs() < 1e-3, "{w2} {w1} {w}: {x} vs {y}");
        }
    }

    #[test]
    fn every_context_sums_as_the_unigrams_do() {
        let (a, b) = (model(BOATS), model(TOWN));
        let lm = open(&mix(&a, &b, 0.3, "mixed").unwrap());
        let vocab: Vec<WordId> = (0..lm.vocab_len() as WordId).filter(|&w| w != lm.bos()).collect();
        let sum = |w2: WordId, w1: WordId| -> f64 {
            vocab.iter().map(|&w| 10f64.powf(lm.log10_prob(w2, w1, w) as f64)).sum()
        };
        // With the unknown-word share, the unigrams sum to one, as the
        // two models' own do.
        let unigrams = sum(lm.unk(), lm.unk());
        let unk = 10f64.powf(lm.stats().unk_log10 as f64);
        assert!((unigrams + unk - 1.0).abs() < 1e-3, "{unigrams} + {unk}");
        let id = |s: &str| lm.id(s);
        for (w2, w1) in [
            (lm.unk(), id("the")),
            (lm.unk(), id("square")),
            (id("the"), id("old")),
            (id("on"), id("the")),
            (lm.bos(), id("the")),
        ] {
            let s = sum(w2, w1);
            assert!(
                (s - unigrams).abs() < 2e-3,
                "{} {}: {s} vs {unigrams}",
                lm.word(w2),
                lm.word(w1)
            );
        }
    }

    #[test]
    fn the_mix_knows_both_corpora() {
        let (a, b) = (model(BOATS), model(TOWN));
        let (la, lb) = (open(&a), open(&b));
        let lm = open(&mix(&a, &b, 0.3, "mixed").unwrap());
        assert_eq!(lm.stats().source, "mixed");
        // A trigram one side lists keeps at least its weight's share of that
        // side's probability, and reads better than in the other model.
        for (w2, w1, w, own, other, share) in
            [("the", "boat", "sailed", &la, &lb, 0.3f32), ("on", "the", "square", &lb, &la, 0.7)]
        {
            let m = lp(&lm, w2, w1, w);
            assert!(m >= lp(own, w2, w1, w) + share.log10() - 1e-3, "{w2} {w1} {w}: {m}");
            assert!(m > lp(other, w2, w1, w), "{w2} {w1} {w}: {m}");
        }
        // The union vocabulary: "harbour" only in a, "cheese" only in b.
        assert!(lm.is_known(lm.id("harbour")) && lm.is_known(lm.id("cheese")));
    }
}
