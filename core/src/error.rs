//! Errors from parsing user-supplied values into domain types.

/// A value supplied by a caller that is not a valid domain value. The message names
/// the offending value and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid workspace name {name:?}: {reason}")]
    InvalidWorkspaceName { name: String, reason: &'static str },
    #[error("invalid task id {value:?}: {reason}")]
    InvalidTaskId { value: String, reason: &'static str },
    #[error("invalid idempotency key: {reason}")]
    InvalidIdempotencyKey { reason: &'static str },
    #[error("invalid principal {value:?}: {reason}")]
    InvalidPrincipal { value: String, reason: &'static str },
    #[error("invalid token id {value:?}: expected 16 hex digits")]
    InvalidTokenId { value: String },
    #[error("malformed token: {reason}")]
    MalformedToken { reason: &'static str },
    #[error("invalid role {role:?}: expected admin, operator, approver, auditor or viewer")]
    InvalidRole { role: String },
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        kind: &'static str,
        name: String,
        reason: &'static str,
    },
}
