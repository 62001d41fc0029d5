//! `warden-client` and `wardenctl` against in-process doubles of the server: exit codes,
//! errors, retries, exports, waits and watches, one module per concern. One test binary
//! for all of them, so the workspace build links it once.

mod common;

mod cli;
mod export;
mod retry;
mod wait;
mod watch;
