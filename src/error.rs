//! The library's one error type.
//!
//! Every error names the input it came from (a path, a line, a record) and
//! what was wrong with it, so that a bulk run can report it in a row and go on.

use std::path::PathBuf;

/// A specialised `Result` for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed. The cause is part of the message
    /// (not a `source`), so that `to_string()` and `{:#}` both print it once.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// A line or record of an input could not be parsed.
    #[error("{input}:{line}: {message}")]
    Parse {
        /// The input's name (a path or `-`).
        input: String,
        /// 1-based line (or record) number.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// A lexicon file is not in the expected format.
    #[error("invalid lexicon {input}: {message}")]
    Lexicon {
        /// The lexicon's name.
        input: String,
        /// What was wrong.
        message: String,
    },
    /// A language-model file is not in the expected format.
    #[error("invalid language model {input}: {message}")]
    Model {
        /// The model's name.
        input: String,
        /// What was wrong.
        message: String,
    },
    /// An input is not something this tool can read (binary data, too large, ...).
    #[error("{input}: {message}")]
    Input {
        /// The input's name.
        input: String,
        /// What was wrong.
        message: String,
    },
    /// An error from the `fst` crate while building or opening a map.
    #[error("fst: {0}")]
    Fst(#[from] fst::Error),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), cause: source }
    }
}
