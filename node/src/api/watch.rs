//! Following a task as it changes: `WaitTask` (until it settles) and `WatchTask` (its
//! journal from a sequence number, stored entries first, then live ones as this node
//! applies them), and `WatchWorkspace`. All wake on every applied entry instead of
//! polling on a timer, and check the caller's [`Access`] again after each read, so a
//! revocation ends them before anything read after it is sent.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use tonic::Status;
use warden_core::{JournalEntry, Task, TaskId, TaskStatus, WorkspaceId};
use warden_proto::v1;
use warden_raft::StateReader;

use crate::auth::{Access, Applied};
use crate::cluster::Cluster;
use crate::convert;
use crate::error::Error;

pub type EventStream = Pin<Box<dyn Stream<Item = Result<v1::TaskEvent, Status>> + Send>>;

const DEFAULT_WAIT: Duration = Duration::from_secs(30);
const MAX_WAIT: Duration = Duration::from_secs(600);
/// Journal entries read per batch while streaming.
const BATCH: usize = 256;

pub fn require_task(
    reader: &StateReader,
    workspace: &WorkspaceId,
    id: &TaskId,
) -> Result<Task, Error> {
    reader.task(workspace, id)?.ok_or_else(|| Error::NotFound {
        what: format!("task {id} in workspace {workspace}"),
    })
}

/// Terminal, or parked waiting for a person.
fn settled(status: TaskStatus) -> bool {
    status.is_terminal()
        || matches!(
            status,
            TaskStatus::WaitingApproval | TaskStatus::NeedsAttention
        )
}

/// Waits, after `access` was opened (and its barrier passed), until the task settles or
/// `timeout_ms` passes.
pub async fn wait(
    cluster: &Cluster,
    access: &Access,
    workspace: &WorkspaceId,
    id: &TaskId,
    timeout_ms: u64,
) -> Result<(Task, bool), Error> {
    let timeout = match timeout_ms {
        0 => DEFAULT_WAIT,
        ms => Duration::from_millis(ms).min(MAX_WAIT),
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let mut applied = cluster.raft().metrics();
    loop {
        applied.borrow_and_update();
        let task = require_task(cluster.reader(), workspace, id)?;
        access.recheck(cluster)?;
        if settled(task.status) {
            return Ok((task, true));
        }
        match tokio::time::timeout_at(deadline, access.changed(cluster, &mut applied)).await {
            Err(_elapsed) => return Ok((task, false)),
            Ok(result) => result?,
        }
    }
}

struct Follow {
    _watching: Watching,
    cluster: Cluster,
    access: Access,
    workspace: WorkspaceId,
    task: TaskId,
    task_text: String,
    next_seq: u64,
    buffered: VecDeque<JournalEntry>,
    ended: bool,
    applied: Applied,
}

/// Follows a task's journal for a caller whose `access` was opened (after its barrier).
pub fn watch_task(
    cluster: &Cluster,
    access: Access,
    workspace: WorkspaceId,
    task: TaskId,
    from_seq: u64,
) -> Result<EventStream, Error> {
    // Checked once up front so an unknown task is NOT_FOUND, not an empty stream.
    require_task(cluster.reader(), &workspace, &task)?;
    let follow = Follow {
        _watching: Watching::new(),
        applied: cluster.raft().metrics(),
        cluster: cluster.clone(),
        access,
        task_text: task.to_string(),
        workspace,
        task,
        next_seq: from_seq,
        buffered: VecDeque::new(),
        ended: false,
    };
    Ok(Box::pin(futures::stream::unfold(follow, next_event)))
}

async fn next_event(mut follow: Follow) -> Option<(Result<v1::TaskEvent, Status>, Follow)> {
    loop {
        if let Some(entry) = follow.buffered.pop_front() {
            if entry.event_ends_task() {
                follow.ended = true;
                follow.buffered.clear();
            }
            let event = convert::task_event(&follow.task_text, &entry);
            return Some((Ok(event), follow));
        }
        if follow.ended {
            return None;
        }
        follow.applied.borrow_and_update();
        let read = follow.cluster.reader().journal(
            &follow.workspace,
            &follow.task,
            follow.next_seq,
            BATCH,
        );
        // After the read: whatever it holds was applied before this check.
        if let Err(error) = follow.access.recheck(&follow.cluster) {
            follow.ended = true;
            return Some((Err(error.into()), follow));
        }
        match read {
            Err(error) => {
                follow.ended = true;
                return Some((Err(Error::from(error).into()), follow));
            }
            Ok(entries) if !entries.is_empty() => {
                follow.next_seq = entries
                    .last()
                    .map_or(follow.next_seq, |entry| entry.seq + 1);
                follow.buffered.extend(entries);
                continue;
            }
            Ok(_) => {}
        }
        // A task that already ended with its last entry before `from_seq` has nothing
        // more to send.
        match follow
            .cluster
            .reader()
            .task(&follow.workspace, &follow.task)
        {
            Ok(Some(task)) if task.status.is_terminal() && follow.next_seq >= task.journal_len => {
                return None;
            }
            Ok(_) => {}
            Err(error) => {
                follow.ended = true;
                return Some((Err(Error::from(error).into()), follow));
            }
        }
        if let Err(error) = follow
            .access
            .changed(&follow.cluster, &mut follow.applied)
            .await
        {
            follow.ended = true;
            return Some((Err(error.into()), follow));
        }
    }
}

trait EndsTask {
    fn event_ends_task(&self) -> bool;
}

impl EndsTask for JournalEntry {
    fn event_ends_task(&self) -> bool {
        use warden_core::TaskEvent;
        matches!(
            self.event,
            TaskEvent::Completed { .. }
                | TaskEvent::Failed { .. }
                | TaskEvent::Cancelled { .. }
                | TaskEvent::TimedOut { .. }
        )
    }
}

/// Counts a live watcher in `warden_watchers` for as long as its stream exists.
struct Watching;

impl Watching {
    fn new() -> Watching {
        metrics::gauge!("warden_watchers").increment(1.0);
        Watching
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        metrics::gauge!("warden_watchers").decrement(1.0);
    }
}

struct FollowWorkspace {
    _watching: Watching,
    cluster: Cluster,
    access: Access,
    workspace: WorkspaceId,
    from_index: u64,
    /// The last event sent: (log index, task, seq).
    after: Option<(u64, TaskId, u64)>,
    buffered: VecDeque<(TaskId, JournalEntry)>,
    ended: bool,
    applied: Applied,
}

/// Follows a workspace's journal events for a caller whose `access` was opened.
pub fn watch_workspace(
    cluster: &Cluster,
    access: Access,
    workspace: WorkspaceId,
    from_index: u64,
) -> Result<EventStream, Error> {
    if cluster.reader().workspace(&workspace)?.is_none() {
        return Err(Error::NotFound {
            what: format!("workspace {workspace}"),
        });
    }
    let follow = FollowWorkspace {
        _watching: Watching::new(),
        applied: cluster.raft().metrics(),
        cluster: cluster.clone(),
        access,
        ended: false,
        workspace,
        from_index,
        after: None,
        buffered: VecDeque::new(),
    };
    Ok(Box::pin(futures::stream::unfold(
        follow,
        next_workspace_event,
    )))
}

/// One command adds at most 2 + 2 x 64 entries (a model turn with the most calls), so a
/// batch of `BATCH` always gets past the events of the last index already sent.
async fn next_workspace_event(
    mut follow: FollowWorkspace,
) -> Option<(Result<v1::TaskEvent, Status>, FollowWorkspace)> {
    loop {
        if let Some((task, entry)) = follow.buffered.pop_front() {
            follow.after = Some((entry.log_index, task, entry.seq));
            follow.from_index = entry.log_index;
            let event = convert::task_event(&task.to_string(), &entry);
            return Some((Ok(event), follow));
        }
        if follow.ended {
            return None;
        }
        follow.applied.borrow_and_update();
        let read =
            follow
                .cluster
                .reader()
                .workspace_events(&follow.workspace, follow.from_index, BATCH);
        // After the read: whatever it holds was applied before this check.
        if let Err(error) = follow.access.recheck(&follow.cluster) {
            follow.ended = true;
            return Some((Err(error.into()), follow));
        }
        match read {
            Err(error) => {
                follow.ended = true;
                return Some((Err(Error::from(error).into()), follow));
            }
            Ok(events) => {
                let after = follow.after;
                follow
                    .buffered
                    .extend(events.into_iter().filter(|(task, entry)| {
                        after.is_none_or(|after| (entry.log_index, *task, entry.seq) > after)
                    }));
                if !follow.buffered.is_empty() {
                    continue;
                }
            }
        }
        if let Err(error) = follow
            .access
            .changed(&follow.cluster, &mut follow.applied)
            .await
        {
            follow.ended = true;
            return Some((Err(error.into()), follow));
        }
    }
}
