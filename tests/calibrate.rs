//! `unspin calibrate` and `unspin score --calibration`: fitting the
//! detector to other writing, and the checks on a calibration file.
//!
//! The corpus is made in the test from sentences we wrote, in a plain
//! register unlike news, recombined into documents.

use std::path::Path;

use assert_cmd::Command;

fn unspin() -> Command {
    Command::cargo_bin("unspin").unwrap()
}

const SENTENCES: &[&str] = &[
    "We walked down to the river after breakfast and watched the boats go by.",
    "My grandmother kept bees behind the shed and sold honey at the market on Saturdays.",
    "The old bridge was closed for repairs, so we took the long way round through the woods.",
    "In the evening the children played cards at the kitchen table while it rained outside.",
    "The baker on the corner opens at six and his bread is usually gone by nine.",
    "Our neighbour lent us a ladder so that we could clear the leaves from the gutter.",
    "The train was late again, and most of the passengers stood in the cold for an hour.",
    "She planted tomatoes, beans and a row of sunflowers along the garden fence.",
    "The library has moved to a new building next to the school on the hill.",
    "After the storm the lane was covered in branches and the power was off until noon.",
    "He learned to swim in the lake near the farm where his uncle kept horses.",
    "The shop sells fishing rods, warm socks and maps of the footpaths in the valley.",
    "On Sunday we cooked a large pot of soup and invited the people from next door.",
    "The village hall needs a new roof, and a group of volunteers is raising the money.",
    "Every spring the swallows come back and build their nests under the barn roof.",
    "The bus to town runs twice an hour, but only once on public holidays.",
    "My brother fixed the old radio, and now it plays music from stations far away.",
    "The path along the cliffs is beautiful but narrow, so walkers should take care.",
    "We painted the front door blue and put two pots of flowers beside the step.",
    "The doctor's surgery is open in the mornings and on Thursday afternoons.",
    "At the end of the summer the fields are cut and the hay is stored in the barn.",
    "The cat sleeps on the warm stones by the fire and ignores the dog completely.",
    "Our teacher took the class to the museum to see the old maps and coins.",
    "The cafe by the harbour serves tea, cakes and the best fish soup in town.",
];

/// Writes `n` documents of `per_doc` of `sentences` each into `dir`.
fn documents(dir: &Path, sentences: &[&str], per_doc: usize, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for d in 0..n {
        let text: Vec<&str> =
            (0..per_doc).map(|k| sentences[(d * 5 + k * 7) % sentences.len()]).collect();
        std::fs::write(dir.join(format!("doc{d:02}.txt")), text.join(" ") + "\n").unwrap();
    }
}

/// Writes `n` documents of nine of [`SENTENCES`] each into `dir`.
fn corpus(dir: &Path, n: usize) {
    documents(dir, SENTENCES, 9, n);
}

/// Runs `unspin [--lm LM] calibrate -q --rates 0.1,0.3 [-o OUT] INPUT`;
/// returns the exit code and stderr.
fn calibrate(lm: Option<&Path>, input: &Path, out: Option<&Path>) -> (Option<i32>, String) {
    let mut c = unspin();
    if let Some(lm) = lm {
        c.arg("--lm").arg(lm);
    }
    c.args(["calibrate", "-q", "--rates", "0.1,0.3"]);
    if let Some(out) = out {
        c.arg("-o").arg(out);
    }
    let o = c.arg(input).output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn calibrate_writes_a_file_that_score_uses() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    corpus(&docs, 24);
    let cal = tmp.path().join("mine.cal.json");
    let out = unspin()
        .args(["calibrate", "-q", "--rates", "0.1,0.3", "--max-documents", "22", "-o"])
        .arg(&cal)
        .arg(&docs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The first 22 documents only.
    assert!(stderr.contains("held-out check on 11 of 22 documents"), "{stderr}");
    assert!(stderr.contains("cut to their first 25 / 50 / 100 / 200 words"), "{stderr}");
    // The change cost is weighed on the spun copies' untouched words as
    // well as on the clean words, from the shipped cost on, with the
    // documents `restore` would leave as written left out.
    let shipped = format!(
        "calibrate: restorer change cost {}:",
        unspin::decode::Params::restore().change_cost
    );
    let shipped_cost =
        stderr.lines().find(|l| l.starts_with(&shipped)).unwrap_or_else(|| panic!("{stderr}"));
    assert!(shipped_cost.contains("of the untouched words of spun copies"), "{stderr}");
    assert!(stderr.contains("(those under --min-rate 0.01 left as written)"), "{stderr}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cal).unwrap()).unwrap();
    assert_eq!(file["format"], "unspin-calibration/1");
    assert_eq!(file["documents"], 22);
    assert!(file["rate_slope"].as_f64().unwrap() > 0.0, "{file}");
    // Spinning raises the raw evidence, so the fitted line rises.
    let threshold = file["threshold"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&threshold), "{file}");

    // The fitted threshold keeps (nearly) every one of its own clean
    // documents clean, whatever the shipped calibration says of them.
    let out = unspin()
        .args(["score", "--format", "csv", "-q", "--calibration"])
        .arg(&cal)
        .arg(&docs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let labels: Vec<String> = r.records().map(|row| row.unwrap()[8].to_string()).collect();
    assert_eq!(labels.len(), 24);
    assert!(labels.iter().filter(|l| *l == "clean").count() >= 23, "{labels:?}");

    // The restorer's change cost: fitted only when the shipped one changed
    // too much of the clean text; either way the key is there.
    assert!(file.get("restore_change_cost").is_some(), "{file}");
    // The detector's span confidence, fitted to these documents too.
    let w = file["span_confidence"].as_array().expect("span confidence weights");
    assert_eq!(w.len(), 3, "{file}");
    assert!(w.iter().all(|v| v.as_f64().unwrap().is_finite()), "{file}");
    // The restorer's confidence, fitted to its edits in these documents
    // and their spun copies, and checked on the held-out half.
    let w = file["restore_edit_confidence"].as_array().expect("fitted weights");
    let slope = w[0].as_f64().unwrap();
    assert!(slope > 0.0 && slope <= 100.0 && w[1].as_f64().unwrap().is_finite(), "{file}");
    assert!(stderr.contains("edits at confidence 0.9 or more on the other"), "{stderr}");

    // Spun text still reads as spun under it.
    let out = unspin()
        .args(["score", "--format", "csv", "-q", "--calibration"])
        .arg(&cal)
        .arg("examples/spun-news.txt")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(",heavy,") || text.contains(",light,"), "{text}");
}

#[test]
fn calibrate_lowers_the_change_cost_for_a_model_that_knows_the_text() {
    // A model built from these very documents reads them as perfectly
    // clean, so a lower cost keeps false edits under the target, on the
    // clean documents and on their spun copies alike.
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    corpus(&docs, 24);
    let model = tmp.path().join("own.lm");
    unspin().args(["lm", "build"]).arg(&docs).arg("-o").arg(&model).assert().success();
    let cal = tmp.path().join("own.cal.json");
    let (code, stderr) = calibrate(Some(&model), &docs, Some(&cal));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("of the untouched words of spun copies"), "{stderr}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cal).unwrap()).unwrap();
    let cost = file["restore_change_cost"].as_f64().expect("a fitted cost");
    assert!(cost < 1.25, "{file}");
}

/// Sentences we wrote in an old-fashioned register, whose words a model of
/// modern English finds rare, as it finds a spinner's.
const OLD_SENTENCES: &[&str] = &[
    "The vessel departed with great celerity, and the mariners forbore to murmur.",
    "His lordship deemed it expedient to tarry awhile ere the tempest abated.",
    "Agreeably to the custom of the parish, the yeomen assembled at the tithe barn.",
    "The physician, perceiving the malady grievous, enjoined the patient to repose.",
    "Notwithstanding her entreaties, the magistrate would brook no further delay.",
    "The ramparts, long since crumbled, afforded scant succour to the besieged.",
    "Thither repaired the merchants, laden with bolts of damask and casks of sack.",
    "It behoves every freeholder to render his dues unto the exchequer forthwith.",
    "The curate's discourse, though prolix, was received with becoming forbearance.",
    "Whereupon the squire bestirred himself and bade the ostler saddle the mare.",
    "The weal of the commonwealth rests upon the probity of its stewards.",
    "Her countenance bespoke a melancholy which no diversion could dispel.",
];

#[test]
fn calibrate_suggests_a_model_when_the_shipped_calibration_misreads_the_text() {
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old");
    documents(&old, OLD_SENTENCES, 8, 22);
    let (code, stderr) = calibrate(None, &old, Some(&tmp.path().join("old.cal.json")));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("calibrate: note:") && stderr.contains("--mix-with"), "{stderr}");
    // The plain, modern corpus gets no such note.
    let modern = tmp.path().join("modern");
    corpus(&modern, 22);
    let (code, stderr) = calibrate(None, &modern, None);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("calibrate: note:"), "{stderr}");
}

#[test]
fn calibrate_needs_enough_documents() {
    let tmp = tempfile::tempdir().unwrap();
    corpus(tmp.path(), 5);
    let out = unspin().args(["calibrate", "-q"]).arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("5 usable documents") && stderr.contains("at least 20"), "{stderr}");
}

#[test]
fn calibrate_leaves_out_documents_that_are_not_english() {
    let tmp = tempfile::tempdir().unwrap();
    corpus(tmp.path(), 19);
    for name in ["french.txt", "german.txt", "spanish.txt"] {
        std::fs::copy(Path::new("tests/data/languages").join(name), tmp.path().join(name)).unwrap();
    }
    let out = unspin().args(["calibrate", "-q"]).arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("19 usable documents"), "{stderr}");
    assert!(stderr.contains("3 not English were left out"), "{stderr}");
}

/// A calibration file as JSON, with the fields a test varies.
fn cal_json(format: &str, threshold: &str, lexicon: &str, cost: &str) -> String {
    format!(
        r#"{{"format": "{format}", "rate_slope": 1, "rate_intercept": 0,
           "threshold": {threshold}, "short_doc_margin": 0.1, "score_slope": 300,
           "heavy_rate": 0.2, "documents": 30, "rates": [0.1], "clean_quantile": 0.995,
           "restore_change_cost": {cost}, "lexicon": "{lexicon}", "lm": "embedded"}}"#
    )
}

/// `unspin score --calibration FILE` over the clean example.
fn score_with_calibration(file: &std::path::Path) -> std::process::Output {
    unspin()
        .args(["score", "--calibration"])
        .arg(file)
        .arg("examples/clean-news.txt")
        .output()
        .unwrap()
}

#[test]
fn score_rejects_a_bad_calibration_file_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.cal.json");
    for (content, want) in [
        ("not json".to_string(), "not a calibration file"),
        (r#"{"format": "other/9"}"#.to_string(), "not a calibration file"),
        (cal_json("unspin-calibration/2", "0.05", "x", "null"), "calibration format"),
        (cal_json("unspin-calibration/1", "7", "x", "null"), "threshold is 7"),
    ] {
        std::fs::write(&bad, &content).unwrap();
        let out = score_with_calibration(&bad);
        assert_eq!(out.status.code(), Some(2), "{content}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("bad.cal.json") && stderr.contains(want), "{want}: {stderr}");
    }
    // A file fitted with another lexicon is used, with a warning.
    std::fs::write(&bad, cal_json("unspin-calibration/1", "0.05", "0000000000000000", "null"))
        .unwrap();
    let out = score_with_calibration(&bad);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning") && stderr.contains("0000000000000000"), "{stderr}");
}

#[test]
fn restore_takes_the_change_cost_of_a_calibration() {
    let tmp = tempfile::tempdir().unwrap();
    let cal = tmp.path().join("strict.cal.json");
    let write = |cost: &str| {
        std::fs::write(&cal, cal_json("unspin-calibration/1", "0.05", "x", cost)).unwrap();
    };
    let edits = |extra: &[&std::ffi::OsStr]| {
        let out = unspin()
            .args(["restore", "--format", "json", "examples/spun-news.txt"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["edits"].as_array().unwrap().len()
    };
    let shipped = edits(&[]);
    assert!(shipped > 0);
    // No fitted cost: the shipped restorer.
    write("null");
    assert_eq!(edits(&["--calibration".as_ref(), cal.as_os_str()]), shipped);
    // A prohibitive cost: nothing is worth changing.
    write("20");
    assert_eq!(edits(&["--calibration".as_ref(), cal.as_os_str()]), 0);
}

#[test]
fn restore_takes_the_confidence_of_a_calibration() {
    let tmp = tempfile::tempdir().unwrap();
    let cal = tmp.path().join("doubtful.cal.json");
    let confidences = |weights: Option<&str>| -> Vec<f64> {
        let mut json: serde_json::Value =
            serde_json::from_str(&cal_json("unspin-calibration/1", "0.05", "x", "null")).unwrap();
        if let Some(w) = weights {
            json["restore_edit_confidence"] = serde_json::from_str(w).unwrap();
        }
        std::fs::write(&cal, json.to_string()).unwrap();
        let out = unspin()
            .args(["restore", "--format", "json", "examples/spun-news.txt", "--calibration"])
            .arg(&cal)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["edits"].as_array().unwrap().iter().map(|e| e["confidence"].as_f64().unwrap()).collect()
    };
    let shipped = confidences(None);
    assert!(shipped.len() > 3 && shipped.iter().any(|&c| c > 0.5), "{shipped:?}");
    // Weights that doubt everything: the same edits, every one unsure
    // (logistic(0.01 · x − 3) < 0.01 for a share's odds within 10^±6).
    let doubtful = confidences(Some("[0.01, -3]"));
    assert_eq!(doubtful.len(), shipped.len());
    assert!(doubtful.iter().all(|&c| c < 0.01), "{doubtful:?}");
    // Those weights applied with --min-confidence: no edit is sure enough.
    let out = unspin()
        .args(["restore", "--format", "json", "--min-confidence", "0.5", "examples/spun-news.txt"])
        .arg("--calibration")
        .arg(&cal)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["edits"].as_array().unwrap().len(), 0, "{v}");
}

#[test]
fn the_built_in_science_calibration_is_used_by_name_unless_a_file_has_it() {
    // By name: no warning (it was fitted with the embedded lexicon and
    // model), and a text that the news calibration calls spun is scored.
    let out = unspin()
        .args(["score", "--format", "json", "--calibration", "science", "examples/spun-news.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let science = v["spin_rate"].as_f64().unwrap();
    let out =
        unspin().args(["score", "--format", "json", "examples/spun-news.txt"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The science line reads the same evidence as less spun.
    assert!(science < v["spin_rate"].as_f64().unwrap(), "{science} {v}");
    // restore takes it too.
    unspin()
        .args(["restore", "--calibration", "science", "examples/spun-news.txt"])
        .assert()
        .success();
    // A file of that name comes first.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("science"), "not json").unwrap();
    let out = unspin()
        .current_dir(tmp.path())
        .args(["score", "--calibration", "science", "-"])
        .write_stdin("Some text.")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a calibration file"));
}
