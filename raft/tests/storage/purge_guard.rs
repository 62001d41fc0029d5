//! A follower must never purge its log past what its state machine holds. openraft 0.9
//! purges up to a received snapshot in the same step that queues its install; a crash
//! between the two left a node that could not start again (found by the chaos tests:
//! "purge_upto 500 > snapshot_last_log_id 16" at start-up).

use std::time::Duration;

use openraft::RaftSnapshotBuilder;
use openraft::storage::{RaftLogReader, RaftLogStorage, RaftStateMachine};

use crate::fixtures::{
    TestResult, create, log_id, membership, open_temp, provider_and_agent, submit,
};

#[tokio::test]
async fn purge_waits_for_a_received_snapshot_to_be_installed() -> TestResult {
    // The leader's snapshot at index 8.
    let (_dir_a, leader) = open_temp()?;
    let mut leader_machine = leader.state_machine()?;
    let [provider, agent] = provider_and_agent(3, "acme");
    leader_machine
        .apply([
            membership(1, &[1, 2]),
            create(2, "acme"),
            provider,
            agent,
            submit(5, "acme", 30, "a", "one"),
        ])
        .await?;
    leader_machine
        .apply([
            submit(6, "acme", 40, "b", "two"),
            submit(7, "acme", 50, "c", "three"),
        ])
        .await?;
    leader_machine
        .apply([submit(8, "acme", 60, "d", "four")])
        .await?;
    let snapshot = leader_machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await?;
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(1, 8)));

    // A lagging follower receives it; openraft asks to purge the log up to 8 before the
    // state machine has installed anything.
    let (dir_b, follower) = open_temp()?;
    let mut follower_machine = follower.state_machine()?;
    let mut follower_log = follower.log_store();
    let _receiving = follower_machine.begin_receiving_snapshot().await?;
    {
        let mut purge = std::pin::pin!(follower_log.purge(log_id(1, 8)));
        let early = tokio::time::timeout(Duration::from_millis(300), purge.as_mut()).await;
        assert!(early.is_err(), "the purge went ahead of the install");

        let image = Box::new(std::io::Cursor::new(snapshot.snapshot.into_inner()));
        follower_machine
            .install_snapshot(&snapshot.meta, image)
            .await?;
        tokio::time::timeout(Duration::from_secs(10), purge).await??;
    }

    // Whatever survives a crash now is consistent: the snapshot covers the purge point.
    drop((follower_machine, follower_log, follower));
    let reopened = warden_raft::Storage::open(dir_b.path())?;
    let mut log = reopened.log_store();
    let state = log.get_log_state().await?;
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 8)));
    let mut machine = reopened.state_machine()?;
    let current = machine
        .get_current_snapshot()
        .await?
        .expect("a current snapshot");
    assert!(current.meta.last_log_id >= state.last_purged_log_id);
    assert_eq!(machine.applied_state().await?.0, Some(log_id(1, 8)));
    let _ = log.try_get_log_entries(0..1).await?;
    Ok(())
}

#[tokio::test]
async fn purge_behind_what_was_applied_never_waits() -> TestResult {
    let (_dir, storage) = open_temp()?;
    let mut machine = storage.state_machine()?;
    machine
        .apply([membership(1, &[1]), create(2, "acme")])
        .await?;
    let mut log = storage.log_store();
    tokio::time::timeout(Duration::from_secs(10), log.purge(log_id(1, 2))).await??;
    Ok(())
}

/// A purge that waits for a received snapshot fails when the install fails, and purges
/// nothing. openraft awaits the purge inside its core loop, so a purge that kept waiting
/// would keep the core from ever learning of the failure: the node would stay up with its
/// Raft stuck instead of stopping (found by the chaos tests' snapshot install failpoint).
#[tokio::test]
async fn a_purge_waiting_for_a_failed_install_fails_too() -> TestResult {
    let (_dir, follower) = open_temp()?;
    let mut machine = follower.state_machine()?;
    machine
        .apply([membership(1, &[1, 2]), create(2, "acme")])
        .await?;
    let mut log = follower.log_store();
    let _receiving = machine.begin_receiving_snapshot().await?;
    {
        let mut purge = std::pin::pin!(log.purge(log_id(1, 8)));
        let early = tokio::time::timeout(Duration::from_millis(300), purge.as_mut()).await;
        assert!(early.is_err(), "the purge went ahead of the install");

        let meta = openraft::SnapshotMeta {
            last_log_id: Some(log_id(1, 8)),
            last_membership: openraft::StoredMembership::default(),
            snapshot_id: "1-8-garbage".to_owned(),
        };
        let garbage = Box::new(std::io::Cursor::new(b"not a snapshot".to_vec()));
        let install = machine.install_snapshot(&meta, garbage).await;
        assert!(install.is_err(), "a garbage snapshot was installed");

        let purged = tokio::time::timeout(Duration::from_secs(10), purge)
            .await
            .map_err(|_| "the purge still waits for an install that failed")?;
        let error = purged.expect_err("the log was purged past a failed install");
        assert!(
            error.to_string().contains("snapshot install"),
            "unexpected purge error: {error}"
        );
    }
    let state = log.get_log_state().await?;
    assert_eq!(state.last_purged_log_id, None);
    Ok(())
}
