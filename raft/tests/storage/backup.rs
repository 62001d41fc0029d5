//! Backups: a file read back holds exactly the state it was taken from; a cut or damaged
//! file is refused naming the byte offset; a restored directory holds the same tasks,
//! journals and audit chain under a one-node membership, and is not created at all when
//! the backup's chain does not verify.

use std::path::Path;

use openraft::storage::{RaftLogStorage, RaftStateMachine};
use warden_core::AuditRecord;
use warden_raft::backup::{self, Frame};
use warden_raft::{Error, Storage, codec, keys};

use crate::fixtures::{TestResult, log_id, ws};
use crate::format::write_history;

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// A backup of the fixture history.
async fn taken() -> Result<(tempfile::TempDir, Storage, Vec<u8>), Boxed> {
    let dir = tempfile::tempdir()?;
    write_history(dir.path()).await?;
    let storage = Storage::open(dir.path())?;
    let mut file = Vec::new();
    let header = backup::write(&storage, 42, &mut file)?;
    assert_eq!(header.applied, Some(log_id(1, 10)));
    assert_eq!(header.audit_head.count, 8);
    Ok((dir, storage, file))
}

/// Tasks, journals and audit records, as a reader sees them.
fn state(storage: &Storage) -> Result<String, Boxed> {
    let reader = storage.reader();
    let (tasks, _) = reader.tasks_page(&ws("acme"), None, 100)?;
    let journals = tasks
        .iter()
        .map(|task| reader.journal(&ws("acme"), &task.id, 0, 100))
        .collect::<Result<Vec<_>, _>>()?;
    let audit = reader.audit_range(1, 1_000)?;
    let agents = reader.agents(&ws("acme"))?;
    Ok(format!("{tasks:?}\n{journals:?}\n{audit:?}\n{agents:?}"))
}

fn offset_of(error: &Error) -> u64 {
    match error {
        Error::Backup { offset, .. } => *offset,
        other => panic!("not a backup refusal: {other:?}"),
    }
}

#[tokio::test]
async fn a_restored_directory_holds_the_same_state_under_a_one_node_membership() -> TestResult {
    let (_source_dir, source, file) = taken().await?;
    let read = backup::read(&mut file.as_slice())?;
    let target = tempfile::tempdir()?;
    let path = target.path().join("restored");
    let verification = backup::restore(read, &path, 7, "127.0.0.1:7777").await?;
    assert_eq!(verification.record_count, 8);
    assert!(verification.failure.is_none(), "{verification:?}");

    let restored = Storage::open(&path)?;
    assert_eq!(state(&restored)?, state(&source)?);
    let mut machine = restored.state_machine()?;
    let (applied, membership) = machine.applied_state().await?;
    assert_eq!(applied, Some(log_id(1, 10)));
    assert_eq!(membership.voter_ids().collect::<Vec<_>>(), vec![7]);
    let mut log = restored.log_store();
    let log_state = log.get_log_state().await?;
    assert_eq!(
        (log_state.last_purged_log_id, log_state.last_log_id),
        (Some(log_id(1, 10)), Some(log_id(1, 10)))
    );
    assert!(
        machine.get_current_snapshot().await?.is_some(),
        "a snapshot for joiners"
    );

    // A non-empty directory is never written over.
    let again = backup::read(&mut file.as_slice())?;
    let error = match backup::restore(again, &path, 7, "127.0.0.1:7777").await {
        Ok(_) => return Err("restored over an existing directory".into()),
        Err(error) => error,
    };
    assert!(error.to_string().contains("is not empty"), "{error}");
    Ok(())
}

#[tokio::test]
async fn a_cut_or_damaged_file_is_refused_naming_the_offset() -> TestResult {
    let (_dir, _storage, file) = taken().await?;
    // Every cut, at a frame boundary or inside one, is refused within the file.
    for length in 0..file.len() {
        let error = match backup::read(&mut &file[..length]) {
            Ok(_) => return Err(format!("a file cut at {length} was read").into()),
            Err(error) => error,
        };
        assert!(
            offset_of(&error) <= length as u64,
            "cut at {length}: {error}"
        );
        assert!(error.to_string().contains("at byte"), "{error}");
    }
    // A flipped byte in the first entries frame is refused at that frame's offset.
    let header_length = u32::from_be_bytes(file[8..12].try_into()?) as usize;
    let entries_frame = 8 + 36 + header_length;
    let mut damaged = file.clone();
    damaged[entries_frame + 36 + 10] ^= 0x01;
    let error = backup::read(&mut damaged.as_slice())
        .err()
        .ok_or("damage was read")?;
    assert_eq!(offset_of(&error), entries_frame as u64, "{error}");
    // Trailing bytes are refused too.
    let mut longer = file.clone();
    longer.push(0);
    let error = backup::read(&mut longer.as_slice())
        .err()
        .ok_or("tail was read")?;
    assert_eq!(offset_of(&error), file.len() as u64, "{error}");
    Ok(())
}

#[tokio::test]
async fn a_backup_whose_chain_was_rewritten_is_not_restored() -> TestResult {
    let (_dir, _storage, file) = taken().await?;
    let mut read = backup::read(&mut file.as_slice())?;
    // Rewrite record 5 consistently with its frame: only the chain can tell.
    let key = keys::audit_record(5);
    let (_, value) = read
        .entries
        .iter_mut()
        .find(|(k, _)| *k == key)
        .ok_or("no record 5")?;
    let mut record: AuditRecord = codec::decode(|| "record".into(), value)?;
    record.principal = "user/mallory".to_owned();
    *value = codec::encode(|| "record".into(), &record)?;
    // Written and read again, so the frames' hashes match the rewrite.
    let mut rewritten = Vec::new();
    rewritten.extend_from_slice(backup::MAGIC);
    for frame in [
        Frame::Header(read.header.clone()),
        Frame::Entries(read.entries.clone()),
    ] {
        push_frame(&mut rewritten, &frame)?;
    }
    let end = end_frame(&read.entries);
    push_frame(&mut rewritten, &end)?;
    let reread = backup::read(&mut rewritten.as_slice())?;

    let target = tempfile::tempdir()?;
    let path = target.path().join("restored");
    let error = match backup::restore(reread, &path, 1, "127.0.0.1:7001").await {
        Ok(_) => return Err("a rewritten chain was restored".into()),
        Err(error) => error,
    };
    assert!(
        error.to_string().contains("does not verify at record 5"),
        "{error}"
    );
    assert!(!path.exists() && !Path::new(&path.with_extension("restoring")).exists());
    Ok(())
}

fn push_frame(out: &mut Vec<u8>, frame: &Frame) -> TestResult {
    use sha2::{Digest, Sha256};
    let payload = codec::encode(|| "frame".into(), frame)?;
    out.extend_from_slice(&u32::try_from(payload.len())?.to_be_bytes());
    out.extend_from_slice(&Sha256::digest(&payload));
    out.extend_from_slice(&payload);
    Ok(())
}

fn end_frame(entries: &[(Vec<u8>, Vec<u8>)]) -> Frame {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    for (key, value) in entries {
        digest.update((key.len() as u64).to_be_bytes());
        digest.update(key);
        digest.update((value.len() as u64).to_be_bytes());
        digest.update(value);
    }
    Frame::End {
        entries: entries.len() as u64,
        digest: warden_core::Hash(digest.finalize().into()),
    }
}
