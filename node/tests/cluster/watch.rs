//! Live event streams: a task watcher whose node is killed mid-task and one that
//! disconnects and resumes from its last sequence number each receive every journal
//! event exactly once and in order; a workspace watcher sees the task's events in log
//! order too.

use std::time::Duration;

use crate::common::agents::scripted_model;
use crate::common::setup::{self, SHORT_LEASE, WAIT};
use crate::common::{eventually, start};
use futures::StreamExt;
use warden_client::{Client, ClientOptions};
use warden_proto::v1::task_service_client::TaskServiceClient;
use warden_proto::v1::{TaskEvent, WatchWorkspaceRequest};

const WS: &str = "watched";

/// Reads events until the terminal one; panics on an error or a stall.
async fn drain(
    stream: &mut (impl futures::Stream<Item = Result<TaskEvent, warden_client::Error>> + Unpin),
    into: &mut Vec<TaskEvent>,
) {
    loop {
        match tokio::time::timeout(WAIT, stream.next()).await {
            Err(_) => panic!("no event for {WAIT:?} after {} events", into.len()),
            Ok(None) => return,
            Ok(Some(Err(error))) => panic!("watch failed after {} events: {error}", into.len()),
            Ok(Some(Ok(event))) => into.push(event),
        }
    }
}

fn assert_exactly_once(name: &str, events: &[TaskEvent], journal: &[TaskEvent]) {
    let seqs: Vec<u64> = events.iter().map(|event| event.seq).collect();
    let expected: Vec<u64> = (0..journal.len() as u64).collect();
    assert_eq!(seqs, expected, "{name}: every event once, in order");
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    let journal_kinds: Vec<&str> = journal.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(kinds, journal_kinds, "{name}");
    assert_eq!(kinds.last(), Some(&"completed"), "{name}");
}

#[tokio::test]
async fn watchers_resume_across_a_disconnect_and_a_node_death_with_no_gap_or_duplicate() {
    let mut cluster = start(3, SHORT_LEASE).await;
    let ledger = cluster.tools_dir().join("ledger.jsonl");
    let steps: Vec<serde_json::Value> = (1..=6)
        .map(|n| serde_json::json!({"tool_calls": [{"name": "ledger__put", "arguments": {"key": format!("k{n}"), "value": "v", "delay_ms": 300}}]}))
        .collect();
    let model = scripted_model(serde_json::json!({"steps": steps, "final": "done"})).await;
    let leader = cluster.wait_for_leader(WAIT).await.expect("leader");
    let leader_client = cluster.client_of(leader).expect("client");
    setup::workspace(
        &leader_client,
        WS,
        &model.base_url(),
        &ledger,
        "writer",
        &["put"],
    )
    .await;
    let task = setup::submit(&leader_client, WS, "writer", "write six keys").await;

    // The killed watcher talks to a node that is not the leader first.
    let watched = (1..=3).find(|id| *id != leader).expect("a follower");
    let mut endpoints = vec![cluster.endpoint(watched).expect("endpoint")];
    endpoints.extend(
        (1..=3)
            .filter(|id| *id != watched)
            .map(|id| cluster.endpoint(id).expect("endpoint")),
    );
    let options = ClientOptions {
        ..cluster.client_options().expect("client options")
    };
    let killed_watcher = Client::connect(endpoints.clone(), options.clone()).expect("client");
    let resuming_watcher = Client::connect(endpoints, options).expect("client");

    let mut killed_events = Vec::new();
    let mut killed_stream = Box::pin(killed_watcher.watch_task(WS, &task.id, 0));
    // Read a few live events, then kill the node this watcher streams from.
    while killed_events.len() < 6 {
        match tokio::time::timeout(WAIT, killed_stream.next()).await {
            Ok(Some(Ok(event))) => killed_events.push(event),
            other => panic!("watching before the kill: {other:?}"),
        }
    }
    cluster.kill(watched).await.expect("kill the watched node");

    // The other watcher reads some events, hangs up, and comes back from the next seq.
    let mut resumed_events = Vec::new();
    {
        let mut first = Box::pin(resuming_watcher.watch_task(WS, &task.id, 0));
        while resumed_events.len() < 9 {
            match tokio::time::timeout(WAIT, first.next()).await {
                Ok(Some(Ok(event))) => resumed_events.push(event),
                other => panic!("watching before the disconnect: {other:?}"),
            }
        }
    }
    let next_seq = resumed_events.last().map_or(0, |event| event.seq + 1);
    let mut second = Box::pin(resuming_watcher.watch_task(WS, &task.id, next_seq));
    drain(&mut second, &mut resumed_events).await;
    drain(&mut killed_stream, &mut killed_events).await;

    let survivor = (1..=3).find(|id| *id != watched).expect("a survivor");
    let survivor_client = cluster.client_of(survivor).expect("client");
    let journal = eventually("the completed journal", WAIT, || async {
        let events = setup::journal(&survivor_client, WS, &task.id).await?;
        (events.last()?.kind == "completed").then_some(events)
    })
    .await;
    assert_exactly_once(
        "the watcher whose node was killed",
        &killed_events,
        &journal,
    );
    assert_exactly_once(
        "the watcher that hung up and resumed",
        &resumed_events,
        &journal,
    );

    // The workspace stream holds the same events, in log order. It is read raw, not
    // through the client, which would skip an event that comes out of order.
    let channel = crate::common::raw_channel(&cluster, survivor).await;
    let request = crate::common::with_admin_token(
        &cluster,
        WatchWorkspaceRequest {
            workspace: WS.into(),
            from_index: 0,
        },
    );
    let mut workspace_stream = TaskServiceClient::new(channel)
        .watch_workspace(request)
        .await
        .expect("watch the workspace")
        .into_inner();
    let mut workspace_events = Vec::new();
    while workspace_events.len() < journal.len() {
        match tokio::time::timeout(Duration::from_secs(10), workspace_stream.message()).await {
            Ok(Ok(Some(event))) => workspace_events.push(event),
            other => panic!(
                "workspace stream after {} events: {other:?}",
                workspace_events.len()
            ),
        }
    }
    let indexes: Vec<u64> = workspace_events
        .iter()
        .map(|event| event.log_index)
        .collect();
    assert!(
        indexes.windows(2).all(|pair| pair[0] <= pair[1]),
        "log order: {indexes:?}"
    );
    let seqs: Vec<u64> = workspace_events.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, (0..journal.len() as u64).collect::<Vec<_>>());
}
