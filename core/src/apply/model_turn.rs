//! A model's answer journaled (`ModelResponded`): its calls decided, its tokens charged,
//! the task ended when it asks for no tool or runs out of budget.

use super::StateRead;
use super::budget::Budgets;
use super::call_decision::Decider;
use super::execution::{MAX_CALLS_PER_TURN, MAX_OUTPUT_BYTES, precondition};
use super::task_update::TaskUpdate;
use crate::hash::Hash;
use crate::journal::{CallDecision, RequestedCall, TaskEvent, Usage, canonical_json};
use crate::model::TaskStatus;
use crate::outcome::{Code, Rejection};

/// A model's answer as the owner journals it.
pub(super) struct Turn<'a> {
    pub(super) turn: u32,
    pub(super) content: &'a str,
    pub(super) tool_calls: &'a [RequestedCall],
    pub(super) usage: Usage,
}

pub(super) fn model_responded<S: StateRead>(
    update: &mut TaskUpdate,
    turn: &Turn<'_>,
    budgets: &mut Budgets,
    decider: &Decider<'_, S>,
) -> Result<Result<(), Rejection>, S::Error> {
    let Turn {
        turn,
        content,
        tool_calls,
        usage,
    } = *turn;
    let task = &update.task;
    if turn != task.turns {
        return Ok(Err(precondition(format!(
            "task {} is at turn {}, not {turn}",
            task.id, task.turns
        ))));
    }
    if let Some(open) = task.open_calls.first() {
        return Ok(Err(precondition(format!(
            "tool call {} of the previous turn has not finished",
            open.call_id
        ))));
    }
    if content.len() > MAX_OUTPUT_BYTES {
        return Ok(Err(Rejection::new(
            Code::ResourceExhausted,
            format!("model content must be at most {MAX_OUTPUT_BYTES} bytes"),
        )));
    }
    if tool_calls.len() > MAX_CALLS_PER_TURN {
        return Ok(Err(Rejection::new(
            Code::ResourceExhausted,
            format!("a turn may ask for at most {MAX_CALLS_PER_TURN} tool calls"),
        )));
    }
    let mut decisions = Vec::with_capacity(tool_calls.len());
    let mut recorded_calls = Vec::with_capacity(tool_calls.len());
    for call in tool_calls {
        if recorded_calls
            .iter()
            .any(|earlier: &RequestedCall| earlier.call_id == call.call_id)
        {
            return Ok(Err(Rejection::new(
                Code::InvalidArgument,
                format!("tool call id {} appears twice in turn {turn}", call.call_id),
            )));
        }
        let mut recorded = call.clone();
        if let Ok(canonical) = canonical_json(&call.arguments) {
            recorded.arguments = canonical;
        }
        decisions.push(decider.requested(&recorded)?);
        recorded_calls.push(recorded);
    }
    let task = &mut update.task;
    task.turns += 1;
    task.tokens_used = task.tokens_used.saturating_add(usage.total());
    let (turns, tokens_used, limits) = (task.turns, task.tokens_used, task.limits);
    update.record(TaskEvent::ModelResponded {
        turn,
        content: content.to_owned(),
        tool_calls: recorded_calls.clone(),
        usage,
    });
    // The turn's tokens were spent whatever happens next, so they are charged; its
    // calls reserve budget only if they are opened.
    let reserved = decisions
        .iter()
        .filter(|verdict| verdict.open.is_some())
        .count();
    let reserved = u64::try_from(reserved).unwrap_or(u64::MAX);
    let stops =
        tool_calls.is_empty() || tokens_used > limits.token_budget || turns >= limits.max_steps;
    let overrun = budgets.charge(usage.total(), if stops { 0 } else { reserved });
    if tool_calls.is_empty() {
        update.record(TaskEvent::Completed {
            result: content.to_owned(),
        });
        update.task.result = Some(content.to_owned());
        update.release(TaskStatus::Completed, None);
        return Ok(Ok(()));
    }
    if tokens_used > limits.token_budget {
        update.fail(format!(
            "token budget exhausted: used {tokens_used} of {} tokens",
            limits.token_budget
        ));
        return Ok(Ok(()));
    }
    if turns >= limits.max_steps {
        update.fail(format!(
            "step budget exhausted: {turns} model turns of {} allowed, and the model still asks for tools",
            limits.max_steps
        ));
        return Ok(Ok(()));
    }
    if let Some(overrun) = overrun {
        update.fail(overrun);
        return Ok(Ok(()));
    }
    for (call, verdict) in recorded_calls.iter().zip(decisions) {
        let arguments_hash = Hash::of(call.arguments.as_bytes());
        let denial = match &verdict.decision {
            CallDecision::Denied { reason, .. } => Some(format!("denied: {reason}")),
            _ => None,
        };
        update.record(TaskEvent::ToolCallDecided {
            call_id: call.call_id.clone(),
            arguments_hash,
            decision: verdict.decision,
            policy_version: verdict.policy_version,
        });
        match (verdict.open, denial) {
            (Some(open), _) => update.task.open_calls.push(open),
            (None, denial) => update.record(TaskEvent::ToolCallFinished {
                call_id: call.call_id.clone(),
                output: denial.unwrap_or_else(|| "denied".to_owned()),
                is_error: true,
            }),
        }
    }
    Ok(Ok(()))
}
