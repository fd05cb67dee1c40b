//! Lexicon importers (TSV, PPS CSV, JSON) on arbitrary text, the compiler
//! on whatever they accept, and `Lexicon::from_bytes` on arbitrary bytes,
//! which must return an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use unspin::lexicon::import::{import, Format};
use unspin::lexicon::{Lexicon, LexiconBuilder};

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
        let lex = Lexicon::from_bytes("fuzz", bytes).expect("a compiled lexicon opens");
        for e in imported.entries.iter().take(20) {
            let _ = lex.lookup(&e.spun);
        }
    }
});
