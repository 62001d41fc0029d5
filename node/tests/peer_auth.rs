//! The node-to-node services answer only callers presenting the cluster's peer
//! credential: not anonymous callers, and not users, whatever their token.

mod common;

use warden_proto::internal::forward_service_client::ForwardServiceClient;
use warden_proto::internal::raft_service_client::RaftServiceClient;
use warden_proto::internal::{HeartbeatRequest, RaftPayload, ReadIndexRequest};

async fn channel(endpoint: &str) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(format!("http://{endpoint}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_to_node_calls_need_the_peer_credential() {
    let cluster = common::start(2, &[]).await;
    // The two nodes formed a cluster, so they admit each other.
    let endpoint = cluster.endpoint(1).expect("endpoint");
    let mut forward = ForwardServiceClient::new(channel(&endpoint).await);
    let mut raft = RaftServiceClient::new(channel(&endpoint).await);

    let heartbeat = || HeartbeatRequest {
        node_id: 2,
        ..Default::default()
    };
    let anonymous = forward.heartbeat(heartbeat()).await.expect_err("anonymous");
    assert_eq!(
        anonymous.code(),
        tonic::Code::Unauthenticated,
        "{anonymous:?}"
    );
    let as_admin = forward
        .heartbeat(common::with_admin_token(&cluster, heartbeat()))
        .await
        .expect_err("a user's token is not a peer credential");
    assert_eq!(
        as_admin.code(),
        tonic::Code::Unauthenticated,
        "{as_admin:?}"
    );
    let vote = raft
        .vote(RaftPayload { data: vec![] })
        .await
        .expect_err("anonymous vote");
    assert_eq!(vote.code(), tonic::Code::Unauthenticated, "{vote:?}");
    let read_index = raft
        .read_index(ReadIndexRequest {})
        .await
        .expect_err("anonymous read index");
    assert_eq!(read_index.code(), tonic::Code::Unauthenticated);

    // Forged writes are refused before they reach Raft.
    let propose = forward
        .propose(RaftPayload {
            data: vec![1, 2, 3],
        })
        .await
        .expect_err("anonymous propose");
    assert_eq!(propose.code(), tonic::Code::Unauthenticated);
}
