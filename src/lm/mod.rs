//! An n-gram language model of clean English: it says which of several
//! candidate words fits a context.
//!
//! A spinner's synonym is usually a real word in the wrong sense ("streams"
//! for "jets"), so only context can tell it from the original; a trigram
//! model is the cheapest thing that knows "russian jets" is likelier than
//! "russian streams".
//!
//! The shipped model is the CMU Sphinx US-English trigram model (72,547
//! words, 2.05 M bigrams, 1.67 M trigrams), converted by
//! `scripts/lm/convert` from its own binary ([`sphinx`]) into our format
//! ([`format`]) and embedded in the binary: `lexicon/lm/README.md` says
//! where it comes from. Users build their own from clean text with
//! [`build`] (`unspin lm build`).
//!
//! Probabilities are Katz back-off, computed exactly as the source model
//! does: P(w | w2 w1) is the trigram's if it exists, else bo(w2 w1) ·
//! P(w | w1), where P(w | w1) is the bigram's if it exists, else bo(w1) ·
//! P(w). All values are log10.
//!
//! ```
//! use unspin::lm::LanguageModel;
//!
//! let lm = LanguageModel::embedded();
//! let p = |w2, w1, w| lm.log10_prob(lm.id(w2), lm.id(w1), lm.id(w));
//! assert!(p("or", "russian", "jets") > p("or", "russian", "streams"));
//!
//! // The decoder's way: one context, several candidates.
//! let cands = [lm.id("process"), lm.id("procedure")];
//! let mut scores = Vec::new();
//! lm.score_candidates(lm.id("the"), lm.id("peace"), &cands, &mut scores);
//! assert!(scores[0] > scores[1]);
//! ```
//!
//! Lookups walk an FST keyed by word ids (see [`format`]). The walk from the
//! root to a word's node is done once per word when the model is opened, so
//! a trigram query walks only the 1–3 key bytes of `w1` from `w2`'s node,
//! then those of `w`; [`LanguageModel::score_candidates`] walks to the
//! context once and then only the bytes of each candidate.

pub mod build;
pub mod format;
pub mod sphinx;
pub mod words;

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use fst::raw::{CompiledAddr, Fst, Output};

use crate::error::{Error, Result};

use format::{Header, Section};

pub use build::LmBuilder;

/// A word's index in a model's vocabulary.
pub type WordId = u32;

/// The shipped model (see `lexicon/lm/README.md`).
static EMBEDDED_BYTES: &[u8] = include_bytes!("../../lexicon/lm/en-us.unspinlm");

/// The bytes a model reads from: embedded, memory-mapped or owned. Kept
/// alive by the model; the FSTs read them in place.
#[derive(Clone)]
enum Data {
    Static(&'static [u8]),
    Mmap(Arc<memmap2::Mmap>),
    Owned(Arc<Vec<u8>>),
}

impl Data {
    fn bytes(&self) -> &[u8] {
        match self {
            Data::Static(b) => b,
            Data::Mmap(m) => m,
            Data::Owned(v) => v,
        }
    }
}

/// A section of a model's bytes, so that an FST can own its view of them.
#[derive(Clone)]
struct Slice {
    data: Data,
    range: Range<usize>,
}

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        &self.data.bytes()[self.range.clone()]
    }
}

/// No node: a word that begins no n-gram.
const NO_NODE: CompiledAddr = CompiledAddr::MAX;

/// What the model knows of one word, indexed by id.
#[derive(Clone, Copy, Debug)]
struct Unigram {
    /// log10 P(w).
    prob: f32,
    /// log10 back-off weight of w as a context.
    backoff: f32,
    /// The FST node reached by this word's key bytes, or `NO_NODE`.
    node: CompiledAddr,
    /// The output accumulated on the way there.
    out: u64,
}

/// Counts and sizes of a model, for `unspin lm stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct LmStats {
    /// The model's name (a path, or `embedded`).
    pub name: String,
    /// Where the model came from.
    pub source: String,
    /// The n-gram order (3).
    pub order: usize,
    /// N-grams per order: unigrams (the vocabulary), bigrams, trigrams.
    pub counts: Vec<u64>,
    /// Size of the model file in bytes.
    pub bytes: usize,
    /// Size of the n-gram FST in bytes.
    pub ngram_fst_bytes: usize,
    /// log10 probability of a word not in the vocabulary.
    pub unk_log10: f32,
}

/// The counts behind a perplexity: made by [`LanguageModel::perplexity`],
/// summed over texts with [`Perplexity::add`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Perplexity {
    /// Sentences scored.
    pub sentences: u64,
    /// Tokens scored: words (an initialism the vocabulary spells in letters
    /// counts each letter) and one `</s>` per sentence.
    pub tokens: u64,
    /// Tokens not in the vocabulary, left out of `log10`.
    pub oov: u64,
    /// Sum of log10 probabilities of the known tokens.
    pub log10: f64,
}

impl Perplexity {
    /// Adds the counts of another text.
    pub fn add(&mut self, other: &Perplexity) {
        self.sentences += other.sentences;
        self.tokens += other.tokens;
        self.oov += other.oov;
        self.log10 += other.log10;
    }

    /// 10^(−log10 / known tokens): the average branching factor the model
    /// sees; lower means the text looks likelier to the model.
    pub fn perplexity(&self) -> f64 {
        let n = self.tokens - self.oov;
        if n == 0 {
            return f64::NAN;
        }
        10f64.powf(-self.log10 / n as f64)
    }
}

/// A resolved context (w2, w1): the FST nodes and back-off weights that
/// every candidate word after it needs. Made by [`LanguageModel::context`],
/// used by [`LanguageModel::score_in`]; valid only for the model that made
/// it.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// Node of (w2 w1), whose children are trigram words, or `NO_NODE`.
    tri_node: CompiledAddr,
    tri_out: u64,
    /// log10 bo(w2 w1), 0 if there is no such bigram.
    bo21: f32,
    /// Node of (w1), whose children are bigram words, or `NO_NODE`.
    bi_node: CompiledAddr,
    bi_out: u64,
    /// log10 bo(w1); `None` if w1 is unknown (no context at all).
    bo1: Option<f32>,
}

/// The result of one lookup, with the order of the n-gram that answered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lookup {
    /// log10 P(w | w2 w1).
    pub log10: f32,
    /// The order of the longest n-gram found: 3 for a trigram, 2 for a
    /// bigram (after backing off from the trigram), 1 for the unigram, 0
    /// for an unknown word.
    pub order: u8,
}

/// An n-gram language model: immutable, `Send + Sync`, shared by threads.
pub struct LanguageModel {
    name: String,
    data: Data,
    header: Header,
    vocab: fst::Map<Slice>,
    ngrams: Fst<Slice>,
    unigrams: Vec<Unigram>,
    bigram_probs: Vec<f32>,
    bigram_backoffs: Vec<f32>,
    trigram_probs: Vec<f32>,
}

impl fmt::Debug for LanguageModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LanguageModel")
            .field("name", &self.name)
            .field("counts", &self.header.counts)
            .finish_non_exhaustive()
    }
}

impl LanguageModel {
    /// The shipped CMU Sphinx model, opened on first use from the bytes
    /// embedded in the binary (no copy).
    ///
    /// # Panics
    ///
    /// If the embedded model is missing or corrupt, which is a build defect
    /// (run `scripts/lm/convert`); [`LanguageModel::try_embedded`] returns
    /// the error instead.
    pub fn embedded() -> &'static LanguageModel {
        match LanguageModel::try_embedded() {
            Ok(lm) => lm,
            Err(e) => panic!("{e}"),
        }
    }

    /// The shipped model, or why it cannot be opened.
    pub fn try_embedded() -> Result<&'static LanguageModel> {
        static EMBEDDED: OnceLock<Result<LanguageModel, String>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| {
                // The embedded bytes were checked when they were made, so
                // skip the checksum pass that user models get.
                LanguageModel::from_static("embedded", EMBEDDED_BYTES)
                    .map_err(|e| format!("{e} (rebuild it with scripts/lm/convert)"))
            })
            .as_ref()
            .map_err(|message| Error::Model { input: "embedded".into(), message: message.clone() })
    }

    /// The bytes of the shipped model, as embedded in the binary.
    pub fn embedded_bytes() -> &'static [u8] {
        EMBEDDED_BYTES
    }

    /// Opens a model from bytes that live as long as the program (for
    /// example `include_bytes!`), in place. Unlike [`open`] and
    /// [`from_bytes`], this trusts the FSTs' integrity and skips their
    /// checksum pass, so use it only for bytes checked when they were made.
    ///
    /// [`open`]: LanguageModel::open
    /// [`from_bytes`]: LanguageModel::from_bytes
    pub fn from_static(name: &str, bytes: &'static [u8]) -> Result<LanguageModel> {
        LanguageModel::from_data(name, Data::Static(bytes), false)
    }

    /// Opens a model file (built by `unspin lm build` or `import-sphinx`)
    /// by memory-mapping it. The file is validated: a corrupt or truncated
    /// file is an error, never a panic.
    pub fn open(path: &Path) -> Result<LanguageModel> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            let message = "not a file (a language model is one file)".to_string();
            return Err(Error::Model { input: path.display().to_string(), message });
        }
        // SAFETY: the map is read-only; like every mmap-based reader we
        // assume the file is not truncated or rewritten while it is open.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        LanguageModel::from_data(&path.display().to_string(), Data::Mmap(Arc::new(map)), true)
    }

    /// Opens a model from bytes in memory; `name` is used in messages.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<LanguageModel> {
        LanguageModel::from_data(name, Data::Owned(Arc::new(bytes)), true)
    }

    fn from_data(name: &str, data: Data, verify: bool) -> Result<LanguageModel> {
        let bad = |message: String| Error::Model { input: name.to_string(), message };
        let header = Header::parse(name, data.bytes())?;
        let slice =
            |s: Section| Slice { data: data.clone(), range: header.sections[s as usize].clone() };
        // fst's own Display only says "FST error"; the detail is inside.
        let fst_error = |what: &str, e: fst::Error| match e {
            fst::Error::Fst(e) => bad(format!("the {what} FST: {e}")),
            e => bad(format!("the {what} FST: {e}")),
        };
        let open_fst = |s: Section, what: &str| {
            let fst = Fst::new(slice(s)).map_err(|e| fst_error(what, e))?;
            if verify {
                fst.verify().map_err(|e| fst_error(what, e))?;
            }
            Ok::<_, Error>(fst)
        };
        let vocab = fst::Map::from(open_fst(Section::Vocab, "vocabulary")?);
        let ngrams = open_fst(Section::Ngrams, "n-gram")?;
        let n = header.n_words as usize;
        if vocab.len() != n {
            return Err(bad(format!(
                "{} words in the vocabulary FST, {n} in the header",
                vocab.len()
            )));
        }
        let bytes = data.bytes();
        let section = |s: Section| &bytes[header.sections[s as usize].clone()];
        // Word strings are only printed, but check them now so that
        // `word()` needs no error path.
        let blob = std::str::from_utf8(section(Section::Words))
            .map_err(|_| bad("the word strings are not UTF-8".into()))?;
        let offsets = section(Section::Offsets);
        let mut prev = 0;
        for c in offsets.chunks_exact(4) {
            let o = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
            if o < prev || o > blob.len() || !blob.is_char_boundary(o) {
                return Err(bad("the word offsets are corrupt".into()));
            }
            prev = o;
        }

        let raw = format::read_f32s(section(Section::Unigrams));
        let mut unigrams = Vec::with_capacity(n);
        for (id, pair) in raw.chunks_exact(2).enumerate() {
            let (node, out) =
                walk(&ngrams, ngrams.root().addr(), 0, id as WordId).unwrap_or((NO_NODE, 0));
            unigrams.push(Unigram { prob: pair[0], backoff: pair[1], node, out });
        }
        Ok(LanguageModel {
            name: name.to_string(),
            bigram_probs: format::read_f32s(section(Section::BigramProbs)),
            bigram_backoffs: format::read_f32s(section(Section::BigramBackoffs)),
            trigram_probs: format::read_f32s(section(Section::TrigramProbs)),
            data,
            header,
            vocab,
            ngrams,
            unigrams,
        })
    }

    /// The model's name: `embedded` or the path it was opened from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The id of `word`, folded as the vocabulary is (lower case, `’` as
    /// `'`); `unk()` if the model does not know it. See [`ids`] for words
    /// the vocabulary spells in several pieces ("u.s." → "u. s.").
    ///
    /// [`ids`]: LanguageModel::ids
    pub fn id(&self, word: &str) -> WordId {
        let hit = |w: &str| self.vocab.get(w).filter(|&id| id < self.header.n_words as u64);
        let found = if word.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
            hit(word)
        } else {
            hit(&words::fold(word))
        };
        found.map_or(self.unk(), |id| id as WordId)
    }

    /// The ids that stand for `word`, appended to `out`: one id for a known
    /// word; for an unknown initialism ("u.s.", "U.S", "a.m.") the ids of its
    /// letters as the Sphinx vocabulary spells them ("u." "s."), and for an
    /// unknown hyphenated word ("long-range") the ids of its parts, when all
    /// of them are known; otherwise `unk()`.
    pub fn ids(&self, word: &str, out: &mut Vec<WordId>) {
        let id = self.id(word);
        if id != self.unk() {
            out.push(id);
            return;
        }
        let folded = words::fold(word);
        let start = out.len();
        let all_known = if words::is_initialism(&folded) {
            let body = folded.strip_suffix('.').unwrap_or(&folded);
            body.split('.').all(|letter| {
                let id = self.id(&format!("{letter}."));
                out.push(id);
                id != self.unk()
            })
        } else if folded.contains('-') {
            folded.split('-').filter(|p| !p.is_empty()).all(|part| {
                let id = self.id(part);
                out.push(id);
                id != self.unk()
            })
        } else {
            false
        };
        if !all_known {
            out.truncate(start);
            out.push(self.unk());
        }
    }

    /// The word with id `id` (`<unk>` for ids outside the vocabulary).
    pub fn word(&self, id: WordId) -> &str {
        if !self.is_known(id) {
            return "<unk>";
        }
        let bytes = self.data.bytes();
        let offsets = &bytes[self.header.sections[Section::Offsets as usize].clone()];
        let at = |i: usize| {
            let c = &offsets[4 * i..4 * i + 4];
            u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize
        };
        let blob = &bytes[self.header.sections[Section::Words as usize].clone()];
        // Checked to be UTF-8 on char boundaries when the model was opened.
        std::str::from_utf8(&blob[at(id as usize)..at(id as usize + 1)]).unwrap_or("<?>")
    }

    /// The id of the sentence start `<s>`.
    pub fn bos(&self) -> WordId {
        self.header.bos
    }

    /// The id of the sentence end `</s>`.
    pub fn eos(&self) -> WordId {
        self.header.eos
    }

    /// The id every unknown word gets (one past the vocabulary).
    pub fn unk(&self) -> WordId {
        self.header.n_words
    }

    /// True if `id` is a word of the vocabulary (not `unk()`).
    pub fn is_known(&self, id: WordId) -> bool {
        id < self.header.n_words
    }

    /// The number of words in the vocabulary.
    pub fn vocab_len(&self) -> usize {
        self.header.n_words as usize
    }

    /// log10 P(w | w2 w1), with Katz back-off exactly as the source model
    /// computes it. `w2` and `w1` may be `bos()`. An unknown `w` gets the
    /// model's floor ([`LmStats::unk_log10`]); an unknown context word cuts
    /// the context there (so an unknown `w1` leaves the unigram P(w)).
    pub fn log10_prob(&self, w2: WordId, w1: WordId, w: WordId) -> f32 {
        self.score_in(&self.context(w2, w1), w)
    }

    /// Like [`log10_prob`](LanguageModel::log10_prob), and also says which
    /// order of n-gram answered.
    pub fn lookup(&self, w2: WordId, w1: WordId, w: WordId) -> Lookup {
        self.lookup_in(&self.context(w2, w1), w)
    }

    /// Scores several candidates `cands` for one position after (w2, w1):
    /// `out` is cleared and gets one log10 probability per candidate. The
    /// context is resolved once, so each candidate costs one short walk.
    pub fn score_candidates(&self, w2: WordId, w1: WordId, cands: &[WordId], out: &mut Vec<f32>) {
        let ctx = self.context(w2, w1);
        out.clear();
        out.extend(cands.iter().map(|&w| self.score_in(&ctx, w)));
    }

    /// Resolves the context (w2, w1) for [`score_in`](LanguageModel::score_in).
    pub fn context(&self, w2: WordId, w1: WordId) -> Context {
        let mut ctx = Context {
            tri_node: NO_NODE,
            tri_out: 0,
            bo21: 0.0,
            bi_node: NO_NODE,
            bi_out: 0,
            bo1: None,
        };
        let Some(u1) = self.unigrams.get(w1 as usize) else { return ctx };
        ctx.bo1 = Some(u1.backoff);
        ctx.bi_node = u1.node;
        ctx.bi_out = u1.out;
        if let Some(u2) = self.unigrams.get(w2 as usize) {
            if u2.node != NO_NODE {
                if let Some((node, out)) = walk(&self.ngrams, u2.node, u2.out, w1) {
                    ctx.tri_node = node;
                    ctx.tri_out = out;
                    // The (w2 w1) node is also the bigram "w2 w1" itself,
                    // whose back-off weight applies if no trigram matches.
                    let n = self.ngrams.node(node);
                    if n.is_final() {
                        let value = n.final_output().cat(Output::new(out)).value();
                        ctx.bo21 = self
                            .bigram_backoffs
                            .get((value >> 16) as usize)
                            .copied()
                            .unwrap_or(0.0);
                    }
                }
            }
        }
        ctx
    }

    /// log10 P(w | context).
    #[inline]
    pub fn score_in(&self, ctx: &Context, w: WordId) -> f32 {
        self.lookup_in(ctx, w).log10
    }

    /// log10 P(w | context), and the order of the n-gram that answered.
    pub fn lookup_in(&self, ctx: &Context, w: WordId) -> Lookup {
        let Some(u) = self.unigrams.get(w as usize) else {
            return Lookup { log10: self.header.unk_log10, order: 0 };
        };
        let Some(bo1) = ctx.bo1 else { return Lookup { log10: u.prob, order: 1 } };
        if ctx.tri_node != NO_NODE {
            if let Some(value) = final_value(&self.ngrams, ctx.tri_node, ctx.tri_out, w) {
                let p = self.trigram_probs.get(value as usize).copied();
                return Lookup { log10: p.unwrap_or(self.header.unk_log10), order: 3 };
            }
        }
        if ctx.bi_node != NO_NODE {
            if let Some(value) = final_value(&self.ngrams, ctx.bi_node, ctx.bi_out, w) {
                let p = self.bigram_probs.get((value & 0xFFFF) as usize).copied();
                return Lookup { log10: p.unwrap_or(self.header.unk_log10) + ctx.bo21, order: 2 };
            }
        }
        Lookup { log10: u.prob + bo1 + ctx.bo21, order: 1 }
    }

    /// Scores a sentence of words as `<s> words… </s>`: one log10
    /// probability per word, then one for `</s>` (so `words.len() + 1`
    /// values; their sum is the sentence's total). Words are looked up with
    /// [`ids`](LanguageModel::ids): a word the vocabulary spells in pieces
    /// gets the sum of its pieces.
    pub fn score_words(&self, words: &[&str]) -> Vec<f32> {
        let mut ids = Vec::with_capacity(words.len() + 1);
        let mut ends = Vec::with_capacity(words.len() + 1);
        for w in words {
            self.ids(w, &mut ids);
            ends.push(ids.len());
        }
        ids.push(self.eos());
        ends.push(ids.len());
        let per_id = self.score_ids(&ids);
        let mut out = Vec::with_capacity(ends.len());
        let mut start = 0;
        for end in ends {
            out.push(per_id[start..end].iter().sum());
            start = end;
        }
        out
    }

    /// log10 P of each id of `ids` given the ids before it, the first one
    /// following `<s>`. Add `eos()` at the end to score a whole sentence.
    pub fn score_ids(&self, ids: &[WordId]) -> Vec<f32> {
        let (mut w2, mut w1) = (self.bos(), self.bos());
        ids.iter()
            .map(|&w| {
                let p = self.log10_prob(w2, w1, w);
                (w2, w1) = (w1, w);
                p
            })
            .collect()
    }

    /// Scores every sentence of `text` (split by [`words::Sentences`]) and
    /// returns the counts behind its perplexity. Unknown words are counted
    /// apart and left out of the total, as SRILM's `ppl` does.
    pub fn perplexity(&self, text: &str) -> Perplexity {
        let mut out = Perplexity::default();
        let mut ids = Vec::new();
        for sentence in words::Sentences::new(text) {
            ids.clear();
            for w in &sentence {
                self.ids(w, &mut ids);
            }
            ids.push(self.eos());
            out.sentences += 1;
            out.tokens += ids.len() as u64;
            for (&id, p) in ids.iter().zip(self.score_ids(&ids)) {
                if self.is_known(id) {
                    out.log10 += p as f64;
                } else {
                    out.oov += 1;
                }
            }
        }
        out
    }

    /// Counts, sizes and origin.
    pub fn stats(&self) -> LmStats {
        let bytes = self.data.bytes();
        LmStats {
            name: self.name.clone(),
            source: String::from_utf8_lossy(
                &bytes[self.header.sections[Section::Source as usize].clone()],
            )
            .into_owned(),
            order: 3,
            counts: self.header.counts.to_vec(),
            bytes: bytes.len(),
            ngram_fst_bytes: self.header.sections[Section::Ngrams as usize].len(),
            unk_log10: self.header.unk_log10,
        }
    }
}

/// Walks the key bytes of `id` from `addr`, accumulating outputs.
#[inline]
fn walk(
    fst: &Fst<Slice>,
    mut addr: CompiledAddr,
    out: u64,
    id: WordId,
) -> Option<(CompiledAddr, u64)> {
    let mut out = Output::new(out);
    let (code, len) = format::id_code(id);
    for &byte in &code[..len] {
        let node = fst.node(addr);
        let t = node.transition(node.find_input(byte)?);
        out = out.cat(t.out);
        addr = t.addr;
    }
    Some((addr, out.value()))
}

/// The value of the key that continues from `addr` with `id`, if any.
#[inline]
fn final_value(fst: &Fst<Slice>, addr: CompiledAddr, out: u64, id: WordId) -> Option<u64> {
    let (addr, out) = walk(fst, addr, out, id)?;
    let node = fst.node(addr);
    node.is_final().then(|| node.final_output().cat(Output::new(out)).value())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn model_is_send_and_sync() {
        assert_send_sync::<LanguageModel>();
    }
}
