//! The demo's governance path: the workspace's policy decides every tool call. One task
//! asks for three calls: a read the policy allows, an append it denies, and a payroll
//! write it sends for approval. The submitter (the admin) may not approve its own
//! call; a second principal, `user/approver`, approves exactly those arguments, and the
//! task completes. The audit records show each decision with its rule and principal.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use warden_client::{BearerToken, Client, Consistency};
use warden_proto::v1::{Agent, AgentLimits, Provider, TaskStatus, ToolGrant};
use warden_providers::scripted::ScriptedModel;

use super::{WORKSPACE, short, status_name, step};

/// The demo workspace's policy: the ledger's tools are allowed, appending a shell
/// deletion is denied, writes under `payroll/` need one approver, and agents may hand
/// work to each other and ask people questions.
pub const POLICY: &str = r#"{
  "rules": [
    {"id": "allow-ledger", "priority": 0, "subject": "any", "target": {"server": "ledger"},
     "conditions": [], "effect": "allow", "description": "the ledger's tools"},
    {"id": "no-rm", "priority": 10, "subject": "any",
     "target": {"tool": {"server": "ledger", "tool": "append"}},
     "conditions": [{"path": "$.entry", "test": {"regex": "^rm\\s"}}],
     "effect": "deny", "description": "never record shell deletions"},
    {"id": "payroll-needs-approval", "priority": 10, "subject": "any",
     "target": {"tool": {"server": "ledger", "tool": "put"}},
     "conditions": [{"path": "$.key", "test": {"prefix": "payroll/"}}],
     "effect": {"require_approval": {"approvers": [{"role": "approver"}], "quorum": 1,
                                     "expiry_ms": 600000, "on_expiry": "deny"}},
     "description": "payroll changes need an approver"},
    {"id": "allow-delegation", "priority": 0, "subject": "any", "target": {"server": "agent"},
     "conditions": [], "effect": "allow", "description": "agents may hand work to each other"},
    {"id": "allow-questions", "priority": 0, "subject": "any",
     "target": {"tool": {"server": "warden", "tool": "ask_human"}},
     "conditions": [], "effect": "allow", "description": "agents may ask people"}
  ]
}"#;

const APPROVER: &str = "user/approver";

/// Sets the demo workspace's policy (over whatever a rerun finds in place).
pub async fn put_policy(client: &Client) -> anyhow::Result<()> {
    let current = client
        .get_policy(WORKSPACE)
        .await
        .context("reading the policy")?
        .map_or(0, |policy| policy.version);
    let policy = client
        .put_policy(WORKSPACE, POLICY, current)
        .await
        .context("setting the policy")?;
    println!(
        "  policy version {}: allow-ledger, no-rm (deny), payroll-needs-approval, allow-delegation, allow-questions",
        policy.version
    );
    Ok(())
}

/// Runs the governed task; returns whether everything held.
pub async fn run(admin: &Client, approver: &Client, ledger: &Path) -> anyhow::Result<bool> {
    step("governance: one call allowed, one denied, one waiting for an approval");
    let script = serde_json::from_value(serde_json::json!({
        "steps": [{
            "tool_calls": [
                {"name": "ledger__get", "arguments": {"key": "step-1"}},
                {"name": "ledger__append", "arguments": {"entry": "rm -rf /var/lib/payroll"}},
                {"name": "ledger__put", "arguments": {"key": "payroll/alice", "value": "+500"}}
            ],
            "content": "checking, cleaning up, paying alice",
            "output_tokens": 30
        }],
        "final": "alice is paid",
    }))
    .context("building the governed script")?;
    let model = ScriptedModel::start(script, "127.0.0.1:0".parse()?)
        .await
        .context("starting the second scripted model server")?;
    admin
        .put_provider(Provider {
            workspace: WORKSPACE.into(),
            name: "clerk-model".into(),
            kind: "openai".into(),
            base_url: model.base_url(),
            model: "scripted".into(),
            request_timeout_ms: 60_000,
            max_output_tokens: 512,
            ..Default::default()
        })
        .await
        .context("putting the clerk's provider")?;
    let agent = format!("clerk-{}", std::process::id());
    let grants = ["get", "append", "put"].map(|tool| ToolGrant {
        server: "ledger".into(),
        tool: tool.into(),
        // The read-only and idempotent tools may run again after a failover.
        retry_safe: matches!(tool, "get" | "put").then_some(true),
    });
    admin
        .create_agent(Agent {
            workspace: WORKSPACE.into(),
            name: agent.clone(),
            instructions: "Keep the ledger.".into(),
            provider: "clerk-model".into(),
            tools: grants.to_vec(),
            limits: Some(AgentLimits {
                max_steps: 4,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .context("creating the clerk agent")?;

    let task = admin
        .submit_task(
            WORKSPACE,
            agent,
            "pay alice".to_owned(),
            Some(format!("governed-{}", std::process::id())),
        )
        .await
        .context("submitting the governed task")?
        .response
        .task
        .context("no task in the response")?;
    println!("  task {} submitted by user/admin", task.id);

    let approval = wait_for_approval(admin, &task.id).await?;
    println!(
        "  waiting_approval: call {} {}/{} {}\n  arguments hash {} (rule {}, approvers {})",
        approval.call_id,
        approval.server,
        approval.tool,
        approval.arguments,
        approval.arguments_hash,
        approval.rule,
        approval.approvers.join(", ")
    );
    let own = admin
        .decide_approval(
            WORKSPACE,
            &task.id,
            &approval.call_id,
            &approval.arguments_hash,
            true,
            "my own change",
        )
        .await;
    let self_refused =
        matches!(&own, Err(error) if error.code() == Some(tonic::Code::PermissionDenied));
    match &own {
        Err(error) => println!("  user/admin may not approve its own call: {error}"),
        Ok(_) => println!("  WRONG: the submitter approved its own call"),
    }
    approver
        .decide_approval(
            WORKSPACE,
            &task.id,
            &approval.call_id,
            &approval.arguments_hash,
            true,
            "alice's raise was agreed",
        )
        .await
        .context("approving as user/approver")?;
    println!(
        "  {APPROVER} approved call {} for exactly these arguments",
        approval.call_id
    );

    let done = admin
        .wait_task(WORKSPACE, &task.id, Duration::from_secs(60))
        .await
        .context("waiting for the governed task")?
        .task
        .context("no task in the response")?;
    println!("  task is {}: {:?}", status_name(done.status), done.result);

    step("the governed task's decisions in the audit chain");
    let records = admin
        .tail_audit(
            warden_client::AuditTail::last(200),
            Consistency::Linearizable,
        )
        .await
        .context("reading the audit chain")?
        .records;
    let mut decisions = 0;
    for record in records
        .iter()
        // The records that decided something: steps with policy decisions (their
        // detail names the agent) and approval decisions.
        .filter(|record| {
            record.resource.ends_with(&task.id)
                && (record.detail.contains("agent ") || record.action == "approval.decide")
        })
    {
        decisions += 1;
        println!(
            "  #{:<4} {:<24} {:<16}",
            record.index, record.principal, record.action
        );
        // One line per decision the record holds.
        // "[node N epoch E: ]agent A for P: note; note"
        let notes = record
            .detail
            .find("agent ")
            .and_then(|start| {
                let rest = &record.detail[start..];
                rest.find(": ").map(|end| &rest[end + 2..])
            })
            .unwrap_or(record.detail.as_str());
        for note in notes.split("; ") {
            println!("        {}", short(note, 140));
        }
    }

    let entries = warden_mcp::read_ledger(ledger).context("reading the ledger")?;
    let ran = |tool: &str, needle: &str| {
        entries
            .iter()
            .filter(|entry| {
                entry.tool == tool
                    && entry
                        .arguments
                        .values()
                        .any(|value| value.as_str().is_some_and(|text| text.contains(needle)))
            })
            .count()
    };
    let (read, removed, paid) = (
        ran("get", "step-1"),
        ran("append", "rm -rf"),
        ran("put", "payroll/alice"),
    );
    println!(
        "  ledger: get ran {read}x, the denied append {removed}x, the approved payroll put {paid}x"
    );
    let completed = done.status == i32::from(TaskStatus::Completed);
    Ok(completed && self_refused && read == 1 && removed == 0 && paid == 1 && decisions >= 2)
}

/// A client acting as `user/approver`, who holds the approver role in the workspace.
pub async fn approver_client(admin: &Client) -> anyhow::Result<Client> {
    let created = admin
        .create_token(APPROVER, "demo approver", 3_600_000)
        .await
        .context("creating the approver's token")?;
    admin
        .set_roles(Some(WORKSPACE), APPROVER, &["approver"])
        .await
        .context("making user/approver an approver")?;
    println!("  created {APPROVER} (role approver) with a token valid for 1h");
    Ok(admin.with_token(BearerToken::new(&created.secret)?))
}

async fn wait_for_approval(
    client: &Client,
    task_id: &str,
) -> anyhow::Result<warden_proto::v1::Approval> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let approvals = client
            .list_approvals(WORKSPACE)
            .await
            .context("listing approvals")?;
        if let Some(approval) = approvals.into_iter().find(|a| a.task_id == task_id) {
            return Ok(approval);
        }
        if Instant::now() > deadline {
            bail!("task {task_id} did not come to wait for an approval within 60s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
