//! A pinned tool offered with another definition (`ToolDefinitionChanged`): the call ends
//! unrun and the tool is blocked until an admin re-pins it.

use super::call_start::{Starter, advance, next_call};
use super::execution::{precondition, running};
use super::task_update::TaskUpdate;
use super::{Decision, StateRead, Write};
use crate::config::McpServer;
use crate::hash::Hash;
use crate::journal::TaskEvent;
use crate::model::Task;

/// What the owner saw when the server offered a changed tool definition.
pub(super) struct Drift<'a> {
    pub(super) call_id: &'a str,
    pub(super) offered_hash: Hash,
    pub(super) start_next: bool,
}

/// Ends a started call whose tool the server now offers with another definition than
/// the pinned one, without it having run, and blocks the tool until it is re-pinned.
pub(super) fn definition_changed<S: StateRead>(
    task: Task,
    drift: &Drift<'_>,
    server: Option<McpServer>,
    starter: &Starter<'_, S>,
) -> Result<Decision, S::Error> {
    if let Err(rejection) = running(&task) {
        return Ok(Err(rejection));
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
