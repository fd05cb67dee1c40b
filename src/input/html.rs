//! Web pages: detection, character sets and main-text extraction.
//!
//! A page is recognised by its content (a doctype, an `<html>` tag, or a
//! high density of common HTML tags near the start), unless the caller
//! forces the choice. Its bytes are decoded the way a browser would: a
//! byte-order mark first, then the charset of the HTTP header (from WARC
//! records), then `<meta charset>` or `http-equiv` in the first few
//! kilobytes, then valid UTF-8, and as a last resort a guess by
//! [`chardetng`], the detector Firefox uses.
//!
//! # Choice of extractor
//!
//! The article text is found by [`dom_smoothie`], a port of Mozilla's
//! Readability on top of `dom_query`/`html5ever`. Five crates that build
//! from crates.io were run on four pages written for the test suite to
//! mimic news sites (a WordPress local paper, a windows-1252 div-soup page,
//! a blog with reader comments, and badly broken markup; see
//! `tests/data/input/html/`):
//!
//! | crate | paragraphs | title on all 4 | time per page | crates / clean release build |
//! |---|---|---|---|---|
//! | `dom_smoothie` 0.19 | blank line between blocks | yes (`og:title`, `<title>`, `<h1>`) | 0.1–0.7 ms | 60 / 38 s |
//! | `legible` 0.5 | none in plain text (Markdown only) | no (blog: empty) | 0.4–28 ms | 81 / 79 s |
//! | `readabilityrs` 0.1 | one per line, indented | no (blog: empty) | 0.4–150 ms | 106 / 84 s |
//! | `readability-rs` 0.5 | mixed `\n` / `\n\n`, some blocks glued | no | 0.1–4 ms | 86 / 77 s |
//! | `llm_readability` 0.0.17 | blocks glued ("wall?Posted by") | no title at all | 0.1–1.5 ms | 90 / 39 s |
//!
//! All five picked the right article container and dropped the navigation,
//! sidebar, comment form and footer on every page; they differ in the text
//! they hand back. `dom_smoothie`'s formatted text mode keeps paragraph
//! breaks and never glues words across blocks, its title logic matches
//! Readability.js, it is the fastest and the lightest to build, it is MIT
//! licensed and actively released. (`article_scraper` was ruled out for its
//! GPL licence, `readability` 0.3 for pulling in `reqwest` by default.)
//!
//! None of them removes the "READ MORE: …" cross-links that sites put
//! between paragraphs, and none refuses a page without an article (they
//! return the login form's labels), so both are handled here: lines that
//! [`is_boilerplate`](super::is_boilerplate) recognises are dropped from the
//! extracted text, and a page that Readability does not consider readable
//! and that yields fewer than [`MIN_ARTICLE_WORDS`] words is an error.
//!
//! An HTML *fragment* (no doctype, `<html>` or `<body>`, such as the body
//! field of a CMS export in JSONL) is not run through Readability, whose
//! page-level scoring would discard a short fragment: all of its text is
//! kept, minus scripts, styles, forms, `<nav>`, `<footer>` and boilerplate
//! lines.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};

use dom_smoothie::{Config, Readability, TextMode};
use encoding_rs::Encoding;

use super::boilerplate::strip_boilerplate;
use super::decode::{decode_with, guess_encoding};
use super::lines::find_byte;
use super::nesting;

/// How far into a page to look for `<meta charset>`. The HTML standard says
/// 1024 bytes, but real pages put scripts and styles first, so look further.
const META_SCAN_LEN: usize = 4096;

/// How much of the input the HTML sniffer looks at.
const SNIFF_LEN: usize = 8 * 1024;

/// An extracted text shorter than this (in words) from a page that
/// Readability does not consider readable is not an article.
pub(crate) const MIN_ARTICLE_WORDS: usize = 50;

/// The article found in a page.
#[derive(Debug)]
pub(crate) struct Page {
    /// The article text, paragraphs separated by a blank line.
    pub text: String,
    /// The page's title.
    pub title: Option<String>,
    /// `<link rel=canonical>` or `og:url`.
    pub url: Option<String>,
    /// Things worth telling the user, e.g. that the page was truncated.
    pub warnings: Vec<String>,
    /// Byte ranges of `text` that were code (`<pre>`, `<code>`): kept, but
    /// neither scored nor restored.
    pub code: Vec<Range<usize>>,
}

/// Private-use characters that bracket the text of code elements through
/// extraction, so that where it ends up in the article text is known.
const CODE_OPEN: char = '\u{E000}';
const CODE_CLOSE: char = '\u{E001}';

/// Brackets the text of every `<pre>` and `<code>` element with
/// [`CODE_OPEN`] and [`CODE_CLOSE`], unless the page uses those characters
/// itself (then no code is marked).
fn mark_code(html: &str, doc: &dom_query::Document) -> bool {
    if html.contains([CODE_OPEN, CODE_CLOSE]) {
        return false;
    }
    let code = doc.select("pre, code");
    code.prepend_html(CODE_OPEN.to_string());
    code.append_html(CODE_CLOSE.to_string());
    true
}

/// Removes the code markers from `text` and returns the byte ranges of the
/// outermost bracketed runs in what is left (unbalanced markers mark
/// nothing).
fn take_code(text: &mut String) -> Vec<Range<usize>> {
    if !text.contains([CODE_OPEN, CODE_CLOSE]) {
        return Vec::new();
    }
    let mut out = String::with_capacity(text.len());
    let mut ranges = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // A marker alone on its line leaves no empty line behind.
        if matches!(c, CODE_OPEN | CODE_CLOSE)
            && (out.is_empty() || out.ends_with('\n'))
            && chars.peek() == Some(&'\n')
        {
            chars.next();
        }
        match c {
            CODE_OPEN => {
                if depth == 0 {
                    start = out.len();
                }
                depth += 1;
            }
            CODE_CLOSE => {
                // A close without an open (the extractor kept one end of
                // an element only) is dropped.
                if depth == 1 && out.len() > start {
                    ranges.push(start..out.len());
                }
                depth = depth.saturating_sub(1);
            }
            c => out.push(c),
        }
    }
    // An open without a close (its close went with a dropped line) marks
    // nothing: better to score a few lines of code than to skip the rest
    // of the article.
    *text = out;
    ranges
}

/// Does `bytes` look like an HTML page?
///
/// True when, after an optional BOM and whitespace, the input opens with a
/// doctype, `<html`, an XML declaration or comment followed by `<html`, or
/// when its first 8 KiB are dense with common HTML tags (a fragment pasted
/// from a page).
pub(crate) fn looks_like_html(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    // Every input is sniffed, so the head is compared without case rather
    // than copied in lower case.
    let head = &head[start..];
    if starts_with_ignore_case(head, b"<!doctype html") || starts_with_ignore_case(head, b"<html") {
        return true;
    }
    if (starts_with_ignore_case(head, b"<?xml") || head.starts_with(b"<!--"))
        && head[..head.len().min(1024)].windows(5).any(|w| w.eq_ignore_ascii_case(b"<html"))
    {
        return true;
    }
    let tags = count_known_tags(head);
    // A fragment: starts with a tag and has several more, or is simply
    // dense with them (one per 150 bytes is far above any prose).
    (head.first() == Some(&b'<') && tags >= 3) || (tags >= 10 && tags * 150 >= head.len())
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// Counts opening or closing tags with a common HTML element name, in any
/// case.
fn count_known_tags(head: &[u8]) -> usize {
    const NAMES: &[&[u8]] = &[
        b"html", b"head", b"body", b"div", b"p", b"a", b"span", b"script", b"style", b"meta",
        b"link", b"title", b"br", b"ul", b"ol", b"li", b"table", b"tr", b"td", b"h1", b"h2", b"h3",
        b"h4", b"img", b"section", b"article", b"nav", b"header", b"footer", b"main", b"form",
        b"input", b"strong", b"em", b"b", b"i",
    ];
    let mut count = 0;
    let mut i = 0;
    // Plain text has few `<`, so the sniffer spends its time finding them.
    while let Some(off) = find_byte(&head[i..], b'<') {
        let mut j = i + off + 1;
        if head.get(j) == Some(&b'/') {
            j += 1;
        }
        let name_end =
            head[j..].iter().position(|b| !b.is_ascii_alphanumeric()).map_or(head.len(), |n| j + n);
        let name = &head[j..name_end];
        let terminated =
            matches!(head.get(name_end), Some(b'>' | b' ' | b'/' | b'\n' | b'\t' | b'\r'));
        if terminated && NAMES.iter().any(|known| known.eq_ignore_ascii_case(name)) {
            count += 1;
        }
        i = name_end.max(i + off + 1);
    }
    count
}

/// Decodes a page's bytes to a string, choosing the encoding as a browser
/// would (see the module docs). `http_charset` is the `charset` parameter of
/// the HTTP `Content-Type` header, when the page came with one.
pub(crate) fn decode_page(bytes: &[u8], http_charset: Option<&str>) -> (String, Option<String>) {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return decode_with(encoding, &bytes[bom_len..]);
    }
    let declared = http_charset
        .and_then(|label| Encoding::for_label(label.trim().as_bytes()))
        .or_else(|| meta_charset(&bytes[..bytes.len().min(META_SCAN_LEN)]))
        // A page cannot really be UTF-16 if its ASCII declaration could be
        // read as ASCII; browsers treat such a label as UTF-8.
        .map(|enc| {
            if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
                encoding_rs::UTF_8
            } else {
                enc.output_encoding()
            }
        });
    let encoding = declared.unwrap_or_else(|| {
        if std::str::from_utf8(bytes).is_ok() {
            encoding_rs::UTF_8
        } else {
            guess_encoding(bytes, chardetng::Utf8Detection::Allow)
        }
    });
    decode_with(encoding, bytes)
}

/// The encoding named by a `<meta charset=…>` or
/// `<meta http-equiv="Content-Type" content="…; charset=…">` in `head`.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let mut rest = &lower[..];
    while let Some(start) = find(rest, b"<meta") {
        let tag = &rest[start..];
        let end = tag.iter().position(|&b| b == b'>').unwrap_or(tag.len());
        let tag = &tag[..end];
        if let Some(pos) = find(tag, b"charset") {
            let value = &tag[pos + b"charset".len()..];
            let value = trim_ascii_start(value);
            if let Some(value) = value.strip_prefix(b"=") {
                let value = trim_ascii_start(value);
                let value =
                    value.strip_prefix(b"\"").or_else(|| value.strip_prefix(b"'")).unwrap_or(value);
                let label_end = value
                    .iter()
                    .position(|&b| {
                        matches!(b, b'"' | b'\'' | b';' | b'/' | b'>') || b.is_ascii_whitespace()
                    })
                    .unwrap_or(value.len());
                if let Some(enc) = Encoding::for_label(&value[..label_end]) {
                    return Some(enc);
                }
            }
        }
        rest = &rest[start + end.max(1)..];
    }
    None
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    &bytes[start..]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Extracts the article from `html`. `source` names the page in messages;
/// pages longer than `max_bytes` are cut (with a warning) before parsing,
/// because a DOM costs several times the page's size in memory, and tags
/// nested deeper than `max_depth` are dropped (with a warning), because
/// parsing costs O(depth²) (see `nesting.rs`).
///
/// On failure, returns the error message for the document and the
/// warnings gathered so far.
pub(crate) fn extract(
    source: &str,
    html: &str,
    max_bytes: u64,
    max_depth: usize,
) -> Result<Page, (String, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut html = html;
    let cap = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    if html.len() > cap {
        let mut cut = cap;
        while !html.is_char_boundary(cut) {
            cut -= 1;
        }
        warnings.push(format!(
            "HTML page of {} bytes cut to its first {cut} bytes before extraction; raise --max-html-bytes",
            html.len()
        ));
        html = &html[..cut];
    }
    // The nesting pre-scan, html5ever and the Readability port are not
    // expected to panic, but a bulk run over a web crawl is exactly where
    // an unexpected page turns up, and one page must not end the run.
    let extracted = catch_unwind(AssertUnwindSafe(|| {
        let (html, flattened) = nesting::flatten(html, max_depth);
        (extract_unguarded(&html), flattened.warnings(max_depth))
    }));
    let page = match extracted {
        Ok((page, flattening)) => {
            warnings.extend(flattening);
            page
        }
        Err(_) => {
            return Err((format!("{source}: the HTML extractor failed on this page"), warnings))
        }
    };
    match page {
        Some(mut page) => {
            page.warnings.extend(warnings);
            Ok(page)
        }
        None => Err((format!("no article text found in {source}"), warnings)),
    }
}

fn extract_unguarded(html: &str) -> Option<Page> {
    let doc = dom_query::Document::from(html);
    let marked = mark_code(html, &doc);
    if !is_whole_page(html) {
        return fragment_text(doc, marked);
    }
    let url = canonical_url(&doc);
    let h1s: Vec<String> = doc
        .select("h1")
        .iter()
        .map(|h| normalize_space(&h.text()))
        .filter(|h| !h.is_empty())
        .collect();
    let readable = dom_smoothie::is_probably_readable(&doc, None, None);
    let raw_titles = title_sources(&doc);

    let config = Config { text_mode: TextMode::Formatted, ..Config::default() };
    let mut readability = Readability::with_document(doc, None, Some(config)).ok()?;
    let article = readability.parse().ok()?;

    let mut text = tidy_text(&article.text_content);
    let code = if marked { take_code(&mut text) } else { Vec::new() };
    let words = text.split_whitespace().count();
    if words == 0 || (!readable && words < MIN_ARTICLE_WORDS) {
        return None;
    }
    let title = Some(normalize_space(&article.title))
        .filter(|t| !t.is_empty())
        .map(|t| decoded_once(t, &raw_titles))
        .or_else(|| h1s.first().cloned());
    let (text, code) = with_headline(headline(title.as_deref(), &h1s), text, code);
    Some(Page { text, title, url, warnings: Vec::new(), code })
}

/// Texts a title may come from that have an ampersand after parsing:
/// `<title>`, the `content` of `<meta>` tags and headings. Only these can
/// be changed by a second decoding (see `decoded_once`).
fn title_sources(doc: &dom_query::Document) -> Vec<String> {
    let kept = |t: &str| t.contains('&') && t.len() <= MAX_TITLE_SOURCE;
    let texts = doc.select("title, h1, h2").iter().map(|n| n.text()).filter(|t| kept(t));
    let contents = doc.select("meta[content]").iter().filter_map(|m| m.attr("content"));
    texts.chain(contents.filter(|c| kept(c))).map(|t| t.to_string()).collect()
}

/// Title sources longer than this are not searched by `decoded_once`
/// (its search is quadratic in their length; titles are short).
const MAX_TITLE_SOURCE: usize = 512;

/// The title as the page has it, where the Readability port decoded it a
/// second time. It reads titles from the parsed page, whose character
/// references the HTML parser has already decoded, and then decodes them
/// again (as Readability.js does), so that a title written `Fees of
/// &amp;pound;5` came out `Fees of £5` and `A &amp;amp; B` came out `A &
/// B`. The page's own text says `&pound;` there, and a headline that read
/// otherwise than the same headline in the article's body was put before
/// the text a second time (`with_headline`), with its edits outside the
/// page (`scripts/html-pages`, found on a table-layout page). So: the part
/// of a title source that decodes to `title` is what the page says. A
/// title with no such source (none has an ampersand) is kept as it is.
fn decoded_once(title: String, sources: &[String]) -> String {
    let decode = |s: &str| html_escape::decode_html_entities(s).into_owned();
    for raw in sources {
        let raw = normalize_space(raw);
        let twice = decode(&raw);
        if twice == raw || !twice.contains(title.as_str()) {
            continue;
        }
        // The part of `raw` that decodes to `title`: where it starts,
        // the rest decodes to something that starts with the title.
        let bounds: Vec<usize> =
            raw.char_indices().map(|(i, _)| i).chain(std::iter::once(raw.len())).collect();
        for (a, &i) in bounds.iter().enumerate() {
            if !decode(&raw[i..]).starts_with(title.as_str()) {
                continue;
            }
            for &j in &bounds[a + 1..] {
                if decode(&raw[i..j]) == title {
                    return raw[i..j].to_string();
                }
            }
        }
    }
    title
}

/// The headline as the page shows it: the first `<h1>` that is one
/// headline with the title (one contains the other: a shortened
/// `og:title`, or a `<title>` with the site's name), else the title (an
/// `<h1>` that says something else is often the site's name).
fn headline<'a>(title: Option<&'a str>, h1s: &'a [String]) -> Option<&'a str> {
    let title = title?;
    let t = title.to_lowercase();
    let same = |h: &&String| {
        let h = h.to_lowercase();
        t.contains(&h) || h.contains(&t)
    };
    Some(h1s.iter().find(same).map_or(title, String::as_str))
}

/// The article text with its headline as the first paragraph, as a news
/// story in a text file has it. Readability hands the headline back apart
/// from the text, and content farms spin headlines too: without it a page
/// would be scored and restored without its most visible line (measured
/// with `scripts/html-pages`: BBC articles spun at 10% were labelled
/// otherwise in a page than as plain text 1.3% of the time, and 0.1% once
/// the headline was read). A text whose first paragraph has the headline
/// already (a page that prints it inside the article's container) is left
/// as it is; `code` ranges move with the text.
fn with_headline(
    title: Option<&str>,
    text: String,
    code: Vec<Range<usize>>,
) -> (String, Vec<Range<usize>>) {
    let Some(title) = title else { return (text, code) };
    let first = text.split("\n\n").next().unwrap_or("");
    if normalize_space(first).to_lowercase().contains(&title.to_lowercase()) {
        return (text, code);
    }
    let shift = title.len() + 2;
    let code = code.into_iter().map(|r| r.start + shift..r.end + shift).collect();
    (format!("{title}\n\n{text}"), code)
}

/// Does `html` have the skeleton of a page (a doctype, `<html>` or
/// `<body>`), rather than being a fragment such as a CMS body field?
fn is_whole_page(html: &str) -> bool {
    let mut end = html.len().min(SNIFF_LEN);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let head = html[..end].to_ascii_lowercase();
    ["<!doctype", "<html", "<body"].iter().any(|tag| head.contains(tag))
}

/// A fragment is already the content someone chose to store: Readability's
/// page-level heuristics would throw most of it away (a few short
/// paragraphs never look "readable"), so take all its text instead, minus
/// code and obvious furniture.
fn fragment_text(doc: dom_query::Document, marked: bool) -> Option<Page> {
    doc.select("script, style, noscript, template, nav, footer, form, iframe").remove();
    let mut text = tidy_text(&doc.formatted_text());
    let code = if marked { take_code(&mut text) } else { Vec::new() };
    text.split_whitespace().next()?;
    Some(Page { text, title: None, url: None, warnings: Vec::new(), code })
}

/// `<link rel=canonical href>`, else `<meta property=og:url content>`.
fn canonical_url(doc: &dom_query::Document) -> Option<String> {
    let candidates = [
        doc.select(r#"link[rel~="canonical"]"#).attr("href"),
        doc.select(r#"meta[property="og:url"]"#).attr("content"),
        doc.select(r#"meta[name="og:url"]"#).attr("content"),
    ];
    candidates.into_iter().flatten().map(|u| u.trim().to_string()).find(|u| !u.is_empty())
}

/// Cleans the extractor's formatted text: trailing spaces go, and leading
/// ones but in code (between [`CODE_OPEN`] and [`CODE_CLOSE`], where
/// indentation is meaning); runs of blank lines become one blank line, and
/// boilerplate lines are dropped.
fn tidy_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank = 0;
    // How deep in code the current line starts.
    let mut code = 0usize;
    for line in raw.lines() {
        let in_code = code > 0;
        for c in line.chars() {
            match c {
                CODE_OPEN => code += 1,
                CODE_CLOSE => code = code.saturating_sub(1),
                _ => {}
            }
        }
        let line = line.trim_end();
        let line = if in_code { line } else { line.trim_start_matches([' ', '\t']) };
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    strip_boilerplate(&out)
}

/// Collapses whitespace runs to single spaces and trims.
fn normalize_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert!(looks_like_html(b"\xef\xbb\xbf  <!DOCTYPE html><html>"));
        assert!(looks_like_html(b"<html lang=en><body>hi</body></html>"));
        assert!(looks_like_html(b"<!-- saved --><html>"));
        assert!(looks_like_html(b"<div class=a><p>One</p><p>Two</p></div>"));
        assert!(!looks_like_html(b"Plain text that mentions <p> once."));
        assert!(!looks_like_html(b"a < b and c > d, <3"));
        assert!(!looks_like_html(b""));
        let prose = "Some prose. ".repeat(500);
        let with_tags = format!("{prose}<b>x</b><i>y</i>");
        assert!(!looks_like_html(with_tags.as_bytes()));
    }

    #[test]
    fn code_markers_become_ranges() {
        let mut text = format!("Intro.\n\n{CODE_OPEN}let x = 1;\n{CODE_CLOSE}\nOutro with {CODE_OPEN}inline {CODE_OPEN}nested{CODE_CLOSE}{CODE_CLOSE} code.");
        let ranges = take_code(&mut text);
        assert_eq!(text, "Intro.\n\nlet x = 1;\nOutro with inline nested code.");
        let got: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(got, ["let x = 1;\n", "inline nested"]);
        // Unbalanced markers mark nothing.
        let mut text = format!("a{CODE_CLOSE}b {CODE_OPEN}c");
        assert!(take_code(&mut text).is_empty());
        assert_eq!(text, "ab c");
        let mut plain = "no code".to_string();
        assert!(take_code(&mut plain).is_empty());
    }

    #[test]
    fn code_in_a_page_is_marked_and_kept() {
        let prose = "The council met on Tuesday to discuss the budget for next year. ".repeat(6);
        let page = format!(
            "<html><body><article><p>{prose}</p><pre><code>for x in items:\n    total += x</code></pre>\
             <p>Use <code>else</code> sparingly. {prose}</p></article></body></html>"
        );
        let found = extract("page.html", &page, 1 << 20, 256).unwrap();
        let code: Vec<&str> = found.code.iter().map(|r| found.text[r.clone()].trim()).collect();
        // Code keeps its indentation (prose lines lose theirs).
        assert_eq!(code, ["for x in items:\n    total += x", "else"], "{:?}", found.text);
        assert!(!found.text.contains([CODE_OPEN, CODE_CLOSE]));
        // A page that uses the marker characters itself gets no code ranges.
        let odd = page.replace("sparingly", "sparingly \u{E000}");
        let found = extract("odd.html", &odd, 1 << 20, 256).unwrap();
        assert!(found.code.is_empty());
        assert!(found.text.contains('\u{E000}'));
    }

    #[test]
    fn charset_from_meta() {
        let page = b"<html><head><meta charset=\"windows-1252\"></head><body>caf\xe9</body></html>";
        let (text, warning) = decode_page(page, None);
        assert!(text.contains("café"), "{text}");
        assert_eq!(warning, None);
        let page =
            b"<meta http-equiv=Content-Type content='text/html; charset=ISO-8859-1'>na\xefve";
        assert!(decode_page(page, None).0.ends_with("naïve"));
    }

    #[test]
    fn charset_precedence() {
        // The HTTP header wins over the meta tag; the BOM wins over both.
        let page = b"<meta charset=utf-8>caf\xe9";
        assert!(decode_page(page, Some("windows-1252")).0.ends_with("café"));
        let page = b"\xef\xbb\xbf<meta charset=windows-1252>caf\xc3\xa9";
        assert!(decode_page(page, Some("windows-1252")).0.ends_with("café"));
    }

    #[test]
    fn charset_guessed_without_declaration() {
        let page = "<html><body><p>Le café était fermé, mais la crêperie à côté \
                    était ouverte.</p></body></html>";
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(page);
        let (text, warning) = decode_page(&latin1, None);
        assert!(text.contains("crêperie"), "{text}");
        assert_eq!(warning, None);
    }

    #[test]
    fn declared_utf8_with_bad_bytes_warns() {
        let (_, warning) = decode_page(b"<meta charset=utf-8>\xff", None);
        assert_eq!(warning.as_deref(), Some("invalid UTF-8 decoded lossily"));
    }

    #[test]
    fn a_title_is_decoded_once() {
        let body = "The council met on Tuesday to discuss the budget for next year. ".repeat(8);
        let page = |head: &str, h: &str| {
            format!(
                "<html><head>{head}</head><body><table><tr><td><b>{h}</b><br><br>\n\
                     {body}<br><br>\n{body}</td></tr></table></body></html>"
            )
        };
        let found = |head: &str, h: &str| extract("p.html", &page(head, h), 1 << 20, 256).unwrap();
        // The page says "&#163;", as escaped text; the title must too, and
        // then the headline in the body is that title and is not repeated.
        let p = found("<title>Fees of &amp;#163;5 rise</title>", "Fees of &amp;#163;5 rise");
        assert_eq!(p.title.as_deref(), Some("Fees of &#163;5 rise"));
        assert_eq!(p.text.matches("Fees of").count(), 1, "{}", p.text);
        // A site name cut off, and the title from a meta tag.
        let p = found("<title>Salt &amp;amp; pepper prices rise | The Post</title>", "x");
        assert_eq!(p.title.as_deref(), Some("Salt &amp; pepper prices rise"));
        let p = found("<meta property=\"og:title\" content=\"Q&amp;amp;A\"><title>x</title>", "y");
        assert_eq!(p.title.as_deref(), Some("Q&amp;A"));
        // A title decoded once by the parser stays so.
        let p = found("<title>Salt &amp; pepper</title>", "x");
        assert_eq!(p.title.as_deref(), Some("Salt & pepper"));
        let p = found("<title>Fees of &#163;5</title>", "x");
        assert_eq!(p.title.as_deref(), Some("Fees of £5"));
    }

    #[test]
    fn the_headline_opens_the_text_once() {
        let body = "The council met on Tuesday to discuss the budget for next year. ".repeat(8);
        let page = |h1: &str, title: &str, lead: &str| {
            format!(
                "<html><head><title>{title}</title></head><body><h1>{h1}</h1><article>\
                 {lead}<p>{body}</p><p>Use <code>else</code> sparingly. {body}</p></article>\
                 </body></html>"
            )
        };
        let text = |p: &str| extract("p.html", p, 1 << 20, 256).unwrap();
        // The <h1> that the title shortens (or names the site after) is
        // the headline; it is put first, and code ranges move with it.
        let found =
            text(&page("Budget talks go on late", "Budget talks go on late - The Post", ""));
        assert!(
            found.text.starts_with("Budget talks go on late\n\nThe council met"),
            "{}",
            found.text
        );
        let code: Vec<&str> = found.code.iter().map(|r| &found.text[r.clone()]).collect();
        assert_eq!(code, ["else"]);
        // An <h1> that is something else (the site's name) is not.
        let found = text(&page("The Post", "Budget talks go on late", ""));
        assert!(found.text.starts_with("Budget talks go on late\n\n"), "{}", found.text);
        // A text that opens with the headline already keeps it once.
        let found =
            text(&page("The Post", "Budget talks go on late", "<p>Budget talks go on late</p>"));
        assert_eq!(found.text.matches("Budget talks").count(), 1, "{}", found.text);
        // Nor when the extractor glued it to other lines of the first
        // paragraph (a page whose menu came along).
        let glued = "Home\nVideo Budget talks go on late\nThe council met.\n\nMore.".to_string();
        let (kept, _) = with_headline(Some("Budget talks go on late"), glued.clone(), vec![]);
        assert_eq!(kept, glued);
        // A fragment has no headline to add.
        let found = text("<p>One short paragraph about the budget.</p>");
        assert_eq!(found.text, "One short paragraph about the budget.");
    }

    #[test]
    fn tidy_collapses_blank_lines() {
        assert_eq!(tidy_text("  A  \n\n\n\n B\nC \n\n"), "A\n\nB\nC");
    }

    /// The sniffer as first written, on a lower-case copy of the head.
    fn previous_looks_like_html(bytes: &[u8]) -> bool {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let head = &bytes[..bytes.len().min(SNIFF_LEN)];
        let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
        let head = head[start..].to_ascii_lowercase();
        if head.starts_with(b"<!doctype html") || head.starts_with(b"<html") {
            return true;
        }
        if (head.starts_with(b"<?xml") || head.starts_with(b"<!--"))
            && find(&head[..head.len().min(1024)], b"<html").is_some()
        {
            return true;
        }
        let tags = count_known_tags(&head);
        (head.first() == Some(&b'<') && tags >= 3) || (tags >= 10 && tags * 150 >= head.len())
    }

    /// Prose, markup in any case (known and unknown names, closed and
    /// unterminated), openings the sniffer looks for, and lengths across
    /// the sniffed prefix.
    fn page() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        // More or less prose between the tags, so that both answers come up.
        let piece = |prose| {
            prop_oneof![
                6 => prop::sample::select(vec![
                    "word ", "Prose, ", "a < b ", "x<y ", "<3 ", "\n", "\t", "  ", "caf\u{e9} ",
                    "\u{feff}", "<", "</", ">", "/>",
                ])
                .prop_map(str::to_string),
                4 => (
                    prop::sample::select(vec![
                        "p", "div", "a", "b", "i", "br", "html", "head", "body", "table", "td",
                        "h1", "h4", "h5", "article", "nav", "strong", "x", "pre", "img", "span1",
                    ]),
                    prop::sample::select(vec!["<", "</"]),
                    prop::sample::select(vec![">", " ", "/", "\n", "\t", "\r", "=", ""]),
                    any::<bool>(),
                )
                    .prop_map(|(name, open, end, upper)| {
                        let name = if upper { name.to_uppercase() } else { name.to_string() };
                        format!("{open}{name}{end}")
                    }),
                1 => prop::sample::select(vec![
                    "<!DOCTYPE html>", "<!doctype HTML>", "<?xml version=1.0?>", "<?XML ?>", "<!-- c -->",
                    "<HTML>", "<Html lang=en>",
                ])
                .prop_map(str::to_string),
                prose => "[a-z ]{100,400}",
            ]
        };
        (
            prop::sample::select(vec!["", "\u{feff}", "  \n", "\u{feff} \t"]),
            (1..30u32).prop_flat_map(move |prose| prop::collection::vec(piece(prose), 0..400)),
        )
            .prop_map(|(lead, pieces)| format!("{lead}{}", pieces.concat()).into_bytes())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        #[test]
        fn sniffing_matches_the_previous_sniffer(page in page()) {
            proptest::prop_assert_eq!(looks_like_html(&page), previous_looks_like_html(&page));
        }
    }
}
