//! Integration tests of the RocksDB storage layer, driven through its public API only.
//! One test binary, so RocksDB is linked once.

mod apply;
mod audit_walk;
mod backup;
mod fixtures;
mod format;
mod journal;
mod paging;
mod persistence;
mod purge_guard;
mod snapshot;
mod suite;
mod tamper;
