//! Boilerplate lines inside an article body.
//!
//! Page extraction removes navigation, sidebars and footers, but news sites
//! also put furniture *between* the article's paragraphs: "READ MORE: …"
//! cross-links, share prompts, "Advertisement" markers, newsletter pitches,
//! comment-form headings and theme or plugin credits. Plain-text dumps of
//! pages carry the same lines. They are not prose, so the scorer must not
//! count them as spun and the restorer must leave them alone.
//!
//! The rules are deliberately narrow: a line is boilerplate only when it is
//! short and opens with (or, for credits, contains) one of a few fixed
//! phrases, usually followed by a separator. An ordinary sentence such as
//! "Read more about the council's plans in the minutes." is not matched,
//! because it neither ends at the phrase nor has a separator after it.

use std::ops::Range;

use super::lines::find_byte;

/// Lines longer than this (in words) are never boilerplate: the furniture
/// this module targets is a headline-sized link or a two-word label, and a
/// cap keeps a real paragraph that happens to start with "Related:" safe.
const MAX_WORDS: usize = 25;

/// Lines that are boilerplate when the whole line is exactly this phrase
/// (after normalisation: lower case, punctuation and bullets trimmed).
const EXACT: &[&str] = &[
    "advertisement",
    "advertisment",
    "sponsored",
    "sponsored content",
    "story continues below advertisement",
    "article continues below advertisement",
    "continue reading below",
    "leave a comment",
    "leave a reply",
    "leave a comment below",
    "post comment",
    "cancel reply",
    "share this",
    "share this article",
    "share this story",
    "share this post",
    "share",
    "tweet",
    "pin it",
    "email this story",
    "click here to subscribe",
    "subscribe to our newsletter",
    "sign up for our newsletter",
    "related",
    "related articles",
    "related posts",
    "related stories",
    "read more",
    "read next",
    "see also",
];

/// Prefixes that make a line boilerplate when a separator (`:`, `-`, `|`,
/// `>`, `»`, …) follows them, e.g. "READ: Residents hand in petition".
const PREFIX_WITH_SEPARATOR: &[&str] = &[
    "read",
    "read more",
    "read also",
    "also read",
    "read next",
    "see also",
    "related",
    "related article",
    "related story",
    "more",
    "watch",
    "listen",
    "advertisement",
    "sponsored",
];

/// Prefixes that make a short line boilerplate on their own, whatever
/// follows ("Share on Facebook", "Click here to subscribe to …").
const PREFIX: &[&str] = &[
    "share on ",
    "share via ",
    "share to ",
    "share with ",
    "click here to subscribe",
    "click here to sign up",
    "click here to read",
    "click here for more",
    "subscribe to our ",
    "sign up for our ",
    "sign up to our ",
    "leave a comment",
    "leave a reply",
];

/// Phrases that mark a site credit anywhere in a short line
/// ("WordPress Plugins & Solutions by Brightwave", "Powered by WordPress").
const CREDIT: &[&str] = &[
    "wordpress plugins",
    "wordpress plugin",
    "wordpress themes",
    "wordpress theme",
    "plugins & solutions by",
    "plugins and solutions by",
    "powered by wordpress",
    "theme by ",
    "plugin by ",
];

/// Is `line` article furniture rather than prose?
///
/// ```
/// use unspin::input::is_boilerplate;
///
/// assert!(is_boilerplate("READ MORE: North quay repairs to finish before summer"));
/// assert!(is_boilerplate("  Share on Facebook "));
/// assert!(is_boilerplate("WordPress Plugins & Solutions by Brightwave Studio"));
/// assert!(!is_boilerplate("Read more about the plans in the council minutes."));
/// ```
pub fn is_boilerplate(line: &str) -> bool {
    let trimmed = trim_decoration(line);
    // Nearly every line of an article is a paragraph over the cap. A cheap
    // lower bound on its words rejects those; the rest are counted exactly.
    let ascii_words = ascii_word_starts(trimmed, MAX_WORDS);
    if ascii_words > MAX_WORDS {
        return false;
    }
    let words = if trimmed.is_ascii() {
        ascii_words
    } else {
        trimmed.split_whitespace().take(MAX_WORDS + 1).count()
    };
    if words == 0 || words > MAX_WORDS {
        return false;
    }
    // Lowercasing never turns whitespace into anything else or anything
    // else into whitespace, so `lower` has the same `words`.
    let lower = trimmed.to_lowercase();
    let bare = lower.trim_end_matches(|c: char| !c.is_alphanumeric());
    if EXACT.contains(&bare) {
        return true;
    }
    if PREFIX_WITH_SEPARATOR.iter().any(|p| starts_with_separated(&lower, p)) {
        return true;
    }
    // "Share on Facebook" is boilerplate, but a long sentence that starts
    // "Sign up for our …" could be reporting, so the open prefixes need a
    // short line.
    if words <= 12 && PREFIX.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    words <= 15 && contains_credit(&lower)
}

/// Byte ranges of the boilerplate lines in `text`, in order, and of the
/// lines of fenced code blocks (from a line opening with three backticks
/// or tildes to the next such line; a fence never closed fences nothing):
/// code is kept but, like boilerplate, neither scored nor restored.
///
/// Each range covers one line's content without its line terminator
/// (`\n` or `\r\n`), so `&text[range]` is the line as
/// [`is_boilerplate`] saw it. Ranges always lie on `char` boundaries.
///
/// ```
/// use unspin::input::boilerplate_ranges;
///
/// let text = "First paragraph.\n\nREAD: Another story\n\nSecond paragraph.\n";
/// let ranges = boilerplate_ranges(text);
/// assert_eq!(ranges.len(), 1);
/// assert_eq!(&text[ranges[0].clone()], "READ: Another story");
/// ```
pub fn boilerplate_ranges(text: &str) -> Vec<Range<usize>> {
    let lines = line_ranges(text);
    let fence = |r: &Range<usize>| {
        let line = text[r.clone()].trim_start();
        ["```", "~~~"].into_iter().find(|f| line.starts_with(f))
    };
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(open) = fence(&lines[i]) {
            if let Some(close) = (i + 1..lines.len()).find(|&j| fence(&lines[j]) == Some(open)) {
                ranges.extend(lines[i..=close].iter().filter(|r| !r.is_empty()).cloned());
                i = close + 1;
                continue;
            }
        }
        if is_boilerplate(&text[lines[i].clone()]) {
            ranges.push(lines[i].clone());
        }
        i += 1;
    }
    ranges
}

/// Each line's content in `text`, without its terminator (`\n` or `\r\n`).
fn line_ranges(text: &str) -> Vec<Range<usize>> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let end = find_byte(&text.as_bytes()[start..], b'\n').map_or(text.len(), |i| start + i);
        let content = &text[start..end];
        let content = content.strip_suffix('\r').unwrap_or(content);
        lines.push(start..start + content.len());
        start = end + 1;
    }
    lines
}

/// A run of at least this many short lines is page furniture in the text
/// of a whole page ([`page_furniture_ranges`]).
const MENU_RUN: usize = 3;

/// Lines of at most this many words, without a sentence's final
/// punctuation, are menu-sized ([`page_furniture_ranges`]).
const MENU_LINE_WORDS: usize = 10;

/// Byte ranges of the lines in the text of a whole page (a WET
/// `conversion` record: every text block of the page, one per line) that
/// are its navigation and link lists rather than its article: every run of
/// three or more consecutive short lines (up to ten words, not ending as a
/// sentence does), and every line of three or more
/// items separated by " | " ("Contact us | Terms of use | Privacy"). A
/// subheading is one short line between paragraphs and stays; a headline
/// that follows the menu without a blank line goes with it (the page's
/// title, the text's first line, usually repeats it); a blank line ends a
/// run.
///
/// Such a text has no markup to find the article by, and its menus,
/// "most read" lists and footers would count as words that were not spun:
/// measured with `scripts/html-pages`, BBC articles spun at 10% set in
/// pages of five templates and read as WET text were labelled otherwise
/// than their plain text 2.4–16.2% of the time without these ranges and
/// 1.0–5.9% with them (clean ones 0.3–0.6% and 0.1–0.5%). The ten-word cap
/// was chosen on those pages: with six, their "most read" headlines stayed
/// and 1.3% of the clean articles on one template read as spun.
///
/// ```
/// use unspin::input::page_furniture_ranges;
///
/// let text = "Home\nNews\nSport\nWeather\nCouncil backs ferry plan\n\
///             The council voted on Tuesday to adopt the plan.\n\
///             Contact us | Terms of use | Privacy policy\n";
/// let lines: Vec<&str> = page_furniture_ranges(text).into_iter().map(|r| &text[r]).collect();
/// assert_eq!(lines, ["Home", "News", "Sport", "Weather", "Council backs ferry plan",
///                    "Contact us | Terms of use | Privacy policy"]);
/// ```
pub fn page_furniture_ranges(text: &str) -> Vec<Range<usize>> {
    let short = |line: &str| {
        let line = line.trim();
        let ends_sentence = line
            .trim_end_matches(['"', '\'', '\u{201d}', '\u{2019}', ')'])
            .ends_with(['.', '!', '?', ':']);
        !line.is_empty() && !ends_sentence && line.split_whitespace().count() <= MENU_LINE_WORDS
    };
    let mut ranges = Vec::new();
    // The current run of short lines.
    let mut run = 0..0;
    let lines = line_ranges(text);
    for (i, line) in lines.iter().enumerate() {
        let content = &text[line.clone()];
        if short(content) {
            run.end = i + 1;
        } else {
            if run.len() >= MENU_RUN {
                ranges.extend(lines[run.clone()].iter().cloned());
            }
            run = i + 1..i + 1;
        }
        if content.matches(" | ").count() >= 2 {
            ranges.push(line.clone());
        }
    }
    if run.len() >= MENU_RUN {
        ranges.extend(lines[run].iter().cloned());
    }
    ranges.sort_by_key(|r| r.start);
    ranges.dedup();
    ranges
}

/// Removes the boilerplate lines from `text` and collapses the blank lines
/// they leave behind, so paragraphs stay separated by exactly one blank line.
pub(crate) fn strip_boilerplate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for paragraph in text.split("\n\n") {
        let kept: Vec<&str> = paragraph.lines().filter(|l| !is_boilerplate(l)).collect();
        if kept.iter().all(|l| l.trim().is_empty()) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&kept.join("\n"));
    }
    out
}

/// Trims whitespace and the bullets, arrows and emphasis markers that sites
/// and text dumps put around furniture ("» READ MORE", "**Related:**").
fn trim_decoration(line: &str) -> &str {
    line.trim_matches(|c: char| {
        c.is_whitespace()
            || matches!(c, '*' | '_' | '•' | '·' | '»' | '›' | '>' | '|' | '#' | '[' | ']')
    })
}

/// The number of ASCII word starts in `text` (an ASCII byte other than
/// whitespace, at the start or after ASCII whitespace), counting no further
/// than just past `limit`. Each starts one of the words
/// `str::split_whitespace` finds, so this is a lower bound on them, and
/// their number on ASCII text.
///
/// Every line of every document is measured, so this is written for the
/// compiler to vectorize: the text is taken in fixed-size blocks whose
/// neighbouring bytes are tested without a branch, and the last block is
/// padded with spaces, which start no word. It costs a fraction of an
/// instruction per byte, where decoding `char`s costs several.
fn ascii_word_starts(text: &str, limit: usize) -> usize {
    const BLOCK: usize = 32;
    /// Starts at bytes 1..=BLOCK of `block`.
    fn block_starts(block: &[u8; BLOCK + 1]) -> usize {
        let starts: u8 = block[..BLOCK]
            .iter()
            .zip(&block[1..])
            .map(|(&before, &b)| u8::from(is_ascii_space(before) & is_ascii_word(b)))
            .sum();
        usize::from(starts)
    }
    let Some(&first) = text.as_bytes().first() else { return 0 };
    let mut starts = usize::from(is_ascii_word(first));
    let mut rest = text.as_bytes();
    while rest.len() > BLOCK && starts <= limit {
        let block = rest[..=BLOCK].try_into().expect("BLOCK + 1 bytes");
        starts += block_starts(block);
        rest = &rest[BLOCK..];
    }
    if rest.len() > 1 && starts <= limit {
        let mut block = [b' '; BLOCK + 1];
        block[..rest.len()].copy_from_slice(rest);
        starts += block_starts(&block);
    }
    starts
}

/// ASCII whitespace as `char::is_whitespace` has it (which, unlike
/// `u8::is_ascii_whitespace`, includes vertical tab).
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r')
}

fn is_ascii_word(b: u8) -> bool {
    b.is_ascii() & !is_ascii_space(b)
}

/// Does `lower` contain one of the [`CREDIT`] phrases? One pass that tries
/// the phrases only where one could begin: a `str::contains` per phrase
/// would set up a searcher and scan the line nine times.
fn contains_credit(lower: &str) -> bool {
    const FIRST_BYTES: [bool; 256] = {
        let mut first = [false; 256];
        let mut i = 0;
        while i < CREDIT.len() {
            first[CREDIT[i].as_bytes()[0] as usize] = true;
            i += 1;
        }
        first
    };
    let bytes = lower.as_bytes();
    (0..bytes.len()).any(|i| {
        FIRST_BYTES[usize::from(bytes[i])]
            && CREDIT.iter().any(|phrase| bytes[i..].starts_with(phrase.as_bytes()))
    })
}

/// Does `lower` start with the phrase `prefix`, followed by a separator
/// and then something else (the link text)?
fn starts_with_separated(lower: &str, prefix: &str) -> bool {
    let Some(rest) = lower.strip_prefix(prefix) else {
        return false;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '*' || c == '_');
    let mut chars = rest.chars();
    let Some(sep) = chars.next() else {
        return false;
    };
    if !matches!(sep, ':' | '-' | '–' | '—' | '|' | '>' | '»' | '›' | '→') {
        return false;
    }
    chars.as_str().chars().any(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_code_is_left_out_line_by_line() {
        let text = "Use a loop.\n\n```python\nfor x in items:\n\n    total += x\n```\nThen print it.\n~~~\nunclosed\n";
        let got: Vec<&str> = boilerplate_ranges(text).iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(got, ["```python", "for x in items:", "    total += x", "```"]);
        // A fence of the other kind does not close one.
        let text = "```\ncode\n~~~\nstill code\n```\nprose\n";
        let got: Vec<&str> = boilerplate_ranges(text).iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(got, ["```", "code", "~~~", "still code", "```"]);
    }

    #[test]
    fn page_furniture_is_runs_of_short_lines_and_piped_links() {
        let marked = |text: &str| -> Vec<String> {
            page_furniture_ranges(text).into_iter().map(|r| text[r].to_string()).collect()
        };
        // Two short lines are not a run; a blank line or a sentence ends one.
        assert!(marked("Home\nNews\nThe council met on Tuesday.\n").is_empty());
        assert!(marked("Home\nNews\n\nSport\nWeather\n").is_empty());
        assert!(marked("Home\nNews\nIt rained.\nSport\nWeather\n").is_empty());
        assert_eq!(marked("Home\r\nNews\r\nSport\r\nIt rained.\r\n"), ["Home", "News", "Sport"]);
        // Short lines that end as sentences do are prose.
        assert!(marked("It rained.\nThen it stopped!\nWhy?\n").is_empty());
        // A line of links stands alone, short or long; one bar is a title.
        assert_eq!(marked("Story | Site\nA | B | C\n"), ["A | B | C"]);
        // Up to ten words a line: a list of headlines.
        let headlines = "one two three four five six seven eight nine ten\n".repeat(3);
        assert_eq!(marked(&headlines).len(), 3);
        let long = "one two three four five six seven eight nine ten eleven\n".repeat(3);
        assert!(marked(&long).is_empty());
        assert!(marked("").is_empty());
    }

    #[test]
    fn cross_links() {
        assert!(is_boilerplate("READ: Residents hand in petition calling for earlier crossings"));
        assert!(is_boilerplate("READ MORE: North quay repairs to finish before the summer"));
        assert!(is_boilerplate("Read more - How to tell a lichen from a moss"));
        assert!(is_boilerplate("» Also read: Council tax to rise"));
        assert!(is_boilerplate("**READ MORE:** the full list of closures"));
        assert!(is_boilerplate("Related: Tram depot restoration plans approved"));
        assert!(is_boilerplate("RELATED ARTICLES"));
        assert!(is_boilerplate("See also: Allotment waiting list tops two hundred"));
    }

    #[test]
    fn furniture() {
        for line in [
            "Leave a Comment",
            "Leave a Reply",
            "Leave a comment below!",
            "Share this:",
            "Share on Facebook",
            "Share on WhatsApp",
            "Click here to subscribe",
            "Click here to subscribe to our morning briefing.",
            "Advertisement",
            "ADVERTISEMENT",
            "Story continues below advertisement",
            "Subscribe to our newsletter",
        ] {
            assert!(is_boilerplate(line), "{line:?} should be boilerplate");
        }
    }

    #[test]
    fn credits() {
        assert!(is_boilerplate("WordPress Plugins & Solutions by Brightwave Studio"));
        assert!(is_boilerplate("Theme by Plainleaf · Powered by WordPress"));
        assert!(is_boilerplate("Premium WordPress Themes and Plugins by Example Co."));
    }

    #[test]
    fn prose_is_not_boilerplate() {
        for line in [
            "",
            "   ",
            "Read more about the council's plans in the minutes.",
            "Reading the report, councillors found three errors.",
            "Related research has found the same effect in ferns.",
            "She asked readers to leave a comment about the ferry timetable if they had \
             strong feelings either way, and more than two hundred of them did so within a day.",
            "The advertisement ran in three newspapers.",
            "Shares in the ferry operator rose by four per cent.",
            "More than nine hundred residents signed the petition.",
            "Share prices fell: investors were worried.",
            "Read: a verb that children learn early.".repeat(5).as_str(),
        ] {
            assert!(!is_boilerplate(line), "{line:?} should be prose");
        }
    }

    #[test]
    fn separator_needs_text_after_it() {
        assert!(!is_boilerplate("Read -"));
        assert!(is_boilerplate("Read more:"), "matches the exact rule instead");
    }

    #[test]
    fn ranges_point_at_lines() {
        let text = "Para one.\r\n\r\nREAD: Elsewhere\r\nPara two.\nAdvertisement";
        let ranges = boilerplate_ranges(text);
        let lines: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(lines, ["READ: Elsewhere", "Advertisement"]);
    }

    #[test]
    fn ranges_on_multibyte_text() {
        let text = "Café société.\n» Related: Crème brûlée\nÉnd";
        let ranges = boilerplate_ranges(text);
        assert_eq!(ranges.len(), 1);
        assert_eq!(&text[ranges[0].clone()], "» Related: Crème brûlée");
    }

    #[test]
    fn strip_keeps_paragraph_breaks() {
        let text = "One.\n\nREAD: x y\n\nTwo.\nShare this\n\nAdvertisement\n\nThree.";
        assert_eq!(strip_boilerplate(text), "One.\n\nTwo.\n\nThree.");
    }

    #[test]
    fn word_starts_bound_the_words() {
        for (text, words) in [
            ("", 0),
            ("one", 1),
            ("  one\ttwo\x0bthree\x0c four\r\nfive ", 5),
            ("caf\u{e9} au lait", 3),
            ("\u{e9}t\u{e9} here", 1),
            ("a\u{a0}b c", 2),
            (&"word ".repeat(40), 40),
        ] {
            assert_eq!(ascii_word_starts(text, usize::MAX), words, "{text:?}");
        }
        assert!(ascii_word_starts(&"word ".repeat(40), 3) > 3);
    }

    /// The rules as first written, one `str` method at a time: the fast
    /// paths must not change a single decision.
    fn previous_is_boilerplate(line: &str) -> bool {
        let trimmed = trim_decoration(line);
        if trimmed.is_empty() || trimmed.split_whitespace().nth(MAX_WORDS).is_some() {
            return false;
        }
        let lower = trimmed.to_lowercase();
        let bare = lower.trim_end_matches(|c: char| !c.is_alphanumeric());
        if EXACT.contains(&bare) {
            return true;
        }
        if PREFIX_WITH_SEPARATOR.iter().any(|p| starts_with_separated(&lower, p)) {
            return true;
        }
        let words = lower.split_whitespace().count();
        if words <= 12 && PREFIX.iter().any(|p| lower.starts_with(p)) {
            return true;
        }
        words <= 15 && CREDIT.iter().any(|c| lower.contains(c))
    }

    fn previous_ranges(text: &str) -> Vec<Range<usize>> {
        let mut ranges = Vec::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let content = line.strip_suffix('\n').unwrap_or(line);
            let content = content.strip_suffix('\r').unwrap_or(content);
            if previous_is_boilerplate(content) {
                ranges.push(start..start + content.len());
            }
            start += line.len();
        }
        ranges
    }

    /// Lines near every rule: the phrases in any case, separators,
    /// decoration, ASCII and Unicode whitespace (vertical tab and NBSP
    /// count as spaces), characters whose lower case is ASCII (Kelvin sign,
    /// dotted capital I) or longer, and enough words to cross each cap.
    fn line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let phrases: Vec<&str> = EXACT
            .iter()
            .chain(PREFIX_WITH_SEPARATOR)
            .chain(PREFIX)
            .chain(CREDIT)
            .copied()
            .collect();
        let piece = prop_oneof![
            4 => (prop::sample::select(phrases), 0..4u8).prop_map(|(p, case)| match case {
                0 => p.to_string(),
                1 => p.to_uppercase(),
                2 => p.replace('k', "\u{212a}").replace('e', "E"),
                _ => p.replace('i', "\u{130}"),
            }),
            4 => "[a-zA-Z]{1,7}",
            4 => prop::sample::select(vec![
                " ", " ", "  ", "\t", "\x0b", "\x0c", "\r", "\u{85}", "\u{a0}", "\u{2003}",
                "\u{3000}",
            ])
            .prop_map(str::to_string),
            2 => prop::sample::select(vec![
                ":", "-", "|", ">", "»", "›", "→", "–", "—", "*", "_", "•", "·", "#", "[", "]",
                ".", "!", "&", "£5", "\u{130}", "\u{212a}", "ß", "Σ", "é", "東京", "😀", "\x00",
            ])
            .prop_map(str::to_string),
        ];
        prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20000))]

        #[test]
        fn decisions_match_the_previous_rules(line in line()) {
            proptest::prop_assert_eq!(
                is_boilerplate(&line), previous_is_boilerplate(&line), "{:?}", line
            );
            let words = line.split_whitespace().count();
            let ascii_words = ascii_word_starts(&line, usize::MAX);
            proptest::prop_assert!(ascii_words <= words);
            if line.is_ascii() {
                proptest::prop_assert_eq!(ascii_words, words);
            }
        }

        #[test]
        fn ranges_match_the_previous_rules(
            lines in proptest::collection::vec((line(), 0..3usize), 0..8)
        ) {
            let text: String =
                lines.iter().map(|(l, end)| format!("{l}{}", ["\n", "\r\n", ""][*end])).collect();
            proptest::prop_assert_eq!(boilerplate_ranges(&text), previous_ranges(&text));
        }
    }
}
