//! The Raft log and vote in RocksDB: openraft's `RaftLogStorage` and `RaftLogReader`.
//!
//! Every write is synced before it is reported done: an appended entry is acknowledged
//! to openraft (which may then count it towards a quorum) only once it is on disk.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, OptionalSend, StorageIOError, Vote};
use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};

use crate::codec;
use crate::error::Error;
use crate::failpoints::failpoint;
use crate::keys;
use crate::storage::Storage;
use crate::types::{Entry, LogId, NodeId, StorageError, TypeConfig};

/// The node's log store; clones share the database and serve as log readers.
#[derive(Debug, Clone)]
pub struct LogStore {
    storage: Storage,
}

impl LogStore {
    pub(crate) fn new(storage: Storage) -> LogStore {
        LogStore { storage }
    }

    /// The entries with index in `[start, end)` (`end` of `None`: to the last one).
    fn entries(&self, start: u64, end: Option<u64>) -> Result<Vec<Entry>, Error> {
        let cf = self.storage.cf(keys::LOG_CF)?;
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(match end {
            Some(end) => keys::log_entry(end).to_vec(),
            None => keys::log_end(),
        });
        let start_key = keys::log_entry(start);
        let iter = self.storage.db().iterator_cf_opt(
            cf,
            options,
            IteratorMode::From(&start_key, Direction::Forward),
        );
        let mut entries = Vec::new();
        for item in iter {
            let (key, value) = item.map_err(|source| Error::Read {
                what: "log entries".into(),
                source,
            })?;
            entries.push(decode_entry(&key, &value)?);
        }
        Ok(entries)
    }

    fn last_entry_id(&self) -> Result<Option<LogId>, Error> {
        let cf = self.storage.cf(keys::LOG_CF)?;
        match self.storage.db().iterator_cf(cf, IteratorMode::End).next() {
            None => Ok(None),
            Some(item) => {
                let (key, value) = item.map_err(|source| Error::Read {
                    what: "last log entry".into(),
                    source,
                })?;
                Ok(Some(decode_entry(&key, &value)?.log_id))
            }
        }
    }

    fn last_purged(&self) -> Result<Option<LogId>, Error> {
        self.storage.get(keys::LOG_META_CF, keys::LAST_PURGED, || {
            "last purged log id".into()
        })
    }

    fn put_meta<T: serde::Serialize>(
        &self,
        key: &[u8],
        what: &str,
        value: &T,
        durability: Durability,
    ) -> Result<(), Error> {
        let bytes = codec::encode(|| what.to_owned(), value)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.storage.cf(keys::LOG_META_CF)?, key, bytes);
        match durability {
            Durability::Synced => self.storage.write_synced(batch, || what.to_owned()),
            Durability::Buffered => self.storage.write_buffered(batch, || what.to_owned()),
        }
    }

    fn append_synced(&self, entries: impl Iterator<Item = Entry>) -> Result<(), Error> {
        let cf = self.storage.cf(keys::LOG_CF)?;
        let mut batch = WriteBatch::default();
        for entry in entries {
            let index = entry.log_id.index;
            let bytes = codec::encode(|| format!("log entry {index}"), &entry)?;
            batch.put_cf(cf, keys::log_entry(index), bytes);
        }
        failpoint!(LOG_APPEND_BEFORE_SYNC);
        self.storage.write_synced(batch, || "log entries".into())?;
        failpoint!(LOG_APPEND_AFTER_SYNC);
        Ok(())
    }

    /// Deletes the log keys in `[start, end)` with one synced write.
    fn delete_range(&self, start: &[u8], end: &[u8], what: &str) -> Result<(), Error> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.storage.cf(keys::LOG_CF)?, start, end);
        self.storage.write_synced(batch, || what.to_owned())
    }
}

/// Decodes a stored entry and checks it sits under its own index.
fn decode_entry(key: &[u8], value: &[u8]) -> Result<Entry, Error> {
    let index = keys::log_entry_index(key).ok_or_else(|| Error::Corrupt {
        what: format!("log key {key:?}"),
        reason: "not a log index".into(),
    })?;
    let entry: Entry = codec::decode(|| format!("log entry {index}"), value)?;
    if entry.log_id.index != index {
        return Err(Error::Corrupt {
            what: format!("log entry {index}"),
            reason: format!("holds the entry of index {}", entry.log_id.index),
        });
    }
    Ok(entry)
}

fn start_index(bound: Bound<&u64>) -> u64 {
    match bound {
        Bound::Included(index) => *index,
        Bound::Excluded(index) => index.saturating_add(1),
        Bound::Unbounded => 0,
    }
}

/// The exclusive end index; `None` is past the largest index.
fn end_index(bound: Bound<&u64>) -> Option<u64> {
    match bound {
        Bound::Included(index) => index.checked_add(1),
        Bound::Excluded(index) => Some(*index),
        Bound::Unbounded => None,
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = start_index(range.start_bound());
        let end = end_index(range.end_bound());
        if end.is_some_and(|end| end <= start) {
            return Ok(Vec::new());
        }
        Ok(self
            .entries(start, end)
            .map_err(|e| StorageIOError::read_logs(&e))?)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id = self
            .last_purged()
            .map_err(|e| StorageIOError::read_logs(&e))?;
        let last_entry = self
            .last_entry_id()
            .map_err(|e| StorageIOError::read_logs(&e))?;
        // With every entry purged the last log id is the last purged one. So it is too
        // when a crash cut a purge short after it recorded the purge point: the entries
        // left behind are all at or below it.
        let last_log_id = match (last_entry, last_purged_log_id) {
            (Some(entry), Some(purged)) if entry.index <= purged.index => Some(purged),
            (entry, purged) => entry.or(purged),
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.put_meta(keys::VOTE, "vote", vote, Durability::Synced)
            .map_err(|e| StorageIOError::write_vote(&e))?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        Ok(self
            .storage
            .get(keys::LOG_META_CF, keys::VOTE, || "vote".into())
            .map_err(|e| StorageIOError::read_vote(&e))?)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Buffered: a committed id lost to a power failure is only a hint missing; the
        // leader tells the node again, and nothing acknowledged depends on it.
        self.put_meta(
            keys::COMMITTED,
            "committed log id",
            &committed,
            Durability::Buffered,
        )
        .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let committed: Option<Option<LogId>> = self
            .storage
            .get(keys::LOG_META_CF, keys::COMMITTED, || {
                "committed log id".into()
            })
            .map_err(|e| StorageIOError::read_logs(&e))?;
        Ok(committed.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // The callback tells openraft the entries are durable, so it comes only after
        // the synced write; a failed write is reported both ways and stops the node.
        match self.append_synced(entries.into_iter()) {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(error) => {
                callback.log_io_completed(Err(std::io::Error::other(error.to_string())));
                Err(StorageIOError::write_logs(&error).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let start = keys::log_entry(log_id.index);
        self.delete_range(&start, &keys::log_end(), "log truncation")
            .map_err(|e| StorageIOError::new(ErrorSubject::Log(log_id), ErrorVerb::Delete, &e))?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Never purge past what the state machine holds: see the method's comment.
        self.storage
            .wait_until_state_machine_covers(log_id.index)
            .await
            .map_err(|e| StorageIOError::new(ErrorSubject::Log(log_id), ErrorVerb::Delete, &e))?;
        // Record the purge point first: a crash between the two writes then leaves
        // entries that are merely unreachable, never a log state that forgot them.
        // This write must stay synced: syncing the shared write-ahead log also makes the
        // state machine's buffered applies durable before the entries behind them go.
        self.put_meta(
            keys::LAST_PURGED,
            "last purged log id",
            &log_id,
            Durability::Synced,
        )
        .map_err(|e| StorageIOError::write_logs(&e))?;
        let end = keys::log_end_after(log_id.index);
        self.delete_range(&keys::log_entry(0), &end, "log purge")
            .map_err(|e| StorageIOError::new(ErrorSubject::Log(log_id), ErrorVerb::Delete, &e))?;
        Ok(())
    }
}

/// Whether a metadata write waits for the disk.
#[derive(Debug, Clone, Copy)]
enum Durability {
    Synced,
    Buffered,
}
