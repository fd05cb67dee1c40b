//! The tokenizer and the phrase lexicon: the tokenizer's invariants on
//! arbitrary text, the three import formats, `unspin lexicon build`,
//! `lookup` and `stats` round trips, the embedded lexicon's must-show pairs,
//! and the scanner.
//!
//! Fixtures in `tests/data/lexicon/` are written by hand for these tests;
//! none of their pairs comes from a real tortured-phrase list.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use proptest::prelude::*;
use unspin::lexicon::import::{import, import_file, Format, Imported};
use unspin::lexicon::{Entry, LexiconBuilder, Match, ScanMode, Scanner, Sources};
use unspin::tokenize::{normalize, normalize_phrase, tokenize, tokenize_into, Token, TokenKind};
use unspin::Lexicon;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lexicon").join(name)
}

fn unspin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_unspin"))
}

/// Property-test settings: `cases` cases, and failures printed rather than
/// saved to a regressions file beside this one.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// The texts of `input`'s tokens.
fn texts(input: &str) -> Vec<&str> {
    tokenize(input).iter().map(|t| t.text(input)).collect()
}

/// A lexicon compiled in memory from (spun, original, weight) triples.
fn lexicon(pairs: &[(&str, &str, f32)]) -> Lexicon {
    let mut b = LexiconBuilder::new("test");
    for &(spun, original, weight) in pairs {
        b.add(&Entry {
            spun: spun.into(),
            original: original.into(),
            weight,
            sources: Sources::HAND,
        });
    }
    Lexicon::from_bytes("test", b.finish().unwrap()).unwrap()
}

/// One line of `unspin lexicon lookup` output: original, weight, sources.
#[derive(Debug)]
struct Row {
    original: String,
    weight: f32,
    sources: Option<String>,
}

fn rows(stdout: &[u8]) -> Vec<Row> {
    let text = std::str::from_utf8(stdout).expect("lookup prints UTF-8");
    text.lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(cols.len() == 2 || cols.len() == 3, "bad lookup line {line:?}");
            let weight = cols[1].parse().unwrap_or_else(|_| panic!("bad weight in {line:?}"));
            Row {
                original: cols[0].to_string(),
                weight,
                sources: cols.get(2).map(|s| s.to_string()),
            }
        })
        .collect()
}

/// `unspin [flags] lexicon lookup [--sources] PHRASE`, which must succeed.
fn lookup(flags: &[&std::ffi::OsStr], phrase: &str, sources: bool) -> Vec<Row> {
    let mut cmd = unspin();
    cmd.args(flags).args(["lexicon", "lookup"]);
    if sources {
        cmd.arg("--sources");
    }
    let out = cmd.arg(phrase).assert().success().get_output().stdout.clone();
    rows(&out)
}

fn originals(rows: &[Row]) -> Vec<&str> {
    rows.iter().map(|r| r.original.as_str()).collect()
}

/// Weights are stored as `round(-log10(w) * 36)`, steps of 6.6%: a weight
/// comes back within half a step (3.3%), plus the 6 printed decimals.
fn assert_weight(got: f32, want: f32) {
    let rel = (got - want).abs() / want;
    assert!(
        rel <= 0.034 || (got - want).abs() <= 1e-6,
        "weight {got}, expected {want} (off by {:.1}%)",
        rel * 100.0
    );
}

/// `unspin lexicon build SRC... -o OUT [extra]` in a fresh directory.
fn build(
    sources: &[PathBuf],
    extra: &[&str],
) -> (tempfile::TempDir, PathBuf, assert_cmd::assert::Assert) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("user.lex");
    let assert =
        unspin().args(["lexicon", "build"]).args(sources).arg("-o").arg(&out).args(extra).assert();
    (dir, out, assert)
}

fn lexicon_only(path: &Path) -> Vec<&std::ffi::OsStr> {
    vec!["--lexicon-only".as_ref(), "--lexicon".as_ref(), path.as_os_str()]
}

mod tokenizer {
    use super::*;

    /// Pieces that a spinner's output and news text are made of, including
    /// the ones the tokenizer joins or splits on; concatenated with no
    /// separator so they touch each other in every combination.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z]{1,8}",
            2 => prop::sample::select(vec![
                "Moscow", "U", "S", "e", "g", "Zürich", "naïve", "ÉCOLE", "Москва", "東京", "مرحبا", "İstanbul",
                "ß", "ǅ", "ﬁ",
            ])
            .prop_map(str::to_string),
            2 => prop::sample::select(vec!["-", "\u{2010}", "\u{2011}", "–", "—", "_"]).prop_map(str::to_string),
            2 => prop::sample::select(vec!["'", "’", "‘", "ʼ", "′"]).prop_map(str::to_string),
            2 => prop::sample::select(vec![".", "..", "...", "…", ",", ";", ":", "!", "?", "%", "$", "(", ")"])
                .prop_map(str::to_string),
            2 => "[0-9]{1,4}",
            1 => prop::sample::select(vec!["1,000", "3.5", "٣", "²", "½", "0.5%"]).prop_map(str::to_string),
            2 => prop::sample::select(vec!["\"", "“", "”", "„", "«", "»", "″"]).prop_map(str::to_string),
            3 => prop::sample::select(vec![
                " ", "  ", "\t", "\n", "\r\n", "\r", "\u{a0}", "\u{2003}", "\u{2009}", "\u{3000}", "\u{202f}",
                "\u{200b}", "\u{feff}", "\u{1680}", "\u{85}", "\u{2028}",
            ])
            .prop_map(str::to_string),
            1 => prop::sample::select(vec![
                "😀", "👍🏽", "👨\u{200d}👩\u{200d}👧", "🇺🇸", "❤\u{fe0f}", "\u{301}", "\u{200d}", "\u{2060}",
            ])
            .prop_map(str::to_string),
        ]
    }

    fn news_like() -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..40).prop_map(|v| v.concat())
    }

    /// Checks every invariant the tokenizer promises for `input`.
    fn check(input: &str) -> Result<(), TestCaseError> {
        let toks = tokenize(input);
        let mut prev_end = 0;
        for t in &toks {
            // Spans lie on character boundaries, in order, without overlap.
            prop_assert!(t.start < t.end && t.end <= input.len(), "empty or out of range {:?}", t);
            prop_assert!(
                input.is_char_boundary(t.start) && input.is_char_boundary(t.end),
                "{:?} splits a char",
                t
            );
            prop_assert!(prev_end <= t.start, "{:?} overlaps or precedes the previous token", t);
            let text = t.text(input);
            prop_assert_eq!(text, &input[t.start..t.end]);
            prop_assert!(
                !text.chars().all(char::is_whitespace),
                "whitespace-only token {:?}",
                text
            );
            // Nothing but whitespace is dropped between tokens.
            let gap = &input[prev_end..t.start];
            prop_assert!(gap.chars().all(is_space), "dropped {:?} before {:?}", gap, text);
            // The kind says what the text holds.
            let letter = text.chars().any(char::is_alphabetic);
            let digit = text.chars().any(char::is_numeric);
            match t.kind {
                TokenKind::Word => prop_assert!(letter, "word without a letter: {:?}", text),
                TokenKind::Number => prop_assert!(digit && !letter, "bad number {:?}", text),
                TokenKind::Punct => prop_assert!(!digit && !letter, "bad punctuation {:?}", text),
            }
            prev_end = t.end;
        }
        prop_assert!(
            input[prev_end..].chars().all(is_space),
            "dropped the tail {:?}",
            &input[prev_end..]
        );

        // Deterministic, and a reused buffer only gets the same tokens appended.
        prop_assert_eq!(&tokenize(input), &toks);
        let junk = Token { start: 7, end: 9, kind: TokenKind::Punct };
        let mut reused = vec![junk];
        tokenize_into(input, &mut reused);
        prop_assert_eq!(reused[0], junk);
        prop_assert_eq!(&reused[1..], &toks[..]);

        // Offsets are absolute: after a line break (a hard word boundary)
        // the same tokens come back, shifted by its length.
        let shifted = format!("\n{input}");
        let again: Vec<Token> = tokenize(&shifted)
            .into_iter()
            .map(|t| Token { start: t.start - 1, end: t.end - 1, ..t })
            .collect();
        prop_assert_eq!(again, toks);
        Ok(())
    }

    /// What the tokenizer may skip: whitespace, and the invisible zero-width
    /// space and byte-order mark.
    fn is_space(c: char) -> bool {
        c.is_whitespace() || c == '\u{200b}' || c == '\u{feff}'
    }

    proptest! {
        #![proptest_config(config(512))]

        #[test]
        fn invariants_on_arbitrary_unicode(input in any::<String>()) {
            check(&input)?;
        }

        #[test]
        fn invariants_on_news_like_text(input in news_like()) {
            check(&input)?;
        }

        /// Matching forms: what `normalize` maps (quotes, apostrophes, case)
        /// is the only difference between a token and its matching form.
        #[test]
        fn normalized_tokens_differ_only_in_case_and_quotes(input in news_like()) {
            for t in tokenize(&input) {
                let text = t.text(&input);
                let norm = normalize(text);
                let expected: String = text
                    .chars()
                    .map(|c| match c {
                        '\u{2018}' | '\u{2019}' | '\u{02bc}' | '\u{2032}' => "'".to_string(),
                        '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2033}' => "\"".to_string(),
                        '\u{2010}' | '\u{2011}' => "-".to_string(),
                        c => c.to_lowercase().collect(),
                    })
                    .collect();
                prop_assert_eq!(norm, expected);
            }
        }
    }

    #[test]
    fn hyphenated_compounds_are_one_word() {
        assert_eq!(texts("Moscow-supported rebels"), ["Moscow-supported", "rebels"]);
        assert_eq!(tokenize("Moscow-supported")[0].kind, TokenKind::Word);
        // Unicode hyphens join too, and match as the ASCII one.
        let nb = "Moscow\u{2011}supported";
        assert_eq!(texts(nb), [nb]);
        assert_eq!(normalize_phrase(nb), "moscow-supported");
        assert_eq!(texts("a 24-hour ceasefire"), ["a", "24-hour", "ceasefire"]);
        assert_eq!(tokenize("24-hour")[0].kind, TokenKind::Word);
        // A spaced dash, an en dash and a dangling hyphen do not join.
        assert_eq!(texts("war - peace"), ["war", "-", "peace"]);
        assert_eq!(texts("2004–2005 pre-"), ["2004", "–", "2005", "pre", "-"]);
    }

    #[test]
    fn contractions_straight_and_curly() {
        for word in ["couldn't", "couldn’t"] {
            let input = format!("They {word} go.");
            assert_eq!(texts(&input), ["They", word, "go", "."]);
            assert_eq!(tokenize(&input)[1].kind, TokenKind::Word);
            assert_eq!(normalize(word), "couldn't");
        }
    }

    #[test]
    fn dotted_abbreviations_keep_their_last_dot() {
        assert_eq!(texts("U.S. or Russian jets"), ["U.S.", "or", "Russian", "jets"]);
        assert_eq!(texts("the U.S."), ["the", "U.S."]);
        assert_eq!(texts("e.g. this"), ["e.g.", "this"]);
        assert_eq!(normalize_phrase("U.S. or Russian jets"), "u.s. or russian jets");
        // An ordinary word at the end of a sentence keeps its full stop apart.
        assert_eq!(texts("They left."), ["They", "left", "."]);
    }

    #[test]
    fn numbers_with_separators() {
        let input = "It cost 1,000 dollars, or 3.5 percent; 1,000.";
        let toks = tokenize(input);
        let got: Vec<_> = toks.iter().map(|t| (t.text(input), t.kind)).collect();
        use TokenKind::*;
        assert_eq!(
            got,
            [
                ("It", Word),
                ("cost", Word),
                ("1,000", Number),
                ("dollars", Word),
                (",", Punct),
                ("or", Word),
                ("3.5", Number),
                ("percent", Word),
                (";", Punct),
                ("1,000", Number),
                (".", Punct),
            ]
        );
    }

    #[test]
    fn curly_quotes_match_straight_with_original_offsets() {
        let input = "“Flying machines couldn’t land,” she said.";
        let toks = tokenize(input);
        assert_eq!(
            texts(input),
            ["“", "Flying", "machines", "couldn’t", "land", ",", "”", "she", "said", "."]
        );
        // Offsets are into the original bytes: the curly quote is 3 bytes.
        assert_eq!((toks[0].start, toks[0].end), (0, 3));
        assert_eq!(toks[1].start, 3);
        assert_eq!(&input[toks[3].start..toks[3].end], "couldn’t");
        // ... while the matching form is straight and lower case.
        assert_eq!(normalize(toks[0].text(input)), "\"");
        assert_eq!(
            normalize_phrase("“Flying Machines Couldn’t”"),
            "\" flying machines couldn't \""
        );
        // So a straight key finds the curly text, and its span is the original.
        let lex = lexicon(&[("machines couldn't land", "aircraft could not land", 1.0)]);
        let m = Scanner::new().scan(&lex, input, &toks, ScanMode::All);
        assert_eq!(m.len(), 1);
        assert_eq!(&input[m[0].start..m[0].end], "machines couldn’t land");
    }

    #[test]
    fn whitespace_of_every_kind_is_not_a_token() {
        assert!(tokenize("").is_empty());
        assert!(tokenize(" \t\n\r\n\u{a0}\u{2003}\u{3000}\u{200b}\u{feff}").is_empty());
        assert_eq!(texts("a\u{a0}b\u{3000}c\u{2003}d"), ["a", "b", "c", "d"]);
    }
}

mod import_formats {
    use super::*;

    fn pairs(got: &Imported) -> Vec<(&str, &str, f32)> {
        got.entries.iter().map(|e| (e.spun.as_str(), e.original.as_str(), e.weight)).collect()
    }

    fn skipped_lines(got: &Imported) -> Vec<usize> {
        got.skipped.iter().map(|s| s.line).collect()
    }

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(Format::from_path(Path::new("a.csv")), Format::PpsCsv);
        assert_eq!(Format::from_path(Path::new("a.JSON")), Format::Json);
        assert_eq!(Format::from_path(Path::new("a.tsv")), Format::Tsv);
        assert_eq!(Format::from_path(Path::new("a.txt")), Format::Tsv);
    }

    #[test]
    fn tsv_comments_weights_and_broken_lines() {
        let got = import_file(&data("mixed.tsv"), None).unwrap();
        assert_eq!(
            pairs(&got),
            [("belly gremlin", "stomach bug", 0.25), ("heavenly body watcher", "astronomer", 0.6)]
        );
        assert_eq!(got.entries[1].sources, Sources::USER.union(Sources::HAND));
        assert_eq!(got.entries[0].sources, Sources::USER, "user pairs default to the user source");
        assert_eq!(skipped_lines(&got), [5, 6, 7]);
        assert!(got.skipped.iter().all(|s| s.malformed));
        let shown = got.skipped[0].to_string();
        assert!(shown.starts_with(&format!("{}:5: ", data("mixed.tsv").display())), "{shown}");
        assert!(got.skipped[1].reason.contains("2.5"), "{}", got.skipped[1].reason);
        assert!(got.skipped[2].reason.contains("martians"), "{}", got.skipped[2].reason);
    }

    #[test]
    fn pps_csv_quoting_queries_acronyms_and_alternatives() {
        let got = import_file(&data("pps.csv"), None).unwrap();
        assert_eq!(
            pairs(&got),
            [
                ("belly gremlin", "stomach bug", 1.0),
                ("woolly arithmetic", "approximate computing", 1.0),
                ("sly software", "malicious software", 1.0),
                ("sly software", "harmful software", 0.8),
                ("sea, air and land", "land, sea and air", 1.0),
            ]
        );
        // The first record spans lines 2-3, so the queries are on lines 4-6
        // and the uncertain target on line 10.
        assert_eq!(skipped_lines(&got), [4, 5, 6, 10]);
        assert!(got.skipped.iter().all(|s| !s.malformed), "queries are well-formed, just unusable");
        for s in &got.skipped[..3] {
            assert!(s.reason.contains("search query"), "{s}");
        }
        assert!(got.skipped[0].reason.contains("AND"), "{}", got.skipped[0]);
        assert!(got.skipped[3].reason.contains("uncertain"), "{}", got.skipped[3]);
    }

    #[test]
    fn pps_csv_without_its_columns_is_an_error() {
        let err =
            import("export.csv", "Phrase,Correction\nbelly gremlin,stomach bug\n", Format::PpsCsv)
                .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("export.csv:1:") && msg.contains("Expected Text"), "{msg}");
    }

    #[test]
    fn json_records_good_and_bad() {
        let got = import_file(&data("phrases.json"), None).unwrap();
        assert_eq!(
            pairs(&got),
            [
                ("Quick Sand Clock", "hourglass", 1.0),
                ("heavenly body watcher", "astronomer", 1.0),
                ("talkative container", "chatterbox", 1.0),
                ("talkative container", "loudspeaker", 0.8),
            ]
        );
        assert_eq!(skipped_lines(&got), [2, 4]);
        assert!(got.skipped.iter().all(|s| s.malformed));
        // A bare array is read too; anything else is an error naming the input.
        let bare = import(
            "b.json",
            r#"[{"tortured":"belly gremlin","correct":"stomach bug"}]"#,
            Format::Json,
        )
        .unwrap();
        assert_eq!(bare.entries.len(), 1);
        for bad in ["{\"phrases\": 3}", "\"text\"", "{\"phrases\": [", "\u{0}\u{1}garbage"] {
            let err = import("b.json", bad, Format::Json).unwrap_err().to_string();
            assert!(err.starts_with("b.json:"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_phrase() {
        let got = import("bom.tsv", "\u{feff}belly gremlin\tstomach bug\n", Format::Tsv).unwrap();
        assert_eq!(got.entries[0].spun, "belly gremlin");
        let csv =
            "\u{feff}Fingerprint - Tortured Phrase,Expected Text\nbelly gremlin,stomach bug\n";
        assert_eq!(import("bom.csv", csv, Format::PpsCsv).unwrap().entries.len(), 1);
    }

    #[test]
    fn empty_tsv_gives_an_empty_lexicon() {
        let got = import("empty.tsv", "", Format::Tsv).unwrap();
        assert!(got.entries.is_empty() && got.skipped.is_empty());
        let lex =
            Lexicon::from_bytes("empty", LexiconBuilder::new("empty").finish().unwrap()).unwrap();
        assert!(lex.lookup("anything").is_empty());
        assert_eq!(lex.stats()[0].meta.pairs, 0);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.tsv");
        std::fs::write(&path, garbage()).unwrap();
        let err = import_file(&path, None).unwrap_err().to_string();
        assert!(err.contains("garbage.tsv") && err.contains("not UTF-8"), "{err}");
        for bytes in
            [garbage(), b"UNSPLEX1".iter().chain(&garbage()).copied().collect(), Vec::new()]
        {
            let err = Lexicon::from_bytes("junk.lex", bytes).unwrap_err().to_string();
            assert!(err.contains("junk.lex"), "{err}");
        }
    }

    proptest! {
        #![proptest_config(config(64))]

        /// Whatever the text, importing reports, never panics.
        #[test]
        fn import_never_panics(text in "[a-z \t\n\",#?()/.0-9]{0,200}|\\PC{0,100}") {
            for format in [Format::Tsv, Format::PpsCsv, Format::Json] {
                let _ = import("p", &text, format);
            }
        }

        /// A damaged lexicon file is refused or still answers; never a panic.
        #[test]
        fn corrupt_lexicon_files_are_refused(flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..4)) {
            let mut bytes = small_lexicon_bytes();
            for (at, x) in flips {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            if let Ok(lex) = Lexicon::from_bytes("flipped", bytes) {
                for phrase in ["wobbly pudding", "pony express", "sky streams", "nothing"] {
                    let _ = lex.lookup(phrase);
                }
                let input = "Wobbly pudding and pony express, sky streams.";
                let toks = tokenize(input);
                for m in Scanner::new().scan(&lex, input, &toks, ScanMode::All) {
                    let _ = lex.candidates(&m);
                }
            }
        }
    }

    fn small_lexicon_bytes() -> Vec<u8> {
        let mut b = LexiconBuilder::new("small");
        for e in import_file(&data("spins.tsv"), None).unwrap().entries {
            b.add(&e);
        }
        b.finish().unwrap()
    }
}

/// Deterministic bytes that are neither UTF-8 nor a lexicon.
fn garbage() -> Vec<u8> {
    (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .chain([0xff, 0xfe, 0x80])
        .collect()
}

mod build_and_lookup {
    use super::*;

    #[test]
    fn tsv_round_trip_keeps_order_and_weights() {
        let (_dir, lex, assert) = build(&[data("spins.tsv")], &[]);
        assert.success().stderr(
            predicate::str::contains("4 phrases, 7 pairs read, 0 lines skipped")
                .and(predicate::str::contains("unspin: skipped").not()),
        );
        let got = lookup(&lexicon_only(&lex), "Wobbly   PUDDING", false);
        assert_eq!(
            originals(&got),
            ["shaky consensus", "loose coalition", "soft landing", "Frozen Talks"]
        );
        for (row, want) in got.iter().zip([0.9, 0.3, 0.04, 0.0012]) {
            assert_weight(row.weight, want);
            assert!(row.sources.is_none());
        }
        let got = lookup(&lexicon_only(&lex), "pony express", true);
        assert_eq!(originals(&got), ["courier service"]);
        assert_weight(got[0].weight, 0.5);
        assert_eq!(got[0].sources.as_deref(), Some("user"));
        // No weight column means 1.
        let got = lookup(&lexicon_only(&lex), "sky streams", false);
        assert_weight(got[0].weight, 1.0);
        // -n limits the list to the best.
        let out = unspin()
            .args(lexicon_only(&lex))
            .args(["lexicon", "lookup", "-n", "2", "wobbly pudding"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(originals(&rows(&out)), ["shaky consensus", "loose coalition"]);

        // The library reads the same file the same way.
        let lib = Lexicon::open(&lex).unwrap();
        let c = lib.lookup("wobbly pudding");
        let names: Vec<_> = c.iter().map(|c| c.original).collect();
        assert_eq!(names, ["shaky consensus", "loose coalition", "soft landing", "Frozen Talks"]);
        assert_weight(c[3].weight, 0.0012);
        assert!(c.iter().all(|c| c.sources == Sources::USER));
    }

    #[test]
    fn user_lexicon_alone_or_merged_with_the_embedded_one() {
        let (_dir, lex, assert) = build(&[data("spins.tsv")], &[]);
        assert.success();
        // Alone: only the user's pair.
        let alone = lookup(&lexicon_only(&lex), "flying machine", true);
        assert_eq!(originals(&alone), ["hovercraft"]);
        unspin().args(lexicon_only(&lex)).args(["lexicon", "lookup", "streams"]).assert().code(1);
        // Merged: the user's layer first, then the embedded one's candidates.
        let flags = ["--lexicon".as_ref(), lex.as_os_str()];
        let merged = lookup(&flags, "flying machine", true);
        assert_eq!(merged[0].original, "hovercraft");
        assert_weight(merged[0].weight, 0.7);
        assert_eq!(merged[0].sources.as_deref(), Some("user"));
        let embedded = lookup(&[], "flying machine", false);
        assert_eq!(
            originals(&merged[1..]),
            originals(&embedded),
            "the embedded candidates follow, in their order"
        );
        // A phrase only the embedded layer knows is still found.
        assert!(originals(&lookup(&flags, "streams", false)).contains(&"jets"));
        // The flags may come after the subcommand too.
        let out = unspin()
            .args(["lexicon", "lookup", "pony express", "--lexicon-only", "--lexicon"])
            .arg(&lex)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(originals(&rows(&out)), ["courier service"]);
    }

    /// By default a phrase's candidates are stored best (largest weight)
    /// first; --keep-order keeps the order of the sources instead.
    #[test]
    fn keep_order_keeps_the_source_order() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("ranked.tsv");
        std::fs::write(
            &tsv,
            "glass fish\tgoldfish\t0.1\nglass fish\tjellyfish\t0.9\nglass fish\taquarium\t0.5\n",
        )
        .unwrap();
        let (_d, sorted, assert) = build(std::slice::from_ref(&tsv), &[]);
        assert.success();
        assert_eq!(
            originals(&lookup(&lexicon_only(&sorted), "glass fish", false)),
            ["jellyfish", "aquarium", "goldfish"]
        );
        let (_d, kept, assert) = build(&[tsv], &["--keep-order"]);
        assert.success();
        let got = lookup(&lexicon_only(&kept), "glass fish", false);
        assert_eq!(originals(&got), ["goldfish", "jellyfish", "aquarium"]);
        assert_weight(got[1].weight, 0.9);
    }

    #[test]
    fn same_sources_build_the_same_bytes() {
        let (_d1, a, r1) = build(&[data("spins.tsv"), data("pps.csv")], &["--name", "same"]);
        let (_d2, b, r2) = build(&[data("spins.tsv"), data("pps.csv")], &["--name", "same"]);
        r1.success();
        r2.success();
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    }

    #[test]
    fn tsv_broken_lines_are_reported_and_skipped() {
        let (_dir, lex, assert) = build(&[data("mixed.tsv")], &[]);
        let file = data("mixed.tsv").display().to_string();
        let assert = assert.success();
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        for line in [5, 6, 7] {
            assert!(
                stderr.contains(&format!("unspin: skipped {file}:{line}: ")),
                "line {line}: {stderr}"
            );
        }
        for line in [1, 2, 3, 4, 8] {
            assert!(!stderr.contains(&format!("{file}:{line}:")), "line {line}: {stderr}");
        }
        assert!(stderr.contains("3 lines skipped, 3 malformed"), "{stderr}");
        let got = lookup(&lexicon_only(&lex), "belly gremlin", false);
        assert_eq!(originals(&got), ["stomach bug"]);
        assert_weight(got[0].weight, 0.25);
        let got = lookup(&lexicon_only(&lex), "heavenly body watcher", true);
        assert_eq!(got[0].sources.as_deref(), Some("hand,user"));
        unspin()
            .args(lexicon_only(&lex))
            .args(["lexicon", "lookup", "quick sand clock"])
            .assert()
            .code(1);
    }

    #[test]
    fn strict_fails_on_the_first_broken_line() {
        let (_dir, lex, assert) = build(&[data("mixed.tsv")], &["--strict"]);
        let file = data("mixed.tsv").display().to_string();
        assert.code(2).stderr(
            predicate::str::contains(format!("{file}:5: "))
                .and(predicate::str::contains("--strict")),
        );
        assert!(!lex.exists(), "--strict must not write a lexicon");

        let (_dir, lex, assert) = build(&[data("phrases.json")], &["--strict"]);
        assert.code(2).stderr(predicate::str::contains("phrases.json:2: "));
        assert!(!lex.exists());
    }

    #[test]
    fn pps_csv_through_the_cli() {
        // Queries and uncertain targets are not malformed: --strict passes them.
        let (_dir, lex, assert) = build(&[data("pps.csv")], &["--strict"]);
        let file = data("pps.csv").display().to_string();
        assert.success().stderr(
            predicate::str::contains(format!("{file}:4: search query"))
                .and(predicate::str::contains(format!("{file}:5: search query")))
                .and(predicate::str::contains(format!("{file}:6: search query")))
                .and(predicate::str::contains(format!("{file}:10: uncertain"))),
        );
        let got = lookup(&lexicon_only(&lex), "sly software", false);
        assert_eq!(originals(&got), ["malicious software", "harmful software"]);
        assert_weight(got[1].weight, 0.8);
        assert_eq!(
            originals(&lookup(&lexicon_only(&lex), "Woolly Arithmetic", false)),
            ["approximate computing"]
        );
        assert_eq!(
            originals(&lookup(&lexicon_only(&lex), "sea, air and land", false)),
            ["land, sea and air"]
        );
        assert_eq!(
            originals(&lookup(&lexicon_only(&lex), "belly gremlin", false)),
            ["stomach bug"]
        );
        unspin().args(lexicon_only(&lex)).args(["lexicon", "lookup", "lunar tug"]).assert().code(1);
    }

    #[test]
    fn json_through_the_cli_and_format_override() {
        let (_dir, lex, assert) = build(&[data("phrases.json")], &[]);
        assert.success().stderr(predicate::str::contains("phrases.json:4: "));
        assert_eq!(
            originals(&lookup(&lexicon_only(&lex), "quick sand clock", false)),
            ["hourglass"]
        );
        assert_eq!(
            originals(&lookup(&lexicon_only(&lex), "talkative container", false)),
            ["chatterbox", "loudspeaker"]
        );

        // The extension says TSV; --format says JSON.
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("phrases.txt");
        std::fs::copy(data("phrases.json"), &txt).unwrap();
        let (_d, lex, assert) = build(&[txt], &["--format", "json"]);
        assert.success();
        assert_eq!(
            originals(&lookup(&lexicon_only(&lex), "heavenly body watcher", false)),
            ["astronomer"]
        );
    }

    #[test]
    fn empty_sources_give_an_empty_lexicon() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.tsv");
        std::fs::write(&empty, "").unwrap();
        let (_d, lex, assert) = build(&[empty], &["--strict"]);
        assert.success().stderr(predicate::str::contains("0 phrases"));
        unspin().args(lexicon_only(&lex)).args(["lexicon", "lookup", "anything"]).assert().code(1);
        unspin().args(lexicon_only(&lex)).args(["lexicon", "stats"]).assert().success().stdout(
            predicate::str::contains("pairs\t0\n").and(predicate::str::contains("keys\t0\n")),
        );
    }

    /// An empty .csv or .json file holds no pairs, like an empty .tsv; it
    /// must not fail the build (one of several exports may be empty).
    #[test]
    fn empty_csv_and_json_give_an_empty_lexicon() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["empty.csv", "empty.json"] {
            let empty = dir.path().join(name);
            std::fs::write(&empty, "").unwrap();
            let (_d, _lex, assert) = build(&[empty], &[]);
            assert.success().stderr(predicate::str::contains("0 phrases"));
        }
    }

    #[test]
    fn garbage_sources_and_lexicons_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["garbage.tsv", "garbage.csv", "garbage.json", "garbage.bin"] {
            let path = dir.path().join(name);
            std::fs::write(&path, garbage()).unwrap();
            let (_d, lex, assert) = build(std::slice::from_ref(&path), &[]);
            assert
                .code(2)
                .stderr(predicate::str::contains(name).and(predicate::str::contains("not UTF-8")));
            assert!(!lex.exists());
            // Given as a compiled lexicon, it is refused by name.
            unspin()
                .arg("--lexicon")
                .arg(&path)
                .args(["lexicon", "lookup", "streams"])
                .assert()
                .code(2)
                .stderr(
                    predicate::str::contains(name)
                        .and(predicate::str::contains("not an unspin lexicon")),
                );
        }
        // A text file that is not a PPS export, and a TSV given as a lexicon.
        let csv = dir.path().join("other.csv");
        std::fs::write(&csv, "a,b\n1,2\n").unwrap();
        build(&[csv], &[]).2.code(2).stderr(predicate::str::contains("other.csv:1:"));
        unspin()
            .arg("--lexicon")
            .arg(data("spins.tsv"))
            .args(["lexicon", "stats"])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("spins.tsv")
                    .and(predicate::str::contains("lexicon build")),
            );
        // A truncated lexicon.
        let (_d, lex, assert) = build(&[data("spins.tsv")], &[]);
        assert.success();
        let bytes = std::fs::read(&lex).unwrap();
        std::fs::write(&lex, &bytes[..bytes.len() / 2]).unwrap();
        unspin()
            .args(lexicon_only(&lex))
            .args(["lexicon", "lookup", "sky streams"])
            .assert()
            .code(2);
        // A missing source.
        build(&[dir.path().join("missing.tsv")], &[])
            .2
            .code(2)
            .stderr(predicate::str::contains("missing.tsv"));
    }
}

mod embedded {
    use super::*;

    /// Thesaurus sources, as `--sources` names them.
    const THESAURUS: [&str; 4] = ["moby", "moby-reverse", "moby-sibling", "wordnet"];

    fn find<'a>(rows: &'a [Row], original: &str) -> &'a Row {
        rows.iter().find(|r| r.original == original).unwrap_or_else(|| {
            panic!("{original:?} not among {:?}", originals(rows));
        })
    }

    #[test]
    fn must_show_phrase_lookups() {
        for (spun, original) in [
            ("discontinuance of threats", "cessation of hostilities"),
            ("flying machine", "aircraft"),
        ] {
            let got = lookup(&[], spun, false);
            let row = find(&got, original);
            assert!(row.weight > 0.0 && row.weight <= 1.0);
        }
    }

    /// Single words must come from a general thesaurus, not only our hand
    /// list: the lexicon is meant to generalize. ("streams" → "jets" is on
    /// the hand list only since round 15: Moby's link, read backwards, now
    /// ranks past the 64 candidates a spun word keeps.)
    #[test]
    fn must_show_word_lookups_come_from_a_thesaurus() {
        for (spun, original) in [
            ("insight", "intelligence"),
            ("gatherings", "groups"),
            ("endeavors", "efforts"),
            ("rehashed", "repeated"),
        ] {
            check_thesaurus_pair(spun, original);
        }
    }

    fn check_thesaurus_pair(spun: &str, original: &str) {
        let got = lookup(&[], spun, true);
        let row = find(&got, original);
        let sources = row.sources.as_deref().unwrap();
        assert!(
            sources.split(',').any(|s| THESAURUS.contains(&s)),
            "{spun} -> {original}: sources {sources:?}, expected one of {THESAURUS:?}"
        );
        assert!(row.weight > 0.0 && row.weight <= 1.0);
    }

    #[test]
    fn absent_phrase_exits_1() {
        unspin()
            .args(["lexicon", "lookup", "zqxv flurbish"])
            .assert()
            .code(1)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains("zqxv flurbish"));
        unspin().args(["lexicon", "lookup", "  "]).assert().code(1);
    }

    #[test]
    fn lookup_ignores_case_and_spacing() {
        let a = lookup(&[], "Discontinuance  of\tTHREATS", false);
        let b = lookup(&[], "discontinuance of threats", false);
        assert_eq!(originals(&a), originals(&b));
        assert!(!a.is_empty());
    }

    /// The fields of `unspin [flags] lexicon stats`, by name, in order.
    fn stats(flags: &[&std::ffi::OsStr]) -> Vec<(String, String)> {
        let out = unspin().args(flags).args(["lexicon", "stats"]).assert().success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        text.lines()
            .map(|l| {
                let (k, v) = l.split_once('\t').unwrap_or_else(|| panic!("bad stats line {l:?}"));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    fn fields<'a>(stats: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        stats.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// "first 16 hex digits of SHA-256 over the layers' hashes"
    fn content_hash(layer_sha256: &[&str]) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for hex in layer_sha256 {
            let raw: Vec<u8> = (0..64)
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            h.update(raw);
        }
        h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn stats_show_size_sources_and_hash() {
        let st = stats(&[]);
        assert_eq!(fields(&st, "layer"), ["embedded"]);
        let pairs: u64 = fields(&st, "pairs")[0].parse().unwrap();
        let keys: u64 = fields(&st, "keys")[0].parse().unwrap();
        assert!(pairs >= 500_000, "{pairs} pairs");
        assert!(keys > 0 && keys <= pairs, "{keys} keys for {pairs} pairs");
        let mut per_source = std::collections::BTreeMap::new();
        for line in fields(&st, "source") {
            let (name, n) = line.split_once('\t').unwrap();
            per_source.insert(name.to_string(), n.parse::<u64>().unwrap());
        }
        for name in ["moby", "wordnet", "hand"] {
            assert!(
                per_source.get(name).is_some_and(|&n| n > 0),
                "no {name} pairs: {per_source:?}"
            );
        }
        // Every pair has at least one source.
        assert!(per_source.values().sum::<u64>() >= pairs, "{per_source:?}");
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("lexicon/unspin.lex");
        assert_eq!(fields(&st, "bytes"), [std::fs::metadata(&file).unwrap().len().to_string()]);
        let sha = fields(&st, "sha256")[0];
        assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "{sha}");
        assert_eq!(fields(&st, "content_hash"), [content_hash(&[sha])]);

        // With a user layer: both layers, user first, and a different hash.
        let (_dir, lex, assert) = build(&[data("spins.tsv")], &[]);
        assert.success();
        let both = stats(&["--lexicon".as_ref(), lex.as_os_str()]);
        let layers = fields(&both, "layer");
        assert_eq!(layers.len(), 2, "{both:?}");
        assert!(layers[0].ends_with("user.lex") && layers[1] == "embedded", "{layers:?}");
        assert_eq!(fields(&both, "pairs")[0], "7");
        assert!(fields(&both, "source").contains(&"user\t7"), "{both:?}");
        let shas = fields(&both, "sha256");
        assert_eq!(shas[1], sha);
        assert_eq!(fields(&both, "content_hash"), [content_hash(&shas)]);
        assert_eq!(
            content_hash(&shas),
            Lexicon::open(&lex)
                .map(|l| Lexicon::stack([l, Lexicon::embedded()]))
                .unwrap()
                .content_hash()
        );
    }

    /// The shipped file also opens as a user file would, which checks its
    /// FST checksum and every record (the embedded copy skips the checksum).
    #[test]
    fn shipped_file_opens_as_a_user_lexicon() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("lexicon/unspin.lex");
        let opened = Lexicon::open(&file).unwrap();
        let a: Vec<_> =
            opened.lookup("flying machine").iter().map(|c| (c.original, c.weight)).collect();
        let embedded = Lexicon::embedded();
        let b: Vec<_> =
            embedded.lookup("flying machine").iter().map(|c| (c.original, c.weight)).collect();
        assert!(!a.is_empty());
        assert_eq!(a, b);
    }
}

mod scanner {
    use super::*;

    const SENTENCE: &str =
        "Barrier and Knowledge  Authorities said U.S. or Russian streams, flying machines.";

    fn news_lexicon() -> Lexicon {
        lexicon(&[
            ("barrier and knowledge authorities", "defense and intelligence officials", 0.5),
            ("knowledge authorities", "intelligence officials", 0.3),
            ("knowledge", "intelligence", 0.1),
            ("authorities", "officials", 0.2),
            ("u.s.", "american", 0.01),
            ("russian streams", "russian jets", 0.3),
            ("streams", "jets", 0.05),
            ("streams flying", "never matched across a comma", 1.0),
            ("flying machines", "aircraft", 0.4),
        ])
    }

    fn spans<'a>(input: &'a str, ms: &[Match]) -> Vec<&'a str> {
        ms.iter().map(|m| &input[m.start..m.end]).collect()
    }

    #[test]
    fn leftmost_longest_and_all_overlapping() {
        let lex = news_lexicon();
        let toks = tokenize(SENTENCE);
        let mut s = Scanner::new();
        let all = s.scan(&lex, SENTENCE, &toks, ScanMode::All);
        assert_eq!(
            spans(SENTENCE, &all),
            [
                "Barrier and Knowledge  Authorities",
                "Knowledge  Authorities",
                "Knowledge",
                "Authorities",
                "U.S.",
                "Russian streams",
                "streams",
                "flying machines",
            ]
        );
        let ll = s.scan(&lex, SENTENCE, &toks, ScanMode::LeftmostLongest);
        assert_eq!(
            spans(SENTENCE, &ll),
            ["Barrier and Knowledge  Authorities", "U.S.", "Russian streams", "flying machines"]
        );
        assert_eq!(lex.candidates(&ll[0])[0].original, "defense and intelligence officials");
        assert_eq!(lex.candidates(&ll[2])[0].original, "russian jets");
        // Token indices agree with byte offsets.
        for m in &all {
            assert_eq!((m.start, m.end), (toks[m.first].start, toks[m.last - 1].end));
            assert_eq!(m.len(), m.last - m.first);
            assert!(!m.is_empty());
        }
        assert_eq!(s.normalized(2), "knowledge");
    }

    #[test]
    fn phrases_do_not_cross_punctuation() {
        let lex = news_lexicon();
        for input in [
            "knowledge, authorities",
            "knowledge. Authorities",
            "knowledge (authorities)",
            "knowledge—authorities",
        ] {
            let toks = tokenize(input);
            let got = Scanner::new().scan(&lex, input, &toks, ScanMode::All);
            let got: Vec<_> = spans(input, &got).iter().map(|s| s.to_lowercase()).collect();
            assert_eq!(got, ["knowledge", "authorities"], "{input}");
        }
        let input = "streams, flying";
        let got = Scanner::new().scan(&lex, input, &tokenize(input), ScanMode::All);
        assert_eq!(spans(input, &got), ["streams"]);
    }

    #[test]
    fn offsets_point_into_non_ascii_input() {
        let lex = news_lexicon();
        let input = "“Knowledge\u{a0}Authorities” in Zürich — naïve streams…";
        let toks = tokenize(input);
        let got = Scanner::new().scan(&lex, input, &toks, ScanMode::LeftmostLongest);
        assert_eq!(spans(input, &got), ["Knowledge\u{a0}Authorities", "streams"]);
        assert_eq!(got[0].start, "“".len());
    }

    #[test]
    fn layers_are_merged_per_span() {
        let user = lexicon(&[("streams", "rivers", 0.9)]);
        let both = Lexicon::stack([user, news_lexicon()]);
        let input = "Russian streams";
        let toks = tokenize(input);
        let all = Scanner::new().scan(&both, input, &toks, ScanMode::All);
        assert_eq!(spans(input, &all), ["Russian streams", "streams"]);
        let c: Vec<_> = both.candidates(&all[1]).iter().map(|c| c.original).collect();
        assert_eq!(c, ["rivers", "jets"]);
    }

    #[test]
    fn embedded_lexicon_finds_the_spun_news_phrases() {
        let lex = Lexicon::embedded();
        let input = "Barrier and knowledge authorities called for a discontinuance of threats.";
        let toks = tokenize(input);
        let ll = Scanner::new().scan(&lex, input, &toks, ScanMode::LeftmostLongest);
        let found = spans(input, &ll);
        assert_eq!(found[0], "Barrier and knowledge authorities", "{found:?}");
        assert!(found.contains(&"discontinuance of threats"), "{found:?}");
        let i = found.iter().position(|s| *s == "discontinuance of threats").unwrap();
        assert_eq!(lex.candidates(&ll[i])[0].original, "cessation of hostilities");
    }

    /// Text made of lexicon words in any case, with curly apostrophes,
    /// numbers and punctuation, to compare the scanner with brute force.
    fn vocabulary_text() -> impl Strategy<Value = String> {
        let word = prop::sample::select(vec![
            "knowledge",
            "Knowledge",
            "AUTHORITIES",
            "authorities",
            "barrier",
            "and",
            "streams",
            "Russian",
            "russian",
            "flying",
            "machines",
            "couldn't",
            "couldn’t",
            "U.S.",
            "3.5",
            "said",
        ]);
        let sep = prop::sample::select(vec![
            " ", " ", "  ", "\u{a0}", "\n", ", ", ". ", " (", ") ", "-", " — ",
        ]);
        prop::collection::vec((word, sep), 0..24)
            .prop_map(|v| v.into_iter().flat_map(|(w, s)| [w, s]).collect::<String>())
    }

    fn oracle_lexicon() -> Lexicon {
        lexicon(&[
            ("barrier and knowledge authorities", "defense and intelligence officials", 0.5),
            ("knowledge authorities", "intelligence officials", 0.3),
            ("knowledge", "intelligence", 0.1),
            ("authorities", "officials", 0.2),
            ("russian streams", "russian jets", 0.3),
            ("streams", "jets", 0.05),
            ("flying machines", "aircraft", 0.4),
            ("couldn't", "could not", 0.2),
            ("streams 3.5", "jets 3.5", 0.2),
            ("3.5 streams", "never: a phrase starts with a word", 0.2),
            ("u.s. streams and russian streams said", "six tokens", 0.2),
        ])
    }

    proptest! {
        #![proptest_config(config(256))]

        /// The scanner finds exactly the spans a brute-force search finds:
        /// runs of word or number tokens, starting with a word, whose
        /// normalized form is a key (none is longer than the scanner's
        /// limit of 6 tokens).
        #[test]
        fn scanner_agrees_with_brute_force(input in vocabulary_text()) {
            let lex = oracle_lexicon();
            let toks = tokenize(&input);
            let norms: Vec<String> = toks.iter().map(|t| normalize(t.text(&input))).collect();
            let mut expected = Vec::new();
            for i in 0..toks.len() {
                if toks[i].kind != TokenKind::Word {
                    continue;
                }
                let mut here = Vec::new();
                for j in i + 1..=toks.len() {
                    if toks[j - 1].kind == TokenKind::Punct {
                        break;
                    }
                    if !lex.get(&norms[i..j].join(" ")).is_empty() {
                        here.push((i, j));
                    }
                }
                here.reverse();
                expected.extend(here);
            }
            let mut scanner = Scanner::new();
            let all = scanner.scan(&lex, &input, &toks, ScanMode::All);
            let got: Vec<_> = all.iter().map(|m| (m.first, m.last)).collect();
            prop_assert_eq!(&got, &expected);
            for m in &all {
                prop_assert_eq!((m.start, m.end), (toks[m.first].start, toks[m.last - 1].end));
                prop_assert!(input.get(m.start..m.end).is_some());
                let key = norms[m.first..m.last].join(" ");
                prop_assert_eq!(lex.candidates(m), lex.get(&key));
            }

            // Leftmost-longest: the greedy choice over the same spans.
            let mut greedy = Vec::new();
            let mut next_free = 0;
            for &(i, j) in &expected {
                if i >= next_free {
                    greedy.push((i, j));
                    next_free = j;
                }
            }
            let ll = scanner.scan(&lex, &input, &toks, ScanMode::LeftmostLongest);
            let got: Vec<_> = ll.iter().map(|m| (m.first, m.last)).collect();
            prop_assert_eq!(&got, &greedy);
            let covered: BTreeSet<usize> = ll.iter().flat_map(|m| m.first..m.last).collect();
            prop_assert_eq!(covered.len(), ll.iter().map(Match::len).sum::<usize>(), "overlap");
        }
    }
}
