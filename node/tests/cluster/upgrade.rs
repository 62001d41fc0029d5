//! A rolling upgrade across protocols. The cluster starts on an older build: this
//! failpoint build told to speak protocol 1 (`FAILPOINTS=node::protocol=return(1)`),
//! which reports protocol 1 and stops at any entry protocol 1 cannot apply, as a real
//! protocol 1 build would. Under submit load its nodes restart one by one into this
//! build (its `PROTOCOL`, `NEW` below). While any member speaks 1, newer commands stay
//! out of the log; once every member speaks `NEW` the leader raises the cluster's
//! protocol to it in one step, audited;
//! from then on an older build can neither start on a member's data nor join. No
//! acknowledged submission is lost on the way.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::common::{AGENT, add_paused_agent, all_tasks, error_code, eventually, wait_converged};
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tonic::Code;
use warden_client::proto::WorkspaceSettings;
use warden_client::{Client, Consistency};
use warden_local_cluster::{LocalCluster, Started};

/// The protocol this build speaks.
const NEW: u32 = warden_core::PROTOCOL;

fn older_build() -> Vec<(String, String)> {
    vec![(
        "FAILPOINTS".to_owned(),
        "node::protocol=return(1)".to_owned(),
    )]
}

fn settings() -> WorkspaceSettings {
    WorkspaceSettings {
        workspace: "acme".into(),
        trace_content: true,
        ..WorkspaceSettings::default()
    }
}

/// The cluster protocol node `id` reports, once the leader it knows reports every
/// member's build.
async fn cluster_protocol(cluster: &LocalCluster, id: u64) -> u32 {
    cluster
        .client_of(id)
        .expect("client")
        .cluster_status()
        .await
        .expect("status")
        .cluster_protocol
}

/// Waits until the leader has heard every member report `protocol`.
async fn members_report(cluster: &LocalCluster, protocol: u32) {
    eventually(
        &format!("every member reports protocol {protocol}"),
        Duration::from_secs(30),
        || async {
            let leader = cluster
                .wait_for_leader(Duration::from_secs(10))
                .await
                .ok()?;
            let status = cluster
                .client_of(leader)
                .ok()?
                .cluster_status()
                .await
                .ok()?;
            status
                .members
                .iter()
                .all(|member| member.protocol == Some(protocol))
                .then_some(())
        },
    )
    .await;
}

/// A protocol 2 command through node `id` is refused before the log.
async fn refused_before_the_log(cluster: &LocalCluster, id: u64) {
    let client = cluster.client_of(id).expect("client");
    let result = client.set_workspace_settings(settings()).await;
    let message = result
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert_eq!(error_code(result), Code::FailedPrecondition, "{message}");
    assert!(
        message.contains(
            "workspace.set_settings needs cluster protocol 2, but the cluster runs protocol 1 until every member runs a build that speaks 2"
        ),
        "{message}"
    );
    let records = client
        .tail_audit(
            warden_client::AuditTail::last(1_000),
            Consistency::Linearizable,
        )
        .await
        .expect("audit")
        .records;
    assert!(
        records
            .iter()
            .all(|record| record.action != "workspace.set_settings"),
        "the refused command left no record: it never entered the log"
    );
}

#[tokio::test]
async fn a_rolling_upgrade_raises_the_protocol_once_every_member_speaks_it_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(crate::common::WARDEN, dir.path(), Vec::new());
    for id in 1..=3 {
        cluster.set_node_env(id, older_build());
    }
    cluster.bootstrap(3).await.expect("start the older cluster");
    let admin = cluster.client().expect("client");
    admin.create_workspace("acme").await.expect("workspace");
    add_paused_agent(&admin, "acme").await;
    members_report(&cluster, 1).await;
    assert_eq!(cluster_protocol(&cluster, 1).await, 1);
    let leader = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("leader");
    let follower = (1..=3).find(|id| *id != leader).expect("a follower");
    refused_before_the_log(&cluster, leader).await;
    refused_before_the_log(&cluster, follower).await;

    // Submit load through every node for the whole upgrade.
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = JoinSet::new();
    for worker in 0..2 {
        let client = cluster.client().expect("client");
        let (acknowledged, count, stop) = (acknowledged.clone(), count.clone(), stop.clone());
        workers.spawn(async move {
            let mut unknown = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{worker}-{n}");
                n += 1;
                match client
                    .submit_task("acme", AGENT, &key, Some(key.clone()))
                    .await
                {
                    Ok(submitted) => {
                        let id = submitted.response.task.expect("task").id;
                        acknowledged.lock().await.insert(id);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => unknown.push(key),
                }
            }
            unknown
        });
    }
    let progress = |count: Arc<AtomicU64>, what: &'static str| async move {
        let before = count.load(Ordering::Relaxed);
        eventually(what, Duration::from_secs(30), || async {
            (count.load(Ordering::Relaxed) > before + 10).then_some(())
        })
        .await;
    };
    progress(count.clone(), "submissions before the upgrade").await;

    // Followers first, the leader last; the protocol stays 1 while any member speaks 1.
    let mut order: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    order.push(leader);
    for (step, id) in order.iter().copied().enumerate() {
        cluster.stop(id).await.expect("stop");
        cluster.set_node_env(id, Vec::new());
        cluster
            .start_node(id)
            .await
            .expect("restart into this build");
        progress(count.clone(), "submissions after a restart").await;
        if step < 2 {
            assert_eq!(cluster_protocol(&cluster, id).await, 1);
            let other = cluster
                .wait_for_leader(Duration::from_secs(10))
                .await
                .expect("leader");
            refused_before_the_log(&cluster, other).await;
        }
    }
    for id in 1..=3 {
        eventually(
            &format!("node {id} applies protocol {NEW}"),
            Duration::from_secs(30),
            || async { (cluster_protocol(&cluster, id).await == NEW).then_some(()) },
        )
        .await;
    }
    members_report(&cluster, NEW).await;
    progress(count.clone(), "submissions after the upgrade").await;
    stop.store(true, Ordering::Relaxed);
    let mut unknown = Vec::new();
    while let Some(joined) = workers.join_next().await {
        unknown.extend(joined.expect("worker"));
    }

    let admin = cluster.client().expect("client");
    let set = admin
        .set_workspace_settings(settings())
        .await
        .expect("a protocol 2 command once the cluster runs 2");
    assert!(set.trace_content);
    let records = admin
        .tail_audit(
            warden_client::AuditTail::last(1_000),
            Consistency::Linearizable,
        )
        .await
        .expect("audit")
        .records;
    let raises: Vec<(&str, &str)> = records
        .iter()
        .filter(|record| record.action == "cluster.set_protocol")
        .map(|record| (record.principal.as_str(), record.detail.as_str()))
        .collect();
    assert_eq!(raises.len(), 1, "{raises:?}");
    assert!(raises[0].0.starts_with("node/"), "{raises:?}");
    assert_eq!(raises[0].1, format!("protocol 1 -> {NEW}"));
    assert!(
        admin
            .verify_audit(Consistency::Linearizable)
            .await
            .expect("verify")
            .ok
    );

    // Every acknowledged submission is on every node; unknown outcomes resolve to one
    // task each when retried with their keys.
    for key in unknown {
        let submitted = admin
            .submit_task("acme", AGENT, &key, Some(key.clone()))
            .await
            .expect("resolve an unknown outcome");
        acknowledged
            .lock()
            .await
            .insert(submitted.response.task.expect("task").id);
    }
    wait_converged(&cluster, Duration::from_secs(30)).await;
    let expected = acknowledged.lock().await.clone();
    for id in 1..=3 {
        let held: BTreeSet<String> = all_tasks(&cluster, id, "acme")
            .await
            .into_iter()
            .map(|task| task.id)
            .collect();
        assert_eq!(held, expected, "node {id}");
    }

    // An older build no longer starts on a member's data...
    let victim = order[0];
    cluster.stop(victim).await.expect("stop");
    cluster.set_node_env(victim, older_build());
    let started = cluster.launch(victim, &[]).await.expect("launch");
    assert!(
        matches!(started, Started::Exited(status) if !status.success()),
        "{started:?}"
    );
    let log = warden_local_cluster::tail(&cluster.log_path(victim), 20);
    assert!(
        log.contains(&format!(
            "the cluster runs protocol {NEW}, newer than protocol 1, which this warden speaks"
        )),
        "{log}"
    );
    cluster.set_node_env(victim, Vec::new());
    cluster
        .start_node(victim)
        .await
        .expect("restart into this build");

    // ...nor joins the cluster.
    cluster.set_node_env(4, older_build());
    let address = cluster.start_node(4).await.expect("start node 4").grpc;
    let result = admin.add_node(4, &address).await;
    let message = result
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert_eq!(error_code(result), Code::FailedPrecondition, "{message}");
    assert!(
        message.contains(&format!(
            "node 4 runs Warden 0.1.0 speaking protocol 1, but the cluster runs protocol {NEW}"
        )),
        "{message}"
    );
    members_report(&cluster, NEW).await;
    check_members(&admin).await;
}

/// The status lists three members, each on this build.
async fn check_members(admin: &Client) {
    let status = admin.cluster_status().await.expect("status");
    assert_eq!(status.cluster_protocol, NEW);
    assert_eq!(status.members.len(), 3, "{status:?}");
}
