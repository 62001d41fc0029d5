//! Opening the sealed secrets of a workspace's records through the host, right before
//! they are used: a provider's API key before its model client is built, an MCP server's
//! credentials before a session to it is started or used. The plaintext goes into the
//! client or the server spec and nowhere else: not into actor state, logs or errors.

use std::collections::BTreeMap;
use std::path::PathBuf;

use warden_core::{
    CatalogEntry, McpServer, McpTransport, Provider, WorkspaceId, mcp_bearer_context,
    mcp_env_context, provider_key_context,
};
use warden_mcp::{Secret, ServerSpec};
use warden_secrets::SecretString;

use crate::host::{Host, SecretError};

/// The provider's stored API key, opened; `None` when it has none stored.
pub fn provider_key(
    host: &dyn Host,
    provider: &Provider,
) -> Result<Option<SecretString>, SecretError> {
    let Some(sealed) = &provider.api_key else {
        return Ok(None);
    };
    let context = provider_key_context(&provider.workspace, &provider.name);
    host.open_secret(&provider.workspace, &context, sealed)
        .map(Some)
}

/// An MCP server's credentials in plaintext, to be put into its spec.
#[derive(Debug, Default)]
pub struct McpCredentials {
    /// Secret environment variables of a stdio server.
    pub env: Vec<(String, SecretString)>,
    /// The bearer token of an HTTP server.
    pub bearer: Option<SecretString>,
}

impl McpCredentials {
    /// `text` with every credential replaced by `<redacted>`, for output a server sends
    /// back (a server that echoes its token must not put it into the journal).
    pub fn redact(&self, mut text: String) -> String {
        let secrets = self.env.iter().map(|(_, value)| value).chain(&self.bearer);
        for secret in secrets {
            if !secret.expose().is_empty() && text.contains(secret.expose()) {
                text = text.replace(secret.expose(), "<redacted>");
            }
        }
        text
    }
}

/// Opens every credential the registered server's transport holds.
pub fn mcp_credentials(
    host: &dyn Host,
    workspace: &WorkspaceId,
    server: &McpServer,
) -> Result<McpCredentials, SecretError> {
    let mut credentials = McpCredentials::default();
    match &server.transport {
        McpTransport::Stdio { secret_env, .. } => {
            for (name, sealed) in secret_env {
                let context = mcp_env_context(workspace, &server.name, name);
                let value = host.open_secret(workspace, &context, sealed)?;
                credentials.env.push((name.clone(), value));
            }
        }
        McpTransport::Http { bearer, .. } => {
            if let Some(sealed) = bearer {
                let context = mcp_bearer_context(workspace, &server.name);
                credentials.bearer = Some(host.open_secret(workspace, &context, sealed)?);
            }
        }
    }
    Ok(credentials)
}

/// How to start or reach a server: its transport with `credentials` (opened, or, at
/// registration, as the caller sent them) filled in. A stdio server is resolved against
/// its catalog entry as it is now (`entry`): the entry's executable, its fixed arguments
/// and then the server's extra ones, which the entry must still allow. Errors name the
/// entry and what it no longer allows.
pub fn server_spec(
    transport: &McpTransport,
    entry: Option<&CatalogEntry>,
    credentials: &McpCredentials,
) -> Result<ServerSpec, String> {
    let secret = |value: &SecretString| Secret::new(value.expose().to_owned());
    match transport {
        McpTransport::Stdio {
            catalog, args, env, ..
        } => {
            let Some(entry) = entry.filter(|entry| &entry.spec.name == catalog) else {
                return Err(format!("catalog entry {catalog} does not exist"));
            };
            let spec = &entry.spec;
            let names = env
                .iter()
                .map(|(name, _)| name.as_str())
                .chain(credentials.env.iter().map(|(name, _)| name.as_str()));
            if let Some(refusal) = spec.refuses(args, names) {
                return Err(refusal);
            }
            Ok(ServerSpec::Stdio {
                command: spec.executable.clone(),
                args: spec.args.iter().chain(args).cloned().collect(),
                env: env.iter().cloned().collect(),
                secret_env: credentials
                    .env
                    .iter()
                    .map(|(name, value)| (name.clone(), secret(value)))
                    .collect::<BTreeMap<_, _>>(),
                read_paths: spec.read_paths.iter().map(PathBuf::from).collect(),
                write_paths: spec.write_paths.iter().map(PathBuf::from).collect(),
            })
        }
        McpTransport::Http { url, .. } => Ok(ServerSpec::Http {
            url: url.clone(),
            bearer_token: credentials.bearer.as_ref().map(secret),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_scrubbed_of_every_credential() {
        let credentials = McpCredentials {
            env: vec![(
                "TOKEN".to_owned(),
                SecretString::new("env-secret".to_owned()),
            )],
            bearer: Some(SecretString::new("bearer-secret".to_owned())),
        };
        assert_eq!(
            credentials.redact("a env-secret b bearer-secret c env-secret".to_owned()),
            "a <redacted> b <redacted> c <redacted>"
        );
        assert_eq!(
            McpCredentials::default().redact("plain".to_owned()),
            "plain"
        );
    }
}
