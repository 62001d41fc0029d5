//! What the log store persists survives closing and reopening the database.

use openraft::Vote;
use openraft::storage::{RaftLogReader, RaftLogStorage, RaftLogStorageExt};
use warden_raft::Storage;
use warden_raft::types::Entry;

use crate::fixtures::{TestResult, blank, create, log_id, membership, open_temp, submit};

fn entries() -> Vec<Entry> {
    vec![
        blank(1),
        membership(2, &[1]),
        create(3, "acme"),
        submit(4, "acme", 1, "k", "in"),
        blank(5),
    ]
}

#[tokio::test]
async fn log_vote_and_committed_survive_a_reopen() -> TestResult {
    let (dir, storage) = open_temp()?;
    let mut log = storage.log_store();
    log.blocking_append(entries()).await?;
    log.save_vote(&Vote::new(3, 1)).await?;
    log.save_committed(Some(log_id(1, 4))).await?;
    drop((log, storage));

    let mut log = Storage::open(dir.path())?.log_store();
    assert_eq!(log.read_vote().await?, Some(Vote::new(3, 1)));
    assert_eq!(log.read_committed().await?, Some(log_id(1, 4)));
    let state = log.get_log_state().await?;
    assert_eq!(
        (state.last_purged_log_id, state.last_log_id),
        (None, Some(log_id(1, 5)))
    );
    assert_eq!(log.try_get_log_entries(..).await?, entries());
    assert_eq!(
        log.try_get_log_entries(2..=3).await?,
        entries()[1..3].to_vec()
    );
    Ok(())
}

#[tokio::test]
async fn purge_and_truncate_survive_a_reopen() -> TestResult {
    let (dir, storage) = open_temp()?;
    let mut log = storage.log_store();
    log.blocking_append(entries()).await?;
    log.purge(log_id(1, 2)).await?;
    drop((log, storage));

    let mut log = Storage::open(dir.path())?.log_store();
    let state = log.get_log_state().await?;
    assert_eq!(
        (state.last_purged_log_id, state.last_log_id),
        (Some(log_id(1, 2)), Some(log_id(1, 5)))
    );
    assert_eq!(log.try_get_log_entries(..).await?, entries()[2..].to_vec());
    log.truncate(log_id(1, 4)).await?;
    drop(log);

    let mut log = Storage::open(dir.path())?.log_store();
    assert_eq!(log.try_get_log_entries(..).await?, entries()[2..3].to_vec());
    log.purge(log_id(1, 3)).await?;
    drop(log);

    // With every entry purged the log state still knows where the log ended.
    let mut log = Storage::open(dir.path())?.log_store();
    let state = log.get_log_state().await?;
    assert_eq!(
        (state.last_purged_log_id, state.last_log_id),
        (Some(log_id(1, 3)), Some(log_id(1, 3)))
    );
    assert!(log.try_get_log_entries(..).await?.is_empty());
    Ok(())
}
