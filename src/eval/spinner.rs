//! A synthetic spinner that mimics the cheap ones: sense-blind thesaurus
//! swaps of words and phrases at a given rate.
//!
//! It inverts the lexicon back into original → synonyms, keeping only the
//! direct thesaurus links (Moby lists S under O, or WordNet puts both in a
//! synset; inflected forms of those included), and never the weak links the
//! restorer also uses (Moby read backwards, Moby siblings) nor our
//! hand-written list. For each chosen original it picks one of those
//! synonyms uniformly at random, as a spinner with a word list does, so the
//! decoder's channel weights (which favour mutual and WordNet links) are a
//! model of it, not a copy. Capitals are kept, names (capitalized words
//! inside a sentence) and stop words left alone.
//!
//! Caveat, stated in the README: the spinner draws from the same thesauri
//! the lexicon is built from, so the original is nearly always among the
//! candidates; the tortured-phrase list, which no part of the lexicon saw,
//! measures generalization.

use std::collections::HashMap;

use crate::lexicon::{Lexicon, Sources};
use crate::restore::match_case;
use crate::tokenize::{normalize, tokenize, TokenKind};

/// A small, seedable random number generator (SplitMix64), so evaluation
/// runs are reproducible without another dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// One swap the spinner made.
#[derive(Clone, Debug, PartialEq)]
pub struct Swap {
    /// Byte range of the spun phrase in the spun text.
    pub start: usize,
    /// End of that range.
    pub end: usize,
    /// The original text it replaced (as it was, with its case).
    pub original: String,
    /// Words of the original that were swapped.
    pub original_words: usize,
}

/// A spun document with its ground truth.
#[derive(Clone, Debug)]
pub struct SpunDoc {
    /// The spun text.
    pub text: String,
    /// The swaps, in text order.
    pub swaps: Vec<Swap>,
    /// Word tokens in the original.
    pub words: usize,
}

impl SpunDoc {
    /// Words of the original that were swapped.
    pub fn swapped_words(&self) -> usize {
        self.swaps.iter().map(|s| s.original_words).sum()
    }

    /// The true share of the original's words that were swapped.
    pub fn true_rate(&self) -> f32 {
        if self.words == 0 {
            return 0.0;
        }
        self.swapped_words() as f32 / self.words as f32
    }
}

const STOP: &[&str] = &[
    "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with",
    "from", "as", "is", "are", "was", "were", "be", "been", "it", "its", "he", "she", "they",
    "them", "his", "her", "their", "we", "us", "our", "you", "your", "i", "me", "my", "this",
    "that", "these", "those", "there", "not", "no", "said", "says", "mr", "mrs", "ms", "will",
    "would", "has", "have", "had", "do", "does", "did", "can", "could", "may", "might", "should",
    "which", "who", "what", "when", "where", "how", "than", "then", "so",
];

/// The spinner: original phrase → synonyms it may write.
#[derive(Debug, Default)]
pub struct Spinner {
    forward: HashMap<String, Vec<String>>,
    max_phrase: usize,
    /// Whether a swap may be next to another ([`with_neighbours`](Spinner::with_neighbours)).
    neighbours: bool,
}

impl Spinner {
    /// Inverts the direct thesaurus links of `lexicon`.
    pub fn from_lexicon(lexicon: &Lexicon) -> Spinner {
        let direct = [Sources::MOBY, Sources::WORDNET];
        let mut forward: HashMap<String, Vec<String>> = HashMap::new();
        let mut max_phrase = 1;
        lexicon.for_each_pair(|spun, c| {
            if !direct.iter().any(|s| c.sources.contains(*s)) {
                return;
            }
            let original = c.original.to_string();
            if STOP.contains(&original.as_str()) {
                return;
            }
            max_phrase = max_phrase.max(original.split(' ').count());
            forward.entry(original).or_default().push(spun.to_string());
        });
        for v in forward.values_mut() {
            v.sort();
            v.dedup();
        }
        Spinner { forward, max_phrase: max_phrase.min(3), neighbours: false }
    }

    /// Lets swaps be next to each other, as a spinner that tries every
    /// word it can swap does ("knowledge collaboration" for "intelligence
    /// cooperation"). By default a swap never touches another: each has
    /// words as written on both sides, which is kinder to the restorer
    /// (README, Evaluation).
    pub fn with_neighbours(mut self, neighbours: bool) -> Spinner {
        self.neighbours = neighbours;
        self
    }

    /// Number of originals the spinner can swap.
    pub fn len(&self) -> usize {
        self.forward.len()
    }

    /// Whether the spinner knows no swaps.
    pub fn is_empty(&self) -> bool {
        self.forward.is_empty()
    }

    /// Spins `text` so that about `rate` of its words are swapped.
    pub fn spin(&self, text: &str, rate: f32, rng: &mut Rng) -> SpunDoc {
        let tokens = tokenize(text);
        let words = tokens.iter().filter(|t| t.kind == TokenKind::Word).count();
        let norms: Vec<String> = tokens.iter().map(|t| normalize(t.text(text))).collect();
        // Sentence starts and names.
        let mut protected = vec![false; tokens.len()];
        let mut start = true;
        for (i, t) in tokens.iter().enumerate() {
            if i > 0 && text[tokens[i - 1].end..t.start].contains('\n') {
                start = true;
            }
            if t.kind == TokenKind::Punct {
                start |= t.ends_sentence(text);
                protected[i] = true;
                continue;
            }
            let s = t.text(text);
            let upper = s.chars().next().is_some_and(char::is_uppercase);
            protected[i] = t.kind != TokenKind::Word
                || (upper && !start)
                || s.chars().filter(|c| c.is_uppercase()).count() > 1;
            start = false;
        }
        // Candidate positions: (first token, last token, synonyms).
        let mut options: Vec<(usize, usize)> = Vec::new();
        for i in 0..tokens.len() {
            for n in 1..=self.max_phrase {
                let j = i + n;
                if j > tokens.len() || (i..j).any(|k| protected[k]) {
                    break;
                }
                let key = norms[i..j].join(" ");
                if self.forward.contains_key(&key) {
                    options.push((i, j));
                }
            }
        }
        let target = (rate * words as f32).round() as usize;
        let mut taken = vec![false; tokens.len()];
        let mut chosen: Vec<(usize, usize)> = Vec::new();
        let mut swapped = 0;
        // Shuffle, then take non-overlapping options (not next to one
        // another, unless `neighbours`) until the target is met.
        for k in (1..options.len()).rev() {
            let r = rng.below(k + 1);
            options.swap(k, r);
        }
        for &(i, j) in &options {
            if swapped >= target {
                break;
            }
            let touches = (i > 0 && taken[i - 1]) || (j < tokens.len() && taken[j]);
            if (i..j).any(|k| taken[k]) || (touches && !self.neighbours) {
                continue;
            }
            let n_words = j - i;
            if swapped + n_words > target + 1 {
                continue;
            }
            for t in &mut taken[i..j] {
                *t = true;
            }
            chosen.push((i, j));
            swapped += n_words;
        }
        chosen.sort();
        let mut out = String::with_capacity(text.len() + 64);
        let mut swaps = Vec::new();
        let mut at = 0;
        for (i, j) in chosen {
            let key = norms[i..j].join(" ");
            let syns = &self.forward[&key];
            let syn = &syns[rng.below(syns.len())];
            let (a, b) = (tokens[i].start, tokens[j - 1].end);
            let old = &text[a..b];
            out.push_str(&text[at..a]);
            let new = match_case(old, syn);
            let s = out.len();
            out.push_str(&new);
            swaps.push(Swap {
                start: s,
                end: out.len(),
                original: old.to_string(),
                original_words: j - i,
            });
            at = b;
        }
        out.push_str(&text[at..]);
        SpunDoc { text: out, swaps, words }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::{Entry, LexiconBuilder};

    #[test]
    fn spins_at_about_the_rate_and_records_truth() {
        let mut b = LexiconBuilder::new("t");
        for (s, o) in [
            ("expand", "increase"),
            ("weight", "pressure"),
            ("gatherings", "groups"),
            ("nearby", "local"),
        ] {
            b.add(&Entry {
                spun: s.into(),
                original: o.into(),
                weight: 0.5,
                sources: Sources::MOBY,
            });
        }
        b.add(&Entry {
            spun: "streams".into(),
            original: "jets".into(),
            weight: 0.5,
            sources: Sources::HAND,
        });
        let lex = Lexicon::from_bytes("t", b.finish().unwrap()).unwrap();
        let sp = Spinner::from_lexicon(&lex);
        assert_eq!(sp.len(), 4, "hand-written pairs are not used");
        let text =
            "Increase pressure on groups. The jets flew at local time. They met Paris groups.";
        let doc = sp.spin(text, 0.5, &mut Rng::new(7));
        assert!(!doc.swaps.is_empty());
        for s in &doc.swaps {
            let spun = &doc.text[s.start..s.end];
            assert!(
                ["Expand", "expand", "weight", "gatherings", "nearby"].contains(&spun),
                "{spun}"
            );
        }
        assert!(doc.text.contains("Paris"), "names stay: {}", doc.text);
        assert!(doc.text.contains("jets"));
        assert!(doc.true_rate() > 0.0 && doc.true_rate() <= 0.5);
    }

    #[test]
    fn swaps_touch_only_when_neighbours_are_allowed() {
        let mut b = LexiconBuilder::new("t");
        for (s, o) in [("expand", "increase"), ("weight", "pressure"), ("gatherings", "groups")] {
            b.add(&Entry {
                spun: s.into(),
                original: o.into(),
                weight: 0.5,
                sources: Sources::MOBY,
            });
        }
        let lex = Lexicon::from_bytes("t", b.finish().unwrap()).unwrap();
        let text = "Increase pressure groups now. Increase pressure groups again.";
        let touching = |doc: &SpunDoc| {
            doc.swaps.windows(2).filter(|w| doc.text[w[0].end..w[1].start] == *" ").count()
        };
        let apart = Spinner::from_lexicon(&lex);
        let next_to = Spinner::from_lexicon(&lex).with_neighbours(true);
        let mut seen = 0;
        for seed in 0..50 {
            assert_eq!(touching(&apart.spin(text, 0.6, &mut Rng::new(seed))), 0);
            let doc = next_to.spin(text, 0.6, &mut Rng::new(seed));
            seen += touching(&doc);
            for s in &doc.swaps {
                assert!(["Expand", "weight", "gatherings"].contains(&&doc.text[s.start..s.end]));
            }
        }
        assert!(seen > 0, "a spinner allowed neighbours never put two swaps together");
    }
}
