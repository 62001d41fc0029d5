//! The waiting-approval index is derived: a format-1 database gains it when opened,
//! snapshots and backups leave it out, and installing either builds it from the
//! active-task index, never from what was sent.

use rocksdb::WriteBatch;
use warden_core::{TaskId, WorkspaceId};

use super::{TestResult, install_elsewhere, put_sm, seven_records};
use crate::active::ActiveTask;
use crate::storage::Storage;
use crate::{codec, format, keys};

fn acme() -> WorkspaceId {
    WorkspaceId::parse("acme").expect("valid workspace")
}

/// Marks task `id`'s active-task entry as waiting for an approval, writing it directly
/// (as a build that kept no waiting-approval index would leave it).
fn mark_waiting(storage: &Storage, id: u128) -> TestResult {
    let task = TaskId::from_u128(id);
    let (_, _, mut active) = storage
        .reader()
        .active_tasks()?
        .into_iter()
        .find(|(_, found, _)| *found == task)
        .ok_or("no such active task")?;
    active.approval = Some(("call-1".to_owned(), 99_000));
    let bytes = codec::encode(|| "active task".to_owned(), &active)?;
    put_sm(storage, &keys::active_task(&acme(), &task), &bytes)
}

fn waiting(storage: &Storage) -> Result<Vec<u128>, crate::Error> {
    Ok(storage
        .reader()
        .waiting_approvals_in(&acme())?
        .into_iter()
        .map(|id| id.as_u128())
        .collect())
}

#[tokio::test]
async fn a_format_1_database_gains_the_waiting_approval_index_when_opened() -> TestResult {
    let (dir, storage) = seven_records().await?;
    mark_waiting(&storage, 5)?;
    assert_eq!(
        waiting(&storage)?,
        Vec::<u128>::new(),
        "written around the index"
    );
    let mut batch = WriteBatch::default();
    batch.put_cf(
        storage.cf(keys::LOG_META_CF)?,
        keys::FORMAT,
        codec::encode(|| "format".to_owned(), &1u32)?,
    );
    storage.write_synced(batch, || "format 1".into())?;
    drop(storage);

    let upgraded = Storage::open(dir.path())?;
    assert_eq!(format::stored(&upgraded)?, Some(format::CURRENT));
    assert_eq!(waiting(&upgraded)?, [5]);
    Ok(())
}

#[tokio::test]
async fn snapshots_and_backups_leave_the_index_out_and_installs_rebuild_it() -> TestResult {
    let (_dir, storage) = seven_records().await?;
    mark_waiting(&storage, 5)?;
    // An entry no active task backs: an install must not take it as sent.
    put_sm(
        &storage,
        &keys::waiting_approval(&acme(), &TaskId::from_u128(6)),
        &[],
    )?;
    assert_eq!(waiting(&storage)?, [6]);

    let (image, _target, installed) = install_elsewhere(&storage).await?;
    assert!(image.iter().all(|(key, _)| !keys::is_waiting_approval(key)));
    assert!(image.iter().any(|(key, _)| key.first() == Some(&0x50)));
    assert_eq!(waiting(&installed)?, [5]);

    let mut file = Vec::new();
    crate::backup::write(&storage, 1, &mut file)?;
    let backup = crate::backup::read(&mut file.as_slice())?;
    assert!(
        backup
            .entries
            .iter()
            .all(|(key, _)| !keys::is_waiting_approval(key))
    );
    let restored_dir = tempfile::tempdir()?;
    let path = restored_dir.path().join("data");
    crate::backup::restore(backup, &path, 1, "127.0.0.1:1").await?;
    assert_eq!(waiting(&Storage::open(&path)?)?, [5]);
    Ok(())
}

#[test]
fn an_active_task_waits_in_the_index_only_while_it_has_an_approval() -> TestResult {
    let mut active = ActiveTask {
        status: warden_core::TaskStatus::WaitingApproval,
        agent: warden_core::AgentName::parse("bot")?,
        owner: None,
        epoch: 1,
        deadline_at_ms: 0,
        progress_ms: 0,
        stall_timeout_ms: 0,
        stalled: false,
        approval: Some(("c".to_owned(), 1)),
    };
    let key = keys::active_task(&acme(), &TaskId::from_u128(9));
    let bytes = codec::encode(|| "active".to_owned(), &active)?;
    let waiting = |bytes: &[u8]| -> Result<Vec<(Vec<u8>, Vec<u8>)>, crate::Error> {
        let derived = crate::derived::entries_for([(key.as_slice(), bytes)])?;
        Ok(derived
            .into_iter()
            .filter(|(key, _)| keys::is_waiting_approval(key))
            .collect())
    };
    assert_eq!(
        waiting(&bytes)?,
        [(
            keys::waiting_approval(&acme(), &TaskId::from_u128(9)),
            Vec::new()
        )]
    );
    active.approval = None;
    let bytes = codec::encode(|| "active".to_owned(), &active)?;
    assert!(waiting(&bytes)?.is_empty());
    Ok(())
}
