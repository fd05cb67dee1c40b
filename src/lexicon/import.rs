//! Reading user lexicons: TSV, the Problematic Paper Screener's CSV export,
//! and JSON lists of tortured phrases.
//!
//! Nothing here panics on bad input: a malformed line becomes a [`Skipped`]
//! item naming the input and the line, and the caller decides whether that
//! fails the build (`--strict`) or is reported and passed over.

use std::path::Path;

use crate::error::{Error, Result};
use crate::lexicon::{Entry, Sources};

/// The formats `unspin lexicon build` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `spun<TAB>original[<TAB>weight[<TAB>sources]]`, `#` comments.
    Tsv,
    /// The PPS export: columns "Fingerprint - Tortured Phrase" and "Expected Text".
    PpsCsv,
    /// `{"phrases":[{"tortured":..,"correct":..}]}` (or a bare array of those).
    Json,
}

impl Format {
    /// Guesses the format from a file name's extension (TSV when unknown).
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Format::PpsCsv,
            Some("json") => Format::Json,
            _ => Format::Tsv,
        }
    }
}

/// A line or record that was not imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The input's name.
    pub input: String,
    /// 1-based line (TSV, CSV) or record (JSON) number.
    pub line: usize,
    /// Why.
    pub reason: String,
    /// True when the line is broken (fails `--strict`); false when it is
    /// well-formed but not usable (a search query, an uncertain target).
    pub malformed: bool,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.input, self.line, self.reason)
    }
}

/// The result of reading one user lexicon.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    /// Pairs read.
    pub entries: Vec<Entry>,
    /// Lines passed over, with reasons.
    pub skipped: Vec<Skipped>,
}

/// Reads `path` in `format` (guessed from the extension when `None`).
pub fn import_file(path: &Path, format: Option<Format>) -> Result<Imported> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|e| Error::Input {
        input: name.clone(),
        message: format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    import(&name, &text, format.unwrap_or_else(|| Format::from_path(path)))
}

/// Reads lexicon text named `input` in `format`.
pub fn import(input: &str, text: &str, format: Format) -> Result<Imported> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // An empty file holds no pairs in any format (an export may be empty).
    if text.trim().is_empty() {
        return Ok(Imported::default());
    }
    match format {
        Format::Tsv => Ok(import_tsv(input, text)),
        Format::PpsCsv => import_pps_csv(input, text),
        Format::Json => import_json(input, text),
    }
}

fn import_tsv(input: &str, text: &str) -> Imported {
    let mut out = Imported::default();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        // A trailing comment after the columns is allowed: "a\tb\t0.5\thand # why".
        let line = match line.find(" #").or_else(|| line.find("\t#")) {
            Some(at) => &line[..at],
            None => line,
        };
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        let bad = |reason: String| Skipped {
            input: input.to_string(),
            line: line_no,
            reason,
            malformed: true,
        };
        if cols.len() < 2 || cols.len() > 4 {
            out.skipped
                .push(bad(format!("expected 2 to 4 tab-separated columns, found {}", cols.len())));
            continue;
        }
        if cols[0].is_empty() || cols[1].is_empty() {
            out.skipped.push(bad("empty spun or original phrase".into()));
            continue;
        }
        let weight = match cols.get(2).filter(|w| !w.is_empty()) {
            None => 1.0,
            Some(w) => match w.parse::<f32>() {
                Ok(x) if x > 0.0 && x <= 1.0 => x,
                _ => {
                    out.skipped.push(bad(format!("weight {w:?} is not a number in (0, 1]")));
                    continue;
                }
            },
        };
        let sources = match cols.get(3).filter(|s| !s.is_empty()) {
            None => Sources::USER,
            Some(s) => match Sources::parse(s) {
                Some(s) => s,
                None => {
                    out.skipped.push(bad(format!("unknown source list {s:?}")));
                    continue;
                }
            },
        };
        out.entries.push(Entry {
            spun: cols[0].to_string(),
            original: cols[1].to_string(),
            weight,
            sources,
        });
    }
    out
}

fn import_pps_csv(input: &str, text: &str) -> Result<Imported> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| Error::Parse { input: input.into(), line: 1, message: e.to_string() })?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (Some(fp), Some(exp)) = (col("Fingerprint - Tortured Phrase"), col("Expected Text")) else {
        return Err(Error::Parse {
            input: input.into(),
            line: 1,
            message: "missing the columns \"Fingerprint - Tortured Phrase\" and \"Expected Text\" of a PPS export"
                .into(),
        });
    };
    let mut out = Imported::default();
    for record in rdr.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                out.skipped.push(Skipped {
                    input: input.into(),
                    line,
                    reason: e.to_string(),
                    malformed: true,
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let (Some(fingerprint), Some(expected)) = (record.get(fp), record.get(exp)) else {
            out.skipped.push(Skipped {
                input: input.into(),
                line,
                reason: "missing columns".into(),
                malformed: true,
            });
            continue;
        };
        let Some(spun) = plain_query_phrase(fingerprint) else {
            out.skipped.push(Skipped {
                input: input.into(),
                line,
                reason: format!("search query, not a plain phrase: {fingerprint}"),
                malformed: false,
            });
            continue;
        };
        add_pair(&mut out, input, line, &spun, expected);
    }
    Ok(out)
}

fn import_json(input: &str, text: &str) -> Result<Imported> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Parse {
        input: input.into(),
        line: e.line(),
        message: e.to_string(),
    })?;
    let list = match &value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => match o.get("phrases") {
            Some(serde_json::Value::Array(a)) => a,
            _ => {
                return Err(Error::Parse {
                    input: input.into(),
                    line: 1,
                    message: "expected {\"phrases\": [{\"tortured\": .., \"correct\": ..}, ..]}"
                        .into(),
                })
            }
        },
        _ => {
            return Err(Error::Parse {
                input: input.into(),
                line: 1,
                message: "expected an object or array".into(),
            })
        }
    };
    let mut out = Imported::default();
    for (i, item) in list.iter().enumerate() {
        let tortured = item.get("tortured").and_then(|v| v.as_str());
        let correct = item.get("correct").and_then(|v| v.as_str());
        match (tortured, correct) {
            (Some(t), Some(c)) => add_pair(&mut out, input, i + 1, t, c),
            _ => out.skipped.push(Skipped {
                input: input.into(),
                line: i + 1,
                reason: "record lacks string fields \"tortured\" and \"correct\"".into(),
                malformed: true,
            }),
        }
    }
    Ok(out)
}

/// Adds `spun` → each clean reading of `expected`, or a skip explaining why not.
fn add_pair(out: &mut Imported, input: &str, line: usize, spun: &str, expected: &str) {
    let spun = strip_parentheses(spun);
    if spun.is_empty() {
        out.skipped.push(Skipped {
            input: input.into(),
            line,
            reason: "empty tortured phrase".into(),
            malformed: true,
        });
        return;
    }
    match clean_expected(expected) {
        Ok(originals) => {
            for (k, original) in originals.into_iter().enumerate() {
                // The first reading is the list's own; alternatives a little less sure.
                let weight = if k == 0 { 1.0 } else { 0.8 };
                out.entries.push(Entry {
                    spun: spun.clone(),
                    original,
                    weight,
                    sources: Sources::USER,
                });
            }
        }
        Err(reason) => {
            out.skipped.push(Skipped { input: input.into(), line, reason, malformed: false })
        }
    }
}

/// A PPS fingerprint that is one plain phrase ("counterfeit consciousness",
/// possibly quoted), or `None` for a query with AND/OR/NOT or several quoted parts.
fn plain_query_phrase(fingerprint: &str) -> Option<String> {
    let f = fingerprint.trim();
    let inner = f.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(f);
    if inner.is_empty() || inner.contains('"') || inner.contains('*') {
        return None;
    }
    if inner.split_whitespace().any(|w| matches!(w, "AND" | "OR" | "NOT" | "NEAR")) {
        return None;
    }
    Some(inner.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Removes "(...)" parts (acronyms, notes) and tidies spaces.
fn strip_parentheses(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The readings of an "Expected Text" / "correct" field: parenthesized notes
/// dropped, "a/b" alternatives expanded (at most four readings); an error
/// for an uncertain ("?") or empty target.
/// The most words an expected text (an original) may have.
const MAX_EXPECTED_WORDS: usize = 64;

fn clean_expected(expected: &str) -> std::result::Result<Vec<String>, String> {
    let cleaned = strip_parentheses(&expected.replace("\\\"", "\""));
    if cleaned.contains('?') || expected.trim().starts_with('?') {
        return Err(format!("uncertain expected text: {expected}"));
    }
    if cleaned.is_empty() {
        return Err("empty expected text".into());
    }
    // "signing / sign language recognition": whole-phrase alternatives.
    let mut readings: Vec<String> = Vec::new();
    for alt in cleaned.split(" / ") {
        // Each word extends every reading built so far: bounded, so that a
        // huge cell cannot make the import quadratic.
        let words = alt.split_whitespace().count();
        if words > MAX_EXPECTED_WORDS {
            return Err(format!(
                "expected text of {words} words; at most {MAX_EXPECTED_WORDS} are read"
            ));
        }
        // "contagious/transmissible diseases": word-level alternatives.
        let mut partial: Vec<String> = vec![String::new()];
        for word in alt.split_whitespace() {
            let options: Vec<&str> = word.split('/').filter(|o| !o.is_empty()).collect();
            let options = if options.is_empty() { vec![word] } else { options };
            let mut next = Vec::new();
            for p in &partial {
                for o in &options {
                    next.push(if p.is_empty() { o.to_string() } else { format!("{p} {o}") });
                }
            }
            next.truncate(4);
            partial = next;
        }
        readings.extend(partial.into_iter().filter(|r| !r.is_empty()));
    }
    readings.dedup();
    readings.truncate(4);
    if readings.is_empty() {
        return Err("empty expected text".into());
    }
    Ok(readings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expected_text_of_too_many_words_is_refused() {
        let long = vec!["word"; MAX_EXPECTED_WORDS + 1].join(" ");
        let err = clean_expected(&long).unwrap_err();
        assert!(err.contains("65 words"), "{err}");
        assert!(clean_expected(&vec!["word"; MAX_EXPECTED_WORDS].join(" ")).is_ok());
    }

    #[test]
    fn tsv_with_weights_comments_and_bad_lines() {
        let text = "# our list\nstreams\tjets\t0.5\nbad line without tab\nflying machine\taircraft\n\tempty\nx\ty\t7\n";
        let got = import("t.tsv", text, Format::Tsv).unwrap();
        assert_eq!(got.entries.len(), 2);
        assert_eq!(got.entries[0].weight, 0.5);
        let lines: Vec<_> = got.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, [3, 5, 6]);
        assert!(got.skipped.iter().all(|s| s.malformed));
        assert_eq!(
            got.skipped[0].to_string(),
            "t.tsv:3: expected 2 to 4 tab-separated columns, found 1"
        );
    }

    #[test]
    fn pps_csv_quoting_and_query_syntax() {
        let text = "Fingerprint - Tortured Phrase,Expected Text,Hits\n\
            \"counterfeit consciousness\",artificial intelligence,12\n\
            \"\"\"bosom peril\"\" AND \"\"malignant\"\"\",breast cancer,3\n\
            \"profound learning\",\"deep learning (DL)\",40\n\
            \"irresistible infections\",contagious/transmissible diseases,1\n\
            \"mysterious word\",???,1\n";
        let got = import("pps.csv", text, Format::PpsCsv).unwrap();
        let pairs: Vec<_> =
            got.entries.iter().map(|e| (e.spun.as_str(), e.original.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("counterfeit consciousness", "artificial intelligence"),
                ("profound learning", "deep learning"),
                ("irresistible infections", "contagious diseases"),
                ("irresistible infections", "transmissible diseases"),
            ]
        );
        assert_eq!(got.skipped.len(), 2);
        assert!(got.skipped.iter().all(|s| !s.malformed));
        assert!(got.skipped[0].reason.contains("search query"));
        assert_eq!(got.skipped[0].line, 3);
    }

    #[test]
    fn pps_csv_without_columns_is_an_error() {
        assert!(import("x.csv", "a,b\n1,2\n", Format::PpsCsv).is_err());
    }

    #[test]
    fn json_shapes() {
        let text = r#"{"phrases":[{"tortured":"Flying Machine","correct":"aircraft"},{"tortured":3},{"tortured":"a b","correct":"c (d)"}]}"#;
        let got = import("p.json", text, Format::Json).unwrap();
        assert_eq!(got.entries.len(), 2);
        assert_eq!(got.entries[1].original, "c");
        assert_eq!(got.skipped[0].line, 2);
        assert!(import("p.json", "{not json", Format::Json).is_err());
        assert!(import("p.json", "[]", Format::Json).unwrap().entries.is_empty());
    }

    #[test]
    fn empty_inputs_give_empty_results() {
        for f in [Format::Tsv, Format::Json] {
            let text = if f == Format::Json { "[]" } else { "" };
            let got = import("e", text, f).unwrap();
            assert!(got.entries.is_empty() && got.skipped.is_empty());
        }
    }
}
