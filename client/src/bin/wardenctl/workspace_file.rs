//! `wardenctl workspace export|apply`: a workspace's configuration as a YAML file.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use warden_client::Client;
use warden_client::proto::{ApplyWorkspaceResponse, ConfigChange};

use crate::args::ReadArgs;
use crate::output::{Format, emit, emit_json};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Workspace to export
    pub name: String,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The file, as `workspace export` writes it; `-` reads standard input
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: String,
    /// Show the changes without making them
    #[arg(long)]
    pub dry_run: bool,
    /// A secret the file's records need that the workspace does not hold (or a new value
    /// for one it holds), as NAME=VAR: the value is read from environment variable VAR.
    /// NAME is provider/<name>, mcp_server/<name>/env/<VARIABLE>, mcp_server/<name>/bearer
    /// or trigger/<name>
    #[arg(long = "secret", value_name = "NAME=VAR")]
    pub secrets: Vec<String>,
}

pub async fn export(client: &Client, format: Format, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let exported = client
        .export_workspace(args.name.clone(), args.read.consistency())
        .await
        .with_context(|| format!("export workspace {}", args.name))?;
    match format {
        Format::Table => emit(&exported.document)?,
        Format::Json => emit_json(&json!({
            "document": exported.document,
            "revision": exported.revision,
        }))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The secrets named on the command line, read from the environment. Errors name the
/// variable, never its value.
fn secrets(named: &[String]) -> anyhow::Result<HashMap<String, String>> {
    let mut found = HashMap::new();
    for item in named {
        let Some((name, var)) = item.split_once('=') else {
            anyhow::bail!("--secret {item:?} must be NAME=VAR");
        };
        let value = match std::env::var(var) {
            Ok(value) if !value.is_empty() => value,
            Ok(_) => anyhow::bail!("environment variable {var} (--secret {name}) is empty"),
            Err(_) => anyhow::bail!("environment variable {var} (--secret {name}) is not set"),
        };
        if found.insert(name.to_owned(), value).is_some() {
            anyhow::bail!("--secret {name} is given twice");
        }
    }
    Ok(found)
}

pub async fn apply(client: &Client, format: Format, args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let document = if args.file == "-" {
        std::io::read_to_string(std::io::stdin()).context("read the file from standard input")?
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("read {}", args.file))?
    };
    let secrets = secrets(&args.secrets)?;
    let response = client
        .apply_workspace(document, args.dry_run, secrets)
        .await
        .with_context(|| format!("apply {}", args.file))?;
    match format {
        Format::Table => emit(&render(&response, args.dry_run))?,
        Format::Json => emit_json(&json!({
            "changes": response.changes.iter().map(change_json).collect::<Vec<_>>(),
            "applied": response.applied,
            "revision": response.revision,
        }))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn change_json(change: &ConfigChange) -> serde_json::Value {
    json!({
        "kind": change.kind,
        "name": change.name,
        "action": change.action,
        "details": change.details,
    })
}

/// The changes as a diff (`+` create, `~` update, `-` delete, each field below), and
/// what became of them.
fn render(response: &ApplyWorkspaceResponse, dry_run: bool) -> String {
    let mut text = String::new();
    for change in &response.changes {
        let mark = match change.action.as_str() {
            "create" => '+',
            "delete" => '-',
            _ => '~',
        };
        text.push_str(&format!("{mark} {} {}\n", change.kind, change.name));
        for detail in &change.details {
            text.push_str(&format!("    {detail}\n"));
        }
    }
    let count = response.changes.len();
    text.push_str(&match (count, dry_run, response.applied) {
        (0, _, _) => "no changes: the workspace's configuration is the file's\n".to_owned(),
        (_, true, _) => format!("dry run: {count} changes; nothing applied\n"),
        (_, false, _) => format!(
            "applied {count} changes in one command; revision {}\n",
            response.revision
        ),
    });
    text
}
