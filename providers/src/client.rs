//! The model client: one request and response per call, retried on transient failures, each
//! attempt bounded by the request timeout.

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value;

use warden_egress::{Policy, Resolver};

use crate::completion::Completion;
use crate::config::{ProviderConfig, ProviderKind};
use crate::error::Error;
use crate::request::CompletionRequest;
use crate::retry::{delay_before_retry, parse_retry_after};
use crate::{anthropic, openai};

/// Error messages quote at most this much of a provider's error body.
const MAX_MESSAGE_CHARS: usize = 300;

/// Share it by reference (or in an `Arc`) across tasks: it pools connections.
pub struct ModelClient {
    config: ProviderConfig,
    endpoint: reqwest::Url,
    http: reqwest::Client,
}

/// The config with its key redacted, and the endpoint; not the HTTP client, whose default
/// headers hold the key.
impl fmt::Debug for ModelClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ModelClient")
            .field("config", &self.config)
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

/// A failed attempt, with the provider's `Retry-After` when it sent one.
struct Failure {
    error: Error,
    retry_after: Option<Duration>,
}

impl ModelClient {
    /// A client that connects only where `egress` allows: an IP-literal endpoint is checked
    /// here, a name's addresses each time it is resolved.
    pub fn new(config: ProviderConfig, egress: &Policy) -> Result<ModelClient, Error> {
        let endpoint = config.endpoint()?;
        egress
            .check_url(&endpoint)
            .map_err(|refusal| Error::Egress {
                provider: config.kind,
                url: endpoint.to_string(),
                refusal,
            })?;
        let http = reqwest::Client::builder()
            .default_headers(headers(&config)?)
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            // A redirect would carry the key to wherever it points; no provider redirects a
            // completion, so a 3xx is reported as an error instead.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Resolver::new(egress.clone()))
            // Through a proxy the resolver would see the proxy's name, not the provider's.
            .no_proxy()
            .build()
            .map_err(|error| Error::InvalidConfig {
                field: "http_client",
                reason: format!("cannot be built: {error}"),
            })?;
        Ok(ModelClient {
            config,
            endpoint,
            http,
        })
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Asks the model for the next turn of the conversation. Retries 429, 5xx, timeouts and
    /// connection errors up to `max_retries` times; everything else fails at once.
    pub async fn complete(&self, request: &CompletionRequest) -> Result<Completion, Error> {
        let config = &self.config;
        let body = match config.kind {
            ProviderKind::OpenAi => {
                openai::request_body(&config.model, config.max_output_tokens, request)
            }
            ProviderKind::Anthropic => {
                anthropic::request_body(&config.model, config.max_output_tokens, request)
            }
        };
        let mut retry = 0;
        loop {
            match self.attempt(&body).await {
                Ok(completion) => return Ok(completion),
                Err(failure) if failure.error.is_retryable() && retry < config.max_retries => {
                    let delay =
                        delay_before_retry(retry, config.retry_backoff, failure.retry_after);
                    retry += 1;
                    tracing::warn!(
                        provider = %config.kind,
                        retry,
                        max_retries = config.max_retries,
                        ?delay,
                        error = %failure.error,
                        "model request failed, retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(failure) => return Err(failure.error),
            }
        }
    }

    async fn attempt(&self, body: &Value) -> Result<Completion, Failure> {
        let timeout = self.config.request_timeout;
        // reqwest enforces the same timeout; this one also covers anything it might miss, so
        // that no attempt can outlive it.
        match tokio::time::timeout(timeout, self.exchange(body)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(Failure {
                error: self.timeout(),
                retry_after: None,
            }),
        }
    }

    async fn exchange(&self, body: &Value) -> Result<Completion, Failure> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .json(body)
            .send()
            .await
            .map_err(|error| self.transport_failure(&error))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.transport_failure(&error))?;
        if !status.is_success() {
            let message = self.error_message(status, &bytes);
            return Err(Failure {
                error: Error::Http {
                    provider: self.config.kind,
                    url: self.endpoint.to_string(),
                    status: status.as_u16(),
                    message,
                },
                retry_after,
            });
        }
        let parsed = match self.config.kind {
            ProviderKind::OpenAi => openai::parse_completion(&bytes),
            ProviderKind::Anthropic => anthropic::parse_completion(&bytes),
        };
        parsed.map_err(|reason| Failure {
            error: Error::Malformed {
                provider: self.config.kind,
                url: self.endpoint.to_string(),
                reason: self.scrub(&truncate(&reason)),
            },
            retry_after: None,
        })
    }

    fn error_message(&self, status: reqwest::StatusCode, body: &[u8]) -> String {
        let extracted = match self.config.kind {
            ProviderKind::OpenAi => openai::error_message(body),
            ProviderKind::Anthropic => anthropic::error_message(body),
        };
        let message = extracted.unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if text.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("no body")
                    .to_lowercase()
            } else {
                text
            }
        });
        // Scrubbed before truncating, so that a cut cannot leave a fragment of the key behind
        // that the scrub would no longer recognise.
        truncate(&self.scrub(&message))
    }

    fn transport_failure(&self, error: &reqwest::Error) -> Failure {
        let error = if let Some(refusal) = egress_refusal(error) {
            Error::Egress {
                provider: self.config.kind,
                url: self.endpoint.to_string(),
                refusal,
            }
        } else if error.is_timeout() {
            self.timeout()
        } else {
            Error::Connect {
                provider: self.config.kind,
                url: self.endpoint.to_string(),
                reason: self.scrub(&root_cause(error)),
            }
        };
        Failure {
            error,
            retry_after: None,
        }
    }

    fn timeout(&self) -> Error {
        Error::Timeout {
            provider: self.config.kind,
            url: self.endpoint.to_string(),
            after: self.config.request_timeout,
        }
    }

    /// Providers have been known to echo the key they were given in their error messages.
    fn scrub(&self, text: &str) -> String {
        match &self.config.api_key {
            Some(key) => text.replace(key.expose(), "[redacted]"),
            None => text.to_owned(),
        }
    }
}

fn headers(config: &ProviderConfig) -> Result<HeaderMap, Error> {
    let mut headers = HeaderMap::new();
    if config.kind == ProviderKind::Anthropic {
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(anthropic::API_VERSION),
        );
    }
    if let Some(key) = &config.api_key {
        let (name, value) = match config.kind {
            ProviderKind::OpenAi => (AUTHORIZATION, format!("Bearer {}", key.expose())),
            ProviderKind::Anthropic => (
                HeaderName::from_static("x-api-key"),
                key.expose().to_owned(),
            ),
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| Error::InvalidConfig {
            field: "api_key",
            reason: "is not a valid header value".to_owned(),
        })?;
        // Keeps it out of reqwest's and hyper's debug output.
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(headers)
}

/// The egress policy's refusal, when the resolver refused every address of the host.
fn egress_refusal(error: &reqwest::Error) -> Option<warden_egress::Error> {
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = cause {
        // A name that does not resolve is a connection error like any other (retried).
        if let Some(refusal @ warden_egress::Error::Refused { .. }) =
            current.downcast_ref::<warden_egress::Error>()
        {
            return Some(refusal.clone());
        }
        cause = current.source();
    }
    None
}

/// The innermost cause says what went wrong ("connection refused"); the outer layers only
/// say that a request failed.
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_cuts_on_a_char_boundary() {
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS + 3);
        assert!(cut.ends_with("..."));
        assert_eq!(truncate("short"), "short");
    }
}
