//! Hostile input, parser by parser: each pathological input is timed
//! against a normal input of the same size, at two sizes, and the ratio
//! (hostile time / normal time) is printed in a table at the end.
//!
//! A ratio that stays flat as the size grows is linear time, whatever its
//! value (a pathological input may simply be more work per byte: a gzip
//! bomb has a thousand times more output). A ratio that grows with the size
//! (the `growth` column, ratio at the larger size over ratio at the
//! smaller) is super-linear time: growth near 4 when the size quadruples is
//! quadratic. This is a benchmark, not a test: nothing fails, the table is
//! for reading (`scripts/hostile-bench` runs it and prints only the table).
//!
//! Run with `cargo bench --bench hostile` (optionally a filter, e.g.
//! `-- html`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{Cursor, Write};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode};
use unspin::decode::{Decoder, Model};
use unspin::detect::Scorer;
use unspin::input::{boilerplate_ranges, read_input, InputOptions};
use unspin::lexicon::import::{import, Format};
use unspin::lexicon::{ScanMode, Scanner};
use unspin::tokenize::tokenize;
use unspin::{LanguageModel, Lexicon};

/// One pathological input for one parser.
struct Case {
    parser: &'static str,
    name: &'static str,
    /// Input sizes in bytes; the second is four times the first.
    sizes: [usize; 2],
    normal: fn(usize) -> Vec<u8>,
    hostile: fn(usize) -> Vec<u8>,
    run: fn(&[u8]) -> usize,
}

const K: usize = 1024;

fn cases() -> Vec<Case> {
    let big = [256 * K, 1024 * K];
    let small = [64 * K, 256 * K];
    let tiny = [32 * K, 128 * K];
    vec![
        // The tokenizer and scanner (the engine's first stage).
        Case {
            parser: "tokenize+scan",
            name: "one token, no whitespace",
            sizes: big,
            normal: news,
            hostile: one_token,
            run: tokenize_scan,
        },
        Case {
            parser: "tokenize+scan",
            name: "one non-ASCII token",
            sizes: big,
            normal: news,
            hostile: non_ascii_token,
            run: tokenize_scan,
        },
        Case {
            parser: "tokenize+scan",
            name: "a line of quotes",
            sizes: big,
            normal: news,
            hostile: quotes,
            run: tokenize_scan,
        },
        Case {
            parser: "tokenize+scan",
            name: "a hyphen chain (a-b-c-…)",
            sizes: big,
            normal: news,
            hostile: hyphen_chain,
            run: tokenize_scan,
        },
        Case {
            parser: "tokenize+scan",
            name: "one line, no punctuation",
            sizes: big,
            normal: news,
            hostile: one_line,
            run: tokenize_scan,
        },
        // The input layer on plain text (decoding, caps, boilerplate lines).
        Case {
            parser: "text input",
            name: "one token, no whitespace",
            sizes: big,
            normal: news,
            hostile: one_token,
            run: read_text,
        },
        Case {
            parser: "text input",
            name: "one line",
            sizes: big,
            normal: news,
            hostile: one_line,
            run: read_text,
        },
        Case {
            parser: "text input",
            name: "every other line boilerplate",
            sizes: big,
            normal: news,
            hostile: boilerplate_lines,
            run: read_text,
        },
        // JSON Lines.
        Case {
            parser: "JSONL",
            name: "a line of nested arrays",
            sizes: big,
            normal: jsonl_records,
            hostile: jsonl_nested,
            run: read_jsonl,
        },
        Case {
            parser: "JSONL",
            name: "a string of \\u escapes",
            sizes: big,
            normal: jsonl_records,
            hostile: jsonl_escapes,
            run: read_jsonl,
        },
        Case {
            parser: "JSONL",
            name: "one record, one huge line",
            sizes: big,
            normal: jsonl_records,
            hostile: jsonl_one_line,
            run: read_jsonl,
        },
        // WARC/WET.
        Case {
            parser: "WARC",
            name: "Content-Length lie (1 TB)",
            sizes: big,
            normal: warc_records,
            hostile: warc_length_lie,
            run: read_warc,
        },
        Case {
            parser: "WARC",
            name: "empty records",
            sizes: big,
            normal: warc_records,
            hostile: warc_empty_records,
            run: read_warc,
        },
        Case {
            parser: "WARC",
            name: "60 KiB header lines",
            sizes: big,
            normal: warc_records,
            hostile: warc_long_headers,
            run: read_warc,
        },
        // HTML extraction.
        Case {
            parser: "HTML",
            name: "nested <div>s",
            sizes: big,
            normal: html_page,
            hostile: html_deep,
            run: read_html,
        },
        Case {
            parser: "HTML",
            name: "<a>x<div>y</a> (adoption agency)",
            sizes: big,
            normal: html_page,
            hostile: html_adoption,
            run: read_html,
        },
        Case {
            parser: "HTML",
            name: "400 open <b>s re-opened per <p>",
            sizes: big,
            normal: html_page,
            hostile: html_reconstruct,
            run: read_html,
        },
        Case {
            parser: "HTML",
            name: "unclosed <p>, <li>, <td>",
            sizes: big,
            normal: html_page,
            hostile: html_unclosed,
            run: read_html,
        },
        Case {
            parser: "HTML",
            name: "one text node, no whitespace",
            sizes: big,
            normal: html_page,
            hostile: html_one_token,
            run: read_html,
        },
        // User lexicon import.
        Case {
            parser: "lexicon TSV",
            name: "one huge line",
            sizes: big,
            normal: tsv_normal,
            hostile: tsv_one_line,
            run: import_tsv,
        },
        Case {
            parser: "lexicon CSV",
            name: "unterminated quote",
            sizes: big,
            normal: csv_normal,
            hostile: csv_unterminated,
            run: import_csv,
        },
        Case {
            parser: "lexicon CSV",
            name: "a line of quotes",
            sizes: big,
            normal: csv_normal,
            hostile: csv_quotes,
            run: import_csv,
        },
        Case {
            parser: "lexicon CSV",
            name: "one long Expected Text",
            sizes: small,
            normal: csv_normal,
            hostile: csv_long_expected,
            run: import_csv,
        },
        Case {
            parser: "lexicon CSV",
            name: "Expected Text a/b a/b a/b …",
            sizes: small,
            normal: csv_normal,
            hostile: csv_alternatives,
            run: import_csv,
        },
        Case {
            parser: "lexicon JSON",
            name: "nested arrays",
            sizes: big,
            normal: json_normal,
            hostile: json_nested,
            run: import_json,
        },
        // Decompression (through the input layer, default --max-bytes).
        Case {
            parser: "gzip",
            name: "bomb (1000:1)",
            sizes: small,
            normal: gzip_normal,
            hostile: gzip_bomb,
            run: read_text,
        },
        Case {
            parser: "zstd",
            name: "bomb",
            sizes: small,
            normal: zstd_normal,
            hostile: zstd_bomb,
            run: read_text,
        },
        // The engine, on what the input layer hands it.
        Case {
            parser: "engine (score)",
            name: "every other line boilerplate",
            sizes: tiny,
            normal: news,
            hostile: boilerplate_lines,
            run: score,
        },
        Case {
            parser: "engine (score)",
            name: "one token, no whitespace",
            sizes: tiny,
            normal: news,
            hostile: one_token,
            run: score,
        },
    ]
}

// ---------------------------------------------------------------------------
// Inputs. Text is invented news prose, as in benches/scan.rs.

const PARAGRAPH: &str = "The regional council voted on Thursday to delay the new harbour levy by \
six months, after shipping firms warned that the 3.5% charge would push freight to rival ports. \
Councillors said the pause would give officials time to consult local businesses, but opposition \
members called the decision “a surrender to the big operators”. Prices at the pump rose for the \
fourth week in a row, and drivers who couldn’t afford the increase switched to buses and trains.";

fn fill(unit: &str, n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n + unit.len());
    while s.len() < n {
        s.push_str(unit);
    }
    s.into_bytes()
}

fn news(n: usize) -> Vec<u8> {
    fill(&format!("{PARAGRAPH}\n\n"), n)
}

fn one_token(n: usize) -> Vec<u8> {
    vec![b'a'; n]
}

fn non_ascii_token(n: usize) -> Vec<u8> {
    "é".repeat(n / 2).into_bytes()
}

fn quotes(n: usize) -> Vec<u8> {
    vec![b'"'; n]
}

fn hyphen_chain(n: usize) -> Vec<u8> {
    fill("ab-", n)
}

fn one_line(n: usize) -> Vec<u8> {
    fill(&PARAGRAPH.replace(['.', ',', '%'], " "), n)
}

fn boilerplate_lines(n: usize) -> Vec<u8> {
    fill("Advertisement\nThe council met on Tuesday.\n", n)
}

fn jsonl_records(n: usize) -> Vec<u8> {
    let line = serde_json::json!({ "id": "doc", "text": PARAGRAPH }).to_string() + "\n";
    fill(&line, n)
}

fn jsonl_nested(n: usize) -> Vec<u8> {
    let k = n / 2 - 20;
    format!("{{\"text\":\"x\",\"a\":{}{}}}\n", "[".repeat(k), "]".repeat(k)).into_bytes()
}

fn jsonl_escapes(n: usize) -> Vec<u8> {
    format!("{{\"text\":\"{}\"}}\n", "\\u00e9 ".repeat(n / 7)).into_bytes()
}

fn jsonl_one_line(n: usize) -> Vec<u8> {
    let text = String::from_utf8(one_line(n - 20)).unwrap();
    (serde_json::json!({ "text": text }).to_string() + "\n").into_bytes()
}

fn warc_record(kind: &str, body: &str, length: Option<u64>) -> String {
    let len = length.unwrap_or(body.len() as u64);
    format!(
        "WARC/1.1\r\nWARC-Type: {kind}\r\nWARC-Target-URI: https://example.org/a\r\n\
         Content-Type: text/plain\r\nContent-Length: {len}\r\n\r\n{body}\r\n\r\n"
    )
}

fn warc_records(n: usize) -> Vec<u8> {
    fill(&warc_record("conversion", &format!("{PARAGRAPH}\n{PARAGRAPH}\n"), None), n)
}

fn warc_length_lie(n: usize) -> Vec<u8> {
    let mut out = warc_record("conversion", "", Some(1 << 40)).into_bytes();
    out.truncate(out.len() - 4);
    out.extend(news(n - out.len()));
    out
}

fn warc_empty_records(n: usize) -> Vec<u8> {
    fill(&warc_record("request", "", None), n)
}

fn warc_long_headers(n: usize) -> Vec<u8> {
    let header = format!("X-Padding: {}\r\n", "p".repeat(60 * K));
    let record =
        warc_record("conversion", PARAGRAPH, None).replacen("\r\n", &format!("\r\n{header}"), 1);
    fill(&record, n)
}

fn page(body: &str) -> String {
    format!(
        "<!doctype html><html><head><title>Harbour levy</title></head><body>{body}</body></html>"
    )
}

fn html_page(n: usize) -> Vec<u8> {
    let para = format!("<div class=\"story\"><p>{PARAGRAPH}</p><p>{PARAGRAPH}</p></div>\n");
    let body = String::from_utf8(fill(&para, n - 120)).unwrap();
    page(&body).into_bytes()
}

fn article() -> String {
    format!("<p>{PARAGRAPH}</p>").repeat(3)
}

fn html_deep(n: usize) -> Vec<u8> {
    let k = (n - 1200) / 11;
    page(&format!("{}{}{}", "<div>".repeat(k), article(), "</div>".repeat(k))).into_bytes()
}

fn html_adoption(n: usize) -> Vec<u8> {
    let unit = "<a href=x>y<div>z</a>";
    page(&(article() + &unit.repeat((n - 1200) / unit.len()))).into_bytes()
}

fn html_reconstruct(n: usize) -> Vec<u8> {
    let bs: String = (0..400).map(|i| format!("<b id={i}>")).collect();
    let paras = "<p>word ".repeat((n - 5500) / 9);
    page(&format!("{}<p>{bs}</p>{paras}", article())).into_bytes()
}

fn html_unclosed(n: usize) -> Vec<u8> {
    let unit =
        format!("<p>{PARAGRAPH}<ul><li>one<li>two</ul><table><tr><td>a<td>b<tr><td>c</table>");
    page(&String::from_utf8(fill(&unit, n - 120)).unwrap()).into_bytes()
}

fn html_one_token(n: usize) -> Vec<u8> {
    page(&format!("{}<p>{}</p>", article(), "a".repeat(n - 1300))).into_bytes()
}

fn tsv_normal(n: usize) -> Vec<u8> {
    fill("wobbly pudding\tshaky consensus\t0.9\n", n)
}

fn tsv_one_line(n: usize) -> Vec<u8> {
    format!("{}\tb\n", "a".repeat(n - 3)).into_bytes()
}

const CSV_HEADER: &str = "\"Fingerprint - Tortured Phrase\",\"Expected Text\",\"Occurrences\"\n";

fn csv_normal(n: usize) -> Vec<u8> {
    let mut out = CSV_HEADER.as_bytes().to_vec();
    out.extend(fill("\"\"\"belly gremlin\"\"\",stomach bug,7\n", n - out.len()));
    out
}

fn csv_unterminated(n: usize) -> Vec<u8> {
    let mut out = format!("{CSV_HEADER}\"").into_bytes();
    out.extend(fill("a, b\n", n - out.len()));
    out
}

fn csv_quotes(n: usize) -> Vec<u8> {
    let mut out = CSV_HEADER.as_bytes().to_vec();
    out.resize(n, b'"');
    out
}

fn csv_long_expected(n: usize) -> Vec<u8> {
    let mut out = format!("{CSV_HEADER}\"\"\"belly gremlin\"\"\",").into_bytes();
    out.extend(fill("word ", n - out.len() - 3));
    out.extend(b",7\n");
    out
}

fn csv_alternatives(n: usize) -> Vec<u8> {
    let mut out = format!("{CSV_HEADER}\"\"\"belly gremlin\"\"\",").into_bytes();
    out.extend(fill("a/b ", n - out.len() - 3));
    out.extend(b",7\n");
    out
}

fn json_normal(n: usize) -> Vec<u8> {
    let record = "{\"tortured\": \"quick sand clock\", \"correct\": \"hourglass\"},\n";
    let body = String::from_utf8(fill(record, n - 40)).unwrap();
    format!("{{\"phrases\": [{}{{}}]}}", body).into_bytes()
}

fn json_nested(n: usize) -> Vec<u8> {
    format!("{}{}", "[".repeat(n / 2), "]".repeat(n / 2)).into_bytes()
}

/// Words drawn pseudo-randomly, so that compression is realistic (about
/// 3:1) rather than the 100:1 of a repeated paragraph. Each call goes on
/// where the last stopped, so chunks never repeat.
struct Words(u64);

impl Words {
    fn chunk(&mut self, n: usize) -> Vec<u8> {
        let words: Vec<&str> = PARAGRAPH.split_whitespace().collect();
        let mut out = String::with_capacity(n + 20);
        while out.len() < n {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            out.push_str(words[(self.0 % words.len() as u64) as usize]);
            out.push(if self.0.is_multiple_of(13) { '\n' } else { ' ' });
        }
        out.into_bytes()
    }
}

/// Compresses chunks from `source` until the output reaches `n` bytes.
fn compressed(n: usize, zstd: bool, mut source: impl FnMut() -> Vec<u8>) -> Vec<u8> {
    if zstd {
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        while enc.get_ref().len() < n {
            enc.write_all(&source()).unwrap();
            enc.flush().unwrap();
        }
        enc.finish().unwrap()
    } else {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        while enc.get_ref().len() < n {
            enc.write_all(&source()).unwrap();
        }
        enc.finish().unwrap()
    }
}

fn gzip_normal(n: usize) -> Vec<u8> {
    let mut words = Words(0x2545_f491_4f6c_dd1d);
    compressed(n, false, || words.chunk(16 * K))
}

fn gzip_bomb(n: usize) -> Vec<u8> {
    let spam = fill("spam spam spam\n", 1 << 20);
    compressed(n, false, || spam.clone())
}

fn zstd_normal(n: usize) -> Vec<u8> {
    let mut words = Words(0x2545_f491_4f6c_dd1d);
    compressed(n, true, || words.chunk(16 * K))
}

fn zstd_bomb(n: usize) -> Vec<u8> {
    let spam = fill("spam spam spam\n", 16 << 20);
    compressed(n, true, || spam.clone())
}

// ---------------------------------------------------------------------------
// Parsers.

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(Lexicon::embedded)
}

fn tokenize_scan(bytes: &[u8]) -> usize {
    let text = std::str::from_utf8(bytes).expect("UTF-8 input");
    let tokens = tokenize(text);
    thread_local!(static SCANNER: std::cell::RefCell<Scanner> = std::cell::RefCell::new(Scanner::new()));
    SCANNER.with(|s| s.borrow_mut().scan(lexicon(), text, &tokens, ScanMode::All).len())
}

fn read_with(bytes: &[u8], opts: &InputOptions) -> usize {
    read_input("bench", Cursor::new(bytes.to_vec()), opts)
        .map(|d| d.text.len() + usize::from(d.error.is_some()))
        .sum()
}

fn read_text(bytes: &[u8]) -> usize {
    read_with(bytes, &InputOptions::default())
}

fn read_jsonl(bytes: &[u8]) -> usize {
    read_with(bytes, &InputOptions { jsonl: true, ..InputOptions::default() })
}

fn read_warc(bytes: &[u8]) -> usize {
    read_with(bytes, &InputOptions::default())
}

fn read_html(bytes: &[u8]) -> usize {
    read_with(bytes, &InputOptions { html: Some(true), ..InputOptions::default() })
}

fn import_as(bytes: &[u8], format: Format) -> usize {
    let text = std::str::from_utf8(bytes).expect("UTF-8 input");
    import("bench", text, format).map_or(0, |i| i.entries.len() + i.skipped.len())
}

fn import_tsv(bytes: &[u8]) -> usize {
    import_as(bytes, Format::Tsv)
}

fn import_csv(bytes: &[u8]) -> usize {
    import_as(bytes, Format::PpsCsv)
}

fn import_json(bytes: &[u8]) -> usize {
    import_as(bytes, Format::Json)
}

fn score(bytes: &[u8]) -> usize {
    static SCORER: OnceLock<Scorer> = OnceLock::new();
    let scorer = SCORER.get_or_init(|| {
        Scorer::new(Decoder::new(Lexicon::embedded(), Model::Static(LanguageModel::embedded())))
    });
    let text = std::str::from_utf8(bytes).expect("UTF-8 input");
    scorer.score(text, &boilerplate_ranges(text)).words
}

// ---------------------------------------------------------------------------
// Running and the table.

/// Seconds per iteration, for every sample, by (case index, size, hostile).
type Samples = BTreeMap<(usize, usize, bool), Vec<f64>>;

fn samples() -> &'static Mutex<Samples> {
    static SAMPLES: OnceLock<Mutex<Samples>> = OnceLock::new();
    SAMPLES.get_or_init(Default::default)
}

fn bench(c: &mut Criterion, cases: &[Case]) {
    for (i, case) in cases.iter().enumerate() {
        let mut g = c.benchmark_group(format!("{}/{}", case.parser, case.name));
        g.sampling_mode(SamplingMode::Flat);
        for size in case.sizes {
            for hostile in [false, true] {
                let id = BenchmarkId::new(if hostile { "hostile" } else { "normal" }, label(size));
                // Inputs are built only for the benchmarks the filter keeps.
                let mut input = None;
                g.bench_function(id, |b| {
                    let input = input.get_or_insert_with(|| {
                        if hostile {
                            (case.hostile)(size)
                        } else {
                            (case.normal)(size)
                        }
                    });
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        for _ in 0..iters {
                            black_box((case.run)(black_box(input)));
                        }
                        let elapsed = start.elapsed();
                        let per = elapsed.as_secs_f64() / iters as f64;
                        samples().lock().unwrap().entry((i, size, hostile)).or_default().push(per);
                        elapsed
                    })
                });
            }
        }
        g.finish();
    }
}

fn label(size: usize) -> String {
    if size >= 1024 * K {
        format!("{}M", size / (1024 * K))
    } else {
        format!("{}K", size / K)
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn human(secs: f64) -> String {
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{:.1} µs", secs * 1e6)
    }
}

fn print_table(cases: &[Case]) {
    let samples = samples().lock().unwrap();
    println!(
        "\n== hostile input: time on a pathological input / time on a normal one of the same size"
    );
    println!(
        "{:<15} {:<34} {:>5} {:>10} {:>10} {:>8} {:>7}",
        "parser", "pathological input", "size", "normal", "hostile", "ratio", "growth"
    );
    for (i, case) in cases.iter().enumerate() {
        let mut previous = None;
        for size in case.sizes {
            let (Some(normal), Some(hostile)) =
                (samples.get(&(i, size, false)), samples.get(&(i, size, true)))
            else {
                continue;
            };
            let (normal, hostile) = (median(normal), median(hostile));
            let ratio = hostile / normal;
            let growth = previous.map_or(String::new(), |p: f64| format!("{:.2}", ratio / p));
            println!(
                "{:<15} {:<34} {:>5} {:>10} {:>10} {:>8.2} {:>7}",
                case.parser,
                case.name,
                label(size),
                human(normal),
                human(hostile),
                ratio,
                growth
            );
            previous = Some(ratio);
        }
    }
}

fn main() {
    let cases = cases();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    bench(&mut c, &cases);
    c.final_summary();
    print_table(&cases);
}
