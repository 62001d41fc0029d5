//! Placing a task on a node (`AssignTask`): a new epoch that fences the previous owner,
//! and an interrupted call that may not run again without a person sent to one.

use super::call_start::Starter;
use super::execution::precondition;
use super::task_update::TaskUpdate;
use super::{Decision, StateRead};
use crate::journal::TaskEvent;
use crate::model::{OpenCall, Task, TaskStatus};
use crate::names::NodeId;
use crate::outcome::{Code, Rejection};

/// The task's interrupted call, if it may not run again without a person's decision:
/// it is not retry-safe by its grant (or the annotations its pin trusts) as they are now,
/// and nobody chose to retry it.
pub(super) fn interrupted_call<S: StateRead>(
    task: &Task,
    starter: &Starter<'_, S>,
) -> Result<Option<OpenCall>, S::Error> {
    let Some(call) = task
        .open_calls
        .first()
        .filter(|call| call.attempts > 0 && !call.retry_approved)
    else {
        return Ok(None);
    };
    Ok((!starter.retry_safe_now(call)?).then(|| call.clone()))
}

pub(super) fn assign<S: StateRead>(
    task: Task,
    starter: &Starter<'_, S>,
    interrupted: Option<OpenCall>,
    node: NodeId,
    epoch: u64,
) -> Decision {
    let (agent, brakes, at) = (
        starter.decider.agent,
        starter.decider.brakes,
        starter.decider.at,
    );
    if !task.status.is_runnable() {
        return Err(Rejection::new(
            Code::FailedPrecondition,
            format!(
                "task {} is {} and cannot be placed",
                task.id,
                task.status.as_str()
            ),
        ));
    }
    if epoch != task.epoch + 1 {
        return Err(Rejection::new(
            Code::Aborted,
            format!(
                "stale placement: task {} is at epoch {}, so the next is {}, not {epoch}",
                task.id,
                task.epoch,
                task.epoch + 1
            ),
        ));
    }
    if agent.is_none_or(|agent| agent.spec.paused) {
        return Err(Rejection::new(
            Code::FailedPrecondition,
            format!("agent {} of task {} is paused or gone", task.agent, task.id),
        ));
    }
    if let Some(halt) = brakes.halt() {
        return Err(precondition(format!(
            "{halt}; task {} is not placed until it is resumed",
            task.id
        )));
    }
    let mut update = TaskUpdate::new(task, at);
    // The new epoch fences the previous owner whatever happens next.
    update.task.epoch = epoch;
    update.progressed();
    if let Some(call) = interrupted {
        let reason = format!(
            "tool call {} ({}/{}) was started on node {} and never finished; it is not \
             retry-safe (not idempotent by its grant's retry_safe, or by annotations the pin \
             trusts), so it is not retried without a decision",
            call.call_id,
            call.server,
            call.tool,
            update
                .task
                .owner
                .map_or_else(|| "?".to_owned(), |owner| owner.to_string()),
        );
        update.record(TaskEvent::NeedsAttention {
            call_id: call.call_id,
            reason: reason.clone(),
        });
        update.release(TaskStatus::NeedsAttention, Some(reason));
        return Ok(update.finish());
    }
    update.task.status = TaskStatus::Running;
    update.task.owner = Some(node);
    update.record(TaskEvent::Assigned { node, epoch });
    Ok(update.finish())
}
