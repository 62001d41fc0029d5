//! Setting up a workspace to run agent tasks in tests: a provider on the scripted model
//! server (a test double speaking the OpenAI wire protocol), the bundled ledger MCP
//! server and an agent, through `warden-client`; and reading a task and its journal
//! where a failed read (a node going away) is not a failure yet.

use std::path::Path;
use std::time::Duration;

use warden_client::{Client, Consistency};
use warden_proto::v1::{Agent, AgentLimits, McpServer, Provider, Task, TaskEvent, ToolGrant};

use super::agents::ledger_entry;

/// Creates `workspace` with a policy allowing every call, provider `model` at
/// `model_url`, the ledger server as `ledger` writing to `ledger` (through the catalog
/// entry `ledger`, which `client`, a cluster admin's, puts), and agent `agent` granted
/// `grants` (ledger tools).
pub async fn workspace(
    client: &Client,
    workspace: &str,
    model_url: &str,
    ledger: &Path,
    agent: &str,
    grants: &[&str],
) {
    client
        .create_workspace(workspace)
        .await
        .expect("create workspace");
    super::allow_every_call(client, workspace).await;
    client
        .put_provider(Provider {
            workspace: workspace.into(),
            name: "model".into(),
            kind: "openai".into(),
            base_url: model_url.into(),
            model: "scripted".into(),
            request_timeout_ms: 30_000,
            max_retries: 1,
            max_output_tokens: 256,
            ..Default::default()
        })
        .await
        .expect("put provider");
    let ledger_dir = ledger.parent().expect("a ledger file in a directory");
    std::fs::create_dir_all(ledger_dir).expect("create the ledger's directory");
    client
        .put_catalog_entry(ledger_entry(ledger_dir))
        .await
        .expect("put the ledger catalog entry");
    client
        .register_mcp_server(McpServer {
            workspace: workspace.into(),
            name: "ledger".into(),
            catalog: "ledger".into(),
            args: vec!["--ledger".into(), ledger.display().to_string()],
            ..Default::default()
        })
        .await
        .expect("register the ledger server");
    client
        .create_agent(Agent {
            workspace: workspace.into(),
            name: agent.into(),
            instructions: "follow the script".into(),
            provider: "model".into(),
            tools: grants
                .iter()
                .map(|tool| ToolGrant {
                    server: "ledger".into(),
                    tool: (*tool).into(),
                    retry_safe: super::agents::retry_safe(tool),
                })
                .collect(),
            limits: Some(AgentLimits::default()),
            ..Default::default()
        })
        .await
        .expect("create agent");
}

pub async fn submit(client: &Client, workspace: &str, agent: &str, input: &str) -> Task {
    client
        .submit_task(workspace, agent, input, Some(format!("{agent}-{input}")))
        .await
        .expect("submit")
        .response
        .task
        .expect("task")
}

/// The task, or None when the read fails.
pub async fn task(client: &Client, workspace: &str, id: &str) -> Option<Task> {
    client
        .get_task(workspace, id, Consistency::Linearizable)
        .await
        .ok()?
        .task
}

/// The whole journal, or None when the read fails.
pub async fn journal(client: &Client, workspace: &str, id: &str) -> Option<Vec<TaskEvent>> {
    let response = client
        .get_journal(workspace, id, 0, 0, Consistency::Linearizable)
        .await
        .ok()?;
    Some(response.events)
}

/// Waits until the task's first tool call is journaled as started; returns its owner.
pub async fn owner_once_a_call_started(client: &Client, workspace: &str, id: &str) -> u64 {
    super::eventually("a tool call to start", WAIT, || async {
        let events = journal(client, workspace, id).await?;
        let started = events.iter().any(|event| event.kind == "tool_call_started");
        let owner = task(client, workspace, id).await?.owner;
        (started && owner != 0).then_some(owner)
    })
    .await
}

pub fn describe(events: &[TaskEvent]) -> String {
    events
        .iter()
        .map(|event| {
            format!(
                "#{} e{} {} {}",
                event.seq, event.epoch, event.kind, event.detail_json
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub const SHORT_LEASE: &[(&str, &str)] = &[
    ("runtime.lease", "2s"),
    ("runtime.heartbeat_interval", "300ms"),
    ("runtime.controller_interval", "100ms"),
];

pub const WAIT: Duration = Duration::from_secs(60);
