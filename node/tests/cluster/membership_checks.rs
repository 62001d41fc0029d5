//! A membership change checks the node first and is recorded under the admin who asked.
//! The attacks of issue 12: `cluster add-node 2 ADDRESS` with nothing listening answered
//! "added" and `promote 2` then made a 2-voter cluster that had lost its quorum; a node
//! with another master key was added the same way; and membership records named
//! `system`, not the admin.

use std::time::Duration;

use crate::common::{error_code, eventually, quoted, settings};
use tonic::Code;
use warden_client::Consistency;
use warden_client::proto::MemberRole;
use warden_local_cluster::LocalCluster;

const WAIT: Duration = Duration::from_secs(60);

/// An address nothing listens on.
fn closed_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    drop(listener);
    address
}

async fn member_ids(cluster: &LocalCluster) -> Vec<(u64, MemberRole)> {
    let status = cluster
        .client()
        .expect("client")
        .cluster_status()
        .await
        .expect("status");
    status
        .members
        .iter()
        .map(|member| (member.node_id, member.role()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_check_the_node_and_name_the_admin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(
        crate::common::WARDEN,
        dir.path(),
        settings(&[("raft.catch_up_lag", "5")]),
    );
    cluster.bootstrap(1).await.expect("one-node cluster");
    let admin = cluster.client().expect("client");

    // Nothing listens at the address: refused, saying what to do; nothing changed.
    let error = admin
        .add_node(2, closed_address())
        .await
        .expect_err("nothing listens");
    assert_eq!(error.code(), Some(Code::FailedPrecondition), "{error}");
    assert!(error.to_string().contains("cannot be reached"), "{error}");
    assert!(error.to_string().contains("--node-id 2"), "{error}");
    assert_eq!(member_ids(&cluster).await, vec![(1, MemberRole::Voter)]);

    // Node 2 holds another master key: refused.
    let other_key = dir.path().join("other-master-key");
    warden_secrets::MasterKey::generate_file(&other_key).expect("another master key");
    cluster.set_node_settings(
        2,
        vec![("secrets.master_key_file".to_owned(), quoted(&other_key))],
    );
    cluster.start_node(2).await.expect("start node 2");
    let node2 = cluster.endpoint(2).expect("endpoint");
    let error = admin
        .add_node(2, node2.clone())
        .await
        .expect_err("another master key");
    assert_eq!(error.code(), Some(Code::FailedPrecondition), "{error}");
    assert!(error.to_string().contains("master key"), "{error}");

    // Node 3 answers at an address given for node 2: it cannot prove it is node 2.
    cluster.start_node(3).await.expect("start node 3");
    let error = admin
        .add_node(2, cluster.endpoint(3).expect("endpoint"))
        .await
        .expect_err("node 3 is not node 2");
    assert_eq!(error.code(), Some(Code::FailedPrecondition), "{error}");
    assert!(
        error.to_string().contains("did not prove it is node 2"),
        "{error}"
    );
    assert_eq!(member_ids(&cluster).await, vec![(1, MemberRole::Voter)]);

    // With the cluster's master key, node 2 is added.
    cluster.stop(2).await.expect("stop node 2");
    cluster.set_node_settings(2, Vec::new());
    cluster.start_node(2).await.expect("restart node 2");
    admin.add_node(2, node2.clone()).await.expect("add node 2");

    // A learner that fell behind is not promoted.
    cluster.kill(2).await.expect("kill node 2");
    for index in 0..10 {
        admin
            .create_workspace(&format!("behind-{index}"))
            .await
            .expect("write while node 2 is down");
    }
    let error = admin.promote_node(2).await.expect_err("behind");
    assert_eq!(error.code(), Some(Code::FailedPrecondition), "{error}");
    assert!(error.to_string().contains("has not caught up"), "{error}");
    cluster.start_node(2).await.expect("restart node 2");
    eventually("node 2 to catch up", WAIT, || async {
        let status = admin.cluster_status().await.ok()?;
        let lag = status
            .members
            .iter()
            .find(|member| member.node_id == 2)?
            .lag?;
        (lag <= 5).then_some(())
    })
    .await;
    admin.promote_node(2).await.expect("promote node 2");
    assert_eq!(
        member_ids(&cluster).await,
        vec![(1, MemberRole::Voter), (2, MemberRole::Voter)]
    );

    // Every change and every refusal is in the chain under the admin's name.
    let records = admin
        .tail_audit(
            warden_client::AuditTail::last(200),
            Consistency::Linearizable,
        )
        .await
        .expect("audit")
        .records;
    let membership: Vec<_> = records
        .iter()
        .filter(|record| record.action == "cluster.membership")
        .map(|record| {
            (
                record.principal.as_str(),
                record.outcome.as_str(),
                record.detail.as_str(),
            )
        })
        .collect();
    assert!(
        membership
            .iter()
            .all(|(principal, _, _)| *principal == "user/admin"),
        "{membership:?}"
    );
    let accepted: Vec<&str> = membership
        .iter()
        .filter(|(_, outcome, _)| *outcome == "accepted")
        .map(|(_, _, detail)| *detail)
        .collect();
    // The change records the audit key node 2 named when asked who it is.
    let node2_key = warden_node::anchor::signer::trusted_key(&cluster.signing_key_path(2))
        .expect("node 2's signing key");
    assert_eq!(
        accepted,
        vec![
            format!("add node 2 at {node2} as a learner, audit key {node2_key}").as_str(),
            "promote node 2 to voter"
        ]
    );
    let rejected = membership
        .iter()
        .filter(|(_, outcome, _)| *outcome == "rejected")
        .count();
    assert_eq!(rejected, 4, "{membership:?}");

    // A workspace operator may not change the membership, and is recorded trying.
    let olga = admin
        .create_token("user/olga", "operator in behind-0", 0)
        .await
        .expect("create olga's token");
    admin
        .set_roles(Some("behind-0"), "user/olga", &["operator"])
        .await
        .expect("make olga an operator");
    let as_operator = crate::common::as_token(&admin, &olga.secret);
    assert_eq!(
        error_code(as_operator.remove_node(2).await),
        Code::PermissionDenied
    );
    assert_eq!(
        error_code(as_operator.add_node(3, closed_address()).await),
        Code::PermissionDenied
    );
    let records = admin
        .tail_audit(warden_client::AuditTail::last(5), Consistency::Linearizable)
        .await
        .expect("audit")
        .records;
    let refused: Vec<_> = records
        .iter()
        .filter(|record| record.action == "cluster.membership" && record.principal == "user/olga")
        .collect();
    assert_eq!(refused.len(), 2, "{records:?}");
    cluster.stop_all().await.expect("stop");
}
