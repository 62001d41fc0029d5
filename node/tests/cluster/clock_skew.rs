//! Time in the log is the leader's: a write that a node with its clock behind takes (or
//! forges) is stamped by the leader when it is appended, and `apply()` never lets time
//! go back. On the old code a proposer's clock was trusted, so a node an hour behind, or
//! a member forging the time, could use a token after its expiry.

use std::time::Duration;

use crate::common::peer::{proposal, tls_channel};
use crate::common::setup::WAIT;
use crate::common::{as_token, eventually};
use warden_client::Consistency;
use warden_core::{Code, Command, Outcome, Principal, TokenId, WorkspaceId};
use warden_proto::internal::forward_service_client::ForwardServiceClient;
use warden_tls::Ca;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_forwarded_with_a_clock_behind_is_judged_at_the_leader_s_time() {
    let cluster = crate::common::start(2, &[]).await;
    let leader = cluster.wait_for_leader(WAIT).await.expect("leader");
    let follower = if leader == 1 { 2 } else { 1 };
    let admin = cluster.client().expect("admin client");

    // A cluster admin whose token expires in two seconds.
    let created = admin
        .create_token("user/late", "expires soon", 2_000)
        .await
        .expect("create token");
    admin
        .set_roles(None, "user/late", &["admin"])
        .await
        .expect("make user/late a cluster admin");
    let info = created.token.expect("token info");
    let late = as_token(&admin, &created.secret);
    eventually("the token to expire", WAIT, || async {
        late.who_am_i().await.is_err().then_some(())
    })
    .await;

    // The follower forwards the write as taken at the token's creation time, as a node
    // whose clock runs behind would stamp it.
    let tls_dir = cluster.dir.path().join(warden_local_cluster::TLS_DIR);
    let member = Ca::load(&tls_dir)
        .expect("the cluster's CA")
        .issue_node(follower, &[])
        .expect("the follower's certificate");
    let endpoint = cluster.endpoint(leader).expect("endpoint");
    let channel = tls_channel(&tls_dir, &endpoint, leader, Some(&member))
        .await
        .expect("connect as the follower");
    let skewed = proposal(
        info.created_ms,
        Principal::parse("user/late").expect("principal"),
        Some(TokenId::parse(&info.id).expect("token id")),
        Command::CreateWorkspace {
            workspace: WorkspaceId::parse("late").expect("workspace id"),
            key: None,
        },
    );
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        ForwardServiceClient::new(channel).propose(skewed),
    )
    .await
    .expect("an answer")
    .expect("the proposal is committed");
    let outcome: Outcome =
        warden_raft::wire::decode("outcome", &answer.into_inner().data).expect("an outcome");
    match outcome {
        Outcome::Rejected(rejection) => {
            assert_eq!(rejection.code, Code::Unauthenticated, "{rejection}");
            assert!(rejection.message.contains("expired"), "{rejection}");
        }
        other => panic!("an expired token was accepted with a clock behind: {other:?}"),
    }

    let workspaces = admin
        .list_workspaces(Consistency::Linearizable)
        .await
        .expect("workspaces");
    assert!(
        workspaces.workspaces.iter().all(|w| w.name != "late"),
        "{workspaces:?}"
    );
    let expires_at = info.expires_at_ms;
    let records = admin
        .tail_audit(warden_client::AuditTail::last(1), Consistency::Linearizable)
        .await
        .expect("audit tail")
        .records;
    let last = records.last().expect("a record");
    assert_eq!(last.action, "workspace.create", "{last:?}");
    assert!(
        last.time_ms >= expires_at,
        "the refusal is stamped {} ms, before the expiry at {expires_at} ms",
        last.time_ms
    );
}
