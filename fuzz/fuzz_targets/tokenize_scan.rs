//! Tokenizer and lexicon scanner on arbitrary text, against a small
//! in-memory lexicon (the embedded one is 30 MB and slow to load).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use unspin::lexicon::{Entry, Lexicon, LexiconBuilder, ScanMode, Scanner, Sources};
use unspin::tokenize::{normalize, normalize_phrase, tokenize};

fn lexicon() -> &'static Lexicon {
    static LEX: OnceLock<Lexicon> = OnceLock::new();
    LEX.get_or_init(|| {
        let mut b = LexiconBuilder::new("fuzz");
        let pairs = [
            ("insight sharing", "news conference"),
            ("endeavors", "efforts"),
            ("u.s.", "United States"),
            ("moscow-supported", "Moscow-backed"),
            ("couldn't", "could not"),
            ("3.5", "three and a half"),
            ("a", "an"),
            ("a b", "c"),
            ("a b c d e f", "g"),
            ("a b c d e f g", "h"),
            ("straße", "street"),
            ("ﬁne", "fine"),
            ("İstanbul", "Istanbul"),
            ("don’t", "do not"),
            ("emoji 😀", "smile"),
        ];
        for (spun, original) in pairs {
            b.add(&Entry {
                spun: spun.into(),
                original: original.into(),
                weight: 0.5,
                sources: Sources::HAND,
            });
        }
        Lexicon::from_bytes("fuzz", b.finish().unwrap()).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let tokens = tokenize(text);
    let mut prev_end = 0;
    for t in &tokens {
        assert!(t.start < t.end, "empty token {t:?}");
        assert!(t.end <= text.len(), "token {t:?} past {}", text.len());
        assert!(t.start >= prev_end, "tokens out of order or overlapping: {t:?}");
        assert!(text.is_char_boundary(t.start) && text.is_char_boundary(t.end), "{t:?}");
        assert!(!t.text(text).chars().all(char::is_whitespace), "whitespace token {t:?}");
        prev_end = t.end;
    }
    let _ = normalize(text);
    let _ = normalize_phrase(text);

    let lex = lexicon();
    let mut scanner = Scanner::new();
    for mode in [ScanMode::All, ScanMode::LeftmostLongest] {
        let matches = scanner.scan(lex, text, &tokens, mode);
        let mut last_end_tok = 0;
        for m in &matches {
            assert!(m.first < m.last && m.last <= tokens.len(), "{m:?}");
            assert!(m.start <= m.end && m.end <= text.len(), "{m:?}");
            assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
            assert_eq!(m.start, tokens[m.first].start);
            assert_eq!(m.end, tokens[m.last - 1].end);
            assert!(!lex.candidates(m).is_empty(), "a match has candidates");
            if mode == ScanMode::LeftmostLongest {
                assert!(m.first >= last_end_tok, "leftmost-longest overlaps");
                last_end_tok = m.last;
            }
        }
        // The scanner's normalized forms (ASCII tokens read from the
        // input lower-cased at once, the others normalized one by one)
        // are the tokenizer's.
        for (i, t) in tokens.iter().enumerate() {
            assert_eq!(scanner.normalized(i), normalize(t.text(text)), "token {i} {t:?}");
        }
    }
});
