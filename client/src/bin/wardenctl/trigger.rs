//! `wardenctl trigger ...`: tasks a workspace submits when a signed HTTP request arrives
//! at a node's web listener.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use warden_client::Client;
use warden_client::proto::Trigger;

use crate::args::{ReadArgs, text_or_stdin};
use crate::output::{Format, Table, emit, emit_json, format_time_ms, render_fields, shorten};
use crate::webhook::signing_secret;

/// How senders sign a request, printed with a generated secret.
const SIGNING_NOTE: &str = "Senders sign each request with X-Warden-Signature: t=<unix ms>,v1=<hex HMAC-SHA256 of \"<t>.<body>\"> under this secret, within 5 minutes of the node's clock, and may name it with an Idempotency-Key header";

#[derive(Debug, Subcommand)]
pub enum TriggerCommand {
    /// Create or replace a webhook trigger: a task for an agent each time a signed HTTP
    /// request arrives
    ///
    /// Requests are POSTed to /hooks/<workspace>/<name> on any node's web listener
    /// (console.listen, over the node's TLS), signed with the trigger's secret in
    /// X-Warden-Signature: t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">. A request
    /// signed more than 5 minutes from the node's clock, or whose Idempotency-Key header
    /// (or, without one, whose signature) was accepted before, submits nothing. Each task
    /// is submitted as trigger/<workspace>/<name>, so policy rules and the audit chain
    /// name it; its input is --input with "{{body}}" replaced by the request's body.
    ///
    /// Creating a trigger without --secret-env generates a secret of 32 random bytes and
    /// prints it once, in hex. Replacing one keeps its secret unless --secret-env or
    /// --rotate-secret is given.
    ///
    /// Examples:
    ///   wardenctl trigger put acme alerts --agent triage --input "Triage this alert: {{body}}"
    ///   wardenctl trigger put acme alerts --agent triage --input "{{body}}" --version 1 --rotate-secret
    Put(PutArgs),
    /// List a workspace's webhook triggers
    List {
        /// Workspace to list
        workspace: String,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Delete a webhook trigger; tasks it submitted stay
    Delete {
        /// Workspace of the trigger
        workspace: String,
        /// Name of the trigger
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Workspace of the trigger
    workspace: String,
    /// Name of the trigger: 1-64 characters of a-z, 0-9 and '-', starting with a letter
    /// (not a schedule's name: both act as trigger/<workspace>/<name>)
    name: String,
    /// The agent that runs its tasks
    #[arg(long)]
    agent: String,
    /// The input of every task it submits; "{{body}}" in it is replaced by the request's
    /// body, which otherwise follows it after a blank line; `-` reads it from standard
    /// input
    #[arg(long, default_value = "{{body}}")]
    input: String,
    /// Put it paused: it refuses every request until put again without --paused
    #[arg(long)]
    paused: bool,
    /// The version being replaced (as `trigger list` shows it); 0 creates it
    #[arg(long, default_value_t = 0)]
    version: u64,
    /// Environment variable holding the signing secret (16 to 256 bytes), instead of a
    /// generated one (when creating) or the current one (when replacing)
    #[arg(long, value_name = "VAR", conflicts_with = "rotate_secret")]
    secret_env: Option<String>,
    /// Generate a new secret when replacing the trigger, and print it once
    #[arg(long)]
    rotate_secret: bool,
}

pub async fn run(
    client: &Client,
    format: Format,
    command: TriggerCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        TriggerCommand::Put(args) => {
            let input = text_or_stdin(args.input).context("read the input")?;
            let new_secret = args.version == 0 || args.rotate_secret || args.secret_env.is_some();
            let (secret, generated) = match new_secret {
                true => signing_secret(args.secret_env.as_deref())?,
                false => (String::new(), false),
            };
            let trigger = Trigger {
                workspace: args.workspace.clone(),
                name: args.name.clone(),
                agent: args.agent,
                input,
                paused: args.paused,
                ..Trigger::default()
            };
            let put = client
                .put_trigger(trigger, args.version, secret.clone())
                .await
                .with_context(|| format!("put trigger {} of {}", args.name, args.workspace))?
                .trigger
                .unwrap_or_default();
            let shown = generated.then_some(secret.as_str());
            match format {
                Format::Table => emit(&render_put(&put, shown))?,
                Format::Json => {
                    let mut value = trigger_json(&put);
                    if let Some(secret) = shown {
                        value["secret"] = json!(secret);
                        eprintln!("The secret is not shown again. {SIGNING_NOTE}.");
                    }
                    emit_json(&value)?;
                }
            }
        }
        TriggerCommand::List { workspace, read } => {
            let triggers = client
                .list_triggers(workspace.clone(), read.consistency())
                .await
                .with_context(|| format!("list the triggers of {workspace}"))?
                .triggers;
            match format {
                Format::Table => emit(&render(&triggers))?,
                Format::Json => emit_json(&json!({
                    "triggers": triggers.iter().map(trigger_json).collect::<Vec<_>>(),
                }))?,
            }
        }
        TriggerCommand::Delete { workspace, name } => {
            let deleted = client
                .delete_trigger(workspace.clone(), name.clone())
                .await
                .with_context(|| format!("delete trigger {name} of {workspace}"))?
                .trigger
                .unwrap_or_default();
            match format {
                Format::Table => emit(&format!("deleted trigger {name}\n"))?,
                Format::Json => emit_json(&trigger_json(&deleted))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The stored trigger, and a generated secret with how senders use it.
fn render_put(trigger: &Trigger, generated_secret: Option<&str>) -> String {
    let mut fields = vec![
        ("name", trigger.name.clone()),
        ("agent", trigger.agent.clone()),
        ("path", trigger.path.clone()),
        ("version", trigger.version.to_string()),
    ];
    if let Some(secret) = generated_secret {
        fields.push(("secret", secret.to_owned()));
    }
    let mut text = format!(
        "put trigger {}/{} (version {})\n",
        trigger.workspace, trigger.name, trigger.version
    );
    text.push_str(&render_fields(&fields));
    if generated_secret.is_some() {
        text.push_str(&format!(
            "The secret above is not shown again: keep it now. {SIGNING_NOTE}.\n"
        ));
    }
    text
}

fn render(triggers: &[Trigger]) -> String {
    let mut table = Table::new(vec![
        "NAME",
        "AGENT",
        "PATH",
        "FIRED",
        "LAST FIRED",
        "VERSION",
    ]);
    for trigger in triggers {
        table.push(vec![
            match trigger.paused {
                true => format!("{} (paused)", trigger.name),
                false => trigger.name.clone(),
            },
            trigger.agent.clone(),
            shorten(&trigger.path, 60),
            trigger.fired.to_string(),
            format_time_ms(trigger.last_fired_at_ms),
            trigger.version.to_string(),
        ]);
    }
    table.render()
}

fn trigger_json(trigger: &Trigger) -> Value {
    json!({
        "workspace": trigger.workspace,
        "name": trigger.name,
        "agent": trigger.agent,
        "input": trigger.input,
        "paused": trigger.paused,
        "path": trigger.path,
        "version": trigger.version,
        "updated_at_ms": trigger.updated_at_ms,
        "updated_by": trigger.updated_by,
        "fired": trigger.fired,
        "last_fired_at_ms": trigger.last_fired_at_ms,
        "last_task_id": trigger.last_task_id,
    })
}
