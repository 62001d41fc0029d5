//! TaskActor: runs one task's agent loop on its owner node, one journaled step per
//! message: model call, tool call (journaled as started before it runs and finished
//! after), and so on until the task ends or the node loses it.
//!
//! Past ~500 lines of code: it is to be split by concern (step preparation, tool calls,
//! resume) now that `actors/tests/runtime.rs` covers it through the fakeable `Host`.
//!
//! Errors that leave the state unknown (a proposal that timed out, a refused step) fail
//! the actor; its AgentActor restarts it, and the restarted actor re-reads the task
//! behind a read barrier and resumes from the journal.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ractor::{Actor, ActorProcessingErr, ActorRef};
// tokio's clock, so that the runtime's waits follow a paused clock in tests.
use tokio::time::Instant;
use warden_core::{
    AgentName, Command, JournalEntry, McpServer, McpTransport, OpenCall, Outcome, RequestedCall,
    ServerName, Step, Task, TaskId, TaskStatus, ToolName, Usage, WorkspaceId,
};
use warden_providers::{CompletionRequest, Message, ToolSpec};

use crate::call_result::CallResult;
use crate::credentials;
use crate::functions;
use crate::host::{Host, HostError, SecretError};
use crate::metrics;
use crate::model::Model;
use crate::pinning::{self, Offered};
use crate::replay::{self, Next};

pub struct TaskActor;

pub struct TaskArgs {
    pub host: Arc<dyn Host>,
    pub workspace: WorkspaceId,
    pub task: TaskId,
    pub epoch: u64,
}

#[derive(Debug)]
pub enum TaskMsg {
    /// Take the next step of the loop.
    Step,
}

pub struct TaskState {
    args: TaskArgs,
    loaded: Option<Loaded>,
}

/// Everything the loop needs, read once per actor incarnation.
struct Loaded {
    task: Task,
    messages: Vec<Message>,
    system: Option<String>,
    model: Box<dyn Model>,
    provider_name: String,
    tools: Vec<(ServerName, ToolName, ToolSpec)>,
    servers: BTreeMap<ServerName, McpServer>,
    /// When this incarnation took the task over from another owner: the time of that
    /// owner's last journaled step, to measure the resume gap at the first commit.
    resumed_after_ms: Option<u64>,
    /// The call the last commit journaled as started, not run yet.
    started_here: Option<String>,
}

/// Why an actor gives up on its incarnation.
#[derive(Debug, thiserror::Error)]
enum TaskError {
    #[error("step refused: {0}")]
    Refused(String),
    #[error("unexpected outcome of a journal step: {0}")]
    Unexpected(String),
    #[error("this node no longer holds its lease")]
    LeaseLost,
}

impl Actor for TaskActor {
    type Msg = TaskMsg;
    type State = TaskState;
    type Arguments = TaskArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<TaskMsg>,
        args: TaskArgs,
    ) -> Result<TaskState, ActorProcessingErr> {
        myself.send_message(TaskMsg::Step)?;
        Ok(TaskState { args, loaded: None })
    }

    async fn handle(
        &self,
        myself: ActorRef<TaskMsg>,
        message: TaskMsg,
        state: &mut TaskState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            TaskMsg::Step => {
                if step(state).await? {
                    myself.send_message(TaskMsg::Step)?;
                } else {
                    myself.stop(Some("task no longer runs here".to_owned()));
                }
                Ok(())
            }
        }
    }
}

/// Takes one step. Returns whether the loop goes on.
async fn step(state: &mut TaskState) -> Result<bool, ActorProcessingErr> {
    let args = &state.args;
    if state.loaded.is_none() {
        match load(args).await? {
            Some(loaded) => state.loaded = Some(loaded),
            None => return Ok(false),
        }
    }
    let Some(loaded) = state.loaded.as_mut() else {
        return Ok(false);
    };
    let host = args.host.as_ref();
    // A call the last commit journaled as started runs now, with no commit of its own.
    let started_here = loaded.started_here.take().filter(|call_id| {
        loaded
            .task
            .open_calls
            .first()
            .is_some_and(|call| &call.call_id == call_id && call.attempts > 0)
    });
    // The kill switch: while the task's workspace or agent is paused it takes no new
    // step (a call already started still finishes). It stays owned and goes on once
    // resumed.
    if started_here.is_none() && !wait_while_paused(args, &loaded.task).await? {
        return Ok(false);
    }
    let began = Instant::now();
    let mut kind = "model";
    let next = match (started_here, loaded.task.open_calls.first()) {
        (Some(_), Some(call)) => Next::RunStarted { call: call.clone() },
        _ => replay::next(&loaded.task),
    };
    let step = match next {
        Next::RunStarted { call } => {
            kind = "tool";
            run_started(host, &args.workspace, loaded, &call).await?
        }
        Next::Stop => return Ok(false),
        Next::CallModel { turn } => call_model(loaded, turn, host.holds_lease()).await,
        Next::RunCall { call, attempt } => {
            kind = "tool";
            // Journal nothing until the lease holds: a node that has just started (or
            // just found a new leader) has no acknowledged heartbeat yet.
            if !wait_for_lease(host).await {
                return Err(TaskError::LeaseLost.into());
            }
            let started = Step::ToolCallStarted {
                call_id: call.call_id.clone(),
                attempt,
            };
            if !commit_unless_paused(args, &mut state.loaded, started).await? {
                return Ok(true);
            }
            let Some(loaded) = state.loaded.as_mut() else {
                return Ok(false);
            };
            // A call to a tool paused since it was decided is ended by that commit
            // instead of being started: it must not run.
            if loaded.started_here.as_deref() != Some(call.call_id.as_str()) {
                return Ok(loaded.task.status == TaskStatus::Running);
            }
            loaded.started_here = None;
            run_started(host, &args.workspace, loaded, &call).await?
        }
        Next::NeedsAttention { call } => Step::NeedsAttention {
            // Not a loop step of its own; counted with the commit only.
            reason: format!(
                "tool call {} ({}/{}) was started (attempt {}) and never finished; it is not \
                 retry-safe (not idempotent by its grant's retry_safe, or by annotations the pin \
                 trusts), so it is not retried without a decision",
                call.call_id, call.server, call.tool, call.attempts
            ),
            call_id: call.call_id,
        },
    };
    if !commit_unless_paused(args, &mut state.loaded, step).await? {
        return Ok(true);
    }
    metrics::step(kind, began.elapsed());
    let Some(loaded) = state.loaded.as_ref() else {
        return Ok(false);
    };
    let status = loaded.task.status;
    if status.is_terminal() {
        metrics::task_ended(status.as_str());
    }
    Ok(status == TaskStatus::Running)
}

/// Runs a call whose start is journaled and returns the step journaling its result.
/// Past the start a stale owner could do harm, so the lease is checked right before.
async fn run_started(
    host: &dyn Host,
    workspace: &WorkspaceId,
    loaded: &Loaded,
    call: &OpenCall,
) -> Result<Step, ActorProcessingErr> {
    if !host.holds_lease() {
        return Err(TaskError::LeaseLost.into());
    }
    let result = run_call(
        host,
        workspace,
        loaded,
        &call.server,
        &call.tool,
        &call.arguments,
    )
    .await;
    Ok(result.finished(call.call_id.clone(), host.holds_lease()))
}

/// Commits `step`. When it is refused, or its outcome is unknown, because the
/// workspace or the agent was paused while it was being prepared (a model call in
/// flight when the switch flipped), returns `false` and forgets what was loaded: the
/// next step reloads the task and waits for the resume, so a pause never counts as a
/// failure of the actor.
async fn commit_unless_paused(
    args: &TaskArgs,
    slot: &mut Option<Loaded>,
    step: Step,
) -> Result<bool, ActorProcessingErr> {
    let Some(loaded) = slot.as_mut() else {
        return Ok(false);
    };
    let error = match commit(args, loaded, step).await {
        Ok(()) => return Ok(true),
        Err(error) => error,
    };
    let agent = loaded.task.agent.clone();
    if args.host.sync().await.is_err() || !is_paused(args, &agent)? {
        return Err(error);
    }
    tracing::info!(task = %args.task, %error, "step not taken: paused meanwhile");
    *slot = None;
    Ok(false)
}

/// Whether the task's workspace or its agent is paused, as this node has applied.
fn is_paused(args: &TaskArgs, agent: &AgentName) -> Result<bool, ActorProcessingErr> {
    let reader = args.host.reader();
    let workspace_paused = reader
        .switches(&args.workspace)?
        .is_some_and(|switches| switches.paused.is_some());
    Ok(workspace_paused
        || reader
            .agent(&args.workspace, agent)?
            .is_some_and(|agent| agent.spec.paused))
}

/// How often a paused task looks at its workspace and agent again.
const PAUSE_POLL: Duration = Duration::from_millis(200);

/// Waits while the task's workspace or agent is paused. `false` when the task stopped
/// being this node's at this epoch meanwhile (a cancel, a deadline, a failover).
async fn wait_while_paused(args: &TaskArgs, task: &Task) -> Result<bool, ActorProcessingErr> {
    let reader = args.host.reader();
    loop {
        if !is_paused(args, &task.agent)? {
            return Ok(true);
        }
        let current = reader.task(&args.workspace, &args.task)?;
        let still_ours = current.is_some_and(|current| {
            current.owner == Some(args.host.node())
                && current.epoch == args.epoch
                && current.status == TaskStatus::Running
        });
        if !still_ours {
            return Ok(false);
        }
        tokio::time::sleep(PAUSE_POLL).await;
    }
}

/// Waits up to the runtime's `lease_wait` for this node's lease to hold.
async fn wait_for_lease(host: &dyn Host) -> bool {
    let deadline = Instant::now() + host.options().lease_wait;
    loop {
        if host.holds_lease() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the task and what running it needs, after a read barrier so the journal is
/// complete. `None` when this node does not own the task at this epoch any more.
async fn load(args: &TaskArgs) -> Result<Option<Loaded>, ActorProcessingErr> {
    let host = args.host.as_ref();
    host.sync().await?;
    let reader = host.reader();
    let Some(task) = reader.task(&args.workspace, &args.task)? else {
        return Ok(None);
    };
    if task.owner != Some(host.node())
        || task.epoch != args.epoch
        || task.status != TaskStatus::Running
    {
        return Ok(None);
    }
    let journal: Vec<JournalEntry> = reader.journal(&args.workspace, &args.task)?;
    let fail = |reason: String| Step::Fail { reason };
    let Some(agent) = reader.agent(&args.workspace, &task.agent)? else {
        let reason = format!("agent {} no longer exists", task.agent);
        commit_once(args, task, fail(reason)).await?;
        return Ok(None);
    };
    let Some(provider) = reader.provider(&args.workspace, &agent.spec.provider)? else {
        let reason = format!("provider {} no longer exists", agent.spec.provider);
        commit_once(args, task, fail(reason)).await?;
        return Ok(None);
    };
    // Opened right before the client is built; only the client keeps the key.
    let opened = match credentials::provider_key(host, &provider) {
        Ok(opened) => opened,
        Err(SecretError::Storage(error)) => return Err(HostError::Storage(error).into()),
        Err(error) => {
            let reason = format!(
                "provider {}: cannot open its API key: {error}",
                provider.name
            );
            commit_once(args, task, fail(reason)).await?;
            return Ok(None);
        }
    };
    let model = match host.model(&provider, opened) {
        Ok(model) => model,
        Err(reason) => {
            commit_once(args, task, fail(reason)).await?;
            return Ok(None);
        }
    };
    let servers: BTreeMap<ServerName, McpServer> = reader
        .mcp_servers(&args.workspace)?
        .into_iter()
        .map(|server| (server.name.clone(), server))
        .collect();
    let listed: Vec<McpServer> = servers.values().cloned().collect();
    let tools = functions::visible_tools(&agent, &listed);
    let messages = replay::conversation(&task, &journal);
    // Only the first incarnation at a new epoch measures; a restarted actor at the same
    // epoch finds its own steps there already.
    let stepped_at_this_epoch = journal.iter().any(|entry| {
        entry.epoch == task.epoch && !matches!(entry.event, warden_core::TaskEvent::Assigned { .. })
    });
    let resumed_after_ms = journal
        .iter()
        .filter(|entry| entry.epoch < task.epoch && entry.epoch > 0 && !stepped_at_this_epoch)
        .map(|entry| entry.time_ms)
        .max();
    let system = (!agent.spec.instructions.is_empty()).then(|| agent.spec.instructions.clone());
    Ok(Some(Loaded {
        task,
        messages,
        system,
        model,
        provider_name: provider.name.to_string(),
        tools,
        servers,
        resumed_after_ms,
        started_here: None,
    }))
}

/// Asks the model for `turn`. With `start_first` (the lease holds), the response's
/// first allowed call is journaled as started in the same commit.
async fn call_model(loaded: &Loaded, turn: u32, start_first: bool) -> Step {
    let request = CompletionRequest {
        system: loaded.system.clone(),
        messages: loaded.messages.clone(),
        tools: loaded
            .tools
            .iter()
            .map(|(_, _, spec)| spec.clone())
            .collect(),
    };
    let began = Instant::now();
    let completion = loaded.model.complete(&request).await;
    metrics::model_call(&loaded.provider_name, began.elapsed(), completion.is_ok());
    match completion {
        Ok(completion) => Step::ModelResponded {
            turn,
            content: completion.content,
            tool_calls: completion
                .tool_calls
                .into_iter()
                .map(|call| {
                    let resolved = functions::resolve(&call.name, &loaded.tools);
                    RequestedCall {
                        call_id: call.id,
                        server: resolved.map(|(server, _)| server.clone()),
                        tool: resolved.map(|(_, tool)| tool.clone()),
                        function: call.name,
                        arguments: call.arguments.to_string(),
                    }
                })
                .collect(),
            usage: Usage {
                input_tokens: completion.usage.input_tokens,
                output_tokens: completion.usage.output_tokens,
            },
            start_first,
        },
        Err(error) => Step::Fail {
            reason: format!(
                "model call to provider {} failed: {error}",
                loaded.provider_name
            ),
        },
    }
}

async fn run_call(
    host: &dyn Host,
    workspace: &WorkspaceId,
    loaded: &Loaded,
    server: &ServerName,
    tool: &ToolName,
    arguments: &str,
) -> CallResult {
    let Some(registered) = loaded.servers.get(server) else {
        return CallResult::error(format!("mcp server {server} is no longer registered"));
    };
    let Some(pinned) = registered.tool(tool) else {
        return CallResult::error(format!("{server}/{tool} is not a pinned tool"));
    };
    let arguments = match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let options = host.options();
    let key = format!("{workspace}/{server}");
    // The credentials are opened for this call only: the spec (and the session started
    // from it) hold a copy, and `opened` lives until the output is scrubbed of them.
    let opened = match credentials::mcp_credentials(host, workspace, registered) {
        Ok(opened) => opened,
        Err(error) => {
            return CallResult::error(format!(
                "mcp server {server}: cannot open its credentials: {error}"
            ));
        }
    };
    // A stdio server is resolved against the catalog as it is now: an edited entry
    // changes what runs, a deleted one fails the call naming it.
    let entry = match &registered.transport {
        McpTransport::Stdio { catalog, .. } => match host.reader().catalog_entry(catalog) {
            Ok(entry) => entry,
            Err(error) => {
                return CallResult::error(format!(
                    "mcp server {server}: cannot read catalog entry {catalog}: {error}"
                ));
            }
        },
        McpTransport::Http { .. } => None,
    };
    let spec = match credentials::server_spec(&registered.transport, entry.as_ref(), &opened) {
        Ok(spec) => spec,
        Err(reason) => {
            return CallResult::error(format!(
                "tool call {server}/{tool} was not made: mcp server {server}: {reason}"
            ));
        }
    };
    // The server must still offer the definition that was reviewed and pinned.
    match pinning::check(host.tools(), &key, &spec, pinned).await {
        Ok(Offered::AsPinned) => {}
        Ok(Offered::Changed(offered)) => {
            return CallResult {
                output: String::new(),
                is_error: true,
                drift: Some(offered),
            };
        }
        Ok(Offered::Missing) => {
            return CallResult::error(format!(
                "mcp server {server} no longer offers {tool}; the call was not made"
            ));
        }
        Err(error) => {
            return CallResult::server_error(
                format!("tool call {server}/{tool} failed: listing the server's tools: {error}"),
                &opened,
                options.max_tool_output_bytes,
            );
        }
    }
    let began = Instant::now();
    let result = host
        .tools()
        .call(
            &key,
            &spec,
            tool.as_str(),
            arguments,
            options.tool_call_timeout,
        )
        .await;
    let ok = result.as_ref().is_ok_and(|output| !output.is_error);
    metrics::tool_call(server.as_str(), began.elapsed(), ok);
    CallResult::of_call(
        result,
        &format!("{server}/{tool}"),
        &opened,
        options.max_tool_output_bytes,
    )
}

/// Journals `step` at this actor's epoch and mirrors what it added.
async fn commit(
    args: &TaskArgs,
    loaded: &mut Loaded,
    step: Step,
) -> Result<(), ActorProcessingErr> {
    let kind = step_kind(&step);
    let began = Instant::now();
    let (task, entries) = propose(args, step).await?;
    metrics::journal_commit(kind, began.elapsed());
    loaded.started_here = entries.iter().rev().find_map(|entry| match &entry.event {
        warden_core::TaskEvent::ToolCallStarted { call_id, .. } => Some(call_id.clone()),
        _ => None,
    });
    if let Some(previous_owner_last_ms) = loaded.resumed_after_ms.take() {
        metrics::resumed(Duration::from_millis(
            now_ms().saturating_sub(previous_owner_last_ms),
        ));
    }
    loaded.task = task;
    for entry in &entries {
        replay::extend(&mut loaded.messages, entry);
    }
    Ok(())
}

fn step_kind(step: &Step) -> &'static str {
    match step {
        Step::ModelResponded { .. } => "model_responded",
        Step::ToolCallStarted { .. } => "tool_call_started",
        Step::ToolCallFinished { .. } => "tool_call_finished",
        Step::NeedsAttention { .. } => "needs_attention",
        Step::ToolDefinitionChanged { .. } => "tool_definition_changed",
        Step::Fail { .. } => "fail",
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Journals one step for a task this actor will not run further.
async fn commit_once(args: &TaskArgs, _task: Task, step: Step) -> Result<(), ActorProcessingErr> {
    propose(args, step).await.map(|_| ())
}

async fn propose(
    args: &TaskArgs,
    step: Step,
) -> Result<(Task, Vec<JournalEntry>), ActorProcessingErr> {
    let command = Command::AppendJournal {
        workspace: args.workspace.clone(),
        task: args.task,
        node: args.host.node(),
        epoch: args.epoch,
        step,
    };
    match args.host.propose(command).await? {
        Outcome::TaskUpdated { task, entries } => Ok((task, entries)),
        Outcome::Rejected(rejection) => Err(TaskError::Refused(rejection.to_string()).into()),
        other => Err(TaskError::Unexpected(format!("{other:?}")).into()),
    }
}
