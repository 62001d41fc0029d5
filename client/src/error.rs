//! The errors returned by the client.

use tonic::Code;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `Client::connect` was given an empty list of endpoints.
    #[error("no endpoints given")]
    NoEndpoints,

    /// An endpoint is not a usable `host:port` or `http://host:port`.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },

    /// Every attempt failed with UNAVAILABLE or a connection error; `last` describes the
    /// final failure.
    #[error("unavailable after {attempts} attempts: {last}")]
    Unavailable { attempts: u32, last: String },

    /// A resumed audit export did not continue at the expected index: records between
    /// `expected` and `received` are missing from the server's answer.
    #[error("audit export expected record {expected} but received {received}")]
    ExportGap { expected: u64, received: u64 },

    /// The server answered with a status that retrying cannot fix (NOT_FOUND,
    /// INVALID_ARGUMENT, ALREADY_EXISTS, a request timeout, ...).
    #[error("{}", .0.message())]
    Status(#[source] tonic::Status),
}

impl Error {
    /// The gRPC code that describes this error, so callers can branch on it; `None` for
    /// errors in the client's configuration, which never reached a server.
    pub fn code(&self) -> Option<Code> {
        match self {
            Error::NoEndpoints | Error::InvalidEndpoint { .. } => None,
            Error::Unavailable { .. } => Some(Code::Unavailable),
            Error::ExportGap { .. } => Some(Code::DataLoss),
            Error::Status(status) => Some(status.code()),
        }
    }
}
