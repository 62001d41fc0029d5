//! The writes of one `apply()` call before they reach RocksDB, readable by the later
//! entries of the same call.

use std::collections::BTreeMap;

use rocksdb::WriteBatch;
use serde::Serialize;
use serde::de::DeserializeOwned;
use warden_core::{
    Applied, AuditHead, IdempotencyKey, IdempotencyRecord, StateRead, Task, TaskId, Workspace,
    WorkspaceId, Write,
};

use crate::codec;
use crate::error::Error;
use crate::keys;
use crate::storage::Storage;
use crate::types::{LogId, StoredMembership};

/// The writes of the entries applied so far in one `apply()` call, keyed and encoded
/// as they will be stored, in front of the database: a later entry of the same batch
/// reads an earlier one's writes here.
pub(super) struct Pending<'a> {
    storage: &'a Storage,
    puts: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl<'a> Pending<'a> {
    pub(super) fn new(storage: &'a Storage) -> Pending<'a> {
        Pending {
            storage,
            puts: BTreeMap::new(),
        }
    }

    fn get<T: DeserializeOwned>(
        &self,
        key: Vec<u8>,
        what: impl Fn() -> String,
    ) -> Result<Option<T>, Error> {
        match self.puts.get(&key) {
            Some(bytes) => codec::decode(what, bytes).map(Some),
            None => self.storage.get(keys::SM_CF, &key, what),
        }
    }

    fn put<T: Serialize>(
        &mut self,
        key: Vec<u8>,
        what: impl FnOnce() -> String,
        value: &T,
    ) -> Result<(), Error> {
        self.puts.insert(key, codec::encode(what, value)?);
        Ok(())
    }

    /// Stages what one entry produced: its domain writes and its audit record.
    pub(super) fn stage(&mut self, applied: &Applied) -> Result<(), Error> {
        for write in &applied.writes {
            match write {
                Write::Workspace(workspace) => {
                    let id = &workspace.id;
                    self.put(keys::workspace(id), || format!("workspace {id}"), workspace)?;
                }
                Write::Task(task) => {
                    let (workspace, id) = (&task.workspace, &task.id);
                    self.put(
                        keys::task(workspace, id),
                        || format!("task {workspace}/{id}"),
                        task,
                    )?;
                }
                Write::Idempotency {
                    workspace,
                    key,
                    record,
                } => {
                    let what = || format!("idempotency key {workspace}/{key:?}");
                    self.put(keys::idempotency(workspace, key), what, record)?;
                }
            }
        }
        let index = applied.audit.index;
        self.put(
            keys::audit_record(index),
            || format!("audit record {index}"),
            &applied.audit,
        )
    }

    /// Adds the applied state and turns everything into one WriteBatch.
    pub(super) fn finish(
        mut self,
        applied: &LogId,
        membership: &StoredMembership,
        head: &AuditHead,
    ) -> Result<WriteBatch, Error> {
        self.put(keys::APPLIED.to_vec(), || "applied log id".into(), applied)?;
        self.put(
            keys::MEMBERSHIP.to_vec(),
            || "last membership".into(),
            membership,
        )?;
        self.put(keys::AUDIT_HEAD.to_vec(), || "audit head".into(), head)?;
        let cf = self.storage.cf(keys::SM_CF)?;
        let mut batch = WriteBatch::default();
        for (key, value) in &self.puts {
            batch.put_cf(cf, key, value);
        }
        Ok(batch)
    }
}

impl StateRead for Pending<'_> {
    type Error = Error;

    fn workspace(&self, id: &WorkspaceId) -> Result<Option<Workspace>, Error> {
        self.get(keys::workspace(id), || format!("workspace {id}"))
    }

    fn task(&self, workspace: &WorkspaceId, id: &TaskId) -> Result<Option<Task>, Error> {
        self.get(keys::task(workspace, id), || {
            format!("task {workspace}/{id}")
        })
    }

    fn idempotency(
        &self,
        workspace: &WorkspaceId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, Error> {
        self.get(keys::idempotency(workspace, key), || {
            format!("idempotency key {workspace}/{key:?}")
        })
    }
}
