//! Plumbing shared by the commands: loading the engine, reading inputs,
//! colour.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::ValueEnum;
use unspin::decode::{Decoder, Model};
use unspin::detect::Scorer;
use unspin::restore::Restorer;

use super::Global;

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl Color {
    /// Whether to colour standard output.
    pub fn enabled(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
        }
    }
}

/// The decoder the global flags ask for.
pub fn decoder(global: &Global) -> anyhow::Result<Decoder> {
    let lexicon = super::lexicon::load(global)?;
    let lm = super::lm::load(global.lm.as_deref())?;
    Ok(Decoder::new(lexicon, Model::Static(lm)))
}

/// The scorer the global flags ask for.
pub fn scorer(global: &Global) -> anyhow::Result<Scorer> {
    Ok(Scorer::new(decoder(global)?))
}

/// The restorer the global flags ask for.
pub fn restorer(global: &Global) -> anyhow::Result<Restorer> {
    Ok(Restorer::new(decoder(global)?))
}

/// One input read as text, or why it could not be.
pub struct Doc {
    /// The input's name.
    pub source: String,
    /// The text, or an error message naming the input.
    pub text: Result<String, String>,
    /// Non-fatal problems (lossy decoding).
    pub warnings: Vec<String>,
}

/// Reads each path (`-` = stdin) as text: invalid UTF-8 is decoded lossily
/// with a warning, binary data is an error.
pub fn read_docs(paths: &[PathBuf]) -> impl Iterator<Item = Doc> + '_ {
    paths.iter().map(|p| {
        let source = p.display().to_string();
        let bytes = if source == "-" {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map(|_| buf)
        } else {
            std::fs::read(p)
        };
        match bytes {
            Err(e) => Doc { text: Err(format!("{source}: {e}")), source, warnings: vec![] },
            Ok(bytes) => decode_text(source, bytes),
        }
    })
}

fn decode_text(source: String, bytes: Vec<u8>) -> Doc {
    let head = &bytes[..bytes.len().min(8192)];
    let controls = head.iter().filter(|&&b| b < 9 || (b > 13 && b < 32)).count();
    if head.contains(&0) || controls * 10 > head.len().max(1) {
        return Doc { text: Err(format!("{source}: binary file, not text")), source, warnings: vec![] };
    }
    match String::from_utf8(bytes) {
        Ok(s) => Doc { source, text: Ok(s), warnings: vec![] },
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let s = String::from_utf8_lossy(e.as_bytes()).into_owned();
            Doc { source, text: Ok(s), warnings: vec![format!("invalid UTF-8 (first at byte {at}), decoded lossily")] }
        }
    }
}
