//! `wardenctl workspace ...`: creating, listing and deleting workspaces, and their settings.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use serde_json::json;
use warden_client::Client;
use warden_client::proto::WorkspaceSettings;

use crate::args::ReadArgs;
use crate::json;
use crate::output::{Format, Table, emit, emit_json, format_time_ms};

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace
    Create {
        /// 1-63 characters of a-z, 0-9 and '-', starting with a letter
        name: String,
    },
    /// List all workspaces
    List {
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Show a workspace's settings
    Settings {
        /// Workspace to show
        name: String,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Change a workspace's settings (its administrators only); audited
    Set {
        /// Workspace to change
        name: String,
        /// Whether the workspace's traces carry content (task input and result, model
        /// responses, tool arguments and results) to the nodes' OTLP collector; off by
        /// default, when only metadata is exported
        #[arg(long, value_enum)]
        trace_content: Switch,
    },
    /// Print a workspace's configuration as a YAML file
    ///
    /// Providers, MCP servers (with the hashes of their pinned tools), agents, the policy,
    /// budgets, schedules and webhook triggers, in a fixed order, so the same
    /// configuration exports the same text. Secrets are never in it: a stored one is
    /// marked `sealed`. The file names the revision it was taken at, which `apply` checks.
    ///
    /// Example:
    ///   wardenctl workspace export acme > acme.yaml
    Export(crate::workspace_file::ExportArgs),
    /// Make a workspace's configuration a file's, in one command, all or nothing
    ///
    /// Shows the changes as a diff (+ create, ~ update, - delete, with the fields that
    /// differ) and makes them in one command that applies all of them or none: records
    /// the file holds are created or replaced, records it does not hold are deleted (a
    /// file without a policy leaves the policy as it is). Refused when the file is stale
    /// (exported at a revision the workspace has moved on from; export again) or the
    /// configuration changes while it is compared. Servers registered anew are listed
    /// and pinned first; when the file names pins they must be exactly what the server
    /// offers. Each change needs the permission it needs alone (policy and budgets:
    /// admin). The workspace must exist.
    ///
    /// Examples:
    ///   wardenctl workspace apply -f acme.yaml --dry-run
    ///   wardenctl workspace apply -f acme.yaml --secret provider/model=OPENAI_API_KEY --secret trigger/alerts=ALERTS_SECRET
    Apply(crate::workspace_file::ApplyArgs),
    /// Delete a workspace and everything in it (cluster admins only)
    ///
    /// Removes its providers, MCP servers, agents, policy, budgets, pauses, role bindings,
    /// tasks and their journals; refused, naming them, while any of its tasks is
    /// unfinished (cancel them first). The audit chain keeps every record about it. A
    /// workspace created again under the name starts empty.
    Delete {
        /// Workspace to delete
        name: String,
        /// Confirm: without it nothing is deleted
        #[arg(long)]
        yes: bool,
    },
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

fn render_settings(settings: &WorkspaceSettings) -> String {
    let on_off = |on: bool| if on { "on" } else { "off" };
    let updated = if settings.updated_at_ms == 0 {
        "never (defaults)".to_owned()
    } else {
        format!(
            "{} by {}",
            format_time_ms(settings.updated_at_ms),
            settings.updated_by
        )
    };
    format!(
        "workspace:      {}\ntrace content:  {}\nupdated:        {updated}\n",
        settings.workspace,
        on_off(settings.trace_content)
    )
}

pub async fn run(
    client: &Client,
    format: Format,
    command: WorkspaceCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        WorkspaceCommand::Create { name } => {
            let response = client
                .create_workspace(name.clone())
                .await
                .with_context(|| format!("create workspace {name}"))?;
            match format {
                Format::Table => emit(&format!("created workspace {name}\n"))?,
                Format::Json => emit_json(
                    &response
                        .workspace
                        .as_ref()
                        .map_or(json!({ "name": name }), json::workspace),
                )?,
            }
        }
        WorkspaceCommand::List { read } => {
            let response = client
                .list_workspaces(read.consistency())
                .await
                .context("list workspaces")?;
            match format {
                Format::Table => {
                    let mut table = Table::new(vec!["NAME", "CREATED", "CREATED BY"]);
                    for workspace in &response.workspaces {
                        table.push(vec![
                            workspace.name.clone(),
                            format_time_ms(workspace.created_at_ms),
                            workspace.created_by.clone(),
                        ]);
                    }
                    emit(&table.render())?;
                }
                Format::Json => emit_json(&json!({
                    "workspaces": response.workspaces.iter().map(json::workspace).collect::<Vec<_>>(),
                }))?,
            }
        }
        WorkspaceCommand::Settings { name, read } => {
            let settings = client
                .get_workspace_settings(name.clone(), read.consistency())
                .await
                .with_context(|| format!("get the settings of workspace {name}"))?;
            match format {
                Format::Table => emit(&render_settings(&settings))?,
                Format::Json => emit_json(&json::workspace_settings(&settings))?,
            }
        }
        WorkspaceCommand::Set {
            name,
            trace_content,
        } => {
            let settings = client
                .set_workspace_settings(WorkspaceSettings {
                    workspace: name.clone(),
                    trace_content: trace_content == Switch::On,
                    ..WorkspaceSettings::default()
                })
                .await
                .with_context(|| format!("set the settings of workspace {name}"))?;
            match format {
                Format::Table => emit(&render_settings(&settings))?,
                Format::Json => emit_json(&json::workspace_settings(&settings))?,
            }
        }
        WorkspaceCommand::Export(args) => {
            return crate::workspace_file::export(client, format, args).await;
        }
        WorkspaceCommand::Apply(args) => {
            return crate::workspace_file::apply(client, format, args).await;
        }
        WorkspaceCommand::Delete { name, yes } => {
            if !yes {
                anyhow::bail!(
                    "deleting workspace {name} removes its configuration, tasks and journals \
                     for good: repeat with --yes to confirm"
                );
            }
            let response = client
                .delete_workspace(name.clone())
                .await
                .with_context(|| format!("delete workspace {name}"))?;
            match format {
                Format::Table => emit(&format!("deleted workspace {name}\n"))?,
                Format::Json => emit_json(
                    &response
                        .workspace
                        .as_ref()
                        .map_or(json!({ "name": name }), json::workspace),
                )?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
