//! The node's API errors and their one mapping to gRPC status codes.

use std::time::Duration;

use warden_core::{Code, Rejection};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Refused by validation or by `apply()`; recorded in the audit chain.
    #[error("{}", .0.message)]
    Rejected(Rejection),
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("invalid {field}: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    #[error("the cluster is not initialized: run `wardenctl cluster init` on one node")]
    NotInitialized,
    #[error("the cluster is already initialized")]
    AlreadyInitialized,
    #[error(
        "this node was started without a bootstrap token (bootstrap.token_file or WARDEN_BOOTSTRAP_TOKEN), so it cannot start a cluster; start the cluster on a node that has one, or restart this one with it"
    )]
    NoBootstrapToken,
    #[error("membership change refused: {0}")]
    Membership(String),
    #[error("no leader is known; the cluster may have lost its quorum")]
    NoLeader,
    #[error(
        "not committed within {}: no quorum reachable; the write may still commit, retry with the same idempotency key",
        humantime::format_duration(*waited)
    )]
    NoQuorum { waited: Duration },
    #[error(
        "could not confirm the commit index within {}: no quorum reachable",
        humantime::format_duration(*waited)
    )]
    ReadIndexTimeout { waited: Duration },
    /// A command newer than the cluster's protocol, kept out of the log (older members
    /// could not read it).
    #[error("{}", .0.message)]
    ClusterProtocol(Rejection),
    #[error("the leader could not be reached: {0}")]
    LeaderUnreachable(String),
    #[error("this node is shutting down")]
    Stopped,
    #[error("storage: {0}")]
    Storage(#[from] warden_raft::Error),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("internal: {0}")]
    Internal(String),
    #[error(
        "this node has no audit signing key (audit.signing_key_file), so it signs no checkpoints"
    )]
    NoSigningKey,
    #[error("the audit chain is empty: there is no head to sign yet")]
    EmptyAuditChain,
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> tonic::Status {
        let message = error.to_string();
        let code = match &error {
            Error::Rejected(rejection) => match rejection.code {
                Code::InvalidArgument => tonic::Code::InvalidArgument,
                Code::NotFound => tonic::Code::NotFound,
                Code::AlreadyExists => tonic::Code::AlreadyExists,
                Code::FailedPrecondition => tonic::Code::FailedPrecondition,
                Code::Aborted => tonic::Code::Aborted,
                Code::ResourceExhausted => tonic::Code::ResourceExhausted,
                Code::PermissionDenied => tonic::Code::PermissionDenied,
                Code::Unauthenticated => tonic::Code::Unauthenticated,
            },
            Error::NotFound { .. } => tonic::Code::NotFound,
            Error::InvalidArgument { .. } => tonic::Code::InvalidArgument,
            Error::NotInitialized
            | Error::AlreadyInitialized
            | Error::NoBootstrapToken
            | Error::Membership(_)
            | Error::ClusterProtocol(_)
            | Error::NoSigningKey
            | Error::EmptyAuditChain => tonic::Code::FailedPrecondition,
            Error::NoLeader
            | Error::NoQuorum { .. }
            | Error::ReadIndexTimeout { .. }
            | Error::LeaderUnreachable(_)
            | Error::Stopped => tonic::Code::Unavailable,
            Error::Unauthenticated(_) => tonic::Code::Unauthenticated,
            Error::Storage(_) | Error::Internal(_) => tonic::Code::Internal,
        };
        tonic::Status::new(code, message)
    }
}
