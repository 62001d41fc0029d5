//! Starting a tool call. A call starts only if it is decided the same way again against
//! the grants, pins, pauses and policy in force at this point of the log: a call released
//! by an approval, retried after a failover, or next in its turn after an earlier call
//! ran, may meet a policy, a grant or a pin changed since the model asked for it. A call
//! whose decision changed is journaled as such (`DecisionChanged`, naming the policy
//! version) and ends as denied without running; the approval that released it ends with
//! it and cannot release anything else.

use super::StateRead;
use super::call_decision::{CallTarget, Decider};
use super::task_update::TaskUpdate;
use crate::builtin::Builtin;
use crate::journal::{CallDecision, TaskEvent};
use crate::model::{OpenCall, PendingApproval, TaskStatus};
use crate::outcome::{Code, Rejection};

/// What starting a call reads: the decider of the task's calls, and whether the calls it
/// may start were decided in this very commit (so deciding them again would repeat it).
pub(super) struct Starter<'a, S> {
    pub(super) decider: &'a Decider<'a, S>,
    pub(super) decided_now: bool,
}

/// How a call came out of being decided again.
enum Recheck {
    /// As before: it may start, with the retry-safety its grant gives it now.
    Holds {
        retry_safe: bool,
        policy_version: u64,
    },
    /// It may not start; the decision says why.
    Changed {
        decision: CallDecision,
        policy_version: u64,
    },
}

impl<S: StateRead> Starter<'_, S> {
    fn recheck(&self, call: &OpenCall) -> Result<Recheck, S::Error> {
        if self.decided_now {
            return Ok(Recheck::Holds {
                retry_safe: call.retry_safe,
                policy_version: call.policy_version,
            });
        }
        let verdict = self.decider.decide(&CallTarget {
            call_id: &call.call_id,
            server: &call.server,
            tool: &call.tool,
            arguments: &call.arguments,
        })?;
        let policy_version = verdict.policy_version;
        let Some(now) = verdict.open else {
            return Ok(Recheck::Changed {
                decision: verdict.decision,
                policy_version,
            });
        };
        match (&now.approval, &call.granted) {
            (None, _) => {}
            (Some(needed), Some(granted)) if same_requirement(needed, granted) => {}
            (Some(needed), _) => {
                let approvers: Vec<String> = needed
                    .requirement
                    .approvers
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                let had = call.granted.as_ref().map_or_else(
                    || "it was allowed without approval".to_owned(),
                    |granted| format!("its approval was given under rule {}", granted.rule),
                );
                return Ok(Recheck::Changed {
                    decision: CallDecision::Denied {
                        rule: Some(needed.rule.as_str().to_owned()),
                        reason: format!(
                            "rule {} now requires approval by {} (quorum {}); {had}",
                            needed.rule,
                            approvers.join(", "),
                            needed.requirement.quorum
                        ),
                    },
                    policy_version,
                });
            }
        }
        Ok(Recheck::Holds {
            retry_safe: now.retry_safe,
            policy_version,
        })
    }

    /// Whether the interrupted `call` may run again without a person's decision: its
    /// grant (or the annotations its pin trusts) says so now.
    pub(super) fn retry_safe_now(&self, call: &OpenCall) -> Result<bool, S::Error> {
        Ok(match self.recheck(call)? {
            Recheck::Holds { retry_safe, .. } => retry_safe,
            // Starting it journals the changed decision instead of running it.
            Recheck::Changed { .. } => true,
        })
    }
}

/// An approval given under `granted` still releases a call that now needs `needed`: the
/// same rule asks the same approvers for the same quorum.
fn same_requirement(needed: &PendingApproval, granted: &PendingApproval) -> bool {
    needed.rule == granted.rule
        && needed.requirement.approvers == granted.requirement.approvers
        && needed.requirement.quorum == granted.requirement.quorum
}

fn precondition(message: String) -> Rejection {
    Rejection::new(Code::FailedPrecondition, message)
}

/// The open call `call_id`, if it is the next one to run.
pub(super) fn next_call<'a>(open_calls: &'a [OpenCall], call_id: &str) -> Option<&'a OpenCall> {
    open_calls.first().filter(|call| call.call_id == call_id)
}

/// The owner's `ToolCallStarted`: attempt `attempt` of the next open call, decided again.
pub(super) fn call_started<S: StateRead>(
    update: &mut TaskUpdate,
    call_id: &str,
    attempt: u32,
    starter: &Starter<'_, S>,
) -> Result<Result<(), Rejection>, S::Error> {
    let task_id = update.task.id;
    let Some(call) = next_call(&update.task.open_calls, call_id).cloned() else {
        return Ok(Err(precondition(format!(
            "call {call_id} is not the next open tool call of task {task_id}"
        ))));
    };
    if call.approval.is_some() {
        return Ok(Err(precondition(format!(
            "call {call_id} is waiting for approval and may not start"
        ))));
    }
    if attempt != call.attempts + 1 {
        return Ok(Err(precondition(format!(
            "call {call_id} has had {} attempts, so the next is {}, not {attempt}",
            call.attempts,
            call.attempts + 1
        ))));
    }
    let recheck = starter.recheck(&call)?;
    let retry_safe = match recheck {
        Recheck::Holds { retry_safe, .. } => retry_safe,
        Recheck::Changed { .. } => call.retry_safe,
    };
    if call.attempts > 0 && !retry_safe && !call.retry_approved {
        return Ok(Err(precondition(format!(
            "call {call_id} was interrupted and is not retry-safe; it runs again only after `task resolve --retry`"
        ))));
    }
    // A call to a tool paused since it was decided ends with the pause as its result
    // instead of running, so the owner goes on to its next step.
    if let Some(denial) = starter.decider.brakes.tool_denial(&call.server, &call.tool) {
        update.end_unrun_call(call_id, format!("denied: {denial}"));
        park_on_approval(update);
        return Ok(Ok(()));
    }
    start_or_end(update, &call, attempt, recheck, starter)?;
    // A call that ended without running (a changed decision, a refused built-in) lets
    // the next one come up; if that one waits for approval, the task parks now.
    park_on_approval(update);
    Ok(Ok(()))
}

/// Journals `call` as started, or, when its decision changed, as denied and ended. A
/// built-in call starts by parking the task: on its question, or on the child task it
/// creates.
fn start_or_end<S: StateRead>(
    update: &mut TaskUpdate,
    call: &OpenCall,
    attempt: u32,
    recheck: Recheck,
    starter: &Starter<'_, S>,
) -> Result<(), S::Error> {
    let decider = starter.decider;
    let builtin = match &recheck {
        Recheck::Holds { .. } => decider.builtin(&call.server, &call.tool)?,
        Recheck::Changed { .. } => None,
    };
    if let Some(builtin) = builtin {
        let (state, at) = (decider.state, decider.at);
        let links = state.task_links(&update.task.workspace, &update.task.id)?;
        match builtin {
            Ok(Builtin::AskHuman) => super::question::ask(update, call, links, at),
            Ok(Builtin::Agent(callee)) => {
                super::delegate::delegate(state, at, update, call, &callee, links)?;
            }
            Err(why) => update.end_unrun_call(&call.call_id, format!("denied: {why}")),
        }
        return Ok(());
    }
    match recheck {
        Recheck::Changed {
            decision,
            policy_version,
        } => {
            let reason = match &decision {
                CallDecision::Denied { reason, .. } => reason.clone(),
                _ => "its decision changed".to_owned(),
            };
            update.record(TaskEvent::DecisionChanged {
                call_id: call.call_id.clone(),
                arguments_hash: call.arguments_hash,
                decision,
                policy_version,
            });
            update.end_unrun_call(
                &call.call_id,
                format!("denied when it was to start: {reason}"),
            );
        }
        Recheck::Holds {
            retry_safe,
            policy_version,
        } => {
            if let Some(open) = update.task.open_calls.first_mut() {
                open.attempts = attempt;
                open.retry_approved = false;
                open.retry_safe = retry_safe;
                open.policy_version = policy_version;
            }
            update.record(TaskEvent::ToolCallStarted {
                call_id: call.call_id.clone(),
                attempt,
                policy_version,
            });
        }
    }
    Ok(())
}

/// Parks the task when its next call waits for approval. Returns whether it did.
pub(super) fn park_on_approval(update: &mut TaskUpdate) -> bool {
    if update.task.status != TaskStatus::Running {
        return false;
    }
    let waiting = update
        .task
        .open_calls
        .first()
        .filter(|call| call.attempts == 0)
        .and_then(|call| call.approval.as_ref().map(|approval| (call, approval)));
    let Some((call, approval)) = waiting else {
        return false;
    };
    let requirement = &approval.requirement;
    let event = TaskEvent::ApprovalRequested {
        call_id: call.call_id.clone(),
        server: call.server.clone(),
        tool: call.tool.clone(),
        arguments_hash: call.arguments_hash,
        rule: approval.rule.as_str().to_owned(),
        approvers: requirement
            .approvers
            .iter()
            .map(ToString::to_string)
            .collect(),
        quorum: requirement.quorum,
        expires_at_ms: approval.expires_at_ms,
    };
    let reason = format!(
        "tool call {} ({}/{}) waits for approval (rule {})",
        call.call_id, call.server, call.tool, approval.rule
    );
    update.record(event);
    update.release(TaskStatus::WaitingApproval, Some(reason));
    true
}

/// Moves the task on after a step: parks it when the next call waits for approval,
/// otherwise, when asked (`start`), starts that call in this commit.
pub(super) fn advance<S: StateRead>(
    update: &mut TaskUpdate,
    start: Option<&Starter<'_, S>>,
) -> Result<(), S::Error> {
    if park_on_approval(update) || update.task.status != TaskStatus::Running {
        return Ok(());
    }
    match start {
        Some(starter) => start_next_call(update, starter),
        None => Ok(()),
    }
}

/// Journals the next open call as started (attempt 1) in this commit. Only a call that
/// has never started qualifies: a retry always gets a commit of its own. A paused
/// workspace or agent starts nothing; a call to a paused tool, or one whose decision
/// changed, ends without running, and the turn's next call is considered instead.
fn start_next_call<S: StateRead>(
    update: &mut TaskUpdate,
    starter: &Starter<'_, S>,
) -> Result<(), S::Error> {
    if starter.decider.brakes.halt().is_some() {
        return Ok(());
    }
    let Some(call) = update
        .task
        .open_calls
        .first()
        .filter(|call| call.attempts == 0)
        .cloned()
    else {
        return Ok(());
    };
    if let Some(denial) = starter.decider.brakes.tool_denial(&call.server, &call.tool) {
        update.end_unrun_call(&call.call_id, format!("denied: {denial}"));
        return advance(update, Some(starter));
    }
    let recheck = starter.recheck(&call)?;
    let changed = matches!(recheck, Recheck::Changed { .. });
    start_or_end(update, &call, 1, recheck, starter)?;
    if changed
        || update
            .task
            .open_calls
            .first()
            .is_none_or(|open| open.call_id != call.call_id)
    {
        // Ended without running (a changed decision, a refused built-in): the next one.
        return advance(update, Some(starter));
    }
    Ok(())
}
