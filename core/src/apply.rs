//! The deterministic state machine: `apply()` turns one request and the current state
//! into an outcome, a set of writes and exactly one audit record.
//!
//! It reads state through [`StateRead`] and never writes: the caller commits the
//! returned writes and audit record atomically with the applied log index. A rejected
//! command returns no writes, so it changes nothing but the audit chain.

use crate::audit::{AuditHead, AuditRecord, OUTCOME_ACCEPTED, OUTCOME_REJECTED, RecordBody};
use crate::command::{Action, Command, Request, task_resource, tasks_resource, workspace_resource};
use crate::hash::Hash;
use crate::ids::{IdempotencyKey, Principal, TaskId, WorkspaceId};
use crate::model::{IdempotencyRecord, Task, TaskStatus, Workspace};
use crate::outcome::{Code, Outcome, Rejection};

/// Point reads of the replicated state. `Error` is the storage's own failure, which
/// is fatal to the caller; domain problems are rejections, never errors.
pub trait StateRead {
    type Error;
    fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, Self::Error>;
    fn task(&self, workspace: &WorkspaceId, id: &TaskId) -> Result<Option<Task>, Self::Error>;
    fn idempotency(
        &self,
        workspace: &WorkspaceId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, Self::Error>;
}

/// A change to the replicated state, committed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Workspace(Workspace),
    Task(Task),
    Idempotency {
        workspace: WorkspaceId,
        key: IdempotencyKey,
        record: IdempotencyRecord,
    },
}

/// Everything one applied entry produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: Outcome,
    pub writes: Vec<Write>,
    pub audit: AuditRecord,
}

/// Applies the request found at `log_index`, chaining its audit record after `head`.
pub fn apply<S: StateRead>(
    state: &S,
    head: &AuditHead,
    log_index: u64,
    request: &Request,
) -> Result<Applied, S::Error> {
    let command = &request.command;
    let (resource, decision) = match command {
        Command::CreateWorkspace { workspace } => (
            workspace_resource(workspace),
            create_workspace(state, request, workspace)?,
        ),
        Command::SubmitTask {
            workspace,
            task_id,
            idempotency_key,
            input,
        } => {
            let submit = Submit {
                workspace,
                task_id,
                idempotency_key,
                input,
            };
            let decision = submit_task(state, request, log_index, &submit)?;
            // An accepted submission is recorded against the task it created or, when
            // deduplicated, resolved to; a refused one against the workspace's tasks,
            // since the proposer's task id never came to exist.
            let resource = match &decision {
                Ok((Outcome::TaskSubmitted { task, .. }, _)) => task_resource(workspace, &task.id),
                _ => tasks_resource(workspace),
            };
            (resource, decision)
        }
        Command::RecordRejection {
            resource,
            rejection,
            ..
        } => (resource.clone(), Err(rejection.clone())),
    };
    let (outcome, writes, outcome_name, detail) = match decision {
        Ok((outcome, writes)) => (outcome, writes, OUTCOME_ACCEPTED, String::new()),
        Err(rejection) => {
            let detail = rejection.to_string();
            (
                Outcome::Rejected(rejection),
                Vec::new(),
                OUTCOME_REJECTED,
                detail,
            )
        }
    };
    let audit = head.append(RecordBody {
        log_index,
        time_ms: request.time_ms,
        principal: request.principal.to_string(),
        action: command.action().as_str().to_owned(),
        resource,
        outcome: outcome_name.to_owned(),
        detail,
        payload_hash: command.payload_hash(),
    });
    Ok(Applied {
        outcome,
        writes,
        audit,
    })
}

/// The audit record of a Raft membership change, which carries no proposer clock: it
/// takes the time of the record before it, so replay stays deterministic.
pub fn apply_membership(head: &AuditHead, log_index: u64, description: &str) -> Applied {
    let audit = head.append(RecordBody {
        log_index,
        time_ms: head.time_ms,
        principal: Principal::system().to_string(),
        action: Action::MembershipChange.as_str().to_owned(),
        resource: "cluster/membership".to_owned(),
        outcome: OUTCOME_ACCEPTED.to_owned(),
        detail: description.to_owned(),
        payload_hash: Hash::of(description.as_bytes()),
    });
    Applied {
        outcome: Outcome::MembershipChanged,
        writes: Vec::new(),
        audit,
    }
}

type Decision = Result<(Outcome, Vec<Write>), Rejection>;

fn create_workspace<S: StateRead>(
    state: &S,
    request: &Request,
    workspace: &WorkspaceId,
) -> Result<Decision, S::Error> {
    if state.workspace(workspace)?.is_some() {
        return Ok(Err(Rejection::new(
            Code::AlreadyExists,
            format!("workspace {workspace} already exists"),
        )));
    }
    let created = Workspace {
        id: workspace.clone(),
        created_ms: request.time_ms,
        created_by: request.principal.clone(),
    };
    Ok(Ok((
        Outcome::WorkspaceCreated(created.clone()),
        vec![Write::Workspace(created)],
    )))
}

struct Submit<'a> {
    workspace: &'a WorkspaceId,
    task_id: &'a TaskId,
    idempotency_key: &'a IdempotencyKey,
    input: &'a str,
}

fn submit_task<S: StateRead>(
    state: &S,
    request: &Request,
    log_index: u64,
    submit: &Submit<'_>,
) -> Result<Decision, S::Error> {
    let workspace = submit.workspace;
    if state.workspace(workspace)?.is_none() {
        return Ok(Err(Rejection::new(
            Code::NotFound,
            format!("workspace {workspace} not found"),
        )));
    }
    let input_hash = Hash::of(submit.input.as_bytes());
    if let Some(earlier) = state.idempotency(workspace, submit.idempotency_key)? {
        if earlier.payload_hash != input_hash {
            return Ok(Err(Rejection::new(
                Code::AlreadyExists,
                format!(
                    "idempotency key {:?} was already used for task {} with a different input",
                    submit.idempotency_key.as_str(),
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
    if state.task(workspace, submit.task_id)?.is_some() {
        return Ok(Err(Rejection::new(
            Code::AlreadyExists,
            format!("task {} already exists", submit.task_id),
        )));
    }
    let task = Task {
        id: *submit.task_id,
        workspace: workspace.clone(),
        idempotency_key: submit.idempotency_key.clone(),
        input: submit.input.to_owned(),
        input_hash,
        status: TaskStatus::Pending,
        submitted_ms: request.time_ms,
        submitted_by: request.principal.clone(),
        log_index,
    };
    let writes = vec![
        Write::Idempotency {
            workspace: workspace.clone(),
            key: submit.idempotency_key.clone(),
            record: IdempotencyRecord {
                task_id: task.id,
                payload_hash: input_hash,
            },
        },
        Write::Task(task.clone()),
    ];
    Ok(Ok((
        Outcome::TaskSubmitted {
            task,
            deduplicated: false,
        },
        writes,
    )))
}
