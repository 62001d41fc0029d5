//! Nothing to link: this crate holds the repository's tidy tests (`tests/tidy.rs`), which
//! read the source tree and the docs (ARCHITECTURE.md, docs/) and fail when they disagree.
