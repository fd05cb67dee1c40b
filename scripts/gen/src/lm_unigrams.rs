//! Prints the embedded language model's vocabulary with each word's
//! unigram log10 probability (`word<TAB>-4.21`). `scripts/build-lexicon`
//! uses it as the frequency prior P(original) that ranks a spun phrase's
//! candidates, and to drop originals the model cannot score.

use std::io::Write;

fn main() -> std::io::Result<()> {
    let lm = unspin::LanguageModel::embedded();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let unk = lm.unk();
    for id in 0..lm.vocab_len() as u32 {
        let word = lm.word(id);
        if word.starts_with('<') {
            continue;
        }
        // An unknown context leaves the plain unigram probability.
        writeln!(out, "{word}\t{:.4}", lm.log10_prob(unk, unk, id))?;
    }
    out.flush()
}
