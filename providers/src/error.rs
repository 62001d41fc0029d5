//! Why a completion failed. Messages name the provider and the URL, never the key.

use std::time::Duration;

use crate::config::ProviderKind;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The provider answered with a non-success status; `message` comes from its error body,
    /// truncated, with the key scrubbed out should the provider have echoed it.
    #[error("{provider} at {url} answered http {status}: {message}")]
    Http {
        provider: ProviderKind,
        url: String,
        status: u16,
        message: String,
    },
    /// One attempt, connecting and reading the body included, took longer than `after`.
    #[error("{provider} at {url} did not answer within {after:?}")]
    Timeout {
        provider: ProviderKind,
        url: String,
        after: Duration,
    },
    /// The connection could not be made or broke before the response was read.
    #[error("cannot reach {provider} at {url}: {reason}")]
    Connect {
        provider: ProviderKind,
        url: String,
        reason: String,
    },
    /// A success status with a body that is not the provider's format: not JSON, a missing
    /// field, or tool arguments that are not a JSON object.
    #[error("malformed response from {provider} at {url}: {reason}")]
    Malformed {
        provider: ProviderKind,
        url: String,
        reason: String,
    },
    #[error("invalid provider config: {field} {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    /// The node's egress policy refuses the address the URL names or its host resolves to.
    #[error("{provider} at {url}: {refusal}")]
    Egress {
        provider: ProviderKind,
        url: String,
        refusal: warden_egress::Error,
    },
}

impl Error {
    /// Whether another attempt may succeed: rate limiting, server errors, timeouts and
    /// connection failures. A 4xx other than 429 or a malformed answer will not change.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Http { status, .. } => *status == 429 || (500..=599).contains(status),
            Error::Timeout { .. } | Error::Connect { .. } => true,
            // The policy will not change between attempts.
            Error::Malformed { .. } | Error::InvalidConfig { .. } | Error::Egress { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> Error {
        Error::Http {
            provider: ProviderKind::OpenAi,
            url: "http://h/v1/chat/completions".to_owned(),
            status,
            message: "m".to_owned(),
        }
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        let table = [
            (http(429), true),
            (http(500), true),
            (http(503), true),
            (http(529), true),
            (http(400), false),
            (http(401), false),
            (http(404), false),
            (
                Error::Timeout {
                    provider: ProviderKind::Anthropic,
                    url: "u".to_owned(),
                    after: Duration::from_secs(1),
                },
                true,
            ),
            (
                Error::Connect {
                    provider: ProviderKind::Anthropic,
                    url: "u".to_owned(),
                    reason: "connection refused".to_owned(),
                },
                true,
            ),
            (
                Error::Malformed {
                    provider: ProviderKind::Anthropic,
                    url: "u".to_owned(),
                    reason: "r".to_owned(),
                },
                false,
            ),
            (
                Error::InvalidConfig {
                    field: "model",
                    reason: "must not be empty".to_owned(),
                },
                false,
            ),
        ];
        for (error, retryable) in table {
            assert_eq!(error.is_retryable(), retryable, "{error}");
        }
    }

    #[test]
    fn messages_name_provider_and_url() {
        assert_eq!(
            http(500).to_string(),
            "openai at http://h/v1/chat/completions answered http 500: m"
        );
    }
}
