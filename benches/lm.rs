//! Language-model benchmarks: n-gram lookups per second on one core, the
//! decoder's candidate scoring, and the time to open the embedded model.
//!
//! Run with `cargo bench --bench lm`. Targets: ≥ 5 M lookups/s, load
//! < 50 ms (see `scripts/lm/rss` for resident memory).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use unspin::lm::{words, LanguageModel, WordId};

/// Our own prose (not copied from anywhere), so the lookups hit a realistic
/// mix of trigrams, bigrams and back-offs.
const TEXT: &str = "Officials in the capital said on Tuesday that talks between the \
two governments would resume next week, after a pause of almost a month. The peace \
process has stalled several times since the ceasefire was signed, and both sides \
accuse each other of breaking its terms. A spokesman for the ministry told reporters \
that the delegation would travel by train and stay for three days. Local time was \
just after noon when the first cars arrived at the border crossing. Prices of food \
and fuel have risen sharply this year, and many families say they can no longer \
afford to heat their homes. The company reported a small profit for the second \
quarter, but warned that sales in Europe would remain weak until the end of the year. \
Scientists at the university have found that the new drug reduces the risk of heart \
disease in older patients. Defense and intelligence officials declined to comment on \
the reports of Russian jets flying close to the coast.";

fn trigrams(lm: &LanguageModel) -> Vec<[WordId; 3]> {
    let mut out = Vec::new();
    for sentence in words::sentences(TEXT) {
        let mut ids = vec![lm.bos(), lm.bos()];
        for w in &sentence {
            lm.ids(w, &mut ids);
        }
        ids.push(lm.eos());
        out.extend(ids.windows(3).map(|w| [w[0], w[1], w[2]]));
    }
    out
}

fn lookups(c: &mut Criterion) {
    let lm = LanguageModel::embedded();
    let grams = trigrams(lm);
    let mut g = c.benchmark_group("lm");
    g.throughput(Throughput::Elements(grams.len() as u64));
    g.bench_function("log10_prob", |b| {
        b.iter(|| {
            let mut sum = 0.0f32;
            for &[w2, w1, w] in &grams {
                sum += lm.log10_prob(black_box(w2), black_box(w1), black_box(w));
            }
            sum
        })
    });

    // Random words from the whole vocabulary: mostly back-offs to the
    // unigram, and no cache locality, a worst case.
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % lm.vocab_len() as u64) as WordId
    };
    let random: Vec<[WordId; 3]> = (0..grams.len()).map(|_| [next(), next(), next()]).collect();
    g.bench_function("log10_prob_random", |b| {
        b.iter(|| {
            let mut sum = 0.0f32;
            for &[w2, w1, w] in &random {
                sum += lm.log10_prob(black_box(w2), black_box(w1), black_box(w));
            }
            sum
        })
    });

    // The decoder's pattern: at each position, score the word there and 9
    // alternatives (here: the next words of the text) in one context.
    let cands: Vec<Vec<WordId>> = (0..grams.len())
        .map(|i| (0..10).map(|k| grams[(i + k * 7) % grams.len()][2]).collect())
        .collect();
    g.throughput(Throughput::Elements((grams.len() * 10) as u64));
    g.bench_function("score_candidates_x10", |b| {
        let mut out = Vec::with_capacity(10);
        b.iter(|| {
            let mut sum = 0.0f32;
            for (&[w2, w1, _], cands) in grams.iter().zip(&cands) {
                lm.score_candidates(black_box(w2), black_box(w1), cands, &mut out);
                sum += out[0];
            }
            sum
        })
    });
    g.finish();
}

fn load(c: &mut Criterion) {
    let bytes = LanguageModel::embedded_bytes();
    let mut g = c.benchmark_group("lm");
    g.sample_size(20);
    g.bench_function("load_embedded", |b| {
        b.iter(|| LanguageModel::from_static("embedded", black_box(bytes)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, lookups, load);
criterion_main!(benches);
