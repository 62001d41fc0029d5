//! Every accepted and every rejected command leaves exactly one audit record; every
//! node verifies the same chain; a flipped byte in a stored record makes verification
//! fail and name that record, online and offline; an export verifies offline.

use std::time::Duration;

use crate::common::{
    AGENT, WARDEN, add_paused_agent, audit_count, start, verify_on, wait_converged,
};
use warden_client::Consistency;

#[tokio::test]
async fn every_command_is_audited_once_and_tampering_is_detected() {
    let mut cluster = start(3, &[("limits.max_task_input_bytes", "1024")]).await;
    let client = cluster.client().expect("client");
    let base = audit_count(&client).await;
    assert!(base >= 1, "the membership changes of bootstrap are audited");

    // Accepted: create, put provider, create agent, submit, deduplicated resubmit.
    // Rejected: duplicate workspace, unknown workspace, malformed workspace, oversized
    // input, reused key.
    client.create_workspace("acme").await.expect("create");
    add_paused_agent(&client, "acme").await;
    client
        .submit_task("acme", AGENT, "hello", Some("k1".into()))
        .await
        .expect("submit");
    client
        .submit_task("acme", AGENT, "hello", Some("k1".into()))
        .await
        .expect("dedup");
    assert!(client.create_workspace("acme").await.is_err());
    assert!(
        client
            .submit_task("nowhere", AGENT, "hello", None)
            .await
            .is_err()
    );
    assert!(client.create_workspace("Not Valid").await.is_err());
    assert!(
        client
            .submit_task("acme", AGENT, &"x".repeat(2048), None)
            .await
            .is_err()
    );
    assert!(
        client
            .submit_task("acme", AGENT, "other", Some("k1".into()))
            .await
            .is_err()
    );
    assert_eq!(
        audit_count(&client).await,
        base + 10,
        "one record per command, accepted or rejected"
    );

    let tail = client
        .tail_audit(
            warden_client::AuditTail::last(10),
            Consistency::Linearizable,
        )
        .await
        .expect("tail")
        .records;
    let outcomes: Vec<(&str, &str)> = tail
        .iter()
        .map(|r| (r.action.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("workspace.create", "accepted"),
            ("provider.put", "accepted"),
            ("agent.create", "accepted"),
            ("task.submit", "accepted"),
            ("task.submit", "accepted"),
            ("workspace.create", "rejected"),
            ("task.submit", "rejected"),
            ("workspace.create", "rejected"),
            ("task.submit", "rejected"),
            ("task.submit", "rejected"),
        ]
    );
    assert!(
        tail[8].detail.starts_with("RESOURCE_EXHAUSTED"),
        "{}",
        tail[8].detail
    );
    assert!(
        !tail.iter().any(|record| record.detail.contains("xxxxxxxx")),
        "a refused payload is not stored"
    );

    wait_converged(&cluster, Duration::from_secs(30)).await;
    let mut heads = Vec::new();
    for id in 1..=3 {
        let verdict = verify_on(&cluster, id).await;
        assert!(verdict.ok, "node {id}: {}", verdict.problem);
        heads.push(verdict.head_hash);
    }
    assert!(
        heads.iter().all(|head| *head == heads[0]),
        "heads differ: {heads:?}"
    );

    // Export from one node and verify offline.
    let export_path = cluster.dir.path().join("export.jsonl");
    let exported = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["audit", "verify-export"])
        .arg(write_export(&client, &export_path).await)
        .output()
        .expect("run warden audit verify-export");
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stdout)
    );

    // Stop node 3 and flip one byte of the stored audit record 3.
    cluster.stop(3).await.expect("stop node 3");
    let data_dir = cluster.node_dir(3);
    flip_byte_of_audit_record(&data_dir.join("db"), 3);
    let offline = std::process::Command::new(WARDEN)
        .args(["audit", "verify", "--data-dir"])
        .arg(&data_dir)
        .output()
        .expect("run warden audit verify");
    let stdout = String::from_utf8_lossy(&offline.stdout);
    assert_eq!(offline.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("record 3"), "names the index: {stdout}");

    cluster.start_node(3).await.expect("restart node 3");
    let verdict = verify_on(&cluster, 3).await;
    assert!(!verdict.ok);
    assert_eq!(verdict.first_bad_index, Some(3), "{}", verdict.problem);
    for id in 1..=2 {
        let verdict = verify_on(&cluster, id).await;
        assert!(verdict.ok, "untouched node {id} still verifies");
    }
}

async fn write_export(
    client: &warden_client::Client,
    path: &std::path::Path,
) -> std::path::PathBuf {
    use futures::StreamExt;
    let mut stream = std::pin::pin!(client.export_audit(1, Consistency::Linearizable));
    let mut lines = String::new();
    while let Some(record) = stream.next().await {
        let record = record.expect("export record");
        let line = serde_json::json!({
            "index": record.index, "log_index": record.log_index, "time_ms": record.time_ms,
            "principal": record.principal, "action": record.action, "resource": record.resource,
            "outcome": record.outcome, "detail": record.detail, "payload_hash": record.payload_hash,
            "prev_hash": record.prev_hash, "hash": record.hash,
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    std::fs::write(path, lines).expect("write export");
    path.to_owned()
}

fn flip_byte_of_audit_record(db_path: &std::path::Path, index: u64) {
    let mut options = rocksdb::Options::default();
    options.create_if_missing(false);
    let families = rocksdb::DB::list_cf(&options, db_path).expect("list column families");
    let db =
        rocksdb::DB::open_cf(&options, db_path, &families).expect("open the stopped node's db");
    let family = db
        .cf_handle(warden_raft::keys::SM_CF)
        .expect("state machine column family");
    let key = warden_raft::keys::audit_record(index);
    let mut value = db
        .get_cf(&family, &key)
        .expect("read")
        .expect("audit record 3 exists");
    let middle = value.len() / 2;
    value[middle] ^= 0x01;
    db.put_cf(&family, &key, &value)
        .expect("write the flipped record");
    db.flush_cf(&family).expect("flush");
}
