//! Running a task: placement (`AssignTask`) and the owner's journal steps
//! (`AppendJournal`), both fenced by the task's epoch.

use super::budget::Budgets;
use super::pause::Brakes;
use super::task_update::TaskUpdate;
use super::{At, Decision, StateRead, Write};
use crate::command::{Command, Step};
use crate::config::{Agent, McpServer};
use crate::hash::Hash;
use crate::ids::{TaskId, WorkspaceId};
use crate::journal::{CallDecision, RequestedCall, TaskEvent, Usage, canonical_json};
use crate::model::{OpenCall, PendingApproval, Task, TaskStatus};
use crate::names::NodeId;
use crate::outcome::{Code, Rejection};
use crate::policy::Effect;

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
            Ok(assign(task, agent.as_ref(), &brakes, at, *node, *epoch))
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
                let server = match next_call(&task, call_id) {
                    Some(call) => state.mcp_server(workspace, &call.server)?,
                    None => None,
                };
                let change = Drift {
                    call_id,
                    offered_hash: *offered_hash,
                    start_next: *start_next,
                };
                return Ok(definition_changed(task, at, &change, server, &brakes));
            }
            let mut budgets = Budgets::read(state, workspace, &task.agent)?;
            let decide =
                |call: &RequestedCall| decide_call(state, at, &task, agent.as_ref(), &brakes, call);
            let decision = append(task.clone(), at, step, &brakes, &mut budgets, decide)?;
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

fn assign(
    task: Task,
    agent: Option<&Agent>,
    brakes: &Brakes,
    at: &At<'_>,
    node: NodeId,
    epoch: u64,
) -> Decision {
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
    let interrupted = update
        .task
        .open_calls
        .first()
        .filter(|call| call.attempts > 0 && !call.retry_safe && !call.retry_approved)
        .cloned();
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

fn append<E>(
    task: Task,
    at: &At<'_>,
    step: &Step,
    brakes: &Brakes,
    budgets: &mut Budgets,
    decide: impl Fn(&RequestedCall) -> Result<Verdict, E>,
) -> Result<Decision, E> {
    if task.status != TaskStatus::Running {
        return Ok(Err(precondition(format!(
            "task {} is {}",
            task.id,
            task.status.as_str()
        ))));
    }
    let mut update = TaskUpdate::new(task, at);
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
            model_responded(&mut update, &turn, budgets, decide)?
                .map(|()| advance(&mut update, start_first.then_some(brakes)))
        }
        Step::ToolCallStarted { call_id, attempt } => {
            call_started(&mut update, call_id, *attempt, brakes)
        }
        Step::ToolCallFinished {
            call_id,
            output,
            is_error,
            start_next,
        } => call_finished(&mut update, call_id, output, *is_error)
            .map(|()| advance(&mut update, start_next.then_some(brakes))),
        Step::NeedsAttention { call_id, reason } => {
            match next_call(&update.task, call_id).filter(|call| call.attempts > 0) {
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

fn model_responded<E>(
    update: &mut TaskUpdate,
    turn: &Turn<'_>,
    budgets: &mut Budgets,
    decide: impl Fn(&RequestedCall) -> Result<Verdict, E>,
) -> Result<Result<(), Rejection>, E> {
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
        decisions.push(decide(&recorded)?);
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

/// A requested call's decision and, unless denied, the open call it becomes.
pub(super) struct Verdict {
    decision: CallDecision,
    open: Option<OpenCall>,
}

impl Verdict {
    fn denied(rule: Option<String>, reason: String) -> Verdict {
        Verdict {
            decision: CallDecision::Denied { rule, reason },
            open: None,
        }
    }
}

/// The decision for one requested call: the agent must hold a grant for a tool its
/// server registered, with a JSON object as arguments, and then the workspace's policy
/// decides (deny by default).
fn decide_call<S: StateRead>(
    state: &S,
    at: &At<'_>,
    task: &Task,
    agent: Option<&Agent>,
    brakes: &Brakes,
    call: &RequestedCall,
) -> Result<Verdict, S::Error> {
    let (Some(server_name), Some(tool_name)) = (&call.server, &call.tool) else {
        return Ok(Verdict::denied(
            None,
            format!("{} is not a tool this agent knows", call.function),
        ));
    };
    let Some(agent) = agent else {
        return Ok(Verdict::denied(
            None,
            "the task's agent no longer exists".to_owned(),
        ));
    };
    let Some(grant) = agent.grant(server_name, tool_name) else {
        return Ok(Verdict::denied(
            None,
            format!(
                "agent {} has no grant for {server_name}/{tool_name}",
                agent.spec.name
            ),
        ));
    };
    let Some(server) = state.mcp_server(&task.workspace, server_name)? else {
        return Ok(Verdict::denied(
            None,
            format!("mcp server {server_name} is not registered"),
        ));
    };
    let Some(tool) = server.tool(tool_name) else {
        return Ok(Verdict::denied(
            None,
            format!("{server_name}/{tool_name} is not a pinned tool"),
        ));
    };
    if let Some(offered) = server.drift(tool_name) {
        return Ok(Verdict::denied(
            None,
            format!(
                "{server_name}/{tool_name} is blocked: its server offered a definition ({offered}) other than the pinned one; an admin must re-pin it"
            ),
        ));
    }
    if let Some(denial) = brakes.tool_denial(server_name, tool_name) {
        return Ok(Verdict::denied(None, denial));
    }
    let arguments = match serde_json::from_str::<serde_json::Value>(&call.arguments) {
        Ok(value @ serde_json::Value::Object(_)) => value,
        _ => {
            return Ok(Verdict::denied(
                None,
                "arguments are not a JSON object".to_owned(),
            ));
        }
    };
    let decided = super::policy::evaluate(state, task, agent, server_name, tool_name, &arguments)?;
    let open = |approval| OpenCall {
        call_id: call.call_id.clone(),
        server: server_name.clone(),
        tool: tool_name.clone(),
        arguments: call.arguments.clone(),
        arguments_hash: Hash::of(call.arguments.as_bytes()),
        // The grant says, or else the tool's annotations where the pin trusts them: an
        // untrusted server could call a destructive tool read-only to have it retried.
        retry_safe: grant
            .retry_safe
            .unwrap_or(server.trust_annotations && (tool.read_only || tool.idempotent)),
        attempts: 0,
        retry_approved: false,
        approval,
    };
    Ok(match (decided.effect, decided.rule) {
        (Effect::Allow, Some(rule)) => Verdict {
            decision: CallDecision::Allowed {
                rule: rule.as_str().to_owned(),
                reason: decided.reason,
            },
            open: Some(open(None)),
        },
        (Effect::RequireApproval(requirement), Some(rule)) => {
            let expires_at_ms = at.time_ms.saturating_add(requirement.expiry_ms);
            let approval = PendingApproval {
                rule: rule.clone(),
                requirement,
                requested_ms: at.time_ms,
                expires_at_ms,
                votes: Vec::new(),
            };
            Verdict {
                decision: CallDecision::ApprovalRequired {
                    rule: rule.as_str().to_owned(),
                    reason: decided.reason,
                    expires_at_ms,
                },
                open: Some(open(Some(approval))),
            }
        }
        (_, rule) => Verdict::denied(rule.map(|rule| rule.as_str().to_owned()), decided.reason),
    })
}

/// What the owner saw when the server offered a changed tool definition.
struct Drift<'a> {
    call_id: &'a str,
    offered_hash: Hash,
    start_next: bool,
}

/// Ends a started call whose tool the server now offers with another definition than
/// the pinned one, without it having run, and blocks the tool until it is re-pinned.
fn definition_changed(
    task: Task,
    at: &At<'_>,
    drift: &Drift<'_>,
    server: Option<McpServer>,
    brakes: &Brakes,
) -> Decision {
    if task.status != TaskStatus::Running {
        return Err(precondition(format!(
            "task {} is {}",
            task.id,
            task.status.as_str()
        )));
    }
    let call = next_call(&task, drift.call_id)
        .filter(|call| call.attempts > 0)
        .cloned();
    let (Some(call), Some(mut server)) = (call, server) else {
        return Err(precondition(format!(
            "call {} of task {} has not started",
            drift.call_id, task.id
        )));
    };
    let Some(pinned) = server.tool(&call.tool).map(|tool| tool.definition_hash()) else {
        return Err(precondition(format!(
            "{}/{} is not a pinned tool",
            call.server, call.tool
        )));
    };
    if pinned == drift.offered_hash {
        return Err(precondition(format!(
            "{}/{} is offered as pinned ({pinned}); nothing changed",
            call.server, call.tool
        )));
    }
    let mut update = TaskUpdate::new(task, at);
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
    advance(&mut update, drift.start_next.then_some(brakes));
    update.progressed();
    let (outcome, mut writes) = update.finish();
    if server.drift(&call.tool).is_none() {
        server.drifted.push((call.tool.clone(), drift.offered_hash));
        writes.push(Write::McpServer(server));
    }
    Ok((outcome, writes))
}

/// The open call `call_id`, if it is the next one to run.
fn next_call<'a>(task: &'a Task, call_id: &str) -> Option<&'a OpenCall> {
    task.open_calls
        .first()
        .filter(|call| call.call_id == call_id)
}

fn call_started(
    update: &mut TaskUpdate,
    call_id: &str,
    attempt: u32,
    brakes: &Brakes,
) -> Result<(), Rejection> {
    let task_id = update.task.id;
    let Some(call) = update
        .task
        .open_calls
        .first_mut()
        .filter(|call| call.call_id == call_id)
    else {
        return Err(precondition(format!(
            "call {call_id} is not the next open tool call of task {task_id}"
        )));
    };
    if call.approval.is_some() {
        return Err(precondition(format!(
            "call {call_id} is waiting for approval and may not start"
        )));
    }
    if attempt != call.attempts + 1 {
        return Err(precondition(format!(
            "call {call_id} has had {} attempts, so the next is {}, not {attempt}",
            call.attempts,
            call.attempts + 1
        )));
    }
    if call.attempts > 0 && !call.retry_safe && !call.retry_approved {
        return Err(precondition(format!(
            "call {call_id} was interrupted and is not retry-safe; it runs again only after `task resolve --retry`"
        )));
    }
    // A call to a tool paused since it was decided ends with the pause as its result
    // instead of running, so the owner goes on to its next step.
    if let Some(denial) = brakes.tool_denial(&call.server, &call.tool) {
        update.end_unrun_call(call_id, format!("denied: {denial}"));
        advance(update, None);
        return Ok(());
    }
    call.attempts = attempt;
    call.retry_approved = false;
    update.record(TaskEvent::ToolCallStarted {
        call_id: call_id.to_owned(),
        attempt,
    });
    Ok(())
}

/// Moves the task on after a step: parks it when the next call waits for approval,
/// otherwise, when asked (`start` holds the task's pauses), starts that call in this
/// commit.
pub(super) fn advance(update: &mut TaskUpdate, start: Option<&Brakes>) {
    if update.task.status != TaskStatus::Running {
        return;
    }
    let waiting = update
        .task
        .open_calls
        .first()
        .filter(|call| call.attempts == 0)
        .and_then(|call| call.approval.as_ref().map(|approval| (call, approval)));
    if let Some((call, approval)) = waiting {
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
        return;
    }
    if let Some(brakes) = start {
        start_next_call(update, brakes);
    }
}

/// Journals the next open call as started (attempt 1) in this commit. Only a call that
/// has never started qualifies: a retry always gets a commit of its own. A paused
/// workspace or agent starts nothing; a call to a paused tool ends with the pause as its
/// result, and the turn's next call is considered instead.
fn start_next_call(update: &mut TaskUpdate, brakes: &Brakes) {
    if brakes.halt().is_some() {
        return;
    }
    let Some(call) = update
        .task
        .open_calls
        .first_mut()
        .filter(|call| call.attempts == 0)
    else {
        return;
    };
    let call_id = call.call_id.clone();
    if let Some(denial) = brakes.tool_denial(&call.server, &call.tool) {
        update.end_unrun_call(&call_id, format!("denied: {denial}"));
        advance(update, Some(brakes));
        return;
    }
    call.attempts = 1;
    update.record(TaskEvent::ToolCallStarted {
        call_id,
        attempt: 1,
    });
}

fn call_finished(
    update: &mut TaskUpdate,
    call_id: &str,
    output: &str,
    is_error: bool,
) -> Result<(), Rejection> {
    if next_call(&update.task, call_id).is_none_or(|call| call.attempts == 0) {
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
