//! Scanner: every lexicon phrase in a token stream, with byte spans.
//!
//! Phrases are runs of word and number tokens; keys join the tokens'
//! normalized forms with single spaces, so "Insight  Sharing" matches the key
//! "insight sharing". The FST is walked token by token from each start
//! position, so a failed prefix stops the walk early and a scan costs little
//! more than reading the text once.

use crate::lexicon::Lexicon;
use crate::tokenize::{normalize_into, Token, TokenKind};

/// The longest phrase, in tokens, the scanner tries.
const MAX_PHRASE_TOKENS: usize = 6;

/// Which matches to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanMode {
    /// Leftmost-longest, non-overlapping: what a restorer replaces.
    LeftmostLongest,
    /// Every match, overlapping: what a decoder weighs against each other.
    All,
}

/// One lexicon phrase found in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// Index of the first token.
    pub first: usize,
    /// Index one past the last token.
    pub last: usize,
    /// Byte offset of the phrase's start in the input.
    pub start: usize,
    /// Byte offset of the phrase's end in the input.
    pub end: usize,
    /// The first (layer, value) hit, inline: most matches have one layer.
    hit: (u16, u64),
    /// Hits in further layers.
    more: Vec<(u16, u64)>,
}

impl Match {
    /// The (layer, value) pairs that matched this span; used by
    /// [`Lexicon::candidates`].
    pub(crate) fn hits(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        std::iter::once(self.hit).chain(self.more.iter().copied())
    }

    /// The only hit, when one layer matched.
    pub(crate) fn single_hit(&self) -> Option<(u16, u64)> {
        self.more.is_empty().then_some(self.hit)
    }

    /// Number of tokens covered.
    pub fn len(&self) -> usize {
        self.last - self.first
    }

    /// Whether the match covers no token (never true for a scanner's match).
    pub fn is_empty(&self) -> bool {
        self.first == self.last
    }
}

/// Finds lexicon phrases in tokenized text. Holds reusable buffers and
/// caches, so keep one per thread.
#[derive(Debug, Default)]
pub struct Scanner {
    norm: String,
    bounds: Vec<(u32, u32)>,
    /// Per token of the last scan: its number in `words` (words only).
    word_ids: Vec<u32>,
    /// Normalized token → a small number, so per-word results sit in vectors.
    words: std::collections::HashMap<Box<str>, u32, Fnv>,
    /// The lexicon the caches belong to (held, so its address is not reused).
    memo_for: Option<Lexicon>,
    /// Per layer, per word number: where the walk from the root through the
    /// word ends (`None` until first walked). Every phrase starts this way,
    /// so a frequent word is walked through the FST once, not at every
    /// occurrence.
    first: Vec<Vec<Option<Option<Step>>>>,
    /// Per layer: the FST transitions taken recently. A phrase's later words
    /// are walked byte by byte through this cache. Memoizing them per (word,
    /// node) paid little: over the BBC corpus half of those lookups missed,
    /// and each miss walked the FST; the transitions the walks take repeat
    /// far more often.
    trans: Vec<TransCache>,
    /// log2 of the transition cache's slots; 0 for `TRANS_BITS` (tests
    /// shrink it to make every walk collide).
    trans_bits: u32,
}

/// Where a walk through one token's bytes ends: the node's address, the
/// output so far, and the final output when the node ends a key.
type Step = (usize, u64, Option<u64>);

/// Words kept before the word numbers (and the walks from the root that go
/// with them) start over: enough for a large corpus's common words, small
/// enough (a few MB per thread) that memory stays flat however long a bulk
/// run goes.
const MEMO_CAPACITY: usize = 1 << 16;

/// Tokens longer than this (normalized, in bytes) are not numbered: a copy
/// of each would fill the word table.
const MEMO_WORD_BYTES: usize = 64;

/// The number of a token that has none: a long word, or not a word.
const NOT_MEMOIZED: u32 = u32::MAX;

/// A direct-mapped cache of FST transitions, `(node, byte)` → the next node.
/// Fixed size, so memory is bounded whatever the input; a collision only
/// costs a walk through the FST, which is what every step used to cost.
#[derive(Debug)]
struct TransCache {
    slots: Box<[Trans]>,
    /// 64 − log2 of the number of slots.
    shift: u32,
}

/// One cached transition.
#[derive(Clone, Copy, Debug)]
struct Trans {
    /// `(node address << 8) | byte`, or `EMPTY_KEY` for a free slot.
    key: u64,
    /// The next node's address, or `NO_TRANSITION` when the node has no
    /// transition on the byte.
    next: usize,
    /// The transition's output.
    out: u64,
    /// Whether the next node ends a key, once asked (only the last byte of
    /// a token needs it, so most slots never decode their next node).
    fin: Final,
}

/// Whether a node ends a key, and its final output.
#[derive(Clone, Copy, Debug)]
enum Final {
    Unknown,
    No,
    Yes(u64),
}

/// log2 of the slots per layer: 2^16 × 40 bytes, 2.6 MB per thread.
const TRANS_BITS: u32 = 16;

/// No node address is this large (it would need a 2^56-byte FST).
const EMPTY_KEY: u64 = u64::MAX;

const NO_TRANSITION: usize = usize::MAX;

impl TransCache {
    /// A cache of 2^`bits` slots (1 ≤ `bits` ≤ 32).
    fn new(bits: u32) -> TransCache {
        let empty = Trans { key: EMPTY_KEY, next: NO_TRANSITION, out: 0, fin: Final::Unknown };
        TransCache { slots: vec![empty; 1 << bits].into_boxed_slice(), shift: 64 - bits }
    }

    /// Follows the transition on `b` out of the node at `addr`: the slot
    /// that holds it, or `None` when there is none.
    #[inline]
    fn step<D: AsRef<[u8]>>(
        &mut self,
        fst: &fst::raw::Fst<D>,
        addr: usize,
        b: u8,
    ) -> Option<&mut Trans> {
        let key = ((addr as u64) << 8) | b as u64;
        // The high bits of a multiply mix best.
        let ix = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        let slot = &mut self.slots[ix];
        if slot.key != key {
            *slot = Trans::read(fst, addr, b);
        }
        (slot.next != NO_TRANSITION).then_some(slot)
    }
}

impl Trans {
    /// The transition on `b` out of the node at `addr`, read from the FST
    /// (out of line: the cache's hits are what must be quick).
    #[cold]
    #[inline(never)]
    fn read<D: AsRef<[u8]>>(fst: &fst::raw::Fst<D>, addr: usize, b: u8) -> Trans {
        let key = ((addr as u64) << 8) | b as u64;
        let node = fst.node(addr);
        match node.find_input(b) {
            Some(i) => {
                let t = node.transition(i);
                Trans { key, next: t.addr, out: t.out.value(), fin: Final::Unknown }
            }
            None => Trans { key, next: NO_TRANSITION, out: 0, fin: Final::No },
        }
    }
}

/// The final output of the node at `addr`, when it ends a key.
fn final_output<D: AsRef<[u8]>>(fst: &fst::raw::Fst<D>, addr: usize) -> Option<u64> {
    let node = fst.node(addr);
    node.is_final().then(|| node.final_output().value())
}

/// FNV-1a, for the word table's string keys.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Fnv;
impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf29ce484222325)
    }
}
pub(crate) struct FnvHasher(u64);
impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
}

impl Scanner {
    /// A scanner with empty buffers.
    pub fn new() -> Scanner {
        Scanner::default()
    }

    /// The normalized form of token `i` of the last scan.
    pub fn normalized(&self, i: usize) -> &str {
        let (a, b) = self.bounds[i];
        &self.norm[a as usize..b as usize]
    }

    /// All matches of `lexicon` in `tokens` (of `input`), ordered by first
    /// token, then by length, longest first.
    pub fn scan(
        &mut self,
        lexicon: &Lexicon,
        input: &str,
        tokens: &[Token],
        mode: ScanMode,
    ) -> Vec<Match> {
        let layers = lexicon.layers().len();
        if !self
            .memo_for
            .as_ref()
            .is_some_and(|l| std::sync::Arc::ptr_eq(&l.layers, &lexicon.layers))
        {
            // Node addresses belong to one FST: start every cache over.
            self.words.clear();
            self.first.clear();
            self.first.resize_with(layers, Vec::new);
            self.trans.clear();
            let bits = if self.trans_bits == 0 { TRANS_BITS } else { self.trans_bits };
            self.trans.resize_with(layers, || TransCache::new(bits));
            self.memo_for = Some(lexicon.clone());
        } else if self.words.len() > MEMO_CAPACITY {
            self.words.clear();
            self.first.iter_mut().for_each(Vec::clear);
        }
        self.norm.clear();
        self.bounds.clear();
        self.word_ids.clear();
        for t in tokens {
            let a = self.norm.len();
            normalize_into(t.text(input), &mut self.norm);
            self.bounds.push((a as u32, self.norm.len() as u32));
            let word = &self.norm[a..];
            let next = self.words.len() as u32;
            // Only a word starts a phrase, so only words need a number.
            let id = if t.kind != TokenKind::Word {
                NOT_MEMOIZED
            } else if word.len() > MEMO_WORD_BYTES {
                // Long tokens are rare and would fill the table with copies
                // of themselves: walked every time instead.
                NOT_MEMOIZED
            } else {
                match self.words.get(word) {
                    Some(&id) => id,
                    None => {
                        self.words.insert(word.into(), next);
                        next
                    }
                }
            };
            self.word_ids.push(id);
        }
        for first in &mut self.first {
            first.resize(self.words.len(), None);
        }
        // Decoding a node costs as much as a cached step: the roots once.
        let roots: Vec<usize> =
            lexicon.layers().iter().map(|l| l.map.as_fst().root().addr()).collect();
        let mut all: Vec<Match> = Vec::new();
        let mut found: Vec<(usize, u64)> = Vec::with_capacity(MAX_PHRASE_TOKENS);
        for i in 0..tokens.len() {
            if tokens[i].kind != TokenKind::Word {
                continue;
            }
            let first_new = all.len();
            for (layer_ix, layer) in lexicon.layers().iter().enumerate() {
                found.clear();
                let root = roots[layer_ix];
                self.walk(layer_ix, layer.map.as_fst(), root, tokens, i, &mut found);
                for &(last, value) in &found {
                    if let Some(m) = all[first_new..].iter_mut().find(|m| m.last == last) {
                        m.more.push((layer_ix as u16, value));
                    } else {
                        all.push(Match {
                            first: i,
                            last,
                            start: tokens[i].start,
                            end: tokens[last - 1].end,
                            hit: (layer_ix as u16, value),
                            more: Vec::new(),
                        });
                    }
                }
            }
            all[first_new..].sort_by_key(|m| std::cmp::Reverse(m.last));
        }
        match mode {
            ScanMode::All => all,
            ScanMode::LeftmostLongest => {
                // In place: a second vector of matches costs more than the
                // scan itself (page faults on every large allocation).
                let mut next_free = 0;
                all.retain(|m| {
                    let keep = m.first >= next_free;
                    if keep {
                        next_free = m.last;
                    }
                    keep
                });
                all
            }
        }
    }

    /// Walks the FST from token `i`, pushing (end token, value) for every
    /// complete key.
    fn walk<D: AsRef<[u8]>>(
        &mut self,
        layer: usize,
        fst: &fst::raw::Fst<D>,
        root: usize,
        tokens: &[Token],
        i: usize,
        found: &mut Vec<(usize, u64)>,
    ) {
        let trans = &mut self.trans[layer];
        let mut addr = root;
        let mut out = 0u64;
        for (j, token) in tokens.iter().enumerate().take(i + MAX_PHRASE_TOKENS).skip(i) {
            if token.kind == TokenKind::Punct {
                break;
            }
            let (a, b) = self.bounds[j];
            let tok = &self.norm.as_bytes()[a as usize..b as usize];
            let id = self.word_ids[j];
            let next = if j == i && id != NOT_MEMOIZED {
                let slot = &mut self.first[layer][id as usize];
                *slot.get_or_insert_with(|| walk_bytes(fst, trans, addr, false, tok))
            } else {
                walk_bytes(fst, trans, addr, j > i, tok)
            };
            let Some((n, o, fin)) = next else { break };
            addr = n;
            out += o;
            if let Some(f) = fin {
                found.push((j + 1, out + f));
            }
        }
    }
}

/// Walks from the node at `addr` through " " (when `space`) and `bytes`.
fn walk_bytes<D: AsRef<[u8]>>(
    fst: &fst::raw::Fst<D>,
    trans: &mut TransCache,
    addr: usize,
    space: bool,
    bytes: &[u8],
) -> Option<Step> {
    let space = if space { &b" "[..] } else { &[] };
    let Some((&last, path)) = bytes.split_last() else {
        // Tokens are never empty, so a scan never gets here.
        let (mut at, mut out) = (addr, 0);
        for &b in space {
            let t = trans.step(fst, at, b)?;
            (at, out) = (t.next, t.out);
        }
        return Some((at, out, final_output(fst, at)));
    };
    let (mut at, mut out) = (addr, 0u64);
    for &b in space.iter().chain(path) {
        let t = trans.step(fst, at, b)?;
        at = t.next;
        out += t.out;
    }
    let t = trans.step(fst, at, last)?;
    if let Final::Unknown = t.fin {
        t.fin = match final_output(fst, t.next) {
            Some(f) => Final::Yes(f),
            None => Final::No,
        };
    }
    let fin = match t.fin {
        Final::Yes(f) => Some(f),
        _ => None,
    };
    Some((t.next, out + t.out, fin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::{Entry, LexiconBuilder, Sources};
    use crate::tokenize::tokenize;

    fn lex(pairs: &[(&str, &str)]) -> Lexicon {
        let mut b = LexiconBuilder::new("t");
        for (s, o) in pairs {
            b.add(&Entry {
                spun: s.to_string(),
                original: o.to_string(),
                weight: 1.0,
                sources: Sources::HAND,
            });
        }
        Lexicon::from_bytes("t", b.finish().unwrap()).unwrap()
    }

    #[test]
    fn leftmost_longest_and_all() {
        let l = lex(&[
            ("knowledge", "intelligence"),
            ("knowledge authorities", "intelligence officials"),
            ("authorities", "officials"),
        ]);
        let input = "Barrier and Knowledge  Authorities said.";
        let toks = tokenize(input);
        let mut s = Scanner::new();
        let ll = s.scan(&l, input, &toks, ScanMode::LeftmostLongest);
        assert_eq!(ll.len(), 1);
        assert_eq!(&input[ll[0].start..ll[0].end], "Knowledge  Authorities");
        assert_eq!(l.candidates(&ll[0])[0].original, "intelligence officials");
        let all = s.scan(&l, input, &toks, ScanMode::All);
        let spans: Vec<_> = all.iter().map(|m| &input[m.start..m.end]).collect();
        assert_eq!(spans, ["Knowledge  Authorities", "Knowledge", "Authorities"]);
    }

    #[test]
    fn caches_change_no_result() {
        // A scanner that keeps its caches across texts and lexicons, and
        // one whose transition cache has two slots (nearly every step
        // evicts another), against a fresh scanner per scan.
        let small = lex(&[
            ("knowledge", "intelligence"),
            ("knowledge authorities", "intelligence officials"),
            ("authorities", "officials"),
        ]);
        let texts = [
            "Barrier and Knowledge  Authorities said.",
            "The authorities said that the knowledge authorities couldn’t go.",
            "Officials said the cessation of hostilities would hold, but analysts \
             expected further endeavors by the authorities to reach a discontinuance \
             of threats; a well-known charity's director thanked residents.",
        ];
        let mut warm = Scanner::new();
        let mut tiny = Scanner { trans_bits: 1, ..Scanner::new() };
        for round in 0..2 {
            for l in [&small, &Lexicon::embedded()] {
                for input in texts {
                    let toks = tokenize(input);
                    let want = Scanner::new().scan(l, input, &toks, ScanMode::All);
                    assert!(!want.is_empty());
                    assert_eq!(warm.scan(l, input, &toks, ScanMode::All), want, "{round} {input}");
                    assert_eq!(tiny.scan(l, input, &toks, ScanMode::All), want, "{round} {input}");
                }
            }
        }
    }

    #[test]
    fn phrases_do_not_cross_punctuation() {
        let l = lex(&[("insight sharing", "intelligence sharing")]);
        let input = "insight, sharing";
        let toks = tokenize(input);
        assert!(Scanner::new().scan(&l, input, &toks, ScanMode::All).is_empty());
    }

    #[test]
    fn curly_apostrophes_match_straight_keys() {
        let l = lex(&[("couldn't", "could not")]);
        let input = "They couldn’t go.";
        let toks = tokenize(input);
        let m = Scanner::new().scan(&l, input, &toks, ScanMode::All);
        assert_eq!(m.len(), 1);
        assert_eq!(&input[m[0].start..m[0].end], "couldn’t");
    }
}
