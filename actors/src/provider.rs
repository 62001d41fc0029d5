//! A model client for a workspace's provider record, with its API key opened from the
//! record (see [`crate::credentials`]) or read from this node's environment.

use std::time::Duration;

use warden_core::{Provider, ProviderKind};
use warden_providers::{ApiKey, ModelClient, ProviderConfig};
use warden_secrets::SecretString;

/// Backoff base between a provider's retries.
const RETRY_BACKOFF: Duration = Duration::from_millis(250);

/// The client, or why the provider cannot be used here (the task fails with it).
/// `opened` is the provider's stored key, opened just now; it is dropped (and zeroed)
/// here, leaving the one copy the client sends.
pub fn client(provider: &Provider, opened: Option<SecretString>) -> Result<ModelClient, String> {
    let api_key = match (&provider.api_key_env, opened) {
        (_, Some(opened)) => Some(ApiKey::new(opened.expose())),
        (None, None) => None,
        (Some(variable), None) => match std::env::var(variable) {
            Ok(key) if !key.is_empty() => Some(ApiKey::new(key)),
            _ => {
                return Err(format!(
                    "provider {}: environment variable {variable} holding its API key is not set on this node",
                    provider.name
                ));
            }
        },
    };
    let config = ProviderConfig {
        kind: match provider.kind {
            ProviderKind::OpenAi => warden_providers::ProviderKind::OpenAi,
            ProviderKind::Anthropic => warden_providers::ProviderKind::Anthropic,
        },
        base_url: provider.base_url.clone(),
        model: provider.model.clone(),
        api_key,
        request_timeout: Duration::from_millis(provider.request_timeout_ms),
        max_retries: provider.max_retries,
        retry_backoff: RETRY_BACKOFF,
        max_output_tokens: provider.max_output_tokens,
    };
    ModelClient::new(config).map_err(|error| format!("provider {}: {error}", provider.name))
}
