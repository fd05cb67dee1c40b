//! Scanner: every lexicon phrase in a token stream, with byte spans.
//!
//! Phrases are runs of word and number tokens; keys join the tokens'
//! normalized forms with single spaces, so "Insight  Sharing" matches the key
//! "insight sharing". The FST is walked token by token from each start
//! position, so a failed prefix stops the walk early and a scan costs little
//! more than reading the text once.

use fst::raw::{Node, Output};

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

/// Finds lexicon phrases in tokenized text. Holds reusable buffers, so keep
/// one per thread.
#[derive(Debug, Default)]
pub struct Scanner {
    norm: String,
    bounds: Vec<(u32, u32)>,
    /// Per token of the last scan: its number in `words`.
    word_ids: Vec<u32>,
    /// Normalized token → a small number, so the memo is keyed by integers.
    words: std::collections::HashMap<Box<str>, u32, Fnv>,
    /// The lexicon the memo belongs to (held, so its address is not reused).
    memo_for: Option<Lexicon>,
    /// Per layer: (token number, start node) → where the walk through
    /// " "? + token ends, so a frequent word is walked through the FST
    /// once per start node, not at every occurrence.
    memo: Vec<Memo>,
}

/// Where a walk through one token's bytes ends: the node's address, the
/// output so far, and the final output when the node ends a key.
type Step = (usize, u64, Option<u64>);

/// (token number, start node) → where the walk from there ends.
type Memo = std::collections::HashMap<(u32, usize), Option<Step>, Mix>;

/// Words and memo entries (per layer) kept before the memo starts over:
/// enough for a large corpus's common words, small enough (a few MB per
/// thread) that memory stays flat however long a bulk run goes.
const MEMO_CAPACITY: usize = 1 << 16;

/// Tokens longer than this (normalized, in bytes) are not memoized.
const MEMO_WORD_BYTES: usize = 64;

/// The word number of a token that is not memoized.
const NOT_MEMOIZED: u32 = u32::MAX;

/// A hasher for the memo's integer keys (one multiply per word).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Mix;
impl std::hash::BuildHasher for Mix {
    type Hasher = MixHasher;
    fn build_hasher(&self) -> MixHasher {
        MixHasher(0)
    }
}
pub(crate) struct MixHasher(u64);
impl std::hash::Hasher for MixHasher {
    fn finish(&self) -> u64 {
        // The high bits of a multiply mix best; hashbrown uses the top 7 bits
        // as tags and the low bits as the bucket.
        let x = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^ (x >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(32) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(32) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

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
        if !self
            .memo_for
            .as_ref()
            .is_some_and(|l| std::sync::Arc::ptr_eq(&l.layers, &lexicon.layers))
            || self.words.len() > MEMO_CAPACITY
            || self.memo.iter().any(|m| m.len() > MEMO_CAPACITY)
        {
            self.words.clear();
            self.memo.clear();
            self.memo.resize_with(lexicon.layers().len(), Default::default);
            self.memo_for = Some(lexicon.clone());
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
            let id = if word.len() > MEMO_WORD_BYTES {
                // Long tokens are rare and would fill the memo with copies
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
        let mut all: Vec<Match> = Vec::new();
        let mut found: Vec<(usize, u64)> = Vec::with_capacity(MAX_PHRASE_TOKENS);
        for i in 0..tokens.len() {
            if tokens[i].kind != TokenKind::Word {
                continue;
            }
            let first_new = all.len();
            for (layer_ix, layer) in lexicon.layers().iter().enumerate() {
                found.clear();
                self.walk(layer_ix, layer.map.as_fst(), tokens, i, &mut found);
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
        tokens: &[Token],
        i: usize,
        found: &mut Vec<(usize, u64)>,
    ) {
        let mut addr = fst.root().addr();
        let mut out = 0u64;
        for (j, token) in tokens.iter().enumerate().take(i + MAX_PHRASE_TOKENS).skip(i) {
            if token.kind == TokenKind::Punct {
                break;
            }
            let key = (self.word_ids[j], addr);
            let (a, b) = self.bounds[j];
            let tok = &self.norm[a as usize..b as usize];
            let next = if key.0 == NOT_MEMOIZED {
                walk_bytes(fst, addr, j > i, tok.as_bytes())
            } else {
                let memo = &mut self.memo[layer];
                match memo.get(&key) {
                    Some(&r) => r,
                    None => {
                        let r = walk_bytes(fst, addr, j > i, tok.as_bytes());
                        memo.insert(key, r);
                        r
                    }
                }
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

fn walk_bytes<D: AsRef<[u8]>>(
    fst: &fst::raw::Fst<D>,
    addr: usize,
    space: bool,
    bytes: &[u8],
) -> Option<Step> {
    let mut node = fst.node(addr);
    let mut out = Output::zero();
    if space {
        let (n, o) = step(fst, node, b' ')?;
        node = n;
        out = out.cat(o);
    }
    for &b in bytes {
        let (n, o) = step(fst, node, b)?;
        node = n;
        out = out.cat(o);
    }
    Some((node.addr(), out.value(), node.is_final().then(|| node.final_output().value())))
}

#[inline]
fn step<'f, D: AsRef<[u8]>>(
    fst: &'f fst::raw::Fst<D>,
    node: Node<'f>,
    b: u8,
) -> Option<(Node<'f>, Output)> {
    let t = node.transition(node.find_input(b)?);
    Some((fst.node(t.addr), t.out))
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
