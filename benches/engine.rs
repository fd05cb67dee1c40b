//! Throughput of `score` and `restore` on one core, in bytes per second,
//! over news-like text we wrote (examples/), clean and spun.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use unspin::decode::{Decoder, Model};
use unspin::detect::Scorer;
use unspin::restore::Restorer;
use unspin::{LanguageModel, Lexicon};

fn text() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let clean = std::fs::read_to_string(format!("{root}/examples/clean-news.txt")).unwrap();
    let spun = std::fs::read_to_string(format!("{root}/examples/spun-news.txt")).unwrap();
    let mut t = String::new();
    while t.len() < 100_000 {
        t.push_str(&clean);
        t.push('\n');
        t.push_str(&spun);
        t.push('\n');
    }
    t
}

fn bench(c: &mut Criterion) {
    let decoder = Decoder::new(Lexicon::embedded(), Model::Static(LanguageModel::embedded()));
    let scorer = Scorer::new(decoder.clone());
    let restorer = Restorer::new(decoder);
    let text = text();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(10);
    g.bench_function("score", |b| b.iter(|| scorer.score(&text, &[])));
    g.bench_function("restore", |b| b.iter(|| restorer.restore(&text, &[])));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
