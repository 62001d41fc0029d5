//! Indexes derived from other records, which travel nowhere: snapshot images and backups
//! leave them out, and whoever installs an image (a snapshot, a restore, a format
//! upgrade) builds them from the records they come from. So a node never depends on
//! whether the build that wrote an image kept them, and an older build never receives a
//! key it does not know.
//!
//! The derived indexes, both from the active-task index: tasks waiting for an approval
//! (`keys::waiting_approval`) and running tasks by the node that runs them
//! (`keys::owned_task`).

use warden_core::{NodeId, TaskStatus};

use crate::active::ActiveTask;
use crate::codec;
use crate::error::Error;
use crate::keys;

/// Whether `key` belongs to a derived index (left out of images).
pub fn is_derived(key: &[u8]) -> bool {
    keys::is_waiting_approval(key) || keys::is_owned_task(key)
}

/// The node whose owned-task index holds an active task: its owner while it runs.
pub fn runner(active: &ActiveTask) -> Option<NodeId> {
    active
        .owner
        .filter(|_| active.status == TaskStatus::Running)
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
        if active.approval.is_some() {
            derived.push((keys::waiting_approval(&workspace, &id), Vec::new()));
        }
        if let Some(node) = runner(&active) {
            derived.push((keys::owned_task(node, &workspace, &id), Vec::new()));
        }
    }
    Ok(derived)
}
