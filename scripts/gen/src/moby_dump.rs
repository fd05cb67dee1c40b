//! Prints the Moby thesaurus, as shipped by the crate `thesaurus-moby`
//! (public domain word list; MIT crate), one entry per line:
//! `headword|synonym|synonym|...`, lower-cased by the crate.
//!
//! `scripts/build-lexicon` reads this to build the shipped lexicon, so the
//! thesaurus comes from crates.io by name and version, not from a copy.

use std::io::Write;

fn main() -> std::io::Result<()> {
    let text = thesaurus_moby::uncompress();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()
}
