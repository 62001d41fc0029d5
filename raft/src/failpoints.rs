//! The storage layer's named failpoints, for the crash and error tests in
//! tests/failpoints/. They are live only with the `failpoints` feature; without it each
//! one compiles to nothing.
//!
//! Configured with `return`, a failpoint fails its write with [`Error::Injected`], returned
//! from the same function a RocksDB error comes out of, so it takes the same path to
//! openraft and stops the node as a real failure does. Configured with `panic`, it stands
//! for a crash at that point in an in-process test: the writing task unwinds. Configured
//! with `return(abort)`, it aborts the whole process there, as a power cut or SIGKILL
//! would: what a `warden` process run by the chaos harness uses (see the node's
//! `failpoints` module, which reads them from `FAILPOINTS`).
//!
//! [`Error::Injected`]: crate::Error

/// Before the synced write of appended log entries.
pub const LOG_APPEND_BEFORE_SYNC: &str = "raft::log::append::before_sync";
/// After the synced write of appended log entries, before openraft is told they are
/// durable.
pub const LOG_APPEND_AFTER_SYNC: &str = "raft::log::append::after_sync";
/// Before the write of an applied batch. The batch holds the domain writes together with
/// the applied log id, so there is no point between applying and recording the applied
/// index.
pub const APPLY_BEFORE_WRITE: &str = "raft::apply::before_write";
/// After the write of an applied batch, before its outcomes are returned.
pub const APPLY_AFTER_WRITE: &str = "raft::apply::after_write";
/// Before the synced write that installs a snapshot received from the leader.
pub const SNAPSHOT_INSTALL_BEFORE_WRITE: &str = "raft::snapshot::install::before_write";
/// After the snapshot install is written, before the state machine's cache follows it.
pub const SNAPSHOT_INSTALL_AFTER_WRITE: &str = "raft::snapshot::install::after_write";

/// The `return` argument that makes a failpoint abort the process: `return(abort)`.
pub const ABORT: &str = "abort";

/// Every failpoint, for whoever configures them by name.
pub const ALL: [&str; 6] = [
    LOG_APPEND_BEFORE_SYNC,
    LOG_APPEND_AFTER_SYNC,
    APPLY_BEFORE_WRITE,
    APPLY_AFTER_WRITE,
    SNAPSHOT_INSTALL_BEFORE_WRITE,
    SNAPSHOT_INSTALL_AFTER_WRITE,
];

/// Evaluates the failpoint named by the constant `$name` of this module, in a function
/// returning `Result<_, Error>`.
macro_rules! failpoint {
    ($name:ident) => {
        fail::fail_point!($crate::failpoints::$name, |action: Option<String>| {
            if action.as_deref() == Some($crate::failpoints::ABORT) {
                std::process::abort();
            }
            Err($crate::error::Error::Injected {
                failpoint: $crate::failpoints::$name,
            })
        })
    };
}

pub(crate) use failpoint;
