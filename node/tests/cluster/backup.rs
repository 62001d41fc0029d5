//! Backup and restore end to end: a filled 3-node cluster is backed up over the API,
//! destroyed, restored with `warden restore` into a new one-node cluster, which another
//! node then joins; every task, every journal and the audit chain up to the backup's
//! head are as they were, and the backup is in the chain under the admin who took it.

use std::time::Duration;

use crate::common::{AGENT, WARDEN, add_paused_agent, all_tasks, start};
use warden_client::Consistency;

async fn journals(
    client: &warden_client::Client,
    tasks: &[warden_proto::v1::Task],
) -> Vec<Vec<warden_proto::v1::TaskEvent>> {
    let mut journals = Vec::new();
    for task in tasks {
        journals.push(
            client
                .get_journal("acme", &task.id, 0, 0, Consistency::Linearizable)
                .await
                .expect("journal")
                .events,
        );
    }
    journals
}

#[tokio::test]
async fn a_backup_restores_every_task_journal_and_audit_record_into_a_new_cluster() {
    let mut test = start(3, &[]).await;
    let admin = test.cluster.client().expect("client");
    admin.create_workspace("acme").await.expect("workspace");
    add_paused_agent(&admin, "acme").await;
    for input in ["one", "two", "three"] {
        admin
            .submit_task("acme", AGENT, input, None)
            .await
            .expect("submit");
    }
    crate::common::wait_converged(&test.cluster, Duration::from_secs(30)).await;
    let tasks = all_tasks(&test.cluster, 1, "acme").await;
    admin
        .cancel_task("acme", &tasks[0].id, "before the backup")
        .await
        .expect("cancel");
    crate::common::wait_converged(&test.cluster, Duration::from_secs(30)).await;
    let tasks = all_tasks(&test.cluster, 1, "acme").await;
    let journals_before = journals(&admin, &tasks).await;

    let mut backup = admin.create_backup().await.expect("create a backup");
    let mut file = Vec::new();
    while let Some(chunk) = backup.next_chunk().await.expect("a chunk") {
        file.extend_from_slice(&chunk);
    }
    let info = backup.info.clone();
    let records = admin
        .tail_audit(
            warden_client::AuditTail::last(1_000),
            Consistency::Linearizable,
        )
        .await
        .expect("tail")
        .records;
    let backed_up: Vec<_> = records
        .iter()
        .filter(|record| record.index <= info.audit_records)
        .cloned()
        .collect();
    let last = backed_up.last().expect("records");
    assert_eq!(
        last.hash, info.audit_head,
        "the reported head is the chain's"
    );
    assert_eq!(
        last.action, "cluster.backup",
        "the backup holds its own record"
    );
    assert_eq!(last.principal, "user/admin");

    // The whole cluster goes.
    test.cluster.stop_all().await.expect("stop the cluster");
    for id in 1..=3 {
        std::fs::remove_dir_all(test.cluster.node_dir(id)).expect("remove a node's directory");
    }
    let path = test.dir.path().join("acme.backup");
    std::fs::write(&path, &file).expect("write the backup file");

    // A cut copy is refused, naming the offset, and creates nothing.
    let cut = test.dir.path().join("cut.backup");
    std::fs::write(&cut, &file[..file.len() - 7]).expect("write the cut copy");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let restore = |from: &std::path::Path| {
        std::process::Command::new(WARDEN)
            .arg("restore")
            .arg(from)
            .arg("--data-dir")
            .arg(test.cluster.node_dir(1))
            .args(["--node-id", "1", "--advertise", &address])
            .output()
            .expect("run warden restore")
    };
    let refused = restore(&cut);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("at byte"), "{stderr}");
    assert!(!test.cluster.node_dir(1).join("db").exists());

    let restored = restore(&path);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let said = String::from_utf8_lossy(&restored.stdout);
    assert!(
        said.contains(&format!("{} audit records verified", info.audit_records)),
        "{said}"
    );

    // The new cluster: node 1 alone on the restored directory, then node 2 joins.
    test.cluster
        .set_node_settings(1, vec![("listen".to_owned(), address.clone())]);
    test.cluster
        .start_node(1)
        .await
        .expect("start the restored node");
    if let Err(error) = test.cluster.wait_for_leader(Duration::from_secs(30)).await {
        let status = test
            .cluster
            .client_of(1)
            .expect("client")
            .cluster_status()
            .await;
        panic!(
            "the restored node does not lead: {error} {status:?}\n{}",
            warden_local_cluster::tail(&test.cluster.log_path(1), 30)
        );
    }
    let admin = test.cluster.client_of(1).expect("client");
    assert_eq!(all_tasks(&test.cluster, 1, "acme").await, tasks);
    assert_eq!(journals(&admin, &tasks).await, journals_before);
    let verification = admin
        .verify_audit(Consistency::Linearizable)
        .await
        .expect("verify");
    assert!(verification.ok, "{verification:?}");
    let after = admin
        .tail_audit(
            warden_client::AuditTail::last(1_000),
            Consistency::Linearizable,
        )
        .await
        .expect("tail")
        .records;
    assert_eq!(
        after
            .iter()
            .filter(|record| record.index <= info.audit_records)
            .cloned()
            .collect::<Vec<_>>(),
        backed_up
    );

    test.cluster
        .start_node(2)
        .await
        .expect("start a new node 2");
    let endpoint = test.cluster.endpoint(2).expect("node 2's endpoint");
    admin.add_node(2, &endpoint).await.expect("add node 2");
    admin.promote_node(2).await.expect("promote node 2");
    test.cluster
        .wait_converged(Duration::from_secs(30))
        .await
        .expect("node 2 catches up");
    assert_eq!(all_tasks(&test.cluster, 2, "acme").await, tasks);
}
