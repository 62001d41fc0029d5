//! One RocksDB database per node, shared by the log store, the state machine and the
//! readers of the API layer.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, Options, WriteBatch, WriteOptions};
use serde::de::DeserializeOwned;

use crate::codec;
use crate::error::Error;
use crate::keys;
use crate::log_store::LogStore;
use crate::state_machine::StateMachineStore;
use crate::state_reader::StateReader;

/// A handle on the node's database. Cloning it is cheap: every clone shares the one
/// open database.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

/// How far the state machine holds the log, for a purge that waits on a snapshot install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coverage {
    /// Everything up to this index is applied or installed.
    UpTo(u64),
    /// A received snapshot failed to install; the node is stopping.
    InstallFailed,
}

struct Inner {
    db: DB,
    /// Serializes the read-compare-write of the current snapshot, so a snapshot built
    /// in the background can never replace a newer one installed meanwhile.
    snapshot_lock: Mutex<()>,
    /// How far the state machine holds the log (applied or installed).
    state_machine_covers: watch::Sender<Coverage>,
    /// Set while a snapshot from the leader is being received, until it is installed.
    receiving_snapshot: AtomicBool,
}

/// The block cache all column families share.
const BLOCK_CACHE_BYTES: usize = 128 * 1024 * 1024;

/// A column family's table options: data blocks in the shared cache, and a bloom filter
/// per table, so a point read of a key that is not there (a new task's id, a new
/// idempotency key, on every submission) skips the tables that cannot hold it instead of
/// reading their index and data blocks. Index and filter blocks stay with their open
/// table, outside the cache: in it, one large value read (a snapshot) evicted them and
/// every read fetched and checksummed a whole filter block again.
fn family_options(cache: &rocksdb::Cache) -> Options {
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    let mut options = Options::default();
    options.set_block_based_table_factory(&table);
    options
}

impl Storage {
    /// Opens (or creates) the database at `path` with every column family, stamping a new
    /// one with this build's format and upgrading an older one (`format.rs`).
    pub fn open(path: &Path) -> Result<Storage, Error> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let cache = rocksdb::Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let families = keys::ALL_CFS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, family_options(&cache)));
        let db =
            DB::open_cf_descriptors(&options, path, families).map_err(|source| Error::Open {
                path: path.to_owned(),
                source,
            })?;
        let storage = Storage {
            inner: Arc::new(Inner {
                db,
                snapshot_lock: Mutex::new(()),
                state_machine_covers: watch::Sender::new(Coverage::UpTo(0)),
                receiving_snapshot: AtomicBool::new(false),
            }),
        };
        crate::format::open(&storage, path)?;
        Ok(storage)
    }

    /// The Raft log and vote. openraft expects a single log store per node.
    pub fn log_store(&self) -> LogStore {
        LogStore::new(self.clone())
    }

    /// The state machine, with its applied state loaded, for this build's protocol.
    /// openraft expects a single state machine per node: it caches the applied log id,
    /// membership and audit head.
    pub fn state_machine(&self) -> Result<StateMachineStore, Error> {
        self.state_machine_speaking(warden_core::PROTOCOL)
    }

    /// The state machine of a node that speaks `protocol`: it refuses to open state of a
    /// cluster that runs a newer one, and stops at an entry it cannot apply.
    pub fn state_machine_speaking(&self, protocol: u32) -> Result<StateMachineStore, Error> {
        StateMachineStore::load(self.clone(), protocol)
    }

    /// Read-only queries of the replicated state.
    pub fn reader(&self) -> StateReader {
        StateReader::new(self.clone())
    }

    pub(crate) fn db(&self) -> &DB {
        &self.inner.db
    }

    pub(crate) fn cf(&self, name: &'static str) -> Result<&ColumnFamily, Error> {
        self.inner
            .db
            .cf_handle(name)
            .ok_or(Error::MissingColumnFamily(name))
    }

    /// Reads and decodes the value at `key` of column family `cf_name`.
    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        cf_name: &'static str,
        key: &[u8],
        what: impl Fn() -> String,
    ) -> Result<Option<T>, Error> {
        let cf = self.cf(cf_name)?;
        let bytes = self
            .inner
            .db
            .get_pinned_cf(cf, key)
            .map_err(|source| Error::Read {
                what: what(),
                source,
            })?;
        bytes.map(|bytes| codec::decode(&what, &bytes)).transpose()
    }

    /// Writes `batch` atomically and waits for the write-ahead log to reach the disk.
    pub(crate) fn write_synced(
        &self,
        batch: WriteBatch,
        what: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.inner
            .db
            .write_opt(batch, &options)
            .map_err(|source| Error::Write {
                what: what(),
                source,
            })
    }

    /// Writes `batch` atomically to the write-ahead log without waiting for the disk: it
    /// survives a crash of the process, and reaches the disk with the next synced write,
    /// since every column family shares one sequential write-ahead log. For state that can
    /// be rebuilt from synced state (applied entries are re-applied from the log).
    pub(crate) fn write_buffered(
        &self,
        batch: WriteBatch,
        what: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        self.inner
            .db
            .write_opt(batch, &WriteOptions::default())
            .map_err(|source| Error::Write {
                what: what(),
                source,
            })
    }

    /// Records that the state machine now holds everything up to `index`.
    pub(crate) fn state_machine_covers(&self, index: u64) {
        self.inner
            .state_machine_covers
            .send_replace(Coverage::UpTo(index));
    }

    /// Records that installing a received snapshot failed: the state machine will cover
    /// nothing more, and a purge waiting for the install fails instead of waiting for ever.
    pub(crate) fn snapshot_install_failed(&self) {
        self.inner
            .state_machine_covers
            .send_replace(Coverage::InstallFailed);
    }

    /// Marks a snapshot from the leader as being received (or no longer).
    pub(crate) fn receiving_snapshot(&self, receiving: bool) {
        self.inner
            .receiving_snapshot
            .store(receiving, Ordering::SeqCst);
    }

    /// Waits, while a snapshot is being received, until the state machine holds
    /// everything up to `index`.
    ///
    /// openraft 0.9 queues a follower's snapshot install for the state machine and, in the
    /// same step, purges the log up to the snapshot without waiting for the install. A
    /// crash between the two leaves a log purged past anything the state machine holds,
    /// and the node can never start again. Holding the purge until the install is written
    /// closes that window: the install's batch then precedes the purge marker in the
    /// write-ahead log. A node's own snapshots never wait: it applied what they cover.
    ///
    /// A failed install is an error here. openraft runs the purge inside its core loop,
    /// which then learns of the install's failure only once the purge returns: waiting on
    /// would leave the node running with its Raft stuck instead of stopping it.
    pub(crate) async fn wait_until_state_machine_covers(&self, index: u64) -> Result<(), Error> {
        if !self.inner.receiving_snapshot.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut covers = self.inner.state_machine_covers.subscribe();
        let coverage = covers
            .wait_for(|coverage| match coverage {
                Coverage::UpTo(covered) => *covered >= index,
                Coverage::InstallFailed => true,
            })
            .await
            // The sender lives in `self`, so the channel cannot close while we wait.
            .map_or(Coverage::InstallFailed, |coverage| *coverage);
        match coverage {
            Coverage::UpTo(_) => Ok(()),
            Coverage::InstallFailed => Err(Error::SnapshotInstallFailed { index }),
        }
    }

    /// Holds off concurrent replacements of the current snapshot while alive.
    pub(crate) fn lock_snapshot(&self) -> std::sync::MutexGuard<'_, ()> {
        // The mutex guards no data, only ordering: a panic elsewhere leaves nothing to repair.
        self.inner
            .snapshot_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("path", &self.inner.db.path())
            .finish()
    }
}
