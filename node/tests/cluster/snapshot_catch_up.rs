//! A node added after thousands of submissions, once the log behind them was purged,
//! catches up through a snapshot, and the test proves the snapshot path ran. The leader
//! groups concurrent submissions, so the 2,000 of them take at least 250 entries (eight
//! submitters, each waiting for its answer): snapshots every 100 entries purge the log
//! past index 100 whatever the grouping.

use std::time::Duration;

use crate::common::{
    AGENT, add_paused_agent, all_task_ids, eventually, metric_value, scrape, start, wait_converged,
};
use tokio::task::JoinSet;
use warden_proto::v1::MemberRole;

const TASKS: u64 = 2_000;

#[tokio::test]
async fn a_new_node_catches_up_by_snapshot_after_the_log_was_purged() {
    let settings = [
        ("raft.snapshot_after_entries", "100"),
        ("raft.keep_entries_after_snapshot", "20"),
    ];
    let mut cluster = start(3, &settings).await;
    let client = cluster.client().expect("client");
    client
        .create_workspace("acme")
        .await
        .expect("create workspace");
    add_paused_agent(&client, "acme").await;

    let mut submitters = JoinSet::new();
    for worker in 0..8 {
        let client = client.clone();
        submitters.spawn(async move {
            for n in (worker..TASKS).step_by(8) {
                client
                    .submit_task("acme", AGENT, &format!("task {n}"), Some(format!("k{n}")))
                    .await
                    .expect("submit");
            }
        });
    }
    while let Some(joined) = submitters.join_next().await {
        joined.expect("submitter");
    }

    let leader = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("leader");
    let purged = eventually(
        "the leader to purge its log",
        Duration::from_secs(30),
        || async {
            let status = cluster
                .client_of(leader)
                .ok()?
                .cluster_status()
                .await
                .ok()?;
            status.purged_index.filter(|index| *index > 100)
        },
    )
    .await;
    println!("leader purged its log up to index {purged}");
    let leader_metrics = scrape(&cluster, leader).await;
    let built =
        metric_value(&leader_metrics, "warden_raft_snapshots_built_total", &[]).unwrap_or(0.0);
    assert!(
        built >= 1.0,
        "the leader counts the snapshots it built:\n{leader_metrics}"
    );
    let timed = metric_value(
        &leader_metrics,
        "warden_raft_snapshot_build_seconds_count",
        &[],
    )
    .unwrap_or(0.0);
    assert_eq!(timed, built, "every build is timed");

    cluster.start_node(4).await.expect("start node 4");
    let address = cluster.endpoint(4).expect("endpoint");
    client
        .add_node(4, &address)
        .await
        .expect("add node 4 as a learner");

    let metrics = scrape(&cluster, 4).await;
    let installed =
        metric_value(&metrics, "warden_raft_snapshots_installed_total", &[]).unwrap_or(0.0);
    assert!(
        installed >= 1.0,
        "node 4 installed no snapshot:\n{metrics}\n--- node 4 log\n{}",
        warden_local_cluster::tail(&cluster.log_path(4), 40)
    );

    client.promote_node(4).await.expect("promote node 4");
    wait_converged(&cluster, Duration::from_secs(30)).await;
    let status = cluster
        .client_of(4)
        .expect("client")
        .cluster_status()
        .await
        .expect("status");
    let voters = status
        .members
        .iter()
        .filter(|member| member.role() == MemberRole::Voter)
        .count();
    assert_eq!(voters, 4);
    let on_new_node = all_task_ids(&cluster, 4, "acme").await;
    assert_eq!(on_new_node.len() as u64, TASKS, "node 4 holds every task");

    for id in 1..=4 {
        let node = cluster.client_of(id).expect("client");
        let verdict = node
            .verify_audit(warden_client::Consistency::Linearizable)
            .await
            .expect("verify");
        assert!(verdict.ok, "node {id}: {}", verdict.problem);
    }
    // Nodes keep signing checkpoints in the background, so heads read one node at a time
    // may be at different counts: `audit heads` compares them at a common record.
    let heads = client
        .list_audit_heads(warden_client::Consistency::Linearizable)
        .await
        .expect("audit heads");
    assert!(heads.agree, "audit heads differ: {heads:?}");
    assert_eq!(heads.nodes.len(), 4, "{heads:?}");
    assert!(heads.nodes.iter().all(|node| node.reachable), "{heads:?}");
    cluster.stop_all().await.expect("stop");
}
