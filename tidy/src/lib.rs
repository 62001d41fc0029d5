//! Nothing to link: this crate holds the repository's tidy tests (`tests/tidy.rs`), which
//! read the source tree and ARCHITECTURE.md and fail when they disagree.
