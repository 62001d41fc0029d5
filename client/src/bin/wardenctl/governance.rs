//! `wardenctl policy ...` and `wardenctl approval ...`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use warden_client::proto::Approval;
use warden_client::{Client, PolicyProbe};

use crate::output::{Format, Table, emit, emit_json, format_time_ms, short_hash};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Replace a workspace's policy with the rules in a JSON file (admins)
    ///
    /// Every tool call is decided by these rules, deny by default. The file reads
    /// {"rules": [{"id", "priority", "subject", "target", "conditions", "effect",
    /// "description"}]}; see docs/policy.md. The set is validated as a whole.
    Set {
        workspace: String,
        /// The rules file (`-` for stdin)
        file: PathBuf,
        /// The version read last with `policy get`; 0 when the workspace has none
        #[arg(long)]
        expected_version: u64,
    },
    /// Print a workspace's policy
    Get { workspace: String },
    /// Show what Warden would decide now for a call of the agent, as it decides a task's:
    /// the agent's grant, the tool's pin, pauses, then the policy (naming the rule and
    /// the policy version)
    Test {
        workspace: String,
        #[arg(long)]
        agent: String,
        /// The MCP server of the tool
        #[arg(long)]
        server: String,
        #[arg(long)]
        tool: String,
        /// The call's arguments, a JSON object
        #[arg(long, default_value = "{}")]
        args: String,
        /// Evaluate as if this principal submitted the task (default: the caller)
        #[arg(long, default_value = "")]
        submitter: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApprovalCommand {
    /// List the calls waiting for approval in a workspace
    List { workspace: String },
    /// Show one waiting call: its exact arguments and their hash
    Show { workspace: String, task_id: String },
    /// Approve a waiting call. The hash is the arguments hash `approval show` printed, or
    /// the first 12 or more of its digits as `approval list` shows them: an approval
    /// covers only the exact arguments it names
    Approve {
        workspace: String,
        task_id: String,
        #[arg(long)]
        call: String,
        /// The call's arguments hash, whole (64 hex digits) or its first 12 or more
        #[arg(long)]
        hash: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Deny a waiting call; the denial becomes the call's result and the task goes on
    Deny {
        workspace: String,
        task_id: String,
        #[arg(long)]
        call: String,
        /// The call's arguments hash, whole (64 hex digits) or its first 12 or more
        #[arg(long)]
        hash: String,
        #[arg(long)]
        reason: String,
    },
}

pub async fn run_policy(
    client: &Client,
    format: Format,
    command: PolicyCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Set {
            workspace,
            file,
            expected_version,
        } => {
            let rules = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading the rules from stdin")?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let policy = client
                .put_policy(&workspace, &rules, expected_version)
                .await
                .with_context(|| format!("set the policy of {workspace}"))?;
            match format {
                Format::Table => emit(&format!(
                    "policy of {workspace} is now at version {}\n",
                    policy.version
                ))?,
                Format::Json => emit_json(&json!({
                    "workspace": policy.workspace,
                    "version": policy.version,
                }))?,
            }
        }
        PolicyCommand::Get { workspace } => {
            let policy = client
                .get_policy(&workspace)
                .await
                .with_context(|| format!("get the policy of {workspace}"))?;
            match (policy, format) {
                (None, Format::Table) => emit(&format!(
                    "workspace {workspace} has no policy: every tool call is denied\n"
                ))?,
                (None, Format::Json) => emit_json(&json!(null))?,
                (Some(policy), Format::Table) => emit(&format!(
                    "version {} (updated {} by {})\n{}\n",
                    policy.version,
                    format_time_ms(policy.updated_ms),
                    policy.updated_by,
                    policy.rules_json
                ))?,
                (Some(policy), Format::Json) => emit_json(&json!({
                    "workspace": policy.workspace,
                    "version": policy.version,
                    "updated_ms": policy.updated_ms,
                    "updated_by": policy.updated_by,
                    "policy": serde_json::from_str::<serde_json::Value>(&policy.rules_json)?,
                }))?,
            }
        }
        PolicyCommand::Test {
            workspace,
            agent,
            server,
            tool,
            args,
            submitter,
        } => {
            let probe = PolicyProbe {
                agent,
                server,
                tool,
                arguments_json: args,
                submitter,
            };
            let decision = client
                .test_policy(&workspace, probe)
                .await
                .context("test the policy")?;
            match format {
                Format::Table => emit(&format!(
                    "{} by {} (policy version {})\n{}\narguments hash {}\n",
                    decision.effect,
                    if decision.rule.is_empty() {
                        "no rule (a check before policy, or the default deny)".to_owned()
                    } else {
                        format!("rule {}", decision.rule)
                    },
                    decision.policy_version,
                    decision.reason,
                    decision.arguments_hash
                ))?,
                Format::Json => emit_json(&json!({
                    "effect": decision.effect,
                    "rule": (!decision.rule.is_empty()).then_some(&decision.rule),
                    "reason": decision.reason,
                    "arguments_hash": decision.arguments_hash,
                    "policy_version": decision.policy_version,
                }))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_approval(
    client: &Client,
    format: Format,
    command: ApprovalCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        ApprovalCommand::List { workspace } => {
            let approvals = client
                .list_approvals(&workspace)
                .await
                .with_context(|| format!("list the approvals of {workspace}"))?;
            match format {
                Format::Table => {
                    let mut table = Table::new(vec![
                        "TASK",
                        "CALL",
                        "TOOL",
                        "ARGS HASH",
                        "RULE",
                        "APPROVALS",
                        "EXPIRES",
                    ]);
                    for approval in &approvals {
                        table.push(vec![
                            approval.task_id.clone(),
                            approval.call_id.clone(),
                            format!("{}/{}", approval.server, approval.tool),
                            short_hash(&approval.arguments_hash),
                            approval.rule.clone(),
                            format!("{}/{}", approval.approved_by.len(), approval.quorum),
                            format_time_ms(approval.expires_at_ms),
                        ]);
                    }
                    emit(&table.render())?;
                }
                Format::Json => emit_json(&json!(
                    approvals.iter().map(approval_json).collect::<Vec<_>>()
                ))?,
            }
        }
        ApprovalCommand::Show { workspace, task_id } => {
            let approval = client
                .list_approvals(&workspace)
                .await
                .with_context(|| format!("list the approvals of {workspace}"))?
                .into_iter()
                .find(|approval| approval.task_id == task_id)
                .with_context(|| format!("task {task_id} waits for no approval"))?;
            match format {
                Format::Table => emit(&format!(
                    "task {} (agent {}, submitted by {})\ncall {}: {}/{}\narguments {}\narguments hash {}\nrule {}: approvers {} (quorum {}), approved by [{}]\nexpires {}\n",
                    approval.task_id,
                    approval.agent,
                    approval.submitted_by,
                    approval.call_id,
                    approval.server,
                    approval.tool,
                    approval.arguments,
                    approval.arguments_hash,
                    approval.rule,
                    approval.approvers.join(", "),
                    approval.quorum,
                    approval.approved_by.join(", "),
                    format_time_ms(approval.expires_at_ms),
                ))?,
                Format::Json => emit_json(&approval_json(&approval))?,
            }
        }
        ApprovalCommand::Approve {
            workspace,
            task_id,
            call,
            hash,
            reason,
        } => {
            decide(
                client, format, &workspace, &task_id, &call, &hash, true, &reason,
            )
            .await?
        }
        ApprovalCommand::Deny {
            workspace,
            task_id,
            call,
            hash,
            reason,
        } => {
            decide(
                client, format, &workspace, &task_id, &call, &hash, false, &reason,
            )
            .await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
async fn decide(
    client: &Client,
    format: Format,
    workspace: &str,
    task_id: &str,
    call: &str,
    hash: &str,
    approve: bool,
    reason: &str,
) -> anyhow::Result<()> {
    let verb = if approve { "approve" } else { "deny" };
    let hash = whole_hash(client, workspace, task_id, call, hash).await?;
    let task = client
        .decide_approval(workspace, task_id, call, &hash, approve, reason)
        .await
        .with_context(|| format!("{verb} call {call} of task {task_id}"))?;
    let status = crate::output::task_status_name(task.status);
    match format {
        Format::Table => emit(&format!(
            "{}d call {call} of task {task_id}; the task is {status}\n",
            if approve { "approve" } else { "denie" }
        ))?,
        Format::Json => {
            emit_json(&json!({ "task_id": task_id, "call_id": call, "status": status }))?
        }
    }
    Ok(())
}

/// The fewest hex digits of an arguments hash `approve` and `deny` take: what
/// `approval list` shows.
const MIN_HASH_PREFIX: usize = 12;

/// `hash` when it is whole; otherwise the whole arguments hash of the waiting call it
/// begins, so `approval list`'s short hash works. The server still compares the whole
/// hash against the call's arguments.
async fn whole_hash(
    client: &Client,
    workspace: &str,
    task_id: &str,
    call: &str,
    hash: &str,
) -> anyhow::Result<String> {
    let hash = hash.trim().to_ascii_lowercase();
    if hash.len() == 64 {
        return Ok(hash);
    }
    if hash.len() < MIN_HASH_PREFIX || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        anyhow::bail!(
            "--hash {hash:?} is neither a whole arguments hash (64 hex digits) nor its first {MIN_HASH_PREFIX} or more (as `approval list` shows)"
        );
    }
    let waiting = client
        .list_approvals(workspace)
        .await
        .with_context(|| format!("list the approvals of {workspace}"))?
        .into_iter()
        .find(|approval| approval.task_id == task_id && approval.call_id == call)
        .with_context(|| format!("call {call} of task {task_id} waits for no approval"))?;
    if !waiting.arguments_hash.starts_with(&hash) {
        anyhow::bail!(
            "call {call} of task {task_id} has arguments hash {}, which does not begin with {hash}: see `approval show {workspace} {task_id}`",
            waiting.arguments_hash
        );
    }
    Ok(waiting.arguments_hash)
}

fn approval_json(approval: &Approval) -> serde_json::Value {
    json!({
        "task_id": approval.task_id,
        "agent": approval.agent,
        "submitted_by": approval.submitted_by,
        "call_id": approval.call_id,
        "server": approval.server,
        "tool": approval.tool,
        "arguments": approval.arguments,
        "arguments_hash": approval.arguments_hash,
        "rule": approval.rule,
        "approvers": approval.approvers,
        "quorum": approval.quorum,
        "approved_by": approval.approved_by,
        "requested_ms": approval.requested_ms,
        "expires_at_ms": approval.expires_at_ms,
    })
}
