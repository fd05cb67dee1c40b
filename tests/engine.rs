//! Detector and restorer: invariants (property tests), CLI formats, and
//! snapshots of the human-readable views on a paragraph we wrote
//! (`examples/spun-news.txt`).

use std::path::Path;

use assert_cmd::Command;
use proptest::prelude::*;
use unspin::decode::{Decoder, Model};
use unspin::detect::{Label, Scorer};
use unspin::restore::Restorer;
use unspin::{LanguageModel, Lexicon};

fn decoder() -> Decoder {
    Decoder::new(Lexicon::embedded(), Model::Static(LanguageModel::embedded()))
}

/// A fixture of `tests/data/`.
fn data(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel))
        .unwrap()
}

fn unspin() -> Command {
    Command::cargo_bin("unspin").unwrap()
}

fn example(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name))
        .unwrap()
}

/// Compares `actual` with the snapshot file; `UPDATE_SNAPSHOTS=1` rewrites it.
fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(actual, expected, "snapshot {name} differs (UPDATE_SNAPSHOTS=1 to accept)");
}

fn words(s: &str) -> usize {
    unspin::tokenize(s).iter().filter(|t| t.is_word()).count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn empty_or_whitespace_is_clean(ws in "[ \t\r\n\u{a0}\u{2003}]{0,40}") {
        let scorer = Scorer::new(decoder());
        let r = scorer.score(&ws, &[]);
        prop_assert_eq!(r.words, 0);
        prop_assert!(r.spans.is_empty());
        prop_assert_eq!(r.label, Label::Clean);
        prop_assert_eq!(r.spin_rate, 0.0);
    }

    #[test]
    fn edits_slice_the_input_and_output_is_kept_elsewhere(
        text in proptest::collection::vec(
            prop_oneof![
                Just("the"), Just("streams"), Just("expand"), Just("weight"), Just("on"), Just("gatherings"),
                Just("U.S."), Just("officials"), Just("said"), Just(","), Just("."), Just("“quoted”"),
                Just("Café"), Just("nearby"), Just("time"), Just("\n\n"), Just("endeavors"), Just("war"),
            ],
            0..40,
        ).prop_map(|w| w.join(" "))
    ) {
        let restorer = Restorer::new(decoder());
        let r = restorer.restore(&text, &[]);
        let mut rebuilt = String::new();
        let mut at = 0;
        for e in &r.edits {
            prop_assert!(e.start >= at && e.end <= text.len() && e.start < e.end);
            prop_assert_eq!(&text[e.start..e.end], e.old.as_str());
            rebuilt.push_str(&text[at..e.start]);
            rebuilt.push_str(&e.new);
            at = e.end;
        }
        rebuilt.push_str(&text[at..]);
        prop_assert_eq!(rebuilt, r.text);
    }
}

#[test]
fn restoring_clean_text_changes_at_most_one_percent() {
    let restorer = Restorer::new(decoder());
    let clean = example("clean-news.txt");
    let r = restorer.restore(&clean, &[]);
    let changed: usize = r.edits.iter().map(|e| words(&e.old)).sum();
    assert!(
        changed * 100 <= words(&clean),
        "{} of {} words changed: {:?}",
        changed,
        words(&clean),
        r.edits
    );
}

#[test]
fn restore_is_idempotent_on_its_own_output() {
    let restorer = Restorer::new(decoder());
    let once = restorer.restore(&example("spun-news.txt"), &[]).text;
    let twice = restorer.restore(&once, &[]);
    assert_eq!(twice.text, once, "second pass edited: {:?}", twice.edits);
}

#[test]
fn spun_paragraph_is_detected_and_partly_restored() {
    let scorer = Scorer::new(decoder());
    let spun = example("spun-news.txt");
    let clean = example("clean-news.txt");
    let rs = scorer.score(&spun, &[]);
    let rc = scorer.score(&clean, &[]);
    assert_ne!(rs.label, Label::Clean, "{rs:?}");
    assert_eq!(rc.label, Label::Clean, "{rc:?}");
    assert!(rs.score > 0.5 && rc.score < 0.5);
    let restored = Restorer::new(decoder()).restore(&spun, &[]).text;
    for phrase in ["cessation of hostilities", "intelligence sharing", "peace process", "civil war"]
    {
        assert!(restored.contains(phrase), "{phrase:?} not restored in {restored}");
    }
}

#[test]
fn restorer_prefers_originals_the_document_uses_elsewhere() {
    // "dispositions" is a thesaurus swap of "sales"; without the document
    // cache (and without the embedding context, which knows the document
    // is about sales too) the language model alone prefers another
    // candidate.
    let text = "Sales rose in the quarter. The dispositions of the firm fell sharply this \
                year, and sales of cars fell too.";
    let restore = |cache_weight: f32, embed_weight: f32| {
        // (Without the extra change cost of a short text: this one has 21
        // words.)
        let params = unspin::decode::Params {
            cache_weight,
            embed_weight,
            short_doc_cost: 0.0,
            ..unspin::decode::Params::restore()
        };
        Restorer::new(decoder().with_params(params)).restore(text, &[]).text
    };
    let defaults = unspin::decode::Params::restore();
    let with_cache = restore(defaults.cache_weight, 0.0);
    assert!(with_cache.contains("The sales of the firm"), "{with_cache}");
    let with_embedding = restore(0.0, defaults.embed_weight);
    assert!(with_embedding.contains("The sales of the firm"), "{with_embedding}");
    let without = restore(0.0, 0.0);
    assert!(!without.contains("The sales of the firm"), "{without}");
}

#[test]
fn score_text_summary_snapshot() {
    let out =
        unspin().args(["score", "examples/spun-news.txt", "--color", "never"]).output().unwrap();
    assert!(out.status.success());
    snapshot("score-spun-news.txt", &String::from_utf8(out.stdout).unwrap());
}

#[test]
fn restore_diff_snapshot() {
    let out = unspin()
        .args(["restore", "examples/spun-news.txt", "--format", "diff", "--color", "never"])
        .output()
        .unwrap();
    assert!(out.status.success());
    snapshot("restore-spun-news.diff", &String::from_utf8(out.stdout).unwrap());
}

#[test]
fn score_formats() {
    let json =
        unspin().args(["score", "examples/spun-news.txt", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    for field in ["words", "spans", "spin_rate", "score", "label", "lexicon"] {
        assert!(v.get(field).is_some(), "json lacks {field}: {v}");
    }
    let span = &v["spans"][0];
    for field in ["start", "end", "text", "original", "confidence"] {
        assert!(span.get(field).is_some(), "span lacks {field}");
    }

    let jsonl = unspin()
        .args(["score", "examples/spun-news.txt", "examples/clean-news.txt", "--format", "jsonl"])
        .output()
        .unwrap();
    let lines: Vec<_> = std::str::from_utf8(&jsonl.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 2);
    let labels: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["label"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_ne!(labels[0], "clean");
    assert_eq!(labels[1], "clean");

    let csv =
        unspin().args(["score", "examples/spun-news.txt", "--format", "csv"]).output().unwrap();
    let text = String::from_utf8(csv.stdout).unwrap();
    let header = text.lines().next().unwrap();
    for col in
        ["source", "words", "spans", "spin_rate", "score", "label", "top_spans", "lexicon", "error"]
    {
        assert!(header.split(',').any(|c| c == col), "csv lacks {col}: {header}");
    }
    assert_eq!(text.lines().count(), 2);
}

#[test]
fn fail_on_and_exit_codes() {
    unspin().args(["score", "examples/spun-news.txt", "--fail-on", "light"]).assert().code(1);
    unspin().args(["score", "examples/clean-news.txt", "--fail-on", "light"]).assert().code(0);
    unspin().args(["score", "no/such/file.txt"]).assert().code(2);
    unspin().args(["score", "-"]).write_stdin("").assert().code(0);
}

#[test]
fn restore_formats() {
    let out = unspin()
        .args(["restore", "-", "--format", "json"])
        .write_stdin(example("spun-news.txt"))
        .output()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(std::str::from_utf8(&out.stdout).unwrap().lines().next().unwrap())
            .unwrap();
    let input = example("spun-news.txt");
    let edits = v["edits"].as_array().unwrap();
    assert!(!edits.is_empty());
    for e in edits {
        let (a, b) = (e["start"].as_u64().unwrap() as usize, e["end"].as_u64().unwrap() as usize);
        assert_eq!(&input[a..b], e["old"].as_str().unwrap());
    }
    let text = unspin().args(["restore", "examples/spun-news.txt"]).output().unwrap();
    assert_eq!(String::from_utf8(text.stdout).unwrap(), v["text"].as_str().unwrap());
    // --min-confidence X makes exactly the edits at least that sure.
    let x = 0.99;
    let sure = unspin()
        .args(["restore", "examples/spun-news.txt", "--min-confidence", &x.to_string()])
        .output()
        .unwrap();
    let mut want = input.clone();
    for e in edits.iter().rev().filter(|e| e["confidence"].as_f64().unwrap() >= x) {
        let (a, b) = (e["start"].as_u64().unwrap() as usize, e["end"].as_u64().unwrap() as usize);
        want.replace_range(a..b, e["new"].as_str().unwrap());
    }
    assert_ne!(want, input, "some edit is that sure");
    assert!(edits.iter().any(|e| e["confidence"].as_f64().unwrap() < x), "and some less");
    assert_eq!(String::from_utf8(sure.stdout).unwrap(), want);
}

#[test]
fn alternatives_list_the_runners_up_and_change_no_edit() {
    let spun = example("spun-news.txt");
    let plain = Restorer::new(decoder()).restore(&spun, &[]);
    let listed = Restorer::new(decoder()).alternatives(2).restore(&spun, &[]);
    assert_eq!(listed.text, plain.text);
    assert_eq!(listed.edits.len(), plain.edits.len());
    let mut some = 0;
    for (e, p) in listed.edits.iter().zip(&plain.edits) {
        assert!(p.alternatives.is_empty());
        assert_eq!((e.start, e.end, &e.new, e.confidence), (p.start, p.end, &p.new, p.confidence));
        assert!(e.alternatives.len() <= 2, "{e:?}");
        some += e.alternatives.len();
        for (k, a) in e.alternatives.iter().enumerate() {
            // Another text than the edit's or the input's, in the input's
            // case, less likely than the edit and than the one before it.
            assert!(a.new != e.new && a.new != e.old, "{e:?}");
            assert_eq!(
                a.new.chars().next().unwrap().is_uppercase(),
                e.old.chars().next().unwrap().is_uppercase(),
                "{e:?}"
            );
            assert!(a.confidence > 0.0 && a.confidence < e.confidence, "{e:?}");
            assert!(k == 0 || a.confidence <= e.alternatives[k - 1].confidence, "{e:?}");
        }
    }
    // "streams" has other likely originals; the hand-written phrases have one.
    assert!(some >= 4, "{listed:?}");
    let streams = listed.edits.iter().find(|e| e.old == "streams").unwrap();
    assert_eq!(streams.alternatives.len(), 2, "{streams:?}");
}

#[test]
fn restore_alternatives_on_the_command_line() {
    let out = unspin()
        .args(["restore", "examples/spun-news.txt", "--format", "json", "--alternatives", "3"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let edits = v["edits"].as_array().unwrap();
    let listed: Vec<&serde_json::Value> =
        edits.iter().filter_map(|e| e.get("alternatives")).collect();
    assert!(!listed.is_empty());
    for alts in listed {
        let alts = alts.as_array().unwrap();
        assert!((1..=3).contains(&alts.len()), "{alts:?}");
        assert!(alts.iter().all(|a| a["new"].is_string() && a["confidence"].is_f64()));
    }
    // Without the flag, no edit has the field.
    let out = unspin().args(["restore", "examples/spun-news.txt", "--format", "json"]).output();
    let v: serde_json::Value = serde_json::from_slice(&out.unwrap().stdout).unwrap();
    assert!(v["edits"].as_array().unwrap().iter().all(|e| e.get("alternatives").is_none()));
    // The review page shows them in the tooltip.
    let out = unspin()
        .args(["restore", "examples/spun-news.txt", "--format", "html", "--alternatives", "2"])
        .output()
        .unwrap();
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains("<mark title=\"spun: streams&#10;or: "), "{page}");
    // Formats that cannot show them say so.
    let out = unspin()
        .args(["restore", "examples/spun-news.txt", "--alternatives", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--alternatives"));
}

#[test]
fn only_spun_restores_what_the_detector_calls_spun_and_leaves_the_rest() {
    let scorer = Scorer::new(decoder());
    let gated = Restorer::new(decoder()).only_spun(Scorer::new(decoder()));
    let plain = Restorer::new(decoder());
    let clean = example("clean-news.txt");
    assert_eq!(scorer.label(&clean, &[]), Label::Clean);
    let r = gated.restore(&clean, &[]);
    assert!(r.labelled_clean && r.edits.is_empty() && r.text == clean, "{r:?}");
    let spun = example("spun-news.txt");
    assert_ne!(scorer.label(&spun, &[]), Label::Clean);
    let r = gated.restore(&spun, &[]);
    assert!(!r.labelled_clean);
    assert_eq!(r, plain.restore(&spun, &[]));
    // Not English is said as such, not as clean.
    let german = data("languages/german.txt");
    let r = gated.restore(&german, &[]);
    assert!(r.not_english && !r.labelled_clean, "{r:?}");
}

#[test]
fn a_text_the_detector_finds_unspun_is_left_as_it_is() {
    use unspin::restore::DEFAULT_MIN_RATE;
    let plain = Restorer::new(decoder());
    let gated = Restorer::new(decoder()).min_rate(Scorer::new(decoder()), DEFAULT_MIN_RATE);
    // Our clean news story: the restorer alone changes "Councillors", a
    // false edit; the detector estimates a spin rate of 0 and flags no
    // strong span, so `restore` leaves it.
    let clean = data("restore/cycle-route.txt");
    assert_eq!(plain.restore(&clean, &[]).edits.len(), 1);
    let r = gated.restore(&clean, &[]);
    assert!(r.below_min_rate && r.edits.is_empty() && r.text == clean, "{r:?}");
    // A spun text is restored as without the gate.
    let spun = example("spun-news.txt");
    let r = gated.restore(&spun, &[]);
    assert!(!r.below_min_rate);
    assert_eq!(r, plain.restore(&spun, &[]));
    // Rate 0: every text is restored, without a detector.
    let every = Restorer::new(decoder()).min_rate(Scorer::new(decoder()), 0.0);
    assert_eq!(every.restore(&clean, &[]), plain.restore(&clean, &[]));
    // Not English is said as such.
    let german = data("languages/german.txt");
    let r = gated.restore(&german, &[]);
    assert!(r.not_english && !r.below_min_rate, "{r:?}");
}

#[test]
fn one_strong_span_is_restored_however_low_the_rate() {
    use unspin::restore::DEFAULT_MIN_RATE;
    // Four clean stories of ours, then the same with one paraphrasing
    // tool's stock phrase: too little to raise the estimated rate to the
    // minimum, but the phrase alone reads as spun.
    let clean = data("restore/four-stories.txt");
    let phrase =
        clean.replace(" so that residents can see", " with the goal that residents can see");
    assert_ne!(phrase, clean);
    let scorer = Scorer::new(decoder());
    let gated = Restorer::new(decoder()).min_rate(Scorer::new(decoder()), DEFAULT_MIN_RATE);
    assert!(gated.restore(&clean, &[]).below_min_rate);
    let rate = scorer.score(&phrase, &[]).spin_rate;
    assert!(rate < DEFAULT_MIN_RATE, "{rate}");
    let r = gated.restore(&phrase, &[]);
    assert!(!r.below_min_rate, "{r:?}");
    let edits: Vec<(&str, &str)> = r.edits.iter().map(|e| (&e.old[..], &e.new[..])).collect();
    assert_eq!(edits, [("with the goal that", "so that")]);
    assert_eq!(r.text, clean);
}

#[test]
fn a_known_spin_from_a_user_lexicon_is_restored_however_low_the_rate() {
    // A research-integrity team's list of tortured phrases: one of them in
    // a long text is too little to raise the estimated rate, and its gain
    // is modest, but the user said it is a spin.
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("tortured.tsv");
    std::fs::write(&tsv, "profound learning\tdeep learning\n").unwrap();
    let lex = dir.path().join("tortured.lex");
    unspin().args(["lexicon", "build"]).arg(&tsv).arg("-o").arg(&lex).assert().success();
    let text = format!(
        "{}\nThe council also said it would use profound learning to plan the bus timetable.\n",
        data("restore/four-stories.txt")
    );
    let out = unspin()
        .args(["restore", "--format", "json", "--lexicon"])
        .arg(&lex)
        .arg("-")
        .write_stdin(text)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json.get("below_min_rate").is_none(), "{json}");
    let edits: Vec<(&str, &str)> = json["edits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["old"].as_str().unwrap(), e["new"].as_str().unwrap()))
        .collect();
    assert_eq!(edits, [("profound learning", "deep learning")]);
}

#[test]
fn restore_min_rate_on_the_command_line() {
    let run = |args: &[&str]| unspin().args(["restore", "--format", "json"]).args(args).output();
    let json = |args: &[&str]| -> serde_json::Value {
        let out = run(args).unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let article = "tests/data/restore/cycle-route.txt";
    let gated = json(&[article]);
    assert_eq!(gated["below_min_rate"], true, "{gated}");
    assert!(gated["edits"].as_array().unwrap().is_empty());
    let every = json(&["--min-rate", "0", article]);
    assert!(every.get("below_min_rate").is_none(), "{every}");
    assert!(!every["edits"].as_array().unwrap().is_empty(), "{every}");
    // --only-spun decides by the label instead.
    let labelled = json(&["--only-spun", article]);
    assert_eq!(labelled["labelled_clean"], true, "{labelled}");
    assert!(labelled.get("below_min_rate").is_none(), "{labelled}");
    let out = run(&["--min-rate", "1.5", article]).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--min-rate must be between 0 and 1, not 1.5"), "{stderr}");
    // The summary of a bulk run counts the documents left.
    let out = unspin()
        .args(["restore", "--format", "json", article, "examples/spun-news.txt"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 document under --min-rate 0.01, left as written"), "{stderr}");
}

#[test]
fn only_spun_with_a_detector_that_reads_text_otherwise_gives_the_same() {
    // The detector and the restorer share one prepared document when they
    // read text alike (the same lexicon and model). A detector that does
    // not (here: one that scores every language) prepares its own; the
    // answers for English text are the same.
    let params = unspin::decode::Params { english_only: false, ..unspin::decode::Params::detect() };
    let detector =
        Scorer::with_decoder(decoder().with_params(params), unspin::detect::Calibration::default());
    let apart = Restorer::new(decoder()).only_spun(detector);
    let shared = Restorer::new(decoder()).only_spun(Scorer::new(decoder()));
    for name in ["clean-news.txt", "spun-news.txt", "paraphrased-news.txt"] {
        let text = example(name);
        assert_eq!(apart.restore(&text, &[]), shared.restore(&text, &[]), "{name}");
    }
}

#[test]
fn restore_only_spun_on_the_command_line() {
    let json = |args: &[&str]| -> serde_json::Value {
        let out = unspin().args(["restore", "--format", "json"]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let clean = json(&["--only-spun", "examples/clean-news.txt"]);
    assert_eq!(clean["labelled_clean"], true, "{clean}");
    assert_eq!(clean["text"].as_str().unwrap(), example("clean-news.txt"));
    let spun = json(&["--only-spun", "examples/spun-news.txt"]);
    assert!(spun.get("labelled_clean").is_none(), "{spun}");
    assert_eq!(spun, json(&["examples/spun-news.txt"]));
    // JSONL with --edits marks the clean record, not the spun one; the
    // summary counts it.
    let records = [example("clean-news.txt"), example("spun-news.txt")]
        .iter()
        .map(|t| format!("{}\n", serde_json::json!({ "text": t })))
        .collect::<String>();
    let out = unspin()
        .args(["restore", "--jsonl", "-", "--only-spun", "--edits"])
        .write_stdin(records)
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["labelled_clean"], true, "{}", lines[0]);
    assert!(lines[1].get("labelled_clean").is_none(), "{}", lines[1]);
    assert!(!lines[1]["edits"].as_array().unwrap().is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 document labelled clean, left as written"), "{stderr}");
}

#[test]
fn a_paraphrasing_tools_stock_phrases_are_restored() {
    // Our paragraph, written with the stilted phrases such tools are known
    // for (lexicon/hand.tsv).
    let spun = example("paraphrased-news.txt");
    let scorer = Scorer::new(decoder());
    assert_ne!(scorer.score(&spun, &[]).label, Label::Clean);
    let restored = Restorer::new(decoder()).restore(&spun, &[]).text;
    for phrase in [
        "would be able to comment",
        "However, shop owners",
        "If the council approves",
        "although some members",
        "increasingly confident",
        "so that buses run",
    ] {
        assert!(restored.contains(phrase), "{phrase:?} not restored in {restored}");
    }
    assert_eq!(scorer.score(&restored, &[]).label, Label::Clean, "{restored}");
}
