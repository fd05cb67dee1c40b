//! Bytes to text: byte-order marks, lossy UTF-8 and binary detection.
//!
//! Plain text is taken to be UTF-8, the encoding of nearly every corpus we
//! are fed. A byte-order mark picks UTF-8 or UTF-16 explicitly and is
//! dropped. Text that is not valid UTF-8 is one of two things. A UTF-8 file
//! with a few damaged bytes (a cut download, a stray byte) keeps its UTF-8:
//! the bad sequences become U+FFFD and the document gets a warning instead
//! of an error, because one bad byte in a scraped file should not cost the
//! whole file. A file with hardly any valid multi-byte characters is in a
//! legacy 8-bit encoding (windows-1252 for most Western text, whose curly
//! quotes and dashes would otherwise all become U+FFFD and split words such
//! as "don't"): its encoding is guessed by [`chardetng`], as the HTML reader
//! guesses an undeclared page's, with a warning that names it. Either way
//! the text handed on, and what `restore` writes, is UTF-8. Binary data
//! (images, archives, model files handed over by a careless glob) is
//! refused outright: scoring it would only produce noise.

use encoding_rs::Encoding;

/// How much of the input the binary check looks at.
const SNIFF_LEN: usize = 8 * 1024;

/// Above this share of control bytes in the sniffed prefix, the input is
/// binary. Text uses tab, newline, carriage return and form feed and almost
/// nothing else below 0x20; compressed or executable data is full of them.
const MAX_CONTROL_SHARE: f64 = 0.10;

/// The error message for binary input.
pub(crate) const BINARY: &str = "binary file, not text";

/// Does `bytes` look like binary data rather than text?
///
/// Input with a UTF-16 byte-order mark is text even though half its bytes
/// are NUL.
pub(crate) fn looks_binary(bytes: &[u8]) -> bool {
    if let Some((enc, _)) = Encoding::for_bom(bytes) {
        if enc != encoding_rs::UTF_8 {
            return false;
        }
    }
    let prefix = &bytes[..bytes.len().min(SNIFF_LEN)];
    if prefix.is_empty() {
        return false;
    }
    // Every input goes through this, so it is one pass written for the
    // compiler to vectorize: fixed-size blocks, branch-free tests, sums in
    // a `u8` that a block is too short to overflow.
    let (blocks, rest) = prefix.as_chunks::<64>();
    let (mut control, mut nul) = (0, false);
    for block in blocks {
        let (block_control, block_nuls) = block.iter().fold((0u8, 0u8), |(control, nuls), &b| {
            (control + u8::from(is_control(b)), nuls + u8::from(b == 0))
        });
        control += usize::from(block_control);
        nul |= block_nuls > 0;
    }
    for &b in rest {
        control += usize::from(is_control(b));
        nul |= b == 0;
    }
    nul || control as f64 / prefix.len() as f64 > MAX_CONTROL_SHARE
}

/// Is `b` a control byte that text does not use?
fn is_control(b: u8) -> bool {
    ((b < 0x20) & !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)) | (b == 0x7f)
}

/// Decodes `bytes` as text: a BOM selects UTF-8 or UTF-16 and is removed,
/// otherwise UTF-8. Returns the text and a warning if any bytes had to be
/// replaced.
pub(crate) fn decode_text(mut bytes: Vec<u8>) -> (String, Option<String>) {
    let (encoding, bom_len) = Encoding::for_bom(&bytes).unwrap_or((encoding_rs::UTF_8, 0));
    if bom_len == 0 {
        return decode_undeclared(bytes);
    }
    if encoding == encoding_rs::UTF_8 {
        // Valid UTF-8 becomes the text without a copy.
        bytes.drain(..bom_len);
        return decode_utf8(bytes);
    }
    decode_with(encoding, &bytes[bom_len..])
}

/// Decodes text without a byte-order mark: UTF-8 if it is valid, or
/// mostly valid (at least as many multi-byte characters as invalid
/// sequences: damage, decoded lossily); otherwise in the legacy encoding
/// [`chardetng`] guesses (see the module docs).
fn decode_undeclared(bytes: Vec<u8>) -> (String, Option<String>) {
    // Valid UTF-8 becomes the text without a copy, checked once.
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return (text, None),
        Err(err) => err.into_bytes(),
    };
    let (mut multibyte, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        // Lead bytes of multi-byte characters are 0xC0 and up.
        multibyte += chunk.valid().bytes().filter(|&b| b >= 0xC0).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    if multibyte >= invalid {
        return decode_utf8(bytes);
    }
    let encoding = guess_encoding(&bytes, chardetng::Utf8Detection::Deny);
    let (text, warning) = decode_with(encoding, &bytes);
    let guessed = format!("not UTF-8: decoded as {} (a guess)", encoding.name());
    let warning = match warning {
        Some(w) => format!("{guessed}; {w}"),
        None => guessed,
    };
    (text, Some(warning))
}

/// The legacy encoding of `bytes` that [`chardetng`] guesses (`utf8`: may
/// the guess be UTF-8). The hint that the text is English (as the
/// top-level domain `uk`, the detector's only hint) makes Western
/// windows-1252 its choice when the evidence is thin: a lone 0xA3 in an
/// article is "£" in windows-1252 and "Ł" in the Central European
/// windows-1250, which the detector picks without a hint.
pub(crate) fn guess_encoding(bytes: &[u8], utf8: chardetng::Utf8Detection) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    detector.guess(Some(b"uk"), utf8)
}

/// Decodes `bytes` (without a BOM) in `encoding`, with a warning when bytes
/// were invalid and had to be replaced.
pub(crate) fn decode_with(encoding: &'static Encoding, bytes: &[u8]) -> (String, Option<String>) {
    if encoding == encoding_rs::UTF_8 {
        // Fast path: no copy through encoding_rs when the input is valid.
        return decode_utf8(bytes.to_vec());
    }
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    let warning = had_errors.then(|| format!("invalid {} decoded lossily", encoding.name()));
    (text.into_owned(), warning)
}

/// Takes `bytes` as the text when they are valid UTF-8, else decodes them
/// lossily with a warning.
fn decode_utf8(bytes: Vec<u8>) -> (String, Option<String>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(err) => (
            String::from_utf8_lossy(err.as_bytes()).into_owned(),
            Some("invalid UTF-8 decoded lossily".to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bom_is_dropped() {
        assert_eq!(decode_text(b"\xef\xbb\xbfhello".to_vec()), ("hello".to_string(), None));
    }

    #[test]
    fn utf16_bom_is_honoured() {
        let bytes = [0xff, 0xfe, b'h', 0, b'i', 0];
        assert!(!looks_binary(&bytes));
        assert_eq!(decode_text(bytes.to_vec()), ("hi".to_string(), None));
    }

    #[test]
    fn damaged_utf8_is_lossy_with_warning() {
        // Mostly UTF-8 ("é" twice), one stray byte: damage, not an encoding.
        let (text, warning) = decode_text(b"caf\xc3\xa9 \xff and caf\xc3\xa9".to_vec());
        assert_eq!(text, "caf\u{e9} \u{fffd} and caf\u{e9}");
        assert_eq!(warning.as_deref(), Some("invalid UTF-8 decoded lossily"));
        // A UTF-8 file cut in the middle of its last character.
        let (text, warning) = decode_text(b"na\xc3\xafve caf\xc3".to_vec());
        assert_eq!(text, "na\u{ef}ve caf\u{fffd}");
        assert_eq!(warning.as_deref(), Some("invalid UTF-8 decoded lossily"));
    }

    #[test]
    fn legacy_8_bit_text_is_decoded_in_its_guessed_encoding() {
        let text = "\u{201c}Don\u{2019}t,\u{201d} said the caf\u{e9}\u{2019}s owner \u{2013} it costs \u{a3}15.";
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
        assert!(!unmappable);
        let (decoded, warning) = decode_text(bytes.into_owned());
        assert_eq!(decoded, text);
        assert_eq!(warning.as_deref(), Some("not UTF-8: decoded as windows-1252 (a guess)"));
        // A lone pound sign (as in one BBC article) is enough.
        let (decoded, _) = decode_text(b"a \xa315.8m signing".to_vec());
        assert_eq!(decoded, "a \u{a3}15.8m signing");
    }

    #[test]
    fn binary_detection() {
        assert!(looks_binary(b"PK\x03\x04\x00\x00rest"));
        assert!(looks_binary(&[0x01, 0x02, 0x03, b'a', b'b', b'c', 0x05, 0x06]));
        assert!(!looks_binary(b"plain text\r\nwith\ttabs\x0c"));
        assert!(!looks_binary(b""));
        assert!(!looks_binary("naïve café".as_bytes()));
    }

    /// The check as first written, with `contains` and `filter`.
    fn previous_looks_binary(bytes: &[u8]) -> bool {
        if let Some((enc, _)) = Encoding::for_bom(bytes) {
            if enc != encoding_rs::UTF_8 {
                return false;
            }
        }
        let prefix = &bytes[..bytes.len().min(SNIFF_LEN)];
        if prefix.is_empty() {
            return false;
        }
        if prefix.contains(&0) {
            return true;
        }
        let control = prefix
            .iter()
            .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c) || b == 0x7f)
            .count();
        control as f64 / prefix.len() as f64 > MAX_CONTROL_SHARE
    }

    /// Text with a varying share of control bytes (near the threshold
    /// too), NULs in a few, and lengths across the blocks and the sniffed
    /// prefix.
    fn bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        (1..40u32, 0..2u32).prop_flat_map(|(controls, nuls)| {
            let byte = prop_oneof![
                80 => b'a'..=b'z',
                controls => prop::sample::select(vec![
                    b'\t', b'\n', b'\r', 0x0c, 0x0b, 0x01, 0x1b, 0x1f, 0x7f, 0x80, 0xff,
                ]),
                nuls => Just(0u8),
            ];
            prop::collection::vec(byte, 0..9000)
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

        #[test]
        fn utf8_text_is_taken_as_it_is(text in "\\PC{0,200}") {
            let (decoded, warning) = decode_text(text.clone().into_bytes());
            proptest::prop_assert_eq!(decoded, text);
            proptest::prop_assert_eq!(warning, None);
        }

        #[test]
        fn windows_1252_english_round_trips(
            words in proptest::collection::vec(
                ("[a-z]{1,9}", proptest::option::weighted(0.2, proptest::sample::select(vec![
                    '\u{e9}', '\u{e8}', '\u{ef}', '\u{a3}', '\u{2019}', '\u{201c}', '\u{201d}',
                    '\u{2013}', '\u{2014}', '\u{a0}', '\u{b0}', '\u{fc}',
                ]))),
                3..60,
            )
        ) {
            // English words, some with a character windows-1252 has and
            // ASCII lacks: read back as they were, and said to be
            // windows-1252.
            let text: String = words
                .iter()
                .map(|(w, c)| c.map_or(w.clone(), |c| format!("{w}{c}")))
                .collect::<Vec<_>>()
                .join(" ");
            let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
            proptest::prop_assume!(!unmappable && !bytes.is_ascii());
            let (decoded, warning) = decode_text(bytes.into_owned());
            proptest::prop_assert_eq!(decoded, text);
            proptest::prop_assert_eq!(
                warning.as_deref(),
                Some("not UTF-8: decoded as windows-1252 (a guess)")
            );
        }

        #[test]
        fn decisions_match_the_previous_check(mut bytes in bytes(), bom in 0..4usize) {
            let boms: [&[u8]; 4] = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"];
            bytes.splice(0..0, boms[bom].iter().copied());
            proptest::prop_assert_eq!(looks_binary(&bytes), previous_looks_binary(&bytes));
        }
    }
}
