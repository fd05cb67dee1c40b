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

/// The most tokens whose per-token buffers a [`Scanner`] keeps for the
/// next scan (a news article has about a thousand).
const SCAN_BUFFER_MAX_TOKENS: usize = 1 << 20;

/// How many tokens a [`Scanner`] keys before it numbers them.
const KEY_CHUNK_TOKENS: usize = 4096;

/// The most input bytes whose lower-cased copy a [`Scanner`] keeps.
const SCAN_BUFFER_MAX_BYTES: usize = 8 << 20;

/// Finds lexicon phrases in tokenized text. Holds reusable buffers and
/// caches, so keep one per thread.
#[derive(Debug, Default)]
pub struct Scanner {
    /// The last scan's input in lower case, then the normalized forms of
    /// its tokens with a non-ASCII byte.
    norm: String,
    bounds: Vec<(u32, u32)>,
    /// Per token of the chunk being numbered: its key in `words` and the
    /// key's home slot, or `UNKEYED` when the token gets no number.
    keys: Vec<(WordKey, u32)>,
    /// Per token of the last scan: its number in `words` (words only).
    word_ids: Vec<u32>,
    /// Normalized word → a small number, so per-word results sit in vectors.
    words: WordTable,
    /// The lexicon the caches belong to (held, so its address is not reused).
    memo_for: Option<Lexicon>,
    /// Per layer, per word number: the walk from the root through the word
    /// (`None` until first walked). Every phrase starts this way, so a
    /// frequent word is walked through the FST once, not at every
    /// occurrence.
    first: Vec<Vec<Option<Step>>>,
    /// Per layer: the walks through a phrase's later words, per (node, word
    /// number). Over the BBC corpus about half of its lookups hit; a miss
    /// walks the word byte by byte through `trans`.
    pairs: Vec<PairCache>,
    /// Per layer: the FST transitions taken recently, so that a walk the
    /// memos miss seldom reads the FST itself: the transitions walks take
    /// repeat far more often than the (node, word) pairs.
    trans: Vec<TransCache>,
    /// log2 of the transition cache's slots; 0 for `TRANS_BITS` (tests
    /// shrink it to make every walk collide).
    trans_bits: u32,
    /// log2 of the pair cache's slots; 0 for `PAIR_BITS` (as `trans_bits`).
    pair_bits: u32,
    /// How many times the word table has started over: a word's number
    /// means the same word only within one generation.
    generation: u64,
}

/// Where a walk through one token leads, from some node, with outputs
/// counted from that node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Step {
    /// When the node after the token ends a key: the output through the
    /// token plus the node's final output.
    fin: Option<u64>,
    /// The node after the token and one space (where the next token of a
    /// phrase is walked from), or `NO_TRANSITION` when no key goes on.
    next: usize,
    /// The output through the token and the space.
    out: u64,
}

impl Step {
    /// A walk that left the FST: no key has this prefix.
    const DEAD: Step = Step { fin: None, next: NO_TRANSITION, out: 0 };
}

/// Words kept before the word numbers (and the walks from the root that go
/// with them) start over: enough for a large corpus's common words, small
/// enough (a few MB per thread) that memory stays flat however long a bulk
/// run goes.
const MEMO_CAPACITY: usize = 1 << 16;

/// Word numbers fit in a [`Pair`] key's 23 bits.
const _: () = assert!(MEMO_CAPACITY < 1 << 23);

/// The caches' slots fill half a cache line each, so none straddles two.
const _: () = assert!(
    std::mem::size_of::<Pair>() == 32
        && std::mem::size_of::<Trans>() == 32
        && std::mem::size_of::<WordSlot>() == 32
);

/// Tokens longer than this (normalized, in bytes) are not numbered: a copy
/// of each would fill the word table.
const MEMO_WORD_BYTES: usize = 64;

/// The home slot of a token that gets no number (no slot is this large).
const UNKEYED: u32 = u32::MAX;

/// The number of a token that has none: a long word, not a word, or a word
/// met after the table filled up.
const NOT_MEMOIZED: u32 = u32::MAX;

/// Normalized words → numbers: open addressing over a fixed array. A word
/// up to 16 bytes long is compared as two integers, so the table neither
/// hashes it byte by byte nor calls `memcmp` (a `HashMap<Box<str>, u32>`
/// cost about as much as the walks it saved).
#[derive(Debug, Default)]
struct WordTable {
    /// 2^`WORD_SLOT_BITS` slots, so probes stay short; empty until the
    /// first scan.
    slots: Box<[WordSlot]>,
    /// How many words have a number.
    len: u32,
    /// The bytes after the first 16 of the numbered words, one after
    /// another.
    tails: Vec<u8>,
}

/// A numbered word, its key in the slot itself: a lookup reads one cache
/// line, which a scan prefetches, rather than a slot and then the entry it
/// points to.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
struct WordSlot {
    head: [u64; 2],
    len: u32,
    /// The word's number + 1, or 0 when the slot is free.
    id: u32,
    /// Where the word's bytes after its first 16 start in `tails`.
    tail: u32,
}

/// log2 of the word table's slots: twice `MEMO_CAPACITY`, 4 MB.
const WORD_SLOT_BITS: u32 = MEMO_CAPACITY.trailing_zeros() + 1;

/// A word's length and its bytes packed into two integers: all of them for
/// a word up to 16 bytes long, the first 16 of a longer one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct WordKey {
    len: u32,
    head: [u64; 2],
}

impl WordKey {
    fn new(word: &[u8]) -> WordKey {
        let n = word.len();
        let u64_at = |i: usize| u64::from_le_bytes(word[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(word[i..i + 4].try_into().expect("4 bytes"));
        // Shorter words are read as overlapping pieces: for a given length
        // each byte lands somewhere, so two words of one length have the
        // same key only when they are the same.
        let head = match n {
            16.. => [u64_at(0), u64_at(8)],
            8..16 => [u64_at(0), u64_at(n - 8)],
            4..8 => [u32_at(0) as u64 | (u32_at(n - 4) as u64) << 32, 0],
            1..4 => [word[0] as u64 | (word[n / 2] as u64) << 8 | (word[n - 1] as u64) << 16, 0],
            0 => [0, 0],
        };
        WordKey { len: n as u32, head }
    }

    /// The key's first slot in a [`WordTable`]: FxHash's mixing over the
    /// key, its high bits (which mix best).
    fn home(&self) -> u32 {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
        let hash = mix(mix(mix(0, self.len as u64), self.head[0]), self.head[1]);
        (hash >> (64 - WORD_SLOT_BITS)) as u32
    }
}

impl WordTable {
    /// Forgets every word.
    fn clear(&mut self) {
        if self.slots.is_empty() {
            self.slots = vec![WordSlot::default(); 1 << WORD_SLOT_BITS].into_boxed_slice();
        } else {
            self.slots.fill(WordSlot::default());
        }
        self.len = 0;
        self.tails.clear();
    }

    /// Whether no further word gets a number.
    fn is_full(&self) -> bool {
        self.len() >= MEMO_CAPACITY
    }

    /// The number of `word`, given one if it has none and the table has
    /// room; `NOT_MEMOIZED` when full. (A scan works out every key first,
    /// so as to prefetch, and calls [`number_keyed`](WordTable::number_keyed).)
    #[cfg(test)]
    fn number(&mut self, word: &[u8]) -> u32 {
        let key = WordKey::new(word);
        self.number_keyed(word, key, key.home())
    }

    /// The number of `word` (given one if it has none and the table has
    /// room; `NOT_MEMOIZED` when full), with its key and the key's home
    /// slot already worked out.
    #[inline]
    fn number_keyed(&mut self, word: &[u8], key: WordKey, home: u32) -> u32 {
        let mask = self.slots.len() - 1;
        let mut ix = home as usize;
        loop {
            let slot = &self.slots[ix];
            if slot.id == 0 {
                break;
            }
            if slot.len == key.len
                && slot.head == key.head
                && (word.len() <= 16 || self.tails[slot.tail as usize..].starts_with(&word[16..]))
            {
                return slot.id - 1;
            }
            ix = (ix + 1) & mask;
        }
        if self.is_full() {
            return NOT_MEMOIZED;
        }
        let id = self.len;
        self.len += 1;
        let tail = self.tails.len() as u32;
        self.tails.extend_from_slice(word.get(16..).unwrap_or_default());
        self.slots[ix] = WordSlot { head: key.head, len: key.len, id: id + 1, tail };
        id
    }

    fn len(&self) -> usize {
        self.len as usize
    }

    /// Starts loading the home slot `home`, the first (and mostly the only)
    /// slot a lookup reads.
    #[inline]
    fn prefetch(&self, home: u32) {
        prefetch(&self.slots[home as usize]);
    }
}

/// A direct-mapped cache of walks through one token, `(node, word number)`
/// → [`Step`]. Fixed size, like [`TransCache`]; a collision costs a walk
/// through the transition cache.
#[derive(Debug)]
struct PairCache {
    slots: Box<[Pair]>,
    /// 64 − log2 of the number of slots.
    shift: u32,
}

/// One cached walk, its `Step` spelled out so that the slot packs into 32
/// bytes, aligned: two slots per cache line and none across two lines (at
/// 40 bytes half the slots straddled two lines, and the lookups that miss
/// the CPU caches are what a scan waits on).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
struct Pair {
    /// `node << 24 | word << 1 | is_final` (see [`Pair::key`]), or
    /// `EMPTY_KEY` for a free slot.
    key: u64,
    /// The output to the end of a key, when `is_final`.
    fin: u64,
    next: usize,
    out: u64,
}

/// log2 of the pair cache's slots per layer: 2^16 × 32 bytes, 2 MB per
/// thread.
const PAIR_BITS: u32 = 16;

impl Pair {
    /// The key of `(node, word)` with its flag bit clear. Node addresses are
    /// below `MAX_FST_BYTES` (2^40) and word numbers below 2^23, so distinct
    /// pairs get distinct keys, and none is `EMPTY_KEY`.
    #[inline]
    fn key(node: usize, word: u32) -> u64 {
        (node as u64) << 24 | (word as u64) << 1
    }
}

impl PairCache {
    /// A cache of 2^`bits` slots (1 ≤ `bits` ≤ 32).
    fn new(bits: u32) -> PairCache {
        let empty = Pair { key: EMPTY_KEY, fin: 0, next: 0, out: 0 };
        PairCache { slots: vec![empty; 1 << bits].into_boxed_slice(), shift: 64 - bits }
    }

    /// Forgets every walk (word numbers are about to be reused).
    fn clear(&mut self) {
        self.slots.iter_mut().for_each(|p| p.key = EMPTY_KEY);
    }

    /// The slot of a key (from [`Pair::key`]).
    #[inline]
    fn index(&self, key: u64) -> usize {
        // The high bits of a multiply mix best.
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The walk from the node at `node` through word number `word`, made
    /// by `walk` when not cached.
    #[inline]
    fn get(&mut self, node: usize, word: u32, walk: impl FnOnce() -> Step) -> Step {
        let key = Pair::key(node, word);
        let ix = self.index(key);
        let slot = &mut self.slots[ix];
        if slot.key & !1 != key {
            let s = walk();
            *slot = Pair {
                key: key | s.fin.is_some() as u64,
                fin: s.fin.unwrap_or(0),
                next: s.next,
                out: s.out,
            };
        }
        Step { fin: (slot.key & 1 != 0).then_some(slot.fin), next: slot.next, out: slot.out }
    }
}

/// A direct-mapped cache of FST transitions, `(node, byte)` → the next node.
/// Fixed size, so memory is bounded whatever the input; a collision only
/// costs a walk through the FST, which is what every step used to cost.
#[derive(Debug)]
struct TransCache {
    slots: Box<[Trans]>,
    /// 64 − log2 of the number of slots.
    shift: u32,
}

/// One cached transition, packed into 32 bytes and aligned as [`Pair`].
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
struct Trans {
    /// `node address << 10 | byte << 2` (see [`Trans::key`]) with a
    /// final state in the low two bits, or `EMPTY_KEY` for a free slot.
    key: u64,
    /// The next node's address, or `NO_TRANSITION` when the node has no
    /// transition on the byte.
    next: usize,
    /// The transition's output.
    out: u64,
    /// The next node's final output, when the low bits say `FINAL_YES`.
    fin: u64,
}

/// Whether the node after a transition ends a key, in a [`Trans`] key's low
/// two bits: not asked yet (only the last byte of a token needs it, so most
/// slots never decode their next node), no, or yes.
const FINAL_UNKNOWN: u64 = 0;
const FINAL_NO: u64 = 1;
const FINAL_YES: u64 = 2;

/// log2 of the slots per layer: 2^16 × 32 bytes, 2 MB per thread.
const TRANS_BITS: u32 = 16;

/// The FSTs the caches' keys have room for: node addresses below 2^40.
const MAX_FST_BYTES: usize = 1 << 40;

/// No key is this large: nodes are below `MAX_FST_BYTES`.
const EMPTY_KEY: u64 = u64::MAX;

const NO_TRANSITION: usize = usize::MAX;

impl Trans {
    /// The key of `(addr, b)` with its final state bits clear.
    #[inline]
    fn key(addr: usize, b: u8) -> u64 {
        (addr as u64) << 10 | (b as u64) << 2
    }

    /// Whether the next node ends a key: its final output if so, read from
    /// the FST the first time it is asked.
    #[inline]
    fn final_output<D: AsRef<[u8]>>(&mut self, fst: &fst::raw::Fst<D>) -> Option<u64> {
        if self.key & 3 == FINAL_UNKNOWN {
            match final_output(fst, self.next) {
                Some(f) => {
                    self.key |= FINAL_YES;
                    self.fin = f;
                }
                None => self.key |= FINAL_NO,
            }
        }
        (self.key & 3 == FINAL_YES).then_some(self.fin)
    }
}

impl TransCache {
    /// A cache of 2^`bits` slots (1 ≤ `bits` ≤ 32).
    fn new(bits: u32) -> TransCache {
        let empty = Trans { key: EMPTY_KEY, next: NO_TRANSITION, out: 0, fin: 0 };
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
        let key = Trans::key(addr, b);
        // The high bits of a multiply mix best.
        let ix = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        let slot = &mut self.slots[ix];
        if slot.key & !3 != key {
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
        let key = Trans::key(addr, b);
        let node = fst.node(addr);
        match node.find_input(b) {
            Some(i) => {
                let t = node.transition(i);
                Trans { key: key | FINAL_UNKNOWN, next: t.addr, out: t.out.value(), fin: 0 }
            }
            None => Trans { key: key | FINAL_NO, next: NO_TRANSITION, out: 0, fin: 0 },
        }
    }
}

/// The final output of the node at `addr`, when it ends a key.
fn final_output<D: AsRef<[u8]>>(fst: &fst::raw::Fst<D>, addr: usize) -> Option<u64> {
    let node = fst.node(addr);
    node.is_final().then(|| node.final_output().value())
}

impl Scanner {
    /// A scanner with empty buffers.
    pub fn new() -> Scanner {
        Scanner::default()
    }

    /// Per token of the last scan: the number of its normalized form in
    /// this scanner's word table (the same number for the same form within
    /// one [`generation`](Scanner::generation)), or `u32::MAX` for a token
    /// without one (punctuation, numbers, words over 64 bytes).
    pub(crate) fn word_numbers(&self) -> &[u32] {
        &self.word_ids
    }

    /// Changes whenever the word table starts over (a new lexicon, or the
    /// table full), and with it every word's number.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The normalized form of token `i` of the last scan.
    pub fn normalized(&self, i: usize) -> &str {
        let (a, b) = self.bounds[i];
        &self.norm[a as usize..b as usize]
    }

    /// Lets go of the per-token buffers a very large earlier input grew
    /// (13 bytes a token: a 16 MB line of punctuation left 208 MB with the
    /// thread's scanner for the rest of the run) unless this input needs
    /// them.
    fn release_large_buffers(&mut self, tokens: usize, bytes: usize) {
        if self.bounds.capacity() > SCAN_BUFFER_MAX_TOKENS && tokens <= SCAN_BUFFER_MAX_TOKENS {
            self.bounds = Vec::new();
            self.word_ids = Vec::new();
        }
        if self.norm.capacity() > SCAN_BUFFER_MAX_BYTES && bytes <= SCAN_BUFFER_MAX_BYTES {
            self.norm = String::new();
        }
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
            // The caches' keys pack node addresses into 40 bits.
            assert!(
                lexicon.layers().iter().all(|l| l.map.as_fst().size() < MAX_FST_BYTES),
                "a lexicon FST of 1 TiB or more",
            );
            self.words.clear();
            self.generation += 1;
            self.first.clear();
            self.first.resize_with(layers, Vec::new);
            self.trans.clear();
            let bits = if self.trans_bits == 0 { TRANS_BITS } else { self.trans_bits };
            self.trans.resize_with(layers, || TransCache::new(bits));
            self.pairs.clear();
            let bits = if self.pair_bits == 0 { PAIR_BITS } else { self.pair_bits };
            self.pairs.resize_with(layers, || PairCache::new(bits));
            self.memo_for = Some(lexicon.clone());
        } else if self.words.is_full() {
            self.words.clear();
            self.generation += 1;
            self.first.iter_mut().for_each(Vec::clear);
            self.pairs.iter_mut().for_each(PairCache::clear);
        }
        self.release_large_buffers(tokens.len(), input.len());
        self.norm.clear();
        self.bounds.clear();
        self.keys.clear();
        // An ASCII token's normalized form is its lower case: the whole
        // input lower-cased at once holds every such form at the token's
        // own offsets (a `normalize_into` per token, which checks, copies
        // and lower-cases each, cost a fifth of the scan). Only tokens with
        // a non-ASCII byte are normalized one by one, after the input.
        self.norm.push_str(input);
        self.norm.make_ascii_lowercase();
        let bytes = input.as_bytes();
        // The first non-ASCII byte at or after the last token looked at.
        let mut wide = next_non_ascii(bytes, 0);
        // Each pass below extends its vector from an iterator of known
        // length: a `push` per token checked the capacity and stored the
        // length back at every token.
        let norm = &mut self.norm;
        self.bounds.extend(tokens.iter().map(|t| {
            let (mut a, mut b) = (t.start, t.end);
            if wide < t.end {
                if wide < t.start {
                    wide = next_non_ascii(bytes, t.start);
                }
                if wide < t.end {
                    a = norm.len();
                    normalize_into(t.text(input), norm);
                    b = norm.len();
                    wide = next_non_ascii(bytes, t.end);
                }
            }
            (a as u32, b as u32)
        }));
        let norm = self.norm.as_bytes();
        let mut words = 0;
        self.word_ids.clear();
        // Keyed and numbered a chunk of tokens at a time: the keys of a
        // whole document took 32 bytes a token (268 MB for an 8 MB line
        // of punctuation), and a chunk is room enough for the prefetches.
        for lo in (0..tokens.len()).step_by(KEY_CHUNK_TOKENS) {
            let chunk = lo..tokens.len().min(lo + KEY_CHUNK_TOKENS);
            let bounds = &self.bounds[chunk.clone()];
            let table = &self.words;
            self.keys.clear();
            self.keys.extend(tokens[chunk].iter().zip(bounds).map(|(t, &(a, b))| {
                let word = &norm[a as usize..b as usize];
                // Only a word starts a phrase, so only words need a number.
                // Long tokens are rare and would fill the table with copies
                // of themselves: walked every time instead.
                if t.kind == TokenKind::Word && word.len() <= MEMO_WORD_BYTES {
                    let key = WordKey::new(word);
                    let home = key.home();
                    // The table is too large for the CPU's caches: its
                    // lookups come after the chunk's tokens are keyed, so
                    // that they find the slots loaded (a lookup at once
                    // would wait on each).
                    table.prefetch(home);
                    words += 1;
                    (key, home)
                } else {
                    (WordKey::new(&[]), UNKEYED)
                }
            }));
            let (table, firsts) = (&mut self.words, &self.first);
            self.word_ids.extend(self.keys.iter().zip(bounds).map(|(&(key, home), &(a, b))| {
                if home == UNKEYED {
                    return NOT_MEMOIZED;
                }
                let id = table.number_keyed(&norm[a as usize..b as usize], key, home);
                // Likewise the walks' first-word memos, which the walks read
                // in the same order. (By index: iterating the layers'
                // vectors divided their byte length by 24 at every word, 6M
                // instructions over the BBC corpus.)
                #[allow(clippy::needless_range_loop)]
                for l in 0..firsts.len() {
                    if let Some(memo) = firsts[l].get(id as usize) {
                        prefetch(memo);
                    }
                }
                id
            }));
        }
        for first in &mut self.first {
            first.resize(self.words.len(), None);
        }
        let text =
            Normalized { tokens, norm: &self.norm, bounds: &self.bounds, ids: &self.word_ids };
        // Layer by layer, so that each layer's FST and caches are looked up
        // once per scan rather than at every token.
        // About as many matches as words, in running text: room for them
        // at once spares the growing vector its copies (about 5% of the
        // scan's instructions), and a text without words reserves nothing.
        let mut all: Vec<Match> = Vec::with_capacity(words);
        let mut more: Vec<Match> = Vec::new();
        for (layer_ix, layer) in lexicon.layers().iter().enumerate() {
            let fst = layer.map.as_fst();
            let mut walker = Walker {
                fst,
                // Decoding a node costs as much as a cached step: the root
                // once.
                root: fst.root().addr(),
                first: &mut self.first[layer_ix],
                pairs: &mut self.pairs[layer_ix],
                trans: &mut self.trans[layer_ix],
            };
            let out = if layer_ix == 0 { &mut all } else { &mut more };
            out.clear();
            for (i, t) in tokens.iter().enumerate() {
                // The pair memo is too large for the CPU's caches and each
                // walk waits for its loads: start that of the walk a few
                // tokens on now, so that they overlap.
                walker.prefetch_pair(&text, i + PAIR_AHEAD);
                if t.kind != TokenKind::Word {
                    continue;
                }
                let first_new = out.len();
                walker.walk(&text, i, |last, value| {
                    out.push(Match {
                        first: i,
                        last,
                        start: t.start,
                        end: tokens[last - 1].end,
                        hit: (layer_ix as u16, value),
                        more: Vec::new(),
                    })
                });
                // Longest first: the walk finds the shortest first.
                if out.len() - first_new > 1 {
                    out[first_new..].reverse();
                }
            }
            if layer_ix > 0 {
                all = merge_layer(all, &mut more);
            }
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
}

/// Merges a further layer's matches into the earlier layers', both ordered
/// by first token, then longest first: a span both found gets the new hit
/// in `more`.
fn merge_layer(all: Vec<Match>, layer: &mut Vec<Match>) -> Vec<Match> {
    let order = |m: &Match| (m.first, std::cmp::Reverse(m.last));
    let mut merged = Vec::with_capacity(all.len() + layer.len());
    let mut new = layer.drain(..).peekable();
    for mut m in all {
        while let Some(n) = new.next_if(|n| order(n) < order(&m)) {
            merged.push(n);
        }
        if let Some(n) = new.next_if(|n| order(n) == order(&m)) {
            m.more.push(n.hit);
        }
        merged.push(m);
    }
    merged.extend(new);
    merged
}

/// The tokens of a scan with their normalized forms and word numbers.
struct Normalized<'a> {
    tokens: &'a [Token],
    norm: &'a str,
    bounds: &'a [(u32, u32)],
    ids: &'a [u32],
}

impl Normalized<'_> {
    fn bytes(&self, i: usize) -> &[u8] {
        let (a, b) = self.bounds[i];
        &self.norm.as_bytes()[a as usize..b as usize]
    }
}

/// One layer's FST and caches, borrowed for a scan.
struct Walker<'a, D> {
    fst: &'a fst::raw::Fst<D>,
    root: usize,
    first: &'a mut [Option<Step>],
    pairs: &'a mut PairCache,
    trans: &'a mut TransCache,
}

/// How many tokens ahead of its walk the pair memo of a token's second word
/// is prefetched. The first-word memo that says which slot that is was
/// prefetched when the token got its number.
const PAIR_AHEAD: usize = 4;

impl<D: AsRef<[u8]>> Walker<'_, D> {
    /// Starts loading the pair-memo slot of the walk from token `i` through
    /// token `i + 1`, when the first-word memo knows where that walk goes.
    #[inline]
    fn prefetch_pair(&self, text: &Normalized, i: usize) {
        let (Some(&id), Some(&next_id)) = (text.ids.get(i), text.ids.get(i + 1)) else {
            return;
        };
        if next_id == NOT_MEMOIZED {
            return;
        }
        if let Some(Some(step)) = self.first.get(id as usize) {
            if step.next != NO_TRANSITION {
                let ix = self.pairs.index(Pair::key(step.next, next_id));
                prefetch(&self.pairs.slots[ix]);
            }
        }
    }

    /// Walks the FST from token `i`, calling `found` with (end token, value)
    /// for every complete key, shortest first.
    #[inline]
    fn walk(&mut self, text: &Normalized, i: usize, mut found: impl FnMut(usize, u64)) {
        let (fst, trans) = (self.fst, &mut *self.trans);
        let id = text.ids[i];
        let mut step = if id != NOT_MEMOIZED {
            let slot = &mut self.first[id as usize];
            *slot.get_or_insert_with(|| walk_token(fst, trans, self.root, text.bytes(i)))
        } else {
            walk_token(fst, trans, self.root, text.bytes(i))
        };
        let end = text.tokens.len().min(i + MAX_PHRASE_TOKENS);
        let mut out = 0u64;
        let mut j = i;
        loop {
            if let Some(f) = step.fin {
                found(j + 1, out + f);
            }
            j += 1;
            if step.next == NO_TRANSITION || j == end || text.tokens[j].kind == TokenKind::Punct {
                break;
            }
            out += step.out;
            let (node, id) = (step.next, text.ids[j]);
            step = if id != NOT_MEMOIZED {
                self.pairs.get(node, id, || walk_token(fst, trans, node, text.bytes(j)))
            } else {
                walk_token(fst, trans, node, text.bytes(j))
            };
        }
    }
}

/// The offset of the first non-ASCII byte in `bytes` at or after `from`,
/// or `bytes.len()`: eight bytes at a time, since most inputs are ASCII
/// through and through.
fn next_non_ascii(bytes: &[u8], from: usize) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) & HIGH;
        if w != 0 {
            return i + (w.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while bytes.get(i).is_some_and(u8::is_ascii) {
        i += 1;
    }
    i.min(bytes.len())
}

/// Asks the CPU to start loading the cache line that holds `r`; a no-op
/// where the hint is not implemented.
#[inline(always)]
fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint that never faults and reads nothing
        // into the program; the pointer comes from a reference anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(r as *const T as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// Walks from the node at `addr` through `bytes`, then through a space.
fn walk_token<D: AsRef<[u8]>>(
    fst: &fst::raw::Fst<D>,
    trans: &mut TransCache,
    addr: usize,
    bytes: &[u8],
) -> Step {
    let (mut at, mut out) = (addr, 0u64);
    let fin = match bytes.split_last() {
        // Tokens are never empty, so a scan never gets here.
        None => final_output(fst, at),
        Some((&last, path)) => {
            for &b in path {
                let Some(t) = trans.step(fst, at, b) else { return Step::DEAD };
                at = t.next;
                out += t.out;
            }
            let Some(t) = trans.step(fst, at, last) else { return Step::DEAD };
            let fin = t.final_output(fst);
            at = t.next;
            out += t.out;
            fin
        }
    };
    let fin = fin.map(|f| out + f);
    match trans.step(fst, at, b' ') {
        Some(t) => Step { fin, next: t.next, out: out + t.out },
        None => Step { fin, ..Step::DEAD },
    }
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
    fn chunks_of_keys_change_no_result() {
        // Phrases never cross a full stop, so a text of many sentences
        // scans as its sentences scanned one by one: across the chunks of
        // tokens the scanner keys at a time too.
        let l = lex(&[
            ("knowledge", "intelligence"),
            ("knowledge authorities", "intelligence officials"),
            ("authorities", "officials"),
            ("discontinuance of threats", "cessation of hostilities"),
        ]);
        let sentences = [
            "The knowledge authorities said so. ",
            "A discontinuance of threats was agreed. ",
            "Authorities gave no knowledge of it. ",
            "Nothing here at all. ",
        ];
        let mut text = String::new();
        let mut want = Vec::new();
        let mut tokens_before = 0;
        let mut alone = Scanner::new();
        for k in 0..3 * KEY_CHUNK_TOKENS / 5 {
            let sentence = sentences[k % sentences.len()];
            let toks = tokenize(sentence);
            for m in alone.scan(&l, sentence, &toks, ScanMode::All) {
                let values = m.hits().collect::<Vec<_>>();
                want.push((
                    m.first + tokens_before,
                    m.last + tokens_before,
                    m.start + text.len(),
                    m.end + text.len(),
                    values,
                ));
            }
            tokens_before += toks.len();
            text.push_str(sentence);
        }
        let toks = tokenize(&text);
        assert!(toks.len() > 2 * KEY_CHUNK_TOKENS);
        let got: Vec<_> = Scanner::new()
            .scan(&l, &text, &toks, ScanMode::All)
            .into_iter()
            .map(|m| (m.first, m.last, m.start, m.end, m.hits().collect::<Vec<_>>()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_huge_input_does_not_keep_its_buffers() {
        let l = lex(&[("knowledge", "intelligence")]);
        let mut s = Scanner::new();
        // More tokens than the scanner keeps buffers for: punctuation, one
        // token a byte.
        let huge = "\"".repeat(SCAN_BUFFER_MAX_TOKENS + 1);
        assert!(s.scan(&l, &huge, &tokenize(&huge), ScanMode::All).is_empty());
        assert!(s.bounds.capacity() > SCAN_BUFFER_MAX_TOKENS);
        assert!(s.keys.capacity() <= KEY_CHUNK_TOKENS, "keys are made a chunk at a time");
        let small = "The knowledge authorities said.";
        let found = s.scan(&l, small, &tokenize(small), ScanMode::All);
        assert_eq!(found.len(), 1, "the next scan is right");
        assert!(s.bounds.capacity() < 1024 && s.word_ids.capacity() < 1024);
        // A huge input after a huge input keeps them.
        let big = "\" ".repeat(SCAN_BUFFER_MAX_TOKENS + 1);
        s.scan(&l, &huge, &tokenize(&huge), ScanMode::All);
        s.scan(&l, &big, &tokenize(&big), ScanMode::All);
        assert!(s.bounds.capacity() > SCAN_BUFFER_MAX_TOKENS);
    }

    #[test]
    fn caches_change_no_result() {
        // A scanner that keeps its caches across texts and lexicons, and
        // one whose transition and pair caches have two slots each (nearly
        // every step evicts another), against a fresh scanner per scan.
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
        let mut tiny = Scanner { trans_bits: 1, pair_bits: 1, ..Scanner::new() };
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

    proptest::proptest! {
        // Failures are printed, not saved beside the source.
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..Default::default()
        })]

        /// Caches so small that nearly every lookup collides, kept across
        /// texts, find what a fresh scanner finds.
        #[test]
        fn colliding_caches_agree_with_a_fresh_scanner(
            words in proptest::collection::vec(proptest::sample::select(&[
                "the", "Knowledge", "authorities", "said", "cessation", "of", "hostilities",
                "discontinuance", "threats", "well-known", "couldn’t", "2005", ",", ".",
                "barrier", "and", "Russian", "streams",
            ][..]), 0..60)
        ) {
            thread_local! {
                static TINY: std::cell::RefCell<Scanner> = std::cell::RefCell::new(
                    Scanner { trans_bits: 2, pair_bits: 2, ..Scanner::new() },
                );
            }
            let input = words.join(" ");
            let toks = tokenize(&input);
            let l = Lexicon::embedded();
            let want = Scanner::new().scan(&l, &input, &toks, ScanMode::All);
            let got = TINY.with(|s| s.borrow_mut().scan(&l, &input, &toks, ScanMode::All));
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn word_numbers_tell_every_word_apart() {
        let mut t = WordTable::default();
        t.clear();
        // Every length the key packs differently, words that differ in one
        // byte anywhere, and long words alike in their first 16 bytes.
        let mut words: Vec<Vec<u8>> = Vec::new();
        for len in 1..=40 {
            let base: Vec<u8> = (0..len).map(|k| b'a' + (k % 26) as u8).collect();
            words.push(base.clone());
            for k in 0..len {
                let mut w = base.clone();
                w[k] = b'#';
                words.push(w);
            }
        }
        let ids: Vec<u32> = words.iter().map(|w| t.number(w)).collect();
        let distinct: std::collections::HashSet<u32> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), words.len());
        assert!(!distinct.contains(&NOT_MEMOIZED));
        let again: Vec<u32> = words.iter().map(|w| t.number(w)).collect();
        assert_eq!(again, ids);

        // A full table numbers no new word but still knows its own.
        for k in t.len()..MEMO_CAPACITY {
            t.number(format!("w{k}").as_bytes());
        }
        assert!(t.is_full());
        assert_eq!(t.number(b"never seen"), NOT_MEMOIZED);
        assert_eq!(t.number(&words[7]), ids[7]);
    }

    #[test]
    fn packed_keys_keep_walks_apart() {
        // Nodes at both ends of the addresses the keys have room for, every
        // word number and every byte: distinct keys, none with a flag bit
        // set, none free.
        let nodes = [0, 1, 2, 255, 256, MAX_FST_BYTES / 2, MAX_FST_BYTES - 2, MAX_FST_BYTES - 1];
        let words = [0, 1, 2, 1 << 15, MEMO_CAPACITY as u32 - 1, MEMO_CAPACITY as u32];
        let mut pairs = std::collections::HashSet::new();
        let mut trans = std::collections::HashSet::new();
        for node in nodes {
            for word in words {
                let k = Pair::key(node, word);
                assert!(k & 1 == 0 && k != EMPTY_KEY && k | 1 != EMPTY_KEY);
                assert!(pairs.insert(k), "{node} {word}");
            }
            for b in 0..=255u8 {
                let k = Trans::key(node, b);
                assert!(k & 3 == 0 && k | 3 != EMPTY_KEY);
                assert!(trans.insert(k), "{node} {b}");
            }
        }
    }

    #[test]
    fn a_transition_remembers_its_final_output() {
        let l = lex(&[("ab", "x"), ("abc", "y")]);
        let fst = l.layers()[0].map.as_fst();
        let mut cache = TransCache::new(4);
        let root = fst.root().addr();
        let a = cache.step(fst, root, b'a').expect("a").next;
        // Asked twice: read from the FST, then from the slot's flag bits.
        for _ in 0..2 {
            let t = cache.step(fst, a, b'b').expect("ab");
            assert!(t.final_output(fst).is_some());
            let t = cache.step(fst, root, b'a').expect("a");
            assert_eq!(t.final_output(fst), None);
        }
        assert!(cache.step(fst, root, b'z').is_none());
    }

    #[test]
    fn a_full_word_table_changes_no_result() {
        let l = Lexicon::embedded();
        let input = "The authorities said that the knowledge authorities couldn’t go.";
        let toks = tokenize(input);
        let want = Scanner::new().scan(&l, input, &toks, ScanMode::All);
        let mut s = Scanner::new();
        s.scan(&l, "", &[], ScanMode::All);
        for k in s.words.len()..MEMO_CAPACITY - 3 {
            s.words.number(format!("w{k}").as_bytes());
        }
        // Full during this scan (its later words get no number), and
        // cleared at the next.
        assert_eq!(s.scan(&l, input, &toks, ScanMode::All), want);
        assert!(s.words.is_full());
        let unnumbered = toks.iter().zip(&s.word_ids);
        assert!(unnumbered.filter(|(t, &id)| t.is_word() && id == NOT_MEMOIZED).count() > 3);
        assert_eq!(s.scan(&l, input, &toks, ScanMode::All), want);
        assert!(!s.words.is_full());
    }

    #[test]
    fn layers_merge_per_span() {
        let a = lex(&[("knowledge", "intelligence"), ("authorities", "officials")]);
        let b = lex(&[("knowledge authorities", "intelligence officials"), ("knowledge", "know")]);
        let c = lex(&[("authorities", "powers"), ("said", "told")]);
        let stacked = Lexicon::stack([a.clone(), b.clone(), c.clone()]);
        let input = "Knowledge authorities said, knowledge authorities.";
        let toks = tokenize(input);
        let got = Scanner::new().scan(&stacked, input, &toks, ScanMode::All);
        // Each span once, in order, with one hit per layer that has it.
        let mut want: Vec<(usize, usize, Vec<u16>)> = Vec::new();
        for (ix, l) in [a, b, c].iter().enumerate() {
            for m in Scanner::new().scan(l, input, &toks, ScanMode::All) {
                match want.iter_mut().find(|w| (w.0, w.1) == (m.first, m.last)) {
                    Some(w) => w.2.push(ix as u16),
                    None => want.push((m.first, m.last, vec![ix as u16])),
                }
            }
        }
        want.sort_by_key(|w| (w.0, std::cmp::Reverse(w.1)));
        let got: Vec<(usize, usize, Vec<u16>)> =
            got.iter().map(|m| (m.first, m.last, m.hits().map(|h| h.0).collect())).collect();
        assert_eq!(got, want);
        assert_eq!(got.len(), 7);
    }

    #[test]
    fn phrases_do_not_cross_punctuation() {
        let l = lex(&[("insight sharing", "intelligence sharing")]);
        let input = "insight, sharing";
        let toks = tokenize(input);
        assert!(Scanner::new().scan(&l, input, &toks, ScanMode::All).is_empty());
    }

    #[test]
    fn normalized_forms_match_normalize() {
        // ASCII tokens before, between and after non-ASCII ones, and
        // non-ASCII bytes in every position of an eight-byte block.
        let inputs = [
            "The AUTHORITIES couldn’t go to Zürich, ÉCOLE said; OK.",
            "“Knowledge”  Authorities",
            "abcdefgé ABCDEFGH é ÉÉÉÉÉÉÉÉÉ xyz",
            "",
            "plain ascii Only",
        ];
        for input in inputs {
            let toks = tokenize(input);
            let mut s = Scanner::new();
            s.scan(&Lexicon::embedded(), input, &toks, ScanMode::All);
            for (i, t) in toks.iter().enumerate() {
                assert_eq!(s.normalized(i), crate::tokenize::normalize(t.text(input)), "{input}");
            }
        }
        for input in inputs {
            let b = input.as_bytes();
            for from in 0..=b.len() {
                let want = (from..b.len()).find(|&i| !b[i].is_ascii()).unwrap_or(b.len());
                assert_eq!(next_non_ascii(b, from), want, "{input} {from}");
            }
        }
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
