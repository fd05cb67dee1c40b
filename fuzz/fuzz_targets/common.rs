// Shared helpers for the fuzz targets (included with `#[path]`, not a crate).

use unspin::input::{read_input, Document, InputOptions};

/// libfuzzer-sys's panic hook aborts on *every* panic, even one the library
/// catches on purpose (the HTML extractor runs under `catch_unwind` so that
/// one bad page cannot end a bulk run). Replace it with one that only
/// prints the panic, prefixed `caught? ` (scripts/fuzz counts those lines):
/// a caught panic is then logged and the run goes on, while an uncaught one
/// still reaches libfuzzer-sys's own `catch_unwind`, which aborts and saves
/// the input as a crash.
#[allow(dead_code)]
pub fn tolerate_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| eprintln!("caught? {info}")));
    });
}

/// Small caps, so the fuzzer spends its time on structure, not size.
#[allow(dead_code)]
pub fn small_opts() -> InputOptions {
    InputOptions { max_bytes: 64 * 1024, max_html_bytes: 16 * 1024, ..InputOptions::default() }
}

/// Reads `data` and checks what every input must give: at least one
/// document, and boilerplate ranges that slice the text.
#[allow(dead_code)]
pub fn read_checked(data: &[u8], opts: &InputOptions) -> Vec<Document> {
    let docs: Vec<Document> =
        read_input("fuzz", std::io::Cursor::new(data.to_vec()), opts).collect();
    assert!(!docs.is_empty(), "every input yields at least one document");
    for doc in &docs {
        assert!(!doc.source.is_empty());
        if doc.error.is_some() {
            assert!(doc.error.as_ref().is_some_and(|e| !e.is_empty()));
        }
        let mut prev = 0;
        for r in &doc.boilerplate {
            assert!(r.start <= r.end && r.end <= doc.text.len(), "{r:?} in {}", doc.text.len());
            assert!(r.start >= prev, "boilerplate ranges ordered");
            assert!(doc.text.is_char_boundary(r.start) && doc.text.is_char_boundary(r.end));
            prev = r.end;
        }
    }
    docs
}
