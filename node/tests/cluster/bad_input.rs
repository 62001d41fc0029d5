//! Bad input gets a precise gRPC code and changes nothing but the audit record of its
//! rejection; a write to a node cut off from its quorum answers UNAVAILABLE after a
//! bounded wait instead of hanging.

use std::time::Duration;

use crate::common::{
    AGENT, add_paused_agent, all_task_ids, audit_count, client_with, error_code, start,
};
use tonic::Code;
use warden_client::Consistency;

#[tokio::test]
async fn bad_input_gets_precise_codes_and_changes_nothing_but_the_audit_chain() {
    let cluster = start(3, &[("limits.max_task_input_bytes", "1024")]).await;
    let client = cluster.client().expect("client");
    client.create_workspace("acme").await.expect("create");
    add_paused_agent(&client, "acme").await;
    let first = client
        .submit_task("acme", AGENT, "hello", Some("key-1".into()))
        .await
        .expect("submit");
    let first_id = first.response.task.expect("task").id;
    let tasks_before = all_task_ids(&cluster, 1, "acme").await;
    let audit_before = audit_count(&client).await;

    // Writes: each refused, each audited once.
    let writes = [
        (
            "malformed workspace name",
            error_code(client.submit_task("Not_Valid", AGENT, "x", None).await),
            Code::InvalidArgument,
        ),
        (
            "unknown workspace",
            error_code(client.submit_task("nowhere", AGENT, "x", None).await),
            Code::NotFound,
        ),
        (
            "input over the limit",
            error_code(
                client
                    .submit_task("acme", AGENT, &"x".repeat(1025), None)
                    .await,
            ),
            Code::ResourceExhausted,
        ),
        (
            "empty idempotency key",
            error_code(
                client
                    .submit_task("acme", AGENT, "x", Some(String::new()))
                    .await,
            ),
            Code::InvalidArgument,
        ),
        (
            "key reused with another input",
            error_code(
                client
                    .submit_task("acme", AGENT, "bye", Some("key-1".into()))
                    .await,
            ),
            Code::AlreadyExists,
        ),
        (
            "workspace exists",
            error_code(client.create_workspace("acme").await),
            Code::AlreadyExists,
        ),
    ];
    for (what, actual, expected) in &writes {
        assert_eq!(actual, expected, "{what}");
    }
    assert_eq!(
        audit_count(&client).await,
        audit_before + writes.len() as u64,
        "one audit record per refused write"
    );
    assert_eq!(
        all_task_ids(&cluster, 1, "acme").await,
        tasks_before,
        "no task was created"
    );

    // Reads: refused without touching anything.
    let reads = [
        (
            "malformed task id",
            error_code(
                client
                    .get_task("acme", "not-a-task-id", Consistency::Linearizable)
                    .await,
            ),
            Code::InvalidArgument,
        ),
        (
            "unknown task",
            error_code(
                client
                    .get_task(
                        "acme",
                        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
                        Consistency::Linearizable,
                    )
                    .await,
            ),
            Code::NotFound,
        ),
        (
            "unknown workspace",
            error_code(
                client
                    .get_task("nowhere", &first_id, Consistency::Linearizable)
                    .await,
            ),
            Code::NotFound,
        ),
        (
            "malformed page token",
            error_code(
                client
                    .list_tasks("acme", 10, "%%%", Consistency::Linearizable)
                    .await,
            ),
            Code::InvalidArgument,
        ),
        (
            "page too large",
            error_code(
                client
                    .list_tasks("acme", 5000, "", Consistency::Linearizable)
                    .await,
            ),
            Code::InvalidArgument,
        ),
    ];
    for (what, actual, expected) in &reads {
        assert_eq!(actual, expected, "{what}");
    }
    assert_eq!(
        audit_count(&client).await,
        audit_before + writes.len() as u64,
        "reads are not audited"
    );

    // The message names the offending field or id.
    let error = client
        .submit_task("nowhere", AGENT, "x", None)
        .await
        .expect_err("unknown workspace");
    assert!(error.to_string().contains("nowhere"), "{error}");
    let error = client
        .get_task("acme", "not-a-task-id", Consistency::Local)
        .await
        .expect_err("malformed id");
    assert!(
        error.to_string().contains("task_id") || error.to_string().contains("task id"),
        "{error}"
    );
}

#[tokio::test]
async fn a_write_without_quorum_is_unavailable_after_a_bounded_wait() {
    let mut cluster = start(
        3,
        &[
            ("limits.write_timeout", "2s"),
            ("limits.read_timeout", "2s"),
        ],
    )
    .await;
    let setup = cluster.client().expect("client");
    setup.create_workspace("acme").await.expect("create");
    add_paused_agent(&setup, "acme").await;
    let leader = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("leader");
    // Keep one follower; kill the leader and the other follower.
    let survivor = cluster
        .running()
        .into_iter()
        .find(|id| *id != leader)
        .expect("a follower");
    for id in cluster.running() {
        if id != survivor {
            cluster.kill(id).await.expect("kill");
        }
    }
    let lonely = client_with(
        &cluster,
        vec![cluster.endpoint(survivor).expect("endpoint")],
        1,
    );
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        lonely.submit_task("acme", AGENT, "x", None),
    )
    .await
    .expect("the write answers instead of hanging");
    assert_eq!(error_code(outcome), Code::Unavailable);
    let read = tokio::time::timeout(
        Duration::from_secs(30),
        lonely.list_tasks("acme", 10, "", Consistency::Linearizable),
    )
    .await
    .expect("the linearizable read answers instead of hanging");
    assert_eq!(error_code(read), Code::Unavailable);
    // A local read still answers from what the node has.
    lonely
        .list_tasks("acme", 10, "", Consistency::Local)
        .await
        .expect("local read");
}
