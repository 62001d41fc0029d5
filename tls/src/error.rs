//! Errors of certificate issuance, loading and identity checks.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("generating a certificate: {0}")]
    Generate(#[source] rcgen::Error),
    #[error("{what} is not a valid PEM {kind}: {message}")]
    Parse {
        what: String,
        kind: &'static str,
        message: String,
    },
    #[error("{0:?} is neither an IP address nor a DNS name")]
    BadHost(String),
    #[error("the certificate names several nodes ({0:?}); a node certificate names exactly one")]
    SeveralNodes(Vec<u64>),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} already exists; remove it first to issue a new one")]
    Exists(PathBuf),
}
