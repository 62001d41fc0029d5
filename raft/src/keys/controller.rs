//! Keys of the indexes the leader's controller reads instead of every active task (see
//! the table in the parent module), both derived from the active-task index:
//! - the due index: one empty entry per active task at the earliest time a timer of it
//!   (deadline, approval expiry, stall) may fire, earliest first;
//! - the unplaced index: one empty entry per runnable task no node runs, grouped by
//!   workspace and agent, so a paused agent's tasks are skipped as one range.

use warden_core::{AgentName, TaskId, WorkspaceId};

use super::{SEPARATOR, TAG_DUE, TAG_UNPLACED, prefix_end, workspace_and_task};

pub fn due_task(due_ms: u64, workspace: &WorkspaceId, id: &TaskId) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + 8 + 32);
    key.push(TAG_DUE);
    key.extend_from_slice(&due_ms.to_be_bytes());
    key.extend_from_slice(workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(&id.to_bytes());
    key
}

/// The `[start, end)` range of the tasks due at or before `now_ms`.
pub fn due_by(now_ms: u64) -> (Vec<u8>, Vec<u8>) {
    let mut end = vec![TAG_DUE];
    end.extend_from_slice(&now_ms.saturating_add(1).to_be_bytes());
    if now_ms == u64::MAX {
        end = vec![TAG_DUE + 1];
    }
    (vec![TAG_DUE], end)
}

/// The workspace and task a due-index key names.
pub fn due_task_ids(key: &[u8]) -> Option<(WorkspaceId, TaskId)> {
    let rest = key.strip_prefix(&[TAG_DUE])?;
    let (_, rest) = rest.split_at_checked(8)?;
    workspace_and_task(rest)
}

pub fn unplaced_task(workspace: &WorkspaceId, agent: &AgentName, id: &TaskId) -> Vec<u8> {
    let mut key = unplaced_of(workspace, agent);
    key.extend_from_slice(&id.to_bytes());
    key
}

/// The `[start, end)` range of the whole unplaced index.
pub fn unplaced_tasks() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_UNPLACED], vec![TAG_UNPLACED + 1])
}

/// The first key after every unplaced task of `workspace`'s `agent`.
pub fn unplaced_after(workspace: &WorkspaceId, agent: &AgentName) -> Vec<u8> {
    prefix_end(unplaced_of(workspace, agent))
}

/// The workspace, agent and task an unplaced-index key names.
pub fn unplaced_task_ids(key: &[u8]) -> Option<(WorkspaceId, AgentName, TaskId)> {
    let rest = key.strip_prefix(&[TAG_UNPLACED])?;
    let split = rest.len().checked_sub(16)?;
    let (names, id) = rest.split_at(split);
    let names = names.strip_suffix(&[SEPARATOR])?;
    let at = names.iter().position(|byte| *byte == SEPARATOR)?;
    let workspace = WorkspaceId::parse(std::str::from_utf8(&names[..at]).ok()?).ok()?;
    let agent = AgentName::parse(std::str::from_utf8(&names[at + 1..]).ok()?).ok()?;
    let id: [u8; 16] = id.try_into().ok()?;
    Some((workspace, agent, TaskId::from_u128(u128::from_be_bytes(id))))
}

/// Whether `key` is an entry of the due or the unplaced index.
pub fn is_controller_index(key: &[u8]) -> bool {
    matches!(key.first(), Some(&TAG_DUE | &TAG_UNPLACED))
}

fn unplaced_of(workspace: &WorkspaceId, agent: &AgentName) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + 64 + 16);
    key.push(TAG_UNPLACED);
    key.extend_from_slice(workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(agent.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}
