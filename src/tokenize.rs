//! Tokenizer: words, numbers and punctuation with byte offsets into the
//! original input.
//!
//! Word boundaries follow Unicode's UAX #29 (through `unicode-segmentation`),
//! which already keeps contractions ("couldn't", "couldn’t") and decimal
//! numbers ("3.5", "1,000") whole. On top of that we join what a spinner
//! treats as one unit: hyphenated compounds ("Moscow-supported") and dotted
//! abbreviations ("U.S.", "e.g."). Whitespace is not a token.
//!
//! Matching uses a normalized form (lower case, curly quotes and apostrophes
//! made straight), but offsets always point into the original bytes, so a
//! restorer can splice its edits into the input and keep everything else.

use unicode_segmentation::UnicodeSegmentation;

/// What kind of text a token holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Contains at least one letter ("war", "U.S.", "Moscow-supported", "couldn't").
    Word,
    /// Digits, possibly with separators ("2005", "3.5", "1,000").
    Number,
    /// Anything else that is not whitespace (".", ",", "“", "—").
    Punct,
}

/// One token: a byte range of the input and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Token {
    /// Byte offset of the first byte in the input.
    pub start: usize,
    /// Byte offset one past the last byte in the input.
    pub end: usize,
    /// What the token holds.
    pub kind: TokenKind,
}

impl Token {
    /// The token's text in `input` (the string it was produced from).
    pub fn text<'a>(&self, input: &'a str) -> &'a str {
        &input[self.start..self.end]
    }

    /// Whether this token is a word (not a number or punctuation).
    pub fn is_word(&self) -> bool {
        self.kind == TokenKind::Word
    }

    /// Whether this token ends a sentence ('.', '!', '?', or a lone ellipsis).
    pub fn ends_sentence(&self, input: &str) -> bool {
        self.kind == TokenKind::Punct && matches!(self.text(input), "." | "!" | "?" | "…")
    }
}

/// Splits `input` into tokens. Spans are in order, never overlap, and slice
/// `input` to the token's text.
pub fn tokenize(input: &str) -> Vec<Token> {
    let mut out = Vec::with_capacity(input.len() / 5 + 1);
    tokenize_into(input, &mut out);
    out
}

/// Like [`tokenize`], appending to a vector the caller reuses.
pub fn tokenize_into(input: &str, out: &mut Vec<Token>) {
    let segments = Segments { input, pos: 0, ascii_end: 0, slow: None };
    join_segments(input, segments, out);
}

/// Turns word-boundary segments of `input` into tokens: classifies each,
/// and joins pieces that touch into compounds and abbreviations.
fn join_segments<'a>(
    input: &'a str,
    segments: impl Iterator<Item = (usize, &'a str)>,
    out: &mut Vec<Token>,
) {
    let mut segments = segments.peekable();
    while let Some((start, seg)) = segments.next() {
        let Some(kind) = classify(seg) else { continue };
        let mut tok = Token { start, end: start + seg.len(), kind };
        if kind != TokenKind::Punct {
            // Join "Moscow" "-" "supported" and "U.S" "." while the pieces touch.
            while let Some(&(next_start, next)) = segments.peek() {
                if next_start != tok.end {
                    break;
                }
                if is_hyphen(next) {
                    // Only a hyphen between two word pieces joins them.
                    let after = next_start + next.len();
                    let rest = &input[after..];
                    let continues = rest.chars().next().is_some_and(char::is_alphanumeric);
                    if !continues {
                        break;
                    }
                    segments.next();
                    let Some((s2, w2)) = segments.next() else { break };
                    tok.end = s2 + w2.len();
                    if tok.kind == TokenKind::Number && classify(w2) == Some(TokenKind::Word) {
                        tok.kind = TokenKind::Word;
                    }
                } else if next == "."
                    && tok.kind == TokenKind::Word
                    && is_abbreviation(tok.text(input))
                {
                    segments.next();
                    tok.end += 1;
                    break;
                } else {
                    break;
                }
            }
        }
        out.push(tok);
    }
}

/// UAX #29 word segments of `input`, as `split_word_bound_indices` gives
/// them except that whitespace runs may be split differently. A chunk of
/// ASCII between ASCII whitespace (most of English text) is segmented by a
/// few byte rules; any chunk with a non-ASCII character, together with the
/// whitespace before it, goes through `unicode-segmentation`.
struct Segments<'a> {
    input: &'a str,
    pos: usize,
    /// End of the ASCII chunk being segmented by hand (`pos < ascii_end`).
    ascii_end: usize,
    slow: Option<(usize, unicode_segmentation::UWordBoundIndices<'a>)>,
}

impl<'a> Iterator for Segments<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        if let Some((off, it)) = &mut self.slow {
            if let Some((s, seg)) = it.next() {
                return Some((*off + s, seg));
            }
            self.slow = None;
        }
        let b = self.input.as_bytes();
        if self.pos < self.ascii_end {
            return Some(self.ascii_segment());
        }
        if self.pos >= b.len() {
            return None;
        }
        let start = self.pos;
        let mut w = start;
        while w < b.len() && b[w].is_ascii_whitespace() {
            w += 1;
        }
        let mut e = w;
        let mut ascii = true;
        while e < b.len() && !b[e].is_ascii_whitespace() {
            ascii &= b[e].is_ascii();
            e += 1;
        }
        if ascii {
            self.ascii_end = e;
            if w > start {
                self.pos = w;
                return Some((start, &self.input[start..w]));
            }
            return self.next();
        }
        // Whitespace-separated non-ASCII chunks go through together: UAX #29
        // joins some Unicode spaces with ASCII ones and attaches combining
        // marks to the space before them.
        loop {
            let mut w2 = e;
            while w2 < b.len() && b[w2].is_ascii_whitespace() {
                w2 += 1;
            }
            let mut e2 = w2;
            let mut ascii2 = true;
            while e2 < b.len() && !b[e2].is_ascii_whitespace() {
                ascii2 &= b[e2].is_ascii();
                e2 += 1;
            }
            if ascii2 || e2 == w2 {
                break;
            }
            e = e2;
        }
        self.pos = e;
        self.slow = Some((start, self.input[start..e].split_word_bound_indices()));
        self.next()
    }
}

impl<'a> Segments<'a> {
    fn ascii_segment(&mut self) -> (usize, &'a str) {
        let b = self.input.as_bytes();
        let (p, e) = (self.pos, self.ascii_end);
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let mut q = p + 1;
        if word(b[p]) {
            while q < e {
                let c = b[q];
                if word(c) {
                    q += 1;
                    continue;
                }
                if q + 1 < e {
                    let (prev, next) = (b[q - 1], b[q + 1]);
                    // WB6/7: letter (MidLetter | MidNumLetQ) letter; WB11/12: digit (MidNum | MidNumLetQ) digit.
                    let letters = matches!(c, b':' | b'.' | b'\'')
                        && prev.is_ascii_alphabetic()
                        && next.is_ascii_alphabetic();
                    let digits = matches!(c, b',' | b';' | b'.' | b'\'')
                        && prev.is_ascii_digit()
                        && next.is_ascii_digit();
                    if letters || digits {
                        q += 2;
                        continue;
                    }
                }
                break;
            }
        }
        self.pos = q;
        (p, &self.input[p..q])
    }
}

/// Kind of a UAX #29 segment, or `None` for whitespace.
fn classify(seg: &str) -> Option<TokenKind> {
    let mut has_digit = false;
    let mut all_space = true;
    for c in seg.chars() {
        if c.is_alphabetic() {
            return Some(TokenKind::Word);
        }
        has_digit |= c.is_numeric();
        all_space &= c.is_whitespace() || c == '\u{200b}' || c == '\u{feff}';
    }
    if all_space {
        None
    } else if has_digit {
        Some(TokenKind::Number)
    } else {
        Some(TokenKind::Punct)
    }
}

fn is_hyphen(seg: &str) -> bool {
    matches!(seg, "-" | "\u{2010}" | "\u{2011}")
}

/// "U.S" (before its last dot), "e.g", "i.e": letters separated by dots,
/// each piece one or two letters long. Single capitals ("J") also count, so
/// initials like "J. Smith" stay one token.
fn is_abbreviation(word: &str) -> bool {
    if word.contains('.') {
        return word.split('.').all(|p| {
            !p.is_empty() && p.chars().count() <= 2 && p.chars().all(char::is_alphabetic)
        });
    }
    let mut chars = word.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase())
}

/// Appends the matching form of `text` to `out`: lower case, with curly
/// apostrophes/quotes and Unicode hyphens made ASCII. Matching the lexicon
/// and the language model both go through this one function.
pub fn normalize_into(text: &str, out: &mut String) {
    if text.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{02bc}' | '\u{2032}' => out.push('\''),
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2033}' => out.push('"'),
            '\u{2010}' | '\u{2011}' => out.push('-'),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            c => out.extend(c.to_lowercase()),
        }
    }
}

/// The matching form of `text` (see [`normalize_into`]).
pub fn normalize(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    normalize_into(text, &mut s);
    s
}

/// Normalizes a whole phrase: tokens' matching forms joined by single
/// spaces, punctuation kept as its own token. This is the key form of the
/// lexicon ("Cessation  of Hostilities" → "cessation of hostilities").
pub fn normalize_phrase(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for tok in tokenize(text) {
        if !out.is_empty() {
            out.push(' ');
        }
        normalize_into(tok.text(text), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same joining over plain UAX #29 segments, without the ASCII
    /// fast path: the reference the fast segmenter is checked against.
    fn slow(input: &str) -> Vec<Token> {
        let mut out = Vec::new();
        join_segments(input, input.split_word_bound_indices(), &mut out);
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20000))]
        #[test]
        fn fast_path_matches_uax29(s in "[a-zA-Z0-9 _.,;:'\"\t\n\r!?()-]{0,30}|([a-z0-9 .,;:'_-]|\u{301}|\u{200d}|\u{a0}|\u{3000}|é|’|“|😀|\u{1f1fa}|\u{202f}|ß){0,20}|\\PC{0,20}") {
            proptest::prop_assert_eq!(tokenize(&s), slow(&s), "{:?}", s);
        }
    }

    fn texts(input: &str) -> Vec<&str> {
        tokenize(input).iter().map(|t| t.text(input)).collect()
    }

    #[test]
    fn words_punctuation_and_numbers() {
        assert_eq!(
            texts("The war, in 2005, cost 3.5 bn."),
            ["The", "war", ",", "in", "2005", ",", "cost", "3.5", "bn", "."]
        );
    }

    #[test]
    fn compounds_contractions_abbreviations() {
        assert_eq!(
            texts("Moscow-supported rebels couldn't reach the U.S. base."),
            ["Moscow-supported", "rebels", "couldn't", "reach", "the", "U.S.", "base", "."]
        );
        assert_eq!(
            texts("a well-known, long-term 24-hour plan"),
            ["a", "well-known", ",", "long-term", "24-hour", "plan"]
        );
        // A dash between spaced words, or a trailing hyphen, does not join.
        assert_eq!(
            texts("war - peace pre- and post"),
            ["war", "-", "peace", "pre", "-", "and", "post"]
        );
    }

    #[test]
    fn curly_quotes_normalize_but_offsets_stay_original() {
        let input = "“They couldn’t,” she said.";
        let toks = tokenize(input);
        let words: Vec<_> = toks.iter().map(|t| t.text(input)).collect();
        assert_eq!(words, ["“", "They", "couldn’t", ",", "”", "she", "said", "."]);
        assert_eq!(normalize(words[2]), "couldn't");
        assert_eq!(normalize(words[0]), "\"");
        assert_eq!(&input[toks[2].start..toks[2].end], "couldn’t");
    }

    #[test]
    fn unicode_words() {
        assert_eq!(texts("Café Zürich naïve ÉCOLE"), ["Café", "Zürich", "naïve", "ÉCOLE"]);
        assert_eq!(normalize("ÉCOLE"), "école");
    }

    #[test]
    fn phrase_normalization() {
        assert_eq!(normalize_phrase("  Cessation  of\tHostilities "), "cessation of hostilities");
        assert_eq!(normalize_phrase("U.S. or Russian jets"), "u.s. or russian jets");
    }

    #[test]
    fn empty_and_whitespace() {
        assert!(tokenize("").is_empty());
        assert!(tokenize(" \n\t\u{a0} ").is_empty());
    }
}
