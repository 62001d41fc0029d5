//! Real clusters under faults in CI: the fixed scenarios and a few random seeds
//! (`scenarios`), membership changes under load (`membership`), full disks (`disk_full`).
//! One test binary for all of them, so the workspace build links it once; nextest runs
//! every test in its own process, one at a time (`.config/nextest.toml`).

mod common;

mod disk_full;
mod membership;
mod scenarios;
