//! The on-disk model format: a small header, a table of sections, a
//! vocabulary FST and two hash tables of n-grams, all read in place (from
//! `include_bytes!` or a memory map) with no building step when a model is
//! opened.
//!
//! ```text
//! offset size
//!      0    8  magic "UNSPINLM"
//!      8    4  format version (4)
//!     12    4  order (3)
//!     16    4  vocabulary size V (word ids 0..V; V itself is <unk>)
//!     20    4  id of <s>
//!     24    4  id of </s>
//!     28    4  log10 probability of an unknown word (f32)
//!     32   24  n-gram counts per order (u64 × 3)
//!     56    4  number of sections (10)
//!     60    4  flags; bit 0: every trigram's context (w2 w1) is a bigram
//!     64    8  checksum of the whole file, this field counted as 0
//!     72  160  sections: (offset u64, length u64) × 10, in this order:
//!              source    UTF-8 description of where the model came from
//!              vocab     FST map: word → id
//!              offsets   u32 × (V + 1): where each word starts in `words`
//!              words     the words, concatenated, in id order
//!              unigrams  (log10 prob f32, log10 back-off f32) × V
//!              p2, b2    bigram probability and back-off bins (f32 each,
//!                        at most 256, see [`super::quant`])
//!              p3        trigram probability bins (ditto)
//!              bigrams   hash table: (w1 w) → prob bin, back-off bin
//!              trigrams  hash table: (w2 w1 w) → prob bin
//! ```
//!
//! Everything is little-endian; nothing is aligned (an `include_bytes!`
//! array need not be), so readers decode with `from_le_bytes`.
//!
//! # The n-gram tables
//!
//! Each table is open addressing with linear probing, as in KenLM's
//! probing structure, with the entries of every run of full slots in order
//! of their home slot (the layout of an ordered, or Robin Hood, table):
//!
//! ```text
//!      0    8  seed (u64), mixed into every key's hash
//!      8    8  home slots H (1 ≤ H < 2^32)
//!     16       slots, W bytes each: S ≥ H of them, the last one empty
//! ```
//!
//! A key's 64-bit hash `h` ([`bigram_hash`], [`trigram_hash`]: a splitmix64
//! finalizer over the word ids and the seed) picks the home slot from its
//! low 32 bits, `(h mod 2^32) · H / 2^32` (a multiply and a shift, so H
//! need not be a power of two), and gives the fingerprint from its high
//! bits. Keys that run past the last home slot spill into the slots after
//! it, so a probe never wraps; the writer ends the table with an empty
//! slot, so a probe always stops inside it. The load factor is at most 0.8
//! (H ≥ 1.25 × entries).
//!
//! Every slot starts with a three-byte *key word* (a reader loads the
//! slot's first four bytes and masks off the fourth): bits
//! 0–3 hold the entry's displacement field, `min(slot − home, 14) + 1` (so
//! 1–15; 15 means "displaced by 14 or more", and 0 marks an empty slot),
//! and the bits above them the fingerprint. The values are one-byte bins.
//!
//! * A bigram slot (W = 5): key word, u8 probability bin, u8 back-off bin.
//!   Bit 23 of the key word says that the bigram is the context of at
//!   least one trigram, so a decoder looks for trigrams after (w2 w1) only
//!   when it is; the fingerprint is bits 4–22 (19 bits, bits 36–54 of `h`).
//! * A trigram slot (W = 4): key word, u8 probability bin; the fingerprint
//!   is bits 4–23 (20 bits, bits 36–55 of `h`).
//!
//! The bins index the `p2`/`b2`/`p3` tables, at most 256 values each,
//! which a writer chooses with [`super::quant`] (a Sphinx model's 65,536
//! bins are requantized, see [`super::sphinx`]). The shipped model's tables
//! take 21.2 MB, where version 3's 8- and 6-byte slots (27- and 28-bit
//! fingerprints, 16-bit bins) took 33.0 MB: a bulk run's lookups are
//! scattered over the tables, and they miss the caches less when the
//! tables are smaller.
//!
//! The writer places the keys in order of their home slot, each in the
//! first free slot from its home on, so a key that is displaced by d sits
//! after every key with an earlier home in its run and before every key
//! with a later one. A lookup reads slots from the home on; at probe
//! distance d it wants the key word `fingerprint | min(d, 14) + 1`, and:
//!
//! * a hit is a slot whose key word (less the bigram's flag) is exactly
//!   that;
//! * a miss is a slot whose displacement field is smaller than the one it
//!   wants. An empty slot has field 0. An entry displaced by less than d
//!   from a slot d after our home has a later home than ours, so in an
//!   ordered run no key of our home comes after it. A saturated field (15)
//!   is never smaller than the wanted one, so it never stops a probe early
//!   however far its entry is displaced: the rule is exact for any
//!   displacement, only slower past 14.
//!
//! So a miss stops about where a hit would have been: `unspin score` over
//! the BBC corpus reads 3.43 slots per missing bigram or trigram (the same
//! in versions 3 and 4, whose runs are laid out alike), where
//! version 2, which had to read to the end of the run, read 13. (Hits read
//! a little more than in version 2, 2.9 slots rather than 2.1–2.6: there
//! the n-grams of frequent words, written first, took the slots nearest
//! their homes.) Four displacement bits: in the shipped model 0.28% of
//! the entries are displaced by 14 or more (saturated), where three bits
//! would saturate at 6, passed by about 8% of the entries at load 0.8; a
//! fifth bit would shorten almost nothing and cost a fingerprint bit.
//!
//! The keys themselves are not stored, so an n-gram that is not in the
//! model is taken for one that is when a slot on its probe path holds the
//! key word it wants there. Since the displacement is part of that word,
//! and the run is ordered, only the slots of the keys that share its home
//! slot (0.8 of them on average at load 0.8) and saturated slots are
//! candidates: measured over the BBC corpus, 0.83 slots per absent n-gram,
//! so the probability of a false hit is about 0.83 × 2^-20 ≈ 7.9e-7 per
//! absent trigram and 0.83 × 2^-19 ≈ 1.6e-6 per absent bigram (version 3,
//! with 28- and 27-bit fingerprints: 3.1e-9 and 6.2e-9). Counted directly
//! over `unspin restore` on the BBC corpus, which looks up 1.60 M distinct
//! absent bigrams and 1.63 M distinct absent trigrams (10.9 M lookups in
//! all): 2 bigrams and no trigram were taken for present ones (2.5 and 1.3
//! expected), so one lookup in some 5 million gets a probability that the
//! model holds for another n-gram.
//!
//! The same can befall a stored n-gram: when an earlier key of its home
//! has its fingerprint, its lookup stops there and reads that key's
//! values. A table of n keys holds about 0.4 n pairs of keys that share a
//! home, so λ = 0.4 n / 2^f such collisions are expected for f-bit
//! fingerprints: 1.6 among the shipped bigrams, 0.6 among its trigrams.
//! The writer checks every key and changes the seed until none is
//! shadowed (a seed succeeds with probability e^-λ; for the shipped model
//! the first one did), trying at most 16; past that, in a table of some
//! millions of keys more, it keeps the seed that shadows the fewest, and
//! each of those few n-grams answers with a neighbour's values, as an
//! absent n-gram with a false hit does.
//!
//! Unigrams are not in the tables: every word has one, so a plain array
//! indexed by id is smaller and faster.
//!
//! Version 1 stored the n-grams in an FST, version 2 had these tables
//! with unordered runs and 31/32-bit fingerprints and no displacements, and
//! version 3 had 16-bit bins in 8- and 6-byte slots; such files are
//! rejected with a message saying how to rebuild them.

use std::io::Write;

use crate::error::{Error, Result};

use super::WordId;

/// The first bytes of every model file.
pub const MAGIC: &[u8; 8] = b"UNSPINLM";
/// The format version this code reads and writes.
pub const VERSION: u32 = 4;
/// The largest vocabulary a model may have (one more id is `<unk>`).
pub const MAX_WORDS: usize = (1 << 24) - 1;
/// The most bins a quantizer table may have (bin indices are one byte).
pub const MAX_BINS: usize = super::quant::MAX_BINS;

const N_SECTIONS: usize = 10;
const CHECKSUM_AT: usize = 64;
const HEADER_LEN: usize = 72 + 16 * N_SECTIONS;

/// Header flag: every trigram's context (w2 w1) is itself a bigram, so a
/// context that is no bigram has no trigrams after it.
const FLAG_CONTEXTS_ARE_BIGRAMS: u32 = 1;

/// Bytes before a table's first slot: seed and home slot count.
pub(crate) const TABLE_HEADER_LEN: usize = 16;
/// Bytes of a slot's key word (the slot's first bytes; a reader loads four
/// and masks off the fourth, the first value byte).
pub(crate) const KEY_BYTES: usize = 3;
/// Bytes per bigram slot: key word, probability bin, back-off bin.
pub(crate) const BIGRAM_SLOT: usize = KEY_BYTES + 2;
/// Bytes per trigram slot: key word, probability bin.
pub(crate) const TRIGRAM_SLOT: usize = KEY_BYTES + 1;
/// The bits of the four bytes at a slot's start that are its key word.
const KEY_WORD_MASK: u32 = (1u64 << (8 * KEY_BYTES)).wrapping_sub(1) as u32;
/// The bit of a bigram slot's key word (its top bit) that says the bigram
/// is the context of some trigram.
pub(crate) const BIGRAM_IS_CONTEXT: u32 = (KEY_WORD_MASK >> 1) + 1;
/// The bits of a bigram slot's key word that a lookup compares:
/// fingerprint and displacement field.
pub(crate) const BIGRAM_KEY_MASK: u32 = KEY_WORD_MASK >> 1;
/// The bits of a trigram slot's key word that a lookup compares.
pub(crate) const TRIGRAM_KEY_MASK: u32 = KEY_WORD_MASK;

/// The key word of a slot (at least four bytes long).
#[inline(always)]
pub(crate) fn key_word(slot: &[u8]) -> u32 {
    u32::from_le_bytes([slot[0], slot[1], slot[2], slot[3]]) & KEY_WORD_MASK
}
/// The bits of a key word that hold the displacement field: 0 for an
/// empty slot, else `min(slot − home, DISPLACEMENT_SATURATED - 1) + 1`.
pub(crate) const DISPLACEMENT_MASK: u32 = 0xF;
/// The displacement field of an entry displaced by 14 slots or more.
pub(crate) const DISPLACEMENT_SATURATED: u32 = DISPLACEMENT_MASK;

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
    Bigrams,
    Trigrams,
}

const SECTION_NAMES: [&str; N_SECTIONS] =
    ["source", "vocab", "offsets", "words", "unigrams", "p2", "b2", "p3", "bigrams", "trigrams"];

/// The splitmix64 finalizer: a bijection of u64 whose every output bit
/// depends on every input bit.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Two word ids as one u64, the first in the high half.
#[inline]
fn pair(a: WordId, b: WordId) -> u64 {
    (a as u64) << 32 | b as u64
}

/// The hash of bigram (w1 w) in a table with `seed`.
#[inline]
pub fn bigram_hash(seed: u64, w1: WordId, w: WordId) -> u64 {
    mix(pair(w1, w) ^ seed)
}

/// The part of a trigram's hash that depends on its context (w2 w1), in a
/// table with `seed`: computed once per context, then [`trigram_hash`] per
/// word.
#[inline]
pub fn context_hash(seed: u64, w2: WordId, w1: WordId) -> u64 {
    mix(pair(w2, w1) ^ seed)
}

/// The hash of trigram (w2 w1 w), from its context's [`context_hash`].
#[inline]
pub fn trigram_hash(context: u64, w: WordId) -> u64 {
    mix(context ^ w as u64)
}

/// The home slot (of `homes`) and fingerprint (under key mask `mask`, its
/// displacement bits 0) of a key with hash `h`.
#[inline]
pub(crate) fn home_and_fingerprint(h: u64, homes: u64, mask: u32) -> (usize, u32) {
    let home = ((h & 0xFFFF_FFFF) * homes) >> 32;
    let fp = (h >> 32) as u32 & mask & !DISPLACEMENT_MASK;
    (home as usize, fp)
}

/// Finds the slot of the key with fingerprint `fp` (under key mask `mask`)
/// and home slot `home`: `Some(slot)`, or `None` at a slot whose
/// displacement field says that the key would have come before it (see the
/// module docs), or at the end of `slots`. Always inlined: as a call it
/// cost `unspin score` 0.4% more instructions (callgrind).
#[inline(always)]
pub(crate) fn probe<const W: usize>(
    slots: &[[u8; W]],
    home: usize,
    fp: u32,
    mask: u32,
) -> Option<&[u8; W]> {
    let key_word = |s: &[u8; W]| u32::from_le_bytes(*s.first_chunk::<4>().unwrap()) & mask;
    let mut run = slots.get(home..)?.iter();
    // At probe distance d < 14 the key would have field d + 1 (the loop
    // has a constant trip count, so it is unrolled and every test compares
    // with a constant); from 14 on, the saturated field.
    for field in 1..DISPLACEMENT_SATURATED {
        let s = run.next()?;
        let word = key_word(s);
        if word == fp | field {
            return Some(s);
        }
        if word & DISPLACEMENT_MASK < field {
            return None;
        }
    }
    for s in run {
        let word = key_word(s);
        if word == fp | DISPLACEMENT_SATURATED {
            return Some(s);
        }
        if word & DISPLACEMENT_MASK < DISPLACEMENT_SATURATED {
            return None;
        }
    }
    None
}

/// A bigram to write: its ids (context, word) and bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigramRecord {
    /// (w1, w).
    pub ids: [WordId; 2],
    /// Index into [`ModelParts::bigram_probs`].
    pub prob_bin: u8,
    /// Index into [`ModelParts::bigram_backoffs`].
    pub backoff_bin: u8,
}

/// A trigram to write: its ids (w2, w1, w) and bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrigramRecord {
    /// (w2, w1, w).
    pub ids: [WordId; 3],
    /// Index into [`ModelParts::trigram_probs`].
    pub prob_bin: u8,
}

/// A whole model before it is written: its vocabulary, unigrams and bins,
/// and every bigram and trigram with its word ids (a written model keeps
/// only fingerprints of the n-grams, so this is the only form in which
/// they can be listed).
#[derive(Debug, Clone)]
pub struct ModelData {
    /// Vocabulary, unigrams and bin tables.
    pub parts: ModelParts,
    /// The bigrams.
    pub bigrams: Vec<BigramRecord>,
    /// The trigrams.
    pub trigrams: Vec<TrigramRecord>,
}

impl ModelData {
    /// Writes the model (see [`write()`]); returns the bytes written.
    pub fn write<W: Write>(&self, out: W) -> Result<u64> {
        write(&self.parts, &self.bigrams, &self.trigrams, out)
    }

    /// The model as the bytes of a model file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write(&mut out)?;
        Ok(out)
    }
}

/// Everything but the n-grams, for [`write()`].
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
    /// Bigram probability bins (log10), at most [`MAX_BINS`] (see
    /// [`super::quant::Quantizer`]).
    pub bigram_probs: Vec<f32>,
    /// Bigram back-off bins (log10), at most [`MAX_BINS`].
    pub bigram_backoffs: Vec<f32>,
    /// Trigram probability bins (log10), at most [`MAX_BINS`].
    pub trigram_probs: Vec<f32>,
}

/// One key of a table being built: its ids, and the key word's flag bits
/// and the value bytes to store.
struct Entry {
    /// The key's word ids (the hash is recomputed for every seed tried).
    ids: [WordId; 3],
    flags: u32,
    value: u32,
}

/// Builds one hash table section (see the module docs) holding `entries`,
/// with slots of `W` bytes whose key word is compared under `mask`. `hash`
/// gives a key's hash under a seed. Tries seeds until every key is found
/// at its own slot, at most [`SEED_ATTEMPTS`] of them; if none manages, it
/// keeps the one that leaves the fewest keys shadowed (see the module
/// docs).
fn build_table<const W: usize>(
    entries: &[Entry],
    mask: u32,
    hash: impl Fn(u64, [WordId; 3]) -> u64,
) -> Result<Vec<u8>> {
    let n = entries.len() as u64;
    let homes = n + n / 4 + 1;
    if homes > u32::MAX as u64 {
        return Err(Error::Model {
            input: "(model being written)".into(),
            message: format!("{n} n-grams of one order, too many for a table"),
        });
    }
    let mut seed = 0x6A09_E667_F3BC_C908_u64; // the first 64 bits of frac(√2)
    let mut best: Option<(usize, Vec<u8>)> = None;
    for _attempt in 0..SEED_ATTEMPTS {
        // Keys in order of their home slot (a stable sort, so ties keep
        // the order of `entries`, and the table depends only on the keys),
        // each put in the first free slot from its home on: every slot
        // before `next` is taken, every one from it on is free.
        let mut keyed: Vec<(usize, u32, &Entry)> = entries
            .iter()
            .map(|e| {
                let (home, fp) = home_and_fingerprint(hash(seed, e.ids), homes, mask);
                (home, fp, e)
            })
            .collect();
        keyed.sort_by_key(|&(home, _, _)| home);
        // (key word, value) per slot; a zero word is empty.
        let mut slots: Vec<(u32, u32)> = vec![(0, 0); homes as usize];
        let mut placed = Vec::with_capacity(entries.len());
        let mut next = 0;
        for &(home, fp, e) in &keyed {
            let at = home.max(next);
            if at == slots.len() {
                slots.push((0, 0));
            }
            let displacement = (at - home).min(DISPLACEMENT_SATURATED as usize - 1) as u32 + 1;
            slots[at] = (fp | displacement | e.flags, e.value);
            placed.push((home, fp, at));
            next = at + 1;
        }
        if slots.last().is_some_and(|s| s.0 != 0) {
            slots.push((0, 0));
        }
        let mut bytes = Vec::with_capacity(TABLE_HEADER_LEN + W * slots.len());
        bytes.extend_from_slice(&seed.to_le_bytes());
        bytes.extend_from_slice(&homes.to_le_bytes());
        for &(word, value) in &slots {
            bytes.extend_from_slice(&word.to_le_bytes()[..KEY_BYTES]);
            bytes.extend_from_slice(&value.to_le_bytes()[..W - KEY_BYTES]);
        }
        // A key whose probe path passes a slot with the key word it wants
        // there before its own (another key of the same home with the same
        // fingerprint, or a saturated one) would read that slot's values:
        // try another seed.
        let (view, _) = bytes[TABLE_HEADER_LEN..].as_chunks::<W>();
        let shadowed = placed
            .iter()
            .filter(|&&(home, fp, at)| {
                !probe(view, home, fp, mask).is_some_and(|s| std::ptr::eq(s, &view[at]))
            })
            .count();
        if shadowed == 0 {
            return Ok(bytes);
        }
        if best.as_ref().is_none_or(|(n, _)| shadowed < *n) {
            best = Some((shadowed, bytes));
        }
        seed = mix(seed);
    }
    Ok(best.map(|(_, bytes)| bytes).unwrap_or_default())
}

/// How many seeds [`build_table`] tries for a table in which every key is
/// found at its own slot.
const SEED_ATTEMPTS: usize = 16;

/// A checksum to catch corrupt or truncated files (not tampering): a
/// multiply-rotate chain over 8-byte words, in which any change to one word
/// changes the result.
#[derive(Clone, Copy)]
struct Checksum(u64);

impl Checksum {
    fn new() -> Checksum {
        Checksum(0x243F_6A88_85A3_08D3) // the first 64 bits of frac(π)
    }

    fn add_word(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }

    /// Adds `bytes`; only the last call may pass a length that is not a
    /// multiple of 8.
    fn add(&mut self, bytes: &[u8]) {
        let (words, rest) = bytes.as_chunks::<8>();
        for w in words {
            self.add_word(u64::from_le_bytes(*w));
        }
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add_word(u64::from_le_bytes(last) ^ (rest.len() as u64) << 56);
        }
    }

    /// The checksum of a whole model file: the checksum field counts as 0.
    fn of_file(bytes: &[u8]) -> u64 {
        let mut c = Checksum::new();
        c.add(&bytes[..CHECKSUM_AT]);
        c.add(&[0; 8]);
        c.add(&bytes[CHECKSUM_AT + 8..]);
        c.add_word(bytes.len() as u64);
        c.0
    }
}

/// Writes a model. Word ids should be numbered by falling frequency, so
/// that the unigrams of common words share cache lines; any order works.
/// Returns the bytes written.
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

    // Check every n-gram, and sort them so that the tables do not depend on
    // the order the records came in.
    let max_id = v as WordId;
    let mut bi: Vec<BigramRecord> = bigrams.to_vec();
    for b in &bi {
        if b.ids.iter().any(|&id| id >= max_id)
            || b.prob_bin as usize >= parts.bigram_probs.len()
            || b.backoff_bin as usize >= parts.bigram_backoffs.len()
        {
            return Err(fail(format!("bigram {:?} out of range", b.ids)));
        }
    }
    bi.sort_unstable_by_key(|b| b.ids);
    if let Some(p) = bi.windows(2).find(|p| p[0].ids == p[1].ids) {
        return Err(fail(format!("the bigram {:?} is there twice", p[0].ids)));
    }
    let mut tri: Vec<TrigramRecord> = trigrams.to_vec();
    for t in &tri {
        if t.ids.iter().any(|&id| id >= max_id) || t.prob_bin as usize >= parts.trigram_probs.len()
        {
            return Err(fail(format!("trigram {:?} out of range", t.ids)));
        }
    }
    tri.sort_unstable_by_key(|t| t.ids);
    if let Some(p) = tri.windows(2).find(|p| p[0].ids == p[1].ids) {
        return Err(fail(format!("the trigram {:?} is there twice", p[0].ids)));
    }

    // Which bigrams are trigram contexts, and whether every trigram context
    // is a bigram (then a decoder need not look for trigrams after a
    // context that is no bigram).
    let mut contexts: Vec<[WordId; 2]> = tri.iter().map(|t| [t.ids[0], t.ids[1]]).collect();
    contexts.dedup();
    let is_bigram = |c: &[WordId; 2]| bi.binary_search_by_key(c, |b| b.ids).is_ok();
    let contexts_are_bigrams = contexts.iter().all(is_bigram);
    let bigram_entries: Vec<Entry> = bi
        .iter()
        .map(|b| Entry {
            ids: [b.ids[0], b.ids[1], 0],
            flags: if contexts.binary_search(&b.ids).is_ok() { BIGRAM_IS_CONTEXT } else { 0 },
            value: b.prob_bin as u32 | (b.backoff_bin as u32) << 8,
        })
        .collect();
    let trigram_entries: Vec<Entry> =
        tri.iter().map(|t| Entry { ids: t.ids, flags: 0, value: t.prob_bin as u32 }).collect();
    let bigram_table = build_table::<BIGRAM_SLOT>(&bigram_entries, BIGRAM_KEY_MASK, |s, k| {
        bigram_hash(s, k[0], k[1])
    })?;
    let trigram_table = build_table::<TRIGRAM_SLOT>(&trigram_entries, TRIGRAM_KEY_MASK, |s, k| {
        trigram_hash(context_hash(s, k[0], k[1]), k[2])
    })?;
    let counts = [v as u64, bi.len() as u64, tri.len() as u64];
    let flags = if contexts_are_bigrams { FLAG_CONTEXTS_ARE_BIGRAMS } else { 0 };

    let sections: [&[u8]; N_SECTIONS] = [
        parts.source.as_bytes(),
        &vocab,
        &offsets,
        &blob,
        &unigrams,
        &floats(&parts.bigram_probs),
        &floats(&parts.bigram_backoffs),
        &floats(&parts.trigram_probs),
        &bigram_table,
        &trigram_table,
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
    header.extend_from_slice(&flags.to_le_bytes());
    header.extend_from_slice(&0u64.to_le_bytes()); // the checksum, below
    let mut offset = HEADER_LEN as u64;
    for s in &sections {
        header.extend_from_slice(&offset.to_le_bytes());
        header.extend_from_slice(&(s.len() as u64).to_le_bytes());
        offset += s.len() as u64;
    }
    debug_assert_eq!(header.len(), HEADER_LEN);
    let mut file = header;
    file.reserve(offset as usize - HEADER_LEN);
    for s in &sections {
        file.extend_from_slice(s);
    }
    let checksum = Checksum::of_file(&file);
    file[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&checksum.to_le_bytes());
    let io = |e| Error::io("(model being written)", e);
    out.write_all(&file).map_err(io)?;
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
    /// Every trigram's context is a bigram (see [`FLAG_CONTEXTS_ARE_BIGRAMS`]).
    pub contexts_are_bigrams: bool,
    pub sections: [std::ops::Range<usize>; N_SECTIONS],
}

/// Where a hash table's slots are and how to find a key's home.
#[derive(Debug, Clone)]
pub(crate) struct TableInfo {
    pub seed: u64,
    pub homes: u64,
    /// The slots' bytes within the file.
    pub slots: std::ops::Range<usize>,
}

impl Header {
    /// Parses and checks the header of `bytes` (the whole file): magic,
    /// version, that every section lies inside the file, and that the
    /// fixed-size sections have the sizes the header implies. With `verify`
    /// it also checks the file's checksum (a pass over every byte). `name`
    /// is used in error messages.
    pub fn parse(name: &str, bytes: &[u8], verify: bool) -> Result<Header> {
        let bad = |message: String| Error::Model { input: name.to_string(), message };
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(bad("not an unspin language model (bad magic number); build one with \
                            `unspin lm build` or `unspin lm import-sphinx`"
                .into()));
        }
        let truncated = || {
            bad(format!("the header is cut short ({} bytes); is the file truncated?", bytes.len()))
        };
        if bytes.len() < 12 {
            return Err(truncated());
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let version = u32_at(8);
        let old = match version {
            1 => Some("n-grams in an FST"),
            2 => Some("n-gram tables without displacements"),
            3 => Some("16-bit bins in 8- and 6-byte slots"),
            _ => None,
        };
        if let Some(what) = old {
            return Err(bad(format!(
                "format version {version} ({what}, from an older unspin); this unspin reads \
                 version {VERSION}: rebuild the model with `unspin lm build` or `unspin lm \
                 import-sphinx` (the shipped model with scripts/lm/convert)"
            )));
        }
        if version != VERSION {
            return Err(bad(format!("format version {version}, this unspin reads {VERSION}")));
        }
        if bytes.len() < HEADER_LEN {
            return Err(truncated());
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
        let flags = u32_at(60);
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
            let (off, len) = (u64_at(72 + 16 * i), u64_at(80 + 16 * i));
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
        if verify && Checksum::of_file(bytes) != u64_at(CHECKSUM_AT) {
            return Err(bad(
                "checksum mismatch: the file is corrupt (truncated or modified?)".into()
            ));
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
        Ok(Header {
            n_words,
            bos,
            eos,
            unk_log10,
            counts,
            contexts_are_bigrams: flags & FLAG_CONTEXTS_ARE_BIGRAMS != 0,
            sections,
        })
    }

    /// Checks the hash table in section `s` (slots of `slot` bytes holding
    /// `entries` keys) and says where its slots are.
    pub fn table(
        &self,
        name: &str,
        bytes: &[u8],
        s: Section,
        slot: usize,
        entries: u64,
    ) -> Result<TableInfo> {
        let what = SECTION_NAMES[s as usize];
        let bad = |message: String| Error::Model { input: name.to_string(), message };
        let range = self.sections[s as usize].clone();
        let t = &bytes[range.clone()];
        if t.len() < TABLE_HEADER_LEN || !(t.len() - TABLE_HEADER_LEN).is_multiple_of(slot) {
            return Err(bad(format!("the {what} table has a bad size ({} bytes)", t.len())));
        }
        let seed = u64::from_le_bytes(t[..8].try_into().unwrap());
        let homes = u64::from_le_bytes(t[8..16].try_into().unwrap());
        let n_slots = (t.len() - TABLE_HEADER_LEN) / slot;
        let last_empty = t[t.len() - slot..t.len() - slot + KEY_BYTES] == [0; KEY_BYTES];
        if homes == 0 || homes > u32::MAX as u64 || homes > n_slots as u64 || !last_empty {
            return Err(bad(format!(
                "the {what} table is corrupt ({homes} home slots of {n_slots})"
            )));
        }
        if entries >= n_slots as u64 {
            return Err(bad(format!("{entries} {what} in a table of {n_slots} slots")));
        }
        Ok(TableInfo { seed, homes, slots: range.start + TABLE_HEADER_LEN..range.end })
    }
}

/// Reads little-endian `f32`s.
pub(crate) fn read_f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_leave_the_displacement_bits_and_homes_in_range() {
        for h in [0, u64::MAX, 1 << 32, 0xFFFF_FFFF, 0x8000_0000_0000_0000] {
            for (homes, mask) in [(1, TRIGRAM_KEY_MASK), (7, BIGRAM_KEY_MASK), (1 << 31, 0x1F)] {
                let (home, fp) = home_and_fingerprint(h, homes, mask);
                assert!((home as u64) < homes);
                assert!(fp & !mask == 0 && fp & DISPLACEMENT_MASK == 0);
            }
        }
    }

    #[test]
    fn tables_find_every_key_and_end_empty() {
        let entries: Vec<Entry> = (0..1000u32)
            .map(|i| Entry { ids: [i % 37, i / 37, i], flags: 0, value: i & 0xFF })
            .collect();
        let hash = |s: u64, k: [WordId; 3]| trigram_hash(context_hash(s, k[0], k[1]), k[2]);
        let bytes = build_table::<TRIGRAM_SLOT>(&entries, TRIGRAM_KEY_MASK, hash).unwrap();
        let seed = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        let homes = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
        let (slots, rest) = bytes[TABLE_HEADER_LEN..].as_chunks::<TRIGRAM_SLOT>();
        assert!(rest.is_empty() && slots.len() as u64 >= homes);
        assert_eq!(slots.last().unwrap()[..KEY_BYTES], [0; KEY_BYTES]);
        assert!(entries.len() as f64 / homes as f64 <= 0.8);
        let mut last_home = 0;
        for (at, s) in slots.iter().enumerate() {
            let field = (s[0] as u32 & DISPLACEMENT_MASK) as usize;
            if field == 0 {
                continue;
            }
            // Runs are ordered by home; the field is the displacement + 1.
            assert!(field < DISPLACEMENT_SATURATED as usize, "no saturation at 1000 keys");
            let home = at + 1 - field;
            assert!(home >= last_home || slots[at - 1][..KEY_BYTES] == [0; KEY_BYTES]);
            last_home = home;
        }
        for e in &entries {
            let (home, fp) = home_and_fingerprint(hash(seed, e.ids), homes, TRIGRAM_KEY_MASK);
            let s = probe(slots, home, fp, TRIGRAM_KEY_MASK).unwrap();
            assert_eq!(s[KEY_BYTES] as u32, e.value);
        }
        // Absent keys: at 20-bit fingerprints, about 0.8 candidate slots
        // per miss, a false hit among 10,000 is a 0.8% chance (the seed is
        // fixed, so this either always passes or never).
        for i in 1000..11_000u32 {
            let (home, fp) = home_and_fingerprint(hash(seed, [i, 0, i]), homes, TRIGRAM_KEY_MASK);
            assert!(probe(slots, home, fp, TRIGRAM_KEY_MASK).is_none(), "absent key {i}");
        }
    }

    /// Keys displaced far past the saturated field (here: all sharing one
    /// home) are still found, and absent keys still missed.
    #[test]
    fn saturated_displacements_never_stop_a_probe_early() {
        let entries: Vec<Entry> =
            (0..300u32).map(|i| Entry { ids: [0, 0, i], flags: 0, value: i & 0xFF }).collect();
        // High bits from the key, low bits 0: every key's home is slot 0.
        let hash = |s: u64, k: [WordId; 3]| mix(s ^ k[2] as u64) & !0xFFFF_FFFF;
        let bytes = build_table::<TRIGRAM_SLOT>(&entries, TRIGRAM_KEY_MASK, hash).unwrap();
        let seed = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        let homes = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
        let (slots, _) = bytes[TABLE_HEADER_LEN..].as_chunks::<TRIGRAM_SLOT>();
        assert_eq!(slots[299][0] as u32 & DISPLACEMENT_MASK, DISPLACEMENT_SATURATED);
        for e in &entries {
            let (home, fp) = home_and_fingerprint(hash(seed, e.ids), homes, TRIGRAM_KEY_MASK);
            assert_eq!(home, 0);
            let s = probe(slots, home, fp, TRIGRAM_KEY_MASK).unwrap();
            assert_eq!(s[KEY_BYTES] as u32, e.value);
        }
        // An absent key of this home reads every one of the 300 slots, 286
        // of them saturated and so candidates: with 20-bit fingerprints
        // 1,000 such keys expect 0.27 false hits. Each must be a slot with
        // exactly the key word wanted there; the rest miss.
        let mut false_hits = 0;
        for i in 300..1300u32 {
            let (home, fp) = home_and_fingerprint(hash(seed, [0, 0, i]), homes, TRIGRAM_KEY_MASK);
            if let Some(s) = probe(slots, home, fp, TRIGRAM_KEY_MASK) {
                let word = key_word(s);
                assert_eq!(word & !DISPLACEMENT_MASK, fp, "absent key {i}");
                false_hits += 1;
            }
        }
        assert!(false_hits <= 3, "{false_hits} false hits");
    }

    /// With too few fingerprints for its keys a table still gets written
    /// (with the seed that shadows fewest), and every key is found, at its
    /// own slot or at an earlier one with its key word.
    #[test]
    fn tables_with_unavoidable_shadowing_are_still_written() {
        let entries: Vec<Entry> =
            (0..2000u32).map(|i| Entry { ids: [i, 0, 0], flags: 0, value: i & 0xFF }).collect();
        // Two fingerprints only: every seed shadows hundreds of keys.
        let hash = |s: u64, k: [WordId; 3]| mix(s ^ k[0] as u64) & !(0xFFFF_FFFE << 36);
        let bytes = build_table::<TRIGRAM_SLOT>(&entries, TRIGRAM_KEY_MASK, hash).unwrap();
        let seed = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        let homes = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
        let (slots, _) = bytes[TABLE_HEADER_LEN..].as_chunks::<TRIGRAM_SLOT>();
        let mut own = 0;
        for e in &entries {
            let (home, fp) = home_and_fingerprint(hash(seed, e.ids), homes, TRIGRAM_KEY_MASK);
            let s = probe(slots, home, fp, TRIGRAM_KEY_MASK).unwrap();
            own += (s[KEY_BYTES] as u32 == e.value) as usize;
        }
        assert!(own > 1000 && own < 2000, "{own} of 2000 at their own slots");
    }

    #[test]
    fn checksum_sees_any_one_word_change() {
        let bytes: Vec<u8> = (0..200u8).collect();
        let base = Checksum::of_file(&bytes);
        for at in (0..bytes.len()).filter(|&i| !(CHECKSUM_AT..CHECKSUM_AT + 8).contains(&i)) {
            let mut b = bytes.clone();
            b[at] ^= 1;
            assert_ne!(Checksum::of_file(&b), base, "byte {at}");
        }
        assert_ne!(Checksum::of_file(&bytes[..199]), base);
    }
}
