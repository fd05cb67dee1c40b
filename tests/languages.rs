//! Documents that are not English: `score` labels them `not-english` and
//! flags nothing, `restore` leaves them as they are, and `--any-language`
//! treats them as English. Fixtures in `tests/data/languages/`: one
//! paragraph of news written by us, in English and in French, German and
//! Spanish.

use assert_cmd::Command;
use serde_json::Value;

const DATA: &str = "tests/data/languages";

fn data(rel: &str) -> String {
    format!("{DATA}/{rel}")
}

/// Runs unspin: (stdout, stderr, exit code).
fn run(args: &[&str]) -> (String, String, i32) {
    let out = Command::cargo_bin("unspin").unwrap().args(args).output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (text(out.stdout), text(out.stderr), out.status.code().unwrap())
}

fn jsonl(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn score_labels_other_languages_and_flags_nothing_in_them() {
    let (out, err, code) = run(&["score", DATA, "--format", "jsonl", "-j", "1"]);
    assert_eq!(code, 0, "{err}");
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let source = row["source"].as_str().unwrap();
        let english = source.ends_with("english.txt");
        let label = row["label"].as_str().unwrap();
        if english {
            assert_eq!(label, "clean", "{row}");
        } else {
            assert_eq!(label, "not-english", "{row}");
            assert_eq!(row["spans"], serde_json::json!([]), "{row}");
            assert_eq!(row["top_spans"], serde_json::json!([]), "{row}");
            assert_eq!(row["spin_rate"], 0.0, "{row}");
            assert!(row["words"].as_u64().unwrap() > 50, "{row}");
        }
    }
    assert!(err.contains("not English 75.0% (not scored)"), "{err}");
}

#[test]
fn the_csv_and_text_reports_say_not_english() {
    let (out, _, code) = run(&["score", &data("french.txt"), "--format", "csv"]);
    assert_eq!(code, 0);
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let row: Vec<String> = r.records().next().unwrap().unwrap().iter().map(String::from).collect();
    let field = |name: &str| &row[header.iter().position(|h| h == name).unwrap()];
    assert_eq!(field("label"), "not-english");
    assert_eq!(field("spans"), "0");
    assert_eq!(field("error"), "");

    let (out, _, _) = run(&["score", &data("german.txt"), "--color", "never"]);
    assert!(out.contains("german.txt: not English, not scored"), "{out}");
    assert!(out.contains("--any-language"), "{out}");
}

#[test]
fn not_english_never_reaches_fail_on() {
    let (_, _, code) = run(&["score", &data("spanish.txt"), "--fail-on", "light"]);
    assert_eq!(code, 0);
}

#[test]
fn any_language_scores_them_as_english() {
    let (out, err, code) =
        run(&["score", &data("french.txt"), "--format", "jsonl", "--any-language"]);
    assert_eq!(code, 0, "{err}");
    let row = &jsonl(&out)[0];
    let label = row["label"].as_str().unwrap();
    assert!(["clean", "light", "heavy"].contains(&label), "{row}");
    // The lexicon finds "English" words in French, which is why it is off
    // by default.
    assert!(!row["spans"].as_array().unwrap().is_empty(), "{row}");
}

#[test]
fn restore_leaves_other_languages_as_they_are() {
    for name in ["french.txt", "german.txt", "spanish.txt"] {
        let path = data(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let (out, err, code) = run(&["restore", &path]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, text, "{name}");
        assert!(err.contains(&format!("{path}: not English; left as it was")), "{err}");

        let (out, _, _) = run(&["restore", &path, "--format", "json"]);
        let json: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(json["not_english"], true, "{json}");
        assert_eq!(json["edits"], serde_json::json!([]), "{json}");
    }
    // A run of several says how many in its summary.
    let (_, err, _) = run(&["restore", DATA, "-j", "1"]);
    assert!(err.contains("; 3 documents not English, left as they were"), "{err}");
    // English output has no such field.
    let (out, err, _) = run(&["restore", &data("english.txt"), "--format", "json"]);
    let json: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(json.get("not_english").is_none(), "{json}");
    assert!(!err.contains("not English"), "{err}");
}

#[test]
fn restore_any_language_decodes_them() {
    // French read as English: the restorer weighs its "English" words
    // (what it does with them is not the point; that it looks is).
    let path = data("french.txt");
    let (out, _, code) = run(&["restore", &path, "--format", "json", "--any-language"]);
    assert_eq!(code, 0);
    let json: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(json.get("not_english").is_none(), "{json}");
}

/// One WET conversion record holding `text`.
fn wet_record(uri: &str, text: &str) -> String {
    format!(
        "WARC/1.1\r\nWARC-Type: conversion\r\nWARC-Target-URI: {uri}\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{text}\r\n\r\n",
        text.len()
    )
}

#[test]
fn a_crawl_in_several_languages_gets_a_label_per_page() {
    // A WET file as Common Crawl writes them, one page per language.
    let tmp = tempfile::tempdir().unwrap();
    let mut wet = String::new();
    for name in ["english.txt", "french.txt", "german.txt"] {
        let text = std::fs::read_to_string(data(name)).unwrap();
        wet.push_str(&wet_record(&format!("https://example.org/{name}"), &text));
    }
    let path = tmp.path().join("crawl.warc.wet");
    std::fs::write(&path, wet).unwrap();
    let (out, err, code) = run(&["score", path.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let labels: Vec<(String, String)> = jsonl(&out)
        .iter()
        .map(|r| (r["url"].as_str().unwrap().to_string(), r["label"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        labels,
        [
            ("https://example.org/english.txt".to_string(), "clean".to_string()),
            ("https://example.org/french.txt".to_string(), "not-english".to_string()),
            ("https://example.org/german.txt".to_string(), "not-english".to_string()),
        ]
    );
}

#[test]
fn restore_jsonl_keeps_foreign_records_and_says_why_with_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    for (id, name) in [(1, "english.txt"), (2, "spanish.txt")] {
        let text = std::fs::read_to_string(data(name)).unwrap();
        lines.push_str(&serde_json::json!({"id": id, "text": text}).to_string());
        lines.push('\n');
    }
    let path = tmp.path().join("pages.jsonl");
    std::fs::write(&path, &lines).unwrap();
    let (out, err, code) = run(&["restore", "--jsonl", path.to_str().unwrap(), "--edits"]);
    assert_eq!(code, 0, "{err}");
    let records = jsonl(&out);
    assert_eq!(records.len(), 2);
    assert!(records[0].get("not_english").is_none(), "{}", records[0]);
    let spanish = std::fs::read_to_string(data("spanish.txt")).unwrap();
    assert_eq!(records[1]["text"], spanish.as_str());
    assert_eq!(records[1]["not_english"], true);
    assert_eq!(records[1]["edits"], serde_json::json!([]));
}
