//! Reads through the indexes derived from the active-task index (`crate::derived`), so
//! the runtime and the leader's controller pay for the tasks they act on, not for every
//! active one: a node's own running tasks, the tasks whose timers are due, the runnable
//! tasks without an owner.

use rocksdb::ReadOptions;
use warden_core::{AgentName, NodeId, TaskId, WorkspaceId};

use super::{DbSnapshot, StateReader};
use crate::active::ActiveTask;
use crate::codec;
use crate::error::Error;
use crate::keys;

/// An active task as the indexes find it.
pub type Found = (WorkspaceId, TaskId, ActiveTask);

/// One page of the due index.
#[derive(Debug)]
pub struct DuePage {
    pub tasks: Vec<Found>,
    /// Where the next page starts when this one was full; `None` when it reached the
    /// last task due.
    pub next: Option<Vec<u8>>,
}

impl StateReader {
    /// The tasks `node` runs, with their active-task entries.
    pub fn owned_tasks(&self, node: NodeId) -> Result<Vec<Found>, Error> {
        let snapshot = self.storage.db().snapshot();
        let ids = self.index_ids(&snapshot, keys::owned_tasks_of(node), usize::MAX, |key| {
            keys::owned_task_ids(key).map(|(_, workspace, id)| (workspace, id))
        })?;
        self.active_entries(&snapshot, ids)
    }

    /// Every running task with the node that runs it (as many as the nodes' capacity
    /// allows, not as many as are active).
    pub fn running_tasks(&self) -> Result<Vec<(NodeId, Found)>, Error> {
        let snapshot = self.storage.db().snapshot();
        let mut nodes = Vec::new();
        let ids = self.index_ids(&snapshot, keys::owned_tasks(), usize::MAX, |key| {
            let (node, workspace, id) = keys::owned_task_ids(key)?;
            nodes.push(node);
            Some((workspace, id))
        })?;
        let found = self.active_entries(&snapshot, ids)?;
        Ok(nodes.into_iter().zip(found).collect())
    }

    /// At most `limit` tasks with a timer due at or before `now_ms`, earliest first,
    /// after the due-index key `after` when given: a caller that cannot act on every due
    /// task at once (one waiting for an answer is always due) pages on from where the
    /// last page ended, so no task is left behind others for ever.
    pub fn due_tasks(
        &self,
        now_ms: u64,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<DuePage, Error> {
        let snapshot = self.storage.db().snapshot();
        let (mut start, end) = keys::due_by(now_ms);
        if let Some(after) = after {
            start = after.to_vec();
            start.push(0);
        }
        let mut last = None;
        let ids = self.index_ids(&snapshot, (start, end), limit, |key| {
            last = Some(key.to_vec());
            keys::due_task_ids(key)
        })?;
        let next = last.filter(|_| ids.len() == limit);
        Ok(DuePage {
            tasks: self.active_entries(&snapshot, ids)?,
            next,
        })
    }

    /// At most `limit` runnable tasks without an owner, by workspace and agent, leaving
    /// out whole the agents `skip` names (a paused one's tasks cost one seek, however
    /// many they are).
    pub fn unplaced_tasks(
        &self,
        limit: usize,
        mut skip: impl FnMut(&WorkspaceId, &AgentName) -> Result<bool, Error>,
    ) -> Result<Vec<Found>, Error> {
        let (start, end) = keys::unplaced_tasks();
        let snapshot = self.storage.db().snapshot();
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(end);
        let mut iter = snapshot.raw_iterator_cf_opt(self.storage.cf(keys::SM_CF)?, options);
        iter.seek(&start);
        let mut ids = Vec::new();
        while ids.len() < limit {
            let Some(key) = iter.key() else {
                break;
            };
            let (workspace, agent, id) =
                keys::unplaced_task_ids(key).ok_or_else(|| malformed("unplaced task", key))?;
            if skip(&workspace, &agent)? {
                iter.seek(keys::unplaced_after(&workspace, &agent));
                continue;
            }
            ids.push((workspace, id));
            iter.next();
        }
        iter.status().map_err(|source| Error::Read {
            what: "unplaced-task index".into(),
            source,
        })?;
        drop(iter);
        self.active_entries(&snapshot, ids)
    }

    /// The ids an index range's keys name, at most `limit` of them.
    fn index_ids(
        &self,
        snapshot: &DbSnapshot<'_>,
        (start, end): (Vec<u8>, Vec<u8>),
        limit: usize,
        mut parse: impl FnMut(&[u8]) -> Option<(WorkspaceId, TaskId)>,
    ) -> Result<Vec<(WorkspaceId, TaskId)>, Error> {
        let mut ids = Vec::new();
        self.scan(snapshot, start, end, |key, _| {
            ids.push(parse(key).ok_or_else(|| malformed("task index", key))?);
            Ok(ids.len() < limit)
        })?;
        Ok(ids)
    }

    /// The active-task entries of `ids`, from the snapshot their index was read in; an
    /// index entry no active task backs is corrupt.
    fn active_entries(
        &self,
        snapshot: &DbSnapshot<'_>,
        ids: Vec<(WorkspaceId, TaskId)>,
    ) -> Result<Vec<Found>, Error> {
        let cf = self.storage.cf(keys::SM_CF)?;
        let mut found = Vec::with_capacity(ids.len());
        for (workspace, id) in ids {
            let what = || format!("active task {workspace}/{id}");
            let value = snapshot
                .get_cf(cf, keys::active_task(&workspace, &id))
                .map_err(|source| Error::Read {
                    what: what(),
                    source,
                })?
                .ok_or_else(|| Error::Corrupt {
                    what: what(),
                    reason: "indexed but not active".into(),
                })?;
            let active = codec::decode(what, &value)?;
            found.push((workspace, id, active));
        }
        Ok(found)
    }
}

fn malformed(what: &str, key: &[u8]) -> Error {
    Error::Corrupt {
        what: format!("{what} key {key:?}"),
        reason: "malformed".into(),
    }
}
