//! Inputs that once crashed a fuzz target (`fuzz/`, run by `scripts/fuzz`),
//! kept so the bug stays fixed. Each file in `tests/data/regressions/` is
//! the minimal input libFuzzer or a reading of the code produced; its
//! name says what it damages. A new crash gets its input there and a test
//! here that names the fix.
//!
//! `every_regression_input_is_survived` also feeds every file, whatever it
//! was found by, through each entry point the fuzz targets cover, so an
//! input added without its own test is still checked against all of them.

use std::path::{Path, PathBuf};

use unspin::input::{read_input, InputOptions};
use unspin::lexicon::import::{import, Format};
use unspin::tokenize::tokenize;
use unspin::Lexicon;

fn regression(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/regressions")
}

/// A compiled lexicon whose string-offset section is empty and placed at
/// the end of the file: `validate` read offset 0 past the section (and the
/// file) and panicked with "range end index out of range". A valid file
/// always has at least one offset (the leading 0), so it is now refused.
#[test]
fn lexicon_with_empty_string_offsets_is_refused() {
    let bytes = regression("lexicon-empty-string-offsets.bin");
    let err = Lexicon::from_bytes("damaged.lex", bytes).unwrap_err().to_string();
    assert!(err.contains("damaged.lex"), "{err}");
    assert!(err.contains("string table"), "{err}");
}

/// WARC records whose `WARC-Target-URI` is unreadable (a value of bad
/// bytes, which header parsing drops at the first invalid byte) or `<>`:
/// the URI was taken as `Some("")`, so the document's source, the name a
/// report shows, was empty. An empty URI now counts as none and the record
/// number names the document. `warc-target-uri-fuzz-crash.warc` is the
/// input the `warc` target found.
#[test]
fn warc_record_with_empty_target_uri_is_named_by_its_number() {
    let bytes = regression("warc-target-uri-invalid-utf8.warc");
    let docs: Vec<_> =
        read_input("crawl.warc", std::io::Cursor::new(bytes), &InputOptions::default()).collect();
    let sources: Vec<_> = docs.iter().map(|d| d.source.as_str()).collect();
    assert_eq!(sources, ["crawl.warc: record 1", "crawl.warc: record 2"]);
    assert!(docs.iter().all(|d| d.is_ok() && d.url.is_none()), "{docs:?}");

    let bytes = regression("warc-target-uri-fuzz-crash.warc");
    for doc in read_input("fuzz", std::io::Cursor::new(bytes), &InputOptions::default()) {
        assert!(!doc.source.is_empty(), "{doc:?}");
    }
}

#[test]
fn every_regression_input_is_survived() {
    let mut files: Vec<_> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let _ = Lexicon::from_bytes("fuzz", bytes.clone());
        let text = String::from_utf8_lossy(&bytes);
        for t in tokenize(&text) {
            assert!(text.is_char_boundary(t.start) && t.end <= text.len(), "{path:?}");
        }
        for format in [Format::Tsv, Format::PpsCsv, Format::Json] {
            let _ = import("fuzz", &text, format);
        }
        for jsonl in [false, true] {
            let opts = InputOptions { jsonl, max_bytes: 1 << 20, ..InputOptions::default() };
            let docs = read_input("fuzz", std::io::Cursor::new(bytes.clone()), &opts).count();
            assert!(docs >= 1, "{path:?}: every input yields a document");
        }
    }
}
