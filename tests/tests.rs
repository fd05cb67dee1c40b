//! The integration tests: one binary (the library is linked once), with a
//! module per area. Fixtures are in `tests/data/`; tests that need the
//! evaluation corpus (`../shared/data`) skip when it is absent.

mod calibrate;
mod cli_bulk;
mod engine;
mod input;
mod interrupt;
mod languages;
mod lexicon;
mod lm;
mod readme;
mod regressions;
