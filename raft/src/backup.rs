//! Backups: a node's whole state machine (tasks, journals, configuration, identities and
//! the audit chain with its checkpoints), read from one RocksDB snapshot, in a file that
//! says where it is damaged; and a new single-node data directory seeded from one.
//!
//! File layout: [`MAGIC`], then frames. A frame is its payload's length (4 bytes,
//! big-endian), the payload's SHA-256 (32 bytes) and the payload: one bincode [`Frame`].
//! The first frame is the header, then entries frames of up to [`FRAME_BYTES`] of keys and
//! values, then the end frame, which counts the entries and hashes them all, so a file cut
//! at a frame boundary is caught too.

use std::io::{Read, Write};
use std::path::Path;

use rocksdb::{IteratorMode, WriteBatch};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warden_core::{AuditHead, Hash};

use crate::codec;
use crate::error::Error;
use crate::format;
use crate::keys;
use crate::storage::Storage;
use crate::types::{LogId, StoredMembership};

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"WDNBKUP1";

/// The most key and value bytes one entries frame holds.
pub const FRAME_BYTES: usize = 1 << 20;

/// The largest frame a reader accepts (an entries frame, plus one oversized value).
const MAX_FRAME: u32 = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    Header(Header),
    Entries(Vec<(Vec<u8>, Vec<u8>)>),
    End { entries: u64, digest: Hash },
}

/// What a backup is of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The storage format of the node that wrote it.
    pub format: u32,
    /// The last log entry its state holds.
    pub applied: Option<LogId>,
    pub membership: StoredMembership,
    /// The audit chain's head in it.
    pub audit_head: AuditHead,
    /// When it was taken, by the node's clock (ms since the epoch).
    pub taken_ms: u64,
}

/// A backup read and checked: its header and the state machine's keys and values.
#[derive(Debug)]
pub struct Backup {
    pub header: Header,
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Writes the backup of `storage`'s state machine, as of one RocksDB snapshot, to `out`;
/// returns its header.
pub fn write(storage: &Storage, taken_ms: u64, out: &mut impl Write) -> Result<Header, Error> {
    let cf = storage.cf(keys::SM_CF)?;
    let snapshot = storage.db().snapshot();
    let decoded = |key: &[u8], what: &str| -> Result<Option<Vec<u8>>, Error> {
        snapshot.get_cf(cf, key).map_err(|source| Error::Read {
            what: what.to_owned(),
            source,
        })
    };
    let applied = decoded(keys::APPLIED, "applied log id")?
        .map(|bytes| codec::decode::<LogId>(|| "applied log id".into(), &bytes))
        .transpose()?;
    let membership = decoded(keys::MEMBERSHIP, "last membership")?
        .map(|bytes| codec::decode::<StoredMembership>(|| "last membership".into(), &bytes))
        .transpose()?
        .unwrap_or_default();
    let audit_head = decoded(keys::AUDIT_HEAD, "audit head")?
        .map(|bytes| codec::decode::<AuditHead>(|| "audit head".into(), &bytes))
        .transpose()?
        .unwrap_or_default();
    let header = Header {
        format: format::CURRENT,
        applied,
        membership,
        audit_head,
        taken_ms,
    };
    let io = |source: std::io::Error| Error::Backup {
        offset: 0,
        reason: format!("writing the backup failed: {source}"),
    };
    out.write_all(MAGIC).map_err(io)?;
    write_frame(out, &Frame::Header(header.clone()))?;
    let mut digest = Sha256::new();
    let mut count = 0u64;
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    for item in snapshot.iterator_cf(cf, IteratorMode::Start) {
        let (key, value) = item.map_err(|source| Error::Read {
            what: "state machine".into(),
            source,
        })?;
        // Derived indexes are rebuilt by whoever restores it.
        if crate::derived::is_derived(&key) {
            continue;
        }
        absorb(&mut digest, &key, &value);
        count += 1;
        batch_bytes += key.len() + value.len();
        batch.push((key.into_vec(), value.into_vec()));
        if batch_bytes >= FRAME_BYTES {
            write_frame(out, &Frame::Entries(std::mem::take(&mut batch)))?;
            batch_bytes = 0;
        }
    }
    if !batch.is_empty() {
        write_frame(out, &Frame::Entries(batch))?;
    }
    write_frame(
        out,
        &Frame::End {
            entries: count,
            digest: Hash(digest.finalize().into()),
        },
    )?;
    out.flush().map_err(io)?;
    Ok(header)
}

/// Reads and checks a whole backup: every frame's hash, their order, the count and
/// digest of the entries. A damaged or cut file is refused naming the byte offset of the
/// frame (or field) where it goes wrong.
pub fn read(input: &mut impl Read) -> Result<Backup, Error> {
    let mut offset = 0u64;
    let mut magic = [0u8; 8];
    read_exact(input, &mut magic, offset, "the file's magic bytes")?;
    if &magic != MAGIC {
        return Err(bad(0, "not a Warden backup (wrong magic bytes)"));
    }
    offset += MAGIC.len() as u64;
    let (header, next) = match read_frame(input, offset)? {
        (Frame::Header(header), next) => (header, next),
        _ => return Err(bad(offset, "the first frame is not the header")),
    };
    offset = next;
    if header.format > format::CURRENT {
        return Err(bad(
            MAGIC.len() as u64,
            &format!(
                "written in storage format {}, newer than the {} this warden reads",
                header.format,
                format::CURRENT
            ),
        ));
    }
    let mut entries = Vec::new();
    let mut digest = Sha256::new();
    loop {
        let at = offset;
        let (frame, next) = read_frame(input, offset)?;
        offset = next;
        match frame {
            Frame::Entries(batch) => {
                for (key, value) in &batch {
                    absorb(&mut digest, key, value);
                }
                entries.extend(batch);
            }
            Frame::End {
                entries: count,
                digest: expected,
            } => {
                let found = Hash(digest.finalize().into());
                if count != entries.len() as u64 || found != expected {
                    return Err(bad(
                        at,
                        &format!(
                            "the end frame counts {count} entries, the file holds {}, or \
                             their digest differs",
                            entries.len()
                        ),
                    ));
                }
                let mut rest = [0u8; 1];
                if input
                    .read(&mut rest)
                    .map_err(|e| bad(offset, &e.to_string()))?
                    != 0
                {
                    return Err(bad(offset, "bytes follow the end frame"));
                }
                return Ok(Backup { header, entries });
            }
            Frame::Header(_) => return Err(bad(at, "a second header frame")),
        }
    }
}

/// Seeds a new data directory at `path` from `backup`: the state machine as it was, the
/// log empty up to the backup's last entry, and a membership of `node` alone at `addr`, so
/// the node started on it leads a one-node cluster that others then join. The directory
/// is written beside `path` first and renamed into place only once its audit chain (and
/// every checkpoint) verifies.
pub async fn restore(
    backup: Backup,
    path: &Path,
    node: u64,
    addr: &str,
) -> Result<crate::AuditVerification, Error> {
    if path.exists() && path.read_dir().map_or(true, |mut dir| dir.next().is_some()) {
        return Err(bad(
            0,
            &format!(
                "{} exists and is not empty: restore into a new directory",
                path.display()
            ),
        ));
    }
    let staging = path.with_extension("restoring");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|source| Error::Backup {
            offset: 0,
            reason: format!("removing the leftover {}: {source}", staging.display()),
        })?;
    }
    let verification = {
        let storage = Storage::open(&staging)?;
        seed(&storage, &backup, node, addr)?;
        let verification = storage.reader().verify_audit()?;
        if let Some((index, problem)) = &verification.failure {
            drop(storage);
            let _ = std::fs::remove_dir_all(&staging);
            return Err(bad(
                0,
                &format!("its audit chain does not verify at record {index}: {problem}"),
            ));
        }
        use openraft::RaftSnapshotBuilder;
        use openraft::storage::RaftStateMachine;
        storage
            .state_machine()?
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .map_err(|error| Error::Backup {
                offset: 0,
                reason: format!("building the restored node's first snapshot: {error}"),
            })?;
        verification
    };
    if path.exists() {
        std::fs::remove_dir(path).map_err(|source| Error::Backup {
            offset: 0,
            reason: format!("replacing the empty {}: {source}", path.display()),
        })?;
    }
    std::fs::rename(&staging, path).map_err(|source| Error::Backup {
        offset: 0,
        reason: format!(
            "moving the restored directory to {}: {source}",
            path.display()
        ),
    })?;
    Ok(verification)
}

/// One synced batch: the image, the new membership, the log purged up to the applied id.
fn seed(storage: &Storage, backup: &Backup, node: u64, addr: &str) -> Result<(), Error> {
    if let Some((key, _)) = backup.entries.iter().find(|(key, _)| !keys::is_sm_key(key)) {
        return Err(bad(0, &format!("it holds the foreign key {key:?}")));
    }
    let Some(applied) = backup.header.applied else {
        return Err(bad(
            0,
            "it holds an empty state machine: nothing to restore",
        ));
    };
    let sm = storage.cf(keys::SM_CF)?;
    let mut batch = WriteBatch::default();
    for (key, value) in &backup.entries {
        if !crate::derived::is_derived(key) {
            batch.put_cf(sm, key, value);
        }
    }
    let entries = backup
        .entries
        .iter()
        .map(|(key, value)| (key.as_slice(), value.as_slice()));
    for (key, value) in crate::derived::entries_for(entries)? {
        batch.put_cf(sm, key, value);
    }
    let nodes = std::collections::BTreeMap::from([(node, openraft::BasicNode::new(addr))]);
    let voters = std::collections::BTreeSet::from([node]);
    let membership = StoredMembership::new(
        Some(applied),
        openraft::Membership::new(vec![voters], nodes),
    );
    batch.put_cf(
        sm,
        keys::MEMBERSHIP,
        codec::encode(|| "last membership".into(), &membership)?,
    );
    // The log is empty up to the applied entry, which counts as committed; the node has
    // voted for itself in that entry's term, so its first election opens the next one.
    let meta = storage.cf(keys::LOG_META_CF)?;
    batch.put_cf(
        meta,
        keys::LAST_PURGED,
        codec::encode(|| "last purged log id".into(), &applied)?,
    );
    batch.put_cf(
        meta,
        keys::COMMITTED,
        codec::encode(|| "committed log id".into(), &Some(applied))?,
    );
    let vote = openraft::Vote::new(applied.leader_id.term, node);
    batch.put_cf(meta, keys::VOTE, codec::encode(|| "vote".into(), &vote)?);
    storage.write_synced(batch, || "the restored state".into())
}

fn absorb(digest: &mut Sha256, key: &[u8], value: &[u8]) {
    digest.update((key.len() as u64).to_be_bytes());
    digest.update(key);
    digest.update((value.len() as u64).to_be_bytes());
    digest.update(value);
}

fn write_frame(out: &mut impl Write, frame: &Frame) -> Result<(), Error> {
    let payload = codec::encode(|| "backup frame".into(), frame)?;
    let length = u32::try_from(payload.len()).map_err(|_| bad(0, "a frame over 4 GiB"))?;
    let io = |source: std::io::Error| Error::Backup {
        offset: 0,
        reason: format!("writing the backup failed: {source}"),
    };
    out.write_all(&length.to_be_bytes()).map_err(io)?;
    out.write_all(&Sha256::digest(&payload)).map_err(io)?;
    out.write_all(&payload).map_err(io)
}

/// The frame at `offset` and the offset after it.
fn read_frame(input: &mut impl Read, offset: u64) -> Result<(Frame, u64), Error> {
    let mut length = [0u8; 4];
    read_exact(input, &mut length, offset, "a frame's length")?;
    let length = u32::from_be_bytes(length);
    if length > MAX_FRAME {
        return Err(bad(offset, &format!("a frame claims {length} bytes")));
    }
    let mut hash = [0u8; 32];
    read_exact(input, &mut hash, offset + 4, "a frame's hash")?;
    let mut payload = vec![0u8; length as usize];
    read_exact(input, &mut payload, offset + 36, "a frame's payload")?;
    if Sha256::digest(&payload).as_slice() != hash {
        return Err(bad(offset, "the frame's hash does not match its bytes"));
    }
    let frame = codec::decode(|| "backup frame".into(), &payload)
        .map_err(|error| bad(offset, &format!("the frame does not decode: {error}")))?;
    Ok((frame, offset + 36 + u64::from(length)))
}

fn read_exact(input: &mut impl Read, buf: &mut [u8], offset: u64, what: &str) -> Result<(), Error> {
    input.read_exact(buf).map_err(|error| match error.kind() {
        std::io::ErrorKind::UnexpectedEof => bad(offset, &format!("the file ends inside {what}")),
        _ => bad(offset, &format!("reading {what}: {error}")),
    })
}

fn bad(offset: u64, reason: &str) -> Error {
    Error::Backup {
        offset,
        reason: reason.to_owned(),
    }
}
