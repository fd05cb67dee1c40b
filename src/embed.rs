//! Word embeddings: how well a candidate original fits the topic of the
//! document around it.
//!
//! The trigram model sees two words back; a spinner's sense-blind swap
//! ("US or Russian streams" for "jets") often reads fluently there and is
//! only odd against the rest of the article. The embedded vectors (GloVe,
//! 100 dimensions, the 30,000 most frequent content words the language
//! model knows; origin and licence in `lexicon/embed/README.md`, built by
//! `scripts/embed/build`) give the decoder the cosine between a word and
//! the mean vector of the document's other content words
//! ([`crate::decode::Params::embed_weight`]).
//!
//! Vectors are unit length and quantized to int8 with one scale per
//! dimension, read in place from the bytes embedded in the binary: nothing
//! is loaded up front, and a language-model word is matched with its row
//! (and the row widened to int16) the first time it is needed. A context is
//! prepared once per sentence: its sum of vectors is scaled to unit length,
//! the scales are folded in and it is quantized to int16, so a candidate's
//! similarity is one integer dot product of 104 (100 padded) int16 pairs,
//! which the compiler turns into SIMD multiply-adds.

use std::sync::OnceLock;

use crate::decode::Model;
use crate::lm::WordId;
use crate::{Error, Result};

/// The shipped vectors (see `lexicon/embed/README.md`).
static EMBEDDED_BYTES: &[u8] = include_bytes!("../lexicon/embed/en-100d.emb");

const MAGIC: &[u8; 8] = b"UNSPEMB2";

/// Dimensions of a vector (the file must have this many).
pub const DIMS: usize = 100;

/// A row's length in the file: the dimensions padded with zeros to a
/// multiple of 8, the width of the multiply-adds.
pub const LANES: usize = DIMS.div_ceil(8) * 8;

/// A row of the file: int8 values (as bytes), padded with zeros.
pub type Row = [u8; LANES];

/// A word's vector as the decoder uses it: the row widened to int16, so
/// that a dot product is a run of multiply-adds of 8 pairs.
pub type Vector = [i16; LANES];

/// A sum of vectors (exact in i32 for any document: each term is at most
/// 127 in magnitude).
pub type Sum = [i32; LANES];

/// A set of quantized word vectors, read in place.
pub struct Embeddings {
    bytes: &'static [u8],
    count: usize,
    scales: [f32; DIMS],
    /// The largest scale.
    max_scale: f32,
    /// The language model's unigram-weighted mean of the vectors, unit
    /// length (computed by the converter).
    generic: [f32; DIMS],
    /// Where the word offsets and the rows start.
    offsets_at: usize,
    rows_at: usize,
    /// The words, sorted, concatenated (checked to be UTF-8 when opened).
    words: &'static str,
}

impl std::fmt::Debug for Embeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embeddings").field("count", &self.count).finish_non_exhaustive()
    }
}

impl Embeddings {
    /// The shipped vectors, opened on first use (no copy).
    ///
    /// # Panics
    ///
    /// If the embedded file is corrupt, which is a build defect (run
    /// `scripts/embed/build`).
    pub fn embedded() -> &'static Embeddings {
        static EMBEDDED: OnceLock<Embeddings> = OnceLock::new();
        EMBEDDED.get_or_init(|| match Embeddings::from_static("embedded", EMBEDDED_BYTES) {
            Ok(e) => e,
            Err(e) => panic!("{e} (rebuild it with scripts/embed/build)"),
        })
    }

    /// Opens vectors in the layout `scripts/embed/convert.py` writes. The
    /// layout is checked (a truncated or malformed file is an error, never
    /// a panic); that the words are sorted, which lookups assume, is left
    /// to [`check_order`](Embeddings::check_order).
    pub fn from_static(name: &str, bytes: &'static [u8]) -> Result<Embeddings> {
        let bad = |message: &str| Error::Input {
            input: name.to_string(),
            message: format!("word vectors: {message}"),
        };
        let u32_at = |at: usize| -> Option<usize> {
            let b = bytes.get(at..at + 4)?;
            Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        let f32s = |at: usize| -> Option<[f32; DIMS]> {
            let mut out = [0.0; DIMS];
            for (d, x) in out.iter_mut().enumerate() {
                *x = f32::from_bits(u32_at(at + 4 * d)? as u32);
            }
            Some(out)
        };
        if bytes.get(..8) != Some(&MAGIC[..]) {
            return Err(bad("not an unspin embedding file (version 2)"));
        }
        let (Some(dims), Some(stride), Some(count)) = (u32_at(8), u32_at(12), u32_at(16)) else {
            return Err(bad("truncated header"));
        };
        if dims != DIMS || stride != LANES {
            return Err(bad(&format!(
                "{dims} dimensions in rows of {stride}, not {DIMS} in {LANES}"
            )));
        }
        if count > (1 << 24) {
            return Err(bad("implausible size"));
        }
        let scales_at = 20;
        let generic_at = scales_at + 4 * DIMS;
        let offsets_at = generic_at + 4 * DIMS;
        let words_at = offsets_at + 4 * (count + 1);
        let scales = f32s(scales_at).ok_or_else(|| bad("truncated scales"))?;
        if scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
            return Err(bad("bad scales"));
        }
        let generic = f32s(generic_at).ok_or_else(|| bad("truncated mean vector"))?;
        if generic.iter().any(|g| !g.is_finite() || g.abs() > 1.0) {
            return Err(bad("bad mean vector"));
        }
        let max_scale = scales.iter().fold(0.0f32, |m, &s| m.max(s));
        let offsets = bytes.get(offsets_at..words_at).ok_or_else(|| bad("truncated offsets"))?;
        let offset = |c: &[u8]| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
        let mut offsets = offsets.chunks_exact(4).map(offset);
        if offsets.next() != Some(0) {
            return Err(bad("offsets do not start at 0"));
        }
        let end = offsets.clone().try_fold(0, |prev, o| (o >= prev).then_some(o));
        let end = end.ok_or_else(|| bad("offsets out of order"))?;
        let rows_at = words_at + end;
        let words = bytes.get(words_at..rows_at).ok_or_else(|| bad("truncated words"))?;
        let words = std::str::from_utf8(words).map_err(|_| bad("words are not UTF-8"))?;
        if !offsets.all(|o| words.is_char_boundary(o)) {
            return Err(bad("word offsets split a character"));
        }
        let e = Embeddings { bytes, count, scales, max_scale, generic, offsets_at, rows_at, words };
        if bytes.len() != rows_at + LANES * count {
            return Err(bad("rows truncated or trailing bytes"));
        }
        Ok(e)
    }

    /// Checks that the words are strictly increasing (byte order), as
    /// [`find`](Embeddings::find) assumes.
    pub fn check_order(&self) -> bool {
        (1..self.count).all(|k| self.word(k - 1) < self.word(k))
    }

    fn offset(&self, k: usize) -> usize {
        let at = self.offsets_at + 4 * k;
        let b = &self.bytes[at..at + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if there are no words.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Word `k` (in byte order).
    pub fn word(&self, k: usize) -> &'static str {
        let words: &'static str = self.words;
        &words[self.offset(k)..self.offset(k + 1)]
    }

    /// The row of `word` (lower case, as the file spells it), by binary
    /// search.
    pub fn find(&self, word: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.word(mid).cmp(word) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The quantized vector of word `k`.
    #[inline]
    pub fn row(&self, k: usize) -> &'static Row {
        let bytes: &'static [u8] = self.bytes;
        let at = self.rows_at + k * LANES;
        bytes[at..at + LANES].try_into().expect("LANES bytes")
    }

    /// The per-dimension scales (a vector is `row[d] · scales[d]`).
    pub fn scales(&self) -> &[f32; DIMS] {
        &self.scales
    }

    /// The language model's unigram-weighted mean direction of the words
    /// (unit length): taken out of a context (see
    /// [`EmbedIndex::context_into`]), a word scores its fit to that
    /// context's topic rather than to English text in general, where
    /// frequent words come out ahead.
    pub fn generic(&self) -> &[f32; DIMS] {
        &self.generic
    }

    /// The cosine between words `a` and `b` (in `f32`; for tests and
    /// tools: the decoder goes by [`EmbedIndex`]).
    pub fn cosine(&self, a: usize, b: usize) -> f32 {
        let v = |k: usize| -> Vec<f32> {
            self.row(k)[..DIMS]
                .iter()
                .zip(&self.scales)
                .map(|(&q, &s)| q as i8 as f32 * s)
                .collect()
        };
        let (a, b) = (v(a), v(b));
        let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(&a) * norm(&b)).max(1e-12)
    }
}

/// The vectors of a language model's words, by [`WordId`], and the
/// arithmetic the decoder does with them. A word is matched with its row
/// (by its spelling) and the row widened the first time the word is asked
/// for, so a short text pays for the few words it has (building all 30,000
/// up front took 20 M instructions, more than the rest of a run over a
/// paragraph); the answer is kept for all threads.
pub struct EmbedIndex {
    emb: &'static Embeddings,
    lm: Model,
    /// LM id → its vector, if it has one.
    slots: Vec<OnceLock<Option<Box<Vector>>>>,
}

impl std::fmt::Debug for EmbedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbedIndex").field("emb", &self.emb).finish_non_exhaustive()
    }
}

impl EmbedIndex {
    /// The vectors of `emb` for the words of `lm`.
    pub fn new(emb: &'static Embeddings, lm: Model) -> EmbedIndex {
        let slots = (0..lm.vocab_len()).map(|_| OnceLock::new()).collect();
        EmbedIndex { emb, lm, slots }
    }

    /// The vector of `id`, if it has one.
    #[inline]
    pub fn vector(&self, id: WordId) -> Option<&Vector> {
        self.slots
            .get(id as usize)?
            .get_or_init(|| {
                let row = self.emb.row(self.emb.find(self.lm.word(id))?);
                Some(Box::new(row.map(|b| b as i8 as i16)))
            })
            .as_deref()
    }

    /// Prepares the context whose vector is `sum` (a sum of vectors) for
    /// [`similarity`](EmbedIndex::similarity): scaled to unit length, less
    /// `center` times the [`generic`](Embeddings::generic) direction.
    /// False for a zero sum.
    pub fn context_into(&self, sum: &Sum, center: f32, out: &mut Context) -> bool {
        let mut v = [0.0f32; DIMS];
        for ((v, &x), &s) in v.iter_mut().zip(sum).zip(&self.emb.scales) {
            *v = x as f32 * s;
        }
        // Four partial sums, so that the sum vectorizes.
        let mut lanes = [0.0f32; 4];
        for c in v.chunks_exact(4) {
            for i in 0..4 {
                lanes[i] += c[i] * c[i];
            }
        }
        let norm = lanes.iter().sum::<f32>().sqrt();
        if norm.is_nan() || norm <= 1e-6 {
            return false;
        }
        // cos(w, v) = Σ q_w[d]·s[d]·v[d] / |v|: fold s[d] / |v| into v.
        // Each component of the unit context less `center` times a unit
        // vector is within ±(1 + |center|), and s[d] ≤ the largest scale:
        // with that bound as the int16 range, nothing overflows.
        let bound = (1.0 + center.abs()) * self.emb.max_scale;
        let to_q = (i16::MAX - 1) as f32 / bound;
        let folded = v.iter().zip(&self.emb.generic).zip(&self.emb.scales);
        for (q, ((&v, &g), &s)) in out.q.iter_mut().zip(folded) {
            let x = (v / norm - center * g) * s * to_q;
            // Round to nearest by adding 1.5 · 2^23, which leaves the
            // integer in the low mantissa bits (exact for |x| < 2^22, and
            // a plain float add where `as` would round through a clamped,
            // scalar conversion).
            const MAGIC: f32 = 12_582_912.0;
            *q = ((x + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32) as i16;
        }
        out.q[DIMS..].fill(0);
        out.scale = 1.0 / to_q;
        true
    }

    /// The cosine between a word's vector and a context from
    /// [`context_into`](EmbedIndex::context_into) (less the centring): an
    /// integer dot product. Not inlined: inlined into a loop, the
    /// compiler hoisted a needless conversion of the context out of it and
    /// redid it on every call (80 instructions on top of the 60 of the dot
    /// product).
    #[inline(never)]
    pub fn similarity(&self, ctx: &Context, v: &Vector) -> f32 {
        // Eight partial sums over runs of eight: the shape the compiler
        // turns into multiply-adds of 8 int16 pairs (SSE2's `pmaddwd`;
        // a single sum made two and a half times the instructions, and
        // int8 rows widened here half as many again).
        let mut acc = [0i32; 8];
        for k in 0..LANES / 8 {
            for i in 0..8 {
                acc[i] += v[8 * k + i] as i32 * ctx.q[8 * k + i] as i32;
            }
        }
        acc.iter().sum::<i32>() as f32 * ctx.scale
    }

    /// The cosine between two words of the model (None if either has no
    /// vector).
    pub fn cosine(&self, a: WordId, b: WordId) -> Option<f32> {
        let (va, vb) = (self.vector(a)?, self.vector(b)?);
        let mut sum = [0; LANES];
        add(&mut sum, vb);
        let mut ctx = Context::default();
        self.context_into(&sum, 0.0, &mut ctx).then(|| self.similarity(&ctx, va))
    }
}

/// Adds `v` to `acc`.
#[inline]
pub fn add(acc: &mut Sum, v: &Vector) {
    for d in 0..LANES {
        acc[d] += v[d] as i32;
    }
}

/// Subtracts `v` from `acc`.
#[inline]
pub fn sub(acc: &mut Sum, v: &Vector) {
    for d in 0..LANES {
        acc[d] -= v[d] as i32;
    }
}

/// Adds the sum `v` to `acc`.
#[inline]
pub fn add_sum(acc: &mut Sum, v: &Sum) {
    for d in 0..LANES {
        acc[d] += v[d];
    }
}

/// Adds `k` times the sum `v` to `acc`.
#[inline]
pub fn add_scaled(acc: &mut Sum, v: &Sum, k: i32) {
    for d in 0..LANES {
        acc[d] += k * v[d];
    }
}

/// Subtracts `k` times `v` from `acc`.
#[inline]
pub fn sub_scaled(acc: &mut Sum, v: &Vector, k: i32) {
    for d in 0..LANES {
        acc[d] -= k * v[d] as i32;
    }
}

/// Subtracts the sum `v` from `acc`.
#[inline]
pub fn sub_sum(acc: &mut Sum, v: &Sum) {
    for d in 0..LANES {
        acc[d] -= v[d];
    }
}

/// A context vector ready for [`EmbedIndex::similarity`]: quantized to
/// int16 with one scale.
#[derive(Clone, Debug)]
pub struct Context {
    q: [i16; LANES],
    scale: f32,
}

impl Default for Context {
    fn default() -> Context {
        Context { q: [0; LANES], scale: 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::LanguageModel;

    fn index() -> EmbedIndex {
        EmbedIndex::new(Embeddings::embedded(), Model::Static(LanguageModel::embedded()))
    }

    #[test]
    fn the_embedded_vectors_load_sorted_and_unit_length() {
        let e = Embeddings::embedded();
        assert!(e.len() >= 20_000, "{}", e.len());
        assert!(e.check_order());
        // Function words are left out.
        assert_eq!(e.find("the"), None);
        for w in ["jets", "year", "government", "penalties", "said"] {
            let k = e.find(w).unwrap_or_else(|| panic!("{w}"));
            assert_eq!(e.word(k), w);
            let row = e.row(k);
            assert_eq!(row[DIMS..], [0; LANES - DIMS]);
            let norm: f32 = row[..DIMS]
                .iter()
                .zip(e.scales())
                .map(|(&q, &s)| (q as i8 as f32 * s).powi(2))
                .sum::<f32>()
                .sqrt();
            assert!((norm - 1.0).abs() < 0.02, "{w} {norm}");
            assert!((e.cosine(k, k) - 1.0).abs() < 1e-5);
        }
        let g: f32 = e.generic().iter().map(|x| x * x).sum();
        assert!((g - 1.0).abs() < 1e-3, "{g}");
    }

    #[test]
    fn related_words_are_closer() {
        let e = Embeddings::embedded();
        let k = |w: &str| e.find(w).unwrap_or_else(|| panic!("{w}"));
        assert!(e.cosine(k("jets"), k("aircraft")) > e.cosine(k("streams"), k("aircraft")) + 0.3);
        assert!(e.cosine(k("year"), k("earnings")) > e.cosine(k("day"), k("earnings")));
        let (a, b) = (k("military"), k("jets"));
        assert!((e.cosine(a, b) - e.cosine(b, a)).abs() < 1e-6);
    }

    #[test]
    fn the_index_agrees_with_the_file() {
        let (e, lm, index) = (Embeddings::embedded(), LanguageModel::embedded(), index());
        // Every row belongs to a word of the model, and the index finds it.
        for k in (0..e.len()).step_by(97) {
            let id = lm.id(e.word(k));
            assert!(lm.is_known(id), "{}", e.word(k));
            let row = e.row(k).map(|b| b as i8 as i16);
            assert_eq!(index.vector(id), Some(&row), "{}", e.word(k));
            // The second time from the slot.
            assert_eq!(index.vector(id), Some(&row));
        }
        let (jets, aircraft) = (lm.id("jets"), lm.id("aircraft"));
        let want = e.cosine(e.find("jets").unwrap(), e.find("aircraft").unwrap());
        let got = index.cosine(jets, aircraft).unwrap();
        assert!((got - want).abs() < 1e-3, "{got} {want}");
        for missing in [lm.id("the"), lm.unk(), lm.bos(), lm.eos()] {
            assert!(index.vector(missing).is_none());
        }
        assert!(index.cosine(jets, lm.id("the")).is_none());
    }

    #[test]
    fn a_context_vector_ranks_the_topical_word_first() {
        let (lm, index) = (LanguageModel::embedded(), index());
        let v = |w: &str| index.vector(lm.id(w)).unwrap_or_else(|| panic!("{w}"));
        let mut sum = [0; LANES];
        for w in ["russian", "military", "air", "force", "bombers", "pilots"] {
            add(&mut sum, v(w));
        }
        let mut other = sum;
        add(&mut other, v("streams"));
        sub(&mut other, v("streams"));
        assert_eq!(other, sum);
        let mut ctx = Context::default();
        assert!(index.context_into(&sum, 0.0, &mut ctx));
        let sim = |w: &str| index.similarity(&ctx, v(w));
        assert!(sim("jets") > sim("streams") + 0.2, "{} {}", sim("jets"), sim("streams"));
        // Taking out the generic direction lowers a frequent, general word's
        // fit more than a topical one's.
        let mut centred = Context::default();
        assert!(index.context_into(&sum, 1.0, &mut centred));
        let lift = |w: &str| index.similarity(&centred, v(w));
        assert!(sim("people") - lift("people") > sim("bombers") - lift("bombers"));
        assert!(!index.context_into(&[0; LANES], 0.0, &mut ctx));
    }

    #[test]
    fn malformed_files_are_errors() {
        let ok = EMBEDDED_BYTES;
        assert!(Embeddings::from_static("t", &ok[..ok.len() - 1]).is_err());
        assert!(Embeddings::from_static("t", &ok[..30]).is_err());
        assert!(Embeddings::from_static("t", b"UNSPEMB1\x01\0\0\0\0\0\0\0").is_err());
        let u32s = |xs: &[u32]| xs.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let f32s = |x: f32| (0..DIMS).flat_map(|_| x.to_le_bytes()).collect::<Vec<u8>>();
        let file = |words: &[&str], generic: f32| -> &'static [u8] {
            let mut offsets = vec![0u32];
            for w in words {
                offsets.push(offsets.last().unwrap() + w.len() as u32);
            }
            let header =
                [&MAGIC[..], &u32s(&[DIMS as u32, LANES as u32, words.len() as u32])].concat();
            let rows = vec![0u8; LANES * words.len()];
            let all =
                [header, f32s(1.0), f32s(generic), u32s(&offsets), words.concat().into(), rows]
                    .concat();
            Box::leak(all.into_boxed_slice())
        };
        let empty = Embeddings::from_static("t", file(&[], 0.1)).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.find("a"), None);
        let two = Embeddings::from_static("t", file(&["ab", "cd"], 0.1)).unwrap();
        assert!(two.check_order());
        assert_eq!((two.find("ab"), two.find("cd"), two.find("b")), (Some(0), Some(1), None));
        let unsorted = Embeddings::from_static("t", file(&["cd", "ab"], 0.1)).unwrap();
        assert!(!unsorted.check_order());
        assert!(Embeddings::from_static("t", file(&["ab"], 2.0)).is_err());
        let mut wrong_dims = file(&[], 0.1).to_vec();
        wrong_dims[8] = 50;
        assert!(Embeddings::from_static("t", Box::leak(wrong_dims.into_boxed_slice())).is_err());
    }
}
