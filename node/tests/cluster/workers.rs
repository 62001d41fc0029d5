//! Execution scales out without growing the quorum: a node added as a non-voting
//! learner runs tasks. Here the three voters run none (capacity 0), so the task can
//! only be placed on the worker.

use crate::common::agents::scripted_model;
use crate::common::setup::{self, WAIT};
use crate::common::{WARDEN, eventually, settings};
use warden_local_cluster::LocalCluster;
use warden_proto::v1::{MemberRole, TaskStatus};

#[tokio::test]
async fn a_non_voting_worker_runs_tasks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(
        WARDEN,
        dir.path(),
        settings(&[("runtime.controller_interval", "100ms")]),
    );
    for voter in 1..=3 {
        cluster.set_node_settings(voter, settings(&[("runtime.capacity", "0")]));
    }
    cluster.bootstrap(3).await.expect("bootstrap");
    cluster.start_node(4).await.expect("start the worker");
    let client = cluster.client().expect("client");
    client
        .add_node(4, cluster.endpoint(4).expect("endpoint"))
        .await
        .expect("add the worker as a learner");
    let status = client.cluster_status().await.expect("status");
    let worker = status
        .members
        .iter()
        .find(|member| member.node_id == 4)
        .expect("member 4");
    assert_eq!(worker.role, i32::from(MemberRole::Learner), "{status:?}");

    // Apart from the nodes' data directories: a node refuses to let a server reach them.
    let ledger = dir.path().join("tools").join("ledger.jsonl");
    let model = scripted_model(serde_json::json!({
        "steps": [{"tool_calls": [{"name": "ledger__put", "arguments": {"key": "where", "value": "worker"}}]}],
        "final": "done",
    }))
    .await;
    let node_1 = cluster.client_of(1).expect("client");
    setup::workspace(
        &node_1,
        "scaled",
        &model.base_url(),
        &ledger,
        "helper",
        &["put"],
    )
    .await;
    let task = setup::submit(&node_1, "scaled", "helper", "store where you ran").await;
    let done = eventually("the task to complete", WAIT, || async {
        let task = setup::task(&node_1, "scaled", &task.id).await?;
        (TaskStatus::try_from(task.status).ok()? == TaskStatus::Completed).then_some(task)
    })
    .await;
    let events = setup::journal(&node_1, "scaled", &task.id)
        .await
        .expect("journal");
    let assigned: Vec<&str> = events
        .iter()
        .filter(|event| event.kind == "assigned")
        .map(|event| event.detail_json.as_str())
        .collect();
    assert_eq!(
        assigned,
        ["{\"epoch\":1,\"node\":4}"],
        "{}",
        setup::describe(&events)
    );
    assert_eq!(done.result, "done");
    cluster.stop_all().await.expect("stop");
}
