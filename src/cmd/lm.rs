//! `unspin lm`: score text with, inspect, build and import n-gram language
//! models. Argument parsing and printing only; the work is in
//! [`unspin::lm`].

use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use anyhow::Context as _;
use clap::Subcommand;
use unspin::eval::{Rng, Spinner};
use unspin::lm::{self, LanguageModel, LmBuilder};
use unspin::Lexicon;

use super::{Global, EXIT_ERROR};

/// The `unspin lm` subcommands.
#[derive(Debug, Subcommand)]
pub enum LmCommand {
    /// Print the log10 probability of every word of TEXT
    ///
    /// TEXT is split into sentences and lower-cased words; each sentence is
    /// scored as `<s> words… </s>` with the embedded model (or --lm FILE).
    /// Prints `word<TAB>log10` per word, the sentence end as `</s>`, and a
    /// last line `total<TAB>log10`. Higher (closer to 0) is likelier, so of
    /// two phrasings the one with the higher total reads as more natural
    /// English. Unknown words get the model's floor and are marked `<unk>`
    /// in a third column.
    ///
    /// Examples:
    ///
    ///   unspin lm score "the civil war"
    ///
    ///   unspin lm score - < article.txt
    ///
    ///   unspin --lm my.lm lm score "the peace process"
    #[command(verbatim_doc_comment)]
    Score {
        /// The text to score, or `-` to read standard input.
        text: String,
    },
    /// Print the log10 probability of single n-grams
    ///
    /// Each NGRAM is 1 to 3 words; the last is the word scored, the others
    /// its context. Use `<s>` for a sentence start. Prints the n-gram, its
    /// log10 probability and the order of the n-gram that answered (3
    /// trigram, 2 bigram after backing off, 1 unigram, 0 unknown word).
    ///
    /// Examples:
    ///
    ///   unspin lm query "russian jets" "russian streams"
    ///
    ///   unspin lm query "<s> the"
    #[command(verbatim_doc_comment)]
    Query {
        /// The n-grams, each one argument of 1 to 3 words.
        #[arg(required = true)]
        ngrams: Vec<String>,
    },
    /// Print the perplexity of the model on text files
    ///
    /// Reads every FILE, and every file under a directory (recursively),
    /// and prints the sentences, tokens, unknown tokens (left out), the
    /// sum of log10 probabilities and the perplexity, 10^(-log10 / known
    /// tokens). Lower is better: compare models on held-out text, or texts
    /// on one model. With --spin, each file is first run through the
    /// synthetic spinner of `unspin eval`, to see how much less likely
    /// spun text looks.
    ///
    /// Examples:
    ///
    ///   unspin lm perplexity articles/
    ///
    ///   unspin --lm news.lm lm perplexity held-out.txt
    ///
    ///   unspin lm perplexity --spin 0.3 articles/
    #[command(verbatim_doc_comment)]
    Perplexity {
        /// Text files or directories of text files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Spin each file first, swapping about this share of its words
        /// (0 to 1) with the synthetic spinner.
        #[arg(long, value_name = "RATE")]
        spin: Option<f32>,
        /// Seed of the synthetic spinner.
        #[arg(long, value_name = "N", default_value_t = 1)]
        seed: u64,
    },
    /// Print the model's n-gram counts per order, size and origin
    ///
    /// Examples:
    ///
    ///   unspin lm stats
    ///
    ///   unspin --lm my.lm lm stats
    #[command(verbatim_doc_comment)]
    Stats,
    /// Build a trigram model from your own clean text
    ///
    /// Reads every CORPUS file, and every file under a CORPUS directory
    /// (recursively), splits it into sentences of lower-cased words and
    /// estimates an interpolated modified Kneser-Ney trigram model, stored
    /// in back-off form. Use it with `--lm FILE` on any command. A file that
    /// cannot be read is reported and skipped; the exit code is then 2.
    ///
    /// A corpus of a few million words is too small to stand alone: with
    /// --mix-with, its model is mixed into a CMU Sphinx model, so that the
    /// result knows the corpus's names and phrases and still knows general
    /// English. Give --mix-with twice with the two models the embedded one
    /// is made from (en-us.lm.bin, in Debian's pocketsphinx-en-us and in
    /// PyPI's pocketsphinx wheel; language-model.lm.bin, in PyPI's
    /// SpeechRecognition) to mix into their even mixture, as embedded. Then
    /// fit the detector's calibration to it with `unspin --lm FILE
    /// calibrate`, on clean text the model was not built from.
    ///
    /// Examples:
    ///
    ///   unspin lm build corpus/ -o news.lm
    ///
    ///   unspin lm build a.txt b.txt --min-count 2 -o small.lm
    ///
    ///   unspin lm build my-news/ --mix-with en-us.lm.bin \
    ///       --mix-with language-model.lm.bin -o my-news.lm
    ///   unspin --lm my-news.lm calibrate held-out-news/ -o my-news.cal.json
    ///   unspin --lm my-news.lm restore --calibration my-news.cal.json page.txt
    #[command(verbatim_doc_comment)]
    Build {
        /// Text files or directories of text files.
        #[arg(required = true)]
        corpus: Vec<PathBuf>,
        /// Where to write the model.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Drop bigrams and trigrams seen fewer than N times (1 keeps all);
        /// makes the model smaller at some cost in accuracy.
        #[arg(long, value_name = "N", default_value_t = 1)]
        min_count: u32,
        /// A description stored in the model (shown by `lm stats`).
        #[arg(long, value_name = "TEXT")]
        source: Option<String>,
        /// Mix the corpus's model into this CMU Sphinx trie model
        /// (`en-us.lm.bin`), or into the even mixture of two given so; see
        /// above.
        #[arg(long, value_name = "SPHINX_LM", num_args = 1, action = clap::ArgAction::Append)]
        mix_with: Vec<PathBuf>,
        /// With --mix-with: the corpus's weight in the mix, above 0 and at
        /// most 1 (the Sphinx model gets the rest) [default: 0.1].
        #[arg(long, value_name = "W")]
        mix_weight: Option<f64>,
    },
    /// Convert a CMU Sphinx trie language model (`*.lm.bin`) to our format
    ///
    /// With --mix-with, two Sphinx models are mixed into one (linear
    /// interpolation, written in back-off form): the embedded model is the
    /// even mix of the US-English model in Debian's pocketsphinx-en-us and
    /// the one in PyPI's SpeechRecognition (see scripts/lm/convert).
    ///
    /// Examples:
    ///
    ///   unspin lm import-sphinx en-us.lm.bin -o en-us.unspinlm
    ///
    ///   unspin lm import-sphinx en-us.lm.bin --mix-with language-model.lm.bin \
    ///       --mix-weight 0.5 -o lexicon/lm/en-us.unspinlm
    #[command(verbatim_doc_comment)]
    ImportSphinx {
        /// The Sphinx binary model.
        input: PathBuf,
        /// Where to write the converted model.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// A description stored in the model (shown by `lm stats`).
        #[arg(long, value_name = "TEXT")]
        source: Option<String>,
        /// Mix INPUT with this second CMU Sphinx trie model.
        #[arg(long, value_name = "SPHINX_LM")]
        mix_with: Option<PathBuf>,
        /// With --mix-with: INPUT's weight in the mix, above 0 and below 1
        /// (the second model gets the rest) [default: 0.5].
        #[arg(long, value_name = "W")]
        mix_weight: Option<f64>,
    },
}

/// The model every command should use: the one given with `--lm FILE`, or
/// the embedded one. A user model is opened once and lives as long as the
/// process, so callers can share the `&'static` reference with threads.
pub fn load(global_lm: Option<&Path>) -> anyhow::Result<&'static LanguageModel> {
    let Some(path) = global_lm else {
        return Ok(LanguageModel::try_embedded()?);
    };
    static USER: OnceLock<(PathBuf, &'static LanguageModel)> = OnceLock::new();
    if let Some((p, lm)) = USER.get() {
        if p == path {
            return Ok(lm);
        }
    }
    let lm: &'static LanguageModel = Box::leak(Box::new(LanguageModel::open(path)?));
    let _ = USER.set((path.to_path_buf(), lm));
    Ok(lm)
}

/// Runs one `unspin lm` subcommand.
pub fn run(global: &Global, cmd: LmCommand) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let code = match cmd {
        LmCommand::Score { text } => {
            let lm = load(global.lm.as_deref())?;
            let text = if text == "-" {
                let mut bytes = Vec::new();
                std::io::stdin().read_to_end(&mut bytes).context("reading standard input")?;
                // Text with a stray Latin-1 byte is still text worth scoring.
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                text
            };
            score(lm, &text, &mut out)?;
            ExitCode::SUCCESS
        }
        LmCommand::Query { ngrams } => {
            let lm = load(global.lm.as_deref())?;
            for ngram in &ngrams {
                let words: Vec<&str> = ngram.split_whitespace().collect();
                if words.is_empty() || words.len() > 3 {
                    anyhow::bail!("{ngram:?}: an n-gram is 1 to 3 words");
                }
                let id = |i: usize| if i < words.len() { lm.id(words[i]) } else { lm.unk() };
                let n = words.len();
                let (w2, w1) = match n {
                    3 => (id(0), id(1)),
                    2 => (lm.unk(), id(0)),
                    _ => (lm.unk(), lm.unk()),
                };
                let hit = lm.lookup(w2, w1, id(n - 1));
                writeln!(out, "{ngram}\t{:.4}\t{}", hit.log10, hit.order)?;
            }
            ExitCode::SUCCESS
        }
        LmCommand::Perplexity { files, spin, seed } => {
            let lm = load(global.lm.as_deref())?;
            if spin.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
                anyhow::bail!("--spin takes a rate from 0 to 1");
            }
            let spinner = spin.map(|_| Spinner::from_lexicon(&Lexicon::embedded()));
            let mut rng = Rng::new(seed);
            let mut paths = Vec::new();
            let mut failed = false;
            for path in &files {
                if let Err(e) = collect_files(path, &mut paths) {
                    eprintln!("unspin: {}: {e}", path.display());
                    failed = true;
                }
            }
            let mut total = lm::Perplexity::default();
            for (path, _) in &paths {
                match std::fs::read(path) {
                    Ok(bytes) => {
                        let text = String::from_utf8_lossy(&bytes);
                        let text = match (&spinner, spin) {
                            (Some(s), Some(rate)) => s.spin(&text, rate, &mut rng).text.into(),
                            _ => text,
                        };
                        total.add(&lm.perplexity(&text));
                    }
                    Err(e) => {
                        eprintln!("unspin: {}: {e}", path.display());
                        failed = true;
                    }
                }
            }
            writeln!(out, "files\t{}", paths.len())?;
            writeln!(out, "sentences\t{}", total.sentences)?;
            writeln!(out, "tokens\t{}", total.tokens)?;
            writeln!(out, "oov\t{}", total.oov)?;
            writeln!(out, "log10\t{:.4}", total.log10)?;
            writeln!(out, "perplexity\t{:.2}", total.perplexity())?;
            if failed {
                ExitCode::from(EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            }
        }
        LmCommand::Stats => {
            let lm = load(global.lm.as_deref())?;
            let s = lm.stats();
            writeln!(out, "model\t{}", s.name)?;
            writeln!(out, "source\t{}", s.source)?;
            writeln!(out, "order\t{}", s.order)?;
            for (i, c) in s.counts.iter().enumerate() {
                writeln!(out, "{}-grams\t{c}", i + 1)?;
            }
            writeln!(out, "bytes\t{}", s.bytes)?;
            writeln!(out, "ngram-table-bytes\t{}", s.ngram_table_bytes)?;
            writeln!(out, "unknown-word-log10\t{:.4}", s.unk_log10)?;
            ExitCode::SUCCESS
        }
        LmCommand::Build { corpus, output, min_count, source, mix_with, mix_weight } => {
            if mix_with.len() > 2 {
                anyhow::bail!("--mix-with: give one or two CMU Sphinx models");
            }
            let mix = match (mix_with.is_empty(), mix_weight) {
                (true, Some(_)) => anyhow::bail!("--mix-weight needs --mix-with"),
                (true, None) => None,
                (false, w) => {
                    let w = w.unwrap_or(DEFAULT_MIX_WEIGHT);
                    if !(w > 0.0 && w <= 1.0) {
                        anyhow::bail!("--mix-weight {w}: give a weight above 0 and at most 1");
                    }
                    Some((mix_with, w))
                }
            };
            build(&corpus, &output, min_count, source, mix)?
        }
        LmCommand::ImportSphinx { input, output, source, mix_with, mix_weight } => {
            let weight = match (&mix_with, mix_weight) {
                (None, Some(_)) => anyhow::bail!("--mix-weight needs --mix-with"),
                (_, w) => w.unwrap_or(0.5),
            };
            if !(weight > 0.0 && weight < 1.0) {
                anyhow::bail!("--mix-weight {weight}: give a weight above 0 and below 1");
            }
            let source = source.unwrap_or_else(|| match &mix_with {
                Some(other) => format!(
                    "CMU Sphinx trie models {} (weight {weight}) and {} mixed",
                    input.display(),
                    other.display()
                ),
                None => format!("CMU Sphinx trie model {}", input.display()),
            });
            let conv = import_sphinx(&input, &source)?;
            let conv = match &mix_with {
                Some(other) => {
                    let b = import_sphinx(other, &source)?;
                    eprintln!("mixing…");
                    lm::mix::mix(&conv, &b, weight, &source)?
                }
                None => conv,
            };
            let file = std::fs::File::create(&output)
                .with_context(|| format!("creating {}", output.display()))?;
            let n = conv
                .write(BufWriter::new(file))
                .with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "wrote {} ({n} bytes: {} words, {} bigrams, {} trigrams)",
                output.display(),
                conv.parts.words.len(),
                conv.bigrams.len(),
                conv.trigrams.len()
            );
            ExitCode::SUCCESS
        }
    };
    out.flush()?;
    Ok(code)
}

/// Prints per-word scores of every sentence of `text`, then the total.
fn score(lm: &LanguageModel, text: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let mut total = 0.0f64;
    for sentence in lm::words::Sentences::new(text) {
        let words: Vec<&str> = sentence.iter().map(String::as_str).collect();
        let scores = lm.score_words(&words);
        let mut ids = Vec::new();
        for (i, &p) in scores.iter().enumerate() {
            total += p as f64;
            let Some(&word) = words.get(i) else {
                writeln!(out, "</s>\t{p:.4}")?;
                continue;
            };
            ids.clear();
            lm.ids(word, &mut ids);
            if ids.contains(&lm.unk()) {
                writeln!(out, "{word}\t{p:.4}\t<unk>")?;
            } else {
                writeln!(out, "{word}\t{p:.4}")?;
            }
        }
    }
    writeln!(out, "total\t{total:.4}")?;
    Ok(())
}

/// `unspin lm build`: reads the corpus, reporting and skipping bad files.
/// The corpus's weight in `lm build --mix-with`: chosen on the calibration
/// split of the news corpus (docs/evaluation-rounds.md, round 8), where
/// 0.05, 0.1 and 0.15 did about as well and 0.3 and 0.5 worse.
const DEFAULT_MIX_WEIGHT: f64 = 0.1;

/// Reads a CMU Sphinx trie model for `lm import-sphinx`, with its warnings,
/// and converts it to our model's parts, `source` as its description.
fn import_sphinx(path: &Path, source: &str) -> anyhow::Result<lm::format::ModelData> {
    let (name, model) = read_sphinx(path)?;
    if model.unsorted_nodes > 0 {
        eprintln!(
            "unspin: warning: {name}: {} trie nodes have unsorted children",
            model.unsorted_nodes
        );
    }
    if model.unreachable > 0 {
        eprintln!(
            "unspin: note: {name}: {} n-grams are unreachable by sphinxbase's search and left \
             out, as sphinxbase leaves them out",
            model.unreachable
        );
    }
    Ok(model.to_parts(source)?)
}

/// Reads and parses a CMU Sphinx trie model (`lm import-sphinx`, `lm build
/// --mix-with`); returns its name (the path) and the model.
fn read_sphinx(path: &Path) -> anyhow::Result<(String, lm::sphinx::SphinxModel)> {
    let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let name = path.display().to_string();
    // Two likely mix-ups, named for what they are.
    if bytes.starts_with(lm::format::MAGIC) {
        anyhow::bail!(
            "{name}: an unspin model, which keeps only fingerprints of its n-grams; give the \
             CMU Sphinx trie model the embedded one is made from (en-us.lm.bin)"
        );
    }
    if String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).trim_start().starts_with("\\data\\")
    {
        anyhow::bail!("{name}: an ARPA text model; give a CMU Sphinx trie model (en-us.lm.bin)");
    }
    let model = lm::sphinx::SphinxModel::parse(&name, &bytes)?;
    Ok((name, model))
}

fn build(
    corpus: &[PathBuf],
    output: &Path,
    min_count: u32,
    source: Option<String>,
    mix: Option<(Vec<PathBuf>, f64)>,
) -> anyhow::Result<ExitCode> {
    // A bad base model is found before the corpus is read.
    let base = match &mix {
        Some((paths, _)) => {
            let mut models = Vec::new();
            for path in paths {
                let (name, model) = read_sphinx(path)?;
                models.push(model.to_parts(&format!("CMU Sphinx trie model {name}"))?);
            }
            let b = models.pop().expect("one or two models");
            Some(match models.pop() {
                Some(a) => {
                    eprintln!("mixing the two CMU Sphinx models…");
                    lm::mix::mix(&a, &b, 0.5, "the two CMU Sphinx models mixed")?
                }
                None => b,
            })
        }
        None => None,
    };
    let mut files = Vec::new();
    let mut failed = false;
    for path in corpus {
        if let Err(e) = collect_files(path, &mut files) {
            eprintln!("unspin: {}: {e}", path.display());
            failed = true;
        }
    }
    let total_bytes: u64 = files.iter().map(|(_, len)| len).sum();
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total_bytes);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} reading {bytes}/{total_bytes} [{wide_bar}] {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut builder = LmBuilder::new();
    builder.min_count(min_count);
    for (path, len) in &files {
        match std::fs::read(path) {
            Ok(bytes) if bytes.contains(&0) => {
                bar.suspend(|| eprintln!("unspin: {}: binary file, skipped", path.display()));
                failed = true;
            }
            Ok(bytes) => builder.add_text(&String::from_utf8_lossy(&bytes)),
            Err(e) => {
                bar.suspend(|| eprintln!("unspin: {}: {e}", path.display()));
                failed = true;
            }
        }
        bar.inc(*len);
    }
    bar.finish_and_clear();
    if builder.tokens() == 0 {
        anyhow::bail!("no words found in the corpus");
    }
    let source = source.unwrap_or_else(|| {
        let built = format!(
            "built by unspin lm build from {} files ({} sentences, {} words), min count {}",
            files.len(),
            builder.sentences(),
            builder.tokens(),
            min_count
        );
        match &mix {
            Some((paths, w)) => {
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                format!("{built}, mixed with weight {w} into {}", names.join(" + "))
            }
            None => built,
        }
    });
    eprintln!("estimating from {} words…", builder.tokens());
    let bytes = match (base, &mix) {
        (Some(base), Some((_, w))) => {
            let own = builder.estimate(&source)?;
            eprintln!("mixing…");
            lm::mix::mix(&own, &base, *w, &source)?.to_bytes()?
        }
        _ => builder.build(&source)?,
    };
    std::fs::write(output, &bytes).with_context(|| format!("writing {}", output.display()))?;
    eprintln!("wrote {} ({} bytes)", output.display(), bytes.len());
    Ok(if failed { ExitCode::from(EXIT_ERROR) } else { ExitCode::SUCCESS })
}

/// Adds `path` (a file) or every file under it (a directory, recursively,
/// in name order so that builds are reproducible) to `files`.
fn collect_files(path: &Path, files: &mut Vec<(PathBuf, u64)>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        files.push((path.to_path_buf(), meta.len()));
        return Ok(());
    }
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        collect_files(&entry, files)?;
    }
    Ok(())
}
