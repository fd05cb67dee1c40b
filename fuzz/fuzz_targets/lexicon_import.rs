//! Lexicon importers (TSV, PPS CSV, JSON) on arbitrary text, the compiler
//! on whatever they accept, and `Lexicon::from_bytes` on arbitrary bytes,
//! which must return an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use unspin::lexicon::import::{import, Format};
use unspin::lexicon::{Lexicon, LexiconBuilder};

/// Size of a compiled lexicon's header (format.rs: 16 + 5 sections × 16).
const HEADER_LEN: usize = 96;

/// Random bytes almost never get past the magic and the FST checksum, so
/// also damage a real compiled file: the input's last bytes, taken three at
/// a time, say where to XOR what. Even patches hit the header (section
/// offsets and lengths, which no checksum covers), odd ones anywhere. The
/// damaged file must be refused or work, never panic.
fn corrupt_and_open(mut bytes: Vec<u8>, data: &[u8], entries: &[unspin::lexicon::Entry]) {
    let patch = &data[data.len().saturating_sub(24)..];
    for (i, p) in patch.chunks_exact(3).enumerate() {
        let at = u16::from_le_bytes([p[0], p[1]]) as usize;
        let at = if i % 2 == 0 { at % HEADER_LEN } else { at % bytes.len() };
        bytes[at] ^= p[2];
    }
    if let Ok(lex) = Lexicon::from_bytes("fuzz", bytes) {
        let _ = lex.stats();
        let mut n = 0;
        lex.for_each_pair(|_, _| n += 1);
        for e in entries.iter().take(20) {
            let _ = lex.lookup(&e.spun);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Arbitrary bytes as a compiled lexicon.
    if let Ok(lex) = Lexicon::from_bytes("fuzz", data.to_vec()) {
        let _ = lex.stats();
        let _ = lex.lookup("a");
        let mut n = 0;
        lex.for_each_pair(|_, _| n += 1);
    }

    let text = String::from_utf8_lossy(data);
    for format in [Format::Tsv, Format::PpsCsv, Format::Json] {
        let Ok(imported) = import("fuzz", &text, format) else { continue };
        for s in &imported.skipped {
            assert!(!s.reason.is_empty());
        }
        if imported.entries.is_empty() {
            continue;
        }
        let mut b = LexiconBuilder::new("fuzz");
        for e in imported.entries.iter().take(200) {
            b.add(e);
        }
        if b.is_empty() {
            continue;
        }
        let bytes = b.finish().expect("a lexicon built from imported entries compiles");
        let lex = Lexicon::from_bytes("fuzz", bytes.clone()).expect("a compiled lexicon opens");
        for e in imported.entries.iter().take(20) {
            let _ = lex.lookup(&e.spun);
        }
        corrupt_and_open(bytes, data, &imported.entries);
    }
});
