//! Scanner benchmark: tokenize news-like text and find every phrase of the
//! full embedded lexicon in it, in bytes of input per second on one core.
//!
//! Run with `cargo bench --bench scan`. Target: ≥ 40 MB/s for
//! tokenize + scan in either mode.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use unspin::lexicon::{ScanMode, Scanner};
use unspin::tokenize::tokenize_into;
use unspin::Lexicon;

/// Invented news prose written for this benchmark (some of it spun, with
/// curly quotes, numbers, abbreviations and hyphenated compounds), so the
/// scanner meets a realistic mix of hits, near misses and punctuation.
const PARAGRAPHS: &str = "\
The regional council voted on Thursday to delay the new harbour levy by six months, \
after shipping firms warned that the 3.5% charge would push freight to rival ports. \
Councillors said the pause would give officials time to consult local businesses, \
but opposition members called the decision “a surrender to the big operators”.

Barrier and knowledge authorities in the capital declined to comment on reports that \
U.S. or Russian streams had flown close to the northern coast, though a spokesman \
said the ministry was “aware of the situation” and would not let it affect talks on \
a discontinuance of threats. Analysts expect the negotiations to resume in March.

Prices at the pump rose for the fourth week in a row, reaching 1,000 cents a gallon \
in some rural areas. Drivers who couldn’t afford the increase switched to buses and \
trains, and the state-owned rail operator reported its busiest month since 2009. \
Economists at the central bank said the rise was likely to be short-lived.

A well-known local charity has opened a second food bank in the east of the city, \
where demand has doubled since the spring. Volunteers said they had seen more \
families with working parents than ever before, and warned that donations were \
not keeping pace. The charity's director, Mrs. J. Okafor, thanked residents for \
their endeavors and urged supermarkets to give more.

Scientists at the university's marine institute have found that warmer water is \
pushing several fish species north by as much as 40 kilometres a decade. The \
team, which tagged more than 12,000 fish over five years, said the shift could \
change fishing quotas across the region; its findings were published on Monday.

In sport, the home side came from two goals down to draw 2-2 with the league \
leaders, keeping their hopes of a top-four finish alive. The manager praised his \
players' spirit but said the team had to stop conceding early goals. “We can't \
keep giving teams a head start,” he told reporters after the match.
";

/// The paragraphs repeated to about 1 MB.
fn text() -> String {
    let mut s = String::with_capacity(1 << 20);
    while s.len() < 1 << 20 {
        s.push_str(PARAGRAPHS);
        s.push('\n');
    }
    s
}

fn scan(c: &mut Criterion) {
    let lexicon = Lexicon::embedded();
    let text = text();
    let mut tokens = Vec::new();
    let mut scanner = Scanner::new();

    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));

    g.bench_function("tokenize", |b| {
        b.iter(|| {
            tokens.clear();
            tokenize_into(black_box(&text), &mut tokens);
            tokens.len()
        })
    });
    for (name, mode) in [
        ("tokenize+scan/all", ScanMode::All),
        ("tokenize+scan/leftmost-longest", ScanMode::LeftmostLongest),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                tokens.clear();
                tokenize_into(black_box(&text), &mut tokens);
                scanner.scan(&lexicon, &text, &tokens, mode).len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
