//! Snapshots of the state machine: every key/value of the sm column family, read from
//! one RocksDB snapshot so the image is consistent while apply goes on.
//!
//! The image includes the applied log id, membership and audit head, so installing it
//! restores all of the state machine at once.

use std::io::Cursor;
use std::time::Instant;

use openraft::{RaftSnapshotBuilder, StorageIOError};
use rocksdb::{IteratorMode, WriteBatch};
use serde::{Deserialize, Serialize};
use warden_core::AuditHead;

use crate::codec;
use crate::error::Error;
use crate::failpoints::failpoint;
use crate::keys;
use crate::storage::Storage;
use crate::types::{LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig};

/// Builds snapshots in the background, independently of the state machine it came from.
#[derive(Debug)]
pub struct SnapshotBuilder {
    storage: Storage,
}

/// The current snapshot as stored in the snapshot column family.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

/// The state-machine contents: every key and value of the sm column family, in key order.
type Image = Vec<(Vec<u8>, Vec<u8>)>;

/// What the state machine caches, as found in an image.
pub(super) struct Installed {
    pub applied: Option<LogId>,
    pub membership: StoredMembership,
    pub head: AuditHead,
}

impl SnapshotBuilder {
    pub(super) fn new(storage: Storage) -> SnapshotBuilder {
        SnapshotBuilder { storage }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let started = Instant::now();
        let stored = capture(&self.storage).map_err(|e| StorageIOError::read_state_machine(&e))?;
        let signature = Some(stored.meta.signature());
        save_unless_older(&self.storage, &stored)
            .map_err(|e| StorageIOError::write_snapshot(signature, &e))?;
        metrics::counter!("warden_raft_snapshots_built_total").increment(1);
        metrics::histogram!("warden_raft_snapshot_build_seconds")
            .record(started.elapsed().as_secs_f64());
        tracing::info!(snapshot = %stored.meta, bytes = stored.data.len(), "built snapshot");
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

/// Reads the whole sm column family from one RocksDB snapshot.
fn capture(storage: &Storage) -> Result<StoredSnapshot, Error> {
    let cf = storage.cf(keys::SM_CF)?;
    let db_snapshot = storage.db().snapshot();
    let mut image: Image = Vec::new();
    for item in db_snapshot.iterator_cf(cf, IteratorMode::Start) {
        let (key, value) = item.map_err(|source| Error::Read {
            what: "state machine".into(),
            source,
        })?;
        // Derived indexes are rebuilt by whoever installs it (`derived.rs`).
        if !crate::derived::is_derived(&key) {
            image.push((key.into_vec(), value.into_vec()));
        }
    }
    let state = image_state(&image)?;
    // The sequence number tells apart snapshots of the same applied log id: storing a
    // snapshot is itself a write, so no two builds see the same one.
    let sequence = db_snapshot.sequence_number();
    let snapshot_id = match state.applied {
        Some(id) => format!("{}-{}-{sequence}", id.leader_id.term, id.index),
        None => format!("0-0-{sequence}"),
    };
    let meta = SnapshotMeta {
        last_log_id: state.applied,
        last_membership: state.membership,
        snapshot_id,
    };
    let data = codec::encode(|| format!("snapshot {}", meta.snapshot_id), &image)?;
    Ok(StoredSnapshot { meta, data })
}

/// Stores `stored` as the current snapshot unless a newer one was installed meanwhile.
fn save_unless_older(storage: &Storage, stored: &StoredSnapshot) -> Result<(), Error> {
    let _guard = storage.lock_snapshot();
    let current: Option<StoredSnapshot> =
        storage.get(keys::SNAPSHOT_CF, keys::CURRENT_SNAPSHOT, || {
            "current snapshot".into()
        })?;
    if let Some(current) = current
        && current.meta.last_log_id > stored.meta.last_log_id
    {
        tracing::info!(kept = %current.meta, built = %stored.meta, "kept the newer current snapshot");
        return Ok(());
    }
    let mut batch = WriteBatch::default();
    let bytes = codec::encode(|| format!("snapshot {}", stored.meta.snapshot_id), stored)?;
    batch.put_cf(
        storage.cf(keys::SNAPSHOT_CF)?,
        keys::CURRENT_SNAPSHOT,
        bytes,
    );
    storage.write_synced(batch, || format!("snapshot {}", stored.meta.snapshot_id))
}

/// Writes the batch of [`prepare_install`]: the state machine and the current snapshot
/// change together.
pub(super) fn commit_install(
    storage: &Storage,
    meta: &SnapshotMeta,
    batch: WriteBatch,
) -> Result<(), Error> {
    {
        let _guard = storage.lock_snapshot();
        failpoint!(SNAPSHOT_INSTALL_BEFORE_WRITE);
        storage.write_synced(batch, || format!("snapshot {}", meta.snapshot_id))?;
        failpoint!(SNAPSHOT_INSTALL_AFTER_WRITE);
    }
    metrics::counter!("warden_raft_snapshots_installed_total").increment(1);
    tracing::info!(snapshot = %meta, "installed snapshot");
    Ok(())
}

/// Checks a received image against its metadata and builds the one batch that replaces
/// the state machine with it and makes it the current snapshot.
pub(super) fn prepare_install(
    storage: &Storage,
    meta: &SnapshotMeta,
    data: Vec<u8>,
) -> Result<(Installed, WriteBatch), Error> {
    let what = || format!("snapshot {}", meta.snapshot_id);
    let image: Image = codec::decode(what, &data)?;
    if let Some((key, _)) = image.iter().find(|(key, _)| !keys::is_sm_key(key)) {
        return Err(Error::Corrupt {
            what: what(),
            reason: format!("holds foreign key {key:?}"),
        });
    }
    let installed = image_state(&image)?;
    if installed.applied != meta.last_log_id || installed.membership != meta.last_membership {
        return Err(Error::Corrupt {
            what: what(),
            reason: format!(
                "holds applied log id {:?} and membership {}, its metadata says {meta}",
                installed.applied, installed.membership
            ),
        });
    }

    let sm = storage.cf(keys::SM_CF)?;
    let mut batch = WriteBatch::default();
    // In a batch later operations win, so the puts land on the emptied key space.
    batch.delete_range_cf(sm, keys::SM_START, keys::SM_END);
    for (key, value) in &image {
        if !crate::derived::is_derived(key) {
            batch.put_cf(sm, key, value);
        }
    }
    let records = image
        .iter()
        .map(|(key, value)| (key.as_slice(), value.as_slice()));
    for (key, value) in crate::derived::entries_for(records)? {
        batch.put_cf(sm, key, value);
    }
    let stored = StoredSnapshot {
        meta: meta.clone(),
        data,
    };
    batch.put_cf(
        storage.cf(keys::SNAPSHOT_CF)?,
        keys::CURRENT_SNAPSHOT,
        codec::encode(what, &stored)?,
    );
    Ok((installed, batch))
}

/// The current snapshot, built here or installed from the leader.
pub(super) fn current(storage: &Storage) -> Result<Option<Snapshot>, Error> {
    let stored: Option<StoredSnapshot> =
        storage.get(keys::SNAPSHOT_CF, keys::CURRENT_SNAPSHOT, || {
            "current snapshot".into()
        })?;
    Ok(stored.map(|stored| Snapshot {
        meta: stored.meta,
        snapshot: Box::new(Cursor::new(stored.data)),
    }))
}

/// The applied log id, membership and audit head an image holds.
fn image_state(image: &Image) -> Result<Installed, Error> {
    let find = |key: &[u8]| {
        image
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_slice())
    };
    let applied = match find(keys::APPLIED) {
        Some(bytes) => Some(codec::decode::<LogId>(|| "applied log id".into(), bytes)?),
        None => None,
    };
    let membership = match find(keys::MEMBERSHIP) {
        Some(bytes) => codec::decode(|| "last membership".into(), bytes)?,
        None => StoredMembership::default(),
    };
    let head = match find(keys::AUDIT_HEAD) {
        Some(bytes) => codec::decode(|| "audit head".into(), bytes)?,
        None => AuditHead::default(),
    };
    Ok(Installed {
        applied,
        membership,
        head,
    })
}
