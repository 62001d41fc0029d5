//! Running a task: placement (`AssignTask`) and the owner's journal steps
//! (`AppendJournal`), both fenced by the task's epoch.

use super::budget::Budgets;
use super::call_decision::Decider;
use super::call_start::{Starter, advance, call_started, next_call};
use super::pause::Brakes;
use super::task_update::TaskUpdate;
use super::{At, Decision, StateRead, Write};
use crate::command::{Command, Step};
use crate::config::McpServer;
use crate::hash::Hash;
use crate::ids::{TaskId, WorkspaceId};
use crate::journal::{CallDecision, RequestedCall, TaskEvent, Usage, canonical_json};
use crate::model::{OpenCall, Task, TaskStatus};
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
    match command {
        Command::AssignTask {
            workspace,
            task,
            node,
            epoch,
        } => {
            let task = match load(state, workspace, task)? {
                Ok(task) => task,
                Err(rejection) => return Ok(Err(rejection)),
            };
            let agent = state.agent(workspace, &task.agent)?;
            let brakes = Brakes::read(state, &task, agent.as_ref())?;
            let decider = Decider {
                state,
                at,
                task: &task,
                agent: agent.as_ref(),
                brakes: &brakes,
            };
            let starter = Starter {
                decider: &decider,
                decided_now: false,
            };
            let interrupted = interrupted_call(&starter)?;
            Ok(assign(task.clone(), &starter, interrupted, *node, *epoch))
        }
        Command::AppendJournal {
            workspace,
            task,
            node,
            epoch,
            step,
        } => {
            let task = match load(state, workspace, task)? {
                Ok(task) => task,
                Err(rejection) => return Ok(Err(rejection)),
            };
            if let Some(rejection) = fence(&task, *node, *epoch) {
                return Ok(Err(rejection));
            }
            let agent = state.agent(workspace, &task.agent)?;
            let brakes = Brakes::read(state, &task, agent.as_ref())?;
            // While the workspace or the agent is paused the task takes no new step; the
            // result of a call that already ran is still journaled.
            if matches!(
                step,
                Step::ModelResponded { .. } | Step::ToolCallStarted { .. }
            ) && let Some(rejection) = brakes.refusal(&task)
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
                    Some(call) => state.mcp_server(workspace, &call.server)?,
                    None => None,
                };
                let change = Drift {
                    call_id,
                    offered_hash: *offered_hash,
                    start_next: *start_next,
                };
                let decider = Decider {
                    state,
                    at,
                    task: &task,
                    agent: agent.as_ref(),
                    brakes: &brakes,
                };
                let starter = Starter {
                    decider: &decider,
                    decided_now: false,
                };
                return definition_changed(task.clone(), &change, server, &starter);
            }
            let mut budgets = Budgets::read(state, workspace, &task.agent)?;
            let decider = Decider {
                state,
                at,
                task: &task,
                agent: agent.as_ref(),
                brakes: &brakes,
            };
            let decision = append(task.clone(), step, &mut budgets, &decider)?;
            Ok(decision.map(|(outcome, mut writes)| {
                writes.extend(budgets.writes());
                (outcome, writes)
            }))
        }
        _ => unreachable!("execution::apply is called for AssignTask and AppendJournal only"),
    }
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

/// The task's interrupted call, if it may not run again without a person's decision:
/// it is not retry-safe by its grant (or the annotations its pin trusts) as they are now,
/// and nobody chose to retry it.
fn interrupted_call<S: StateRead>(starter: &Starter<'_, S>) -> Result<Option<OpenCall>, S::Error> {
    let Some(call) = starter
        .decider
        .task
        .open_calls
        .first()
        .filter(|call| call.attempts > 0 && !call.retry_approved)
    else {
        return Ok(None);
    };
    Ok((!starter.retry_safe_now(call)?).then(|| call.clone()))
}

fn assign<S: StateRead>(
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

fn precondition(message: String) -> Rejection {
    Rejection::new(Code::FailedPrecondition, message)
}

fn append<S: StateRead>(
    task: Task,
    step: &Step,
    budgets: &mut Budgets,
    decider: &Decider<'_, S>,
) -> Result<Decision, S::Error> {
    if task.status != TaskStatus::Running {
        return Ok(Err(precondition(format!(
            "task {} is {}",
            task.id,
            task.status.as_str()
        ))));
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
                Ok(()) => advance(&mut update, start_first.then(|| starter(true)).as_ref())
                    .map(Ok)?,
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
            Ok(()) => advance(&mut update, start_next.then(|| starter(false)).as_ref())
                .map(Ok)?,
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

/// A model's answer as the owner journals it.
struct Turn<'a> {
    turn: u32,
    content: &'a str,
    tool_calls: &'a [RequestedCall],
    usage: Usage,
}

fn model_responded<S: StateRead>(
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

/// What the owner saw when the server offered a changed tool definition.
struct Drift<'a> {
    call_id: &'a str,
    offered_hash: Hash,
    start_next: bool,
}

/// Ends a started call whose tool the server now offers with another definition than
/// the pinned one, without it having run, and blocks the tool until it is re-pinned.
fn definition_changed<S: StateRead>(
    task: Task,
    drift: &Drift<'_>,
    server: Option<McpServer>,
    starter: &Starter<'_, S>,
) -> Result<Decision, S::Error> {
    if task.status != TaskStatus::Running {
        return Ok(Err(precondition(format!(
            "task {} is {}",
            task.id,
            task.status.as_str()
        ))));
    }
    let call = next_call(&task.open_calls, drift.call_id)
        .filter(|call| call.attempts > 0)
        .cloned();
    let (Some(call), Some(mut server)) = (call, server) else {
        return Ok(Err(precondition(format!(
            "call {} of task {} has not started",
            drift.call_id, task.id
        ))));
    };
    let Some(pinned) = server.tool(&call.tool).map(|tool| tool.definition_hash()) else {
        return Ok(Err(precondition(format!(
            "{}/{} is not a pinned tool",
            call.server, call.tool
        ))));
    };
    if pinned == drift.offered_hash {
        return Ok(Err(precondition(format!(
            "{}/{} is offered as pinned ({pinned}); nothing changed",
            call.server, call.tool
        ))));
    }
    let mut update = TaskUpdate::new(task, starter.decider.at);
    update.record(TaskEvent::ToolDefinitionChanged {
        call_id: call.call_id.clone(),
        server: call.server.clone(),
        tool: call.tool.clone(),
        pinned_hash: pinned,
        offered_hash: drift.offered_hash,
    });
    update.task.open_calls.remove(0);
    update.record(TaskEvent::ToolCallFinished {
        call_id: call.call_id.clone(),
        output: format!(
            "blocked: {}/{} is offered with a definition other than the one pinned at registration; an admin must review it and re-pin it (wardenctl mcp register)",
            call.server, call.tool
        ),
        is_error: true,
    });
    // The next call starts in this commit only if it is to another tool: deciding it
    // again reads the server as stored, without the drift this commit records.
    let same_tool = update
        .task
        .open_calls
        .first()
        .is_some_and(|next| next.server == call.server && next.tool == call.tool);
    let start = (drift.start_next && !same_tool).then_some(starter);
    advance(&mut update, start)?;
    update.progressed();
    let (outcome, mut writes) = update.finish();
    if server.drift(&call.tool).is_none() {
        server.drifted.push((call.tool.clone(), drift.offered_hash));
        writes.push(Write::McpServer(server));
    }
    Ok(Ok((outcome, writes)))
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
