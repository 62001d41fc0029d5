//! `Debug` for the messages that carry secrets as input (a provider's `api_key`, an MCP
//! server's `secret_env` and `secret_bearer`, the bootstrap token, a webhook's signing secret): the secrets print as `<redacted>`, so a
//! request logged with `{:?}` shows that a secret was sent and never what it was.

use std::collections::BTreeMap;
use std::fmt;

use crate::v1::{
    ApplyWorkspaceRequest, InitClusterRequest, McpServer, Provider, PutTriggerRequest,
    PutWebhookRequest,
};

const REDACTED: &str = "<redacted>";

impl fmt::Debug for Provider {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured, so a new field cannot be left out unnoticed.
        let Provider {
            workspace,
            name,
            kind,
            base_url,
            model,
            api_key_env,
            request_timeout_ms,
            max_retries,
            max_output_tokens,
            version,
            api_key,
            api_key_set,
        } = self;
        formatter
            .debug_struct("Provider")
            .field("workspace", workspace)
            .field("name", name)
            .field("kind", kind)
            .field("base_url", base_url)
            .field("model", model)
            .field("api_key_env", api_key_env)
            .field("request_timeout_ms", request_timeout_ms)
            .field("max_retries", max_retries)
            .field("max_output_tokens", max_output_tokens)
            .field("version", version)
            .field("api_key", &redacted(api_key))
            .field("api_key_set", api_key_set)
            .finish()
    }
}

impl fmt::Debug for PutWebhookRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PutWebhookRequest { webhook, secret } = self;
        formatter
            .debug_struct("PutWebhookRequest")
            .field("webhook", webhook)
            .field("secret", &redacted(secret))
            .finish()
    }
}

impl fmt::Debug for PutTriggerRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PutTriggerRequest {
            trigger,
            expected_version,
            secret,
        } = self;
        formatter
            .debug_struct("PutTriggerRequest")
            .field("trigger", trigger)
            .field("expected_version", expected_version)
            .field("secret", &redacted(secret))
            .finish()
    }
}

impl fmt::Debug for ApplyWorkspaceRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ApplyWorkspaceRequest {
            document,
            dry_run,
            secrets,
        } = self;
        // The names of the secrets, never their values.
        let mut names: Vec<&String> = secrets.keys().collect();
        names.sort();
        formatter
            .debug_struct("ApplyWorkspaceRequest")
            .field("document", document)
            .field("dry_run", dry_run)
            .field("secrets", &names)
            .finish()
    }
}

impl fmt::Debug for InitClusterRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let InitClusterRequest {
            admin,
            bootstrap_token,
            checkpoint_interval,
        } = self;
        formatter
            .debug_struct("InitClusterRequest")
            .field("admin", admin)
            .field("bootstrap_token", &redacted(bootstrap_token))
            .field("checkpoint_interval", checkpoint_interval)
            .finish()
    }
}

impl fmt::Debug for McpServer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let McpServer {
            workspace,
            name,
            command,
            args,
            url,
            tools,
            version,
            env,
            secret_env,
            secret_env_names,
            secret_bearer,
            secret_bearer_set,
            catalog,
            pinned,
        } = self;
        let secret_env: BTreeMap<&str, &str> = secret_env
            .keys()
            .map(|name| (name.as_str(), REDACTED))
            .collect();
        formatter
            .debug_struct("McpServer")
            .field("workspace", workspace)
            .field("name", name)
            .field("command", command)
            .field("catalog", catalog)
            .field("args", args)
            .field("url", url)
            .field("tools", tools)
            .field("version", version)
            .field("env", env)
            .field("secret_env", &secret_env)
            .field("secret_env_names", secret_env_names)
            .field("secret_bearer", &redacted(secret_bearer))
            .field("secret_bearer_set", secret_bearer_set)
            .field("pinned", pinned)
            .finish()
    }
}

/// `<redacted>` for a secret that was given, empty for one that was not.
fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { REDACTED }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_redacted() {
        let provider = Provider {
            name: "model".into(),
            api_key: "sk-very-secret".into(),
            ..Provider::default()
        };
        let server = McpServer {
            name: "tools".into(),
            secret_env: [("TOKEN".to_owned(), "env-very-secret".to_owned())].into(),
            secret_bearer: "bearer-very-secret".into(),
            ..McpServer::default()
        };
        let webhook = PutWebhookRequest {
            webhook: None,
            secret: "hook-very-secret".into(),
        };
        let trigger = PutTriggerRequest {
            trigger: None,
            expected_version: 0,
            secret: "trigger-very-secret".into(),
        };
        let file = ApplyWorkspaceRequest {
            document: "workspace: acme".into(),
            dry_run: false,
            secrets: [("trigger/alerts".to_owned(), "file-very-secret".to_owned())].into(),
        };
        let printed = format!(
            "{provider:?} {provider:#?} {server:?} {server:#?} {webhook:?} {trigger:?} {file:?}"
        );
        assert!(printed.contains("trigger/alerts"), "{printed}");
        assert!(!printed.contains("very-secret"), "{printed}");
        assert!(printed.contains("TOKEN"), "{printed}");
        assert!(printed.contains("\"model\""), "{printed}");
    }
}
