//! Leader failover: SIGKILL the leader, a new one is elected and submissions succeed
//! again; the killed node restarts from its data directory and catches up.

use std::time::{Duration, Instant};

use crate::common::{AGENT, add_paused_agent, all_task_ids, start, wait_converged};
use warden_client::Consistency;

#[tokio::test]
async fn killed_leader_is_replaced_and_catches_up_after_restart() {
    let mut cluster = start(3, &[]).await;
    let client = cluster.client().expect("client");
    client
        .create_workspace("acme")
        .await
        .expect("create workspace");
    add_paused_agent(&client, "acme").await;
    let mut acknowledged = Vec::new();
    for n in 0..20 {
        let submitted = client
            .submit_task("acme", AGENT, &format!("before {n}"), None)
            .await
            .expect("submit");
        acknowledged.push(submitted.response.task.expect("task").id);
    }

    let old_leader = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("leader");
    cluster.kill(old_leader).await.expect("kill leader");
    let killed_at = Instant::now();
    let submitted = client
        .submit_task("acme", AGENT, "after the kill", None)
        .await
        .expect("submit after failover");
    let gap = killed_at.elapsed();
    acknowledged.push(submitted.response.task.expect("task").id);
    println!("failover gap (kill -> next acknowledged submission): {gap:?}");

    let new_leader = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("new leader");
    assert_ne!(new_leader, old_leader);
    for n in 0..20 {
        let submitted = client
            .submit_task("acme", AGENT, &format!("after {n}"), None)
            .await
            .expect("submit");
        acknowledged.push(submitted.response.task.expect("task").id);
    }

    cluster
        .start_node(old_leader)
        .await
        .expect("restart the old leader");
    let index = wait_converged(&cluster, Duration::from_secs(30)).await;
    let status = cluster
        .client_of(old_leader)
        .expect("client")
        .cluster_status()
        .await
        .expect("status");
    assert!(
        status.applied_index >= index,
        "restarted node applied {} < {index}",
        status.applied_index
    );
    assert_eq!(status.leader_id, Some(new_leader));
    let mut on_restarted = all_task_ids(&cluster, old_leader, "acme").await;
    on_restarted.sort();
    let mut expected = acknowledged.clone();
    expected.sort();
    assert_eq!(
        on_restarted, expected,
        "the restarted node holds exactly the acknowledged tasks"
    );

    // Linearizable reads on every node see the last acknowledged write.
    let last = acknowledged.last().expect("some task");
    for id in 1..=3 {
        let node = cluster.client_of(id).expect("client");
        node.get_task("acme", last, Consistency::Linearizable)
            .await
            .expect("linearizable read sees the write");
    }
}
