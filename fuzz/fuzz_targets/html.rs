//! HTML extraction forced on arbitrary bytes (`--html`), through charset
//! detection, the nesting pre-scan, the extractor, boilerplate removal and
//! the token and line caps.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::tolerate_caught_panics();
    let mut opts = common::small_opts();
    opts.html = Some(true);
    let docs = common::read_checked(data, &opts);
    assert_eq!(docs.len(), 1, "one page, one document");
    // Content sniffing too, with a cap small enough to cut pages.
    let mut opts = common::small_opts();
    opts.max_html_bytes = 512;
    common::read_checked(data, &opts);
    // Caps small enough that fuzzed pages hit them: the nesting pre-scan
    // drops tags (or falls back to safe mode), and the token and line
    // checks refuse documents.
    let mut opts = common::small_opts();
    opts.html = Some(true);
    opts.max_html_depth = 4;
    opts.max_token_bytes = 64;
    opts.max_line_bytes = 512;
    let docs = common::read_checked(data, &opts);
    assert_eq!(docs.len(), 1, "one page, one document");
});
