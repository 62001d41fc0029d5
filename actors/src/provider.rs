//! A model client for a workspace's provider record, with its API key opened from the
//! record (see [`crate::credentials`]) or read from this node's environment, but only
//! from a variable this node's own configuration allowlists.

use std::time::Duration;

use warden_core::{Provider, ProviderKind};
use warden_providers::{ApiKey, ModelClient, ProviderConfig};
use warden_secrets::SecretString;

use crate::host::RuntimeOptions;

/// Backoff base between a provider's retries.
const RETRY_BACKOFF: Duration = Duration::from_millis(250);

/// Whether `variable` may be read as a provider's API key on this node: only if the node's
/// configuration (`providers.api_key_env_allowlist`, never a workspace record) names it.
/// A workspace role could otherwise make the node send any of its environment variables
/// (its master key among them) to a URL of the role's choosing.
pub fn check_api_key_env(variable: &str, allowlist: &[String]) -> Result<(), String> {
    if allowlist.iter().any(|allowed| allowed == variable) {
        return Ok(());
    }
    Err(format!(
        "api_key_env {variable} is not on this node's allowlist of provider key variables \
         (providers.api_key_env_allowlist); store the key sealed with api_key instead"
    ))
}

/// The client, or why the provider cannot be used here (the task fails with it).
/// `opened` is the provider's stored key, opened just now; it is dropped (and zeroed)
/// here, leaving the one copy the client sends. The client connects only where this
/// node's egress policy allows.
pub fn client(
    provider: &Provider,
    opened: Option<SecretString>,
    options: &RuntimeOptions,
) -> Result<ModelClient, String> {
    let api_key = match (&provider.api_key_env, opened) {
        (_, Some(opened)) => Some(ApiKey::new(opened.expose())),
        (None, None) => None,
        (Some(variable), None) => {
            // Checked here, right before the read, whatever the API node that stored the
            // record allowed: the allowlist that counts is the reading node's.
            check_api_key_env(variable, &options.api_key_env_allowlist)
                .map_err(|reason| format!("provider {}: {reason}", provider.name))?;
            match std::env::var(variable) {
                Ok(key) if !key.is_empty() => Some(ApiKey::new(key)),
                _ => {
                    return Err(format!(
                        "provider {}: environment variable {variable} holding its API key is not set on this node",
                        provider.name
                    ));
                }
            }
        }
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
    ModelClient::new(config, &options.egress)
        .map_err(|error| format!("provider {}: {error}", provider.name))
}

#[cfg(test)]
mod tests;
