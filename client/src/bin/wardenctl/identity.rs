//! `wardenctl token ...`, `wardenctl role ...` and `wardenctl whoami`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use warden_client::Client;
use warden_client::proto::{RoleBindingInfo, TokenInfo};

use crate::args::parse_duration;
use crate::output::{Format, Table, emit, emit_json, format_time_ms};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user or service account (cluster admins only)
    ///
    /// The token is printed once (or written to --out with mode 0600); Warden keeps only
    /// its hash. Give the principal roles with `wardenctl role set`.
    Create {
        /// user/<name> or service/<name>
        principal: String,
        /// What the token is for
        #[arg(long, default_value = "")]
        description: String,
        /// How long the token is valid, e.g. 12h, 30d; valid until revoked when absent
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<std::time::Duration>,
        /// Write the token to this new file (mode 0600) instead of printing it
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Revoke a token; it is refused from then on, on every node
    Revoke {
        /// The token's id: the 16 hex digits after `wdn_`
        id: String,
    },
    /// List tokens: all of them for a cluster admin, otherwise the caller's own
    List,
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Replace the roles a principal holds in a workspace (or cluster-wide)
    ///
    /// Roles: admin, operator (agents, tasks), approver, auditor (audit read and export),
    /// viewer. Cluster-wide roles hold in every workspace. No roles removes the binding.
    Set {
        /// user/<name> or service/<name>
        principal: String,
        /// The roles, e.g. operator approver
        roles: Vec<String>,
        /// The workspace; cluster-wide when absent
        #[arg(long)]
        workspace: Option<String>,
    },
    /// List the role bindings of a workspace (or the cluster-wide ones)
    List {
        #[arg(long)]
        workspace: Option<String>,
    },
}

pub async fn run_token(
    client: &Client,
    format: Format,
    command: TokenCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Create {
            principal,
            description,
            ttl,
            out,
        } => {
            let ttl_ms = ttl.map_or(0, |ttl| u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
            let response = client
                .create_token(&principal, &description, ttl_ms)
                .await
                .with_context(|| format!("create token for {principal}"))?;
            let info = response.token.unwrap_or_default();
            match &out {
                Some(path) => {
                    write_secret_file(path, &response.secret)?;
                    match format {
                        Format::Table => emit(&format!(
                            "created token {} for {principal}, written to {}\n",
                            info.id,
                            path.display()
                        ))?,
                        Format::Json => emit_json(&token_json(&info))?,
                    }
                }
                None => match format {
                    Format::Table => emit(&format!("{}\n", response.secret))?,
                    Format::Json => {
                        let mut value = token_json(&info);
                        value["secret"] = json!(response.secret);
                        emit_json(&value)?;
                    }
                },
            }
        }
        TokenCommand::Revoke { id } => {
            let token = client
                .revoke_token(&id)
                .await
                .with_context(|| format!("revoke token {id}"))?;
            match format {
                Format::Table => emit(&format!(
                    "revoked token {} of {}\n",
                    token.id, token.principal
                ))?,
                Format::Json => emit_json(&token_json(&token))?,
            }
        }
        TokenCommand::List => {
            let tokens = client.list_tokens().await.context("list tokens")?;
            match format {
                Format::Table => {
                    let mut table = Table::new(vec![
                        "ID",
                        "PRINCIPAL",
                        "CREATED",
                        "EXPIRES",
                        "REVOKED",
                        "DESCRIPTION",
                    ]);
                    for token in &tokens {
                        table.push(vec![
                            token.id.clone(),
                            token.principal.clone(),
                            format_time_ms(token.created_ms),
                            optional_time(token.expires_at_ms),
                            optional_time(token.revoked_ms),
                            token.description.clone(),
                        ]);
                    }
                    emit(&table.render())?;
                }
                Format::Json => {
                    emit_json(&json!(tokens.iter().map(token_json).collect::<Vec<_>>()))?
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_role(
    client: &Client,
    format: Format,
    command: RoleCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        RoleCommand::Set {
            principal,
            roles,
            workspace,
        } => {
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            let binding = client
                .set_roles(workspace.as_deref(), &principal, &roles)
                .await
                .with_context(|| format!("set roles of {principal}"))?;
            match format {
                Format::Table => emit(&format!(
                    "{principal} now holds [{}] in {}\n",
                    binding.roles.join(", "),
                    scope_name(&binding.workspace)
                ))?,
                Format::Json => emit_json(&binding_json(&binding))?,
            }
        }
        RoleCommand::List { workspace } => {
            let bindings = client
                .list_role_bindings(workspace.as_deref())
                .await
                .context("list role bindings")?;
            emit_bindings(format, &bindings)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_whoami(client: &Client, format: Format) -> anyhow::Result<ExitCode> {
    let response = client.who_am_i().await.context("whoami")?;
    match format {
        Format::Table => {
            emit(&format!(
                "{} (token {})\n",
                response.principal, response.token_id
            ))?;
            emit_bindings(format, &response.bindings)?;
        }
        Format::Json => emit_json(&json!({
            "principal": response.principal,
            "token_id": response.token_id,
            "bindings": response.bindings.iter().map(binding_json).collect::<Vec<_>>(),
        }))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a token to a new file readable by its owner only.
pub fn write_secret_file(path: &Path, secret: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn emit_bindings(format: Format, bindings: &[RoleBindingInfo]) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            let mut table = Table::new(vec!["SCOPE", "PRINCIPAL", "ROLES", "UPDATED", "BY"]);
            for binding in bindings {
                table.push(vec![
                    scope_name(&binding.workspace),
                    binding.principal.clone(),
                    binding.roles.join(","),
                    format_time_ms(binding.updated_ms),
                    binding.updated_by.clone(),
                ]);
            }
            emit(&table.render())?;
        }
        Format::Json => emit_json(&json!(
            bindings.iter().map(binding_json).collect::<Vec<_>>()
        ))?,
    }
    Ok(())
}

fn scope_name(workspace: &str) -> String {
    if workspace.is_empty() {
        "cluster".to_owned()
    } else {
        format!("workspace/{workspace}")
    }
}

fn optional_time(ms: u64) -> String {
    if ms == 0 {
        "-".to_owned()
    } else {
        format_time_ms(ms)
    }
}

fn token_json(token: &TokenInfo) -> serde_json::Value {
    json!({
        "id": token.id,
        "principal": token.principal,
        "description": token.description,
        "created_ms": token.created_ms,
        "created_by": token.created_by,
        "expires_at_ms": (token.expires_at_ms > 0).then_some(token.expires_at_ms),
        "revoked_ms": (token.revoked_ms > 0).then_some(token.revoked_ms),
        "revoked_by": (!token.revoked_by.is_empty()).then_some(&token.revoked_by),
    })
}

fn binding_json(binding: &RoleBindingInfo) -> serde_json::Value {
    json!({
        "scope": scope_name(&binding.workspace),
        "principal": binding.principal,
        "roles": binding.roles,
        "updated_ms": binding.updated_ms,
        "updated_by": binding.updated_by,
    })
}
