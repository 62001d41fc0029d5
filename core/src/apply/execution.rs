//! Running a task: placement (`AssignTask`) and the owner's journal steps
//! (`AppendJournal`), both fenced by the task's epoch. Each step's own rules live beside
//! it: `placement`, `model_turn`, `call_start` (with `call_decision`), `drift`.

use super::budget::Budgets;
use super::call_decision::{Decider, Subject};
use super::call_start::{Starter, advance, call_started, next_call};
use super::drift::{Drift, definition_changed};
use super::model_turn::{Turn, model_responded};
use super::pause::Brakes;
use super::placement::{assign, interrupted_call};
use super::task_update::TaskUpdate;
use super::{At, Decision, StateRead};
use crate::command::{Command, Step};
use crate::ids::{TaskId, WorkspaceId};
use crate::journal::TaskEvent;
use crate::model::{Task, TaskStatus};
use crate::names::NodeId;
use crate::outcome::{Code, Rejection};

/// Longest tool output or final answer a journal entry holds.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// Most tool calls one model turn may ask for.
pub const MAX_CALLS_PER_TURN: usize = 64;

pub(super) fn apply<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let (Command::AssignTask {
        workspace, task, ..
    }
    | Command::AppendJournal {
        workspace, task, ..
    }) = command
    else {
        unreachable!("execution::apply is called for AssignTask and AppendJournal only")
    };
    let task = match load(state, workspace, task)? {
        Ok(task) => task,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let agent = state.agent(workspace, &task.agent)?;
    let brakes = Brakes::read(state, workspace, agent.as_ref())?;
    let links = state.task_links(workspace, &task.id)?;
    let lineage = links.as_ref().map_or(&[][..], |links| links.lineage());
    let decider = Decider {
        state,
        at,
        subject: Subject::of(&task),
        agent: agent.as_ref(),
        brakes: &brakes,
        lineage,
        protocol: state.cluster_protocol()?,
    };
    let starter = Starter {
        decider: &decider,
        decided_now: false,
    };
    match command {
        Command::AssignTask { node, epoch, .. } => {
            let interrupted = interrupted_call(&task, &starter)?;
            Ok(assign(task.clone(), &starter, interrupted, *node, *epoch))
        }
        Command::AppendJournal {
            node, epoch, step, ..
        } => journal_step(&task, &starter, *node, *epoch, step),
        _ => unreachable!("matched above"),
    }
}

/// The owner's `AppendJournal`: fenced by its epoch, held by a pause, then the step.
fn journal_step<S: StateRead>(
    task: &Task,
    starter: &Starter<'_, S>,
    node: NodeId,
    epoch: u64,
    step: &Step,
) -> Result<Decision, S::Error> {
    let decider = starter.decider;
    if let Some(rejection) = fence(task, node, epoch) {
        return Ok(Err(rejection));
    }
    // While the workspace or the agent is paused the task takes no new step; the
    // result of a call that already ran is still journaled.
    if matches!(
        step,
        Step::ModelResponded { .. } | Step::ToolCallStarted { .. }
    ) && let Some(rejection) = decider.brakes.refusal(task)
    {
        return Ok(Err(rejection));
    }
    if let Step::ToolDefinitionChanged {
        call_id,
        offered_hash,
        start_next,
    } = step
    {
        let server = match next_call(&task.open_calls, call_id) {
            Some(call) => decider.state.mcp_server(&task.workspace, &call.server)?,
            None => None,
        };
        let change = Drift {
            call_id,
            offered_hash: *offered_hash,
            start_next: *start_next,
        };
        return definition_changed(task.clone(), &change, server, starter);
    }
    let mut budgets =
        Budgets::read_chain(decider.state, &task.workspace, &task.agent, decider.lineage)?;
    let decision = append(task.clone(), step, &mut budgets, decider)?;
    Ok(decision.map(|(outcome, mut writes)| {
        writes.extend(budgets.writes());
        (outcome, writes)
    }))
}

pub(super) fn load<S: StateRead>(
    state: &S,
    workspace: &WorkspaceId,
    id: &TaskId,
) -> Result<Result<Task, Rejection>, S::Error> {
    Ok(state.task(workspace, id)?.ok_or_else(|| {
        Rejection::new(
            Code::NotFound,
            format!("task {id} not found in workspace {workspace}"),
        )
    }))
}

/// Refuses a journal command from anyone but the task's owner at its current epoch.
fn fence(task: &Task, node: NodeId, epoch: u64) -> Option<Rejection> {
    if task.owner == Some(node) && task.epoch == epoch {
        return None;
    }
    let owner = task
        .owner
        .map_or_else(|| "no node".to_owned(), |owner| format!("node {owner}"));
    Some(Rejection::new(
        Code::Aborted,
        format!(
            "stale epoch: task {} is at epoch {} owned by {owner}; the step came from node {node} at epoch {epoch}",
            task.id, task.epoch
        ),
    ))
}

/// Refuses a step of a task that is not running (parked, ended).
pub(super) fn running(task: &Task) -> Result<(), Rejection> {
    if task.status == TaskStatus::Running {
        return Ok(());
    }
    Err(precondition(format!(
        "task {} is {}",
        task.id,
        task.status.as_str()
    )))
}

pub(super) fn precondition(message: String) -> Rejection {
    Rejection::new(Code::FailedPrecondition, message)
}

fn append<S: StateRead>(
    task: Task,
    step: &Step,
    budgets: &mut Budgets,
    decider: &Decider<'_, S>,
) -> Result<Decision, S::Error> {
    if let Err(rejection) = running(&task) {
        return Ok(Err(rejection));
    }
    let mut update = TaskUpdate::new(task, decider.at);
    let starter = |decided_now| Starter {
        decider,
        decided_now,
    };
    let outcome = match step {
        Step::ModelResponded {
            turn,
            content,
            tool_calls,
            usage,
            start_first,
        } => {
            let turn = Turn {
                turn: *turn,
                content,
                tool_calls,
                usage: *usage,
            };
            match model_responded(&mut update, &turn, budgets, decider)? {
                Ok(()) => {
                    advance(&mut update, start_first.then(|| starter(true)).as_ref()).map(Ok)?
                }
                Err(rejection) => Err(rejection),
            }
        }
        Step::ToolCallStarted { call_id, attempt } => {
            call_started(&mut update, call_id, *attempt, &starter(false))?
        }
        Step::ToolCallFinished {
            call_id,
            output,
            is_error,
            start_next,
        } => match call_finished(&mut update, call_id, output, *is_error) {
            Ok(()) => advance(&mut update, start_next.then(|| starter(false)).as_ref()).map(Ok)?,
            Err(rejection) => Err(rejection),
        },
        Step::NeedsAttention { call_id, reason } => {
            match next_call(&update.task.open_calls, call_id).filter(|call| call.attempts > 0) {
                None => Err(precondition(format!(
                    "call {call_id} is not an interrupted call of task {}",
                    update.task.id
                ))),
                Some(_) => {
                    update.record(TaskEvent::NeedsAttention {
                        call_id: call_id.clone(),
                        reason: reason.clone(),
                    });
                    update.release(TaskStatus::NeedsAttention, Some(reason.clone()));
                    Ok(())
                }
            }
        }
        Step::Fail { reason } => {
            update.fail(reason.clone());
            Ok(())
        }
        Step::ToolDefinitionChanged { .. } => {
            unreachable!("apply() handles a changed definition before append")
        }
    };
    Ok(outcome.map(|()| {
        update.progressed();
        update.finish()
    }))
}

fn call_finished(
    update: &mut TaskUpdate,
    call_id: &str,
    output: &str,
    is_error: bool,
) -> Result<(), Rejection> {
    if next_call(&update.task.open_calls, call_id).is_none_or(|call| call.attempts == 0) {
        return Err(precondition(format!(
            "call {call_id} of task {} has not started",
            update.task.id
        )));
    }
    if output.len() > MAX_OUTPUT_BYTES {
        return Err(Rejection::new(
            Code::ResourceExhausted,
            format!("tool output must be at most {MAX_OUTPUT_BYTES} bytes"),
        ));
    }
    update.task.open_calls.remove(0);
    update.record(TaskEvent::ToolCallFinished {
        call_id: call_id.to_owned(),
        output: output.to_owned(),
        is_error,
    });
    Ok(())
}
