//! Read-only queries of the replicated state for the API layer, and the audit chain
//! check. Reads see what this node has applied, which may trail the leader.

mod anchor;
mod audit;
mod governance;
mod identity;
pub mod indexes;
mod webhooks;

pub use anchor::AnchorReport;
pub use audit::{AuditFilter, AuditPage, AuditVerification};
pub use webhooks::PendingDelivery;

use rocksdb::{DB, IteratorMode, ReadOptions, SnapshotWithThreadMode};
use serde::de::DeserializeOwned;
use warden_core::{
    Agent, AgentName, CatalogEntry, CatalogName, JournalEntry, McpServer, Provider, ProviderName,
    ServerName, Task, TaskId, Workspace, WorkspaceId,
};

use crate::active::ActiveTask;
use crate::codec;
use crate::error::Error;
use crate::keys;
use crate::storage::Storage;
use crate::types::LogId;

type DbSnapshot<'a> = SnapshotWithThreadMode<'a, DB>;

/// A cheap, cloneable handle for queries.
#[derive(Debug, Clone)]
pub struct StateReader {
    storage: Storage,
}

impl StateReader {
    pub(crate) fn new(storage: Storage) -> StateReader {
        StateReader { storage }
    }

    /// Every workspace, in name order.
    pub fn workspaces(&self) -> Result<Vec<Workspace>, Error> {
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::workspaces();
        let mut workspaces = Vec::new();
        self.scan(&snapshot, start, end, |key, value| {
            let workspace = codec::decode(|| format!("workspace key {key:?}"), value)?;
            workspaces.push(workspace);
            Ok(true)
        })?;
        Ok(workspaces)
    }

    pub fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, Error> {
        self.storage.get(keys::SM_CF, &keys::workspace(id), || {
            format!("workspace {id}")
        })
    }

    pub fn task(&self, workspace: &WorkspaceId, id: &TaskId) -> Result<Option<Task>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::task(workspace, id), || {
                format!("task {workspace}/{id}")
            })
    }

    /// A task's links to its parent and children, and what it waits for.
    pub fn task_links(
        &self,
        workspace: &WorkspaceId,
        id: &TaskId,
    ) -> Result<Option<warden_core::TaskLinks>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::task_links(workspace, id), || {
                format!("links of task {workspace}/{id}")
            })
    }

    /// Up to `limit` (at least 1) tasks of `workspace` after `after`, in id order, and
    /// the id to pass as `after` for the next page (`None` on the last page).
    pub fn tasks_page(
        &self,
        workspace: &WorkspaceId,
        after: Option<TaskId>,
        limit: usize,
    ) -> Result<(Vec<Task>, Option<TaskId>), Error> {
        // A page of zero could never make progress, so it is read as a page of one.
        let limit = limit.max(1);
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::tasks_after(workspace, after.as_ref());
        let mut tasks: Vec<Task> = Vec::with_capacity(limit);
        let mut more = false;
        self.scan(&snapshot, start, end, |key, value| {
            if tasks.len() == limit {
                more = true;
                return Ok(false);
            }
            tasks.push(codec::decode(|| format!("task key {key:?}"), value)?);
            Ok(true)
        })?;
        let next = if more {
            tasks.last().map(|task| task.id)
        } else {
            None
        };
        Ok((tasks, next))
    }

    pub fn provider(
        &self,
        workspace: &WorkspaceId,
        name: &ProviderName,
    ) -> Result<Option<Provider>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::provider(workspace, name), || {
                format!("provider {workspace}/{name}")
            })
    }

    pub fn providers(&self, workspace: &WorkspaceId) -> Result<Vec<Provider>, Error> {
        self.all_in(keys::providers(workspace), "provider")
    }

    pub fn mcp_server(
        &self,
        workspace: &WorkspaceId,
        name: &ServerName,
    ) -> Result<Option<McpServer>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::mcp_server(workspace, name), || {
                format!("mcp server {workspace}/{name}")
            })
    }

    pub fn mcp_servers(&self, workspace: &WorkspaceId) -> Result<Vec<McpServer>, Error> {
        self.all_in(keys::mcp_servers(workspace), "mcp server")
    }

    pub fn catalog_entry(&self, name: &CatalogName) -> Result<Option<CatalogEntry>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::catalog_entry(name), || {
                format!("catalog entry {name}")
            })
    }

    pub fn catalog_entries(&self) -> Result<Vec<CatalogEntry>, Error> {
        self.all_in(keys::catalog_entries(), "catalog entry")
    }

    pub fn agent(&self, workspace: &WorkspaceId, name: &AgentName) -> Result<Option<Agent>, Error> {
        self.storage
            .get(keys::SM_CF, &keys::agent(workspace, name), || {
                format!("agent {workspace}/{name}")
            })
    }

    pub fn agents(&self, workspace: &WorkspaceId) -> Result<Vec<Agent>, Error> {
        self.all_in(keys::agents(workspace), "agent")
    }

    /// Up to `limit` entries of a task's journal from sequence `from_seq` on.
    pub fn journal(
        &self,
        workspace: &WorkspaceId,
        task: &TaskId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, Error> {
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::journal_from(workspace, task, from_seq);
        let mut entries = Vec::new();
        if limit == 0 {
            return Ok(entries);
        }
        self.scan(&snapshot, start, end, |key, value| {
            entries.push(codec::decode(|| format!("journal key {key:?}"), value)?);
            Ok(entries.len() < limit)
        })?;
        Ok(entries)
    }

    /// Up to `limit` events of `workspace` from log index `from_index` on, in log order
    /// (and task, then sequence, within one index): each with its task id.
    pub fn workspace_events(
        &self,
        workspace: &WorkspaceId,
        from_index: u64,
        limit: usize,
    ) -> Result<Vec<(TaskId, JournalEntry)>, Error> {
        let range = keys::workspace_events_from(workspace, from_index);
        self.workspace_events_in(workspace, range, limit)
    }

    /// At most `limit` of the workspace's events after the event `after` (log index,
    /// task, seq), in log order: a cursor that moves on however many events one log
    /// index holds (a grouped entry can hold thousands).
    pub fn workspace_events_after(
        &self,
        workspace: &WorkspaceId,
        (log_index, task, seq): (u64, TaskId, u64),
        limit: usize,
    ) -> Result<Vec<(TaskId, JournalEntry)>, Error> {
        let (_, end) = keys::workspace_events_from(workspace, 0);
        let mut start = keys::workspace_event(workspace, log_index, &task, seq);
        // The first key after the event itself.
        start.push(0);
        self.workspace_events_in(workspace, (start, end), limit)
    }

    fn workspace_events_in(
        &self,
        workspace: &WorkspaceId,
        (start, end): (Vec<u8>, Vec<u8>),
        limit: usize,
    ) -> Result<Vec<(TaskId, JournalEntry)>, Error> {
        let snapshot = self.storage.db().snapshot();
        let mut ids = Vec::new();
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.scan(&snapshot, start, end, |key, _| {
            let (_, task, seq) =
                keys::workspace_event_ids(workspace, key).ok_or_else(|| Error::Corrupt {
                    what: format!("workspace event key {key:?}"),
                    reason: "malformed".into(),
                })?;
            ids.push((task, seq));
            Ok(ids.len() < limit)
        })?;
        let cf = self.storage.cf(keys::SM_CF)?;
        let mut events = Vec::with_capacity(ids.len());
        for (task, seq) in ids {
            let key = keys::journal_entry(workspace, &task, seq);
            let value = snapshot
                .get_cf(cf, &key)
                .map_err(|source| Error::Read {
                    what: format!("journal entry {workspace}/{task}/{seq}"),
                    source,
                })?
                .ok_or_else(|| Error::Corrupt {
                    what: format!("journal entry {workspace}/{task}/{seq}"),
                    reason: "indexed as a workspace event but missing".into(),
                })?;
            let entry =
                codec::decode(|| format!("journal entry {workspace}/{task}/{seq}"), &value)?;
            events.push((task, entry));
        }
        Ok(events)
    }

    /// Every task that is not terminal, from the active-task index.
    pub fn active_tasks(&self) -> Result<Vec<(WorkspaceId, TaskId, ActiveTask)>, Error> {
        self.active_in(keys::active_tasks())
    }

    /// The tasks of `workspace` whose call waits for an approval, in id order, from the
    /// waiting-approval index (so the cost is that of the waiting tasks, not of all).
    pub fn waiting_approvals_in(&self, workspace: &WorkspaceId) -> Result<Vec<TaskId>, Error> {
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::waiting_approvals_of(workspace);
        let mut tasks = Vec::new();
        self.scan(&snapshot, start, end, |key, _| {
            let id = keys::waiting_approval_task(workspace, key).ok_or_else(|| Error::Corrupt {
                what: format!("waiting approval key {key:?}"),
                reason: "malformed".into(),
            })?;
            tasks.push(id);
            Ok(true)
        })?;
        Ok(tasks)
    }

    fn active_in(
        &self,
        (start, end): (Vec<u8>, Vec<u8>),
    ) -> Result<Vec<(WorkspaceId, TaskId, ActiveTask)>, Error> {
        let snapshot = self.storage.db().snapshot();
        let mut tasks = Vec::new();
        self.scan(&snapshot, start, end, |key, value| {
            let (workspace, id) = keys::active_task_ids(key).ok_or_else(|| Error::Corrupt {
                what: format!("active task key {key:?}"),
                reason: "malformed".into(),
            })?;
            let active = codec::decode(|| format!("active task {workspace}/{id}"), value)?;
            tasks.push((workspace, id, active));
            Ok(true)
        })?;
        Ok(tasks)
    }

    /// Writes a backup of the whole state machine, as of one RocksDB snapshot, to `out`
    /// (`backup.rs`); returns its header.
    pub fn backup(
        &self,
        taken_ms: u64,
        out: &mut impl std::io::Write,
    ) -> Result<crate::backup::Header, Error> {
        crate::backup::write(&self.storage, taken_ms, out)
    }

    /// The workspace's unfinished tasks and their agents, in id order, from the
    /// active-task index.
    pub fn unfinished_tasks(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<(TaskId, AgentName)>, Error> {
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::active_tasks_of(workspace);
        let mut tasks = Vec::new();
        self.scan(&snapshot, start, end, |key, value| {
            tasks.push(unfinished_task(key, value)?);
            Ok(true)
        })?;
        Ok(tasks)
    }

    /// Every record in `[start, end)`, decoded.
    fn all_in<T: DeserializeOwned>(
        &self,
        (start, end): (Vec<u8>, Vec<u8>),
        what: &str,
    ) -> Result<Vec<T>, Error> {
        let snapshot = self.storage.db().snapshot();
        let mut records = Vec::new();
        self.scan(&snapshot, start, end, |key, value| {
            records.push(codec::decode(|| format!("{what} key {key:?}"), value)?);
            Ok(true)
        })?;
        Ok(records)
    }

    /// The log id of the last entry this node applied.
    pub fn applied_log_id(&self) -> Result<Option<LogId>, Error> {
        self.storage
            .get(keys::SM_CF, keys::APPLIED, || "applied log id".into())
    }

    /// The raw value of sm key `key` as of `snapshot`; `what` names it in errors.
    pub(super) fn value_at(
        &self,
        snapshot: &DbSnapshot<'_>,
        key: &[u8],
        what: &str,
    ) -> Result<Option<Vec<u8>>, Error> {
        let cf = self.storage.cf(keys::SM_CF)?;
        snapshot.get_cf(cf, key).map_err(|source| Error::Read {
            what: what.into(),
            source,
        })
    }

    /// Visits the sm keys in `[start, end)` as of `snapshot` until `visit` returns false.
    pub(super) fn scan(
        &self,
        snapshot: &DbSnapshot<'_>,
        start: Vec<u8>,
        end: Vec<u8>,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        let cf = self.storage.cf(keys::SM_CF)?;
        let mut options = ReadOptions::default();
        options.set_iterate_lower_bound(start);
        options.set_iterate_upper_bound(end);
        for item in snapshot.iterator_cf_opt(cf, options, IteratorMode::Start) {
            let (key, value) = item.map_err(|source| Error::Read {
                what: "state machine range".into(),
                source,
            })?;
            if !visit(&key, &value)? {
                break;
            }
        }
        Ok(())
    }
}

/// The task and agent of one entry of the active-task index.
pub(crate) fn unfinished_task(key: &[u8], value: &[u8]) -> Result<(TaskId, AgentName), Error> {
    let (workspace, id) = keys::active_task_ids(key).ok_or_else(|| Error::Corrupt {
        what: format!("active task key {key:?}"),
        reason: "malformed".into(),
    })?;
    let active: ActiveTask = codec::decode(|| format!("active task {workspace}/{id}"), value)?;
    Ok((id, active.agent))
}
