//! TaskActor: runs one task's agent loop on its owner node, one journaled step per
//! message: model call, tool call (journaled as started before it runs and finished
//! after), and so on until the task ends or the node loses it.
//!
//! The loop and its commits are here; preparing an incarnation (`load`), a model turn
//! (`model_turn`), a tool call (`tool_call`) and the waits for a pause or the lease
//! (`waits`) are its submodules. `actors/tests/runtime.rs` drives it through a fake
//! `Host`.
//!
//! Errors that leave the state unknown (a proposal that timed out, a refused step) fail
//! the actor; its AgentActor restarts it, and the restarted actor re-reads the task
//! behind a read barrier and resumes from the journal.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
// tokio's clock, so that the runtime's waits follow a paused clock in tests.
use tokio::time::Instant;
use warden_core::{
    Command, JournalEntry, McpServer, Outcome, ServerName, Step, Task, TaskId, TaskStatus,
    ToolName, WorkspaceId,
};
use warden_providers::{Message, ToolSpec};

use crate::clock::now_ms;
use crate::host::Host;
use crate::metrics;
use crate::model::Model;
use crate::replay::{self, Next};
use load::load;
use model_turn::call_model;
use tool_call::run_started;
use waits::{is_paused, wait_for_lease, wait_while_paused};

mod load;
mod model_turn;
mod tool_call;
mod waits;

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
    /// Counts this actor in `warden_task_actors` until it ends.
    _running: metrics::Held,
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
        Ok(TaskState {
            args,
            loaded: None,
            _running: metrics::task_actor_running(),
        })
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
