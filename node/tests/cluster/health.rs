//! Each node's HTTP listener answers `/healthz` (the process runs its Raft) and `/readyz`
//! (a member with a leader that confirms its commit index, applied to within the catch-up
//! lag), for load balancers and orchestrators; a restarted node keeps its port. The gRPC
//! listener answers `grpc.health.v1.Health` the same, without a token.

use std::time::Duration;

use crate::common::{WARDEN, eventually, http_get, raw_channel, settings};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use warden_local_cluster::LocalCluster;

/// `grpc.health.v1.Health/Check` of node `id` (the whole server), without a token, until
/// it answers `expected`.
async fn grpc_health_until(cluster: &LocalCluster, id: u64, expected: ServingStatus) {
    let channel = raw_channel(cluster, id).await;
    eventually(
        &format!("node {id}'s gRPC health to be {expected:?}"),
        Duration::from_secs(30),
        || {
            let channel = channel.clone();
            async move {
                let answer = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .expect("the health service answers without a token")
                    .into_inner();
                (answer.status == expected as i32).then_some(())
            }
        },
    )
    .await;
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"))
}

/// `/readyz` of node `id` until its status code is `code`; the body.
async fn readyz_until(cluster: &LocalCluster, id: u64, code: u16) -> serde_json::Value {
    eventually(
        &format!("/readyz of node {id} answering {code}"),
        Duration::from_secs(30),
        || async {
            let (status, body) = http_get(cluster, id, "/readyz").await;
            (status == code).then(|| json(&body))
        },
    )
    .await
}

#[tokio::test]
async fn readiness_follows_membership_and_quorum_and_the_port_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(WARDEN, dir.path(), settings(&[]));

    // A node that was never initialized is live but not ready, and says why.
    cluster.start_node(1).await.expect("start node 1");
    let (status, body) = http_get(&cluster, 1, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["live"], true);
    let (status, body) = http_get(&cluster, 1, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let readiness = json(&body);
    assert_eq!(readiness["ready"], false);
    assert_eq!(readiness["member"], false);
    assert!(body.contains("wardenctl cluster init"), "{body}");
    let (status, _) = http_get(&cluster, 1, "/nowhere").await;
    assert_eq!(status, 404);
    grpc_health_until(&cluster, 1, ServingStatus::NotServing).await;
    cluster.stop(1).await.expect("stop node 1");

    // Three voters: every node is ready and names the same leader.
    cluster.bootstrap(3).await.expect("bootstrap");
    let mut leaders = Vec::new();
    for id in 1..=3 {
        let readiness = readyz_until(&cluster, id, 200).await;
        assert_eq!(readiness["member"], true);
        assert_eq!(readiness["problems"], serde_json::json!([]));
        leaders.push(readiness["leader"].as_u64().expect("a leader"));
    }
    assert!(
        leaders.iter().all(|leader| *leader == leaders[0]),
        "{leaders:?}"
    );
    for id in 1..=3 {
        grpc_health_until(&cluster, id, ServingStatus::Serving).await;
    }

    // Without a quorum no leader can confirm its commit index: the survivor is live but
    // not ready.
    let metrics_of_2 = cluster.ready(2).expect("ready").metrics.clone();
    cluster.stop(2).await.expect("stop node 2");
    cluster.stop(3).await.expect("stop node 3");
    let readiness = readyz_until(&cluster, 1, 503).await;
    assert_eq!(readiness["member"], true);
    assert!(
        !readiness["problems"]
            .as_array()
            .expect("problems")
            .is_empty()
    );
    let (status, _) = http_get(&cluster, 1, "/healthz").await;
    assert_eq!(status, 200);
    grpc_health_until(&cluster, 1, ServingStatus::NotServing).await;

    // A restarted node serves its HTTP listener on the port it had, and with a quorum
    // again both are ready.
    cluster.start_node(2).await.expect("restart node 2");
    assert_eq!(cluster.ready(2).expect("ready").metrics, metrics_of_2);
    readyz_until(&cluster, 1, 200).await;
    readyz_until(&cluster, 2, 200).await;
}
