//! Agent-task helpers for the node's integration tests: a workspace's providers, MCP
//! servers, agents and tasks through `warden-client`, scripted model servers,
//! the bundled ledger tool server over HTTP, and a task with its journal as evidence for
//! assertion messages.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use warden_client::{Client, Consistency, TaskFilter};
use warden_proto::v1::{
    Agent, AgentLimits, CatalogEntry, McpServer, Provider, Task, TaskEvent, TaskStatus, ToolGrant,
};
use warden_providers::scripted::{ScriptedModel, ScriptedModelHandle};

use super::{WARDEN, eventually};

/// The bundled ledger MCP server, built next to `warden`.
pub fn ledger_tools() -> PathBuf {
    let path = Path::new(WARDEN).with_file_name("warden-ledger-tools");
    assert!(
        path.is_file(),
        "{} is missing: build the workspace's binaries first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// The catalog entry `ledger` for the bundled ledger server writing into `dir` (a
/// directory of its own, never the cluster's base directory).
pub fn ledger_entry(dir: &Path) -> CatalogEntry {
    warden_local_cluster::tool_catalog::ledger_entry("ledger", &ledger_tools(), dir)
}

/// The catalog entry `name` for the Python MCP server `name` (scripts/python-tools.sh),
/// which may read its virtualenv and the Python installation the virtualenv's
/// interpreter links to (not necessarily under /usr), and take extra arguments matching
/// `allowed_args`.
pub fn python_entry(name: &str, allowed_args: &[&str]) -> CatalogEntry {
    let tool = python_tool(name);
    let venv = tool
        .parent()
        .and_then(Path::parent)
        .expect("a virtualenv's bin/ entry");
    let interpreter = venv
        .join("bin")
        .join("python")
        .canonicalize()
        .expect("the virtualenv's interpreter");
    let installation = interpreter
        .parent()
        .and_then(Path::parent)
        .expect("an interpreter in a bin/ directory");
    CatalogEntry {
        name: name.to_owned(),
        executable: tool.display().to_string(),
        allowed_args: allowed_args.iter().map(|arg| (*arg).to_owned()).collect(),
        read_paths: vec![
            venv.display().to_string(),
            installation.display().to_string(),
        ],
        ..CatalogEntry::default()
    }
}

/// A Python MCP server installed by scripts/python-tools.sh. Missing is a failure, not a skip.
pub fn python_tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("WARDEN_PYTHON_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/warden-python-tools"));
    let path = venv.join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/python-tools.sh to install the Python MCP test servers",
        path.display()
    );
    path
}

/// Starts a scripted model server on a free port; `script` is the JSON script format of
/// `warden_providers::scripted`.
pub async fn scripted_model(script: serde_json::Value) -> ScriptedModelHandle {
    let script = serde_json::from_value(script.clone())
        .unwrap_or_else(|error| panic!("bad script {script}: {error}"));
    let listen = "127.0.0.1:0".parse().expect("loopback address");
    ScriptedModel::start(script, listen)
        .await
        .expect("start the scripted model server")
}

/// The ledger server serving streamable HTTP on a free port; killed when dropped.
pub struct HttpLedger {
    pub url: String,
    pub ledger: PathBuf,
    _child: tokio::process::Child,
}

impl HttpLedger {
    /// Starts `warden-ledger-tools --http 127.0.0.1:0` with its ledger and ready file in
    /// `dir`, and waits for the ready file that holds its URL.
    pub async fn start(dir: &Path) -> HttpLedger {
        let ledger = dir.join("http-ledger.jsonl");
        let ready_file = dir.join("http-ledger.url");
        let mut child = tokio::process::Command::new(ledger_tools())
            .arg("--ledger")
            .arg(&ledger)
            .args(["--http", "127.0.0.1:0", "--ready-file"])
            .arg(&ready_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start warden-ledger-tools --http");
        let url = eventually(
            "the HTTP ledger server's ready file",
            Duration::from_secs(10),
            || {
                let exited = child.try_wait().expect("check the ledger server");
                assert!(
                    exited.is_none(),
                    "warden-ledger-tools --http exited: {exited:?}"
                );
                let url = std::fs::read_to_string(&ready_file).ok();
                async move { url }
            },
        )
        .await;
        HttpLedger {
            url,
            ledger,
            _child: child,
        }
    }
}

/// One workspace of a running cluster, driven through a `warden_client::Client` that
/// presents the admin token.
#[derive(Clone)]
pub struct Workspace {
    pub name: String,
    client: Client,
}

/// A provider as the tests configure it: the scripted model at `base_url`.
pub struct ProviderSpec<'a> {
    pub name: &'a str,
    /// "openai" or "anthropic".
    pub kind: &'a str,
    pub base_url: String,
    pub request_timeout_ms: u64,
    pub max_retries: u32,
}

impl Workspace {
    /// Workspace `name`, which must exist, through `client`.
    pub fn new(client: Client, name: &str) -> Workspace {
        Workspace {
            name: name.to_owned(),
            client,
        }
    }

    pub async fn put_provider(&self, spec: ProviderSpec<'_>) {
        let provider = Provider {
            workspace: self.name.clone(),
            name: spec.name.to_owned(),
            kind: spec.kind.to_owned(),
            base_url: spec.base_url,
            model: "scripted".to_owned(),
            request_timeout_ms: spec.request_timeout_ms,
            max_retries: spec.max_retries,
            max_output_tokens: 512,
            ..Default::default()
        };
        self.client
            .put_provider(provider)
            .await
            .unwrap_or_else(|error| panic!("put provider {}: {error}", spec.name));
    }

    /// Puts `entry` in the cluster catalog (the client must be a cluster admin's) and
    /// registers stdio server `name` by it with the extra `args`; returns the server with
    /// its pinned tools.
    pub async fn register_stdio(
        &self,
        name: &str,
        entry: CatalogEntry,
        args: &[&str],
    ) -> McpServer {
        let catalog = entry.name.clone();
        self.client
            .put_catalog_entry(entry)
            .await
            .unwrap_or_else(|error| panic!("put catalog entry {catalog}: {error}"));
        self.register(McpServer {
            workspace: self.name.clone(),
            name: name.to_owned(),
            catalog,
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            ..Default::default()
        })
        .await
    }

    /// Registers a streamable-HTTP MCP server by URL.
    pub async fn register_url(&self, name: &str, url: &str) -> McpServer {
        self.register(McpServer {
            workspace: self.name.clone(),
            name: name.to_owned(),
            url: url.to_owned(),
            ..Default::default()
        })
        .await
    }

    async fn register(&self, server: McpServer) -> McpServer {
        let name = server.name.clone();
        self.client
            .register_mcp_server(server)
            .await
            .unwrap_or_else(|error| panic!("register mcp server {name}: {error}"))
            .server
            .expect("a server in the response")
    }

    /// Creates agent `name` on `provider` with `grants` (server, tool) and `limits`
    /// (zero fields take the defaults).
    pub async fn create_agent(
        &self,
        name: &str,
        provider: &str,
        grants: &[(&str, &str)],
        limits: AgentLimits,
    ) {
        let agent = Agent {
            workspace: self.name.clone(),
            name: name.to_owned(),
            instructions: "Follow the script.".to_owned(),
            provider: provider.to_owned(),
            tools: grants
                .iter()
                .map(|(server, tool)| ToolGrant {
                    server: (*server).to_owned(),
                    tool: (*tool).to_owned(),
                    retry_safe: retry_safe(tool),
                })
                .collect(),
            limits: Some(limits),
            ..Default::default()
        };
        self.client
            .create_agent(agent)
            .await
            .unwrap_or_else(|error| panic!("create agent {name}: {error}"));
    }

    /// Submits a task to `agent` under a random idempotency key, which no other
    /// submission uses.
    pub async fn submit(&self, agent: &str, input: &str) -> Task {
        self.client
            .submit_task(&self.name, agent, input, None)
            .await
            .unwrap_or_else(|error| panic!("submit a task to {agent}: {error}"))
            .response
            .task
            .expect("a task in the response")
    }

    pub async fn get(&self, task_id: &str) -> Task {
        self.client
            .get_task(&self.name, task_id, Consistency::Linearizable)
            .await
            .unwrap_or_else(|error| panic!("get task {task_id}: {error}"))
            .task
            .expect("a task in the response")
    }

    /// The whole journal (tests keep journals under one page).
    pub async fn journal(&self, task_id: &str) -> Vec<TaskEvent> {
        self.client
            .get_journal(&self.name, task_id, 0, 0, Consistency::Linearizable)
            .await
            .unwrap_or_else(|error| panic!("journal of {task_id}: {error}"))
            .events
    }

    /// The task and its journal as they are now.
    pub async fn seen(&self, task_id: &str) -> Seen {
        let task = self.get(task_id).await;
        let journal = self.journal(task_id).await;
        Seen { task, journal }
    }

    /// WaitTask: returns the task once it is terminal or waiting, with its journal.
    /// Err (with the evidence) when it has not settled within `timeout`.
    pub async fn wait_settled(&self, task_id: &str, timeout: Duration) -> Result<Seen, String> {
        let response = self
            .client
            .wait_task(&self.name, task_id, timeout)
            .await
            .map_err(|error| format!("wait task {task_id}: {error}"))?;
        let seen = self.seen(task_id).await;
        if !response.settled {
            return Err(format!("task did not settle within {timeout:?}\n{seen}"));
        }
        Ok(seen)
    }

    pub async fn cancel(&self, task_id: &str, reason: &str) -> Result<Task, warden_client::Error> {
        self.client
            .cancel_task(&self.name, task_id, reason)
            .await
            .map(|response| response.task.expect("a task in the response"))
    }

    /// The ids of the tasks ListTasks reports with `stalled_only`.
    pub async fn stalled_ids(&self) -> Vec<String> {
        let filter = TaskFilter {
            stalled_only: true,
            status: None,
        };
        self.client
            .list_tasks_matching(&self.name, filter, 1000, "", Consistency::Linearizable)
            .await
            .unwrap_or_else(|error| panic!("list stalled tasks: {error}"))
            .tasks
            .into_iter()
            .map(|task| task.id)
            .collect()
    }
}

/// A task and its journal, printed in full by assertion messages.
pub struct Seen {
    pub task: Task,
    pub journal: Vec<TaskEvent>,
}

impl Seen {
    pub fn status(&self) -> TaskStatus {
        TaskStatus::try_from(self.task.status).unwrap_or(TaskStatus::Unspecified)
    }

    /// Ok when `holds`, else `what` followed by the task and its journal.
    pub fn check(&self, holds: bool, what: &str) -> Result<(), String> {
        if holds {
            Ok(())
        } else {
            Err(format!("{what}\n{self}"))
        }
    }

    pub fn check_status(&self, expected: TaskStatus) -> Result<(), String> {
        self.check(
            self.status() == expected,
            &format!(
                "expected {}, the task is {}",
                expected.as_str_name(),
                self.status().as_str_name()
            ),
        )
    }

    /// Checks that the reason contains each of `parts` (case-insensitive).
    pub fn check_reason(&self, parts: &[&str]) -> Result<(), String> {
        let reason = self.task.reason.to_lowercase();
        for part in parts {
            self.check(
                reason.contains(&part.to_lowercase()),
                &format!("the reason does not mention {part:?}"),
            )?;
        }
        Ok(())
    }

    pub fn events<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a TaskEvent> + 'a {
        self.journal.iter().filter(move |event| event.kind == kind)
    }

    /// The detail of every event of `kind`, parsed.
    pub fn details(&self, kind: &str) -> Vec<serde_json::Value> {
        self.events(kind)
            .map(|event| serde_json::from_str(&event.detail_json).unwrap_or_default())
            .collect()
    }

    pub fn last_kind(&self) -> &str {
        self.journal.last().map_or("", |event| event.kind.as_str())
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let task = &self.task;
        writeln!(
            f,
            "task {} agent {}: {} owner {} epoch {} turns {} tokens {} stalled {}",
            task.id,
            task.agent,
            self.status().as_str_name(),
            task.owner,
            task.epoch,
            task.turns,
            task.tokens_used,
            task.stalled
        )?;
        writeln!(f, "  reason: {:?}", task.reason)?;
        writeln!(f, "  result: {:?}", task.result)?;
        writeln!(f, "  journal ({} events):", self.journal.len())?;
        for event in &self.journal {
            writeln!(
                f,
                "    #{:<3} epoch {:<2} {:<18} {}",
                event.seq, event.epoch, event.kind, event.detail_json
            )?;
        }
        Ok(())
    }
}

/// The ledger server's `get` (read-only) and `put` (idempotent) may run again after a
/// failover: said by the grant, as the tools' own annotations are not trusted by default.
pub fn retry_safe(tool: &str) -> Option<bool> {
    matches!(tool, "get" | "put").then_some(true)
}
