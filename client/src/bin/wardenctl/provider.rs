//! `wardenctl provider ...`: the model endpoints a workspace's agents call.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use warden_client::Client;
use warden_client::proto::Provider;

use crate::args::{parse_duration, read_secret};
use crate::json;
use crate::output::{Format, Table, emit, emit_json, format_duration_ms};

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Create or replace a model provider of a workspace
    ///
    /// Replaces the whole definition: options left out take their defaults, not the
    /// earlier values (a put without --api-key-file or --api-key-stdin removes a stored
    /// key). Give the API key either in a file or on standard input, never as an argument
    /// (where `ps` would show it): the node seals it with the workspace's key and only
    /// ciphertext is stored; it is never shown again. Or name, with --api-key-env, the
    /// environment variable each node reads it from.
    Put(PutArgs),
    /// List the model providers of a workspace
    List {
        /// Workspace to list
        workspace: String,
    },
    /// Delete a model provider; refused, naming them, while agents use it
    Delete {
        /// Workspace of the provider
        workspace: String,
        /// Name of the provider
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Workspace of the provider
    workspace: String,
    /// Name of the provider, as agents refer to it (`agent create --provider`)
    name: String,
    /// The API the endpoint speaks
    #[arg(long, value_enum)]
    kind: ProviderKind,
    /// Base URL of the API, e.g. https://api.openai.com/v1. Nodes reach only public
    /// addresses unless the cluster's egress.allow admits an internal one (loopback,
    /// private ranges, ...): other URLs are refused
    #[arg(long)]
    base_url: String,
    /// Model to ask for, e.g. gpt-4o-mini
    #[arg(long)]
    model: String,
    /// Environment variable holding the API key on every node that runs tasks; it must be
    /// on the cluster's allowlist (providers.api_key_env_allowlist in each node's own
    /// configuration), otherwise the provider is refused. Prefer --api-key-file or
    /// --api-key-stdin, which store the key encrypted. Leave out the three --api-key
    /// options for endpoints that need no key
    #[arg(long, value_name = "VAR", conflicts_with_all = ["api_key_file", "api_key_stdin"])]
    api_key_env: Option<String>,
    /// File holding the API key (surrounding whitespace ignored), stored encrypted
    #[arg(long, value_name = "PATH", conflicts_with = "api_key_stdin")]
    api_key_file: Option<PathBuf>,
    /// Read the API key from standard input, stored encrypted
    #[arg(long)]
    api_key_stdin: bool,
    /// Deadline of one model request, e.g. 30s, 2m (named so because --timeout is the
    /// deadline of wardenctl's own requests)
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Retries of a failed model request
    #[arg(long, default_value_t = 2)]
    max_retries: u32,
    /// Most tokens the model may produce in one response
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_output_tokens: u32,
}

/// `--kind`: the API dialect of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderKind {
    /// OpenAI's chat completions API, or any endpoint compatible with it
    Openai,
    /// Anthropic's messages API
    Anthropic,
}

impl ProviderKind {
    fn as_proto(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }
}

pub async fn run(
    client: &Client,
    format: Format,
    command: ProviderCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        ProviderCommand::Put(args) => {
            let (workspace, name) = (args.workspace.clone(), args.name.clone());
            let response = client
                .put_provider(args.into_proto()?)
                .await
                .with_context(|| format!("put provider {name} of workspace {workspace}"))?;
            let provider = response.provider.unwrap_or_default();
            match format {
                Format::Table => emit(&format!(
                    "put provider {name} (version {})\n",
                    provider.version
                ))?,
                Format::Json => emit_json(&json::provider(&provider))?,
            }
        }
        ProviderCommand::List { workspace } => {
            let response = client
                .list_providers(workspace.clone())
                .await
                .with_context(|| format!("list providers of workspace {workspace}"))?;
            match format {
                Format::Table => emit(&render_list(&response.providers))?,
                Format::Json => emit_json(&json!({
                    "providers": response.providers.iter().map(json::provider).collect::<Vec<_>>(),
                }))?,
            }
        }
        ProviderCommand::Delete { workspace, name } => {
            let provider = client
                .delete_provider(workspace.clone(), name.clone())
                .await
                .with_context(|| format!("delete provider {workspace}/{name}"))?
                .provider
                .unwrap_or_default();
            match format {
                Format::Table => emit(&format!("deleted provider {workspace}/{name}\n"))?,
                Format::Json => emit_json(&json::provider(&provider))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl PutArgs {
    fn into_proto(self) -> anyhow::Result<Provider> {
        let api_key = match (&self.api_key_file, self.api_key_stdin) {
            (Some(path), _) => read_secret(path)?,
            (None, true) => read_secret(Path::new("-"))?,
            (None, false) => String::new(),
        };
        Ok(Provider {
            workspace: self.workspace,
            name: self.name,
            kind: self.kind.as_proto().to_owned(),
            base_url: self.base_url,
            model: self.model,
            api_key_env: self.api_key_env.unwrap_or_default(),
            request_timeout_ms: u64::try_from(self.request_timeout.as_millis()).unwrap_or(u64::MAX),
            max_retries: self.max_retries,
            max_output_tokens: self.max_output_tokens,
            version: 0,
            api_key,
            api_key_set: false,
        })
    }
}

/// Where the provider's key comes from: `stored` (encrypted in Warden), `env:VAR`, or `-`.
fn api_key_source(provider: &Provider) -> String {
    if provider.api_key_set {
        "stored".to_owned()
    } else if provider.api_key_env.is_empty() {
        "-".to_owned()
    } else {
        format!("env:{}", provider.api_key_env)
    }
}

fn render_list(providers: &[Provider]) -> String {
    let mut table = Table::new(vec![
        "NAME",
        "KIND",
        "MODEL",
        "BASE URL",
        "API KEY",
        "TIMEOUT",
        "RETRIES",
        "MAX TOKENS",
        "VERSION",
    ]);
    for provider in providers {
        table.push(vec![
            provider.name.clone(),
            provider.kind.clone(),
            provider.model.clone(),
            provider.base_url.clone(),
            api_key_source(provider),
            format_duration_ms(provider.request_timeout_ms),
            provider.max_retries.to_string(),
            provider.max_output_tokens.to_string(),
            provider.version.to_string(),
        ]);
    }
    table.render()
}
