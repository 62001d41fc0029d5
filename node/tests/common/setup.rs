//! Setting up a workspace to run agent tasks in tests: the scripted model server (a
//! test double speaking the OpenAI wire protocol), the bundled ledger MCP server, a
//! provider, and an agent, through the public API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::transport::Channel;
use warden_proto::v1::agent_service_client::AgentServiceClient;
use warden_proto::v1::task_service_client::TaskServiceClient;
use warden_proto::v1::workspace_service_client::WorkspaceServiceClient;
use warden_proto::v1::{
    Agent, AgentLimits, CreateAgentRequest, CreateWorkspaceRequest, GetJournalRequest,
    GetTaskRequest, McpServer, Provider, PutProviderRequest, RegisterMcpServerRequest,
    SubmitTaskRequest, Task, TaskEvent, ToolGrant,
};
use warden_providers::scripted::{ScriptedModel, ScriptedModelHandle};

use super::WARDEN;

pub fn ledger_tools() -> PathBuf {
    let path = Path::new(WARDEN).with_file_name("warden-ledger-tools");
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries (scripts/test does)",
        path.display()
    );
    path
}

pub async fn channel(endpoint: &str) -> Channel {
    Channel::from_shared(format!("http://{endpoint}"))
        .expect("endpoint")
        .connect()
        .await
        .unwrap_or_else(|error| panic!("connect {endpoint}: {error}"))
}

/// Starts the scripted model with `script` (JSON, see providers/src/scripted).
pub async fn scripted_model(script: serde_json::Value) -> ScriptedModelHandle {
    let script = serde_json::from_value(script).expect("valid script");
    ScriptedModel::start(script, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("start the scripted model")
}

/// Creates `workspace` with provider `model` at `model_url`, the ledger server as
/// `ledger` writing to `ledger`, and agent `agent` granted `grants` (ledger tools).
pub async fn workspace(
    endpoint: &str,
    workspace: &str,
    model_url: &str,
    ledger: &Path,
    agent: &str,
    grants: &[&str],
) {
    let channel = channel(endpoint).await;
    WorkspaceServiceClient::new(channel.clone())
        .create_workspace(CreateWorkspaceRequest {
            name: workspace.into(),
        })
        .await
        .expect("create workspace");
    let mut agents = AgentServiceClient::new(channel);
    agents
        .put_provider(PutProviderRequest {
            provider: Some(Provider {
                workspace: workspace.into(),
                name: "model".into(),
                kind: "openai".into(),
                base_url: model_url.into(),
                model: "scripted".into(),
                request_timeout_ms: 30_000,
                max_retries: 1,
                max_output_tokens: 256,
                ..Default::default()
            }),
        })
        .await
        .expect("put provider");
    agents
        .register_mcp_server(RegisterMcpServerRequest {
            server: Some(McpServer {
                workspace: workspace.into(),
                name: "ledger".into(),
                command: ledger_tools().display().to_string(),
                args: vec!["--ledger".into(), ledger.display().to_string()],
                ..Default::default()
            }),
        })
        .await
        .expect("register the ledger server");
    agents
        .create_agent(CreateAgentRequest {
            agent: Some(Agent {
                workspace: workspace.into(),
                name: agent.into(),
                instructions: "follow the script".into(),
                provider: "model".into(),
                tools: grants
                    .iter()
                    .map(|tool| ToolGrant {
                        server: "ledger".into(),
                        tool: (*tool).into(),
                        retry_safe: None,
                    })
                    .collect(),
                limits: Some(AgentLimits::default()),
                ..Default::default()
            }),
        })
        .await
        .expect("create agent");
}

pub async fn submit(endpoint: &str, workspace: &str, agent: &str, input: &str) -> Task {
    TaskServiceClient::new(channel(endpoint).await)
        .submit_task(SubmitTaskRequest {
            workspace: workspace.into(),
            idempotency_key: format!("{agent}-{input}"),
            input: input.into(),
            agent: agent.into(),
        })
        .await
        .expect("submit")
        .into_inner()
        .task
        .expect("task")
}

pub async fn task(endpoint: &str, workspace: &str, id: &str) -> Option<Task> {
    let mut tasks = TaskServiceClient::new(channel(endpoint).await);
    let response = tasks
        .get_task(GetTaskRequest {
            workspace: workspace.into(),
            task_id: id.into(),
            consistency: 0,
        })
        .await
        .ok()?;
    response.into_inner().task
}

pub async fn journal(endpoint: &str, workspace: &str, id: &str) -> Option<Vec<TaskEvent>> {
    let mut tasks = TaskServiceClient::new(channel(endpoint).await);
    let response = tasks
        .get_journal(GetJournalRequest {
            workspace: workspace.into(),
            task_id: id.into(),
            from_seq: 0,
            limit: 0,
            consistency: 0,
        })
        .await
        .ok()?;
    Some(response.into_inner().events)
}

/// Waits until the task's first tool call is journaled as started; returns its owner.
pub async fn owner_once_a_call_started(endpoint: &str, workspace: &str, id: &str) -> u64 {
    super::eventually("a tool call to start", WAIT, || async {
        let events = journal(endpoint, workspace, id).await?;
        let started = events.iter().any(|event| event.kind == "tool_call_started");
        let owner = task(endpoint, workspace, id).await?.owner;
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
