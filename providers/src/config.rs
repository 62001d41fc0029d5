//! Which provider to call and how: endpoint, model, credential, timeouts and retries.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::api_key::ApiKey;
use crate::error::Error;

/// More retries than this would let one `complete()` run for many minutes.
pub const MAX_RETRIES_LIMIT: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI chat completions, also spoken by most self-hosted servers.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        })
    }
}

/// No `Serialize`: it holds the key. Log it with `{:?}`, which redacts the key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// The API root, e.g. `https://api.openai.com/v1`; the client posts to
    /// `{base_url}/chat/completions` (openai) or `{base_url}/messages` (anthropic).
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer` (openai) or `x-api-key` (anthropic); none for local
    /// servers that need no key.
    #[serde(default)]
    pub api_key: Option<ApiKey>,
    /// The whole of one attempt, connecting and reading the body included.
    #[serde(with = "humantime_serde", default = "default_request_timeout")]
    pub request_timeout: Duration,
    /// Retries after the first attempt, for 429, 5xx, timeouts and connection errors only;
    /// at most [`MAX_RETRIES_LIMIT`].
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// The first retry waits this long, each later one twice as long as the one before, unless
    /// the provider's `Retry-After` says otherwise.
    #[serde(with = "humantime_serde", default = "default_retry_backoff")]
    pub retry_backoff: Duration,
    #[serde(default = "default_max_output_tokens")]
    pub max_output_tokens: u32,
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(120)
}

fn default_max_retries() -> u32 {
    2
}

fn default_retry_backoff() -> Duration {
    Duration::from_millis(500)
}

fn default_max_output_tokens() -> u32 {
    4096
}

impl ProviderConfig {
    /// Checks every field and returns the URL to post completions to.
    pub(crate) fn endpoint(&self) -> Result<Url, Error> {
        let base_url = validate_base_url(&self.base_url)?;
        if self.model.trim().is_empty() {
            return Err(invalid("model", "must not be empty"));
        }
        if let Some(key) = &self.api_key {
            // Checked here so that building the header later cannot fail, and said without
            // echoing any part of the key.
            if key.expose().is_empty() {
                return Err(invalid("api_key", "must not be empty"));
            }
            if !key.expose().chars().all(|c| c.is_ascii_graphic()) {
                return Err(invalid("api_key", "must be printable ascii without spaces"));
            }
        }
        if self.request_timeout.is_zero() {
            return Err(invalid("request_timeout", "must be positive"));
        }
        if self.max_retries > MAX_RETRIES_LIMIT {
            return Err(invalid(
                "max_retries",
                format!("must be at most {MAX_RETRIES_LIMIT}"),
            ));
        }
        if self.max_output_tokens == 0 {
            return Err(invalid("max_output_tokens", "must be positive"));
        }
        let path = match self.kind {
            ProviderKind::OpenAi => "chat/completions",
            ProviderKind::Anthropic => "messages",
        };
        let endpoint = format!("{}/{path}", base_url.as_str().trim_end_matches('/'));
        Url::parse(&endpoint).map_err(|error| invalid("base_url", format!("is not a url: {error}")))
    }
}

fn validate_base_url(base_url: &str) -> Result<Url, Error> {
    // The reasons never echo the url: it might carry credentials, which is what we reject.
    let url = Url::parse(base_url)
        .map_err(|error| invalid("base_url", format!("is not a url: {error}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("base_url", "must use http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("base_url", "must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "base_url",
            "must not carry credentials; use api_key",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("base_url", "must not have a query or fragment"));
    }
    Ok(url)
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        field,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests;
