//! # unspin
//!
//! Finds text that was run through an article spinner and restores the likely
//! original.
//!
//! The data flow is the module layout:
//!
//! * [`tokenize`](mod@tokenize): words with byte offsets into the original input;
//! * [`lexicon`]: spun phrase → candidate originals, an FST built from general
//!   thesauri (Moby, WordNet) and embedded in the binary; its scanner finds
//!   every lexicon phrase in a token stream;
//! * [`lm`]: an n-gram language model of clean English that says which
//!   candidate fits the context;
//! * [`embed`]: word vectors (GloVe) that say which candidate fits the
//!   topic of the rest of the document, beyond the trigram model's reach;
//! * [`language`]: whether a document is English at all (others are left
//!   alone).
#![deny(missing_docs)]

pub mod decode;
pub mod detect;
pub mod embed;
pub mod error;
pub mod eval;
pub mod input;
pub mod language;
pub mod lexicon;
pub mod lm;
pub mod restore;
pub mod tokenize;

pub use error::{Error, Result};
pub use lexicon::{Candidate, Lexicon};
pub use lm::LanguageModel;
pub use tokenize::{tokenize, Token, TokenKind};
