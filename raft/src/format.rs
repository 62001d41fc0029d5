//! The version of the persisted format, stamped in `log_meta` (`keys::FORMAT`). A new
//! database gets this build's version; an older one is upgraded in place, one step at a
//! time, each step and its new stamp in one synced batch, so a crash mid-upgrade leaves
//! a database the next start upgrades again from where it stopped; a newer one is refused,
//! since this build cannot know what it holds.
//!
//! Versions:
//! - 0: everything written before the stamp existed (no `format` key);
//! - 1: the same layout, stamped;
//! - 2: adds the waiting-approval index (`keys::waiting_approval`), built from the
//!   active-task index on upgrade;
//! - 3: adds the owned-task, due and unplaced indexes (`keys::owned_task`,
//!   `keys::due_task`, `keys::unplaced_task`), built the same way.

use std::path::Path;

use rocksdb::WriteBatch;

use crate::codec;
use crate::error::Error;
use crate::keys;
use crate::storage::Storage;

/// The format this build writes.
pub const CURRENT: u32 = 3;

/// The database's format version: the stamp, or 0 when an unstamped database holds data.
/// `None` for an empty one.
pub fn stored(storage: &Storage) -> Result<Option<u32>, Error> {
    if let Some(version) = storage.get::<u32>(keys::LOG_META_CF, keys::FORMAT, || {
        "storage format".to_owned()
    })? {
        return Ok(Some(version));
    }
    for cf in keys::ALL_CFS {
        let handle = storage.cf(cf)?;
        let mut entries = storage
            .db()
            .iterator_cf(handle, rocksdb::IteratorMode::Start);
        if entries
            .next()
            .transpose()
            .map_err(|source| Error::Read {
                what: format!("column family {cf}"),
                source,
            })?
            .is_some()
        {
            return Ok(Some(0));
        }
    }
    Ok(None)
}

/// Stamps a new database, upgrades an older one, refuses a newer one.
pub(crate) fn open(storage: &Storage, path: &Path) -> Result<(), Error> {
    let mut version = match stored(storage)? {
        None => return stamp(storage, CURRENT),
        Some(version) if version > CURRENT => {
            return Err(Error::NewerFormat {
                path: path.to_owned(),
                found: version,
                supported: CURRENT,
            });
        }
        Some(version) => version,
    };
    while version < CURRENT {
        let batch = upgrade_step(storage, version)?;
        let next = version + 1;
        write_stamped(storage, batch, next)?;
        tracing::info!(
            path = %path.display(),
            from = version,
            to = next,
            "upgraded the storage format"
        );
        version = next;
    }
    Ok(())
}

/// What upgrading from `version` to the next changes, besides the stamp.
fn upgrade_step(storage: &Storage, version: u32) -> Result<WriteBatch, Error> {
    match version {
        // Format 1 only adds the stamp.
        0 => Ok(WriteBatch::default()),
        // Each builds the derived indexes from the active-task index; entries of an index
        // an earlier step built are written again as they were.
        1 | 2 => derived_indexes(storage),
        _ => unreachable!("no upgrade from format {version}: CURRENT is {CURRENT}"),
    }
}

/// The derived indexes (`crate::derived`), from the active-task index.
fn derived_indexes(storage: &Storage) -> Result<WriteBatch, Error> {
    let cf = storage.cf(keys::SM_CF)?;
    let (start, end) = keys::active_tasks();
    let mut options = rocksdb::ReadOptions::default();
    options.set_iterate_lower_bound(start);
    options.set_iterate_upper_bound(end);
    let mut active = Vec::new();
    for item in storage
        .db()
        .iterator_cf_opt(cf, options, rocksdb::IteratorMode::Start)
    {
        let (key, value) = item.map_err(|source| Error::Read {
            what: "active-task index".into(),
            source,
        })?;
        active.push((key, value));
    }
    let records = active.iter().map(|(key, value)| (&key[..], &value[..]));
    let mut batch = WriteBatch::default();
    for (key, value) in crate::derived::entries_for(records)? {
        batch.put_cf(cf, key, value);
    }
    Ok(batch)
}

fn stamp(storage: &Storage, version: u32) -> Result<(), Error> {
    write_stamped(storage, WriteBatch::default(), version)
}

fn write_stamped(storage: &Storage, mut batch: WriteBatch, version: u32) -> Result<(), Error> {
    let bytes = codec::encode(|| "storage format".to_owned(), &version)?;
    batch.put_cf(storage.cf(keys::LOG_META_CF)?, keys::FORMAT, bytes);
    storage.write_synced(batch, || format!("storage format {version}"))
}
