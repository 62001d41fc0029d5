//! Keys of the owned-task index (see the table in the parent module): one empty entry per
//! running task under the node that runs it, derived from the active-task index, so a
//! node finds the tasks it runs without reading every active task.

use warden_core::{NodeId, TaskId, WorkspaceId};

use super::{SEPARATOR, TAG_OWNED, prefix_end, workspace_and_task};

pub fn owned_task(node: NodeId, workspace: &WorkspaceId, id: &TaskId) -> Vec<u8> {
    let mut key = owned_prefix(node);
    key.extend_from_slice(workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(&id.to_bytes());
    key
}

/// The `[start, end)` range of the tasks `node` runs.
pub fn owned_tasks_of(node: NodeId) -> (Vec<u8>, Vec<u8>) {
    let prefix = owned_prefix(node);
    (prefix.clone(), prefix_end(prefix))
}

/// The `[start, end)` range of the whole owned-task index.
pub fn owned_tasks() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_OWNED], vec![TAG_OWNED + 1])
}

/// Whether `key` is an entry of the owned-task index.
pub fn is_owned_task(key: &[u8]) -> bool {
    key.first() == Some(&TAG_OWNED)
}

/// The node, workspace and task an owned-task key names.
pub fn owned_task_ids(key: &[u8]) -> Option<(NodeId, WorkspaceId, TaskId)> {
    let rest = key.strip_prefix(&[TAG_OWNED])?;
    let (node, rest) = rest.split_at_checked(8)?;
    let node = NodeId(u64::from_be_bytes(node.try_into().ok()?));
    let (workspace, id) = workspace_and_task(rest)?;
    Some((node, workspace, id))
}

fn owned_prefix(node: NodeId) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + 8 + 32);
    key.push(TAG_OWNED);
    key.extend_from_slice(&node.0.to_be_bytes());
    key
}
