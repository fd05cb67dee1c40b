//! Bulk use of `unspin score` and `unspin restore`: directories, lists,
//! JSONL in and out, compressed input, parallelism, mirrored output trees
//! and HTML pages.
//!
//! Fixtures live in `tests/data/bulk/` (a small tree of spun and clean
//! news, a list of files and a JSONL file with broken lines); compressed
//! variants are made in the tests.

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const DATA: &str = "tests/data/bulk";

fn data(rel: &str) -> String {
    format!("{DATA}/{rel}")
}

fn unspin() -> Command {
    Command::cargo_bin("unspin").unwrap()
}

/// Runs unspin, returns (stdout, exit code).
fn run(args: &[&str]) -> (String, i32) {
    let out = unspin().args(args).output().unwrap();
    (String::from_utf8(out.stdout).unwrap(), out.status.code().unwrap())
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn csv_rows(stdout: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(stdout.as_bytes());
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r.records().map(|row| row.unwrap().iter().map(String::from).collect()).collect();
    (header, rows)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The report fields that depend on the text only, not on where it came
/// from.
fn report_part(row: &Value) -> Value {
    let keep = ["words", "spans", "spin_rate", "score", "label", "top_spans", "error"];
    Value::Object(
        row.as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

// --- score --------------------------------------------------------------------

#[test]
fn score_directory_with_glob() {
    let (out, code) = run(&["score", &data("tree"), "--glob", "*.txt", "--format", "csv"]);
    assert_eq!(code, 0, "{out}");
    let (header, rows) = csv_rows(&out);
    assert_eq!(
        header,
        [
            "source",
            "id",
            "url",
            "title",
            "words",
            "spans",
            "spin_rate",
            "score",
            "label",
            "top_spans",
            "lexicon",
            "error"
        ]
    );
    let sources: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    // Sorted walk, hidden directories and non-matching files skipped.
    assert_eq!(
        sources,
        [data("tree/spun.txt"), data("tree/sub/clean.txt"), data("tree/sub/more.txt")]
    );
    assert!(matches!(rows[0][8].as_str(), "light" | "heavy"), "{rows:?}");
    assert_eq!(rows[1][8], "clean", "{rows:?}");
    assert!(rows[0][9].contains("discontinuance of threats -> cessation of hostilities"));

    // Without the glob the Markdown file is read too.
    let (out, _) = run(&["score", &data("tree"), "--format", "csv"]);
    assert_eq!(csv_rows(&out).1.len(), 4);
}

#[test]
fn score_files_from_keeps_order_and_reports_missing_files() {
    let (out, code) = run(&["score", "--files-from", &data("list.txt"), "--format", "jsonl"]);
    assert_eq!(code, 2, "a missing file fails the run");
    let rows = json_lines(&out);
    let sources: Vec<&str> = rows.iter().map(|r| r["source"].as_str().unwrap()).collect();
    assert_eq!(sources, [data("tree/sub/more.txt"), data("tree/spun.txt"), data("missing.txt")]);
    assert!(rows[2]["error"].as_str().unwrap().contains("missing.txt"));
    assert!(rows[2]["label"].is_null());
    assert!(rows[0]["error"].is_null());
    // Positional paths come before the listed ones.
    let (out, _) = run(&["score", &data("tree/sub/clean.txt"), "--files-from", &data("list.txt")]);
    assert!(out.starts_with(&data("tree/sub/clean.txt")), "{out}");
}

#[test]
fn score_jsonl_gives_one_row_per_line() {
    let (out, code) = run(&["score", "--jsonl", &data("records.jsonl"), "--format", "jsonl"]);
    assert_eq!(code, 2, "malformed lines fail the run");
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 5, "{out}");
    assert_eq!(rows[0]["id"], "r1");
    assert_eq!(rows[1]["id"], "2");
    assert_ne!(rows[0]["label"], "clean");
    assert_eq!(rows[4]["label"], "clean");
    let source = format!("{}:3", data("records.jsonl"));
    assert_eq!(rows[2]["source"], source.as_str());
    assert!(rows[2]["error"].as_str().unwrap().starts_with(&source), "{}", rows[2]);
    assert!(rows[3]["error"].as_str().unwrap().contains("no \"text\" field"));
    // Another text field.
    let (out, _) = run(&[
        "score",
        "--jsonl",
        &data("records.jsonl"),
        "--text-field",
        "body",
        "--format",
        "csv",
    ]);
    let (_, rows) = csv_rows(&out);
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[3][11], "", "line 4 has a body: {rows:?}");
    assert!(!rows[0][11].is_empty());
}

#[test]
fn score_json_is_an_object_for_one_input_and_an_array_for_more() {
    let (out, _) = run(&["score", &data("tree/spun.txt"), "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_ne!(v["label"], "clean", "the calibration decides light or heavy");
    let (out, _) =
        run(&["score", &data("tree/spun.txt"), &data("tree/sub/clean.txt"), "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{out}");
}

#[test]
fn score_gzip_input_equals_plain() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(data("tree/spun.txt")).unwrap();
    let gz = dir.path().join("spun.txt.gz");
    std::fs::write(&gz, gzip(&text)).unwrap();
    let records = std::fs::read(data("records.jsonl")).unwrap();
    let gz_records = dir.path().join("records.jsonl.gz");
    std::fs::write(&gz_records, gzip(&records)).unwrap();

    let (plain, _) = run(&["score", &data("tree/spun.txt"), "--format", "jsonl"]);
    let (packed, code) = run(&["score", gz.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0);
    assert_eq!(report_part(&json_lines(&packed)[0]), report_part(&json_lines(&plain)[0]));
    assert_ne!(json_lines(&packed)[0]["label"], "clean");

    let (plain, _) = run(&["score", "--jsonl", &data("records.jsonl"), "--format", "jsonl"]);
    let (packed, _) = run(&["score", "--jsonl", gz_records.to_str().unwrap(), "--format", "jsonl"]);
    let (plain, packed) = (json_lines(&plain), json_lines(&packed));
    assert_eq!(plain.len(), packed.len());
    for (a, b) in plain.iter().zip(&packed) {
        assert_eq!(report_part(a)["score"], report_part(b)["score"]);
        assert_eq!(a["id"], b["id"]);
    }
}

#[test]
fn fail_on_and_exit_codes() {
    let (_, code) = run(&["score", &data("tree/spun.txt"), "--fail-on", "light", "-q"]);
    assert_eq!(code, 1);
    let (_, code) = run(&["score", &data("tree/sub/clean.txt"), "--fail-on", "light", "-q"]);
    assert_eq!(code, 0);
    // A failed input outranks --fail-on.
    let (_, code) =
        run(&["score", &data("tree/spun.txt"), &data("missing.txt"), "--fail-on", "light", "-q"]);
    assert_eq!(code, 2);
}

/// Enough records to fill several windows at one and two threads.
fn many_records(dir: &Path) -> PathBuf {
    let lines: Vec<String> =
        std::fs::read_to_string(data("records.jsonl")).unwrap().lines().map(String::from).collect();
    let mut out = String::new();
    for i in 0..300 {
        out.push_str(&lines[i % lines.len()]);
        out.push('\n');
    }
    let path = dir.join("many.jsonl");
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn one_thread_and_two_threads_agree() {
    let dir = tempfile::tempdir().unwrap();
    let many = many_records(dir.path());
    let many = many.to_str().unwrap();
    for args in [
        vec!["score", "--jsonl", many, "--format", "jsonl"],
        vec!["score", &data("tree"), "--format", "csv"],
        vec!["restore", "--jsonl", many, "--edits"],
    ] {
        let (one, code1) = run(&[&args[..], &["-j", "1"]].concat());
        let (two, code2) = run(&[&args[..], &["-j", "2"]].concat());
        assert_eq!(one, two, "{args:?}");
        assert_eq!(code1, code2);
        assert!(!one.is_empty());
    }
    let (out, _) = run(&["score", "--jsonl", many, "--format", "jsonl", "-j", "2"]);
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 300, "one row per line");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["source"], format!("{many}:{}", i + 1).as_str(), "in input order");
    }
}

#[test]
fn html_page_scores_as_its_extracted_text() {
    let page = "tests/data/input/html/harbour.html";
    let doc = unspin::input::open_inputs(
        &[PathBuf::from(page)],
        None,
        &unspin::input::InputOptions::default(),
    )
    .unwrap()
    .next()
    .unwrap();
    assert!(doc.is_ok());
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("harbour.txt");
    std::fs::write(&text, &doc.text).unwrap();

    let (html_out, code) = run(&["score", page, "--format", "jsonl"]);
    assert_eq!(code, 0);
    let (text_out, _) = run(&["score", text.to_str().unwrap(), "--no-html", "--format", "jsonl"]);
    let (html_row, text_row) = (&json_lines(&html_out)[0], &json_lines(&text_out)[0]);
    assert_eq!(report_part(html_row), report_part(text_row));
    assert!(html_row["words"].as_u64().unwrap() > 100);
    assert!(html_row["title"].as_str().unwrap().contains("Harbour council"));
    assert!(html_row["url"].as_str().unwrap().starts_with("https://coastal-ledger.example/"));
    // Forcing the page to be text scores the markup instead.
    let (raw, _) = run(&["score", page, "--no-html", "--format", "jsonl"]);
    assert_ne!(report_part(&json_lines(&raw)[0]), report_part(html_row));
}

// --- restore --------------------------------------------------------------------

#[test]
fn restore_jsonl_keeps_fields_and_lines() {
    let (out, code) =
        run(&["restore", "--jsonl", &data("records.jsonl"), "--out-field", "restored", "--edits"]);
    assert_eq!(code, 2, "malformed lines fail the run");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 5, "one line out per line in: {out}");
    let input = json_lines(
        &std::fs::read_to_string(data("records.jsonl"))
            .unwrap()
            .replace("{\"id\": \"r3\", \"text\": \"broken line\"\n", "{}\n"),
    );
    let first = &lines[0];
    assert_eq!(first["id"], "r1");
    assert_eq!(first["lang"], "en");
    assert_eq!(first["meta"]["feed"], "wire");
    assert_eq!(first["text"], input[0]["text"], "the text field is kept");
    let restored = first["restored"].as_str().unwrap();
    assert!(restored.starts_with("Defense and intelligence officials"), "{restored}");
    assert!(!first["edits"].as_array().unwrap().is_empty());
    assert_eq!(lines[1]["id"], 2, "a numeric id stays a number");
    // The malformed line: an error naming file and line, nothing else.
    let source = format!("{}:3", data("records.jsonl"));
    assert_eq!(lines[2]["source"], source.as_str());
    assert!(lines[2]["error"].as_str().unwrap().starts_with(&source));
    // A parsed line without text keeps its fields.
    assert_eq!(lines[3]["body"], "no text field here");
    assert!(lines[3]["error"].is_string());
    assert_eq!(lines[4]["restored"], lines[4]["text"], "clean text is unchanged");

    // By default the text field is replaced and no edits are added.
    let (out, _) = run(&["restore", "--jsonl", &data("records.jsonl")]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["text"].as_str().unwrap(), restored);
    assert!(lines[0].get("edits").is_none());
    assert!(lines[0].get("restored").is_none());
}

#[test]
fn restore_jsonl_streams_stdin() {
    let records = std::fs::read_to_string(data("records.jsonl")).unwrap();
    let out =
        unspin().args(["restore", "--jsonl", "-", "-q"]).write_stdin(records).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[2]["source"], "-:3");
    let (from_file, _) = run(&["restore", "--jsonl", &data("records.jsonl")]);
    let from_file = json_lines(&from_file);
    assert_eq!(lines[0], from_file[0]);
    assert_eq!(lines[4], from_file[4]);
}

/// Each record is answered before the next is sent: what a pipe from Spark
/// (`RDD.pipe`) or any line-by-line client needs. A hang fails the test
/// after a generous wait; no timing is measured.
#[test]
fn restore_jsonl_answers_each_record_before_stdin_closes() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("unspin"))
        .args(["restore", "--jsonl", "-", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let records = std::fs::read_to_string(data("records.jsonl")).unwrap();
    for (i, record) in records.lines().enumerate() {
        writeln!(stdin, "{record}").unwrap();
        stdin.flush().unwrap();
        let line = rx.recv_timeout(std::time::Duration::from_secs(120));
        let line = line.unwrap_or_else(|_| panic!("no answer to record {}", i + 1));
        let v: Value = serde_json::from_str(&line).unwrap();
        if i == 2 {
            assert_eq!(v["source"], "-:3");
        } else {
            assert!(v.get("id").is_some(), "{v}");
        }
    }
    drop(stdin);
    assert_eq!(child.wait().unwrap().code(), Some(2));
}

#[test]
fn jsonl_stdin_without_records_is_no_output_and_success() {
    // Spark pipes empty partitions too.
    for cmd in ["score", "restore"] {
        let out = unspin().args([cmd, "--jsonl", "-", "--format", "json"]).write_stdin("").output();
        let out = out.unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.trim().is_empty() || stdout.trim() == "[]", "{cmd}: {stdout}");
    }
    // An empty JSONL file is still reported.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let (out, code) = run(&["score", "--jsonl", empty.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 2);
    assert!(json_lines(&out)[0]["error"].as_str().unwrap().contains("no JSON records"));
}

#[test]
fn restore_text_of_several_documents_gives_each_a_heading() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    std::fs::write(&a, "The council met on Monday.").unwrap();
    std::fs::write(&b, "The budget was approved.\n").unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let (one, _) = run(&["restore", a]);
    assert_eq!(one, "The council met on Monday.", "a single document is exact");
    let (both, code) = run(&["restore", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        both,
        format!(
            "==> {a} <==\nThe council met on Monday.\n\n==> {b} <==\nThe budget was approved.\n"
        )
    );
    // The diff view too; a document that failed writes nothing (its error
    // goes to stderr), and one left is written as it is, without a heading.
    let missing = dir.path().join("missing.txt");
    let (diff, code) = run(&["restore", "--format", "diff", missing.to_str().unwrap(), b]);
    assert_eq!(code, 2);
    assert_eq!(diff, "The budget was approved.\n");
    let (diff, _) = run(&["restore", "--format", "diff", "--color", "never", b, a]);
    assert!(diff.starts_with(&format!("==> {b} <==\n")), "{diff}");
    assert!(diff.contains(&format!("\n\n==> {a} <==\nThe council")), "{diff}");
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"))
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn restore_out_mirrors_the_tree_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("restored");
    let out = out_dir.to_str().unwrap();
    let (stdout, code) = run(&["restore", &data("tree"), "--glob", "*.txt", "--out", out]);
    assert_eq!(code, 0);
    assert_eq!(stdout, "", "nothing on stdout with --out");
    assert_eq!(files_under(&out_dir), ["spun.txt", "sub/clean.txt", "sub/more.txt"]);
    let (expected, _) = run(&["restore", &data("tree/spun.txt")]);
    let written = std::fs::read_to_string(out_dir.join("spun.txt")).unwrap();
    assert_eq!(written, expected);
    assert!(written.contains("Defense and intelligence officials"));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("sub/clean.txt")).unwrap(),
        std::fs::read_to_string(data("tree/sub/clean.txt")).unwrap()
    );

    // --resume leaves existing outputs alone and fills in missing ones.
    std::fs::write(out_dir.join("spun.txt"), "sentinel").unwrap();
    std::fs::remove_file(out_dir.join("sub/more.txt")).unwrap();
    let (_, code) = run(&["restore", &data("tree"), "--glob", "*.txt", "--out", out, "--resume"]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(out_dir.join("spun.txt")).unwrap(), "sentinel");
    assert!(std::fs::read_to_string(out_dir.join("sub/more.txt")).unwrap().contains("civil war"));
    assert_eq!(files_under(&out_dir).len(), 3, "no temporary files left behind");

    // An output directory inside the input would be read back.
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(data("tree/spun.txt"), copy.join("spun.txt")).unwrap();
    let inside = copy.join("restored");
    let (_, code) = run(&["restore", copy.to_str().unwrap(), "--out", inside.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(!inside.exists());

    // Without --resume everything is written again.
    run(&["restore", &data("tree"), "--glob", "*.txt", "--out", out]);
    assert_eq!(std::fs::read_to_string(out_dir.join("spun.txt")).unwrap(), expected);
}

#[test]
fn restore_out_writes_one_file_per_jsonl_input() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("in").join("records.jsonl.gz");
    std::fs::create_dir_all(gz.parent().unwrap()).unwrap();
    std::fs::write(&gz, gzip(&std::fs::read(data("records.jsonl")).unwrap())).unwrap();
    let out_dir = dir.path().join("out");
    let (_, code) = run(&[
        "restore",
        "--jsonl",
        gz.parent().unwrap().to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert_eq!(files_under(&out_dir), ["records.jsonl"]);
    let lines = json_lines(&std::fs::read_to_string(out_dir.join("records.jsonl")).unwrap());
    assert_eq!(lines.len(), 5);
    assert!(lines[0]["text"].as_str().unwrap().starts_with("Defense"));
}

#[test]
fn restore_html_marks_edits_and_keeps_markup() {
    let page_path = data("spun.html");
    let page = std::fs::read_to_string(&page_path).unwrap();
    let (out, code) = run(&["restore", &page_path, "--format", "html"]);
    assert_eq!(code, 0);
    let (json, _) = run(&["restore", &page_path, "--format", "json"]);
    let edits = json_lines(&json)[0]["edits"].as_array().unwrap().clone();
    assert!(edits.len() >= 3, "{json}");
    assert_eq!(out.matches("<mark title=\"spun: ").count(), edits.len(), "every edit marked");
    assert!(out.contains(
        "<mark title=\"spun: discontinuance of threats\">cessation of hostilities</mark>"
    ));
    assert!(out.contains("<script>var common = \"war\"; // not prose</script>"));
    assert!(out.contains("<a href=\"/war\">War</a>"));
    // Taking the marks out again gives back the page, byte for byte.
    let mut unmarked = out.clone();
    for e in &edits {
        let (old, new) = (e["old"].as_str().unwrap(), e["new"].as_str().unwrap());
        unmarked = unmarked.replacen(&format!("<mark title=\"spun: {old}\">{new}</mark>"), old, 1);
    }
    assert_eq!(unmarked, page);

    // Into a tree, the page keeps its name.
    let dir = tempfile::tempdir().unwrap();
    let (_, code) =
        run(&["restore", &page_path, "--format", "html", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(dir.path().join("spun.html")).unwrap(), out);
}

// --- limits -------------------------------------------------------------------

#[test]
fn limit_flags_reach_the_input_layer() {
    let dir = tempfile::tempdir().unwrap();
    let article = std::fs::read_to_string(data("tree/sub/clean.txt")).unwrap();
    let page = dir.path().join("deep.html");
    let body = article.split("\n\n").map(|p| format!("<p>{p}</p>")).collect::<String>();
    let html = format!(
        "<!doctype html><html><body>{}<article>{body}</article>{}</body></html>",
        "<div>".repeat(100),
        "</div>".repeat(100)
    );
    std::fs::write(&page, html).unwrap();
    let page = page.to_str().unwrap();

    // --max-html-depth: a warning on stderr naming the page.
    let out = unspin().args(["score", page, "--max-html-depth", "32"]).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("{page}: HTML nested")), "{stderr}");
    assert!(stderr.contains("deeper than 32"), "{stderr}");
    let out = unspin().args(["score", page]).output().unwrap();
    assert!(!String::from_utf8(out.stderr).unwrap().contains("HTML nested"));

    // --max-token-bytes and --max-line-bytes: an error row, exit code 2.
    let text = dir.path().join("blob.txt");
    std::fs::write(&text, format!("{article}\n{}\n", "z".repeat(3000))).unwrap();
    let text = text.to_str().unwrap();
    let (out, code) = run(&["score", text, "--max-token-bytes", "2K", "--format", "jsonl", "-q"]);
    assert_eq!(code, 2, "{out}");
    let row = &json_lines(&out)[0];
    let error = row["error"].as_str().unwrap();
    assert!(error.starts_with(&format!("{text}: a token of 3000 bytes")), "{error}");
    let (out, code) = run(&["score", text, "--max-line-bytes", "1K", "--format", "jsonl", "-q"]);
    assert_eq!(code, 2, "{out}");
    assert!(json_lines(&out)[0]["error"].as_str().unwrap().contains("--max-line-bytes"));
    let (_, code) = run(&["score", text, "-q"]);
    assert_eq!(code, 0);
}

#[test]
fn code_in_an_html_page_is_kept_but_not_scored() {
    // A page of prose we wrote, with and without a code block: the code
    // adds no words to score, no flagged span falls in it, and `restore`
    // keeps it.
    let prose = "Looping over a list is one of the first things a new programmer learns. \
                 The simplest way is shown below, and it works for every list you are likely \
                 to meet. The loop skips missing values and adds up the rest, which is what \
                 most reports need when they total a column of figures from a spreadsheet.";
    let code = "<pre><code>for item in items:\n    if item is None:\n        continue\n    else:\n        total += item\n</code></pre>";
    let tmp = tempfile::tempdir().unwrap();
    let page = |body: &str| {
        format!("<!doctype html><html><body><article><p>{prose}</p>{body}<p>{prose}</p></article></body></html>")
    };
    std::fs::write(tmp.path().join("with.html"), page(code)).unwrap();
    std::fs::write(tmp.path().join("without.html"), page("")).unwrap();
    let (out, code_) =
        run(&["score", tmp.path().to_str().unwrap(), "--format", "jsonl", "-j", "1"]);
    assert_eq!(code_, 0);
    let rows = json_lines(&out);
    let words: Vec<u64> = rows.iter().map(|r| r["words"].as_u64().unwrap()).collect();
    assert_eq!(words[0], words[1], "{rows:?}");
    // The same spans in both: none in the code.
    let spans = |row: &Value| -> Vec<(String, String)> {
        let spans = row["spans"].as_array().unwrap().iter();
        spans.map(|s| (s["text"].to_string(), s["original"].to_string())).collect()
    };
    assert_eq!(spans(&rows[0]), spans(&rows[1]), "{rows:?}");
    let (out, _) = run(&["restore", tmp.path().join("with.html").to_str().unwrap()]);
    assert!(out.contains("    else:\n        total += item"), "{out}");
}

/// A plain-text file in windows-1252 (curly quotes, a dash, a pound sign)
/// is read as the same text as its UTF-8 twin: the same report, the same
/// restoration written in UTF-8, and a warning that names the encoding.
#[test]
fn a_windows_1252_file_reads_as_its_utf8_twin() {
    let spun = std::fs::read_to_string("examples/spun-news.txt").unwrap();
    let text = format!(
        "{spun}\n\u{201c}We don\u{2019}t comment on insight sharing,\u{201d} a spokesman said \
         \u{2013} the deal is worth \u{a3}2bn.\n"
    );
    let (legacy, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!unmappable);
    let dir = tempfile::tempdir().unwrap();
    let utf8 = dir.path().join("utf8.txt");
    let cp1252 = dir.path().join("cp1252.txt");
    std::fs::write(&utf8, &text).unwrap();
    std::fs::write(&cp1252, &legacy).unwrap();
    let (utf8, cp1252) = (utf8.to_str().unwrap(), cp1252.to_str().unwrap());

    let (a, code) = run(&["score", "--format", "jsonl", utf8]);
    assert_eq!(code, 0);
    let (b, code) = run(&["score", "--format", "jsonl", cp1252]);
    assert_eq!(code, 0);
    let (a, b) = (&json_lines(&a)[0], &json_lines(&b)[0]);
    assert_eq!(report_part(a), report_part(b));
    assert_eq!(a["label"], "heavy");

    let out = unspin().args(["restore", cp1252]).output().unwrap();
    assert!(out.status.success());
    let restored = String::from_utf8(out.stdout).expect("restore writes UTF-8");
    assert_eq!(restored, run(&["restore", utf8]).0);
    assert!(
        restored.contains("don\u{2019}t comment on intelligence sharing,\u{201d}"),
        "{restored}"
    );
    assert!(restored.contains("\u{a3}2bn"), "{restored}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("not UTF-8: decoded as windows-1252"), "{stderr}");
}

/// The text report names a failed input once: the message itself names it
/// for the CSV and JSON reports, and the line starts with it.
#[test]
fn a_failed_input_is_named_once_in_the_text_report() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.txt");
    let missing = missing.to_str().unwrap();
    let (out, code) = run(&["score", "--color", "never", missing]);
    assert_eq!(code, 2);
    assert!(out.starts_with(&format!("{missing}: error: ")), "{out}");
    assert_eq!(out.matches(missing).count(), 1, "{out}");
    let (csv, _) = run(&["score", "--format", "csv", missing]);
    assert!(csv_rows(&csv).1[0].last().unwrap().starts_with(&format!("{missing}: ")), "{csv}");
}
