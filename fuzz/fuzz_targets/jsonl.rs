//! JSON Lines input: one document per non-blank line, at least one document.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::tolerate_caught_panics();
    let mut opts = common::small_opts();
    opts.jsonl = true;
    opts.max_bytes = 4096;
    let docs = common::read_checked(data, &opts);

    // Compressed input has lines we cannot count here.
    if data.starts_with(&[0x1f, 0x8b]) || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return;
    }
    // jsonl.rs: a line is what ends at `\n` or EOF; one that is all ASCII
    // whitespace is skipped unless it is longer than the cap (then it is a
    // "line too long" document); an input with no record yields one
    // "no JSON records" document.
    let max = opts.max_bytes as usize;
    let mut pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if data.ends_with(b"\n") || data.is_empty() {
        pieces.pop();
    }
    let records =
        pieces.iter().filter(|l| l.len() > max || !l.iter().all(u8::is_ascii_whitespace)).count();
    assert_eq!(docs.len(), records.max(1), "documents vs non-blank lines");
    if records > 0 {
        for doc in &docs {
            assert!(doc.source.starts_with("fuzz:"), "{}", doc.source);
        }
    }
});
