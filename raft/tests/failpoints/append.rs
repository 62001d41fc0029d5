//! Log appends: a failed append is a storage error and acknowledges nothing; a crash on
//! either side of its synced write leaves a log that reopens whole.

use openraft::Vote;
use openraft::storage::{RaftLogReader, RaftLogStorage, RaftLogStorageExt};
use warden_raft::Storage;
use warden_raft::failpoints::{LOG_APPEND_AFTER_SYNC, LOG_APPEND_BEFORE_SYNC};
use warden_raft::types::{Entry, LogId};

use crate::fixtures::{TestResult, blank, create, log_id, membership, open_temp, submit};
use crate::{assert_injected, crash};

/// Acknowledged before the fault.
fn acknowledged() -> Vec<Entry> {
    vec![blank(1), membership(2, &[1]), create(3, "acme")]
}

/// Being appended when the fault strikes.
fn in_flight() -> Vec<Entry> {
    vec![
        submit(4, "acme", 1, "k1", "one"),
        submit(5, "acme", 2, "k2", "two"),
        blank(6),
    ]
}

/// Appends [`acknowledged`] and records a vote and a committed log id.
async fn prepare(storage: &Storage) -> TestResult {
    let mut log = storage.log_store();
    log.blocking_append(acknowledged()).await?;
    log.save_vote(&Vote::new(2, 1)).await?;
    log.save_committed(Some(log_id(1, 3))).await?;
    Ok(())
}

/// Checks a reopened log: vote and committed id as saved, and exactly `entries`.
async fn assert_reopened(storage: &Storage, entries: &[Entry]) -> TestResult {
    let mut log = storage.log_store();
    assert_eq!(log.read_vote().await?, Some(Vote::new(2, 1)));
    assert_eq!(log.read_committed().await?, Some(log_id(1, 3)));
    let state = log.get_log_state().await?;
    let last: Option<LogId> = entries.last().map(|entry| entry.log_id);
    assert_eq!((state.last_purged_log_id, state.last_log_id), (None, last));
    assert_eq!(log.try_get_log_entries(..).await?, entries);
    Ok(())
}

/// What the log holds after the fault at `failpoint`: the in-flight batch is on disk
/// only when the fault came after its synced write, and then all of it.
fn expected_after(failpoint: &str) -> Vec<Entry> {
    let mut entries = acknowledged();
    if failpoint == LOG_APPEND_AFTER_SYNC {
        entries.extend(in_flight());
    }
    entries
}

#[tokio::test]
async fn a_failed_append_is_a_write_error_of_the_log() -> TestResult {
    let _scenario = fail::FailScenario::setup();
    for failpoint in [LOG_APPEND_BEFORE_SYNC, LOG_APPEND_AFTER_SYNC] {
        let (dir, storage) = open_temp()?;
        prepare(&storage).await?;
        fail::cfg(failpoint, "return")?;
        let error = storage
            .log_store()
            .blocking_append(in_flight())
            .await
            .expect_err("the append succeeded past its failpoint");
        fail::remove(failpoint);
        // openraft stops the node on this error; before that it reports the subject.
        assert!(
            error.to_string().starts_with("when Write Logs"),
            "{failpoint}: {error}"
        );
        assert_injected(&error, failpoint);
        drop(storage);

        let storage = Storage::open(dir.path())?;
        assert_reopened(&storage, &expected_after(failpoint)).await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_crash_around_the_synced_append_keeps_the_acknowledged_log() -> TestResult {
    let _scenario = fail::FailScenario::setup();
    for failpoint in [LOG_APPEND_BEFORE_SYNC, LOG_APPEND_AFTER_SYNC] {
        let (dir, storage) = open_temp()?;
        prepare(&storage).await?;
        fail::cfg(failpoint, "panic")?;
        let mut log = storage.log_store();
        drop(storage);
        crash(async move { log.blocking_append(in_flight()).await }).await?;
        fail::remove(failpoint);

        let storage = Storage::open(dir.path())?;
        assert_reopened(&storage, &expected_after(failpoint)).await?;
        // The restarted node goes on from there: the leader resends what it lacks.
        let mut log = storage.log_store();
        log.truncate(log_id(1, 4)).await?;
        log.blocking_append(in_flight()).await?;
        let mut all = acknowledged();
        all.extend(in_flight());
        assert_eq!(log.try_get_log_entries(..).await?, all, "{failpoint}");
    }
    Ok(())
}
