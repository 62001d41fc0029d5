//! Indexes derived from other records, which travel nowhere: snapshot images and backups
//! leave them out, and whoever installs an image (a snapshot, a restore, a format
//! upgrade) builds them from the records they come from. So a node never depends on
//! whether the build that wrote an image kept them, and an older build never receives a
//! key it does not know.
//!
//! Every derived index comes from the active-task index, one set of keys per active task
//! ([`keys_of`]): tasks waiting for an approval (`keys::waiting_approval`), running tasks
//! by the node that runs them (`keys::owned_task`), and for the leader's controller the
//! time each task is next due (`keys::due_task`) and the runnable tasks no node runs
//! (`keys::unplaced_task`).

use warden_core::{NodeId, TaskId, TaskStatus, WorkspaceId};

use crate::active::ActiveTask;
use crate::codec;
use crate::error::Error;
use crate::keys;

/// Whether `key` belongs to a derived index (left out of images).
pub fn is_derived(key: &[u8]) -> bool {
    keys::is_waiting_approval(key) || keys::is_owned_task(key) || keys::is_controller_index(key)
}

/// The node whose owned-task index holds an active task: its owner while it runs.
pub fn runner(active: &ActiveTask) -> Option<NodeId> {
    active
        .owner
        .filter(|_| active.status == TaskStatus::Running)
}

/// The earliest time the controller must look at an active task for one of its timers:
/// its deadline, its approval's expiry, the time it stalls without progress. A task
/// waiting for an answer is always due: its question's expiry is in its links.
pub fn due_ms(active: &ActiveTask) -> u64 {
    if active.status == TaskStatus::WaitingForInput {
        return 0;
    }
    let mut due = active.deadline_at_ms;
    if let Some((_, expires_at_ms)) = &active.approval {
        due = due.min(*expires_at_ms);
    }
    if active.status == TaskStatus::Running && active.owner.is_some() && !active.stalled {
        due = due.min(active.progress_ms.saturating_add(active.stall_timeout_ms));
    }
    due
}

/// The derived index keys of one active task (all their values are empty).
pub fn keys_of(workspace: &WorkspaceId, id: &TaskId, active: &ActiveTask) -> Vec<Vec<u8>> {
    let mut derived = vec![keys::due_task(due_ms(active), workspace, id)];
    if active.approval.is_some() {
        derived.push(keys::waiting_approval(workspace, id));
    }
    if let Some(node) = runner(active) {
        derived.push(keys::owned_task(node, workspace, id));
    }
    // Runnable and not running on a node: never placed, or pending again.
    if active.status.is_runnable() && runner(active).is_none() {
        derived.push(keys::unplaced_task(workspace, &active.agent, id));
    }
    derived
}

/// The derived index entries (key, value) for the records in `entries`.
pub fn entries_for<'a>(
    entries: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Error> {
    let mut derived = Vec::new();
    for (key, value) in entries {
        let Some((workspace, id)) = keys::active_task_ids(key) else {
            continue;
        };
        let active: ActiveTask = codec::decode(|| format!("active task {workspace}/{id}"), value)?;
        derived.extend(
            keys_of(&workspace, &id, &active)
                .into_iter()
                .map(|key| (key, Vec::new())),
        );
    }
    Ok(derived)
}
