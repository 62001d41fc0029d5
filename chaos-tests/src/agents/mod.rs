//! The agent workload: tasks that really run. An agent takes three tool-calling turns
//! against the scripted model (a test double speaking the OpenAI wire protocol, served
//! by the harness) and the bundled ledger MCP server, which records every invocation it
//! completes in its own file. The workspace's policy allows most calls, denies some and
//! sends some for approval, which an approver grants or refuses; watchers follow every
//! event of the workspace. The checkers then hold the journals against the ledger, the
//! audit records and what the watchers saw.
//!
//! Each task's input is derived from its idempotency key, and the model writes the input
//! into the calls' arguments (`{{input}}`), so every ledger line names its task and turn:
//! `chaos input a7-ask-yes#2`.

mod approver;
mod phase;
mod watcher;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use warden_client::Client;
use warden_client::proto::{Agent, AgentLimits, McpServer, Provider, ToolGrant};
use warden_providers::scripted::{ScriptedModel, ScriptedModelHandle};

pub use approver::approve_until;
pub use phase::{AgentRun, status_name};
pub use watcher::{WatchLog, watch_until};

use crate::history::Decision;
use crate::workload::{Destination, Recorder};

/// The agent whose tasks run.
pub const AGENT: &str = "worker";
/// The ledger MCP server's name in the workspace.
pub const SERVER: &str = "ledger";
/// The principal that decides approvals; the tasks' submitter (the admin) may not.
pub const APPROVER: &str = "user/approver";
/// The model's turns: two appends (not idempotent: each must run at most once) and a put
/// (idempotent, safe to retry). The second append is the one the policy looks at.
pub const TURNS: [(&str, &str); 3] = [("append", "#1"), ("append", "#2"), ("put", "#3")];
/// How long each tool call takes, so that faults land in the middle of some.
const CALL_DELAY_MS: u64 = 400;

/// The workspace's policy: the ledger's tools are allowed, except that a task whose key
/// says `deny` has its second append denied, and one whose key says `ask-yes` or `ask-no`
/// waits for an approver, who grants the first and refuses the second.
const POLICY: &str = r#"{
  "rules": [
    {"id": "allow-ledger", "priority": 0, "subject": "any", "target": {"server": "ledger"},
     "conditions": [], "effect": "allow", "description": "the ledger's tools"},
    {"id": "deny-marked", "priority": 10, "subject": "any",
     "target": {"tool": {"server": "ledger", "tool": "append"}},
     "conditions": [{"path": "$.entry", "test": {"regex": "-deny#2$"}}],
     "effect": "deny", "description": "tasks marked deny"},
    {"id": "ask-marked", "priority": 10, "subject": "any",
     "target": {"tool": {"server": "ledger", "tool": "append"}},
     "conditions": [{"path": "$.entry", "test": {"regex": "-ask-(yes|no)#2$"}}],
     "effect": {"require_approval": {"approvers": [{"principal": "user/approver"}], "quorum": 1,
                                     "expiry_ms": 600000, "on_expiry": "deny"}},
     "description": "tasks marked ask wait for the approver"}
  ]
}"#;

/// What the agent workload needs for a run; dropping it stops the model server.
pub struct AgentSetup {
    _model: ScriptedModelHandle,
    /// The ledger tool server's own file.
    pub ledger: PathBuf,
    /// The approver's client.
    pub approver: Client,
}

/// Configures `workspace` (which must exist): the model provider, the ledger server, the
/// policy, the agent and the approver's token. `tools_binary` is `warden-ledger-tools`.
pub async fn prepare(
    admin: &Client,
    workspace: &str,
    tools_binary: &Path,
    dir: &Path,
) -> anyhow::Result<AgentSetup> {
    let steps: Vec<serde_json::Value> = TURNS
        .iter()
        .map(|(tool, suffix)| {
            let arguments = match *tool {
                "put" => serde_json::json!({"key": format!("{{{{input}}}}{suffix}"), "value": "v", "delay_ms": CALL_DELAY_MS}),
                _ => serde_json::json!({"entry": format!("{{{{input}}}}{suffix}"), "delay_ms": CALL_DELAY_MS}),
            };
            serde_json::json!({"tool_calls": [{"name": format!("{SERVER}__{tool}"), "arguments": arguments}]})
        })
        .collect();
    let script = serde_json::from_value(serde_json::json!({"steps": steps, "final": "done"}))
        .context("the chaos script")?;
    let model = ScriptedModel::start(script, "127.0.0.1:0".parse()?)
        .await
        .context("starting the scripted model")?;
    admin
        .put_provider(Provider {
            workspace: workspace.to_owned(),
            name: "scripted".to_owned(),
            kind: "openai".to_owned(),
            base_url: model.base_url(),
            model: "scripted".to_owned(),
            request_timeout_ms: 10_000,
            max_retries: 2,
            ..Provider::default()
        })
        .await
        .context("the scripted provider")?;
    // In a directory of its own: the catalog entry lets the server write there only, and
    // a node refuses to let a server reach its data directory or key files.
    let tools_dir = dir.join("tools");
    let ledger = tools_dir.join("ledger.jsonl");
    warden_local_cluster::tool_catalog::put_ledger_entry(admin, SERVER, tools_binary, &tools_dir)
        .await?;
    admin
        .register_mcp_server(McpServer {
            workspace: workspace.to_owned(),
            name: SERVER.to_owned(),
            catalog: SERVER.to_owned(),
            args: vec!["--ledger".to_owned(), ledger.display().to_string()],
            ..McpServer::default()
        })
        .await
        .context("registering the ledger server")?;
    admin
        .put_policy(workspace, POLICY, 0)
        .await
        .context("the policy")?;
    let grant = |tool: &str| ToolGrant {
        server: SERVER.to_owned(),
        tool: tool.to_owned(),
        // `put` is idempotent and may run again after a failover: the grant says so, as
        // the tool's own annotation is not trusted by default.
        retry_safe: (tool == "put").then_some(true),
    };
    admin
        .create_agent(Agent {
            workspace: workspace.to_owned(),
            name: AGENT.to_owned(),
            instructions: "Record the task's entries in the ledger.".to_owned(),
            provider: "scripted".to_owned(),
            tools: vec![grant("append"), grant("put")],
            limits: Some(AgentLimits {
                max_steps: 8,
                ..AgentLimits::default()
            }),
            ..Agent::default()
        })
        .await
        .context("the agent")?;
    let token = admin
        .create_token(APPROVER, "decides the chaos run's approvals", 0)
        .await
        .context("the approver's token")?;
    admin
        .set_roles(Some(workspace), APPROVER, &["approver"])
        .await
        .context("the approver's role")?;
    let approver = admin.with_token(
        warden_client::BearerToken::new(&token.secret).context("the approver's token")?,
    );
    Ok(AgentSetup {
        _model: model,
        ledger,
        approver,
    })
}

/// The key of the `n`th agent task: every sixth asks for an approval that is granted,
/// every sixth for one that is refused, every sixth has a call denied by the policy.
pub fn agent_key(n: u64) -> String {
    let mark = match n % 6 {
        1 => "-ask-yes",
        3 => "-deny",
        4 => "-ask-no",
        _ => "",
    };
    format!("a{n}{mark}")
}

/// Submits agent tasks one after another, `pace` apart, until `stop` is set.
pub fn submit_agent_tasks(
    tasks: &mut JoinSet<()>,
    client: Client,
    recorder: &Recorder,
    workspace: &str,
    pace: Duration,
    stop: Arc<AtomicBool>,
) {
    let recorder = recorder.clone();
    let destination = Destination {
        workspace: workspace.to_owned(),
        agent: AGENT.to_owned(),
    };
    tasks.spawn(async move {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            recorder
                .submit(&client, AGENT_CLIENT, false, &destination, &agent_key(n))
                .await;
            n += 1;
            tokio::time::sleep(pace).await;
        }
    });
}

/// The client id the agent submitter records its operations under.
pub const AGENT_CLIENT: u32 = 1000;

/// The approver's decisions so far, shared with the driver.
pub type Decisions = Arc<Mutex<Vec<Decision>>>;
