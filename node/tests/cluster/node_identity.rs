//! The node-to-node services answer only current members proving who they are with a
//! node certificate from the cluster's CA: not plain-text callers, not callers without a
//! certificate (whatever token they send), not a client certificate, not a node the
//! cluster does not have, not a certificate from another CA. And even a member cannot
//! forward a write as `system`, as another node, or as an agent of a task it does not
//! run. These are the attacks of issue 12: on the old code a caller holding the master
//! key derived the peer credential and proposed as `system`; without a master key
//! anyone could.

use crate::common::peer::tls_channel;
use tonic::transport::Channel;
use warden_core::{Command, NodeId, Principal, Role, Scope};
use warden_proto::internal::forward_service_client::ForwardServiceClient;
use warden_proto::internal::raft_service_client::RaftServiceClient;
use warden_proto::internal::{HeartbeatRequest, RaftPayload, ReadIndexRequest};
use warden_tls::Ca;

fn forged(principal: Principal, command: Command) -> RaftPayload {
    crate::common::peer::proposal(1, principal, None, command)
}

/// Make user/mallory a cluster admin: what a forged `system` write would do.
fn make_mallory_admin() -> Command {
    Command::SetRoles {
        scope: Scope::Cluster,
        principal: Principal::parse("user/mallory").expect("principal"),
        roles: vec![Role::Admin],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_to_node_calls_need_a_member_node_certificate() {
    let cluster = crate::common::start(2, &[]).await;
    let leader = cluster
        .wait_for_leader(std::time::Duration::from_secs(30))
        .await
        .expect("leader");
    let follower = if leader == 1 { 2 } else { 1 };
    let endpoint = cluster.endpoint(leader).expect("endpoint");
    let tls_dir = cluster.dir.path().join(warden_local_cluster::TLS_DIR);
    let ca = Ca::load(&tls_dir).expect("the cluster's CA");

    // Plain text reaches nothing: the connection or the first call fails.
    let plain = Channel::from_shared(format!("http://{endpoint}"))
        .expect("endpoint")
        .connect()
        .await;
    if let Ok(channel) = plain {
        RaftServiceClient::new(channel)
            .read_index(ReadIndexRequest {})
            .await
            .expect_err("plain text to a TLS node");
    }

    // TLS without a certificate: refused, whatever token comes along.
    let anonymous = tls_channel(&tls_dir, &endpoint, leader, None)
        .await
        .expect("connect");
    let mut forward = ForwardServiceClient::new(anonymous.clone());
    let heartbeat = |node_id| HeartbeatRequest {
        node_id,
        ..Default::default()
    };
    for status in [
        forward
            .heartbeat(heartbeat(follower))
            .await
            .expect_err("anonymous"),
        forward
            .heartbeat(crate::common::with_admin_token(
                &cluster,
                heartbeat(follower),
            ))
            .await
            .expect_err("a user's token is not a node's certificate"),
        forward
            .propose(forged(Principal::system(), make_mallory_admin()))
            .await
            .expect_err("anonymous propose"),
        RaftServiceClient::new(anonymous.clone())
            .vote(RaftPayload { data: vec![] })
            .await
            .expect_err("anonymous vote"),
    ] {
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    }

    // A certificate from the CA that names no node, or a node that is not a member.
    let client_cert = ca.issue_client("mallory").expect("client certificate");
    let stranger = ca.issue_node(9, &[]).expect("node 9 certificate");
    for (identity, expected) in [
        (&client_cert, "names no node"),
        (&stranger, "node 9 is not a member"),
    ] {
        let channel = tls_channel(&tls_dir, &endpoint, leader, Some(identity))
            .await
            .expect("connect");
        let status = RaftServiceClient::new(channel)
            .read_index(ReadIndexRequest {})
            .await
            .expect_err("not a member");
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
        assert!(status.message().contains(expected), "{status:?}");
    }

    // A certificate from another CA does not pass the handshake.
    let other_ca = Ca::generate("another cluster").expect("ca");
    let impostor = other_ca.issue_node(follower, &[]).expect("certificate");
    let rejected = match tls_channel(&tls_dir, &endpoint, leader, Some(&impostor)).await {
        Err(_) => true,
        Ok(channel) => RaftServiceClient::new(channel)
            .read_index(ReadIndexRequest {})
            .await
            .is_err(),
    };
    assert!(rejected, "a certificate from another CA was accepted");

    // A member's own certificate works where it should...
    let member = ca.issue_node(follower, &[]).expect("member certificate");
    let as_member = tls_channel(&tls_dir, &endpoint, leader, Some(&member))
        .await
        .expect("connect as a member");
    RaftServiceClient::new(as_member.clone())
        .read_index(ReadIndexRequest {})
        .await
        .expect("a member asks the leader for the read index");
    ForwardServiceClient::new(as_member.clone())
        .heartbeat(heartbeat(follower))
        .await
        .expect("a member reports its own liveness");

    // ...and still cannot write as system, as another node, or for another's task.
    let mut forward = ForwardServiceClient::new(as_member);
    let attempts = [
        forged(Principal::system(), make_mallory_admin()),
        forged(Principal::node(NodeId(leader)), make_mallory_admin()),
    ];
    for attempt in attempts {
        let status = forward.propose(attempt).await.expect_err("forged write");
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    }
    let status = forward
        .heartbeat(heartbeat(leader))
        .await
        .expect_err("another node's liveness");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");

    // Nothing of it landed: mallory holds no role.
    let me = cluster.client().expect("client");
    let bindings = me.list_role_bindings(None).await.expect("bindings");
    assert!(
        bindings
            .iter()
            .all(|binding| binding.principal != "user/mallory"),
        "{bindings:?}"
    );
}
