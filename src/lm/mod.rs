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
//! ([`format`](mod@format)) and embedded in the binary:
//! `lexicon/lm/README.md` says where it comes from. Users build their own from clean text with
//! [`build`] (`unspin lm build`), and can mix one into the Sphinx model
//! with [`mix`] (`unspin lm build --mix-with`): a corpus of a few hundred
//! thousand words is too small alone, but mixed in it teaches the model
//! the corpus's names and phrases (docs/evaluation-rounds.md, round 8).
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
//! Bigrams and trigrams live in two open-addressing hash tables read in
//! place from the model file (see [`format`](mod@format)), so a query is
//! one or two short runs of adjacent slots. [`LanguageModel::context`] resolves a
//! context (w2, w1) once, with one bigram probe that also says whether any
//! trigram follows it; each word scored in that context then costs at most
//! one trigram probe and one bigram probe, and none when the answer is the
//! unigram's. Each table's runs are ordered by home slot and every slot
//! says how far it is from its home, so a probe for an absent n-gram stops
//! about where it would have been (3–4 slots) rather than at the end of
//! the run (13). To keep the tables small (21 MB: bulk runs are bound by
//! their cache misses), a slot holds a 19- or 20-bit fingerprint, not the
//! key, and one-byte bins for its values: an absent n-gram is taken for a
//! present one with probability about 1.6e-6 (bigram) or 7.9e-7 (trigram)
//! per query, and probabilities are requantized to 256 values per table,
//! which moves an answer by 0.003 log10 on average (0.06 at most over our
//! own texts; see [`format`](mod@format), [`quant`] and
//! `lexicon/lm/README.md`).

pub mod build;
pub mod format;
pub mod mix;
pub mod quant;
pub mod sphinx;
pub mod words;

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use fst::raw::Fst;

use crate::error::{Error, Result};

use format::{Header, Section, TableInfo};

pub use build::LmBuilder;

/// A word's index in a model's vocabulary.
pub type WordId = u32;

/// The shipped model (see `lexicon/lm/README.md`).
static EMBEDDED_BYTES: &[u8] = include_bytes!("../../lexicon/lm/en-us.unspinlm");

/// The bytes a model reads from: embedded, memory-mapped or owned. Kept
/// alive by the model; the vocabulary FST and the n-gram tables read them
/// in place.
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

/// A section of a model's bytes, so that the vocabulary FST can own its
/// view of them.
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

/// What the model knows of one word, indexed by id.
#[derive(Clone, Copy, Debug)]
struct Unigram {
    /// log10 P(w).
    prob: f32,
    /// log10 back-off weight of w as a context.
    backoff: f32,
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
    /// Size of the bigram and trigram hash tables in bytes.
    pub ngram_table_bytes: usize,
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

/// A resolved context (w2, w1): what every candidate word after it needs
/// (the back-off weights, and whether and where to look for trigrams).
/// Made by [`LanguageModel::context`], used by [`LanguageModel::score_in`];
/// valid only for the model that made it.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// The context word of the bigrams (w1 w).
    w1: WordId,
    /// The hash of (w2 w1) in the trigram table ([`format::context_hash`]),
    /// or `None` if no trigram (w2 w1 w) exists.
    tri: Option<u64>,
    /// log10 bo(w2 w1), 0 if there is no such bigram.
    bo21: f32,
    /// log10 bo(w1); `None` if w1 is unknown (no context at all).
    bo1: Option<f32>,
}

/// One bigram probe kept for the next lookup that needs the same bigram
/// ([`LanguageModel::lookup_in_memo`]); valid only for the model that
/// filled it.
#[derive(Clone, Copy, Debug, Default)]
pub struct BigramMemo {
    /// (w1, w) and the slot of bigram (w1 w), if the model has it.
    entry: Option<(WordId, WordId, Option<BigramSlot>)>,
}

/// What [`LanguageModel::next_step`] found for a word after a context's
/// last word; valid only for the model that made it.
#[derive(Clone, Copy, Debug)]
pub struct NextStep {
    /// The context after the word.
    pub next: Context,
    /// The bigram (context's last word, word)'s slot, if the model has it
    /// (None too when either word is unknown).
    bigram: Option<BigramSlot>,
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
    /// The format's word → id map. Checked when the model is opened;
    /// lookups go through `index` instead, which tests check against it.
    #[cfg_attr(not(test), allow(dead_code))]
    vocab: fst::Map<Slice>,
    /// A hash index over the vocabulary, built on first use: a word's id
    /// in a few dozen instructions, where the FST walk costs about 2,000
    /// (a bulk run looks up every distinct word of its input, and every
    /// candidate original, once per thread).
    index: OnceLock<VocabIndex>,
    bigrams: TableInfo,
    trigrams: TableInfo,
    unigrams: Vec<Unigram>,
    /// The bin tables, padded to 256 so that a slot's byte indexes them
    /// with no bounds check (a bin past the file's table, which the writer
    /// never makes, reads as the unknown-word floor or a back-off of 0).
    bigram_probs: Box<Bins>,
    bigram_backoffs: Box<Bins>,
    trigram_probs: Box<Bins>,
}

/// A bin table indexed by a slot's byte.
type Bins = [f32; format::MAX_BINS];

/// `values` padded with `fill` to a full bin table.
fn bins(values: Vec<f32>, fill: f32) -> Box<Bins> {
    let mut out = Box::new([fill; format::MAX_BINS]);
    for (o, v) in out.iter_mut().zip(values) {
        *o = v;
    }
    out
}

/// Open addressing over the vocabulary: slot → id + 1 (0: empty), at
/// least twice as many slots as words, probed linearly from the word's
/// hash. Keys are not stored: a slot's word is read from the model's word
/// strings to confirm a hit.
struct VocabIndex {
    slots: Vec<u32>,
    /// 64 − log2 of the number of slots.
    shift: u32,
}

impl VocabIndex {
    fn new(lm: &LanguageModel) -> VocabIndex {
        let n = lm.header.n_words as usize;
        let bits = (2 * n.max(1)).next_power_of_two().trailing_zeros().max(4);
        let mut index = VocabIndex { slots: vec![0; 1 << bits], shift: 64 - bits };
        let mask = index.slots.len() - 1;
        for id in 0..n as u32 {
            let mut at = index.home(lm.word_bytes(id));
            while index.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            index.slots[at] = id + 1;
        }
        index
    }

    /// The slot where a probe for `word` starts: the high bits of its
    /// FxHash (as the decoder's word caches use).
    fn home(&self, word: &[u8]) -> usize {
        use std::hash::Hasher;
        let mut h = rustc_hash::FxHasher::default();
        h.write(word);
        (h.finish() >> self.shift) as usize
    }

    /// The id of the (folded) `word`, if the vocabulary has it.
    fn get(&self, lm: &LanguageModel, word: &str) -> Option<WordId> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(word.as_bytes());
        loop {
            match self.slots[at] {
                0 => return None,
                s if lm.word_bytes(s - 1) == word.as_bytes() => return Some(s - 1),
                _ => at = (at + 1) & mask,
            }
        }
    }
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
                LanguageModel::from_static("embedded", EMBEDDED_BYTES).map_err(|e| {
                    let message = match e {
                        Error::Model { message, .. } => message,
                        e => e.to_string(),
                    };
                    format!("{message} (rebuild it with scripts/lm/convert)")
                })
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
    /// [`from_bytes`], this trusts the bytes' integrity and skips the
    /// checksum pass over the whole file, so use it only for bytes checked
    /// when they were made.
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
        let bytes = data.bytes();
        let header = Header::parse(name, bytes, verify)?;
        let slice =
            |s: Section| Slice { data: data.clone(), range: header.sections[s as usize].clone() };
        // fst's own Display only says "FST error"; the detail is inside.
        let vocab = Fst::new(slice(Section::Vocab)).map(fst::Map::from).map_err(|e| match e {
            fst::Error::Fst(e) => bad(format!("the vocabulary FST: {e}")),
            e => bad(format!("the vocabulary FST: {e}")),
        })?;
        let n = header.n_words as usize;
        if vocab.len() != n {
            return Err(bad(format!(
                "{} words in the vocabulary FST, {n} in the header",
                vocab.len()
            )));
        }
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
        let bigrams =
            header.table(name, bytes, Section::Bigrams, format::BIGRAM_SLOT, header.counts[1])?;
        let trigrams =
            header.table(name, bytes, Section::Trigrams, format::TRIGRAM_SLOT, header.counts[2])?;

        let unigrams = format::read_f32s(section(Section::Unigrams))
            .chunks_exact(2)
            .map(|pair| Unigram { prob: pair[0], backoff: pair[1] })
            .collect();
        Ok(LanguageModel {
            name: name.to_string(),
            bigram_probs: bins(format::read_f32s(section(Section::BigramProbs)), header.unk_log10),
            bigram_backoffs: bins(format::read_f32s(section(Section::BigramBackoffs)), 0.0),
            trigram_probs: bins(
                format::read_f32s(section(Section::TrigramProbs)),
                header.unk_log10,
            ),
            bigrams,
            trigrams,
            unigrams,
            vocab,
            index: OnceLock::new(),
            header,
            data,
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
        let index = self.index.get_or_init(|| VocabIndex::new(self));
        let hit = |w: &str| index.get(self, w);
        words::with_folded(word, hit).unwrap_or(self.unk())
    }

    /// Like [`id`](LanguageModel::id) for a word already folded, through
    /// the vocabulary FST (the index's reference, for tests).
    #[cfg(test)]
    fn id_by_fst(&self, folded: &str) -> WordId {
        let id = self.vocab.get(folded).filter(|&id| id < self.header.n_words as u64);
        id.map_or(self.unk(), |id| id as WordId)
    }

    /// The ids that stand for `word`, appended to `out`: one id for a known
    /// word; for an unknown initialism ("u.s.", "U.S", "a.m.") the ids of its
    /// letters as the Sphinx vocabulary spells them ("u." "s."), and for an
    /// unknown hyphenated word ("long-range") the ids of its parts, when all
    /// of them are known; for an unknown British spelling ("criticised"),
    /// the id of the American one if the model knows it; for an unknown
    /// acronym in capitals ("UK", "NHS", "MPs"), the ids of its letters as
    /// the Sphinx vocabulary spells them ("u." "k.", "m." "p.'s"), when all
    /// are known; otherwise `unk()`.
    pub fn ids(&self, word: &str, out: &mut Vec<WordId>) {
        let id = self.id(word);
        if id != self.unk() {
            out.push(id);
            return;
        }
        if let Some((letters, plural)) = words::acronym(word) {
            let start = out.len();
            let last = letters.len() - 1;
            let mut buf = [0u8; 4];
            let all_known = letters.bytes().enumerate().all(|(i, b)| {
                buf[0] = b.to_ascii_lowercase();
                buf[1] = b'.';
                let n = if plural && i == last {
                    buf[2] = b'\'';
                    buf[3] = b's';
                    4
                } else {
                    2
                };
                let id = self.id(std::str::from_utf8(&buf[..n]).expect("ASCII"));
                out.push(id);
                id != self.unk()
            });
            if all_known {
                return;
            }
            out.truncate(start);
        }
        words::with_folded(word, |folded| self.ids_of_unknown(folded, out));
    }

    /// [`ids`](LanguageModel::ids) of a word the vocabulary lacks as it
    /// is, folded.
    fn ids_of_unknown(&self, folded: &str, out: &mut Vec<WordId>) {
        if let Some(us) = words::american_spelling(folded) {
            let id = self.id(&us);
            if id != self.unk() {
                out.push(id);
                return;
            }
        }
        let start = out.len();
        let all_known = if words::is_initialism(folded) {
            let body = folded.strip_suffix('.').unwrap_or(folded);
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
        // Checked to be UTF-8 on char boundaries when the model was opened.
        std::str::from_utf8(self.word_bytes(id)).unwrap_or("<?>")
    }

    /// The bytes of word `id`, which must be known.
    fn word_bytes(&self, id: WordId) -> &[u8] {
        let bytes = self.data.bytes();
        let offsets = &bytes[self.header.sections[Section::Offsets as usize].clone()];
        let at = |i: usize| {
            let c = &offsets[4 * i..4 * i + 4];
            u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize
        };
        let blob = &bytes[self.header.sections[Section::Words as usize].clone()];
        &blob[at(id as usize)..at(id as usize + 1)]
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

    /// Resolves the context (w2, w1) for [`score_in`](LanguageModel::score_in):
    /// one bigram probe for (w2 w1), which gives its back-off weight and
    /// whether any trigram follows it.
    pub fn context(&self, w2: WordId, w1: WordId) -> Context {
        self.context_via(w2, w1, || self.bigram(self.data.bytes(), w2, w1))
    }

    /// [`context`](LanguageModel::context)`(w2, w1)`, reading the bigram
    /// (w2 w1) from `memo` when it holds that bigram (as
    /// [`lookup_in_memo`](LanguageModel::lookup_in_memo) of w1 after a
    /// context ending in w2 keeps it): a word scored after w2 and then
    /// made the context's last word probes its bigram once.
    #[inline]
    pub fn context_memo(&self, w2: WordId, w1: WordId, memo: &BigramMemo) -> Context {
        self.context_via(w2, w1, || match memo.entry {
            Some((a, b, slot)) if a == w2 && b == w1 => slot,
            _ => self.bigram(self.data.bytes(), w2, w1),
        })
    }

    /// The one body of [`context`](LanguageModel::context) and
    /// [`context_memo`](LanguageModel::context_memo), the bigram (w2 w1)
    /// probed by `bigram`.
    #[inline(always)]
    fn context_via(
        &self,
        w2: WordId,
        w1: WordId,
        bigram: impl FnOnce() -> Option<BigramSlot>,
    ) -> Context {
        let mut ctx = Context { w1, tri: None, bo21: 0.0, bo1: None };
        let Some(u1) = self.unigrams.get(w1 as usize) else { return ctx };
        ctx.bo1 = Some(u1.backoff);
        if self.is_known(w2) {
            let trigrams_follow = match bigram() {
                Some(slot) => {
                    ctx.bo21 = self.bigram_backoffs[slot.backoff_bin()];
                    slot.is_context()
                }
                // A model in which some trigram's context is no bigram
                // (possible in an imported one) must still be searched.
                None => !self.header.contexts_are_bigrams,
            };
            if trigrams_follow {
                ctx.tri = Some(format::context_hash(self.trigrams.seed, w2, w1));
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
    #[inline]
    pub fn lookup_in(&self, ctx: &Context, w: WordId) -> Lookup {
        self.lookup_via(ctx, w, |w| self.bigram(self.data.bytes(), ctx.w1, w))
    }

    /// [`lookup_in`](LanguageModel::lookup_in)`(ctx, w)`, reading the
    /// bigram (w1 w) from `memo` when it holds that bigram and keeping it
    /// there otherwise: a word looked up after several contexts that end
    /// in the same word (the last word of a window after each candidate,
    /// where the trigram is mostly missing) probes its bigram once.
    #[inline]
    pub fn lookup_in_memo(&self, ctx: &Context, w: WordId, memo: &mut BigramMemo) -> Lookup {
        self.lookup_via(ctx, w, |w| match memo.entry {
            Some((w1, w0, slot)) if w1 == ctx.w1 && w0 == w => slot,
            _ => {
                let slot = self.bigram(self.data.bytes(), ctx.w1, w);
                memo.entry = Some((ctx.w1, w, slot));
                slot
            }
        })
    }

    /// The lookup of `w` in `ctx` with the bigram (w1 w) probed by
    /// `bigram`: the one body of [`lookup_in`](LanguageModel::lookup_in)
    /// and [`lookup_in_memo`](LanguageModel::lookup_in_memo).
    #[inline(always)]
    fn lookup_via(
        &self,
        ctx: &Context,
        w: WordId,
        bigram: impl FnOnce(WordId) -> Option<BigramSlot>,
    ) -> Lookup {
        let Some(u) = self.unigrams.get(w as usize) else {
            return Lookup { log10: self.header.unk_log10, order: 0 };
        };
        let Some(bo1) = ctx.bo1 else { return Lookup { log10: u.prob, order: 1 } };
        if let Some(log10) = ctx.tri.and_then(|context| self.trigram(self.data.bytes(), context, w))
        {
            return Lookup { log10, order: 3 };
        }
        if let Some(slot) = bigram(w) {
            let p = self.bigram_probs[slot.prob_bin()];
            return Lookup { log10: p + ctx.bo21, order: 2 };
        }
        Lookup { log10: u.prob + bo1 + ctx.bo21, order: 1 }
    }

    /// [`lookup_in`](LanguageModel::lookup_in)`(ctx, w)` and the context
    /// for the next word, as [`context`](LanguageModel::context)`(w1, w)`
    /// (w1 being `ctx`'s last word) would resolve it: both need the bigram
    /// (w1 w), which is probed once. Scoring a run of words this way costs
    /// one bigram probe per word (plus the trigram probe) instead of two.
    /// It is [`next_step`](LanguageModel::next_step) and
    /// [`lookup_from`](LanguageModel::lookup_from) in one.
    #[inline]
    pub fn lookup_next(&self, ctx: &Context, w: WordId) -> (Lookup, Context) {
        let step = self.next_step(ctx, w);
        (self.lookup_from(ctx, w, &step), step.next)
    }

    /// The part of [`lookup_next`](LanguageModel::lookup_next)`(ctx, w)`
    /// that depends on `ctx`'s last word and `w` alone: the bigram probe
    /// and the next context. Contexts that end in the same word (lattice
    /// states that differ only in the word before) share it, and each
    /// finishes the lookup with [`lookup_from`](LanguageModel::lookup_from).
    #[inline]
    pub fn next_step(&self, ctx: &Context, w: WordId) -> NextStep {
        let mut next = Context { w1: w, tri: None, bo21: 0.0, bo1: None };
        let Some(u) = self.unigrams.get(w as usize) else {
            return NextStep { next, bigram: None };
        };
        next.bo1 = Some(u.backoff);
        if ctx.bo1.is_none() {
            // ctx's word is unknown: no bigram after it, and (as `context`
            // would find) no trigram context for the next word either.
            return NextStep { next, bigram: None };
        }
        let bigram = self.bigram(self.data.bytes(), ctx.w1, w);
        next.bo21 = bigram.map_or(0.0, |b| self.bigram_backoffs[b.backoff_bin()]);
        let trigrams_follow = match bigram {
            Some(b) => b.is_context(),
            None => !self.header.contexts_are_bigrams,
        };
        if trigrams_follow {
            next.tri = Some(format::context_hash(self.trigrams.seed, ctx.w1, w));
        }
        NextStep { next, bigram }
    }

    /// [`lookup_next`](LanguageModel::lookup_next)`(ctx, w)` with the part
    /// [`next_step`](LanguageModel::next_step) made for a context ending
    /// in the same word as `ctx`: the same lookup (the trigram probed in
    /// `ctx`), the same sums.
    #[inline]
    pub fn lookup_from(&self, ctx: &Context, w: WordId, step: &NextStep) -> Lookup {
        self.lookup_via(ctx, w, |_| step.bigram)
    }

    /// Starts loading the trigram slot of `w` after `ctx` (the part of
    /// [`prefetch_in`](LanguageModel::prefetch_in) a caller that already
    /// has the bigram, from [`next_step`](LanguageModel::next_step), needs).
    #[inline(always)]
    pub fn prefetch_trigram_in(&self, ctx: &Context, w: WordId) {
        if !self.is_known(w) || ctx.bo1.is_none() {
            return;
        }
        if let Some(context) = ctx.tri {
            prefetch_slot::<{ format::TRIGRAM_SLOT }>(
                self.data.bytes(),
                &self.trigrams,
                format::trigram_hash(context, w),
                format::TRIGRAM_KEY_MASK,
            );
        }
    }

    /// Asks the CPU to start loading the table slots that
    /// [`lookup_in`](LanguageModel::lookup_in)`(ctx, w)` will read. A hint
    /// only: a caller that scores several words in one context prefetches
    /// them all first, so their cache misses overlap instead of queueing.
    #[inline]
    pub fn prefetch_in(&self, ctx: &Context, w: WordId) {
        if !self.is_known(w) || ctx.bo1.is_none() {
            return;
        }
        self.prefetch_trigram_in(ctx, w);
        prefetch_slot::<{ format::BIGRAM_SLOT }>(
            self.data.bytes(),
            &self.bigrams,
            format::bigram_hash(self.bigrams.seed, ctx.w1, w),
            format::BIGRAM_KEY_MASK,
        );
    }

    /// Like [`prefetch_in`](LanguageModel::prefetch_in) for
    /// [`lookup`](LanguageModel::lookup)`(w2, w1, w)` before its context is
    /// resolved: the slots of bigram (w2 w1), trigram (w2 w1 w) and bigram
    /// (w1 w).
    #[inline]
    pub fn prefetch(&self, w2: WordId, w1: WordId, w: WordId) {
        if !self.is_known(w1) || !self.is_known(w) {
            return;
        }
        let bytes = self.data.bytes();
        if self.is_known(w2) {
            prefetch_slot::<{ format::BIGRAM_SLOT }>(
                bytes,
                &self.bigrams,
                format::bigram_hash(self.bigrams.seed, w2, w1),
                format::BIGRAM_KEY_MASK,
            );
            prefetch_slot::<{ format::TRIGRAM_SLOT }>(
                bytes,
                &self.trigrams,
                format::trigram_hash(format::context_hash(self.trigrams.seed, w2, w1), w),
                format::TRIGRAM_KEY_MASK,
            );
        }
        prefetch_slot::<{ format::BIGRAM_SLOT }>(
            bytes,
            &self.bigrams,
            format::bigram_hash(self.bigrams.seed, w1, w),
            format::BIGRAM_KEY_MASK,
        );
    }

    /// log10 P(w | w2 w1) if the trigram is in the model; `context` is the
    /// hash of (w2 w1) ([`format::context_hash`]).
    #[inline]
    fn trigram(&self, bytes: &[u8], context: u64, w: WordId) -> Option<f32> {
        let h = format::trigram_hash(context, w);
        let s =
            find::<{ format::TRIGRAM_SLOT }>(bytes, &self.trigrams, h, format::TRIGRAM_KEY_MASK)?;
        Some(self.trigram_probs[s[format::KEY_BYTES] as usize])
    }

    /// The slot of bigram (w1 w), if the model has it.
    #[inline]
    fn bigram(&self, bytes: &[u8], w1: WordId, w: WordId) -> Option<BigramSlot> {
        let h = format::bigram_hash(self.bigrams.seed, w1, w);
        find::<{ format::BIGRAM_SLOT }>(bytes, &self.bigrams, h, format::BIGRAM_KEY_MASK)
            .map(|s| BigramSlot(*s))
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
        let table_bytes = [Section::Bigrams, Section::Trigrams]
            .iter()
            .map(|&s| self.header.sections[s as usize].len())
            .sum();
        LmStats {
            name: self.name.clone(),
            source: String::from_utf8_lossy(
                &bytes[self.header.sections[Section::Source as usize].clone()],
            )
            .into_owned(),
            order: 3,
            counts: self.header.counts.to_vec(),
            bytes: bytes.len(),
            ngram_table_bytes: table_bytes,
            unk_log10: self.header.unk_log10,
        }
    }
}

/// Prefetches the home slot of hash `h` (see [`LanguageModel::prefetch_in`]).
#[inline]
fn prefetch_slot<const W: usize>(bytes: &[u8], table: &TableInfo, h: u64, mask: u32) {
    let (home, _) = format::home_and_fingerprint(h, table.homes, mask);
    let Some(slot) = bytes.get(table.slots.start + home * W) else { return };
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint that never faults and reads nothing
        // into the program; the pointer is into `bytes` anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(slot as *const u8 as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
}

/// The slot of a key with hash `h` in `table`, if the table has it.
fn find<'a, const W: usize>(
    bytes: &'a [u8],
    table: &TableInfo,
    h: u64,
    mask: u32,
) -> Option<&'a [u8; W]> {
    let (home, fp) = format::home_and_fingerprint(h, table.homes, mask);
    let (slots, _) = bytes.get(table.slots.clone())?.as_chunks::<W>();
    format::probe(slots, home, fp, mask)
}

/// A bigram's slot: key word (3 bytes), probability bin, back-off bin.
#[derive(Clone, Copy, Debug)]
struct BigramSlot([u8; format::BIGRAM_SLOT]);

impl BigramSlot {
    fn prob_bin(self) -> usize {
        self.0[format::KEY_BYTES] as usize
    }

    fn backoff_bin(self) -> usize {
        self.0[format::KEY_BYTES + 1] as usize
    }

    /// True if some trigram has this bigram as its context.
    fn is_context(self) -> bool {
        format::key_word(&self.0) & format::BIGRAM_IS_CONTEXT != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    fn ids_of(lm: &LanguageModel, word: &str) -> Vec<WordId> {
        let mut out = Vec::new();
        lm.ids(word, &mut out);
        out
    }

    #[test]
    fn acronyms_in_capitals_are_spelled_in_letters() {
        let lm = LanguageModel::embedded();
        assert_eq!(lm.id("uk"), lm.unk());
        assert_eq!(ids_of(lm, "UK"), [lm.id("u."), lm.id("k.")]);
        assert_eq!(ids_of(lm, "MPs"), [lm.id("m."), lm.id("p.'s")]);
        assert!(ids_of(lm, "NHS").iter().all(|&w| lm.is_known(w)));
        // Lower case is not an acronym; a known word in capitals is the word.
        assert_eq!(ids_of(lm, "uk"), [lm.unk()]);
        assert_eq!(ids_of(lm, "THE"), [lm.id("the")]);
    }

    #[test]
    fn british_spellings_read_as_the_american_ones() {
        let lm = LanguageModel::embedded();
        for (uk, us) in
            [("councillor", "councilor"), ("medallist", "medalist"), ("ageing", "aging")]
        {
            assert_eq!(lm.id(uk), lm.unk(), "{uk}");
            assert_eq!(ids_of(lm, uk), [lm.id(us)], "{uk}");
        }
        assert_eq!(ids_of(lm, "Labour's"), [lm.id("labor's")]);
    }

    #[test]
    fn model_is_send_and_sync() {
        assert_send_sync::<LanguageModel>();
    }

    /// Pseudo-random word ids for the lookup tests: the sentence
    /// boundaries, the unknown word, another rare id and frequent words.
    struct Picker {
        ids: Vec<WordId>,
        rng: u64,
    }

    impl Picker {
        fn new(lm: &LanguageModel, seed: u64) -> Picker {
            let mut ids = vec![lm.bos(), lm.eos(), lm.unk(), lm.unk() + 7];
            for w in ["the", "of", "united", "states", "said", "on", "monday", "war", "civil"] {
                ids.push(lm.id(w));
            }
            Picker { ids, rng: seed }
        }

        fn pick(&mut self) -> WordId {
            self.rng = format::mix(self.rng);
            self.ids[(self.rng % self.ids.len() as u64) as usize]
        }
    }

    /// `lookup_next` answers as `lookup_in` followed by `context`, for
    /// known, unknown, sentence-boundary and frequent words in any order.
    #[test]
    fn lookup_next_is_lookup_then_context() {
        let lm = LanguageModel::embedded();
        let mut p = Picker::new(lm, 0x1234_5678_9abc_def0_u64);
        let mut orders = [0usize; 4];
        for _ in 0..4000 {
            let (w2, w1, w, x) = (p.pick(), p.pick(), p.pick(), p.pick());
            let ctx = lm.context(w2, w1);
            let (got, next) = lm.lookup_next(&ctx, w);
            assert_eq!(got, lm.lookup_in(&ctx, w), "{w2} {w1} {w}");
            orders[got.order as usize] += 1;
            let want = lm.context(w1, w);
            assert_eq!(lm.lookup_in(&next, x), lm.lookup_in(&want, x), "{w1} {w} {x}");
            assert_eq!(lm.lookup_next(&next, x).0, lm.lookup_in(&want, x));
        }
        // Every way of answering was exercised.
        assert!(orders.iter().all(|&n| n > 0), "{orders:?}");
    }

    /// `lookup_from` with the `next_step` of any context ending in the
    /// same word answers as `lookup_next`, and the step's next context is
    /// the one `lookup_next` gives.
    #[test]
    fn a_shared_next_step_is_lookup_next() {
        let lm = LanguageModel::embedded();
        let mut p = Picker::new(lm, 0x2468_ace0_1357_9bdf_u64);
        let mut orders = [0usize; 4];
        for _ in 0..4000 {
            let (w2, v2, w1, w, x) = (p.pick(), p.pick(), p.pick(), p.pick(), p.pick());
            let (ctx, other) = (lm.context(w2, w1), lm.context(v2, w1));
            let step = lm.next_step(&other, w);
            let (want, next) = lm.lookup_next(&ctx, w);
            assert_eq!(lm.lookup_from(&ctx, w, &step), want, "{w2} {v2} {w1} {w}");
            orders[want.order as usize] += 1;
            assert_eq!(lm.lookup_in(&step.next, x), lm.lookup_in(&next, x), "{w1} {w} {x}");
            assert_eq!(lm.lookup_next(&step.next, x).0, lm.lookup_next(&next, x).0);
        }
        assert!(orders.iter().all(|&n| n > 0), "{orders:?}");
    }

    /// `lookup_in_memo` answers as `lookup_in`, whatever the memo holds
    /// (one memo throughout, so that it is read for the bigram it keeps
    /// and overwritten for others).
    #[test]
    fn lookup_in_memo_is_lookup_in() {
        let lm = LanguageModel::embedded();
        let mut p = Picker::new(lm, 0x0fed_cba9_8765_4321_u64);
        let mut memo = BigramMemo::default();
        let mut orders = [0usize; 4];
        for _ in 0..4000 {
            let (w2, w1, w) = (p.pick(), p.pick(), p.pick());
            let ctx = lm.context(w2, w1);
            let got = lm.lookup_in_memo(&ctx, w, &mut memo);
            assert_eq!(got, lm.lookup_in(&ctx, w), "{w2} {w1} {w}");
            // The memo makes the next context as `context` does.
            let (x, y) = (lm.context_memo(w1, w, &memo), lm.context(w1, w));
            assert_eq!(lm.lookup_in(&x, w2), lm.lookup_in(&y, w2), "{w1} {w} {w2}");
            assert_eq!(lm.lookup_next(&x, w2).0, lm.lookup_next(&y, w2).0);
            orders[got.order as usize] += 1;
        }
        assert!(orders.iter().all(|&n| n > 0), "{orders:?}");
    }

    /// `context` skips the trigram table after a context that is no bigram
    /// only when the file says no trigram has such a context. It holds for
    /// the shipped model (checked when it was converted) and always for the
    /// Kneser-Ney builder: a trigram's context occurs wherever the trigram
    /// does, so it is counted at least as often and pruned no sooner.
    #[test]
    fn trigram_contexts_are_bigrams_in_our_models() {
        assert!(LanguageModel::embedded().header.contexts_are_bigrams);
        let text = "the cat sat on the mat. the cat sat on the hat. a dog sat. \
                    the dog ran to the cat. a cat ran.";
        for min_count in [1, 2, 3] {
            let mut b = LmBuilder::new();
            b.min_count(min_count).add_text(text);
            let lm = LanguageModel::from_bytes("cats", b.build("test").unwrap()).unwrap();
            assert!(lm.header.contexts_are_bigrams, "min count {min_count}");
        }
    }

    #[test]
    fn vocabulary_index_agrees_with_the_fst() {
        let lm = LanguageModel::embedded();
        for id in 0..lm.vocab_len() as WordId {
            let w = lm.word(id);
            assert_eq!(lm.id_by_fst(w), id, "{w}");
            assert_eq!(lm.id(w), id, "{w}");
        }
        for w in ["", "zzqx", "the ", "thee", "th", "<unk>x", "qu'est-ce", "a.b.c.d.e.f.g.h.i"] {
            assert_eq!(lm.id(w), lm.id_by_fst(&words::fold(w)), "{w:?}");
        }
    }
}
