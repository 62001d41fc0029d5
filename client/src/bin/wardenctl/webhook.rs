//! `wardenctl webhook ...`: the HTTP endpoints a workspace's approval and task events are
//! sent to, and the record of those deliveries.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use warden_client::Client;
use warden_client::proto::{Delivery, Webhook};

use crate::args::ReadArgs;
use crate::json;
use crate::output::{Format, Table, emit, emit_json, render_fields, shorten};

/// Bytes of a generated signing secret (printed as twice as many hex digits).
const GENERATED_SECRET_BYTES: usize = 32;

/// How receivers check a delivery, printed with a generated secret.
const SIGNATURE_NOTE: &str = "Receivers verify X-Warden-Signature: t=<unix ms>,v1=<hex HMAC-SHA256 of \"<t>.<body>\"> under this secret";

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Create or replace a webhook of a workspace
    ///
    /// Replaces the whole definition, secret included. The leader POSTs each subscribed
    /// event as JSON to the URL, signed with the webhook's secret in X-Warden-Signature:
    /// t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">, with the delivery's id in
    /// X-Warden-Delivery (deduplicate by it); failed attempts are retried with backoff
    /// for a bounded time (`webhook deliveries` shows them). Without --secret-env a
    /// secret of 32 random bytes is generated and printed once, in hex: it is never
    /// shown again. The node seals the secret with the workspace's key; only ciphertext
    /// is stored.
    Put(PutArgs),
    /// List the webhooks of a workspace
    List {
        /// Workspace to list
        workspace: String,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Delete a webhook; its pending deliveries fail when next due
    Delete {
        /// Workspace of the webhook
        workspace: String,
        /// Name of the webhook
        name: String,
    },
    /// Show a workspace's webhook deliveries, newest first
    ///
    /// A delivery is pending (with the time of its next attempt), delivered (with the
    /// receiver's HTTP status) or failed (no attempt succeeded in time). When older
    /// deliveries remain, the command says which `--before` to pass for the next page.
    Deliveries {
        /// Workspace whose deliveries to show
        workspace: String,
        /// How many deliveries
        #[arg(long, short = 'n', default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
        /// Only deliveries older than this one (its id, for the next older page)
        #[arg(long, value_name = "ID")]
        before: Option<String>,
        #[command(flatten)]
        read: ReadArgs,
    },
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Workspace of the webhook
    workspace: String,
    /// Name of the webhook: 1-64 characters of a-z, 0-9 and '-', starting with a letter
    name: String,
    /// Where deliveries are POSTed: an http:// or https:// URL without credentials. Nodes
    /// reach only public addresses unless the cluster's egress.allow admits an internal
    /// one (loopback, private ranges, ...): other URLs are refused
    #[arg(long)]
    url: String,
    /// Events to send, comma-separated or repeated; `all` for every one
    #[arg(long, value_enum, value_delimiter = ',', required = true)]
    events: Vec<EventArg>,
    /// Environment variable holding the signing secret (16 to 256 bytes), instead of a
    /// generated one
    #[arg(long, value_name = "VAR")]
    secret_env: Option<String>,
}

/// `--events`: what a webhook is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum EventArg {
    /// A tool call waits for a human's approval
    #[value(name = "approval.requested")]
    ApprovalRequested,
    /// A waiting call was approved (its quorum reached) or denied
    #[value(name = "approval.decided")]
    ApprovalDecided,
    /// A waiting call's approval request expired
    #[value(name = "approval.expired")]
    ApprovalExpired,
    /// A task stopped for a human's decision (`task resolve`)
    #[value(name = "task.needs_attention")]
    TaskNeedsAttention,
    /// A task failed or timed out
    #[value(name = "task.failed")]
    TaskFailed,
    /// An agent asked a person a question; its task waits for the answer
    #[value(name = "question.asked")]
    QuestionAsked,
    /// Every event above
    All,
}

impl EventArg {
    const EVENTS: [EventArg; 6] = [
        EventArg::ApprovalRequested,
        EventArg::ApprovalDecided,
        EventArg::ApprovalExpired,
        EventArg::TaskNeedsAttention,
        EventArg::TaskFailed,
        EventArg::QuestionAsked,
    ];

    fn as_proto(self) -> &'static str {
        match self {
            EventArg::ApprovalRequested => "approval.requested",
            EventArg::ApprovalDecided => "approval.decided",
            EventArg::ApprovalExpired => "approval.expired",
            EventArg::TaskNeedsAttention => "task.needs_attention",
            EventArg::TaskFailed => "task.failed",
            EventArg::QuestionAsked => "question.asked",
            EventArg::All => "all",
        }
    }
}

/// The events named, `all` expanded, each once and in a fixed order.
fn event_names(events: &[EventArg]) -> Vec<String> {
    let mut chosen: Vec<EventArg> = events
        .iter()
        .flat_map(|&event| match event {
            EventArg::All => EventArg::EVENTS.to_vec(),
            one => vec![one],
        })
        .collect();
    chosen.sort_unstable();
    chosen.dedup();
    chosen
        .into_iter()
        .map(|event| event.as_proto().to_owned())
        .collect()
}

/// The signing secret: environment variable `var`'s value, else 32 random bytes in hex
/// (then `true`: the caller must show it, as nothing else will). Errors name the
/// variable, never its value.
pub(crate) fn signing_secret(var: Option<&str>) -> anyhow::Result<(String, bool)> {
    let Some(var) = var else {
        let bytes: [u8; GENERATED_SECRET_BYTES] = rand::random();
        let hex = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        return Ok((hex, true));
    };
    let problem = match std::env::var(var) {
        Ok(secret) if !secret.is_empty() => return Ok((secret, false)),
        Ok(_) => "is empty",
        Err(std::env::VarError::NotPresent) => "is not set",
        Err(std::env::VarError::NotUnicode(_)) => "is not valid UTF-8",
    };
    // An I/O error of kind InvalidData, so that it reports as INVALID_ARGUMENT like a
    // secret file named on the command line that cannot be read.
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("environment variable {var} (--secret-env) {problem}"),
    )
    .into())
}

pub async fn run(
    client: &Client,
    format: Format,
    command: WebhookCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        WebhookCommand::Put(args) => {
            let (workspace, name) = (args.workspace.clone(), args.name.clone());
            let (secret, generated) = signing_secret(args.secret_env.as_deref())?;
            let request = Webhook {
                workspace: args.workspace,
                name: args.name,
                url: args.url,
                events: event_names(&args.events),
                ..Webhook::default()
            };
            let webhook = client
                .put_webhook(request, secret.clone())
                .await
                .with_context(|| format!("put webhook {name} of workspace {workspace}"))?
                .webhook
                .unwrap_or_default();
            let shown = generated.then_some(secret.as_str());
            match format {
                Format::Table => emit(&render_put(&webhook, shown))?,
                Format::Json => {
                    let mut value = json::webhook(&webhook);
                    if let Some(secret) = shown {
                        value["secret"] = json!(secret);
                        eprintln!("The secret is not shown again. {SIGNATURE_NOTE}.");
                    }
                    emit_json(&value)?;
                }
            }
        }
        WebhookCommand::List { workspace, read } => {
            let response = client
                .list_webhooks(workspace.clone(), read.consistency())
                .await
                .with_context(|| format!("list webhooks of workspace {workspace}"))?;
            match format {
                Format::Table => emit(&render_list(&response.webhooks))?,
                Format::Json => emit_json(&json!({
                    "webhooks": response.webhooks.iter().map(json::webhook).collect::<Vec<_>>(),
                }))?,
            }
        }
        WebhookCommand::Delete { name, workspace } => {
            let webhook = client
                .delete_webhook(workspace.clone(), name.clone())
                .await
                .with_context(|| format!("delete webhook {workspace}/{name}"))?
                .webhook
                .unwrap_or_default();
            match format {
                Format::Table => emit(&format!("deleted webhook {workspace}/{name}\n"))?,
                Format::Json => emit_json(&json::webhook(&webhook))?,
            }
        }
        WebhookCommand::Deliveries {
            workspace,
            limit,
            before,
            read,
        } => {
            let response = client
                .list_deliveries(
                    workspace.clone(),
                    before.unwrap_or_default(),
                    limit,
                    read.consistency(),
                )
                .await
                .with_context(|| format!("list webhook deliveries of workspace {workspace}"))?;
            match format {
                Format::Table => {
                    emit(&render_deliveries(&response.deliveries, now_ms()))?;
                    if !response.next_before.is_empty() {
                        eprintln!("older deliveries: --before {}", response.next_before);
                    }
                }
                Format::Json => emit_json(&json!({
                    "deliveries": response.deliveries.iter().map(json::delivery).collect::<Vec<_>>(),
                    "next_before": response.next_before,
                }))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Milliseconds since the Unix epoch on this machine's clock.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// The stored webhook, and a generated secret with how receivers use it.
fn render_put(webhook: &Webhook, generated_secret: Option<&str>) -> String {
    let mut fields = vec![
        ("name", webhook.name.clone()),
        ("url", webhook.url.clone()),
        ("events", webhook.events.join(",")),
        ("version", webhook.version.to_string()),
    ];
    if let Some(secret) = generated_secret {
        fields.push(("secret", secret.to_owned()));
    }
    let mut text = format!(
        "put webhook {}/{} (version {})\n",
        webhook.workspace, webhook.name, webhook.version
    );
    text.push_str(&render_fields(&fields));
    if generated_secret.is_some() {
        text.push_str(&format!(
            "The secret above is not shown again: keep it now. {SIGNATURE_NOTE}.\n"
        ));
    }
    text
}

fn render_list(webhooks: &[Webhook]) -> String {
    let mut table = Table::new(vec!["NAME", "URL", "EVENTS", "VERSION", "UPDATED_BY"]);
    for webhook in webhooks {
        table.push(vec![
            webhook.name.clone(),
            webhook.url.clone(),
            webhook.events.join(","),
            webhook.version.to_string(),
            webhook.updated_by.clone(),
        ]);
    }
    table.render()
}

/// A delivery's state with what follows from it: the receiver's status once delivered,
/// the wait for the next attempt while pending.
fn delivery_state(delivery: &Delivery, now_ms: u64) -> String {
    match delivery.state.as_str() {
        "delivered" => format!("delivered ({})", delivery.status),
        "pending" if delivery.next_attempt_at_ms > 0 => {
            let wait_ms = delivery.next_attempt_at_ms.saturating_sub(now_ms);
            format!("pending (next in {}s)", wait_ms.div_ceil(1000))
        }
        other => other.to_owned(),
    }
}

fn render_deliveries(deliveries: &[Delivery], now_ms: u64) -> String {
    let mut table = Table::new(vec![
        "ID",
        "WEBHOOK",
        "EVENT",
        "TASK",
        "STATE",
        "ATTEMPTS",
        "LAST_ERROR",
    ]);
    for delivery in deliveries {
        let last_error = if delivery.last_error.is_empty() {
            "-".to_owned()
        } else {
            shorten(&delivery.last_error, 60)
        };
        table.push(vec![
            delivery.id.clone(),
            delivery.webhook.clone(),
            delivery.event.clone(),
            delivery.task_id.clone(),
            delivery_state(delivery, now_ms),
            delivery.attempts.to_string(),
            last_error,
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_expand_all_and_drop_repeats() {
        assert_eq!(
            event_names(&[
                EventArg::TaskFailed,
                EventArg::ApprovalRequested,
                EventArg::TaskFailed
            ]),
            ["approval.requested", "task.failed"]
        );
        assert_eq!(
            event_names(&[EventArg::TaskFailed, EventArg::All]),
            [
                "approval.requested",
                "approval.decided",
                "approval.expired",
                "task.needs_attention",
                "task.failed",
                "question.asked"
            ]
        );
    }

    #[test]
    fn generated_secrets_are_64_hex_digits_and_differ() {
        let (first, generated) = signing_secret(None).expect("a secret");
        assert!(generated);
        assert_eq!(first.len(), 64);
        assert!(
            first
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(signing_secret(None).expect("a secret").0, first);
    }

    #[test]
    fn a_missing_secret_variable_is_named() {
        let var = "WARDENCTL_TEST_WEBHOOK_SECRET_NEVER_SET";
        let error = signing_secret(Some(var)).expect_err("unset");
        assert!(error.to_string().contains(var), "{error}");
    }

    #[test]
    fn delivery_states_say_what_follows() {
        let delivered = Delivery {
            state: "delivered".into(),
            status: 204,
            ..Delivery::default()
        };
        assert_eq!(delivery_state(&delivered, 0), "delivered (204)");
        let pending = Delivery {
            state: "pending".into(),
            next_attempt_at_ms: 10_500,
            ..Delivery::default()
        };
        assert_eq!(delivery_state(&pending, 1_000), "pending (next in 10s)");
        assert_eq!(delivery_state(&pending, 20_000), "pending (next in 0s)");
        let failed = Delivery {
            state: "failed".into(),
            ..Delivery::default()
        };
        assert_eq!(delivery_state(&failed, 0), "failed");
    }
}
