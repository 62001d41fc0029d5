//! Read-only queries of the replicated state for the API layer, and the audit chain
//! check. Reads see what this node has applied, which may trail the leader.

mod anchor;
mod governance;
mod identity;

pub use anchor::AnchorReport;

use rocksdb::{DB, IteratorMode, ReadOptions, SnapshotWithThreadMode};
use serde::de::DeserializeOwned;
use warden_core::{
    Agent, AgentName, AuditHead, AuditRecord, CatalogEntry, CatalogName, ChainVerifier, Hash,
    JournalEntry, McpServer, Provider, ProviderName, ServerName, Task, TaskId, Workspace,
    WorkspaceId,
};

use crate::active::ActiveTask;
use crate::codec;
use crate::error::Error;
use crate::keys;
use crate::storage::Storage;
use crate::types::LogId;

/// A cheap, cloneable handle for queries.
#[derive(Debug, Clone)]
pub struct StateReader {
    storage: Storage,
}

/// The result of checking the stored audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// How many records verified, oldest first, before the end or the first failure.
    pub record_count: u64,
    /// The hash of the last verified record; `None` when none verified.
    pub head_hash: Option<Hash>,
    /// The chain position of the first bad record and what is wrong with it.
    pub failure: Option<(u64, String)>,
    /// What the stored checkpoints say (as far as the chain verified).
    pub anchors: AnchorReport,
    /// The index of the last log entry applied in the state that was verified: read from
    /// the same snapshot as the records, so the count and head belong to exactly it.
    pub applied_index: u64,
}

impl AuditVerification {
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

type DbSnapshot<'a> = SnapshotWithThreadMode<'a, DB>;

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
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::workspace_events_from(workspace, from_index);
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
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::active_tasks();
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

    /// Up to `limit` audit records from chain position `from_index` on.
    pub fn audit_range(&self, from_index: u64, limit: usize) -> Result<Vec<AuditRecord>, Error> {
        let snapshot = self.storage.db().snapshot();
        let (start, end) = keys::audit_records_from(from_index);
        let mut records = Vec::with_capacity(limit.min(1024));
        if limit == 0 {
            return Ok(records);
        }
        self.scan(&snapshot, start, end, |key, value| {
            records.push(decode_audit(key, value)?);
            Ok(records.len() < limit)
        })?;
        Ok(records)
    }

    /// The end of the audit chain; the default (empty) head before the first record.
    pub fn audit_head(&self) -> Result<AuditHead, Error> {
        Ok(self
            .storage
            .get(keys::SM_CF, keys::AUDIT_HEAD, || "audit head".into())?
            .unwrap_or_default())
    }

    /// The log id of the last entry this node applied.
    pub fn applied_log_id(&self) -> Result<Option<LogId>, Error> {
        self.storage
            .get(keys::SM_CF, keys::APPLIED, || "applied log id".into())
    }

    /// Re-verifies every stored audit record in chain order and compares the result with
    /// the stored audit head. All reads come from one RocksDB snapshot, so entries
    /// applied meanwhile cannot cause a false alarm. A record that does not decode is a
    /// verification failure at its position, not an error: only I/O failures are errors.
    pub fn verify_audit(&self) -> Result<AuditVerification, Error> {
        let snapshot = self.storage.db().snapshot();
        let applied_index = self
            .value_at(&snapshot, keys::APPLIED, "applied log id")?
            .map(|bytes| codec::decode::<LogId>(|| "applied log id".into(), &bytes))
            .transpose()?
            .map_or(0, |log_id| log_id.index);
        // A damaged head is reported after the chain, which may have failed earlier.
        let stored_head = self
            .value_at(&snapshot, keys::AUDIT_HEAD, "audit head")?
            .map(|bytes| codec::decode::<AuditHead>(|| "audit head".into(), &bytes))
            .transpose()
            .map(Option::unwrap_or_default);

        let mut anchors = match anchor::AnchorCheck::read(self, &snapshot)? {
            Ok(anchors) => anchors,
            Err(failure) => {
                return Ok(AuditVerification {
                    record_count: 0,
                    head_hash: None,
                    failure: Some(failure),
                    anchors: AnchorReport::default(),
                    applied_index,
                });
            }
        };
        let mut verifier = ChainVerifier::new();
        let mut failure = None;
        let (start, end) = keys::audit_records_from(1);
        self.scan(&snapshot, start, end, |key, value| {
            failure = match check_record(&mut verifier, key, value) {
                Ok(record) => anchors.on_record(&record),
                Err(failure) => Some(failure),
            };
            Ok(failure.is_none())
        })?;

        let verified = verifier.head();
        let (report, beyond) = anchors.finish(verified.count);
        if failure.is_none() {
            failure = match stored_head {
                Ok(stored_head) => compare_heads(&verified, &stored_head),
                Err(error) => Some((verified.count, error.to_string())),
            };
        }
        // A checkpoint past the end proves a cut tail even when the head was cut with it.
        let failure = failure.or(beyond);
        Ok(AuditVerification {
            record_count: verified.count,
            head_hash: (verified.count > 0).then_some(verified.hash),
            failure,
            anchors: report,
            applied_index,
        })
    }

    /// The raw value of sm key `key` as of `snapshot`; `what` names it in errors.
    fn value_at(
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
    fn scan(
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

fn decode_audit(key: &[u8], value: &[u8]) -> Result<AuditRecord, Error> {
    let index = keys::audit_record_index(key).ok_or_else(|| Error::Corrupt {
        what: format!("audit key {key:?}"),
        reason: "malformed".into(),
    })?;
    codec::decode(|| format!("audit record {index}"), value)
}

/// Pushes one stored record through the verifier and returns it; the failure names the
/// position the record is stored at, whatever the (possibly damaged) record claims.
fn check_record(
    verifier: &mut ChainVerifier,
    key: &[u8],
    value: &[u8],
) -> Result<AuditRecord, (u64, String)> {
    let expected = verifier.head().count + 1;
    let Some(position) = keys::audit_record_index(key) else {
        return Err((expected, format!("malformed audit key {key:?}")));
    };
    if position != expected {
        return Err((
            expected,
            format!("record {expected} is missing; the next stored is {position}"),
        ));
    }
    let record: AuditRecord = codec::decode(|| format!("audit record {position}"), value)
        .map_err(|error| (position, error.to_string()))?;
    if record.index != position {
        return Err((
            position,
            format!("record stored at {position} claims index {}", record.index),
        ));
    }
    verifier
        .push(&record)
        .map_err(|error| (position, error.to_string()))?;
    Ok(record)
}

/// A verified chain that disagrees with the stored head: records were removed, added or
/// rewritten along with their hashes.
fn compare_heads(verified: &AuditHead, stored: &AuditHead) -> Option<(u64, String)> {
    let problem = |index| {
        let message = format!(
            "the chain holds {} records ending in {}, the stored audit head says {} ending in {}",
            verified.count, verified.hash, stored.count, stored.hash
        );
        Some((index, message))
    };
    if verified.count != stored.count {
        problem(verified.count.min(stored.count) + 1)
    } else if verified.hash != stored.hash {
        problem(verified.count)
    } else {
        None
    }
}
