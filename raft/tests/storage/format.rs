//! The persisted format's version: a directory written by an older build is upgraded in
//! place and then reads exactly as one this build wrote; a newer one is refused, naming
//! the directory and both versions. The older directory is a fixture, written once by the
//! build of its format (`write_format_fixture`) and kept in `raft/tests/fixtures/`.

use std::path::{Path, PathBuf};

use openraft::RaftSnapshotBuilder;
use openraft::Vote;
use openraft::storage::{RaftLogReader, RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use warden_core::{Command, TaskId};
use warden_raft::types::Entry;
use warden_raft::{Storage, codec, format, keys};

use crate::fixtures::{
    TestResult, blank, create, log_id, membership, normal, provider_and_agent, submit, ws,
};

/// What every fixture holds: a workspace with a provider and an agent, three tasks (one
/// cancelled), a snapshot, and a log purged up to the snapshot's first half.
fn history() -> Vec<Entry> {
    let mut entries = vec![blank(1), membership(2, &[1]), create(3, "acme")];
    entries.extend(provider_and_agent(4, "acme"));
    entries.push(submit(6, "acme", 1, "k1", "first"));
    entries.push(submit(7, "acme", 2, "k2", "second"));
    entries.push(normal(
        8,
        Command::CancelTask {
            workspace: ws("acme"),
            task: TaskId::from_u128(1),
            reason: "not needed".to_owned(),
        },
    ));
    entries.push(submit(9, "acme", 3, "k3", "third"));
    entries.push(blank(10));
    entries
}

/// Writes [`history`] into a database at `dir` as a node would: appended, committed,
/// applied, snapshotted and purged.
pub async fn write_history(dir: &Path) -> TestResult {
    let storage = Storage::open(dir)?;
    let mut log = storage.log_store();
    log.save_vote(&Vote::new_committed(1, 1)).await?;
    log.blocking_append(history()).await?;
    log.save_committed(Some(log_id(1, 10))).await?;
    let mut machine = storage.state_machine()?;
    machine.apply(history()).await?;
    machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await?;
    log.purge(log_id(1, 5)).await?;
    Ok(())
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn tar(args: &[&str]) -> TestResult {
    let status = std::process::Command::new("tar").args(args).status()?;
    if !status.success() {
        return Err(format!("tar {args:?}: {status}").into());
    }
    Ok(())
}

/// Everything a node reads back from a database: log, vote, committed, tasks and
/// journals, the audit chain and the snapshot's metadata.
async fn contents(storage: &Storage) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let mut log = storage.log_store();
    let state = log.get_log_state().await?;
    let entries = log.try_get_log_entries(..).await?;
    let vote = log.read_vote().await?;
    let committed = log.read_committed().await?;
    let mut machine = storage.state_machine()?;
    let (applied, membership) = machine.applied_state().await?;
    // The id's sequence number tells apart builds; what the snapshot holds must match.
    let snapshot = machine.get_current_snapshot().await?.map(|snapshot| {
        let image = warden_core::Hash::of(snapshot.snapshot.get_ref());
        let meta = snapshot.meta;
        (meta.last_log_id, meta.last_membership, image)
    });
    let reader = storage.reader();
    let (tasks, _) = reader.tasks_page(&ws("acme"), None, 100)?;
    let journals = tasks
        .iter()
        .map(|task| reader.journal(&ws("acme"), &task.id, 0, 100))
        .collect::<Result<Vec<_>, _>>()?;
    let verification = reader.verify_audit()?;
    let audit = reader.audit_range(1, 1_000)?;
    Ok(format!(
        "{state:?}\n{entries:?}\n{vote:?}\n{committed:?}\n{applied:?}\n{membership:?}\n\
         {snapshot:?}\n{tasks:?}\n{journals:?}\n{:?} {:?} {:?}\n{audit:?}",
        verification.record_count, verification.head_hash, verification.failure
    ))
}

/// Run by hand when the format changes, with `WARDEN_FORMAT_FIXTURE` naming the archive
/// to write (e.g. `raft/tests/fixtures/format-1.tar.gz`).
#[tokio::test]
#[ignore = "writes a fixture: run by hand with WARDEN_FORMAT_FIXTURE=PATH when the format changes"]
async fn write_format_fixture() -> TestResult {
    let out = std::env::var("WARDEN_FORMAT_FIXTURE")?;
    let dir = tempfile::tempdir()?;
    write_history(&dir.path().join("data")).await?;
    let parent = dir.path().display().to_string();
    tar(&["czf", &out, "-C", &parent, "data"])
}

#[tokio::test]
async fn every_older_format_is_upgraded_in_place_and_reads_as_this_build_writes() -> TestResult {
    let written = tempfile::tempdir()?;
    write_history(written.path()).await?;
    let fresh = Storage::open(written.path())?;
    assert_eq!(format::stored(&fresh)?, Some(format::CURRENT));
    let expected = contents(&fresh).await?;
    assert!(expected.contains("\"third\""), "{expected}");
    for version in 0..format::CURRENT {
        let dir = tempfile::tempdir()?;
        let archive = fixtures()
            .join(format!("format-{version}.tar.gz"))
            .display()
            .to_string();
        tar(&["xzf", &archive, "-C", &dir.path().display().to_string()])?;
        let old = dir.path().join("data");

        let upgraded = Storage::open(&old)?;
        assert_eq!(
            format::stored(&upgraded)?,
            Some(format::CURRENT),
            "from {version}"
        );
        assert_eq!(contents(&upgraded).await?, expected, "from {version}");

        // Opening it again changes nothing.
        drop(upgraded);
        let again = Storage::open(&old)?;
        assert_eq!(format::stored(&again)?, Some(format::CURRENT));
        assert_eq!(contents(&again).await?, expected, "from {version}");
    }
    Ok(())
}

#[tokio::test]
async fn a_new_directory_is_stamped_and_a_newer_format_is_refused_naming_both_versions()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    assert_eq!(format::stored(&storage)?, Some(format::CURRENT));
    drop(storage);

    // As a later build would stamp it.
    let newer = format::CURRENT + 1;
    {
        let mut options = rocksdb::Options::default();
        options.create_missing_column_families(true);
        let db = rocksdb::DB::open_cf(&options, dir.path(), keys::ALL_CFS)?;
        let meta = db.cf_handle(keys::LOG_META_CF).ok_or("no log_meta")?;
        db.put_cf(
            meta,
            keys::FORMAT,
            codec::encode(|| "format".into(), &newer)?,
        )?;
    }
    let error = match Storage::open(dir.path()) {
        Ok(_) => return Err("a newer format was opened".into()),
        Err(error) => error,
    };
    assert!(
        matches!(error, warden_raft::Error::NewerFormat { found, supported, .. }
            if found == newer && supported == format::CURRENT),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&dir.path().display().to_string())
            && message.contains(&format!(
                "storage format {newer}, newer than the {}",
                format::CURRENT
            )),
        "{message}"
    );
    Ok(())
}
