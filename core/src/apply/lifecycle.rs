//! Lifecycle changes from outside the agent loop: cancel, a human's resolution, the
//! deadline, and stall detection.

use super::execution::load;
use super::task_update::TaskUpdate;
use super::{At, Decision, StateRead};
use crate::command::Command;
use crate::journal::{Resolution, TaskEvent};
use crate::model::TaskStatus;
use crate::outcome::{Code, Rejection};

pub(super) fn apply<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let (workspace, task_id) = match command {
        Command::CancelTask {
            workspace, task, ..
        }
        | Command::ResolveTask {
            workspace, task, ..
        }
        | Command::TimeOutTask { workspace, task }
        | Command::MarkStalled {
            workspace, task, ..
        } => (workspace, task),
        _ => unreachable!("lifecycle::apply is called for lifecycle commands only"),
    };
    let task = match load(state, workspace, task_id)? {
        Ok(task) => task,
        Err(rejection) => return Ok(Err(rejection)),
    };
    if task.status.is_terminal() {
        return Ok(Err(precondition(format!(
            "task {task_id} is already {}",
            task.status.as_str()
        ))));
    }
    let mut update = TaskUpdate::new(task, at);
    let decision = match command {
        Command::CancelTask { reason, .. } => {
            update.record(TaskEvent::Cancelled {
                reason: reason.clone(),
                by: at.principal.clone(),
            });
            let reason = if reason.is_empty() {
                format!("cancelled by {}", at.principal)
            } else {
                format!("cancelled by {}: {reason}", at.principal)
            };
            update.release(TaskStatus::Cancelled, Some(reason));
            Ok(())
        }
        Command::ResolveTask { resolution, .. } => resolve(&mut update, at, resolution),
        Command::TimeOutTask { .. } => {
            let deadline_at_ms = update.task.deadline_at_ms;
            if at.time_ms < deadline_at_ms {
                Err(precondition(format!(
                    "task {task_id} has not reached its deadline ({deadline_at_ms} ms)"
                )))
            } else {
                update.record(TaskEvent::TimedOut { deadline_at_ms });
                let reason = format!(
                    "deadline of {} ms after submission passed",
                    update.task.limits.deadline_ms
                );
                update.release(TaskStatus::TimedOut, Some(reason));
                Ok(())
            }
        }
        Command::MarkStalled { progress_ms, .. } => {
            let task = &update.task;
            let idle_ms = at.time_ms.saturating_sub(task.progress_ms);
            if task.status != TaskStatus::Running
                || task.stalled
                || task.progress_ms != *progress_ms
                || idle_ms < task.limits.stall_timeout_ms
            {
                Err(precondition(format!(
                    "task {task_id} is not stalled: it is {} and progressed {idle_ms} ms ago",
                    task.status.as_str()
                )))
            } else {
                update.task.stalled = true;
                update.record(TaskEvent::Stalled { idle_ms });
                Ok(())
            }
        }
        _ => unreachable!("matched above"),
    };
    Ok(decision.map(|()| update.finish()))
}

fn precondition(message: String) -> Rejection {
    Rejection::new(Code::FailedPrecondition, message)
}

fn resolve(update: &mut TaskUpdate, at: &At<'_>, resolution: &Resolution) -> Result<(), Rejection> {
    if update.task.status != TaskStatus::NeedsAttention {
        return Err(precondition(format!(
            "task {} is {}, not needs_attention",
            update.task.id,
            update.task.status.as_str()
        )));
    }
    update.record(TaskEvent::Resolved {
        resolution: resolution.clone(),
        by: at.principal.clone(),
    });
    match resolution {
        Resolution::Retry => {
            if let Some(call) = update.task.open_calls.first_mut() {
                call.retry_approved = true;
            }
            update.task.status = TaskStatus::Running;
            update.task.reason = None;
            update.progressed();
        }
        Resolution::SkipWithResult(result) => {
            if !update.task.open_calls.is_empty() {
                let call = update.task.open_calls.remove(0);
                update.record(TaskEvent::ToolCallFinished {
                    call_id: call.call_id,
                    output: result.clone(),
                    is_error: false,
                });
            }
            update.task.status = TaskStatus::Running;
            update.task.reason = None;
            update.progressed();
        }
        Resolution::Fail(reason) => {
            update.fail(format!("resolved as failed by {}: {reason}", at.principal));
        }
    }
    Ok(())
}
