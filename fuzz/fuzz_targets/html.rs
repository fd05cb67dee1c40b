//! HTML extraction forced on arbitrary bytes (`--html`), through charset
//! detection, the extractor and boilerplate removal.
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
});
