//! The compiled lexicon file: an FST from spun phrase to a run of candidate
//! records, plus a string table of originals.
//!
//! Layout (all integers little-endian), chosen so a file can be used in place
//! from `include_bytes!` or a memory map with no parsing beyond the header:
//!
//! ```text
//! 0   magic "UNSPLEX1"
//! 8   u32 format version (1)
//! 12  u32 number of sections (5)
//! 16  5 × (u64 offset, u64 length): fst, candidates, string offsets,
//!     string bytes, metadata (JSON)
//! ```
//!
//! * fst: `fst::Map` from normalized spun phrase to `(first << 8) | count`,
//!   an index into the candidate records and how many belong to the key;
//! * candidates: 5-byte records `u24 original id, u8 weight, u8 sources`,
//!   best first. The weight is quantized on a log scale,
//!   `round(-log10(w) * 36)` (steps of 6.6%), which keeps the shipped
//!   lexicon small enough to embed;
//! * string offsets: `u32` × (n + 1), the bounds of original `i` in the
//!   string bytes;
//! * metadata: JSON [`Meta`] with per-source counts and provenance.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lexicon::Sources;

const MAGIC: &[u8; 8] = b"UNSPLEX1";
const VERSION: u32 = 1;
const SECTIONS: usize = 5;
const HEADER_LEN: usize = 16 + SECTIONS * 16;
const RECORD_LEN: usize = 5;
/// At most this many candidates are stored per key (the value packs the count in a byte).
pub const MAX_CANDIDATES: usize = 255;
const WEIGHT_SCALE: f32 = 36.0;
const MAX_STRINGS: usize = 1 << 24;

/// Provenance and counts stored inside a lexicon file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    /// A short name ("embedded", or the user file's name).
    pub name: String,
    /// Number of spun → original pairs.
    pub pairs: u64,
    /// Number of distinct spun phrases.
    pub keys: u64,
    /// Pairs per source ("moby", "wordnet", "hand", "user", "inflected", ...).
    pub sources: std::collections::BTreeMap<String, u64>,
    /// Free-form notes on how the file was built.
    #[serde(default)]
    pub built_from: Vec<String>,
}

/// The bytes behind a lexicon: static (embedded) or owned.
#[derive(Clone, Debug)]
pub(crate) enum Bytes {
    Static(&'static [u8]),
    Owned(Arc<Vec<u8>>),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Static(b) => b,
            Bytes::Owned(v) => v.as_slice(),
        }
    }
}

/// A sub-range of [`Bytes`], so the FST can own its section without a copy.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    bytes: Bytes,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for Section {
    fn as_ref(&self) -> &[u8] {
        &self.bytes.as_ref()[self.start..self.end]
    }
}

/// One opened lexicon file (cheap to clone: the bytes are shared).
#[derive(Clone)]
pub(crate) struct LexiconFile {
    pub(crate) name: String,
    pub(crate) map: fst::Map<Section>,
    bytes: Bytes,
    cands: (usize, usize),
    str_offsets: (usize, usize),
    str_bytes: (usize, usize),
    /// The embedded file's string table as text, checked as UTF-8 once on
    /// first use (2 MB, well under a millisecond) so that lookups need not
    /// check each string: the decoder reads one per candidate it scores.
    static_strings: OnceLock<Option<&'static str>>,
    pub(crate) meta: Meta,
}

/// A candidate record as stored.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    pub(crate) original: u32,
    pub(crate) weight: f32,
    /// log10 of `weight`, from the quantized byte without a logarithm.
    pub(crate) log10_weight: f32,
    pub(crate) sources: Sources,
}

impl Record {
    /// The record in `b` (`RECORD_LEN` bytes), its weight read from
    /// [`dequantize_table`].
    #[inline]
    fn parse(b: &[u8], table: &[f32; 256]) -> Record {
        let q = b[3];
        Record {
            original: u32::from_le_bytes([b[0], b[1], b[2], 0]),
            weight: table[q as usize],
            log10_weight: -(q as f32) / WEIGHT_SCALE,
            sources: Sources(b[4] as u16),
        }
    }
}

impl LexiconFile {
    /// Opens a lexicon from its bytes, checking every section's bounds.
    pub(crate) fn open(name: &str, bytes: Bytes) -> Result<LexiconFile> {
        let bad = |message: String| Error::Lexicon { input: name.to_string(), message };
        let data = bytes.as_ref();
        if data.len() < HEADER_LEN || &data[..8] != MAGIC {
            return Err(bad(
                "not an unspin lexicon (bad magic); build one with `unspin lexicon build`".into(),
            ));
        }
        let version = u32::from_le_bytes(data[8..12].try_into().unwrap());
        if version != VERSION {
            return Err(bad(format!("format version {version}, this build reads {VERSION}")));
        }
        let mut sections = [(0usize, 0usize); SECTIONS];
        for (i, s) in sections.iter_mut().enumerate() {
            let at = 16 + i * 16;
            let off = u64::from_le_bytes(data[at..at + 8].try_into().unwrap());
            let len = u64::from_le_bytes(data[at + 8..at + 16].try_into().unwrap());
            let end = off.checked_add(len).filter(|&e| e <= data.len() as u64);
            let Some(end) = end else {
                return Err(bad(format!("section {i} out of bounds (truncated file?)")));
            };
            *s = (off as usize, end as usize);
        }
        let [fst_s, cands, str_offsets, str_bytes, meta_s] = sections;
        if (cands.1 - cands.0) % RECORD_LEN != 0 || (str_offsets.1 - str_offsets.0) % 4 != 0 {
            return Err(bad("section sizes are not whole records".into()));
        }
        let meta: Meta = serde_json::from_slice(&data[meta_s.0..meta_s.1])
            .map_err(|e| bad(format!("metadata: {e}")))?;
        let section = Section { bytes: bytes.clone(), start: fst_s.0, end: fst_s.1 };
        let map = fst::Map::new(section).map_err(|e| bad(format!("fst: {e}")))?;
        let owned = matches!(bytes, Bytes::Owned(_));
        let file = LexiconFile {
            name: name.to_string(),
            map,
            bytes,
            cands,
            str_offsets,
            str_bytes,
            static_strings: OnceLock::new(),
            meta,
        };
        // A full pass over 30 MB costs ~100 ms at every start; the embedded
        // file is validated by a test instead (`embedded_lexicon_is_valid`).
        // The FST's checksum comes first: the fst crate trusts its bytes, and
        // a damaged node panics (overflow) while validate() walks it.
        if owned {
            file.map.as_fst().verify().map_err(|e| bad(format!("fst: {e}")))?;
            file.validate().map_err(bad)?;
        }
        Ok(file)
    }

    /// Cheap structural checks so that lookups can index without panicking.
    fn validate(&self) -> std::result::Result<(), String> {
        let n_records = (self.cands.1 - self.cands.0) / RECORD_LEN;
        let n_strings = self.string_count();
        let blob_len = self.str_bytes.1 - self.str_bytes.0;
        // The table always starts with offset 0; without it `str_offset(0)`
        // would read past the section (and maybe the file).
        if self.str_offsets.1 - self.str_offsets.0 < 4 {
            return Err("string table has no offsets".into());
        }
        let mut prev = 0u32;
        for i in 0..=n_strings {
            let o = self.str_offset(i);
            if o < prev || o as usize > blob_len {
                return Err(format!("string table offset {i} out of order or bounds"));
            }
            prev = o;
        }
        for i in 0..n_records {
            let r = self.record(i);
            if r.original as usize >= n_strings {
                return Err(format!("candidate {i} names string {} of {n_strings}", r.original));
            }
        }
        let mut stream = self.map.stream();
        use fst::Streamer;
        while let Some((_, v)) = stream.next() {
            let (first, count) = unpack(v);
            if first + count > n_records {
                return Err("fst value points past the candidate records".into());
            }
        }
        let strings = &self.bytes.as_ref()[self.str_bytes.0..self.str_bytes.1];
        std::str::from_utf8(strings).map_err(|_| "string table is not UTF-8".to_string())?;
        Ok(())
    }

    pub(crate) fn string_count(&self) -> usize {
        ((self.str_offsets.1 - self.str_offsets.0) / 4).saturating_sub(1)
    }

    fn str_offset(&self, i: usize) -> u32 {
        let at = self.str_offsets.0 + i * 4;
        u32::from_le_bytes(self.bytes.as_ref()[at..at + 4].try_into().unwrap())
    }

    /// Original number `id`.
    pub(crate) fn string(&self, id: u32) -> &str {
        let (a, b) =
            (self.str_offset(id as usize) as usize, self.str_offset(id as usize + 1) as usize);
        if let Some(strings) = self.static_strings() {
            // Bounds that are not character boundaries give "", as below.
            return strings.get(a..b).unwrap_or("");
        }
        let bytes = &self.bytes.as_ref()[self.str_bytes.0 + a..self.str_bytes.0 + b];
        // Validated as UTF-8 on open, and offsets were checked to be ordered;
        // a boundary inside a character would still fail here, so be safe.
        std::str::from_utf8(bytes).unwrap_or("")
    }

    /// The whole string table as text, when the bytes are static and valid.
    fn static_strings(&self) -> Option<&'static str> {
        let Bytes::Static(bytes) = self.bytes else { return None };
        *self
            .static_strings
            .get_or_init(|| std::str::from_utf8(&bytes[self.str_bytes.0..self.str_bytes.1]).ok())
    }

    /// Record `r` of this file (layer number `layer_ix`) as a candidate.
    pub(crate) fn candidate(&self, layer_ix: u16, r: Record) -> crate::lexicon::Candidate<'_> {
        crate::lexicon::Candidate {
            original: self.string(r.original),
            weight: r.weight,
            log10_weight: r.log10_weight,
            sources: r.sources,
            origin: (layer_ix, r.original),
        }
    }

    /// Candidate record number `i`.
    pub(crate) fn record(&self, i: usize) -> Record {
        let at = self.cands.0 + i * RECORD_LEN;
        Record::parse(&self.bytes.as_ref()[at..at + RECORD_LEN], dequantize_table())
    }

    /// The records of the FST value `v`.
    pub(crate) fn records(&self, v: u64) -> impl Iterator<Item = Record> + '_ {
        let (first, count) = unpack(v);
        (first..first + count).map(move |i| self.record(i))
    }

    /// The first `limit` records of the FST value `v`, as
    /// `records(v).take(limit)` gives them, read from one slice with one
    /// look at the weight table (the decoder asks for a few candidates
    /// of every span it checks; record by record, the lookups cost more
    /// than the reading).
    pub(crate) fn records_limited(
        &self,
        v: u64,
        limit: usize,
    ) -> impl Iterator<Item = Record> + '_ {
        let (first, count) = unpack(v);
        let at = self.cands.0 + first * RECORD_LEN;
        let bytes = &self.bytes.as_ref()[at..at + count.min(limit) * RECORD_LEN];
        let table = dequantize_table();
        bytes.chunks_exact(RECORD_LEN).map(move |b| Record::parse(b, table))
    }

    /// All bytes of the file.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }
}

pub(crate) fn unpack(v: u64) -> (usize, usize) {
    ((v >> 8) as usize, (v & 0xff) as usize)
}

fn quantize(w: f32) -> u8 {
    let w = w.clamp(1e-8, 1.0);
    (-w.log10() * WEIGHT_SCALE).round().clamp(0.0, 255.0) as u8
}

/// The weight of every quantized byte, computed once.
fn dequantize_table() -> &'static [f32; 256] {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|q| dequantize_slow(q as u8)))
}

fn dequantize_slow(q: u8) -> f32 {
    10f32.powf(-(q as f32) / WEIGHT_SCALE)
}

/// One spun → original pair to compile.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The spun phrase (any case; normalized when compiled).
    pub spun: String,
    /// The candidate original.
    pub original: String,
    /// Estimated P(spun | original) in (0, 1]: how likely a spinner turns the
    /// original into this spun phrase.
    pub weight: f32,
    /// Where the pair came from.
    pub sources: Sources,
}

/// Collects entries and writes a compiled lexicon file.
#[derive(Debug, Default)]
pub struct LexiconBuilder {
    entries: HashMap<String, Vec<(String, f32, Sources)>>,
    max_per_key: Option<usize>,
    keep_order: bool,
    name: String,
    built_from: Vec<String>,
}

impl LexiconBuilder {
    /// A builder for a lexicon called `name`.
    pub fn new(name: &str) -> LexiconBuilder {
        LexiconBuilder { name: name.to_string(), ..Default::default() }
    }

    /// Keep at most `n` candidates per spun phrase (the best by weight);
    /// never more than 255.
    pub fn max_per_key(mut self, n: usize) -> LexiconBuilder {
        self.max_per_key = Some(n.min(MAX_CANDIDATES));
        self
    }

    /// Store each phrase's candidates in the order they were first added
    /// (the shipped lexicon's script ranks them by P(spun | original) ·
    /// P(original)) instead of by weight.
    pub fn keep_order(mut self, yes: bool) -> LexiconBuilder {
        self.keep_order = yes;
        self
    }

    /// Records a note on provenance (a source file, a script) in the metadata.
    pub fn built_from(&mut self, note: &str) {
        self.built_from.push(note.to_string());
    }

    /// Adds a pair; both sides are normalized, a repeated pair keeps the
    /// larger weight and the union of sources. Empty sides and identical
    /// sides are ignored (returns false).
    pub fn add(&mut self, entry: &Entry) -> bool {
        let spun = crate::tokenize::normalize_phrase(&entry.spun);
        let original = entry.original.split_whitespace().collect::<Vec<_>>().join(" ");
        if spun.is_empty()
            || original.is_empty()
            || spun == crate::tokenize::normalize_phrase(&original)
        {
            return false;
        }
        let weight = if entry.weight.is_finite() { entry.weight.clamp(1e-8, 1.0) } else { 1.0 };
        let list = self.entries.entry(spun).or_default();
        match list.iter_mut().find(|c| c.0 == original) {
            Some(slot) => {
                slot.1 = slot.1.max(weight);
                slot.2 = Sources(slot.2 .0 | entry.sources.0);
            }
            None => list.push((original, weight, entry.sources)),
        }
        true
    }

    /// Number of distinct spun phrases so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Compiles everything added into the file format described above.
    pub fn finish(self) -> Result<Vec<u8>> {
        let cap = self.max_per_key.unwrap_or(MAX_CANDIDATES);
        let mut keys: Vec<_> = self.entries.into_iter().collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));

        let mut strings: HashMap<String, u32> = HashMap::new();
        let mut str_list: Vec<String> = Vec::new();
        let mut records: Vec<u8> = Vec::new();
        let mut meta = Meta { name: self.name, built_from: self.built_from, ..Default::default() };
        let mut fst_builder = fst::MapBuilder::memory();
        let mut n_records = 0u64;
        for (key, originals) in keys {
            let mut cands = originals;
            if !self.keep_order {
                // Best first; ties broken by name so builds are reproducible.
                cands.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            }
            cands.truncate(cap);
            let first = n_records;
            for (orig, w, s) in &cands {
                let id = *strings.entry(orig.clone()).or_insert_with(|| {
                    str_list.push(orig.clone());
                    (str_list.len() - 1) as u32
                });
                records.extend_from_slice(&id.to_le_bytes()[..3]);
                records.push(quantize(*w));
                records.push(s.0 as u8);
                for name in s.names() {
                    *meta.sources.entry(name.to_string()).or_default() += 1;
                }
            }
            n_records += cands.len() as u64;
            fst_builder.insert(key.as_bytes(), (first << 8) | cands.len() as u64)?;
            meta.keys += 1;
        }
        meta.pairs = n_records;
        if n_records >= (1u64 << 56) || str_list.len() >= MAX_STRINGS {
            return Err(Error::Lexicon { input: meta.name, message: "too large".into() });
        }
        let fst_bytes = fst_builder.into_inner()?;
        let mut offsets = Vec::with_capacity((str_list.len() + 1) * 4);
        let mut blob = Vec::new();
        offsets.extend_from_slice(&0u32.to_le_bytes());
        for s in &str_list {
            blob.extend_from_slice(s.as_bytes());
            if blob.len() > u32::MAX as usize {
                return Err(Error::Lexicon {
                    input: meta.name,
                    message: "string table too large".into(),
                });
            }
            offsets.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        }
        let meta_bytes = serde_json::to_vec(&meta).expect("metadata serializes");

        let sections: [&[u8]; SECTIONS] = [&fst_bytes, &records, &offsets, &blob, &meta_bytes];
        let mut out =
            Vec::with_capacity(HEADER_LEN + sections.iter().map(|s| s.len()).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(SECTIONS as u32).to_le_bytes());
        let mut offset = HEADER_LEN as u64;
        for s in sections {
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            offset += s.len() as u64;
        }
        for s in sections {
            out.extend_from_slice(s);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_quantization_round_trips_closely() {
        for w in [1.0f32, 0.5, 0.1, 0.0123, 1e-4, 1e-7, 3e-7] {
            let back = dequantize_table()[quantize(w) as usize];
            assert!((back.log10() - w.log10()).abs() <= 0.5 / WEIGHT_SCALE + 1e-6, "{w} -> {back}");
        }
    }

    #[test]
    fn static_and_owned_bytes_read_the_same_strings() {
        // The embedded file's strings come from its table checked once; a
        // copy's are checked one at a time.
        let embedded = crate::lexicon::EMBEDDED_BYTES;
        let fixed = LexiconFile::open("s", Bytes::Static(embedded)).unwrap();
        let owned = LexiconFile::open("o", Bytes::Owned(Arc::new(embedded.to_vec()))).unwrap();
        assert!(fixed.static_strings().is_some() && owned.static_strings().is_none());
        let n = fixed.string_count();
        for id in (0..n).step_by(101).chain([n - 1]) {
            assert_eq!(fixed.string(id as u32), owned.string(id as u32), "{id}");
        }
    }

    #[test]
    fn corrupt_files_are_errors_not_panics() {
        let mut b = LexiconBuilder::new("t");
        b.add(&Entry {
            spun: "streams".into(),
            original: "jets".into(),
            weight: 0.5,
            sources: Sources::HAND,
        });
        let good = b.finish().unwrap();
        assert!(LexiconFile::open("t", Bytes::Owned(Arc::new(good.clone()))).is_ok());
        for cut in [0, 7, 20, good.len() / 2, good.len() - 1] {
            let r = LexiconFile::open("t", Bytes::Owned(Arc::new(good[..cut].to_vec())));
            assert!(r.is_err(), "truncated at {cut} should fail");
        }
        let mut flipped = good.clone();
        flipped[20] ^= 0xff;
        assert!(LexiconFile::open("t", Bytes::Owned(Arc::new(flipped))).is_err());
    }
}
