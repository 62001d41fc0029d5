//! Deciding a call that waits for approval: an approver's vote (bound to the call's
//! arguments hash), a denial, and the expiry of the request.

use super::call_start::park_on_approval;
use super::execution::load;
use super::policy::roles_of;
use super::task_update::TaskUpdate;
use super::{At, Decision, StateRead};
use crate::command::Command;
use crate::hash::Hash;
use crate::ids::Principal;
use crate::journal::TaskEvent;
use crate::model::{OpenCall, PendingApproval, Task, TaskStatus, Vote};
use crate::outcome::{Code, Rejection};
use crate::policy::{Approver, OnExpiry};

/// Longest reason an approver may give.
pub const MAX_REASON_BYTES: usize = 4096;

pub(super) fn apply<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    match command {
        Command::DecideApproval {
            workspace,
            task,
            call_id,
            arguments_hash,
            approve,
            reason,
        } => {
            let task = match load(state, workspace, task)? {
                Ok(task) => task,
                Err(rejection) => return Ok(Err(rejection)),
            };
            let (call, approval) = match waiting_call(&task, call_id) {
                Ok(found) => found,
                Err(rejection) => return Ok(Err(rejection)),
            };
            if let Some(rejection) =
                may_decide(state, at, &task, &call, &approval, arguments_hash, reason)?
            {
                return Ok(Err(rejection));
            }
            Ok(Ok(if *approve {
                vote(task, at, call, approval, reason)
            } else {
                deny(task, at, &call, reason)
            }))
        }
        Command::ExpireApproval {
            workspace,
            task,
            call_id,
        } => {
            let task = match load(state, workspace, task)? {
                Ok(task) => task,
                Err(rejection) => return Ok(Err(rejection)),
            };
            let (call, approval) = match waiting_call(&task, call_id) {
                Ok(found) => found,
                Err(rejection) => return Ok(Err(rejection)),
            };
            if at.time_ms < approval.expires_at_ms {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!(
                        "the approval request for call {call_id} expires at {} ms, not yet",
                        approval.expires_at_ms
                    ),
                )));
            }
            Ok(Ok(expire(task, at, &call, &approval)))
        }
        _ => unreachable!("approval::apply is called for approval commands only"),
    }
}

/// The call `call_id` if it is the one the task waits on, with its pending approval.
fn waiting_call(task: &Task, call_id: &str) -> Result<(OpenCall, PendingApproval), Rejection> {
    let not_waiting = || {
        Rejection::new(
            Code::FailedPrecondition,
            format!(
                "task {} is {} and does not wait for an approval of call {call_id}",
                task.id,
                task.status.as_str()
            ),
        )
    };
    if task.status != TaskStatus::WaitingApproval {
        return Err(not_waiting());
    }
    let call = task
        .open_calls
        .first()
        .filter(|call| call.call_id == call_id)
        .ok_or_else(not_waiting)?;
    let approval = call.approval.clone().ok_or_else(not_waiting)?;
    Ok((call.clone(), approval))
}

/// Why the caller may not decide this approval, if it may not.
fn may_decide<S: StateRead>(
    state: &S,
    at: &At<'_>,
    task: &Task,
    call: &OpenCall,
    approval: &PendingApproval,
    arguments_hash: &Hash,
    reason: &str,
) -> Result<Option<Rejection>, S::Error> {
    let refuse = |code, message: String| Ok(Some(Rejection::new(code, message)));
    let call_id = &call.call_id;
    if reason.len() > MAX_REASON_BYTES {
        return refuse(
            Code::InvalidArgument,
            format!("reason: at most {MAX_REASON_BYTES} bytes"),
        );
    }
    if *arguments_hash != call.arguments_hash {
        return refuse(
            Code::FailedPrecondition,
            format!(
                "the decision names arguments hash {arguments_hash}, but call {call_id} has arguments hash {}; an approval covers only the exact arguments it names",
                call.arguments_hash
            ),
        );
    }
    refusal_of_decider(state, at.time_ms, at.principal, task, call, approval)
}

/// Why `principal` may not approve or deny the call `task` waits on at `time_ms`, if it
/// may not: `principal` lacks the approve permission in the workspace, the task is not
/// waiting for an approval, the request expired, `principal` submitted the task, is not one of its approvers, or already approved it. The same
/// check `apply()` makes of a decision, for pages and listings that offer the decision
/// only to those who may make it.
pub fn decider_refusal<S: StateRead>(
    state: &S,
    time_ms: u64,
    principal: &Principal,
    task: &Task,
) -> Result<Option<Rejection>, S::Error> {
    if let Err(rejection) = super::authz::require(
        state,
        principal,
        Some(&task.workspace),
        crate::identity::Permission::Approve,
    )? {
        return Ok(Some(rejection));
    }
    let Some(call) = task.open_calls.first() else {
        return Ok(Some(Rejection::new(
            Code::FailedPrecondition,
            format!("task {} has no open call", task.id),
        )));
    };
    match waiting_call(task, &call.call_id) {
        Ok((call, approval)) => {
            refusal_of_decider(state, time_ms, principal, task, &call, &approval)
        }
        Err(rejection) => Ok(Some(rejection)),
    }
}

fn refusal_of_decider<S: StateRead>(
    state: &S,
    time_ms: u64,
    principal: &Principal,
    task: &Task,
    call: &OpenCall,
    approval: &PendingApproval,
) -> Result<Option<Rejection>, S::Error> {
    let refuse = |code, message: String| Ok(Some(Rejection::new(code, message)));
    let call_id = &call.call_id;
    if time_ms >= approval.expires_at_ms {
        return refuse(
            Code::FailedPrecondition,
            format!(
                "the approval request for call {call_id} expired at {} ms",
                approval.expires_at_ms
            ),
        );
    }
    if *principal == task.submitted_by {
        return refuse(
            Code::PermissionDenied,
            format!(
                "{} submitted task {} and cannot decide its own approval request",
                principal, task.id
            ),
        );
    }
    // A schedule's or a trigger's task is its author's: whoever last put the schedule or
    // the trigger when it fired decides none of its calls either (recorded with the task,
    // so deleting or putting it again later changes nothing).
    if state.task_author(&task.workspace, &task.id)?.as_ref() == Some(principal) {
        return refuse(
            Code::PermissionDenied,
            format!(
                "{principal} put {}, which submitted task {}, and cannot decide its approval requests",
                task.submitted_by, task.id
            ),
        );
    }
    let roles = roles_of(state, &task.workspace, principal)?;
    let eligible = approval
        .requirement
        .approvers
        .iter()
        .any(|approver| match approver {
            Approver::Principal(named) => named == principal,
            Approver::Role(role) => roles.contains(role),
        });
    if !eligible {
        let listed: Vec<String> = approval
            .requirement
            .approvers
            .iter()
            .map(ToString::to_string)
            .collect();
        return refuse(
            Code::PermissionDenied,
            format!(
                "{} is not an approver of call {call_id} (approvers: {})",
                principal,
                listed.join(", ")
            ),
        );
    }
    if approval
        .votes
        .iter()
        .any(|vote| vote.principal == *principal)
    {
        return refuse(
            Code::AlreadyExists,
            format!("{} already approved call {call_id}", principal),
        );
    }
    Ok(None)
}

/// Counts an approval; at the quorum the call is released and the task runs again.
fn vote(
    task: Task,
    at: &At<'_>,
    call: OpenCall,
    mut approval: PendingApproval,
    reason: &str,
) -> (crate::outcome::Outcome, Vec<super::Write>) {
    approval.votes.push(Vote {
        principal: at.principal.clone(),
        reason: reason.to_owned(),
        time_ms: at.time_ms,
    });
    let approvals = u32::try_from(approval.votes.len()).unwrap_or(u32::MAX);
    let quorum = approval.requirement.quorum;
    let granted = approvals >= quorum;
    let mut update = TaskUpdate::new(task, at);
    update.record(TaskEvent::ApprovalDecided {
        call_id: call.call_id.clone(),
        by: at.principal.clone(),
        approved: true,
        reason: reason.to_owned(),
        approvals,
        quorum,
        granted,
    });
    if let Some(open) = update.task.open_calls.first_mut() {
        if granted {
            open.approval = None;
            open.granted = Some(approval);
        } else {
            open.approval = Some(approval);
        }
    }
    if granted {
        resume(&mut update);
    }
    update.finish()
}

/// One denial ends the request: the call gets the denial as its result.
fn deny(
    task: Task,
    at: &At<'_>,
    call: &OpenCall,
    reason: &str,
) -> (crate::outcome::Outcome, Vec<super::Write>) {
    let quorum = call
        .approval
        .as_ref()
        .map_or(1, |approval| approval.requirement.quorum);
    let approvals = call.approval.as_ref().map_or(0, |approval| {
        u32::try_from(approval.votes.len()).unwrap_or(u32::MAX)
    });
    let mut update = TaskUpdate::new(task, at);
    update.record(TaskEvent::ApprovalDecided {
        call_id: call.call_id.clone(),
        by: at.principal.clone(),
        approved: false,
        reason: reason.to_owned(),
        approvals,
        quorum,
        granted: false,
    });
    update.end_unrun_call(
        &call.call_id,
        format!("denied by {}: {reason}", at.principal),
    );
    resume(&mut update);
    update.finish()
}

fn expire(
    task: Task,
    at: &At<'_>,
    call: &OpenCall,
    approval: &PendingApproval,
) -> (crate::outcome::Outcome, Vec<super::Write>) {
    let fails_task = approval.requirement.on_expiry == OnExpiry::Fail;
    let mut update = TaskUpdate::new(task, at);
    update.record(TaskEvent::ApprovalExpired {
        call_id: call.call_id.clone(),
        fails_task,
    });
    let reason = format!(
        "the approval request for call {} ({}/{}) expired unanswered",
        call.call_id, call.server, call.tool
    );
    if fails_task {
        update.fail(reason);
    } else {
        update.end_unrun_call(&call.call_id, format!("denied: {reason}"));
        resume(&mut update);
    }
    update.finish()
}

/// Makes the parked task runnable again (the controller places it), or parks it on the
/// next call's approval.
pub(super) fn resume(update: &mut TaskUpdate) {
    update.task.status = TaskStatus::Running;
    update.task.owner = None;
    update.task.reason = None;
    update.progressed();
    park_on_approval(update);
}
