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
    // "Share on Facebook" is boilerplate, but a long sentence that starts
    // "Sign up for our …" could be reporting, so the open prefixes need a
    // short line.
    if words <= 12 && PREFIX.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    words <= 15 && CREDIT.iter().any(|c| lower.contains(c))
}

/// Byte ranges of the boilerplate lines in `text`, in order.
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
    let mut ranges = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let content = line.strip_suffix('\n').unwrap_or(line);
        let content = content.strip_suffix('\r').unwrap_or(content);
        if is_boilerplate(content) {
            ranges.push(start..start + content.len());
        }
        start += line.len();
    }
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
}
