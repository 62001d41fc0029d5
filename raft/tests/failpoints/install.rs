//! Installing a snapshot from the leader: the state machine and the current snapshot are
//! replaced by one synced write, so a fault on either side of it leaves the follower's
//! old state or the snapshot's, never a mix.

use std::io::Cursor;

use openraft::RaftSnapshotBuilder;
use openraft::storage::RaftStateMachine;
use warden_raft::Storage;
use warden_raft::failpoints::{SNAPSHOT_INSTALL_AFTER_WRITE, SNAPSHOT_INSTALL_BEFORE_WRITE};
use warden_raft::types::{Snapshot, SnapshotMeta};

use crate::fixtures::{
    TestResult, create, log_id, membership, open_temp, provider_and_agent, submit,
};
use crate::{View, assert_injected, crash, view};

/// The leader's snapshot at index 9 and the view it gives.
async fn leader_snapshot()
-> Result<(SnapshotMeta, Vec<u8>, View), Box<dyn std::error::Error + Send + Sync>> {
    let (_dir, storage) = open_temp()?;
    let mut machine = storage.state_machine()?;
    let mut entries = vec![membership(1, &[1, 2]), create(2, "acme")];
    entries.extend(provider_and_agent(3, "acme"));
    entries.extend([
        submit(5, "acme", 10, "a", "one"),
        submit(6, "acme", 20, "b", "two"),
        create(7, "beta"),
    ]);
    machine.apply(entries).await?;
    machine
        .apply([
            submit(8, "acme", 30, "c", "three"),
            submit(9, "acme", 40, "d", "four"),
        ])
        .await?;
    let snapshot = machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await?;
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(1, 9)));
    Ok((
        snapshot.meta,
        snapshot.snapshot.into_inner(),
        view(&storage)?,
    ))
}

/// A follower that applied the first two entries only, and its view.
async fn lagging_follower()
-> Result<(tempfile::TempDir, Storage, View), Box<dyn std::error::Error + Send + Sync>> {
    let (dir, storage) = open_temp()?;
    storage
        .state_machine()?
        .apply([membership(1, &[1, 2]), create(2, "acme")])
        .await?;
    let before = view(&storage)?;
    Ok((dir, storage, before))
}

/// The current snapshot's metadata, if any.
async fn current_meta(
    storage: &Storage,
) -> Result<Option<SnapshotMeta>, Box<dyn std::error::Error + Send + Sync>> {
    let current: Option<Snapshot> = storage.state_machine()?.get_current_snapshot().await?;
    Ok(current.map(|snapshot| snapshot.meta))
}

#[tokio::test]
async fn a_failed_install_is_a_snapshot_write_error() -> TestResult {
    let _scenario = fail::FailScenario::setup();
    let (meta, data, leader_view) = leader_snapshot().await?;
    for failpoint in [SNAPSHOT_INSTALL_BEFORE_WRITE, SNAPSHOT_INSTALL_AFTER_WRITE] {
        let (dir, storage, before) = lagging_follower().await?;
        let mut machine = storage.state_machine()?;
        let _receiving = machine.begin_receiving_snapshot().await?;
        fail::cfg(failpoint, "return")?;
        let error = machine
            .install_snapshot(&meta, Box::new(Cursor::new(data.clone())))
            .await
            .expect_err("the install succeeded past its failpoint");
        fail::remove(failpoint);
        assert!(
            error.to_string().starts_with("when Write Snapshot"),
            "{failpoint}: {error}"
        );
        assert_injected(&error, failpoint);
        drop((machine, storage));

        let storage = Storage::open(dir.path())?;
        let (expected_view, expected_meta) = if failpoint == SNAPSHOT_INSTALL_BEFORE_WRITE {
            (&before, None)
        } else {
            (&leader_view, Some(meta.clone()))
        };
        assert_eq!(view(&storage)?, *expected_view, "{failpoint}");
        assert_eq!(current_meta(&storage).await?, expected_meta, "{failpoint}");
    }
    Ok(())
}

#[tokio::test]
async fn a_crash_around_the_install_leaves_the_old_state_or_the_snapshot() -> TestResult {
    let _scenario = fail::FailScenario::setup();
    let (meta, data, leader_view) = leader_snapshot().await?;
    for failpoint in [SNAPSHOT_INSTALL_BEFORE_WRITE, SNAPSHOT_INSTALL_AFTER_WRITE] {
        let (dir, storage, before) = lagging_follower().await?;
        let mut machine = storage.state_machine()?;
        drop(storage);
        fail::cfg(failpoint, "panic")?;
        let (install_meta, install_data) = (meta.clone(), data.clone());
        crash(async move {
            let _receiving = machine.begin_receiving_snapshot().await;
            machine
                .install_snapshot(&install_meta, Box::new(Cursor::new(install_data)))
                .await
        })
        .await?;
        fail::remove(failpoint);

        let storage = Storage::open(dir.path())?;
        if failpoint == SNAPSHOT_INSTALL_BEFORE_WRITE {
            assert_eq!(view(&storage)?, before, "{failpoint}");
            assert_eq!(current_meta(&storage).await?, None, "{failpoint}");
            // The leader sends the snapshot again to the restarted follower.
            let mut machine = storage.state_machine()?;
            let _receiving = machine.begin_receiving_snapshot().await?;
            machine
                .install_snapshot(&meta, Box::new(Cursor::new(data.clone())))
                .await?;
        }
        assert_eq!(view(&storage)?, leader_view, "{failpoint} after recovery");
        assert_eq!(
            current_meta(&storage).await?,
            Some(meta.clone()),
            "{failpoint}"
        );
    }
    Ok(())
}
