//! The language model: the shipped model against the reference
//! implementation, the spun-versus-original rankings it exists for, user
//! models built with `unspin lm build`, and the `unspin lm` commands.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use unspin::lm::format::{self, BigramRecord, ModelParts, TrigramRecord};
use unspin::lm::{LanguageModel, LmBuilder};

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lm").join(path)
}

fn unspin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_unspin"))
}

/// Each original phrase, and the same phrase through a spinner.
const SPUN: [(&str, &str); 7] = [
    ("the civil war", "the common war"),
    ("u.s. or russian jets", "u.s. or russian streams"),
    ("defense and intelligence officials", "barrier and knowledge authorities"),
    ("a cessation of hostilities", "a discontinuance of threats"),
    ("increase pressure on groups", "expand weight on gatherings"),
    ("local time", "nearby time"),
    ("the peace process", "the peace procedure"),
];

fn total(lm: &LanguageModel, text: &str) -> f32 {
    let words: Vec<&str> = text.split_whitespace().collect();
    lm.score_words(&words).iter().sum()
}

#[test]
fn embedded_model_has_the_mixed_counts() {
    let s = LanguageModel::embedded().stats();
    // The union of the two Sphinx models' words and n-grams (en-us.lm.bin:
    // 72,547 words, 2,051,541 bigrams and 1,669,623 trigrams that
    // sphinxbase's search reaches; SpeechRecognition's: 72,354, 2,334,667
    // and 1,577,541; scripts/lm/convert).
    assert_eq!(s.counts, vec![72_562, 3_267_487, 2_544_472]);
    assert!(s.bytes < 40_000_000, "{} bytes", s.bytes);
    assert!(s.ngram_table_bytes > s.bytes / 2 && s.ngram_table_bytes < s.bytes);
    assert!(
        s.source.contains("pocketsphinx-en-us") && s.source.contains("SpeechRecognition"),
        "{}",
        s.source
    );
}

/// Our model answers as the even mixture of what python3-sphinxbase
/// answers from the two original binaries (tests/data/lm/reference.tsv,
/// made by scripts/lm/reference): exactly, up to our 8-bit bins, where the
/// mixed model lists the n-gram asked (one of the two does); approximately
/// where it backs off, since a back-off form can only approximate a mixture
/// of two back-off models there (src/lm/mix.rs).
#[test]
fn embedded_model_matches_sphinxbase() {
    let lm = LanguageModel::embedded();
    let text = std::fs::read_to_string(data("reference.tsv")).unwrap();
    let mut rows = 0;
    let mut by_order = [0usize; 4];
    let mut backed_off = 0;
    // Per kind of row (listed, backed off): worst error and its row, total
    // error, rows.
    let mut worst = [(0.0f32, String::new()), (0.0f32, String::new())];
    let mut total_err = [0.0f32; 2];
    let mut count = [0usize; 2];
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 5, "{line:?}");
        let (a, b): (f64, f64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
        let want = (0.5 * 10f64.powf(a) + 0.5 * 10f64.powf(b)).log10() as f32;
        // An empty context word means a shorter query; an unknown word
        // (unk) cuts the context in both implementations.
        let id = |w: &str| if w.is_empty() { lm.unk() } else { lm.id(w) };
        let (w2, w1, w) = (id(f[0]), id(f[1]), id(f[2]));
        assert!(lm.is_known(w), "{line:?}");
        let hit = lm.lookup(w2, w1, w);
        let query_order = 1 + [w1, w2].iter().take_while(|&&c| lm.is_known(c)).count();
        by_order[hit.order as usize] += 1;
        let kind = ((hit.order as usize) < query_order) as usize;
        backed_off += kind;
        let err = (hit.log10 - want).abs();
        total_err[kind] += err;
        count[kind] += 1;
        if err > worst[kind].0 {
            worst[kind] = (err, line.to_string());
        }
        rows += 1;
    }
    assert!(rows >= 200, "only {rows} reference rows");
    assert!(
        by_order[3] >= 30 && by_order[2] >= 30 && by_order[1] >= 30 && backed_off >= 60,
        "a poor mix: {by_order:?} by order, {backed_off} backed off"
    );
    // Listed (181 rows): our bins are sphinxbase's requantized to 8 bits
    // (src/lm/quant.rs), so answers move a little: 0.0049 log10 on average,
    // 0.0265 at most ("a cessation of", between bins). Backed off (147
    // rows): 0.0256 on average, 0.171 at most (a random triple whose
    // answer is a unigram times a back-off weight in both models).
    let mean = |k: usize| total_err[k] / count[k] as f32;
    assert!(worst[0].0 < 0.03, "listed: off by {} on {:?}", worst[0].0, worst[0].1);
    assert!(mean(0) < 0.008, "listed: off by {} on average", mean(0));
    assert!(worst[1].0 < 0.25, "backed off: off by {} on {:?}", worst[1].0, worst[1].1);
    assert!(mean(1) < 0.04, "backed off: off by {} on average", mean(1));
}

#[test]
fn originals_outscore_spun_forms() {
    let lm = LanguageModel::embedded();
    for (original, spun) in SPUN {
        let (o, s) = (total(lm, original), total(lm, spun));
        assert!(o > s, "{original:?} {o} ≤ {spun:?} {s}");
    }
}

#[test]
fn cli_score_ranks_originals_higher() {
    let total_of = |text: &str| -> f32 {
        let out = unspin().args(["lm", "score", text]).output().unwrap();
        assert!(out.status.success());
        let stdout = String::from_utf8(out.stdout).unwrap();
        let last = stdout.lines().last().unwrap();
        let (label, value) = last.split_once('\t').unwrap();
        assert_eq!(label, "total");
        value.parse().unwrap()
    };
    for (original, spun) in SPUN {
        let (o, s) = (total_of(original), total_of(spun));
        assert!(o > s, "{original:?} {o} ≤ {spun:?} {s}");
    }
}

#[test]
fn cli_score_prints_words_and_total() {
    let out = unspin().args(["lm", "score", "The U.S. and zzyzxq"]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    let words: Vec<&str> = lines.iter().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(words, ["the", "u.s.", "and", "zzyzxq", "</s>", "total"]);
    assert!(lines[3].ends_with("\t<unk>"), "{}", lines[3]);
    let sum: f32 =
        lines[..5].iter().map(|l| l.split('\t').nth(1).unwrap().parse::<f32>().unwrap()).sum();
    let total: f32 = lines[5].split('\t').nth(1).unwrap().parse().unwrap();
    assert!((sum - total).abs() < 0.01, "{sum} vs {total}");

    unspin()
        .args(["lm", "score", "-"])
        .write_stdin("local time")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("local\t-").and(predicate::str::contains("total\t-")));
}

#[test]
fn cli_stats_and_query() {
    unspin().args(["lm", "stats"]).assert().success().stdout(
        predicate::str::contains("2-grams\t3267487").and(predicate::str::contains("bytes\t")),
    );
    unspin().args(["lm", "query", "the civil war", "the common war"]).assert().success().stdout(
        predicate::str::contains("the civil war\t-0.41").and(predicate::str::contains("\t3\n")),
    );
}

#[test]
fn words_fold_and_split_as_the_vocabulary_spells_them() {
    let lm = LanguageModel::embedded();
    let the = lm.id("the");
    assert!(lm.is_known(the));
    assert_eq!(lm.word(the), "the");
    assert_eq!(lm.id("The"), the);
    assert_eq!(lm.id("DON’T"), lm.id("don't"));
    assert!(lm.is_known(lm.id("don't")));
    assert_eq!(lm.id("zzyzxq"), lm.unk());
    assert!(!lm.is_known(lm.unk()));
    assert_eq!(lm.word(lm.unk()), "<unk>");
    assert_eq!(lm.word(lm.bos()), "<s>");
    assert_eq!(lm.word(lm.eos()), "</s>");

    // Sphinx spells initialisms letter by letter: "u. s.".
    let mut ids = Vec::new();
    lm.ids("U.S.", &mut ids);
    assert_eq!(ids, [lm.id("u."), lm.id("s.")]);
    assert!(ids.iter().all(|&id| lm.is_known(id)));
    ids.clear();
    lm.ids("zzyzxq-qqq", &mut ids);
    assert_eq!(ids, [lm.unk()]);
}

#[test]
fn candidates_score_as_single_lookups() {
    let lm = LanguageModel::embedded();
    let cands: Vec<u32> =
        ["jets", "streams", "the", "zzyzxq", "</s>", "planes"].iter().map(|w| lm.id(w)).collect();
    let mut out = Vec::new();
    for (w2, w1) in
        [("or", "russian"), ("<s>", "<s>"), ("zzyzxq", "russian"), ("russian", "zzyzxq")]
    {
        let (w2, w1) = (lm.id(w2), lm.id(w1));
        lm.score_candidates(w2, w1, &cands, &mut out);
        assert_eq!(out.len(), cands.len());
        for (&c, &p) in cands.iter().zip(&out) {
            assert_eq!(p, lm.log10_prob(w2, w1, c));
        }
    }
    // In context, "jets" beats "streams"; an unknown word gets the floor.
    let (jets, streams) = (out[0], out[1]);
    lm.score_candidates(lm.id("or"), lm.id("russian"), &cands, &mut out);
    assert!(out[0] > out[1], "{out:?}");
    assert_eq!(out[3], lm.stats().unk_log10);
    // After an unknown w1 only unigrams are left.
    assert_eq!(jets, lm.log10_prob(lm.unk(), lm.unk(), lm.id("jets")));
    assert!(streams < 0.0);
}

fn corpus_model(min_count: u32) -> LanguageModel {
    let mut b = LmBuilder::new();
    b.min_count(min_count);
    for f in ["village.txt", "weather.txt", "harbour/boats.txt"] {
        b.add_text(&std::fs::read_to_string(data(&format!("corpus/{f}"))).unwrap());
    }
    LanguageModel::from_bytes("corpus", b.build("test corpus").unwrap()).unwrap()
}

#[test]
fn built_model_prefers_seen_ngrams() {
    let full = corpus_model(1);
    let pruned = corpus_model(2);
    for lm in [&full, &pruned] {
        let p = |a: &str, b: &str, c: &str| lm.log10_prob(lm.id(a), lm.id(b), lm.id(c));
        // Trigrams seen at least twice over unseen ones whose words are all
        // in the corpus.
        assert!(p("the", "river", "flows") > p("the", "river", "sings"));
        assert!(p("old", "lighthouse", "keeper") > p("old", "lighthouse", "boats"));
        assert!(p("the", "fishing", "boats") > p("the", "fishing", "bread"));
        // A seen bigram over an unseen one, in an unseen context.
        assert!(p("zzyzxq", "heavy", "rain") > p("zzyzxq", "heavy", "bread"));
        // Unknown words get the floor, below any known word.
        let floor = p("the", "river", "zzyzxq");
        assert!(floor < p("the", "river", "sings"), "{floor}");
    }
    // Trigrams seen once are kept by the full model only.
    let p = |lm: &LanguageModel, a: &str, b: &str, c: &str| lm.lookup(lm.id(a), lm.id(b), lm.id(c));
    for (a, b, c, unseen) in
        [("the", "baker", "sings", "flows"), ("harbour", "master", "closes", "rings")]
    {
        assert_eq!(p(&full, a, b, c).order, 3);
        assert!(p(&pruned, a, b, c).order < 3);
        assert!(p(&full, a, b, c).log10 > p(&full, a, b, unseen).log10);
        assert!(p(&full, a, b, c).log10 > p(&pruned, a, b, c).log10);
    }
}

/// In back-off form a context's probabilities must still sum to one (less
/// the small share left for unknown words): a check on the back-off
/// weights, with and without pruning.
#[test]
fn built_model_is_normalised() {
    for min_count in [1, 2] {
        let lm = corpus_model(min_count);
        for (w2, w1) in [("<s>", "<s>"), ("the", "river"), ("the", "harbour"), ("zzyzxq", "the")] {
            let (w2, w1) = (lm.id(w2), lm.id(w1));
            let sum: f64 = (0..lm.vocab_len() as u32)
                .filter(|&w| w != lm.bos())
                .map(|w| 10f64.powf(lm.log10_prob(w2, w1, w) as f64))
                .sum();
            assert!((0.97..1.0001).contains(&sum), "min count {min_count}: sums to {sum}");
        }
    }
}

#[test]
fn cli_build_reads_directories_and_scores_with_lm() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("corpus.lm");
    unspin().args(["lm", "build"]).arg(data("corpus")).arg("-o").arg(&model).assert().success();
    unspin()
        .arg("--lm")
        .arg(&model)
        .args(["lm", "stats"])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 files"));
    let score = |text: &str| -> f32 {
        let out = unspin().arg("--lm").arg(&model).args(["lm", "score", text]).output().unwrap();
        assert!(out.status.success());
        let s = String::from_utf8(out.stdout).unwrap();
        s.lines().last().unwrap().split('\t').nth(1).unwrap().parse().unwrap()
    };
    // "harbour" is only under the subdirectory.
    assert!(
        score("the harbour master closes the gate") > score("the harbour gate closes the master")
    );
}

#[test]
fn cli_build_mix_options_are_checked_before_the_corpus_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("mixed.lm");
    let not_sphinx = dir.path().join("not-sphinx.lm.bin");
    std::fs::write(&not_sphinx, b"this is no Sphinx model").unwrap();
    let build = |extra: &[&std::ffi::OsStr]| {
        let mut c = unspin();
        c.args(["lm", "build"]).arg(data("corpus")).arg("-o").arg(&model).args(extra);
        c.assert().code(2)
    };
    build(&["--mix-weight".as_ref(), "0.2".as_ref()])
        .stderr(predicate::str::contains("--mix-weight needs --mix-with"));
    for w in ["0", "1.5", "NaN"] {
        build(&[
            "--mix-with".as_ref(),
            not_sphinx.as_os_str(),
            "--mix-weight".as_ref(),
            w.as_ref(),
        ])
        .stderr(predicate::str::contains(format!("--mix-weight {w}")));
    }
    build(&["--mix-with".as_ref(), not_sphinx.as_os_str()])
        .stderr(predicate::str::contains("not-sphinx.lm.bin"));
    // Our own models and ARPA files are named for what they are.
    let ours = dir.path().join("ours.lm");
    std::fs::write(&ours, LmBuilder::new().build("x").unwrap()).unwrap();
    build(&["--mix-with".as_ref(), ours.as_os_str()])
        .stderr(predicate::str::contains("ours.lm: an unspin model"));
    let arpa = dir.path().join("model.arpa");
    std::fs::write(&arpa, "\n\\data\\\nngram 1=2\n").unwrap();
    build(&["--mix-with".as_ref(), arpa.as_os_str()])
        .stderr(predicate::str::contains("model.arpa: an ARPA text model"));
    build(&["--mix-with".as_ref(), dir.path().join("missing.lm.bin").as_os_str()])
        .stderr(predicate::str::contains("missing.lm.bin"));
    // Two base models are mixed, a third is refused; a bad second one is
    // named as the first is.
    let m = "--mix-with".as_ref();
    build(&[m, not_sphinx.as_os_str(), m, not_sphinx.as_os_str(), m, not_sphinx.as_os_str()])
        .stderr(predicate::str::contains("give one or two CMU Sphinx models"));
    build(&[m, ours.as_os_str(), m, arpa.as_os_str()])
        .stderr(predicate::str::contains("ours.lm: an unspin model"));
    assert!(!model.exists());
}

#[test]
fn cli_import_sphinx_checks_its_mix_options() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.lm");
    let import = |extra: &[&str]| {
        let mut c = unspin();
        c.args(["lm", "import-sphinx"]).arg(data("corpus")).arg("-o").arg(&out).args(extra);
        c.assert().code(2)
    };
    import(&["--mix-weight", "0.5"])
        .stderr(predicate::str::contains("--mix-weight needs --mix-with"));
    for w in ["0", "1", "NaN"] {
        import(&["--mix-with", "x.lm.bin", "--mix-weight", w])
            .stderr(predicate::str::contains(format!("--mix-weight {w}")));
    }
    assert!(!out.exists());
}

/// Where Debian's pocketsphinx-en-us puts the model the embedded one is
/// converted from (absent on most machines: the test then skips).
const SPHINX_EN_US: &str = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin";

#[test]
fn cli_build_mixes_a_corpus_into_the_sphinx_model() {
    if !Path::new(SPHINX_EN_US).exists() {
        eprintln!("skipped: no {SPHINX_EN_US} (Debian package pocketsphinx-en-us)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("mixed.lm");
    unspin()
        .args(["lm", "build"])
        .arg(data("corpus"))
        .args(["--mix-with", SPHINX_EN_US, "-o"])
        .arg(&model)
        .assert()
        .success();
    let lm = LanguageModel::open(&model).unwrap();
    assert!(lm.stats().source.contains("mixed with weight 0.1 into"), "{}", lm.stats().source);
    // It knows general English as the embedded model does, and the corpus's
    // own phrases better.
    let e = LanguageModel::embedded();
    assert!(lm.vocab_len() >= e.vocab_len());
    let general = "the prime minister said on tuesday that the talks would go on";
    assert!((total(&lm, general) - total(e, general)).abs() < 1.0);
    let own = "the harbour master closes the gate";
    assert!(total(&lm, own) > total(e, own) + 1.0);
}

#[test]
fn bad_model_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.lm");
    std::fs::write(&bad, b"this is not a model").unwrap();
    unspin()
        .arg("--lm")
        .arg(&bad)
        .args(["lm", "score", "hello"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.lm").and(predicate::str::contains("language model")));
    unspin()
        .arg("--lm")
        .arg(dir.path().join("missing.lm"))
        .args(["lm", "stats"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.lm"));
    unspin()
        .args(["lm", "import-sphinx"])
        .arg(&bad)
        .arg("-o")
        .arg(dir.path().join("out.lm"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.lm"));

    // Every truncation of a real model, and corrupted bytes throughout it,
    // must give an error (or, for a corrupted float, a model), never a
    // panic.
    let mut b = LmBuilder::new();
    b.add_text(&std::fs::read_to_string(data("corpus/weather.txt")).unwrap());
    let good = b.build("weather").unwrap();
    assert!(LanguageModel::from_bytes("good", good.clone()).is_ok());
    for len in (0..good.len()).step_by(7) {
        let e = LanguageModel::from_bytes("cut", good[..len].to_vec());
        assert!(e.is_err(), "truncated to {len} bytes and still opened");
    }
    for at in (0..good.len()).step_by(13) {
        let mut bytes = good.clone();
        bytes[at] ^= 0x5A;
        if let Ok(lm) = LanguageModel::from_bytes("flipped", bytes) {
            let words: Vec<&str> = "heavy rain is expected tonight".split(' ').collect();
            lm.score_words(&words);
        }
    }
}

/// A model file from before the n-gram hash tables (format version 1) is
/// refused with a message that names the file and says how to rebuild it.
#[test]
fn version_1_models_are_refused_with_a_rebuild_hint() {
    old_version_is_refused_with_a_rebuild_hint(1);
}

/// So is one from before the ordered tables with displacements (format
/// version 2): its slots look valid, but a later version's lookup would stop
/// early in them and miss n-grams.
#[test]
fn version_2_models_are_refused_with_a_rebuild_hint() {
    old_version_is_refused_with_a_rebuild_hint(2);
}

/// And one with version 3's wider slots and 16-bit bins, which a version 4
/// reader would misread.
#[test]
fn version_3_models_are_refused_with_a_rebuild_hint() {
    old_version_is_refused_with_a_rebuild_hint(3);
}

fn old_version_is_refused_with_a_rebuild_hint(version: u32) {
    let mut b = LmBuilder::new();
    b.add_text(&std::fs::read_to_string(data("corpus/weather.txt")).unwrap());
    let mut bytes = b.build("weather").unwrap();
    bytes[8..12].copy_from_slice(&version.to_le_bytes());
    let e = LanguageModel::from_bytes("old.lm", bytes.clone()).unwrap_err().to_string();
    assert!(e.contains("old.lm") && e.contains(&format!("version {version}")), "{e}");
    assert!(e.contains("unspin lm build") && e.contains("scripts/lm/convert"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.lm");
    std::fs::write(&old, &bytes).unwrap();
    unspin()
        .arg("--lm")
        .arg(&old)
        .args(["lm", "stats"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("old.lm").and(predicate::str::contains("rebuild")));
}

/// A model (say, an imported one) may hold a trigram whose context is no
/// bigram: it must still be found, with no back-off weight for the
/// missing bigram.
#[test]
fn trigrams_after_a_context_that_is_no_bigram_are_found() {
    let words: Vec<String> = ["<s>", "</s>", "a", "b", "c"].map(String::from).to_vec();
    let parts = ModelParts {
        source: "hand-made".into(),
        words,
        bos: 0,
        eos: 1,
        unk_log10: -9.0,
        unigrams: vec![(-99.0, -0.5), (-1.0, 0.0), (-1.5, -0.25), (-1.25, -0.125), (-2.0, -0.75)],
        bigram_probs: vec![-0.5, -0.75],
        bigram_backoffs: vec![0.0, -0.0625],
        trigram_probs: vec![-0.1],
    };
    let (a, b, c) = (2, 3, 4);
    let bigram = |ids, prob_bin, backoff_bin| BigramRecord { ids, prob_bin, backoff_bin };
    let trigrams = [TrigramRecord { ids: [a, b, c], prob_bin: 0 }];
    for with_context in [false, true] {
        let mut bigrams = vec![bigram([b, c], 0, 0)];
        if with_context {
            bigrams.push(bigram([a, b], 1, 1));
        }
        let mut bytes = Vec::new();
        format::write(&parts, &bigrams, &trigrams, &mut bytes).unwrap();
        let lm = LanguageModel::from_bytes("hand-made", bytes).unwrap();
        let hit = lm.lookup(a, b, c);
        assert_eq!((hit.log10, hit.order), (-0.1, 3), "context bigram: {with_context}");
        // Backing off from (a b): its weight if it is a bigram, else none.
        let bo = if with_context { -0.0625 } else { 0.0 };
        assert_eq!(lm.lookup(a, b, b).log10, -1.25 - 0.125 + bo);
        assert_eq!(lm.lookup(c, b, c).log10, -0.5);
        assert_eq!(lm.lookup(a, c, a).log10, -1.5 - 0.75);
    }
}

#[test]
fn perplexity_counts_tokens_and_prefers_originals() {
    let lm = LanguageModel::embedded();
    let clean = lm.perplexity("The peace process has stalled. Officials declined to comment.");
    assert_eq!((clean.sentences, clean.tokens, clean.oov), (2, 11, 0));
    let spun =
        lm.perplexity("The peace procedure has slowed down. Authorities declined to remark.");
    assert!(spun.perplexity() > clean.perplexity(), "{spun:?} vs {clean:?}");
    let with_oov = lm.perplexity("the zzyzxq war");
    assert_eq!((with_oov.tokens, with_oov.oov), (4, 1));

    unspin().args(["lm", "perplexity"]).arg(data("corpus")).assert().success().stdout(
        predicate::str::contains("files\t3\n").and(predicate::str::contains("perplexity\t")),
    );
}
