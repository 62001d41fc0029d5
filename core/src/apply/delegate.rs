//! `agent/<name>`: a call that hands work to another agent of the workspace. Starting it
//! creates the child task in the same commit, keyed `delegate:<parent>:<call>` so the
//! call can never create two, and parks the parent as `waiting_for_child`. When the child
//! ends, whatever ends it, the commit that ends it also finishes the parent's call with
//! the child's answer (or its failure) and makes the parent runnable again; when a parent
//! ends first, the same commit cancels the child it waits on (`settle`).

use std::collections::BTreeSet;

use super::approval::resume;
use super::question::finish_call;
use super::submit::{NewTask, create_task};
use super::task_update::TaskUpdate;
use super::{At, StateRead, Write};
use crate::builtin::{ParentLink, TaskLinks, Waiting, delegated_input};
use crate::hash::Hash;
use crate::ids::{IdempotencyKey, TaskId, WorkspaceId};
use crate::journal::TaskEvent;
use crate::model::{OpenCall, Task, TaskStatus};
use crate::names::AgentName;

/// Starts an allowed delegation call: creates the child task and parks the parent.
pub(super) fn delegate<S: StateRead>(
    state: &S,
    at: &At<'_>,
    update: &mut TaskUpdate,
    call: &OpenCall,
    callee: &AgentName,
    links: Option<TaskLinks>,
) -> Result<(), S::Error> {
    let parent = &update.task;
    let workspace = parent.workspace.clone();
    let input = match delegated_input(&call.arguments) {
        Ok(input) => input,
        Err(why) => {
            update.end_unrun_call(&call.call_id, format!("denied: {why}"));
            return Ok(());
        }
    };
    let Some(agent) = state.agent(&workspace, callee)? else {
        let why = format!("agent {callee} not found in workspace {workspace}");
        update.end_unrun_call(&call.call_id, format!("denied: {why}"));
        return Ok(());
    };
    let mut lineage = links
        .as_ref()
        .map_or_else(Vec::new, |links| links.lineage().to_vec());
    lineage.push(parent.agent.clone());
    if let Some(exhausted) = super::budget::exhausted_chain(state, &workspace, callee, &lineage)? {
        update.end_unrun_call(&call.call_id, format!("denied: {}", exhausted.message));
        return Ok(());
    }
    // The child may spend at most what its parent has left.
    let left = parent
        .limits
        .token_budget
        .saturating_sub(parent.tokens_used);
    if left == 0 {
        let why = format!("task {} has no tokens left to hand down", parent.id);
        update.end_unrun_call(&call.call_id, format!("denied: {why}"));
        return Ok(());
    }
    let key = delegation_key(&parent.id, parent.turns, &call.call_id);
    let child_id = TaskId::new(at.time_ms, id_bits(&key));
    if state.idempotency(&workspace, &key)?.is_some()
        || state.task(&workspace, &child_id)?.is_some()
    {
        let why = format!("task {child_id} for call {} exists already", call.call_id);
        update.end_unrun_call(&call.call_id, format!("delegation not made: {why}"));
        return Ok(());
    }
    let mut limits = agent.spec.limits;
    limits.token_budget = limits.token_budget.min(left);
    let (_, child_writes) = create_task(
        NewTask {
            id: child_id,
            workspace: &workspace,
            idempotency_key: &key,
            agent: callee,
            input: &input,
            limits,
            // A child ends by its parent's deadline at the latest.
            deadline_at_ms: at
                .time_ms
                .saturating_add(limits.deadline_ms)
                .min(parent.deadline_at_ms),
            // The person (or trigger) the work is for stays the submitter down the chain,
            // so policy conditions on the submitter and the rule that nobody approves
            // their own task's calls hold for delegated work too.
            submitted_by: &parent.submitted_by,
        },
        at,
    );
    let mut child_links = TaskLinks::new(workspace.clone(), child_id);
    child_links.parent = Some(ParentLink {
        task: parent.id,
        call_id: call.call_id.clone(),
        lineage,
    });
    for write in child_writes {
        update.also(write);
    }
    update.also(Write::TaskLinks(child_links));

    if let Some(open) = update.task.open_calls.first_mut() {
        open.attempts = 1;
    }
    update.record(TaskEvent::Delegated {
        call_id: call.call_id.clone(),
        agent: callee.clone(),
        child: child_id,
    });
    let mut links = links.unwrap_or_else(|| TaskLinks::new(workspace.clone(), update.task.id));
    links.children.push(child_id);
    links.waiting = Some(Waiting::Child {
        call_id: call.call_id.clone(),
        task: child_id,
    });
    update.also(Write::TaskLinks(links));
    let reason = format!(
        "call {} waits for task {child_id} of agent {callee}",
        call.call_id
    );
    update.release(TaskStatus::WaitingForChild, Some(reason));
    Ok(())
}

/// The prefix of the idempotency keys of delegated tasks, which submissions may not use.
pub const DELEGATION_KEY_PREFIX: &str = "delegate:";

/// The idempotency key of the child task a parent's call creates: the parent, the number
/// of turns it had taken (so a call id a model reuses in a later turn makes another key)
/// and the call.
fn delegation_key(parent: &TaskId, turns: u32, call_id: &str) -> IdempotencyKey {
    let readable = format!("{DELEGATION_KEY_PREFIX}{parent}:{turns}:{call_id}");
    IdempotencyKey::parse(&readable).unwrap_or_else(|_| {
        let hashed = format!(
            "{DELEGATION_KEY_PREFIX}{parent}:{turns}:sha256:{}",
            Hash::of(call_id.as_bytes()).to_hex()
        );
        // 9 + 26 + 1 + at most 10 + 8 + 64 printable characters: always a valid key.
        IdempotencyKey::parse(&hashed).unwrap_or_else(|_| unreachable!("{hashed} is valid"))
    })
}

/// The random part of the child's id, derived from its key so every node derives the same.
fn id_bits(key: &IdempotencyKey) -> u128 {
    let hash = Hash::of(key.as_str().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.0[..16]);
    u128::from_be_bytes(bytes)
}

/// Follows the task writes of one command through delegation: each task it ends stops
/// waiting, finishes its parent's call (if the parent waits on it) and cancels the child
/// it waited on; tasks ended that way are followed in turn. Appends the writes this
/// takes, in the same commit.
pub(super) fn settle<S: StateRead>(
    state: &S,
    at: &At<'_>,
    writes: &mut Vec<Write>,
) -> Result<(), S::Error> {
    let mut settled = BTreeSet::new();
    let mut index = 0;
    while index < writes.len() {
        let ended = match &writes[index] {
            Write::Task(task) if task.status.is_terminal() => Some(task.clone()),
            _ => None,
        };
        index += 1;
        let Some(task) = ended else { continue };
        if !settled.insert(task.id) {
            continue;
        }
        if state
            .task(&task.workspace, &task.id)?
            .is_some_and(|before| before.status.is_terminal())
        {
            continue;
        }
        let Some(mut links) = latest_links(state, writes, &task.workspace, &task.id)? else {
            continue;
        };
        let waited_on = links.waiting_child().map(|(_, child)| child);
        if links.waiting.take().is_some() {
            writes.push(Write::TaskLinks(links.clone()));
        }
        if let Some(child) = waited_on {
            cancel_child(state, at, writes, &task, child)?;
        }
        if let Some(parent) = &links.parent {
            finish_parent(state, at, writes, &task, parent)?;
        }
    }
    Ok(())
}

/// Cancels `child`, which `parent` waited on when it ended.
fn cancel_child<S: StateRead>(
    state: &S,
    at: &At<'_>,
    writes: &mut Vec<Write>,
    parent: &Task,
    child: TaskId,
) -> Result<(), S::Error> {
    let Some(child) = latest_task(state, writes, &parent.workspace, &child)? else {
        return Ok(());
    };
    if child.status.is_terminal() {
        return Ok(());
    }
    let reason = format!(
        "its parent task {} ended {}",
        parent.id,
        parent.status.as_str()
    );
    let mut update = TaskUpdate::new(child, at);
    update.record(TaskEvent::Cancelled {
        reason: reason.clone(),
        by: at.principal.clone(),
    });
    update.release(TaskStatus::Cancelled, Some(format!("cancelled: {reason}")));
    writes.extend(update.into_parts().1);
    Ok(())
}

/// Finishes the parent's delegation call with what `child` ended with, and resumes it.
fn finish_parent<S: StateRead>(
    state: &S,
    at: &At<'_>,
    writes: &mut Vec<Write>,
    child: &Task,
    link: &ParentLink,
) -> Result<(), S::Error> {
    let workspace = &child.workspace;
    let Some(parent) = latest_task(state, writes, workspace, &link.task)? else {
        return Ok(());
    };
    let Some(mut parent_links) = latest_links(state, writes, workspace, &parent.id)? else {
        return Ok(());
    };
    let waits_on_it = parent.status == TaskStatus::WaitingForChild
        && parent_links.waiting_child() == Some((link.call_id.as_str(), child.id));
    if !waits_on_it {
        return Ok(());
    }
    let (output, is_error) = match child.status {
        TaskStatus::Completed => (child.result.clone().unwrap_or_default(), false),
        status => (
            format!(
                "task {} of agent {} ended {}: {}",
                child.id,
                child.agent,
                status.as_str(),
                child.reason.as_deref().unwrap_or("no reason given")
            ),
            true,
        ),
    };
    let mut update = TaskUpdate::new(parent, at);
    update.record(TaskEvent::ChildEnded {
        call_id: link.call_id.clone(),
        child: child.id,
        status: child.status,
        tokens_used: child.tokens_used,
    });
    // The parent's token budget covers the work it handed down.
    update.task.tokens_used = update.task.tokens_used.saturating_add(child.tokens_used);
    finish_call(&mut update, &link.call_id, output, is_error);
    resume(&mut update);
    parent_links.waiting = None;
    update.also(Write::TaskLinks(parent_links));
    writes.extend(update.into_parts().1);
    Ok(())
}

/// A task as this command's writes so far leave it.
fn latest_task<S: StateRead>(
    state: &S,
    writes: &[Write],
    workspace: &WorkspaceId,
    id: &TaskId,
) -> Result<Option<Task>, S::Error> {
    let written = writes.iter().rev().find_map(|write| match write {
        Write::Task(task) if task.id == *id && task.workspace == *workspace => Some(task.clone()),
        _ => None,
    });
    match written {
        Some(task) => Ok(Some(task)),
        None => state.task(workspace, id),
    }
}

/// A task's links as this command's writes so far leave them.
fn latest_links<S: StateRead>(
    state: &S,
    writes: &[Write],
    workspace: &WorkspaceId,
    id: &TaskId,
) -> Result<Option<TaskLinks>, S::Error> {
    let written = writes.iter().rev().find_map(|write| match write {
        Write::TaskLinks(links) if links.task == *id && links.workspace == *workspace => {
            Some(links.clone())
        }
        _ => None,
    });
    match written {
        Some(links) => Ok(Some(links)),
        None => state.task_links(workspace, id),
    }
}
