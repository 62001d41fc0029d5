//! The errors returned by the client.

use tonic::Code;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `Client::connect` was given an empty list of endpoints.
    #[error("no endpoints given")]
    NoEndpoints,

    /// The token given to the client cannot be sent (empty, or not ASCII).
    #[error("invalid token: {0}")]
    InvalidToken(String),

    /// An endpoint is not a usable `host:port` or `http://host:port`.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },

    /// Every attempt failed with UNAVAILABLE or a connection error; `last` describes the
    /// final failure.
    #[error("unavailable after {attempts} attempts: {last}")]
    Unavailable { attempts: u32, last: String },

    /// A write that must not run twice failed in a way that leaves open whether it took
    /// effect: the node went away mid-call, or answered UNAVAILABLE after the write may
    /// already have been proposed. It was not sent again; read the state (the task, the
    /// agent) before deciding to repeat it.
    #[error(
        "outcome unknown after {attempts} attempts, not retried because it may have taken effect: {last}"
    )]
    OutcomeUnknown { attempts: u32, last: String },

    /// A resumed audit export did not continue at the expected index: records between
    /// `expected` and `received` are missing from the server's answer.
    #[error("audit export expected record {expected} but received {received}")]
    ExportGap { expected: u64, received: u64 },

    /// A task watch received event `received` where `expected` was due: the events in
    /// between are missing from the server's answer.
    #[error("task watch expected event {expected} but received {received}")]
    JournalGap { expected: u64, received: u64 },

    /// The server answered with a status that retrying cannot fix (NOT_FOUND,
    /// INVALID_ARGUMENT, ALREADY_EXISTS, a request timeout, ...).
    #[error("{}", .0.message())]
    Status(#[source] tonic::Status),
}

impl Error {
    /// A server answer without a field it always sets: a server bug, reported as such.
    pub(crate) fn missing(field: &str) -> Error {
        Error::Status(tonic::Status::internal(format!(
            "the server's answer has no {field}"
        )))
    }

    /// The gRPC code that describes this error, so callers can branch on it; `None` for
    /// errors in the client's configuration, which never reached a server.
    pub fn code(&self) -> Option<Code> {
        match self {
            Error::NoEndpoints | Error::InvalidEndpoint { .. } | Error::InvalidToken(_) => None,
            Error::Unavailable { .. } | Error::OutcomeUnknown { .. } => Some(Code::Unavailable),
            Error::ExportGap { .. } | Error::JournalGap { .. } => Some(Code::DataLoss),
            Error::Status(status) => Some(status.code()),
        }
    }
}
