//! Writes a synthetically spun copy of a corpus, for timing `restore` on
//! the text it is meant for (`scripts/bench`): every `*.txt` file under
//! SRC, spun by the evaluation's spinner at RATE, to the same relative
//! path under DST.
//!
//!     spin-corpus SRC DST RATE [SEED]

use std::path::{Path, PathBuf};

use unspin::eval::{Rng, Spinner};

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "txt") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, dst, rate, rest @ ..] = args.as_slice() else {
        return Err("usage: spin-corpus SRC DST RATE [SEED]".into());
    };
    let rate: f32 = rate.parse()?;
    let seed: u64 = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(2026);
    let spinner = Spinner::from_lexicon(&unspin::Lexicon::embedded());
    let mut paths = Vec::new();
    files(Path::new(src), &mut paths)?;
    paths.sort();
    for (i, path) in paths.iter().enumerate() {
        let bytes = std::fs::read(path)?;
        let text = String::from_utf8_lossy(&bytes);
        let spun = spinner.spin(&text, rate, &mut Rng::new(seed ^ i as u64));
        let target = Path::new(dst).join(path.strip_prefix(src)?);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&target, spun.text)?;
    }
    eprintln!("spin-corpus: {} files spun at {rate} into {dst}", paths.len());
    Ok(())
}
