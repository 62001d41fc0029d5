//! Keys of the waiting-approval index (see the table in the parent module): one empty
//! entry per task whose call waits for an approval, derived from the active-task index.

use warden_core::{TaskId, WorkspaceId};

use super::{SEPARATOR, TAG_WAITING, prefix_end, tagged};

pub fn waiting_approval(workspace: &WorkspaceId, id: &TaskId) -> Vec<u8> {
    let mut key = waiting_prefix(workspace);
    key.extend_from_slice(&id.to_bytes());
    key
}

/// The `[start, end)` range of `workspace`'s tasks waiting for an approval, in id order.
pub fn waiting_approvals_of(workspace: &WorkspaceId) -> (Vec<u8>, Vec<u8>) {
    let prefix = waiting_prefix(workspace);
    (prefix.clone(), prefix_end(prefix))
}

/// The `[start, end)` range of the whole waiting-approval index.
pub fn waiting_approvals() -> (Vec<u8>, Vec<u8>) {
    (vec![TAG_WAITING], vec![TAG_WAITING + 1])
}

/// Whether `key` is an entry of the waiting-approval index.
pub fn is_waiting_approval(key: &[u8]) -> bool {
    key.first() == Some(&TAG_WAITING)
}

/// The task a waiting-approval key of `workspace` names.
pub fn waiting_approval_task(workspace: &WorkspaceId, key: &[u8]) -> Option<TaskId> {
    let rest = key.strip_prefix(waiting_prefix(workspace).as_slice())?;
    let id: [u8; 16] = rest.try_into().ok()?;
    Some(TaskId::from_u128(u128::from_be_bytes(id)))
}

fn waiting_prefix(workspace: &WorkspaceId) -> Vec<u8> {
    let mut key = tagged(TAG_WAITING, workspace.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}
