//! The chaos scenarios that run in CI: fixed fault schedules against the leader, a
//! follower and the links, plus a few random seeds. Each run is checked by every checker;
//! the long mode (`warden-chaos --runs N`) runs many more seeds.

use crate::common::scenario;
use warden_chaos_tests::faults::{Fault, StoragePoint, TASK_LEASE_MS, Target, random_schedule};

#[tokio::test]
async fn leader_killed_and_restarted() {
    scenario(
        101,
        vec![
            Fault::KillRestart {
                target: Target::Leader,
                down_ms: 800,
            },
            Fault::KillRestart {
                target: Target::Follower,
                down_ms: 400,
            },
            Fault::KillRestart {
                target: Target::Leader,
                down_ms: 1200,
            },
        ],
    )
    .await;
}

/// Agent tasks fail over: the node running the most of them dies mid-call, twice; the
/// journals must match the tool server's ledger and every task must come to rest. The
/// first node stays down long enough for its tasks to move (past their lease) before the
/// second fault, so that the run sees at least one resume.
#[tokio::test]
async fn task_owner_killed_mid_call() {
    let (report, _) = scenario(
        106,
        vec![
            Fault::KillRestart {
                target: Target::TaskOwner,
                down_ms: 4000,
            },
            Fault::KillRestart {
                target: Target::TaskOwner,
                down_ms: 1200,
            },
        ],
    )
    .await;
    assert!(
        !report.resume_ms.is_empty(),
        "no task was running on a killed node: {report:?}"
    );
}

#[tokio::test]
async fn leader_isolated_then_healed() {
    scenario(
        102,
        vec![
            Fault::Isolate {
                target: Target::Leader,
                hold_ms: 1600,
            },
            Fault::Isolate {
                target: Target::Follower,
                hold_ms: 800,
            },
        ],
    )
    .await;
}

#[tokio::test]
async fn leader_paused_past_an_election() {
    scenario(
        103,
        vec![
            Fault::Pause {
                target: Target::Leader,
                pause_ms: 1200,
            },
            Fault::Pause {
                target: Target::Follower,
                pause_ms: 200,
            },
        ],
    )
    .await;
}

#[tokio::test]
async fn one_way_cut_and_slow_links() {
    scenario(
        104,
        vec![
            Fault::OneWayOut {
                target: Target::Leader,
                hold_ms: 1600,
            },
            Fault::SlowLinks {
                delay_ms: 20,
                jitter_ms: 30,
                hold_ms: 1500,
            },
        ],
    )
    .await;
}

#[tokio::test]
async fn rolling_upgrade_and_flapping_partition() {
    scenario(
        105,
        vec![
            Fault::RollingUpgrade,
            Fault::FlappingIsolate {
                target: Target::Leader,
                flaps: 4,
                period_ms: 300,
            },
        ],
    )
    .await;
}

/// The node running agent tasks stops for half a lease, then for three: the second time
/// its tasks go to another node while it still believes it runs them, and when it wakes
/// its journal writes must be refused.
#[tokio::test]
async fn task_owner_paused_around_its_lease() {
    scenario(
        107,
        vec![
            Fault::Pause {
                target: Target::TaskOwner,
                pause_ms: TASK_LEASE_MS / 2,
            },
            Fault::Pause {
                target: Target::TaskOwner,
                pause_ms: 3 * TASK_LEASE_MS,
            },
        ],
    )
    .await;
}

/// Every link between nodes cut: nothing commits anywhere, briefly and then for two
/// leases, and the cluster picks up after each heal.
#[tokio::test]
async fn no_majority_anywhere_then_healed() {
    scenario(
        108,
        vec![
            Fault::NoMajority { hold_ms: 800 },
            Fault::NoMajority {
                hold_ms: 2 * TASK_LEASE_MS,
            },
        ],
    )
    .await;
}

/// Each storage failpoint of the `warden` binary once, alternately a write error and a
/// crash in the middle of the write, on followers and leaders; the snapshot install
/// points on a node that has to catch up by snapshot.
#[tokio::test]
async fn storage_failpoints_in_running_nodes() {
    let faults = StoragePoint::ALL
        .into_iter()
        .enumerate()
        .map(|(number, point)| Fault::Storage {
            target: if number % 3 == 0 {
                Target::Leader
            } else {
                Target::Follower
            },
            point,
            crash: number % 2 == 1,
            after: if point.needs_snapshot() { 0 } else { 3 },
        })
        .collect();
    scenario(109, faults).await;
}

#[tokio::test]
async fn random_seeds() {
    for seed in [1, 2] {
        scenario(seed, random_schedule(seed, 4)).await;
    }
}
