//! `SubmitTask`: a new task for an agent, deduplicated by its idempotency key.

use super::task_update::TaskUpdate;
use super::{At, Decision, StateRead, Write, missing_workspace};
use crate::command::Command;
use crate::config::Limits;
use crate::hash::Hash;
use crate::ids::{IdempotencyKey, Principal, TaskId, WorkspaceId};
use crate::journal::TaskEvent;
use crate::model::{IdempotencyRecord, Task, TaskStatus};
use crate::names::AgentName;
use crate::outcome::{Code, Outcome, Rejection};

pub(super) fn submit_task<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let Command::SubmitTask {
        workspace,
        task_id,
        idempotency_key,
        agent,
        input,
    } = command
    else {
        unreachable!("submit_task is called for SubmitTask only")
    };
    if let Some(rejection) = missing_workspace(state, workspace)? {
        return Ok(Err(rejection));
    }
    if idempotency_key
        .as_str()
        .starts_with(super::delegate::DELEGATION_KEY_PREFIX)
        && state.cluster_protocol()? >= crate::builtin::BUILTIN_PROTOCOL
    {
        return Ok(Err(Rejection::new(
            Code::InvalidArgument,
            format!(
                "idempotency_key: keys starting with {:?} are kept for delegated tasks",
                super::delegate::DELEGATION_KEY_PREFIX
            ),
        )));
    }
    if let Some(prefix) = ["trigger:", "schedule:"]
        .into_iter()
        .find(|prefix| idempotency_key.as_str().starts_with(prefix))
        && state.cluster_protocol()? >= 5
    {
        return Ok(Err(Rejection::new(
            Code::InvalidArgument,
            format!(
                "idempotency_key: keys starting with {prefix:?} are kept for the tasks schedules and triggers submit"
            ),
        )));
    }
    let submission_hash = submission_hash(agent.as_str(), input);
    if let Some(earlier) = state.idempotency(workspace, idempotency_key)? {
        if earlier.payload_hash != submission_hash {
            return Ok(Err(Rejection::new(
                Code::AlreadyExists,
                format!(
                    "idempotency key {:?} was already used for task {} with a different agent or input",
                    idempotency_key.as_str(),
                    earlier.task_id
                ),
            )));
        }
        return Ok(match state.task(workspace, &earlier.task_id)? {
            Some(task) => Ok((
                Outcome::TaskSubmitted {
                    task,
                    deduplicated: true,
                },
                Vec::new(),
            )),
            // The index and the task are written in one batch; one without the other
            // means the state was damaged, which must not pass silently.
            None => Err(Rejection::new(
                Code::FailedPrecondition,
                format!("idempotency key points at missing task {}", earlier.task_id),
            )),
        });
    }
    let Some(agent_record) = state.agent(workspace, agent)? else {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("agent {agent} not found in workspace {workspace}"),
        )));
    };
    if let Some(rejection) = super::budget::exhausted(state, workspace, agent)? {
        return Ok(Err(rejection));
    }
    if state.task(workspace, task_id)?.is_some() {
        return Ok(Err(Rejection::new(
            Code::AlreadyExists,
            format!("task {task_id} already exists"),
        )));
    }
    let limits = agent_record.spec.limits;
    let (task, writes) = create_task(
        NewTask {
            id: *task_id,
            workspace,
            idempotency_key,
            agent,
            input,
            limits,
            deadline_at_ms: at.time_ms.saturating_add(limits.deadline_ms),
            submitted_by: at.principal,
        },
        at,
    );
    Ok(Ok((
        Outcome::TaskSubmitted {
            task,
            deduplicated: false,
        },
        writes,
    )))
}

/// What a new task is made of.
pub(super) struct NewTask<'a> {
    pub(super) id: TaskId,
    pub(super) workspace: &'a WorkspaceId,
    pub(super) idempotency_key: &'a IdempotencyKey,
    pub(super) agent: &'a AgentName,
    pub(super) input: &'a str,
    pub(super) limits: Limits,
    pub(super) deadline_at_ms: u64,
    pub(super) submitted_by: &'a Principal,
}

/// A pending task created at `at`, and its writes: the idempotency record binding its
/// key to its agent and input, its `submitted` journal entry, and the task.
pub(super) fn create_task(new: NewTask<'_>, at: &At<'_>) -> (Task, Vec<Write>) {
    let task = Task {
        id: new.id,
        workspace: new.workspace.clone(),
        idempotency_key: new.idempotency_key.clone(),
        agent: new.agent.clone(),
        input: new.input.to_owned(),
        input_hash: Hash::of(new.input.as_bytes()),
        status: TaskStatus::Pending,
        submitted_ms: at.time_ms,
        submitted_by: new.submitted_by.clone(),
        log_index: at.log_index,
        limits: new.limits,
        deadline_at_ms: new.deadline_at_ms,
        owner: None,
        epoch: 0,
        turns: 0,
        tokens_used: 0,
        journal_len: 0,
        progress_ms: at.time_ms,
        stalled: false,
        open_calls: Vec::new(),
        result: None,
        reason: None,
    };
    let mut update = TaskUpdate::new(task, at);
    update.record(TaskEvent::Submitted {
        agent: new.agent.clone(),
    });
    let (task, mut writes) = update.into_parts();
    writes.insert(
        0,
        Write::Idempotency {
            workspace: new.workspace.clone(),
            key: new.idempotency_key.clone(),
            record: IdempotencyRecord {
                task_id: task.id,
                payload_hash: submission_hash(new.agent.as_str(), new.input),
            },
        },
    );
    (task, writes)
}

/// A task a schedule or a webhook trigger submits on its own.
pub(super) struct StandingTask<'a> {
    pub(super) id: TaskId,
    pub(super) workspace: &'a WorkspaceId,
    pub(super) idempotency_key: &'a IdempotencyKey,
    pub(super) agent: &'a AgentName,
    pub(super) input: &'a str,
    /// The schedule's or trigger's principal, which submits it.
    pub(super) principal: &'a Principal,
    /// Who last put the schedule or trigger: recorded with the task, since nobody
    /// approves the calls of a task they submitted.
    pub(super) author: &'a Principal,
}

/// Creates a standing task under the agent's limits, with who put it; refused when the
/// agent is gone, a budget of its chain is used up, or the id is taken. The caller
/// checks its idempotency key(s).
pub(super) fn create_standing_task<S: StateRead>(
    state: &S,
    at: &At<'_>,
    new: StandingTask<'_>,
) -> Result<Result<(Task, Vec<Write>), Rejection>, S::Error> {
    let Some(agent) = state.agent(new.workspace, new.agent)? else {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("agent {} not found", new.agent),
        )));
    };
    if let Some(rejection) = super::budget::exhausted(state, new.workspace, new.agent)? {
        return Ok(Err(rejection));
    }
    if state.task(new.workspace, &new.id)?.is_some() {
        return Ok(Err(Rejection::new(
            Code::AlreadyExists,
            format!("task {} already exists", new.id),
        )));
    }
    let limits = agent.spec.limits;
    let (task, mut writes) = create_task(
        NewTask {
            id: new.id,
            workspace: new.workspace,
            idempotency_key: new.idempotency_key,
            agent: new.agent,
            input: new.input,
            limits,
            deadline_at_ms: at.time_ms.saturating_add(limits.deadline_ms),
            submitted_by: new.principal,
        },
        at,
    );
    writes.push(Write::TaskAuthor {
        workspace: new.workspace.clone(),
        task: task.id,
        author: new.author.clone(),
    });
    Ok(Ok((task, writes)))
}

/// What an idempotency key binds (the second key a triggered task is found by, too): the agent and the input, length-prefixed so no two
/// different pairs hash alike.
pub(super) fn submission_hash(agent: &str, input: &str) -> Hash {
    let mut bytes = Vec::with_capacity(agent.len() + input.len() + 8);
    bytes.extend_from_slice(&(agent.len() as u64).to_be_bytes());
    bytes.extend_from_slice(agent.as_bytes());
    bytes.extend_from_slice(input.as_bytes());
    Hash::of(&bytes)
}
