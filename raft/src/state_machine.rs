//! The replicated state machine over RocksDB: openraft's `RaftStateMachine`, applying
//! committed entries with `warden_core::apply()`.
//!
//! Each `apply()` call commits one synced WriteBatch holding the domain writes, the
//! audit records, the applied log id, the last membership and the audit head of all its
//! entries, so a crash never leaves part of an entry (or of a batch) applied.

mod pending;
mod snapshot;
#[cfg(test)]
mod tests;

use std::io::Cursor;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, Membership, OptionalSend, StorageIOError};
use rocksdb::WriteBatch;
use warden_core::group::deliveries_in;
use warden_core::{Applied, AuditHead, Command, Outcome, Place, Request};

use self::pending::Pending;
pub use self::snapshot::SnapshotBuilder;
use crate::error::Error;
use crate::failpoints::failpoint;
use crate::keys;
use crate::storage::Storage;
use crate::types::{
    Entry, LogId, NodeId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

/// The node's state machine. It caches what openraft asks for on every step (applied
/// log id, membership) and the audit head the next record chains after; the cache is
/// loaded from the database on open and changed only after a successful write.
#[derive(Debug)]
pub struct StateMachineStore {
    storage: Storage,
    /// The protocol this node speaks (`warden_core::version`).
    protocol: u32,
    applied: Option<LogId>,
    membership: StoredMembership,
    head: AuditHead,
}

impl StateMachineStore {
    pub(crate) fn load(storage: Storage, protocol: u32) -> Result<StateMachineStore, Error> {
        check_protocol(&storage, protocol)?;
        let applied =
            storage.get::<LogId>(keys::SM_CF, keys::APPLIED, || "applied log id".into())?;
        let membership = storage.get(keys::SM_CF, keys::MEMBERSHIP, || "last membership".into())?;
        let head = storage.get(keys::SM_CF, keys::AUDIT_HEAD, || "audit head".into())?;
        storage.state_machine_covers(applied.map_or(0, |log_id| log_id.index));
        Ok(StateMachineStore {
            storage,
            protocol,
            applied,
            membership: membership.unwrap_or_default(),
            head: head.unwrap_or_default(),
        })
    }

    /// Writes the batch of applied entries up to `last`.
    fn write_applied(&self, batch: WriteBatch, last: LogId) -> Result<(), Error> {
        failpoint!(APPLY_BEFORE_WRITE);
        self.storage
            .write_buffered(batch, || format!("entries up to {last}"))?;
        failpoint!(APPLY_AFTER_WRITE);
        Ok(())
    }

    /// Refuses an entry whose command this node's protocol does not know, as a build of
    /// that protocol would (it could not even decode it); the node stops there.
    fn check_command(&self, index: u64, command: &warden_core::Command) -> Result<(), Error> {
        let needs = command.since();
        if needs <= self.protocol {
            return Ok(());
        }
        Err(Error::NewerCommand {
            index,
            action: command.action().as_str(),
            needs,
            speaks: self.protocol,
        })
    }

    /// Applies one request of the entry at `log_id` (the entry's own, or one of its
    /// group's) on the state the batch so far leaves.
    fn apply_request(
        &self,
        pending: &Pending<'_>,
        head: &AuditHead,
        log_id: LogId,
        place: Place,
        request: &Request,
    ) -> Result<Applied, StorageError> {
        self.check_command(log_id.index, &request.command)
            .map_err(|e| StorageIOError::apply(log_id, &e))?;
        // Reads see the writes of the earlier entries and requests of this batch.
        let applied = warden_core::apply_at(pending, head, place, request)
            .map_err(|e| StorageIOError::read_state_machine(&e))?;
        if let Outcome::ClusterProtocolSet { to, .. } = applied.outcome {
            self.check_running(to)
                .map_err(|e| StorageIOError::apply(log_id, &e))?;
        }
        Ok(applied)
    }

    /// Refuses to record that the cluster runs a protocol newer than this node's.
    fn check_running(&self, running: u32) -> Result<(), Error> {
        if running <= self.protocol {
            return Ok(());
        }
        Err(Error::NewerProtocol {
            running,
            speaks: self.protocol,
        })
    }

    /// The audit head after everything applied so far.
    pub fn audit_head(&self) -> AuditHead {
        self.head
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut pending = Pending::new(&self.storage);
        let mut head = self.head;
        let mut last_in_batch = None;
        let mut membership = self.membership.clone();
        let mut outcomes = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            let outcome = match entry.payload {
                EntryPayload::Blank => Outcome::Noop,
                EntryPayload::Normal(request) => {
                    self.check_command(log_id.index, &request.command)
                        .map_err(|e| StorageIOError::apply(log_id, &e))?;
                    let mut place = Place::entry(log_id.index);
                    let mut results = Vec::new();
                    // A group's requests one by one, each as if in an entry of its own.
                    for one in warden_core::group::requests_of(&request) {
                        let applied = self.apply_request(&pending, &head, log_id, place, one)?;
                        place.first_delivery += deliveries_in(&applied.writes);
                        pending
                            .stage(&applied)
                            .map_err(|e| StorageIOError::apply(log_id, &e))?;
                        head = AuditHead::advanced(&applied.audit);
                        results.push(applied.outcome);
                    }
                    match request.command {
                        Command::Group { .. } => Outcome::Group(results),
                        _ => results.pop().unwrap_or(Outcome::Noop),
                    }
                }
                EntryPayload::Membership(new) => {
                    let description = describe_membership(&new);
                    membership = StoredMembership::new(Some(log_id), new);
                    let applied = warden_core::apply_membership(&head, log_id.index, &description);
                    pending
                        .stage(&applied)
                        .map_err(|e| StorageIOError::apply(log_id, &e))?;
                    head = AuditHead::advanced(&applied.audit);
                    applied.outcome
                }
            };
            outcomes.push(outcome);
            last_in_batch = Some(log_id);
        }
        let Some(last) = last_in_batch else {
            return Ok(outcomes);
        };
        // Buffered, not synced: the entries are durable in the log, and a state machine
        // that loses its latest applies to a power failure re-applies them from there.
        // The log is never purged past unsynced applies, because purge first makes a
        // synced write, which syncs the shared write-ahead log and everything before it.
        pending
            .finish(&last, &membership, &head)
            .and_then(|batch| self.write_applied(batch, last))
            .map_err(|e| StorageIOError::apply(last, &e))?;
        self.applied = Some(last);
        self.storage.state_machine_covers(last.index);
        self.membership = membership;
        self.head = head;
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder::new(self.storage.clone())
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        self.storage.receiving_snapshot(true);
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let signature = Some(meta.signature());
        let installed = snapshot::prepare_install(&self.storage, meta, snapshot.into_inner())
            .map_err(|e| StorageIOError::read_snapshot(signature.clone(), &e))
            .and_then(|(installed, batch)| {
                snapshot::commit_install(&self.storage, meta, batch)
                    .map_err(|e| StorageIOError::write_snapshot(signature, &e))?;
                Ok(installed)
            })
            .inspect_err(|_| self.storage.snapshot_install_failed())?;
        // A snapshot of a cluster that moved to a newer protocol stops this node; at its
        // next start, opening the state machine refuses it.
        check_protocol(&self.storage, self.protocol)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        self.applied = installed.applied;
        self.membership = installed.membership;
        self.head = installed.head;
        self.storage
            .state_machine_covers(installed.applied.map_or(0, |log_id| log_id.index));
        self.storage.receiving_snapshot(false);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        Ok(
            snapshot::current(&self.storage)
                .map_err(|e| StorageIOError::read_snapshot(None, &e))?,
        )
    }
}

/// Refuses state of a cluster that runs a newer protocol than `protocol`.
fn check_protocol(storage: &Storage, protocol: u32) -> Result<(), Error> {
    let running = storage.reader().cluster_protocol()?;
    if running > protocol {
        return Err(Error::NewerProtocol {
            running,
            speaks: protocol,
        });
    }
    Ok(())
}

/// The audit description of a membership, e.g.
/// `voters {1,2,3} learners {4}: node 1 at 10.0.0.1:7000, ...`. Ids come out sorted, so
/// every node records the same text.
pub fn describe_membership(membership: &Membership<NodeId, openraft::BasicNode>) -> String {
    fn set(ids: impl Iterator<Item = NodeId>) -> String {
        let ids: Vec<String> = ids.map(|id| id.to_string()).collect();
        format!("{{{}}}", ids.join(","))
    }
    let voters: Vec<String> = membership
        .get_joint_config()
        .iter()
        .map(|config| set(config.iter().copied()))
        .collect();
    let nodes: Vec<String> = membership
        .nodes()
        .map(|(id, node)| format!("node {id} at {}", node.addr))
        .collect();
    format!(
        "voters {} learners {}: {}",
        voters.join(" and "),
        set(membership.learner_ids()),
        nodes.join(", ")
    )
}
