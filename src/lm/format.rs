//! The on-disk model format: a small header, a table of sections, and two
//! FSTs, all read in place (from `include_bytes!` or a memory map).
//!
//! ```text
//! offset size
//!      0    8  magic "UNSPINLM"
//!      8    4  format version (1)
//!     12    4  order (3)
//!     16    4  vocabulary size V (word ids 0..V; V itself is <unk>)
//!     20    4  id of <s>
//!     24    4  id of </s>
//!     28    4  log10 probability of an unknown word (f32)
//!     32   24  n-gram counts per order (u64 × 3)
//!     56    4  number of sections (9)
//!     60    4  reserved (0)
//!     64  144  sections: (offset u64, length u64) × 9, in this order:
//!              source    UTF-8 description of where the model came from
//!              vocab     FST map: word → id
//!              offsets   u32 × (V + 1): where each word starts in `words`
//!              words     the words, concatenated, in id order
//!              unigrams  (log10 prob f32, log10 back-off f32) × V
//!              p2, b2    bigram probability and back-off bins (f32 each)
//!              p3        trigram probability bins (f32 each)
//!              ngrams    FST map: n-gram key → packed bins
//! ```
//!
//! Everything is little-endian. An n-gram key is its word ids, oldest first,
//! each in a prefix code of 1 to 4 bytes ([`push_id`]): context first so
//! that n-grams sharing a context share an FST prefix, and a decoder can
//! walk to the context once and then try every candidate from there. A
//! bigram's value is `backoff_bin << 16 | prob_bin`, a trigram's is
//! `prob_bin`; the bins index the `p2`/`b2`/`p3` tables. Storing bin
//! indices rather than floats keeps the FST small: small integers, and the
//! `b2` table is ordered by use so that the commonest back-off (none) is 0.
//!
//! Unigrams are not in the FST: every word has one, so a plain array
//! indexed by id is smaller and faster.

use std::io::Write;

use crate::error::{Error, Result};

use super::WordId;

/// The first bytes of every model file.
pub const MAGIC: &[u8; 8] = b"UNSPINLM";
/// The format version this code reads and writes.
pub const VERSION: u32 = 1;
/// The largest vocabulary a model may have (one more id is <unk>).
pub const MAX_WORDS: usize = (1 << 24) - 1;
/// The most bins a quantizer table may have (bin indices are 16 bits).
pub const MAX_BINS: usize = 1 << 16;

const N_SECTIONS: usize = 9;
const HEADER_LEN: usize = 64 + 16 * N_SECTIONS;

/// The sections, in file order.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Section {
    Source = 0,
    Vocab,
    Offsets,
    Words,
    Unigrams,
    BigramProbs,
    BigramBackoffs,
    TrigramProbs,
    Ngrams,
}

const SECTION_NAMES: [&str; N_SECTIONS] =
    ["source", "vocab", "offsets", "words", "unigrams", "p2", "b2", "p3", "ngrams"];

/// Appends the key bytes of `id` to `key`: a prefix code in which small
/// ids are short (ids 0–127 take 1 byte, up to 16,511 take 2, up to
/// 2,113,663 take 3, the rest 4). Models number their words by falling
/// frequency, so the words most n-grams contain ("the", "of") take one
/// byte: keys get shorter, the FST smaller and lookups take fewer steps.
/// The code keeps numeric order as byte order.
pub fn push_id(key: &mut Vec<u8>, id: WordId) {
    let (code, len) = id_code(id);
    key.extend_from_slice(&code[..len]);
}

/// The key bytes of `id` (see [`push_id`]) and how many there are.
#[inline]
pub fn id_code(id: WordId) -> ([u8; 4], usize) {
    const B2: u32 = 1 << 7;
    const B3: u32 = B2 + (1 << 14);
    const B4: u32 = B3 + (1 << 21);
    if id < B2 {
        ([id as u8, 0, 0, 0], 1)
    } else if id < B3 {
        let x = id - B2;
        ([0x80 | (x >> 8) as u8, x as u8, 0, 0], 2)
    } else if id < B4 {
        let x = id - B3;
        ([0xC0 | (x >> 16) as u8, (x >> 8) as u8, x as u8, 0], 3)
    } else {
        let x = id - B4;
        ([0xE0 | (x >> 24) as u8, (x >> 16) as u8, (x >> 8) as u8, x as u8], 4)
    }
}

/// The key of an n-gram (oldest word first).
pub fn ngram_key(ids: &[WordId]) -> Vec<u8> {
    let mut key = Vec::with_capacity(ids.len() * 3);
    for &id in ids {
        push_id(&mut key, id);
    }
    key
}

/// A bigram to write: its ids (context, word) and bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigramRecord {
    /// (w1, w).
    pub ids: [WordId; 2],
    /// Index into [`ModelParts::bigram_probs`].
    pub prob_bin: u16,
    /// Index into [`ModelParts::bigram_backoffs`].
    pub backoff_bin: u16,
}

/// A trigram to write: its ids (w2, w1, w) and bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrigramRecord {
    /// (w2, w1, w).
    pub ids: [WordId; 3],
    /// Index into [`ModelParts::trigram_probs`].
    pub prob_bin: u16,
}

/// Everything but the n-grams, for [`write`].
#[derive(Debug, Clone)]
pub struct ModelParts {
    /// Where the model came from (shown by `unspin lm stats`).
    pub source: String,
    /// The vocabulary, indexed by word id; no duplicates.
    pub words: Vec<String>,
    /// The id of `<s>`.
    pub bos: WordId,
    /// The id of `</s>`.
    pub eos: WordId,
    /// log10 probability given to a word not in the vocabulary.
    pub unk_log10: f32,
    /// Per word id: (log10 probability, log10 back-off weight).
    pub unigrams: Vec<(f32, f32)>,
    /// Bigram probability bins (log10).
    pub bigram_probs: Vec<f32>,
    /// Bigram back-off bins (log10).
    pub bigram_backoffs: Vec<f32>,
    /// Trigram probability bins (log10).
    pub trigram_probs: Vec<f32>,
}

/// Writes a model. Word ids should be numbered by falling frequency (see
/// [`push_id`]); any order works. Returns the bytes written.
pub fn write<W: Write>(
    parts: &ModelParts,
    bigrams: &[BigramRecord],
    trigrams: &[TrigramRecord],
    mut out: W,
) -> Result<u64> {
    let fail = |message: String| Error::Model { input: "(model being written)".into(), message };
    let v = parts.words.len();
    if v == 0 || v > MAX_WORDS {
        return Err(fail(format!("vocabulary size {v} outside 1..={MAX_WORDS}")));
    }
    if parts.unigrams.len() != v {
        return Err(fail(format!("{} unigrams for {v} words", parts.unigrams.len())));
    }
    for (name, bins) in
        [("p2", &parts.bigram_probs), ("b2", &parts.bigram_backoffs), ("p3", &parts.trigram_probs)]
    {
        if bins.is_empty() || bins.len() > MAX_BINS {
            return Err(fail(format!("{} {name} bins, not 1..={MAX_BINS}", bins.len())));
        }
    }
    if parts.bos as usize >= v || parts.eos as usize >= v {
        return Err(fail("<s> or </s> is not in the vocabulary".into()));
    }

    let mut sorted: Vec<(&str, u64)> =
        parts.words.iter().enumerate().map(|(i, w)| (w.as_str(), i as u64)).collect();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|p| p[0].0 == p[1].0) {
        return Err(fail(format!("the word {:?} is in the vocabulary twice", pair[0].0)));
    }
    let vocab = fst::Map::from_iter(sorted)?.into_fst().into_inner();

    let mut offsets = Vec::with_capacity(4 * (v + 1));
    let mut blob = Vec::new();
    for w in &parts.words {
        offsets.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        blob.extend_from_slice(w.as_bytes());
    }
    offsets.extend_from_slice(&(blob.len() as u32).to_le_bytes());
    if blob.len() > u32::MAX as usize {
        return Err(fail("the vocabulary is too large".into()));
    }

    let mut unigrams = Vec::with_capacity(8 * v);
    for &(p, b) in &parts.unigrams {
        unigrams.extend_from_slice(&p.to_le_bytes());
        unigrams.extend_from_slice(&b.to_le_bytes());
    }
    let floats = |xs: &[f32]| xs.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();

    // Most bigrams are no trigram's context and back off with weight 1:
    // give the commonest back-off bins the smallest numbers and put them in
    // the value's high half, so that most bigram values fit in 2 bytes.
    let mut uses = vec![0u64; parts.bigram_backoffs.len()];
    for b in bigrams {
        match uses.get_mut(b.backoff_bin as usize) {
            Some(n) => *n += 1,
            None => return Err(fail(format!("back-off bin {} out of range", b.backoff_bin))),
        }
    }
    let mut by_use: Vec<usize> = (0..uses.len()).collect();
    by_use.sort_by_key(|&i| (std::cmp::Reverse(uses[i]), i));
    let mut rank = vec![0u16; uses.len()];
    for (r, &i) in by_use.iter().enumerate() {
        rank[i] = r as u16;
    }
    let backoffs: Vec<f32> = by_use.iter().map(|&i| parts.bigram_backoffs[i]).collect();

    let max_id = v as WordId;
    let mut ngrams: Vec<(Vec<u8>, u64)> = Vec::with_capacity(bigrams.len() + trigrams.len());
    for b in bigrams {
        if b.ids.iter().any(|&id| id >= max_id) || b.prob_bin as usize >= parts.bigram_probs.len() {
            return Err(fail(format!("bigram {:?} out of range", b.ids)));
        }
        let value = (rank[b.backoff_bin as usize] as u64) << 16 | b.prob_bin as u64;
        ngrams.push((ngram_key(&b.ids), value));
    }
    for t in trigrams {
        if t.ids.iter().any(|&id| id >= max_id) || t.prob_bin as usize >= parts.trigram_probs.len()
        {
            return Err(fail(format!("trigram {:?} out of range", t.ids)));
        }
        ngrams.push((ngram_key(&t.ids), t.prob_bin as u64));
    }
    ngrams.sort_unstable();
    if let Some(pair) = ngrams.windows(2).find(|p| p[0].0 == p[1].0) {
        return Err(fail(format!("the n-gram key {:?} is there twice", pair[0].0)));
    }
    let counts = [v as u64, bigrams.len() as u64, trigrams.len() as u64];
    let ngrams = fst::Map::from_iter(ngrams)?.into_fst().into_inner();

    let sections: [&[u8]; N_SECTIONS] = [
        parts.source.as_bytes(),
        &vocab,
        &offsets,
        &blob,
        &unigrams,
        &floats(&parts.bigram_probs),
        &floats(&backoffs),
        &floats(&parts.trigram_probs),
        &ngrams,
    ];
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&3u32.to_le_bytes());
    header.extend_from_slice(&(v as u32).to_le_bytes());
    header.extend_from_slice(&parts.bos.to_le_bytes());
    header.extend_from_slice(&parts.eos.to_le_bytes());
    header.extend_from_slice(&parts.unk_log10.to_le_bytes());
    for c in counts {
        header.extend_from_slice(&c.to_le_bytes());
    }
    header.extend_from_slice(&(N_SECTIONS as u32).to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    let mut offset = HEADER_LEN as u64;
    for s in &sections {
        header.extend_from_slice(&offset.to_le_bytes());
        header.extend_from_slice(&(s.len() as u64).to_le_bytes());
        offset += s.len() as u64;
    }
    debug_assert_eq!(header.len(), HEADER_LEN);
    let io = |e| Error::io("(model being written)", e);
    out.write_all(&header).map_err(io)?;
    for s in &sections {
        out.write_all(s).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(offset)
}

/// A parsed header: where every section is, validated against the file.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub n_words: u32,
    pub bos: WordId,
    pub eos: WordId,
    pub unk_log10: f32,
    pub counts: [u64; 3],
    pub sections: [std::ops::Range<usize>; N_SECTIONS],
}

impl Header {
    /// Parses and checks the header of `bytes` (the whole file): magic,
    /// version, that every section lies inside the file, and that the
    /// fixed-size sections have the sizes the header implies. `name` is
    /// used in error messages.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Header> {
        let bad = |message: String| Error::Model { input: name.to_string(), message };
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(bad("not an unspin language model (bad magic number); build one with \
                            `unspin lm build` or `unspin lm import-sphinx`"
                .into()));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let version = u32_at(8);
        if version != VERSION {
            return Err(bad(format!("format version {version}, this unspin reads {VERSION}")));
        }
        let order = u32_at(12);
        if order != 3 {
            return Err(bad(format!("order {order}, only trigram models are supported")));
        }
        let n_words = u32_at(16);
        let (bos, eos) = (u32_at(20), u32_at(24));
        let unk_log10 = f32::from_le_bytes(bytes[28..32].try_into().unwrap());
        let counts = [u64_at(32), u64_at(40), u64_at(48)];
        if u32_at(56) as usize != N_SECTIONS {
            return Err(bad(format!("{} sections, expected {N_SECTIONS}", u32_at(56))));
        }
        if n_words == 0 || n_words as usize > MAX_WORDS || bos >= n_words || eos >= n_words {
            return Err(bad(format!("bad vocabulary size {n_words} or <s>/</s> ids")));
        }
        if counts[0] != n_words as u64 {
            return Err(bad(format!("{} unigrams for {n_words} words", counts[0])));
        }
        if !unk_log10.is_finite() || unk_log10 > 0.0 {
            return Err(bad(format!("bad unknown-word probability {unk_log10}")));
        }
        let mut sections: [std::ops::Range<usize>; N_SECTIONS] = Default::default();
        for (i, s) in sections.iter_mut().enumerate() {
            let (off, len) = (u64_at(64 + 16 * i), u64_at(72 + 16 * i));
            let end = off.checked_add(len).filter(|&e| e <= bytes.len() as u64);
            match end {
                Some(end) if off >= HEADER_LEN as u64 => *s = off as usize..end as usize,
                _ => {
                    return Err(bad(format!(
                        "section {} ({off}+{len}) lies outside the file ({} bytes); \
                         is the file truncated?",
                        SECTION_NAMES[i],
                        bytes.len()
                    )))
                }
            }
        }
        let v = n_words as usize;
        let expect = |s: Section, len: usize| {
            let got = sections[s as usize].len();
            if got == len {
                Ok(())
            } else {
                Err(bad(format!(
                    "section {} is {got} bytes, expected {len}",
                    SECTION_NAMES[s as usize]
                )))
            }
        };
        expect(Section::Offsets, 4 * (v + 1))?;
        expect(Section::Unigrams, 8 * v)?;
        for s in [Section::BigramProbs, Section::BigramBackoffs, Section::TrigramProbs] {
            let len = sections[s as usize].len();
            if len == 0 || len & 3 != 0 || len / 4 > MAX_BINS {
                return Err(bad(format!(
                    "section {} has a bad size ({len} bytes)",
                    SECTION_NAMES[s as usize]
                )));
            }
        }
        Ok(Header { n_words, bos, eos, unk_log10, counts, sections })
    }
}

/// Reads little-endian `f32`s.
pub(crate) fn read_f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}
