//! Build script: the SHA-256 of the embedded lexicon, computed once here
//! rather than at every run (reports carry a lexicon content hash, and
//! hashing 30 MB costs about 0.15 s per process).

use sha2::{Digest, Sha256};

fn main() {
    let path = "lexicon/unspin.lex";
    println!("cargo:rerun-if-changed={path}");
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=UNSPIN_EMBEDDED_LEXICON_SHA256={hex}");
}
