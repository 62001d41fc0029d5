//! Errors of the storage layer. Inside openraft's storage traits each one becomes an
//! `openraft::StorageError`, which stops the node: a failed write is never retried.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to open rocksdb at {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    #[error(
        "the data directory {} holds storage format {found}, newer than the {supported} this \
         warden reads: run the warden version that wrote it, or a newer one",
        path.display()
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "the cluster runs protocol {running}, newer than protocol {speaks}, which this warden \
         speaks: run a build that speaks protocol {running} or newer (`warden --version` names \
         its protocol)"
    )]
    NewerProtocol { running: u32, speaks: u32 },
    #[error(
        "log entry {index} holds {action}, a protocol {needs} command that this warden \
         (protocol {speaks}) cannot apply: run a build that speaks protocol {needs} or newer"
    )]
    NewerCommand {
        index: u64,
        action: &'static str,
        needs: u32,
        speaks: u32,
    },
    #[error("the backup is refused at byte {offset}: {reason}")]
    Backup { offset: u64, reason: String },
    #[error("column family {0} is missing")]
    MissingColumnFamily(&'static str),
    #[error("failed to read {what}")]
    Read {
        what: String,
        #[source]
        source: rocksdb::Error,
    },
    #[error("failed to write {what}")]
    Write {
        what: String,
        #[source]
        source: rocksdb::Error,
    },
    /// A stored value (or a received snapshot) that does not decode or does not fit
    /// where it was found.
    #[error("{what} is corrupt: {reason}")]
    Corrupt { what: String, reason: String },
    /// A log purge up to `index` waited for a snapshot install that failed.
    #[error("the snapshot install the log purge up to {index} waits for failed")]
    SnapshotInstallFailed { index: u64 },
    #[error("failed to encode {what}: {reason}")]
    Encode { what: String, reason: String },
    /// A write failed on purpose by a failpoint (`failpoints` feature, tests only).
    #[cfg(feature = "failpoints")]
    #[error("failpoint {failpoint} failed the write")]
    Injected { failpoint: &'static str },
}
