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
            TaskStatus::WaitingApproval | TaskStatus::NeedsAttention | TaskStatus::WaitingForInput
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

/// The one loop behind both watches: send what is buffered, else read the next batch
/// from the applied state, check the caller's access again after the read, and sleep
/// until the next applied entry (or an access change) when there was nothing new.
struct Follower<S> {
    _watching: Watching,
    cluster: Cluster,
    access: Access,
    applied: Applied,
    source: S,
    ended: bool,
}

/// What a watch follows: a task's journal or a workspace's events.
trait Source: Send + 'static {
    /// The next buffered event, and whether nothing follows it.
    fn pop(&mut self) -> Option<(v1::TaskEvent, bool)>;
    /// Reads the next batch from `reader` into the buffer; `true` if it added anything.
    fn fill(&mut self, reader: &StateReader) -> Result<bool, Error>;
    /// Whether nothing more can come (a task that ended before the position).
    fn exhausted(&self, reader: &StateReader) -> Result<bool, Error>;
}

impl<S: Source> Follower<S> {
    fn stream(cluster: &Cluster, access: Access, source: S) -> EventStream {
        let follower = Follower {
            _watching: Watching::new(),
            applied: cluster.raft().metrics(),
            cluster: cluster.clone(),
            access,
            source,
            ended: false,
        };
        Box::pin(futures::stream::unfold(follower, Follower::next))
    }

    /// Ends the stream with `error` as its last item.
    fn fail(mut self, error: Error) -> Option<(Result<v1::TaskEvent, Status>, Self)> {
        self.ended = true;
        Some((Err(error.into()), self))
    }

    async fn next(mut self) -> Option<(Result<v1::TaskEvent, Status>, Self)> {
        loop {
            if let Some((event, last)) = self.source.pop() {
                self.ended |= last;
                return Some((Ok(event), self));
            }
            if self.ended {
                return None;
            }
            self.applied.borrow_and_update();
            let read = self.source.fill(self.cluster.reader());
            // After the read: whatever it holds was applied before this check.
            if let Err(error) = self.access.recheck(&self.cluster) {
                return self.fail(error);
            }
            match read {
                Err(error) => return self.fail(error),
                Ok(true) => continue,
                Ok(false) => {}
            }
            match self.source.exhausted(self.cluster.reader()) {
                Ok(true) => return None,
                Ok(false) => {}
                Err(error) => return self.fail(error),
            }
            if let Err(error) = self.access.changed(&self.cluster, &mut self.applied).await {
                return self.fail(error);
            }
        }
    }
}

/// One task's journal from `next_seq` on; it ends with the event that ends the task.
struct TaskJournal {
    workspace: WorkspaceId,
    task: TaskId,
    task_text: String,
    next_seq: u64,
    buffered: VecDeque<JournalEntry>,
}

impl Source for TaskJournal {
    fn pop(&mut self) -> Option<(v1::TaskEvent, bool)> {
        let entry = self.buffered.pop_front()?;
        let last = entry.event_ends_task();
        if last {
            self.buffered.clear();
        }
        Some((convert::task_event(&self.task_text, &entry), last))
    }

    fn fill(&mut self, reader: &StateReader) -> Result<bool, Error> {
        let entries = reader.journal(&self.workspace, &self.task, self.next_seq, BATCH)?;
        if let Some(last) = entries.last() {
            self.next_seq = last.seq + 1;
        }
        let added = !entries.is_empty();
        self.buffered.extend(entries);
        Ok(added)
    }

    fn exhausted(&self, reader: &StateReader) -> Result<bool, Error> {
        // A task that already ended with its last entry before `from_seq` has nothing
        // more to send.
        Ok(reader
            .task(&self.workspace, &self.task)?
            .is_some_and(|task| task.status.is_terminal() && self.next_seq >= task.journal_len))
    }
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
    let source = TaskJournal {
        task_text: task.to_string(),
        workspace,
        task,
        next_seq: from_seq,
        buffered: VecDeque::new(),
    };
    Ok(Follower::stream(cluster, access, source))
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

/// A workspace's events in log order, from `from_index` on; it never ends by itself.
/// Each batch starts right after the last event sent, so it moves on however many events
/// one log index holds (a grouped entry holds up to 256 requests' events).
struct WorkspaceEvents {
    workspace: WorkspaceId,
    from_index: u64,
    /// The last event sent: (log index, task, seq).
    after: Option<(u64, TaskId, u64)>,
    buffered: VecDeque<(TaskId, JournalEntry)>,
}

impl Source for WorkspaceEvents {
    fn pop(&mut self) -> Option<(v1::TaskEvent, bool)> {
        let (task, entry) = self.buffered.pop_front()?;
        self.after = Some((entry.log_index, task, entry.seq));
        self.from_index = entry.log_index;
        Some((convert::task_event(&task.to_string(), &entry), false))
    }

    fn fill(&mut self, reader: &StateReader) -> Result<bool, Error> {
        let events = match self.after {
            Some(after) => reader.workspace_events_after(&self.workspace, after, BATCH)?,
            None => reader.workspace_events(&self.workspace, self.from_index, BATCH)?,
        };
        let after = self.after;
        self.buffered
            .extend(events.into_iter().filter(|(task, entry)| {
                after.is_none_or(|after| (entry.log_index, *task, entry.seq) > after)
            }));
        Ok(!self.buffered.is_empty())
    }

    fn exhausted(&self, _reader: &StateReader) -> Result<bool, Error> {
        Ok(false)
    }
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
    let source = WorkspaceEvents {
        workspace,
        from_index,
        after: None,
        buffered: VecDeque::new(),
    };
    Ok(Follower::stream(cluster, access, source))
}
