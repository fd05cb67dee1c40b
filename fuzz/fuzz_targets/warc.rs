//! WARC/WET input (and anything else the content sniffer sees): at least
//! one document, never a panic. Inputs not starting with a WARC version
//! line get one prepended half the time, so the fuzzer stays in the parser.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::tolerate_caught_panics();
    let opts = common::small_opts();
    if data.starts_with(b"WARC/1.")
        || data.starts_with(&[0x1f, 0x8b])
        || data.first() == Some(&b'!')
    {
        common::read_checked(data, &opts);
    } else {
        let mut with = b"WARC/1.0\r\n".to_vec();
        with.extend_from_slice(data);
        common::read_checked(&with, &opts);
    }
});
