//! The chaos scenarios that run in CI: fixed fault schedules against the leader, a
//! follower and the links, plus a few random seeds. Each run is checked by every checker;
//! the long mode (`warden-chaos --runs N`) runs many more seeds.

use std::path::PathBuf;

use warden_chaos_tests::faults::{Fault, Target, random_schedule};
use warden_chaos_tests::run::{RunConfig, run};
use warden_chaos_tests::summary::Summary;

/// `warden` is built beside the test binaries (scripts/test builds every binary first).
fn warden_exe() -> PathBuf {
    let test_exe = std::env::current_exe().expect("current exe");
    let debug_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let exe = debug_dir.join("warden");
    assert!(
        exe.exists(),
        "{} is missing: build the workspace's binaries first",
        exe.display()
    );
    exe
}

async fn scenario(seed: u64, faults: Vec<Fault>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = RunConfig {
        seed,
        nodes: 3,
        clients: 3,
        faults,
        exe: warden_exe(),
        dir: dir.path().to_owned(),
    };
    let report = match run(config).await {
        Ok(report) => report,
        Err(error) => panic!("seed {seed}: the run failed: {error:#}"),
    };
    println!("{}", Summary::line(&report));
    assert!(
        report.acknowledged > 0,
        "seed {seed}: nothing was acknowledged"
    );
    assert!(
        report.violations.is_empty(),
        "seed {seed}: {:#?}",
        report.violations
    );
}

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
async fn rolling_restart_and_flapping_partition() {
    scenario(
        105,
        vec![
            Fault::RollingRestart,
            Fault::FlappingIsolate {
                target: Target::Leader,
                flaps: 4,
                period_ms: 300,
            },
        ],
    )
    .await;
}

#[tokio::test]
async fn random_seeds() {
    for seed in [1, 2] {
        scenario(seed, random_schedule(seed, 4)).await;
    }
}
