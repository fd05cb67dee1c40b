//! A reader for the CMU Sphinx "Trie Language Model" binary (`*.lm.bin`).
//!
//! This is how the shipped model is made: `scripts/lm/convert` fetches the
//! Debian package `pocketsphinx-en-us`, and `unspin lm import-sphinx` reads
//! its `en-us.lm.bin` with this module and writes our own format (see
//! [`super::format`]).
//!
//! The layout, as sphinxbase (`lm_trie.c`, `lm_trie_quant.c`,
//! `ngram_model_trie.c`, `bitarr.c`) writes it on a little-endian machine:
//!
//! ```text
//! "Trie Language Model"          19 bytes, no NUL
//! order                          u8
//! counts[order]                  u32 each (n-grams per order)
//! quantizer type                 i32 (1: 16-bit bins; ignored by sphinxbase)
//! quantizer tables               f32 × 2^16 per table: for every middle order
//!                                a probability table then a back-off table,
//!                                then the highest order's probability table
//! unigrams[counts[0] + 1]        { prob: f32, backoff: f32, next: u32 }; the
//!                                extra one only ends the last `next` range
//! middle arrays, highest order   bit-packed records, see below
//! word strings                   i32 byte length, then NUL-terminated words
//! ```
//!
//! The trie is *reversed*: the children of unigram `w` are the words `w1`
//! such that the bigram "w1 w" exists, and the children of that middle
//! record are the `w2` of the trigrams "w2 w1 w". So a record's probability
//! is that of the n-gram read from the record back to the root, and its
//! back-off weight is the weight of that n-gram used as a context.
//!
//! A middle record is `word_bits` (enough bits for the vocabulary size) of
//! word id, 16 bits of back-off bin, 16 bits of probability bin, then
//! `next_bits` (enough for the next order's count) of the index of its first
//! child; its last child is just before the next record's first. A record of
//! the highest order is a word id and a 16-bit probability bin. Records are
//! packed with no padding; each section ends with 8 spare bytes. A field is
//! read, as sphinxbase does, as the little-endian `u32` at byte
//! `offset / 8`, shifted right by `offset % 8` and masked; we do exactly that
//! (not a "cleaner" 64-bit read) so that we return the very bits the
//! reference implementation returns.
//!
//! Values are natural-ish logarithms in sphinxbase's `logmath` base 1.0001:
//! log10 p = value × log10(1.0001).
//!
//! When sphinxbase builds a trie it inserts a middle record for every
//! missing suffix of a longer n-gram (so that the longer one is reachable),
//! with the backed-off probability and a zero back-off. Those records are
//! part of the model as sphinxbase answers queries, so we keep them too.

use crate::error::{Error, Result};

use super::format::{BigramRecord, ModelData, ModelParts, TrigramRecord, MAX_BINS};
use super::quant::Quantizer;
use super::WordId;

const MAGIC: &[u8] = b"Trie Language Model";

/// Bins of a 16-bit quantizer table.
const BINS: usize = 1 << 16;

/// log10 of sphinxbase's default `logmath` base, 1.0001.
pub const LOG10_BASE: f64 = 4.342_727_686_266_964e-5;

/// A Sphinx trigram model read into memory, ready to be re-encoded.
#[derive(Debug)]
pub struct SphinxModel {
    /// The words, indexed by Sphinx word id.
    pub words: Vec<String>,
    /// Per word id: (log10 probability, log10 back-off weight).
    pub unigrams: Vec<(f32, f32)>,
    /// The bigram probability bins (log10).
    pub bigram_probs: Vec<f32>,
    /// The bigram back-off bins (log10).
    pub bigram_backoffs: Vec<f32>,
    /// The trigram probability bins (log10).
    pub trigram_probs: Vec<f32>,
    /// Bigrams in the model's own order: (w1, w, probability bin, back-off bin).
    pub bigrams: Vec<Bigram>,
    /// Trigrams in the model's own order: (w2, w1, w, probability bin).
    pub trigrams: Vec<Trigram>,
    /// The n-gram counts the header states. They are capacities: sphinxbase
    /// counts the filler records it will need before building the trie and
    /// can overestimate (en-us.lm.bin promises 6 more bigrams than its trie
    /// holds). Only records reachable from the unigrams are part of the
    /// model, as in sphinxbase.
    pub header_counts: [u32; 3],
    /// How many nodes have children out of word order. sphinxbase finds a
    /// child by interpolation search, which assumes order and can then miss
    /// some (en-us.lm.bin has 2 such nodes).
    pub unsorted_nodes: usize,
    /// How many records sphinxbase's search cannot reach, and so are left
    /// out, as sphinxbase leaves them out of every answer (en-us.lm.bin: 2
    /// trigrams, "whips and bullhorns" and "`<s>` and jerri").
    pub unreachable: usize,
}

/// One bigram "w1 w" of a Sphinx model, with its quantizer bins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bigram {
    /// The context word.
    pub w1: WordId,
    /// The predicted word.
    pub w: WordId,
    /// Index into [`SphinxModel::bigram_probs`].
    pub prob_bin: u16,
    /// Index into [`SphinxModel::bigram_backoffs`].
    pub backoff_bin: u16,
}

/// One trigram "w2 w1 w" of a Sphinx model, with its quantizer bin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigram {
    /// The first context word.
    pub w2: WordId,
    /// The second context word.
    pub w1: WordId,
    /// The predicted word.
    pub w: WordId,
    /// Index into [`SphinxModel::trigram_probs`].
    pub prob_bin: u16,
}

/// Where sphinxbase's interpolation search for `key` among the records
/// `begin..end` of `packed` lands, computed as sphinxbase computes it
/// (32-bit unsigned arithmetic, wrapping included): `Some(index)` of the
/// record it returns, `None` if it gives up. On sorted children this finds
/// every record; on unsorted ones it can miss some, and whatever it misses
/// sphinxbase never uses.
fn reference_find(
    packed: &Packed<'_>,
    word_bits: u32,
    begin: u32,
    end: u32,
    max_vocab: u32,
    key: u32,
) -> Option<u32> {
    let (mut before_it, mut before_v) = (begin.wrapping_sub(1), 0u32);
    let (mut after_it, mut after_v) = (end, max_vocab);
    // The search narrows at every step on sorted data; the cap only stops
    // a pathological file from looping.
    for _ in 0..64 {
        if after_it.wrapping_sub(before_it) <= 1 {
            return None;
        }
        let off = key.wrapping_sub(before_v);
        let range = after_v.wrapping_sub(before_v);
        let width = after_it.wrapping_sub(before_it).wrapping_sub(1);
        let step = off.wrapping_mul(width).checked_div(range.wrapping_add(1))?;
        let pivot = before_it.wrapping_add(1).wrapping_add(step);
        let mid = packed.read(pivot as u64, 0, word_bits)?;
        match mid.cmp(&key) {
            std::cmp::Ordering::Less => (before_it, before_v) = (pivot, mid),
            std::cmp::Ordering::Greater => (after_it, after_v) = (pivot, mid),
            std::cmp::Ordering::Equal => return Some(pivot),
        }
    }
    None
}

/// A cursor over the file that turns every short read into an error naming
/// the file and the part being read, never a panic.
struct Cursor<'a> {
    name: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end =
            self.pos.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or_else(|| {
                bad(
                    self.name,
                    format!(
                        "truncated: {what} needs {n} bytes at offset {}, the file has {}",
                        self.pos,
                        self.bytes.len()
                    ),
                )
            })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>> {
        let b = self.take(n * 4, what)?;
        Ok(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}

fn bad(name: &str, message: impl Into<String>) -> Error {
    Error::Model { input: name.to_string(), message: message.into() }
}

/// Bits needed to store `max` (0 needs none), as sphinxbase counts them.
fn required_bits(max: u32) -> u32 {
    32 - max.leading_zeros()
}

/// A bit-packed array: fixed-width records read field by field.
struct Packed<'a> {
    bytes: &'a [u8],
    record_bits: u64,
}

impl Packed<'_> {
    /// Reads `bits` bits at bit `at` of record `index`, the way sphinxbase's
    /// `bitarr_read_int25` does (see the module docs). `None` if the read
    /// would leave the section.
    fn read(&self, index: u64, at: u64, bits: u32) -> Option<u32> {
        let offset = index * self.record_bits + at;
        let byte = usize::try_from(offset / 8).ok()?;
        let word = self.bytes.get(byte..byte.checked_add(4)?)?;
        let word = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        let mask = if bits >= 32 { u32::MAX } else { (1u32 << bits) - 1 };
        Some((word >> (offset % 8)) & mask)
    }
}

/// Byte size of a packed section of `entries` records (plus the one that
/// ends the last range, and 8 spare bytes), as sphinxbase allocates it.
fn section_size(entries: u32, record_bits: u32) -> u64 {
    ((1 + entries as u64) * record_bits as u64).div_ceil(8) + 8
}

impl SphinxModel {
    /// Parses a Sphinx trie binary. `name` is used in error messages.
    ///
    /// Only trigram models (order 3), as shipped by pocketsphinx, are read.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<SphinxModel> {
        let mut cur = Cursor { name, bytes, pos: 0 };
        if cur.take(MAGIC.len(), "the header")? != MAGIC {
            return Err(bad(name, "not a Sphinx trie language model (bad header)"));
        }
        let order = cur.take(1, "the order")?[0];
        if order != 3 {
            return Err(bad(name, format!("order {order} is not supported (only trigram models)")));
        }
        let n1 = cur.u32("the unigram count")?;
        let n2 = cur.u32("the bigram count")?;
        let n3 = cur.u32("the trigram count")?;
        // sphinxbase's packed fields are at most 25 bits wide.
        if n1 == 0 || n1 >= 1 << 25 || n2 >= 1 << 25 || n3 >= 1 << 25 {
            return Err(bad(name, format!("implausible n-gram counts {n1}/{n2}/{n3}")));
        }
        let _quant_type = cur.u32("the quantizer type")?;
        let to_log10 = |v: f32| (v as f64 * LOG10_BASE) as f32;
        let bigram_probs: Vec<f32> =
            cur.f32s(BINS, "the bigram probability bins")?.into_iter().map(to_log10).collect();
        let bigram_backoffs: Vec<f32> =
            cur.f32s(BINS, "the bigram back-off bins")?.into_iter().map(to_log10).collect();
        let trigram_probs: Vec<f32> =
            cur.f32s(BINS, "the trigram probability bins")?.into_iter().map(to_log10).collect();

        let raw = cur.take((n1 as usize + 1) * 12, "the unigrams")?;
        let mut unigrams = Vec::with_capacity(n1 as usize);
        let mut next = Vec::with_capacity(n1 as usize + 1);
        for rec in raw.chunks_exact(12) {
            let f = |i: usize| f32::from_le_bytes([rec[i], rec[i + 1], rec[i + 2], rec[i + 3]]);
            unigrams.push((to_log10(f(0)), to_log10(f(4))));
            next.push(u32::from_le_bytes([rec[8], rec[9], rec[10], rec[11]]));
        }
        unigrams.truncate(n1 as usize);

        let word_bits = required_bits(n1);
        let next_bits = required_bits(n3);
        let middle_bits = word_bits + 32 + next_bits;
        let longest_bits = word_bits + 16;
        let middle = cur.take(section_size(n2, middle_bits) as usize, "the bigram records")?;
        let longest = cur.take(section_size(n3, longest_bits) as usize, "the trigram records")?;
        let middle = Packed { bytes: middle, record_bits: middle_bits as u64 };
        let longest = Packed { bytes: longest, record_bits: longest_bits as u64 };

        let blob_len = cur.u32("the word strings' length")? as usize;
        let blob = cur.take(blob_len, "the word strings")?;
        if cur.pos != bytes.len() {
            return Err(bad(
                name,
                format!("{} unexpected bytes at the end", bytes.len() - cur.pos),
            ));
        }
        let words = parse_words(name, blob, n1)?;

        let mut model = SphinxModel {
            words,
            unigrams,
            bigram_probs,
            bigram_backoffs,
            trigram_probs,
            bigrams: Vec::with_capacity(n2 as usize),
            trigrams: Vec::with_capacity(n3 as usize),
            unsorted_nodes: 0,
            unreachable: 0,
            header_counts: [n1, n2, n3],
        };
        let corrupt = |what: &str| bad(name, format!("corrupt trie: {what}"));
        let check_range = |begin: u32, end: u32, len: u32, what: &str| {
            if begin > end || end > len {
                Err(corrupt(&format!("{what} range {begin}..{end} outside 0..{len}")))
            } else {
                Ok(())
            }
        };
        let word_field = word_bits as u64;
        for w in 0..n1 {
            let (begin, end) = (next[w as usize], next[w as usize + 1]);
            check_range(begin, end, n2, "unigram child")?;
            let mut prev = None;
            for i in begin..end {
                let field = |index: u32, at: u64, bits: u32| {
                    middle
                        .read(index as u64, at, bits)
                        .ok_or_else(|| corrupt("bigram record out of bounds"))
                };
                let w1 = field(i, 0, word_bits)?;
                let backoff_bin = field(i, word_field, 16)? as u16;
                let prob_bin = field(i, word_field + 16, 16)? as u16;
                let child_begin = field(i, word_field + 32, next_bits)?;
                let child_end = field(i + 1, word_field + 32, next_bits)?;
                if w1 >= n1 {
                    return Err(corrupt(&format!("bigram word id {w1} ≥ {n1}")));
                }
                check_range(child_begin, child_end, n3, "bigram child")?;
                if prev.is_some_and(|p| p >= w1) {
                    model.unsorted_nodes += 1;
                }
                prev = Some(w1);
                // A record sphinxbase's search cannot reach does not exist
                // for it, nor do the records under it.
                if reference_find(&middle, word_bits, begin, end, n1, w1) != Some(i) {
                    model.unreachable += 1 + (child_end - child_begin) as usize;
                    continue;
                }
                model.bigrams.push(Bigram { w1, w, prob_bin, backoff_bin });
                let mut prev2 = None;
                for j in child_begin..child_end {
                    let field = |at: u64, bits: u32| {
                        longest
                            .read(j as u64, at, bits)
                            .ok_or_else(|| corrupt("trigram record out of bounds"))
                    };
                    let w2 = field(0, word_bits)?;
                    let prob_bin = field(word_field, 16)? as u16;
                    if w2 >= n1 {
                        return Err(corrupt(&format!("trigram word id {w2} ≥ {n1}")));
                    }
                    if prev2.is_some_and(|p| p >= w2) {
                        model.unsorted_nodes += 1;
                    }
                    prev2 = Some(w2);
                    if reference_find(&longest, word_bits, child_begin, child_end, n1, w2)
                        != Some(j)
                    {
                        model.unreachable += 1;
                        continue;
                    }
                    model.trigrams.push(Trigram { w2, w1, w, prob_bin });
                }
            }
        }
        Ok(model)
    }

    /// Re-encodes the model in our format, for [`super::format::write`]. `source`
    /// describes the model's origin.
    ///
    /// Each of Sphinx's three tables of 65,536 bins is requantized to 256
    /// ([`Quantizer`]): the optimal 1-D k-means of the bins' values, each
    /// weighted by how many n-grams use it, so that the squared log10 error
    /// summed over the n-grams is least. An n-gram's new bin is the one
    /// nearest its old value. The back-off 0 that 86% of the bigrams share
    /// (those that are no trigram's context) keeps a bin of its own, which
    /// the few light values it takes in move by only 4e-8.
    ///
    /// Words are renumbered by falling unigram probability (see
    /// [`super::format::write`]). Sphinx gives an unknown word probability zero;
    /// a decoder needs a finite floor, so unknown words get one log10 unit
    /// below the rarest word's probability.
    pub fn to_parts(&self, source: &str) -> Result<ModelData> {
        let n = self.words.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            self.unigrams[b].0.total_cmp(&self.unigrams[a].0).then_with(|| a.cmp(&b))
        });
        let mut new_id = vec![0 as WordId; n];
        for (new, &old) in order.iter().enumerate() {
            new_id[old] = new as WordId;
        }
        let marker = |w: &str| {
            self.word_id(w)
                .map(|id| new_id[id as usize])
                .ok_or_else(|| bad("(Sphinx model)", format!("no {w} in the vocabulary")))
        };
        let (bos, eos) = (marker("<s>")?, marker("</s>")?);
        let rarest =
            self.unigrams.iter().map(|u| u.0).filter(|&p| p > -90.0).fold(0.0f32, f32::min);
        let p2 = Requantized::new(&self.bigram_probs, self.bigrams.iter().map(|b| b.prob_bin));
        let b2 =
            Requantized::new(&self.bigram_backoffs, self.bigrams.iter().map(|b| b.backoff_bin));
        let p3 = Requantized::new(&self.trigram_probs, self.trigrams.iter().map(|t| t.prob_bin));
        let bigrams = self
            .bigrams
            .iter()
            .map(|b| BigramRecord {
                ids: [new_id[b.w1 as usize], new_id[b.w as usize]],
                prob_bin: p2.bin(b.prob_bin),
                backoff_bin: b2.bin(b.backoff_bin),
            })
            .collect();
        let trigrams = self
            .trigrams
            .iter()
            .map(|t| TrigramRecord {
                ids: [new_id[t.w2 as usize], new_id[t.w1 as usize], new_id[t.w as usize]],
                prob_bin: p3.bin(t.prob_bin),
            })
            .collect();
        let parts = ModelParts {
            source: source.to_string(),
            words: order.iter().map(|&i| self.words[i].clone()).collect(),
            bos,
            eos,
            unk_log10: rarest - 1.0,
            unigrams: order.iter().map(|&i| self.unigrams[i]).collect(),
            bigram_probs: p2.quantizer.values,
            bigram_backoffs: b2.quantizer.values,
            trigram_probs: p3.quantizer.values,
        };
        Ok(ModelData { parts, bigrams, trigrams })
    }

    /// The id of `word`, if it is in the vocabulary (a linear search: for
    /// tests and tools, not for scoring).
    pub fn word_id(&self, word: &str) -> Option<WordId> {
        self.words.iter().position(|w| w == word).map(|i| i as WordId)
    }
}

/// One of Sphinx's bin tables requantized to at most 256 bins.
struct Requantized {
    quantizer: Quantizer,
    /// Per Sphinx bin: its new bin.
    map: Vec<u8>,
}

impl Requantized {
    /// Requantizes `values` (Sphinx's bins), weighting each by how many of
    /// `used` (one Sphinx bin per n-gram) name it.
    fn new(values: &[f32], used: impl Iterator<Item = u16>) -> Requantized {
        let mut weights = vec![0.0f64; values.len()];
        for bin in used {
            if let Some(w) = weights.get_mut(bin as usize) {
                *w += 1.0;
            }
        }
        let quantizer = Quantizer::new(values.iter().copied().zip(weights), MAX_BINS);
        let map = values.iter().map(|&v| quantizer.bin(v)).collect();
        Requantized { quantizer, map }
    }

    /// The new bin of Sphinx bin `bin`.
    fn bin(&self, bin: u16) -> u8 {
        self.map.get(bin as usize).copied().unwrap_or(0)
    }
}

fn parse_words(name: &str, blob: &[u8], n1: u32) -> Result<Vec<String>> {
    let mut words = Vec::with_capacity(n1 as usize);
    let mut parts = blob.split(|&b| b == 0);
    for i in 0..n1 {
        let word = parts
            .next()
            .filter(|w| !w.is_empty())
            .ok_or_else(|| bad(name, format!("word string {i} is missing or empty")))?;
        // Sphinx writes its words' bytes as given. The models are ASCII
        // but for the odd Latin-1 word (the SpeechRecognition model spells
        // "déjà" so), which is read as Latin-1 rather than refused.
        let word = match std::str::from_utf8(word) {
            Ok(w) => w.to_string(),
            Err(_) => word.iter().map(|&b| b as char).collect(),
        };
        words.push(word);
    }
    // The blob ends with the last word's NUL, so one empty part remains.
    if parts.next() != Some(&[][..]) || parts.next().is_some() {
        return Err(bad(name, format!("the word strings hold more than {n1} words")));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_bits_matches_sphinxbase() {
        assert_eq!(required_bits(0), 0);
        assert_eq!(required_bits(1), 1);
        assert_eq!(required_bits(72_547), 17);
        assert_eq!(required_bits(1 << 20), 21);
    }

    #[test]
    fn packed_reads_unaligned_fields() {
        // Two 12-bit records: 0xABC then 0x123, little-endian bit order.
        let bytes = [0xBC, 0x3A, 0x12, 0, 0, 0, 0, 0];
        let p = Packed { bytes: &bytes, record_bits: 12 };
        assert_eq!(p.read(0, 0, 12), Some(0xABC));
        assert_eq!(p.read(1, 0, 12), Some(0x123));
        assert_eq!(p.read(1, 4, 8), Some(0x12));
        assert_eq!(p.read(4, 0, 12), None);
    }

    #[test]
    fn words_read_as_latin_1_when_not_utf_8() {
        let words = parse_words("x", b"<s>\0d\xe9j\xe0\0caf\xc3\xa9\0", 3).unwrap();
        assert_eq!(words, ["<s>", "d\u{e9}j\u{e0}", "caf\u{e9}"]);
        assert!(parse_words("x", b"a\0\0", 2).is_err());
        assert!(parse_words("x", b"a\0b\0c\0", 2).is_err());
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(SphinxModel::parse("x", b"").is_err());
        assert!(SphinxModel::parse("x", b"Trie Language Model").is_err());
        let mut bytes = b"Trie Language Model\x03".to_vec();
        bytes.extend_from_slice(&[5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
        bytes.resize(bytes.len() + 1000, 0);
        assert!(SphinxModel::parse("x", &bytes).is_err());
    }
}
