//! Score and restore arbitrary text with the embedded lexicon and model,
//! and restore it as `restore` (its minimum rate) and `restore
//! --only-spun` do.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use unspin::decode::{Decoder, Model};
use unspin::detect::{Label, Scorer};
use unspin::input::boilerplate_ranges;
use unspin::restore::{overlaps_any, Edit, Restorer, DEFAULT_MIN_RATE, STRONG_GAIN};
use unspin::{LanguageModel, Lexicon};

fn engines() -> &'static (Scorer, Restorer, Restorer, Restorer) {
    static ENGINES: OnceLock<(Scorer, Restorer, Restorer, Restorer)> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let decoder = Decoder::new(Lexicon::embedded(), Model::Static(LanguageModel::embedded()));
        // Every restorer lists alternatives, which change no edit.
        let restorer = || Restorer::new(decoder.clone()).alternatives(2);
        let gated = restorer().only_spun(Scorer::new(decoder.clone()));
        let by_rate = restorer().min_rate(Scorer::new(decoder.clone()), DEFAULT_MIN_RATE);
        (Scorer::new(decoder.clone()), restorer(), gated, by_rate)
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 16 * 1024 {
        return;
    }
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let (scorer, restorer, gated, by_rate) = engines();
    // Half the inputs with the boilerplate ranges a document would carry.
    let exclude = if data.first().is_some_and(|b| b & 1 == 1) {
        boilerplate_ranges(text)
    } else {
        Vec::new()
    };

    let report = scorer.score(text, &exclude);
    let _ = format!("{report:?}");

    let restored = restorer.restore(text, &exclude);
    // `text` is a String, so it is UTF-8 by construction; check the edits
    // rebuild it.
    let mut at = 0;
    for e in &restored.edits {
        assert!(e.start >= at, "edits ordered and not overlapping: {e:?}");
        assert!(e.start <= e.end && e.end <= text.len(), "{e:?} past {}", text.len());
        assert!(text.is_char_boundary(e.start) && text.is_char_boundary(e.end), "{e:?}");
        assert_eq!(&text[e.start..e.end], e.old, "edit.old is the input there");
        assert!(
            !exclude.iter().any(|r| r.start < e.end && e.start < r.end),
            "edit in excluded {e:?}"
        );
        assert!(e.alternatives.len() <= 2, "{e:?}");
        for a in &e.alternatives {
            assert!(a.new != e.new && a.new != e.old, "an alternative is another text: {e:?}");
            assert!(a.confidence > 0.0 && a.confidence <= 1.0, "{e:?}");
        }
        at = e.end;
    }
    assert_eq!(
        rebuild(text, &restored.edits),
        restored.text,
        "edits applied to the input give the output"
    );

    // `--only-spun` shares one prepared document between the detector and
    // the restorer: it gives the input as it was, for the detector's label,
    // or exactly what the restorer alone gives.
    let only = gated.restore(text, &exclude);
    if only.labelled_clean || (only.not_english && only.edits.is_empty() && only.text == text) {
        assert_eq!(only.text, text, "a document left as it was");
        assert!(only.edits.is_empty());
        let label = scorer.label(text, &exclude);
        let want = if only.labelled_clean { Label::Clean } else { Label::NotEnglish };
        assert_eq!(label, want, "the detector's label");
    } else {
        assert_eq!(only, restored, "restored as without the gate");
    }

    // `restore`'s minimum rate likewise: the input as it was, for a rate
    // under it without a strong span (or not English); under it with
    // strong spans, the restorer's edits within them; else what the
    // restorer alone gives.
    let gated = by_rate.restore(text, &exclude);
    // (No user lexicon here: the gain alone makes a span strong.)
    let strong = report.spans.iter().any(|s| s.gain >= STRONG_GAIN);
    if gated.below_min_rate || (gated.not_english && gated.edits.is_empty() && gated.text == text) {
        assert_eq!(gated.text, text, "a document left as it was");
        assert!(gated.edits.is_empty());
        if gated.below_min_rate {
            assert!(report.spin_rate < DEFAULT_MIN_RATE, "{} under the minimum", report.spin_rate);
            assert!(!strong, "no strong span");
        }
    } else if report.spin_rate >= DEFAULT_MIN_RATE || report.label == Label::NotEnglish {
        assert_eq!(gated, restored, "restored as without the gate");
    } else {
        assert!(strong, "a document under the minimum rate restored without a strong span");
        let ranges: Vec<_> = report
            .spans
            .iter()
            .filter(|s| s.gain >= STRONG_GAIN)
            .map(|s| s.start..s.end)
            .collect();
        let want: Vec<_> = restored
            .edits
            .iter()
            .filter(|e| overlaps_any(&ranges, e.start, e.end))
            .cloned()
            .collect();
        assert_eq!(gated.edits, want, "only the edits within the strong spans");
        assert_eq!(
            rebuild(text, &gated.edits),
            gated.text,
            "the strong spans' edits applied give the output"
        );
    }
});

/// `text` with `edits` (ordered, not overlapping, inside it) applied.
fn rebuild(text: &str, edits: &[Edit]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for e in edits {
        out.push_str(&text[at..e.start]);
        out.push_str(&e.new);
        at = e.end;
    }
    out.push_str(&text[at..]);
    out
}
