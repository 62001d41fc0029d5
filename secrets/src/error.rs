//! Errors of loading the master key and of wrapping, unwrapping, sealing and opening.
//!
//! No variant carries plaintext or key bytes: they name the file, variable, workspace or
//! context that failed, so an error can be logged or returned to a caller as it is.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("master key file {} does not exist", path.display())]
    KeyFileMissing { path: PathBuf },

    #[error("failed to read master key file {}", path.display())]
    KeyFileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("master key file {} is not a regular file", path.display())]
    KeyFileNotRegular { path: PathBuf },

    /// The key file may be read or written by group or others (unix only).
    #[error(
        "master key file {} has mode {mode:04o}: it must not be accessible by group or others (chmod 600)",
        path.display()
    )]
    KeyFilePermissions { path: PathBuf, mode: u32 },

    #[error("master key file {} already exists: refusing to overwrite it", path.display())]
    KeyFileExists { path: PathBuf },

    /// Creating, writing or syncing a new key file failed. The file may be left incomplete.
    #[error("failed to write master key file {} (delete it before retrying)", path.display())]
    KeyFileWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The master key must not be stored with the data it protects: a copy of the data
    /// directory (a backup, a snapshot) would otherwise carry its own key.
    #[error(
        "master key file {} is inside the data directory {}: keep it outside",
        key_file.display(),
        data_dir.display()
    )]
    KeyInsideDataDir {
        key_file: PathBuf,
        data_dir: PathBuf,
    },

    #[error("failed to resolve path {}", path.display())]
    Canonicalize {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("environment variable {name} is not set")]
    EnvMissing { name: String },

    #[error("environment variable {name} is not valid unicode")]
    EnvNotUnicode { name: String },

    /// `origin` names the source: `file <path>` or `environment variable <name>`.
    #[error("master key from {origin} {reason}")]
    KeyEncoding {
        origin: String,
        reason: &'static str,
    },

    #[error("master key from {origin} decodes ({encoding}) to {len} bytes, expected 32")]
    KeyLength {
        origin: String,
        encoding: &'static str,
        len: usize,
    },

    #[error("the operating system's random number generator failed")]
    Randomness(#[source] rand::rand_core::OsError),

    #[error(
        "workspace key for workspace {workspace_id} was wrapped by master key {wrapped_by} but the loaded master key is {loaded}"
    )]
    MasterKeyMismatch {
        workspace_id: String,
        wrapped_by: String,
        loaded: String,
    },

    #[error(
        "workspace key for workspace {workspace_id} failed authentication (wrong workspace or tampered)"
    )]
    WrappedKeyAuthentication { workspace_id: String },

    #[error("workspace key for workspace {workspace_id} is malformed: {reason}")]
    MalformedWrappedKey {
        workspace_id: String,
        reason: String,
    },

    #[error("sealed secret for {context} failed authentication (wrong key or tampered)")]
    SealedSecretAuthentication { context: String },

    #[error("sealed secret for {context} is malformed: {reason}")]
    MalformedSealedSecret { context: String, reason: String },

    #[error("sealed secret for {context} is not valid utf-8")]
    SecretNotUtf8 { context: String },

    /// The AEAD refuses plaintexts beyond its limit (about 256 GiB). `what` names the
    /// plaintext, never its content.
    #[error("{what} is too large to encrypt ({len} bytes)")]
    PlaintextTooLarge { what: String, len: usize },
}
